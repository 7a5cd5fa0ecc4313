//! Softmax + cross-entropy over the vocabulary, fused. Shapes: logits, dlogits (N, Vp);
//! targets, losses (N); only the first V of Vp columns are real: padded columns get no
//! probability mass and zero gradient.
//! Matches `torch.nn.functional.cross_entropy` (per-row losses; the mean is the caller's).

use rayon::prelude::*;

use super::par::rows_per_chunk;
use super::simd::{exp, max, multiversion};

fn check(logits: usize, losses: usize, targets: &[u32], v: usize, vp: usize) {
    assert!(
        v > 0 && v <= vp && logits == losses * vp && targets.len() == losses,
        "crossentropy shapes"
    );
    // Token ids are validated by the caller (Workspace); a bad one here is a bug.
    assert!(
        targets.iter().all(|&y| (y as usize) < v),
        "target out of range"
    );
}

/// losses[r] = logsumexp(logits[r, ..V]) − logits[r, targets[r]]. Overwrites `losses`.
pub fn forward(losses: &mut [f32], logits: &[f32], targets: &[u32], v: usize) {
    let n = losses.len();
    let vp = logits.len() / n.max(1);
    check(logits.len(), n, targets, v, vp);
    let rows = rows_per_chunk(n);
    losses
        .par_chunks_mut(rows)
        .zip(logits.par_chunks(rows * vp))
        .zip(targets.par_chunks(rows))
        .for_each(|((l, x), y)| {
            for ((l, row), &y) in l.iter_mut().zip(x.chunks_exact(vp)).zip(y) {
                *l = row_loss(&row[..v], y as usize);
            }
        });
}

multiversion! {
    fn row_loss(row: &[f32], y: usize) -> f32 {
        let m = max(row);
        let mut acc = [0.0f32; 8];
        let mut it = row.chunks_exact(8);
        for ch in &mut it {
            for j in 0..8 {
                acc[j] += exp(ch[j] - m);
            }
        }
        for (j, &v) in it.remainder().iter().enumerate() {
            acc[j] += exp(v - m);
        }
        m + super::simd::hsum(acc).ln() - row[y]
    }
}

/// Forward as [`forward`], and dlogits = dloss·(softmax(logits) − onehot(target)) for the real
/// columns, 0 for the padded ones. Overwrites `dlogits` (its only producer, so no `+=`) and
/// `losses`. `dloss` is d(objective)/d(loss of one row), e.g. 1/N for a mean.
pub fn forward_backward(
    dlogits: &mut [f32],
    losses: &mut [f32],
    logits: &[f32],
    targets: &[u32],
    v: usize,
    dloss: f32,
) {
    let n = losses.len();
    let vp = logits.len() / n.max(1);
    check(logits.len(), n, targets, v, vp);
    assert_eq!(dlogits.len(), logits.len());
    let rows = rows_per_chunk(n);
    dlogits
        .par_chunks_mut(rows * vp)
        .zip(losses.par_chunks_mut(rows))
        .zip(logits.par_chunks(rows * vp))
        .zip(targets.par_chunks(rows))
        .for_each(|(((d, l), x), y)| {
            for (((drow, l), row), &y) in d
                .chunks_exact_mut(vp)
                .zip(l.iter_mut())
                .zip(x.chunks_exact(vp))
                .zip(y)
            {
                *l = row_forward_backward(drow, row, v, y as usize, dloss);
            }
        });
}

multiversion! {
    fn row_forward_backward(drow: &mut [f32], row: &[f32], v: usize, y: usize, dloss: f32) -> f32 {
        let (dlive, dpad) = drow.split_at_mut(v);
        let live = &row[..v];
        let m = max(live);
        let mut acc = [0.0f32; 8];
        let mut di = dlive.chunks_exact_mut(8);
        let mut xi = live.chunks_exact(8);
        for (d, x) in (&mut di).zip(&mut xi) {
            for j in 0..8 {
                d[j] = exp(x[j] - m);
                acc[j] += d[j];
            }
        }
        for (j, (d, &x)) in di.into_remainder().iter_mut().zip(xi.remainder()).enumerate() {
            *d = exp(x - m);
            acc[j] += *d;
        }
        let s = super::simd::hsum(acc);
        // loss = log Σ exp(x) − x_y  ⇒  dloss/dx_j = softmax_j − [j = y].
        let scale = dloss / s;
        for d in dlive.iter_mut() {
            *d *= scale;
        }
        dlive[y] -= dloss;
        dpad.fill(0.0);
        m + s.ln() - live[y]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::reference as r;
    use crate::kernels::testing::{assert_close, fd_grad, rand_vec, to_f64};

    const N: usize = 5;
    const V: usize = 37;
    const VP: usize = 64;

    fn inputs() -> (Vec<f32>, Vec<u32>) {
        let mut logits = rand_vec(N * VP, 1, 4.0);
        logits[3] = 30.0; // a large logit: the max-subtraction matters
        (logits, vec![0, 36, 5, 17, 3])
    }

    #[test]
    fn crossentropy_forward_matches_naive_f64() {
        let (logits, y) = inputs();
        let want = r::crossentropy_forward(&to_f64(&logits), &y, V, VP);
        let mut l = vec![f32::NAN; N];
        forward(&mut l, &logits, &y, V);
        assert_close("ce.losses", &l, &want, 2e-6, 1e-6);
        let mut d = vec![f32::NAN; N * VP];
        forward_backward(&mut d, &mut l, &logits, &y, V, 1.0);
        assert_close("ce.losses_fb", &l, &want, 2e-6, 1e-6);
    }

    #[test]
    fn crossentropy_backward_matches_finite_differences() {
        let (logits, y) = inputs();
        let mut l = vec![0.0; N];
        let mut d = vec![f32::NAN; N * VP];
        forward_backward(&mut d, &mut l, &logits, &y, V, 0.3);
        // f = 0.3·Σ losses in f64; h = 1e-6 central differences (error ~1e-10). Padded
        // columns do not enter the loss, so their FD gradient is exactly zero.
        let g = fd_grad(&to_f64(&logits), 1e-6, |x| {
            0.3 * r::crossentropy_forward(x, &y, V, VP).iter().sum::<f64>()
        });
        assert_close("ce.dlogits", &d, &g, 1e-6, 1e-5);
        for row in d.chunks(VP) {
            assert!(
                row[V..].iter().all(|&v| v == 0.0),
                "padded columns get zero gradient"
            );
        }
    }
}
