//! Planted bugs: a testing aid for `ladder diagnose`, never for real training. Each reproduces a
//! classic training bug that wastes compute while the loss curve looks plausible, so diagnosis can
//! be tested on runs whose fault is known (`ladder train --debug-bug NAME`, `debug.bug` in the
//! config, recorded in the run's `config.toml` so a resume keeps it).

use serde::{Deserialize, Serialize};

use ladder_model::{Faults, ModelConfig};

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

    /// The perturbations of the model and the optimizer this bug makes, in the model's one
    /// seam for them ([`Faults`]); [`Faults::NONE`] for the bugs that live in the trainer or the
    /// loader (and for real training).
    pub fn faults(self) -> Faults {
        let mut f = Faults::NONE;
        match self {
            PlantedBug::CausalLeak => f.attention_lookahead = 1,
            PlantedBug::BadInit => f.init_std = Some(1.0),
            PlantedBug::NoBiasCorrection => f.no_bias_correction = true,
            PlantedBug::Bf16Weights => f.bf16_weights = true,
            PlantedBug::None
            | PlantedBug::StaleGrad
            | PlantedBug::LrX30
            | PlantedBug::RepeatData => {}
        }
        f
    }

    /// Initial parameters: DESIGN §2's, or std-1 weights for `bad-init`.
    pub fn init_params(self, cfg: &ModelConfig, seed: u64) -> Vec<f32> {
        self.faults().init_params(cfg, seed)
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
        self.faults().after_step(params);
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
    fn only_model_bugs_perturb_the_model() {
        for bug in PlantedBug::ALL {
            let model_side = matches!(
                bug,
                PlantedBug::CausalLeak
                    | PlantedBug::BadInit
                    | PlantedBug::NoBiasCorrection
                    | PlantedBug::Bf16Weights
            );
            assert_eq!(!bug.faults().is_none(), model_side, "{}", bug.name());
        }
        assert!(PlantedBug::None.faults().is_none());
    }

    #[test]
    fn repeat_data_cycles_over_one_percent_of_the_windows() {
        let b = PlantedBug::RepeatData;
        assert_eq!(b.sequence_index(12_345, 1000), 12_345 % 10);
        assert_eq!(b.sequence_index(7, 50), 0);
        assert_eq!(PlantedBug::None.sequence_index(12_345, 1000), 12_345);
    }
}
