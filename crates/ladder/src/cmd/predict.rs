//! `ladder predict`: predictions with 95 % intervals from a fit.json (the intervals come from the
//! bootstrap replicates stored in it). All numerics live in `ladder_laws::predict`.

use std::path::PathBuf;

use anyhow::Context;
use ladder_laws::data::XKind;
use ladder_laws::law::Columns;
use ladder_laws::predict::{self, Estimate};
use ladder_laws::report;
use ladder_laws::FitFile;
use serde::Serialize;

use super::fit::{emit, Format};

/// Arguments of `ladder predict`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  ladder predict --fit fit.json --n 1.2e8 --d 2.4e9      # loss at (N, D)
  ladder predict --fit fit.json --compute 1e21 --compute 1e23
  ladder predict --fit trend.json --x 2026-01-01          # power/doubling fits")]
pub struct PredictArgs {
    /// fit.json written by `ladder fit --out`.
    #[arg(long, value_name = "FILE")]
    pub fit: PathBuf,
    /// Non-embedding parameters (with --d): predict the loss at (N, D).
    #[arg(long, requires = "d")]
    pub n: Option<f64>,
    /// Training tokens (with --n).
    #[arg(long, requires = "n")]
    pub d: Option<f64>,
    /// Compute budget in FLOPs: the compute-optimal N, D, tokens/param and loss (repeatable).
    #[arg(long = "compute", value_name = "FLOPS")]
    pub compute: Vec<f64>,
    /// x for power, doubling (a date YYYY-MM-DD or decimal year) or one-variable kaplan fits
    /// (repeatable).
    #[arg(long)]
    pub x: Vec<String>,
    /// Output on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// An estimate as JSON: value, 95 % interval (null without bootstrap samples), standard error.
#[derive(Serialize)]
struct Est {
    value: f64,
    ci95: Option<[f64; 2]>,
    stderr: Option<f64>,
}

impl From<&Estimate> for Est {
    fn from(e: &Estimate) -> Self {
        Est {
            value: e.value,
            ci95: e.ci95,
            stderr: e.stderr,
        }
    }
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct LossOut {
    N: f64,
    D: f64,
    loss: Est,
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct BudgetOut {
    C: f64,
    N_opt: Est,
    D_opt: Est,
    tokens_per_param: Est,
    #[serde(skip_serializing_if = "Option::is_none")]
    loss: Option<Est>,
}

#[derive(Serialize)]
struct ValueOut {
    x: f64,
    y: Est,
}

#[derive(Serialize)]
struct Output {
    law: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    loss: Option<LossOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    budgets: Vec<BudgetOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    values: Vec<ValueOut>,
}

fn positive(name: &str, v: f64) -> anyhow::Result<f64> {
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        anyhow::bail!("{name} = {v}: must be finite and > 0")
    }
}

pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let fit = FitFile::load(&args.fit)
        .with_context(|| "loading the fit (write one with `ladder fit ... --out fit.json`)")?;
    if args.n.is_none() && args.compute.is_empty() && args.x.is_empty() {
        anyhow::bail!("nothing to predict: give --n and --d, --compute, or --x");
    }
    let mut table = String::new();
    let mut out = Output {
        law: fit.law.clone(),
        loss: None,
        budgets: vec![],
        values: vec![],
    };
    if let (Some(n), Some(d)) = (args.n, args.d) {
        let (n, d) = (positive("--n", n)?, positive("--d", d)?);
        let e = predict::loss(&fit, n, d)?;
        let label = format!("loss at N={}, D={}", report::num(n), report::num(d));
        table += &report::estimate_line(&label, &e);
        table.push('\n');
        out.loss = Some(LossOut {
            N: n,
            D: d,
            loss: (&e).into(),
        });
    }
    let mut allocs = Vec::new();
    for &c in &args.compute {
        let a = predict::allocation(&fit, positive("--compute", c)?)?;
        out.budgets.push(BudgetOut {
            C: c,
            N_opt: (&a.n_opt).into(),
            D_opt: (&a.d_opt).into(),
            tokens_per_param: (&a.tokens_per_param).into(),
            loss: a.loss.as_ref().map(Est::from),
        });
        allocs.push(a);
    }
    table += &report::allocation_table(&allocs);
    for s in &args.x {
        let x = parse_x(&fit, s)?;
        let e = predict::value_at(&fit, x)?;
        let y = fit.data.y.clone().unwrap_or_else(|| "y".into());
        table += &report::estimate_line(&format!("{y} at {s}"), &e);
        table.push('\n');
        out.values.push(ValueOut { x, y: (&e).into() });
    }
    if fit.samples.values.is_empty() {
        eprintln!(
            "ladder: warning: the fit has no bootstrap samples (fitted with --bootstrap 0): no intervals"
        );
    }
    match args.format {
        Format::Table => emit(&table),
        Format::Json => emit(&(serde_json::to_string_pretty(&out)? + "\n")),
    }
}

/// A number, or for date-based fits also an ISO date (as decimal year).
fn parse_x(fit: &FitFile, s: &str) -> anyhow::Result<f64> {
    if let Ok(v) = s.parse::<f64>() {
        if v.is_finite() {
            return Ok(v);
        }
    }
    let time_law =
        ladder_laws::law::law_of(fit).is_ok_and(|l| l.columns() == Columns::Xy(XKind::Time));
    if fit.data.x_is_date || time_law {
        if let Some(t) = ladder_laws::dates::parse_date(s) {
            return Ok(t);
        }
        anyhow::bail!("--x {s}: neither a number nor a date YYYY-MM-DD");
    }
    anyhow::bail!("--x {s}: not a finite number")
}
