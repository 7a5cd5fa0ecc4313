//! The `ladder` command line: parse arguments, call one library function per
//! subcommand, turn errors into a message and a non-zero exit code. No numerics here.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Pretrain small GPT-2 language models, run scaling ladders and fit scaling laws.
#[derive(Parser, Debug)]
#[command(name = "ladder", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build a data directory: train a tokenizer on text, or generate the synthetic source.
    #[command(subcommand)]
    Data(cmd::data::DataCommand),
    /// Pretrain a model on a data directory and write a run directory.
    Train(cmd::train::TrainArgs),
    /// Check a run's checkpoints: every file's sha256 against its state.json, and LATEST.
    #[command(subcommand)]
    Checkpoint(cmd::checkpoint::CheckpointCommand),
    /// Evaluate a run's final checkpoint on a validation split.
    Eval(cmd::eval::EvalArgs),
    /// Generate text from a run's final checkpoint.
    Sample(cmd::sample::SampleArgs),
    /// Export a run's model in a format other tools load (Hugging Face).
    Export(cmd::export::ExportArgs),
    /// Measure training throughput: tokens/s, ms/step, GFLOP/s, MFU, peak RSS.
    Bench(cmd::bench::BenchArgs),
    /// Where a training step's time goes: per-op time, FLOPs, bytes, roofline, Chrome trace.
    Profile(cmd::profile::ProfileArgs),
    /// Check this machine: kernels against f64 references, bitwise repeatability, speed (exit 0/1/2).
    Doctor(cmd::doctor::DoctorArgs),
    /// Fit a scaling law to runs (CSV, run directories or a sweep) and write fit.json.
    Fit(cmd::fit::FitArgs),
    /// Backtest a law: fit all compute budgets but the largest K, check its predictions for them.
    Backtest(cmd::backtest::BacktestArgs),
    /// Compare two ladders by their laws: exponent differences, compute multiplier, crossover, verdict.
    Compare(cmd::compare::CompareArgs),
    /// Predict from a fitted law: loss at (N, D), or the compute-optimal allocation at a budget.
    Predict(cmd::predict::PredictArgs),
    /// Suggest N, D, shape, lr and batch for a target compute from fitted laws, and a config.
    Suggest(cmd::suggest::SuggestArgs),
    /// Is this run broken? Judge it against a fitted law, reference runs and its health signals.
    Diagnose(cmd::diagnose::DiagnoseArgs),
    /// Write one self-contained HTML report of a ladder: curves, IsoFLOP profiles, laws, frontier, diagnosis.
    Report(cmd::report::ReportArgs),
    /// The main job end to end on built-in data: a ladder, its law, and a checked prediction.
    Quickstart(cmd::quickstart::QuickstartArgs),
    /// Plan a scaling ladder (IsoFLOP grid), run it on this machine or Slurm, show its state.
    #[command(subcommand)]
    Sweep(cmd::sweep::SweepCommand),
    /// Reinforcement learning on Hex: self-play training, tournaments with Elo, exact solver, play.
    #[command(subcommand)]
    Rl(cmd::rl::RlCommand),
    /// Developer tools: dump gradients for checks against references.
    #[command(subcommand)]
    Debug(cmd::debug::DebugCommand),
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Data(c) => cmd::data::run(c),
        Command::Checkpoint(c) => return cmd::checkpoint::run(c),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Sample(a) => cmd::sample::run(a),
        Command::Export(a) => cmd::export::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Profile(a) => cmd::profile::run(a),
        Command::Doctor(a) => return cmd::doctor::run(a),
        Command::Fit(a) => cmd::fit::run(a),
        Command::Backtest(a) => cmd::backtest::run(a),
        Command::Predict(a) => cmd::predict::run(a),
        Command::Compare(a) => cmd::compare::run(a),
        Command::Suggest(a) => cmd::suggest::run(a),
        Command::Debug(c) => cmd::debug::run(c),
        Command::Report(a) => cmd::report::run(a),
        Command::Sweep(c) => cmd::sweep::run(c),
        Command::Rl(c) => cmd::rl::run(c),
        Command::Quickstart(a) => cmd::quickstart::run(a),
        Command::Diagnose(a) => return cmd::diagnose::run(a),
        Command::Train(a) => return cmd::train::run(a),
    }?;
    Ok(ExitCode::SUCCESS)
}

/// Rust ignores SIGPIPE, which turns `ladder ... | head` into a panic inside `println!`. Restore the
/// Unix default so a closed pipe ends the program quietly, as it does for `cat`.
#[cfg(unix)]
fn restore_default_sigpipe() {
    // SAFETY: called once at start-up, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_default_sigpipe() {}

fn main() -> ExitCode {
    restore_default_sigpipe();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ladder: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
