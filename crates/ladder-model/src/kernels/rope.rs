//! Rotary position embeddings on packed q|k|v rows, in place. Shapes: qkv (N, 3C) with row r at
//! position `pos0 + r % T`; cos, sin (positions, HS/2).
//! Matches Hugging Face Llama (`rotate_half` convention): within each head the pair
//! (x[j], x[j + HS/2]) is rotated by angle pos·θ^(−2j/HS):
//! `q·cos + rotate_half(q)·sin` with `rotate_half(x) = cat(−x[HS/2..], x[..HS/2])`.
//! Values (v) are not rotated. Ref: Su et al. 2021.

use rayon::prelude::*;

use super::par::rows_per_chunk;

/// The cos and sin tables (`positions` rows of HS/2) for base `theta`, computed as Hugging
/// Face's `LlamaRotaryEmbedding` does in float32: inv_freq = 1 / θ^(2j/HS) and angle =
/// pos·inv_freq rounded to f32, then cos and sin of that angle.
pub fn table(theta: f64, hs: usize, positions: usize) -> (Vec<f32>, Vec<f32>) {
    assert!(
        hs.is_multiple_of(2),
        "rotary embeddings need an even head size"
    );
    let half = hs / 2;
    let inv: Vec<f32> = (0..half)
        .map(|j| {
            let e = (2 * j) as f32 / hs as f32;
            1.0 / (theta.powf(e as f64) as f32)
        })
        .collect();
    let mut cos = Vec::with_capacity(positions * half);
    let mut sin = Vec::with_capacity(positions * half);
    for p in 0..positions {
        for &f in &inv {
            let a = (p as f32 * f) as f64;
            cos.push(a.cos() as f32);
            sin.push(a.sin() as f32);
        }
    }
    (cos, sin)
}

/// Rotates the q and k parts of every row of `qkv` (N, 3C) in place by its position.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    qkv: &mut [f32],
    cos: &[f32],
    sin: &[f32],
    t: usize,
    c: usize,
    nh: usize,
    pos0: usize,
) {
    apply(qkv, cos, sin, t, c, nh, pos0, false)
}

/// Backward of [`forward`], in place on dqkv (N, 3C): the rotation is orthogonal, so the
/// gradient is rotated back by the same angle (the v part passes through unchanged).
#[allow(clippy::too_many_arguments)]
pub fn backward(
    dqkv: &mut [f32],
    cos: &[f32],
    sin: &[f32],
    t: usize,
    c: usize,
    nh: usize,
    pos0: usize,
) {
    apply(dqkv, cos, sin, t, c, nh, pos0, true)
}

#[allow(clippy::too_many_arguments)]
fn apply(
    qkv: &mut [f32],
    cos: &[f32],
    sin: &[f32],
    t: usize,
    c: usize,
    nh: usize,
    pos0: usize,
    inverse: bool,
) {
    let n = qkv.len() / (3 * c).max(1);
    assert!(c > 0 && nh > 0 && c.is_multiple_of(nh) && qkv.len() == n * 3 * c && t > 0);
    let hs = c / nh;
    let half = hs / 2;
    assert!(hs.is_multiple_of(2) && cos.len() == sin.len());
    assert!(
        cos.len() >= (pos0 + t.min(n)) * half,
        "rotary table too short"
    );
    let rows = rows_per_chunk(n);
    qkv.par_chunks_mut(rows * 3 * c)
        .enumerate()
        .for_each(|(i, chunk)| {
            for (k, row) in chunk.chunks_exact_mut(3 * c).enumerate() {
                let pos = pos0 + (i * rows + k) % t;
                let (cs, sn) = (
                    &cos[pos * half..(pos + 1) * half],
                    &sin[pos * half..(pos + 1) * half],
                );
                for head in row[..2 * c].chunks_exact_mut(hs) {
                    let (a, b) = head.split_at_mut(half);
                    rotate(a, b, cs, sn, inverse);
                }
            }
        });
}

/// (a, b) ← (a·cos − b·sin, b·cos + a·sin), or the inverse rotation.
#[inline(always)]
fn rotate(a: &mut [f32], b: &mut [f32], cos: &[f32], sin: &[f32], inverse: bool) {
    for (((x, y), &c), &s) in a.iter_mut().zip(b.iter_mut()).zip(cos).zip(sin) {
        let (x0, y0) = (*x, *y);
        if inverse {
            *x = x0 * c + y0 * s;
            *y = y0 * c - x0 * s;
        } else {
            *x = x0 * c - y0 * s;
            *y = y0 * c + x0 * s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference as r;
    use crate::kernels::testing::{assert_close, fd_grad, rand_vec, to_f64};

    const B: usize = 2;
    const T: usize = 5;
    const C: usize = 12;
    const NH: usize = 2;
    const THETA: f64 = 10000.0;

    #[test]
    fn rope_forward_matches_naive_f64() {
        let x = rand_vec(B * T * 3 * C, 1, 2.0);
        let (cos, sin) = table(THETA, C / NH, T);
        let mut y = x.clone();
        forward(&mut y, &cos, &sin, T, C, NH, 0);
        let want = r::rope_forward(&to_f64(&x), T, C, NH, THETA, 0);
        assert_close("rope.y", &y, &want, 1e-6, 1e-6);
        // Decoding rotates one row at its cached position: the same numbers.
        let (cos, sin) = table(THETA, C / NH, 16);
        let mut row = x[3 * 3 * C..4 * 3 * C].to_vec();
        forward(&mut row, &cos, &sin, 1, C, NH, 3);
        assert_eq!(row, y[3 * 3 * C..4 * 3 * C]);
    }

    #[test]
    fn rope_backward_matches_finite_differences() {
        let x = rand_vec(B * T * 3 * C, 1, 2.0);
        let dy = rand_vec(B * T * 3 * C, 2, 1.0);
        let (cos, sin) = table(THETA, C / NH, T);
        let mut dx = dy.clone();
        backward(&mut dx, &cos, &sin, T, C, NH, 0);
        let dyd = to_f64(&dy);
        let want = fd_grad(&to_f64(&x), 1e-6, |x| {
            r::rope_forward(x, T, C, NH, THETA, 0)
                .iter()
                .zip(&dyd)
                .map(|(a, b)| a * b)
                .sum()
        });
        assert_close("rope.dx", &dx, &want, 1e-5, 1e-4);
    }
}
