//! The crate's error type: one variant per way a fit can go wrong, each carrying the facts a
//! message needs (path, line, column, value) and, where one is known, how to fix it.

use std::path::PathBuf;

/// "line N, " for a file line, nothing for line 0 (a run directory, which has no lines).
fn at(line: u64) -> String {
    if line == 0 {
        String::new()
    } else {
        format!("line {line}, ")
    }
}

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything `ladder-laws` can refuse or fail to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written (the cause is the error's source, which
    /// `{:#}` in anyhow or an error-chain printer shows after the path).
    #[error("{}", .path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The CSV parser failed (bad quoting, ragged row, invalid UTF-8).
    #[error("{}: line {line}: {message}", .path.display())]
    Csv {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line in the file (0 when unknown).
        line: u64,
        /// What the parser said.
        message: String,
    },
    /// The CSV has no header, or a header and no rows.
    #[error("{}: {what}; expected a header line (e.g. `N,D,loss`) and one row per run", .path.display())]
    EmptyFile {
        /// The CSV file.
        path: PathBuf,
        /// "empty file" or "no data rows".
        what: &'static str,
    },
    /// Two header cells have the same name, so a column reference would be ambiguous.
    #[error("{}: column `{name}` appears twice in the header (columns {first} and {second}); rename one", .path.display())]
    DuplicateColumn {
        /// The CSV file.
        path: PathBuf,
        /// The repeated name.
        name: String,
        /// 1-based position of its first occurrence.
        first: usize,
        /// 1-based position of its second occurrence.
        second: usize,
    },
    /// A column the law needs is not in the header.
    #[error("{}: no column `{name}` (the header has: {}){hint}", .path.display(), .available.join(", "))]
    MissingColumn {
        /// The CSV file.
        path: PathBuf,
        /// The column that was looked for.
        name: String,
        /// The columns that exist.
        available: Vec<String>,
        /// Extra advice, starting with "; " when not empty.
        hint: String,
    },
    /// A cell that must hold a number does not parse as one.
    #[error("{}: {}column `{column}`: `{value}` is not a number", .path.display(), at(*.line))]
    NotNumeric {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line in the file.
        line: u64,
        /// Column name.
        column: String,
        /// The cell as written.
        value: String,
    },
    /// A cell that must hold a date or decimal year holds neither.
    #[error("{}: {}column `{column}`: `{value}` is neither a date YYYY-MM-DD nor a decimal year", .path.display(), at(*.line))]
    BadDate {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line in the file.
        line: u64,
        /// Column name.
        column: String,
        /// The cell as written.
        value: String,
    },
    /// A value that must be finite and > 0 (N, D, C, loss, x and y of power laws) is not.
    #[error("{source_name}: {}column `{column}`: {value} must be finite and > 0 (the fit works in log space)", at(*.line))]
    NotPositive {
        /// File (or run directory) the value came from.
        source_name: String,
        /// 1-based line in the file (0 for a run directory).
        line: u64,
        /// Column or key name.
        column: String,
        /// The offending value.
        value: f64,
    },
    /// A standard error that is not finite and > 0.
    #[error("{source_name}: {}column `{column}`: standard error {value} must be finite and > 0 (drop the column for an unweighted fit)", at(*.line))]
    BadStandardError {
        /// File the value came from.
        source_name: String,
        /// 1-based line in the file.
        line: u64,
        /// Column name.
        column: String,
        /// The offending value.
        value: f64,
    },
    /// A value that must be finite is not.
    #[error("{source_name}: {}column `{column}`: {value} is not finite", at(*.line))]
    NotFinite {
        /// File the value came from.
        source_name: String,
        /// 1-based line in the file.
        line: u64,
        /// Column name.
        column: String,
        /// The offending value.
        value: f64,
    },
    /// Fewer points than the law has free parameters (plus one, so that something is left to fit).
    #[error("{law}: {points} usable point(s), but {params} parameters need at least {needed}")]
    TooFewPoints {
        /// The law being fitted.
        law: &'static str,
        /// Usable points.
        points: usize,
        /// Free parameters of the law.
        params: usize,
        /// Minimum number of points accepted.
        needed: usize,
    },
    /// The data cannot pin the parameters down, e.g. every run has the same N.
    #[error("{law}: all {points} points have {column} = {value}, so {why}; {fix}")]
    Unidentifiable {
        /// The law being fitted.
        law: &'static str,
        /// How many points.
        points: usize,
        /// The quantity that does not vary.
        column: &'static str,
        /// Its single value.
        value: f64,
        /// Which parameters become inseparable.
        why: &'static str,
        /// How to fix it.
        fix: &'static str,
    },
    /// No start of the optimiser converged; the best point found is reported anyway.
    #[error("{law}: the fit did not converge ({converged} of {starts} starts converged); best objective {best:.6e} at {}", fmt_params(.params))]
    NotConverged {
        /// The law being fitted.
        law: &'static str,
        /// Starts tried.
        starts: usize,
        /// Starts that converged.
        converged: usize,
        /// Best objective found.
        best: f64,
        /// Parameters at the best objective (name, value).
        params: Vec<(String, f64)>,
    },
    /// A JSON file (summary.json, metrics.jsonl, fit.json) is malformed.
    #[error("{}: {message}", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A directory holds no usable runs.
    #[error("{}: no usable runs{}", .path.display(), fmt_skipped(.skipped))]
    NoRuns {
        /// The directory searched.
        path: PathBuf,
        /// Runs that were found but skipped, with the reason.
        skipped: Vec<(String, String)>,
    },
    /// An option value breaks a rule.
    #[error("{name} = {value}: {rule}")]
    InvalidOption {
        /// Option name as the user knows it (`--bootstrap`, `delta`).
        name: &'static str,
        /// The rejected value, as written.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// The IsoFLOP or envelope data does not yield enough budgets for a power law.
    #[error("{law}: {usable} usable compute budget(s) out of {total}; need at least 2 to fit N_opt(C). {detail}")]
    TooFewBudgets {
        /// The law being fitted.
        law: &'static str,
        /// Budgets with an in-range vertex / an interior envelope point.
        usable: usize,
        /// Budgets found.
        total: usize,
        /// Why the others were rejected and what to do.
        detail: String,
    },
    /// A backtest holds out so many budgets that too few are left to fit the law.
    #[error("--holdout-top {holdout} leaves {left} of {total} compute budget(s) to fit; {law} needs at least {needed}. Use --holdout-top <= {max} or add budgets")]
    HoldoutTooLarge {
        /// The law being backtested.
        law: &'static str,
        /// Budgets held out.
        holdout: usize,
        /// Budgets left to fit.
        left: usize,
        /// Budgets found.
        total: usize,
        /// Budgets the law needs.
        needed: usize,
        /// The largest usable `--holdout-top` (0 when none is).
        max: usize,
    },
    /// Two fits cannot be compared (different laws, no bootstrap samples, a bad option).
    #[error("compare: {message}")]
    Compare {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A prediction was asked of a law that cannot make it.
    #[error("law `{law}` cannot predict {what}{hint}")]
    Unsupported {
        /// The law in the fit file.
        law: String,
        /// What was asked.
        what: &'static str,
        /// Advice, starting with "; " when not empty.
        hint: &'static str,
    },
}

fn fmt_params(p: &[(String, f64)]) -> String {
    let v: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v:.6}")).collect();
    v.join(", ")
}

fn fmt_skipped(s: &[(String, String)]) -> String {
    if s.is_empty() {
        " (no summary.json found; a run directory holds summary.json, a sweep holds runs/*/summary.json)"
            .to_string()
    } else {
        let v: Vec<String> = s.iter().map(|(r, why)| format!("{r}: {why}")).collect();
        format!("; skipped: {}", v.join("; "))
    }
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
