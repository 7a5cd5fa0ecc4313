//! One self-contained HTML report of a scaling ladder.
//!
//! # Brief overview
//!
//! [`write_report`] reads a sweep directory (or a folder of run directories, DESIGN §3), reads
//! or fits the Chinchilla and IsoFLOP laws through `ladder_laws`, draws the figures with
//! plotters and writes `report.html` with every figure inline as SVG, plus each figure as PNG
//! and SVG in `report_files/` beside it:
//!
//! 1. training curves per run (loss against tokens, log-log, one colour per budget);
//! 2. the IsoFLOP parabolas with their minima;
//! 3. the fitted Chinchilla law against the points;
//! 4. the residuals around the law;
//! 5. the compute-optimal frontier N_opt(C), D_opt(C) of both laws with 95 % bands;
//! 6. residuals by model shape (depth and width, from each run's config.toml);
//!    and for a learning-rate × batch sweep, loss against lr per budget and the fitted
//!    η_opt(C), B_opt(C) with bands ([`figures::hparams`]);
//! 7. a backtest section ([`backtests`]): the largest budget predicted from the others;
//! 8. a diagnosis section: each run with a `diagnosis.json` (from `ladder diagnose`), each
//!    highlighted run and each `--diagnose` run directory against the law and similar runs;
//! 9. a table of runs (N, D, C, losses, status, verdict);
//! 10. when the input directory holds a `profile.json` (`ladder profile --out`), the roofline of
//!     a training step ([`roofline`]).
//!
//! [`compare::write_compare_report`] writes a second kind of page (`ladder report --compare A B`):
//! two ladders' frontiers and the compute multiplier between them, with the verdict.
//!
//! Plot text needs a TrueType font at run time (see [`font`]). Every file is written
//! atomically, and the output depends only on the inputs (no timestamps), so two reports of the
//! same ladder are byte-identical.
//!
//! ```no_run
//! use ladder_report::{write_report, ReportOptions};
//! let report = write_report(
//!     "sweeps/iso".as_ref(),
//!     "sweeps/iso/report.html".as_ref(),
//!     &ReportOptions::default(),
//! )?;
//! println!("{} figures", report.figures.len());
//! # Ok::<(), ladder_report::Error>(())
//! ```
#![deny(missing_docs)]

pub mod backtests;
pub mod compare;
pub mod error;
pub mod figures;
pub mod fits;
pub mod font;
pub mod html;
pub mod plot;
pub mod roofline;
pub mod runs;

use std::path::{Path, PathBuf};

pub use error::{Error, Result};

use figures::Ctx;
use plot::{render, Figure};
use runs::Run;

/// Options of [`write_report`].
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// Page title (default: "Scaling ladder: <input folder name>").
    pub title: Option<String>,
    /// fit.json files (at most one chinchilla and one isoflop); laws not given are fitted here.
    pub fits: Vec<PathBuf>,
    /// Runs to highlight, by directory name or path; each also gets a diagnosis card.
    pub highlight: Vec<String>,
    /// Run directories outside the input to show against the law (e.g. a run predicted from
    /// the ladder); they are not used in the fits.
    pub diagnose: Vec<PathBuf>,
    /// Bootstrap replicates of the fits made here.
    pub bootstrap: usize,
    /// Seed of those bootstraps.
    pub seed: u64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            title: None,
            fits: Vec::new(),
            highlight: Vec::new(),
            diagnose: Vec::new(),
            // As `ladder fit`: 1000 replicates put ~25 points beyond each 95 % percentile.
            bootstrap: 1000,
            seed: 0,
        }
    }
}

/// What [`write_report`] wrote.
#[derive(Clone, Debug)]
pub struct Report {
    /// The HTML page.
    pub html: PathBuf,
    /// The folder beside it with the figure files.
    pub files_dir: PathBuf,
    /// Every figure file written (PNG and SVG).
    pub figures: Vec<PathBuf>,
    /// Runs shown.
    pub runs: usize,
    /// Run directories that could not be read, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Problems that did not stop the report (also listed in the page).
    pub warnings: Vec<String>,
    /// Laws that could not be fitted, with the reason.
    pub unavailable: Vec<(String, String)>,
    /// The font used for the plots' text.
    pub font: font::FontSource,
}

/// Figure sizes in pixels (the PNGs' size; the SVGs scale with the page).
const WIDE: (u32, u32) = (1040, 600);
const PANELS: (u32, u32) = (1040, 460);

/// Writes the report of the ladder in `input` to `out_html` (and `<stem>_files/` beside it).
pub fn write_report(input: &Path, out_html: &Path, opts: &ReportOptions) -> Result<Report> {
    let stem = out_html
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty() && out_html.file_name().is_some())
        .ok_or(Error::BadOutput {
            path: out_html.to_path_buf(),
            why: "needs a file name, e.g. report.html",
        })?;
    if out_html.is_dir() {
        return Err(Error::BadOutput {
            path: out_html.to_path_buf(),
            why: "is a directory; give a file name, e.g. report.html",
        });
    }
    let font = font::ensure_font()?;
    let mut loaded = runs::load_runs(input)?;
    let highlight = resolve_highlights(&loaded.runs, &opts.highlight)?;
    let mut extra = Vec::new();
    for dir in &opts.diagnose {
        let run = runs::load_run(dir, &mut loaded.warnings).map_err(|message| Error::Json {
            path: dir.join("summary.json"),
            message: format!("--diagnose: {message}"),
        })?;
        extra.push(run);
    }
    let laws = fits::laws(&loaded.runs, input, &opts.fits, opts.bootstrap, opts.seed)?;
    let backtests = backtests::backtests(
        input,
        &laws,
        opts.bootstrap,
        opts.seed,
        &mut loaded.warnings,
    );
    let runs = &loaded.runs;
    let entropy = runs.iter().chain(&extra).find_map(|r| r.entropy);
    let ctx = Ctx {
        runs,
        laws: &laws,
        highlight: &highlight,
        entropy,
    };
    let chin = laws.chinchilla.fit();
    let iso = laws.isoflop.fit();

    let mut figs: Vec<Figure> = Vec::new();
    figs.push(render(
        "curves",
        "Training curves",
        "Training loss (nats/token, each point the mean over the last quarter of the steps up to it) against \
         training tokens for every run, both axes logarithmic. Colour marks the compute budget C = 6·N·D; dots are evaluations on the validation split; \
         dashed lines are runs that did not complete; red lines are highlighted runs."
            .to_string()
            + if entropy.is_some() {
                " The dashed horizontal line is the synthetic source's entropy, the lowest loss any model can reach."
            } else {
                ""
            },
        WIDE,
        &figures::curves::Curves(ctx),
    )?);
    figs.push(render(
        "isoflop",
        "IsoFLOP profiles",
        format!("Final validation loss against model size N at each compute budget (Chinchilla Approach 2). \
         Each line is a least-squares parabola of loss in ln N over that budget's runs; its vertex \
         (ringed) is where the parabola puts the budget's compute-optimal size N_opt(C); a hollow \
         vertex lies outside the sizes that were trained. The IsoFLOP law locates each vertex with \
         its own estimator (here: {}), whose vertices are the orange dots of the frontier figure.",
        iso.and_then(|f| f.fit.vertex.clone())
            .unwrap_or_else(|| "parabola".to_string())
    ),
        WIDE,
        &figures::law::Isoflop(ctx),
    )?);
    if let Some(fit) = chin {
        let p = figures::law::chinchilla_params(fit).unwrap_or([f64::NAN; 5]);
        figs.push(render(
            "law",
            "Fitted law against the runs",
            format!(
                "The Chinchilla law L(N, D) = E + A/N^α + B/D^β (E = {:.3}, A = {}, B = {}, α = {:.3}, β = {:.3}; \
                 intervals in the cards above) drawn along N at each budget's compute (D = C/6N), with the \
                 runs as dots in the same colour. The dashed black line joins the law's minima: its \
                 compute-optimal frontier. The dotted line is E, the loss of an infinite model trained forever.",
                p[0], plot::short(p[1]), plot::short(p[2]), p[3], p[4]
            ),
            WIDE,
            &figures::law::LawFit { ctx, fit },
        )?);
        figs.push(render(
            "residuals",
            "Residuals",
            "How far each run's final validation loss lies from the Chinchilla law, as 100·ln(observed/law) \
             (≈ per cent of loss), against N. Dashed lines mark ± the root-mean-square residual. A pattern \
             along N or within a budget means the law's form misses something; a lone outlier is a run to look at."
                .to_string(),
            WIDE,
            &figures::law::Residuals { ctx, fit },
        )?);
        // Only a ladder that mixes shapes has anything to separate.
        let mut shapes: Vec<(u64, u64)> = runs
            .iter()
            .filter_map(|r| Some((r.n_layer?, r.n_embd?)))
            .collect();
        shapes.sort_unstable();
        shapes.dedup();
        if shapes.len() > 1 && !figures::shape::shape_residuals(&ctx, fit).is_empty() {
            figs.push(render(
                "shape",
                "Residuals by depth and width",
                "The same residuals, 100·ln(observed/law), against each run's width (model.n_embd of its \
                 config.toml), one colour per depth (model.n_layer); the legend gives each depth's mean. \
                 A law in N alone assumes the shape does not matter at a given N: a depth whose runs sit \
                 together above or below zero, or a trend along width, means the ladder mixes shapes that \
                 do not follow one law (use one shape family)."
                    .to_string(),
                WIDE,
                &figures::shape::ResidualsByShape { ctx, fit },
            )?);
        }
    }
    if chin.is_some() || iso.is_some() {
        figs.push(render(
            "frontier",
            "Compute-optimal frontier",
            format!(
                "The compute-optimal model size N_opt(C) (left) and training tokens D_opt(C) = C/(6·N_opt) \
                 (right) against compute, from the Chinchilla law (blue) and from power laws through the \
                 IsoFLOP minima (orange, dots with their 95 % intervals), each with its 95 % bootstrap band. \
                 Grey dots are the ladder's runs. The shaded region beyond the largest budget (up to {}×) is \
                 extrapolation.",
                figures::frontier::EXTRAPOLATE
            ),
            PANELS,
            &figures::frontier::Frontier {
                ctx,
                chinchilla: chin,
                isoflop: iso,
            },
        )?);
    }

    // A learning-rate × batch sweep (ladder sweep plan --grid) gets its hyper-parameter laws.
    if let Some((points, fit)) = hparams_fit(input, opts) {
        figs.push(render(
            "hparams",
            "Learning rate and batch",
            format!(
                "Left: final validation loss against the peak learning rate at each budget (colour),                  one line per batch size; rings mark each budget's optimum on its local quadratic                  surface in (ln lr, ln batch). Middle and right: the optimal learning rate and batch                  (tokens per step) per budget with their 95 % intervals (hollow: not used, e.g. an                  optimum at the edge of the grid), and the fitted power laws η_opt = {}·C^{:.3} and                  B_opt = {}·C^{:.3} with their 95 % bootstrap bands (docs/hparams.md).",
                plot::short(fit.param("eta0").unwrap_or(f64::NAN)),
                fit.param("k").unwrap_or(f64::NAN),
                plot::short(fit.param("B0").unwrap_or(f64::NAN)),
                fit.param("m").unwrap_or(f64::NAN),
            ),
            PANELS,
            &figures::hparams::Hparams {
                points: &points,
                fit: &fit,
            },
        )?);
    }

    // A `ladder profile --out` beside the runs gets its roofline (docs/profile.md).
    if input.is_dir() {
        figs.extend(roofline::from_dir(input)?);
    }

    // Diagnosis subjects: diagnosed or highlighted input runs, then the --diagnose runs.
    let mut subject_runs: Vec<&Run> = runs
        .iter()
        .enumerate()
        .filter(|(i, r)| r.diagnosis.is_some() || highlight.contains(i))
        .map(|(_, r)| r)
        .collect();
    subject_runs.extend(extra.iter());
    let mut subjects = Vec::new();
    let mut used_stems: Vec<String> = figs.iter().map(|f| f.stem.clone()).collect();
    for run in subject_runs {
        let stem = unique_stem(&format!("run_{}", sanitize(&run.name)), &mut used_stems);
        let fig = render(
            &stem,
            &format!("{} against the ladder", run.name),
            format!(
                "<b>{}</b>. Left: its training loss (red) against the training curves of reference runs \
                 of similar size (grey); the black bar at its token count is the law's 95 % prediction \
                 interval for its final loss. Right: its final validation loss (red dot) against the \
                 Chinchilla law along N at its own compute C = {} FLOPs, with the law's 95 % band and \
                 the ladder's runs at that compute (grey).",
                html::esc(&run.name),
                plot::sci(run.c)
            ),
            PANELS,
            &figures::diagnosis::RunVsLaw { ctx, run, fit: chin },
        )?;
        subjects.push((run, Some(fig)));
    }

    // Files: figures first, the page last, so a page never links to a missing file.
    let dir_name = format!("{stem}_files");
    let files_dir = out_html.with_file_name(&dir_name);
    std::fs::create_dir_all(&files_dir).map_err(|e| Error::io(&files_dir, e))?;
    let mut written = Vec::new();
    for f in figs
        .iter()
        .chain(subjects.iter().filter_map(|s| s.1.as_ref()))
    {
        let svg = files_dir.join(format!("{}.svg", f.stem));
        write_atomic(&svg, f.svg.as_bytes())?;
        let png = files_dir.join(format!("{}.png", f.stem));
        write_atomic(&png, &f.png)?;
        written.push(png);
        written.push(svg);
    }
    let title = opts.title.clone().unwrap_or_else(|| {
        let name = std::fs::canonicalize(input)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| input.display().to_string());
        format!("Scaling ladder: {name}")
    });
    let page = html::page(&html::Page {
        title: &title,
        input: &input.display().to_string(),
        runs,
        subjects: &subjects,
        highlight: &highlight,
        laws: &laws,
        figures: &figs,
        files_dir: &dir_name,
        skipped: &loaded.skipped,
        warnings: &loaded.warnings,
        entropy,
        backtests: &backtests,
    });
    write_atomic(out_html, page.as_bytes())?;
    let mut unavailable = Vec::new();
    for (name, l) in [("chinchilla", &laws.chinchilla), ("isoflop", &laws.isoflop)] {
        if let fits::LawFit::Unavailable(why) = l {
            unavailable.push((name.to_string(), why.clone()));
        }
    }
    Ok(Report {
        html: out_html.to_path_buf(),
        files_dir,
        figures: written,
        runs: runs.len(),
        skipped: loaded.skipped,
        warnings: loaded.warnings,
        unavailable,
        font,
    })
}

/// The runs as hyper-parameter points and their `--law hparams` fit, when the input is a
/// learning-rate × batch sweep the law can fit (any other ladder gives `None`: no section).
fn hparams_fit(
    input: &Path,
    opts: &ReportOptions,
) -> Option<(ladder_laws::hparams::HparamPoints, ladder_laws::FitFile)> {
    let (table, origin) = ladder_laws::runs::run_table(&[input.to_path_buf()]).ok()?;
    let points = ladder_laws::hparams::HparamPoints::from_runs(&table, origin).ok()?;
    let fit_opts = ladder_laws::FitOptions::default()
        .with_bootstrap(opts.bootstrap)
        .ok()?
        .with_seed(opts.seed);
    let fit = ladder_laws::hparams::fit(&points, &fit_opts).ok()?;
    Some((points, fit))
}

/// Indices of the runs named by `--highlight` (directory name, or a path to the directory).
fn resolve_highlights(runs: &[Run], names: &[String]) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for name in names {
        let canon = std::fs::canonicalize(name).ok();
        let i = runs
            .iter()
            .position(|r| {
                r.name == *name || canon.is_some() && std::fs::canonicalize(&r.dir).ok() == canon
            })
            .ok_or_else(|| Error::UnknownRun {
                name: name.clone(),
                available: runs.iter().map(|r| r.name.clone()).collect(),
            })?;
        if !out.contains(&i) {
            out.push(i);
        }
    }
    Ok(out)
}

/// A file-name-safe version of a run name.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn unique_stem(base: &str, used: &mut Vec<String>) -> String {
    let mut stem = base.to_string();
    let mut k = 2;
    while used.contains(&stem) {
        stem = format!("{base}_{k}");
        k += 1;
    }
    used.push(stem.clone());
    stem
}

/// Writes `bytes` to `path` atomically (temp file beside it, fsync, rename, directory fsync), with
/// the one implementation `ladder fit` uses for fit.json.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    ladder_laws::fitfile::write_atomic(path, bytes).map_err(|e| match e {
        ladder_laws::Error::Io { path, source } => Error::Io { path, source },
        other => Error::io(path, std::io::Error::other(other.to_string())),
    })
}
