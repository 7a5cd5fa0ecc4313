//! Where one compute budget's loss profile has its minimum: the IsoFLOP "vertex" (Approach 2).
//!
//! Three estimators, chosen with `--vertex` (docs/laws.md compares them in a simulation study):
//!
//! * `parabola`: least-squares parabola of loss in x = ln N through every point of the budget
//!   (Hoffmann et al. 2022). Biased when the profile is wide or asymmetric, because a loss profile
//!   is not a parabola far from its minimum.
//! * `local`: parabola of ln loss in x through the [`LOCAL_POINTS`] sizes nearest the lowest
//!   observed loss (that one and its neighbours, at least 3). Close to the minimum every smooth
//!   profile is a parabola; five points keep enough curvature information against ~1 % noise.
//! * `akima`: [`crate::akima::Akima`] interpolant of ln loss in x through every size, minimised
//!   on a fine grid (Porian et al. 2024).
//!
//! `local` and `akima` refuse a budget whose lowest observed loss is at its smallest or largest N:
//! the optimum may lie outside the sampled range, and any estimate would be an extrapolation.
//! Runs of one N within a budget are averaged first (`parabola` keeps them, as it always did).

use crate::akima::Akima;
use crate::common::distinct;
use crate::stats::ols_parabola;

/// Sizes a `local` parabola uses: the lowest observed loss and two neighbours on each side.
pub const LOCAL_POINTS: usize = 5;
/// Evenly spaced grid over the sampled ln N range on which the `akima` minimum is first located.
const AKIMA_GRID: usize = 256;
/// Golden-section steps that refine the grid minimum (the bracket shrinks by 0.618 each).
const GOLDEN_STEPS: usize = 40;

/// How a budget's vertex is estimated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VertexMethod {
    /// Parabola of loss in ln N over all points.
    Parabola,
    /// Parabola of ln loss in ln N over the points nearest the observed minimum.
    Local,
    /// Akima spline of ln loss in ln N, minimised on a fine grid.
    Akima,
}

impl VertexMethod {
    /// The name on the command line and in fit.json (`fit.vertex`).
    pub fn name(self) -> &'static str {
        match self {
            VertexMethod::Parabola => "parabola",
            VertexMethod::Local => "local",
            VertexMethod::Akima => "akima",
        }
    }

    /// Parses [`VertexMethod::name`].
    pub fn parse(s: &str) -> Option<VertexMethod> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }

    /// Every method.
    pub const ALL: [VertexMethod; 3] = [
        VertexMethod::Parabola,
        VertexMethod::Local,
        VertexMethod::Akima,
    ];
}

/// A vertex `(x* = ln N_opt, loss at x*)`, or why there is none.
pub type Located = std::result::Result<(f64, f64), String>;

/// The vertex of the profile `(x = ln N, loss)` of one budget by `method`.
pub fn locate(method: VertexMethod, x: &[f64], loss: &[f64]) -> Located {
    match method {
        VertexMethod::Parabola => parabola_all(x, loss),
        VertexMethod::Local | VertexMethod::Akima => {
            let (xs, ls) = merged(x, loss);
            if xs.len() < 3 {
                return Err(format!("{} distinct N; a vertex needs 3", xs.len()));
            }
            let j = argmin(&ls);
            if j == 0 || j == xs.len() - 1 {
                return Err(format!(
                    "lowest loss at the {} sampled N ({:.3e}): the optimum may lie outside the sampled N range [{:.3e}, {:.3e}]; not used",
                    if j == 0 { "smallest" } else { "largest" },
                    xs[j].exp(),
                    xs[0].exp(),
                    xs[xs.len() - 1].exp()
                ));
            }
            let lnl: Vec<f64> = ls.iter().map(|l| l.ln()).collect();
            if method == VertexMethod::Local {
                local(&xs, &lnl, j)
            } else {
                akima(&xs, &lnl)
            }
        }
    }
}

fn argmin(v: &[f64]) -> usize {
    let mut j = 0;
    for (i, x) in v.iter().enumerate() {
        if *x < v[j] {
            j = i;
        }
    }
    j
}

/// Sorted distinct x with the mean loss of the points at each.
fn merged(x: &[f64], loss: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let (mut xs, mut sums, mut counts): (Vec<f64>, Vec<f64>, Vec<f64>) = (vec![], vec![], vec![]);
    for i in idx {
        let same = xs
            .last()
            .is_some_and(|&l: &f64| (x[i] - l).abs() <= 1e-9 * l.abs().max(1.0));
        if same {
            let k = xs.len() - 1;
            sums[k] += loss[i];
            counts[k] += 1.0;
        } else {
            xs.push(x[i]);
            sums.push(loss[i]);
            counts.push(1.0);
        }
    }
    let ls = sums.iter().zip(&counts).map(|(s, c)| s / c).collect();
    (xs, ls)
}

fn range(xs: &[f64]) -> (f64, f64) {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

/// Vertex of `c0 + c1·x + c2·x²` when it opens upwards.
fn parabola_vertex(c: &[f64; 3]) -> Option<(f64, f64)> {
    if c[2].is_nan() || c[2] <= 0.0 {
        return None;
    }
    let x = -c[1] / (2.0 * c[2]);
    Some((x, c[0] + c[1] * x + c[2] * x * x))
}

fn parabola_all(x: &[f64], loss: &[f64]) -> Located {
    let n = distinct(x);
    if n < 3 {
        return Err(format!("{n} distinct N; a parabola needs 3"));
    }
    let c = ols_parabola(x, loss).ok_or("the parabola is undefined (sizes too close)")?;
    let (v, l) = parabola_vertex(&c).ok_or("loss does not turn up: parabola opens downwards")?;
    let (lo, hi) = range(x);
    if v < lo || v > hi {
        return Err(format!(
            "vertex N = {:.3e} outside the sampled N range [{:.3e}, {:.3e}]: extrapolated, not used",
            v.exp(),
            lo.exp(),
            hi.exp()
        ));
    }
    Ok((v, l))
}

/// Parabola of ln loss through the [`LOCAL_POINTS`] consecutive sizes centred on index `j`
/// (shifted inwards at the ends of the range).
fn local(xs: &[f64], lnl: &[f64], j: usize) -> Located {
    let k = LOCAL_POINTS.min(xs.len());
    let start = j.saturating_sub(k / 2).min(xs.len() - k);
    let (wx, wy) = (&xs[start..start + k], &lnl[start..start + k]);
    let c = ols_parabola(wx, wy).ok_or("the local parabola is undefined (sizes too close)")?;
    let (v, l) = parabola_vertex(&c)
        .ok_or("ln loss does not turn up near its minimum: local parabola opens downwards")?;
    let (lo, hi) = (wx[0], wx[k - 1]);
    if v < lo || v > hi {
        return Err(format!(
            "local vertex N = {:.3e} outside the sampled N range of its {k} points [{:.3e}, {:.3e}]: not used",
            v.exp(),
            lo.exp(),
            hi.exp()
        ));
    }
    Ok((v, l.exp()))
}

/// Minimum of the Akima interpolant of ln loss: a grid search, then golden-section refinement
/// within the grid cells on either side of the best grid point.
fn akima(xs: &[f64], lnl: &[f64]) -> Located {
    let s = Akima::new(xs, lnl).ok_or("the Akima spline is undefined")?;
    let (k, _, _) = s.grid_min(AKIMA_GRID);
    if k == 0 || k == AKIMA_GRID - 1 {
        return Err("the spline's minimum is at an end of the sampled N range: not used".into());
    }
    let [lo, hi] = s.range();
    let step = (hi - lo) / (AKIMA_GRID - 1) as f64;
    let (mut a, mut b) = (lo + step * (k - 1) as f64, lo + step * (k + 1) as f64);
    let g = 0.5 * (5f64.sqrt() - 1.0);
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (s.eval(c), s.eval(d));
    for _ in 0..GOLDEN_STEPS {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = s.eval(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = s.eval(d);
        }
    }
    let x = 0.5 * (a + b);
    Ok((x, s.eval(x).exp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth asymmetric profile with its minimum at x = 1: e^{-x} + e^{x}/e² scaled.
    fn profile(x: f64) -> f64 {
        2.0 + (-(x - 1.0)).exp() + 0.5 * (x - 1.0).exp() - 1.5
    }

    #[test]
    fn every_method_finds_the_minimum_of_a_clean_profile() {
        // Minimum of e^{-u} + 0.5 e^{u}: u = ln(2)/2 = 0.3466, i.e. x = 1.3466.
        let truth = 1.0 + 0.5 * 2f64.ln();
        let x: Vec<f64> = (0..9).map(|k| -0.5 + 0.45 * k as f64).collect();
        let y: Vec<f64> = x.iter().map(|&x| profile(x)).collect();
        // The all-points parabola is visibly biased on this wide, asymmetric profile.
        for (m, tol, tol_loss) in [
            (VertexMethod::Parabola, 0.2, 0.1),
            (VertexMethod::Local, 0.05, 0.01),
            (VertexMethod::Akima, 0.02, 0.005),
        ] {
            let (v, l) = locate(m, &x, &y).unwrap();
            assert!((v - truth).abs() < tol, "{}: {v} vs {truth}", m.name());
            assert!(
                (l - profile(truth)).abs() < tol_loss,
                "{}: loss {l}",
                m.name()
            );
        }
    }

    #[test]
    fn edge_minima_are_refused_by_local_and_akima() {
        let x: Vec<f64> = (0..6).map(|k| k as f64 * 0.4).collect();
        let y: Vec<f64> = x.iter().map(|&x| 3.0 - 0.1 * x).collect();
        for m in [VertexMethod::Local, VertexMethod::Akima] {
            let e = locate(m, &x, &y).unwrap_err();
            assert!(e.contains("largest sampled N"), "{e}");
            assert!(e.contains("outside the sampled N range"), "{e}");
        }
    }

    #[test]
    fn repeated_sizes_are_averaged() {
        let (x, l) = merged(&[2.0, 1.0, 2.0, 3.0], &[1.0, 5.0, 3.0, 4.0]);
        assert_eq!(x, vec![1.0, 2.0, 3.0]);
        assert_eq!(l, vec![5.0, 2.0, 4.0]);
        assert_eq!(VertexMethod::parse("akima"), Some(VertexMethod::Akima));
        assert_eq!(VertexMethod::parse("spline"), None);
    }
}
