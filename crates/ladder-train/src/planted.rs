//! Planted bugs: a testing aid for `ladder diagnose`, never for real training. Each reproduces a
//! classic training bug that wastes compute while the loss curve looks plausible, so diagnosis can
//! be tested on runs whose fault is known (`ladder train --debug-bug NAME`, `debug.bug` in the
//! config, recorded in the run's `config.toml` so a resume keeps it).

use serde::{Deserialize, Serialize};

use ladder_model::{AdamW, ModelConfig, Workspace};

/// The bugs `--debug-bug` can plant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlantedBug {
    /// No bug: real training.
    #[default]
    #[serde(rename = "")]
    None,
    /// Attention lets position i see position i + 1 (its own target).
    #[serde(rename = "causal-leak")]
    CausalLeak,
    /// Gradients are not zeroed between optimizer steps.
    #[serde(rename = "stale-grad")]
    StaleGrad,
    /// Weights initialised with std 1.0 instead of 0.02.
    #[serde(rename = "bad-init")]
    BadInit,
    /// AdamW without bias correction.
    #[serde(rename = "no-bias-correction")]
    NoBiasCorrection,
    /// Weights rounded to bfloat16 after every step.
    #[serde(rename = "bf16-weights")]
    Bf16Weights,
    /// The applied learning rate is 30 × the logged one.
    #[serde(rename = "lr-x30")]
    LrX30,
    /// The loader cycles over 1 % of the training windows.
    #[serde(rename = "repeat-data")]
    RepeatData,
}

impl PlantedBug {
    /// Every bug, for `--help` and error messages.
    pub const ALL: [PlantedBug; 7] = [
        PlantedBug::CausalLeak,
        PlantedBug::StaleGrad,
        PlantedBug::BadInit,
        PlantedBug::NoBiasCorrection,
        PlantedBug::Bf16Weights,
        PlantedBug::LrX30,
        PlantedBug::RepeatData,
    ];

    /// The name used on the command line and in config files.
    pub fn name(self) -> &'static str {
        match self {
            PlantedBug::None => "",
            PlantedBug::CausalLeak => "causal-leak",
            PlantedBug::StaleGrad => "stale-grad",
            PlantedBug::BadInit => "bad-init",
            PlantedBug::NoBiasCorrection => "no-bias-correction",
            PlantedBug::Bf16Weights => "bf16-weights",
            PlantedBug::LrX30 => "lr-x30",
            PlantedBug::RepeatData => "repeat-data",
        }
    }

    /// Initial parameters: DESIGN §2's, or std-1 weights for `bad-init`.
    pub fn init_params(self, cfg: &ModelConfig, seed: u64) -> Vec<f32> {
        match self {
            PlantedBug::BadInit => ladder_model::init_params_with_std(cfg, seed, 1.0),
            _ => ladder_model::init_params(cfg, seed),
        }
    }

    /// Applies the bugs that live in the model or the optimizer.
    pub fn configure(self, ws: &mut Workspace, adam: &mut AdamW) {
        ws.plant_causal_leak(self == PlantedBug::CausalLeak);
        adam.bias_correction = self != PlantedBug::NoBiasCorrection;
    }

    /// Whether the gradient buffer is zeroed before a step's micro-batches.
    pub fn zero_grads(self) -> bool {
        self != PlantedBug::StaleGrad
    }

    /// The factor between the applied and the logged learning rate.
    pub fn lr_factor(self) -> f64 {
        if self == PlantedBug::LrX30 {
            30.0
        } else {
            1.0
        }
    }

    /// Called after every optimizer step.
    pub fn after_step(self, params: &mut [f32]) {
        if self == PlantedBug::Bf16Weights {
            ladder_model::round_to_bf16(params);
        }
    }

    /// The sampler index that global training sequence `index` reads, given `windows` sequences
    /// per epoch: `repeat-data` cycles over the first 1 % of the epoch's windows.
    pub fn sequence_index(self, index: u64, windows: u64) -> u64 {
        if self == PlantedBug::RepeatData {
            index % (windows / 100).max(1)
        } else {
            index
        }
    }
}

impl std::str::FromStr for PlantedBug {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        PlantedBug::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = PlantedBug::ALL.iter().map(|b| b.name()).collect();
                format!(
                    "unknown planted bug `{s}`; the bugs are: {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_the_config_spelling() {
        for bug in PlantedBug::ALL {
            let v = toml::Value::try_from(bug).unwrap();
            assert_eq!(v.as_str(), Some(bug.name()));
            let back: PlantedBug = v.try_into().unwrap();
            assert_eq!(back, bug);
        }
        let none: PlantedBug = toml::Value::String(String::new()).try_into().unwrap();
        assert_eq!(none, PlantedBug::None);
        assert_eq!("lr-x30".parse::<PlantedBug>(), Ok(PlantedBug::LrX30));
        let err = "lr-x3".parse::<PlantedBug>().unwrap_err();
        assert!(
            err.contains("lr-x3`") && err.contains("causal-leak, stale-grad"),
            "{err}"
        );
    }

    #[test]
    fn repeat_data_cycles_over_one_percent_of_the_windows() {
        let b = PlantedBug::RepeatData;
        assert_eq!(b.sequence_index(12_345, 1000), 12_345 % 10);
        assert_eq!(b.sequence_index(7, 50), 0);
        assert_eq!(PlantedBug::None.sequence_index(12_345, 1000), 12_345);
    }
}
