//! Test-only perturbations: the one seam through which the model and its optimizer can be made
//! wrong on purpose, so that `ladder diagnose` can be tested on runs whose bug is known (the
//! planted bugs of `ladder-train`). Real training passes [`Faults::NONE`]; nothing else in the
//! crate's API can change the model's maths.

use crate::config::ModelConfig;
use crate::params::{init_layout, round_to_bf16, ParamLayout};

/// Deliberate faults, given when a [`crate::Workspace`] or [`crate::AdamW`] is built (or, for
/// the two that act on the parameter buffer, applied through [`Faults::init_params`] and
/// [`Faults::after_step`]). Every field's neutral value is the real model.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// Keys past the causal mask each query sees: 1 lets position i attend to position i + 1,
    /// its own target (the classic leaky mask). Forward and backward stay consistent, so the
    /// model trains "well" on leaked targets while its honest loss is wrong. 0 = real.
    pub attention_lookahead: usize,
    /// AdamW without the `1 − βᵗ` bias correction: the first steps are far too small.
    pub no_bias_correction: bool,
    /// Round every weight to bfloat16 after each step: small updates are lost.
    pub bf16_weights: bool,
    /// Initialise every normally drawn tensor (weights and embeddings, `c_proj` included) with
    /// this std instead of the spec's (the `bad-init` bug uses 1.0).
    pub init_std: Option<f64>,
}

impl Faults {
    /// No fault: the real model.
    pub const NONE: Faults = Faults {
        attention_lookahead: 0,
        no_bias_correction: false,
        bf16_weights: false,
        init_std: None,
    };

    /// Whether this is the real model.
    pub fn is_none(&self) -> bool {
        *self == Faults::NONE
    }

    /// Initial parameters: [`crate::init_params`], or with [`Faults::init_std`] for every
    /// normally drawn tensor.
    pub fn init_params(&self, cfg: &ModelConfig, seed: u64) -> Vec<f32> {
        init_layout(&ParamLayout::new(cfg), seed, self.init_std)
    }

    /// Applied by the trainer after every optimizer step: rounds to bfloat16 under
    /// [`Faults::bf16_weights`], otherwise nothing.
    pub fn after_step(&self, params: &mut [f32]) {
        if self.bf16_weights {
            round_to_bf16(params);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_faults_is_the_real_init_and_leaves_params_alone() {
        let cfg = ModelConfig {
            n_layer: 1,
            n_embd: 8,
            n_head: 1,
            block_size: 4,
            vocab_size: 5,
            ..ModelConfig::default()
        };
        assert!(Faults::NONE.is_none() && Faults::default().is_none());
        let p = Faults::NONE.init_params(&cfg, 3);
        assert_eq!(p, crate::init_params(&cfg, 3));
        let mut q = p.clone();
        Faults::NONE.after_step(&mut q);
        assert_eq!(p, q);
        let bf16 = Faults {
            bf16_weights: true,
            ..Faults::NONE
        };
        bf16.after_step(&mut q);
        assert!(q.iter().all(|&x| half::bf16::from_f32(x).to_f32() == x));
        assert_ne!(p, q);
    }
}
