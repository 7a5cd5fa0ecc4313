//! The crate's error type: what went wrong, with the path involved and, where one is known, how
//! to fix it.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything `ladder-report` can refuse or fail to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{}", .path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The input holds no run directory at all.
    #[error(
        "{}: no run directories found (a run directory holds summary.json; a sweep holds runs/*/summary.json); \
         give a sweep directory, a folder of run directories, or one run directory",
        .path.display()
    )]
    NoRuns {
        /// The input as given.
        path: PathBuf,
    },
    /// Run directories were found, but none has what a report needs.
    #[error(
        "{}: no usable runs: {}; train runs with `ladder train` or `ladder sweep run` first",
        .path.display(),
        .skipped.iter().map(|(r, why)| format!("{r} ({why})")).collect::<Vec<_>>().join("; ")
    )]
    NoUsableRuns {
        /// The input as given.
        path: PathBuf,
        /// Each run found and why it could not be used.
        skipped: Vec<(String, String)>,
    },
    /// A JSON file (summary.json, diagnosis.json, metrics.jsonl) is malformed.
    #[error("{}: {message}", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A fit.json given with `--fit` could not be read.
    #[error("--fit: {error} (write one with `ladder fit INPUT --law chinchilla --out fit.json`)")]
    Fit {
        /// The fit.json.
        path: PathBuf,
        /// What `ladder_laws` said (it names the file).
        error: ladder_laws::Error,
    },
    /// A fit.json holds a law the report does not draw.
    #[error("--fit {}: law `{law}` is not drawn by the report (it draws chinchilla and isoflop fits)", .path.display())]
    UnsupportedLaw {
        /// The fit.json.
        path: PathBuf,
        /// Its law.
        law: String,
    },
    /// Two fit.json files of the same law.
    #[error("--fit given twice for law `{law}` ({} and {}); give one fit per law", .first.display(), .second.display())]
    DuplicateLaw {
        /// The law.
        law: String,
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
    },
    /// `--highlight NAME` matches no run.
    #[error("--highlight {name}: no run of that name (runs: {})", .available.join(", "))]
    UnknownRun {
        /// The name given.
        name: String,
        /// The run names found.
        available: Vec<String>,
    },
    /// The font file `LADDER_REPORT_FONT` names does not exist.
    #[error(
        "no TrueType font for the plots' text (looked for {}); point LADDER_REPORT_FONT at an existing \
         .ttf/.otf file, set it to `builtin` for the embedded DejaVu Sans, or unset it",
        .looked.join(", ")
    )]
    NoFont {
        /// The places searched.
        looked: Vec<String>,
    },
    /// A font file could not be used.
    #[error("{}: not a usable TrueType/OpenType font", .path.display())]
    BadFont {
        /// The font file.
        path: PathBuf,
    },
    /// plotters failed to draw a figure.
    #[error("drawing figure `{figure}`: {message}")]
    Plot {
        /// The figure's file stem.
        figure: String,
        /// plotters' message.
        message: String,
    },
    /// The output path is not a usable HTML file name.
    #[error("--out {}: {why}", .path.display())]
    BadOutput {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
