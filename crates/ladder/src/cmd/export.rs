//! `ladder export`: write a run's model in a format other tools load.

use std::path::PathBuf;

/// Arguments of `ladder export`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Writes config.json, model.safetensors and tokenizer.json. In Python:
  transformers.GPT2LMHeadModel.from_pretrained(DIR)
  tokenizers.Tokenizer.from_file(DIR + \"/tokenizer.json\")

Example:
  ladder export --run runs/r1 --hf out/r1-hf")]
pub struct ExportArgs {
    /// Run directory written by `ladder train` (its newest checkpoint is exported).
    #[arg(long, value_name = "RUN")]
    pub run: PathBuf,
    /// Output directory for a Hugging Face GPT2LMHeadModel (created if missing).
    #[arg(long, value_name = "OUTDIR")]
    pub hf: PathBuf,
    /// Data directory holding tokenizer.json (default: the one the run trained on).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let e = ladder_train::export::export_hf(&args.run, &args.hf, args.data.as_deref())?;
    for p in [&e.config, &e.model, &e.tokenizer] {
        println!("wrote {}", p.display());
    }
    Ok(())
}
