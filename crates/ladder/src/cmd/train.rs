//! `ladder train`: resolve the config (preset → file → `--set`), train, show progress.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ladder_train::comm::Comm;
use ladder_train::trainer::{Observer, RunInfo};
use ladder_train::{Config, Preset, StepRecord, TrainOptions};

/// Arguments of `ladder train`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Config keys (DESIGN §7; `ladder train --print-config` shows every one with its value):
  [model] arch (gpt2 | llama) n_layer n_embd n_head block_size vocab_size
          ffn_width (MLP width; both)  rope_theta norm_eps tie_embeddings (llama; absent = defaults)
  [train] batch_size seq_len grad_accum tokens steps max_time lr min_lr_ratio warmup_steps
          schedule decay_fraction weight_decay grad_clip seed threads sdc_check_every
  [eval] every tokens      [checkpoint] every keep      [data] dir
  [health] policy window min_history spike_k grad_explosion slow_factor slow_min_s max_rollbacks
A run needs a stop condition: train.tokens, train.steps or train.max_time (the first reached wins).

Examples:
  ladder train --data data/synth --out runs/t1 --preset tiny --set train.steps=200
  ladder train --data data/kjv --out runs/s1 --preset S --set train.tokens=2e7 --set train.schedule=wsd
  ladder train --config runs/s1/config.toml --out runs/s1-again      # reproduce a run

Surviving faults (docs/fault-tolerance.md):
  ladder train ... --set checkpoint.every=50            # periodic atomic checkpoints
  ladder train --out runs/t1 --resume                   # continue from the newest good checkpoint
  ladder train --out runs/t1 --resume --set train.steps=400   # safe changes are allowed and recorded
  ladder train ... --supervise --max-restarts 5         # restart the trainer when it dies
  ladder train ... --health stop                        # warn | rollback (default) | stop
  ladder train ... --inject kill@137 --inject nan@200 --inject slow@90:5s   # testing aid
  ladder checkpoint verify runs/t1                      # check every checkpoint's hashes
  ladder train ... --sdc-check-every 100                # silent data corruption: ranks compare
                                                        # weights (one process: a step twice); exit 4

Data parallel over MPI (a build with `--features mpi`; see docs/distributed.md): train.batch_size is
per rank, the global batch is batch_size × grad_accum × ranks sequences per step (printed at start):
  mpirun -np 2 ladder train --data data/kjv --out runs/dp2 --preset S --set train.batch_size=4
  mpirun -np 4 ladder train --data data/kjv --out runs/dp4 --preset S --global-batch 8")]
pub struct TrainArgs {
    /// Data directory written by `ladder data prepare` or `ladder data synth` (default: the
    /// config's data.dir).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Run directory to create (config.toml, metrics.jsonl, summary.json, checkpoints/).
    #[arg(long, value_name = "RUN")]
    pub out: PathBuf,
    /// Continue the run in --out from its newest good checkpoint (hashes verified; a bad one is
    /// named and passed over). The config is the run's config.toml with --set on top; changes to
    /// the model shape, batch shape, seed or data are refused.
    #[arg(long, conflicts_with = "force")]
    pub resume: bool,
    /// Run the trainer as a child process and restart it (with --resume) when it dies.
    #[arg(long)]
    pub supervise: bool,
    /// With --supervise: restarts allowed before giving up.
    #[arg(long, value_name = "N", default_value_t = 5, requires = "supervise")]
    pub max_restarts: u32,
    /// With --supervise: seconds to wait before the first restart (doubling after each, at most 60).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 1.0,
        requires = "supervise"
    )]
    pub backoff: f64,
    /// What the health monitor does about a non-finite value, a loss spike or a grad-norm
    /// explosion: warn (record it), rollback (restore the newest good checkpoint and skip the
    /// offending data; the default) or stop (checkpoint and exit with code 3). Same as
    /// --set health.policy=POLICY.
    #[arg(long, value_name = "warn|rollback|stop")]
    pub health: Option<ladder_train::health::HealthPolicy>,
    /// Check for silent data corruption every K steps (and before every checkpoint): data-parallel
    /// ranks compare checksums of their weights after the update; one process computes the step's
    /// gradient twice and compares the bits. A mismatch names the ranks, records an `sdc` event
    /// and stops with exit code 4; `--resume` restarts from the last checkpoint all ranks agreed
    /// on. Same as --set train.sdc_check_every=K (0 = off, the default).
    #[arg(long, value_name = "K")]
    pub sdc_check_every: Option<u64>,
    /// TESTING AID: inject a fault (repeatable): kill@K, kill-always@K, kill-checkpoint@K, nan@K,
    /// spike@K, corrupt-checkpoint@K, slow@K:Ns, pause@K:Ns, bitflip@K:RANK (one bit of one weight
    /// on one rank in step K; see docs/fault-tolerance.md).
    #[arg(long, value_name = "KIND@STEP")]
    pub inject: Vec<ladder_train::inject::Injection>,
    /// Start from a preset: tiny (2×64), S (4×256) or M (6×384); the config file and --set go on top.
    #[arg(long, value_name = "tiny|S|M")]
    pub preset: Option<String>,
    /// A TOML config (any subset of the keys; a run's config.toml reproduces that run).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override one key, type-checked, e.g. --set train.lr=1e-3 --set train.schedule=wsd (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    pub set: Vec<String>,
    /// Print nothing but errors (no progress bar, no summary).
    #[arg(long)]
    pub quiet: bool,
    /// Train into a non-empty run directory, replacing a previous run's files there.
    #[arg(long)]
    pub force: bool,
    /// Peak GFLOP/s for MFU instead of measuring the fp32 GEMM peak (recorded as "declared").
    #[arg(long, value_name = "GFLOPS")]
    pub peak_gflops: Option<f64>,
    /// Print the resolved config (every key) and exit without training.
    #[arg(long)]
    pub print_config: bool,
    /// TESTING AID, never for real training: plant a known bug so `ladder diagnose` can be tested
    /// on it (same as --set debug.bug=NAME): causal-leak, stale-grad, bad-init,
    /// no-bias-correction, bf16-weights, lr-x30, repeat-data.
    #[arg(long, value_name = "NAME")]
    pub debug_bug: Option<ladder_train::planted::PlantedBug>,
    /// Sequences per optimizer step over all ranks; sets train.batch_size to
    /// N / (ranks × train.grad_accum), so the same N gives the same run on any number of ranks.
    #[arg(long, value_name = "N")]
    pub global_batch: Option<usize>,
    /// Communicator: auto (MPI when started by mpirun / srun --mpi=pmix), single, or mpi.
    #[arg(long, value_enum, default_value_t = super::dist::CommKind::Auto, value_name = "KIND")]
    pub comm: super::dist::CommKind,
    /// Seconds a rank may wait inside one collective before it decides a peer rank died or hung
    /// and ends the job (0 = wait forever).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub comm_timeout: u64,
}

/// Resolves `--preset`, `--config` and `--set` into a config (shared with `ladder bench`).
pub fn resolve_config(
    preset: Option<&str>,
    file: Option<&std::path::Path>,
    sets: &[String],
) -> anyhow::Result<Config> {
    let preset = preset.map(str::parse::<Preset>).transpose()?;
    Ok(Config::resolve(preset, file, sets)?)
}

/// `ladder train` on this rank: joins the job's ranks (one process unless started by an MPI
/// launcher), trains, and reports an error the way a rank of a job must (see `dist::report_error`).
pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    if args.supervise && !args.print_config {
        return super::supervise::run(&args);
    }
    let timeout = (args.comm_timeout > 0).then(|| Duration::from_secs(args.comm_timeout));
    let comm = match super::dist::connect(args.comm, timeout) {
        Ok(c) => c,
        // Every rank gets the same answer here; one message is enough.
        Err(e) if super::dist::launcher_rank() != 0 => {
            drop(e);
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e),
    };
    let opts = match options(&args, &comm) {
        Ok(Some(opts)) => opts,
        Ok(None) => return Ok(ExitCode::SUCCESS),
        // The arguments and files are the same on every rank: rank 0 says what is wrong.
        Err(e) if comm.is_root() => return Err(e),
        Err(_) => return Ok(ExitCode::FAILURE),
    };
    match train_rank(&args, opts, &comm) {
        Ok(code) => Ok(code),
        Err(e) => Ok(super::dist::report_error(&comm, e)),
    }
}

/// The resolved training options, or `None` after `--print-config`.
fn options(args: &TrainArgs, comm: &Comm) -> anyhow::Result<Option<TrainOptions>> {
    // A resume starts from the run's own config unless another is given.
    let run_config = args.out.join("config.toml");
    let mut config = if args.resume && args.preset.is_none() && args.config.is_none() {
        anyhow::ensure!(
            run_config.is_file(),
            "{}: missing, so there is no run to resume here; start it without --resume",
            run_config.display()
        );
        resolve_config(None, Some(&run_config), &args.set)?
    } else {
        resolve_config(args.preset.as_deref(), args.config.as_deref(), &args.set)?
    };
    if let Some(g) = args.global_batch {
        config.train.batch_size =
            super::dist::per_rank_batch(g, comm.size(), config.train.grad_accum)?;
    }
    if let Some(bug) = args.debug_bug {
        config.debug.bug = bug;
    }
    if let Some(policy) = args.health {
        config.health.policy = policy;
    }
    if let Some(k) = args.sdc_check_every {
        config.train.sdc_check_every = k;
    }
    if args.print_config {
        if comm.is_root() {
            print!("{}", config.to_toml());
        }
        return Ok(None);
    }
    if let Some(g) = args.peak_gflops {
        anyhow::ensure!(
            g > 0.0 && g.is_finite(),
            "--peak-gflops {g} must be positive"
        );
    }
    Ok(Some(TrainOptions {
        config,
        data: args.data.clone(),
        out: args.out.clone(),
        force: args.force,
        peak_gflops: args.peak_gflops,
        resume: args.resume,
        inject: args.inject.clone(),
        comm: comm.clone(),
    }))
}

/// Trains and prints the summary (rank 0 alone draws progress and prints).
fn train_rank(args: &TrainArgs, opts: TrainOptions, comm: &Comm) -> anyhow::Result<ExitCode> {
    let root = comm.is_root();
    let quiet = args.quiet || !root;
    let mut progress = Progress::new(quiet, root);
    let result = ladder_train::train(opts, &mut progress);
    progress.finish();
    // Stops every rank shares, with exit codes distinct from other failures: a supervisor does
    // not restart them.
    let code = match &result {
        Err(ladder_train::Error::HealthStop { .. } | ladder_train::Error::Diverged { .. }) => {
            Some(ladder_train::supervisor::EXIT_HEALTH)
        }
        Err(ladder_train::Error::Sdc { .. }) => Some(ladder_train::supervisor::EXIT_SDC),
        _ => None,
    };
    if let (Some(code), Err(e)) = (code, &result) {
        if root {
            eprintln!("ladder: error: training {}: {e}", args.out.display());
        }
        // Nobody exits before rank 0's message is out (mpirun ends the job at the first
        // non-zero exit).
        let _ = comm.barrier();
        return Ok(ExitCode::from(code));
    }
    let summary = result.with_context(|| format!("training {}", args.out.display()))?;
    if !quiet {
        let loss = |x: Option<f32>| x.map_or("n/a".into(), |v| format!("{v:.4}"));
        println!(
            "trained {} steps, {} tokens in {:.1} s: train loss {}, val loss {}{}",
            summary.steps,
            summary.d,
            summary.wall_time_s,
            loss(summary.final_train_loss),
            loss(summary.final_val_loss),
            summary
                .final_val_bpb
                .map_or(String::new(), |b| format!(" ({b:.4} bits/byte)")),
        );
        println!(
            "{:.0} tok/s, MFU {:.1}% of {:.1} GFLOP/s ({}); N = {}, C = 6ND = {:.3e}",
            summary.tok_per_s,
            100.0 * summary.mfu,
            summary.peak_gflops,
            summary.peak_source.as_str(),
            summary.n,
            summary.c,
        );
        if let (Some(k), Some(c)) = (summary.world_size, summary.comm_time_s) {
            println!(
                "{k} ranks: gradient all-reduce {:.1} ms per step ({:.1}% of training time)",
                1e3 * c / summary.steps.max(1) as f64,
                100.0 * c * summary.tok_per_s / summary.d.max(1) as f64,
            );
        }
        if let (Some(t), Some(n)) = (summary.sdc_check_s, summary.sdc_checks) {
            println!(
                "silent-data-corruption checks: {n}, {:.1} ms each ({:.2}% of training time)",
                1e3 * t / n.max(1) as f64,
                100.0 * t * summary.tok_per_s / summary.d.max(1) as f64,
            );
        }
        if let Some(h) = summary.entropy_nats_per_token {
            println!("the synthetic source's entropy (best possible val loss): {h:.4}");
        }
        if let Some(h) = summary.health.as_ref().filter(|h| !h.events.is_empty()) {
            let counts: Vec<String> = h.events.iter().map(|(k, n)| format!("{k} {n}")).collect();
            println!("health events: {} (see events.jsonl)", counts.join(", "));
        }
        println!("run directory: {}", args.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The progress bar (stderr, only on a terminal) and plain lines for evaluations.
struct Progress {
    quiet: bool,
    /// Notices (a resume, a passed-over checkpoint) are shown even with --quiet, by rank 0.
    notices: bool,
    tty: bool,
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(quiet: bool, notices: bool) -> Self {
        Progress {
            quiet,
            notices,
            tty: std::io::stderr().is_terminal(),
            bar: None,
        }
    }

    fn line(&self, msg: &str) {
        match &self.bar {
            Some(bar) if self.tty => bar.println(msg),
            _ => eprintln!("{msg}"),
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn on_notice(&mut self, msg: &str) {
        // Shown even with --quiet: a resume that passed over a bad checkpoint must say so.
        if self.notices {
            self.line(&format!("ladder: {msg}"));
        }
    }

    fn on_start(&mut self, info: &RunInfo) {
        if self.quiet {
            return;
        }
        for w in &info.warnings {
            eprintln!("ladder: warning: {w}");
        }
        let m = &info.config.model;
        eprintln!(
            "training {}×{} (N = {} non-embedding, {} total params, vocab {}) on {} threads; peak {:.1} GFLOP/s ({})",
            m.n_layer,
            m.n_embd,
            info.n_params,
            info.n_params_total,
            m.vocab_size,
            info.threads,
            info.peak_gflops,
            info.peak_source.as_str(),
        );
        let t = &info.config.train;
        eprintln!(
            "global batch: {} sequences × {} micro-batch(es) × {} rank(s) = {} sequences ({} tokens) per step",
            t.batch_size,
            t.grad_accum,
            info.world_size,
            t.batch_size * t.grad_accum * info.world_size,
            info.tokens_per_step,
        );
        if !self.tty {
            return;
        }
        let bar = match info.total_steps {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] step {pos}/{len} {msg} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} step {pos} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.enable_steady_tick(Duration::from_millis(250));
        self.bar = Some(bar);
    }

    fn on_step(&mut self, r: &StepRecord) {
        if self.quiet {
            return;
        }
        if let Some(bar) = &self.bar {
            bar.set_position(r.step);
            bar.set_message(format!(
                "loss {:.4} | {:.0} tok/s | MFU {:.1}%",
                r.loss,
                r.tok_per_s,
                100.0 * r.mfu
            ));
        }
        if let Some(v) = r.val_loss {
            let bpb = r
                .val_bpb
                .map_or(String::new(), |b| format!(", {b:.4} bits/byte"));
            self.line(&format!(
                "step {}: train loss {:.4}, val loss {v:.4}{bpb}",
                r.step, r.loss
            ));
        }
    }
}
