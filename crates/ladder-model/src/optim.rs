//! AdamW (Loshchilov & Hutter 2019) and global gradient norms, single passes over the flat
//! buffers of [`ParamLayout`].

use rayon::prelude::*;

use crate::backend::{AdamWHyper as Hyper, Backend, Cpu};
use crate::faults::Faults;
use crate::params::ParamLayout;

/// An optimizer over a flat parameter layout: the trainer steps it once per optimizer step.
pub trait Optimizer {
    /// One update of every parameter from `grads` at learning rate `lr` with decoupled weight
    /// decay `weight_decay` (on the layout's decayed tensors only).
    fn step(
        &mut self,
        layout: &ParamLayout,
        params: &mut [f32],
        grads: &[f32],
        lr: f32,
        weight_decay: f32,
    );
    /// Updates taken so far.
    fn steps(&self) -> u64;
}

/// Elements per parallel chunk of the elementwise passes. `grad_norm` sums each chunk then the
/// chunk sums in order, so its result depends on this constant only (not on the thread count).
const CHUNK: usize = 1 << 15;

/// AdamW of DESIGN §2: β1 0.9, β2 0.95, eps 1e-8, bias-corrected, decoupled weight decay only
/// on tensors with `TensorSpec::decay` (2-D weights). Same update as `torch.optim.AdamW`:
/// `p ← p·(1 − lr·wd)`, `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
/// `p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps)`.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamW {
    /// First moment, same layout as the parameters.
    pub m: Vec<f32>,
    /// Second moment, same layout as the parameters.
    pub v: Vec<f32>,
    /// Steps taken so far (the next step uses t + 1 for bias correction).
    pub t: u64,
    /// First-moment decay (0.9).
    pub beta1: f32,
    /// Second-moment decay (0.95, as GPT-3 / nanoGPT for stability at high learning rates).
    pub beta2: f32,
    /// Denominator epsilon (1e-8).
    pub eps: f32,
    /// Divide the moments by `1 − βᵗ`: always, except under [`Faults::no_bias_correction`].
    bias_correction: bool,
}

impl Optimizer for AdamW {
    fn step(
        &mut self,
        layout: &ParamLayout,
        params: &mut [f32],
        grads: &[f32],
        lr: f32,
        weight_decay: f32,
    ) {
        AdamW::step(self, layout, params, grads, lr, weight_decay)
    }

    fn steps(&self) -> u64 {
        self.t
    }
}

impl AdamW {
    /// Zero moments, t = 0, DESIGN §2 hyper-parameters, with the test-only `faults` (the
    /// planted `no-bias-correction`; [`Faults::NONE`] for real training).
    pub fn with_faults(layout: &ParamLayout, faults: &Faults) -> Self {
        AdamW {
            bias_correction: !faults.no_bias_correction,
            ..AdamW::new(layout)
        }
    }

    /// Zero moments, t = 0, DESIGN §2 hyper-parameters.
    pub fn new(layout: &ParamLayout) -> Self {
        AdamW {
            m: vec![0.0; layout.len],
            v: vec![0.0; layout.len],
            t: 0,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            bias_correction: true,
        }
    }

    /// One update of every parameter. `weight_decay` applies only where `TensorSpec::decay`.
    /// The padded `wte` rows (zero parameters, zero gradients) stay zero.
    ///
    /// # Panics
    /// If `params`, `grads` or the moments do not have `layout.len` elements (a programming
    /// error: they are all built from the same layout).
    pub fn step(
        &mut self,
        layout: &ParamLayout,
        params: &mut [f32],
        grads: &[f32],
        lr: f32,
        weight_decay: f32,
    ) {
        self.step_on(&Cpu, layout, params, grads, lr, weight_decay)
    }

    /// [`AdamW::step`] with the update kernel of backend `be`.
    pub fn step_on<B: Backend>(
        &mut self,
        be: &B,
        layout: &ParamLayout,
        params: &mut [f32],
        grads: &[f32],
        lr: f32,
        weight_decay: f32,
    ) {
        let n = layout.len;
        assert!(
            params.len() == n && grads.len() == n && self.m.len() == n && self.v.len() == n,
            "AdamW buffer lengths"
        );
        self.t += 1;
        let t = self.t as f64;
        let (bc1, bc2) = if self.bias_correction {
            (
                1.0 - (self.beta1 as f64).powf(t),
                1.0 - (self.beta2 as f64).powf(t),
            )
        } else {
            (1.0, 1.0)
        };
        let h = Hyper {
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            step_size: (lr as f64 / bc1) as f32,
            bc2_sqrt: bc2.sqrt() as f32,
            decay: 1.0,
        };
        let decay = 1.0 - lr * weight_decay;
        let tensors = &layout.tensors;
        // One parallel pass over fixed chunks of the flat buffers; a chunk that straddles tensor
        // boundaries is cut at them so each piece gets its tensor's decay. A tensor's memory
        // extent runs to the next tensor's offset (so wte's padded rows are included).
        params
            .par_chunks_mut(CHUNK)
            .zip(grads.par_chunks(CHUNK))
            .zip(self.m.par_chunks_mut(CHUNK))
            .zip(self.v.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(ci, (((p, g), m), v))| {
                let start = ci * CHUNK;
                let end = start + p.len();
                // tensors[0].offset == 0, so the tensor holding `start` exists.
                let mut ti = tensors
                    .partition_point(|t| t.offset <= start)
                    .saturating_sub(1);
                let mut pos = start;
                while pos < end {
                    let tend = tensors.get(ti + 1).map_or(n, |t| t.offset).min(end);
                    let h = Hyper {
                        decay: if tensors[ti].decay { decay } else { 1.0 },
                        ..h
                    };
                    let r = pos - start..tend - start;
                    be.adamw_update(
                        &mut p[r.clone()],
                        &g[r.clone()],
                        &mut m[r.clone()],
                        &mut v[r],
                        h,
                    );
                    pos = tend;
                    ti += 1;
                }
            });
    }
}

crate::kernels::simd::multiversion! {
    /// The AdamW update of one contiguous piece of one tensor (the CPU backend's kernel).
    pub(crate) fn adamw_chunk(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: Hyper) {
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            *m += (1.0 - h.beta1) * (g - *m);
            *v = h.beta2 * *v + (1.0 - h.beta2) * g * g;
            let denom = v.sqrt() / h.bc2_sqrt + h.eps;
            *p = *p * h.decay - h.step_size * *m / denom;
        }
    }
}

/// Global L2 norm of the flat gradient. Squares are summed in f64 per fixed chunk, then the chunk
/// sums in order: the result is deterministic and independent of the thread count.
pub fn grad_norm(grads: &[f32]) -> f32 {
    let partial: Vec<f64> = grads.par_chunks(CHUNK).map(sum_squares).collect();
    partial.iter().sum::<f64>().sqrt() as f32
}

crate::kernels::simd::multiversion! {
    fn sum_squares(x: &[f32]) -> f64 {
        let mut acc = [0.0f64; 8];
        let mut it = x.chunks_exact(8);
        for ch in &mut it {
            for j in 0..8 {
                acc[j] += ch[j] as f64 * ch[j] as f64;
            }
        }
        for (j, &v) in it.remainder().iter().enumerate() {
            acc[j] += v as f64 * v as f64;
        }
        ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
    }
}

/// Scales `grads` so their global norm is at most `max_norm` (by `max_norm / (norm + 1e-6)`, as
/// `torch.nn.utils.clip_grad_norm_`); returns the norm before clipping. A non-finite norm leaves
/// the gradients unchanged (the health monitor reports it).
pub fn clip_grad_norm(grads: &mut [f32], max_norm: f32) -> f32 {
    let norm = grad_norm(grads);
    if norm.is_finite() && norm > max_norm {
        let s = max_norm / (norm + 1e-6);
        grads
            .par_chunks_mut(CHUNK)
            .for_each(|g| g.iter_mut().for_each(|x| *x *= s));
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelConfig;

    #[test]
    fn grad_norm_matches_f64_and_ignores_thread_count() {
        let g = crate::kernels::testing::rand_vec(100_003, 9, 1.0);
        let want = g.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| grad_norm(&g));
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap()
            .install(|| grad_norm(&g));
        assert_eq!(one.to_bits(), three.to_bits());
        assert!(((one as f64 - want) / want).abs() < 1e-6);
    }

    #[test]
    fn clip_grad_norm_scales_to_max_norm() {
        let mut g = vec![3.0f32, 4.0];
        assert_eq!(clip_grad_norm(&mut g, 1.0), 5.0);
        assert!((grad_norm(&g) - 1.0).abs() < 1e-6);
        let mut g = vec![0.3f32, 0.4];
        assert_eq!(clip_grad_norm(&mut g, 1.0), 0.5);
        assert_eq!(g, vec![0.3, 0.4]);
    }

    #[test]
    fn adamw_step_matches_reference() {
        // Hand-computed in f64 from the update rule in the doc comment, two steps, for a decayed
        // weight and an undecayed bias; with and without (the planted bug) bias correction.
        let cfg = ModelConfig {
            n_layer: 1,
            n_embd: 8,
            n_head: 1,
            block_size: 2,
            vocab_size: 3,
            ..ModelConfig::default()
        };
        let layout = ParamLayout::new(&cfg);
        let (lr, wd) = (0.1f64, 0.2f64);
        let gs = [0.3f64, -0.7];
        let wi = layout
            .get("transformer.h.0.attn.c_attn.weight")
            .unwrap()
            .offset;
        let bi = layout
            .get("transformer.h.0.attn.c_attn.bias")
            .unwrap()
            .offset;
        for bias_correction in [true, false] {
            let mut p = vec![0.5f32; layout.len];
            let faults = Faults {
                no_bias_correction: !bias_correction,
                ..Faults::NONE
            };
            let mut opt = AdamW::with_faults(&layout, &faults);
            for &g in &gs {
                let grads = vec![g as f32; layout.len];
                opt.step(&layout, &mut p, &grads, lr as f32, wd as f32);
            }
            let expect = |decay: bool| {
                let (mut p, mut m, mut v) = (0.5f64, 0.0f64, 0.0f64);
                for (i, &g) in gs.iter().enumerate() {
                    let t = (i + 1) as i32;
                    let (bc1, bc2) = if bias_correction {
                        (1.0 - 0.9f64.powi(t), 1.0 - 0.95f64.powi(t))
                    } else {
                        (1.0, 1.0)
                    };
                    if decay {
                        p *= 1.0 - lr * wd;
                    }
                    m = 0.9 * m + 0.1 * g;
                    v = 0.95 * v + 0.05 * g * g;
                    p -= lr / bc1 * m / (v.sqrt() / bc2.sqrt() + 1e-8);
                }
                p
            };
            for (i, decay) in [(wi, true), (bi, false)] {
                assert!(
                    (p[i] as f64 - expect(decay)).abs() < 1e-6,
                    "bias correction {bias_correction}: {} vs {}",
                    p[i],
                    expect(decay)
                );
            }
            assert_eq!(opt.t, 2);
        }
    }

    #[test]
    fn adamw_keeps_padded_rows_zero() {
        let cfg = ModelConfig {
            n_layer: 1,
            n_embd: 8,
            n_head: 1,
            block_size: 2,
            vocab_size: 3,
            ..ModelConfig::default()
        };
        let layout = ParamLayout::new(&cfg);
        let mut p = crate::init_params(&cfg, 0);
        let mut g = vec![0.1f32; layout.len];
        let pad = 3 * 8..64 * 8;
        g[pad.clone()].fill(0.0);
        let mut opt = AdamW::new(&layout);
        opt.step(&layout, &mut p, &g, 0.1, 0.1);
        assert!(p[pad].iter().all(|&x| x == 0.0));
    }
}
