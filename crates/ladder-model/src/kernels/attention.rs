//! Causal multi-head self-attention. Shapes: qkv (B·T, 3C) laid out q | k | v with head h at
//! channels h·HS..(h+1)·HS of each part; y (B·T, C); att, datt (B, NH, T, T).
//! Matches HF `GPT2Attention` (scale 1/sqrt(HS), causal mask). Ref: Vaswani et al. 2017.
//!
//! Each (b, h) pair is one task. Queries are processed in row tiles of `TILE`: a tile only needs
//! the keys up to its last row, so the products cover the lower triangle plus half a tile per
//! diagonal block (~56 % of the full square at T = 256) and run as small `gemm` calls.

use rayon::prelude::*;

use super::gemm::{gemm_st, Mat};
use super::par::SendPtr;
use super::simd::{exp, max, multiversion};

/// Query rows per tile.
const TILE: usize = 32;

fn dims(qkv_len: usize, att_len: usize, b: usize, t: usize, c: usize, nh: usize) -> usize {
    assert!(
        b > 0 && t > 0 && nh > 0 && c.is_multiple_of(nh),
        "attention dims"
    );
    assert_eq!(qkv_len, b * t * 3 * c, "qkv shape");
    assert_eq!(att_len, b * nh * t * t, "att shape");
    c / nh
}

/// y = softmax(q·kᵀ/sqrt(HS) + causal mask)·v per head. Overwrites `y` and `att` (the
/// probabilities, zero above the diagonal: `backward` needs them).
pub fn forward(
    y: &mut [f32],
    att: &mut [f32],
    qkv: &[f32],
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    forward_impl(y, att, qkv, b, t, c, nh, 0);
}

/// As [`forward`], but row i sees keys `0..=i + lookahead`. `lookahead > 0` is a deliberately
/// broken mask (a planted "causal leak" for testing diagnosis); 0 is the real model.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_impl(
    y: &mut [f32],
    att: &mut [f32],
    qkv: &[f32],
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
    lookahead: usize,
) {
    let hs = dims(qkv.len(), att.len(), b, t, c, nh);
    assert_eq!(y.len(), b * t * c, "y shape");
    let scale = 1.0 / (hs as f32).sqrt();
    let yp = SendPtr(y.as_mut_ptr());
    att.par_chunks_mut(t * t).enumerate().for_each(|(bh, att)| {
        let (bi, h) = (bh / nh, bh % nh);
        let base = bi * t * 3 * c + h * hs;
        let q = Mat::new(qkv[base..].as_ptr(), 3 * c, 1);
        let kt = Mat::new(qkv[base + c..].as_ptr(), 1, 3 * c); // kᵀ: (HS, T)
        let v = Mat::new(qkv[base + 2 * c..].as_ptr(), 3 * c, 1);
        for r0 in (0..t).step_by(TILE) {
            let r1 = (r0 + TILE).min(t);
            // Keys 0..nk are visible to rows r0..r1. With a lookahead the dk/dv pass of `backward`
            // reads whole rows, so they are written (zeros past the mask) up to `fill`.
            let nk = (r1 + lookahead).min(t);
            let fill = if lookahead == 0 { nk } else { t };
            let tile = &mut att[r0 * t..];
            // SAFETY: q rows r0..r1, k rows 0..nk lie inside qkv; the att tile (r1−r0)×nk with
            // row stride T lies inside this (b, h) slice.
            unsafe {
                let qt = Mat::new(q.ptr.0.add(r0 * 3 * c), 3 * c, 1);
                gemm_st(r1 - r0, nk, hs, tile.as_mut_ptr(), t, false, qt, kt, scale);
            }
            for (i, row) in tile.chunks_mut(t).take(r1 - r0).enumerate() {
                softmax_causal_row(&mut row[..fill], (r0 + i + 1 + lookahead).min(t));
            }
            // SAFETY: y rows (bi, r0..r1), columns h·HS..(h+1)·HS belong to this task only.
            unsafe {
                let dst = yp.get().add((bi * t + r0) * c + h * hs);
                gemm_st(
                    r1 - r0,
                    hs,
                    nk,
                    dst,
                    c,
                    false,
                    Mat::new(tile.as_ptr(), t, 1),
                    v,
                    1.0,
                );
            }
        }
    });
}

multiversion! {
    /// Softmax over row[..valid] in place; row[valid..] = 0 (the causal mask).
    fn softmax_causal_row(row: &mut [f32], valid: usize) {
        let (live, masked) = row.split_at_mut(valid);
        let m = max(live);
        let mut acc = [0.0f32; 8];
        let mut it = live.chunks_exact_mut(8);
        for ch in &mut it {
            for j in 0..8 {
                ch[j] = exp(ch[j] - m);
                acc[j] += ch[j];
            }
        }
        for (j, v) in it.into_remainder().iter_mut().enumerate() {
            *v = exp(*v - m);
            acc[j] += *v;
        }
        let inv = 1.0 / super::simd::hsum(acc);
        for v in live.iter_mut() {
            *v *= inv;
        }
        masked.fill(0.0);
    }
}

/// Adds (`+=`) into `dqkv`; `datt` is scratch (overwritten with the score gradients).
#[allow(clippy::too_many_arguments)]
pub fn backward(
    dqkv: &mut [f32],
    datt: &mut [f32],
    dy: &[f32],
    qkv: &[f32],
    att: &[f32],
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
) {
    backward_impl(dqkv, datt, dy, qkv, att, b, t, c, nh, true, 0);
}

/// As [`backward`], but overwrites `dqkv` when `accumulate` is false (each element of dqkv is
/// produced by exactly one product, so the model skips zeroing its scratch buffer), and with the
/// mask of [`forward_impl`]'s `lookahead`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_impl(
    dqkv: &mut [f32],
    datt: &mut [f32],
    dy: &[f32],
    qkv: &[f32],
    att: &[f32],
    b: usize,
    t: usize,
    c: usize,
    nh: usize,
    accumulate: bool,
    lookahead: usize,
) {
    let hs = dims(qkv.len(), att.len(), b, t, c, nh);
    assert!(
        dqkv.len() == qkv.len() && datt.len() == att.len() && dy.len() == b * t * c,
        "attention grads"
    );
    let scale = 1.0 / (hs as f32).sqrt();
    let dp = SendPtr(dqkv.as_mut_ptr());
    datt.par_chunks_mut(t * t)
        .zip(att.par_chunks(t * t))
        .enumerate()
        .for_each(|(bh, (datt, att))| {
            let (bi, h) = (bh / nh, bh % nh);
            let base = bi * t * 3 * c + h * hs;
            let q = Mat::new(qkv[base..].as_ptr(), 3 * c, 1);
            let k = Mat::new(qkv[base + c..].as_ptr(), 3 * c, 1);
            let vt = Mat::new(qkv[base + 2 * c..].as_ptr(), 1, 3 * c); // vᵀ: (HS, T)
            let dyb = &dy[bi * t * c + h * hs..];
            for r0 in (0..t).step_by(TILE) {
                let r1 = (r0 + TILE).min(t);
                let nk = (r1 + lookahead).min(t);
                let fill = if lookahead == 0 { nk } else { t };
                // forward: y = P·v  ⇒  dP = dy·vᵀ.
                // SAFETY: dy rows r0..r1 (stride C) and v rows 0..nk lie in their buffers; the datt
                // tile lies in this (b, h) slice.
                unsafe {
                    let dyt = Mat::new(dyb.as_ptr().add(r0 * c), c, 1);
                    gemm_st(
                        r1 - r0,
                        nk,
                        hs,
                        datt[r0 * t..].as_mut_ptr(),
                        t,
                        false,
                        dyt,
                        vt,
                        1.0,
                    );
                }
                // forward: P = softmax(S)  ⇒  dS = P ⊙ (dP − Σ_j P·dP), zero above the diagonal.
                for (i, (drow, prow)) in datt[r0 * t..]
                    .chunks_mut(t)
                    .zip(att[r0 * t..].chunks(t))
                    .take(r1 - r0)
                    .enumerate()
                {
                    let valid = (r0 + i + 1 + lookahead).min(t);
                    softmax_backward_row(&mut drow[..fill], &prow[..fill], valid);
                }
                // forward: S = scale·q·kᵀ  ⇒  dq = scale·dS·k.
                // SAFETY: dq rows (bi, r0..r1), columns of head h, belong to this task only.
                unsafe {
                    let dst = dp.get().add(base + r0 * 3 * c);
                    gemm_st(
                        r1 - r0,
                        hs,
                        nk,
                        dst,
                        3 * c,
                        accumulate,
                        Mat::new(datt[r0 * t..].as_ptr(), t, 1),
                        k,
                        scale,
                    );
                }
            }
            // dk = scale·dSᵀ·q and dv = Pᵀ·dy, per key tile j0..j1 over the query rows s0..T that
            // see it (s0 = j0 with the causal mask).
            for j0 in (0..t).step_by(TILE) {
                let j1 = (j0 + TILE).min(t);
                let s0 = j0.saturating_sub(lookahead);
                // SAFETY: dSᵀ / Pᵀ tiles read rows s0..T, columns j0..j1 of this (b, h) slice (all
                // written above, zero past the mask); dk/dv rows (bi, j0..j1) of head h belong to
                // this task only.
                unsafe {
                    let dst_k = dp.get().add(base + c + j0 * 3 * c);
                    let ds_t = Mat::new(datt[s0 * t + j0..].as_ptr(), 1, t);
                    gemm_st(
                        j1 - j0,
                        hs,
                        t - s0,
                        dst_k,
                        3 * c,
                        accumulate,
                        ds_t,
                        Mat::new(q.ptr.0.add(s0 * 3 * c), 3 * c, 1),
                        scale,
                    );
                    let dst_v = dp.get().add(base + 2 * c + j0 * 3 * c);
                    let p_t = Mat::new(att[s0 * t + j0..].as_ptr(), 1, t);
                    gemm_st(
                        j1 - j0,
                        hs,
                        t - s0,
                        dst_v,
                        3 * c,
                        accumulate,
                        p_t,
                        Mat::new(dyb.as_ptr().add(s0 * c), c, 1),
                        1.0,
                    );
                }
            }
        });
}

multiversion! {
    /// drow[..valid] = p ⊙ (dp − Σ p·dp) in place (drow holds dp on entry); drow[valid..] = 0.
    fn softmax_backward_row(drow: &mut [f32], prow: &[f32], valid: usize) {
        let (live, masked) = drow.split_at_mut(valid);
        let p = &prow[..valid];
        let s = super::simd::dot(live, p);
        for (d, &pv) in live.iter_mut().zip(p) {
            *d = pv * (*d - s);
        }
        masked.fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference as r;
    use crate::kernels::testing::{assert_close, fd_grad, rand_vec, to_f64};

    // T = 37 is not a multiple of TILE: the last tile is partial.
    const B: usize = 2;
    const T: usize = 37;
    const C: usize = 12;
    const NH: usize = 3;

    #[test]
    fn attention_forward_matches_naive_f64() {
        let qkv = rand_vec(B * T * 3 * C, 1, 1.5);
        let (mut y, mut att) = (vec![f32::NAN; B * T * C], vec![0.0; B * NH * T * T]);
        forward(&mut y, &mut att, &qkv, B, T, C, NH);
        let want = r::attention_forward(&to_f64(&qkv), B, T, C, NH);
        // Softmax over ≤ 37 keys and sums of HS = 4 products: f32 error ~1e-6.
        assert_close("attention.y", &y, &want, 2e-6, 1e-5);
        // Rows of probabilities sum to one and are zero above the diagonal.
        for row in 0..T {
            let p = &att[row * T..(row + 1) * T];
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            assert!(p[row + 1..].iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn attention_backward_matches_finite_differences() {
        let qkv = rand_vec(B * T * 3 * C, 1, 1.5);
        let dy = rand_vec(B * T * C, 2, 1.0);
        let (mut y, mut att) = (vec![0.0; B * T * C], vec![0.0; B * NH * T * T]);
        forward(&mut y, &mut att, &qkv, B, T, C, NH);
        let mut dqkv = vec![0.5; qkv.len()];
        let mut datt = vec![f32::NAN; att.len()];
        backward(&mut dqkv, &mut datt, &dy, &qkv, &att, B, T, C, NH);
        // f = Σ dy ⊙ y in f64, central differences h = 1e-6 (truncation ~h²·f''' ≈ 1e-12,
        // rounding ~1e-10): the tolerance covers the f32 kernel (sums over ≤ 37 keys).
        let dyd = to_f64(&dy);
        let g = fd_grad(&to_f64(&qkv), 1e-6, |x| {
            r::attention_forward(x, B, T, C, NH)
                .iter()
                .zip(&dyd)
                .map(|(a, b)| a * b)
                .sum::<f64>()
        });
        let want: Vec<f64> = g.iter().map(|v| v + 0.5).collect(); // + initial value: accumulation
        assert_close("attention.dqkv", &dqkv, &want, 2e-5, 1e-4);
    }

    /// The planted causal leak: forward against the f64 reference with the same lookahead, and
    /// its backward against finite differences (so training with the bug is self-consistent and
    /// the leak, not a broken gradient, is what diagnosis sees).
    #[test]
    fn attention_with_lookahead_matches_reference_and_finite_differences() {
        for la in [1, 2] {
            let qkv = rand_vec(B * T * 3 * C, 3, 1.5);
            let dy = rand_vec(B * T * C, 4, 1.0);
            let (mut y, mut att) = (vec![f32::NAN; B * T * C], vec![f32::NAN; B * NH * T * T]);
            forward_impl(&mut y, &mut att, &qkv, B, T, C, NH, la);
            let reference = |x: &[f64]| r::attention_forward_lookahead(x, B, T, C, NH, la);
            assert_close(
                "leaky attention.y",
                &y,
                &reference(&to_f64(&qkv)),
                2e-6,
                1e-5,
            );
            let mut dqkv = vec![0.0; qkv.len()];
            let mut datt = vec![f32::NAN; att.len()];
            backward_impl(&mut dqkv, &mut datt, &dy, &qkv, &att, B, T, C, NH, true, la);
            let dyd = to_f64(&dy);
            let want = fd_grad(&to_f64(&qkv), 1e-6, |x| {
                reference(x)
                    .iter()
                    .zip(&dyd)
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
            });
            assert_close("leaky attention.dqkv", &dqkv, &want, 2e-5, 1e-4);
        }
    }

    #[test]
    fn attention_backward_overwrite_writes_every_element() {
        let qkv = rand_vec(B * T * 3 * C, 1, 1.5);
        let dy = rand_vec(B * T * C, 2, 1.0);
        let (mut y, mut att) = (vec![0.0; B * T * C], vec![0.0; B * NH * T * T]);
        forward(&mut y, &mut att, &qkv, B, T, C, NH);
        let mut datt = vec![0.0; att.len()];
        let mut want = vec![0.0; qkv.len()];
        backward(&mut want, &mut datt, &dy, &qkv, &att, B, T, C, NH);
        let mut got = vec![f32::NAN; qkv.len()];
        backward_impl(&mut got, &mut datt, &dy, &qkv, &att, B, T, C, NH, false, 0);
        assert!(got
            .iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
