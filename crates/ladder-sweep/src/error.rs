//! The error type of `ladder_sweep`: one variant per way a plan, a sweep directory or an executor
//! can go wrong. Messages quote the bad value and say how to fix it.

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // === Planning ===
    /// A planning option out of range.
    #[error("{name} = {value}: {rule}")]
    InvalidOption {
        /// The option (`--budgets`, `--sizes`, ...).
        name: &'static str,
        /// The value given.
        value: String,
        /// What it must be.
        rule: &'static str,
    },
    /// No model shape of the family is near a requested size.
    #[error("no model shape with about {target:.3e} non-embedding parameters in family {family} (it spans {min:.3e}..{max:.3e}); change --budgets, --tokens-per-param, --n-range or --family")]
    NoShape {
        /// Requested N.
        target: f64,
        /// The family (`depth:1`).
        family: String,
        /// Smallest N of the family.
        min: f64,
        /// Largest N of the family.
        max: f64,
    },
    /// An architecture `ladder train` cannot train.
    #[error("--arch {arch}: {rule}")]
    InvalidArch {
        /// The architecture asked for.
        arch: String,
        /// Why it is refused and what to use.
        rule: String,
    },
    /// A budget too small to hold even one optimizer step per run within 1 %.
    #[error("budget C = {budget:.3e} gives run {name} only {tokens} tokens: at {tokens_per_step} tokens per step C = 6ND would be off by more than 1 %; raise the budget or lower train.batch_size")]
    BudgetTooSmall {
        /// The budget.
        budget: f64,
        /// The run.
        name: String,
        /// Planned tokens.
        tokens: u64,
        /// Tokens per optimizer step.
        tokens_per_step: u64,
    },

    // === Sweep directory ===
    /// `sweep.toml` or `sweep.json` is missing.
    #[error("{}: not a sweep directory (no sweep.toml); create one with `ladder sweep plan --out {}`", .path.display(), .path.display())]
    NotASweep {
        /// The directory.
        path: PathBuf,
    },
    /// `sweep plan` would overwrite an existing plan.
    #[error("{}: a sweep already exists there; pass --force to replace its plan (its runs/ and sweep.json are kept) or choose another --out", .path.display())]
    SweepExists {
        /// The directory.
        path: PathBuf,
    },
    /// A file whose `format` / `version` is not what this build reads.
    #[error("{}: format {found:?} version {version}, expected {expected:?} version {want}; write it with this build of `ladder sweep`", .path.display())]
    BadFormat {
        /// The file.
        path: PathBuf,
        /// The `format` field found.
        found: String,
        /// The `version` field found.
        version: u32,
        /// The expected `format`.
        expected: &'static str,
        /// The expected version.
        want: u32,
    },
    /// sweep.toml does not parse.
    #[error("{}: {message}", .path.display())]
    PlanParse {
        /// The file.
        path: PathBuf,
        /// The parser's message (it names the line).
        message: String,
    },
    /// sweep.toml parses but is inconsistent.
    #[error("{}: run {run:?}: {message}", .path.display())]
    PlanInvalid {
        /// The file.
        path: PathBuf,
        /// The offending run's name.
        run: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// sweep.json is not valid JSON.
    #[error("{}: {source}; it records which runs are done: fix it or delete it (finished runs are then found again from runs/*/summary.json)", .path.display())]
    StateParse {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// Another runner holds the sweep's lock.
    #[error("{}: another `ladder sweep run` is working on this sweep ({holder}); wait for it or stop it first", .path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// What the lock file says about its holder.
        holder: String,
    },

    // === Executors ===
    /// A child process could not be started.
    #[error("starting `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A Slurm command failed.
    #[error("`{command}` failed: {message}")]
    Slurm {
        /// The command line.
        command: String,
        /// Its stderr or exit status.
        message: String,
    },
    /// An error from `ladder_train` (config resolution, atomic writes).
    #[error(transparent)]
    Train(#[from] ladder_train::Error),
    /// An error from `ladder_data` (meta.json).
    #[error(transparent)]
    Data(#[from] ladder_data::Error),
    /// An I/O error, with the path.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Wraps an `io::Error` with its path: `.map_err(io(&path))`.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}
