//! `ladder fit`: fit a scaling law to a CSV of runs, run directories or a sweep; print a table
//! (or fit.json) and write fit.json with `--out`. All numerics live in `ladder_laws`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use ladder_laws::{FitOptions, FitRequest, LawKind, ParamCount};

/// Law choices on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum LawArg {
    /// L = E + A/N^alpha + B/D^beta (Approach 3: Huber in log space, L-BFGS from 4500 starts).
    Chinchilla,
    /// Approach 2: per-budget parabolas of loss in ln N, then N_opt(C), D_opt(C) power laws.
    Isoflop,
    /// Approach 1: lowest loss per compute over training curves, then power laws.
    Envelope,
    /// L(N, D) = [(Nc/N)^(aN/aD) + Dc/D]^aD; with --x N (or D), L(N) (or L(D)) alone.
    Kaplan,
    /// y = a x^b (+ c with --offset); needs --x and --y.
    Power,
    /// Exponential growth in time, y = y0 2^((t - t0)/T); needs --x (dates or years) and --y.
    Doubling,
    /// Optimal learning rate and batch per budget (local quadratic in ln lr, ln batch), then
    /// eta_opt = eta0 C^k and B_opt = B0 C^m (B in tokens).
    Hparams,
}

impl From<LawArg> for LawKind {
    fn from(l: LawArg) -> LawKind {
        match l {
            LawArg::Chinchilla => LawKind::Chinchilla,
            LawArg::Isoflop => LawKind::Isoflop,
            LawArg::Envelope => LawKind::Envelope,
            LawArg::Kaplan => LawKind::Kaplan,
            LawArg::Power => LawKind::Power,
            LawArg::Doubling => LawKind::Doubling,
            LawArg::Hparams => LawKind::Hparams,
        }
    }
}

/// Which parameter count is N.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ParamsArg {
    /// Without the token and position embeddings (Kaplan et al.): summary.json/CSV `N`.
    NonEmbedding,
    /// All parameters: summary.json/CSV `N_total`.
    Total,
}

impl From<ParamsArg> for ParamCount {
    fn from(p: ParamsArg) -> ParamCount {
        match p {
            ParamsArg::NonEmbedding => ParamCount::NonEmbedding,
            ParamsArg::Total => ParamCount::Total,
        }
    }
}

/// IsoFLOP vertex estimators on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum VertexArg {
    /// Parabola of loss in ln N through every point of the budget (Hoffmann et al.).
    Parabola,
    /// Parabola of ln loss through the 5 sizes nearest the lowest loss (the default: see docs/laws.md).
    Local,
    /// Akima spline of ln loss in ln N, minimised on a fine grid (Porian et al. 2024).
    Akima,
}

impl From<VertexArg> for ladder_laws::vertex::VertexMethod {
    fn from(v: VertexArg) -> Self {
        use ladder_laws::vertex::VertexMethod as M;
        match v {
            VertexArg::Parabola => M::Parabola,
            VertexArg::Local => M::Local,
            VertexArg::Akima => M::Akima,
        }
    }
}

/// Output format on stdout.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A table for people.
    Table,
    /// fit.json itself.
    Json,
}

/// Arguments of `ladder fit`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  ladder fit runs.csv --law chinchilla --bootstrap 1000 --out fit.json
  ladder fit sweep/ --law isoflop --compute 1e21
  ladder fit sweep/ --law isoflop --vertex akima
  ladder fit sweep/ --law envelope
  ladder fit xy.csv --law power --x C --y loss --offset
  ladder fit trend.csv --law doubling --x date --y horizon
  ladder fit sweep/ --law power --x model.n_embd --y final_val_loss
  ladder fit hp-sweep/ --law hparams --compute 1e13 --out hp.json
The CSV needs a header: N, D, loss (C optional; D = C/(6N) when only C is given; loss_se
optional: each loss's standard error, which weights the fit). Run directories hold summary.json
(final_val_loss_se weights the fit; runs differing only in train.seed are merged into one point);
a sweep holds runs/*/summary.json. --x/--y name any CSV column, or any key of summary.json or
config.toml (dotted: train.lr, model.n_embd) for run directories; column <y>_se is y's standard
error. --law hparams reads C, lr, batch_tokens, loss (loss_se, N optional) from a CSV, or from
run directories C, train.lr, train.batch_size x train.seq_len x train.grad_accum and
final_val_loss. See docs/laws.md and docs/hparams.md.")]
pub struct FitArgs {
    /// A CSV file, or one or more run directories, or a sweep directory.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// The law to fit.
    #[arg(long, value_enum, default_value = "chinchilla")]
    pub law: LawArg,
    /// Bootstrap replicates for the 95 % intervals (0: no intervals).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Seed of the bootstrap (results are identical for a seed, whatever the thread count).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write fit.json here (atomically).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Huber threshold in log space (chinchilla, kaplan, power, doubling).
    #[arg(long, default_value_t = 1e-3, value_name = "DELTA")]
    pub huber_delta: f64,
    /// x column (power, doubling, one-variable kaplan): a CSV column, or a summary.json /
    /// config.toml key of run directories (e.g. N, train.lr, model.n_embd).
    #[arg(long)]
    pub x: Option<String>,
    /// y column (power, doubling; kaplan uses `loss`, or `final_val_loss` for run directories).
    #[arg(long)]
    pub y: Option<String>,
    /// N of chinchilla, isoflop and kaplan fits: non-embedding parameters (Kaplan et al.; the
    /// default) or all parameters (`N_total`).
    #[arg(long, value_enum, default_value = "non-embedding")]
    pub params: ParamsArg,
    /// Power law with an additive offset: y = a x^b + c.
    #[arg(long)]
    pub offset: bool,
    /// Compute budgets (FLOPs) at which to report N_opt, D_opt, tokens/param (for hparams: the
    /// optimal lr and batch) (repeatable).
    #[arg(long = "compute", value_name = "FLOPS")]
    pub compute: Vec<f64>,
    /// Loss key of metrics.jsonl for envelope fits of run directories (`loss` or `val_loss`).
    #[arg(long, default_value = "loss")]
    pub curve_loss: String,
    /// Log-spaced compute values of the envelope.
    #[arg(long, default_value_t = 40)]
    pub bins: usize,
    /// IsoFLOP vertex estimator per budget (isoflop only).
    #[arg(long, value_enum, default_value = "local")]
    pub vertex: VertexArg,
    /// Output on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Worker threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// Sets up the rayon pool once (a second call in the same process keeps the first pool).
pub(crate) fn init_threads(threads: usize) {
    // Ignore the error of a pool that already exists: the fit still runs, on that pool.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
}

/// Writes `text` to stdout; a closed pipe (`ladder fit ... | head`) is not an error.
pub(crate) fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

pub fn run(args: FitArgs) -> anyhow::Result<()> {
    init_threads(args.threads);
    let options = FitOptions::default()
        .with_bootstrap(args.bootstrap)?
        .with_seed(args.seed)
        .with_delta(args.huber_delta)?
        .with_budgets(&args.compute)?
        .with_offset(args.offset)
        .with_bins(args.bins)?
        .with_params(args.params.into())
        .with_vertex(args.vertex.into());
    if args.offset && !matches!(args.law, LawArg::Power) {
        anyhow::bail!("--offset applies to --law power only");
    }
    let req = FitRequest {
        law: args.law.into(),
        inputs: args.inputs.clone(),
        x: args.x.clone(),
        y: args.y.clone(),
        curve_loss: args.curve_loss.clone(),
        options,
    };
    let t = Instant::now();
    let fit = ladder_laws::fit(&req)?;
    let secs = t.elapsed().as_secs_f64();
    if let Some(out) = &args.out {
        fit.save(out)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    match args.format {
        Format::Table => emit(&ladder_laws::report::fit_table(&fit))?,
        Format::Json => emit(&(fit.to_json() + "\n"))?,
    }
    if fit.fit.bootstrap > 0 && fit.fit.bootstrap_used * 2 < fit.fit.bootstrap {
        eprintln!(
            "ladder: warning: only {} of {} bootstrap replicates could be refitted; the intervals are unreliable",
            fit.fit.bootstrap_used, fit.fit.bootstrap
        );
    }
    match &args.out {
        Some(out) => eprintln!("ladder: fit in {secs:.3} s; wrote {}", out.display()),
        None => eprintln!("ladder: fit in {secs:.3} s"),
    }
    Ok(())
}
