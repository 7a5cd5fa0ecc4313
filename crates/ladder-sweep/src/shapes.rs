//! The model-shape family of a ladder: for a target number of non-embedding parameters N, a GPT-2
//! shape (n_layer, n_embd, n_head) with a sensible depth/width ratio.
//!
//! N = L·(12·C² + 13·C) + 2·C (`ladder_model::ModelConfig::n_params_non_embedding`), so one N can be
//! reached by many (L, C). Kaplan et al. (2020, fig. 5) found the loss flat over a wide range of
//! aspect ratios C/L at fixed N, so the family fixes one: the candidate whose N is nearest the
//! target in log space, with a weak pull towards C/L = [`ASPECT`]. Widths are multiples of 16 and
//! heads are 32 wide (16 for widths that are not multiples of 32), so `n_embd % n_head == 0` and
//! every head has at least 16 channels.

use serde::{Deserialize, Serialize};

/// Width per layer the family prefers: 2 × 64, 3 × 96, 4 × 128 ... (nanoGPT-style small models).
pub const ASPECT: f64 = 48.0;
/// Weight of the aspect-ratio term against the log-N distance (squared logs). Small: N matters
/// first; among shapes within a few percent of the target, the better-proportioned one wins.
const ASPECT_WEIGHT: f64 = 0.02;
/// Smallest and largest widths, and the deepest model, of the family.
const MIN_EMBD: usize = 16;
const MAX_EMBD: usize = 2048;
const MAX_LAYER: usize = 32;

/// One GPT-2 shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shape {
    /// Transformer blocks (L).
    pub n_layer: usize,
    /// Channels (C).
    pub n_embd: usize,
    /// Attention heads (NH), dividing C.
    pub n_head: usize,
}

impl Shape {
    /// A shape with the family's heads for width `n_embd`.
    pub fn new(n_layer: usize, n_embd: usize) -> Shape {
        let hs = if n_embd.is_multiple_of(32) { 32 } else { 16 };
        Shape {
            n_layer,
            n_embd,
            n_head: (n_embd / hs).max(1),
        }
    }

    /// Kaplan's N, exactly as `ladder train` reports it in summary.json.
    pub fn n_params(&self) -> u64 {
        self.model(1).n_params_non_embedding()
    }

    /// The model config with vocabulary `vocab` (block size irrelevant to N; 1 is a placeholder
    /// the caller replaces).
    pub fn model(&self, vocab: usize) -> ladder_model::ModelConfig {
        ladder_model::ModelConfig {
            n_layer: self.n_layer,
            n_embd: self.n_embd,
            n_head: self.n_head,
            block_size: 1,
            vocab_size: vocab,
            ..ladder_model::ModelConfig::default()
        }
    }
}

/// Every shape of the family, sorted by N.
pub fn family() -> Vec<Shape> {
    let mut out = Vec::new();
    for l in 1..=MAX_LAYER {
        for c in (MIN_EMBD..=MAX_EMBD).step_by(16) {
            // Keep to plausible proportions: 8..256 channels per layer.
            let aspect = c as f64 / l as f64;
            if (8.0..=256.0).contains(&aspect) {
                out.push(Shape::new(l, c));
            }
        }
    }
    out.sort_by_key(|s| (s.n_params(), s.n_layer));
    out
}

/// The cost of `s` as a stand-in for a model of `target` parameters.
fn cost(s: &Shape, target: f64) -> f64 {
    let dn = (s.n_params() as f64 / target).ln();
    let da = (s.n_embd as f64 / s.n_layer as f64 / ASPECT).ln();
    dn * dn + ASPECT_WEIGHT * da * da
}

/// The family's shape for `target` parameters, skipping shapes in `taken`; `None` when the target
/// lies outside the family's range by more than 25 %.
pub fn shape_for(target: f64, taken: &[Shape]) -> Option<Shape> {
    let fam = family();
    let (min, max) = (
        fam[0].n_params() as f64,
        fam[fam.len() - 1].n_params() as f64,
    );
    if !(target >= min / 1.25 && target <= max * 1.25) {
        return None;
    }
    fam.into_iter()
        .filter(|s| !taken.contains(s))
        .min_by(|a, b| cost(a, target).total_cmp(&cost(b, target)))
}

/// The family's N range, for error messages.
pub fn family_range() -> (f64, f64) {
    let fam = family();
    (
        fam[0].n_params() as f64,
        fam[fam.len() - 1].n_params() as f64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_have_valid_heads_and_head_size_at_least_16() {
        for s in family() {
            assert_eq!(s.n_embd % s.n_head, 0, "{s:?}");
            assert!(s.n_embd / s.n_head >= 16, "{s:?}");
        }
    }

    #[test]
    fn shape_for_lands_near_the_target_and_is_proportioned() {
        for target in [2e4, 1e5, 3e5, 1e6, 1e7, 1e8] {
            let s = shape_for(target, &[]).unwrap();
            let n = s.n_params() as f64;
            assert!(
                (n / target).ln().abs() < 0.25,
                "{target}: {s:?} has N = {n}"
            );
            let aspect = s.n_embd as f64 / s.n_layer as f64;
            assert!((16.0..=128.0).contains(&aspect), "{target}: {s:?}");
        }
        // The tiny preset (2 × 64, N = 100,096) is the family's pick at its own size.
        assert_eq!(shape_for(100_096.0, &[]).unwrap(), Shape::new(2, 64));
        assert!(shape_for(1e3, &[]).is_none());
    }

    #[test]
    fn shape_for_skips_taken_shapes() {
        let a = shape_for(1e5, &[]).unwrap();
        let b = shape_for(1e5, &[a]).unwrap();
        assert_ne!(a, b);
    }
}
