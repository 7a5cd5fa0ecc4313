//! Scaling-law maths for ladder: fit laws to runs, with bootstrap uncertainty, and predict from them.
//!
//! # Brief overview
//!
//! Usable on its own from a CSV of runs; depends on no other ladder crate.
//!
//! * Input: a table of named columns — a CSV, or [`runs`] directories whose summary.json and
//!   config.toml keys are the columns ([`runs::run_table`]) — read into [`data::RunPoints`]
//!   (N, D, loss, C and the loss's standard error, seed replicates merged), [`data::XyPoints`]
//!   for trends over any two columns, or [`data::Curves`] for training curves.
//! * Each law implements [`law::Law`] (parameters, columns, fit, predictions, allocation);
//!   the fits themselves:
//!   [`chinchilla`] (Approach 3: Huber in log space, L-BFGS from the 4500-point Hoffmann grid),
//!   [`isoflop`] (Approach 2), [`envelope`] (Approach 1), [`kaplan`], [`power`], [`doubling`],
//!   and [`hparams`] (optimal learning rate and batch as power laws of compute).
//! * Chinchilla, Kaplan, power and doubling share one fit routine ([`logfit`]): Huber in log
//!   space, weighted by each point's standard error when known ([`noise`], with χ²/dof of the
//!   residuals against that noise).
//! * Every fit runs a seeded, parallel, deterministic bootstrap ([`bootstrap`]) and reports
//!   percentile 95 % intervals and standard errors for each parameter and derived quantity
//!   ([`allocation`] for the compute-optimal N_opt, D_opt).
//! * The result is a [`fitfile::FitFile`] (fit.json, DESIGN §3), which keeps the bootstrap
//!   replicates so [`predict`] can give intervals later, the data its runs were trained on and
//!   the N, D, C ranges it was fitted over ([`identity`]).
//! * [`compare`] sets two fits of the same law side by side: exponent differences, the compute
//!   multiplier and the crossover of their frontiers, with intervals from both bootstraps.
//! * The optimiser is [`solver`], an L-BFGS on `[f64; K]`; [`argmin_fit`] runs the same problems
//!   through the `argmin` crate as a cross-check.
//!
//! ```
//! use ladder_laws::{chinchilla, options::FitOptions, synth};
//! let truth = [1.8, 480.0, 2000.0, 0.35, 0.37]; // E, A, B, alpha, beta
//! let runs = synth::chinchilla_points(&truth, 40, (1e7, 1e10), (2.0, 200.0), 0.005, 0);
//! let opts = FitOptions::default()
//!     .with_bootstrap(50)?
//!     .with_starts(vec![[6.0, 7.5, 0.5, 0.3, 0.3]])?; // one start keeps the example fast
//! let fit = chinchilla::fit(&runs, &opts)?;
//! assert!((fit.param("alpha").unwrap() - 0.35).abs() < 0.05);
//! # Ok::<(), ladder_laws::error::Error>(())
//! ```
#![deny(missing_docs)]

pub mod akima;
pub mod allocation;
pub mod argmin_fit;
pub mod backtest;
pub mod bootstrap;
pub mod chinchilla;
mod common;
pub mod compare;
pub mod data;
pub mod dates;
pub mod doubling;
pub mod envelope;
pub mod error;
pub mod fitfile;
pub mod hparams;
pub mod identity;
pub mod isoflop;
pub mod kaplan;
pub mod law;
pub mod logfit;
pub mod noise;
pub mod options;
pub mod power;
pub mod predict;
pub mod report;
pub mod runs;
pub mod solver;
pub mod stats;
pub mod synth;
pub mod vertex;

use std::path::PathBuf;

pub use error::{Error, Result};
pub use fitfile::FitFile;
pub use law::Law;
pub use options::{FitOptions, LawKind, ParamCount};

/// What to fit and from where: the validated form of `ladder fit`'s arguments.
#[derive(Clone, Debug)]
pub struct FitRequest {
    /// The law.
    pub law: LawKind,
    /// A CSV file, or run / sweep directories.
    pub inputs: Vec<PathBuf>,
    /// x column (power, doubling, one-variable kaplan): any CSV column, or for run directories
    /// any key of summary.json or config.toml (dotted, e.g. `model.n_embd`).
    pub x: Option<String>,
    /// y column (power, doubling; kaplan defaults to `loss`, or `final_val_loss` for runs).
    pub y: Option<String>,
    /// Loss key of metrics.jsonl for envelope fits of run directories.
    pub curve_loss: String,
    /// Fit options.
    pub options: FitOptions,
}

fn invalid(name: &'static str, value: String, rule: &'static str) -> Error {
    Error::InvalidOption { name, value, rule }
}

/// Checks a fit's inputs: one CSV file, or one or more run / sweep directories. Returns the CSV
/// when the input is one.
pub(crate) fn single_csv(inputs: &[PathBuf]) -> Result<Option<PathBuf>> {
    match inputs {
        [] => Err(invalid(
            "input",
            String::new(),
            "give a CSV file, run directories or a sweep",
        )),
        [one] => Ok((!one.is_dir()).then(|| one.clone())),
        many => match many.iter().find(|p| !p.is_dir()) {
            Some(f) => Err(invalid(
                "input",
                f.display().to_string(),
                "several inputs must all be run or sweep directories (give one CSV alone)",
            )),
            None => Ok(None),
        },
    }
}

/// Loads the input the law reads ([`law::Columns`]) and fits it.
pub fn fit(req: &FitRequest) -> Result<FitFile> {
    let single_csv = single_csv(&req.inputs)?;
    let xy_law = matches!(req.law, LawKind::Power | LawKind::Doubling);
    if !xy_law && req.law != LawKind::Kaplan && (req.x.is_some() || req.y.is_some()) {
        return Err(invalid(
            "--x/--y",
            req.law.name().to_string(),
            "apply to --law power, doubling and kaplan (one variable) only",
        ));
    }
    let opts = &req.options;
    let law = law::law_for(req.law, req.x.as_deref(), opts);
    let input = match law.columns() {
        law::Columns::Runs => law::Input::Runs(match &single_csv {
            Some(p) => data::RunPoints::from_csv_with(p, opts.params)?,
            None => runs::run_points_with(&req.inputs, opts.params)?,
        }),
        law::Columns::Hparams => law::Input::Hparams(match &single_csv {
            Some(p) => hparams::HparamPoints::from_csv(p)?,
            None => {
                let (table, origin) = runs::run_table(&req.inputs)?;
                hparams::HparamPoints::from_runs(&table, origin)?
            }
        }),
        law::Columns::Curves => law::Input::Curves(match &single_csv {
            Some(p) => data::Curves::from_csv(p)?,
            None => runs::run_curves(&req.inputs, &req.curve_loss)?,
        }),
        law::Columns::Xy(kind) => {
            let default_y = match (req.law, &single_csv) {
                (LawKind::Kaplan, Some(_)) => Some("loss"),
                (LawKind::Kaplan, None) => Some("final_val_loss"),
                _ => None,
            };
            let (Some(x), Some(y)) = (req.x.as_deref(), req.y.as_deref().or(default_y)) else {
                return Err(invalid(
                    "--x/--y",
                    "missing".to_string(),
                    "power and doubling fits need both --x and --y column names",
                ));
            };
            law::Input::Xy(match &single_csv {
                Some(csv) => data::XyPoints::from_csv(csv, x, y, kind)?,
                None => {
                    let (table, origin) = runs::run_table(&req.inputs)?;
                    let mut pts = data::XyPoints::from_table(&table, x, y, kind)?;
                    pts.origin = origin;
                    pts
                }
            })
        }
    };
    let mut fit = law.fit(&input, opts)?;
    if let law::Input::Runs(points) = &input {
        fit.fit.noise = noise_model(points);
    }
    // Where the law came from and where it holds, for `ladder diagnose`.
    fit.data.identity = match &single_csv {
        Some(csv) => identity::unknown_from_csv(csv),
        None => identity::of_runs(&req.inputs, &fit.data.skipped)?,
    };
    fit.support = identity::support_of(&input);
    Ok(fit)
}

/// `fit.noise` of a fit of run points with standard errors: `paired` when the runs shared their
/// validation windows and each point carries its own noise only (`runs.rs`), `independent` when
/// it carries its whole standard error; absent without standard errors.
fn noise_model(points: &data::RunPoints) -> Option<String> {
    points.se.as_ref()?;
    Some(match points.common_se {
        Some(_) => "paired".into(),
        None => "independent".into(),
    })
}
