//! One line of `metrics.jsonl`.

use serde::{Deserialize, Serialize};

use crate::{count_u64, nullable_f32, nullable_f64};

/// One optimizer step. Training numbers that became non-finite are written as `null` and read
/// back as NaN; only `step` and `tokens` are required when reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Optimizer steps completed (1-based).
    pub step: u64,
    /// Training tokens consumed so far (an integral float such as `1e6` loads too).
    #[serde(deserialize_with = "count_u64")]
    pub tokens: u64,
    /// Cumulative training FLOPs (`tokens · train_flops_per_token`).
    #[serde(default = "crate::nan_f64", deserialize_with = "nullable_f64")]
    pub flops: f64,
    /// Learning rate used by this step.
    #[serde(default = "crate::nan_f64", deserialize_with = "nullable_f64")]
    pub lr: f64,
    /// Mean training cross-entropy of this step's micro-batches (nats/token).
    #[serde(default = "crate::nan_f32", deserialize_with = "nullable_f32")]
    pub loss: f32,
    /// Global gradient L2 norm before clipping.
    #[serde(default = "crate::nan_f32", deserialize_with = "nullable_f32")]
    pub grad_norm: f32,
    /// Training throughput of this step (tokens per second).
    #[serde(default = "crate::nan_f64", deserialize_with = "nullable_f64")]
    pub tok_per_s: f64,
    /// Model FLOPs utilisation of this step (achieved FLOP/s ÷ peak).
    #[serde(default = "crate::nan_f64", deserialize_with = "nullable_f64")]
    pub mfu: f64,
    /// Seconds since training started (evaluation and checkpoint time included).
    #[serde(default = "crate::nan_f64", deserialize_with = "nullable_f64")]
    pub elapsed_s: f64,
    /// Validation loss (nats/token), on evaluation steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f32>,
    /// Validation bits per byte of source text, on evaluation steps of data with byte counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_bpb: Option<f64>,
    /// Standard error of `val_loss` (batch means over contiguous blocks), on evaluation steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_loss_se: Option<f64>,
    /// Validation tokens behind `val_loss`, on evaluation steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_tokens: Option<u64>,
}
