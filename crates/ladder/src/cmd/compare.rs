//! `ladder compare A B`: does ladder B scale better than ladder A? Reads two fit.json files (or
//! fits sweep directories here, with the code `ladder fit` uses) and prints the exponent
//! differences, the compute multiplier, the crossover and the verdict. All numerics live in
//! `ladder_laws::compare`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ladder_laws::compare::{self, At, CompareOptions};
use ladder_laws::{FitFile, FitOptions, FitRequest, LawKind};

use super::fit::{emit, init_threads, LawArg, ParamsArg, VertexArg};

/// Arguments of `ladder compare`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  ladder compare gpt2/fit.json llama/fit.json
  ladder compare sweeps/gpt2 sweeps/llama --law isoflop --compute 1e15
  ladder compare gpt2.json llama.json --target-loss 3.2 --json

A and B are fit.json files of the same law (chinchilla or isoflop) with bootstrap samples, or
sweep / run directories or CSVs of runs, fitted here as `ladder fit` would (--law, --bootstrap, --seed, --params,
--vertex). Everything is B relative to A: exponent differences B - A with 95 % intervals from the
two bootstraps; the compute multiplier (B's compute for the loss A reaches at --compute, over
that compute; default: the largest compute A's runs used) or at --target-loss; where the
compute-optimal frontiers cross; and the verdict, read from the frontier exponent's interval:
\"B scales better\", \"A scales better\" or \"no detectable difference\". Fits on different data
are compared with a warning. See docs/compare.md.")]
pub struct CompareArgs {
    /// The reference: a fit.json, or a sweep / run directory or CSV of runs to fit.
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The challenger: a fit.json, or a sweep / run directory or CSV of runs to fit.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Compute (FLOPs) at which A's loss is the target of the multiplier (default: the largest
    /// compute A's runs used).
    #[arg(long, value_name = "FLOPS", conflicts_with = "target_loss")]
    pub compute: Option<f64>,
    /// Target loss of the multiplier instead of a compute: B's compute for it over A's.
    #[arg(long, value_name = "LOSS")]
    pub target_loss: Option<f64>,
    /// Print the comparison as JSON (law, exponent_difference, compute_multiplier, crossover,
    /// verdict).
    #[arg(long)]
    pub json: bool,
    /// Law to fit directories and CSVs with (default: the law of the other input when it is a fit.json,
    /// else chinchilla).
    #[arg(long, value_enum)]
    pub law: Option<LawArg>,
    /// Bootstrap replicates of fits made here.
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Seed of those bootstraps.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// N of fits made here: non-embedding (default) or total parameters.
    #[arg(long, value_enum, default_value = "non-embedding")]
    pub params: ParamsArg,
    /// IsoFLOP vertex estimator of fits made here.
    #[arg(long, value_enum, default_value = "local")]
    pub vertex: VertexArg,
    /// Worker threads for fits made here (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// Options of the fits `compare` makes of directories (shared with `ladder report --compare`).
pub(crate) fn fit_options(
    bootstrap: usize,
    seed: u64,
    params: ParamsArg,
    vertex: VertexArg,
) -> anyhow::Result<FitOptions> {
    Ok(FitOptions::default()
        .with_bootstrap(bootstrap)?
        .with_seed(seed)
        .with_params(params.into())
        .with_vertex(vertex.into()))
}

/// A fit.json as is; a directory or a CSV of runs fitted with `law`.
pub(crate) fn load_or_fit(
    path: &Path,
    law: LawKind,
    options: &FitOptions,
) -> anyhow::Result<FitFile> {
    if !is_fit_json(path) {
        let req = FitRequest {
            law,
            inputs: vec![path.to_path_buf()],
            x: None,
            y: None,
            curve_loss: "loss".into(),
            options: options.clone(),
        };
        ladder_laws::fit(&req).with_context(|| format!("fitting {}", path.display()))
    } else {
        FitFile::load(path).with_context(|| format!("reading {}", path.display()))
    }
}

/// True for a file that is not a directory and not a `.csv`: read as fit.json.
fn is_fit_json(p: &Path) -> bool {
    !p.is_dir() && !p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// Law for fitting directories: `--law`, else the law of a given fit.json, else chinchilla.
pub(crate) fn law_for_dirs(arg: Option<LawArg>, a: &Path, b: &Path) -> anyhow::Result<LawKind> {
    if let Some(l) = arg {
        return Ok(l.into());
    }
    for p in [a, b] {
        if is_fit_json(p) {
            let f = FitFile::load(p).with_context(|| format!("reading {}", p.display()))?;
            if let Some(k) = LawKind::parse(&f.law) {
                return Ok(k);
            }
        }
    }
    Ok(LawKind::Chinchilla)
}

/// The largest compute a fit's runs used: its support, else its largest per-budget entry.
fn top_compute(f: &FitFile) -> Option<f64> {
    f.support
        .as_ref()
        .and_then(|s| s.c.map(|c| c[1]))
        .or_else(|| {
            f.derived
                .budgets
                .iter()
                .filter(|b| b.kind != "law")
                .map(|b| b.C)
                .reduce(f64::max)
        })
}

/// The compute range both fits' runs cover together (`None` when neither says).
pub(crate) fn data_range(a: &FitFile, b: &FitFile) -> Option<[f64; 2]> {
    let ranges: Vec<[f64; 2]> = [a, b]
        .iter()
        .filter_map(|f| {
            f.support.as_ref().and_then(|s| s.c).or_else(|| {
                let cs: Vec<f64> = f
                    .derived
                    .budgets
                    .iter()
                    .filter(|b| b.kind != "law")
                    .map(|b| b.C)
                    .collect();
                ladder_laws::fitfile::Support::range(&cs)
            })
        })
        .collect();
    ranges
        .into_iter()
        .reduce(|x, y| [x[0].min(y[0]), x[1].max(y[1])])
}

/// Compare options: where the multiplier is evaluated, the crossover window (three decades below
/// the runs to six above them), the data range.
pub(crate) fn options(
    a: &FitFile,
    b: &FitFile,
    compute: Option<f64>,
    target_loss: Option<f64>,
) -> anyhow::Result<CompareOptions> {
    let range = data_range(a, b);
    let at = match (compute, target_loss) {
        (_, Some(l)) => At::Loss(l),
        (Some(c), None) => At::Compute(c),
        (None, None) => At::Compute(top_compute(a).or(range.map(|r| r[1])).context(
            "fit A records no compute range (a CSV without C?); give --compute FLOPS or --target-loss",
        )?),
    };
    let centre = match at {
        At::Compute(c) => c,
        At::Loss(_) => range.map_or(1e18, |r| r[1]),
    };
    let window = range.map_or([centre * 1e-6, centre * 1e6], |[lo, hi]| {
        [lo * 1e-3, hi * 1e6]
    });
    Ok(CompareOptions {
        at,
        window,
        data_range: range,
    })
}

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    init_threads(args.threads);
    for (name, v) in [
        ("--compute", args.compute),
        ("--target-loss", args.target_loss),
    ] {
        if let Some(v) = v {
            anyhow::ensure!(
                v.is_finite() && v > 0.0,
                "{name} {v}: must be a positive number"
            );
        }
    }
    let options_fit = fit_options(args.bootstrap, args.seed, args.params, args.vertex)?;
    let law = law_for_dirs(args.law, &args.a, &args.b)?;
    let a = load_or_fit(&args.a, law, &options_fit)?;
    let b = load_or_fit(&args.b, law, &options_fit)?;
    let opts = options(&a, &b, args.compute, args.target_loss)?;
    let cmp = compare::compare(&a, &b, &opts)?;
    for w in &cmp.warnings {
        eprintln!("ladder: warning: {w}");
    }
    if args.json {
        emit(&(serde_json::to_string_pretty(&cmp.to_json())? + "\n"))
    } else {
        let head = format!("A: {}\nB: {}\n\n", args.a.display(), args.b.display());
        // Warnings went to stderr; the table keeps them too for a reader of saved output.
        emit(&(head + &cmp.table()))
    }
}
