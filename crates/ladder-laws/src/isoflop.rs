//! Chinchilla "Approach 2", IsoFLOP profiles (Hoffmann et al. 2022, §3.2; DESIGN §4).
//!
//! 1. Runs are grouped into budgets by C (the `C` column, else 6·N·D); runs whose ln C lie within
//!    0.01 (≈ 1 %) of a group's first are one budget.
//! 2. Per budget, the vertex (N_opt and the loss there) by the chosen [`crate::vertex::VertexMethod`]
//!    (`--vertex parabola|local|akima`, see [`crate::vertex`]); D_opt = C/(6·N_opt). A budget
//!    without a usable vertex (too few sizes, a profile that does not turn up, a vertex outside
//!    the sampled N range, or for `local`/`akima` a lowest loss at an end of the range) is kept in
//!    `derived.budgets` with `in_range: false` and a note, and is not used for the power law.
//! 3. `ln N_opt = ln N0 + a·ln C` and `ln D_opt = ln D0 + b·ln C` by least squares over the usable
//!    vertices, weighted by 1/var(ln N_opt) of each vertex's bootstrap (so b = 1 − a and
//!    D0 = 1/(6·N0)); unweighted when a vertex has no bootstrap variance (`--bootstrap 0`).
//!
//! Bootstrap (parametric, "perturb the losses by their noise", Porian et al. 2024): each replicate
//! multiplies every loss by e^{σ·ε}, ε ~ N(0, 1), with σ the point's relative standard error
//! (`loss_se`/loss when the input gives one) or else the pooled residual scale of per-budget cubics
//! of ln loss in ln N (a cubic follows an asymmetric profile closely, so what is left is noise).
//! The replicate's vertices give each vertex its interval and variance; the replicate's weighted
//! power law (same weights as the point estimate) gives the intervals of a, N0, b, D0. A replicate
//! uses the budgets usable in the point estimate whose replicate vertex is usable too.

use rayon::prelude::*;

use crate::bootstrap::replicate_rng;
use crate::common::{check_varies, column, data_info, put_spread, residual_stats};
use crate::data::RunPoints;
use crate::error::{Error, Result};
use crate::fitfile::{Budget, Derived, FitFile, FitInfo, Named, Samples, FIT_FILE_VERSION};
use crate::options::FitOptions;
use crate::stats::{ols_line, std_dev};
use crate::vertex::locate;

/// Parameter names in fit.json order: N_opt = N0·C^a, D_opt = D0·C^b.
pub const PARAMS: [&str; 4] = ["a", "N0", "b", "D0"];

/// Budgets closer than this in ln C are one budget.
pub const SAME_BUDGET_LN: f64 = 0.01;

/// One budget's runs.
#[derive(Clone, Debug)]
pub struct Group {
    /// Compute: the geometric mean of its runs' C.
    pub c: f64,
    /// ln N of each run.
    pub x: Vec<f64>,
    /// Loss of each run.
    pub loss: Vec<f64>,
    /// Index of each run in the input points.
    pub index: Vec<usize>,
}

/// Groups points into compute budgets (ascending C).
pub fn groups(points: &RunPoints) -> Vec<Group> {
    let mut idx: Vec<usize> = (0..points.len()).collect();
    idx.sort_by(|&a, &b| points.c[a].total_cmp(&points.c[b]));
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
    members
        .into_iter()
        .map(|m| Group {
            c: (m.iter().map(|&i| points.c[i].ln()).sum::<f64>() / m.len() as f64).exp(),
            x: m.iter().map(|&i| points.n[i].ln()).collect(),
            loss: m.iter().map(|&i| points.loss[i]).collect(),
            index: m,
        })
        .collect()
}

/// Weighted power-law fit through vertices `(C, N_opt)`: `[a, N0, b, D0]`.
fn power_laws(vertices: &[(f64, f64)], w: &[f64]) -> Option<[f64; 4]> {
    let lc: Vec<f64> = vertices.iter().map(|v| v.0.ln()).collect();
    let ln: Vec<f64> = vertices.iter().map(|v| v.1.ln()).collect();
    let ld: Vec<f64> = vertices.iter().map(|v| (v.0 / (6.0 * v.1)).ln()).collect();
    let (n0, a) = ols_line(&lc, &ln, Some(w))?;
    let (d0, b) = ols_line(&lc, &ld, Some(w))?;
    Some([a, n0.exp(), b, d0.exp()])
}

/// `(N_opt, D_opt)` at compute `c` from natural parameters `[a, N0, b, D0]`.
pub fn optimal(p: &[f64], c: f64) -> (f64, f64) {
    (p[1] * c.powf(p[0]), p[3] * c.powf(p[2]))
}

/// Least-squares polynomial of degree `deg` through `(x, y)`: its residuals, or `None` when the
/// normal equations are singular.
fn poly_residuals(x: &[f64], y: &[f64], deg: usize) -> Option<Vec<f64>> {
    let k = deg + 1;
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let s = x
        .iter()
        .map(|v| (v - m).abs())
        .fold(0.0, f64::max)
        .max(1e-300);
    let basis = |v: f64| -> Vec<f64> {
        let u = (v - m) / s;
        (0..k).map(|p| u.powi(p as i32)).collect()
    };
    // Normal equations [A | b], Gaussian elimination with partial pivoting.
    let mut a = vec![vec![0.0; k + 1]; k];
    for (&xi, &yi) in x.iter().zip(y) {
        let b = basis(xi);
        for r in 0..k {
            for c in 0..k {
                a[r][c] += b[r] * b[c];
            }
            a[r][k] += b[r] * yi;
        }
    }
    for col in 0..k {
        let piv = (col..k).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 * a[0][0].abs().max(1e-300) {
            return None;
        }
        a.swap(col, piv);
        let pivot_row = a[col].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let coef: Vec<f64> = (0..k).map(|r| a[r][k] / a[r][r]).collect();
    Some(
        x.iter()
            .zip(y)
            .map(|(&xi, &yi)| yi - basis(xi).iter().zip(&coef).map(|(b, c)| b * c).sum::<f64>())
            .collect(),
    )
}

/// Residuals (ln loss) of each budget's cubic in ln N (a parabola with 4 sizes) and the pooled
/// residual scale `sqrt(Σ r² / Σ dof)` with its degrees of freedom `Σ dof`; 0 when no budget has
/// more sizes than coefficients.
pub(crate) fn noise_scale(gs: &[Group]) -> (Vec<f64>, f64, usize) {
    let (mut resid, mut ss, mut dof) = (Vec::new(), 0.0, 0usize);
    for g in gs {
        let n = crate::common::distinct(&g.x);
        let deg = if n >= 5 { 3 } else { 2 };
        if n <= deg || g.x.len() <= deg + 1 {
            continue;
        }
        let lnl: Vec<f64> = g.loss.iter().map(|l| l.ln()).collect();
        if let Some(r) = poly_residuals(&g.x, &lnl, deg) {
            ss += r.iter().map(|v| v * v).sum::<f64>();
            dof += g.x.len() - deg - 1;
            resid.extend(r);
        }
    }
    let sigma = if dof > 0 {
        (ss / dof as f64).sqrt()
    } else {
        0.0
    };
    (resid, sigma, dof)
}

/// Checks per-point standard errors: one per point, finite and > 0.
fn check_se(points: &RunPoints, se: &[f64]) -> Result<()> {
    if se.len() != points.len() {
        return Err(Error::InvalidOption {
            name: "loss_se",
            value: format!("{} values for {} points", se.len(), points.len()),
            rule: "give one standard error per point",
        });
    }
    if let Some(v) = se.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
        return Err(Error::InvalidOption {
            name: "loss_se",
            value: v.to_string(),
            rule: "must be finite and > 0",
        });
    }
    Ok(())
}

/// Fits IsoFLOP profiles and the N_opt(C), D_opt(C) power laws; the losses' noise is estimated
/// from the profiles themselves.
pub fn fit(points: &RunPoints, opts: &FitOptions) -> Result<FitFile> {
    fit_with_se(points, points.se.as_deref(), opts)
}

/// As [`fit`], with each loss's standard error (`loss_se`, same units as the loss) when known.
pub fn fit_with_se(points: &RunPoints, se: Option<&[f64]>, opts: &FitOptions) -> Result<FitFile> {
    fit_parts(points, se, opts).map(|p| p.fit)
}

/// A fit with what went into it, for callers that need more than fit.json (backtests).
pub(crate) struct Parts {
    pub(crate) fit: FitFile,
    /// The budgets, in `derived.budgets` order.
    pub(crate) groups: Vec<Group>,
    /// Indices of the budgets used for the power law.
    pub(crate) usable: Vec<usize>,
    /// Per replicate, per budget: the replicate vertex `(ln N_opt, loss)` when it was found.
    pub(crate) reps: Vec<Vec<Option<(f64, f64)>>>,
}

pub(crate) fn fit_parts(
    points: &RunPoints,
    se: Option<&[f64]>,
    opts: &FitOptions,
) -> Result<Parts> {
    const LAW: &str = "isoflop";
    let method = opts.vertex();
    check_varies(
        LAW,
        &points.n,
        "N",
        "no budget has a loss profile over N",
        "an IsoFLOP profile needs >= 3 model sizes per compute budget",
    )?;
    if let Some(se) = se {
        check_se(points, se)?;
    }
    let gs = groups(points);
    let (resid, pooled, pooled_dof) = noise_scale(&gs);
    // Relative (ln-loss) noise of each run, per group.
    let sigma: Vec<Vec<f64>> = gs
        .iter()
        .map(|g| {
            g.index
                .iter()
                .map(|&i| se.map_or(pooled, |s| s[i] / points.loss[i]))
                .collect()
        })
        .collect();

    // 1) Vertices of the point estimate.
    let mut budgets = Vec::new();
    let mut usable: Vec<usize> = Vec::new();
    let mut reasons = Vec::new();
    for (k, g) in gs.iter().enumerate() {
        let v = locate(method, &g.x, &g.loss);
        let (n_opt, loss, note) = match &v {
            Ok((x, l)) => (x.exp(), Some(*l), None),
            Err(e) => (f64::NAN, None, Some(e.clone())),
        };
        if v.is_ok() {
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
            in_range: Some(v.is_ok()),
            points: Some(g.x.len()),
            note,
            hparams: None,
        });
    }
    let too_few = |detail: String| Error::TooFewBudgets {
        law: LAW,
        usable: usable.len(),
        total: gs.len(),
        detail,
    };
    if usable.len() < 2 {
        return Err(too_few(if reasons.is_empty() {
            "Add budgets (runs sharing a C value) with >= 3 model sizes each.".to_string()
        } else {
            format!(
                "{}. Sample model sizes on both sides of the optimum.",
                reasons.join("; ")
            )
        }));
    }

    // 2) Replicates: every loss perturbed by its noise, every budget's vertex re-located.
    let reps: Vec<Vec<Option<(f64, f64)>>> = (0..opts.bootstrap as u64)
        .into_par_iter()
        .map(|b| {
            let mut rng = replicate_rng(opts.seed, b);
            // The pooled scale is itself estimated from `pooled_dof` residuals: each replicate
            // draws its own scale σ·sqrt(ν/χ²_ν), so the intervals carry that uncertainty too
            // (as a t interval does) instead of treating σ as known.
            let scale = if se.is_none() && pooled_dof > 0 {
                let chi2: f64 = (0..pooled_dof)
                    .map(|_| crate::synth::normal(&mut rng).powi(2))
                    .sum();
                (pooled_dof as f64 / chi2.max(1e-300)).sqrt()
            } else {
                1.0
            };
            gs.iter()
                .zip(&sigma)
                .map(|(g, sg)| {
                    let y: Vec<f64> = g
                        .loss
                        .iter()
                        .zip(sg)
                        .map(|(l, s)| l * (scale * s * crate::synth::normal(&mut rng)).exp())
                        .collect();
                    locate(method, &g.x, &y).ok()
                })
                .collect()
        })
        .collect();
    for (k, b) in budgets.iter_mut().enumerate() {
        let v: Vec<(f64, f64)> = reps.iter().filter_map(|r| r[k]).collect();
        let n: Vec<f64> = v.iter().map(|v| v.0.exp()).collect();
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

    // 3) Weights 1/var(ln N_opt) from the replicates; equal weights when any usable vertex has
    //    no positive variance (no bootstrap, or noise-free data).
    let var: Vec<f64> = usable
        .iter()
        .map(|&k| {
            let ln: Vec<f64> = reps.iter().filter_map(|r| r[k].map(|v| v.0)).collect();
            std_dev(&ln).map_or(0.0, |s| s * s)
        })
        .collect();
    let weighted = var.iter().all(|v| *v > 0.0 && v.is_finite());
    let weights: Vec<f64> = if weighted {
        var.iter().map(|v| 1.0 / v).collect()
    } else {
        vec![1.0; usable.len()]
    };
    let verts: Vec<(f64, f64)> = usable
        .iter()
        .map(|&k| (budgets[k].C, budgets[k].N_opt))
        .collect();
    let est = power_laws(&verts, &weights)
        .ok_or_else(|| too_few("the usable budgets share one C".to_string()))?;
    let samples: Vec<Vec<f64>> = reps
        .par_iter()
        .filter_map(|r| {
            let (mut vb, mut wb) = (Vec::new(), Vec::new());
            for (j, &k) in usable.iter().enumerate() {
                if let Some((x, _)) = r[k] {
                    vb.push((gs[k].c, x.exp()));
                    wb.push(weights[j]);
                }
            }
            (vb.len() >= 2).then(|| power_laws(&vb, &wb)).flatten()
        })
        .map(|p| p.to_vec())
        .filter(|p| p.iter().all(|x| x.is_finite()))
        .collect();
    let chi2: f64 = verts
        .iter()
        .zip(&weights)
        .map(|(&(c, n), w)| w * (n / optimal(&est, c).0).ln().powi(2))
        .sum();

    let noise = match se {
        Some(_) => "per-point loss_se".to_string(),
        None => format!("pooled residual scale {pooled:.3e} in ln loss"),
    };
    let mut f = assemble_power(
        LAW,
        est,
        samples,
        &budgets,
        opts,
        &format!("losses perturbed by their noise ({noise})"),
    );
    f.data = data_info(&points.origin, points.len());
    f.residuals = residual_stats(&resid);
    f.fit.objective = if weighted { "wls" } else { "ols" }.to_string();
    f.fit.vertex = Some(method.name().to_string());
    f.fit.delta = None;
    f.fit.starts = gs.len();
    f.fit.converged = usable.len();
    f.fit.best = chi2;
    f.fit.stop = format!("{} of {} budgets usable", usable.len(), gs.len());
    f.frontier = frontier(&gs, &usable, &budgets, &reps);
    Ok(Parts {
        fit: f,
        groups: gs,
        usable,
        reps,
    })
}

/// The loss along the frontier, `L_opt = K·C^−gamma`, by least squares of ln loss on ln C through
/// the usable vertices, weighted by 1/var(ln loss) of each vertex's replicates (equal weights when
/// any has none); each replicate refits it through its own vertex losses with the same weights.
/// `None` when the vertices' losses cannot give a line (fewer than two, or one C).
fn frontier(
    gs: &[Group],
    usable: &[usize],
    budgets: &[Budget],
    reps: &[Vec<Option<(f64, f64)>>],
) -> Option<crate::fitfile::Frontier> {
    let var: Vec<f64> = usable
        .iter()
        .map(|&k| {
            let l: Vec<f64> = reps.iter().filter_map(|r| r[k].map(|v| v.1.ln())).collect();
            std_dev(&l).map_or(0.0, |s| s * s)
        })
        .collect();
    let w: Vec<f64> = if var.iter().all(|v| *v > 0.0 && v.is_finite()) {
        var.iter().map(|v| 1.0 / v).collect()
    } else {
        vec![1.0; usable.len()]
    };
    // ln L = ln K − gamma·ln C.
    let line = |pts: &[(f64, f64)], w: &[f64]| -> Option<[f64; 2]> {
        let x: Vec<f64> = pts.iter().map(|p| p.0.ln()).collect();
        let y: Vec<f64> = pts.iter().map(|p| p.1.ln()).collect();
        let (b0, b1) = ols_line(&x, &y, Some(w))?;
        Some([b0.exp(), -b1]).filter(|p| p.iter().all(|v| v.is_finite()))
    };
    let pts: Vec<(f64, f64)> = usable
        .iter()
        .filter_map(|&k| budgets[k].loss.map(|l| (gs[k].c, l)))
        .collect();
    if pts.len() != usable.len() {
        return None;
    }
    let est = line(&pts, &w)?;
    let samples: Vec<Vec<f64>> = reps
        .iter()
        .filter_map(|r| {
            let (mut pb, mut wb) = (Vec::new(), Vec::new());
            for (j, &k) in usable.iter().enumerate() {
                if let Some((_, l)) = r[k] {
                    pb.push((gs[k].c, l));
                    wb.push(w[j]);
                }
            }
            (pb.len() >= 2).then(|| line(&pb, &wb)).flatten()
        })
        .map(|p| p.to_vec())
        .collect();
    let names = ["K", "gamma"];
    let (mut ci95, mut stderr) = (Named::new(), Named::new());
    for (j, n) in names.iter().enumerate() {
        put_spread(&mut ci95, &mut stderr, n, &column(&samples, j));
    }
    Some(crate::fitfile::Frontier {
        form: "L_opt = K·C^-gamma (vertex losses, weighted least squares in log space)".into(),
        params: Named(names.iter().map(|s| s.to_string()).zip(est).collect()),
        ci95,
        stderr,
        samples,
    })
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
            vertex: None,
            noise: None,
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
        support: None,
        samples: Samples {
            params: PARAMS.iter().map(|s| s.to_string()).collect(),
            values: samples,
        },
        frontier: None,
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
        hparams: None,
    }
}
