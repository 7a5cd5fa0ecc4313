//! A run directory as diagnosis reads it (DESIGN §3): `summary.json`, `metrics.jsonl`,
//! `events.jsonl`, `layers.jsonl` (per-layer statistics) and `config.toml`. Only the fields
//! diagnosis uses are read, so the crate does not depend on the trainer. Non-finite numbers are
//! written as `null` by JSON writers; they are read as `None`.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{Error, Result};

/// The fields of `summary.json` diagnosis uses.
#[derive(Clone, Debug, Deserialize)]
pub struct RunSummary {
    /// `completed`, `failed` or `diverged`.
    pub status: String,
    /// `tokens`, `steps`, `max_time`, `diverged`, `error`.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Non-embedding parameters.
    #[serde(rename = "N")]
    pub n: f64,
    /// Training tokens consumed.
    #[serde(rename = "D")]
    pub d: f64,
    /// Loss of the last step.
    #[serde(default)]
    pub final_train_loss: Option<f64>,
    /// Final validation loss.
    #[serde(default)]
    pub final_val_loss: Option<f64>,
    /// The synthetic source's entropy, when known: no honest model goes below it.
    #[serde(default)]
    pub entropy_nats_per_token: Option<f64>,
    /// Mean training throughput.
    #[serde(default)]
    pub tok_per_s: Option<f64>,
    /// Worker threads.
    #[serde(default)]
    pub threads: Option<u64>,
}

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, Deserialize)]
pub struct Step {
    /// Optimizer steps completed.
    pub step: u64,
    /// Training tokens so far.
    pub tokens: u64,
    /// Logged learning rate.
    #[serde(default)]
    pub lr: Option<f64>,
    /// Training loss (`None` when non-finite).
    #[serde(default)]
    pub loss: Option<f64>,
    /// Gradient norm before clipping (`None` when non-finite).
    #[serde(default)]
    pub grad_norm: Option<f64>,
    /// Throughput of this step.
    #[serde(default)]
    pub tok_per_s: Option<f64>,
    /// Validation loss on evaluation steps.
    #[serde(default)]
    pub val_loss: Option<f64>,
}

/// One line of `events.jsonl`.
#[derive(Clone, Debug, Deserialize)]
pub struct Event {
    /// Step.
    pub step: u64,
    /// `nan`, `spike`, `rollback`, `restart`, `slow_step`, ...
    pub kind: String,
    /// Human-readable detail.
    #[serde(default)]
    pub detail: String,
}

/// Statistics of one layer at one step (see `ladder_model::LayerStat`).
#[derive(Clone, Debug, Deserialize)]
pub struct LayerStat {
    /// `wte`, `wpe`, `h.0`, ..., `ln_f`.
    pub layer: String,
    /// Gradient norm.
    pub grad_norm: Option<f64>,
    /// Weight norm before the step.
    pub weight_norm: Option<f64>,
    /// ‖Δθ‖ / ‖θ‖.
    pub update_ratio: Option<f64>,
    /// Fraction of weights the step left unchanged.
    pub unchanged_fraction: Option<f64>,
    /// Weights in the layer.
    pub numel: u64,
}

/// One line of `layers.jsonl`.
#[derive(Clone, Debug, Deserialize)]
pub struct LayerRecord {
    /// Optimizer step the statistics describe.
    pub step: u64,
    /// Learning rate that step used.
    #[serde(default)]
    pub lr: Option<f64>,
    /// Cosine between this step's gradient and the previous step's.
    #[serde(default)]
    pub grad_cosine_prev: Option<f64>,
    /// Per layer, in buffer order.
    pub layers: Vec<LayerStat>,
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
        let mut steps: Vec<Step> = read_jsonl(&metrics)?;
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
