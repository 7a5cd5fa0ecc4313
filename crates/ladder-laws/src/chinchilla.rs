//! Chinchilla "Approach 3" (Hoffmann et al. 2022, §3.3 and App. D.2): `L(N, D) = E + A/N^α + B/D^β`.
//!
//! Fitted in log space exactly as DESIGN §4: with θ = (a, b, e, α, β), A = e^a, B = e^b, E = e^e,
//! minimise Σᵢ wᵢ·Huber_δ(LSE(a − α ln Nᵢ, b − β ln Dᵢ, e) − ln Lᵢ) by L-BFGS from each point of the
//! Hoffmann grid (a, b ∈ {0, 5, …, 25}, e ∈ {−1, −0.5, …, 1}, α, β ∈ {0, 0.5, …, 2}; 4500 starts)
//! and keep the lowest objective among the starts that converged. The weights wᵢ are 1 for the fit
//! and the multiplicities of a bootstrap resample for its refits (equal to refitting the resampled
//! list, but only the distinct points are visited). With per-point standard errors each residual
//! is also scaled by its noise ([`crate::noise`]); the fit and bootstrap are [`crate::logfit`]'s.

use crate::allocation;
use crate::bootstrap::Draw;
use crate::common::{check_count, check_varies, log_fit_file, put_param_spreads, put_spread};
use crate::data::RunPoints;
use crate::error::Result;
use crate::fitfile::{Budget, Derived, FitFile, Named};
use crate::logfit::{best_start, fit_log, LogData, Model};
use crate::noise::Noise;
use crate::options::FitOptions;
use crate::solver::{LbfgsOptions, Minimum, Objective};
use crate::stats::huber;

/// Internal parameter order: `[a, b, e, alpha, beta]` with A = e^a, B = e^b, E = e^e.
pub type Theta = [f64; 5];

/// Points in log space with a weight per point.
#[derive(Clone, Debug, Default)]
pub struct LogPoints {
    /// ln N.
    pub ln_n: Vec<f64>,
    /// ln D.
    pub ln_d: Vec<f64>,
    /// ln loss.
    pub ln_l: Vec<f64>,
    /// Weight (multiplicity) of each point.
    pub w: Vec<f64>,
    /// Residual multipliers of a weighted fit ([`crate::noise`]); 1 when unweighted.
    pub k: Vec<f64>,
}

impl LogPoints {
    /// Logs of (N, D, loss) with unit weights. Inputs must be finite and > 0 (checked on load).
    pub fn new(n: &[f64], d: &[f64], loss: &[f64]) -> Self {
        LogPoints {
            ln_n: n.iter().map(|v| v.ln()).collect(),
            ln_d: d.iter().map(|v| v.ln()).collect(),
            ln_l: loss.iter().map(|v| v.ln()).collect(),
            w: vec![1.0; n.len()],
            k: vec![1.0; n.len()],
        }
    }

    /// The same points with residual multipliers `k`.
    pub fn with_k(mut self, k: Vec<f64>) -> Self {
        self.k = k;
        self
    }

    /// The resample given by `counts[i]` copies of point `i`, keeping only points with count > 0.
    pub fn weighted(&self, counts: &[u32]) -> Self {
        let mut out = LogPoints::default();
        for (i, &c) in counts.iter().enumerate() {
            if c > 0 {
                out.ln_n.push(self.ln_n[i]);
                out.ln_d.push(self.ln_d[i]);
                out.ln_l.push(self.ln_l[i]);
                out.w.push(c as f64);
                out.k.push(self.k[i]);
            }
        }
        out
    }

    /// Number of (distinct) points.
    pub fn len(&self) -> usize {
        self.ln_n.len()
    }

    /// True when there are no points.
    pub fn is_empty(&self) -> bool {
        self.ln_n.is_empty()
    }
}

impl LogData for LogPoints {
    fn len(&self) -> usize {
        self.ln_n.len()
    }
    fn ln_y(&self) -> &[f64] {
        &self.ln_l
    }
    fn resampled(&self, draw: &Draw) -> Self {
        match &draw.ln_y {
            None => self.weighted(&draw.counts),
            Some(ly) => LogPoints {
                ln_l: ly.clone(),
                ..self.clone()
            }
            .weighted(&draw.counts),
        }
    }
}

/// The log-space noise of runs with loss standard errors, and their residual multipliers
/// ([`crate::noise`]); `(None, unit multipliers)` without standard errors.
pub(crate) fn run_noise(points: &RunPoints) -> (Option<Noise>, Vec<f64>) {
    match &points.se {
        Some(se) => {
            let noise = Noise::new(&points.loss, se);
            let k = noise.weights();
            (Some(noise), k)
        }
        None => (None, vec![1.0; points.len()]),
    }
}

/// The Huber-in-log-space objective of one data set.
pub struct ChinchillaObjective<'a> {
    pts: &'a LogPoints,
    delta: f64,
}

impl<'a> ChinchillaObjective<'a> {
    /// Objective over `pts` with Huber threshold `delta` (> 0; infinity gives least squares).
    pub fn new(pts: &'a LogPoints, delta: f64) -> Self {
        ChinchillaObjective { pts, delta }
    }
}

impl Objective<5> for ChinchillaObjective<'_> {
    fn value_grad(&self, p: &Theta, grad: &mut Theta) -> f64 {
        let [a, b, e, al, be] = *p;
        let big_e = e.exp();
        let delta = self.delta;
        let (mut f, mut g0, mut g1, mut g2, mut g3, mut g4) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        let pts = self.pts;
        let n = pts.len();
        let (ln_n, ln_d, ln_l, w, k) = (
            &pts.ln_n[..n],
            &pts.ln_d[..n],
            &pts.ln_l[..n],
            &pts.w[..n],
            &pts.k[..n],
        );
        for i in 0..n {
            // LSE(t0, t1, e) = ln(u0 + u1 + E) with u0 = A N^−α, u1 = B D^−β. Computing the
            // exponentials directly (no max-shift) saves one exp per point; overflow or underflow
            // gives a non-finite value, and the line search backs off from it.
            let u0 = (a - al * ln_n[i]).exp();
            let u1 = (b - be * ln_d[i]).exp();
            let s = u0 + u1 + big_e;
            let r = k[i] * (s.ln() - ln_l[i]);
            f += w[i] * huber(r, delta);
            // d/dθ Huber(r) = k·ψ(r)·d lse/dθ, with d lse/da = u0/s, d lse/dα = −ln N·u0/s, …
            let q = w[i] * k[i] * r.clamp(-delta, delta) / s;
            let q0 = q * u0;
            let q1 = q * u1;
            g0 += q0;
            g1 += q1;
            g2 += q;
            g3 -= q0 * ln_n[i];
            g4 -= q1 * ln_d[i];
        }
        *grad = [g0, g1, g2 * big_e, g3, g4];
        f
    }
}

/// Predicted loss `E + A/N^α + B/D^β` for natural parameters `[E, A, B, alpha, beta]`.
pub fn predict(p: &[f64], n: f64, d: f64) -> f64 {
    p[0] + p[1] / n.powf(p[3]) + p[2] / d.powf(p[4])
}

/// Natural parameters `[E, A, B, alpha, beta]` from θ.
pub fn natural(t: &Theta) -> [f64; 5] {
    [t[2].exp(), t[0].exp(), t[1].exp(), t[3], t[4]]
}

/// The Hoffmann et al. initialisation grid (4500 points), in θ order `[a, b, e, alpha, beta]`.
pub fn hoffmann_grid() -> Vec<Theta> {
    let ab: Vec<f64> = (0..6).map(|i| 5.0 * i as f64).collect();
    let e: Vec<f64> = (0..5).map(|i| -1.0 + 0.5 * i as f64).collect();
    let exps: Vec<f64> = (0..5).map(|i| 0.5 * i as f64).collect();
    let mut out = Vec::with_capacity(4500);
    for &a in &ab {
        for &b in &ab {
            for &ee in &e {
                for &al in &exps {
                    for &be in &exps {
                        out.push([a, b, ee, al, be]);
                    }
                }
            }
        }
    }
    out
}

/// Outcome of a multi-start fit.
#[derive(Clone, Debug)]
pub struct MultiStart {
    /// The best converged minimum (or the best finite one when none converged).
    pub best: Minimum<5>,
    /// Index of the winning start in the grid.
    pub best_start: usize,
    /// Starts tried.
    pub starts: usize,
    /// Starts whose L-BFGS run converged.
    pub converged: usize,
    /// Total L-BFGS iterations over all starts.
    pub iters: usize,
    /// Total objective evaluations over all starts.
    pub evals: usize,
}

/// Runs L-BFGS from every start (in parallel with rayon) and keeps the lowest converged objective;
/// ties go to the earlier start, so the result does not depend on the thread count.
/// Returns `None` only when every start produced a non-finite objective.
pub fn multi_start(
    pts: &LogPoints,
    delta: f64,
    starts: &[Theta],
    opts: &LbfgsOptions,
) -> Option<MultiStart> {
    let s = best_start(&ChinchillaObjective::new(pts, delta), starts, opts)?;
    Some(MultiStart {
        best: s.best,
        best_start: s.best_start,
        starts: starts.len(),
        converged: s.converged,
        iters: s.iters,
        evals: s.evals,
    })
}

/// Parameter names in fit.json order.
pub const PARAMS: [&str; 5] = ["E", "A", "B", "alpha", "beta"];

/// Fits the Chinchilla law to runs: grid of starts, best converged objective, then a bootstrap
/// over points whose refits start from the best point (as the SciPy reference does).
pub fn fit(points: &RunPoints, opts: &FitOptions) -> Result<FitFile> {
    const LAW: &str = "chinchilla";
    check_count(LAW, points.len(), 5)?;
    check_varies(
        LAW,
        &points.n,
        "N",
        "A and alpha cannot be separated from E",
        "add runs at other model sizes",
    )?;
    check_varies(
        LAW,
        &points.d,
        "D",
        "B and beta cannot be separated from E",
        "add runs with other token counts",
    )?;
    let (noise, k) = run_noise(points);
    let pts = LogPoints::new(&points.n, &points.d, &points.loss).with_k(k);
    let grid;
    let starts: &[Theta] = match &opts.starts {
        Some(s) => s,
        None => {
            grid = hoffmann_grid();
            &grid
        }
    };
    let nat = |t: &Theta| natural(t).to_vec();
    let fitted = |t: &Theta, d: &LogPoints| {
        let p = natural(t);
        (0..d.len())
            .map(|i| predict(&p, d.ln_n[i].exp(), d.ln_d[i].exp()).ln())
            .collect()
    };
    let model = Model {
        law: LAW,
        names: &PARAMS,
        natural: &nat,
        fitted: &fitted,
    };
    // Bootstrap refits start from the best point (as the SciPy reference does).
    let lf = fit_log(&model, &pts, noise.as_ref(), starts, opts, |d, p, g| {
        ChinchillaObjective::new(d, opts.delta).value_grad(p, g)
    })?;
    let p = natural(&lf.best.params);
    let samples: Vec<Vec<f64>> = lf.reps.iter().map(nat).collect();
    let resid: Vec<f64> = (0..points.len())
        .map(|i| points.loss[i].ln() - predict(&p, points.n[i], points.d[i]).ln())
        .collect();
    let mut f = log_fit_file(
        LAW,
        &PARAMS,
        p.to_vec(),
        samples,
        &lf.summary(),
        opts,
        &points.origin,
        &resid,
    );
    put_param_spreads(&mut f);
    f.derived = derived(&p, &f.samples.values, &opts.budgets);
    Ok(f)
}

/// Allocation exponents, G, and the optimum at each budget, with bootstrap spreads.
pub fn derived(p: &[f64], samples: &[Vec<f64>], budgets: &[f64]) -> Derived {
    let mut d = Derived::default();
    let (a, b) = allocation::exponents(p[3], p[4]);
    d.a = Some(a);
    d.b = Some(b);
    d.values
        .push("G", allocation::g_factor(p[1], p[2], p[3], p[4]));
    let ex: Vec<(f64, f64)> = samples
        .iter()
        .map(|s| allocation::exponents(s[3], s[4]))
        .collect();
    put_spread(
        &mut d.ci95,
        &mut d.stderr,
        "a",
        &ex.iter().map(|e| e.0).collect::<Vec<_>>(),
    );
    put_spread(
        &mut d.ci95,
        &mut d.stderr,
        "b",
        &ex.iter().map(|e| e.1).collect::<Vec<_>>(),
    );
    let g: Vec<f64> = samples
        .iter()
        .map(|s| allocation::g_factor(s[1], s[2], s[3], s[4]))
        .collect();
    put_spread(&mut d.ci95, &mut d.stderr, "G", &g);
    for &c in budgets {
        d.budgets.push(budget(p, samples, c));
    }
    d
}

/// The compute-optimal allocation at `c` and its bootstrap spread.
pub fn budget(p: &[f64], samples: &[Vec<f64>], c: f64) -> Budget {
    let quantities = |q: &[f64]| {
        let (n, d) = allocation::optimal(q, c);
        [n, d, d / n, predict(q, n, d)]
    };
    let est = quantities(p);
    let reps: Vec<[f64; 4]> = samples.iter().map(|s| quantities(s)).collect();
    let mut ci95 = Named::new();
    let mut stderr = Named::new();
    for (j, name) in ["N_opt", "D_opt", "tokens_per_param", "loss"]
        .iter()
        .enumerate()
    {
        let v: Vec<f64> = reps.iter().map(|r| r[j]).collect();
        put_spread(&mut ci95, &mut stderr, name, &v);
    }
    Budget {
        C: c,
        N_opt: est[0],
        D_opt: est[1],
        tokens_per_param: est[2],
        loss: Some(est[3]),
        ci95,
        stderr,
        kind: "law".to_string(),
        in_range: None,
        points: None,
        note: None,
        hparams: None,
    }
}
