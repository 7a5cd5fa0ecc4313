//! Scaling-law maths for ladder: fit laws to runs, with bootstrap uncertainty, and predict from them.
//!
//! # Brief overview
//!
//! Usable on its own from a CSV of runs; depends on no other ladder crate.
//!
//! * Input: [`data::RunPoints`] (N, D, loss, C) from a CSV or [`runs`] directories,
//!   [`data::XyPoints`] for trends, [`data::Curves`] for training curves.
//! * Laws, each with a `fit(points, &FitOptions) -> Result<FitFile>`:
//!   [`chinchilla`] (Approach 3: Huber in log space, L-BFGS from the 4500-point Hoffmann grid),
//!   [`isoflop`] (Approach 2), [`envelope`] (Approach 1), [`kaplan`], [`power`], [`doubling`].
//! * Every fit runs a seeded, parallel, deterministic bootstrap ([`bootstrap`]) and reports
//!   percentile 95 % intervals and standard errors for each parameter and derived quantity
//!   ([`allocation`] for the compute-optimal N_opt, D_opt).
//! * The result is a [`fitfile::FitFile`] (fit.json, DESIGN §3), which keeps the bootstrap
//!   replicates so [`predict`] can give intervals later.
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
pub mod data;
pub mod dates;
pub mod doubling;
pub mod envelope;
pub mod error;
pub mod fitfile;
pub mod isoflop;
pub mod kaplan;
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
pub use options::{FitOptions, Law};

/// What to fit and from where: the validated form of `ladder fit`'s arguments.
#[derive(Clone, Debug)]
pub struct FitRequest {
    /// The law.
    pub law: Law,
    /// A CSV file, or run / sweep directories.
    pub inputs: Vec<PathBuf>,
    /// x column (power, doubling, one-variable kaplan).
    pub x: Option<String>,
    /// y column (power, doubling; kaplan defaults to `loss`).
    pub y: Option<String>,
    /// Loss key of metrics.jsonl for envelope fits of run directories.
    pub curve_loss: String,
    /// Fit options.
    pub options: FitOptions,
}

fn invalid(name: &'static str, value: String, rule: &'static str) -> Error {
    Error::InvalidOption { name, value, rule }
}

/// Loads the input and fits the requested law.
pub fn fit(req: &FitRequest) -> Result<FitFile> {
    let single_csv = match req.inputs.as_slice() {
        [] => {
            return Err(invalid(
                "input",
                String::new(),
                "give a CSV file, run directories or a sweep",
            ))
        }
        [one] => (!one.is_dir()).then(|| one.clone()),
        many => {
            if let Some(f) = many.iter().find(|p| !p.is_dir()) {
                return Err(invalid(
                    "input",
                    f.display().to_string(),
                    "several inputs must all be run or sweep directories (give one CSV alone)",
                ));
            }
            None
        }
    };
    let xy_law = matches!(req.law, Law::Power | Law::Doubling);
    if !xy_law && req.law != Law::Kaplan && (req.x.is_some() || req.y.is_some()) {
        return Err(invalid(
            "--x/--y",
            req.law.name().to_string(),
            "apply to --law power, doubling and kaplan (one variable) only",
        ));
    }
    let opts = &req.options;
    match req.law {
        Law::Chinchilla | Law::Isoflop | Law::Kaplan if req.x.is_none() => {
            let pts = match &single_csv {
                Some(p) => data::RunPoints::from_csv(p)?,
                None => runs::run_points(&req.inputs)?,
            };
            match req.law {
                Law::Chinchilla => chinchilla::fit(&pts, opts),
                Law::Isoflop => isoflop::fit(&pts, opts),
                _ => kaplan::fit(&pts, opts),
            }
        }
        Law::Envelope => {
            let curves = match &single_csv {
                Some(p) => data::Curves::from_csv(p)?,
                None => runs::run_curves(&req.inputs, &req.curve_loss)?,
            };
            envelope::fit(&curves, opts)
        }
        _ => {
            let Some(csv) = single_csv else {
                return Err(invalid(
                    "input",
                    req.inputs[0].display().to_string(),
                    "power, doubling and one-variable kaplan fits read a CSV with --x and --y columns",
                ));
            };
            let (Some(x), Some(y)) = (
                req.x.as_deref(),
                req.y
                    .as_deref()
                    .or((req.law == Law::Kaplan).then_some("loss")),
            ) else {
                return Err(invalid(
                    "--x/--y",
                    "missing".to_string(),
                    "power and doubling fits need both --x and --y column names",
                ));
            };
            let kind = if req.law == Law::Doubling {
                data::XKind::Time
            } else {
                data::XKind::Positive
            };
            let pts = data::XyPoints::from_csv(&csv, x, y, kind)?;
            match req.law {
                Law::Power => power::fit(&pts, opts),
                Law::Doubling => doubling::fit(&pts, opts),
                _ => kaplan::fit_single(&pts, opts),
            }
        }
    }
}
