//! Predictions from a fit.json, each with a 95 % interval: the point estimate comes from the
//! fitted parameters, the interval and standard error from pushing every bootstrap parameter
//! replicate (`samples`) through the same formula and taking percentiles.

use crate::bootstrap::spread;
use crate::error::{Error, Result};
use crate::fitfile::FitFile;
use crate::law::law_of;

/// A predicted quantity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// From the point estimate of the parameters.
    pub value: f64,
    /// Percentile 95 % interval over the bootstrap replicates (`None` without replicates).
    pub ci95: Option<[f64; 2]>,
    /// Bootstrap standard error (`None` without replicates).
    pub stderr: Option<f64>,
}

/// The compute-optimal allocation at one budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Allocation {
    /// Compute (FLOPs).
    pub c: f64,
    /// Optimal non-embedding parameters.
    pub n_opt: Estimate,
    /// Optimal training tokens.
    pub d_opt: Estimate,
    /// D_opt / N_opt.
    pub tokens_per_param: Estimate,
    /// Loss at the optimum (laws that model loss: chinchilla).
    pub loss: Option<Estimate>,
}

/// Evaluates `g` on the point estimate and on each replicate.
fn estimate(fit: &FitFile, g: impl Fn(&[f64]) -> f64) -> Estimate {
    let reps: Vec<f64> = fit.samples.values.iter().map(|s| g(s)).collect();
    let s = spread(&reps);
    Estimate {
        value: g(&fit.param_vector()),
        ci95: s.map(|s| s.ci95),
        stderr: s.map(|s| s.stderr),
    }
}

fn unsupported(fit: &FitFile, what: &'static str, hint: &'static str) -> Error {
    Error::Unsupported {
        law: fit.law.clone(),
        what,
        hint,
    }
}

/// Loss at (N, D): chinchilla and kaplan (joint, or one-variable at its own variable).
pub fn loss(fit: &FitFile, n: f64, d: f64) -> Result<Estimate> {
    let law = law_of(fit)?;
    let p = fit.param_vector();
    if law.loss(&p, n, d).is_none() {
        return Err(unsupported(
            fit,
            "a loss at (N, D)",
            "; use --compute for isoflop/envelope fits, --x for power/doubling",
        ));
    }
    Ok(estimate(fit, |p| law.loss(p, n, d).unwrap_or(f64::NAN)))
}

/// The compute-optimal allocation at `c` FLOPs: chinchilla, isoflop and envelope.
pub fn allocation(fit: &FitFile, c: f64) -> Result<Allocation> {
    let law = law_of(fit)?;
    let Some((_, _, loss)) = law.optimum(&fit.param_vector(), c) else {
        return Err(unsupported(
            fit,
            "a compute-optimal allocation",
            "; fit --law chinchilla, isoflop or envelope",
        ));
    };
    let q = |p: &[f64], k: usize| match law.optimum(p, c) {
        Some((n, d, l)) => [n, d, d / n, l.unwrap_or(f64::NAN)][k],
        None => f64::NAN,
    };
    Ok(Allocation {
        c,
        n_opt: estimate(fit, |p| q(p, 0)),
        d_opt: estimate(fit, |p| q(p, 1)),
        tokens_per_param: estimate(fit, |p| q(p, 2)),
        loss: loss.map(|_| estimate(fit, |p| q(p, 3))),
    })
}

/// The optimal (peak learning rate, batch in tokens) at `c` FLOPs: hyper-parameter fits.
pub fn hparams(fit: &FitFile, c: f64) -> Result<(Estimate, Estimate)> {
    let law = law_of(fit)?;
    if law.hparams_at(&fit.param_vector(), c).is_none() {
        return Err(unsupported(
            fit,
            "an optimal learning rate and batch",
            "; fit --law hparams to a learning-rate × batch sweep",
        ));
    }
    let q = |p: &[f64], k: usize| law.hparams_at(p, c).map_or(f64::NAN, |v| [v.0, v.1][k]);
    Ok((estimate(fit, |p| q(p, 0)), estimate(fit, |p| q(p, 1))))
}

/// y at x: power (`a·x^b (+c)`), doubling (x in decimal years for dates), single-variable kaplan.
pub fn value_at(fit: &FitFile, x: f64) -> Result<Estimate> {
    let law = law_of(fit)?;
    if law.value_at(&fit.param_vector(), x).is_none() {
        return Err(unsupported(
            fit,
            "y at x",
            "; use --n/--d for a loss, --compute for an allocation",
        ));
    }
    Ok(estimate(fit, |p| law.value_at(p, x).unwrap_or(f64::NAN)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chinchilla;
    use crate::options::FitOptions;
    use crate::synth::chinchilla_points;

    #[test]
    fn predict_uses_replicates_for_intervals() {
        let truth = [1.8, 480.0, 2000.0, 0.35, 0.37];
        let pts = chinchilla_points(&truth, 60, (1e7, 1e10), (2.0, 200.0), 0.005, 2);
        // A few starts near the truth keep this test fast; the full grid is tested elsewhere.
        let opts = FitOptions::default()
            .with_bootstrap(100)
            .unwrap()
            .with_starts(vec![[6.0, 7.0, 0.5, 0.3, 0.3], [5.0, 8.0, 0.0, 0.5, 0.5]])
            .unwrap();
        let f = chinchilla::fit(&pts, &opts).unwrap();
        let e = loss(&f, 1e9, 2e10).unwrap();
        let ci = e.ci95.unwrap();
        assert!(ci[0] < e.value && e.value < ci[1]);
        let true_l = chinchilla::predict(&truth, 1e9, 2e10);
        assert!((e.value / true_l - 1.0).abs() < 0.01);
        let a = allocation(&f, 1e21).unwrap();
        assert!((6.0 * a.n_opt.value * a.d_opt.value / 1e21 - 1.0).abs() < 1e-9);
        assert!(a.loss.is_some());
        let e = value_at(&f, 3.0).unwrap_err().to_string();
        assert!(e.contains("cannot predict y at x"), "{e}");
        // Round trip through JSON keeps predictions identical.
        let back = FitFile::from_json(std::path::Path::new("f"), &f.to_json()).unwrap();
        assert_eq!(
            loss(&back, 1e9, 2e10).unwrap(),
            loss(&f, 1e9, 2e10).unwrap()
        );
    }
}
