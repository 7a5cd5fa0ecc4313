//! Is this training run broken? (DESIGN §5.)
//!
//! A run is judged three ways, each a list of [`Finding`]s:
//! 1. against a fitted scaling law: its final loss at its (N, D) against the law's prediction
//!    interval, in standard deviations; too low is as suspicious as too high (leaked targets);
//! 2. against healthy reference runs (a ladder): the shape of its loss curve, its train/val gap,
//!    its update sizes and its throughput;
//! 3. against its own health signals: non-finite values, health events, the size of AdamW's
//!    first update (exactly `lr` per weight when the optimizer is right), weights left unchanged
//!    by a step (precision loss), gradient norms that grow without bound (stale gradients).
//!
//! Before the law and the reference runs are used, the run's data is compared with theirs
//! (`meta.json` hashes): a run on other data is not judged against them ("not applicable"),
//! unless the user insists. The law check is also *inconclusive* when the run lies far outside
//! the N, D, C ranges the law was fitted on, or when the law's interval there is too wide to
//! tell a healthy run from a broken one.
//!
//! The verdict is the worst severity found, and the cause is the most specific cause class named
//! by the most severe findings (see [`Cause`] for the order). When nothing is wrong but a
//! comparison the user asked for could not judge the run, the verdict is
//! [`Verdict::Inconclusive`], and [`Diagnosis::not_judged`] says which and why.

mod checks;
mod comparable;
mod error;
mod run;
mod stats;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use checks::{FAR_DECADES, MAX_HALFWIDTH_LOG};
pub use error::{Error, Result};
pub use run::{Event, EventKind, LayerRecord, LayerStat, RunData, RunSummary, Step};

/// How bad it is; ordered from good to bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing out of the ordinary.
    Healthy,
    /// Nothing wrong found, but a comparison asked for (the law, the reference runs) could not
    /// judge the run: other data, far outside the law's runs, or an interval too wide.
    Inconclusive,
    /// Worth a look: one signal is off.
    Suspicious,
    /// Something is wrong: do not trust this run.
    Broken,
}

impl Verdict {
    /// `healthy`, `inconclusive`, `suspicious` or `broken`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Healthy => "healthy",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Suspicious => "suspicious",
            Verdict::Broken => "broken",
        }
    }
}

/// Cause classes, most specific first: when several findings of the same severity name causes,
/// the earliest in this order is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// Loss or gradients became non-finite.
    Diverged,
    /// The model sees what it should predict (a leaky mask, targets in the inputs).
    TargetLeakage,
    /// Weights start far too large (or too small).
    BadInitialisation,
    /// Updates are rounded away (low-precision weights or accumulation).
    PrecisionLoss,
    /// The optimizer's state or gradients are wrong (not zeroed, no bias correction, ...).
    OptimizerStateBug,
    /// The applied learning rate is too high.
    LrTooHigh,
    /// The applied learning rate is too low.
    LrTooLow,
    /// The model sees the same data over and over.
    DataRepetition,
    /// The run stopped before it had the tokens it needed.
    UnderTraining,
    /// Training is slower than the machine usually is.
    ThroughputRegression,
}

impl Cause {
    /// The kebab-case name, as in `diagnosis.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Diverged => "diverged",
            Cause::TargetLeakage => "target-leakage",
            Cause::BadInitialisation => "bad-initialisation",
            Cause::PrecisionLoss => "precision-loss",
            Cause::OptimizerStateBug => "optimizer-state-bug",
            Cause::LrTooHigh => "lr-too-high",
            Cause::LrTooLow => "lr-too-low",
            Cause::DataRepetition => "data-repetition",
            Cause::UnderTraining => "under-training",
            Cause::ThroughputRegression => "throughput-regression",
        }
    }
}

/// One piece of evidence.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// Which check produced it (`law`, `entropy`, `first-update`, ...).
    pub check: &'static str,
    /// How bad this one signal is.
    pub severity: Verdict,
    /// The cause class it points to, when it points to one.
    pub cause: Option<Cause>,
    /// What was measured, in words and numbers.
    pub message: String,
}

/// The run's final loss against the law.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LawComparison {
    /// The law's name in fit.json.
    pub law: String,
    /// Non-embedding parameters of the run.
    #[serde(rename = "N")]
    pub n: f64,
    /// Training tokens of the run.
    #[serde(rename = "D")]
    pub d: f64,
    /// The run's final validation loss.
    pub observed: f64,
    /// The law's point prediction.
    pub predicted: f64,
    /// The prediction's 95 % interval: parameter uncertainty and the ladder's scatter.
    pub interval95: [f64; 2],
    /// ln(observed / predicted) in standard deviations of the interval.
    pub z: f64,
    /// Half-width of the 95 % interval in ln L (1.96 σ).
    pub halfwidth_log: f64,
    /// How far outside the fitted N, D, C ranges the run lies, in decades (0 inside; `None`
    /// when fit.json records no ranges).
    pub outside_decades: Option<f64>,
    /// False when the comparison was inconclusive (far outside, or an interval too wide): the
    /// numbers are shown but judge nothing.
    pub judged: bool,
}

/// Why a check could not judge the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotJudgedKind {
    /// The law or the reference runs come from other data.
    NotApplicable,
    /// The comparison was made but cannot tell healthy from broken here.
    Inconclusive,
}

impl NotJudgedKind {
    /// `not-applicable` or `inconclusive`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotJudgedKind::NotApplicable => "not-applicable",
            NotJudgedKind::Inconclusive => "inconclusive",
        }
    }
}

/// A comparison that was asked for but could not judge the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NotJudged {
    /// `law` or `reference`.
    pub check: &'static str,
    /// Not applicable or inconclusive.
    #[serde(rename = "status")]
    pub kind: NotJudgedKind,
    /// Why, naming what was compared.
    pub message: String,
}

/// One layer's statistics: medians over the logged steps after the first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerSummary {
    /// `wte`, `wpe`, `h.0`, ..., `ln_f`.
    pub layer: String,
    /// Gradient norm (after clipping).
    pub grad_norm: f64,
    /// ‖Δθ‖ / ‖θ‖ per step.
    pub update_ratio: f64,
    /// The same for reference runs of similar size, when there are any.
    pub reference_update_ratio: Option<f64>,
}

/// What `ladder diagnose` concludes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnosis {
    /// The run directory.
    pub run: String,
    /// Worst severity over all findings.
    pub verdict: Verdict,
    /// The most likely cause class.
    pub cause: Option<Cause>,
    /// The comparison with the law, when a law was given and applies.
    pub law: Option<LawComparison>,
    /// Reference runs used.
    pub references: usize,
    /// Comparisons asked for that could not judge the run, with why (empty when all could).
    pub not_judged: Vec<NotJudged>,
    /// True when the law or reference runs come from other data and were compared anyway
    /// (`--allow-other-data`).
    pub other_data: bool,
    /// All findings, worst first.
    pub findings: Vec<Finding>,
    /// Per-layer statistics from `layers.jsonl` (empty when the run has none).
    pub layers: Vec<LayerSummary>,
}

/// What to compare the run with.
#[derive(Clone, Debug, Default)]
pub struct DiagnoseOptions {
    /// A `fit.json` with a law of loss in (N, D) (chinchilla or kaplan).
    pub law: Option<PathBuf>,
    /// Healthy reference runs: a sweep, a run directory or a folder of runs.
    pub reference: Option<PathBuf>,
    /// Leave throughput out: on a shared or busy machine, timing says nothing about the run.
    pub skip_throughput: bool,
    /// Compare with a law or reference runs from other data all the same (the output says so).
    pub allow_other_data: bool,
}

/// How [`judge_opts`] compares.
#[derive(Clone, Copy, Debug)]
pub struct JudgeOptions {
    /// Compare throughput with the reference runs (false on a shared or busy machine).
    pub compare_throughput: bool,
    /// Compare with a law or reference runs from other data all the same.
    pub allow_other_data: bool,
}

impl Default for JudgeOptions {
    fn default() -> Self {
        JudgeOptions {
            compare_throughput: true,
            allow_other_data: false,
        }
    }
}

/// Diagnoses the run in `run_dir`.
pub fn diagnose(run_dir: &Path, opts: &DiagnoseOptions) -> Result<Diagnosis> {
    let run = RunData::load(run_dir)?;
    let law = opts
        .law
        .as_deref()
        .map(ladder_laws::FitFile::load)
        .transpose()?;
    let references = match &opts.reference {
        Some(dir) => load_references(dir, run_dir)?,
        None => Vec::new(),
    };
    Ok(judge_opts(
        &run,
        law.as_ref(),
        &references,
        JudgeOptions {
            compare_throughput: !opts.skip_throughput,
            allow_other_data: opts.allow_other_data,
        },
    ))
}

/// Completed runs under `dir` other than the diagnosed one.
fn load_references(dir: &Path, run_dir: &Path) -> Result<Vec<RunData>> {
    let own = std::fs::canonicalize(run_dir).ok();
    let mut out = Vec::new();
    for path in ladder_laws::runs::find_runs(dir)? {
        if std::fs::canonicalize(&path).ok() == own {
            continue;
        }
        let r = RunData::load(&path)?;
        if r.summary.status == ladder_schema::Status::Completed {
            out.push(r);
        }
    }
    if out.is_empty() {
        return Err(Error::malformed(
            dir,
            "holds no completed reference runs; pass a sweep or a folder of healthy run directories",
        ));
    }
    Ok(out)
}

/// Runs every check and combines the findings.
pub fn judge(run: &RunData, law: Option<&ladder_laws::FitFile>, refs: &[RunData]) -> Diagnosis {
    judge_with(run, law, refs, true)
}

/// As [`judge`]; `compare_throughput = false` leaves out the one check that depends on timing.
pub fn judge_with(
    run: &RunData,
    law: Option<&ladder_laws::FitFile>,
    refs: &[RunData],
    compare_throughput: bool,
) -> Diagnosis {
    judge_opts(
        run,
        law,
        refs,
        JudgeOptions {
            compare_throughput,
            ..JudgeOptions::default()
        },
    )
}

/// Runs every check with these options and combines the findings.
pub fn judge_opts(
    run: &RunData,
    law: Option<&ladder_laws::FitFile>,
    refs: &[RunData],
    opts: JudgeOptions,
) -> Diagnosis {
    use comparable::Decision;
    let mut findings = Vec::new();
    let mut not_judged = Vec::new();
    let allow = opts.allow_other_data;
    let mut other_data = false;
    let law_cmp = law.and_then(|fit| {
        match comparable::law(run, fit, allow, &mut findings, &mut not_judged) {
            Decision::Skip => None,
            d => {
                other_data |= d == Decision::JudgeOtherData;
                checks::law(run, fit, &mut findings, &mut not_judged)
            }
        }
    });
    let (used, decision) = comparable::references(run, refs, allow, &mut findings, &mut not_judged);
    other_data |= decision == Decision::JudgeOtherData;
    let refs: Vec<RunData> = used.into_iter().cloned().collect();
    let refs = refs.as_slice();
    checks::health(run, &mut findings);
    checks::entropy(run, &mut findings);
    checks::initial_loss(run, &mut findings);
    checks::first_update(run, &mut findings);
    checks::unchanged_weights(run, &mut findings);
    checks::grad_growth(run, refs, &mut findings);
    checks::grad_persistence(run, refs, &mut findings);
    checks::train_val_gap(run, refs, &mut findings);
    checks::update_size(run, refs, &mut findings);
    checks::curve_shape(run, refs, &mut findings);
    if opts.compare_throughput {
        checks::throughput(run, refs, &mut findings);
    }
    checks::under_training(run, &mut findings);
    // A comparison that could not judge is evidence of nothing, but it was asked for: without
    // a problem found elsewhere, the answer is "inconclusive", not "healthy".
    for nj in &not_judged {
        if nj.kind == NotJudgedKind::NotApplicable {
            findings.push(Finding {
                check: nj.check,
                severity: Verdict::Inconclusive,
                cause: None,
                message: format!("not applicable: {}", nj.message),
            });
        }
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let verdict = findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Verdict::Healthy);
    // The most specific cause among the worst findings that name one, else among the others.
    let cause = [verdict, Verdict::Suspicious]
        .iter()
        .filter(|&&v| v > Verdict::Inconclusive)
        .find_map(|&v| {
            findings
                .iter()
                .filter(|f| f.severity == v)
                .filter_map(|f| f.cause)
                .min()
        });
    Diagnosis {
        run: run.dir.display().to_string(),
        verdict,
        cause,
        law: law_cmp,
        references: refs.len(),
        not_judged,
        other_data,
        findings,
        layers: checks::layer_table(run, refs),
    }
}
