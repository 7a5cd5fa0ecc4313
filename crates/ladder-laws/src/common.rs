//! Helpers shared by the law drivers: input checks, residual statistics, and the assembly of
//! intervals and standard errors from bootstrap replicates.

use crate::bootstrap::spread;
use crate::data::DataSource;
use crate::error::{Error, Result};
use crate::fitfile::{
    DataInfo, Derived, FitFile, FitInfo, Interval, Named, Residuals, Samples, Skipped,
    FIT_FILE_VERSION,
};
use crate::logfit::FitSummary;
use crate::options::FitOptions;

/// Refuses fewer than `params + 1` points: with no more points than parameters nothing is left
/// to estimate the noise from, and bootstrap replicates become degenerate.
pub(crate) fn check_count(law: &'static str, points: usize, params: usize) -> Result<()> {
    if points <= params {
        return Err(Error::TooFewPoints {
            law,
            points,
            params,
            needed: params + 1,
        });
    }
    Ok(())
}

/// Number of distinct values (relative tolerance 1e-9).
pub(crate) fn distinct(values: &[f64]) -> usize {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mut n = 0;
    let mut last: Option<f64> = None;
    for x in v {
        if last.is_none_or(|l| (x - l).abs() > 1e-9 * l.abs().max(x.abs())) {
            n += 1;
            last = Some(x);
        }
    }
    n
}

/// Refuses a quantity that takes a single value over all points.
pub(crate) fn check_varies(
    law: &'static str,
    values: &[f64],
    column: &'static str,
    why: &'static str,
    fix: &'static str,
) -> Result<()> {
    if distinct(values) < 2 {
        return Err(Error::Unidentifiable {
            law,
            points: values.len(),
            column,
            value: values.first().copied().unwrap_or(f64::NAN),
            why,
            fix,
        });
    }
    Ok(())
}

/// RMSE and max |r| of residuals.
pub(crate) fn residual_stats(r: &[f64]) -> Residuals {
    let n = r.len().max(1) as f64;
    Residuals {
        rmse_log: (r.iter().map(|x| x * x).sum::<f64>() / n).sqrt(),
        max_abs_log: r.iter().fold(0.0f64, |m, x| m.max(x.abs())),
        chi2: None,
        dof: None,
        chi2_dof: None,
        noise_consistent: None,
    }
}

/// The fit.json of a log-space fit: parameters `names` = `est`, replicate rows `samples`, settings,
/// data and residuals (with χ² for weighted fits). Intervals are added by [`put_param_spreads`]
/// (or by the law itself when a parameter needs its own rule).
#[allow(clippy::too_many_arguments)]
pub(crate) fn log_fit_file(
    law: &str,
    names: &[&str],
    est: Vec<f64>,
    samples: Vec<Vec<f64>>,
    lf: &FitSummary,
    opts: &FitOptions,
    origin: &DataSource,
    resid: &[f64],
) -> FitFile {
    let mut residuals = residual_stats(resid);
    if let Some(c) = lf.chi2 {
        residuals.chi2 = Some(c.chi2);
        residuals.dof = Some(c.dof);
        residuals.chi2_dof = Some(c.chi2_dof);
        residuals.noise_consistent = Some(c.consistent);
    }
    FitFile {
        law: law.to_string(),
        params: Named(names.iter().map(|s| s.to_string()).zip(est).collect()),
        ci95: Named::new(),
        stderr: Named::new(),
        derived: Derived::default(),
        fit: FitInfo {
            objective: "huber".to_string(),
            delta: Some(opts.delta),
            best: lf.best,
            starts: lf.starts,
            converged: lf.converged,
            bootstrap: opts.bootstrap,
            seed: opts.seed,
            bootstrap_used: samples.len(),
            resample: lf.scheme.to_string(),
            stop: lf.stop.clone(),
            weighted: lf.chi2.is_some(),
            vertex: None,
            noise: None,
        },
        data: data_info(origin, resid.len()),
        residuals,
        support: None,
        samples: Samples {
            params: names.iter().map(|s| s.to_string()).collect(),
            values: samples,
        },
        frontier: None,
        version: FIT_FILE_VERSION,
    }
}

/// Interval and standard error of every parameter from the replicate rows.
pub(crate) fn put_param_spreads(f: &mut FitFile) {
    for (j, name) in f.samples.params.iter().enumerate() {
        put_spread(
            &mut f.ci95,
            &mut f.stderr,
            name,
            &column(&f.samples.values, j),
        );
    }
}

/// Adds `name`'s percentile interval and standard error over `values` when there are at least two
/// finite replicates.
pub(crate) fn put_spread(
    ci: &mut Named<Interval>,
    se: &mut Named<f64>,
    name: &str,
    values: &[f64],
) {
    if let Some(s) = spread(values) {
        ci.push(name, Interval(s.ci95));
        se.push(name, s.stderr);
    }
}

/// Column `j` of row-major samples.
pub(crate) fn column(samples: &[Vec<f64>], j: usize) -> Vec<f64> {
    samples.iter().map(|r| r[j]).collect()
}

/// `data` of fit.json.
pub(crate) fn data_info(origin: &DataSource, points: usize) -> DataInfo {
    DataInfo {
        source: origin.source.clone(),
        sha256: origin.sha256.clone(),
        points,
        skipped: origin
            .skipped
            .iter()
            .map(|(run, reason)| Skipped {
                run: run.clone(),
                reason: reason.clone(),
            })
            .collect(),
        x: None,
        y: None,
        x_is_date: false,
        identity: crate::fitfile::DataIdentity {
            known: false,
            sources: Vec::new(),
            note: "data identity unknown: the points did not come from run directories".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_counts_with_tolerance() {
        assert_eq!(distinct(&[1e8, 1e8 * (1.0 + 1e-12), 2e8]), 2);
        assert_eq!(distinct(&[]), 0);
        assert!(check_varies("x", &[3.0, 3.0], "N", "w", "f").is_err());
        assert!(check_count("x", 5, 5).is_err());
        assert!(check_count("x", 6, 5).is_ok());
    }
}
