//! `ladder data prepare`: text files in, a data directory out (tokenizer, shards, meta).
//!
//! 1. Collect the input files: files as given, directories walked recursively in sorted order
//!    (hidden entries and symbolic links to directories skipped).
//! 2. Read and check each file: a NUL byte means binary, invalid UTF-8 is an error naming the byte
//!    offset. A `.jsonl` file holds one document per line (the string field `text`); any other
//!    file is one document. A literal `<|endoftext|>` inside a text also separates documents.
//! 3. Cut the validation split off the end: the last `val_fraction` of the text bytes, moved back
//!    to the start of a line, so the split is deterministic and never cuts a character.
//! 4. Train a byte-level BPE tokenizer on the train split only.
//! 5. Tokenize both splits in parallel. Texts are cut into chunks right after a newline that is
//!    followed by a non-space character: the GPT-2 pre-tokenizer always splits there, so the ids
//!    are exactly those of tokenizing each document whole, for any thread count. Every document
//!    is followed by `<|endoftext|>`.
//! 6. Write everything into a staging directory beside `out`, then rename it into place.
//!
//! The whole corpus is held in memory (a few times its size): fine for the corpora a CPU trainer
//! consumes (up to a few hundred MB of text).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fsutil::{check_out, sha256_bytes, sha256_file, StagingDir};
use crate::input::{collect_files, read_documents, InputFiles};
use crate::meta::{created_by, Meta, Split, TextMeta, META_VERSION};
use crate::pretok;
use crate::progress::{Progress, Unit};
use crate::shard::write_shard;
use crate::tokenizer::{save_tokenizer, train_bpe, EOT, MIN_BPE_VOCAB};

/// Settings of `ladder data prepare`.
#[derive(Clone, Debug, PartialEq)]
pub struct PrepareConfig {
    /// Files and directories to read.
    pub inputs: Vec<PathBuf>,
    /// Tokenizer vocabulary size, special token included.
    pub vocab_size: usize,
    /// Fraction of the text bytes held out for validation, in (0, 0.5].
    pub val_fraction: f64,
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
        }
    }
}

/// Target size of a tokenization chunk (bytes): large enough to amortise task overhead, small
/// enough to keep both cores busy on a single-file corpus.
const CHUNK_BYTES: usize = 1 << 18;

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

    // 1-2. Read.
    let InputFiles {
        files,
        skipped_binary,
    } = collect_files(&cfg.inputs, out)?;
    if !skipped_binary.is_empty() {
        progress.note(&skipped_note(&skipped_binary));
    }
    let total_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    progress.stage("reading", Some(total_bytes), Unit::Bytes);
    let mut docs: Vec<String> = Vec::new();
    let mut hashes = BTreeMap::new();
    for f in &files {
        let bytes = std::fs::read(f).map_err(|e| Error::io(f, e))?;
        progress.advance(bytes.len() as u64);
        hashes.insert(format!("input:{}", f.display()), sha256_bytes(&bytes));
        read_documents(f, bytes, &mut docs)?;
    }
    progress.finish_stage();
    docs.retain(|d| !d.is_empty());
    if docs.is_empty() {
        return Err(Error::EmptyInput {
            inputs: cfg
                .inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }

    // 3. Split.
    let (train_docs, val_docs) = split_docs(&docs, cfg.val_fraction)?;
    let train_chunks = chunk_docs(&train_docs);
    let val_chunks = chunk_docs(&val_docs);

    // 4. Tokenizer.
    progress.stage("training tokenizer", None, Unit::None);
    let label = cfg.inputs.first().cloned().unwrap_or_default();
    let tok = train_bpe(train_chunks.iter().map(|(_, s)| *s), cfg.vocab_size, &label)?;
    progress.finish_stage();
    let eot = tok.token_to_id(EOT).ok_or_else(|| Error::Tokenizer {
        path: label.clone(),
        cause: "trained tokenizer lacks <|endoftext|>".into(),
    })?;

    // 5. Tokenize.
    let text_len = |d: &[&str]| d.iter().map(|s| s.len() as u64).sum::<u64>();
    let (train_bytes, val_bytes) = (text_len(&train_docs), text_len(&val_docs));
    progress.stage("tokenizing", Some(train_bytes + val_bytes), Unit::Bytes);
    let train = tokenize(&tok, &train_chunks, eot, &label, progress)?;
    let val = tokenize(&tok, &val_chunks, eot, &label, progress)?;
    check_encoding(&tok, &val_chunks, &label)?;
    progress.finish_stage();

    // 6. Write.
    progress.stage("writing", None, Unit::None);
    let vocab_size = tok.get_vocab_size(true);
    let stage = StagingDir::new(out, force)?;
    let dir = stage.path();
    save_tokenizer(&tok, dir)?;
    write_shard(&dir.join(Split::Train.file_name()), &train, vocab_size)?;
    write_shard(&dir.join(Split::Val.file_name()), &val, vocab_size)?;
    for name in ["tokenizer.json", "train.bin", "val.bin"] {
        hashes.insert(name.to_string(), sha256_file(&dir.join(name))?);
    }
    let meta = Meta {
        format_version: META_VERSION,
        vocab_size,
        eot_token: eot,
        train_tokens: train.len() as u64,
        val_tokens: val.len() as u64,
        train_bytes,
        val_bytes,
        train_documents: train_docs.len() as u64,
        val_documents: val_docs.len() as u64,
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

fn describe(inputs: &[PathBuf], files: &[PathBuf]) -> String {
    let shown: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    format!("text: {} ({} files)", shown.join(", "), files.len())
}

/// Cuts the last `val_fraction` of the bytes off as the validation split (moved back to a line
/// start; see the module docs). Both parts must be non-empty.
pub fn split_docs(docs: &[String], val_fraction: f64) -> Result<(Vec<&str>, Vec<&str>)> {
    let total: u64 = docs.iter().map(|d| d.len() as u64).sum();
    let too_little = || Error::TooLittleText {
        bytes: total,
        val_fraction,
    };
    let val_target = ((total as f64 * val_fraction).ceil() as u64).clamp(1, total);
    let mut cut = total - val_target; // position in the concatenation of the documents
    let mut d = 0;
    while cut >= docs[d].len() as u64 {
        cut -= docs[d].len() as u64;
        d += 1;
        if d == docs.len() {
            return Err(too_little());
        }
    }
    let doc = docs[d].as_str();
    let o = cut as usize;
    let c = if o == 0 {
        0
    } else if let Some(nl) = doc[..floor_char_boundary(doc, o)].rfind('\n') {
        nl + 1
    } else if let Some(nl) = doc[floor_char_boundary(doc, o)..].find('\n') {
        floor_char_boundary(doc, o) + nl + 1
    } else {
        floor_char_boundary(doc, o)
    };
    let mut train: Vec<&str> = docs[..d].iter().map(String::as_str).collect();
    let mut val: Vec<&str> = Vec::new();
    if c > 0 {
        train.push(&doc[..c]);
    }
    if c < doc.len() {
        val.push(&doc[c..]);
    }
    val.extend(docs[d + 1..].iter().map(String::as_str));
    if train.is_empty() || val.is_empty() {
        return Err(too_little());
    }
    Ok((train, val))
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Cuts documents into chunks at positions where the GPT-2 pre-tokenizer always splits (right
/// after a `\n` followed by a non-whitespace character). Returns `(document index, chunk)`.
pub fn chunk_docs<'a>(docs: &[&'a str]) -> Vec<(usize, &'a str)> {
    let mut out = Vec::new();
    for (i, &doc) in docs.iter().enumerate() {
        let mut start = 0;
        while start < doc.len() {
            let end = safe_cut_after(doc, start + CHUNK_BYTES).unwrap_or(doc.len());
            out.push((i, &doc[start..end]));
            start = end;
        }
    }
    out
}

/// The first position `>= from` right after a `\n` whose next character is not whitespace.
fn safe_cut_after(doc: &str, from: usize) -> Option<usize> {
    if from >= doc.len() {
        return None;
    }
    let bytes = doc.as_bytes();
    let mut i = from;
    while let Some(nl) = bytes[i..].iter().position(|&b| b == b'\n') {
        let cut = i + nl + 1;
        match doc[cut..].chars().next() {
            Some(ch) if !ch.is_whitespace() => return Some(cut),
            Some(_) => i = cut,
            None => return None,
        }
    }
    None
}

/// Token ids of the chunks, `eot` after each document, in order.
fn tokenize(
    tok: &tokenizers::Tokenizer,
    chunks: &[(usize, &str)],
    eot: u32,
    label: &Path,
    progress: &dyn Progress,
) -> Result<Vec<u32>> {
    tokenize_with(chunks, eot, label, progress, |s| {
        pretok::encode(tok.get_model(), s)
    })
}

/// Checks the fast encoder against `tokenizers`' own `encode` on the first [`CHECK_CHUNKS`]
/// chunks of `chunks` (the validation split): a guard against any divergence of `pretok` from the
/// GPT-2 pre-tokenizer, at the cost of encoding up to ~1 MB slowly.
fn check_encoding(
    tok: &tokenizers::Tokenizer,
    chunks: &[(usize, &str)],
    label: &Path,
) -> Result<()> {
    check_chunks(
        chunks,
        label,
        |s| pretok::encode(tok.get_model(), s),
        |s| tok.encode_fast(s, false).map(|e| e.get_ids().to_vec()),
    )
}

fn check_chunks<F, G>(chunks: &[(usize, &str)], label: &Path, fast: F, reference: G) -> Result<()>
where
    F: Fn(&str) -> tokenizers::Result<Vec<u32>> + Sync,
    G: Fn(&str) -> tokenizers::Result<Vec<u32>> + Sync,
{
    let tk_err = |cause| Error::Tokenizer {
        path: label.to_path_buf(),
        cause,
    };
    chunks[..chunks.len().min(CHECK_CHUNKS)]
        .par_iter()
        .try_for_each(|(_, s)| {
            if fast(s).map_err(tk_err)? != reference(s).map_err(tk_err)? {
                return Err(Error::EncoderMismatch {
                    path: label.to_path_buf(),
                });
            }
            Ok(())
        })
}

/// Chunks checked by [`check_encoding`].
const CHECK_CHUNKS: usize = 4;

fn tokenize_with<F>(
    chunks: &[(usize, &str)],
    eot: u32,
    label: &Path,
    progress: &dyn Progress,
    encode: F,
) -> Result<Vec<u32>>
where
    F: Fn(&str) -> tokenizers::Result<Vec<u32>> + Sync,
{
    let encoded: Vec<Vec<u32>> = chunks
        .par_iter()
        .map(|(_, s)| {
            let ids = encode(s).map_err(|cause| Error::Tokenizer {
                path: label.to_path_buf(),
                cause,
            });
            progress.advance(s.len() as u64);
            ids
        })
        .collect::<Result<_>>()?;
    let n: usize = encoded.iter().map(Vec::len).sum::<usize>() + chunks.len();
    let mut ids = Vec::with_capacity(n);
    for (j, ((doc, _), e)) in chunks.iter().zip(&encoded).enumerate() {
        ids.extend_from_slice(e);
        let last_of_doc = chunks.get(j + 1).is_none_or(|(next, _)| next != doc);
        if last_of_doc {
            ids.push(eot);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    #[test]
    fn split_docs_cuts_at_a_line_start_and_keeps_every_byte() -> Result<()> {
        let docs: Vec<String> = vec!["aaa\nbbb\n".into(), "ccc\nddd\neee\n".into()];
        let (train, val) = split_docs(&docs, 0.2)?;
        assert_eq!(train, vec!["aaa\nbbb\n", "ccc\nddd\n"]);
        assert_eq!(val, vec!["eee\n"]);
        assert_eq!(train.concat() + &val.concat(), docs.concat());
        let one_line: Vec<String> = vec!["ünï".repeat(10)];
        let (t, v) = split_docs(&one_line, 0.5)?;
        assert_eq!(t.concat() + &v.concat(), one_line[0]);
        assert!(matches!(
            split_docs(&["x".to_string()], 0.5),
            Err(Error::TooLittleText { .. })
        ));
        Ok(())
    }

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
        let docs = vec![doc.as_str()];
        let chunks = chunk_docs(&docs);
        assert!(chunks.len() > 3, "{} chunks", chunks.len());
        assert_eq!(chunks.iter().map(|(_, s)| *s).collect::<String>(), doc);
        let tok = train_bpe([doc.as_str()].into_iter(), 400, Path::new("t"))?;
        let whole = tok.encode_fast(doc.as_str(), false).expect("encode");
        let mut want = whole.get_ids().to_vec();
        want.push(0);
        assert_eq!(
            tokenize(&tok, &chunks, 0, Path::new("t"), &NoProgress)?,
            want
        );
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
