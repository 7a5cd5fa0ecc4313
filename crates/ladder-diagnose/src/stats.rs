//! Small robust statistics on loss curves.

/// Median of finite values (`None` when there are none).
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    })
}

/// The elements of `v` whose position lies in the fraction range `[lo, hi)` of its length
/// (at least one element when `v` is not empty).
pub fn fraction<T>(v: &[T], lo: f64, hi: f64) -> &[T] {
    let n = v.len();
    let a = ((lo * n as f64).floor() as usize).min(n.saturating_sub(1));
    let b = ((hi * n as f64).ceil() as usize).clamp(a + 1, n.max(a + 1));
    &v[a..b.min(n)]
}

/// Linear interpolation of the curve `(x, y)` (x increasing) at `x0`; `None` outside its range.
pub fn interpolate(curve: &[(f64, f64)], x0: f64) -> Option<f64> {
    let i = curve.partition_point(|&(x, _)| x < x0);
    if i == curve.len() {
        return None;
    }
    let (x1, y1) = curve[i];
    if x1 == x0 {
        return Some(y1);
    }
    let (xa, ya) = *curve.get(i.checked_sub(1)?)?;
    Some(ya + (y1 - ya) * (x0 - xa) / (x1 - xa))
}

/// Running median over a centred window of `w` points: per-step losses are noisy.
pub fn smooth(values: &[f64], w: usize) -> Vec<f64> {
    let h = w / 2;
    (0..values.len())
        .map(|i| {
            let lo = i.saturating_sub(h);
            let hi = (i + h + 1).min(values.len());
            median(values[lo..hi].iter().copied()).unwrap_or(f64::NAN)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_fraction_interpolate_smooth() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, f64::NAN, 3.0]), Some(2.5));
        assert_eq!(median(std::iter::empty()), None);
        let v: Vec<i32> = (0..10).collect();
        assert_eq!(fraction(&v, 0.0, 0.2), &[0, 1]);
        assert_eq!(fraction(&v, 0.9, 1.0), &[9]);
        assert_eq!(fraction(&v[..1], 0.9, 1.0), &[0]);
        let c = [(0.0, 0.0), (2.0, 4.0)];
        assert_eq!(interpolate(&c, 1.0), Some(2.0));
        assert_eq!(interpolate(&c, 2.0), Some(4.0));
        assert_eq!(interpolate(&c, 3.0), None);
        assert_eq!(
            smooth(&[1.0, 100.0, 1.0, 1.0], 3),
            vec![50.5, 1.0, 1.0, 1.0]
        );
    }
}
