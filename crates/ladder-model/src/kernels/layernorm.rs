//! LayerNorm over channels. Shapes: x, y (N, C); mean, rstd (N); w, b (C); N = B·T.
//! Matches `torch.nn.LayerNorm(C, eps=1e-5)` (biased variance). Ref: Ba et al. 2016.

use rayon::prelude::*;

use super::par::{rows_per_chunk, split_aligned, threads};
use super::simd::{multiversion, sum};

/// LayerNorm epsilon (GPT-2's `layer_norm_epsilon`).
pub const EPS: f32 = 1e-5;

/// y = (x − mean)·rstd·w + b per row. Also stores `mean`/`rstd`: `backward` needs them and
/// recomputing costs a pass over `x`. Overwrites `y`, `mean`, `rstd`.
pub fn forward(y: &mut [f32], mean: &mut [f32], rstd: &mut [f32], x: &[f32], w: &[f32], b: &[f32]) {
    let c = w.len();
    let n = mean.len();
    assert!(c > 0 && b.len() == c && x.len() == n * c && y.len() == n * c && rstd.len() == n);
    let rows = rows_per_chunk(n);
    y.par_chunks_mut(rows * c)
        .zip(mean.par_chunks_mut(rows))
        .zip(rstd.par_chunks_mut(rows))
        .zip(x.par_chunks(rows * c))
        .for_each(|(((y, m), r), x)| forward_rows(y, m, r, x, w, b));
}

multiversion! {
    fn forward_rows(y: &mut [f32], mean: &mut [f32], rstd: &mut [f32], x: &[f32], w: &[f32], b: &[f32]) {
        let c = w.len();
        for (((yr, m), r), xr) in y.chunks_exact_mut(c).zip(mean.iter_mut()).zip(rstd.iter_mut()).zip(x.chunks_exact(c)) {
            let mu = sum(xr) / c as f32;
            // Two-pass variance: no cancellation when |mean| >> std.
            let mut acc = [0.0f32; 8];
            let mut it = xr.chunks_exact(8);
            for ch in &mut it {
                for j in 0..8 {
                    let d = ch[j] - mu;
                    acc[j] += d * d;
                }
            }
            for (j, &v) in it.remainder().iter().enumerate() {
                acc[j] += (v - mu) * (v - mu);
            }
            let var = super::simd::hsum(acc) / c as f32;
            let rs = 1.0 / (var + EPS).sqrt();
            for (((o, &xv), &wv), &bv) in yr.iter_mut().zip(xr).zip(w).zip(b) {
                *o = (xv - mu) * rs * wv + bv;
            }
            *m = mu;
            *r = rs;
        }
    }
}

/// Adds (`+=`) into `dx`, `dw`, `db`: the residual stream sums two branches' gradients.
///
/// Rows run in parallel for `dx`; `dw`/`db` (sums over rows) are split by columns, each column
/// summed over rows in row order, so they do not depend on the thread count.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    mean: &[f32],
    rstd: &[f32],
) {
    let c = w.len();
    let n = mean.len();
    assert!(c > 0 && dw.len() == c && db.len() == c && rstd.len() == n);
    assert!(dx.len() == n * c && dy.len() == n * c && x.len() == n * c);
    let rows = rows_per_chunk(n);
    dx.par_chunks_mut(rows * c)
        .zip(dy.par_chunks(rows * c))
        .zip(x.par_chunks(rows * c))
        .zip(mean.par_chunks(rows).zip(rstd.par_chunks(rows)))
        .for_each(|(((dx, dy), x), (m, r))| backward_rows(dx, dy, x, w, m, r));
    let parts = threads().min(c.div_ceil(8));
    let width = split_aligned(c, parts, 0, 8).len().max(1);
    dw.par_chunks_mut(width)
        .zip(db.par_chunks_mut(width))
        .enumerate()
        .for_each(|(i, (dw, db))| {
            backward_params_cols(dw, db, dy, x, mean, rstd, c, i * width);
        });
}

multiversion! {
    fn backward_rows(dx: &mut [f32], dy: &[f32], x: &[f32], w: &[f32], mean: &[f32], rstd: &[f32]) {
        let c = w.len();
        for ((((dxr, dyr), xr), &mu), &rs) in
            dx.chunks_exact_mut(c).zip(dy.chunks_exact(c)).zip(x.chunks_exact(c)).zip(mean).zip(rstd)
        {
            // forward: norm = (x − mean)·rstd, y = norm·w + b. With dnorm = dy·w:
            // dx = rstd·(dnorm − mean(dnorm) − norm·mean(dnorm·norm)).
            let mut a1 = [0.0f32; 8];
            let mut a2 = [0.0f32; 8];
            let mut i = 0;
            while i + 8 <= c {
                for j in 0..8 {
                    let norm = (xr[i + j] - mu) * rs;
                    let dn = dyr[i + j] * w[i + j];
                    a1[j] += dn;
                    a2[j] += dn * norm;
                }
                i += 8;
            }
            for j in 0..c - i {
                let norm = (xr[i + j] - mu) * rs;
                let dn = dyr[i + j] * w[i + j];
                a1[j] += dn;
                a2[j] += dn * norm;
            }
            let dn_mean = super::simd::hsum(a1) / c as f32;
            let dnn_mean = super::simd::hsum(a2) / c as f32;
            for (((d, &g), &xv), &wv) in dxr.iter_mut().zip(dyr).zip(xr).zip(w) {
                let norm = (xv - mu) * rs;
                *d += (g * wv - dn_mean - norm * dnn_mean) * rs;
            }
        }
    }
}

multiversion! {
    /// dw[j] += Σ_rows dy·norm, db[j] += Σ_rows dy for columns col0..col0 + dw.len().
    fn backward_params_cols(dw: &mut [f32], db: &mut [f32], dy: &[f32], x: &[f32], mean: &[f32], rstd: &[f32], c: usize, col0: usize) {
        let w = dw.len();
        for (r, (&mu, &rs)) in mean.iter().zip(rstd).enumerate() {
            let dyr = &dy[r * c + col0..r * c + col0 + w];
            let xr = &x[r * c + col0..r * c + col0 + w];
            for (((dwv, dbv), &g), &xv) in dw.iter_mut().zip(db.iter_mut()).zip(dyr).zip(xr) {
                *dwv += g * ((xv - mu) * rs);
                *dbv += g;
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

    fn inputs() -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut x = rand_vec(N * C, 1, 2.0);
        x.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v += (i / C) as f32); // row means differ
        (
            x,
            rand_vec(C, 2, 1.0).iter().map(|v| v + 1.0).collect(),
            rand_vec(C, 3, 0.5),
        )
    }

    #[test]
    fn layernorm_forward_matches_naive_f64() {
        let (x, w, b) = inputs();
        let (mut y, mut m, mut rs) = (vec![0.0; N * C], vec![0.0; N], vec![0.0; N]);
        forward(&mut y, &mut m, &mut rs, &x, &w, &b);
        let want = r::layernorm_forward(&to_f64(&x), &to_f64(&w), &to_f64(&b), C);
        // f32 rounding of sums over C = 19 terms: ~1e-6 relative to O(1) outputs.
        assert_close("layernorm.y", &y, &want, 2e-6, 2e-6);
    }

    #[test]
    fn layernorm_backward_matches_finite_differences() {
        let (x, w, b) = inputs();
        let dy = rand_vec(N * C, 4, 1.0);
        let (mut y, mut m, mut rs) = (vec![0.0; N * C], vec![0.0; N], vec![0.0; N]);
        forward(&mut y, &mut m, &mut rs, &x, &w, &b);
        let (mut dx, mut dw, mut db) = (vec![0.0; N * C], vec![0.0; C], vec![0.0; C]);
        backward(&mut dx, &mut dw, &mut db, &dy, &x, &w, &m, &rs);
        // Scalar objective f = Σ dy ⊙ y in f64; central differences with h = 1e-6 have
        // truncation error ~h² and rounding ~1e-16/h = 1e-10, far below the f32 kernel's error
        // (~1e-6 relative), so tolerances reflect f32 rounding only.
        let (xd, wd, bd, dyd) = (to_f64(&x), to_f64(&w), to_f64(&b), to_f64(&dy));
        let f = |y: Vec<f64>| y.iter().zip(&dyd).map(|(a, b)| a * b).sum::<f64>();
        let gx = fd_grad(&xd, 1e-6, |x| f(r::layernorm_forward(x, &wd, &bd, C)));
        let gw = fd_grad(&wd, 1e-6, |w| f(r::layernorm_forward(&xd, w, &bd, C)));
        let gb = fd_grad(&bd, 1e-6, |b| f(r::layernorm_forward(&xd, &wd, b, C)));
        assert_close("layernorm.dx", &dx, &gx, 1e-5, 1e-4);
        assert_close("layernorm.dw", &dw, &gw, 1e-5, 1e-4);
        assert_close("layernorm.db", &db, &gb, 1e-5, 1e-4);
    }

    #[test]
    fn layernorm_backward_accumulates_into_existing_grads() {
        let (x, w, b) = inputs();
        let dy = rand_vec(N * C, 4, 1.0);
        let (mut y, mut m, mut rs) = (vec![0.0; N * C], vec![0.0; N], vec![0.0; N]);
        forward(&mut y, &mut m, &mut rs, &x, &w, &b);
        let (mut dx, mut dw, mut db) = (vec![0.0; N * C], vec![0.0; C], vec![0.0; C]);
        backward(&mut dx, &mut dw, &mut db, &dy, &x, &w, &m, &rs);
        let (mut dx2, mut dw2, mut db2) = (vec![1.0; N * C], vec![2.0; C], vec![3.0; C]);
        backward(&mut dx2, &mut dw2, &mut db2, &dy, &x, &w, &m, &rs);
        let shift = |v: &[f32], s: f64| v.iter().map(|&a| a as f64 + s).collect::<Vec<_>>();
        assert_close("dx", &dx2, &shift(&dx, 1.0), 1e-6, 1e-6);
        assert_close("dw", &dw2, &shift(&dw, 2.0), 1e-6, 1e-6);
        assert_close("db", &db2, &shift(&db, 3.0), 1e-6, 1e-6);
    }
}
