//! RMSNorm over channels. Shapes: x, y (N, C); rstd (N); w (C); N = B·T.
//! Matches Hugging Face `LlamaRMSNorm`: y = w · (x · rsqrt(mean(x²) + eps)). Ref: Zhang &
//! Sennrich 2019.

use rayon::prelude::*;

use super::par::{rows_per_chunk, split_aligned, threads};
use super::simd::multiversion;

/// y = x·rstd·w per row with rstd = 1/√(mean(x²) + eps); stores `rstd` for `backward`.
/// Overwrites `y` and `rstd`.
pub fn forward(y: &mut [f32], rstd: &mut [f32], x: &[f32], w: &[f32], eps: f32) {
    let c = w.len();
    let n = rstd.len();
    assert!(c > 0 && x.len() == n * c && y.len() == n * c);
    let rows = rows_per_chunk(n);
    y.par_chunks_mut(rows * c)
        .zip(rstd.par_chunks_mut(rows))
        .zip(x.par_chunks(rows * c))
        .for_each(|((y, r), x)| forward_rows(y, r, x, w, eps));
}

multiversion! {
    fn forward_rows(y: &mut [f32], rstd: &mut [f32], x: &[f32], w: &[f32], eps: f32) {
        let c = w.len();
        for ((yr, r), xr) in y.chunks_exact_mut(c).zip(rstd.iter_mut()).zip(x.chunks_exact(c)) {
            let rs = 1.0 / (sum_sq(xr) / c as f32 + eps).sqrt();
            for ((o, &xv), &wv) in yr.iter_mut().zip(xr).zip(w) {
                // HF's order: (x · rstd) first, then the weight.
                *o = wv * (xv * rs);
            }
            *r = rs;
        }
    }
}

/// Σ x² in 8 lanes (a fixed order, so results do not depend on the chunking).
#[inline(always)]
fn sum_sq(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut it = x.chunks_exact(8);
    for ch in &mut it {
        for j in 0..8 {
            acc[j] += ch[j] * ch[j];
        }
    }
    for (j, &v) in it.remainder().iter().enumerate() {
        acc[j] += v * v;
    }
    super::simd::hsum(acc)
}

/// Adds (`+=`) into `dx` and `dw`. With norm = x·rstd and dnorm = dy·w:
/// dx = rstd·(dnorm − norm·mean(dnorm·norm)), dw = Σ_rows dy·norm.
///
/// Rows run in parallel for `dx`; `dw` is split by columns, each column summed over rows in row
/// order, so it does not depend on the thread count.
pub fn backward(dx: &mut [f32], dw: &mut [f32], dy: &[f32], x: &[f32], w: &[f32], rstd: &[f32]) {
    let c = w.len();
    let n = rstd.len();
    assert!(c > 0 && dw.len() == c && dx.len() == n * c && dy.len() == n * c && x.len() == n * c);
    let rows = rows_per_chunk(n);
    dx.par_chunks_mut(rows * c)
        .zip(dy.par_chunks(rows * c))
        .zip(x.par_chunks(rows * c))
        .zip(rstd.par_chunks(rows))
        .for_each(|(((dx, dy), x), r)| backward_rows(dx, dy, x, w, r));
    let parts = threads().min(c.div_ceil(8));
    let width = split_aligned(c, parts, 0, 8).len().max(1);
    dw.par_chunks_mut(width).enumerate().for_each(|(i, dw)| {
        backward_weight_cols(dw, dy, x, rstd, c, i * width);
    });
}

multiversion! {
    fn backward_rows(dx: &mut [f32], dy: &[f32], x: &[f32], w: &[f32], rstd: &[f32]) {
        let c = w.len();
        for (((dxr, dyr), xr), &rs) in
            dx.chunks_exact_mut(c).zip(dy.chunks_exact(c)).zip(x.chunks_exact(c)).zip(rstd)
        {
            let mut acc = [0.0f32; 8];
            let mut i = 0;
            while i + 8 <= c {
                for j in 0..8 {
                    acc[j] += dyr[i + j] * w[i + j] * (xr[i + j] * rs);
                }
                i += 8;
            }
            for j in 0..c - i {
                acc[j] += dyr[i + j] * w[i + j] * (xr[i + j] * rs);
            }
            let dnn_mean = super::simd::hsum(acc) / c as f32;
            for (((d, &g), &xv), &wv) in dxr.iter_mut().zip(dyr).zip(xr).zip(w) {
                *d += (g * wv - xv * rs * dnn_mean) * rs;
            }
        }
    }
}

multiversion! {
    /// dw[j] += Σ_rows dy·norm for columns col0..col0 + dw.len().
    fn backward_weight_cols(dw: &mut [f32], dy: &[f32], x: &[f32], rstd: &[f32], c: usize, col0: usize) {
        let w = dw.len();
        for (r, &rs) in rstd.iter().enumerate() {
            let dyr = &dy[r * c + col0..r * c + col0 + w];
            let xr = &x[r * c + col0..r * c + col0 + w];
            for ((dwv, &g), &xv) in dw.iter_mut().zip(dyr).zip(xr) {
                *dwv += g * (xv * rs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference as r;
    use crate::kernels::testing::{assert_close, fd_grad, rand_vec, to_f64};

    const N: usize = 6;
    const C: usize = 19; // not a multiple of 8: exercises the remainder paths
    const EPS: f32 = 1e-5;

    fn inputs() -> (Vec<f32>, Vec<f32>) {
        let mut x = rand_vec(N * C, 1, 2.0);
        x.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v += (i / C) as f32 * 0.5); // row scales differ
        (x, rand_vec(C, 2, 1.0).iter().map(|v| v + 1.0).collect())
    }

    #[test]
    fn rmsnorm_forward_matches_naive_f64() {
        let (x, w) = inputs();
        let (mut y, mut rs) = (vec![0.0; N * C], vec![0.0; N]);
        forward(&mut y, &mut rs, &x, &w, EPS);
        let want = r::rmsnorm_forward(&to_f64(&x), &to_f64(&w), EPS as f64, C);
        assert_close("rmsnorm.y", &y, &want, 2e-6, 2e-6);
    }

    #[test]
    fn rmsnorm_backward_matches_finite_differences() {
        let (x, w) = inputs();
        let dy = rand_vec(N * C, 4, 1.0);
        let (mut y, mut rs) = (vec![0.0; N * C], vec![0.0; N]);
        forward(&mut y, &mut rs, &x, &w, EPS);
        let (mut dx, mut dw) = (vec![0.5; N * C], vec![0.25; C]);
        backward(&mut dx, &mut dw, &dy, &x, &w, &rs);
        // f = Σ dy ⊙ y in f64; central differences (h = 1e-6) are accurate to ~1e-10, so the
        // tolerances reflect the f32 kernel's rounding only. Backward adds to 0.5 / 0.25.
        let (xd, wd, dyd) = (to_f64(&x), to_f64(&w), to_f64(&dy));
        let eps = EPS as f64;
        let f = |y: Vec<f64>| y.iter().zip(&dyd).map(|(a, b)| a * b).sum::<f64>();
        let gx = fd_grad(&xd, 1e-6, |x| f(r::rmsnorm_forward(x, &wd, eps, C)));
        let gw = fd_grad(&wd, 1e-6, |w| f(r::rmsnorm_forward(&xd, w, eps, C)));
        let shift = |v: Vec<f64>, s: f64| v.into_iter().map(|a| a + s).collect::<Vec<_>>();
        assert_close("rmsnorm.dx", &dx, &shift(gx, 0.5), 1e-5, 1e-4);
        assert_close("rmsnorm.dw", &dw, &shift(gw, 0.25), 1e-5, 1e-4);
    }
}
