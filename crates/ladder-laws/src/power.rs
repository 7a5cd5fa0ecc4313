//! Power-law trends `y = a·x^b` and `y = a·x^b + c` (DESIGN §4 "Trends"), fitted like the
//! Chinchilla law: Huber_δ on log residuals, L-BFGS, pairs bootstrap refitting from the best point.
//!
//! Without offset the model is linear in log space, `ln y = ln a + b·ln x`, so the fit starts
//! from the least-squares line and needs one start. With offset, `ln y = LSE(ln a + b·ln x, ln c)`
//! keeps `a, c > 0` (c is an irreducible floor, as E in Chinchilla) and runs from a small grid.

use rayon::prelude::*;

use crate::bootstrap::{replicate_rng, resample_counts};
use crate::common::{check_count, check_varies, column, data_info, put_spread, residual_stats};
use crate::data::XyPoints;
use crate::error::{Error, Result};
use crate::fitfile::{Derived, FitFile, FitInfo, Named, Samples, FIT_FILE_VERSION};
use crate::options::FitOptions;
use crate::solver::{minimize, LbfgsOptions, Minimum, Objective};
use crate::stats::{huber, ols_line};

/// Points `(u, ln y)` with weights, where `u` is the regressor of a log-linear model
/// (`ln x` for power laws, `t − t0` for doubling).
#[derive(Clone, Debug, Default)]
pub struct LogXy {
    /// Regressor.
    pub u: Vec<f64>,
    /// ln y.
    pub ly: Vec<f64>,
    /// Weights (bootstrap multiplicities).
    pub w: Vec<f64>,
}

impl LogXy {
    /// Unit-weight points.
    pub fn new(u: Vec<f64>, ly: Vec<f64>) -> Self {
        let w = vec![1.0; u.len()];
        LogXy { u, ly, w }
    }
    /// The resample with `counts[i]` copies of point i (points with count 0 dropped).
    pub fn weighted(&self, counts: &[u32]) -> Self {
        let mut o = LogXy::default();
        for (i, &c) in counts.iter().enumerate() {
            if c > 0 {
                o.u.push(self.u[i]);
                o.ly.push(self.ly[i]);
                o.w.push(c as f64);
            }
        }
        o
    }
    /// Number of distinct points.
    pub fn len(&self) -> usize {
        self.u.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.u.is_empty()
    }
    /// Weighted least-squares line `(intercept, slope)` of ln y on u.
    pub fn ols(&self) -> Option<(f64, f64)> {
        ols_line(&self.u, &self.ly, Some(&self.w))
    }
}

/// Σ w·Huber(θ0 + θ1·u − ln y): the log-linear model.
pub struct LinearObjective<'a> {
    /// Data.
    pub pts: &'a LogXy,
    /// Huber threshold.
    pub delta: f64,
}

impl Objective<2> for LinearObjective<'_> {
    fn value_grad(&self, p: &[f64; 2], g: &mut [f64; 2]) -> f64 {
        let (mut f, mut g0, mut g1) = (0.0, 0.0, 0.0);
        let d = self.delta;
        for i in 0..self.pts.len() {
            let r = p[0] + p[1] * self.pts.u[i] - self.pts.ly[i];
            let w = self.pts.w[i];
            f += w * huber(r, d);
            let q = w * r.clamp(-d, d);
            g0 += q;
            g1 += q * self.pts.u[i];
        }
        *g = [g0, g1];
        f
    }
}

/// Σ w·Huber(LSE(θ0 + θ1·u, θ2) − ln y): power law with a positive offset, θ = (ln a, b, ln c).
pub struct OffsetObjective<'a> {
    /// Data (u = ln x).
    pub pts: &'a LogXy,
    /// Huber threshold.
    pub delta: f64,
}

impl Objective<3> for OffsetObjective<'_> {
    fn value_grad(&self, p: &[f64; 3], g: &mut [f64; 3]) -> f64 {
        let (mut f, mut g0, mut g1, mut g2) = (0.0, 0.0, 0.0, 0.0);
        let d = self.delta;
        let c = p[2].exp();
        for i in 0..self.pts.len() {
            let t = (p[0] + p[1] * self.pts.u[i]).exp();
            let s = t + c;
            let r = s.ln() - self.pts.ly[i];
            let w = self.pts.w[i];
            f += w * huber(r, d);
            let q = w * r.clamp(-d, d) / s;
            g0 += q * t;
            g1 += q * t * self.pts.u[i];
            g2 += q * c;
        }
        *g = [g0, g1, g2];
        f
    }
}

/// Best converged minimum over `starts`, or the best one at all when none converged
/// (second value false). `None` when every start was non-finite.
pub(crate) fn best_of<const K: usize, O: Objective<K>>(
    obj: &O,
    starts: &[[f64; K]],
    opts: &LbfgsOptions,
) -> Option<(Minimum<K>, usize)> {
    let runs: Vec<Minimum<K>> = starts.iter().map(|s| minimize(obj, *s, opts)).collect();
    let converged = runs.iter().filter(|r| r.stop.converged()).count();
    let pick = |need: bool| {
        runs.iter()
            .filter(|r| r.value.is_finite() && (!need || r.stop.converged()))
            .min_by(|a, b| a.value.total_cmp(&b.value))
            .copied()
    };
    pick(true).or_else(|| pick(false)).map(|m| (m, converged))
}

/// Pairs-bootstrap replicates: `refit(counts)` refits one resample; `None` results are dropped.
pub(crate) fn pairs_bootstrap<F>(n: usize, opts: &FitOptions, refit: F) -> Vec<Vec<f64>>
where
    F: Fn(&[u32]) -> Option<Vec<f64>> + Sync,
{
    let reps: Vec<Option<Vec<f64>>> = (0..opts.bootstrap as u64)
        .into_par_iter()
        .map(|b| refit(&resample_counts(n, &mut replicate_rng(opts.seed, b))))
        .collect();
    reps.into_iter()
        .flatten()
        .filter(|r| r.iter().all(|x| x.is_finite()))
        .collect()
}

/// The "did not converge" error with the best point found.
pub(crate) fn not_converged(
    law: &'static str,
    starts: usize,
    names: &[&str],
    best: Option<(f64, Vec<f64>)>,
) -> Error {
    let (best, params) = best.unwrap_or((f64::NAN, vec![f64::NAN; names.len()]));
    Error::NotConverged {
        law,
        starts,
        converged: 0,
        best,
        params: names.iter().map(|s| s.to_string()).zip(params).collect(),
    }
}

/// Starts for the offset form: exponents × floors, with ln a set so the power term matches the
/// data above the floor on average.
fn offset_starts(pts: &LogXy) -> Vec<[f64; 3]> {
    let min_ly = pts.ly.iter().copied().fold(f64::INFINITY, f64::min);
    let mut out = Vec::new();
    for b in [-2.0, -1.0, -0.5, -0.25, -0.1, 0.1, 0.25, 0.5, 1.0, 2.0] {
        for q in [0.01f64, 0.1, 0.5, 0.9, 0.99] {
            let lc = min_ly + q.ln();
            let c = lc.exp();
            let (mut s, mut k) = (0.0, 0.0);
            for i in 0..pts.len() {
                let rest = pts.ly[i].exp() - c;
                if rest > 0.0 {
                    s += rest.ln() - b * pts.u[i];
                    k += 1.0;
                }
            }
            if k > 0.0 {
                out.push([s / k, b, lc]);
            }
        }
    }
    out
}

/// What the two forms hand to the common fit.json assembly.
struct Outcome {
    names: Vec<&'static str>,
    est: Vec<f64>,
    best: f64,
    starts: usize,
    converged: usize,
    stop: String,
    samples: Vec<Vec<f64>>,
}

/// `a·x^b (+ c)` for natural parameters `[a, b]` or `[a, b, c]`.
pub fn predict(p: &[f64], x: f64) -> f64 {
    p[0] * x.powf(p[1]) + p.get(2).copied().unwrap_or(0.0)
}

/// Fits `y = a·x^b` (or `+ c` with [`FitOptions::with_offset`]) to (x, y) points.
pub fn fit(points: &XyPoints, opts: &FitOptions) -> Result<FitFile> {
    const LAW: &str = "power";
    let k = if opts.offset { 3 } else { 2 };
    check_count(LAW, points.x.len(), k)?;
    check_varies(
        LAW,
        &points.x,
        "x",
        "the exponent b is undefined",
        "use data with more than one x value",
    )?;
    let pts = LogXy::new(
        points.x.iter().map(|x| x.ln()).collect(),
        points.y.iter().map(|y| y.ln()).collect(),
    );
    let o = if opts.offset {
        let names = vec!["a", "b", "c"];
        let starts = offset_starts(&pts);
        let obj = OffsetObjective {
            pts: &pts,
            delta: opts.delta,
        };
        let nat = |t: &[f64; 3]| vec![t[0].exp(), t[1], t[2].exp()];
        let (m, converged) = match best_of(&obj, &starts, &opts.lbfgs) {
            Some((m, c)) if c > 0 => (m, c),
            other => {
                let best = other.map(|(m, _)| (m.value, nat(&m.params)));
                return Err(not_converged(LAW, starts.len(), &names, best));
            }
        };
        let samples = pairs_bootstrap(pts.len(), opts, |counts| {
            let sub = pts.weighted(counts);
            let o = OffsetObjective {
                pts: &sub,
                delta: opts.delta,
            };
            let r = minimize(&o, m.params, &opts.lbfgs);
            r.stop.converged().then(|| nat(&r.params))
        });
        Outcome {
            names,
            est: nat(&m.params),
            best: m.value,
            starts: starts.len(),
            converged,
            stop: m.stop.to_string(),
            samples,
        }
    } else {
        let names = vec!["a", "b"];
        let start = pts.ols().map_or([0.0, 0.0], |(c, s)| [c, s]);
        let obj = LinearObjective {
            pts: &pts,
            delta: opts.delta,
        };
        let nat = |t: &[f64; 2]| vec![t[0].exp(), t[1]];
        let m = minimize(&obj, start, &opts.lbfgs);
        if !m.stop.converged() {
            return Err(not_converged(
                LAW,
                1,
                &names,
                Some((m.value, nat(&m.params))),
            ));
        }
        let samples = pairs_bootstrap(pts.len(), opts, |counts| {
            let sub = pts.weighted(counts);
            let o = LinearObjective {
                pts: &sub,
                delta: opts.delta,
            };
            let r = minimize(&o, m.params, &opts.lbfgs);
            r.stop.converged().then(|| nat(&r.params))
        });
        Outcome {
            names,
            est: nat(&m.params),
            best: m.value,
            starts: 1,
            converged: 1,
            stop: m.stop.to_string(),
            samples,
        }
    };
    let Outcome {
        names,
        est,
        best,
        starts,
        converged,
        stop,
        samples,
    } = o;
    let resid: Vec<f64> = (0..points.x.len())
        .map(|i| points.y[i].ln() - predict(&est, points.x[i]).ln())
        .collect();
    let mut f = FitFile {
        law: LAW.to_string(),
        params: Named(names.iter().map(|s| s.to_string()).zip(est).collect()),
        ci95: Named::new(),
        stderr: Named::new(),
        derived: Derived::default(),
        fit: FitInfo {
            objective: "huber".to_string(),
            delta: Some(opts.delta),
            best,
            starts,
            converged,
            bootstrap: opts.bootstrap,
            seed: opts.seed,
            bootstrap_used: samples.len(),
            resample: "points".to_string(),
            stop,
            vertex: None,
        },
        data: data_info(&points.origin, points.x.len()),
        residuals: residual_stats(&resid),
        samples: Samples {
            params: names.iter().map(|s| s.to_string()).collect(),
            values: samples,
        },
        version: FIT_FILE_VERSION,
    };
    f.data.x = Some(points.x_name.clone());
    f.data.y = Some(points.y_name.clone());
    for (j, name) in names.iter().enumerate() {
        put_spread(
            &mut f.ci95,
            &mut f.stderr,
            name,
            &column(&f.samples.values, j),
        );
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataSource;
    use crate::synth::normal;
    use rand::SeedableRng;

    fn xy(x: Vec<f64>, y: Vec<f64>) -> XyPoints {
        XyPoints {
            x,
            y,
            x_name: "C".into(),
            y_name: "loss".into(),
            x_is_date: false,
            origin: DataSource {
                source: "synthetic".into(),
                sha256: String::new(),
                skipped: vec![],
            },
        }
    }

    #[test]
    fn power_recovers_exponent_and_offset() {
        // y = 50 x^-0.3 + 1.5 with 0.5 % multiplicative noise over 6 decades.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let x: Vec<f64> = (0..60)
            .map(|i| 10f64.powf(1.0 + 6.0 * i as f64 / 59.0))
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|&x| (50.0 * x.powf(-0.3) + 1.5) * (0.005 * normal(&mut rng)).exp())
            .collect();
        let opts = FitOptions::default()
            .with_offset(true)
            .with_bootstrap(200)
            .unwrap();
        let f = fit(&xy(x.clone(), y.clone()), &opts).unwrap();
        let b = f.param("b").unwrap();
        let c = f.param("c").unwrap();
        assert!((b + 0.3).abs() < 0.03, "b = {b}");
        assert!((c - 1.5).abs() < 0.1, "c = {c}");
        let ci = f.ci95.get("b").unwrap().0;
        assert!(ci[0] < b && b < ci[1]);
        // Without offset, a pure power law is recovered exactly in log space.
        let y2: Vec<f64> = x.iter().map(|&x| 3.0 * x.powf(0.7)).collect();
        let f = fit(
            &xy(x, y2),
            &FitOptions::default().with_bootstrap(50).unwrap(),
        )
        .unwrap();
        assert!((f.param("b").unwrap() - 0.7).abs() < 1e-9);
        assert!((f.param("a").unwrap() - 3.0).abs() < 1e-8);
        assert_eq!(f.samples.values.len(), 50);
    }

    #[test]
    fn power_rejects_single_x_and_too_few_points() {
        let e = fit(
            &xy(vec![2.0; 4], vec![1.0, 2.0, 3.0, 4.0]),
            &FitOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("all 4 points have x = 2"), "{e}");
        let e = fit(&xy(vec![1.0, 2.0], vec![1.0, 2.0]), &FitOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("2 usable point(s)") && e.contains("at least 3"),
            "{e}"
        );
    }
}
