//! The one fit routine of the laws fitted in log space (chinchilla, kaplan, power, doubling):
//! Huber_δ on (weighted) log residuals, L-BFGS from one or more starts (the lowest converged
//! objective wins, ties to the earlier start), then the bootstrap of [`crate::bootstrap`], whose
//! refits start from the best point. A law supplies its data, its objective, its starts and its
//! fitted log values; [`fit_log`] does the rest, so a new law is a few lines (see
//! [`fit_line`], the whole of the log-linear laws).

use rayon::prelude::*;

use crate::bootstrap::{replicates, Draw, Scheme};
use crate::error::{Error, Result};
use crate::noise::{Chi2, Noise};
use crate::options::FitOptions;
use crate::solver::{minimize, LbfgsOptions, Minimum, Objective};
use crate::stats::{huber, ols_line};

/// Data of a log-space fit: the log values, their noise, and how a bootstrap draw changes them.
pub trait LogData: Sync + Sized {
    /// Number of (distinct) points.
    fn len(&self) -> usize;
    /// True when empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The fitted quantity's log values.
    fn ln_y(&self) -> &[f64];
    /// The data of one replicate: new log values (noise scheme), then only the points drawn,
    /// each weighted by its multiplicity.
    fn resampled(&self, draw: &Draw) -> Self;
}

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
    /// Residual multipliers of a weighted fit ([`crate::noise`]); 1 when unweighted.
    pub k: Vec<f64>,
}

impl LogXy {
    /// Unit-weight points.
    pub fn new(u: Vec<f64>, ly: Vec<f64>) -> Self {
        let w = vec![1.0; u.len()];
        let k = w.clone();
        LogXy { u, ly, w, k }
    }
    /// The same points with residual multipliers `k`.
    pub fn with_k(mut self, k: Vec<f64>) -> Self {
        self.k = k;
        self
    }
    /// The resample with `counts[i]` copies of point i (points with count 0 dropped).
    pub fn weighted(&self, counts: &[u32]) -> Self {
        let mut o = LogXy::default();
        for (i, &c) in counts.iter().enumerate() {
            if c > 0 {
                o.u.push(self.u[i]);
                o.ly.push(self.ly[i]);
                o.w.push(c as f64);
                o.k.push(self.k[i]);
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
    /// Weighted least-squares line `(intercept, slope)` of ln y on u, each point weighted by
    /// its multiplicity times k² (the weighted fit's least-squares limit).
    pub fn ols(&self) -> Option<(f64, f64)> {
        if self.k.iter().all(|k| *k == 1.0) {
            return ols_line(&self.u, &self.ly, Some(&self.w));
        }
        let w: Vec<f64> = self.w.iter().zip(&self.k).map(|(w, k)| w * k * k).collect();
        ols_line(&self.u, &self.ly, Some(&w))
    }
}

impl LogData for LogXy {
    fn len(&self) -> usize {
        self.u.len()
    }
    fn ln_y(&self) -> &[f64] {
        &self.ly
    }
    fn resampled(&self, draw: &Draw) -> Self {
        match &draw.ln_y {
            None => self.weighted(&draw.counts),
            Some(ly) => LogXy {
                ly: ly.clone(),
                ..self.clone()
            }
            .weighted(&draw.counts),
        }
    }
}

/// Σ w·Huber(k·(θ0 + θ1·u − ln y)): the log-linear model.
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
            let k = self.pts.k[i];
            let r = k * (p[0] + p[1] * self.pts.u[i] - self.pts.ly[i]);
            let w = self.pts.w[i];
            f += w * huber(r, d);
            let q = w * k * r.clamp(-d, d);
            g0 += q;
            g1 += q * self.pts.u[i];
        }
        *g = [g0, g1];
        f
    }
}

/// Outcome of L-BFGS from several starts.
#[derive(Clone, Debug)]
pub struct Starts<const K: usize> {
    /// The best converged minimum (or the best finite one when none converged).
    pub best: Minimum<K>,
    /// Index of the winning start.
    pub best_start: usize,
    /// Starts whose run converged.
    pub converged: usize,
    /// Total L-BFGS iterations over all starts.
    pub iters: usize,
    /// Total objective evaluations over all starts.
    pub evals: usize,
}

/// Runs L-BFGS from every start (in parallel) and keeps the lowest converged objective; ties go
/// to the earlier start, so the result does not depend on the thread count. `None` only when
/// every start gave a non-finite objective.
pub fn best_start<const K: usize, O: Objective<K> + Sync>(
    obj: &O,
    starts: &[[f64; K]],
    opts: &LbfgsOptions,
) -> Option<Starts<K>> {
    let runs: Vec<Minimum<K>> = starts
        .par_iter()
        .map(|x0| minimize(obj, *x0, opts))
        .collect();
    let converged = runs.iter().filter(|r| r.stop.converged()).count();
    let pick = |need_converged: bool| {
        runs.iter()
            .enumerate()
            .filter(|(_, r)| r.value.is_finite() && (!need_converged || r.stop.converged()))
            .min_by(|x, y| x.1.value.total_cmp(&y.1.value).then(x.0.cmp(&y.0)))
            .map(|(i, r)| (i, *r))
    };
    let (best_start, best) = pick(true).or_else(|| pick(false))?;
    Some(Starts {
        best,
        best_start,
        converged,
        iters: runs.iter().map(|r| r.iters).sum(),
        evals: runs.iter().map(|r| r.evals).sum(),
    })
}

/// A law's fit in its internal parameters θ.
#[derive(Clone, Debug)]
pub struct LogFit<const K: usize> {
    /// The best start's minimum.
    pub best: Minimum<K>,
    /// Starts tried.
    pub starts: usize,
    /// Starts that converged.
    pub converged: usize,
    /// θ of each kept bootstrap replicate.
    pub reps: Vec<[f64; K]>,
    /// The bootstrap scheme used.
    pub scheme: &'static str,
    /// χ² of the residuals against the points' noise (weighted fits only).
    pub chi2: Option<Chi2>,
}

impl<const K: usize> LogFit<K> {
    /// What fit.json records of the fit, whatever K.
    pub fn summary(&self) -> FitSummary {
        FitSummary {
            best: self.best.value,
            starts: self.starts,
            converged: self.converged,
            stop: self.best.stop.to_string(),
            scheme: self.scheme,
            chi2: self.chi2,
        }
    }
}

/// The optimiser and bootstrap outcome that fit.json records.
#[derive(Clone, Debug)]
pub struct FitSummary {
    /// Objective at the best start's minimum.
    pub best: f64,
    /// Starts tried.
    pub starts: usize,
    /// Starts that converged.
    pub converged: usize,
    /// Why the best start stopped.
    pub stop: String,
    /// Bootstrap scheme.
    pub scheme: &'static str,
    /// χ² against the measured noise (weighted fits).
    pub chi2: Option<Chi2>,
}

/// A law for [`fit_log`]: its parameter names, internal → natural parameters, objective and
/// fitted log values.
pub struct Model<'a, const K: usize, D> {
    /// The law (for messages).
    pub law: &'static str,
    /// Natural parameter names (for messages).
    pub names: &'a [&'a str],
    /// Natural parameters of θ (for messages).
    pub natural: &'a (dyn Fn(&[f64; K]) -> Vec<f64> + Sync),
    /// Fitted `ln y` at each point of `D` for θ.
    pub fitted: &'a (dyn Fn(&[f64; K], &D) -> Vec<f64> + Sync),
}

/// Fits `objective(data)` from `starts`, then bootstraps (module docs). `noise` is the points'
/// measured noise when known: the data's residual multipliers must already be set from it, and the
/// bootstrap then perturbs the log values by it ([`Scheme::Noise`]).
pub fn fit_log<const K: usize, D, F>(
    model: &Model<'_, K, D>,
    data: &D,
    noise: Option<&Noise>,
    starts: &[[f64; K]],
    opts: &FitOptions,
    objective: F,
) -> Result<LogFit<K>>
where
    D: LogData,
    F: Fn(&D, &[f64; K], &mut [f64; K]) -> f64 + Sync,
{
    let obj = On {
        data,
        f: &objective,
    };
    let lbfgs = opts.lbfgs;
    let found = best_start(&obj, starts, &lbfgs);
    let s = match found {
        Some(s) if s.converged > 0 => s,
        other => {
            let best = other.map(|s| (s.best.value, (model.natural)(&s.best.params)));
            return Err(not_converged(model.law, starts.len(), model.names, best));
        }
    };
    let theta = s.best.params;
    let (scheme, chi2) = match noise {
        None => (Scheme::Points, None),
        Some(noise) => {
            let fitted = (model.fitted)(&theta, data);
            let r: Vec<f64> = data
                .ln_y()
                .iter()
                .zip(&fitted)
                .map(|(y, f)| y - f)
                .collect();
            let chi2 = noise.chi2(&r, K);
            let scale = noise.sigma.iter().map(|s| s * chi2.scale()).collect();
            (Scheme::Noise { fitted, scale }, Some(chi2))
        }
    };
    let reps = replicates(data.len(), &scheme, opts, |draw| {
        let sub = data.resampled(draw);
        let obj = On {
            data: &sub,
            f: &objective,
        };
        let r = minimize(&obj, theta, &lbfgs);
        (r.stop.converged() && r.value.is_finite()).then_some(r.params)
    });
    Ok(LogFit {
        best: s.best,
        starts: starts.len(),
        converged: s.converged,
        reps,
        scheme: scheme.name(),
        chi2,
    })
}

/// The log-linear fit `ln y = θ0 + θ1·u` of power, doubling and one-variable Kaplan laws: one
/// start at the (weighted) least-squares line.
pub fn fit_line(
    law: &'static str,
    names: &[&str],
    natural: &(dyn Fn(&[f64; 2]) -> Vec<f64> + Sync),
    pts: &LogXy,
    noise: Option<&Noise>,
    opts: &FitOptions,
) -> Result<LogFit<2>> {
    let start = pts.ols().map_or([0.0, 0.0], |(c, s)| [c, s]);
    let fitted = |t: &[f64; 2], d: &LogXy| d.u.iter().map(|u| t[0] + t[1] * u).collect();
    let model = Model {
        law,
        names,
        natural,
        fitted: &fitted,
    };
    fit_log(&model, pts, noise, &[start], opts, |d, p, g| {
        LinearObjective {
            pts: d,
            delta: opts.delta,
        }
        .value_grad(p, g)
    })
}

/// A law's objective function bound to one data set.
struct On<'a, D, F> {
    data: &'a D,
    f: &'a F,
}

impl<const K: usize, D: Sync, F> Objective<K> for On<'_, D, F>
where
    F: Fn(&D, &[f64; K], &mut [f64; K]) -> f64 + Sync,
{
    fn value_grad(&self, p: &[f64; K], g: &mut [f64; K]) -> f64 {
        (self.f)(self.data, p, g)
    }
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
