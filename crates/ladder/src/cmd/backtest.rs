//! `ladder backtest`: fit a law on every compute budget but the largest K and check what it
//! predicts for the held-out budgets against what they show. All numerics live in
//! `ladder_laws::backtest`.

use std::path::PathBuf;

use anyhow::Context;
use ladder_laws::{FitOptions, LawKind};

use super::fit::{emit, init_threads, VertexArg};

/// Laws a backtest can check.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum BacktestLaw {
    /// L = E + A/N^alpha + B/D^beta: best loss, N_opt and each held-out run's loss.
    Chinchilla,
    /// Approach 2: N_opt and the vertex loss of each held-out budget.
    Isoflop,
}

/// Arguments of `ladder backtest`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  ladder backtest runs.csv --law chinchilla
  ladder backtest sweep/ --law isoflop --holdout-top 2 --json > backtest.json
Budgets are runs sharing a compute value C (within 1 %), as `ladder fit --law isoflop` groups them.
The truth of a held-out budget is its own vertex (the --vertex estimator), else its lowest run.
See docs/laws.md (Backtests) for the JSON fields.")]
pub struct BacktestArgs {
    /// A CSV file, or one or more run directories, or a sweep directory (as for `ladder fit`).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// The law to backtest.
    #[arg(long, value_enum, default_value = "chinchilla")]
    pub law: BacktestLaw,
    /// Hold out the K largest compute budgets.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub holdout_top: usize,
    /// IsoFLOP vertex estimator (the isoflop law, and the held-out budgets' truths).
    #[arg(long, value_enum, default_value = "local")]
    pub vertex: VertexArg,
    /// Bootstrap replicates for the 95 % intervals (0: no intervals).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print the result as JSON (docs/laws.md) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON result here (atomically).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Worker threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

pub fn run(args: BacktestArgs) -> anyhow::Result<()> {
    init_threads(args.threads);
    let options = FitOptions::default()
        .with_bootstrap(args.bootstrap)?
        .with_seed(args.seed)
        .with_vertex(args.vertex.into());
    let law = match args.law {
        BacktestLaw::Chinchilla => LawKind::Chinchilla,
        BacktestLaw::Isoflop => LawKind::Isoflop,
    };
    let points = ladder_laws::backtest::load_points(&args.inputs)?;
    let bt = ladder_laws::backtest::backtest(&points, law, args.holdout_top, &options)?;
    let json = bt.to_json() + "\n";
    if let Some(out) = &args.out {
        ladder_laws::fitfile::write_atomic(out, json.as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    if args.json {
        emit(&json)
    } else {
        emit(&bt.table())
    }
}
