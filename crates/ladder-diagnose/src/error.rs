//! Errors of `ladder-diagnose`: every message names the file and says how to fix it.

use std::path::{Path, PathBuf};

/// What can go wrong while reading a run or a law.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not what a run directory holds.
    #[error("{path}: {detail}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, and the fix.
        detail: String,
    },
    /// The run directory lacks `summary.json`.
    #[error("{path} is not a finished run directory (no summary.json); pass the directory `ladder train --out` wrote")]
    NotARun {
        /// The directory.
        path: PathBuf,
    },
    /// The fit file could not be used.
    #[error(transparent)]
    Law(#[from] ladder_laws::Error),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn malformed(path: &Path, detail: impl Into<String>) -> Self {
        Error::Malformed {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
