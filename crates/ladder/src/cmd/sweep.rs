//! `ladder sweep plan | run | status`: plan an IsoFLOP ladder, run it (local pool or Slurm),
//! show where it stands. All logic lives in `ladder_sweep`; this is arguments and display.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ladder_sweep::plan::fmt_duration;
use ladder_sweep::slurm::SlurmOptions;
use ladder_sweep::{Counts, Estimate, Event, Observer, Plan, PlanRequest, RunOptions, SweepDir};

/// Subcommands of `ladder sweep`.
#[derive(clap::Subcommand, Debug)]
pub enum SweepCommand {
    /// Lay out an IsoFLOP grid: for each compute budget C, model sizes N with D = C/(6N) tokens.
    Plan(PlanArgs),
    /// Train the pending runs of a sweep (resumable: re-run it after an interruption).
    Run(RunArgs),
    /// Show each run's state (pending / running / done / failed) and final losses.
    Status(StatusArgs),
}

/// Arguments of `ladder sweep plan`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Writes SWEEP/sweep.toml, a plan you can edit (add, remove or change runs; per-run `set` lists and
`[run.params]` tables take config overrides) and prints its table. Every run's shape comes from one
family (--family; widths are multiples of 16, heads 16 channels wide), its lr and warm-up from a
stated rule (--lr-rule width: lr = lr_ref · 64 / n_embd, warm-up 5 % of its steps within 10..500).
Run names are deterministic (c<budget>-n<N>, plus -s<k> with --seeds K > 1; seed k trains with
train.seed = --seed + k). N is the non-embedding parameter count ladder train reports, D the
training tokens (whole optimizer steps), C = 6·N·D within 1 % of the budget. Each run checkpoints
10 times over its steps (unless --set checkpoint.every is given), so a retry resumes. The
estimated time comes from timing a few training steps of each shape with --threads-per-job
threads.

Examples:
  ladder sweep plan --data data/synth --budgets 3e12,1e13,3e13 --out sweeps/iso
  ladder sweep plan --data data/synth --budgets 1e12,3e12 --sizes 4 --n-range 2e4:1e6 \\
      --family aspect:32 --seeds 3 --set train.batch_size=8 --set eval.every=0 --out sweeps/small
See docs/sweep.md.")]
pub struct PlanArgs {
    /// Data directory (written by `ladder data prepare` or `ladder data synth`).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Compute budgets in FLOPs (6·N·D), comma-separated.
    #[arg(long, value_name = "C,C,...", value_delimiter = ',', required = true)]
    pub budgets: Vec<f64>,
    /// Model sizes per budget (default 5; 1 with --grid).
    #[arg(long)]
    pub sizes: Option<usize>,
    /// The `ladder train` preset every run starts from (its batch shape, LR, eval settings).
    #[arg(
        long,
        alias = "preset",
        default_value = "tiny",
        value_name = "tiny|S|M"
    )]
    pub preset_base: String,
    /// `ladder train --set` override for every run (repeatable), e.g. --set train.lr=2e-3.
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    pub set: Vec<String>,
    /// Centre each budget's sizes on the N with this many tokens per parameter (D/N).
    #[arg(long, default_value_t = 20.0)]
    pub tokens_per_param: f64,
    /// Ratio of the largest to the smallest N of each budget.
    #[arg(long, default_value_t = 16.0)]
    pub span: f64,
    /// Use the same N range MIN:MAX for every budget instead of --tokens-per-param and --span.
    #[arg(long, value_name = "MIN:MAX")]
    pub n_range: Option<String>,
    /// `train.seed` of every run's first seed (one data order for all points: they differ only by
    /// N and D).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seeds per point: K > 1 trains K runs of each (budget, shape), named <point>-s<k>, with
    /// train.seed = --seed + k.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub seeds: usize,
    /// The shape family of every run: depth:L (L blocks, width scaled) or aspect:R (n_embd ≈
    /// R·n_layer, L >= 2). The default suits the quickstart's scale (docs/sweep.md says why).
    #[arg(long, default_value = "depth:1", value_name = "depth:L|aspect:R")]
    pub family: ladder_sweep::shapes::Family,
    /// Each run's lr and warm-up: width (lr = lr_ref · 64 / n_embd; warm-up --warmup-frac of its
    /// steps, 10..500) or fixed (lr_ref and the config's train.warmup_steps for every run).
    #[arg(long, default_value = "width", value_name = "width|fixed")]
    pub lr_rule: ladder_sweep::lr::LrRule,
    /// The rule's reference learning rate lr_ref (default: the preset's train.lr after --set).
    #[arg(long, value_name = "LR")]
    pub lr: Option<f64>,
    /// Warm-up as a fraction of each run's steps (width rule).
    #[arg(long, default_value_t = ladder_sweep::lr::WARMUP_FRACTION, value_name = "F")]
    pub warmup_frac: f64,
    /// Model architecture of every run (model.arch): gpt2 or llama; shapes are picked by the N of that architecture.
    #[arg(long, default_value = "gpt2", value_name = "ARCH")]
    pub arch: String,
    /// Threads per job, for the time estimate (use the value you will give `sweep run`).
    #[arg(long, default_value_t = 1)]
    pub threads_per_job: usize,
    /// Estimate times from this training rate (GFLOP/s) instead of timing a few steps per shape.
    #[arg(long, value_name = "GFLOPS")]
    pub est_gflops: Option<f64>,
    /// Hyper-parameter grid: one run per grid point of each budget and size. Axes
    /// NAME=LO:HI:COUNT (COUNT log-spaced values), comma-separated: lr (train.lr), batch
    /// (train.batch_size, sequences; steps adjusted so each run spends its budget), warmup
    /// (train.warmup_steps), e.g. --grid lr=3e-4:3e-2:7,batch=8:64:4.
    #[arg(long, value_name = "NAME=LO:HI:COUNT,...")]
    pub grid: Option<ladder_sweep::grid::Grid>,
    /// Centre each budget's sizes on the compute-optimal N of this fit.json (a chinchilla,
    /// isoflop or envelope fit) instead of --tokens-per-param; with one size it is the size.
    #[arg(long, value_name = "FIT.json")]
    pub n_from_fit: Option<PathBuf>,
    /// The sweep directory to write.
    #[arg(long, value_name = "SWEEP")]
    pub out: PathBuf,
    /// Replace an existing plan (runs/ and sweep.json are kept; unchanged finished runs stay done).
    #[arg(long)]
    pub force: bool,
}

/// Executors of `ladder sweep run`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutorArg {
    /// Child `ladder train` processes on this machine.
    Local,
    /// One `sbatch` job per run, tracked with `squeue`.
    Slurm,
}

/// Arguments of `ladder sweep run`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Resumable: interrupt it (Ctrl-C, kill) and run it again; finished runs are never repeated, runs cut
short continue from their newest verified checkpoint (ladder train --resume; from step 0 when they
wrote none). A failed run is retried --retries times, each retry resuming the same way, then
reported (the exit code is then non-zero). A run whose summary.json cannot be read is reported as
needing attention and not retrained unless --retrain-unreadable is given. Each run's output is in SWEEP/logs/<name>.log, its results in
SWEEP/runs/<name>/, the state in SWEEP/sweep.json.

Slurm: the sweep directory and this ladder binary must be visible from the compute nodes. Jobs
keep running when the runner stops; running it again adopts them. Stop them with scancel.

Examples:
  ladder sweep run sweeps/iso --jobs 2 --threads-per-job 1
  ladder sweep run sweeps/iso --executor slurm --partition cpu --time 00:30:00 --threads-per-job 4")]
pub struct RunArgs {
    /// The sweep directory (written by `ladder sweep plan`).
    #[arg(value_name = "SWEEP")]
    pub sweep: PathBuf,
    /// Where the runs train.
    #[arg(long, value_enum, default_value = "local")]
    pub executor: ExecutorArg,
    /// Runs at once (local default: cores ÷ --threads-per-job; slurm default: all).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Threads of each run (train.threads; --cpus-per-task on Slurm).
    #[arg(long, default_value_t = 1)]
    pub threads_per_job: usize,
    /// Retries of a failed run before it is reported failed.
    #[arg(long, default_value_t = 2)]
    pub retries: u32,
    /// Also retry runs that failed for good in an earlier invocation.
    #[arg(long)]
    pub retry_failed: bool,
    /// Train again runs whose summary.json cannot be read (resuming from their newest
    /// checkpoint); without it such runs are reported as needing attention.
    #[arg(long)]
    pub retrain_unreadable: bool,
    /// TESTING AID: pass `--inject KIND@STEP` to the first attempt of run RUN (repeatable), e.g.
    /// --inject c2e9-n0.013M:kill@40 (see `ladder train --inject`).
    #[arg(long, value_name = "RUN:KIND@STEP", hide = true, value_parser = parse_inject)]
    pub inject: Vec<(String, String)>,
    /// Slurm partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// Slurm time limit per run (HH:MM:SS).
    #[arg(long, value_name = "HH:MM:SS")]
    pub time: Option<String>,
    /// Seconds between squeue polls.
    #[arg(long, default_value_t = 5.0)]
    pub poll: f64,
    /// Extra sbatch argument, verbatim (repeatable), e.g. --sbatch-arg=--mem=4G.
    #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub sbatch_arg: Vec<String>,
    /// Print nothing but errors and the final failure report.
    #[arg(long)]
    pub quiet: bool,
}

/// Arguments of `ladder sweep status`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ladder sweep status sweeps/iso\n  ladder sweep status sweeps/iso --json"
)]
pub struct StatusArgs {
    /// The sweep directory.
    #[arg(value_name = "SWEEP")]
    pub sweep: PathBuf,
    /// One JSON array of rows instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: SweepCommand) -> anyhow::Result<()> {
    match cmd {
        SweepCommand::Plan(a) => plan(a),
        SweepCommand::Run(a) => run_sweep(a),
        SweepCommand::Status(a) => status(a),
    }
}

/// Parses `RUN:KIND@STEP` of `sweep run --inject`, checking the fault spec.
fn parse_inject(s: &str) -> Result<(String, String), String> {
    let (run, spec) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected RUN:KIND@STEP, e.g. c2e9-n0.013M:kill@40"))?;
    spec.parse::<ladder_train::inject::Injection>()?;
    Ok((run.to_string(), spec.to_string()))
}

/// Parses `MIN:MAX`.
fn parse_range(s: &str) -> anyhow::Result<(f64, f64)> {
    let (a, b) = s
        .split_once(':')
        .with_context(|| format!("--n-range {s}: expected MIN:MAX, e.g. 2e4:1e6"))?;
    let p = |x: &str| -> anyhow::Result<f64> {
        x.trim()
            .parse::<f64>()
            .with_context(|| format!("--n-range {s}: {x:?} is not a number"))
    };
    Ok((p(a)?, p(b)?))
}

fn plan(a: PlanArgs) -> anyhow::Result<()> {
    // Refuse before the (timed) planning, not after.
    if a.out.join("sweep.toml").exists() && !a.force {
        return Err(ladder_sweep::Error::SweepExists { path: a.out }.into());
    }
    let centres = match &a.n_from_fit {
        None => None,
        Some(path) => Some(optimal_sizes(path, &a.budgets)?),
    };
    let req = PlanRequest {
        data: a.data.clone(),
        budgets: a.budgets.clone(),
        sizes: a.sizes.unwrap_or(if a.grid.is_some() { 1 } else { 5 }),
        preset: a.preset_base.clone(),
        sets: a.set.clone(),
        tokens_per_param: a.tokens_per_param,
        span: a.span,
        n_range: a.n_range.as_deref().map(parse_range).transpose()?,
        seed: a.seed,
        seeds: a.seeds,
        family: a.family,
        lr_rule: a.lr_rule,
        lr: a.lr,
        warmup_fraction: a.warmup_frac,
        arch: a.arch.clone(),
        estimate: match a.est_gflops {
            Some(g) => Estimate::Gflops(g),
            None => Estimate::Measure {
                threads: a.threads_per_job.max(1),
            },
        },
        grid: a.grid.clone(),
        centres,
    };
    let plan = ladder_sweep::make_plan(&req)?;
    let dir = SweepDir::create(&a.out, &plan, a.force)?;
    print!("{}", plan_table(&plan));
    println!(
        "wrote {}; run it with `ladder sweep run {}`",
        dir.plan_path().display(),
        a.out.display()
    );
    Ok(())
}

/// `(C, N_opt)` of each budget from a fitted law's compute-optimal allocation.
fn optimal_sizes(path: &Path, budgets: &[f64]) -> anyhow::Result<Vec<(f64, f64)>> {
    let fit = ladder_laws::FitFile::load(path)
        .with_context(|| format!("--n-from-fit {}", path.display()))?;
    let law = ladder_laws::law::law_of(&fit)?;
    let p = fit.param_vector();
    budgets
        .iter()
        .map(|&c| match law.optimum(&p, c) {
            Some((n, _, _)) => Ok((c, n)),
            None => anyhow::bail!(
                "--n-from-fit {}: a {} fit gives no compute-optimal N; use a chinchilla, isoflop \
                 or envelope fit, or give --n-range",
                path.display(),
                fit.law
            ),
        })
        .collect()
}

/// The value of grid key `key` in a run's `[run.params]`, as the table shows it.
fn param_cell(r: &ladder_sweep::RunSpec, key: &str) -> Option<String> {
    r.params.get(key).map(|v| {
        v.as_float()
            .map_or_else(|| v.to_string(), |x| format!("{x:.3e}"))
    })
}

/// The table `sweep plan` prints: the family and lr rule, then per run its architecture
/// (`model.arch`), shape (L, d, H), N,
/// D, C = 6ND, D/N, lr, warm-up and estimated time; the run count with its seeds and the total
/// time.
pub fn plan_table(plan: &Plan) -> String {
    let mut t = String::new();
    if let Some(f) = &plan.family {
        t += &format!("shape family {f}");
        if let Some(rule) = &plan.lr_rule {
            t += &format!(", lr rule {rule}");
            if let Some(lr) = plan.lr_ref {
                t += &format!(" (lr_ref {lr})");
            }
        }
        t += "\n";
    }
    // A grid's runs show their batch (sequences) too, and their names are longer.
    let grid = plan.grid.is_some();
    let w = plan
        .runs
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max(24);
    if let Some(g) = &plan.grid {
        t += &format!("grid {g}\n");
    }
    t += &format!(
        "{:<w$} {:<6} {:>3} {:>5} {:>3} {:>9} {:>10} {:>10} {:>6} {:>9} {:>6}{} {:>8}\n",
        "name",
        "arch",
        "L",
        "d",
        "H",
        "N",
        "D",
        "C=6ND",
        "D/N",
        "lr",
        "warmup",
        if grid {
            format!(" {:>5}", "batch")
        } else {
            String::new()
        },
        "est."
    );
    let mut total = 0.0;
    let dash = || "-".to_string();
    for r in &plan.runs {
        let n = r.n_params();
        let est = r.est_seconds.unwrap_or(0.0);
        total += est;
        let batch = if grid {
            format!(
                " {:>5}",
                param_cell(r, "train.batch_size").unwrap_or_else(dash)
            )
        } else {
            String::new()
        };
        t += &format!(
            "{:<w$} {:<6} {:>3} {:>5} {:>3} {:>9} {:>10} {:>10.3e} {:>6.1} {:>9} {:>6}{batch} {:>8}\n",
            r.name,
            r.arch,
            r.n_layer,
            r.n_embd,
            r.n_head,
            n,
            r.tokens,
            r.compute(),
            r.tokens as f64 / n as f64,
            r.lr.map(|v| format!("{v:.3e}"))
                .or_else(|| param_cell(r, "train.lr"))
                .unwrap_or_else(dash),
            r.warmup_steps
                .map(|v| v.to_string())
                .or_else(|| param_cell(r, "train.warmup_steps"))
                .unwrap_or_else(dash),
            fmt_duration(est)
        );
    }
    let seeds = plan.seeds.unwrap_or(1);
    let count = if seeds > 1 {
        format!(
            "{} runs ({} points × {seeds} seeds)",
            plan.runs.len(),
            plan.runs.len() / seeds
        )
    } else {
        format!("{} runs", plan.runs.len())
    };
    t += &format!(
        "{count}, {} of training one job at a time (divide by --jobs)\n",
        fmt_duration(total)
    );
    t
}

/// Runs a sweep with progress on stderr; returns the failure report as an error.
pub fn execute(
    sweep: &Path,
    opts: &RunOptions,
    slurm: Option<&SlurmOptions>,
    quiet: bool,
) -> anyhow::Result<ladder_sweep::Report> {
    let dir = SweepDir::open(sweep)?;
    let mut display = Display::new(quiet);
    let report = match slurm {
        None => ladder_sweep::local::run_local(&dir, opts, &mut display),
        Some(s) => ladder_sweep::slurm::run_slurm(&dir, opts, s, &mut display),
    };
    display.finish();
    Ok(report?)
}

fn run_sweep(a: RunArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locating the ladder binary for the child runs")?;
    anyhow::ensure!(
        a.threads_per_job >= 1,
        "--threads-per-job must be at least 1"
    );
    anyhow::ensure!(
        a.poll > 0.0 && a.poll.is_finite(),
        "--poll {} must be a positive number of seconds",
        a.poll
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = match (a.jobs, a.executor) {
        (Some(0), ExecutorArg::Local) => anyhow::bail!("--jobs must be at least 1"),
        (Some(j), _) => j,
        (None, ExecutorArg::Local) => (cores / a.threads_per_job).max(1),
        (None, ExecutorArg::Slurm) => 0,
    };
    let opts = RunOptions {
        exe,
        jobs,
        threads_per_job: a.threads_per_job,
        retries: a.retries,
        retry_failed: a.retry_failed,
        retrain_unreadable: a.retrain_unreadable,
        inject: a.inject.clone(),
    };
    let slurm = (a.executor == ExecutorArg::Slurm).then(|| SlurmOptions {
        partition: a.partition.clone(),
        time: a.time.clone(),
        poll: Duration::from_secs_f64(a.poll),
        sbatch_args: a.sbatch_arg.clone(),
    });
    if slurm.is_none() && (a.partition.is_some() || a.time.is_some() || !a.sbatch_arg.is_empty()) {
        anyhow::bail!("--partition, --time and --sbatch-arg apply to --executor slurm only");
    }
    let report = execute(&a.sweep, &opts, slurm.as_ref(), a.quiet)?;
    finish_report(&report, &a.sweep, a.quiet)
}

/// Prints the outcome; an error naming the failed runs (with their error output) and the runs
/// that need attention when there are any.
pub fn finish_report(
    report: &ladder_sweep::Report,
    sweep: &Path,
    quiet: bool,
) -> anyhow::Result<()> {
    if report.failed.is_empty() && report.attention.is_empty() {
        if !quiet {
            eprintln!(
                "ladder: sweep {}: all {} runs done; see `ladder sweep status {}`",
                sweep.display(),
                report.total,
                sweep.display()
            );
        }
        return Ok(());
    }
    for (name, tail) in &report.failed {
        eprintln!("ladder: run {name} failed; the end of its output:");
        for line in tail.lines() {
            eprintln!("    {line}");
        }
    }
    for (name, message) in &report.attention {
        eprintln!("ladder: run {name} needs attention: {message}");
    }
    let mut problems = Vec::new();
    if !report.failed.is_empty() {
        let names: Vec<&str> = report.failed.iter().map(|(n, _)| n.as_str()).collect();
        problems.push(format!(
            "{} of {} runs failed after all retries: {} (logs in {}/logs/; fix sweep.toml or the cause and run `ladder sweep run {} --retry-failed`)",
            report.failed.len(),
            report.total,
            names.join(", "),
            sweep.display(),
            sweep.display()
        ));
    }
    if !report.attention.is_empty() {
        let names: Vec<&str> = report.attention.iter().map(|(n, _)| n.as_str()).collect();
        problems.push(format!(
            "{} of {} runs need attention (unreadable summary.json): {}; fix or delete the files, or run `ladder sweep run {} --retrain-unreadable`",
            report.attention.len(),
            report.total,
            names.join(", "),
            sweep.display()
        ));
    }
    anyhow::bail!("{}", problems.join("; "))
}

/// Progress: a bar on a terminal, one line per event otherwise.
struct Display {
    quiet: bool,
    bar: Option<ProgressBar>,
}

impl Display {
    fn new(quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0).with_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} runs {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(500));
            bar
        });
        Display { quiet, bar }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn counts_msg(c: &Counts) -> String {
        let eta = c.eta_s.map_or("?".into(), fmt_duration);
        format!(
            "| done {} | running {} | failed {} | pending {} | ETA {eta}{}",
            c.done,
            c.running,
            c.failed,
            c.pending,
            if c.attention > 0 {
                format!(" | attention {}", c.attention)
            } else {
                String::new()
            }
        )
    }

    fn line(&self, msg: String) {
        match &self.bar {
            Some(bar) => bar.println(msg),
            None => eprintln!("{msg}"),
        }
    }
}

impl Observer for Display {
    fn event(&mut self, event: &Event, c: &Counts) {
        if self.quiet {
            return;
        }
        let msg = match event {
            Event::Started {
                name,
                attempt,
                job_id,
                resumed_from,
            } => {
                let job = job_id
                    .as_ref()
                    .map_or(String::new(), |j| format!(" as Slurm job {j}"));
                let att = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                let from =
                    resumed_from.map_or(String::new(), |k| format!(", resuming from step {k}"));
                format!("started {name}{att}{job}{from}")
            }
            Event::Done {
                name,
                val_loss,
                wall_s,
            } => format!(
                "done    {name}: val loss {} in {}",
                val_loss.map_or("n/a".into(), |v| format!("{v:.4}")),
                fmt_duration(*wall_s)
            ),
            Event::Failed {
                name,
                attempt,
                retry,
                tail,
            } => {
                let last = tail.lines().last().unwrap_or("");
                let what = if *retry { "will retry" } else { "giving up" };
                format!("FAILED  {name} (attempt {attempt}, {what}): {last}")
            }
            Event::Attention { name, message } => format!("ATTENTION {name}: {message}"),
        };
        match &self.bar {
            Some(bar) => {
                bar.set_length(c.total as u64);
                bar.set_position(c.done as u64);
                bar.set_message(Self::counts_msg(c));
                self.line(msg);
            }
            None => self.line(format!(
                "{msg}   [{}/{} {}]",
                c.done,
                c.total,
                Self::counts_msg(c)
            )),
        }
    }

    fn tick(&mut self, c: &Counts) {
        if let Some(bar) = &self.bar {
            bar.set_length(c.total as u64);
            bar.set_position(c.done as u64);
            bar.set_message(Self::counts_msg(c));
        }
    }
}

fn status(a: StatusArgs) -> anyhow::Result<()> {
    let dir = SweepDir::open(&a.sweep)?;
    let rows = ladder_sweep::status::rows(&dir)?;
    if a.json {
        return super::fit::emit(&(serde_json::to_string_pretty(&rows)? + "\n"));
    }
    let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
    let mut t = format!(
        "{:<24} {:>11} {:>9} {:>11} {:>10} {:>8} {:>9} {:>8} {:>8} {:>8}\n",
        "name", "status", "N", "D", "C=6ND", "val", "train", "attempts", "resumed", "wall"
    );
    let mut by = std::collections::BTreeMap::<String, usize>::new();
    for r in &rows {
        *by.entry(r.status.clone()).or_default() += 1;
        t += &format!(
            "{:<24} {:>11} {:>9} {:>11} {:>10.3e} {:>8} {:>9} {:>8} {:>8} {:>8}\n",
            r.name,
            r.status,
            r.N,
            r.D,
            r.C,
            f(r.val_loss),
            f(r.train_loss),
            r.attempts,
            r.resumed_from.map_or("-".into(), |k| format!("@{k}")),
            r.wall_s.map_or("-".into(), fmt_duration),
        );
    }
    let summary: Vec<String> = by.iter().map(|(k, v)| format!("{v} {k}")).collect();
    t += &format!("{} runs: {}\n", rows.len(), summary.join(", "));
    for r in rows.iter().filter(|r| r.status == "failed") {
        if let Some(e) = &r.error {
            t += &format!("{} failed: {}\n", r.name, e.lines().last().unwrap_or(""));
        }
    }
    for r in rows.iter().filter(|r| r.status == "attention") {
        if let Some(e) = &r.error {
            t += &format!("{} needs attention: {e}\n", r.name);
        }
    }
    super::fit::emit(&t)
}
