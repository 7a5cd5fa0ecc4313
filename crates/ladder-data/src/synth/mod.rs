//! The built-in synthetic token source with a known Bayes-optimal loss (DESIGN §8;
//! `docs/synthetic.md` has the maths and the measured numbers).
//!
//! K rules, each a sparse random Markov chain of order 1–3 on its own small alphabet, with Zipf
//! frequencies; every document follows one rule (optionally switching at random points). Frequent
//! rules are learned first and rare or high-order ones need more data and parameters, so a model's
//! loss falls gradually towards the exact entropy recorded as `entropy_nats_per_token`.

mod baselines;
mod entropy;
mod process;

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use baselines::{bigram_nats, unigram_nats};
pub use entropy::{doc_losses, stream_loss, window_bound, StreamLoss};
pub use process::{Process, MAX_BRANCHING};

use crate::error::{Error, Result};
use crate::fsutil::{sha256_file, StagingDir};
use crate::meta::{created_by, Meta, PrefixEntropy, Split, SynthMeta, WindowBound, META_VERSION};
use crate::progress::{Progress, Unit};
use crate::shard::write_shard;
use crate::tokenizer::{save_tokenizer, synth_tokenizer, synth_word_len};

/// Split ids mixed into the random streams.
const SPLIT_TRAIN: u64 = 0;
const SPLIT_VAL: u64 = 1;

/// Sequence lengths for which `meta.json` records [`WindowBound`]s (the presets use 64 and 256).
const WINDOW_SEQ_LENS: [usize; 5] = [64, 128, 256, 512, 1024];

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

/// Generates the token stream of one split: `tokens` tokens, documents each starting with BOS
/// (0), in parallel and deterministically. Returns the tokens and the number of documents.
pub fn generate_split(
    p: &Process,
    split: u64,
    tokens: u64,
    progress: &dyn Progress,
) -> (Vec<u32>, u64) {
    let lens = p.doc_lengths(split, tokens);
    let mut out = vec![0u32; tokens as usize];
    // One mutable slice per document's content (its BOS stays 0).
    let mut docs: Vec<&mut [u32]> = Vec::with_capacity(lens.len());
    let mut rest: &mut [u32] = &mut out;
    for &len in &lens {
        let (doc, tail) = std::mem::take(&mut rest).split_at_mut(1 + len);
        docs.push(&mut doc[1..]);
        rest = tail;
    }
    const DOCS_PER_TASK: usize = 256;
    docs.par_chunks_mut(DOCS_PER_TASK)
        .enumerate()
        .for_each(|(c, chunk)| {
            let mut n = 0u64;
            for (i, doc) in chunk.iter_mut().enumerate() {
                p.fill_doc(split, (c * DOCS_PER_TASK + i) as u64, doc);
                n += 1 + doc.len() as u64;
            }
            progress.advance(n);
        });
    (out, lens.len() as u64)
}

/// UTF-8 bytes of the text of a synthetic stream: each content token is its word (`t<id>`) plus
/// one separator (a space, or a newline after a document's last word); BOS is not text.
pub fn text_bytes(tokens: &[u32]) -> u64 {
    tokens
        .par_iter()
        .filter(|&&t| t != 0)
        .map(|&t| synth_word_len(t) + 1)
        .sum()
}

/// Builds a synthetic data directory at `out` (see [`crate::prepare`] for the directory rules:
/// staged beside `out`, renamed into place, `out` must be absent or empty unless `force`).
pub fn write_synth(
    cfg: &SynthConfig,
    out: &Path,
    force: bool,
    progress: &dyn Progress,
) -> Result<Meta> {
    cfg.validate()?;
    crate::fsutil::check_out(out, force)?;
    let p = Process::new(cfg);

    progress.stage(
        "generating",
        Some(cfg.train_tokens + cfg.val_tokens),
        Unit::Tokens,
    );
    let (train, train_docs) = generate_split(&p, SPLIT_TRAIN, cfg.train_tokens, progress);
    let (val, val_docs) = generate_split(&p, SPLIT_VAL, cfg.val_tokens, progress);
    progress.finish_stage();

    progress.stage("entropy and baselines", None, Unit::None);
    let loss = stream_loss(&p, &val);
    let mut entropy_prefix = Vec::new();
    let targets = val.len() as u64 - 1;
    let mut cum = 0.0;
    let mut next = 1024u64;
    for (i, l) in loss.per_token.iter().enumerate().skip(1) {
        cum += l;
        let i = i as u64;
        if i == next || i == targets {
            entropy_prefix.push(PrefixEntropy {
                tokens: i,
                nats_per_token: cum / i as f64,
            });
            if i == next {
                next *= 2;
            }
        }
    }
    let window_bounds = WINDOW_SEQ_LENS
        .iter()
        .filter(|&&t| t < val.len())
        .map(|&t| {
            let n = (val.len() - 1) / t * t;
            WindowBound {
                seq_len: t,
                entropy_nats_per_token: loss.per_token[1..=n].iter().sum::<f64>() / n as f64,
                bound_nats_per_token: window_bound(&p, &val, t),
            }
        })
        .collect();
    let (unigram, bigram) = rayon::join(
        || unigram_nats(&train, &val, cfg.vocab_size),
        || bigram_nats(&train, &val, cfg.vocab_size),
    );
    progress.finish_stage();

    progress.stage("writing", None, Unit::None);
    let stage = StagingDir::new(out, force)?;
    let dir = stage.path();
    save_tokenizer(&synth_tokenizer(cfg.vocab_size)?, dir)?;
    write_shard(&dir.join(Split::Train.file_name()), &train, cfg.vocab_size)?;
    write_shard(&dir.join(Split::Val.file_name()), &val, cfg.vocab_size)?;
    let mut hashes = BTreeMap::new();
    for name in ["tokenizer.json", "train.bin", "val.bin"] {
        hashes.insert(name.to_string(), sha256_file(&dir.join(name))?);
    }
    let meta = Meta {
        format_version: META_VERSION,
        vocab_size: cfg.vocab_size,
        eot_token: 0,
        train_tokens: train.len() as u64,
        val_tokens: val.len() as u64,
        train_bytes: text_bytes(&train),
        val_bytes: text_bytes(&val),
        train_documents: train_docs,
        val_documents: val_docs,
        source: cfg.describe(),
        hashes,
        entropy_nats_per_token: Some(loss.mean),
        text: None,
        synth: Some(SynthMeta {
            config: cfg.clone(),
            entropy_stderr: loss.stderr,
            entropy_prefix,
            window_bounds,
            unigram_val_nats: unigram,
            bigram_val_nats: bigram,
        }),
        created_by: created_by(),
    };
    meta.save(dir)?;
    stage.commit()?;
    progress.finish_stage();
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

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

    #[test]
    fn synth_generation_is_deterministic_and_well_formed() {
        let cfg = SynthConfig {
            train_tokens: 200_000,
            ..SynthConfig::default()
        };
        let p = Process::new(&cfg);
        let (a, docs) = generate_split(&p, SPLIT_TRAIN, cfg.train_tokens, &NoProgress);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool");
        let (b, _) =
            pool.install(|| generate_split(&p, SPLIT_TRAIN, cfg.train_tokens, &NoProgress));
        assert_eq!(a, b, "same data whatever the thread count");
        assert_eq!(a.len(), 200_000);
        assert_eq!(a[0], 0);
        assert_eq!(a.iter().filter(|&&t| t == 0).count() as u64, docs);
        assert!(a.iter().all(|&t| (t as usize) < cfg.vocab_size));
        let (v, _) = generate_split(&p, SPLIT_VAL, 10_000, &NoProgress);
        assert_ne!(&v[..100], &a[..100], "val is drawn from its own stream");
    }

    /// The measurement behind docs/synthetic.md's table (default knobs, fewer tokens): the exact
    /// entropy sits well below what n-gram models reach.
    #[test]
    fn synth_entropy_is_well_below_unigram_and_bigram_baselines() {
        let cfg = SynthConfig {
            train_tokens: 4_000_000,
            val_tokens: 200_000,
            ..SynthConfig::default()
        };
        let p = Process::new(&cfg);
        let (train, _) = generate_split(&p, SPLIT_TRAIN, cfg.train_tokens, &NoProgress);
        let (val, _) = generate_split(&p, SPLIT_VAL, cfg.val_tokens, &NoProgress);
        let h = stream_loss(&p, &val);
        let uni = unigram_nats(&train, &val, cfg.vocab_size);
        let bi = bigram_nats(&train, &val, cfg.vocab_size).expect("small vocab");
        eprintln!(
            "entropy {:.4} ± {:.4}, unigram {uni:.4} (+{:.3}), bigram {bi:.4} (+{:.3})",
            h.mean,
            h.stderr,
            uni - h.mean,
            bi - h.mean
        );
        assert!(
            h.mean.is_finite() && h.mean > 1.0 && h.mean < 2.0,
            "{}",
            h.mean
        );
        assert!(bi > h.mean + 1.0, "bigram {bi} vs entropy {}", h.mean);
        assert!(uni > bi + 0.5, "unigram {uni} vs bigram {bi}");
    }

    #[test]
    fn synth_writes_a_complete_data_directory() -> Result<()> {
        let t = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let out = t.path().join("synth");
        let cfg = SynthConfig {
            train_tokens: 50_000,
            val_tokens: 5_000,
            ..SynthConfig::default()
        };
        let meta = write_synth(&cfg, &out, false, &NoProgress)?;
        assert_eq!(Meta::load(&out)?, meta);
        let val = meta.open_shard(&out, Split::Val)?;
        assert_eq!(val.len(), 5_000);
        let tok = crate::load_tokenizer(&out)?;
        let ids = val.to_vec();
        // Decoding a document and re-encoding it gives the same ids; its bytes add up.
        let end = ids[1..]
            .iter()
            .position(|&t| t == 0)
            .map_or(ids.len(), |e| e + 1);
        let text = tok.decode(&ids[1..end], false).expect("decode");
        let back = tok.encode_fast(text.as_str(), false).expect("encode");
        assert_eq!(back.get_ids(), &ids[1..end]);
        assert_eq!(text.len() as u64 + 1, text_bytes(&ids[..end]));
        let h = meta.entropy_nats_per_token.expect("synthetic");
        let s = meta.synth.as_ref().expect("synthetic");
        let last = s.entropy_prefix.last().expect("prefix table");
        assert_eq!(last.tokens, 4_999);
        assert!((last.nats_per_token - h).abs() < 1e-12);
        let wb: Vec<usize> = s.window_bounds.iter().map(|b| b.seq_len).collect();
        assert_eq!(wb, vec![64, 128, 256, 512, 1024]);
        for b in &s.window_bounds {
            assert!(b.bound_nats_per_token > b.entropy_nats_per_token, "{b:?}");
        }
        // Same config, same bytes.
        let out2 = t.path().join("synth2");
        let meta2 = write_synth(&cfg, &out2, false, &NoProgress)?;
        assert_eq!(meta.hashes, meta2.hashes);
        assert!(matches!(
            write_synth(&cfg, &out, false, &NoProgress),
            Err(Error::OutExists { .. })
        ));
        Ok(())
    }
}
