//! `ladder debug`: developer tools for checks against reference implementations.

use std::path::PathBuf;

/// Subcommands of `ladder debug`.
#[derive(clap::Subcommand, Debug)]
pub enum DebugCommand {
    /// Loss, logits and every parameter gradient of one batch, as safetensors (for hf_check.py).
    #[command(after_help = "\
FILE holds B*(T+1) little-endian u32 token ids, row-major: inputs are [:, :T], targets [:, 1:].
The output holds `loss` [1], `logits` [B, T, V] (real vocabulary) and, for every parameter, its
gradient d(mean cross-entropy)/d(param) under the Hugging Face GPT-2 name and layout (no clipping,
no weight decay, no optimizer step).

Example:
  ladder debug grads --run runs/r1 --tokens toks.u32 --batch 4 --seq 64 --out grads.safetensors")]
    Grads(GradsArgs),
}

/// Arguments of `ladder debug grads`.
#[derive(clap::Args, Debug)]
pub struct GradsArgs {
    /// Run directory written by `ladder train` (its newest checkpoint is used).
    #[arg(long, value_name = "RUN")]
    pub run: PathBuf,
    /// Token file: B*(T+1) u32 little-endian ids.
    #[arg(long, value_name = "FILE")]
    pub tokens: PathBuf,
    /// Sequences in the batch (B).
    #[arg(long, value_name = "B")]
    pub batch: usize,
    /// Tokens per sequence (T), at most the model's block_size.
    #[arg(long, value_name = "T")]
    pub seq: usize,
    /// Output safetensors file.
    #[arg(long, value_name = "FILE.safetensors")]
    pub out: PathBuf,
}

pub fn run(c: DebugCommand) -> anyhow::Result<()> {
    match c {
        DebugCommand::Grads(a) => {
            anyhow::ensure!(
                a.batch > 0 && a.seq > 0,
                "--batch and --seq must be positive"
            );
            let d = ladder_train::debug::dump_grads(&a.run, &a.tokens, a.batch, a.seq, &a.out)?;
            println!(
                "loss {} ; wrote {} tensors to {}",
                d.loss,
                d.tensors.len(),
                a.out.display()
            );
            Ok(())
        }
    }
}
