//! [`SynthConfig`]: the knobs of the synthetic source, their defaults (with reasons) and their
//! validation.

use serde::{Deserialize, Serialize};

use super::MAX_BRANCHING;
use crate::error::{Error, Result};

/// Knobs of the synthetic source. Everything here (and nothing else) determines the data, bit for
/// bit, whatever the thread count. Recorded in `meta.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthConfig {
    /// Seed of the rules and of the sampled documents.
    pub seed: u64,
    /// Tokens in `train.bin`.
    pub train_tokens: u64,
    /// Tokens in `val.bin`.
    pub val_tokens: u64,
    /// Vocabulary size V (token 0 is `<|endoftext|>`, 1..V are content tokens).
    pub vocab_size: usize,
    /// Number of rules K.
    pub rules: usize,
    /// Zipf exponent: rule `k` (1-based) has frequency `∝ k^-(1 + zipf_a)`.
    pub zipf_a: f64,
    /// Tokens in each rule's alphabet, m.
    pub alphabet: usize,
    /// Lowest Markov order.
    pub order_min: usize,
    /// Highest Markov order (at most 3); orders cycle over the rules by rank.
    pub order_max: usize,
    /// Candidates per context, s.
    pub branching: usize,
    /// Candidate probabilities `∝ (j+1)^-branch_zipf`, j = 0..s.
    pub branch_zipf: f64,
    /// Mean document length in content tokens (geometric, at least 1).
    pub mean_doc_len: f64,
    /// Probability of redrawing the rule before each token after a document's first.
    pub switch_prob: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 0,
            // 20M tokens: enough for the ladder's small models (0.1M–10M non-embedding
            // parameters) at a few tokens per parameter, generated in about a second.
            train_tokens: 20_000_000,
            // 2^20: the entropy estimate's sampling error is then ~1e-3 nats, and every
            // power-of-two eval prefix has an exact reference in `entropy_prefix`.
            val_tokens: 1 << 20,
            // Small, so the embedding and softmax cost little on CPU.
            vocab_size: 1024,
            // Enough rules that the rarest (p ~ 1e-4) stay unlearned at 50M tokens.
            rules: 256,
            // p_k ∝ k^-1.5: the quantisation model then predicts L - E ∝ N^-0.5 and D^-0.33,
            // exponents like those of natural text.
            zipf_a: 0.5,
            // 32-token alphabets: order 1, 2, 3 rules have 32, 1K, 32K contexts, a wide spread of
            // sizes for models of 0.1M–10M parameters to learn.
            alphabet: 32,
            order_min: 1,
            order_max: 3,
            // 4 candidates with probabilities ∝ 1, 1/2, 1/3, 1/4: 1.24 nats per token once the
            // rule and context are known.
            branching: 4,
            branch_zipf: 1.0,
            // 128: longer than the tiny preset's 64-token windows would need to identify the rule,
            // short enough that document starts (rule identification) matter.
            mean_doc_len: 128.0,
            switch_prob: 0.0,
        }
    }
}

impl SynthConfig {
    /// Checks every knob; the error names the field and the rule.
    pub fn validate(&self) -> Result<()> {
        fn bad(field: &'static str, value: impl std::fmt::Display, rule: &'static str) -> Error {
            Error::BadSynthConfig {
                field,
                value: value.to_string(),
                rule,
            }
        }
        if !(2..=1 << 16).contains(&self.vocab_size) {
            return Err(bad("vocab_size", self.vocab_size, "must be in 2..=65536"));
        }
        if self.rules == 0 || self.rules > 1 << 20 {
            return Err(bad("rules", self.rules, "must be in 1..=1048576"));
        }
        if !(self.zipf_a.is_finite() && self.zipf_a >= 0.0) {
            return Err(bad("zipf_a", self.zipf_a, "must be finite and >= 0"));
        }
        if self.alphabet == 0 || self.alphabet >= self.vocab_size {
            return Err(bad(
                "alphabet",
                self.alphabet,
                "must be in 1..vocab_size (token 0 is reserved for <|endoftext|>)",
            ));
        }
        if !(1..=3).contains(&self.order_min) {
            return Err(bad("order_min", self.order_min, "must be 1, 2 or 3"));
        }
        if !(self.order_min..=3).contains(&self.order_max) {
            return Err(bad("order_max", self.order_max, "must be in order_min..=3"));
        }
        if self.branching == 0 || self.branching > MAX_BRANCHING.min(self.alphabet) {
            return Err(bad(
                "branching",
                self.branching,
                "must be in 1..=min(16, alphabet)",
            ));
        }
        if !(self.branch_zipf.is_finite() && self.branch_zipf >= 0.0) {
            return Err(bad(
                "branch_zipf",
                self.branch_zipf,
                "must be finite and >= 0",
            ));
        }
        if !(self.mean_doc_len.is_finite() && self.mean_doc_len >= 1.0) {
            return Err(bad(
                "mean_doc_len",
                self.mean_doc_len,
                "must be finite and >= 1",
            ));
        }
        if !(0.0..1.0).contains(&self.switch_prob) {
            return Err(bad("switch_prob", self.switch_prob, "must be in [0, 1)"));
        }
        for (field, v) in [
            ("train_tokens", self.train_tokens),
            ("val_tokens", self.val_tokens),
        ] {
            if !(2..=1 << 34).contains(&v) {
                return Err(bad(field, v, "must be in 2..=2^34"));
            }
        }
        Ok(())
    }

    /// One-line description for `meta.json`'s `source`.
    pub fn describe(&self) -> String {
        format!(
            "synthetic: {} rules (Zipf a = {}), Markov orders {}-{}, alphabet {}, branching {} \
             (Zipf {}), vocab {}, mean document length {}, switch probability {}, seed {}",
            self.rules,
            self.zipf_a,
            self.order_min,
            self.order_max,
            self.alphabet,
            self.branching,
            self.branch_zipf,
            self.vocab_size,
            self.mean_doc_len,
            self.switch_prob,
            self.seed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synth_config_rejects_each_bad_knob() {
        let ok = SynthConfig::default();
        assert!(ok.validate().is_ok());
        let cases: Vec<(&str, SynthConfig)> = vec![
            (
                "vocab_size",
                SynthConfig {
                    vocab_size: 1,
                    ..ok.clone()
                },
            ),
            (
                "vocab_size",
                SynthConfig {
                    vocab_size: 70_000,
                    ..ok.clone()
                },
            ),
            (
                "rules",
                SynthConfig {
                    rules: 0,
                    ..ok.clone()
                },
            ),
            (
                "zipf_a",
                SynthConfig {
                    zipf_a: -1.0,
                    ..ok.clone()
                },
            ),
            (
                "zipf_a",
                SynthConfig {
                    zipf_a: f64::NAN,
                    ..ok.clone()
                },
            ),
            (
                "alphabet",
                SynthConfig {
                    alphabet: 1024,
                    ..ok.clone()
                },
            ),
            (
                "order_min",
                SynthConfig {
                    order_min: 0,
                    ..ok.clone()
                },
            ),
            (
                "order_max",
                SynthConfig {
                    order_max: 4,
                    ..ok.clone()
                },
            ),
            (
                "order_max",
                SynthConfig {
                    order_min: 3,
                    order_max: 2,
                    ..ok.clone()
                },
            ),
            (
                "branching",
                SynthConfig {
                    branching: 0,
                    ..ok.clone()
                },
            ),
            (
                "branching",
                SynthConfig {
                    branching: 33,
                    alphabet: 40,
                    ..ok.clone()
                },
            ),
            (
                "branch_zipf",
                SynthConfig {
                    branch_zipf: -0.1,
                    ..ok.clone()
                },
            ),
            (
                "mean_doc_len",
                SynthConfig {
                    mean_doc_len: 0.5,
                    ..ok.clone()
                },
            ),
            (
                "switch_prob",
                SynthConfig {
                    switch_prob: 1.0,
                    ..ok.clone()
                },
            ),
            (
                "train_tokens",
                SynthConfig {
                    train_tokens: 1,
                    ..ok.clone()
                },
            ),
            (
                "val_tokens",
                SynthConfig {
                    val_tokens: 0,
                    ..ok.clone()
                },
            ),
        ];
        for (field, cfg) in cases {
            match cfg.validate() {
                Err(Error::BadSynthConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected BadSynthConfig, got {other:?}"),
            }
        }
    }
}
