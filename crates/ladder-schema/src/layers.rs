//! One line of `layers.jsonl`: per-layer statistics of one optimizer step (see
//! `ladder_model::LayerStat`, whose values the trainer writes). Non-finite numbers are written as
//! `null` and read as `None`.

use serde::{Deserialize, Serialize};

/// Statistics of one layer at one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// Optimizer step the statistics describe.
    pub step: u64,
    /// Learning rate that step used.
    #[serde(default)]
    pub lr: Option<f64>,
    /// Cosine between this step's gradient and the previous step's (absent on a step whose
    /// previous gradient was not kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_cosine_prev: Option<f64>,
    /// Per layer, in buffer order.
    pub layers: Vec<LayerStat>,
}
