//! The training loop: one optimizer step is
//! 1) `grad_accum` micro-batches of B × T tokens, each `forward_backward` adding
//!    `(1/grad_accum) · d(mean CE)/dθ` into the zeroed gradient buffer;
//! 2) global gradient-norm clipping to `train.grad_clip` (0 = off; the norm is taken before it);
//! 3) the health monitor judges the loss and the norm (non-finite, spike, explosion) before the
//!    update can touch the weights, and acts by `[health] policy` (see `recovery.rs`);
//! 4) AdamW with the scheduled learning rate (decay on 2-D weights only, in `ladder_model`);
//! 5) an evaluation every `eval.every` steps and at the end, the `metrics.jsonl` line, and a
//!    checkpoint every `checkpoint.every` steps and at the end (after the line: see
//!    `Run::end_step`).
//!
//! Fault injection, planted bugs, the health monitor and the layer log attach to the points of
//! this sequence as step hooks (`trainer/hooks.rs`). Whether a step is the last is decided once,
//! right after its update, so the last step is always evaluated and checkpointed.
//!
//! Training sequence `i` of micro-batch `μ` of step `s` is the sampler's sequence
//! `(s · grad_accum + μ) · B + i + skipped`, a global counter (`skipped`: sequences skipped by health
//! rollbacks, kept in checkpoints): a resume needs only the step and `skipped`, and a data-parallel
//! rank can take a slice of it. The run stops at the first of `train.tokens`, `train.steps` and
//! `train.max_time`. With a fixed thread count the losses and checkpoint bytes are bitwise
//! reproducible: nothing in the numerics depends on timing.
//!
//! Data parallel ([`crate::comm`]): with K ranks, B is per rank and rank `r` takes sequences
//! `((s · grad_accum + μ) · K + r) · B + i` (plus the sequences rollbacks skipped); gradients are
//! scaled by `1/(grad_accum · K)` and summed over the ranks by one all-reduce of the gradient
//! buffer, so every rank applies the same update. Rank 0 alone writes the run directory; the stop
//! decision (wall time) is rank 0's, broadcast.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ladder_data::{Meta, Split, TrainSampler};
use ladder_model::{AdamW, ModelConfig, ParamLayout, Workspace};

use crate::comm::{self, Comm};
use crate::config::Config;
use crate::error::{io, Error, Result};
use crate::eval::{Evaluator, ValLoss};
use crate::fsutil::{write_atomic, write_json_atomic};
use crate::metrics::{PeakSource, Status, StepRecord, StopReason, Summary};
use crate::perf;
use crate::schedule::LrSchedule;

mod dp;
mod hooks;
mod recovery;
mod sdc;
use crate::health::Monitor;
use crate::inject::{Injection, Injector};
use crate::layerlog::LayerLog;
use crate::resume::Logs;
use dp::check_ranks_fit;
use hooks::{Batch, Hooks, StepHook, Update};
use recovery::{Guard, Resume};
use sdc::SdcState;

/// What [`train`] needs beyond the config.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// The resolved config (keys and types checked; values are validated by [`train`]).
    pub config: Config,
    /// The data directory; `None` = `config.data.dir`.
    pub data: Option<PathBuf>,
    /// The run directory to create.
    pub out: PathBuf,
    /// Write into an existing non-empty run directory, replacing a previous run's files.
    pub force: bool,
    /// Declared peak GFLOP/s for MFU; `None` = measure it.
    pub peak_gflops: Option<f64>,
    /// Continue the run in `out` from its newest good checkpoint (see [`crate::resume`]).
    pub resume: bool,
    /// Faults to inject: a testing aid (see [`crate::inject`]).
    pub inject: Vec<Injection>,
    /// The ranks of a data-parallel job ([`Comm::single`] for one process).
    pub comm: Comm,
}

/// What is known once a run is set up, for progress displays.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// The run directory.
    pub out: PathBuf,
    /// The resolved config, as written to `config.toml`.
    pub config: Config,
    /// Non-embedding parameters.
    pub n_params: u64,
    /// All parameters.
    pub n_params_total: u64,
    /// Optimizer steps the run will take, when a step or token limit is set.
    pub total_steps: Option<u64>,
    /// The wall-time limit, when set.
    pub max_time: Option<Duration>,
    /// B · T · grad_accum · world_size (all ranks together).
    pub tokens_per_step: u64,
    /// Ranks of the data-parallel job (1 for one process).
    pub world_size: usize,
    /// Worker threads.
    pub threads: usize,
    /// Peak GFLOP/s behind MFU.
    pub peak_gflops: f64,
    /// Measured or declared.
    pub peak_source: PeakSource,
    /// Things the user should know (e.g. an LR schedule without a horizon).
    pub warnings: Vec<String>,
}

/// Receives progress; every method has an empty default. The CLI draws its progress bar here.
pub trait Observer: Send {
    /// The run is set up and about to take its first step.
    fn on_start(&mut self, _info: &RunInfo) {}
    /// A step finished (its record is already in `metrics.jsonl`).
    fn on_step(&mut self, _record: &StepRecord) {}
    /// A checkpoint was written.
    fn on_checkpoint(&mut self, _dir: &Path) {}
    /// Something the user should know about a resume (bad checkpoints passed over, config changes).
    fn on_notice(&mut self, _msg: &str) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

/// The files a run writes; `--force` removes exactly these before training.
const RUN_FILES: [&str; 7] = [
    "config.toml",
    "metrics.jsonl",
    "events.jsonl",
    "layers.jsonl",
    "summary.json",
    "checkpoints",
    crate::sdc::STOP_FILE,
];

/// Trains a model as configured and writes the run directory (DESIGN §3). Returns the summary of
/// a completed run; a diverged or failed run still writes `summary.json` (with its status) and
/// returns the error.
pub fn train(opts: TrainOptions, obs: &mut dyn Observer) -> Result<Summary> {
    let mut config = opts.config;
    config.validate()?;
    // 1. The data: fill in vocab size and the absolute data dir.
    let data_dir = match &opts.data {
        Some(d) => d.clone(),
        None if !config.data.dir.is_empty() => PathBuf::from(&config.data.dir),
        None => return Err(Error::NoDataDir),
    };
    if !data_dir.is_dir() {
        return Err(Error::DataDirMissing { path: data_dir });
    }
    let data_dir = std::fs::canonicalize(&data_dir).map_err(io(&data_dir))?;
    let meta = Meta::load(&data_dir)?;
    // A damaged or swapped tokenizer.json / shard must not train silently (cached: cheap).
    ladder_data::verify_hashes(&data_dir, &meta)?;
    if config.model.vocab_size != 0 && config.model.vocab_size != meta.vocab_size {
        return Err(Error::VocabMismatch {
            config: config.model.vocab_size,
            data: meta.vocab_size,
        });
    }
    config.model.vocab_size = meta.vocab_size;
    config.data.dir = data_dir.to_string_lossy().into_owned();
    let model_cfg = config.model_config();
    model_cfg.validate()?;

    // A resume checks the config against the run's and finds its checkpoint before touching it.
    let resume = match opts.resume {
        true => Some(Resume::prepare(&opts.out, &config)?),
        false => None,
    };
    // With several ranks only rank 0 looks at the run directory, in the agreed set-up below.
    if resume.is_none() && !opts.force && opts.comm.size() == 1 && dir_has_entries(&opts.out)? {
        return Err(Error::RunDirNotEmpty {
            path: opts.out.clone(),
        });
    }
    let comm = opts.comm.clone();
    let threads = comm::resolve_threads(config.train.threads, &comm);
    let pool = perf::thread_pool(threads)?;
    pool.install(|| {
        // 2. Everything that can fail on bad data happens before the run directory is touched.
        let config_text = config.to_toml();
        let setup = (|| {
            let mut run = Run::setup(
                config,
                &opts.out,
                &data_dir,
                meta,
                model_cfg,
                opts.peak_gflops,
                comm.clone(),
            )?;
            run.info.threads = threads;
            let target = crate::inject::bitflip_target(&run.layout);
            run.hooks.inject = Injector::new(opts.inject.clone()).on_rank(comm.rank(), target);
            if let Some((step, rank)) = run.hooks.inject.bad_ranks(comm.size()) {
                return Err(Error::InjectRank {
                    step,
                    rank,
                    ranks: comm.size(),
                });
            }
            run.sdc.pending = resume.as_ref().and_then(|r| r.sdc_stop.clone());
            // 3. The run directory (rank 0's alone).
            match &resume {
                Some(r) => run.resume_from(r)?,
                None if comm.is_root() => prepare_run_dir(&opts.out, opts.force)?,
                None => {}
            }
            if comm.is_root() {
                write_atomic(&opts.out.join("config.toml"), config_text.as_bytes())?;
            }
            Ok(run)
        })();
        let mut run = comm::agree(&comm, setup)?;
        run.join_ranks(opts.peak_gflops.is_none())?;
        let result = run.train_loop(obs, resume.as_ref());
        let summary = match &result {
            Ok(reason) => run.summary(Status::Completed, *reason, None),
            Err(e @ Error::Diverged { .. }) => {
                run.summary(Status::Diverged, StopReason::Diverged, Some(e.to_string()))
            }
            Err(e @ Error::HealthStop { .. }) => {
                run.summary(Status::Failed, StopReason::Health, Some(e.to_string()))
            }
            Err(e @ Error::Sdc { .. }) => {
                run.summary(Status::Failed, StopReason::Sdc, Some(e.to_string()))
            }
            Err(e) => run.summary(Status::Failed, StopReason::Error, Some(e.to_string())),
        };
        if comm.is_root() {
            write_json_atomic(&run.out.join("summary.json"), &summary)?;
        }
        result.map(|_| summary)
    })
}

/// Whether `dir` exists and holds anything.
fn dir_has_entries(dir: &Path) -> Result<bool> {
    if !dir.exists() {
        return Ok(false);
    }
    Ok(std::fs::read_dir(dir).map_err(io(dir))?.next().is_some())
}

/// Creates `out`, or refuses a non-empty one unless `force` (then removes only [`RUN_FILES`]).
fn prepare_run_dir(out: &Path, force: bool) -> Result<()> {
    if dir_has_entries(out)? {
        if !force {
            return Err(Error::RunDirNotEmpty {
                path: out.to_path_buf(),
            });
        }
        for name in RUN_FILES {
            let p = out.join(name);
            if p.is_dir() {
                std::fs::remove_dir_all(&p).map_err(io(&p))?;
            } else if p.exists() {
                std::fs::remove_file(&p).map_err(io(&p))?;
            }
        }
    }
    std::fs::create_dir_all(out).map_err(io(out))
}

/// What a step's update leaves for its record.
struct StepDone {
    /// The logged learning rate.
    lr: f64,
    loss: f32,
    /// Before clipping.
    grad_norm: f32,
    /// Seconds the step took (micro-batches to update).
    dt: f64,
}

/// The state of a run in progress.
struct Run {
    info: RunInfo,
    out: PathBuf,
    config: Config,
    config_hash: String,
    model_cfg: ModelConfig,
    layout: ParamLayout,
    params: Vec<f32>,
    grads: Vec<f32>,
    adam: AdamW,
    ws: Workspace,
    sampler: TrainSampler,
    val: Evaluator,
    schedule: LrSchedule,
    inputs: Vec<u32>,
    targets: Vec<u32>,
    /// Planted bug, fault injection, health monitor, layer log: everything attached to a step.
    hooks: Hooks,
    /// Data skipped by rollbacks, rollbacks taken, the clock before a resume.
    guard: Guard,
    /// Silent-data-corruption checks (`train.sdc_check_every`).
    sdc: SdcState,
    flops_per_token: f64,
    entropy: Option<f64>,
    // progress
    step: u64,
    train_time: f64,
    wall: Instant,
    last_loss: Option<f32>,
    last_val: Option<ValLoss>,
    /// The other ranks, and seconds spent in the gradient all-reduce.
    comm: Comm,
    comm_time: f64,
}

impl Run {
    fn setup(
        config: Config,
        out: &Path,
        data_dir: &Path,
        meta: Meta,
        model_cfg: ModelConfig,
        declared_peak: Option<f64>,
        comm: Comm,
    ) -> Result<Run> {
        let t = &config.train;
        let (b, seq) = (t.batch_size, t.seq_len);
        let sdc_every = t.sdc_check_every;
        let tokens_per_step = t.tokens_per_step() * comm.size() as u64;
        // Steps from the token budget round up: a run trains on at least `train.tokens`.
        let total_steps = match (t.stop_steps(), t.stop_tokens()) {
            (Some(s), Some(n)) => Some(s.min(n.div_ceil(tokens_per_step))),
            (Some(s), None) => Some(s),
            (None, Some(n)) => Some(n.div_ceil(tokens_per_step)),
            (None, None) => None,
        };
        let max_time = t.stop_time()?;
        let mut warnings = Vec::new();
        if total_steps.is_none() {
            warnings.push(
                "only train.max_time is set: the LR schedule has no horizon, so the rate stays at \
                 train.lr after warm-up (set train.steps or train.tokens to get the decay)"
                    .to_owned(),
            );
        }
        let schedule = LrSchedule::new(t, total_steps);
        let (peak_gflops, peak_source) = match declared_peak {
            Some(g) => (g, PeakSource::Declared),
            None => (perf::measured_peak_gflops(), PeakSource::Measured),
        };

        let layout = ParamLayout::new(&model_cfg);
        let bug = config.debug.bug;
        let params = bug.init_params(&model_cfg, t.seed);
        let grads = vec![0.0f32; layout.len];
        let adam = AdamW::with_faults(&layout, &bug.faults());
        let ws = Workspace::with_faults(&model_cfg, b, seq, &bug.faults())?;
        let shard = meta.open_shard(data_dir, Split::Train)?;
        let sampler = TrainSampler::new(shard, seq, t.seed)?;
        if comm.size() > 1 {
            check_ranks_fit(&comm, b * t.grad_accum, &sampler)?;
        }
        let val = Evaluator::open(data_dir, &meta, &config, &comm)?;
        let flops_per_token = model_cfg.train_flops_per_token(seq);
        let entropy = val.entropy();
        let hooks = Hooks {
            bug,
            inject: Injector::default(),
            health: Monitor::new(&config.health),
            layers: None,
            extra: Vec::new(),
        };

        let info = RunInfo {
            out: out.to_path_buf(),
            config: config.clone(),
            n_params: model_cfg.n_params_non_embedding(),
            n_params_total: model_cfg.n_params_total(),
            total_steps,
            max_time,
            tokens_per_step,
            world_size: comm.size(),
            threads: rayon::current_num_threads(),
            peak_gflops,
            peak_source,
            warnings,
        };
        Ok(Run {
            info,
            out: out.to_path_buf(),
            config_hash: config.hash(),
            config,
            model_cfg,
            layout,
            params,
            grads,
            adam,
            ws,
            sampler,
            val,
            schedule,
            inputs: vec![0; b * seq],
            targets: vec![0; b * seq],
            hooks,
            guard: Guard::default(),
            sdc: SdcState {
                every: sdc_every,
                ..SdcState::default()
            },
            flops_per_token,
            entropy,
            step: 0,
            train_time: 0.0,
            wall: Instant::now(),
            last_loss: None,
            last_val: None,
            comm,
            comm_time: 0.0,
        })
    }

    fn tokens(&self) -> u64 {
        self.step * self.info.tokens_per_step
    }

    /// Runs until a stop condition; returns which one. The stop is decided once per step, right
    /// after its update, and that same decision makes the step the last: a stopping run always
    /// ends with an evaluation and a checkpoint of its final step.
    fn train_loop(
        &mut self,
        obs: &mut dyn Observer,
        resume: Option<&Resume>,
    ) -> Result<StopReason> {
        let mut logs = Logs::open(&self.out, resume.is_some(), self.comm.is_root())?;
        self.hooks.layers = match self.comm.is_root() {
            true => LayerLog::open(
                &self.out.join("layers.jsonl"),
                self.config.log.layer_stats_every,
                self.layout.len,
                resume.is_some(),
            )?,
            false => None,
        };
        self.begin(&mut logs, resume, obs)?;
        obs.on_start(&self.info);
        self.wall = Instant::now();
        // Before the first step: a resumed run may already be at its end (it was evaluated and
        // checkpointed there by the process that got there).
        let mut stop = self.agreed_stop_reason()?;
        let reason = loop {
            if let Some(reason) = stop {
                break reason;
            }
            let t0 = Instant::now();
            let Some(mut done) = self.train_step(t0, &mut logs)? else {
                continue; // skipped its batch, or rolled back
            };
            stop = self.agreed_stop_reason()?;
            // The ranks compare their weights before the step's checkpoint can be written; the
            // check counts as step time.
            let check = self.sdc_check(stop.is_some(), &mut logs, obs)?;
            done.dt += check;
            self.train_time += check;
            let record = self.end_step(done, stop.is_some(), &mut logs, obs)?;
            self.hooks.after_step(&record);
        };
        logs.finish()?;
        self.hooks.finish()?;
        Ok(reason)
    }

    /// One optimizer step up to its update: micro-batches, reduce, clipping, the health verdict,
    /// AdamW. `None` when a finding rolled the run back (no step was taken).
    fn train_step(&mut self, t0: Instant, logs: &mut Logs) -> Result<Option<StepDone>> {
        let step_no = self.step + 1;
        self.hooks.before_step(step_no);
        // 1) micro-batches (one process with --sdc-check-every: twice), then the sum over the ranks
        let recompute = self.sdc_recompute_due(step_no);
        let before = (recompute && !self.hooks.zero_grads()).then(|| self.grads.clone());
        let loss_sum = self.micro_batches(step_no)?;
        self.hooks.after_forward_backward(step_no, &mut self.params);
        if recompute {
            self.sdc_recompute(step_no, before, loss_sum, logs)?;
        }
        self.hooks.after_backward(step_no, &mut self.grads);
        let loss_sum = self.reduce_gradients(loss_sum)?;
        let (accum, world) = (self.config.train.grad_accum as u64, self.comm.size() as u64);
        let mut loss = (loss_sum / (accum * world) as f64) as f32;
        self.hooks.after_reduce(step_no, &mut loss, &mut self.grads);
        // 2) clipping (the norm is taken before it)
        let clip = self.config.train.grad_clip;
        let grad_norm = if clip > 0.0 {
            ladder_model::clip_grad_norm(&mut self.grads, clip as f32)
        } else {
            ladder_model::grad_norm(&self.grads)
        };
        // 3) health: non-finite values, spikes and explosions are judged before the update
        if let Some(f) = self.hooks.judge(step_no, loss, grad_norm) {
            if self.on_finding(f, step_no, (loss, grad_norm), logs)? {
                return Ok(None);
            }
        }
        self.guard.streak = 0;
        // 4) update
        let lr = self.schedule.lr_at(self.step);
        self.hooks.before_update(step_no, &self.params);
        self.adam.step(
            &self.layout,
            &mut self.params,
            &self.grads,
            self.hooks.applied_lr(lr) as f32,
            self.config.train.weight_decay as f32,
        );
        self.hooks.adjust_params(&mut self.params);
        self.hooks.after_update(&Update {
            step: step_no,
            lr,
            loss,
            grad_norm,
            layout: &self.layout,
            params: &self.params,
            grads: &self.grads,
        })?;
        self.step = step_no;
        self.last_loss = Some(loss);
        let dt = t0.elapsed().as_secs_f64();
        self.train_time += dt;
        if let Some(f) = self
            .hooks
            .health
            .step_time(step_no, dt, self.info.tokens_per_step)
        {
            logs.event(step_no, f.kind, f.detail)?;
        }
        Ok(Some(StepDone {
            lr,
            loss,
            grad_norm,
            dt,
        }))
    }

    /// Step `step_no`'s `grad_accum` micro-batches through forward-backward; returns the sum of
    /// their losses. Rank `r` of `K` reads global sequences
    /// `((step · accum + μ) · K + r) · B + i + skipped`.
    fn micro_batches(&mut self, step_no: u64) -> Result<f64> {
        let t = &self.config.train;
        let (b, seq, accum) = (t.batch_size, t.seq_len, t.grad_accum);
        let (rank, world) = (self.comm.rank() as u64, self.comm.size() as u64);
        if self.hooks.zero_grads() {
            self.grads.fill(0.0);
        }
        let mut loss_sum = 0.0f64;
        for micro in 0..accum {
            let first = ((self.step * accum as u64 + micro as u64) * world + rank) * b as u64
                + self.guard.skipped;
            for i in 0..b {
                let r = i * seq..(i + 1) * seq;
                let index = self
                    .hooks
                    .sequence_index(first + i as u64, self.sampler.windows_per_epoch());
                self.sampler
                    .sequence(index, &mut self.inputs[r.clone()], &mut self.targets[r]);
            }
            let mut batch = Batch {
                inputs: &mut self.inputs,
                targets: &mut self.targets,
                vocab: self.model_cfg.vocab_size,
            };
            self.hooks.before_micro_batch(step_no, micro, &mut batch);
            let loss = self.ws.forward_backward(
                &self.params,
                &mut self.grads,
                &self.inputs,
                &self.targets,
                1.0 / (accum as u64 * world) as f32,
            )?;
            loss_sum += loss as f64;
        }
        Ok(loss_sum)
    }

    /// After a step's update: the evaluation (every `eval.every` steps and on the last), the
    /// `metrics.jsonl` line, then the checkpoint (every `checkpoint.every` steps and on the last).
    /// The line is written first so that a checkpoint never exists without the log lines of its
    /// steps (`save_checkpoint` makes them durable before the checkpoint is renamed into place).
    fn end_step(
        &mut self,
        done: StepDone,
        last: bool,
        logs: &mut Logs,
        obs: &mut dyn Observer,
    ) -> Result<StepRecord> {
        let step_no = self.step;
        let every = |n: u64| n > 0 && step_no.is_multiple_of(n);
        let mut val = None;
        if last || every(self.config.eval.every) {
            // The last evaluation is the final one (eval.final_tokens, the whole split).
            let v = self
                .val
                .evaluate(&mut self.ws, &self.params, &self.comm, last)?;
            self.hooks.after_eval(step_no, &v);
            self.last_val = Some(v);
            val = Some(v);
        }
        let tok_per_s = self.info.tokens_per_step as f64 / done.dt.max(1e-9);
        let record = StepRecord {
            step: self.step,
            tokens: self.tokens(),
            flops: self.tokens() as f64 * self.flops_per_token,
            lr: done.lr,
            loss: done.loss,
            grad_norm: done.grad_norm,
            tok_per_s,
            mfu: tok_per_s * self.flops_per_token / (self.info.peak_gflops * 1e9),
            elapsed_s: self.guard.elapsed_base + self.wall.elapsed().as_secs_f64(),
            val_loss: val.map(|v| v.loss),
            val_bpb: val.and_then(|v| v.bpb),
            val_loss_se: val.and_then(|v| v.se),
            val_tokens: val.and_then(|v| v.tokens),
        };
        logs.metrics.write(&record)?;
        obs.on_step(&record);
        if (last || every(self.config.checkpoint.every)) && self.comm.is_root() {
            let dir = self.save_checkpoint(logs)?;
            obs.on_checkpoint(&dir);
        }
        Ok(record)
    }

    /// The stop condition reached after `self.step` steps, if any.
    fn stop_reason(&self) -> Option<StopReason> {
        let t = &self.config.train;
        if let Some(total) = self.info.total_steps {
            if self.step >= total {
                // Name the limit that produced `total`.
                return Some(match t.stop_steps() {
                    Some(s) if s == total => StopReason::Steps,
                    _ => StopReason::Tokens,
                });
            }
        }
        match self.info.max_time {
            Some(limit) if self.wall.elapsed() >= limit => Some(StopReason::MaxTime),
            _ => None,
        }
    }

    fn summary(&self, status: Status, stop_reason: StopReason, message: Option<String>) -> Summary {
        let n = self.model_cfg.n_params_non_embedding();
        let d = self.tokens();
        let flops = d as f64 * self.flops_per_token;
        let train_time = self.train_time.max(1e-9);
        Summary {
            status,
            stop_reason,
            message,
            n,
            n_total: self.model_cfg.n_params_total(),
            d,
            c: 6.0 * n as f64 * d as f64,
            steps: self.step,
            flops,
            flops_per_token: self.flops_per_token,
            final_train_loss: self.last_loss,
            final_val_loss: self.last_val.map(|v| v.loss),
            final_val_loss_se: self.last_val.and_then(|v| v.se),
            final_val_tokens: self.last_val.and_then(|v| v.tokens),
            final_val_block_losses: self
                .last_val
                .and_then(|v| v.block_means)
                .map(|b| b.as_slice().to_vec()),
            final_val_bpb: self.last_val.and_then(|v| v.bpb),
            entropy_nats_per_token: self.entropy,
            wall_time_s: self.guard.elapsed_base + self.wall.elapsed().as_secs_f64(),
            tok_per_s: d as f64 / train_time,
            mfu: flops / train_time / (self.info.peak_gflops * 1e9),
            peak_gflops: self.info.peak_gflops,
            peak_source: self.info.peak_source,
            threads: self.info.threads,
            health: Some(self.health_report()),
            world_size: (self.comm.size() > 1).then_some(self.comm.size()),
            comm_time_s: (self.comm.size() > 1).then_some(self.comm_time),
            sdc_check_s: (self.sdc.every > 0).then_some(self.sdc.time),
            sdc_checks: (self.sdc.every > 0).then_some(self.sdc.checks),
        }
    }
}
