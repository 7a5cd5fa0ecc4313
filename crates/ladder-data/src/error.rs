//! The crate's error type. Every variant that concerns a file carries its path; messages quote the
//! bad value and, where one is known, say how to fix it.

use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `ladder-data`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // === I/O ===
    /// An operating-system error while reading or writing `path`.
    // The cause is part of the message and deliberately not a `#[source]`: callers print error
    // chains (`{:#}`), which would otherwise repeat it.
    #[error("{}: {cause}", .path.display())]
    Io {
        /// The file or directory being accessed.
        path: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },

    // === Inputs of `ladder data prepare` ===
    /// An `--input` path that does not exist.
    #[error("{}: input not found (check the path passed to --input)", .path.display())]
    MissingInput {
        /// The path as given.
        path: PathBuf,
    },
    /// A data file whose sha256 differs from the one `meta.json` records.
    #[error("{}: sha256 {found} differs from the {expected} recorded in meta.json: the file was changed or damaged after the data directory was made; re-create the directory with `ladder data prepare` (or `ladder data synth`)", .path.display())]
    HashMismatch {
        /// The file.
        path: PathBuf,
        /// The hash meta.json records.
        expected: String,
        /// The hash of the file now.
        found: String,
    },
    /// The inputs hold no text at all.
    #[error("the input is empty: no text found in {inputs} (pass files or directories that contain UTF-8 text)")]
    EmptyInput {
        /// The inputs, joined for display.
        inputs: String,
    },
    /// A file with a NUL byte: almost certainly not text.
    #[error("{}: binary file (NUL byte at byte offset {offset}); pass only UTF-8 text or .jsonl files", .path.display())]
    BinaryFile {
        /// The offending file.
        path: PathBuf,
        /// Byte offset of the first NUL byte.
        offset: u64,
    },
    /// A file that is not valid UTF-8.
    #[error("{}: not valid UTF-8 (invalid byte sequence at byte offset {offset}); convert it to UTF-8, e.g. `iconv -f latin1 -t utf-8`", .path.display())]
    NotUtf8 {
        /// The offending file.
        path: PathBuf,
        /// Byte offset of the first invalid byte.
        offset: u64,
    },
    /// A `.jsonl` line that is not a JSON object.
    #[error("{}:{line}: not valid JSON ({reason}); each line of a .jsonl file must be an object like {{\"text\": \"...\"}} (or pass --skip-bad to count and skip such lines)", .path.display())]
    JsonlBadLine {
        /// The offending file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What the JSON parser said.
        reason: String,
    },
    /// A `.jsonl` line without the string field holding the document.
    #[error("{}:{line}: no string field \"{field}\" in this JSON line; each line must look like {{\"{field}\": \"...\"}} (name another field with --field, or pass --skip-bad to count and skip such lines)", .path.display())]
    JsonlMissingText {
        /// The offending file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The field looked for (`--field`).
        field: String,
    },
    /// A gzip or zstd stream that cannot be decompressed.
    #[error("{}: corrupt {format} stream: {cause}; check the file (e.g. `{format} -t`)", .path.display())]
    Decompress {
        /// The compressed file.
        path: PathBuf,
        /// `gzip` or `zstd`.
        format: &'static str,
        /// What the decoder said.
        cause: std::io::Error,
    },
    /// A Parquet file the reader refuses (bad footer, unsupported encoding or codec, ...).
    #[error("{}: cannot read Parquet file: {cause}", .path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What the parquet crate said.
        cause: String,
    },
    /// `--column` names no top-level column of a Parquet file.
    #[error("{}: no column \"{column}\" (the file has: {available}); pass --column NAME", .path.display())]
    ParquetNoColumn {
        /// The file.
        path: PathBuf,
        /// The column looked for.
        column: String,
        /// The top-level columns there are, joined for display.
        available: String,
    },
    /// `--column` names a column that does not hold strings.
    #[error("{}: column \"{column}\" holds {found} values, not strings; pass --column with a string (BYTE_ARRAY/UTF8) column", .path.display())]
    ParquetColumnType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Its physical type or repetition.
        found: String,
    },
    /// The inputs gave different text on a later pass than on the first.
    #[error("the inputs changed while they were read ({first} bytes of text on the first pass, {later} on a later one); run again when nothing writes to {inputs}")]
    InputChanged {
        /// Text bytes counted on the first pass.
        first: u64,
        /// Text bytes on the later pass.
        later: u64,
        /// The inputs, joined for display.
        inputs: String,
    },
    /// A Parquet row whose document is null or not UTF-8.
    #[error("{}: row {row}: {reason} (pass --skip-bad to count and skip such rows)", .path.display())]
    ParquetBadRow {
        /// The file.
        path: PathBuf,
        /// 1-based row number in the file.
        row: u64,
        /// What is wrong with it.
        reason: String,
    },

    // === Options ===
    /// `--vocab-size` below what a byte-level tokenizer needs.
    #[error("vocab size {vocab_size} is too small: a byte-level BPE tokenizer needs at least {min} (256 byte tokens + special tokens); use --vocab-size {min} or more")]
    VocabTooSmall {
        /// Requested size.
        vocab_size: usize,
        /// Smallest size accepted.
        min: usize,
    },
    /// BPE training ran out of pairs to merge before reaching `--vocab-size`.
    #[error("vocab size {vocab_size} is too large for this data: BPE training stopped at {reached} tokens (no pair left to merge); use --vocab-size {reached} or less, or add more text")]
    VocabTooLarge {
        /// Requested size.
        vocab_size: usize,
        /// Size BPE training reached.
        reached: usize,
    },
    /// `--val-fraction` outside (0, 0.5].
    #[error("val fraction {value} is out of range: it must be in (0, 0.5]")]
    BadValFraction {
        /// The value given.
        value: f64,
    },
    /// Too little text to cut a non-empty train and validation split.
    #[error("too little text ({bytes} bytes) to split into non-empty train and validation parts with val fraction {val_fraction}; add text (or lines) or raise --val-fraction")]
    TooLittleText {
        /// Bytes of text found.
        bytes: u64,
        /// The requested fraction.
        val_fraction: f64,
    },
    /// An invalid synthetic-source setting.
    #[error("synthetic source: {field} = {value} is invalid: {rule}")]
    BadSynthConfig {
        /// The [`crate::SynthConfig`] field.
        field: &'static str,
        /// The value given, formatted.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// The output directory exists and is not empty.
    #[error("{}: output directory exists and is not empty; pass --force to replace it", .path.display())]
    OutExists {
        /// The `--out` path.
        path: PathBuf,
    },

    // === Tokenizer ===
    /// An error raised by the Hugging Face `tokenizers` crate.
    #[error("{}: tokenizer error: {cause}", .path.display())]
    Tokenizer {
        /// The tokenizer file (or data directory) concerned.
        path: PathBuf,
        /// The underlying error.
        cause: tokenizers::Error,
    },

    /// The fast GPT-2 pre-tokenizer disagreed with `tokenizers` (a bug in ladder).
    #[error("{}: internal error: ladder's fast GPT-2 pre-tokenizer disagrees with the `tokenizers` crate on this text; please report it with the input", .path.display())]
    EncoderMismatch {
        /// The input (first `--input`) being tokenized.
        path: PathBuf,
    },

    // === Token shards ===
    /// The file does not start with the shard magic.
    #[error("{}: not a ladder token shard (magic {found:?}, expected {expected:?}); re-create it with `ladder data prepare` or `ladder data synth`", .path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first bytes found.
        found: String,
        /// The magic expected.
        expected: &'static str,
    },
    /// The shard was written by an incompatible format version.
    #[error("{}: token shard format version {found} is not supported (this ladder reads version {supported}); re-create it with `ladder data prepare` or `ladder data synth`", .path.display())]
    BadVersion {
        /// The file.
        path: PathBuf,
        /// The version in the header.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A header field holds an impossible value.
    #[error("{}: corrupt token shard header ({what}); re-create it with `ladder data prepare` or `ladder data synth`", .path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// Which field is wrong and how.
        what: String,
    },
    /// The file length disagrees with the token count in the header.
    #[error("{}: token shard is {actual} bytes but its header promises {expected} (truncated or corrupt); re-create it with `ladder data prepare` or `ladder data synth`", .path.display())]
    BadLength {
        /// The file.
        path: PathBuf,
        /// Header length plus count times width.
        expected: u64,
        /// Actual file length.
        actual: u64,
    },
    /// The payload checksum disagrees with the header.
    #[error("{}: token shard checksum mismatch (header {expected:#018x}, payload {actual:#018x}): the file is corrupt; re-create it with `ladder data prepare` or `ladder data synth`", .path.display())]
    BadChecksum {
        /// The file.
        path: PathBuf,
        /// Checksum stored in the header.
        expected: u64,
        /// Checksum of the payload.
        actual: u64,
    },
    /// A token id at or above the shard's vocabulary size.
    #[error("{}: token {token} at index {index} >= vocab size {vocab}; re-create it with `ladder data prepare` or `ladder data synth`", .path.display())]
    TokenOutOfRange {
        /// The file.
        path: PathBuf,
        /// Position of the first bad token.
        index: u64,
        /// Its value.
        token: u32,
        /// The shard's vocabulary size.
        vocab: u32,
    },
    /// A shard too short for the requested windows.
    #[error("{}: {tokens} tokens are too few for {needed} (sequences of {seq_len}+1 tokens); use a shorter sequence length or more data", .path.display())]
    TooFewTokens {
        /// The shard.
        path: PathBuf,
        /// Tokens in the shard.
        tokens: u64,
        /// Tokens needed.
        needed: u64,
        /// The sequence length asked for.
        seq_len: usize,
    },
    /// A zero batch size or sequence length.
    #[error("{what} must be positive")]
    ZeroSize {
        /// Which quantity.
        what: &'static str,
    },

    // === meta.json ===
    /// `meta.json` does not parse.
    #[error("{}: invalid meta.json: {cause}; re-create the data directory with `ladder data prepare` or `ladder data synth`", .path.display())]
    MetaParse {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        cause: serde_json::Error,
    },
    /// `meta.json` has an unsupported `format_version`.
    #[error("{}: meta.json format version {found} is not supported (this ladder reads version {supported}); re-create the data directory", .path.display())]
    MetaVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// `meta.json` and a shard disagree.
    #[error("{}: {what}: meta.json says {meta}, the shard says {shard}; the data directory is inconsistent, re-create it", .path.display())]
    MetaMismatch {
        /// The shard.
        path: PathBuf,
        /// The quantity that differs.
        what: &'static str,
        /// Value in meta.json.
        meta: u64,
        /// Value in the shard.
        shard: u64,
    },
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause,
        }
    }
}
