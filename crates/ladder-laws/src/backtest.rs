//! Backtests: fit a law on every compute budget but the largest K, then predict what the held-out
//! budgets show and check each truth against its 95 % interval (issue "Laws you can trust").
//!
//! Budgets are grouped as [`isoflop::groups`] does (ln C within 0.01). For each held-out budget:
//!
//! * `best_loss`: the lowest loss reachable at that C. Chinchilla predicts the law's loss at its
//!   compute-optimal (N, D); IsoFLOP extrapolates the fitted budgets' vertex losses with
//!   `L*(C) = E + K·(C_ref/C)^γ` (the loss at the optimum of a Chinchilla surface has this form),
//!   weighted by 1/var(L*) from the vertex bootstrap; it needs ≥ 3 usable fitted budgets, else
//!   only N_opt is checked.
//! * `N_opt`: the compute-optimal size (both laws; IsoFLOP's N0·C^a).
//! * `loss_at_run` (chinchilla): the law's loss at each held-out run's own (N, D).
//!
//! The truth of `best_loss` and `N_opt` is the held-out budget's own vertex by the fit's vertex
//! estimator (`local` by default for chinchilla backtests too); when that budget has no usable
//! vertex, its lowest observed loss and that run's N (`actual_source` says which).

use std::path::PathBuf;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bootstrap::{replicate_rng, spread};
use crate::data::RunPoints;
use crate::error::{Error, Result};
use crate::fitfile::{FitFile, Named};
use crate::isoflop::{self, Group};
use crate::options::{FitOptions, LawKind};
use crate::predict::{self, Estimate};
use crate::stats::{ols_line, std_dev};
use crate::vertex::locate;
use crate::{chinchilla, common};

/// Version of the backtest JSON document.
pub const BACKTEST_VERSION: u32 = 1;

/// The result of `ladder backtest` (`--json` prints it; the report reads `backtest.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    /// `chinchilla` or `isoflop`.
    pub law: String,
    /// Vertex estimator used for IsoFLOP vertices and for the held-out truths.
    pub vertex: String,
    /// Budgets held out (the largest C).
    pub holdout_top: usize,
    /// Compute of the budgets the law was fitted on, ascending.
    pub fit_budgets: Vec<f64>,
    /// Runs the law was fitted on.
    pub fit_points: usize,
    /// Bootstrap replicates of the fit.
    pub bootstrap: usize,
    /// The fitted parameters, in fit.json order.
    pub params: Named<f64>,
    /// One entry per held-out budget, ascending C.
    pub heldout: Vec<HeldOut>,
    /// Checks whose truth lies inside its 95 % interval.
    pub inside: usize,
    /// Checks that have an interval.
    pub with_interval: usize,
    /// Format version ([`BACKTEST_VERSION`]).
    pub version: u32,
}

/// One held-out budget and its checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct HeldOut {
    /// Compute (FLOPs).
    pub C: f64,
    /// Runs in the budget.
    pub runs: usize,
    /// Predictions against what the budget shows.
    pub checks: Vec<Check>,
}

/// One prediction against its truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct Check {
    /// `best_loss`, `N_opt` or `loss_at_run`.
    pub quantity: String,
    /// For `loss_at_run`: the run's N.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub N: Option<f64>,
    /// For `loss_at_run`: the run's D.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub D: Option<f64>,
    /// The prediction.
    pub predicted: f64,
    /// Its 95 % interval (absent without bootstrap replicates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95: Option<[f64; 2]>,
    /// What the held-out runs show.
    pub actual: f64,
    /// Where `actual` comes from (`vertex (local)`, `lowest observed run`, `run`).
    pub actual_source: String,
    /// Standard error of `actual` itself: the held-out runs are noisy measurements too
    /// (bootstrap of the held-out vertex with the losses perturbed by the fit's noise scale).
    pub actual_se: f64,
    /// The 95 % interval for what the held-out budget shows: `ci95` widened in quadrature by
    /// 1.96·`actual_se` on each side. `inside` is judged against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction_interval: Option<[f64; 2]>,
    /// predicted − actual.
    pub error: f64,
    /// 100·(predicted − actual)/actual.
    pub error_pct: f64,
    /// Whether `actual` lies inside `prediction_interval` (absent without an interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inside: Option<bool>,
}

impl Backtest {
    /// A plain-text table for people: one line per check.
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let fitted: Vec<String> = self
            .fit_budgets
            .iter()
            .map(|c| format!("{c:.3e}"))
            .collect();
        let _ = writeln!(
            o,
            "backtest   {} (vertices: {}), fitted on {} budget(s) [{}] ({} runs), {} held out, {} bootstrap replicates",
            self.law,
            self.vertex,
            self.fit_budgets.len(),
            fitted.join(", "),
            self.fit_points,
            self.holdout_top,
            self.bootstrap
        );
        let _ = writeln!(
            o,
            "\n  {:<10} {:<26} {:>12} {:>27} {:>12} {:>12} {:>8}  {:<7} truth from",
            "C", "quantity", "predicted", "95 % interval", "actual", "error", "error %", "inside"
        );
        for h in &self.heldout {
            for c in &h.checks {
                let what = match (c.N, c.D) {
                    (Some(n), Some(d)) => format!("loss N={n:.2e} D={d:.2e}"),
                    _ => c.quantity.clone(),
                };
                let ci = c.prediction_interval.map_or("-".to_string(), |[lo, hi]| {
                    format!("[{}, {}]", num(lo), num(hi))
                });
                let inside = match c.inside {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "-",
                };
                let _ = writeln!(
                    o,
                    "  {:<10} {:<26} {:>12} {:>27} {:>12} {:>12} {:>8.2}  {:<7} {}",
                    format!("{:.3e}", h.C),
                    what,
                    num(c.predicted),
                    ci,
                    num(c.actual),
                    num(c.error),
                    c.error_pct,
                    inside,
                    c.actual_source
                );
            }
        }
        let _ = writeln!(
            o,
            "\n  {} of {} truths inside their 95 % interval (the law's interval widened by the truth's own noise; --json has both)",
            self.inside, self.with_interval
        );
        o
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// Losses with 4 decimals, sizes in scientific notation.
fn num(x: f64) -> String {
    if x.abs() >= 1e4 {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}

fn check(quantity: &str, e: Estimate, actual: (f64, f64), source: String) -> Check {
    let (actual, actual_se) = actual;
    let widen = |h: f64| (h * h + (1.96 * actual_se).powi(2)).sqrt();
    let pi = e
        .ci95
        .map(|[lo, hi]| [e.value - widen(e.value - lo), e.value + widen(hi - e.value)]);
    let inside = pi.map(|c| c[0] <= actual && actual <= c[1]);
    Check {
        quantity: quantity.to_string(),
        N: None,
        D: None,
        predicted: e.value,
        ci95: e.ci95,
        actual,
        actual_source: source,
        actual_se,
        prediction_interval: pi,
        error: e.value - actual,
        error_pct: 100.0 * (e.value - actual) / actual,
        inside,
    }
}

/// Reads runs as `ladder fit` does for chinchilla and isoflop: one CSV file, or run / sweep
/// directories.
pub fn load_points(inputs: &[PathBuf]) -> Result<RunPoints> {
    match crate::single_csv(inputs)? {
        Some(csv) => RunPoints::from_csv(&csv),
        None => crate::runs::run_points(inputs),
    }
}

/// The backtests `ladder report` and the quickstart show: Chinchilla and IsoFLOP, each refitted
/// without the largest budget and asked to predict it.
pub fn largest_budget_held_out(
    points: &RunPoints,
    opts: &FitOptions,
) -> Vec<(LawKind, Result<Backtest>)> {
    [LawKind::Chinchilla, LawKind::Isoflop]
        .into_iter()
        .map(|law| (law, backtest(points, law, 1, opts)))
        .collect()
}

/// The subset of `points` at `index`.
fn subset(points: &RunPoints, index: &[usize]) -> RunPoints {
    let pick = |v: &[f64]| index.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    let mut out = points.clone();
    out.n = pick(&points.n);
    out.d = pick(&points.d);
    out.loss = pick(&points.loss);
    out.c = pick(&points.c);
    out.se = points.se.as_deref().map(pick);
    out
}

/// What a held-out budget shows, with standard errors.
struct Truth {
    n_opt: (f64, f64),
    loss: (f64, f64),
    source: String,
}

/// The held-out budget's truth: its vertex `(N_opt, loss)` by the fit's estimator, else its
/// lowest observed run; standard errors from perturbing its losses by `sigma` (ln loss).
fn truth(g: &Group, sigma: f64, opts: &FitOptions) -> Truth {
    let method = opts.vertex();
    match locate(method, &g.x, &g.loss) {
        Ok((x, l)) => {
            let reps: Vec<(f64, f64)> = (0..opts.bootstrap() as u64)
                .into_par_iter()
                .filter_map(|b| {
                    // A stream apart from the fit's replicates.
                    let mut rng = replicate_rng(opts.seed() ^ TRUTH_STREAM, b);
                    let y: Vec<f64> = g
                        .loss
                        .iter()
                        .map(|l| l * (sigma * crate::synth::normal(&mut rng)).exp())
                        .collect();
                    locate(method, &g.x, &y).ok().map(|(x, l)| (x.exp(), l))
                })
                .collect();
            let se = |v: Vec<f64>| std_dev(&v).unwrap_or(0.0);
            Truth {
                n_opt: (x.exp(), se(reps.iter().map(|r| r.0).collect())),
                loss: (l, se(reps.iter().map(|r| r.1).collect())),
                source: format!("vertex ({})", method.name()),
            }
        }
        Err(why) => {
            let mut j = 0;
            for (i, l) in g.loss.iter().enumerate() {
                if *l < g.loss[j] {
                    j = i;
                }
            }
            Truth {
                n_opt: (g.x[j].exp(), 0.0),
                loss: (g.loss[j], sigma * g.loss[j]),
                source: format!("lowest observed run (no vertex: {why})"),
            }
        }
    }
}

/// Seed offset of the truths' bootstrap streams.
const TRUTH_STREAM: u64 = 0x7472_7574_6800;

/// Backtests `law` (chinchilla or isoflop) on `points`, holding out the `holdout_top` largest
/// budgets.
pub fn backtest(
    points: &RunPoints,
    law: LawKind,
    holdout_top: usize,
    opts: &FitOptions,
) -> Result<Backtest> {
    let (name, needed) = match law {
        LawKind::Chinchilla => ("chinchilla", 2),
        LawKind::Isoflop => ("isoflop", 2),
        other => {
            return Err(Error::InvalidOption {
                name: "--law",
                value: other.name().to_string(),
                rule: "backtests support chinchilla and isoflop",
            })
        }
    };
    if holdout_top == 0 {
        return Err(Error::InvalidOption {
            name: "--holdout-top",
            value: "0".to_string(),
            rule: "must be >= 1 (a backtest needs a budget to predict)",
        });
    }
    let gs = isoflop::groups(points);
    let total = gs.len();
    if holdout_top + needed > total {
        return Err(Error::HoldoutTooLarge {
            law: name,
            holdout: holdout_top,
            left: total.saturating_sub(holdout_top),
            total,
            needed,
            max: total.saturating_sub(needed),
        });
    }
    let split = total - holdout_top;
    let fit_index: Vec<usize> = gs[..split].iter().flat_map(|g| g.index.clone()).collect();
    let train = subset(points, &fit_index);
    let mut heldout = Vec::new();
    let fit: FitFile;
    match law {
        LawKind::Chinchilla => {
            fit = chinchilla::fit(&train, opts)?;
            // The law's residual scale stands for the runs' noise (it includes any misfit).
            let sigma = fit.residuals.rmse_log;
            for g in &gs[split..] {
                let t = truth(g, sigma, opts);
                let a = predict::allocation(&fit, g.c)?;
                let mut checks = Vec::new();
                if let Some(l) = a.loss {
                    checks.push(check("best_loss", l, t.loss, t.source.clone()));
                }
                checks.push(check("N_opt", a.n_opt, t.n_opt, t.source));
                for &i in &g.index {
                    let e = predict::loss(&fit, points.n[i], points.d[i])?;
                    let actual = (points.loss[i], sigma * points.loss[i]);
                    let mut c = check("loss_at_run", e, actual, "run".to_string());
                    c.N = Some(points.n[i]);
                    c.D = Some(points.d[i]);
                    checks.push(c);
                }
                heldout.push(HeldOut {
                    C: g.c,
                    runs: g.index.len(),
                    checks,
                });
            }
        }
        _ => {
            let parts = isoflop::fit_parts(&train, train.se.as_deref(), opts)?;
            let loss_law = vertex_loss_law(&parts);
            let (_, sigma, _) = isoflop::noise_scale(&parts.groups);
            fit = parts.fit;
            for g in &gs[split..] {
                let t = truth(g, sigma, opts);
                let a = predict::allocation(&fit, g.c)?;
                let mut checks = Vec::new();
                if let Some((c_ref, (est, reps))) = &loss_law {
                    let at = |p: &[f64; 3]| floor_power_at(p, *c_ref, g.c);
                    let r: Vec<f64> = reps.iter().map(at).collect();
                    let s = spread(&r);
                    let e = Estimate {
                        value: at(est),
                        ci95: s.map(|s| s.ci95),
                        stderr: s.map(|s| s.stderr),
                    };
                    checks.push(check("best_loss", e, t.loss, t.source.clone()));
                }
                checks.push(check("N_opt", a.n_opt, t.n_opt, t.source));
                heldout.push(HeldOut {
                    C: g.c,
                    runs: g.index.len(),
                    checks,
                });
            }
        }
    }
    let all = heldout.iter().flat_map(|h| &h.checks);
    let with_interval = all.clone().filter(|c| c.inside.is_some()).count();
    let inside = all.filter(|c| c.inside == Some(true)).count();
    Ok(Backtest {
        law: name.to_string(),
        vertex: opts.vertex().name().to_string(),
        holdout_top,
        fit_budgets: gs[..split].iter().map(|g| g.c).collect(),
        fit_points: train.len(),
        bootstrap: opts.bootstrap(),
        params: fit.params.clone(),
        heldout,
        inside,
        with_interval,
        version: BACKTEST_VERSION,
    })
}

/// The vertex-loss law `L*(C) = E + K·(C/C_ref)^(−γ)` through the usable vertices (weighted by
/// 1/var(L*) of their replicates, equal weights when a variance is missing), and the same fit per
/// replicate. `None` with fewer than 3 usable vertices (3 parameters).
type LossLaw = ([f64; 3], Vec<[f64; 3]>);

/// Weighted least squares of `y = E + K·u^γ` over γ (profiled: E and K are linear for fixed γ),
/// with E ≥ 0 and K > 0, on u = C_ref/C; returns `[E, K, γ]`.
fn floor_power(u: &[f64], y: &[f64], w: &[f64]) -> Option<[f64; 3]> {
    let at = |g: f64| -> Option<([f64; 3], f64)> {
        let z: Vec<f64> = u.iter().map(|u| u.powf(g)).collect();
        let (mut e, mut k) = ols_line(&z, y, Some(w))?;
        if e < 0.0 {
            // On the bound E = 0: K by weighted least squares through the origin.
            e = 0.0;
            let (szy, szz) = (0..z.len()).fold((0.0, 0.0), |a, i| {
                (a.0 + w[i] * z[i] * y[i], a.1 + w[i] * z[i] * z[i])
            });
            k = szy / szz;
        }
        if k.is_nan() || k <= 0.0 {
            return None;
        }
        let sse = (0..z.len())
            .map(|i| w[i] * (y[i] - e - k * z[i]).powi(2))
            .sum();
        Some(([e, k, g], sse))
    };
    // γ on a grid over (0, 2], refined by golden section around the best grid point.
    let grid: Vec<f64> = (1..=200).map(|i| i as f64 * 0.01).collect();
    let mut best: Option<([f64; 3], f64, usize)> = None;
    for (i, &g) in grid.iter().enumerate() {
        if let Some((p, s)) = at(g) {
            if best.as_ref().is_none_or(|b| s < b.1) {
                best = Some((p, s, i));
            }
        }
    }
    let (mut p, mut s, i) = best?;
    let (mut lo, mut hi) = (grid[i.saturating_sub(1)], grid[(i + 1).min(grid.len() - 1)]);
    let r = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..40 {
        let (c, d) = (hi - r * (hi - lo), lo + r * (hi - lo));
        let (fc, fd) = (at(c), at(d));
        let sc = fc.map_or(f64::INFINITY, |v| v.1);
        let sd = fd.map_or(f64::INFINITY, |v| v.1);
        if sc < sd {
            hi = d;
        } else {
            lo = c;
        }
        for (v, sv) in [(fc, sc), (fd, sd)] {
            if let Some((pv, _)) = v {
                if sv < s {
                    p = pv;
                    s = sv;
                }
            }
        }
    }
    Some(p)
}

/// L* at compute `c` from `[E, K, γ]` fitted on u = c_ref/C.
fn floor_power_at(p: &[f64; 3], c_ref: f64, c: f64) -> f64 {
    p[0] + p[1] * (c_ref / c).powf(p[2])
}

fn vertex_loss_law(parts: &isoflop::Parts) -> Option<(f64, LossLaw)> {
    if parts.usable.len() < 3 {
        return None;
    }
    let budgets = &parts.fit.derived.budgets;
    // C_ref: the largest fitted budget, so u ≥ 1 and K is the excess loss there.
    let c_ref = parts
        .usable
        .iter()
        .map(|&k| parts.groups[k].c)
        .fold(0.0, f64::max);
    let u: Vec<f64> = parts
        .usable
        .iter()
        .map(|&k| c_ref / parts.groups[k].c)
        .collect();
    let y: Vec<f64> = parts
        .usable
        .iter()
        .map(|&k| budgets[k].loss.unwrap_or(f64::NAN))
        .collect();
    let var: Vec<f64> = parts
        .usable
        .iter()
        .map(|&k| {
            let v: Vec<f64> = parts
                .reps
                .iter()
                .filter_map(|r| r[k].map(|v| v.1))
                .collect();
            std_dev(&v).map_or(0.0, |s| s * s)
        })
        .collect();
    let w: Vec<f64> = if var.iter().all(|v| *v > 0.0 && v.is_finite()) {
        var.iter().map(|v| 1.0 / v).collect()
    } else {
        vec![1.0; var.len()]
    };
    let est = floor_power(&u, &y, &w)?;
    let reps = parts
        .reps
        .par_iter()
        .filter_map(|r| {
            let (mut x, mut yb, mut wb) = (vec![], vec![], vec![]);
            for (j, &k) in parts.usable.iter().enumerate() {
                if let Some((_, l)) = r[k] {
                    x.push(u[j]);
                    yb.push(l);
                    wb.push(w[j]);
                }
            }
            if common::distinct(&x) < 3 {
                return None;
            }
            floor_power(&x, &yb, &wb)
        })
        .collect();
    Some((c_ref, (est, reps)))
}
