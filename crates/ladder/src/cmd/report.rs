//! `ladder report`: one self-contained HTML report of a ladder (plots, fits, diagnosis, runs).
//! Everything is done by `ladder_report::write_report`; this module only parses and prints.

use std::path::PathBuf;

use anyhow::Context;
use ladder_report::ReportOptions;

/// Arguments of `ladder report`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  ladder report sweeps/iso --out sweeps/iso/report.html
  ladder report sweeps/iso --out report.html --fit fit.json --highlight iso-c1e13-n3
  ladder report sweeps/iso --out report.html --diagnose runs/big --title \"Ladder v2\"

INPUT is a sweep directory (runs/*/summary.json), a folder of run directories, or one run.
Writes OUT (figures inline as SVG, so the file stands alone) and OUT's stem + \"_files/\" beside
it with every figure as PNG and SVG. Laws without a --fit file are fitted here (Chinchilla and
IsoFLOP). Runs with a diagnosis.json (from `ladder diagnose`), --highlight runs and --diagnose
runs get a section against the law. Plot text uses a system TrueType font (LADDER_REPORT_FONT=
/path/to/font.ttf, else Debian's fonts-dejavu-core or the usual places), else DejaVu Sans built
into the binary (LADDER_REPORT_FONT=builtin forces it). See docs/report.md.")]
pub struct ReportArgs {
    /// A sweep directory, a folder of run directories, or one run directory.
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// The HTML file to write (figure files go to <stem>_files/ beside it).
    #[arg(long, value_name = "FILE", default_value = "report.html")]
    pub out: PathBuf,
    /// A fit.json from `ladder fit` (chinchilla or isoflop; repeatable, one per law).
    #[arg(long = "fit", value_name = "FILE")]
    pub fits: Vec<PathBuf>,
    /// Highlight this run (directory name or path) in every plot and show it against the law
    /// (repeatable).
    #[arg(long, value_name = "RUN")]
    pub highlight: Vec<String>,
    /// Also show this run directory against the law (e.g. a run predicted from the ladder; not
    /// used in the fits; repeatable).
    #[arg(long, value_name = "DIR")]
    pub diagnose: Vec<PathBuf>,
    /// Page title (default: "Scaling ladder: <input folder name>").
    #[arg(long)]
    pub title: Option<String>,
    /// Bootstrap replicates of the fits made here (0: no intervals).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Seed of those bootstraps.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads for the fits (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    super::fit::init_threads(a.threads);
    let opts = ReportOptions {
        title: a.title,
        fits: a.fits,
        highlight: a.highlight,
        diagnose: a.diagnose,
        bootstrap: a.bootstrap,
        seed: a.seed,
    };
    let r = ladder_report::write_report(&a.input, &a.out, &opts)
        .with_context(|| format!("writing the report of {}", a.input.display()))?;
    for (run, why) in &r.skipped {
        eprintln!("ladder: skipped {run}: {why}");
    }
    for w in &r.warnings {
        eprintln!("ladder: warning: {w}");
    }
    for (law, why) in &r.unavailable {
        eprintln!("ladder: no {law} fit: {why}");
    }
    println!(
        "wrote {} ({} runs, {} figure files in {})",
        r.html.display(),
        r.runs,
        r.figures.len(),
        r.files_dir.display()
    );
    Ok(())
}
