//! `ladder sample`: generate text from a run's newest checkpoint.

use std::path::PathBuf;

use ladder_train::sample::SampleOptions;

/// Arguments of `ladder sample`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Uses a KV cache; the same run, prompt, settings and --seed always give the same text. Beyond the
model's block_size, generation slides on with the last block_size/2 tokens as context.
Without --prompt (or with an empty one) the model starts a fresh document from the end-of-text
token <|endoftext|>, as GPT-2 does: what it writes unprompted shows what it learned.

Examples:
  ladder sample --run runs/r1 --prompt \"In the beginning\" --tokens 200 --temperature 0.8 --top-k 40
  ladder sample --run runs/r1 --tokens 100")]
pub struct SampleArgs {
    /// Run directory written by `ladder train`.
    #[arg(long, value_name = "RUN")]
    pub run: PathBuf,
    /// Text to continue (encoded with the data directory's tokenizer); omitted or empty = start
    /// a fresh document from the end-of-text token.
    #[arg(long, default_value = "")]
    pub prompt: String,
    /// Tokens to generate.
    #[arg(long, default_value_t = 200)]
    pub tokens: usize,
    /// Softmax temperature; 0 = greedy (always the most likely token).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f32,
    /// Sample among the k most likely tokens only (0 = all).
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// Seed of the draws.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Data directory holding tokenizer.json (default: the one the run trained on).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Print only the generated text, not the prompt.
    #[arg(long)]
    pub no_prompt: bool,
}

pub fn run(args: SampleArgs) -> anyhow::Result<()> {
    let opts = SampleOptions {
        prompt: args.prompt.clone(),
        tokens: args.tokens,
        temperature: args.temperature,
        top_k: args.top_k,
        seed: args.seed,
    };
    let out = ladder_train::sample::sample(&args.run, args.data.as_deref(), &opts)?;
    if args.no_prompt {
        println!("{}", out.text);
    } else {
        println!("{}", out.full_text);
    }
    Ok(())
}
