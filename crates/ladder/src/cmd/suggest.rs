//! `ladder suggest`: N, D, shape, lr, batch and warm-up for a target compute from fitted laws,
//! with 95 % intervals, and a config TOML `ladder train --config` takes. The fits are read by
//! `ladder_laws::predict`; the config is built by `ladder_sweep::suggest`.

use std::path::PathBuf;

use anyhow::Context;
use ladder_laws::predict::{self, Estimate};
use ladder_laws::report::num;
use ladder_laws::FitFile;
use ladder_sweep::suggest::{Fitted, Source, SuggestRequest, Value};

/// Arguments of `ladder suggest`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
N and D come from the compute-optimal allocation of --fit (a chinchilla, isoflop or envelope
fit) or the size --n, the shape is the family's (--family) nearest that N, D = C/(6N) of the shape in whole
optimizer steps; lr and batch (rounded to whole sequences of train.seq_len x train.grad_accum)
from --hparams (ladder fit --law hparams). Every value is marked fitted, with its 95 % interval,
or default, with where it came from. Warm-up is never fitted: 5 % of the steps within 10..500.

Examples:
  ladder suggest --compute 1e14 --fit law.json --hparams hp.json --out run.toml
  ladder train --config run.toml --data data/synth --out runs/suggested
See docs/hparams.md.")]
pub struct SuggestArgs {
    /// Target compute in FLOPs (C = 6·N·D).
    #[arg(long, value_name = "FLOPS")]
    pub compute: f64,
    /// An allocation fit.json (chinchilla, isoflop or envelope): N_opt and D_opt at the compute.
    #[arg(long, value_name = "FIT.json")]
    pub fit: Option<PathBuf>,
    /// The model size (non-embedding N) instead of --fit: the family's shape nearest it.
    #[arg(long, value_name = "N", conflicts_with = "fit")]
    pub n: Option<f64>,
    /// A hyper-parameter fit.json (ladder fit --law hparams): the optimal lr and batch.
    #[arg(long, value_name = "HP.json")]
    pub hparams: Option<PathBuf>,
    /// The `ladder train` preset the config starts from (its seq_len, eval settings, ...).
    #[arg(long, default_value = "tiny", value_name = "tiny|S|M")]
    pub preset: String,
    /// `ladder train --set` override applied to the preset first (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    pub set: Vec<String>,
    /// The shape family of the model (as `sweep plan --family`).
    #[arg(long, default_value = "depth:1", value_name = "depth:L|aspect:R")]
    pub family: ladder_sweep::shapes::Family,
    /// Write the config TOML here (atomically).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn fitted(e: &Estimate) -> Fitted {
    Fitted {
        value: e.value,
        ci95: e.ci95,
    }
}

fn load(path: &std::path::Path, flag: &str) -> anyhow::Result<FitFile> {
    FitFile::load(path).with_context(|| format!("{flag} {}", path.display()))
}

fn row(name: &str, v: &Value, shown: String) -> String {
    let (ci, from) = match &v.source {
        Source::Fitted(Some([lo, hi])) => {
            (format!("[{}, {}]", num(*lo), num(*hi)), "fitted".into())
        }
        Source::Fitted(None) => ("-".into(), "fitted (no bootstrap)".into()),
        Source::Default(why) => ("-".into(), format!("default: {why}")),
    };
    format!("  {name:<10} {shown:>12}  {ci:<26} {from}\n")
}

pub fn run(a: SuggestArgs) -> anyhow::Result<()> {
    let (mut n_opt, mut d_opt, mut lr, mut batch) = (None, None, None, None);
    if let Some(p) = &a.fit {
        let alloc = predict::allocation(&load(p, "--fit")?, a.compute)
            .with_context(|| format!("--fit {}", p.display()))?;
        n_opt = Some(fitted(&alloc.n_opt));
        d_opt = Some(fitted(&alloc.d_opt));
    }
    if let Some(p) = &a.hparams {
        let (e, b) = predict::hparams(&load(p, "--hparams")?, a.compute)
            .with_context(|| format!("--hparams {}", p.display()))?;
        lr = Some(fitted(&e));
        batch = Some(fitted(&b));
    }
    let s = ladder_sweep::suggest::suggest(&SuggestRequest {
        compute: a.compute,
        preset: a.preset.clone(),
        sets: a.set.clone(),
        family: a.family,
        n_opt,
        n_given: a.n,
        d_opt,
        lr,
        batch_tokens: batch,
    })?;
    let from = match (a.n, &a.fit) {
        (Some(n), _) => format!("the {} family's shape nearest N = {}", a.family, num(n)),
        (None, Some(_)) => format!("the {} family's shape nearest N_opt", a.family),
        (None, None) => format!("the {} preset's model", a.preset),
    };
    let mut t = format!(
        "suggestion for C = {} FLOPs: {} layers × {} wide, {} heads ({from})\n",
        num(s.compute),
        s.shape.n_layer,
        s.shape.n_embd,
        s.shape.n_head,
    );
    t += &format!(
        "  {:<10} {:>12}  {:<26} source\n",
        "", "value", "95% interval"
    );
    t += &row("N", &s.n, num(s.n.value));
    t += &row("D", &s.d, num(s.d.value));
    t += &row("lr", &s.lr, num(s.lr.value));
    t += &row("batch", &s.batch, format!("{} seq", s.batch.value));
    t += &row("warmup", &s.warmup, format!("{} steps", s.warmup.value));
    super::fit::emit(&t)?;
    match &a.out {
        Some(out) => {
            ladder_train::fsutil::write_atomic(out, s.config.to_toml().as_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "ladder: wrote {}; train it with `ladder train --config {} --data DIR --out RUN`",
                out.display(),
                out.display()
            );
        }
        None => super::fit::emit(&format!("\n{}", s.config.to_toml()))?,
    }
    Ok(())
}
