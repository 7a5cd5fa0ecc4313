//! `ladder data prepare`: text, JSON Lines and Parquet files in (plain, gzip or zstd), a data
//! directory out (tokenizer, shards, meta).
//!
//! 1. Collect the input files: files as given, directories walked recursively in sorted order
//!    (hidden entries, symbolic links to directories and binary files skipped; `crate::input`).
//! 2. Pass 1 (reading): stream every document once, checking it (a NUL byte means binary,
//!    invalid UTF-8 is an error naming the byte offset, a bad JSON line or Parquet row an error
//!    naming it unless `--skip-bad`) and counting its bytes; hash each input file.
//! 3. The validation split is the last `val_fraction` of the text bytes, its start moved back to
//!    a line start, so the split is deterministic and never cuts a character (`crate::split`).
//! 4. Pass 2: train a byte-level BPE tokenizer on the training split only, its text streamed to
//!    the trainer's parallel pre-token counter.
//! 5. Pass 3: tokenize both splits in parallel batches of pieces (`crate::docs`: pieces end where
//!    the GPT-2 pre-tokenizer always splits, so the ids are exactly those of tokenizing each
//!    document whole, for any thread count), reading the next batch while one is encoded, and
//!    stream the ids into the shards. Every document is followed by `<|endoftext|>`.
//! 6. Everything is written into a staging directory beside `out`, then renamed into place.
//!
//! Memory is bounded whatever the input's size: a batch of pieces, the trainer's pre-token
//! counts (one entry per distinct pre-token) and I/O buffers; the inputs are read three times.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::docs::{Piece, PieceSource, ReadOptions, Skipped};
use crate::error::{Error, Result};
use crate::fsutil::{check_out, sha256_file, StagingDir};
use crate::input::{collect_files, DocStream, InputFiles};
use crate::meta::{created_by, Meta, Split, TextMeta, META_VERSION};
use crate::pretok;
use crate::progress::{Progress, Unit};
use crate::shard::ShardWriter;
use crate::split::{check_both_splits, raw_cut, Splitter};
use crate::tokenizer::{count_bpe_words, finish_bpe, save_tokenizer, EOT, MIN_BPE_VOCAB};

/// Settings of `ladder data prepare`.
#[derive(Clone, Debug, PartialEq)]
pub struct PrepareConfig {
    /// Files and directories to read.
    pub inputs: Vec<PathBuf>,
    /// Tokenizer vocabulary size, special token included.
    pub vocab_size: usize,
    /// Fraction of the text bytes held out for validation, in (0, 0.5].
    pub val_fraction: f64,
    /// How to read JSON Lines and Parquet inputs (`--field`, `--column`, `--skip-bad`).
    pub read: ReadOptions,
}

impl Default for PrepareConfig {
    fn default() -> Self {
        PrepareConfig {
            inputs: Vec::new(),
            // 8192: large enough for common English words to be single tokens, small enough that
            // the embedding does not dominate the small models ladder trains.
            vocab_size: 8192,
            // 0.5%: ~20K tokens of the 1M-token KJV, enough for a stable validation loss.
            val_fraction: 0.005,
            read: ReadOptions::default(),
        }
    }
}

/// Text bytes per tokenization batch: many pieces for the threads to share, little memory.
const BATCH_BYTES: u64 = 8 << 20;

/// How many binary files a directory walk skipped, naming the first few.
fn skipped_note(skipped: &[PathBuf]) -> String {
    const SHOWN: usize = 3;
    let names: Vec<String> = skipped
        .iter()
        .take(SHOWN)
        .map(|p| p.display().to_string())
        .collect();
    let more = if skipped.len() > SHOWN { ", ..." } else { "" };
    format!(
        "skipped {} binary file{} (NUL byte in the first 8 KiB): {}{more}",
        skipped.len(),
        if skipped.len() == 1 { "" } else { "s" },
        names.join(", ")
    )
}

/// Builds a text data directory at `out` from `cfg.inputs`. `out` must be absent or an empty
/// directory unless `force`; on any error nothing is left at `out`.
pub fn prepare(
    cfg: &PrepareConfig,
    out: &Path,
    force: bool,
    progress: &dyn Progress,
) -> Result<Meta> {
    if !(cfg.val_fraction > 0.0 && cfg.val_fraction <= 0.5) {
        return Err(Error::BadValFraction {
            value: cfg.val_fraction,
        });
    }
    if cfg.vocab_size < MIN_BPE_VOCAB {
        return Err(Error::VocabTooSmall {
            vocab_size: cfg.vocab_size,
            min: MIN_BPE_VOCAB,
        });
    }
    check_out(out, force)?;

    // 1-2. Collect and read once: check everything, count the bytes.
    let InputFiles {
        files,
        skipped_binary,
    } = collect_files(&cfg.inputs, out)?;
    if !skipped_binary.is_empty() {
        progress.note(&skipped_note(&skipped_binary));
    }
    let mut hashes = BTreeMap::new();
    for f in &files {
        hashes.insert(format!("input:{}", f.display()), sha256_file(f)?);
    }
    progress.stage("reading", None, Unit::Bytes);
    let mut stream = DocStream::new(&files, &cfg.read);
    let mut total = 0u64;
    while let Some(p) = stream.next_piece()? {
        if let Piece::Text(t) = p {
            total += t.len() as u64;
            progress.advance(t.len() as u64);
        }
    }
    progress.finish_stage();
    let skipped = stream.skipped();
    if skipped.count > 0 {
        progress.note(&skipped_bad_note(&skipped));
    }
    let inputs_shown = || {
        cfg.inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if total == 0 {
        return Err(Error::EmptyInput {
            inputs: inputs_shown(),
        });
    }

    // 3-4. Split and train the tokenizer on the training text.
    let cut = raw_cut(total, cfg.val_fraction);
    let label = cfg.inputs.first().cloned().unwrap_or_default();
    progress.stage("training tokenizer", None, Unit::None);
    let mut counts = SplitCounts::default();
    let failed = Mutex::new(None);
    let texts = TrainTexts {
        splitter: Splitter::new(DocStream::new(&files, &cfg.read), cut),
        counts: &mut counts,
        failed: &failed,
    };
    let trainer = count_bpe_words(texts, cfg.vocab_size, &label);
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let trainer = trainer?;
    // The passes must see the same text (nothing may write to the inputs meanwhile).
    let changed = |later: u64| -> Result<()> {
        if later != total {
            return Err(Error::InputChanged {
                first: total,
                later,
                inputs: inputs_shown(),
            });
        }
        Ok(())
    };
    changed(counts.bytes[0] + counts.bytes[1])?;
    check_both_splits(counts.bytes[0], counts.bytes[1], cfg.val_fraction)?;
    let tok = finish_bpe(trainer, cfg.vocab_size, &label)?;
    progress.finish_stage();
    let eot = tok.token_to_id(EOT).ok_or_else(|| Error::Tokenizer {
        path: label.clone(),
        cause: "trained tokenizer lacks <|endoftext|>".into(),
    })?;

    // 5. Tokenize into the shards, in a staging directory.
    let vocab_size = tok.get_vocab_size(true);
    let stage = StagingDir::new(out, force)?;
    let dir = stage.path();
    let mut shards = [
        ShardWriter::create(&dir.join(Split::Train.file_name()), vocab_size)?,
        ShardWriter::create(&dir.join(Split::Val.file_name()), vocab_size)?,
    ];
    progress.stage(
        "tokenizing",
        Some(counts.bytes[0] + counts.bytes[1]),
        Unit::Bytes,
    );
    let mut splitter = Splitter::new(DocStream::new(&files, &cfg.read), cut);
    let mut checked: Vec<String> = Vec::new();
    let mut tokenized = 0u64;
    let mut batch = read_batch(&mut splitter)?;
    while !batch.is_empty() {
        let (encoded, next) = rayon::join(
            || encode_batch(&tok, &batch, &label, progress),
            || read_batch(&mut splitter),
        );
        for ((split, piece), ids) in batch.iter().zip(encoded?) {
            let shard = &mut shards[*split as usize];
            match piece {
                Piece::Text(t) => {
                    tokenized += t.len() as u64;
                    shard.push(&ids)?;
                    if *split == Split::Val && checked.len() < CHECK_CHUNKS {
                        checked.push(t.clone());
                    }
                }
                Piece::End => shard.push(&[eot])?,
            }
        }
        batch = next?;
    }
    changed(tokenized)?;
    check_encoding(&tok, &checked, &label)?;
    progress.finish_stage();

    // 6. Write the rest and move the directory into place.
    progress.stage("writing", None, Unit::None);
    let [train, val] = shards;
    let (train_tokens, val_tokens) = (train.finish()?, val.finish()?);
    save_tokenizer(&tok, dir)?;
    for name in ["tokenizer.json", "train.bin", "val.bin"] {
        hashes.insert(name.to_string(), sha256_file(&dir.join(name))?);
    }
    let meta = Meta {
        format_version: META_VERSION,
        vocab_size,
        eot_token: eot,
        train_tokens,
        val_tokens,
        train_bytes: counts.bytes[0],
        val_bytes: counts.bytes[1],
        train_documents: counts.documents[0],
        val_documents: counts.documents[1],
        source: describe(&cfg.inputs, &files),
        hashes,
        entropy_nats_per_token: None,
        text: Some(TextMeta {
            tokenizer: "byte-level BPE (GPT-2 pre-tokenizer)".to_string(),
            requested_vocab_size: cfg.vocab_size,
            val_fraction: cfg.val_fraction,
            files: files.iter().map(|f| f.display().to_string()).collect(),
        }),
        synth: None,
        created_by: created_by(),
    };
    meta.save(dir)?;
    stage.commit()?;
    progress.finish_stage();
    Ok(meta)
}

/// How many lines or rows `--skip-bad` passed over, and the first one's error.
fn skipped_bad_note(skipped: &Skipped) -> String {
    format!(
        "skipped {} bad record{} (--skip-bad); the first: {}",
        skipped.count,
        if skipped.count == 1 { "" } else { "s" },
        skipped.first.as_deref().unwrap_or("?")
    )
}

/// Bytes and documents of each split (indexed by `Split as usize`).
#[derive(Default)]
struct SplitCounts {
    bytes: [u64; 2],
    documents: [u64; 2],
}

/// The training text for the tokenizer trainer, counting both splits as it streams. The trainer
/// pulls from it on several threads (under rayon's lock), so order and counts are deterministic;
/// a read error ends the stream and is kept in `failed`.
struct TrainTexts<'a> {
    splitter: Splitter<DocStream>,
    counts: &'a mut SplitCounts,
    failed: &'a Mutex<Option<Error>>,
}

impl Iterator for TrainTexts<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        loop {
            match self.splitter.next_routed() {
                Ok(Some((split, Piece::Text(t)))) => {
                    self.counts.bytes[split as usize] += t.len() as u64;
                    if split == Split::Train {
                        return Some(t);
                    }
                }
                Ok(Some((split, Piece::End))) => self.counts.documents[split as usize] += 1,
                Ok(None) => return None,
                Err(e) => {
                    *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    return None;
                }
            }
        }
    }
}

/// The next pieces, up to [`BATCH_BYTES`] of text; empty at the end of the input.
fn read_batch(splitter: &mut Splitter<DocStream>) -> Result<Vec<(Split, Piece)>> {
    let mut batch = Vec::new();
    let mut bytes = 0u64;
    while bytes < BATCH_BYTES {
        let Some(item) = splitter.next_routed()? else {
            break;
        };
        if let Piece::Text(t) = &item.1 {
            bytes += t.len() as u64;
        }
        batch.push(item);
    }
    Ok(batch)
}

/// Token ids of each piece of `batch` (empty for an `End`), in parallel.
fn encode_batch(
    tok: &tokenizers::Tokenizer,
    batch: &[(Split, Piece)],
    label: &Path,
    progress: &dyn Progress,
) -> Result<Vec<Vec<u32>>> {
    batch
        .par_iter()
        .map(|(_, piece)| match piece {
            Piece::Text(s) => {
                let ids = encode_piece(tok, s).map_err(|cause| Error::Tokenizer {
                    path: label.to_path_buf(),
                    cause,
                });
                progress.advance(s.len() as u64);
                ids
            }
            Piece::End => Ok(Vec::new()),
        })
        .collect()
}

/// The ids of one piece with the fast exact pre-tokenizer.
fn encode_piece(tok: &tokenizers::Tokenizer, s: &str) -> tokenizers::Result<Vec<u32>> {
    pretok::encode(tok.get_model(), s)
}

fn describe(inputs: &[PathBuf], files: &[PathBuf]) -> String {
    let shown: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    format!("text: {} ({} files)", shown.join(", "), files.len())
}

/// Checks the fast encoder against `tokenizers`' own `encode` on `chunks` (the first
/// [`CHECK_CHUNKS`] pieces of the validation split): a guard against any divergence of `pretok`
/// from the GPT-2 pre-tokenizer, at the cost of encoding up to ~1 MB slowly.
fn check_encoding(tok: &tokenizers::Tokenizer, chunks: &[String], label: &Path) -> Result<()> {
    check_chunks(
        chunks,
        label,
        |s| encode_piece(tok, s),
        |s| tok.encode_fast(s, false).map(|e| e.get_ids().to_vec()),
    )
}

fn check_chunks<F, G>(chunks: &[String], label: &Path, fast: F, reference: G) -> Result<()>
where
    F: Fn(&str) -> tokenizers::Result<Vec<u32>> + Sync,
    G: Fn(&str) -> tokenizers::Result<Vec<u32>> + Sync,
{
    let tk_err = |cause| Error::Tokenizer {
        path: label.to_path_buf(),
        cause,
    };
    chunks.par_iter().try_for_each(|s| {
        if fast(s).map_err(tk_err)? != reference(s).map_err(tk_err)? {
            return Err(Error::EncoderMismatch {
                path: label.to_path_buf(),
            });
        }
        Ok(())
    })
}

/// Pieces checked by [`check_encoding`].
const CHECK_CHUNKS: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::push_documents;
    use crate::tokenizer::train_bpe;
    use std::collections::VecDeque;

    #[test]
    fn chunked_tokenization_equals_whole_document_tokenization() -> Result<()> {
        // Lines with leading spaces, blank lines and tabs exercise the safe-cut rule.
        let mut doc = String::new();
        for i in 0..40_000 {
            doc.push_str(&format!(
                "line {i} of  the text,\n  indented {i}\n\n\tx{}\n",
                i % 7
            ));
        }
        let mut pieces = VecDeque::new();
        push_documents(&doc, &mut pieces);
        let chunks: Vec<String> = pieces
            .into_iter()
            .filter_map(|p| match p {
                Piece::Text(t) => Some(t),
                Piece::End => None,
            })
            .collect();
        assert!(chunks.len() > 3, "{} chunks", chunks.len());
        assert_eq!(chunks.concat(), doc);
        let tok = train_bpe([doc.as_str()].into_iter(), 400, Path::new("t"))?;
        let whole = tok.encode_fast(doc.as_str(), false).expect("encode");
        let batch: Vec<(Split, Piece)> = chunks
            .iter()
            .map(|c| (Split::Train, Piece::Text(c.clone())))
            .collect();
        let got: Vec<u32> =
            encode_batch(&tok, &batch, Path::new("t"), &crate::NoProgress)?.concat();
        assert_eq!(got, whole.get_ids());
        check_encoding(&tok, &chunks, Path::new("t"))?;
        let broken = |s: &str| {
            pretok::encode(tok.get_model(), s).map(|mut v| {
                v.push(1);
                v
            })
        };
        let reference = |s: &str| tok.encode_fast(s, false).map(|e| e.get_ids().to_vec());
        assert!(matches!(
            check_chunks(&chunks, Path::new("t"), broken, reference),
            Err(Error::EncoderMismatch { .. })
        ));
        Ok(())
    }
}
