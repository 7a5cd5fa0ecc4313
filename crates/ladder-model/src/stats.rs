//! Per-layer training statistics for diagnosis (DESIGN §5): gradient norm, weight norm and the
//! update-to-weight ratio ‖θₜ − θₜ₋₁‖ / ‖θₜ₋₁‖ of each layer. A healthy AdamW run keeps the ratio
//! near lr (≈1e-3); far larger means the learning rate is too high, far smaller that updates are
//! lost (too low a learning rate, or precision loss). The fraction of weights a step left exactly
//! unchanged separates the two: AdamW moves every weight with a non-zero moment, so a large
//! unchanged fraction means the updates were rounded away.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::params::ParamLayout;

/// Statistics of one layer: `wte`, `wpe`, `h.0` … `h.{L−1}`, `ln_f`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerStat {
    /// The layer's short name.
    pub layer: String,
    /// L2 norm of the layer's gradient.
    pub grad_norm: f64,
    /// L2 norm of the layer's weights before the update.
    pub weight_norm: f64,
    /// ‖after − before‖ / ‖before‖ (0 when the weights are all zero).
    pub update_ratio: f64,
    /// Fraction of the layer's weights the step left bit-for-bit unchanged.
    pub unchanged_fraction: f64,
    /// Number of weights in the layer (AdamW's first step moves each by ≈ lr, so the first
    /// update's norm is ≈ lr·√numel: diagnosis checks the applied learning rate with it).
    pub numel: u64,
}

/// The layer a tensor belongs to, from its name alone (a layout's tensors carry it as
/// `TensorSpec::group`, from the spec): `transformer.h.3.mlp.c_fc.weight` → `h.3`,
/// `transformer.wte.weight` → `wte`.
pub fn layer_of(tensor_name: &str) -> &str {
    let rest = tensor_name
        .strip_prefix("transformer.")
        .unwrap_or(tensor_name);
    match rest.strip_prefix("h.") {
        Some(tail) => {
            let digits = tail.find('.').unwrap_or(tail.len());
            &rest[..2 + digits]
        }
        None => rest.split('.').next().unwrap_or(rest),
    }
}

/// One [`LayerStat`] per layer in buffer order. `before` and `after` are the parameters around
/// one optimizer step and `grads` the gradient it used. Sums run in f64 per tensor, in order, so
/// the result does not depend on the thread count.
///
/// # Panics
/// If the three buffers do not have `layout.len` elements (a programming error).
pub fn layer_stats(
    layout: &ParamLayout,
    before: &[f32],
    after: &[f32],
    grads: &[f32],
) -> Vec<LayerStat> {
    let n = layout.len;
    assert!(
        before.len() == n && after.len() == n && grads.len() == n,
        "layer_stats buffer lengths"
    );
    // (grad², weight², update², unchanged count, count) per tensor, in parallel over tensors.
    let sums: Vec<[f64; 5]> = layout
        .tensors
        .par_iter()
        .map(|t| {
            let r = t.range();
            let mut s = [0.0f64; 5];
            for ((&g, &b), &a) in grads[r.clone()]
                .iter()
                .zip(&before[r.clone()])
                .zip(&after[r])
            {
                s[0] += (g as f64).powi(2);
                s[1] += (b as f64).powi(2);
                s[2] += (a as f64 - b as f64).powi(2);
                s[3] += f64::from(u8::from(a.to_bits() == b.to_bits()));
            }
            s[4] = t.numel() as f64;
            s
        })
        .collect();
    let mut out: Vec<(String, [f64; 5])> = Vec::new();
    for (t, s) in layout.tensors.iter().zip(sums) {
        let layer = t.group.as_str();
        match out.last_mut() {
            Some((name, acc)) if name == layer => {
                for (a, v) in acc.iter_mut().zip(s) {
                    *a += v;
                }
            }
            _ => out.push((layer.to_string(), s)),
        }
    }
    out.into_iter()
        .map(|(layer, [g2, w2, u2, same, count])| LayerStat {
            layer,
            grad_norm: g2.sqrt(),
            weight_norm: w2.sqrt(),
            update_ratio: if w2 > 0.0 { (u2 / w2).sqrt() } else { 0.0 },
            unchanged_fraction: same / count,
            numel: count as u64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelConfig;

    #[test]
    fn layer_names_follow_the_hf_tensor_names() {
        assert_eq!(layer_of("transformer.h.3.mlp.c_fc.weight"), "h.3");
        assert_eq!(layer_of("transformer.h.12.ln_1.bias"), "h.12");
        assert_eq!(layer_of("transformer.wte.weight"), "wte");
        assert_eq!(layer_of("transformer.ln_f.bias"), "ln_f");
    }

    #[test]
    fn layer_stats_match_direct_norms() {
        let cfg = ModelConfig {
            n_layer: 2,
            n_embd: 8,
            n_head: 2,
            block_size: 4,
            vocab_size: 5,
            ..ModelConfig::default()
        };
        let layout = ParamLayout::new(&cfg);
        let before = crate::init_params(&cfg, 1);
        let grads: Vec<f32> = (0..layout.len)
            .map(|i| ((i % 7) as f32 - 3.0) * 0.01)
            .collect();
        let after: Vec<f32> = before
            .iter()
            .zip(&grads)
            .map(|(p, g)| p - 0.1 * g)
            .collect();
        let stats = layer_stats(&layout, &before, &after, &grads);
        let names: Vec<&str> = stats.iter().map(|s| s.layer.as_str()).collect();
        assert_eq!(names, ["wte", "wpe", "h.0", "h.1", "ln_f"]);
        // h.1 directly: its tensors are contiguous in the buffer.
        let h1: Vec<_> = layout
            .tensors
            .iter()
            .filter(|t| t.name.starts_with("transformer.h.1."))
            .collect();
        let r = h1[0].offset..h1.last().unwrap().range().end;
        let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
        let g = norm(&mut grads[r.clone()].iter().map(|&x| x as f64));
        let w = norm(&mut before[r.clone()].iter().map(|&x| x as f64));
        let u = norm(
            &mut before[r.clone()]
                .iter()
                .zip(&after[r])
                .map(|(&b, &a)| a as f64 - b as f64),
        );
        let s = &stats[3];
        assert!((s.grad_norm - g).abs() < 1e-12 * g.max(1.0));
        assert!((s.weight_norm - w).abs() < 1e-12 * w.max(1.0));
        assert!((s.update_ratio - u / w).abs() < 1e-12);
        // Every weight with a non-zero gradient moved; (i % 7 == 3) has a zero gradient.
        let still = h1
            .iter()
            .flat_map(|t| t.range())
            .filter(|i| i % 7 == 3)
            .count() as f64
            / h1.iter().map(|t| t.numel()).sum::<usize>() as f64;
        assert!((s.unchanged_fraction - still).abs() < 1e-12);
        // Zero weights (no update possible to measure against) give ratio 0, not NaN.
        let zeros = vec![0.0f32; layout.len];
        assert!(layer_stats(&layout, &zeros, &zeros, &zeros)
            .iter()
            .all(|s| s.update_ratio == 0.0));
    }
}
