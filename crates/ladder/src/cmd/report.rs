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
  ladder report --compare sweeps/gpt2 sweeps/llama --law isoflop --out compare.html

INPUT is a sweep directory (runs/*/summary.json), a folder of run directories, or one run.
Writes OUT (figures inline as SVG, so the file stands alone) and OUT's stem + \"_files/\" beside
it with every figure as PNG and SVG. Laws without a --fit file are fitted here (Chinchilla and
IsoFLOP). Runs with a diagnosis.json (from `ladder diagnose`), --highlight runs and --diagnose
runs get a section against the law. Plot text uses a system TrueType font (LADDER_REPORT_FONT=
/path/to/font.ttf, else Debian's fonts-dejavu-core or the usual places), else DejaVu Sans built
into the binary (LADDER_REPORT_FONT=builtin forces it). With --compare A B (two fit.json files of
one law, or sweeps fitted here with --law) it writes instead one page comparing the two ladders:
both frontiers of loss with bands, the compute multiplier against compute, the verdict (see
docs/compare.md). See docs/report.md.")]
pub struct ReportArgs {
    /// A sweep directory, a folder of run directories, or one run directory.
    #[arg(value_name = "INPUT", required_unless_present = "compare")]
    pub input: Option<PathBuf>,
    /// Compare two ladders instead: A and B are fit.json files of the same law, or sweep
    /// directories fitted here with --law (see `ladder compare`).
    #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with = "input")]
    pub compare: Option<Vec<PathBuf>>,
    /// Law of the fits --compare makes of directories (default: the law of a given fit.json,
    /// else chinchilla).
    #[arg(long, value_enum, requires = "compare")]
    pub law: Option<super::fit::LawArg>,
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
    if let Some(pair) = &a.compare {
        return compare(&a, &pair[0], &pair[1]);
    }
    let Some(input) = a.input.clone() else {
        anyhow::bail!("give a sweep directory, or --compare A B");
    };
    let opts = ReportOptions {
        title: a.title,
        fits: a.fits,
        highlight: a.highlight,
        diagnose: a.diagnose,
        bootstrap: a.bootstrap,
        seed: a.seed,
    };
    let r = ladder_report::write_report(&input, &a.out, &opts)
        .with_context(|| format!("writing the report of {}", input.display()))?;
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

/// `--compare A B`: the comparison page.
fn compare(a: &ReportArgs, pa: &std::path::Path, pb: &std::path::Path) -> anyhow::Result<()> {
    use super::compare as cmp;
    let opts_fit = cmp::fit_options(
        a.bootstrap,
        a.seed,
        super::fit::ParamsArg::NonEmbedding,
        super::fit::VertexArg::Local,
    )?;
    let law = cmp::law_for_dirs(a.law, pa, pb)?;
    let fa = cmp::load_or_fit(pa, law, &opts_fit)?;
    let fb = cmp::load_or_fit(pb, law, &opts_fit)?;
    let opts = cmp::options(&fa, &fb, None, None)?;
    let result = ladder_laws::compare::compare(&fa, &fb, &opts)?;
    let sa = ladder_laws::compare::side(&fa, "A")?;
    let sb = ladder_laws::compare::side(&fb, "B")?;
    let data_range = opts
        .data_range
        .unwrap_or([opts.window[0] * 1e3, opts.window[1] * 1e-6]);
    // Short names in legends: the file's stem or the directory's name (the page's header gives
    // the paths in full).
    let short = |p: &std::path::Path| {
        let name = if p.is_dir() {
            p.file_name()
        } else {
            p.file_stem()
        };
        name.map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let (la, lb) = (short(pa), short(pb));
    let title = a
        .title
        .clone()
        .unwrap_or_else(|| format!("Scaling comparison: {} vs {}", pa.display(), pb.display()));
    let page = ladder_report::compare::ComparePage {
        labels: [&la, &lb],
        a: &sa,
        b: &sb,
        cmp: &result,
        data_range,
        title: &title,
    };
    let r = ladder_report::compare::write_compare_report(&page, &a.out)
        .with_context(|| format!("writing {}", a.out.display()))?;
    for w in &result.warnings {
        eprintln!("ladder: warning: {w}");
    }
    println!(
        "wrote {} (verdict: {}; {} figure files)",
        r.html.display(),
        result.verdict.as_str(),
        r.figures.len()
    );
    Ok(())
}
