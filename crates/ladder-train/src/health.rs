//! The health monitor (DESIGN §5): after every step's backward pass, before the update, it judges
//! the step's loss and gradient norm against the run's recent history:
//! - **non-finite**: a NaN or infinite loss or gradient norm (`nan` event);
//! - **loss spike**: loss > median + k·MAD of the last `window` accepted losses (`spike`);
//! - **grad-norm explosion**: gradient norm > factor × the median of the last `window` (`grad_explosion`);
//! - **step-time collapse**: a step taking > factor × the median step time (`slow_step`; only ever
//!   reported, never acted on: a slow machine does not corrupt the weights).
//!
//! MAD is the median absolute deviation, scaled by 1.4826 so that it estimates σ for Gaussian
//! noise (Hampel's identifier); unlike a standard deviation, one earlier spike cannot inflate it.
//! Both references have a floor, so that a flat window (a MAD or a median norm of 0, as when the
//! same batch comes round again or the gradient vanishes) does not turn every tiny change into a
//! finding: the MAD counts as at least [`SPIKE_MAD_FLOOR_REL`] of the median loss (and at least
//! [`SPIKE_MAD_FLOOR_ABS`]), the median norm as at least [`GRAD_NORM_FLOOR`].
//! Judgement starts after `min_history` accepted steps. The loss and grad-norm windows are part
//! of a checkpoint ([`HealthHistory`]) so a resumed run judges exactly as an uninterrupted one;
//! step times are not (they describe the machine, not the run).
//!
//! What happens on a finding is the `[health] policy` (`--health`): `warn` records it (a
//! non-finite value still ends the run: there is nothing to continue from), `rollback` first skips
//! the step's batch (a spike or explosion is judged before the update, so the weights are still
//! those of an accepted step: a one-off outlier batch needs nothing more) and, when
//! `rollback_after` consecutive steps are findings (or at once for a non-finite value), restores
//! the newest good checkpoint and skips the offending data window; `stop` writes a checkpoint of
//! the last good state and stops with a non-zero exit.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The smallest MAD a spike is judged against, as a fraction of the window's median loss: 1 %,
/// so with `spike_k` = 6 a flat window still lets the loss move 6 % before it is a spike. Real
/// minibatch noise is larger than this, so the floor only matters for (nearly) flat windows.
pub const SPIKE_MAD_FLOOR_REL: f64 = 0.01;

/// The smallest MAD a spike is judged against in absolute terms (nats): for a window whose
/// median loss is itself about 0.
pub const SPIKE_MAD_FLOOR_ABS: f64 = 1e-4;

/// The smallest median gradient norm an explosion is judged against: with the default factor
/// 10, a window of vanished (zero) gradients reports an explosion only above a norm of 0.01.
pub const GRAD_NORM_FLOOR: f64 = 1e-3;

/// What the trainer does when the monitor finds a problem.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthPolicy {
    /// Record the event and go on (non-finite values still end the run as diverged).
    Warn,
    /// Restore the newest good checkpoint, skip the offending data, continue.
    #[default]
    Rollback,
    /// Checkpoint the last good state and stop with a non-zero exit.
    Stop,
}

impl HealthPolicy {
    /// The name on the command line and in config files.
    pub fn name(self) -> &'static str {
        match self {
            HealthPolicy::Warn => "warn",
            HealthPolicy::Rollback => "rollback",
            HealthPolicy::Stop => "stop",
        }
    }
}

impl std::str::FromStr for HealthPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "warn" => Ok(HealthPolicy::Warn),
            "rollback" => Ok(HealthPolicy::Rollback),
            "stop" => Ok(HealthPolicy::Stop),
            _ => Err(format!(
                "unknown health policy `{s}`; the policies are warn, rollback, stop"
            )),
        }
    }
}

/// `[health]` in the run config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthSection {
    /// `"warn"`, `"rollback"` or `"stop"` (`--health`).
    pub policy: HealthPolicy,
    /// Accepted steps whose losses, grad norms and times form the reference.
    pub window: usize,
    /// Accepted steps needed before spikes and explosions are judged.
    pub min_history: usize,
    /// A loss above median + `spike_k` · MAD of the window is a spike.
    pub spike_k: f64,
    /// A gradient norm above `grad_explosion` × the window's median is an explosion.
    pub grad_explosion: f64,
    /// A step slower than `slow_factor` × the median step time is a slow step.
    pub slow_factor: f64,
    /// ... if it also takes at least this many seconds: a tiny model's 20 ms step that the
    /// scheduler delays by 100 ms is jitter, not a throughput collapse.
    pub slow_min_s: f64,
    /// Rollbacks allowed per run before it is given up as diverged.
    pub max_rollbacks: u64,
    /// Under `rollback`: consecutive spike or explosion findings before the run rolls back to a
    /// checkpoint; the earlier ones only skip their step's batch. 1 = roll back at once.
    pub rollback_after: u64,
}

impl Default for HealthSection {
    fn default() -> Self {
        HealthSection {
            policy: HealthPolicy::Rollback,
            // 50 steps: long enough for a stable median, short enough to follow a falling loss.
            window: 50,
            min_history: 10,
            // 6 robust σ: Gaussian noise crosses it about once in 10⁹ steps.
            spike_k: 6.0,
            // Clipped training keeps norms within a few × of each other; 10 × is no accident.
            grad_explosion: 10.0,
            // Step times jitter by tens of percent on a shared machine; 5 × is a real collapse.
            slow_factor: 5.0,
            slow_min_s: 0.5,
            max_rollbacks: 5,
            // One outlier batch is data, not a broken model: skip it; a second finding in a row
            // means the weights themselves misbehave. Batch losses of small batches are heavy-
            // tailed, so single outliers are far more common than the 6·MAD rule's Gaussian rate.
            rollback_after: 2,
        }
    }
}

impl HealthSection {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        if self.window == 0 || self.min_history == 0 {
            return Err(Error::NotPositive {
                key: "health.window / health.min_history",
                value: "0".into(),
                hint: "",
            });
        }
        if self.rollback_after == 0 {
            return Err(Error::NotPositive {
                key: "health.rollback_after",
                value: "0".into(),
                hint: " (1 = roll back at the first finding)",
            });
        }
        if self.min_history > self.window {
            return Err(Error::OutOfRange {
                key: "health.min_history",
                value: self.min_history.to_string(),
                range: "[1, health.window]",
            });
        }
        for (key, v, min) in [
            ("health.spike_k", self.spike_k, 0.0),
            ("health.grad_explosion", self.grad_explosion, 1.0),
            ("health.slow_factor", self.slow_factor, 1.0),
        ] {
            if !(v > min && v.is_finite()) {
                return Err(Error::OutOfRange {
                    key,
                    value: v.to_string(),
                    range: if min == 0.0 { "(0, inf)" } else { "(1, inf)" },
                });
            }
        }
        if !(self.slow_min_s >= 0.0 && self.slow_min_s.is_finite()) {
            return Err(Error::OutOfRange {
                key: "health.slow_min_s",
                value: self.slow_min_s.to_string(),
                range: "[0, inf)",
            });
        }
        Ok(())
    }
}

/// The monitor's memory that a checkpoint keeps: the accepted losses and grad norms in the window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthHistory {
    /// Losses of the last accepted steps, oldest first.
    pub losses: Vec<f32>,
    /// Gradient norms (before clipping) of the same steps.
    pub grad_norms: Vec<f32>,
}

impl HealthHistory {
    /// Whether there is nothing to keep (then a checkpoint omits it).
    pub fn is_empty(&self) -> bool {
        self.losses.is_empty() && self.grad_norms.is_empty()
    }
}

/// What the monitor found wrong with a step.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Event kind: `nan`, `spike`, `grad_explosion` or `slow_step`.
    pub kind: &'static str,
    /// What was seen, against what reference.
    pub detail: String,
    /// A non-finite value: nothing can continue from it.
    pub non_finite: bool,
}

/// Judges steps against a window of accepted ones.
#[derive(Clone, Debug)]
pub struct Monitor {
    cfg: HealthSection,
    losses: VecDeque<f32>,
    grad_norms: VecDeque<f32>,
    times: VecDeque<f64>,
}

impl Monitor {
    /// An empty monitor.
    pub fn new(cfg: &HealthSection) -> Self {
        Monitor {
            cfg: cfg.clone(),
            losses: VecDeque::new(),
            grad_norms: VecDeque::new(),
            times: VecDeque::new(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> HealthPolicy {
        self.cfg.policy
    }

    /// Rollbacks allowed per run.
    pub fn max_rollbacks(&self) -> u64 {
        self.cfg.max_rollbacks
    }

    /// Consecutive findings before a rollback (the earlier ones skip their batch).
    pub fn rollback_after(&self) -> u64 {
        self.cfg.rollback_after
    }

    /// Judges step `step`'s loss and gradient norm (before clipping). `None` = healthy.
    pub fn check(&self, step: u64, loss: f32, grad_norm: f32) -> Option<Finding> {
        if !loss.is_finite() || !grad_norm.is_finite() {
            let what = if loss.is_finite() {
                format!("gradient norm is {grad_norm}")
            } else {
                format!("loss is {loss}")
            };
            return Some(Finding {
                kind: "nan",
                detail: format!("step {step}: {what} (non-finite)"),
                non_finite: true,
            });
        }
        if self.losses.len() < self.cfg.min_history {
            return None;
        }
        let (med, mad) = median_mad(self.losses.iter().map(|&x| x as f64));
        let mad = mad
            .max(SPIKE_MAD_FLOOR_REL * med.abs())
            .max(SPIKE_MAD_FLOOR_ABS);
        let limit = med + self.cfg.spike_k * mad;
        if loss as f64 > limit {
            return Some(Finding {
                kind: "spike",
                detail: format!(
                    "step {step}: loss {loss:.4} > median {med:.4} + {k}·MAD {mad:.4} = {limit:.4} \
                     over the last {n} steps",
                    k = self.cfg.spike_k,
                    n = self.losses.len()
                ),
                non_finite: false,
            });
        }
        let (gmed, _) = median_mad(self.grad_norms.iter().map(|&x| x as f64));
        let gmed = gmed.max(GRAD_NORM_FLOOR);
        if grad_norm as f64 > self.cfg.grad_explosion * gmed {
            return Some(Finding {
                kind: "grad_explosion",
                detail: format!(
                    "step {step}: gradient norm {grad_norm:.4} > {f} × median {gmed:.4} over the last {n} steps",
                    f = self.cfg.grad_explosion,
                    n = self.grad_norms.len()
                ),
                non_finite: false,
            });
        }
        None
    }

    /// Adds an accepted step to the window.
    pub fn accept(&mut self, loss: f32, grad_norm: f32) {
        push_bounded(&mut self.losses, loss, self.cfg.window);
        push_bounded(&mut self.grad_norms, grad_norm, self.cfg.window);
    }

    /// Records a step's training time (seconds) and reports it when it is a collapse.
    pub fn step_time(&mut self, step: u64, secs: f64, tokens: u64) -> Option<Finding> {
        let mut found = None;
        if self.times.len() >= self.cfg.min_history {
            let (med, _) = median_mad(self.times.iter().copied());
            if secs > self.cfg.slow_factor * med && secs >= self.cfg.slow_min_s {
                found = Some(Finding {
                    kind: "slow_step",
                    detail: format!(
                        "step {step}: took {secs:.3} s, {:.1} × the median {med:.3} s of the last {} steps \
                         (throughput {:.0} tok/s instead of {:.0})",
                        secs / med,
                        self.times.len(),
                        tokens as f64 / secs,
                        tokens as f64 / med
                    ),
                    non_finite: false,
                });
            }
        }
        // A slow step does not join the reference: one stall must not hide the next.
        if found.is_none() {
            push_bounded(&mut self.times, secs, self.cfg.window);
        }
        found
    }

    /// The loss and grad-norm windows, for a checkpoint.
    pub fn history(&self) -> HealthHistory {
        HealthHistory {
            losses: self.losses.iter().copied().collect(),
            grad_norms: self.grad_norms.iter().copied().collect(),
        }
    }

    /// Restores the windows from a checkpoint (step times start afresh).
    pub fn restore(&mut self, h: &HealthHistory) {
        self.losses = h.losses.iter().copied().collect();
        self.grad_norms = h.grad_norms.iter().copied().collect();
        while self.losses.len() > self.cfg.window {
            self.losses.pop_front();
        }
        while self.grad_norms.len() > self.cfg.window {
            self.grad_norms.pop_front();
        }
    }
}

fn push_bounded<T>(q: &mut VecDeque<T>, x: T, cap: usize) {
    q.push_back(x);
    while q.len() > cap {
        q.pop_front();
    }
}

/// Median and scaled median absolute deviation (1.4826 · MAD ≈ σ for Gaussian data).
pub fn median_mad(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut v: Vec<f64> = xs.collect();
    let med = median(&mut v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
    (med, 1.4826 * median(&mut dev))
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor() -> Monitor {
        let cfg = HealthSection {
            window: 20,
            min_history: 5,
            ..HealthSection::default()
        };
        let mut m = Monitor::new(&cfg);
        for i in 0..20 {
            // losses 4.00 ± 0.05, grad norms 1.0 ± 0.1
            let s = if i % 2 == 0 { 1.0 } else { -1.0 };
            m.accept(4.0 + 0.05 * s, 1.0 + 0.1 * s);
        }
        m
    }

    #[test]
    fn median_mad_of_known_values() {
        // median of 1..=5 is 3; |x-3| = 2,1,0,1,2 → MAD 1 → scaled 1.4826
        let (m, d) = median_mad([5.0, 1.0, 3.0, 2.0, 4.0].into_iter());
        assert_eq!(m, 3.0);
        assert!((d - 1.4826).abs() < 1e-12);
        assert_eq!(median_mad([1.0, 3.0].into_iter()).0, 2.0);
    }

    #[test]
    fn monitor_flags_nan_spike_and_explosion_but_not_noise() {
        let m = monitor();
        assert_eq!(m.check(21, 4.05, 1.1), None, "ordinary noise");
        assert_eq!(m.check(21, 3.0, 0.5), None, "an improvement is not a spike");
        let f = m.check(21, f32::NAN, 1.0).unwrap();
        assert!(f.non_finite && f.kind == "nan", "{f:?}");
        assert!(m.check(21, 4.0, f32::INFINITY).unwrap().non_finite);
        // median 4.0 (even count), MAD 0.05·1.4826: the limit is 4.0 + 6·0.074 ≈ 4.44
        let f = m.check(21, 4.6, 1.0).unwrap();
        assert_eq!(f.kind, "spike");
        assert!(f.detail.contains("loss 4.6000"), "{}", f.detail);
        assert_eq!(m.check(21, 4.0, 12.0).unwrap().kind, "grad_explosion");
    }

    #[test]
    fn a_flat_window_does_not_make_every_change_a_finding() {
        let cfg = HealthSection {
            window: 20,
            min_history: 5,
            ..HealthSection::default()
        };
        let mut m = Monitor::new(&cfg);
        for _ in 0..20 {
            // A constant loss and a vanished gradient: MAD 0, median norm 0.
            m.accept(4.0, 0.0);
        }
        // Without the floors any loss above 4.0 and any norm above 0 would be a finding.
        assert_eq!(m.check(21, 4.001, 0.0), None);
        assert_eq!(m.check(21, 4.2, 0.005), None, "6 % × 4.0 = 0.24 is allowed");
        let f = m.check(21, 4.3, 0.0).unwrap();
        assert_eq!(f.kind, "spike");
        assert!(f.detail.contains("MAD 0.0400"), "{}", f.detail);
        assert_eq!(m.check(21, 4.0, 0.02).unwrap().kind, "grad_explosion");
        // A loss window flat at 0 (a memorised batch) has the absolute floor.
        let mut z = Monitor::new(&cfg);
        for _ in 0..20 {
            z.accept(0.0, 1.0);
        }
        assert_eq!(z.check(21, 1e-4, 1.0), None);
        assert_eq!(z.check(21, 1e-3, 1.0).unwrap().kind, "spike");
    }

    #[test]
    fn monitor_waits_for_min_history() {
        let m = Monitor::new(&HealthSection::default());
        assert_eq!(m.check(1, 100.0, 100.0), None);
        assert!(
            m.check(1, f32::NAN, 1.0).is_some(),
            "non-finite is always judged"
        );
    }

    #[test]
    fn slow_steps_are_reported_and_kept_out_of_the_reference() {
        let mut m = Monitor::new(&HealthSection::default());
        for s in 1..=10 {
            assert_eq!(m.step_time(s, 0.02, 256), None);
        }
        assert_eq!(
            m.step_time(11, 0.2, 256),
            None,
            "10 × but under slow_min_s: jitter"
        );
        let f = m.step_time(11, 1.0, 256).unwrap();
        assert_eq!(f.kind, "slow_step");
        assert!(f.detail.contains("50.0 ×"), "{}", f.detail);
        assert!(
            m.step_time(12, 1.0, 256).is_some(),
            "the stall did not become the norm"
        );
    }

    #[test]
    fn history_round_trips_and_respects_the_window() {
        let m = monitor();
        let h = m.history();
        assert_eq!(h.losses.len(), 20);
        let mut fresh = Monitor::new(&HealthSection {
            window: 10,
            min_history: 5,
            ..HealthSection::default()
        });
        fresh.restore(&h);
        assert_eq!(fresh.history().losses, h.losses[10..]);
    }

    #[test]
    fn health_section_validates() {
        HealthSection::default().validate().unwrap();
        let bad = HealthSection {
            spike_k: -1.0,
            ..HealthSection::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("health.spike_k"));
        let bad = HealthSection {
            min_history: 99,
            ..HealthSection::default()
        };
        assert!(bad.validate().is_err());
        let bad = HealthSection {
            rollback_after: 0,
            ..HealthSection::default()
        };
        let msg = bad.validate().unwrap_err().to_string();
        assert!(
            msg.contains("health.rollback_after") && msg.contains("1 = roll back"),
            "{msg}"
        );
        assert_eq!("stop".parse::<HealthPolicy>(), Ok(HealthPolicy::Stop));
        assert!("panic"
            .parse::<HealthPolicy>()
            .unwrap_err()
            .contains("warn, rollback, stop"));
    }
}
