//! Chinchilla "Approach 2", IsoFLOP profiles (Hoffmann et al. 2022, §3.2; DESIGN §4).
//!
//! 1. Runs are grouped into budgets by C (the `C` column, else 6·N·D); runs whose ln C lie within
//!    0.01 (≈ 1 %) of a group's first are one budget.
//! 2. Per budget with ≥ 3 distinct N, a least-squares parabola of loss in x = ln N; its vertex
//!    `x* = −c1/(2·c2)` gives N_opt(C) = e^{x*}, D_opt = C/(6·N_opt), and the loss there.
//!    A budget whose parabola opens downwards, or whose vertex lies outside the sampled N range
//!    (an extrapolation), is kept in `derived.budgets` with `in_range: false` and a note, and is
//!    not used for the power law.
//! 3. `ln N_opt = ln N0 + a·ln C` and `ln D_opt = ln D0 + b·ln C` by least squares over the
//!    in-range vertices (so b = 1 − a and D0 = 1/(6·N0)).
//!
//! Bootstrap: the N values of an IsoFLOP design are chosen, not sampled, so replicates resample
//! the parabola residuals within each budget (scaled by √(n/(n−3)) for the three fitted
//! coefficients), refit the parabolas and the power laws. A replicate uses the budgets that were
//! in range for the point estimate and whose replicate vertex is still in range.

use rayon::prelude::*;

use crate::bootstrap::replicate_rng;
use crate::common::{check_varies, column, data_info, distinct, put_spread, residual_stats};
use crate::data::RunPoints;
use crate::error::{Error, Result};
use crate::fitfile::{Budget, Derived, FitFile, FitInfo, Named, Samples, FIT_FILE_VERSION};
use crate::options::FitOptions;
use crate::stats::{ols_line, ols_parabola};
use rand::Rng;

/// Parameter names in fit.json order: N_opt = N0·C^a, D_opt = D0·C^b.
pub const PARAMS: [&str; 4] = ["a", "N0", "b", "D0"];

/// One bootstrap replicate: the power-law parameters (when ≥ 2 vertices were usable) and each
/// budget's vertex `(N_opt, loss)` (when its parabola opened upwards).
type Replicate = (Option<[f64; 4]>, Vec<Option<(f64, f64)>>);

/// Budgets closer than this in ln C are one budget.
const SAME_BUDGET_LN: f64 = 0.01;

/// One budget's runs and parabola.
#[derive(Clone, Debug)]
struct Group {
    c: f64,
    x: Vec<f64>,
    loss: Vec<f64>,
    /// Parabola coefficients when ≥ 3 distinct N make it defined.
    coef: Option<[f64; 3]>,
}

/// Vertex of a parabola: (x*, loss at x*), or `None` when it opens downwards.
fn vertex(c: &[f64; 3]) -> Option<(f64, f64)> {
    if c[2].is_nan() || c[2] <= 0.0 {
        return None;
    }
    let x = -c[1] / (2.0 * c[2]);
    Some((x, c[0] + c[1] * x + c[2] * x * x))
}

fn in_range(x: f64, xs: &[f64]) -> bool {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    x >= lo && x <= hi
}

fn groups(points: &RunPoints) -> Vec<Group> {
    let mut idx: Vec<usize> = (0..points.len()).collect();
    idx.sort_by(|&a, &b| points.c[a].total_cmp(&points.c[b]));
    let mut out: Vec<Group> = Vec::new();
    let mut first_ln_c = f64::NEG_INFINITY;
    let mut members: Vec<Vec<usize>> = Vec::new();
    for i in idx {
        let lc = points.c[i].ln();
        if lc - first_ln_c > SAME_BUDGET_LN || members.is_empty() {
            members.push(vec![i]);
            first_ln_c = lc;
        } else if let Some(m) = members.last_mut() {
            m.push(i);
        }
    }
    for m in members {
        // The budget's C: geometric mean of its runs' C.
        let c = (m.iter().map(|&i| points.c[i].ln()).sum::<f64>() / m.len() as f64).exp();
        let x: Vec<f64> = m.iter().map(|&i| points.n[i].ln()).collect();
        let loss: Vec<f64> = m.iter().map(|&i| points.loss[i]).collect();
        let coef = if distinct(&x) >= 3 {
            ols_parabola(&x, &loss)
        } else {
            None
        };
        out.push(Group { c, x, loss, coef });
    }
    out
}

/// Power-law fit through vertices `(C, N_opt)`: `[a, N0, b, D0]`.
fn power_laws(vertices: &[(f64, f64)]) -> Option<[f64; 4]> {
    let lc: Vec<f64> = vertices.iter().map(|v| v.0.ln()).collect();
    let ln: Vec<f64> = vertices.iter().map(|v| v.1.ln()).collect();
    let ld: Vec<f64> = vertices.iter().map(|v| (v.0 / (6.0 * v.1)).ln()).collect();
    let (n0, a) = ols_line(&lc, &ln, None)?;
    let (d0, b) = ols_line(&lc, &ld, None)?;
    Some([a, n0.exp(), b, d0.exp()])
}

/// `(N_opt, D_opt)` at compute `c` from natural parameters `[a, N0, b, D0]`.
pub fn optimal(p: &[f64], c: f64) -> (f64, f64) {
    (p[1] * c.powf(p[0]), p[3] * c.powf(p[2]))
}

/// Fits IsoFLOP profiles and the N_opt(C), D_opt(C) power laws.
pub fn fit(points: &RunPoints, opts: &FitOptions) -> Result<FitFile> {
    const LAW: &str = "isoflop";
    check_varies(
        LAW,
        &points.n,
        "N",
        "no budget has a loss profile over N",
        "an IsoFLOP profile needs >= 3 model sizes per compute budget",
    )?;
    let gs = groups(points);
    // 1) Vertices of the point estimate.
    let mut budgets = Vec::new();
    let mut usable: Vec<usize> = Vec::new();
    let mut reasons = Vec::new();
    for (k, g) in gs.iter().enumerate() {
        let (in_r, note, n_opt, loss) = match g.coef.as_ref() {
            None => (
                false,
                Some(format!("{} distinct N; a parabola needs 3", distinct(&g.x))),
                f64::NAN,
                None,
            ),
            Some(c) => match vertex(c) {
                None => (
                    false,
                    Some("loss does not turn up: parabola opens downwards".to_string()),
                    f64::NAN,
                    None,
                ),
                Some((x, l)) => {
                    let ok = in_range(x, &g.x);
                    let note = (!ok).then(|| {
                        format!(
                            "vertex N = {:.3e} outside the sampled N range [{:.3e}, {:.3e}]: extrapolated, not used",
                            x.exp(),
                            g.x.iter().copied().fold(f64::INFINITY, f64::min).exp(),
                            g.x.iter().copied().fold(f64::NEG_INFINITY, f64::max).exp()
                        )
                    });
                    (ok, note, x.exp(), Some(l))
                }
            },
        };
        if in_r {
            usable.push(k);
        } else if let Some(n) = &note {
            reasons.push(format!("C = {:.3e}: {n}", g.c));
        }
        budgets.push(Budget {
            C: g.c,
            N_opt: n_opt,
            D_opt: g.c / (6.0 * n_opt),
            tokens_per_param: g.c / (6.0 * n_opt * n_opt),
            loss,
            ci95: Named::new(),
            stderr: Named::new(),
            kind: "vertex".to_string(),
            in_range: Some(in_r),
            points: Some(g.x.len()),
            note,
        });
    }
    if usable.len() < 2 {
        return Err(Error::TooFewBudgets {
            law: LAW,
            usable: usable.len(),
            total: gs.len(),
            detail: if reasons.is_empty() {
                "Add budgets (runs sharing a C value) with >= 3 model sizes each.".to_string()
            } else {
                format!(
                    "{}. Sample model sizes on both sides of the optimum.",
                    reasons.join("; ")
                )
            },
        });
    }
    let verts: Vec<(f64, f64)> = usable
        .iter()
        .map(|&k| (budgets[k].C, budgets[k].N_opt))
        .collect();
    let est = power_laws(&verts).ok_or_else(|| Error::TooFewBudgets {
        law: LAW,
        usable: usable.len(),
        total: gs.len(),
        detail: "the usable budgets share one C".to_string(),
    })?;

    // 2) Residual bootstrap within budgets.
    let reps: Vec<Replicate> = (0..opts.bootstrap as u64)
        .into_par_iter()
        .map(|b| {
            let mut rng = replicate_rng(opts.seed, b);
            let mut verts_b = Vec::new();
            let mut per_budget = Vec::with_capacity(gs.len());
            for (k, g) in gs.iter().enumerate() {
                let Some(c) = g.coef else {
                    per_budget.push(None);
                    continue;
                };
                let fitted: Vec<f64> = g.x.iter().map(|x| c[0] + c[1] * x + c[2] * x * x).collect();
                let n = g.x.len();
                let scale = (n as f64 / (n as f64 - 3.0).max(1.0)).sqrt();
                let res: Vec<f64> = (0..n).map(|i| (g.loss[i] - fitted[i]) * scale).collect();
                let y: Vec<f64> = (0..n)
                    .map(|i| fitted[i] + res[rng.random_range(0..n)])
                    .collect();
                let v = ols_parabola(&g.x, &y).and_then(|cb| vertex(&cb));
                if let Some((x, _)) = v {
                    if usable.contains(&k) && in_range(x, &g.x) {
                        verts_b.push((g.c, x.exp()));
                    }
                }
                per_budget.push(v.map(|(x, l)| (x.exp(), l)));
            }
            let p = (verts_b.len() >= 2).then(|| power_laws(&verts_b)).flatten();
            (p, per_budget)
        })
        .collect();
    let samples: Vec<Vec<f64>> = reps
        .iter()
        .filter_map(|r| r.0.map(|p| p.to_vec()))
        .filter(|p| p.iter().all(|x| x.is_finite()))
        .collect();
    for (k, b) in budgets.iter_mut().enumerate() {
        let v: Vec<(f64, f64)> = reps.iter().filter_map(|r| r.1[k]).collect();
        let n: Vec<f64> = v.iter().map(|v| v.0).collect();
        put_spread(&mut b.ci95, &mut b.stderr, "N_opt", &n);
        let d: Vec<f64> = n.iter().map(|n| b.C / (6.0 * n)).collect();
        put_spread(&mut b.ci95, &mut b.stderr, "D_opt", &d);
        let t: Vec<f64> = n.iter().map(|n| b.C / (6.0 * n * n)).collect();
        put_spread(&mut b.ci95, &mut b.stderr, "tokens_per_param", &t);
        put_spread(
            &mut b.ci95,
            &mut b.stderr,
            "loss",
            &v.iter().map(|v| v.1).collect::<Vec<_>>(),
        );
    }

    // 3) Residuals of the parabolas (in ln loss) over budgets with a parabola.
    let mut resid = Vec::new();
    for g in &gs {
        if let Some(c) = g.coef {
            for (x, l) in g.x.iter().zip(&g.loss) {
                let fit = c[0] + c[1] * x + c[2] * x * x;
                resid.push(l.ln() - fit.max(f64::MIN_POSITIVE).ln());
            }
        }
    }
    let mut f = assemble_power(
        LAW,
        est,
        samples,
        &budgets,
        opts,
        "residuals within budgets",
    );
    f.data = data_info(&points.origin, points.len());
    f.residuals = residual_stats(&resid);
    f.fit.objective = "ols".to_string();
    f.fit.delta = None;
    f.fit.starts = gs.len();
    f.fit.converged = usable.len();
    f.fit.best = budgets_sse(&gs);
    f.fit.stop = format!("{} of {} budgets usable", usable.len(), gs.len());
    Ok(f)
}

fn budgets_sse(gs: &[Group]) -> f64 {
    let mut s = 0.0;
    for g in gs {
        if let Some(c) = g.coef {
            for (x, l) in g.x.iter().zip(&g.loss) {
                s += (l - (c[0] + c[1] * x + c[2] * x * x)).powi(2);
            }
        }
    }
    s
}

/// fit.json for the power laws N_opt = N0·C^a, D_opt = D0·C^b (isoflop and envelope): parameters,
/// spreads, the given per-budget entries, then requested budgets from the law.
pub(crate) fn assemble_power(
    law: &str,
    est: [f64; 4],
    samples: Vec<Vec<f64>>,
    budgets: &[Budget],
    opts: &FitOptions,
    resample: &str,
) -> FitFile {
    let mut f = FitFile {
        law: law.to_string(),
        params: Named(PARAMS.iter().map(|s| s.to_string()).zip(est).collect()),
        ci95: Named::new(),
        stderr: Named::new(),
        derived: Derived::default(),
        fit: FitInfo {
            objective: "ols".to_string(),
            delta: None,
            best: 0.0,
            starts: 0,
            converged: 0,
            bootstrap: opts.bootstrap,
            seed: opts.seed,
            bootstrap_used: samples.len(),
            resample: resample.to_string(),
            stop: String::new(),
            weighted: false,
        },
        data: data_info(
            &crate::data::DataSource {
                source: String::new(),
                sha256: String::new(),
                skipped: vec![],
            },
            0,
        ),
        residuals: residual_stats(&[]),
        samples: Samples {
            params: PARAMS.iter().map(|s| s.to_string()).collect(),
            values: samples,
        },
        version: FIT_FILE_VERSION,
    };
    for (j, name) in PARAMS.iter().enumerate() {
        put_spread(
            &mut f.ci95,
            &mut f.stderr,
            name,
            &column(&f.samples.values, j),
        );
    }
    f.derived.a = Some(est[0]);
    f.derived.b = Some(est[2]);
    put_spread(
        &mut f.derived.ci95,
        &mut f.derived.stderr,
        "a",
        &column(&f.samples.values, 0),
    );
    put_spread(
        &mut f.derived.ci95,
        &mut f.derived.stderr,
        "b",
        &column(&f.samples.values, 2),
    );
    f.derived.budgets = budgets.to_vec();
    for &c in &opts.budgets {
        f.derived
            .budgets
            .push(law_budget(&est, &f.samples.values, c));
    }
    f
}

/// The allocation at `c` from the power laws, with bootstrap spreads.
pub fn law_budget(p: &[f64], samples: &[Vec<f64>], c: f64) -> Budget {
    let (n, d) = optimal(p, c);
    let mut ci95 = Named::new();
    let mut stderr = Named::new();
    let reps: Vec<(f64, f64)> = samples.iter().map(|s| optimal(s, c)).collect();
    put_spread(
        &mut ci95,
        &mut stderr,
        "N_opt",
        &reps.iter().map(|r| r.0).collect::<Vec<_>>(),
    );
    put_spread(
        &mut ci95,
        &mut stderr,
        "D_opt",
        &reps.iter().map(|r| r.1).collect::<Vec<_>>(),
    );
    let tpp: Vec<f64> = reps.iter().map(|r| r.1 / r.0).collect();
    put_spread(&mut ci95, &mut stderr, "tokens_per_param", &tpp);
    Budget {
        C: c,
        N_opt: n,
        D_opt: d,
        tokens_per_param: d / n,
        loss: None,
        ci95,
        stderr,
        kind: "law".to_string(),
        in_range: None,
        points: None,
        note: None,
    }
}
