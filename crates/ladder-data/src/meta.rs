//! `meta.json`: what a data directory holds (DESIGN §3). Written last, so a directory with a
//! `meta.json` is complete; read strictly (unknown keys and other format versions are errors).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::shard::TokenShard;
use crate::synth::SynthConfig;

/// The `meta.json` format version this build writes and reads.
pub const META_VERSION: u32 = 1;

/// File names inside a data directory.
pub const META_FILE: &str = "meta.json";
/// The tokenizer (Hugging Face `tokenizers` JSON).
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// One of the two token shards of a data directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `train.bin`.
    Train,
    /// `val.bin`.
    Val,
}

impl Split {
    /// The shard's file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Split::Train => "train.bin",
            Split::Val => "val.bin",
        }
    }
}

/// Contents of `meta.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// [`META_VERSION`].
    pub format_version: u32,
    /// Tokenizer vocabulary size V (token ids are `0..V`).
    pub vocab_size: usize,
    /// Id of `<|endoftext|>`, which starts (synthetic) or ends (text) every document.
    pub eot_token: u32,
    /// Tokens in `train.bin`.
    pub train_tokens: u64,
    /// Tokens in `val.bin`.
    pub val_tokens: u64,
    /// UTF-8 bytes of source text behind `train.bin` (separators excluded), for bits per byte.
    pub train_bytes: u64,
    /// UTF-8 bytes of source text behind `val.bin`, for bits per byte.
    pub val_bytes: u64,
    /// Documents in the train split.
    pub train_documents: u64,
    /// Documents in the validation split.
    pub val_documents: u64,
    /// Human-readable description of where the data came from.
    pub source: String,
    /// sha256 (hex) of each input (`input:<path>`) and output file (`train.bin`, ...).
    pub hashes: BTreeMap<String, String>,
    /// Synthetic sources only: the loss of the true generating process on the validation split,
    /// nats per token, averaged over the targets `1..val_tokens` (every token but the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy_nats_per_token: Option<f64>,
    /// Settings of `ladder data prepare` (text sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextMeta>,
    /// Settings and measurements of `ladder data synth` (synthetic sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synth: Option<SynthMeta>,
    /// `ladder-data <version>` that wrote the directory.
    pub created_by: String,
}

/// How a text data directory was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextMeta {
    /// Tokenizer model, e.g. `"byte-level BPE"`.
    pub tokenizer: String,
    /// The `--vocab-size` asked for.
    pub requested_vocab_size: usize,
    /// The `--val-fraction` asked for.
    pub val_fraction: f64,
    /// Input files read, in order.
    pub files: Vec<String>,
}

/// How a synthetic data directory was made, and reference losses on its validation split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthMeta {
    /// The generator settings (everything needed to regenerate the data bit for bit).
    pub config: SynthConfig,
    /// Standard error of `entropy_nats_per_token` as an estimate of the source's entropy rate
    /// (std of per-document losses, renewal-reward estimator); the value itself is exact for the
    /// tokens of `val.bin`.
    pub entropy_stderr: f64,
    /// Exact mean loss of the true process over the first `tokens` targets of `val.bin`
    /// (targets `1..=tokens`), for tools that evaluate a prefix (ladder itself spreads its
    /// evaluation windows over the split, see `val_batches`, and compares with the full entropy).
    pub entropy_prefix: Vec<PrefixEntropy>,
    /// For common sequence lengths T, bounds on the best loss a model that sees only T-token
    /// windows (as `val_batches` cuts them) can reach on `val.bin`. (Absent, hence empty, in
    /// directories written before it was added.)
    #[serde(default)]
    pub window_bounds: Vec<WindowBound>,
    /// Cross-entropy on `val.bin` (nats/token) of a unigram model counted on `train.bin`
    /// (add-0.5 smoothing): a baseline any trained model should beat.
    pub unigram_val_nats: f64,
    /// Cross-entropy on `val.bin` of a bigram model counted on `train.bin` (smoothed towards the
    /// unigram, prior strength picked on val, which flatters it). `None` for vocabularies above
    /// 8192.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bigram_val_nats: Option<f64>,
}

/// The best loss reachable with `seq_len`-token windows lies in `[entropy, bound]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowBound {
    /// Window length T (the model's sequence length).
    pub seq_len: usize,
    /// Exact loss of the true process (full document history) over the targets of all
    /// `val_batches` windows of `val.bin`: a lower bound.
    pub entropy_nats_per_token: f64,
    /// Loss of a predictor that sees only each window (see `synth::window_bound`): an upper bound.
    pub bound_nats_per_token: f64,
}

/// The true process's mean loss over a prefix of the validation targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixEntropy {
    /// Number of targets (tokens `1..=tokens` of `val.bin`).
    pub tokens: u64,
    /// Mean loss over them, nats per token.
    pub nats_per_token: f64,
}

impl Meta {
    /// Reads and checks `dir/meta.json`.
    pub fn load(dir: &Path) -> Result<Meta> {
        let path = dir.join(META_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        // Check the version first, so an old or new file says so instead of "unknown field".
        #[derive(Deserialize)]
        struct VersionOnly {
            format_version: u32,
        }
        let v: VersionOnly = serde_json::from_str(&text).map_err(|cause| Error::MetaParse {
            path: path.clone(),
            cause,
        })?;
        if v.format_version != META_VERSION {
            return Err(Error::MetaVersion {
                path,
                found: v.format_version,
                supported: META_VERSION,
            });
        }
        serde_json::from_str(&text).map_err(|cause| Error::MetaParse { path, cause })
    }

    /// Writes `dir/meta.json` atomically (pretty JSON, trailing newline).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(META_FILE);
        let mut text = serde_json::to_string_pretty(self).map_err(|cause| Error::MetaParse {
            path: path.clone(),
            cause,
        })?;
        text.push('\n');
        write_atomic(&path, text.as_bytes())
    }

    /// Opens one shard of the data directory `dir` and checks it against this meta (vocabulary
    /// size and token count).
    pub fn open_shard(&self, dir: &Path, split: Split) -> Result<TokenShard> {
        let path: PathBuf = dir.join(split.file_name());
        let shard = TokenShard::open(&path)?;
        let want = match split {
            Split::Train => self.train_tokens,
            Split::Val => self.val_tokens,
        };
        if shard.len() as u64 != want {
            return Err(Error::MetaMismatch {
                path,
                what: "token count",
                meta: want,
                shard: shard.len() as u64,
            });
        }
        if shard.vocab_size() != self.vocab_size {
            return Err(Error::MetaMismatch {
                path,
                what: "vocab size",
                meta: self.vocab_size as u64,
                shard: shard.vocab_size() as u64,
            });
        }
        Ok(shard)
    }

    /// Converts a validation loss in nats per token into bits per UTF-8 byte of source text:
    /// `loss * (val_tokens / val_bytes) / ln 2`. `None` when `val_bytes` is 0.
    pub fn bits_per_byte(&self, val_loss_nats: f64) -> Option<f64> {
        (self.val_bytes > 0).then(|| {
            val_loss_nats * (self.val_tokens as f64 / self.val_bytes as f64)
                / std::f64::consts::LN_2
        })
    }
}

/// `ladder-data <crate version>`, recorded as [`Meta::created_by`].
pub fn created_by() -> String {
    format!("ladder-data {}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Meta {
        Meta {
            format_version: META_VERSION,
            vocab_size: 300,
            eot_token: 0,
            train_tokens: 10,
            val_tokens: 5,
            train_bytes: 40,
            val_bytes: 20,
            train_documents: 1,
            val_documents: 1,
            source: "test".into(),
            hashes: BTreeMap::new(),
            entropy_nats_per_token: None,
            text: None,
            synth: None,
            created_by: created_by(),
        }
    }

    #[test]
    fn meta_roundtrips_and_rejects_other_versions() -> Result<()> {
        let t = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let m = sample();
        m.save(t.path())?;
        assert_eq!(Meta::load(t.path())?, m);
        let p = t.path().join(META_FILE);
        let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
        assert!(!text.contains("entropy_nats_per_token"), "None is omitted");
        std::fs::write(
            &p,
            text.replace("\"format_version\": 1", "\"format_version\": 7"),
        )
        .map_err(|e| Error::io(&p, e))?;
        assert!(matches!(
            Meta::load(t.path()),
            Err(Error::MetaVersion { found: 7, .. })
        ));
        std::fs::write(&p, "{").map_err(|e| Error::io(&p, e))?;
        assert!(matches!(Meta::load(t.path()), Err(Error::MetaParse { .. })));
        Ok(())
    }

    #[test]
    fn open_shard_checks_counts_and_vocab_against_meta() -> Result<()> {
        let t = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let m = sample();
        crate::write_shard(&t.path().join("val.bin"), &[1, 2, 3, 4, 5], 300)?;
        crate::write_shard(&t.path().join("train.bin"), &[1, 2, 3], 300)?;
        assert_eq!(m.open_shard(t.path(), Split::Val)?.len(), 5);
        assert!(matches!(
            m.open_shard(t.path(), Split::Train),
            Err(Error::MetaMismatch {
                what: "token count",
                meta: 10,
                shard: 3,
                ..
            })
        ));
        crate::write_shard(&t.path().join("val.bin"), &[1, 2, 3, 4, 5], 301)?;
        assert!(matches!(
            m.open_shard(t.path(), Split::Val),
            Err(Error::MetaMismatch {
                what: "vocab size",
                ..
            })
        ));
        Ok(())
    }

    #[test]
    fn bits_per_byte_follows_the_formula() {
        let m = sample();
        // 5 tokens over 20 bytes: 0.25 tokens per byte; ln 2 nats per token -> 0.25 bits/byte.
        let bpb = m.bits_per_byte(std::f64::consts::LN_2).expect("bytes > 0");
        assert!((bpb - 0.25).abs() < 1e-12);
    }
}
