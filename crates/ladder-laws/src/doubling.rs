//! Exponential growth in time with a doubling time (DESIGN §4 "Trends"), e.g. the task horizon
//! of models against release date: `y = y0·2^((t − t0)/T)`.
//!
//! `t0` is fixed at the mean of t (not fitted: it only names where y0 is read, and at the mean
//! y0 and the rate are uncorrelated). The fit is `ln y = ln y0 + r·(t − t0)` with Huber_δ on the
//! log residuals, started from ordinary least squares; `T = ln 2 / r`. Dates are decimal years,
//! so T is in years. The interval of T is the image of r's percentile interval under
//! `r ↦ ln 2 / r` (the same as T's own percentiles when r stays > 0; unbounded when r's interval
//! reaches 0, i.e. growth is not established).

use crate::common::{check_count, check_varies, column, data_info, put_spread, residual_stats};
use crate::data::XyPoints;
use crate::error::Result;
use crate::fitfile::{Derived, FitFile, FitInfo, Interval, Named, Samples, FIT_FILE_VERSION};
use crate::options::FitOptions;
use crate::power::{not_converged, pairs_bootstrap, LinearObjective, LogXy};
use crate::solver::minimize;
use crate::stats::{interval95, std_dev};

/// Parameter names in fit.json order.
pub const PARAMS: [&str; 3] = ["y0", "t0", "doubling_time"];

/// `y0·2^((t − t0)/T)` for natural parameters `[y0, t0, T]`.
pub fn predict(p: &[f64], t: f64) -> f64 {
    p[0] * ((t - p[1]) / p[2]).exp2()
}

/// Fits the doubling law to (t, y) points.
pub fn fit(points: &XyPoints, opts: &FitOptions) -> Result<FitFile> {
    const LAW: &str = "doubling";
    check_count(LAW, points.x.len(), 2)?;
    check_varies(
        LAW,
        &points.x,
        "x",
        "the growth rate is undefined",
        "use data from more than one time",
    )?;
    let t0 = points.x.iter().sum::<f64>() / points.x.len() as f64;
    let pts = LogXy::new(
        points.x.iter().map(|t| t - t0).collect(),
        points.y.iter().map(|y| y.ln()).collect(),
    );
    let ln2 = std::f64::consts::LN_2;
    let nat = |th: &[f64; 2]| vec![th[0].exp(), t0, ln2 / th[1]];
    let start = pts.ols().map_or([0.0, 0.0], |(c, s)| [c, s]);
    let obj = LinearObjective {
        pts: &pts,
        delta: opts.delta,
    };
    let m = minimize(&obj, start, &opts.lbfgs);
    if !m.stop.converged() {
        return Err(not_converged(
            LAW,
            1,
            &PARAMS,
            Some((m.value, nat(&m.params))),
        ));
    }
    // Replicates keep (y0, t0, r): r, not T, is the smooth quantity; T = ln 2/r is taken after.
    let reps = pairs_bootstrap(pts.len(), opts, |counts| {
        let sub = pts.weighted(counts);
        let o = LinearObjective {
            pts: &sub,
            delta: opts.delta,
        };
        let r = minimize(&o, m.params, &opts.lbfgs);
        r.stop
            .converged()
            .then(|| vec![r.params[0].exp(), t0, r.params[1]])
    });
    let est = nat(&m.params);
    let resid: Vec<f64> = (0..points.x.len())
        .map(|i| points.y[i].ln() - predict(&est, points.x[i]).ln())
        .collect();
    let rates: Vec<f64> = column(&reps, 2);
    // Samples as (y0, t0, T), dropping the (measure-zero) replicates with r = 0 exactly.
    let samples: Vec<Vec<f64>> = reps
        .iter()
        .filter(|r| r[2] != 0.0)
        .map(|r| vec![r[0], r[1], ln2 / r[2]])
        .collect();
    let mut f = FitFile {
        law: LAW.to_string(),
        params: Named(
            PARAMS
                .iter()
                .map(|s| s.to_string())
                .zip(est.clone())
                .collect(),
        ),
        ci95: Named::new(),
        stderr: Named::new(),
        derived: Derived::default(),
        fit: FitInfo {
            objective: "huber".to_string(),
            delta: Some(opts.delta),
            best: m.value,
            starts: 1,
            converged: 1,
            bootstrap: opts.bootstrap,
            seed: opts.seed,
            bootstrap_used: samples.len(),
            resample: "points".to_string(),
            stop: m.stop.to_string(),
            vertex: None,
        },
        data: data_info(&points.origin, points.x.len()),
        residuals: residual_stats(&resid),
        samples: Samples {
            params: PARAMS.iter().map(|s| s.to_string()).collect(),
            values: samples,
        },
        version: FIT_FILE_VERSION,
    };
    f.data.x = Some(points.x_name.clone());
    f.data.y = Some(points.y_name.clone());
    f.data.x_is_date = points.x_is_date;
    put_spread(&mut f.ci95, &mut f.stderr, "y0", &column(&reps, 0));
    if let Some([lo, hi]) = interval95(&rates) {
        let t_ci = if lo > 0.0 || hi < 0.0 {
            [ln2 / hi, ln2 / lo]
        } else {
            // r's interval contains 0: T is unbounded above (no established growth).
            [ln2 / hi, f64::INFINITY]
        };
        f.ci95.push("doubling_time", Interval(t_ci));
        if lo > 0.0 || hi < 0.0 {
            if let Some(se) = std_dev(&column(&f.samples.values, 2)) {
                f.stderr.push("doubling_time", se);
            }
        }
    }
    f.derived.values.push("growth_per_unit", m.params[1].exp());
    let growth: Vec<f64> = rates.iter().map(|r| r.exp()).collect();
    put_spread(
        &mut f.derived.ci95,
        &mut f.derived.stderr,
        "growth_per_unit",
        &growth,
    );
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataSource;
    use crate::stats::ols_line;
    use crate::synth::normal;
    use rand::SeedableRng;

    fn xy(x: Vec<f64>, y: Vec<f64>) -> XyPoints {
        XyPoints {
            x,
            y,
            x_name: "date".into(),
            y_name: "horizon".into(),
            x_is_date: true,
            origin: DataSource {
                source: "synthetic".into(),
                sha256: String::new(),
                skipped: vec![],
            },
        }
    }

    #[test]
    fn doubling_recovers_doubling_time_and_agrees_with_ols() {
        // y doubles every 0.58 years (≈ 7 months) from 2019 to 2025, 40 points, noise sd 0.3 in ln y.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let t_true = 0.58;
        let t: Vec<f64> = (0..40).map(|i| 2019.0 + 6.0 * i as f64 / 39.0).collect();
        let y: Vec<f64> = t
            .iter()
            .map(|&t| 0.1 * ((t - 2019.0) / t_true).exp2() * (0.3 * normal(&mut rng)).exp())
            .collect();
        let f = fit(&xy(t.clone(), y.clone()), &FitOptions::default()).unwrap();
        let td = f.param("doubling_time").unwrap();
        // OLS on ln y: slope s, T = ln 2 / s.
        let ly: Vec<f64> = y.iter().map(|y| y.ln()).collect();
        let (_, s) = ols_line(&t, &ly, None).unwrap();
        let t_ols = std::f64::consts::LN_2 / s;
        // The slope's sd is 0.3/sqrt(Σ(t−t̄)²) ≈ 0.3/11.6 = 0.026 on r ≈ 1.2, ~2 % of T; allow 4 sd.
        assert!(
            (td - t_true).abs() < 0.08 * t_true,
            "T = {td}, truth {t_true}"
        );
        // Huber (near-L1 at δ = 1e-3) and OLS estimate the same slope with similar efficiency.
        assert!(
            (td - t_ols).abs() < 0.05 * t_ols,
            "huber {td} vs ols {t_ols}"
        );
        let ci = f.ci95.get("doubling_time").unwrap().0;
        assert!(ci[0] < td && td < ci[1], "{ci:?}");
        assert!(ci[0] < t_true && t_true < ci[1], "truth outside {ci:?}");
        // prediction at t0 is y0
        let p = f.param_vector();
        assert!((predict(&p, p[1]) - p[0]).abs() < 1e-12);
    }

    #[test]
    fn doubling_interval_is_unbounded_without_growth() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let t: Vec<f64> = (0..20).map(|i| 2020.0 + i as f64 * 0.1).collect();
        let y: Vec<f64> = t.iter().map(|_| (0.5 * normal(&mut rng)).exp()).collect();
        let f = fit(
            &xy(t, y),
            &FitOptions::default().with_bootstrap(300).unwrap(),
        )
        .unwrap();
        let ci = f.ci95.get("doubling_time").unwrap().0;
        assert!(ci[1].is_infinite(), "{ci:?}");
        let json = f.to_json();
        assert!(json.contains("null"), "unbounded side written as null");
    }
}
