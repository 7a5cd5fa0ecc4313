//! Matmul with bias (Hugging Face Conv1D): out (N, OC) = inp (N, IC) · w (IC, OC) + bias (OC),
//! and the tied lm head out (N, OC) = inp (N, IC) · wᵀ with w (OC, IC).
//!
//! All products go through [`super::gemm`]: one single-threaded `gemm` call per thread on a fixed
//! block of the output.

use rayon::prelude::*;

use super::gemm::{gemm_par, Mat};
use super::par::{split_aligned, threads};
use super::simd::multiversion;

/// out = inp · w + bias. Overwrites `out` (N, OC); w (IC, OC).
pub fn forward(
    out: &mut [f32],
    inp: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    ic: usize,
    oc: usize,
) {
    let n = inp.len() / ic.max(1);
    assert!(ic > 0 && inp.len() == n * ic && out.len() == n * oc && w.len() == ic * oc);
    if let Some(b) = bias {
        assert_eq!(b.len(), oc);
        out.par_chunks_mut(oc * super::par::rows_per_chunk(n))
            .for_each(|o| {
                o.chunks_exact_mut(oc)
                    .for_each(|row| row.copy_from_slice(b))
            });
    }
    // SAFETY: shapes asserted above; `out` is exclusively borrowed.
    unsafe {
        gemm_par(
            n,
            oc,
            ic,
            out.as_mut_ptr(),
            oc,
            bias.is_some(),
            Mat::new(inp.as_ptr(), ic, 1),
            Mat::new(w.as_ptr(), oc, 1),
            1.0,
        )
    };
}

/// out = resid + inp · w [+ bias] (the residual add fused into the projection). Overwrites `out`.
pub fn forward_residual(
    out: &mut [f32],
    resid: &[f32],
    inp: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    ic: usize,
    oc: usize,
) {
    let n = inp.len() / ic.max(1);
    assert!(ic > 0 && inp.len() == n * ic && out.len() == n * oc && resid.len() == n * oc);
    assert!(w.len() == ic * oc && bias.is_none_or(|b| b.len() == oc));
    let rows = super::par::rows_per_chunk(n);
    out.par_chunks_mut(oc * rows)
        .zip(resid.par_chunks(oc * rows))
        .for_each(|(o, r)| match bias {
            Some(bias) => add_bias_rows(o, r, bias),
            None => o.copy_from_slice(r),
        });
    // SAFETY: shapes asserted above; `out` is exclusively borrowed.
    unsafe {
        gemm_par(
            n,
            oc,
            ic,
            out.as_mut_ptr(),
            oc,
            true,
            Mat::new(inp.as_ptr(), ic, 1),
            Mat::new(w.as_ptr(), oc, 1),
            1.0,
        )
    };
}

multiversion! {
    fn add_bias_rows(out: &mut [f32], resid: &[f32], bias: &[f32]) {
        let oc = bias.len();
        for (o, r) in out.chunks_exact_mut(oc).zip(resid.chunks_exact(oc)) {
            for ((o, &r), &b) in o.iter_mut().zip(r).zip(bias) {
                *o = r + b;
            }
        }
    }
}

/// Backward of [`forward`]: dinp += dout · wᵀ, dw += inpᵀ · dout, dbias += Σ_rows dout.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    dinp: &mut [f32],
    dw: &mut [f32],
    dbias: Option<&mut [f32]>,
    dout: &[f32],
    inp: &[f32],
    w: &[f32],
    ic: usize,
    oc: usize,
) {
    backward_input(dinp, dout, w, ic, oc, true);
    backward_weight(dw, dbias, dout, inp, ic, oc);
}

/// dinp (N, IC) = [dinp +] dout (N, OC) · wᵀ; overwrites unless `accumulate` (the model
/// overwrites scratch buffers instead of zeroing them first).
pub(crate) fn backward_input(
    dinp: &mut [f32],
    dout: &[f32],
    w: &[f32],
    ic: usize,
    oc: usize,
    accumulate: bool,
) {
    let n = dout.len() / oc.max(1);
    assert!(oc > 0 && dout.len() == n * oc && dinp.len() == n * ic && w.len() == ic * oc);
    // forward: out[r, o] = Σ_i inp[r, i]·w[i, o]  ⇒  dinp[r, i] = Σ_o dout[r, o]·w[i, o].
    // SAFETY: shapes asserted; wᵀ as an operand is (k = o, n = i) ↦ w[i·OC + o].
    unsafe {
        gemm_par(
            n,
            ic,
            oc,
            dinp.as_mut_ptr(),
            ic,
            accumulate,
            Mat::new(dout.as_ptr(), oc, 1),
            Mat::new(w.as_ptr(), 1, oc),
            1.0,
        )
    };
}

/// dw (IC, OC) += inpᵀ · dout; dbias += Σ_rows dout.
pub(crate) fn backward_weight(
    dw: &mut [f32],
    dbias: Option<&mut [f32]>,
    dout: &[f32],
    inp: &[f32],
    ic: usize,
    oc: usize,
) {
    let n = dout.len() / oc.max(1);
    assert!(oc > 0 && dout.len() == n * oc && inp.len() == n * ic && dw.len() == ic * oc);
    // forward: out[r, o] = Σ_i inp[r, i]·w[i, o]  ⇒  dw[i, o] = Σ_r inp[r, i]·dout[r, o].
    // SAFETY: shapes asserted; inpᵀ as an operand is (m = i, k = r) ↦ inp[r·IC + i].
    unsafe {
        gemm_par(
            ic,
            oc,
            n,
            dw.as_mut_ptr(),
            oc,
            true,
            Mat::new(inp.as_ptr(), 1, ic),
            Mat::new(dout.as_ptr(), oc, 1),
            1.0,
        )
    };
    if let Some(db) = dbias {
        assert_eq!(db.len(), oc);
        colsum_add(db, dout);
    }
}

/// db[j] += Σ_rows m[r, j], columns split over threads; each column summed in row order.
pub(crate) fn colsum_add(db: &mut [f32], m: &[f32]) {
    let oc = db.len();
    let parts = threads().min(oc.div_ceil(64)).max(1);
    let width = split_aligned(oc, parts, 0, 8).len().max(1);
    db.par_chunks_mut(width)
        .enumerate()
        .for_each(|(i, d)| colsum_cols(d, m, oc, i * width));
}

multiversion! {
    fn colsum_cols(db: &mut [f32], m: &[f32], oc: usize, col0: usize) {
        let w = db.len();
        for row in m.chunks_exact(oc) {
            for (d, &v) in db.iter_mut().zip(&row[col0..col0 + w]) {
                *d += v;
            }
        }
    }
}

/// out (N, OC) = inp (N, IC) · wᵀ with w (OC, IC): the tied lm head (w = `wte`). Overwrites.
pub fn forward_nt(out: &mut [f32], inp: &[f32], w: &[f32], ic: usize, oc: usize) {
    let n = inp.len() / ic.max(1);
    assert!(ic > 0 && inp.len() == n * ic && out.len() == n * oc && w.len() == oc * ic);
    // SAFETY: shapes asserted; wᵀ as an operand is (k = i, n = o) ↦ w[o·IC + i].
    unsafe {
        gemm_par(
            n,
            oc,
            ic,
            out.as_mut_ptr(),
            oc,
            false,
            Mat::new(inp.as_ptr(), ic, 1),
            Mat::new(w.as_ptr(), 1, ic),
            1.0,
        )
    };
}

/// out = resid + inp · wᵀ with w (OC, IC) (`nn.Linear` layout; the residual add fused into the
/// projection). Overwrites `out`.
pub fn forward_nt_residual(
    out: &mut [f32],
    resid: &[f32],
    inp: &[f32],
    w: &[f32],
    ic: usize,
    oc: usize,
) {
    let n = inp.len() / ic.max(1);
    assert!(ic > 0 && inp.len() == n * ic && out.len() == n * oc && resid.len() == n * oc);
    assert_eq!(w.len(), oc * ic);
    let rows = super::par::rows_per_chunk(n);
    out.par_chunks_mut(oc * rows)
        .zip(resid.par_chunks(oc * rows))
        .for_each(|(o, r)| o.copy_from_slice(r));
    // SAFETY: shapes asserted; wᵀ as an operand is (k = i, n = o) ↦ w[o·IC + i].
    unsafe {
        gemm_par(
            n,
            oc,
            ic,
            out.as_mut_ptr(),
            oc,
            true,
            Mat::new(inp.as_ptr(), ic, 1),
            Mat::new(w.as_ptr(), 1, ic),
            1.0,
        )
    };
}

/// Backward of [`forward_nt`]: dinp = [dinp +] dout · w (overwrites unless `accumulate`),
/// dw += doutᵀ · inp.
///
/// `scratch` (IC·OC elements, overwritten) lets the weight gradient be computed transposed,
/// dwᵀ (IC, OC) = inpᵀ · dout, then added into dw: for the lm head (OC = V ≫ IC = C) `gemm`
/// runs ~25 % faster on that orientation (measured with `examples/gemm_probe.rs`). Without
/// scratch it computes dw directly.
#[allow(clippy::too_many_arguments)]
pub fn backward_nt(
    dinp: &mut [f32],
    dw: &mut [f32],
    scratch: Option<&mut [f32]>,
    dout: &[f32],
    inp: &[f32],
    w: &[f32],
    ic: usize,
    oc: usize,
    accumulate: bool,
) {
    let n = dout.len() / oc.max(1);
    assert!(oc > 0 && dout.len() == n * oc && dinp.len() == n * ic && inp.len() == n * ic);
    assert!(w.len() == oc * ic && dw.len() == oc * ic);
    // forward: out[r, o] = Σ_i inp[r, i]·w[o, i]  ⇒  dinp[r, i] = Σ_o dout[r, o]·w[o, i],
    // dw[o, i] = Σ_r dout[r, o]·inp[r, i].
    // SAFETY: shapes asserted.
    unsafe {
        gemm_par(
            n,
            ic,
            oc,
            dinp.as_mut_ptr(),
            ic,
            accumulate,
            Mat::new(dout.as_ptr(), oc, 1),
            Mat::new(w.as_ptr(), ic, 1),
            1.0,
        );
    }
    match scratch {
        Some(s) => {
            assert_eq!(s.len(), oc * ic, "scratch shape");
            // SAFETY: shapes asserted; inpᵀ as an operand is (m = i, k = r) ↦ inp[r·IC + i].
            unsafe {
                gemm_par(
                    ic,
                    oc,
                    n,
                    s.as_mut_ptr(),
                    oc,
                    false,
                    Mat::new(inp.as_ptr(), 1, ic),
                    Mat::new(dout.as_ptr(), oc, 1),
                    1.0,
                );
            }
            transpose_add(dw, s, ic, oc);
        }
        // SAFETY: shapes asserted; doutᵀ as an operand is (m = o, k = r) ↦ dout[r·OC + o].
        None => unsafe {
            gemm_par(
                oc,
                ic,
                n,
                dw.as_mut_ptr(),
                ic,
                true,
                Mat::new(dout.as_ptr(), 1, oc),
                Mat::new(inp.as_ptr(), ic, 1),
                1.0,
            );
        },
    }
}

/// dst (cols, rows) += srcᵀ with src (rows, cols), in 32×32 blocks; dst rows split over threads.
pub(crate) fn transpose_add(dst: &mut [f32], src: &[f32], rows: usize, cols: usize) {
    const BLK: usize = 32;
    assert!(dst.len() == rows * cols && src.len() == rows * cols);
    let parts = threads().min(cols.div_ceil(BLK)).max(1);
    let per = split_aligned(cols, parts, 0, BLK).len().max(1);
    dst.par_chunks_mut(per * rows)
        .enumerate()
        .for_each(|(p, d)| {
            let c0 = p * per;
            let nc = d.len() / rows;
            for cb in (0..nc).step_by(BLK) {
                let ce = (cb + BLK).min(nc);
                for rb in (0..rows).step_by(BLK) {
                    let re = (rb + BLK).min(rows);
                    for c in cb..ce {
                        let drow = &mut d[c * rows + rb..c * rows + re];
                        for (r, dv) in (rb..re).zip(drow.iter_mut()) {
                            *dv += src[r * cols + c0 + c];
                        }
                    }
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference as r;
    use crate::kernels::testing::{assert_close, fd_grad, rand_vec, to_f64};

    const N: usize = 7;
    const IC: usize = 13;
    const OC: usize = 21;

    fn transpose(w: &[f64], rows: usize, cols: usize) -> Vec<f64> {
        let mut t = vec![0.0; w.len()];
        for i in 0..rows {
            for j in 0..cols {
                t[j * rows + i] = w[i * cols + j];
            }
        }
        t
    }

    #[test]
    fn matmul_forward_matches_naive_f64() {
        let (x, w, b) = (
            rand_vec(N * IC, 1, 1.0),
            rand_vec(IC * OC, 2, 1.0),
            rand_vec(OC, 3, 1.0),
        );
        let mut out = vec![f32::NAN; N * OC];
        forward(&mut out, &x, &w, Some(&b), IC, OC);
        let want = r::matmul_forward(&to_f64(&x), &to_f64(&w), Some(&to_f64(&b)), IC, OC);
        // Sums of IC = 13 products of O(1) terms in f32: error ~1e-6.
        assert_close("matmul.out", &out, &want, 1e-5, 1e-5);
        forward(&mut out, &x, &w, None, IC, OC);
        let want = r::matmul_forward(&to_f64(&x), &to_f64(&w), None, IC, OC);
        assert_close("matmul.out_nobias", &out, &want, 1e-5, 1e-5);
        // Fused residual = residual kernel after matmul.
        let res = rand_vec(N * OC, 4, 1.0);
        forward_residual(&mut out, &res, &x, &w, Some(&b), IC, OC);
        let want = r::residual_forward(
            &to_f64(&res),
            &r::matmul_forward(&to_f64(&x), &to_f64(&w), Some(&to_f64(&b)), IC, OC),
        );
        assert_close("matmul.out_residual", &out, &want, 1e-5, 1e-5);
        // Tied head: inp · wᵀ.
        let wt = rand_vec(OC * IC, 5, 1.0);
        forward_nt(&mut out, &x, &wt, IC, OC);
        let want = r::matmul_forward(&to_f64(&x), &transpose(&to_f64(&wt), OC, IC), None, IC, OC);
        assert_close("matmul.out_nt", &out, &want, 1e-5, 1e-5);
    }

    #[test]
    fn matmul_large_parallel_matches_naive_f64() {
        // Big enough to take the parallel path in both split directions.
        for (n, ic, oc) in [(130, 70, 40), (40, 70, 130)] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .unwrap();
            let (x, w, b) = (
                rand_vec(n * ic, 1, 1.0),
                rand_vec(ic * oc, 2, 1.0),
                rand_vec(oc, 3, 1.0),
            );
            let mut out = vec![0.0; n * oc];
            pool.install(|| forward(&mut out, &x, &w, Some(&b), ic, oc));
            let want = r::matmul_forward(&to_f64(&x), &to_f64(&w), Some(&to_f64(&b)), ic, oc);
            assert_close("matmul.out_par", &out, &want, 1e-4, 1e-5);
        }
    }

    #[test]
    fn matmul_backward_matches_finite_differences() {
        let (x, w, b) = (
            rand_vec(N * IC, 1, 1.0),
            rand_vec(IC * OC, 2, 1.0),
            rand_vec(OC, 3, 1.0),
        );
        let dout = rand_vec(N * OC, 4, 1.0);
        let (mut dx, mut dw, mut db) = (vec![0.5; N * IC], vec![-0.5; IC * OC], vec![0.25; OC]);
        backward(&mut dx, &mut dw, Some(&mut db), &dout, &x, &w, IC, OC);
        // f = Σ dout ⊙ out in f64; f is linear in each argument, so central differences are
        // exact up to f64 rounding (~1e-10 here). Tolerances reflect the f32 kernel's sums.
        let (xd, wd, bd, dd) = (to_f64(&x), to_f64(&w), to_f64(&b), to_f64(&dout));
        let f = |o: Vec<f64>| o.iter().zip(&dd).map(|(a, b)| a * b).sum::<f64>();
        let add = |g: Vec<f64>, s: f64| g.into_iter().map(|v| v + s).collect::<Vec<_>>();
        let gx = fd_grad(&xd, 1e-6, |x| {
            f(r::matmul_forward(x, &wd, Some(&bd), IC, OC))
        });
        let gw = fd_grad(&wd, 1e-6, |w| {
            f(r::matmul_forward(&xd, w, Some(&bd), IC, OC))
        });
        let gb = fd_grad(&bd, 1e-6, |b| {
            f(r::matmul_forward(&xd, &wd, Some(b), IC, OC))
        });
        // The initial 0.5 / -0.5 / 0.25 checks accumulation.
        assert_close("matmul.dinp", &dx, &add(gx, 0.5), 1e-5, 1e-5);
        assert_close("matmul.dw", &dw, &add(gw, -0.5), 1e-5, 1e-5);
        assert_close("matmul.dbias", &db, &add(gb, 0.25), 1e-5, 1e-5);
    }

    #[test]
    fn matmul_nt_backward_matches_finite_differences() {
        let (x, w) = (rand_vec(N * IC, 1, 1.0), rand_vec(OC * IC, 2, 1.0));
        let dout = rand_vec(N * OC, 4, 1.0);
        let (mut dx, mut dw) = (vec![0.5; N * IC], vec![-0.5; OC * IC]);
        backward_nt(&mut dx, &mut dw, None, &dout, &x, &w, IC, OC, true);
        let (mut dx2, mut dw2) = (vec![0.5; N * IC], vec![-0.5; OC * IC]);
        let mut scratch = vec![f32::NAN; OC * IC];
        backward_nt(
            &mut dx2,
            &mut dw2,
            Some(&mut scratch),
            &dout,
            &x,
            &w,
            IC,
            OC,
            true,
        );
        let (xd, wd, dd) = (to_f64(&x), to_f64(&w), to_f64(&dout));
        let f = |o: Vec<f64>| o.iter().zip(&dd).map(|(a, b)| a * b).sum::<f64>();
        let add = |g: Vec<f64>, s: f64| g.into_iter().map(|v| v + s).collect::<Vec<_>>();
        let gx = fd_grad(&xd, 1e-6, |x| {
            f(r::matmul_forward(x, &transpose(&wd, OC, IC), None, IC, OC))
        });
        let gw = fd_grad(&wd, 1e-6, |w| {
            f(r::matmul_forward(&xd, &transpose(w, OC, IC), None, IC, OC))
        });
        assert_close("matmul_nt.dinp", &dx, &add(gx, 0.5), 1e-5, 1e-5);
        let gw = add(gw, -0.5);
        assert_close("matmul_nt.dw", &dw, &gw, 1e-5, 1e-5);
        assert_close("matmul_nt.dinp_scratch", &dx2, &to_f64(&dx), 0.0, 0.0);
        assert_close("matmul_nt.dw_scratch", &dw2, &gw, 1e-5, 1e-5);
    }
}
