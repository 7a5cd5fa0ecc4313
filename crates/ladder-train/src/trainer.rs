//! The training loop: one optimizer step is
//! 1) `grad_accum` micro-batches of B × T tokens, each `forward_backward` adding
//!    `(1/grad_accum) · d(mean CE)/dθ` into the zeroed gradient buffer;
//! 2) global gradient-norm clipping to `train.grad_clip` (0 = off; the norm is taken before it);
//! 3) the health monitor judges the loss and the norm (non-finite, spike, explosion) before the
//!    update can touch the weights, and acts by `[health] policy` (see `recovery.rs`);
//! 4) AdamW with the scheduled learning rate (decay on 2-D weights only, in `ladder_model`);
//! 5) a `metrics.jsonl` line, plus an evaluation every `eval.every` steps and at the end, and a
//!    checkpoint every `checkpoint.every` steps and at the end.
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
use crate::planted::PlantedBug;
use crate::schedule::LrSchedule;

mod dp;
mod recovery;
use crate::inject::{self, Injection};
use crate::resume::Logs;
use dp::check_ranks_fit;
use recovery::{Guard, Resume};

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
const RUN_FILES: [&str; 6] = [
    "config.toml",
    "metrics.jsonl",
    "events.jsonl",
    "layers.jsonl",
    "summary.json",
    "checkpoints",
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
            run.guard.inject = inject::Injector::new(opts.inject.clone());
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
    /// A planted bug (testing aid for diagnosis); `None` in real runs.
    bug: PlantedBug,
    /// Health monitor, fault injection, data skipped by rollbacks.
    guard: Guard,
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
        let mut adam = AdamW::new(&layout);
        let mut ws = Workspace::new(&model_cfg, b, seq)?;
        bug.configure(&mut ws, &mut adam);
        let shard = meta.open_shard(data_dir, Split::Train)?;
        let sampler = TrainSampler::new(shard, seq, t.seed)?;
        if comm.size() > 1 {
            check_ranks_fit(&comm, b * t.grad_accum, &sampler)?;
        }
        let val = Evaluator::open(data_dir, &meta, &config, &comm)?;
        let flops_per_token = model_cfg.train_flops_per_token(seq);
        let entropy = val.entropy();
        let guard = Guard::new(&config.health, Vec::new());

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
            bug,
            guard,
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

    /// Runs until a stop condition; returns which one.
    fn train_loop(
        &mut self,
        obs: &mut dyn Observer,
        resume: Option<&Resume>,
    ) -> Result<StopReason> {
        let mut logs = Logs::open(
            &self.out,
            self.config.log.layer_stats_every,
            self.layout.len,
            resume.is_some(),
            self.comm.is_root(),
        )?;
        self.begin(&mut logs, resume, obs)?;
        obs.on_start(&self.info);
        self.wall = Instant::now();
        let t = self.config.train.clone();
        let (b, seq, accum) = (t.batch_size, t.seq_len, t.grad_accum);
        let peak = self.info.peak_gflops * 1e9;
        loop {
            // Stop before starting a step (covers steps = 0 after a resume, and max_time).
            if let Some(reason) = self.agreed_stop_reason()? {
                logs.finish()?;
                return Ok(reason);
            }
            let t0 = Instant::now();
            let step_no = self.step + 1;
            if let Some(stall) = self.guard.inject.slow(step_no) {
                std::thread::sleep(stall);
            }
            let spike = self.guard.inject.spike(step_no);
            // 1) micro-batches
            if self.bug.zero_grads() {
                self.grads.fill(0.0);
            }
            let mut loss_sum = 0.0f64;
            let (rank, world) = (self.comm.rank() as u64, self.comm.size() as u64);
            for micro in 0..accum {
                let first = ((self.step * accum as u64 + micro as u64) * world + rank) * b as u64
                    + self.guard.skipped;
                for i in 0..b {
                    let r = i * seq..(i + 1) * seq;
                    let index = self
                        .bug
                        .sequence_index(first + i as u64, self.sampler.windows_per_epoch());
                    self.sampler
                        .sequence(index, &mut self.inputs[r.clone()], &mut self.targets[r]);
                }
                if spike {
                    let v = self.model_cfg.vocab_size;
                    inject::scramble(&mut self.inputs, &mut self.targets, step_no, micro, v);
                }
                let loss = self.ws.forward_backward(
                    &self.params,
                    &mut self.grads,
                    &self.inputs,
                    &self.targets,
                    1.0 / (accum as u64 * world) as f32,
                )?;
                loss_sum += loss as f64;
            }
            let loss_sum = self.reduce_gradients(loss_sum)?;
            let mut loss = (loss_sum / (accum as u64 * world) as f64) as f32;
            if spike {
                loss = inject::amplify(loss, &mut self.grads);
            }
            if self.guard.inject.nan(step_no) {
                self.grads[0] = f32::NAN;
            }
            // 2) clipping (the norm is taken before it)
            let grad_norm = if t.grad_clip > 0.0 {
                ladder_model::clip_grad_norm(&mut self.grads, t.grad_clip as f32)
            } else {
                ladder_model::grad_norm(&self.grads)
            };
            // 3) health: non-finite values, spikes and explosions are judged before the update
            if let Some(f) = self.guard.monitor.check(step_no, loss, grad_norm) {
                if self.on_finding(f, step_no, (loss, grad_norm), &mut logs)? {
                    continue; // rolled back
                }
            }
            // 4) update
            let lr = self.schedule.lr_at(self.step);
            if let Some(log) = logs.layers.as_mut() {
                log.before_update(step_no, &self.params);
            }
            self.adam.step(
                &self.layout,
                &mut self.params,
                &self.grads,
                (lr * self.bug.lr_factor()) as f32,
                t.weight_decay as f32,
            );
            self.bug.after_step(&mut self.params);
            if let Some(log) = logs.layers.as_mut() {
                log.after_update(step_no, lr, &self.layout, &self.params, &self.grads)?;
            }
            self.step = step_no;
            self.last_loss = Some(loss);
            self.guard.monitor.accept(loss, grad_norm);
            let dt = t0.elapsed().as_secs_f64();
            self.train_time += dt;
            if let Some(f) = self
                .guard
                .monitor
                .step_time(step_no, dt, self.info.tokens_per_step)
            {
                logs.event(step_no, f.kind, f.detail)?;
            }

            // 5) eval, checkpoint, record
            let done = self.agreed_stop_reason()?.is_some();
            let every = |n: u64| n > 0 && step_no.is_multiple_of(n);
            let (eval_now, ckpt_now) = (
                done || every(self.config.eval.every),
                done || every(self.config.checkpoint.every),
            );
            let mut val = None;
            if eval_now {
                // The last evaluation is the final one (eval.final_tokens, the whole split).
                let v = self
                    .val
                    .evaluate(&mut self.ws, &self.params, &self.comm, done)?;
                self.last_val = Some(v);
                val = Some(v);
            }
            if ckpt_now && self.comm.is_root() {
                let dir = self.save_checkpoint(&logs)?;
                obs.on_checkpoint(&dir);
            }
            let tok_per_s = self.info.tokens_per_step as f64 / dt.max(1e-9);
            let record = StepRecord {
                step: self.step,
                tokens: self.tokens(),
                flops: self.tokens() as f64 * self.flops_per_token,
                lr,
                loss,
                grad_norm,
                tok_per_s,
                mfu: tok_per_s * self.flops_per_token / peak,
                elapsed_s: self.guard.elapsed_base + self.wall.elapsed().as_secs_f64(),
                val_loss: val.map(|v| v.loss),
                val_bpb: val.and_then(|v| v.bpb),
                val_loss_se: val.and_then(|v| v.se),
                val_tokens: val.and_then(|v| v.tokens),
            };
            logs.metrics.write(&record)?;
            obs.on_step(&record);
            self.guard.inject.kill_after(step_no);
        }
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
        }
    }
}
