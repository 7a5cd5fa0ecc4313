//! `ladder_sweep`: plan scaling ladders and run them (DESIGN §3, "Sweep directory").
//!
//! # Brief overview
//! - [`shapes`]: the shape families (`depth:L`, `aspect:R`), from a target N to (n_layer, n_embd,
//!   n_head); every run of a plan comes from one family.
//! - [`lr`]: each run's learning rate and warm-up by a stated rule (`width`: lr_ref · 64 / d).
//! - [`plan`]: `sweep.toml`, the editable plan; [`plan::make_plan`] lays out an IsoFLOP grid
//!   (for each budget C, several N with D = C / 6N, K seeds per point), and with a
//!   [`grid::Grid`] one run per hyper-parameter grid point (lr, batch, warm-up) of each.
//! - [`dir`]: the sweep directory, its files and the runner's lock.
//! - [`state`]: `sweep.json`, the state of each run; [`state::reconcile`] makes an interrupted
//!   sweep resume where it stopped, and [`state::next_start`] decides whether an attempt resumes
//!   from a checkpoint (`ladder train --resume`) or starts fresh.
//! - [`local`] and [`slurm`]: the executors (child `ladder train` processes, or `sbatch` jobs),
//!   sharing [`exec`]: command lines, retries, progress events, the final report.
//! - [`status`]: the table of `ladder sweep status`.
//! - [`suggest`]: a trainable config for a target compute from fitted laws (`ladder suggest`).
//!
//! The crate prints nothing: progress reaches the caller through [`exec::Observer`].

#![deny(missing_docs)]

pub mod dir;
mod error;
pub mod exec;
pub mod grid;
pub mod local;
pub mod lr;
pub mod plan;
pub mod shapes;
pub mod slurm;
pub mod state;
pub mod status;
pub mod suggest;

pub use dir::SweepDir;
pub use error::{Error, Result};
pub use exec::{Counts, Event, Observer, Report, RunOptions};
pub use plan::{make_plan, Estimate, Plan, PlanRequest, RunSpec};
