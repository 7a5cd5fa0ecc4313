//! The trainer's side of the silent-data-corruption checks (`--sdc-check-every K`; the checksum,
//! the exchange and the verdict are in [`crate::sdc`]):
//! - one process: every `K`-th step's gradient is computed a second time from the same weights
//!   and data ([`Run::sdc_recompute`]) and must be the same bits;
//! - several ranks: after the update of every `K`-th step, of every checkpointed step and of the
//!   last step, the ranks compare parameter checksums ([`Run::sdc_check`]); a checkpoint is only
//!   written after they agreed, and records the checksum. A disagreement stops the run with
//!   [`Error::Sdc`] (exit code 4 in the CLI), an `sdc` event and `sdc.json`, which the resume uses
//!   to name the rank whose checksum the recomputation does not reproduce.

use std::time::Instant;

use super::{Observer, Run};
use crate::checkpoint::{self, SdcRecord};
use crate::error::{Error, Result};
use crate::resume::Logs;
use crate::sdc::{self, SdcStop, Verdict};

/// The SDC checks' state in a run.
#[derive(Default)]
pub(crate) struct SdcState {
    /// `train.sdc_check_every` (0 = off).
    pub every: u64,
    /// The last step at which every rank agreed (0 = the start).
    pub last_agreed: u64,
    /// The checksum of the current step's parameters, for its checkpoint: (step, record).
    pub record: Option<(u64, SdcRecord)>,
    /// The SDC stop a resume follows: checked and attributed when the run gets back to its step.
    pub pending: Option<SdcStop>,
    /// Seconds spent in checks (checksums and their exchange, or recomputed gradients).
    pub time: f64,
    /// Checks taken.
    pub checks: u64,
}

impl Run {
    /// Where a resume after an SDC stop would start: the newest checkpoint (all were agreed on
    /// when written), named for the message.
    fn sdc_resume_point(&self) -> String {
        match checkpoint::latest(&self.out) {
            Ok(dir) if self.comm.is_root() => {
                format!("{}", dir.file_name().unwrap_or_default().to_string_lossy())
            }
            Ok(_) => "the newest checkpoint".into(),
            Err(_) => "step 0 (there is no checkpoint yet)".into(),
        }
    }

    /// One process: whether step `step`'s gradient is computed twice.
    pub(super) fn sdc_recompute_due(&self, step: u64) -> bool {
        self.comm.size() == 1 && self.sdc.every > 0 && step.is_multiple_of(self.sdc.every)
    }

    /// One process, after step `step`'s micro-batches gave `loss_sum` and the gradient in
    /// `self.grads`: computes them again from `before` (the gradient buffer before the step, for a
    /// buffer the step does not zero) and errors unless both are the same bits. Costs one more
    /// forward-backward of the whole step.
    pub(super) fn sdc_recompute(
        &mut self,
        step: u64,
        before: Option<Vec<f32>>,
        loss_sum: f64,
        logs: &mut Logs,
    ) -> Result<()> {
        let t0 = Instant::now();
        let first = match before {
            Some(g) => std::mem::replace(&mut self.grads, g),
            None => self.grads.clone(),
        };
        let again = self.micro_batches(step)?;
        let mut diff = sdc::compare_gradients(&first, &self.grads, &self.layout);
        if diff.is_none() && again.to_bits() != loss_sum.to_bits() {
            diff = Some(format!("the loss sum differs: {loss_sum:e} then {again:e}"));
        }
        self.sdc.time += t0.elapsed().as_secs_f64();
        self.sdc.checks += 1;
        let Some(diff) = diff else {
            return Ok(());
        };
        let detail = format!(
            "step {step}'s gradient, computed twice from the same weights and data on this \
             process, differs ({diff}): this machine does not compute deterministically"
        );
        logs.event(step, sdc::EVENT, detail.clone())?;
        Err(Error::Sdc {
            step,
            detail,
            suspects: Vec::new(),
            resume_from: self.sdc_resume_point(),
        })
    }

    /// After step `self.step`'s update (`last`: it is the run's last step): the ranks compare
    /// parameter checksums when a check is due (every `K` steps, before a checkpoint, at the
    /// end, at the step of the SDC stop a resume follows). Returns the seconds it took.
    pub(super) fn sdc_check(
        &mut self,
        last: bool,
        logs: &mut Logs,
        obs: &mut dyn Observer,
    ) -> Result<f64> {
        let step = self.step;
        let every = |n: u64| n > 0 && step.is_multiple_of(n);
        let checkpoint_due = last || every(self.config.checkpoint.every);
        let pending = self.sdc.pending.as_ref().is_some_and(|p| p.step == step);
        let on = self.sdc.every > 0;
        let due = pending
            || match self.comm.size() {
                1 => on && checkpoint_due,
                _ => on && (every(self.sdc.every) || checkpoint_due),
            };
        if !due {
            return Ok(0.0);
        }
        let t0 = Instant::now();
        let h = sdc::checksum(&self.params);
        let sums = sdc::exchange(&self.comm, h)?;
        let ranks = sums.len();
        let took = t0.elapsed().as_secs_f64();
        self.sdc.time += took;
        self.sdc.checks += 1;
        match sdc::verdict(&sums) {
            Verdict::Agreed(h) => {
                self.sdc.last_agreed = step;
                self.sdc.record = Some((
                    step,
                    SdcRecord {
                        checksum: sdc::hex(h),
                        ranks,
                    },
                ));
                if pending {
                    self.sdc_attribute(h, logs, obs)?;
                }
                Ok(took)
            }
            Verdict::Disagree {
                suspects, detail, ..
            } => {
                if self.comm.is_root() {
                    SdcStop {
                        step,
                        checksums: sums.iter().map(|&h| sdc::hex(h)).collect(),
                        suspects: suspects.clone(),
                        last_agreed_step: self.sdc.last_agreed,
                    }
                    .save(&self.out)?;
                }
                logs.event(step, sdc::EVENT, format!("parameter checksums: {detail}"))?;
                Err(Error::Sdc {
                    step,
                    detail,
                    suspects,
                    resume_from: self.sdc_resume_point(),
                })
            }
        }
    }

    /// The resumed run reached the step of the SDC stop it follows with agreed checksum `h`:
    /// names the ranks whose checksum at the stop it does not reproduce, and forgets the stop.
    fn sdc_attribute(&mut self, h: u64, logs: &mut Logs, obs: &mut dyn Observer) -> Result<()> {
        let Some(stop) = self.sdc.pending.take() else {
            return Ok(());
        };
        let detail = if stop.checksums.len() == self.comm.size() {
            stop.attribute(h).1
        } else {
            format!(
                "cannot tell which rank was wrong at the SDC stop of step {}: it had {} ranks and \
                 this run has {} (the sums of the gradients differ in rounding); resume with {} \
                 ranks to find out",
                stop.step,
                stop.checksums.len(),
                self.comm.size(),
                stop.checksums.len()
            )
        };
        obs.on_notice(&detail);
        logs.event(stop.step, sdc::EVENT, detail)?;
        if self.comm.is_root() {
            SdcStop::remove(&self.out)?;
        }
        Ok(())
    }
}
