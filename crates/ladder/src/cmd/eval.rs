//! `ladder eval`: validation loss and bits per byte of a run's newest checkpoint.

use std::path::PathBuf;

/// Arguments of `ladder eval`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Evaluates on the same val.bin batches (train.batch_size × train.seq_len, eval.tokens) and thread
count as the run's own evaluations, so the loss equals summary.json's final_val_loss exactly.
Bits per byte = val_loss · val_tokens / val_bytes / ln 2 (token and byte counts from meta.json).

Example:
  ladder eval --run runs/r1")]
pub struct EvalArgs {
    /// Run directory written by `ladder train`.
    #[arg(long, value_name = "RUN")]
    pub run: PathBuf,
    /// Data directory to evaluate on (default: the one the run trained on).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Validation tokens to use (default: the run's eval.tokens).
    #[arg(long, value_name = "N")]
    pub tokens: Option<usize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    if args.tokens == Some(0) {
        anyhow::bail!("--tokens must be positive");
    }
    let r = ladder_train::run::evaluate_run(&args.run, args.data.as_deref(), args.tokens)?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    println!("step {} ({} validation tokens)", r.step, r.tokens);
    println!("val_loss {} nats/token", r.val_loss);
    match r.val_bpb {
        Some(b) => println!("val_bpb {b} bits/byte"),
        None => println!("val_bpb n/a (meta.json has no byte count)"),
    }
    if let Some(h) = r.entropy_nats_per_token {
        println!("source entropy {h} nats/token (the best possible val_loss)");
    }
    Ok(())
}
