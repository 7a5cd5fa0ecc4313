//! The run configuration of DESIGN §7: `[model] [train] [eval] [checkpoint]` (plus `[data]`, which
//! records where the tokens came from), presets `tiny | S | M`, a `--config` TOML file and
//! `--set section.key=value` overrides, each checked against the schema.
//!
//! Resolution order: defaults → `--preset` → `--config` file → `--set` (left to right). Every layer is
//! merged as a TOML table whose keys and value types are checked against the fully populated
//! defaults, so an unknown key or a wrong type is reported with the key's name and the valid
//! alternatives, before serde ever sees it. [`Config::validate`] then checks the values.
//!
//! The file format keeps DESIGN §7's "0 / \"\" = unset" spelling (TOML has no null, and a resolved
//! config writes every key); the accessors ([`TrainSection::stop_tokens`], ...) turn those into
//! `Option`s so the rest of the crate never tests a sentinel.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{io, Error, Result};

mod layers;
use layers::{apply_set, merge_table};

/// The whole run configuration, as written to a run's `config.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Model shape.
    #[serde(default)]
    pub model: ModelSection,
    /// Optimisation, batch shape and stop conditions.
    #[serde(default)]
    pub train: TrainSection,
    /// Validation.
    #[serde(default)]
    pub eval: EvalSection,
    /// Checkpointing.
    #[serde(default)]
    pub checkpoint: CheckpointSection,
    /// Where the tokens come from (filled in by `ladder train` from `--data`).
    #[serde(default)]
    pub data: DataSection,
    /// What the trainer logs for diagnosis.
    #[serde(default)]
    pub log: LogSection,
    /// Testing aids (planted bugs); empty in real runs.
    #[serde(default)]
    pub debug: DebugSection,
    /// The health monitor (see [`crate::health`]).
    #[serde(default)]
    pub health: crate::health::HealthSection,
}

/// Model architecture (`model.arch`: `gpt2` or `llama`): the family's spec lives in
/// `ladder_model`.
pub use ladder_model::Arch;

/// `[model]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSection {
    /// Architecture (`"gpt2"` or `"llama"`).
    pub arch: Arch,
    /// Transformer blocks (L).
    pub n_layer: usize,
    /// Channels (C).
    pub n_embd: usize,
    /// Attention heads (NH); must divide `n_embd`.
    pub n_head: usize,
    /// Positions the model holds (rows of `wpe`).
    pub block_size: usize,
    /// Real vocabulary size; 0 = take it from the data's `meta.json` (the resolved config always
    /// records the real value).
    pub vocab_size: usize,
    /// MLP hidden width F (Llama's `intermediate_size`); absent = the family's default (GPT-2
    /// 4·C; Llama ⅔·4·C rounded up to a multiple of 16). Optional keys are written only when
    /// set, so GPT-2 configs read and hash as before; a Llama config records all four.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ffn_width: Option<usize>,
    /// Rotary base θ (Llama only; default 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_theta: Option<f64>,
    /// RMSNorm epsilon (Llama only; default 1e-5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub norm_eps: Option<f64>,
    /// Whether the output head is the token embedding (default true; GPT-2 refuses false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie_embeddings: Option<bool>,
}

impl ModelSection {
    /// The optional `[model]` keys (absent from the defaults table) with a value of their type,
    /// so a `--config` file or `--set` can still name them and have the type checked.
    pub(super) fn optional_key(key: &str) -> Option<toml::Value> {
        use toml::Value as V;
        match key {
            "ffn_width" => Some(V::Integer(0)),
            "rope_theta" => Some(V::Float(0.0)),
            "norm_eps" => Some(V::Float(0.0)),
            "tie_embeddings" => Some(V::Boolean(true)),
            _ => None,
        }
    }

    /// Names of the optional keys (for "valid keys" lists).
    pub(super) const OPTIONAL_KEYS: [&'static str; 4] =
        ["ffn_width", "rope_theta", "norm_eps", "tie_embeddings"];

    /// Writes the family's defaults into unset optional keys of a Llama model, so its resolved
    /// config records every value the model uses.
    fn fill_family_defaults(&mut self) {
        if self.arch != Arch::Llama {
            return;
        }
        let m = self.to_model_config(1);
        self.ffn_width.get_or_insert(m.ffn_width());
        self.rope_theta.get_or_insert(m.rope_theta());
        self.norm_eps.get_or_insert(ladder_model::DEFAULT_NORM_EPS);
        self.tie_embeddings.get_or_insert(m.tie_embeddings());
    }

    fn to_model_config(&self, vocab_size: usize) -> ladder_model::ModelConfig {
        ladder_model::ModelConfig {
            n_layer: self.n_layer,
            n_embd: self.n_embd,
            n_head: self.n_head,
            block_size: self.block_size,
            vocab_size,
            arch: self.arch,
            ffn_width: self.ffn_width,
            norm: self.arch.norm(),
            rope_theta: self.rope_theta,
            norm_eps: self.norm_eps.map(|e| e as f32),
            tie_embeddings: self.tie_embeddings,
        }
    }
}

impl Default for ModelSection {
    /// The S reference config of issue 3 (4 × 256, 4 heads): small enough for a laptop, big
    /// enough to learn real text.
    fn default() -> Self {
        ModelSection {
            arch: Arch::Gpt2,
            n_layer: 4,
            n_embd: 256,
            n_head: 4,
            block_size: 256,
            vocab_size: 0,
            ffn_width: None,
            rope_theta: None,
            norm_eps: None,
            tie_embeddings: None,
        }
    }
}

/// Learning-rate schedule shape (see [`crate::schedule`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// Linear warm-up, then cosine decay to `lr · min_lr_ratio` at the last step.
    #[default]
    Cosine,
    /// Warm-up, stable at `lr`, then linear decay over the last `decay_fraction` of the steps.
    Wsd,
}

/// `[train]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSection {
    /// Sequences per micro-batch (B).
    pub batch_size: usize,
    /// Tokens per sequence (T), at most `model.block_size`.
    pub seq_len: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    /// Stop after this many training tokens (0 = unset).
    pub tokens: u64,
    /// Stop after this many optimizer steps (0 = unset).
    pub steps: u64,
    /// Stop after this wall time, e.g. "20m" or "1h30m" ("" = unset).
    pub max_time: String,
    /// Peak learning rate.
    pub lr: f64,
    /// Final learning rate as a fraction of `lr` (Chinchilla-style decay to ~lr/10).
    pub min_lr_ratio: f64,
    /// Linear warm-up steps.
    pub warmup_steps: u64,
    /// `"cosine"` or `"wsd"`.
    pub schedule: ScheduleKind,
    /// WSD only: fraction of all steps spent in the final decay.
    pub decay_fraction: f64,
    /// Decoupled AdamW weight decay, applied to 2-D weights only.
    pub weight_decay: f64,
    /// Global gradient-norm clip (0 = no clipping).
    pub grad_clip: f64,
    /// Seeds the initialisation and the data order.
    pub seed: u64,
    /// Worker threads (0 = all cores). Results are bitwise reproducible for a fixed count.
    pub threads: usize,
    /// Check for silent data corruption every this many steps (0 = off; `--sdc-check-every`):
    /// data-parallel ranks compare parameter checksums, one process computes the step's gradient
    /// twice (see [`crate::sdc`]).
    pub sdc_check_every: u64,
}

impl Default for TrainSection {
    fn default() -> Self {
        TrainSection {
            batch_size: 8,
            seq_len: 256,
            grad_accum: 1,
            tokens: 0,
            steps: 0,
            max_time: String::new(),
            // Small models tolerate (and need) high rates; 3e-3 is stable for S with warm-up 50.
            lr: 3e-3,
            min_lr_ratio: 0.1,
            warmup_steps: 50,
            schedule: ScheduleKind::Cosine,
            decay_fraction: 0.2,
            weight_decay: 0.1,
            grad_clip: 1.0,
            seed: 0,
            threads: 0,
            sdc_check_every: 0,
        }
    }
}

impl TrainSection {
    /// `train.tokens` as an option.
    pub fn stop_tokens(&self) -> Option<u64> {
        (self.tokens > 0).then_some(self.tokens)
    }
    /// `train.steps` as an option.
    pub fn stop_steps(&self) -> Option<u64> {
        (self.steps > 0).then_some(self.steps)
    }
    /// `train.max_time` parsed.
    pub fn stop_time(&self) -> Result<Option<Duration>> {
        parse_duration(&self.max_time)
    }
    /// Tokens consumed by one optimizer step: B · T · grad_accum.
    pub fn tokens_per_step(&self) -> u64 {
        (self.batch_size * self.seq_len * self.grad_accum) as u64
    }
}

/// `[eval]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalSection {
    /// Optimizer steps between evaluations (0 = only at the end).
    pub every: u64,
    /// Validation tokens per mid-training evaluation (rounded down to whole batches, at least
    /// one).
    pub tokens: usize,
    /// Validation tokens of the final evaluation, the one `summary.json` reports (rounded down
    /// to whole batches, at least one); 0 = the whole validation split. The final loss is the
    /// number scaling-law fits use, so it gets the whole split unless the user trades precision
    /// for time.
    pub final_tokens: usize,
}

impl EvalSection {
    /// The token budget of the final evaluation: `final_tokens`, or the whole split for 0.
    pub fn final_budget(&self) -> usize {
        match self.final_tokens {
            0 => usize::MAX,
            t => t,
        }
    }
}

impl Default for EvalSection {
    fn default() -> Self {
        // 64 Ki tokens: a val-loss standard error well under 0.01 nats at a few seconds' cost for S.
        EvalSection {
            every: 100,
            tokens: 65536,
            final_tokens: 0,
        }
    }
}

/// `[checkpoint]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckpointSection {
    /// Optimizer steps between checkpoints (0 = only at the end).
    pub every: u64,
    /// How many of the newest checkpoints to keep.
    pub keep: usize,
}

impl Default for CheckpointSection {
    fn default() -> Self {
        CheckpointSection { every: 0, keep: 3 }
    }
}

/// `[data]`: not in DESIGN §7's list of tunables, but part of "enough to reproduce the run".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DataSection {
    /// The data directory ("" = given with `--data`); the resolved config holds the absolute path.
    pub dir: String,
}

/// `[log]`: extra records for `ladder diagnose`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    /// Optimizer steps between per-layer statistics in `layers.jsonl` (step 1 is always
    /// logged; 0 = off).
    pub layer_stats_every: u64,
}

impl Default for LogSection {
    fn default() -> Self {
        // One pass over params, grads and a copy: well under 1 % of a step when taken every 10.
        LogSection {
            layer_stats_every: 10,
        }
    }
}

/// `[debug]`: testing aids for diagnosis, never for real training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DebugSection {
    /// A planted bug (`ladder train --debug-bug NAME`); "" = none.
    pub bug: crate::planted::PlantedBug,
}

/// A named starting point (DESIGN §7): `tiny`, `S`, `M`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// n_layer 2, n_embd 64, n_head 2, block 64, batch 4 × seq 64: tests and smoke runs.
    Tiny,
    /// n_layer 4, n_embd 256, n_head 4, block 256, batch 8 × seq 256: issue 3's S.
    S,
    /// n_layer 6, n_embd 384, n_head 6, block 256, batch 8 × seq 256: issue 3's M.
    M,
}

impl std::str::FromStr for Preset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tiny" => Ok(Preset::Tiny),
            "S" | "s" => Ok(Preset::S),
            "M" | "m" => Ok(Preset::M),
            _ => Err(Error::UnknownPreset { name: s.to_owned() }),
        }
    }
}

impl Preset {
    /// The full config of this preset (defaults elsewhere).
    pub fn config(self) -> Config {
        let (n_layer, n_embd, n_head, block, batch, seq) = match self {
            Preset::Tiny => (2, 64, 2, 64, 4, 64),
            Preset::S => (4, 256, 4, 256, 8, 256),
            Preset::M => (6, 384, 6, 256, 8, 256),
        };
        let mut c = Config::default();
        c.model.n_layer = n_layer;
        c.model.n_embd = n_embd;
        c.model.n_head = n_head;
        c.model.block_size = block;
        c.train.batch_size = batch;
        c.train.seq_len = seq;
        c
    }
}

impl Config {
    /// Resolves a config: `preset` (or the defaults), then the TOML file, then each `--set`.
    /// Checks keys and types; call [`Config::validate`] for the values.
    pub fn resolve(preset: Option<Preset>, file: Option<&Path>, sets: &[String]) -> Result<Config> {
        let base = preset.map(Preset::config).unwrap_or_default();
        let mut table = base.to_table();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(io(path))?;
            let over: toml::Table = toml::from_str(&text).map_err(|e| Error::ConfigParse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            merge_table(&mut table, over, &path.display().to_string())?;
        }
        for arg in sets {
            apply_set(&mut table, arg)?;
        }
        let mut c = Config::from_table(table, "invalid config")?;
        c.model.fill_family_defaults();
        Ok(c)
    }

    /// Parses a complete config file (a run's `config.toml`), filling absent keys with defaults.
    pub fn load(path: &Path) -> Result<Config> {
        Config::resolve(None, Some(path), &[])
    }

    /// This config as a TOML table with every key present.
    fn to_table(&self) -> toml::Table {
        // Serialising plain structs of numbers, strings and unit enums cannot fail.
        toml::Table::try_from(self).expect("config serialises to a TOML table")
    }

    fn from_table(table: toml::Table, origin: &str) -> Result<Config> {
        Config::deserialize(table).map_err(|e| Error::ConfigValue {
            origin: origin.to_owned(),
            // toml puts the key on a second line ("... \nin `train.schedule`"): keep one line.
            message: e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })
    }

    /// The resolved config as TOML text, every key written, sections in schema order.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises to TOML")
    }

    /// Checks the values (not just the types): the first problem found is returned.
    pub fn validate(&self) -> Result<()> {
        let m = &self.model;
        let t = &self.train;
        for (key, v) in [
            ("model.n_layer", m.n_layer),
            ("model.n_embd", m.n_embd),
            ("model.n_head", m.n_head),
            ("model.block_size", m.block_size),
            ("train.batch_size", t.batch_size),
            ("train.seq_len", t.seq_len),
            ("train.grad_accum", t.grad_accum),
            ("eval.tokens", self.eval.tokens),
            ("checkpoint.keep", self.checkpoint.keep),
        ] {
            if v == 0 {
                return Err(Error::NotPositive {
                    key,
                    value: "0".into(),
                    hint: "",
                });
            }
        }
        if !m.n_embd.is_multiple_of(m.n_head) {
            return Err(Error::HeadsDontDivide {
                n_embd: m.n_embd,
                n_head: m.n_head,
                suggest: m.n_embd.div_ceil(m.n_head) * m.n_head,
            });
        }
        // The family's own checks (ffn_width, norm_eps, rope_theta, even head size for rotary,
        // keys the family refuses); the vocabulary is resolved later, so any positive stand-in.
        m.to_model_config(m.vocab_size.max(1)).validate()?;
        if t.seq_len > m.block_size {
            return Err(Error::SeqLenTooLong {
                seq_len: t.seq_len,
                block_size: m.block_size,
            });
        }
        if !(t.lr > 0.0 && t.lr.is_finite()) {
            return Err(Error::NotPositive {
                key: "train.lr",
                value: t.lr.to_string(),
                hint: " (typical values for small GPTs: 1e-4 to 1e-2)",
            });
        }
        for (key, v) in [
            ("train.min_lr_ratio", t.min_lr_ratio),
            ("train.decay_fraction", t.decay_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::OutOfRange {
                    key,
                    value: v.to_string(),
                    range: "[0, 1]",
                });
            }
        }
        for (key, v) in [
            ("train.weight_decay", t.weight_decay),
            ("train.grad_clip", t.grad_clip),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(Error::OutOfRange {
                    key,
                    value: v.to_string(),
                    range: "[0, inf) (0 turns it off)",
                });
            }
        }
        self.health.validate()?;
        let time = t.stop_time()?;
        if t.stop_tokens().is_none() && t.stop_steps().is_none() && time.is_none() {
            return Err(Error::NoStopCondition);
        }
        Ok(())
    }

    /// The model shape as `ladder_model` wants it; `vocab_size` must be resolved (non-zero).
    pub fn model_config(&self) -> ladder_model::ModelConfig {
        self.model.to_model_config(self.model.vocab_size)
    }

    /// sha256 of [`Config::to_toml`]: identifies the config in checkpoints.
    pub fn hash(&self) -> String {
        crate::fsutil::sha256_hex(self.to_toml().as_bytes())
    }
}

/// Parses `train.max_time`: `""` → none; otherwise one or more `<number><unit>` parts with unit
/// `s`, `m`, `h` or `d` (e.g. `"90s"`, `"20m"`, `"1h30m"`, `"1.5h"`).
pub fn parse_duration(s: &str) -> Result<Option<Duration>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = |reason| Error::BadDuration {
        value: s.to_owned(),
        reason,
    };
    let mut total = 0.0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| bad("a number needs a unit: s, m, h or d"))?;
        if num_len == 0 {
            return Err(bad("expected a number"));
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| bad("not a number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match rest[..unit_len].trim() {
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(bad("units are s, m, h and d")),
        };
        total += value * secs;
        rest = &rest[unit_len..];
    }
    if !(total > 0.0 && total.is_finite()) {
        return Err(bad("must be longer than zero"));
    }
    Ok(Some(Duration::from_secs_f64(total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn presets_match_design_section_7() {
        let t = Preset::Tiny.config();
        assert_eq!(
            (t.model.n_layer, t.model.n_embd, t.model.n_head),
            (2, 64, 2)
        );
        assert_eq!(
            (t.model.block_size, t.train.batch_size, t.train.seq_len),
            (64, 4, 64)
        );
        let m = Preset::M.config();
        assert_eq!(
            (m.model.n_layer, m.model.n_embd, m.model.n_head),
            (6, 384, 6)
        );
        assert_eq!(Preset::S.config(), Config::default());
    }

    #[test]
    fn resolved_toml_round_trips_with_every_key() {
        let c = Config::resolve(Some(Preset::Tiny), None, &sets(&["train.steps=7"])).unwrap();
        let text = c.to_toml();
        for key in [
            "arch",
            "vocab_size",
            "max_time",
            "schedule",
            "decay_fraction",
            "keep",
            "dir",
        ] {
            assert!(text.contains(key), "{key} missing from\n{text}");
        }
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn validate_rejects_bad_values_with_messages() {
        let ok = Config::resolve(None, None, &sets(&["train.steps=1"])).unwrap();
        ok.validate().unwrap();
        let check = |s: &[&str], want: &str| {
            let mut all = sets(&["train.steps=1"]);
            all.extend(sets(s));
            let e = Config::resolve(None, None, &all)
                .unwrap()
                .validate()
                .unwrap_err();
            assert!(e.to_string().contains(want), "{s:?}: {e}");
        };
        check(&["train.lr=-1e-3"], "train.lr = -0.001 must be positive");
        check(&["train.lr=0"], "train.lr = 0 must be positive");
        check(
            &["model.n_embd=100", "model.n_head=3"],
            "not divisible by model.n_head = 3",
        );
        check(
            &["train.seq_len=512"],
            "train.seq_len = 512 exceeds model.block_size = 256",
        );
        check(
            &["train.min_lr_ratio=2"],
            "train.min_lr_ratio = 2 is out of range",
        );
        check(&["model.n_layer=0"], "model.n_layer = 0 must be positive");
        check(&["train.max_time=soon"], "not a duration");
        check(&["train.steps=0"], "no stop condition");
    }

    #[test]
    fn llama_keys_are_optional_typed_and_filled_for_llama_only() {
        // GPT-2 configs carry none of them: the resolved TOML (and its hash) is as before.
        let g = Config::resolve(Some(Preset::S), None, &sets(&["train.steps=1"])).unwrap();
        let text = g.to_toml();
        for key in ["ffn_width", "rope_theta", "norm_eps", "tie_embeddings"] {
            assert!(!text.contains(key), "{key} in\n{text}");
        }
        // A Llama config records every value its model uses.
        let l = Config::resolve(
            Some(Preset::S),
            None,
            &sets(&["train.steps=1", "model.arch=llama", "model.rope_theta=5e5"]),
        )
        .unwrap();
        l.validate().unwrap();
        assert_eq!(l.model.ffn_width, Some(688));
        assert_eq!(l.model.rope_theta, Some(5e5));
        assert_eq!(l.model.norm_eps, Some(1e-5));
        assert_eq!(l.model.tie_embeddings, Some(true));
        let m = l.model_config();
        assert_eq!(
            (m.arch, m.norm),
            (Arch::Llama, ladder_model::NormKind::RmsNorm)
        );
        let back: Config = toml::from_str(&l.to_toml()).unwrap();
        assert_eq!(back, l);
        // Types are checked although the keys are absent from the defaults.
        let e = Config::resolve(None, None, &sets(&["model.tie_embeddings=3"])).unwrap_err();
        assert!(e.to_string().contains("model.tie_embeddings"), "{e}");
        let e = Config::resolve(None, None, &sets(&["model.ffn_wdth=3"])).unwrap_err();
        assert!(
            e.to_string().contains("ffn_width"),
            "the valid keys are listed: {e}"
        );
        // Values are checked by the family.
        let bad = |s: &[&str], want: &str| {
            let mut all = sets(&["train.steps=1", "model.arch=llama"]);
            all.extend(sets(s));
            let e = Config::resolve(None, None, &all)
                .unwrap()
                .validate()
                .unwrap_err();
            assert!(e.to_string().contains(want), "{s:?}: {e}");
        };
        bad(&["model.norm_eps=0"], "norm_eps = 0");
        bad(&["model.rope_theta=-2"], "rope_theta = -2");
        bad(&["model.ffn_width=0"], "ffn_width must be > 0");
        bad(&["model.n_embd=36", "model.n_head=4"], "must be even");
        let e = Config::resolve(
            None,
            None,
            &sets(&["train.steps=1", "model.rope_theta=1e4"]),
        )
        .unwrap()
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("GPT-2 learns its positions"), "{e}");
    }

    #[test]
    fn durations_parse() {
        let d = |s: &str| parse_duration(s).unwrap().map(|d| d.as_secs_f64());
        assert_eq!(d(""), None);
        assert_eq!(d("90s"), Some(90.0));
        assert_eq!(d("20m"), Some(1200.0));
        assert_eq!(d("1h30m"), Some(5400.0));
        assert_eq!(d("1.5h"), Some(5400.0));
        assert_eq!(d("2d"), Some(172800.0));
        for bad in ["20", "m", "5x", "0s", "1..2h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
