//! `summary.json`: how a run ended and what it measured.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{count_u64, nullable_f64};

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Reached its stop condition.
    Completed,
    /// Stopped by an error other than divergence.
    Failed,
    /// Loss or gradient became non-finite.
    Diverged,
}

impl Status {
    /// `"completed"`, `"failed"` or `"diverged"`, as in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Diverged => "diverged",
        }
    }
}

/// Where the peak FLOP/s behind MFU came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeakSource {
    /// A short fp32 GEMM probe on this machine with the run's thread count.
    Measured,
    /// Given by the user (`--peak-gflops`).
    Declared,
}

impl PeakSource {
    /// `"measured"` or `"declared"`, as in summary.json.
    pub fn as_str(self) -> &'static str {
        match self {
            PeakSource::Measured => "measured",
            PeakSource::Declared => "declared",
        }
    }
}

/// Which stop condition ended a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `train.tokens` reached.
    Tokens,
    /// `train.steps` reached.
    Steps,
    /// `train.max_time` elapsed.
    MaxTime,
    /// Loss or gradient became non-finite.
    Diverged,
    /// Another error.
    Error,
    /// The health monitor stopped it (`--health stop`, or too many rollbacks).
    Health,
    /// Silent data corruption: the ranks' weights disagreed, or one process computed a step's
    /// gradient twice and got different bits (`--sdc-check-every`).
    Sdc,
    /// Not recorded (a hand-written summary) or a reason this version does not know (a newer
    /// writer): readers that only need the numbers still load the file. The trainer never
    /// writes it.
    #[default]
    #[serde(other)]
    Unknown,
}

/// `summary.json`'s `health`: what the health monitor and the supervisor saw, counted from
/// `events.jsonl`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// The policy in force at the end (`warn`, `rollback`, `stop`).
    #[serde(default)]
    pub policy: String,
    /// Events by kind (`nan`, `spike`, `grad_explosion`, `slow_step`, `rollback`, `restart`,
    /// `resume`, `config_change`).
    #[serde(default)]
    pub events: BTreeMap<String, u64>,
    /// Training sequences skipped by rollbacks.
    #[serde(default)]
    pub skipped_sequences: u64,
}

/// `summary.json`. The scaling-law fitter reads `N`, `N_total`, `D`, `C`, `final_val_loss`,
/// `final_val_loss_se`, `final_train_loss` and `status`; keep those names. Only `status`, `N`
/// and `D` are required when reading: every other field defaults (`stop_reason` to
/// [`StopReason::Unknown`]), so older and hand-written summaries load, and the counts `N`,
/// `N_total` and `D` may be written as integral floats (`1e6`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Completed, failed or diverged.
    pub status: Status,
    /// Why it stopped.
    #[serde(default)]
    pub stop_reason: StopReason,
    /// Error message of a failed or diverged run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Non-embedding parameters (Kaplan N).
    #[serde(rename = "N", deserialize_with = "count_u64")]
    pub n: u64,
    /// All parameters (tied embedding counted once, real vocabulary).
    #[serde(rename = "N_total", default, deserialize_with = "count_u64")]
    pub n_total: u64,
    /// Training tokens consumed.
    #[serde(rename = "D", deserialize_with = "count_u64")]
    pub d: u64,
    /// `6·N·D` (Kaplan convention).
    #[serde(
        rename = "C",
        default = "crate::nan_f64",
        deserialize_with = "nullable_f64"
    )]
    pub c: f64,
    /// Optimizer steps completed.
    #[serde(default)]
    pub steps: u64,
    /// Training FLOPs with the trainer's `train_flops_per_token`.
    #[serde(default = "crate::nan_f64", deserialize_with = "nullable_f64")]
    pub flops: f64,
    /// Training FLOPs per token at the run's sequence length.
    #[serde(default = "crate::nan_f64", deserialize_with = "nullable_f64")]
    pub flops_per_token: f64,
    /// Mean loss of the last step (nats/token).
    #[serde(default)]
    pub final_train_loss: Option<f32>,
    /// Validation loss of the final evaluation (nats/token).
    #[serde(default)]
    pub final_val_loss: Option<f32>,
    /// Standard error of `final_val_loss` (batch means over contiguous blocks of the evaluated
    /// windows; absent in older files and for a one-batch evaluation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_val_loss_se: Option<f64>,
    /// Validation tokens behind `final_val_loss` (absent in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_val_tokens: Option<u64>,
    /// The mean loss of each contiguous block behind `final_val_loss_se`, in split order (absent
    /// in older files). Runs evaluated on the same windows share the blocks, which lets a fit
    /// separate the noise common to all of them from each run's own (docs/laws.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_val_block_losses: Option<Vec<f64>>,
    /// Bits per byte of the final evaluation.
    #[serde(default)]
    pub final_val_bpb: Option<f64>,
    /// Entropy of the synthetic source, when the data has one (the best possible loss).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy_nats_per_token: Option<f64>,
    /// Wall time of the training loop, evaluations and checkpoints included.
    #[serde(default = "crate::nan_f64", deserialize_with = "nullable_f64")]
    pub wall_time_s: f64,
    /// Mean training throughput (tokens / time spent in training steps).
    #[serde(default = "crate::nan_f64", deserialize_with = "nullable_f64")]
    pub tok_per_s: f64,
    /// Mean MFU over training steps.
    #[serde(default = "crate::nan_f64", deserialize_with = "nullable_f64")]
    pub mfu: f64,
    /// The peak GFLOP/s behind `mfu`.
    #[serde(default = "crate::nan_f64", deserialize_with = "nullable_f64")]
    pub peak_gflops: f64,
    /// Whether the peak was measured or declared.
    #[serde(default = "measured")]
    pub peak_source: PeakSource,
    /// Worker threads used (per rank).
    #[serde(default)]
    pub threads: usize,
    /// Health events and rollbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthReport>,
    /// Ranks of a data-parallel job; absent for one process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world_size: Option<usize>,
    /// Seconds rank 0 spent in the gradient all-reduce; absent for one process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comm_time_s: Option<f64>,
    /// With `--sdc-check-every`: seconds rank 0 spent in the silent-data-corruption checks
    /// (checksums and their exchange; on one process, the recomputed gradients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdc_check_s: Option<f64>,
    /// With `--sdc-check-every`: how many checks that was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdc_checks: Option<u64>,
}

fn measured() -> PeakSource {
    PeakSource::Measured
}
