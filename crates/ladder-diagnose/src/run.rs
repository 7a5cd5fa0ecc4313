//! A run directory as diagnosis reads it (DESIGN §3): `summary.json`, `metrics.jsonl`,
//! `events.jsonl`, `layers.jsonl` (per-layer statistics) and `config.toml`, through the shared
//! types of `ladder_schema` (so the crate does not depend on the trainer). Non-finite numbers are
//! written as `null` by JSON writers; they are read as `None` (or NaN where the schema's field is
//! not optional).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// `summary.json` (the shared schema; older and hand-written summaries load, see
/// `ladder_schema::Summary`).
pub use ladder_schema::Summary as RunSummary;
/// One line of `events.jsonl`, its kind an enum (unknown kinds load as `Other`).
pub use ladder_schema::{Event, EventKind};
/// One line of `layers.jsonl` and its per-layer statistics.
pub use ladder_schema::{LayerRecord, LayerStat};

/// One line of `metrics.jsonl` as the checks use it: read as `ladder_schema::StepRecord`, with
/// the non-finite numbers (written as `null`) as `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Optimizer steps completed.
    pub step: u64,
    /// Training tokens so far.
    pub tokens: u64,
    /// Logged learning rate.
    pub lr: Option<f64>,
    /// Training loss (`None` when non-finite).
    pub loss: Option<f64>,
    /// Gradient norm before clipping (`None` when non-finite).
    pub grad_norm: Option<f64>,
    /// Throughput of this step.
    pub tok_per_s: Option<f64>,
    /// Validation loss on evaluation steps.
    pub val_loss: Option<f64>,
}

impl From<ladder_schema::StepRecord> for Step {
    fn from(r: ladder_schema::StepRecord) -> Step {
        let finite = |x: f64| x.is_finite().then_some(x);
        let loss = |x: f32| finite(ladder_schema::f32_as_written(x));
        Step {
            step: r.step,
            tokens: r.tokens,
            lr: finite(r.lr),
            loss: loss(r.loss),
            grad_norm: loss(r.grad_norm),
            tok_per_s: finite(r.tok_per_s),
            val_loss: r.val_loss.and_then(loss),
        }
    }
}

/// Everything diagnosis reads from one run directory.
#[derive(Clone, Debug)]
pub struct RunData {
    /// The directory.
    pub dir: PathBuf,
    /// `summary.json`.
    pub summary: RunSummary,
    /// `metrics.jsonl`, in step order.
    pub steps: Vec<Step>,
    /// `events.jsonl` (empty when absent).
    pub events: Vec<Event>,
    /// `layers.jsonl` (empty when absent).
    pub layers: Vec<LayerRecord>,
    /// `model.vocab_size` from `config.toml`.
    pub vocab_size: Option<u64>,
    /// `train.tokens` from `config.toml` (0 = not set).
    pub planned_tokens: Option<u64>,
    /// The data directory it was trained on (`data.dir` of `config.toml`, then `meta.json`),
    /// or why that is unknown.
    pub data: std::result::Result<ladder_laws::fitfile::DataDir, String>,
}

impl RunData {
    /// Reads a run directory; `summary.json` and `metrics.jsonl` are required.
    pub fn load(dir: &Path) -> Result<RunData> {
        let summary_path = dir.join("summary.json");
        if !summary_path.is_file() {
            return Err(Error::NotARun {
                path: dir.to_path_buf(),
            });
        }
        let text = read(&summary_path)?;
        let summary: RunSummary = serde_json::from_str(&text)
            .map_err(|e| Error::malformed(&summary_path, format!("not a run summary: {e}")))?;
        let metrics = dir.join("metrics.jsonl");
        if !metrics.is_file() {
            return Err(Error::malformed(
                &metrics,
                "missing: diagnosis needs the training curve the trainer writes",
            ));
        }
        let records: Vec<ladder_schema::StepRecord> = read_jsonl(&metrics)?;
        let mut steps: Vec<Step> = records.into_iter().map(Step::from).collect();
        steps.sort_by_key(|s| s.step);
        let events = read_jsonl_if_present(&dir.join("events.jsonl"))?;
        let layers = read_jsonl_if_present(&dir.join("layers.jsonl"))?;
        let (vocab_size, planned_tokens) = read_config(&dir.join("config.toml"))?;
        Ok(RunData {
            dir: dir.to_path_buf(),
            summary,
            steps,
            events,
            layers,
            vocab_size,
            planned_tokens,
            data: ladder_laws::identity::run_data_dir(dir),
        })
    }

    /// Training losses in step order, non-finite ones skipped.
    pub fn finite_losses(&self) -> Vec<f64> {
        self.steps.iter().filter_map(|s| s.loss).collect()
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = read(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| Error::malformed(path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

fn read_jsonl_if_present<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    if path.is_file() {
        read_jsonl(path)
    } else {
        Ok(Vec::new())
    }
}

/// (`model.vocab_size`, `train.tokens`) when `config.toml` exists.
fn read_config(path: &Path) -> Result<(Option<u64>, Option<u64>)> {
    if !path.is_file() {
        return Ok((None, None));
    }
    let value: toml::Table = read(path)?
        .parse()
        .map_err(|e| Error::malformed(path, format!("not TOML: {e}")))?;
    let get = |section: &str, key: &str| {
        value
            .get(section)
            .and_then(|s| s.get(key))
            .and_then(|v| v.as_integer())
            .and_then(|v| u64::try_from(v).ok())
    };
    Ok((get("model", "vocab_size"), get("train", "tokens")))
}
