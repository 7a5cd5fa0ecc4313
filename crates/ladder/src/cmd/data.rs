//! `ladder data`: build a data directory (tokenizer.json, train.bin, val.bin, meta.json) from text
//! files, or generate the synthetic source with known entropy.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ladder_data::synth::write_synth;
use ladder_data::{
    load_tokenizer, prepare, Meta, PrepareConfig, Progress, ReadOptions, Split, SynthConfig, Unit,
};

/// Subcommands of `ladder data`.
#[derive(clap::Subcommand, Debug)]
pub enum DataCommand {
    /// Train a byte-level BPE tokenizer on text and tokenize it into train.bin / val.bin.
    Prepare(PrepareArgs),
    /// Generate the synthetic source (Zipf-weighted sparse Markov rules) and its exact entropy.
    Synth(SynthArgs),
    /// Check a data directory (meta.json, both shards' headers and checksums, the tokenizer) and
    /// summarise it.
    Info(InfoArgs),
}

/// Arguments of `ladder data info`.
#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// Data directory written by `ladder data prepare` or `ladder data synth`.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Arguments of `ladder data prepare`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Inputs (formats by content and name; see docs/data.md):
  text files        one document each (UTF-8)
  .jsonl / .ndjson  one document per line, in the string field --field (default \"text\")
  .parquet          one document per row, in the string column --column (default \"text\");
                    row groups are streamed
  gzip / zstd       any of the above but Parquet, compressed (detected by magic bytes; the name
                    without .gz/.zst says what is inside, e.g. data.jsonl.zst)
  directories       read recursively in sorted order; hidden entries such as .git are skipped,
                    and so are binary files (a NUL byte in their first 8 KiB, decompressed), as
                    ripgrep does: a note on stderr says how many and names the first few
A binary file named explicitly is an error. A literal <|endoftext|> also separates documents. A
JSON line that is not JSON or lacks the field, or a null Parquet value, is an error naming the
line or row; --skip-bad counts and skips them instead. The last --val-fraction of the text (cut at
a line start) is the validation split; the tokenizer is trained on the rest. Memory stays bounded
whatever the input's size (the inputs are streamed three times: check, train, tokenize).

Writes into --out: tokenizer.json (Hugging Face format, GPT-2 byte-level BPE), train.bin, val.bin
(token shards) and meta.json (token and byte counts, sha256 of inputs and outputs). The directory is
built beside --out and renamed into place: on error nothing is left at --out.

Examples:
  ladder data prepare --input kjv.txt --out data/kjv --vocab-size 8192
  ladder data prepare --input corpus.jsonl.zst --field content --out data/corpus
  ladder data prepare --input shards/train-*.parquet --column text --skip-bad --out data/web")]
pub struct PrepareArgs {
    /// Text, .jsonl or .parquet files (plain, gzip or zstd) or directories (repeatable, or
    /// several after one --input).
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    pub input: Vec<PathBuf>,
    /// JSON Lines: the string field that holds each document.
    #[arg(long, value_name = "NAME", default_value = "text")]
    pub field: String,
    /// Parquet: the top-level string column that holds each document.
    #[arg(long, value_name = "NAME", default_value = "text")]
    pub column: String,
    /// Count and skip JSON lines that are not JSON or lack --field, and Parquet rows whose
    /// --column is null, instead of failing (a note says how many and shows the first).
    #[arg(long)]
    pub skip_bad: bool,
    /// Data directory to create (must be absent or empty unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Tokenizer vocabulary size, <|endoftext|> included (at least 257).
    #[arg(long, default_value_t = PrepareConfig::default().vocab_size)]
    pub vocab_size: usize,
    /// Fraction of the text held out for validation, in (0, 0.5].
    #[arg(long, default_value_t = PrepareConfig::default().val_fraction)]
    pub val_fraction: f64,
    /// Replace an existing non-empty --out.
    #[arg(long)]
    pub force: bool,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}

/// Arguments of `ladder data synth`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
The source (docs/synthetic.md): K rules, each a sparse Markov chain of order 1-3 on its own
alphabet, used with Zipf frequencies p_k ∝ k^-(1+a); each document (geometric length) follows one
rule. meta.json records entropy_nats_per_token, the exact loss of the true process on val.bin (the
floor no model can beat), and unigram/bigram baselines.

Examples:
  ladder data synth --out data/synth
  ladder data synth --out data/synth-hard --tokens 50000000 --rules 512 --zipf-a 0.3")]
pub struct SynthArgs {
    /// Data directory to create (must be absent or empty unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Tokens in train.bin.
    #[arg(long, default_value_t = SynthConfig::default().train_tokens)]
    pub tokens: u64,
    /// Tokens in val.bin.
    #[arg(long, default_value_t = SynthConfig::default().val_tokens)]
    pub val_tokens: u64,
    /// Seed of the rules and the documents (same seed and knobs: same bytes).
    #[arg(long, default_value_t = SynthConfig::default().seed)]
    pub seed: u64,
    /// Vocabulary size (token 0 is <|endoftext|>), at most 65536.
    #[arg(long, default_value_t = SynthConfig::default().vocab_size)]
    pub vocab_size: usize,
    /// Number of rules K.
    #[arg(long, default_value_t = SynthConfig::default().rules)]
    pub rules: usize,
    /// Zipf exponent a of the rule frequencies p_k ∝ k^-(1+a).
    #[arg(long, default_value_t = SynthConfig::default().zipf_a)]
    pub zipf_a: f64,
    /// Tokens in each rule's alphabet.
    #[arg(long, default_value_t = SynthConfig::default().alphabet)]
    pub alphabet: usize,
    /// Lowest Markov order of a rule (1-3).
    #[arg(long, default_value_t = SynthConfig::default().order_min)]
    pub order_min: usize,
    /// Highest Markov order of a rule (1-3); orders cycle over the rules by rank.
    #[arg(long, default_value_t = SynthConfig::default().order_max)]
    pub order_max: usize,
    /// Candidate next tokens per context.
    #[arg(long, default_value_t = SynthConfig::default().branching)]
    pub branching: usize,
    /// Zipf exponent of the candidates' probabilities.
    #[arg(long, default_value_t = SynthConfig::default().branch_zipf)]
    pub branch_zipf: f64,
    /// Mean document length in tokens (geometric).
    #[arg(long, default_value_t = SynthConfig::default().mean_doc_len)]
    pub mean_doc_len: f64,
    /// Probability of switching rule before each token of a document after the first.
    #[arg(long, default_value_t = SynthConfig::default().switch_prob)]
    pub switch_prob: f64,
    /// Replace an existing non-empty --out.
    #[arg(long)]
    pub force: bool,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(c: DataCommand) -> anyhow::Result<()> {
    match c {
        DataCommand::Prepare(a) => run_prepare(a),
        DataCommand::Synth(a) => run_synth(a),
        DataCommand::Info(a) => run_info(a),
    }
}

fn run_info(a: InfoArgs) -> anyhow::Result<()> {
    let meta = Meta::load(&a.dir)?;
    for split in [Split::Train, Split::Val] {
        meta.open_shard(&a.dir, split)?;
    }
    let tok = load_tokenizer(&a.dir)?;
    anyhow::ensure!(
        tok.get_vocab_size(true) == meta.vocab_size,
        "{}: tokenizer.json has {} tokens but meta.json says vocab_size {}; re-create the data directory",
        a.dir.display(),
        tok.get_vocab_size(true),
        meta.vocab_size
    );
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: ok (shards, checksums and tokenizer checked)",
        a.dir.display()
    )?;
    Ok(summary_lines(&mut out, &meta)?)
}

fn run_prepare(a: PrepareArgs) -> anyhow::Result<()> {
    let cfg = PrepareConfig {
        inputs: a.input,
        vocab_size: a.vocab_size,
        val_fraction: a.val_fraction,
        read: ReadOptions {
            field: a.field,
            column: a.column,
            skip_bad: a.skip_bad,
        },
    };
    let start = Instant::now();
    let bar = Bar::new(a.quiet);
    let meta = prepare(&cfg, &a.out, a.force, &bar)?;
    bar.clear();
    if !a.quiet {
        summary(&a.out, &meta, start.elapsed())?;
    }
    Ok(())
}

fn run_synth(a: SynthArgs) -> anyhow::Result<()> {
    let cfg = SynthConfig {
        seed: a.seed,
        train_tokens: a.tokens,
        val_tokens: a.val_tokens,
        vocab_size: a.vocab_size,
        rules: a.rules,
        zipf_a: a.zipf_a,
        alphabet: a.alphabet,
        order_min: a.order_min,
        order_max: a.order_max,
        branching: a.branching,
        branch_zipf: a.branch_zipf,
        mean_doc_len: a.mean_doc_len,
        switch_prob: a.switch_prob,
    };
    let start = Instant::now();
    let bar = Bar::new(a.quiet);
    let meta = write_synth(&cfg, &a.out, a.force, &bar)?;
    bar.clear();
    if !a.quiet {
        summary(&a.out, &meta, start.elapsed())?;
    }
    Ok(())
}

fn summary(dir: &Path, m: &Meta, took: Duration) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "wrote {} in {:.1}s", dir.display(), took.as_secs_f64())?;
    summary_lines(&mut out, m)
}

fn summary_lines(out: &mut impl Write, m: &Meta) -> std::io::Result<()> {
    writeln!(out, "  {}", m.source)?;
    writeln!(
        out,
        "  vocab {}, train {} tokens ({} bytes, {} documents), val {} tokens ({} bytes, {} documents)",
        m.vocab_size,
        m.train_tokens,
        m.train_bytes,
        m.train_documents,
        m.val_tokens,
        m.val_bytes,
        m.val_documents
    )?;
    if let Some(h) = m.entropy_nats_per_token {
        let bpb = m.bits_per_byte(h).unwrap_or(f64::NAN);
        write!(out, "  entropy {h:.4} nats/token ({bpb:.4} bits/byte)")?;
        if let Some(s) = &m.synth {
            write!(
                out,
                ", ±{:.4}; unigram {:.4}",
                s.entropy_stderr, s.unigram_val_nats
            )?;
            if let Some(b) = s.bigram_val_nats {
                write!(out, ", bigram {b:.4}")?;
            }
        }
        writeln!(out)?;
        if let Some(s) = &m.synth {
            let bounds: Vec<String> = s
                .window_bounds
                .iter()
                .map(|b| {
                    format!(
                        "T={}: {:.4}..{:.4}",
                        b.seq_len, b.entropy_nats_per_token, b.bound_nats_per_token
                    )
                })
                .collect();
            if !bounds.is_empty() {
                writeln!(
                    out,
                    "  best loss with T-token windows: {}",
                    bounds.join(", ")
                )?;
            }
        }
    }
    Ok(())
}

/// An indicatif bar for the library's progress stages; hidden with --quiet or when stderr is not a
/// terminal (logs and pipes get no control characters).
struct Bar {
    bar: Mutex<Option<ProgressBar>>,
    enabled: bool,
    quiet: bool,
}

impl Bar {
    fn new(quiet: bool) -> Self {
        Bar {
            bar: Mutex::new(None),
            enabled: !quiet && std::io::stderr().is_terminal(),
            quiet,
        }
    }

    fn clear(&self) {
        if let Ok(mut b) = self.bar.lock() {
            if let Some(b) = b.take() {
                b.finish_and_clear();
            }
        }
    }
}

impl Progress for Bar {
    fn note(&self, message: &str) {
        if !self.quiet {
            self.clear();
            eprintln!("note: {message}");
        }
    }

    fn stage(&self, name: &str, total: Option<u64>, unit: Unit) {
        if !self.enabled {
            return;
        }
        self.clear();
        let template = match (total, unit) {
            (Some(_), Unit::Bytes) => {
                "{msg:>20} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
            }
            (Some(_), _) => "{msg:>20} [{bar:40}] {human_pos}/{human_len} {per_sec} eta {eta}",
            (None, Unit::Bytes) => "{msg:>20} {spinner} {bytes} {bytes_per_sec} {elapsed}",
            (None, _) => "{msg:>20} {spinner} {elapsed}",
        };
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_message(name.to_string());
        if total.is_none() {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        if let Ok(mut b) = self.bar.lock() {
            *b = Some(bar);
        }
    }

    fn advance(&self, n: u64) {
        if let Ok(b) = self.bar.lock() {
            if let Some(b) = b.as_ref() {
                b.inc(n);
            }
        }
    }

    fn finish_stage(&self) {
        self.clear();
    }
}
