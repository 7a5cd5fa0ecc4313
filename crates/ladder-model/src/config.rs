//! Model hyper-parameters and the counts derived from them (DESIGN §2); the counts come from
//! the family's [`ArchSpec`].

use crate::error::{Error, Result};
use crate::spec::{Arch, ArchSpec, NormKind};

/// Shape of a model: the family and its dimensions (for GPT-2, Hugging Face `GPT2Config`:
/// `n_layer`, `n_embd`, `n_head`, `n_positions` = `block_size`, `vocab_size`, `n_inner` =
/// `ffn_width`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelConfig {
    /// Transformer blocks (L).
    pub n_layer: usize,
    /// Channels (C).
    pub n_embd: usize,
    /// Attention heads (NH); head size HS = C / NH.
    pub n_head: usize,
    /// Positions the model holds (rows of `wpe`); the longest trainable sequence.
    pub block_size: usize,
    /// Real vocabulary size (V); see [`ModelConfig::padded_vocab_size`].
    pub vocab_size: usize,
    /// Model family (its [`ArchSpec`] lays out the parameters).
    #[serde(default)]
    pub arch: Arch,
    /// Hidden width F of the MLP; `None` = the family's default (4·C for GPT-2; for Llama
    /// ⌈⌈8·C/3⌉/16⌉·16, i.e. ⅔·4·C rounded up to a multiple of 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ffn_width: Option<usize>,
    /// Normalisation layers.
    #[serde(default)]
    pub norm: NormKind,
    /// Rotary-embedding base θ for families with rotary positions; `None` for GPT-2 (learned
    /// positions), which refuses a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_theta: Option<f64>,
    /// RMSNorm epsilon for families with RMSNorm (`None`: 1e-5); GPT-2 (LayerNorm eps 1e-5,
    /// fixed) refuses a value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub norm_eps: Option<f32>,
    /// Whether the output head shares the token embedding (`None`: tied). GPT-2 is always tied
    /// and refuses `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie_embeddings: Option<bool>,
}

impl Default for ModelConfig {
    /// The S reference shape (GPT-2, 4 × 256, 4 heads, block 256, vocabulary 8192).
    fn default() -> Self {
        ModelConfig {
            n_layer: 4,
            n_embd: 256,
            n_head: 4,
            block_size: 256,
            vocab_size: 8192,
            arch: Arch::Gpt2,
            ffn_width: None,
            norm: NormKind::LayerNorm,
            rope_theta: None,
            norm_eps: None,
            tie_embeddings: None,
        }
    }
}

/// Padding granularity of the vocabulary: the lm-head matmul then tiles evenly.
const VOCAB_PAD: usize = 64;

/// Default RMSNorm epsilon (the same as GPT-2's LayerNorm, so the families differ by design only);
/// f64 so that configs write it as `1e-5`, used as f32.
pub const DEFAULT_NORM_EPS: f64 = 1e-5;

/// Default rotary base θ (Llama 1/2, HF `LlamaConfig`).
pub const DEFAULT_ROPE_THETA: f64 = 10000.0;

impl ModelConfig {
    /// Checks every dimension is positive, `n_embd % n_head == 0` and that token ids fit `u32`.
    pub fn validate(&self) -> Result<()> {
        for (field, v) in [
            ("n_layer", self.n_layer),
            ("n_embd", self.n_embd),
            ("n_head", self.n_head),
            ("block_size", self.block_size),
            ("vocab_size", self.vocab_size),
            ("ffn_width", self.ffn_width()),
        ] {
            if v == 0 {
                return Err(Error::ZeroDimension { field });
            }
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Err(Error::HeadsDontDivide {
                n_embd: self.n_embd,
                n_head: self.n_head,
            });
        }
        // Token ids are u32 and the padded vocabulary must fit too.
        let max = (u32::MAX as usize / VOCAB_PAD) * VOCAB_PAD;
        if self.vocab_size > max {
            return Err(Error::VocabTooLarge {
                vocab_size: self.vocab_size,
                max,
            });
        }
        if self.norm != self.arch.norm() {
            return Err(Error::Unsupported {
                arch: self.arch.name(),
                what: format!("norm {:?} (its norm is {:?})", self.norm, self.arch.norm()),
            });
        }
        match self.arch {
            Arch::Gpt2 => self.validate_gpt2(),
            Arch::Llama => self.validate_llama(),
        }
    }

    fn validate_gpt2(&self) -> Result<()> {
        let unsupported = |what: String| {
            Err(Error::Unsupported {
                arch: self.arch.name(),
                what,
            })
        };
        if let Some(theta) = self.rope_theta {
            return unsupported(format!(
                "rope_theta = {theta} (GPT-2 learns its positions; leave it unset)"
            ));
        }
        if let Some(eps) = self.norm_eps {
            return unsupported(format!(
                "norm_eps = {eps} (GPT-2's LayerNorm eps is fixed at 1e-5; leave it unset)"
            ));
        }
        if self.tie_embeddings == Some(false) {
            return unsupported(
                "tie_embeddings = false (GPT-2 ties its head to wte; leave it unset)".into(),
            );
        }
        Ok(())
    }

    fn validate_llama(&self) -> Result<()> {
        let eps = self.norm_eps();
        if !(eps > 0.0 && eps.is_finite()) {
            return Err(Error::BadValue {
                field: "norm_eps",
                value: eps.to_string(),
                problem: "must be a positive number (e.g. 1e-5)",
            });
        }
        let theta = self.rope_theta();
        if !(theta > 0.0 && theta.is_finite()) {
            return Err(Error::BadValue {
                field: "rope_theta",
                value: theta.to_string(),
                problem: "must be a positive number (e.g. 10000)",
            });
        }
        if !self.head_size().is_multiple_of(2) {
            return Err(Error::BadValue {
                field: "n_embd / n_head",
                value: self.head_size().to_string(),
                problem: "must be even: rotary embeddings rotate pairs of channels",
            });
        }
        Ok(())
    }

    /// The RMSNorm epsilon (`norm_eps`, default [`DEFAULT_NORM_EPS`]).
    pub fn norm_eps(&self) -> f32 {
        self.norm_eps.unwrap_or(DEFAULT_NORM_EPS as f32)
    }

    /// The rotary base θ (`rope_theta`, default [`DEFAULT_ROPE_THETA`]).
    pub fn rope_theta(&self) -> f64 {
        self.rope_theta.unwrap_or(DEFAULT_ROPE_THETA)
    }

    /// Whether the output head is the token embedding (default true).
    pub fn tie_embeddings(&self) -> bool {
        self.tie_embeddings.unwrap_or(true)
    }

    /// The family's parameter spec for this shape.
    pub fn spec(&self) -> ArchSpec {
        ArchSpec::of(self)
    }

    /// Hidden width F of the MLP (`ffn_width`, or the family's default: 4·C for GPT-2;
    /// ⅔·4·C rounded up to a multiple of 16 for Llama, e.g. 688 for C = 256, 176 for C = 64).
    pub fn ffn_width(&self) -> usize {
        self.ffn_width.unwrap_or(match self.arch {
            Arch::Gpt2 => 4 * self.n_embd,
            Arch::Llama => (8 * self.n_embd).div_ceil(3).div_ceil(16) * 16,
        })
    }

    /// Head size HS = C / NH.
    pub fn head_size(&self) -> usize {
        self.n_embd / self.n_head
    }

    /// `vocab_size` rounded up to a multiple of 64 (rows of `wte` in memory). The extra rows are
    /// zero, get zero gradient and never receive probability mass.
    pub fn padded_vocab_size(&self) -> usize {
        self.vocab_size.div_ceil(VOCAB_PAD) * VOCAB_PAD
    }

    /// Kaplan's N: every parameter except the embeddings (`wte`, `wpe`): blocks and the final
    /// norm, as the family's spec lists them.
    pub fn n_params_non_embedding(&self) -> u64 {
        self.spec().n_params_non_embedding(self.n_layer)
    }

    /// All parameters with the real vocabulary; the tied `wte` is counted once.
    pub fn n_params_total(&self) -> u64 {
        self.spec().n_params_total(self.n_layer)
    }

    /// Training FLOPs per token, forward + backward, as the family's spec counts them
    /// ([`ArchSpec::train_flops_per_token`]; GPT-2: `6·(N + V·C) + 12·L·T·C`).
    pub fn train_flops_per_token(&self, seq_len: usize) -> f64 {
        self.spec().train_flops_per_token(self, seq_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg_s() -> ModelConfig {
        ModelConfig {
            n_layer: 4,
            n_embd: 256,
            n_head: 4,
            block_size: 256,
            vocab_size: 8192,
            ..ModelConfig::default()
        }
    }

    #[test]
    fn config_validate_rejects_bad_shapes() {
        assert!(cfg_s().validate().is_ok());
        let mut c = cfg_s();
        c.n_head = 3;
        assert!(matches!(c.validate(), Err(Error::HeadsDontDivide { .. })));
        let mut c = cfg_s();
        c.n_layer = 0;
        assert!(matches!(
            c.validate(),
            Err(Error::ZeroDimension { field: "n_layer" })
        ));
    }

    #[test]
    fn config_padded_vocab_is_multiple_of_64() {
        let mut c = cfg_s();
        assert_eq!(c.padded_vocab_size(), 8192);
        c.vocab_size = 37;
        assert_eq!(c.padded_vocab_size(), 64);
        c.vocab_size = 65;
        assert_eq!(c.padded_vocab_size(), 128);
    }

    #[test]
    fn config_flops_match_bench_anchors() {
        // BENCH-ANCHORS.md: S is 71.0 GFLOP per step of 8 x 256 tokens, M 184.0.
        let s = cfg_s().train_flops_per_token(256) * 2048.0 / 1e9;
        assert!((s - 71.0).abs() < 0.05, "{s}");
        let m = ModelConfig {
            n_layer: 6,
            n_embd: 384,
            n_head: 6,
            block_size: 256,
            vocab_size: 8192,
            ..ModelConfig::default()
        };
        let m = m.train_flops_per_token(256) * 2048.0 / 1e9;
        assert!((m - 184.0).abs() < 0.05, "{m}");
    }

    #[test]
    fn config_ffn_width_and_rope_theta() {
        let mut c = cfg_s();
        let n4 = c.n_params_non_embedding();
        c.ffn_width = Some(4 * 256);
        assert_eq!(c.n_params_non_embedding(), n4);
        c.ffn_width = Some(512);
        // Each block loses 2·C·(4C − F) weights and 4C − F bias entries.
        assert_eq!(c.n_params_non_embedding(), n4 - 4 * (2 * 256 * 512 + 512));
        c.ffn_width = Some(0);
        assert!(matches!(
            c.validate(),
            Err(Error::ZeroDimension { field: "ffn_width" })
        ));
        let mut c = cfg_s();
        c.rope_theta = Some(10000.0);
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("gpt2") && e.contains("rope_theta = 10000"),
            "{e}"
        );
    }

    #[test]
    fn config_param_counts() {
        // GPT-2 small (124M): 85.0M non-embedding, 124.44M total with V = 50257, T = 1024.
        let c = ModelConfig {
            n_layer: 12,
            n_embd: 768,
            n_head: 12,
            block_size: 1024,
            vocab_size: 50257,
            ..ModelConfig::default()
        };
        assert_eq!(c.n_params_non_embedding(), 85_056_000);
        assert_eq!(c.n_params_total(), 124_439_808);
    }
}
