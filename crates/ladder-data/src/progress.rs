//! Progress reporting without a UI dependency: long operations call a [`Progress`] that the CLI
//! implements with a progress bar (and tests with nothing).

/// What a stage counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Bytes of input text.
    Bytes,
    /// Tokens.
    Tokens,
    /// No natural unit (a spinner).
    None,
}

/// Receives progress from long operations. Every method has a no-op default. Called from several
/// threads at once, hence `Sync`.
pub trait Progress: Sync {
    /// A new stage begins; `total` in `unit` when known.
    fn stage(&self, _name: &str, _total: Option<u64>, _unit: Unit) {}
    /// `n` more units of the current stage are done.
    fn advance(&self, _n: u64) {}
    /// The current stage is done.
    fn finish_stage(&self) {}
    /// Something the user should know that is not an error (e.g. files skipped).
    fn note(&self, _message: &str) {}
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
