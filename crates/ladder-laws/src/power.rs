//! Power-law trends `y = a·x^b` and `y = a·x^b + c` (DESIGN §4 "Trends"), fitted like the
//! Chinchilla law through [`crate::logfit`]: Huber_δ on (SE-weighted) log residuals, L-BFGS, and
//! the bootstrap of [`crate::bootstrap`] refitting from the best point.
//!
//! Without offset the model is linear in log space, `ln y = ln a + b·ln x`, so the fit starts
//! from the least-squares line and needs one start. With offset, `ln y = LSE(ln a + b·ln x, ln c)`
//! keeps `a, c > 0` (c is an irreducible floor, as E in Chinchilla) and runs from a small grid.

use crate::common::{check_count, check_varies, log_fit_file, put_param_spreads};
use crate::data::XyPoints;
use crate::error::Result;
use crate::fitfile::FitFile;
use crate::logfit::{fit_line, fit_log, FitSummary, Model};
pub use crate::logfit::{LinearObjective, LogXy};
use crate::noise::Noise;
use crate::options::FitOptions;
use crate::solver::Objective;
use crate::stats::huber;

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
            let k = self.pts.k[i];
            let r = k * (s.ln() - self.pts.ly[i]);
            let w = self.pts.w[i];
            f += w * huber(r, d);
            let q = w * k * r.clamp(-d, d) / s;
            g0 += q * t;
            g1 += q * t * self.pts.u[i];
            g2 += q * c;
        }
        *g = [g0, g1, g2];
        f
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

/// `a·x^b (+ c)` for natural parameters `[a, b]` or `[a, b, c]`.
pub fn predict(p: &[f64], x: f64) -> f64 {
    p[0] * x.powf(p[1]) + p.get(2).copied().unwrap_or(0.0)
}

/// The log-space noise of (x, y) points with standard errors of y, and the points' residual
/// multipliers ([`crate::noise`]); `(None, unit multipliers)` without standard errors.
pub(crate) fn xy_noise(points: &XyPoints) -> (Option<Noise>, Vec<f64>) {
    match &points.se {
        Some(se) => {
            let noise = Noise::new(&points.y, se);
            let k = noise.weights();
            (Some(noise), k)
        }
        None => (None, vec![1.0; points.y.len()]),
    }
}

/// Fits `y = a·x^b` (or `+ c` with [`FitOptions::with_offset`]) to (x, y) points, weighting each
/// point by its standard error when the points carry them.
pub fn fit(points: &XyPoints, opts: &FitOptions) -> Result<FitFile> {
    const LAW: &str = "power";
    let n_params = if opts.offset { 3 } else { 2 };
    check_count(LAW, points.x.len(), n_params)?;
    check_varies(
        LAW,
        &points.x,
        "x",
        "the exponent b is undefined",
        "use data with more than one x value",
    )?;
    let (noise, k) = xy_noise(points);
    let pts = LogXy::new(
        points.x.iter().map(|x| x.ln()).collect(),
        points.y.iter().map(|y| y.ln()).collect(),
    )
    .with_k(k);
    let (names, est, samples, lf_info): (Vec<&str>, Vec<f64>, Vec<Vec<f64>>, FitSummary) =
        if opts.offset {
            let names = vec!["a", "b", "c"];
            let nat = |t: &[f64; 3]| vec![t[0].exp(), t[1], t[2].exp()];
            let fitted = |t: &[f64; 3], d: &LogXy| {
                let c = t[2].exp();
                d.u.iter()
                    .map(|u| ((t[0] + t[1] * u).exp() + c).ln())
                    .collect()
            };
            let model = Model {
                law: LAW,
                names: &names,
                natural: &nat,
                fitted: &fitted,
            };
            let lf = fit_log(
                &model,
                &pts,
                noise.as_ref(),
                &offset_starts(&pts),
                opts,
                |d, p, g| {
                    OffsetObjective {
                        pts: d,
                        delta: opts.delta,
                    }
                    .value_grad(p, g)
                },
            )?;
            let samples = lf.reps.iter().map(nat).collect();
            (names, nat(&lf.best.params), samples, lf.summary())
        } else {
            let names = vec!["a", "b"];
            let nat = |t: &[f64; 2]| vec![t[0].exp(), t[1]];
            let lf = fit_line(LAW, &names, &nat, &pts, noise.as_ref(), opts)?;
            let samples = lf.reps.iter().map(nat).collect();
            (names, nat(&lf.best.params), samples, lf.summary())
        };
    let resid: Vec<f64> = (0..points.x.len())
        .map(|i| points.y[i].ln() - predict(&est, points.x[i]).ln())
        .collect();
    let mut f = log_fit_file(
        LAW,
        &names,
        est,
        samples,
        &lf_info,
        opts,
        &points.origin,
        &resid,
    );
    f.data.x = Some(points.x_name.clone());
    f.data.y = Some(points.y_name.clone());
    put_param_spreads(&mut f);
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
            se: None,
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
