//! The trainer's side of surviving faults: resuming a run from its newest good checkpoint, acting
//! on the health monitor's findings (warn, roll back, stop), and checkpoints that carry everything
//! a bitwise resume needs (see [`crate::resume`] and [`crate::health`]).

use std::path::{Path, PathBuf};

use super::hooks::StepHook;
use super::{Observer, Run};
use crate::checkpoint::{self, CheckpointState, CpuFeatures};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::health::{Finding, HealthPolicy};
use crate::metrics::{count_events, HealthReport};
use crate::resume::{self, Logs};
use crate::sdc::SdcStop;

/// The extra tensor in `optimizer.safetensors` holding the gradient the layer log carries over.
const PREV_GRAD: &str = "prev_grad";

/// Fault-handling state of a run in progress (the health monitor and the fault injector are
/// step hooks: see `hooks.rs`).
#[derive(Default)]
pub(crate) struct Guard {
    /// Training sequences skipped by rollbacks: the data position is `step · B · accum + skipped`.
    pub skipped: u64,
    /// Rollbacks taken by this process.
    pub rollbacks: u64,
    /// Consecutive findings whose batches were skipped since the last accepted step (a
    /// checkpoint is only ever written after an accepted step, where this is 0).
    pub streak: u64,
    /// Wall seconds of the run before this process (a resume continues the clock).
    pub elapsed_base: f64,
    /// A checkpoint's carried layer-log gradient, applied once the logs are open.
    carry: Option<(u64, Vec<f32>)>,
}

/// What a resume continues from, worked out before the run directory is touched.
pub(crate) struct Resume {
    /// `key: old → new` for each changed config key.
    changes: Vec<String>,
    /// The newest good checkpoint, or `None` for step 0.
    point: Option<(PathBuf, CheckpointState)>,
    /// Bad checkpoints passed over, LATEST problems.
    notes: Vec<String>,
    /// The SDC stop this resume follows (`sdc.json`), for naming the rank that was wrong.
    pub sdc_stop: Option<SdcStop>,
}

impl Resume {
    /// Checks `config` against the run's `config.toml` and finds the newest good checkpoint
    /// (after an SDC stop, or in a run that records SDC checksums: the newest the ranks agreed on).
    pub fn prepare(out: &Path, config: &Config) -> Result<Resume> {
        let cfg_path = out.join("config.toml");
        if !cfg_path.is_file() {
            return Err(Error::BadCheckpoint {
                path: cfg_path,
                detail: "missing: there is no run here to resume; start it without --resume".into(),
            });
        }
        let old = Config::load(&cfg_path)?;
        let changes = resume::config_changes(&old, config)?;
        let sdc_stop = SdcStop::load(out)?;
        let (point, mut notes) =
            resume::newest_agreed(out, &config.model_config(), sdc_stop.as_ref())?;
        if let Some(note) = point
            .as_ref()
            .and_then(|(_, state)| resume::cpu_change(state.cpu.as_ref(), &CpuFeatures::detect()))
        {
            notes.push(note);
        }
        Ok(Resume {
            changes,
            point,
            notes,
            sdc_stop,
        })
    }
}

impl Run {
    /// The run's state at its beginning (step 0): a function of the seed.
    fn reset_to_start(&mut self) {
        self.params = self
            .hooks
            .bug
            .init_params(&self.model_cfg, self.config.train.seed);
        self.adam.m.fill(0.0);
        self.adam.v.fill(0.0);
        self.adam.t = 0;
        self.step = 0;
        self.sdc.last_agreed = 0;
        self.guard.skipped = 0;
        self.hooks.health.restore(&Default::default());
        self.guard.carry = None;
    }

    /// Loads a verified checkpoint (or the start) into the run.
    fn restore(&mut self, point: Option<&(PathBuf, CheckpointState)>) -> Result<()> {
        let Some((dir, state)) = point else {
            self.reset_to_start();
            return Ok(());
        };
        let params = checkpoint::load_model(
            &dir.join(checkpoint::MODEL_FILE),
            &self.model_cfg,
            &self.layout,
        )?;
        let opt = dir.join(checkpoint::OPTIMIZER_FILE);
        let (m, v) = checkpoint::load_optimizer(&opt, &self.layout)?;
        let carry = checkpoint::load_extra(&opt, PREV_GRAD, self.layout.len)?;
        self.params = params;
        self.adam.m = m;
        self.adam.v = v;
        self.adam.t = state.adam_t;
        self.step = state.step;
        // Every rank loads the same files: the ranks agree here whether or not it was checked.
        self.sdc.last_agreed = state.step;
        self.guard.skipped = state.skipped_sequences;
        self.hooks.health.restore(&state.health);
        self.guard.carry = carry.map(|g| (state.step, g));
        Ok(())
    }

    /// Puts the run back where its newest good checkpoint left it: removes interrupted checkpoint
    /// writes, truncates the logs to the checkpoint's step, restores the state and the clocks.
    pub(super) fn resume_from(&mut self, r: &Resume) -> Result<()> {
        if !self.comm.is_root() {
            // The other ranks take the state; rank 0 alone touches the run directory.
            return self.restore(r.point.as_ref());
        }
        resume::remove_incomplete(&self.out)?;
        self.restore(r.point.as_ref())?;
        if let Some((dir, _)) = &r.point {
            // LATEST names the checkpoint the run continues from (it may have been missing or
            // named a bad one).
            let name = dir.file_name().unwrap_or_default().to_string_lossy();
            let latest = self.out.join("checkpoints").join("LATEST");
            if std::fs::read_to_string(&latest)
                .ok()
                .as_deref()
                .map(str::trim)
                != Some(&*name)
            {
                crate::fsutil::write_atomic(&latest, format!("{name}\n").as_bytes())?;
            }
        }
        // Truncated first: a line torn by the crash would hide the tail.
        resume::truncate_logs(&self.out, self.step, true)?;
        let tail = resume::log_tail(&self.out, self.step, self.info.tokens_per_step);
        self.guard.elapsed_base = tail.elapsed_s;
        self.train_time = tail.train_s;
        self.last_loss = tail.loss;
        self.last_val = tail.val;
        Ok(())
    }

    /// Once the logs are open: records a resume and its config changes, and hands the layer log
    /// the gradient its checkpoint carried.
    pub(super) fn begin(
        &mut self,
        logs: &mut Logs,
        resume: Option<&Resume>,
        obs: &mut dyn Observer,
    ) -> Result<()> {
        self.carry_into_layer_log();
        let Some(r) = resume else {
            return Ok(());
        };
        let from = match &r.point {
            Some((dir, _)) => format!(
                "resumed from {} (step {})",
                dir.file_name().unwrap_or_default().to_string_lossy(),
                self.step
            ),
            None => "resumed from step 0: the run has no good checkpoint yet".into(),
        };
        let mut detail = from;
        for n in &r.notes {
            detail.push_str("; ");
            detail.push_str(n);
        }
        obs.on_notice(&detail);
        logs.event(self.step, "resume", detail)?;
        if !r.changes.is_empty() {
            let detail = format!("config changed on resume: {}", r.changes.join("; "));
            obs.on_notice(&detail);
            logs.event(self.step, "config_change", detail)?;
        }
        Ok(())
    }

    /// Hands the layer log the gradient a restored checkpoint carried.
    fn carry_into_layer_log(&mut self) {
        if let (Some((step, g)), Some(layers)) =
            (self.guard.carry.take(), self.hooks.layers.as_mut())
        {
            layers.restore_grads(step, &g);
        }
    }

    /// Acts on a finding about step `step` (before its update). Returns `true` when the run was
    /// rolled back (the loop continues from the restored step), `false` to go on with the step.
    pub(super) fn on_finding(
        &mut self,
        f: Finding,
        step: u64,
        (loss, grad_norm): (f32, f32),
        logs: &mut Logs,
    ) -> Result<bool> {
        logs.event(step, f.kind, f.detail.clone())?;
        let diverged = || match loss.is_finite() {
            true => Error::Diverged {
                step,
                what: "grad_norm",
                value: grad_norm,
            },
            false => Error::Diverged {
                step,
                what: "loss",
                value: loss,
            },
        };
        match self.hooks.health.policy() {
            HealthPolicy::Warn if f.non_finite => Err(diverged()),
            HealthPolicy::Warn => Ok(false),
            HealthPolicy::Stop => {
                let checkpoint = self.save_checkpoint(logs)?;
                Err(Error::HealthStop {
                    step,
                    detail: f.detail,
                    checkpoint,
                })
            }
            HealthPolicy::Rollback
                if !f.non_finite && self.guard.streak + 1 < self.hooks.health.rollback_after() =>
            {
                self.skip_batch(step, logs)?;
                Ok(true)
            }
            HealthPolicy::Rollback if self.guard.rollbacks >= self.hooks.health.max_rollbacks() => {
                // Rollbacks did not help: a run that keeps producing NaNs has diverged.
                if f.non_finite {
                    return Err(diverged());
                }
                let checkpoint = self.save_checkpoint(logs)?;
                Err(Error::HealthStop {
                    step,
                    detail: format!(
                        "{} after {} rollbacks (health.max_rollbacks)",
                        f.detail, self.guard.rollbacks
                    ),
                    checkpoint,
                })
            }
            HealthPolicy::Rollback => {
                self.rollback(step, logs)?;
                Ok(true)
            }
        }
    }

    /// Skips step `bad`'s batch without touching the weights: the finding came before the update,
    /// so the weights are still those of the last accepted step, and the step is retried on the
    /// next batch. Bitwise reproducible: a resume replays the same batches and the same verdicts.
    fn skip_batch(&mut self, bad: u64, logs: &mut Logs) -> Result<()> {
        let t = &self.config.train;
        let per_step = (t.batch_size * t.grad_accum * self.comm.size()) as u64;
        let from_seq = (bad - 1) * per_step + self.guard.skipped;
        self.guard.skipped += per_step;
        self.guard.streak += 1;
        let detail = format!(
            "skipped the batch of step {bad} (training sequences {from_seq}..{}) and kept the weights; \
             finding {} in a row, a rollback after {} (health.rollback_after)",
            from_seq + per_step,
            self.guard.streak,
            self.hooks.health.rollback_after()
        );
        logs.event(bad, "skip", detail)
    }

    /// Restores the newest good checkpoint and skips the data the run read since it, up to and
    /// including the offending step `bad`.
    fn rollback(&mut self, bad: u64, logs: &mut Logs) -> Result<()> {
        let (point, notes) = resume::newest_good(&self.out)?;
        let t = &self.config.train;
        let per_step = (t.batch_size * t.grad_accum * self.comm.size()) as u64;
        let to = point.as_ref().map_or(0, |(_, s)| s.step);
        // The offending window under the current data position: steps to+1 ..= bad.
        let from_seq = to * per_step + self.guard.skipped;
        let skipped = self.guard.skipped + (bad - to) * per_step;
        self.restore(point.as_ref())?;
        self.guard.skipped = skipped;
        self.guard.rollbacks += 1;
        self.guard.streak = 0;
        logs.rewind(to)?;
        if let Some(layers) = self.hooks.layers.as_mut() {
            layers.reopen()?;
        }
        self.carry_into_layer_log();
        let name = point
            .as_ref()
            .map_or("the start (step 0)".to_owned(), |(d, _)| {
                d.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            });
        let mut detail = format!(
            "rolled back to {name}: skipping training sequences {from_seq}..{} (the data of steps {}..={bad}); \
             rollback {} of at most {}",
            from_seq + (bad - to) * per_step,
            to + 1,
            self.guard.rollbacks,
            self.hooks.health.max_rollbacks()
        );
        for n in notes {
            detail.push_str("; ");
            detail.push_str(&n);
        }
        logs.event(bad, "rollback", detail)
    }

    /// Writes a checkpoint of the current state: parameters, AdamW, data position, the health
    /// window and the layer log's carried gradient. The run's logs are fsynced first, so a
    /// checkpoint never outlives the log lines of its steps. A failed write names the directory
    /// and leaves the previous checkpoints as they were.
    pub(super) fn save_checkpoint(&mut self, logs: &Logs) -> Result<PathBuf> {
        if !self.comm.is_root() {
            // Rank 0 alone writes the run directory; the others name the same checkpoint.
            return Ok(self
                .out
                .join("checkpoints")
                .join(format!("step_{:07}", self.step)));
        }
        let t = &self.config.train;
        let state = CheckpointState {
            format: checkpoint::STATE_FORMAT.into(),
            version: checkpoint::STATE_VERSION,
            step: self.step,
            tokens: self.tokens(),
            next_sequence: self.step * (t.grad_accum * t.batch_size * self.comm.size()) as u64
                + self.guard.skipped,
            seed: t.seed,
            adam_t: self.adam.t,
            config_sha256: self.config_hash.clone(),
            files: Default::default(),
            skipped_sequences: self.guard.skipped,
            health: self.hooks.health.history(),
            cpu: Some(CpuFeatures::detect()),
            sdc: self
                .sdc
                .record
                .as_ref()
                .filter(|(s, _)| *s == self.step)
                .map(|(_, r)| r.clone()),
        };
        logs.sync()?;
        if let Some(l) = self.hooks.layers.as_ref() {
            l.sync()?;
        }
        // A copy, so that the hooks can be called while the checkpoint is written.
        let carried = self
            .hooks
            .layers
            .as_ref()
            .and_then(|l| l.carried_grads(self.step))
            .map(<[f32]>::to_vec);
        let extra: Vec<(&str, &[f32])> = carried.iter().map(|g| (PREV_GRAD, &g[..])).collect();
        let step = self.step;
        let hooks = &mut self.hooks;
        let saved = checkpoint::save_with(
            &self.out,
            &self.layout,
            &self.params,
            &self.adam,
            &extra,
            state,
            self.config.checkpoint.keep,
            &mut |_| hooks.checkpoint_midway(step),
        );
        let root = self.out.join("checkpoints");
        let name = format!("step_{:07}", self.step);
        match saved {
            Ok(dir) => {
                self.hooks.after_checkpoint(self.step, &dir)?;
                Ok(dir)
            }
            Err(e) => {
                // Best effort: the temp dir of an interrupted write is ignored by a resume anyway.
                let _ = std::fs::remove_dir_all(root.join(format!(".tmp-{name}")));
                let previous = checkpoint::latest(&self.out)
                    .ok()
                    .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_else(|| "none".into());
                Err(Error::CheckpointWrite {
                    dir: root.join(name),
                    previous,
                    source: Box::new(e),
                })
            }
        }
    }

    /// `summary.json`'s health section.
    pub(super) fn health_report(&self) -> HealthReport {
        HealthReport {
            policy: self.hooks.health.policy().name().into(),
            events: count_events(&self.out.join("events.jsonl")),
            skipped_sequences: self.guard.skipped,
        }
    }
}
