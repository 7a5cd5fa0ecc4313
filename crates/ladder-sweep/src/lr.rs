//! The learning rate and warm-up of each run of a plan, set per size by a stated rule instead of
//! one value for every size.
//!
//! - [`LrRule::Width`] (the default): `lr(d) = lr_ref · D_REF / d` with `D_REF` = 64 (the `tiny`
//!   preset's width, at which the presets' `train.lr` = 3e-3 is the project's tested value) and
//!   `lr_ref` = `--lr` or the base config's `train.lr`. With Adam the update of a hidden matrix
//!   grows with its fan-in d, so its stable rate falls like 1/d (the µP rule for hidden matrices;
//!   Yang et al. 2022); embeddings and biases get the same rate here, as the trainer has one.
//!   Rounded to 4 significant digits, so sweep.toml reads well. Warm-up is
//!   [`WARMUP_FRACTION`] of the run's optimizer steps, at least [`WARMUP_MIN`] and at most
//!   [`WARMUP_MAX`]: short runs still warm up, long ones do not waste steps.
//! - [`LrRule::Fixed`]: every run gets `lr_ref` and the base config's `train.warmup_steps`
//!   (the behaviour of plans before the rule existed).

/// The width at which the width rule gives `lr_ref`.
pub const D_REF: usize = 64;
/// Default warm-up as a fraction of a run's optimizer steps (width rule).
pub const WARMUP_FRACTION: f64 = 0.05;
/// Fewest warm-up steps of the width rule.
pub const WARMUP_MIN: u64 = 10;
/// Most warm-up steps of the width rule.
pub const WARMUP_MAX: u64 = 500;

/// How a plan sets each run's learning rate and warm-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LrRule {
    /// One rate and warm-up for every run (the base config's).
    Fixed,
    /// `lr_ref · 64 / d`, warm-up a fraction of the steps.
    Width,
}

impl std::fmt::Display for LrRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LrRule::Fixed => "fixed",
            LrRule::Width => "width",
        })
    }
}

impl std::str::FromStr for LrRule {
    type Err = String;
    fn from_str(s: &str) -> Result<LrRule, String> {
        match s {
            "fixed" => Ok(LrRule::Fixed),
            "width" => Ok(LrRule::Width),
            _ => Err(format!(
                "{s:?}: expected width (lr = lr_ref · {D_REF} / n_embd, warm-up a fraction of the \
                 steps) or fixed (one lr and warm-up for every run)"
            )),
        }
    }
}

/// A rule with its constants: what a plan uses to fill each run's `lr` and `warmup_steps`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrPlan {
    /// The rule.
    pub rule: LrRule,
    /// The rate at width [`D_REF`] (width rule) or of every run (fixed).
    pub lr_ref: f64,
    /// Warm-up as a fraction of the steps (width rule).
    pub warmup_fraction: f64,
    /// The base config's `train.warmup_steps` (fixed rule).
    pub base_warmup: u64,
}

impl LrPlan {
    /// The peak learning rate of a model `n_embd` wide.
    pub fn lr(&self, n_embd: usize) -> f64 {
        match self.rule {
            LrRule::Fixed => self.lr_ref,
            LrRule::Width => round_sig(self.lr_ref * D_REF as f64 / n_embd as f64, 4),
        }
    }

    /// The warm-up steps of a run of `steps` optimizer steps.
    pub fn warmup(&self, steps: u64) -> u64 {
        match self.rule {
            LrRule::Fixed => self.base_warmup,
            LrRule::Width => {
                ((self.warmup_fraction * steps as f64).round() as u64).clamp(WARMUP_MIN, WARMUP_MAX)
            }
        }
    }

    /// One line for sweep.toml and the plan table.
    pub fn describe(&self) -> String {
        match self.rule {
            LrRule::Fixed => format!(
                "fixed: lr = {} and warm-up {} steps for every run",
                self.lr_ref, self.base_warmup
            ),
            LrRule::Width => format!(
                "width: lr = {} · {D_REF} / n_embd; warm-up = {} % of the steps, {WARMUP_MIN}..{WARMUP_MAX}",
                self.lr_ref,
                100.0 * self.warmup_fraction
            ),
        }
    }
}

/// `x` rounded to `digits` significant digits.
pub(crate) fn round_sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn width() -> LrPlan {
        LrPlan {
            rule: LrRule::Width,
            lr_ref: 3e-3,
            warmup_fraction: 0.05,
            base_warmup: 50,
        }
    }

    #[test]
    fn width_rule_scales_as_one_over_width() {
        let p = width();
        assert_eq!(p.lr(64), 3e-3);
        assert_eq!(p.lr(16), 0.012);
        assert_eq!(p.lr(128), 0.0015);
        assert_eq!(p.lr(48), 0.004);
        assert_eq!(p.warmup(1000), 50);
        assert_eq!(p.warmup(40), WARMUP_MIN);
        assert_eq!(p.warmup(1_000_000), WARMUP_MAX);
    }

    #[test]
    fn fixed_rule_is_one_value() {
        let p = LrPlan {
            rule: LrRule::Fixed,
            ..width()
        };
        assert_eq!((p.lr(16), p.lr(256)), (3e-3, 3e-3));
        assert_eq!((p.warmup(40), p.warmup(10_000)), (50, 50));
        assert_eq!("fixed".parse::<LrRule>().unwrap(), LrRule::Fixed);
        assert!("mup".parse::<LrRule>().is_err());
    }
}
