//! The crate's error type. Every variant carries the offending values so that a caller can match
//! on it and a user can read what to change.

/// Errors from configuring or running the model. The kernels themselves never fail: every input
/// is checked here, before any work starts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config dimension is zero.
    #[error("model config: {field} must be > 0")]
    ZeroDimension {
        /// The config field.
        field: &'static str,
    },
    /// `n_embd` is not a multiple of `n_head`.
    #[error("model config: n_embd {n_embd} is not divisible by n_head {n_head}; pick n_embd = n_head * head_size")]
    HeadsDontDivide {
        /// Channels.
        n_embd: usize,
        /// Heads.
        n_head: usize,
    },
    /// The vocabulary does not fit token ids stored as `u32`.
    #[error("model config: vocab_size {vocab_size} is too large (max {max})")]
    VocabTooLarge {
        /// Requested vocabulary size.
        vocab_size: usize,
        /// Largest supported size.
        max: usize,
    },
    /// An architecture spec lacks a tensor the model needs (or lists one twice).
    #[error("architecture {arch}: {message}")]
    Spec {
        /// The spec's name.
        arch: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A config value the family does not support.
    #[error("model config: architecture {arch} does not support {what}")]
    Unsupported {
        /// The family.
        arch: &'static str,
        /// The value and how to fix it.
        what: String,
    },
    /// A config value out of its range.
    #[error("model config: {field} = {value} {problem}")]
    BadValue {
        /// The config field.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong and how to fix it.
        problem: &'static str,
    },
    /// A batch dimension is zero.
    #[error("workspace: batch size must be > 0")]
    ZeroBatch,
    /// The sequence length exceeds the positions the model holds.
    #[error("sequence length {seq_len} is 0 or exceeds block_size {block_size}; lower train.seq_len or raise model.block_size")]
    SeqLen {
        /// Requested sequence length.
        seq_len: usize,
        /// Positions in `wpe`.
        block_size: usize,
    },
    /// A buffer has the wrong number of elements.
    #[error("{what}: expected {expected} elements, got {got}")]
    Length {
        /// Which buffer (`params`, `grads`, `inputs`, `targets`, ...).
        what: &'static str,
        /// Expected element count.
        expected: usize,
        /// Actual element count.
        got: usize,
    },
    /// A token id is not in the vocabulary.
    #[error("{what}[{index}] = {token} is out of range for vocab_size {vocab_size}")]
    TokenOutOfRange {
        /// `inputs` or `targets`.
        what: &'static str,
        /// Position in the buffer.
        index: usize,
        /// The bad token id.
        token: u32,
        /// The model's vocabulary size.
        vocab_size: usize,
    },
    /// The KV cache holds as many positions as it can.
    #[error("KV cache is full ({capacity} positions); start a new cache or shorten the sample")]
    CacheFull {
        /// Positions the cache holds (min of max_len and block_size).
        capacity: usize,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
