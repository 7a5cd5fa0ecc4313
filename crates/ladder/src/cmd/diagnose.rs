//! `ladder diagnose`: is this run broken? The checks live in `ladder_diagnose`; this module
//! prints the verdict with its evidence and writes `diagnosis.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ladder_diagnose::{DiagnoseOptions, Diagnosis, Verdict};

/// Arguments of `ladder diagnose`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  ladder diagnose runs/suspect --law sweeps/iso/fit.json --reference sweeps/iso
  ladder diagnose runs/suspect --reference sweeps/iso --check
  ladder diagnose runs/kjv --law sweeps/iso/fit.json --allow-other-data

The verdict is healthy, suspicious or broken, with the most likely cause class: diverged,
target-leakage, bad-initialisation, precision-loss, optimizer-state-bug, lr-too-high,
lr-too-low, data-repetition, under-training or throughput-regression; or inconclusive when
nothing is wrong but the law or the reference runs could not judge the run (trained on other
data, far outside the law's runs, or an interval too wide). Every check that ran is listed as
evidence. With --check the exit code is 0 healthy, 2 suspicious, 3 broken, 4 inconclusive
(1: an error). See docs/diagnose.md.")]
pub struct DiagnoseArgs {
    /// The run directory to judge (written by `ladder train`).
    pub run: PathBuf,
    /// fit.json of a loss law in (N, D) (chinchilla or kaplan), fitted on healthy runs.
    #[arg(long, value_name = "FILE")]
    pub law: Option<PathBuf>,
    /// Healthy reference runs: a sweep directory, or a folder of run directories.
    #[arg(long, value_name = "DIR")]
    pub reference: Option<PathBuf>,
    /// Where to write the diagnosis (default: RUN/diagnosis.json).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit with 2 when suspicious, 3 when broken and 4 when inconclusive (for scripts and CI).
    #[arg(long)]
    pub check: bool,
    /// Compare with a law or reference runs trained on other data (another tokenizer or text)
    /// all the same; the output says the data differ.
    #[arg(long)]
    pub allow_other_data: bool,
    /// Print the diagnosis as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Leave out the throughput comparison (when the machine was busy or shared while the run or
    /// its references trained, tokens/s says nothing about the run).
    #[arg(long)]
    pub no_throughput: bool,
}

pub fn run(a: DiagnoseArgs) -> anyhow::Result<ExitCode> {
    let opts = DiagnoseOptions {
        law: a.law.clone(),
        reference: a.reference.clone(),
        skip_throughput: a.no_throughput,
        allow_other_data: a.allow_other_data,
    };
    let d = ladder_diagnose::diagnose(&a.run, &opts)?;
    let json = serde_json::to_string_pretty(&d)? + "\n";
    let out = a.out.unwrap_or_else(|| a.run.join("diagnosis.json"));
    ladder_train::fsutil::write_atomic(&out, json.as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    if a.json {
        print!("{json}");
    } else {
        print!("{}", render(&d));
        println!("written: {}", out.display());
    }
    Ok(match (a.check, d.verdict) {
        (true, Verdict::Suspicious) => ExitCode::from(2),
        (true, Verdict::Broken) => ExitCode::from(3),
        (true, Verdict::Inconclusive) => ExitCode::from(4),
        _ => ExitCode::SUCCESS,
    })
}

/// The verdict, the cause and one line per finding, worst first.
fn render(d: &Diagnosis) -> String {
    let mut s = format!("{}: {}", d.run, d.verdict.as_str().to_uppercase());
    match d.cause {
        Some(c) => s += &format!(" (most likely cause: {})\n", c.as_str()),
        None if d.verdict > Verdict::Inconclusive => s += " (cause unclear: see the evidence)\n",
        None if d.verdict == Verdict::Inconclusive => {
            s += " (nothing wrong found, but a comparison asked for could not judge the run)\n"
        }
        None => s += "\n",
    }
    for nj in &d.not_judged {
        s += &format!(
            "{} check {}: {}\n",
            nj.check,
            nj.kind.as_str().replace('-', " "),
            nj.message
        );
    }
    if d.other_data {
        s += "the data differ: compared with a law or reference runs from other data (--allow-other-data)\n";
    }
    if let Some(l) = &d.law {
        s += &format!(
            "law: observed {:.4}, predicted {:.4} [{:.4}, {:.4}], z = {:+.1}{}\n",
            l.observed,
            l.predicted,
            l.interval95[0],
            l.interval95[1],
            l.z,
            if l.judged { "" } else { " (inconclusive)" }
        );
    }
    if d.references > 0 {
        s += &format!("reference runs: {}\n", d.references);
    }
    if !d.layers.is_empty() {
        s +=
            "layers (medians over logged steps): grad norm, update/weight ratio (reference runs)\n";
        for l in &d.layers {
            let reference = l
                .reference_update_ratio
                .map_or(String::new(), |r| format!("  ({r:.2e})"));
            s += &format!(
                "  {:<6} {:>10.3e} {:>10.2e}{reference}\n",
                l.layer, l.grad_norm, l.update_ratio
            );
        }
    }
    s += "evidence:\n";
    for f in &d.findings {
        s += &format!(
            "  {:<12} {:<18} {}\n",
            f.severity.as_str(),
            f.check,
            f.message
        );
    }
    s
}
