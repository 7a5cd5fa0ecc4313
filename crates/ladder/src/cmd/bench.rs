//! `ladder bench`: training throughput on random tokens.

use std::path::Path;

use ladder_train::bench::{bench, BenchOptions};

/// Arguments of `ladder bench`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Times full training steps (zero grads, forward + backward, grad-norm clip, AdamW) on random tokens:
the median step after --warmup untimed steps. GFLOP/s and MFU count 6·(N + V·C) + 12·L·T·C FLOPs
per token (lm head and attention included); the peak is this machine's fp32 GEMM rate, measured
on the same threads (or --peak-gflops, reported as declared). Peak RSS is the whole process's.
Compare with: python3 ../shared/reference/torch_bench.py --cfg S --threads 2

Examples:
  ladder bench --config S --threads 2
  ladder bench --config M --steps 20 --json
  ladder bench --config M --set model.arch=llama --threads 2")]
pub struct BenchArgs {
    /// A preset (tiny, S, M) or a TOML config file (its [model], batch_size and seq_len are used).
    #[arg(long, default_value = "S", value_name = "S|M|tiny|FILE")]
    pub config: String,
    /// Override a config key after the preset or file, as in `ladder train` (repeatable), e.g.
    /// `--set model.arch=llama`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Timed steps.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Untimed steps before timing.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Sequences per step (default: the config's train.batch_size).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Tokens per sequence (default: the config's train.seq_len).
    #[arg(long)]
    pub seq: Option<usize>,
    /// Vocabulary size (default: the config's model.vocab_size, else 8192).
    #[arg(long)]
    pub vocab: Option<usize>,
    /// Peak GFLOP/s for MFU instead of measuring it.
    #[arg(long, value_name = "GFLOPS")]
    pub peak_gflops: Option<f64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Issue 3's reference vocabulary for S and M.
const DEFAULT_VOCAB: usize = 8192;

/// The step a timing command measures: the model of a preset or config file (with `--set`
/// overrides and `--vocab`), and the batch and sequence length, checked. Shared by `ladder bench`
/// and `ladder profile`.
pub(super) struct TimedStep {
    pub model: ladder_model::ModelConfig,
    pub batch: usize,
    pub seq_len: usize,
}

impl TimedStep {
    pub(super) fn resolve(
        config: &str,
        sets: &[String],
        vocab: Option<usize>,
        batch: Option<usize>,
        seq: Option<usize>,
        steps: usize,
    ) -> anyhow::Result<TimedStep> {
        let config = match config {
            "tiny" | "S" | "s" | "M" | "m" => {
                super::train::resolve_config(Some(config), None, sets)?
            }
            file => super::train::resolve_config(None, Some(Path::new(file)), sets)?,
        };
        let mut model = config.model_config();
        model.vocab_size = vocab.unwrap_or(if model.vocab_size > 0 {
            model.vocab_size
        } else {
            DEFAULT_VOCAB
        });
        let batch = batch.unwrap_or(config.train.batch_size);
        let seq_len = seq.unwrap_or(config.train.seq_len);
        anyhow::ensure!(
            batch > 0 && seq_len > 0,
            "--batch and --seq must be positive"
        );
        anyhow::ensure!(
            seq_len <= model.block_size,
            "seq_len {seq_len} exceeds the model's block_size {}",
            model.block_size
        );
        anyhow::ensure!(steps > 0, "--steps must be positive");
        Ok(TimedStep {
            model,
            batch,
            seq_len,
        })
    }
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let TimedStep {
        model,
        batch,
        seq_len,
    } = TimedStep::resolve(
        &args.config,
        &args.sets,
        args.vocab,
        args.batch,
        args.seq,
        args.steps,
    )?;
    let r = bench(&BenchOptions {
        model,
        batch,
        seq_len,
        steps: args.steps,
        warmup: args.warmup,
        threads: args.threads,
        peak_gflops: args.peak_gflops,
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    let m = &r.model;
    println!(
        "model      {}×{} ({} heads, block {}, vocab {}): N = {} non-embedding, {} total",
        m.n_layer, m.n_embd, m.n_head, m.block_size, m.vocab_size, r.n_params, r.n_params_total
    );
    println!(
        "step       batch {} × seq {}, {} threads, {} timed steps after {} warm-up",
        r.batch, r.seq_len, r.threads, r.steps, args.warmup
    );
    println!(
        "ms/step    {:.1} median (min {:.1}, max {:.1})",
        r.median_ms, r.min_ms, r.max_ms
    );
    println!("tokens/s   {:.0}", r.tok_per_s);
    println!(
        "GFLOP/s    {:.1} achieved ({:.2} MFLOP/token = 6(N+VC) + 12LTC)",
        r.gflops,
        r.flops_per_token / 1e6
    );
    println!(
        "MFU        {:.1}% of {:.1} GFLOP/s fp32 GEMM peak ({})",
        100.0 * r.mfu,
        r.peak_gflops,
        r.peak_source.as_str()
    );
    match r.peak_rss_bytes {
        Some(b) => println!("peak RSS   {:.1} MiB", b as f64 / (1 << 20) as f64),
        None => println!("peak RSS   n/a"),
    }
    println!("last loss  {:.4} (random tokens: about ln V)", r.last_loss);
    Ok(())
}
