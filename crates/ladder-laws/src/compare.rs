//! Two ladders compared by their scaling laws (`ladder compare A B`): is B's loss falling faster
//! with compute than A's, by how much, and how sure are we?
//!
//! Both fits must be of the same law, with bootstrap replicates (`samples`, and for isoflop the
//! `frontier` replicates). Everything is reported as **B relative to A**:
//!
//! * **Exponent differences** `B − A` of the law's exponents (chinchilla: `alpha`, `beta`; isoflop:
//!   the allocation exponent `a`) and of the **frontier exponent**, the slope of loss against
//!   compute along the compute-optimal frontier: `L_opt(C) = E + K·C^−frontier`. For chinchilla
//!   it follows from the law (`frontier = αβ/(α+β)`, `K = (A·G^−α + B·G^β)·6^frontier`, E the
//!   law's); for isoflop it is the power law through the vertex losses (E = 0) stored in fit.json.
//!   A positive frontier difference means B's loss falls faster.
//! * The 95 % interval of a difference: the first replicate of A is paired with the last of B, the
//!   second with the one before, and so on, and the percentile interval of the `min(n_A, n_B)`
//!   paired differences is taken, non-finite ones skipped (the crate's rule for replicates,
//!   [`crate::bootstrap`]). The two bootstraps are independent, so a fixed pairing draws from their
//!   joint distribution, except that replicate b of every fit draws the same random numbers for
//!   the same `--seed` ([`crate::bootstrap::replicate_rng`]): pairing replicate b with replicate b
//!   of two fits of the same design run with the default seed would perturb both alike and make
//!   the differences far too narrow. The reversed order pairs different streams (at most one pair
//!   meets in the middle).
//! * The **compute multiplier** at compute C: the compute B needs to reach the loss A reaches at
//!   C, divided by C (< 1: B is cheaper); at a target loss L: B's compute for L over A's. Infinite
//!   when B's frontier never gets that low (its E is above the loss). Its interval comes from the
//!   same pairs, infinite replicates included.
//! * The **crossover**: the compute where the two frontiers meet, searched in a window on a
//!   log grid refined by bisection, with the fraction of replicate pairs that cross in it.
//! * The **verdict** reads the frontier exponent's interval only (one pre-declared test, so the
//!   false-alarm rate stays at 5 %): "B scales better" when it lies above 0, "A scales better"
//!   below, otherwise "no detectable difference". A constant-factor advantage with equal slopes is
//!   not "scaling better"; the multiplier says how much it is worth.

use serde_json::{json, Value};

use crate::allocation;
use crate::error::{Error, Result};
use crate::fitfile::FitFile;
use crate::stats::interval95;

/// Fewest finite bootstrap replicates per quantity for an interval worth reporting.
pub const MIN_REPLICATES: usize = 20;

/// The loss along a compute-optimal frontier: `L(C) = e + exp(ln_k − gamma·ln C)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Curve {
    /// Irreducible loss (0 for a pure power law).
    pub e: f64,
    /// ln of the coefficient, for C in FLOPs.
    pub ln_k: f64,
    /// The frontier exponent.
    pub gamma: f64,
}

impl Curve {
    /// Loss at compute `c`.
    pub fn loss(&self, c: f64) -> f64 {
        self.e + (self.ln_k - self.gamma * c.ln()).exp()
    }

    /// The compute at which the frontier reaches `loss`: +∞ when it never gets that low (loss at
    /// or below e), NaN for a frontier that does not fall with compute.
    pub fn compute_for(&self, loss: f64) -> f64 {
        if self.gamma.is_nan() || self.gamma <= 0.0 || !loss.is_finite() || !self.ln_k.is_finite() {
            return f64::NAN;
        }
        if loss <= self.e {
            return f64::INFINITY;
        }
        ((self.ln_k - (loss - self.e).ln()) / self.gamma).exp()
    }

    /// Chinchilla's frontier from natural parameters `[E, A, B, alpha, beta]` (module docs);
    /// `None` when α or β ≤ 0 or a coefficient is not finite and positive.
    pub fn chinchilla(p: &[f64]) -> Option<Curve> {
        let (e, a, b, alpha, beta) = (p[0], p[1], p[2], p[3], p[4]);
        let ok = |x: f64| x.is_finite() && x > 0.0;
        if !(ok(a) && ok(b) && ok(alpha) && ok(beta) && e.is_finite()) {
            return None;
        }
        let gamma = alpha * beta / (alpha + beta);
        let g = allocation::g_factor(a, b, alpha, beta);
        let k = a * g.powf(-alpha) + b * g.powf(beta);
        let c = Curve {
            e,
            ln_k: k.ln() + gamma * 6f64.ln(),
            gamma,
        };
        c.ln_k.is_finite().then_some(c)
    }
}

/// Where the comparison's multiplier is evaluated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum At {
    /// At this compute (FLOPs): the loss A reaches there is the target.
    Compute(f64),
    /// At this target loss.
    Loss(f64),
}

/// What to compare and where.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareOptions {
    /// Where the compute multiplier is evaluated.
    pub at: At,
    /// Compute range `[lo, hi]` searched for a crossover.
    pub window: [f64; 2],
    /// Compute range the two fits' runs cover (to flag a crossover outside it as extrapolated).
    pub data_range: Option<[f64; 2]>,
}

/// One exponent of both fits and its difference B − A.
#[derive(Clone, Debug, PartialEq)]
pub struct ExponentDiff {
    /// `alpha`, `beta`, `a` or `frontier`.
    pub name: String,
    /// A's point estimate.
    pub a: f64,
    /// B's point estimate.
    pub b: f64,
    /// B − A.
    pub estimate: f64,
    /// 95 % interval of B − A from the paired replicates.
    pub ci95: [f64; 2],
    /// Paired replicates with a finite difference.
    pub pairs: usize,
}

impl ExponentDiff {
    /// True when the interval excludes 0.
    pub fn detected(&self) -> bool {
        self.ci95[0] > 0.0 || self.ci95[1] < 0.0
    }
}

/// The compute multiplier with its interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Multiplier {
    /// The compute it is evaluated at (for a target loss: A's compute for that loss).
    pub compute: f64,
    /// The target loss (for a compute: A's loss there).
    pub loss: f64,
    /// Whether the user gave the compute (true) or the loss (false).
    pub given_compute: bool,
    /// B's compute over A's for that loss (< 1: B needs less); +∞ when B never reaches it.
    pub estimate: f64,
    /// 95 % interval over the paired replicates (either end may be +∞).
    pub ci95: [f64; 2],
}

/// Where the two frontiers cross.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Crossover {
    /// Compute of the first crossing in the window (point estimates).
    pub compute: f64,
    /// The loss there.
    pub loss: f64,
    /// Which fit has the lower loss just above the crossing (`"A"` or `"B"`).
    pub lower_above: &'static str,
    /// 95 % interval of the crossing compute over the replicate pairs that cross in the window
    /// (`None` when fewer than [`MIN_REPLICATES`] do).
    pub ci95: Option<[f64; 2]>,
    /// True when the crossing lies outside the compute range the runs cover.
    pub extrapolated: Option<bool>,
}

/// The three verdicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// B's frontier exponent is larger, with 95 % confidence.
    BScalesBetter,
    /// A's frontier exponent is larger, with 95 % confidence.
    AScalesBetter,
    /// The interval of the difference contains 0.
    NoDetectableDifference,
}

impl Verdict {
    /// The words `ladder compare` prints.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::BScalesBetter => "B scales better",
            Verdict::AScalesBetter => "A scales better",
            Verdict::NoDetectableDifference => "no detectable difference",
        }
    }

    /// The verdict of a frontier-exponent difference interval (B − A).
    pub fn of_interval(ci95: [f64; 2]) -> Verdict {
        if ci95[0] > 0.0 {
            Verdict::BScalesBetter
        } else if ci95[1] < 0.0 {
            Verdict::AScalesBetter
        } else {
            Verdict::NoDetectableDifference
        }
    }
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// The law of both fits.
    pub law: String,
    /// Exponent differences, the frontier exponent last.
    pub exponents: Vec<ExponentDiff>,
    /// The compute multiplier.
    pub multiplier: Multiplier,
    /// The first crossing of the point-estimate frontiers in the window, if any.
    pub crossover: Option<Crossover>,
    /// Fraction of replicate pairs whose frontiers cross in the window.
    pub replicates_crossing: f64,
    /// The crossover search window.
    pub window: [f64; 2],
    /// Replicate pairs used.
    pub pairs: usize,
    /// The verdict on the frontier exponent.
    pub verdict: Verdict,
    /// Things the reader must know (different data, few replicates).
    pub warnings: Vec<String>,
}

/// One fit's frontier, exponents and their replicates.
#[derive(Clone, Debug)]
pub struct Side {
    /// Exponent names, the frontier exponent last.
    pub names: Vec<&'static str>,
    /// Point estimates of the exponents.
    pub exponents: Vec<f64>,
    /// Replicates of each exponent (`reps[j]` for `names[j]`; non-finite where a replicate failed).
    pub reps: Vec<Vec<f64>>,
    /// The point-estimate frontier.
    pub curve: Curve,
    /// The replicate frontiers (`None` where a replicate has none).
    pub curves: Vec<Option<Curve>>,
}

fn compare_error(message: String) -> Error {
    Error::Compare { message }
}

/// Reads one fit's frontier and exponents with their replicates; `label` (`A` or `B`) names it
/// in messages.
pub fn side(fit: &FitFile, label: &str) -> Result<Side> {
    let col = |name: &str| fit.samples.params.iter().position(|p| p == name);
    let refit = "refit with `ladder fit --bootstrap 1000` (the default)";
    let check = |s: &Side| -> Result<()> {
        for (n, r) in s.names.iter().zip(&s.reps) {
            let finite = r.iter().filter(|v| v.is_finite()).count();
            if finite < MIN_REPLICATES {
                return Err(compare_error(format!(
                    "fit {label} has {finite} bootstrap replicate(s) of `{n}` (fit.bootstrap = {}); \
                     a comparison needs at least {MIN_REPLICATES}: {refit}",
                    fit.fit.bootstrap
                )));
            }
        }
        Ok(())
    };
    match fit.law.as_str() {
        "chinchilla" => {
            let idx: Option<Vec<usize>> = ["E", "A", "B", "alpha", "beta"]
                .iter()
                .map(|n| col(n))
                .collect();
            let Some(idx) = idx else {
                return Err(compare_error(format!(
                    "fit {label} has no bootstrap samples of E, A, B, alpha, beta: {refit}"
                )));
            };
            let pick = |row: &[f64]| -> Vec<f64> { idx.iter().map(|&i| row[i]).collect() };
            let p = pick(&fit.param_vector());
            let curve = Curve::chinchilla(&p).ok_or_else(|| {
                compare_error(format!(
                    "fit {label}: alpha = {}, beta = {}: no compute-optimal frontier (both must be > 0)",
                    p[3], p[4]
                ))
            })?;
            let rows: Vec<Vec<f64>> = fit.samples.values.iter().map(|r| pick(r)).collect();
            let curves: Vec<Option<Curve>> = rows.iter().map(|r| Curve::chinchilla(r)).collect();
            let s = Side {
                names: vec!["alpha", "beta", "frontier"],
                exponents: vec![p[3], p[4], curve.gamma],
                reps: vec![
                    rows.iter().map(|r| r[3]).collect(),
                    rows.iter().map(|r| r[4]).collect(),
                    curves
                        .iter()
                        .map(|c| c.map_or(f64::NAN, |c| c.gamma))
                        .collect(),
                ],
                curve,
                curves,
            };
            check(&s)?;
            Ok(s)
        }
        "isoflop" => {
            let Some(fr) = &fit.frontier else {
                return Err(compare_error(format!(
                    "fit {label} (isoflop) has no `frontier` (the loss along the vertices and its \
                     bootstrap samples): it was written before ladder stored them; {refit}"
                )));
            };
            let (Some(k), Some(g)) = (fr.params.get("K"), fr.params.get("gamma")) else {
                return Err(compare_error(format!(
                    "fit {label}: `frontier` lacks K or gamma; {refit}"
                )));
            };
            let a_col = col("a").ok_or_else(|| {
                compare_error(format!(
                    "fit {label} has no bootstrap samples of `a`: {refit}"
                ))
            })?;
            let power = |k: f64, g: f64| {
                (k.is_finite() && k > 0.0 && g.is_finite()).then_some(Curve {
                    e: 0.0,
                    ln_k: k.ln(),
                    gamma: g,
                })
            };
            let curve = power(*k, *g).ok_or_else(|| {
                compare_error(format!("fit {label}: frontier K = {k}, gamma = {g}"))
            })?;
            let curves: Vec<Option<Curve>> = fr.samples.iter().map(|r| power(r[0], r[1])).collect();
            let s = Side {
                names: vec!["a", "frontier"],
                exponents: vec![fit.param("a").unwrap_or(f64::NAN), *g],
                reps: vec![
                    fit.samples.values.iter().map(|r| r[a_col]).collect(),
                    fr.samples.iter().map(|r| r[1]).collect(),
                ],
                curve,
                curves,
            };
            check(&s)?;
            Ok(s)
        }
        other => Err(compare_error(format!(
            "fit {label} is a `{other}` law; compare reads chinchilla and isoflop fits \
             (laws with a compute-optimal frontier and its loss)"
        ))),
    }
}

/// The 95 % percentile interval of values that may be +∞ (NaN skipped); `None` when fewer than
/// [`MIN_REPLICATES`] remain.
fn interval_with_inf(values: &[f64]) -> Option<[f64; 2]> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.len() < MIN_REPLICATES {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let q = |q: f64| {
        let pos = q / 100.0 * (v.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        let frac = pos - lo as f64;
        if v[lo] == v[hi] || frac == 0.0 {
            v[lo]
        } else if v[hi].is_infinite() {
            v[hi]
        } else {
            v[lo] + (v[hi] - v[lo]) * frac
        }
    };
    Some([q(2.5), q(97.5)])
}

/// The compute multiplier of `b` against `a` (module docs).
pub fn multiplier(a: &Curve, b: &Curve, at: At) -> f64 {
    match at {
        At::Compute(c) => b.compute_for(a.loss(c)) / c,
        At::Loss(l) => b.compute_for(l) / a.compute_for(l),
    }
}

/// Crossings of two frontiers in `window`: the ln C of each sign change of ln L_A − ln L_B on a
/// 400-point log grid, refined by bisection, ascending.
pub fn crossings(a: &Curve, b: &Curve, window: [f64; 2]) -> Vec<f64> {
    let f = |x: f64| a.loss(x.exp()).ln() - b.loss(x.exp()).ln();
    let (lo, hi) = (window[0].ln(), window[1].ln());
    const GRID: usize = 400;
    let xs: Vec<f64> = (0..=GRID)
        .map(|i| lo + (hi - lo) * i as f64 / GRID as f64)
        .collect();
    let mut out = Vec::new();
    for w in xs.windows(2) {
        let (mut x0, mut x1) = (w[0], w[1]);
        let (mut f0, f1) = (f(x0), f(x1));
        if !(f0.is_finite() && f1.is_finite()) || f0 == 0.0 || f0.signum() == f1.signum() {
            continue;
        }
        for _ in 0..80 {
            let m = 0.5 * (x0 + x1);
            let fm = f(m);
            if fm.signum() == f0.signum() {
                (x0, f0) = (m, fm);
            } else {
                x1 = m;
            }
        }
        out.push(0.5 * (x0 + x1));
    }
    out
}

/// Fit `side`'s frontier loss at compute `c` with the 95 % interval of its replicates (`None`
/// with fewer than [`MIN_REPLICATES`]).
pub fn loss_band(side: &Side, c: f64) -> (f64, Option<[f64; 2]>) {
    let reps: Vec<f64> = side.curves.iter().flatten().map(|k| k.loss(c)).collect();
    let ci = (reps.len() >= MIN_REPLICATES)
        .then(|| interval95(&reps))
        .flatten();
    (side.curve.loss(c), ci)
}

/// The compute multiplier of `b` against `a` at compute `c` with its 95 % interval over the
/// replicate pairs (paired as [`compare`] pairs them; either end may be +∞).
pub fn multiplier_band(a: &Side, b: &Side, c: f64) -> (f64, Option<[f64; 2]>) {
    let at = At::Compute(c);
    let reps: Vec<f64> = a
        .curves
        .iter()
        .zip(b.curves.iter().rev())
        .map(|(x, y)| match (x, y) {
            (Some(x), Some(y)) => multiplier(x, y, at),
            _ => f64::NAN,
        })
        .collect();
    (multiplier(&a.curve, &b.curve, at), interval_with_inf(&reps))
}

/// Compares fit `b` against fit `a` (module docs).
pub fn compare(a: &FitFile, b: &FitFile, opts: &CompareOptions) -> Result<Comparison> {
    if a.law != b.law {
        return Err(compare_error(format!(
            "fit A is a `{}` law and fit B a `{}` law; compare two fits of the same law \
             (refit one with `ladder fit --law {}`)",
            a.law, b.law, a.law
        )));
    }
    let (w0, w1) = (opts.window[0], opts.window[1]);
    if !(w0.is_finite() && w1.is_finite() && w0 > 0.0 && w1 > w0) {
        return Err(compare_error(format!(
            "crossover window [{w0:e}, {w1:e}] must be finite, positive and increasing"
        )));
    }
    let sa = side(a, "A")?;
    let sb = side(b, "B")?;
    let mut warnings = identity_warnings(a, b);

    let exponents: Vec<ExponentDiff> = sa
        .names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let d: Vec<f64> = sa.reps[j]
                .iter()
                .zip(sb.reps[j].iter().rev())
                .map(|(x, y)| y - x)
                .filter(|v| v.is_finite())
                .collect();
            ExponentDiff {
                name: name.to_string(),
                a: sa.exponents[j],
                b: sb.exponents[j],
                estimate: sb.exponents[j] - sa.exponents[j],
                ci95: interval95(&d).unwrap_or([f64::NAN, f64::NAN]),
                pairs: d.len(),
            }
        })
        .collect();
    let frontier = exponents
        .last()
        .filter(|e| e.pairs >= MIN_REPLICATES)
        .ok_or_else(|| {
            compare_error(format!(
                "fewer than {MIN_REPLICATES} replicate pairs have a finite frontier exponent in \
                 both fits; refit both with more bootstrap replicates"
            ))
        })?;
    let verdict = Verdict::of_interval(frontier.ci95);

    // The multiplier: point estimate, then the paired replicates.
    let (compute, loss) = match opts.at {
        At::Compute(c) => {
            if !(c.is_finite() && c > 0.0) {
                return Err(compare_error(format!("--compute {c}: must be > 0")));
            }
            (c, sa.curve.loss(c))
        }
        At::Loss(l) => {
            let c = sa.curve.compute_for(l);
            if !l.is_finite() || l <= 0.0 || !c.is_finite() {
                return Err(compare_error(format!(
                    "--target-loss {l}: fit A's frontier never reaches it (its floor E is {:.4}); \
                     give a loss above that",
                    sa.curve.e
                )));
            }
            (c, l)
        }
    };
    let pairs = sa.curves.len().min(sb.curves.len());
    let reps: Vec<f64> = sa
        .curves
        .iter()
        .zip(sb.curves.iter().rev())
        .map(|(x, y)| match (x, y) {
            (Some(x), Some(y)) => multiplier(x, y, opts.at),
            _ => f64::NAN,
        })
        .collect();
    let ci95 = interval_with_inf(&reps).ok_or_else(|| {
        compare_error(format!(
            "fewer than {MIN_REPLICATES} replicate pairs give a compute multiplier; refit both \
             with more bootstrap replicates"
        ))
    })?;
    let mult = Multiplier {
        compute,
        loss,
        given_compute: matches!(opts.at, At::Compute(_)),
        estimate: multiplier(&sa.curve, &sb.curve, opts.at),
        ci95,
    };

    // Crossovers.
    let rep_cross: Vec<f64> = sa
        .curves
        .iter()
        .zip(sb.curves.iter().rev())
        .filter_map(|(x, y)| {
            let (x, y) = (x.as_ref()?, y.as_ref()?);
            crossings(x, y, opts.window).first().map(|v| v.exp())
        })
        .collect();
    let replicates_crossing = rep_cross.len() as f64 / pairs.max(1) as f64;
    let crossover = crossings(&sa.curve, &sb.curve, opts.window)
        .first()
        .map(|&x| {
            let c = x.exp();
            let above = (x + 1e-3).exp();
            Crossover {
                compute: c,
                loss: sa.curve.loss(c),
                lower_above: if sb.curve.loss(above) < sa.curve.loss(above) {
                    "B"
                } else {
                    "A"
                },
                ci95: (rep_cross.len() >= MIN_REPLICATES)
                    .then(|| interval95(&rep_cross))
                    .flatten(),
                extrapolated: opts.data_range.map(|[lo, hi]| c < lo || c > hi),
            }
        });

    if pairs < 200 {
        warnings.push(format!(
            "only {pairs} bootstrap replicate pairs: the 95 % intervals' ends are coarse; \
             refit with --bootstrap 1000"
        ));
    }
    Ok(Comparison {
        law: a.law.clone(),
        exponents,
        multiplier: mult,
        crossover,
        replicates_crossing,
        window: opts.window,
        pairs,
        verdict,
        warnings,
    })
}

/// Warnings when the two fits' data are not known to be the same: comparing architectures is
/// only meaningful on the same data, but a comparison across data sets is allowed (and said).
fn identity_warnings(a: &FitFile, b: &FitFile) -> Vec<String> {
    let (ia, ib) = (&a.data.identity, &b.data.identity);
    let mut out = Vec::new();
    for (label, i) in [("A", ia), ("B", ib)] {
        if !i.known {
            out.push(format!(
                "the data fit {label} was trained on is unknown ({}); make sure both ladders used the same data",
                if i.note.is_empty() { "not recorded" } else { &i.note }
            ));
        }
    }
    if ia.known && ib.known {
        let key = |i: &crate::fitfile::DataIdentity| {
            let mut v: Vec<_> = i
                .sources
                .iter()
                .map(|s| {
                    (
                        s.tokenizer_sha256.clone(),
                        s.train_sha256.clone(),
                        s.val_sha256.clone(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        if key(ia) != key(ib) {
            let names = |i: &crate::fitfile::DataIdentity| {
                i.sources
                    .iter()
                    .map(|s| s.label())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            out.push(format!(
                "A and B were trained on different data (A: {}; B: {}): the difference mixes the \
                 models with the data",
                names(ia),
                names(ib)
            ));
        }
    }
    out
}

fn interval_json(ci: [f64; 2]) -> Value {
    let f = |x: f64| if x.is_finite() { json!(x) } else { Value::Null };
    json!([f(ci[0]), f(ci[1])])
}

fn num(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

impl Comparison {
    /// The `--json` object: `law`, `exponent_difference`, `compute_multiplier`, `crossover`,
    /// `verdict`. An infinite multiplier (B never reaches the loss) is `null`, as is an
    /// interval's unbounded end.
    pub fn to_json(&self) -> Value {
        let mut ex = serde_json::Map::new();
        for e in &self.exponents {
            ex.insert(
                e.name.clone(),
                json!({"estimate": num(e.estimate), "ci95": interval_json(e.ci95)}),
            );
        }
        let m = &self.multiplier;
        json!({
            "law": self.law,
            "exponent_difference": ex,
            "compute_multiplier": {
                "at": {"compute": num(m.compute), "loss": num(m.loss)},
                "estimate": num(m.estimate),
                "ci95": interval_json(m.ci95),
            },
            "crossover": self.crossover.map_or(Value::Null, |c| json!({
                "compute": num(c.compute),
                "loss": num(c.loss),
                "lower_above": c.lower_above,
                "ci95": c.ci95.map_or(Value::Null, interval_json),
                "replicates_crossing": self.replicates_crossing,
                "extrapolated": c.extrapolated,
            })),
            "verdict": self.verdict.as_str(),
        })
    }

    /// A table for people (the warnings are not in it: callers print them).
    pub fn table(&self) -> String {
        let mut s = format!(
            "compare ({} law, {} replicate pairs): B relative to A\n\n",
            self.law, self.pairs
        );
        s += &format!(
            "{:<10} {:>10} {:>10} {:>10}   {:<24}\n",
            "exponent", "A", "B", "B - A", "95 % interval of B - A"
        );
        for e in &self.exponents {
            s += &format!(
                "{:<10} {:>10.4} {:>10.4} {:>+10.4}   [{:+.4}, {:+.4}]{}\n",
                e.name,
                e.a,
                e.b,
                e.estimate,
                e.ci95[0],
                e.ci95[1],
                if e.detected() { "  *" } else { "" }
            );
        }
        s += "(frontier: L_opt(C) = E + K*C^-frontier along the compute-optimal frontier; larger falls faster; * = interval excludes 0)\n\n";
        let m = &self.multiplier;
        let fx = |x: f64| {
            if x.is_infinite() {
                "never".to_string()
            } else if x != 0.0 && !(0.01..1000.0).contains(&x) {
                format!("{x:.3e}")
            } else {
                format!("{x:.3}")
            }
        };
        s += &format!(
            "compute multiplier at {} = {:.3e} FLOPs (loss {:.4}): B needs {}x A's compute, 95 % [{}, {}]\n",
            if m.given_compute { "C" } else { "A's compute for the target loss, C" },
            m.compute,
            m.loss,
            fx(m.estimate),
            fx(m.ci95[0]),
            fx(m.ci95[1])
        );
        if m.ci95[1] < 1.0 {
            s += "  B reaches that loss with less compute than A (the interval lies below 1)\n";
        } else if m.ci95[0] > 1.0 {
            s += "  B needs more compute than A for that loss (the interval lies above 1)\n";
        } else {
            s += "  the interval contains 1: no detectable compute advantage there\n";
        }
        match &self.crossover {
            Some(c) => {
                s += &format!(
                    "crossover: the frontiers cross at C = {:.3e} (loss {:.4}); above it {} is lower{}{}\n",
                    c.compute,
                    c.loss,
                    c.lower_above,
                    c.ci95
                        .map(|[lo, hi]| format!(", 95 % [{lo:.3e}, {hi:.3e}]"))
                        .unwrap_or_default(),
                    if c.extrapolated == Some(true) {
                        " (outside the fitted compute range: an extrapolation)"
                    } else {
                        ""
                    }
                );
            }
            None => {
                s += &format!(
                    "crossover: none between {:.1e} and {:.1e} FLOPs\n",
                    self.window[0], self.window[1]
                );
            }
        }
        s += &format!(
            "  {:.0} % of replicate pairs cross in that window\n\n",
            100.0 * self.replicates_crossing
        );
        s += &format!("verdict: {}\n", self.verdict.as_str());
        s
    }
}
