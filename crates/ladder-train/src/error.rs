//! The error type of `ladder_train`: one variant per way a config, a run directory or a
//! training run can go wrong. Messages quote the bad value and, where one is known, the fix.

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // === Config ===
    /// A `--config` file is not valid TOML.
    #[error("{}: not valid TOML: {message}", .path.display())]
    ConfigParse {
        /// The config file.
        path: PathBuf,
        /// The TOML parser's message (it names the line).
        message: String,
    },
    /// A section that the schema (DESIGN §7) does not have.
    #[error("{origin}: unknown section [{section}] (valid sections: {})", .valid.join(", "))]
    UnknownSection {
        /// Where the key came from: a file path or `--set ...`.
        origin: String,
        /// The unknown section name.
        section: String,
        /// The sections that exist.
        valid: Vec<String>,
    },
    /// A key that its section does not have.
    #[error("{origin}: unknown key `{section}.{key}` (valid keys of [{section}]: {})", .valid.join(", "))]
    UnknownKey {
        /// Where the key came from: a file path or `--set ...`.
        origin: String,
        /// The section.
        section: String,
        /// The unknown key.
        key: String,
        /// The keys that section has.
        valid: Vec<String>,
    },
    /// A value of the wrong TOML type for its key.
    #[error("{origin}: `{key}` expects {expected}, got {got}")]
    WrongType {
        /// Where the value came from: a file path or `--set ...`.
        origin: String,
        /// `section.key`.
        key: String,
        /// What the key takes ("an integer", "a float", "a string").
        expected: &'static str,
        /// What was given, quoted.
        got: String,
    },
    /// A `--set` argument that is not `section.key=value`.
    #[error("--set {arg}: expected section.key=value, e.g. --set train.lr=1e-3")]
    BadSetSyntax {
        /// The argument as given.
        arg: String,
    },
    /// A value TOML accepts but the schema does not (a negative count, an unknown schedule name).
    #[error("{origin}: {message}")]
    ConfigValue {
        /// Where the value came from.
        origin: String,
        /// serde's description of the mismatch.
        message: String,
    },
    /// A numeric setting that must be positive is not.
    #[error("{key} = {value} must be positive{hint}")]
    NotPositive {
        /// `section.key`.
        key: &'static str,
        /// The bad value, as written.
        value: String,
        /// Extra advice (may be empty).
        hint: &'static str,
    },
    /// A setting outside its allowed range.
    #[error("{key} = {value} is out of range: it must lie in {range}")]
    OutOfRange {
        /// `section.key`.
        key: &'static str,
        /// The bad value.
        value: String,
        /// The allowed range, in words.
        range: &'static str,
    },
    /// `n_embd` must split evenly over the heads.
    #[error(
        "model.n_embd = {n_embd} is not divisible by model.n_head = {n_head}: each head gets n_embd/n_head \
         channels; pick n_embd as a multiple of n_head (e.g. {suggest})"
    )]
    HeadsDontDivide {
        /// Channels.
        n_embd: usize,
        /// Heads.
        n_head: usize,
        /// The nearest multiple of n_head at or above n_embd.
        suggest: usize,
    },
    /// Training sequences longer than the model's position table.
    #[error(
        "train.seq_len = {seq_len} exceeds model.block_size = {block_size}: the model has only {block_size} \
         positions; lower train.seq_len or raise model.block_size"
    )]
    SeqLenTooLong {
        /// Requested sequence length.
        seq_len: usize,
        /// Positions the model holds.
        block_size: usize,
    },
    /// None of `train.tokens`, `train.steps`, `train.max_time` is set.
    #[error(
        "no stop condition: set train.tokens, train.steps or train.max_time \
         (e.g. --set train.steps=1000 or --set train.max_time=20m)"
    )]
    NoStopCondition,
    /// `train.max_time` is not a duration such as "20m" or "1h30m".
    #[error("train.max_time = {value:?} is not a duration: {reason} (examples: \"90s\", \"20m\", \"1h30m\", \"2d\")")]
    BadDuration {
        /// The string given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An unknown `--preset`.
    #[error("unknown preset {name:?} (valid presets: tiny, S, M)")]
    UnknownPreset {
        /// The name given.
        name: String,
    },
    /// The config's vocabulary differs from the data's.
    #[error(
        "model.vocab_size = {config} but the data directory's tokenizer has {data} tokens; \
         remove model.vocab_size (it is taken from the data) or use matching data"
    )]
    VocabMismatch {
        /// From the config.
        config: usize,
        /// From meta.json.
        data: usize,
    },
    /// The data directory does not exist.
    #[error(
        "data directory {} does not exist; make one with `ladder data synth --out DIR` or \
         `ladder data prepare --input TEXT --out DIR`",
        .path.display()
    )]
    DataDirMissing {
        /// The path given.
        path: PathBuf,
    },
    /// No data directory was named.
    #[error("no data directory: pass --data DIR (or set data.dir in the config)")]
    NoDataDir,

    // === Run directories and files ===
    /// `--out` already holds files.
    #[error(
        "{}: run directory exists and is not empty; choose a new --out, or pass --force to overwrite it",
        .path.display()
    )]
    RunDirNotEmpty {
        /// The run directory.
        path: PathBuf,
    },
    /// A run directory without a finished checkpoint.
    #[error("{}: no checkpoint (checkpoints/LATEST is missing); did the run finish?", .path.display())]
    NoCheckpoint {
        /// The run directory.
        path: PathBuf,
    },
    /// A checkpoint file whose contents do not match what it should hold.
    #[error("{}: {detail}", .path.display())]
    BadCheckpoint {
        /// The offending file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A file's bytes do not match the sha256 recorded in state.json.
    #[error("{}: sha256 {found} does not match state.json ({expected}); the checkpoint is corrupt", .path.display())]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// Recorded hash.
        expected: String,
        /// Hash of the bytes on disk.
        found: String,
    },
    /// A token file for `debug grads` of the wrong size.
    #[error("{}: holds {bytes} bytes, expected {expected} (= B*(T+1) = {count} little-endian u32 token ids)", .path.display())]
    TokenFileSize {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
        /// Expected size in bytes.
        expected: u64,
        /// Expected number of tokens.
        count: usize,
    },
    /// A token id at or above the vocabulary size.
    #[error("token id {token} at position {index} is >= the vocabulary size {vocab}")]
    TokenOutOfRange {
        /// Position in the input.
        index: usize,
        /// The id.
        token: u32,
        /// Vocabulary size.
        vocab: usize,
    },
    /// A prompt that does not fit in the model's context.
    #[error(
        "the prompt is {tokens} tokens but the model holds only {block_size} positions; shorten the prompt"
    )]
    PromptTooLong {
        /// Prompt length in tokens.
        tokens: usize,
        /// Positions the model holds.
        block_size: usize,
    },
    /// An empty prompt with a tokenizer that has no end-of-text token to start from.
    #[error(
        "the prompt is empty and the tokenizer has no <|endoftext|> token to start a fresh document from; give a non-empty --prompt"
    )]
    NoEndOfTextToken,
    /// Sampling settings out of range.
    #[error("--temperature {0} must be >= 0 (0 = greedy)")]
    BadTemperature(f32),
    /// Tokenizer failure while encoding or decoding.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// An I/O error, with the path it concerns (the cause follows in the error chain).
    #[error("{}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file that does not parse (the cause follows in the error chain).
    #[error("{}: invalid JSON", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser error.
        #[source]
        source: serde_json::Error,
    },
    /// safetensors (de)serialisation (the cause follows in the error chain).
    #[error("{}: not a valid safetensors file", .path.display())]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// The library error.
        #[source]
        source: safetensors::SafeTensorError,
    },
    /// The rayon thread pool could not be built.
    #[error("cannot start {threads} threads: {message}")]
    ThreadPool {
        /// Requested threads.
        threads: usize,
        /// rayon's message.
        message: String,
    },

    // === Training ===
    /// The loss or the gradient norm became NaN or infinite.
    #[error(
        "training diverged at step {step}: {what} is {value} (non-finite); lower train.lr, raise \
         train.warmup_steps or check train.grad_clip"
    )]
    Diverged {
        /// The optimizer step (1-based) at which it happened.
        step: u64,
        /// "loss" or "grad_norm".
        what: &'static str,
        /// The value seen.
        value: f32,
    },
    /// The health monitor stopped the run (`--health stop`, or rollbacks exhausted).
    #[error(
        "stopped by the health monitor at step {step}: {detail}; the last good state is checkpointed \
         ({}), so inspect events.jsonl, adjust the config and continue with \
         `ladder train --out RUN --resume`",
        .checkpoint.display()
    )]
    HealthStop {
        /// The step that was judged unhealthy.
        step: u64,
        /// What the monitor found.
        detail: String,
        /// The checkpoint holding the last good state.
        checkpoint: PathBuf,
    },
    /// `--sdc-check-every`: the ranks' parameters disagree, or one process computed a step's
    /// gradient twice and got different bits (silent data corruption).
    #[error(
        "silent data corruption detected at step {step}: {detail}. The run stopped without \
         checkpointing this state; check the hardware of the machine named, then continue with \
         `ladder train --out RUN --resume`, which restarts from {resume_from}"
    )]
    Sdc {
        /// The step whose check failed.
        step: u64,
        /// What differed, naming the ranks.
        detail: String,
        /// The ranks named as wrong (empty for one process).
        suspects: Vec<usize>,
        /// Where a resume starts: the last checkpoint the ranks agreed on.
        resume_from: String,
    },
    /// `--inject bitflip@K:RANK` names a rank the job does not have.
    #[error(
        "--inject bitflip@{step}:{rank}: the job has {ranks} rank(s), so the rank must be below {ranks}"
    )]
    InjectRank {
        /// The step of the injection.
        step: u64,
        /// The rank asked for.
        rank: usize,
        /// World size.
        ranks: usize,
    },
    /// A resume with a config that changes the model's shape or the run's identity.
    #[error(
        "cannot resume with this config: {} changes the model's shape or the run's identity \
         (the checkpoint's parameters, data position or data order would not fit); drop those \
         --set overrides, or start a new run with a new --out",
        .keys.join(", ")
    )]
    ResumeConfig {
        /// `key: old → new` for each refused key.
        keys: Vec<String>,
    },
    /// A checkpoint could not be written (disk full, unwritable directory).
    #[error(
        "cannot write checkpoint {}; the previous checkpoints are intact (newest: {previous}). \
         Free disk space or fix the directory's permissions, then continue with \
         `ladder train --out RUN --resume`",
        .dir.display()
    )]
    CheckpointWrite {
        /// The checkpoint directory it was writing.
        dir: PathBuf,
        /// The newest checkpoint still on disk ("none" if there is none).
        previous: String,
        /// What failed.
        #[source]
        source: Box<Error>,
    },
    /// A supervised trainer exited in a way a restart cannot fix.
    #[error("the trainer ended with {how}: {hint}; not restarting")]
    ChildFailed {
        /// "exit code 3", "signal 9 (SIGKILL)".
        how: String,
        /// Why it is not restarted and what to do.
        hint: &'static str,
    },
    /// A supervised trainer kept dying at the same step.
    #[error(
        "crash loop: the trainer died {failures} times in a row without getting past step {step} \
         (last: {how}); a restart would fail again. Look at the errors above and at events.jsonl, fix \
         the cause, then `ladder train --out RUN --resume`"
    )]
    CrashLoop {
        /// The step it could not get past.
        step: u64,
        /// Consecutive failures there.
        failures: u32,
        /// How the last one ended.
        how: String,
    },
    /// A supervised trainer used up `--max-restarts`.
    #[error(
        "the trainer died again after step {step} ({how}) after {restarts} restarts (--max-restarts); \
         giving up. Raise --max-restarts or continue with `ladder train --out RUN --resume --supervise`"
    )]
    TooManyRestarts {
        /// Restarts taken.
        restarts: u32,
        /// How the last child ended.
        how: String,
        /// The last logged step.
        step: u64,
    },
    // === Data-parallel jobs (see `crate::comm`) ===
    /// A collective operation failed.
    #[error("{op} between the ranks failed: {message}")]
    Comm {
        /// The operation ("init", "all-reduce", ...).
        op: &'static str,
        /// What went wrong.
        message: String,
    },
    /// Some ranks of a data-parallel job failed and every rank knows it (see `comm::agree`);
    /// `own` is this rank's error, if it had one.
    #[error("{}", ranks_message(*.rank, .failed, .own.as_deref()))]
    Ranks {
        /// The ranks that failed.
        failed: Vec<usize>,
        /// This rank's own error.
        own: Option<Box<Error>>,
        /// This rank.
        rank: usize,
    },
    /// The training or validation split is too small for this many ranks.
    #[error(
        "{ranks} ranks × {per_rank} sequences per rank = {global} sequences per {what}, but the \
         {split} split holds only {windows} windows of {seq_len} tokens; use at most {max_ranks} \
         ranks, or a smaller train.batch_size / train.grad_accum, or more data"
    )]
    TooManyRanks {
        /// World size.
        ranks: usize,
        /// Sequences each rank takes per step (or per evaluation batch).
        per_rank: usize,
        /// `ranks · per_rank`.
        global: usize,
        /// "optimizer step" or "evaluation batch".
        what: &'static str,
        /// "train" or "val".
        split: &'static str,
        /// Windows of `seq_len + 1` tokens in the split.
        windows: u64,
        /// T.
        seq_len: usize,
        /// The largest world size that fits.
        max_ranks: u64,
    },
    /// An error from the model crate (shapes, config).
    #[error(transparent)]
    Model(#[from] ladder_model::Error),
    /// An error from the data crate (shards, meta.json, tokenizer).
    #[error(transparent)]
    Data(#[from] ladder_data::Error),
}

impl Error {
    /// Whether every rank of a data-parallel job returns this error too, so this rank may exit
    /// normally: an agreed failure, a divergence (the loss and gradients are the same on every
    /// rank) or an SDC verdict (every rank has every checksum). Any other error on one rank of
    /// several must end the job with `Communicator::abort`, or the other ranks would wait for it
    /// in their next collective.
    pub fn is_shared_by_all_ranks(&self) -> bool {
        matches!(
            self,
            Error::Ranks { .. } | Error::Diverged { .. } | Error::Sdc { .. }
        )
    }

    /// Whether this rank has nothing of its own to report: only other ranks failed.
    pub fn is_only_peer_failure(&self) -> bool {
        matches!(self, Error::Ranks { own: None, .. })
    }
}

fn ranks_message(rank: usize, failed: &[usize], own: Option<&Error>) -> String {
    let list = failed
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    match own {
        Some(e) if failed.len() > 1 => format!("rank {rank}: {e} (ranks {list} failed)"),
        Some(e) => format!("rank {rank}: {e}"),
        None => format!(
            "rank {rank}: stopping because rank(s) {list} failed (their messages are above)"
        ),
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to an I/O error: `fs::read(p).map_err(io(p))`.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}
