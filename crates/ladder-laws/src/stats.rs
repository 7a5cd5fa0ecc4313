//! Small statistics used by every law: the Huber loss, percentiles (NumPy's default "linear"
//! rule, so intervals agree with `np.percentile`), sample standard deviations, and ordinary least
//! squares for a line.

/// Huber loss of a residual `r` with threshold `delta`: `r²/2` when `|r| <= delta`, else
/// `delta·(|r| − delta/2)`. An infinite `delta` gives plain least squares.
#[inline]
pub fn huber(r: f64, delta: f64) -> f64 {
    let a = r.abs();
    if a <= delta {
        0.5 * r * r
    } else {
        delta * (a - 0.5 * delta)
    }
}

/// Derivative of [`huber`] with respect to `r`: `r` clipped to `[-delta, delta]`.
#[inline]
pub fn huber_grad(r: f64, delta: f64) -> f64 {
    r.clamp(-delta, delta)
}

/// The `q`-th percentile (0 ≤ q ≤ 100) of `values`, by linear interpolation between the two
/// closest ranks (NumPy's default, Hyndman & Fan type 7). Non-finite values are ignored.
/// Returns `None` when no finite value is left.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(percentile_sorted(&v, q))
}

/// [`percentile`] of values already sorted ascending and all finite.
pub fn percentile_sorted(v: &[f64], q: f64) -> f64 {
    let pos = (q / 100.0).clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// The central 95 % percentile interval `[p2.5, p97.5]` of the finite values, or `None`.
pub fn interval95(values: &[f64]) -> Option<[f64; 2]> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some([percentile_sorted(&v, 2.5), percentile_sorted(&v, 97.5)])
}

/// Mean of the finite values (`None` when there are none).
pub fn mean(values: &[f64]) -> Option<f64> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        None
    } else {
        Some(v.iter().sum::<f64>() / v.len() as f64)
    }
}

/// Sample standard deviation (divisor n − 1) of the finite values; `None` with fewer than two.
/// This is the bootstrap standard error when `values` are bootstrap replicates.
pub fn std_dev(values: &[f64]) -> Option<f64> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < 2 {
        return None;
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let ss: f64 = v.iter().map(|x| (x - m) * (x - m)).sum();
    Some((ss / (v.len() - 1) as f64).sqrt())
}

/// Ordinary least squares line `y = intercept + slope·x`, with optional weights (counts).
/// Returns `None` when x does not vary (the slope is undefined).
pub fn ols_line(x: &[f64], y: &[f64], w: Option<&[f64]>) -> Option<(f64, f64)> {
    assert_eq!(x.len(), y.len());
    let wt = |i: usize| w.map_or(1.0, |w| w[i]);
    let sw: f64 = (0..x.len()).map(wt).sum();
    if sw <= 0.0 {
        return None;
    }
    let mx = (0..x.len()).map(|i| wt(i) * x[i]).sum::<f64>() / sw;
    let my = (0..x.len()).map(|i| wt(i) * y[i]).sum::<f64>() / sw;
    let sxx: f64 = (0..x.len()).map(|i| wt(i) * (x[i] - mx).powi(2)).sum();
    let sxy: f64 = (0..x.len())
        .map(|i| wt(i) * (x[i] - mx) * (y[i] - my))
        .sum();
    if sxx <= 1e-300 * sw || !sxx.is_finite() {
        return None;
    }
    let slope = sxy / sxx;
    Some((my - slope * mx, slope))
}

/// Least-squares parabola `y = c0 + c1·x + c2·x²`, solved on centred x for conditioning.
/// Returns `None` when fewer than three distinct x values make it singular.
pub fn ols_parabola(x: &[f64], y: &[f64]) -> Option<[f64; 3]> {
    assert_eq!(x.len(), y.len());
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    // Normal equations in u = x − m: [S0 S1 S2; S1 S2 S3; S2 S3 S4] c' = [T0 T1 T2].
    let mut s = [0.0f64; 5];
    let mut t = [0.0f64; 3];
    for (&xi, &yi) in x.iter().zip(y) {
        let u = xi - m;
        let mut p = 1.0;
        for (k, sk) in s.iter_mut().enumerate() {
            *sk += p;
            if k < 3 {
                t[k] += p * yi;
            }
            p *= u;
        }
    }
    let a = [[s[0], s[1], s[2]], [s[1], s[2], s[3]], [s[2], s[3], s[4]]];
    let c = solve3(a, t)?;
    // Back from u = x − m: c0' + c1'(x−m) + c2'(x−m)².
    Some([c[0] - c[1] * m + c[2] * m * m, c[1] - 2.0 * c[2] * m, c[2]])
}

/// Solves the square system `a·x = b` by Gaussian elimination with partial pivoting; `None` when
/// it is (relatively) singular.
pub fn solve_linear(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    let scale = a
        .iter()
        .flatten()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1e-300);
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        let p = a[piv][col].abs();
        if p.is_nan() || p <= 1e-13 * scale {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let pivot_row = a[col].clone();
        for r in col + 1..n {
            let f = a[r][col] / pivot_row[col];
            for (v, p) in a[r].iter_mut().zip(&pivot_row).skip(col) {
                *v -= f * p;
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Solves a 3×3 system by Cramer's rule; `None` when (relatively) singular.
fn solve3(a: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&a);
    let scale = a[0][0] * a[1][1] * a[2][2];
    if !d.is_finite() || d.abs() <= 1e-12 * scale.abs() {
        return None;
    }
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut m = a;
        for r in 0..3 {
            m[r][k] = b[r];
        }
        *o = det(&m) / d;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy_linear() {
        // np.percentile([1, 2, 3, 4], [0, 25, 50, 97.5]) = [1, 1.75, 2.5, 3.925]
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert!((percentile(&v, 25.0).unwrap() - 1.75).abs() < 1e-12);
        assert!((percentile(&v, 50.0).unwrap() - 2.5).abs() < 1e-12);
        assert!((percentile(&v, 97.5).unwrap() - 3.925).abs() < 1e-12);
        assert_eq!(percentile(&[f64::NAN], 50.0), None);
    }

    #[test]
    fn std_dev_uses_n_minus_one() {
        // var([1,2,3,4], ddof=1) = 5/3
        let s = std_dev(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!((s * s - 5.0 / 3.0).abs() < 1e-12);
        assert_eq!(std_dev(&[1.0]), None);
    }

    #[test]
    fn huber_is_quadratic_then_linear_and_continuous() {
        let d = 0.1;
        assert!((huber(0.05, d) - 0.00125).abs() < 1e-15);
        assert!((huber(0.3, d) - 0.1 * (0.3 - 0.05)).abs() < 1e-15);
        assert!((huber(d, d) - huber(d + 1e-12, d)).abs() < 1e-12);
        assert_eq!(huber_grad(-3.0, d), -d);
        assert_eq!(huber(2.0, f64::INFINITY), 2.0);
    }

    #[test]
    fn ols_recovers_exact_line_and_parabola() {
        let x: Vec<f64> = (0..10).map(|i| i as f64 * 0.5 + 18.0).collect();
        let y: Vec<f64> = x.iter().map(|x| 3.0 - 0.7 * x).collect();
        let (c, s) = ols_line(&x, &y, None).unwrap();
        assert!((c - 3.0).abs() < 1e-9 && (s + 0.7).abs() < 1e-12);
        let y2: Vec<f64> = x.iter().map(|x| 2.0 + 0.1 * (x - 20.0).powi(2)).collect();
        let p = ols_parabola(&x, &y2).unwrap();
        let vertex = -p[1] / (2.0 * p[2]);
        assert!((vertex - 20.0).abs() < 1e-9, "{p:?}");
        assert!(ols_line(&[1.0, 1.0], &[1.0, 2.0], None).is_none());
        assert!(ols_parabola(&[1.0, 2.0, 2.0], &[1.0, 2.0, 3.0]).is_none());
    }
}
