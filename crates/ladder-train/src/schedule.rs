//! Learning-rate schedules: linear warm-up, then cosine decay or warm-up-stable-decay (WSD).
//!
//! Step `s` is the 0-based index of the optimizer step about to be taken; `total` the number of
//! steps in the run. Both shapes:
//! 1) warm-up: `lr · (s+1)/warmup` for `s < warmup`, so the last warm-up step is at the peak;
//! 2) cosine: `min + (peak − min) · ½(1 + cos(π p))` with `p = (s − warmup + 1)/(total − warmup)`,
//!    so the final step lands exactly on `min = lr · min_lr_ratio` (Loshchilov & Hutter 2017);
//! 3) WSD: the peak until the last `ceil(decay_fraction · total)` steps, then linear down to `min`
//!    at the final step (Hu et al. 2024, "MiniCPM"; Hägele et al. 2024).
//!
//! With no known `total` (only `train.max_time` set) there is nothing to decay towards, and the rate
//! stays at the peak after warm-up; the trainer says so when it starts.

use crate::config::{ScheduleKind, TrainSection};

/// A resolved schedule: evaluate it with [`LrSchedule::lr_at`].
#[derive(Clone, Debug, PartialEq)]
pub struct LrSchedule {
    /// Shape.
    pub kind: ScheduleKind,
    /// Peak rate (`train.lr`).
    pub peak: f64,
    /// Final rate (`train.lr · train.min_lr_ratio`).
    pub min: f64,
    /// Warm-up steps.
    pub warmup: u64,
    /// Steps in the run, when known.
    pub total: Option<u64>,
    /// WSD: fraction of `total` spent decaying.
    pub decay_fraction: f64,
}

impl LrSchedule {
    /// The schedule of a `[train]` section for a run of `total` steps.
    pub fn new(t: &TrainSection, total: Option<u64>) -> Self {
        LrSchedule {
            kind: t.schedule,
            peak: t.lr,
            min: t.lr * t.min_lr_ratio,
            warmup: t.warmup_steps,
            total,
            decay_fraction: t.decay_fraction,
        }
    }

    /// The learning rate of optimizer step `step` (0-based).
    pub fn lr_at(&self, step: u64) -> f64 {
        // 1) linear warm-up
        if step < self.warmup {
            return self.peak * (step + 1) as f64 / self.warmup as f64;
        }
        let Some(total) = self.total else {
            return self.peak;
        };
        let span = |start: u64| -> f64 {
            // fraction of the decay phase [start, total) completed after this step, in (0, 1]
            let len = total.saturating_sub(start).max(1);
            ((step + 1).saturating_sub(start) as f64 / len as f64).clamp(0.0, 1.0)
        };
        match self.kind {
            // 2) cosine from the end of warm-up to the last step
            ScheduleKind::Cosine => {
                let p = span(self.warmup);
                self.min + 0.5 * (1.0 + (std::f64::consts::PI * p).cos()) * (self.peak - self.min)
            }
            // 3) stable, then linear decay over the last decay_fraction of the run
            ScheduleKind::Wsd => {
                let decay = (self.decay_fraction * total as f64).ceil() as u64;
                let start = total.saturating_sub(decay).max(self.warmup);
                if step < start {
                    self.peak
                } else {
                    self.peak + (self.min - self.peak) * span(start)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(kind: ScheduleKind, warmup: u64, total: Option<u64>) -> LrSchedule {
        LrSchedule {
            kind,
            peak: 1.0,
            min: 0.1,
            warmup,
            total,
            decay_fraction: 0.2,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn cosine_warms_up_linearly_then_decays_to_min() {
        let s = sched(ScheduleKind::Cosine, 10, Some(110));
        // warm-up: (s+1)/10
        assert!(close(s.lr_at(0), 0.1));
        assert!(close(s.lr_at(4), 0.5));
        assert!(close(s.lr_at(9), 1.0));
        // halfway through the 100 decay steps: p = 0.5, cos = 0 -> midpoint of peak and min
        assert!(close(s.lr_at(59), 0.55));
        // the final step lands exactly on min
        assert!(close(s.lr_at(109), 0.1));
        // monotone non-increasing after warm-up
        let lrs: Vec<f64> = (9..110).map(|i| s.lr_at(i)).collect();
        assert!(lrs.windows(2).all(|w| w[1] <= w[0] + 1e-15));
        // past the end it stays at min
        assert!(close(s.lr_at(500), 0.1));
    }

    #[test]
    fn wsd_is_stable_then_decays_linearly_over_last_fraction() {
        let s = sched(ScheduleKind::Wsd, 10, Some(100));
        assert!(close(s.lr_at(0), 0.1));
        // decay = ceil(0.2 * 100) = 20 steps: 80..99
        assert!(close(s.lr_at(10), 1.0));
        assert!(close(s.lr_at(79), 1.0));
        // step 80 is the first of 20 decay steps: 1/20 of the way from 1.0 to 0.1
        assert!(close(s.lr_at(80), 1.0 - 0.9 / 20.0));
        assert!(close(s.lr_at(89), 1.0 - 0.9 * 10.0 / 20.0));
        assert!(close(s.lr_at(99), 0.1));
    }

    #[test]
    fn wsd_decay_never_starts_inside_warmup() {
        let s = LrSchedule {
            decay_fraction: 1.0,
            ..sched(ScheduleKind::Wsd, 10, Some(20))
        };
        assert!(close(s.lr_at(9), 1.0));
        assert!(close(s.lr_at(19), 0.1));
    }

    #[test]
    fn no_total_means_constant_after_warmup() {
        for kind in [ScheduleKind::Cosine, ScheduleKind::Wsd] {
            let s = sched(kind, 5, None);
            assert!(close(s.lr_at(2), 0.6));
            assert!(close(s.lr_at(1000), 1.0));
        }
    }

    #[test]
    fn zero_warmup_starts_decaying_at_once() {
        let s = sched(ScheduleKind::Cosine, 0, Some(2));
        // p = 1/2 then 1
        assert!(close(s.lr_at(0), 0.55));
        assert!(close(s.lr_at(1), 0.1));
    }
}
