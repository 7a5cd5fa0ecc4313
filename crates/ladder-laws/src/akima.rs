//! Akima's interpolating cubic (H. Akima, "A new method of interpolation and smooth curve fitting
//! based on local procedures", J. ACM 17(4), 1970), as SciPy's `Akima1DInterpolator` computes it.
//!
//! Between nodes the curve is the cubic Hermite polynomial through the two nodes with slopes
//! `t_i = (|m_{i+1} − m_i|·m_{i−1} + |m_{i−1} − m_{i−2}|·m_i) / (|m_{i+1} − m_i| + |m_{i−1} − m_{i−2}|)`,
//! where `m_j` is the slope of segment j; when both weights vanish, `t_i = (m_{i−1} + m_i)/2`. The
//! two missing slopes at each end are extrapolated linearly (`m_{−1} = 2m_0 − m_1`, …). Each slope
//! depends on five nodes only, so one noisy point bends the curve locally instead of everywhere,
//! which is why IsoFLOP analyses use it to locate the minimum of a loss profile.

/// An Akima interpolant through nodes with strictly increasing x.
#[derive(Clone, Debug)]
pub struct Akima {
    x: Vec<f64>,
    y: Vec<f64>,
    /// Slope at each node.
    t: Vec<f64>,
}

impl Akima {
    /// The interpolant through `(x[i], y[i])`; `None` unless there are ≥ 3 finite nodes with
    /// strictly increasing x.
    pub fn new(x: &[f64], y: &[f64]) -> Option<Akima> {
        let n = x.len();
        if n < 3 || y.len() != n || x.iter().chain(y).any(|v| !v.is_finite()) {
            return None;
        }
        if x.windows(2).any(|w| w[1] <= w[0]) {
            return None;
        }
        // m[k + 2] is the slope of segment k; two extrapolated slopes on each side.
        let mut m = vec![0.0; n + 3];
        for k in 0..n - 1 {
            m[k + 2] = (y[k + 1] - y[k]) / (x[k + 1] - x[k]);
        }
        m[1] = 2.0 * m[2] - m[3];
        m[0] = 2.0 * m[1] - m[2];
        m[n + 1] = 2.0 * m[n] - m[n - 1];
        m[n + 2] = 2.0 * m[n + 1] - m[n];
        let dm: Vec<f64> = m.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
        let f12_max = (0..n).map(|i| dm[i + 2] + dm[i]).fold(f64::MIN, f64::max);
        let t = (0..n)
            .map(|i| {
                let (f1, f2) = (dm[i + 2], dm[i]);
                // SciPy's rule: equal weights when both are negligible against the largest.
                if f1 + f2 > 1e-9 * f12_max {
                    (f1 * m[i + 1] + f2 * m[i + 2]) / (f1 + f2)
                } else {
                    0.5 * (m[i + 1] + m[i + 2])
                }
            })
            .collect();
        Some(Akima {
            x: x.to_vec(),
            y: y.to_vec(),
            t,
        })
    }

    /// The nodes' x range `[first, last]`.
    pub fn range(&self) -> [f64; 2] {
        [self.x[0], self.x[self.x.len() - 1]]
    }

    /// Value at `x`; outside the nodes the end cubics are extended.
    pub fn eval(&self, x: f64) -> f64 {
        let last = self.x.len() - 2;
        let i = self.x[1..=last].partition_point(|&xi| xi <= x);
        let h = self.x[i + 1] - self.x[i];
        let m = (self.y[i + 1] - self.y[i]) / h;
        let (t0, t1) = (self.t[i], self.t[i + 1]);
        let c2 = (3.0 * m - 2.0 * t0 - t1) / h;
        let c3 = (t0 + t1 - 2.0 * m) / (h * h);
        let u = x - self.x[i];
        self.y[i] + u * (t0 + u * (c2 + u * c3))
    }

    /// The lowest value on `points` evenly spaced abscissae spanning the nodes (`points` ≥ 2):
    /// `(index, x, value)`. An index of 0 or `points − 1` means the minimum is at an end.
    pub fn grid_min(&self, points: usize) -> (usize, f64, f64) {
        let [lo, hi] = self.range();
        let step = (hi - lo) / (points.max(2) - 1) as f64;
        let mut best = (0, lo, self.eval(lo));
        for k in 1..points.max(2) {
            let x = if k == points.max(2) - 1 {
                hi
            } else {
                lo + step * k as f64
            };
            let v = self.eval(x);
            if v < best.2 {
                best = (k, x, v);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_through_nodes_and_reproduces_a_line() {
        let x = [0.0, 0.7, 1.1, 2.5, 3.0, 4.2];
        let y: Vec<f64> = x.iter().map(|x| 1.5 - 0.25 * x).collect();
        let a = Akima::new(&x, &y).unwrap();
        for (xi, yi) in x.iter().zip(&y) {
            assert!((a.eval(*xi) - yi).abs() < 1e-12);
        }
        for k in 0..=100 {
            let u = 4.2 * k as f64 / 100.0;
            assert!((a.eval(u) - (1.5 - 0.25 * u)).abs() < 1e-12, "at {u}");
        }
    }

    #[test]
    fn matches_scipy_akima1dinterpolator() {
        // scipy.interpolate.Akima1DInterpolator(x, y)(u), SciPy 1.17.1, on uneven nodes with
        // sign changes of the slope (every branch of the weight rule is taken).
        let x = [0.0, 0.5, 1.3, 2.0, 2.2, 3.5, 4.0];
        let y = [1.0, 0.3, 0.8, 0.2, 0.9, 1.5, 0.4];
        let scipy = [
            (0.1, 0.7764924643584522),
            (0.25, 0.5136424389002037),
            (0.9, 0.5114492382185438),
            (1.7, 0.39154486841395786),
            (2.1, 0.5239415048571057),
            (2.9, 1.6417008881871702),
            (3.8, 0.9954683276237934),
            (4.0, 0.4),
        ];
        let a = Akima::new(&x, &y).unwrap();
        for (u, v) in scipy {
            assert!(
                (a.eval(u) - v).abs() < 1e-12,
                "at {u}: {} vs {v}",
                a.eval(u)
            );
        }
    }

    #[test]
    fn rejects_unsorted_short_or_non_finite_nodes() {
        assert!(Akima::new(&[0.0, 1.0], &[1.0, 2.0]).is_none());
        assert!(Akima::new(&[0.0, 2.0, 1.0], &[1.0, 2.0, 3.0]).is_none());
        assert!(Akima::new(&[0.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_none());
        assert!(Akima::new(&[0.0, 1.0, 2.0], &[1.0, f64::NAN, 3.0]).is_none());
    }
}
