//! Hyper-parameter scaling laws: the optimal learning rate and batch size as power laws of
//! compute, η_opt = η0·C^k and B_opt = B0·C^m (B in tokens), as DeepSeek LLM (2024) fits them.
//!
//! 1. Runs are grouped into budgets by C (ln C within [`SAME_BUDGET_LN`] of a group's first: a
//!    grid's runs of one budget differ in C by their rounding to whole optimizer steps, ≤ 1 %).
//! 2. Per budget, the optimum over (x, y) = (ln lr, ln batch) of ln loss: a **local quadratic
//!    surface** `q = c0 + c1·u + c2·v + c3·u² + c4·u·v + c5·v²` (u, v measured from the best run)
//!    fitted by (weighted) least squares to the runs within two grid values of the best run on
//!    each axis; its stationary point is the optimum when the surface curves up (positive
//!    definite) and the point lies inside the window. Why local: the loss is far from quadratic
//!    over a whole LR grid (it rises slowly below the optimum and steeply, up to divergence,
//!    above it), so a global quadratic is pulled toward the steep side; within ±2 grid steps
//!    (a factor ~4–5 in lr at 7 values per 100×) it is close to quadratic, as the IsoFLOP
//!    `local` vertex estimator does in ln N. A budget whose **best run lies on the edge of the
//!    grid** on either axis (the optimum may lie outside it), or whose surface does not curve up
//!    or puts the optimum outside the window, is kept in `derived.budgets` with
//!    `in_range: false` and a note, and left out of the power laws.
//! 3. `ln η_opt = ln η0 + k·ln C` and `ln B_opt = ln B0 + m·ln C` by weighted least squares over
//!    the usable budgets (the least-squares limit of [`crate::logfit`]'s line, [`LogXy::ols`]),
//!    each budget weighted by 1/var of its optimum over the bootstrap replicates.
//!
//! Bootstrap ([`crate::bootstrap`], noise scheme): each replicate redraws every run's ln loss
//! with sd σ_i = `loss_se`/loss when given, else the pooled residual scale of the budgets'
//! quadratic surfaces; every budget's optimum is re-located and the power laws refitted with the
//! point estimate's weights over the budgets usable in both. The replicates give the intervals of
//! each budget's η_opt, B_opt and loss, and of η0, k, B0, m.
//!
//! **Flatness.** Per budget, the loss lost when the lr (or the batch) is 2× or ½× its optimum
//! with the other at its optimum: `L*·(e^{c3·ln²2} − 1)` (`c5` for the batch). Under the
//! quadratic surface 2× and ½× cost the same; both keys are written so a later asymmetric model
//! can fill them differently.

use crate::bootstrap::{replicates, Scheme};
use crate::common::{column, data_info, put_spread, residual_stats};
use crate::data::{CsvTable, DataSource};
use crate::error::{Error, Result};
use crate::fitfile::FIT_FILE_VERSION;
use crate::fitfile::{Budget, Derived, FitFile, FitInfo, HparamOptimum, Named, Samples};
use crate::logfit::LogXy;
use crate::options::FitOptions;
use crate::stats::{solve_linear, std_dev};

/// Parameter names in fit.json order: η_opt = eta0·C^k, B_opt = B0·C^m (B in tokens).
pub const PARAMS: [&str; 4] = ["eta0", "k", "B0", "m"];

/// Runs closer than this in ln C (5 %) are one budget.
pub const SAME_BUDGET_LN: f64 = 0.05;

/// Grid values on each side of the best run that the local surface uses.
pub const WINDOW: usize = 2;

/// The optimal (learning rate, batch in tokens) at compute `c` for parameters `[eta0, k, B0, m]`.
pub fn optimal(p: &[f64], c: f64) -> (f64, f64) {
    (p[0] * c.powf(p[1]), p[2] * c.powf(p[3]))
}

/// Runs of a hyper-parameter sweep: compute, learning rate, batch (tokens per optimizer step),
/// final loss, and optionally its standard error and the model size.
#[derive(Clone, Debug)]
pub struct HparamPoints {
    /// Compute in FLOPs.
    pub c: Vec<f64>,
    /// Peak learning rate.
    pub lr: Vec<f64>,
    /// Tokens per optimizer step.
    pub batch_tokens: Vec<f64>,
    /// Final loss.
    pub loss: Vec<f64>,
    /// Standard error of each loss, when every point has one.
    pub se: Option<Vec<f64>>,
    /// Non-embedding parameters, when given.
    pub n: Option<Vec<f64>>,
    /// Where they came from.
    pub origin: DataSource,
}

impl HparamPoints {
    /// Reads a CSV with columns `C`, `lr`, `batch_tokens`, `loss` (optional `loss_se`, `N`).
    pub fn from_csv(path: &std::path::Path) -> Result<Self> {
        let t = CsvTable::read(path)?;
        let need =
            "; a hyper-parameter fit reads C, lr, batch_tokens and loss (loss_se, N optional)";
        let c = t.positive(t.require("C", need)?)?;
        let lr = t.positive(t.require("lr", need)?)?;
        let batch_tokens = t.positive(t.require("batch_tokens", need)?)?;
        let loss = t.positive(t.require("loss", need)?)?;
        let se = t
            .find("loss_se")
            .map(|j| t.standard_errors(j))
            .transpose()?;
        let n = t.find("N").map(|j| t.positive(j)).transpose()?;
        Ok(HparamPoints {
            c,
            lr,
            batch_tokens,
            loss,
            se,
            n,
            origin: DataSource {
                source: path.display().to_string(),
                sha256: t.sha256().to_string(),
                skipped: vec![],
            },
        })
    }

    /// Reads run directories' table ([`crate::runs::run_table`]): C (else 6·N·D), the lr
    /// (`lr`, else `train.lr`), the batch (`batch_tokens`, else train.batch_size ×
    /// train.seq_len × train.grad_accum), `final_val_loss` and `final_val_loss_se` when every
    /// run has it.
    pub fn from_runs(t: &CsvTable, origin: DataSource) -> Result<Self> {
        let need = "; hyper-parameter fits read summary.json and the run's config.toml";
        let num = |name: &str| -> Result<Vec<f64>> { t.positive(t.require(name, need)?) };
        let n = num("N")?;
        let c = match t.find("C") {
            Some(j) => t.positive(j)?,
            None => n.iter().zip(num("D")?).map(|(n, d)| 6.0 * n * d).collect(),
        };
        let lr = match t.find("lr") {
            Some(j) => t.positive(j)?,
            None => num("train.lr")?,
        };
        let batch_tokens = match t.find("batch_tokens") {
            Some(j) => t.positive(j)?,
            None => {
                let (b, s, g) = (
                    num("train.batch_size")?,
                    num("train.seq_len")?,
                    num("train.grad_accum")?,
                );
                (0..b.len()).map(|i| b[i] * s[i] * g[i]).collect()
            }
        };
        let loss = num("final_val_loss")?;
        let se = match t.find("final_val_loss_se") {
            Some(j) if t.strings(j).iter().all(|s| !s.is_empty()) => Some(t.standard_errors(j)?),
            _ => None,
        };
        Ok(HparamPoints {
            c,
            lr,
            batch_tokens,
            loss,
            se,
            n: Some(n),
            origin,
        })
    }

    /// Number of runs.
    pub fn len(&self) -> usize {
        self.c.len()
    }

    /// True when there are no runs.
    pub fn is_empty(&self) -> bool {
        self.c.is_empty()
    }
}

/// One budget's runs (indices into the points).
#[derive(Clone, Debug)]
struct Group {
    c: f64,
    index: Vec<usize>,
}

fn groups(c: &[f64]) -> Vec<Group> {
    let mut idx: Vec<usize> = (0..c.len()).collect();
    idx.sort_by(|&a, &b| c[a].total_cmp(&c[b]).then(a.cmp(&b)));
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut first = f64::NEG_INFINITY;
    for i in idx {
        if c[i].ln() - first > SAME_BUDGET_LN || out.is_empty() {
            out.push(vec![i]);
            first = c[i].ln();
        } else if let Some(g) = out.last_mut() {
            g.push(i);
        }
    }
    out.into_iter()
        .map(|m| Group {
            c: (m.iter().map(|&i| c[i].ln()).sum::<f64>() / m.len() as f64).exp(),
            index: m,
        })
        .collect()
}

/// A budget's optimum on its local quadratic surface.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SurfaceOptimum {
    /// ln η_opt.
    pub ln_lr: f64,
    /// ln B_opt.
    pub ln_batch: f64,
    /// ln loss at the optimum.
    pub ln_loss: f64,
    /// Curvature of ln loss in ln lr (c3: Δ ln L = c3·d² for a step d in ln lr).
    pub curv_lr: f64,
    /// Curvature of ln loss in ln batch (c5).
    pub curv_batch: f64,
}

/// Distinct sorted values (relative tolerance 1e-9).
fn levels(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.dedup_by(|a, b| (*a - *b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300));
    s
}

fn level_of(levels: &[f64], v: f64) -> usize {
    levels
        .iter()
        .enumerate()
        .min_by(|a, b| (a.1 - v).abs().total_cmp(&(b.1 - v).abs()))
        .map_or(0, |(i, _)| i)
}

/// Locates the optimum of ln loss `z` over `(x, y)` = (ln lr, ln batch) with weights `w`
/// (module docs, step 2); the residuals of the surface's fit come back too. `Err` says why the
/// budget has no usable optimum.
pub fn locate(
    x: &[f64],
    y: &[f64],
    z: &[f64],
    w: &[f64],
) -> std::result::Result<(SurfaceOptimum, Vec<f64>), String> {
    let (lx, ly) = (levels(x), levels(y));
    if lx.len() < 3 || ly.len() < 3 {
        return Err(format!(
            "{} learning rates and {} batch sizes; the surface needs >= 3 of each",
            lx.len(),
            ly.len()
        ));
    }
    let best = (0..z.len())
        .min_by(|&a, &b| z[a].total_cmp(&z[b]))
        .ok_or("no runs")?;
    let (bi, bj) = (level_of(&lx, x[best]), level_of(&ly, y[best]));
    let edge = |i: usize, n: usize, what: &str, lv: f64| {
        (i == 0 || i + 1 == n).then(|| {
            format!(
                "the best run's {what} {:.3e} is at the {} of the grid, so the optimum may lie \
                 outside it; extend the grid past it",
                lv.exp(),
                if i == 0 { "low end" } else { "high end" }
            )
        })
    };
    if let Some(e) =
        edge(bi, lx.len(), "learning rate", lx[bi]).or_else(|| edge(bj, ly.len(), "batch", ly[bj]))
    {
        return Err(e);
    }
    let win = |l: &[f64], i: usize| {
        (
            l[i.saturating_sub(WINDOW)],
            l[(i + WINDOW).min(l.len() - 1)],
        )
    };
    let ((x0, x1), (y0, y1)) = (win(&lx, bi), win(&ly, bj));
    let tol = 1e-9;
    let inside: Vec<usize> = (0..z.len())
        .filter(|&i| x[i] >= x0 - tol && x[i] <= x1 + tol && y[i] >= y0 - tol && y[i] <= y1 + tol)
        .collect();
    if inside.len() < 7 {
        return Err(format!(
            "{} runs near the best one; the local surface needs >= 7",
            inside.len()
        ));
    }
    let (cx, cy) = (x[best], y[best]);
    let basis = |i: usize| {
        let (u, v) = (x[i] - cx, y[i] - cy);
        [1.0, u, v, u * u, u * v, v * v]
    };
    let mut a = vec![vec![0.0; 6]; 6];
    let mut b = vec![0.0; 6];
    for &i in &inside {
        let f = basis(i);
        for r in 0..6 {
            for s in 0..6 {
                a[r][s] += w[i] * f[r] * f[s];
            }
            b[r] += w[i] * f[r] * z[i];
        }
    }
    let q = solve_linear(a, b).ok_or("the runs near the best one do not pin down a surface")?;
    let resid: Vec<f64> = inside
        .iter()
        .map(|&i| z[i] - basis(i).iter().zip(&q).map(|(f, c)| f * c).sum::<f64>())
        .collect();
    let det = 4.0 * q[3] * q[5] - q[4] * q[4];
    if !(q[3] > 0.0 && q[5] > 0.0 && det > 0.0) {
        return Err("the loss surface does not curve up around the best run".to_string());
    }
    // Stationary point of the quadratic: H·(u, v) = −(c1, c2), H = [[2c3, c4], [c4, 2c5]].
    let u = (-q[1] * 2.0 * q[5] + q[2] * q[4]) / det;
    let v = (-q[2] * 2.0 * q[3] + q[1] * q[4]) / det;
    let (ox, oy) = (cx + u, cy + v);
    if ox < x0 || ox > x1 || oy < y0 || oy > y1 {
        return Err(format!(
            "the surface's optimum (lr {:.3e}, batch {:.3e}) lies outside the runs near the best \
             one",
            ox.exp(),
            oy.exp()
        ));
    }
    let ln_loss = q[0] + q[1] * u + q[2] * v + q[3] * u * u + q[4] * u * v + q[5] * v * v;
    Ok((
        SurfaceOptimum {
            ln_lr: ox,
            ln_batch: oy,
            ln_loss,
            curv_lr: q[3],
            curv_batch: q[5],
        },
        resid,
    ))
}

/// Every budget's optimum for ln losses `z` (per point) and weights `w`.
fn optima(
    g: &[Group],
    p: &HparamPoints,
    z: &[f64],
    w: &[f64],
) -> Vec<std::result::Result<(SurfaceOptimum, Vec<f64>), String>> {
    g.iter()
        .map(|g| {
            let pick = |v: &[f64], f: fn(f64) -> f64| -> Vec<f64> {
                g.index.iter().map(|&i| f(v[i])).collect()
            };
            locate(
                &pick(&p.lr, f64::ln),
                &pick(&p.batch_tokens, f64::ln),
                &pick(z, |v| v),
                &pick(w, |v| v),
            )
        })
        .collect()
}

/// Weighted least-squares lines of ln η_opt and ln B_opt on ln C: `[eta0, k, B0, m]`.
fn power_laws(c: &[f64], opt: &[SurfaceOptimum], w_lr: &[f64], w_b: &[f64]) -> Option<[f64; 4]> {
    let lc: Vec<f64> = c.iter().map(|c| c.ln()).collect();
    let line = |ly: Vec<f64>, w: &[f64]| {
        LogXy::new(lc.clone(), ly)
            .with_k(w.iter().map(|w| w.sqrt()).collect())
            .ols()
    };
    let (e0, k) = line(opt.iter().map(|o| o.ln_lr).collect(), w_lr)?;
    let (b0, m) = line(opt.iter().map(|o| o.ln_batch).collect(), w_b)?;
    Some([e0.exp(), k, b0.exp(), m])
}

/// The loss lost at 2× (or ½×) a hyper-parameter from the optimum, in loss units.
fn lost(o: &SurfaceOptimum, curv: f64) -> f64 {
    o.ln_loss.exp() * ((curv * std::f64::consts::LN_2.powi(2)).exp() - 1.0)
}

/// Fits the per-budget optima and the η_opt(C), B_opt(C) power laws (module docs).
pub fn fit(p: &HparamPoints, opts: &FitOptions) -> Result<FitFile> {
    const LAW: &str = "hparams";
    let gs = groups(&p.c);
    let z: Vec<f64> = p.loss.iter().map(|l| l.ln()).collect();
    // Relative noise per run: its standard error, else the pooled scale of the surfaces' fits.
    let rel: Option<Vec<f64>> =
        p.se.as_ref()
            .map(|se| se.iter().zip(&p.loss).map(|(s, l)| s / l).collect());
    let w: Vec<f64> = match &rel {
        Some(r) => r.iter().map(|s| 1.0 / (s * s)).collect(),
        None => vec![1.0; p.len()],
    };
    let point = optima(&gs, p, &z, &w);
    let resid: Vec<f64> = point
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .flat_map(|(_, r)| r.iter().copied())
        .collect();
    let dof = resid
        .len()
        .saturating_sub(6 * point.iter().filter(|r| r.is_ok()).count());
    let pooled = if dof > 0 {
        (resid.iter().map(|r| r * r).sum::<f64>() / dof as f64).sqrt()
    } else {
        0.0
    };
    let sigma = rel.clone().unwrap_or_else(|| vec![pooled; p.len()]);
    let usable: Vec<usize> = (0..gs.len()).filter(|&k| point[k].is_ok()).collect();
    if usable.len() < 2 {
        let reasons: Vec<String> = gs
            .iter()
            .zip(&point)
            .filter_map(|(g, r)| r.as_ref().err().map(|e| format!("C = {:.3e}: {e}", g.c)))
            .collect();
        return Err(Error::TooFewBudgets {
            law: LAW,
            usable: usable.len(),
            total: gs.len(),
            detail: if reasons.is_empty() {
                "Sweep lr and batch at >= 2 compute budgets (ladder sweep plan --grid).".into()
            } else {
                format!(
                    "{}. Extend the grids around the optimum.",
                    reasons.join("; ")
                )
            },
        });
    }

    // Replicates: every ln loss redrawn with its noise, every optimum re-located.
    let scheme = Scheme::Noise {
        fitted: z.clone(),
        scale: sigma.clone(),
    };
    let reps: Vec<Vec<Option<SurfaceOptimum>>> = replicates(p.len(), &scheme, opts, |draw| {
        let zb = draw.ln_y.as_ref()?;
        Some(
            optima(&gs, p, zb, &w)
                .into_iter()
                .map(|r| r.ok().map(|o| o.0))
                .collect(),
        )
    });
    let var = |k: usize, f: fn(&SurfaceOptimum) -> f64| {
        let v: Vec<f64> = reps.iter().filter_map(|r| r[k].as_ref().map(f)).collect();
        std_dev(&v).map_or(0.0, |s| s * s)
    };
    let weights = |f: fn(&SurfaceOptimum) -> f64| -> (Vec<f64>, bool) {
        let v: Vec<f64> = usable.iter().map(|&k| var(k, f)).collect();
        if v.iter().all(|v| *v > 0.0 && v.is_finite()) {
            (v.iter().map(|v| 1.0 / v).collect(), true)
        } else {
            (vec![1.0; usable.len()], false)
        }
    };
    let (w_lr, wl) = weights(|o| o.ln_lr);
    let (w_b, wb) = weights(|o| o.ln_batch);
    let weighted = wl && wb;
    let opt: Vec<SurfaceOptimum> = usable
        .iter()
        .filter_map(|&k| point[k].as_ref().ok().map(|o| o.0))
        .collect();
    let cs: Vec<f64> = usable.iter().map(|&k| gs[k].c).collect();
    let est = power_laws(&cs, &opt, &w_lr, &w_b).ok_or_else(|| Error::TooFewBudgets {
        law: LAW,
        usable: usable.len(),
        total: gs.len(),
        detail: "the usable budgets share one C".into(),
    })?;
    let samples: Vec<Vec<f64>> = reps
        .iter()
        .filter_map(|r| {
            let (mut c, mut o, mut a, mut b) = (vec![], vec![], vec![], vec![]);
            for (j, &k) in usable.iter().enumerate() {
                if let Some(x) = r[k] {
                    c.push(gs[k].c);
                    o.push(x);
                    a.push(w_lr[j]);
                    b.push(w_b[j]);
                }
            }
            (c.len() >= 2).then(|| power_laws(&c, &o, &a, &b)).flatten()
        })
        .map(|p| p.to_vec())
        .filter(|p| p.iter().all(|x| x.is_finite()))
        .collect();
    let chi2: f64 = cs
        .iter()
        .zip(&opt)
        .enumerate()
        .map(|(j, (&c, o))| {
            let (e, b) = optimal(&est, c);
            w_lr[j] * (o.ln_lr - e.ln()).powi(2) + w_b[j] * (o.ln_batch - b.ln()).powi(2)
        })
        .sum();

    // Per-budget entries.
    let mut budgets = Vec::new();
    for (k, g) in gs.iter().enumerate() {
        let n = p.n.as_ref().map_or(f64::NAN, |n| {
            (g.index.iter().map(|&i| n[i].ln()).sum::<f64>() / g.index.len() as f64).exp()
        });
        let (mut ci95, mut stderr) = (Named::new(), Named::new());
        let rs: Vec<SurfaceOptimum> = reps.iter().filter_map(|r| r[k]).collect();
        let col = |f: &dyn Fn(&SurfaceOptimum) -> f64| rs.iter().map(f).collect::<Vec<f64>>();
        put_spread(&mut ci95, &mut stderr, "eta_opt", &col(&|o| o.ln_lr.exp()));
        put_spread(&mut ci95, &mut stderr, "B_opt", &col(&|o| o.ln_batch.exp()));
        put_spread(&mut ci95, &mut stderr, "loss", &col(&|o| o.ln_loss.exp()));
        let (o, note) = match &point[k] {
            Ok((o, _)) => (Some(*o), None),
            Err(e) => (None, Some(e.clone())),
        };
        budgets.push(Budget {
            C: g.c,
            N_opt: n,
            D_opt: g.c / (6.0 * n),
            tokens_per_param: g.c / (6.0 * n * n),
            loss: o.map(|o| o.ln_loss.exp()),
            ci95,
            stderr,
            kind: "optimum".to_string(),
            in_range: Some(o.is_some()),
            points: Some(g.index.len()),
            note,
            hparams: o.map(|o| HparamOptimum {
                eta_opt: o.ln_lr.exp(),
                B_opt: o.ln_batch.exp(),
                loss_lr_x2: lost(&o, o.curv_lr),
                loss_lr_half: lost(&o, o.curv_lr),
                loss_batch_x2: lost(&o, o.curv_batch),
                loss_batch_half: lost(&o, o.curv_batch),
            }),
        });
    }
    for &c in &opts.budgets {
        budgets.push(law_budget(&est, &samples, c));
    }

    let noise = match &rel {
        Some(_) => "per-point loss_se".to_string(),
        None => format!("pooled surface residual scale {pooled:.3e} in ln loss"),
    };
    let mut f = FitFile {
        law: LAW.to_string(),
        params: Named(PARAMS.iter().map(|s| s.to_string()).zip(est).collect()),
        ci95: Named::new(),
        stderr: Named::new(),
        derived: Derived {
            budgets,
            ..Derived::default()
        },
        fit: FitInfo {
            objective: if weighted { "wls" } else { "ols" }.to_string(),
            delta: None,
            best: chi2,
            starts: gs.len(),
            converged: usable.len(),
            bootstrap: opts.bootstrap,
            seed: opts.seed,
            bootstrap_used: samples.len(),
            resample: format!("losses perturbed by their noise ({noise})"),
            stop: format!("{} of {} budgets usable", usable.len(), gs.len()),
            weighted: p.se.is_some(),
            vertex: Some("local quadratic in (ln lr, ln batch)".to_string()),
            noise: None,
        },
        data: data_info(&p.origin, p.len()),
        residuals: residual_stats(&resid),
        samples: Samples {
            params: PARAMS.iter().map(|s| s.to_string()).collect(),
            values: samples,
        },
        support: None,
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
    Ok(f)
}

/// The optimal lr and batch at `c` from the power laws, with bootstrap spreads (`kind: law`).
pub fn law_budget(p: &[f64], samples: &[Vec<f64>], c: f64) -> Budget {
    let (eta, b) = optimal(p, c);
    let (mut ci95, mut stderr) = (Named::new(), Named::new());
    let reps: Vec<(f64, f64)> = samples.iter().map(|s| optimal(s, c)).collect();
    let e: Vec<f64> = reps.iter().map(|r| r.0).collect();
    let bt: Vec<f64> = reps.iter().map(|r| r.1).collect();
    put_spread(&mut ci95, &mut stderr, "eta_opt", &e);
    put_spread(&mut ci95, &mut stderr, "B_opt", &bt);
    Budget {
        C: c,
        N_opt: f64::NAN,
        D_opt: f64::NAN,
        tokens_per_param: f64::NAN,
        loss: None,
        ci95,
        stderr,
        kind: "law".to_string(),
        in_range: None,
        points: None,
        note: None,
        hparams: Some(HparamOptimum {
            eta_opt: eta,
            B_opt: b,
            loss_lr_x2: f64::NAN,
            loss_lr_half: f64::NAN,
            loss_batch_x2: f64::NAN,
            loss_batch_half: f64::NAN,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadratic_surface_optimum_is_exact_on_exact_data() {
        // ln L = 1 + 0.03 (x − x*)² + 0.01 (x − x*)(y − y*) + 0.02 (y − y*)², off-grid optimum.
        let (xs, ys) = (-8.0f64, 10.3f64);
        let (mut x, mut y, mut z) = (vec![], vec![], vec![]);
        for i in 0..7 {
            for j in 0..5 {
                let (a, b) = (-9.5 + 0.5 * i as f64, 9.1 + 0.6 * j as f64);
                x.push(a);
                y.push(b);
                let (u, v) = (a - xs, b - ys);
                z.push(1.0 + 0.03 * u * u + 0.01 * u * v + 0.02 * v * v);
            }
        }
        let w = vec![1.0; z.len()];
        let (o, r) = locate(&x, &y, &z, &w).unwrap();
        assert!(
            (o.ln_lr - xs).abs() < 1e-9 && (o.ln_batch - ys).abs() < 1e-9,
            "{o:?}"
        );
        assert!((o.ln_loss - 1.0).abs() < 1e-12 && (o.curv_lr - 0.03).abs() < 1e-9);
        assert!(r.iter().all(|r| r.abs() < 1e-9));
        // Best run at the high-lr edge: flagged, with the fix.
        let zs: Vec<f64> = x.iter().map(|a| -a).collect();
        let e = locate(&x, &y, &zs, &w).unwrap_err();
        assert!(
            e.contains("high end") && e.contains("extend the grid"),
            "{e}"
        );
        // Only two batch sizes: no surface.
        let two: Vec<usize> = (0..y.len()).filter(|&i| y[i] < 9.8).collect();
        let pick = |v: &[f64]| two.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let e = locate(&pick(&x), &pick(&y), &pick(&z), &pick(&w)).unwrap_err();
        assert!(e.contains("batch sizes"), "{e}");
    }
}
