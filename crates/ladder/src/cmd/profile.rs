//! `ladder profile`: per-op time, FLOPs, bytes and roofline position of a training step.

use std::path::PathBuf;

use anyhow::Context;
use ladder_train::profile::{profile, render_table, trace, ProfileOptions};

/// Arguments of `ladder profile`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Times every op of full training steps (zero grads, forward + backward, grad-norm clip, AdamW) on
random tokens: each kernel call (embedding, norms, QKV/projection/MLP matmuls, attention, GELU or
SwiGLU, rotary, cross-entropy, each backward, the AdamW update) and the step-level passes. Calls
of one op in different layers are summed per step; the table shows the median over --steps, the
op's FLOPs and compulsory bytes (each input read once, each output written once), intensity,
GFLOP/s, GB/s, share of the step, and its place on this machine's roofline: compute- or
bandwidth-bound and the percentage of its roof reached. The roofs (fp32 GEMM peak, triad
bandwidth) come from the machine cache that `ladder doctor` writes, measured here on a miss.
Plain (uninstrumented) steps run interleaved with the profiled ones to measure the overhead.
Residual adds are fused into the projection matmuls (`*_residual` kernels). See docs/profile.md.

Examples:
  ladder profile --config S --threads 2
  ladder profile --config M --steps 5 --trace trace.json
  ladder profile --config S --set model.arch=llama --json > s-llama.json")]
pub struct ProfileArgs {
    /// A preset (tiny, S, M) or a TOML config file (its [model], batch_size and seq_len are used).
    #[arg(long, default_value = "S", value_name = "S|M|tiny|FILE")]
    pub config: String,
    /// Override a config key after the preset or file (repeatable), e.g. `--set model.arch=llama`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Timed steps (each of the profiled and the plain run).
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 2)]
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
    /// Write a Chrome trace-event file (open in https://ui.perfetto.dev or chrome://tracing).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write profile.json and the roofline figure (roofline.png, roofline.svg) into DIR; a
    /// `ladder report` over DIR (or a directory holding it) shows them.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ProfileArgs) -> anyhow::Result<()> {
    let super::bench::TimedStep {
        model,
        batch,
        seq_len,
    } = super::bench::TimedStep::resolve(
        &args.config,
        &args.sets,
        args.vocab,
        args.batch,
        args.seq,
        args.steps,
    )?;
    let r = profile(&ProfileOptions {
        model,
        batch,
        seq_len,
        steps: args.steps,
        warmup: args.warmup,
        threads: args.threads,
        peaks: None,
    })?;
    if let Some(path) = &args.trace {
        let t = trace::chrome_trace(&r);
        ladder_train::fsutil::write_atomic(path, serde_json::to_string(&t)?.as_bytes())
            .with_context(|| format!("writing the trace {}", path.display()))?;
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the output directory {}", dir.display()))?;
        ladder_train::fsutil::write_json_atomic(&dir.join("profile.json"), &r)?;
        ladder_report::roofline::write_figures(dir, &serde_json::to_value(&r)?)?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        print!("{}", render_table(&r));
        if let Some(p) = &args.trace {
            println!("trace     {}", p.display());
        }
        if let Some(d) = &args.out {
            println!(
                "wrote     {}/profile.json, roofline.png, roofline.svg",
                d.display()
            );
        }
    }
    Ok(())
}
