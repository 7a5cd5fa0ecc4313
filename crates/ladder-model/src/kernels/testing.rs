//! Test helpers: tolerance checks that fail for real (panic), naming the tensor.

/// Panics unless `|got[i] - want[i]| <= atol + rtol·|want[i]|` for every `i` (and lengths match).
/// The message names the tensor, the first bad index with both values, and the max abs/rel error.
#[track_caller]
pub fn assert_close(name: &str, got: &[f32], want: &[f64], atol: f64, rtol: f64) {
    assert_eq!(
        got.len(),
        want.len(),
        "{name}: length {} != expected {}",
        got.len(),
        want.len()
    );
    let mut first_bad = None;
    let (mut max_abs, mut max_rel) = (0.0f64, 0.0f64);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let g = g as f64;
        let err = (g - w).abs();
        let ok = err <= atol + rtol * w.abs();
        if !(ok && g.is_finite() == w.is_finite()) && first_bad.is_none() {
            first_bad = Some((i, g, w));
        }
        if err.is_finite() {
            max_abs = max_abs.max(err);
            if w != 0.0 {
                max_rel = max_rel.max(err / w.abs());
            }
        } else {
            max_abs = f64::INFINITY;
        }
    }
    if let Some((i, g, w)) = first_bad {
        panic!(
            "{name}: mismatch at index {i}: got {g:e}, want {w:e} (atol {atol:e}, rtol {rtol:e}); \
             max abs err {max_abs:e}, max rel err {max_rel:e} over {} elements",
            got.len()
        );
    }
}

/// Relative L2 error `‖got − want‖ / ‖want‖` (0 when both are zero).
pub fn rel_l2(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let num: f64 = got
        .iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w).powi(2))
        .sum();
    let den: f64 = want.iter().map(|w| w * w).sum();
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

/// Deterministic pseudo-random values in [-scale, scale) (SplitMix64), for test inputs.
pub fn rand_vec(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// `x` widened to f64.
pub fn to_f64(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

/// Central finite-difference gradient of `f` at `x` (f64 throughout; step `h`).
pub fn fd_grad(x: &[f64], h: f64, mut f: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| {
            let x0 = xp[i];
            xp[i] = x0 + h;
            let fp = f(&xp);
            xp[i] = x0 - h;
            let fm = f(&xp);
            xp[i] = x0;
            (fp - fm) / (2.0 * h)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assert_close_accepts_within_tolerance() {
        assert_close("x", &[1.0, 2.0], &[1.0 + 1e-7, 2.0], 1e-6, 0.0);
    }

    #[test]
    #[should_panic(expected = "w: mismatch at index 1")]
    fn assert_close_panics_naming_tensor_and_index() {
        assert_close("w", &[1.0, 2.5, 3.0], &[1.0, 2.0, 3.0], 1e-3, 1e-3);
    }

    #[test]
    #[should_panic(expected = "mismatch at index 0")]
    fn assert_close_rejects_nan() {
        assert_close("n", &[f32::NAN], &[1.0], 1.0, 1.0);
    }
}
