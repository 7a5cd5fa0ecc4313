//! SwiGLU: h = silu(gate) ⊙ up with silu(g) = g·σ(g). Shapes: gu (N, 2F) holding each row's
//! gate (first F) and up (last F) projections side by side; h (N, F).
//! Matches Hugging Face `LlamaMLP`: `act_fn(gate_proj(x)) * up_proj(x)` with `hidden_act` silu.
//! Ref: Shazeer 2020.

use rayon::prelude::*;

use super::par::rows_per_chunk;
use super::simd::{exp, multiversion};

/// h = silu(gate)·up, row by row. Overwrites `h`.
pub fn forward(h: &mut [f32], gu: &[f32], f: usize) {
    let n = h.len() / f.max(1);
    assert!(f > 0 && h.len() == n * f && gu.len() == 2 * n * f);
    let rows = rows_per_chunk(n);
    h.par_chunks_mut(rows * f)
        .zip(gu.par_chunks(rows * 2 * f))
        .for_each(|(h, gu)| forward_rows(h, gu, f));
}

multiversion! {
    fn forward_rows(h: &mut [f32], gu: &[f32], f: usize) {
        for (hr, gur) in h.chunks_exact_mut(f).zip(gu.chunks_exact(2 * f)) {
            let (g, u) = gur.split_at(f);
            for ((o, &gv), &uv) in hr.iter_mut().zip(g).zip(u) {
                *o = gv / (1.0 + exp(-gv)) * uv;
            }
        }
    }
}

/// dgu (N, 2F) = gradient of `forward` given dh (N, F); overwrites `dgu`.
/// With s = σ(g): d gate = dh·up·s·(1 + g·(1 − s)), d up = dh·g·s.
pub fn backward(dgu: &mut [f32], dh: &[f32], gu: &[f32], f: usize) {
    let n = dh.len() / f.max(1);
    assert!(f > 0 && dh.len() == n * f && gu.len() == 2 * n * f && dgu.len() == 2 * n * f);
    let rows = rows_per_chunk(n);
    dgu.par_chunks_mut(rows * 2 * f)
        .zip(dh.par_chunks(rows * f))
        .zip(gu.par_chunks(rows * 2 * f))
        .for_each(|((dgu, dh), gu)| backward_rows(dgu, dh, gu, f));
}

multiversion! {
    fn backward_rows(dgu: &mut [f32], dh: &[f32], gu: &[f32], f: usize) {
        for ((dr, dhr), gur) in dgu.chunks_exact_mut(2 * f).zip(dh.chunks_exact(f)).zip(gu.chunks_exact(2 * f)) {
            let (dg, du) = dr.split_at_mut(f);
            let (g, u) = gur.split_at(f);
            for ((((dgv, duv), &d), &gv), &uv) in dg.iter_mut().zip(du.iter_mut()).zip(dhr).zip(g).zip(u) {
                let s = 1.0 / (1.0 + exp(-gv));
                *dgv = d * uv * s * (1.0 + gv * (1.0 - s));
                *duv = d * gv * s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference as r;
    use crate::kernels::testing::{assert_close, fd_grad, rand_vec, to_f64};

    const N: usize = 5;
    const F: usize = 13;

    fn inputs() -> Vec<f32> {
        let mut gu = rand_vec(N * 2 * F, 1, 6.0);
        gu.extend([0.0, -30.0, 30.0, 1e-4]); // extremes of σ, in the last row's gate and up
        gu.truncate(N * 2 * F);
        gu[(N - 1) * 2 * F..(N - 1) * 2 * F + 4].copy_from_slice(&[0.0, -30.0, 30.0, 1e-4]);
        gu
    }

    #[test]
    fn swiglu_forward_matches_naive_f64() {
        let gu = inputs();
        let mut h = vec![f32::NAN; N * F];
        forward(&mut h, &gu, F);
        let want = r::swiglu_forward(&to_f64(&gu), F);
        assert_close("swiglu.h", &h, &want, 1e-6, 1e-6);
    }

    #[test]
    fn swiglu_backward_matches_finite_differences() {
        let gu = inputs();
        let dh = rand_vec(N * F, 2, 1.0);
        let mut dgu = vec![f32::NAN; N * 2 * F];
        backward(&mut dgu, &dh, &gu, F);
        let dhd = to_f64(&dh);
        let want = fd_grad(&to_f64(&gu), 1e-6, |gu| {
            r::swiglu_forward(gu, F)
                .iter()
                .zip(&dhd)
                .map(|(a, b)| a * b)
                .sum()
        });
        assert_close("swiglu.dgu", &dgu, &want, 2e-5, 1e-4);
    }
}
