//! `ladder suggest`: a training config for a target compute from fitted laws — N and D from a
//! compute-optimal allocation (a chinchilla, isoflop or envelope fit), the shape from a family,
//! the learning rate and batch from a hyper-parameter fit (`ladder fit --law hparams`) — each
//! value marked fitted (with its 95 % interval) or default (and from where), and the config
//! `ladder train --config` takes as is.
//!
//! The fits themselves are read by the caller (`ladder_laws::predict`); this module turns the
//! numbers into a trainable config with the same rules as a sweep: the shape nearest N_opt in
//! the family, tokens rounded to whole optimizer steps (C = 6·N·D within rounding), the batch in
//! whole sequences, warm-up by the width rule's fraction of the steps.

use ladder_train::{Config, Preset};

use crate::error::{Error, Result};
use crate::lr::{LrPlan, LrRule, WARMUP_FRACTION};
use crate::shapes::{Family, Shape};

/// A fitted value: point estimate and 95 % interval (absent without bootstrap replicates).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fitted {
    /// Point estimate.
    pub value: f64,
    /// 95 % interval.
    pub ci95: Option<[f64; 2]>,
}

/// Where a suggested value came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// From a fit (with its interval).
    Fitted(Option<[f64; 2]>),
    /// A default, not fitted: the text says which.
    Default(String),
}

/// One suggested value.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// The value the config uses.
    pub value: f64,
    /// Fitted or default.
    pub source: Source,
}

/// What to suggest for.
#[derive(Clone, Debug)]
pub struct SuggestRequest {
    /// Target compute (FLOPs, 6·N·D).
    pub compute: f64,
    /// The `ladder train` preset the config starts from.
    pub preset: String,
    /// `--set` overrides applied to the preset first.
    pub sets: Vec<String>,
    /// The shape family N is drawn from.
    pub family: Family,
    /// N_opt at the compute (from an allocation fit).
    pub n_opt: Option<Fitted>,
    /// A model size given by the user instead of a fit (the family's shape nearest it).
    pub n_given: Option<f64>,
    /// D_opt at the compute (from the same fit; the config's D is C / 6N of the chosen shape).
    pub d_opt: Option<Fitted>,
    /// Optimal peak learning rate (from a hyper-parameter fit).
    pub lr: Option<Fitted>,
    /// Optimal batch in tokens per optimizer step (from the same fit).
    pub batch_tokens: Option<Fitted>,
}

/// A suggestion: the values with their sources, and the config.
#[derive(Clone, Debug)]
pub struct Suggestion {
    /// Target compute.
    pub compute: f64,
    /// The shape (n_layer, n_embd, n_head).
    pub shape: Shape,
    /// N of the shape (non-embedding); its source is the allocation fit's N_opt.
    pub n: Value,
    /// Training tokens (whole optimizer steps).
    pub d: Value,
    /// Peak learning rate.
    pub lr: Value,
    /// Sequences per micro-batch (`train.batch_size`).
    pub batch: Value,
    /// Warm-up steps.
    pub warmup: Value,
    /// The resolved config.
    pub config: Config,
}

fn invalid(name: &'static str, value: impl ToString, rule: &'static str) -> Error {
    Error::InvalidOption {
        name,
        value: value.to_string(),
        rule,
    }
}

/// Builds the suggestion (module docs).
pub fn suggest(req: &SuggestRequest) -> Result<Suggestion> {
    let c = req.compute;
    if !(c > 0.0 && c.is_finite()) {
        return Err(invalid(
            "--compute",
            c,
            "a compute budget in FLOPs > 0, e.g. 1e13",
        ));
    }
    let preset: Preset = req.preset.parse()?;
    let base = Config::resolve(Some(preset), None, &req.sets)?;
    let per_seq = (base.train.seq_len * base.train.grad_accum) as f64;
    if let Some(n) = req.n_given {
        if !(n > 0.0 && n.is_finite()) {
            return Err(invalid("--n", n, "a parameter count > 0, e.g. 5e4"));
        }
    }
    for (name, v) in [
        ("N_opt", req.n_opt),
        ("lr", req.lr),
        ("batch", req.batch_tokens),
    ] {
        if let Some(f) = v {
            if !(f.value > 0.0 && f.value.is_finite()) {
                return Err(invalid(
                    "fit",
                    format!("{name} = {}", f.value),
                    "the fit gives no positive value at this compute; check the fit",
                ));
            }
        }
    }

    let shape_for = |target: f64| {
        req.family.shape_for(target, &[]).ok_or_else(|| {
            let (min, max) = req.family.range();
            Error::NoShape {
                target,
                family: req.family.to_string(),
                min,
                max,
            }
        })
    };
    let (shape, n_source) = match (req.n_given, req.n_opt) {
        (Some(n), _) => (
            shape_for(n)?,
            Source::Default(format!("the {} family's shape nearest --n {n}", req.family)),
        ),
        (None, Some(f)) => (shape_for(f.value)?, Source::Fitted(f.ci95)),
        (None, None) => (
            Shape {
                n_layer: base.model.n_layer,
                n_embd: base.model.n_embd,
                n_head: base.model.n_head,
                arch: base.model.arch,
            },
            Source::Default(format!("the {} preset's model (no --fit)", req.preset)),
        ),
    };
    let (batch, batch_source) = match req.batch_tokens {
        Some(f) => (
            (f.value / per_seq).round().max(1.0),
            Source::Fitted(f.ci95.map(|[lo, hi]| [lo / per_seq, hi / per_seq])),
        ),
        None => (
            base.train.batch_size as f64,
            Source::Default(format!(
                "the {} preset's train.batch_size (no --hparams)",
                req.preset
            )),
        ),
    };
    let tokens_per_step = batch as u64 * per_seq as u64;
    let n = shape.n_params() as f64;
    let steps = (c / (6.0 * n) / tokens_per_step as f64).round().max(1.0) as u64;
    let tokens = steps * tokens_per_step;
    let lr_rule = LrPlan {
        rule: LrRule::Width,
        lr_ref: base.train.lr,
        warmup_fraction: WARMUP_FRACTION,
        base_warmup: base.train.warmup_steps,
    };
    let (lr, lr_source) = match req.lr {
        Some(f) => (crate::lr::round_sig(f.value, 4), Source::Fitted(f.ci95)),
        None => (
            lr_rule.lr(shape.n_embd),
            Source::Default(format!(
                "the sweep's width rule, {} · {} / n_embd (no --hparams)",
                base.train.lr,
                crate::lr::D_REF
            )),
        ),
    };
    let warmup = lr_rule.warmup(steps);
    let mut sets = req.sets.clone();
    sets.extend([
        format!("model.n_layer={}", shape.n_layer),
        format!("model.n_embd={}", shape.n_embd),
        format!("model.n_head={}", shape.n_head),
        format!("train.tokens={tokens}"),
        format!("train.lr={lr}"),
        format!("train.batch_size={}", batch as u64),
        format!("train.warmup_steps={warmup}"),
    ]);
    let config = Config::resolve(Some(preset), None, &sets)?;
    config.validate()?;
    Ok(Suggestion {
        compute: c,
        shape,
        n: Value {
            value: n,
            source: n_source,
        },
        d: Value {
            value: tokens as f64,
            source: match req.d_opt {
                Some(f) => Source::Fitted(f.ci95),
                None => Source::Default("C / (6·N) of the shape".into()),
            },
        },
        lr: Value {
            value: lr,
            source: lr_source,
        },
        batch: Value {
            value: batch,
            source: batch_source,
        },
        warmup: Value {
            value: warmup as f64,
            source: Source::Default(format!(
                "{} % of the {steps} steps within {}..{} (not fitted)",
                100.0 * WARMUP_FRACTION,
                crate::lr::WARMUP_MIN,
                crate::lr::WARMUP_MAX
            )),
        },
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> SuggestRequest {
        SuggestRequest {
            compute: 1e13,
            preset: "tiny".into(),
            sets: vec![],
            family: crate::shapes::DEFAULT_FAMILY,
            n_opt: None,
            n_given: None,
            d_opt: None,
            lr: None,
            batch_tokens: None,
        }
    }

    #[test]
    fn fitted_values_make_the_config_and_defaults_say_so() {
        let r = SuggestRequest {
            n_opt: Some(Fitted {
                value: 5e4,
                ci95: Some([4e4, 6e4]),
            }),
            lr: Some(Fitted {
                value: 2.345678e-3,
                ci95: Some([2e-3, 3e-3]),
            }),
            batch_tokens: Some(Fitted {
                value: 1000.0,
                ci95: None,
            }),
            ..req()
        };
        let s = suggest(&r).unwrap();
        let per_seq = (s.config.train.seq_len * s.config.train.grad_accum) as f64;
        assert_eq!(s.batch.value, (1000.0 / per_seq).round());
        assert_eq!(s.config.train.batch_size as f64, s.batch.value);
        assert_eq!(s.config.train.lr, 2.346e-3);
        assert_eq!(s.lr.source, Source::Fitted(Some([2e-3, 3e-3])));
        assert!((s.n.value / 5e4).ln().abs() < 0.3);
        assert_eq!(s.config.model.n_embd, s.shape.n_embd);
        // C = 6ND within the rounding to whole steps.
        let c = 6.0 * s.n.value * s.config.train.tokens as f64;
        assert!((c / 1e13 - 1.0).abs() < 0.01, "{c}");
        assert!(matches!(s.warmup.source, Source::Default(_)));
        // Without fits every value is a labelled default.
        let d = suggest(&req()).unwrap();
        for v in [&d.n, &d.lr, &d.batch] {
            assert!(
                matches!(&v.source, Source::Default(t) if t.contains("no --")),
                "{v:?}"
            );
        }
        assert!(suggest(&SuggestRequest {
            compute: -1.0,
            ..req()
        })
        .is_err());
    }
}
