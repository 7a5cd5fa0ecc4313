//! GELU, tanh approximation: y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). Shapes: any, elementwise.
//! Matches `torch.nn.functional.gelu(x, approximate="tanh")` (HF `gelu_new`). Ref: Hendrycks &
//! Gimpel 2016.
//!
//! Computed as y = x·σ(2u) with u = √(2/π)·(x + 0.044715·x³), since 0.5·(1 + tanh(u)) = σ(2u):
//! one vectorisable `exp` instead of a `tanh` libm call per element.

use rayon::prelude::*;

use super::simd::{exp, multiversion};

const S: f32 = 0.797_884_6; // √(2/π)
const K: f32 = 0.044_715;
/// Elements per parallel chunk (elementwise: results do not depend on it).
const CHUNK: usize = 1 << 14;

/// y = gelu(x). Overwrites `y`.
pub fn forward(y: &mut [f32], x: &[f32]) {
    assert_eq!(y.len(), x.len());
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(y, x)| forward_chunk(y, x));
}

multiversion! {
    fn forward_chunk(y: &mut [f32], x: &[f32]) {
        for (o, &v) in y.iter_mut().zip(x) {
            let u = S * (v + K * v * v * v);
            *o = v / (1.0 + exp(-2.0 * u));
        }
    }
}

/// dx += dy·gelu'(x).
pub fn backward(dx: &mut [f32], x: &[f32], dy: &[f32]) {
    assert!(dx.len() == x.len() && dy.len() == x.len());
    dx.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .zip(dy.par_chunks(CHUNK))
        .for_each(|((dx, x), dy)| backward_chunk(dx, x, dy));
}

/// d = d·gelu'(x) in place: turns the gradient w.r.t. the output into the gradient w.r.t. the
/// input (used by the model, where the output gradient is a scratch buffer).
pub fn backward_inplace(d: &mut [f32], x: &[f32]) {
    assert_eq!(d.len(), x.len());
    d.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(d, x)| backward_inplace_chunk(d, x));
}

/// gelu'(x). forward: y = x·σ(2u), u = S·(x + K·x³), and σ' = σ(1 − σ), so
/// y' = σ + x·σ(1 − σ)·2·S·(1 + 3K·x²).
#[inline(always)]
fn grad(v: f32) -> f32 {
    let u = S * (v + K * v * v * v);
    let sg = 1.0 / (1.0 + exp(-2.0 * u));
    sg + v * sg * (1.0 - sg) * 2.0 * S * (1.0 + 3.0 * K * v * v)
}

multiversion! {
    fn backward_chunk(dx: &mut [f32], x: &[f32], dy: &[f32]) {
        for ((d, &v), &g) in dx.iter_mut().zip(x).zip(dy) {
            *d += g * grad(v);
        }
    }
}

multiversion! {
    fn backward_inplace_chunk(d: &mut [f32], x: &[f32]) {
        for (d, &v) in d.iter_mut().zip(x) {
            *d *= grad(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference as r;
    use crate::kernels::testing::{assert_close, rand_vec, to_f64};

    fn inputs() -> Vec<f32> {
        let mut x = rand_vec(1000, 1, 6.0);
        x.extend([0.0, -20.0, 20.0, -1e-4, 1e-4]);
        x
    }

    #[test]
    fn gelu_forward_matches_naive_f64() {
        let x = inputs();
        let mut y = vec![f32::NAN; x.len()];
        forward(&mut y, &x);
        // One exp (rel. error ~2e-7) and a few roundings: a few ulp of max(|y|, 1).
        assert_close("gelu.y", &y, &r::gelu_forward(&to_f64(&x)), 1e-6, 1e-6);
    }

    #[test]
    fn gelu_backward_matches_finite_differences() {
        let x = inputs();
        let dy = rand_vec(x.len(), 2, 1.0);
        let mut dx = vec![0.5; x.len()];
        backward(&mut dx, &x, &dy);
        // Elementwise: FD of the f64 reference per element (h = 1e-6: error ~1e-10).
        let xd = to_f64(&x);
        let want: Vec<f64> = xd
            .iter()
            .zip(&dy)
            .map(|(&v, &d)| {
                let h = 1e-6;
                let fd = (r::gelu_forward(&[v + h])[0] - r::gelu_forward(&[v - h])[0]) / (2.0 * h);
                0.5 + d as f64 * fd
            })
            .collect();
        assert_close("gelu.dx", &dx, &want, 2e-6, 1e-5);
        let mut d = dy.clone();
        backward_inplace(&mut d, &x);
        let want: Vec<f64> = want.iter().map(|v| v - 0.5).collect();
        assert_close("gelu.dx_inplace", &d, &want, 2e-6, 1e-5);
    }
}
