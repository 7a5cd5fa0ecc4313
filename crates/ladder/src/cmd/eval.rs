//! `ladder eval`: validation loss and bits per byte of a run's newest checkpoint.

use std::path::PathBuf;

/// Arguments of `ladder eval`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Evaluates on the same val.bin batches (train.batch_size × train.seq_len) and thread count as the
run's own final evaluation: eval.final_tokens of them, which is the whole validation split unless
the run set it, so the loss equals summary.json's final_val_loss exactly.
The ± is the standard error of the loss: batch means over up to 32 contiguous blocks of the
evaluated windows, which respects the correlation of tokens within a document (docs/train.md).
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
    /// Validation tokens to use, rounded down to whole batches (default: the run's
    /// eval.final_tokens, i.e. the whole validation split; 0 = the whole split).
    #[arg(long, value_name = "N")]
    pub tokens: Option<usize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let r = ladder_train::run::evaluate_run(&args.run, args.data.as_deref(), args.tokens)?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    println!("step {} ({} validation tokens)", r.step, r.tokens);
    match r.val_loss_se {
        Some(se) => println!(
            "val_loss {:.4} ± {se:.4} nats/token (SE over {} blocks)",
            r.val_loss, r.se_blocks
        ),
        None => println!(
            "val_loss {:.4} nats/token (one batch: no standard error)",
            r.val_loss
        ),
    }
    match r.val_bpb {
        Some(b) => println!("val_bpb {b} bits/byte"),
        None => println!("val_bpb n/a (meta.json has no byte count)"),
    }
    if let Some(h) = r.entropy_nats_per_token {
        println!("source entropy {h} nats/token (the best possible val_loss)");
    }
    Ok(())
}
