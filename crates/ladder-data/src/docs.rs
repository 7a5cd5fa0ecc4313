//! Documents as bounded streams of text pieces, whatever file they come from.
//!
//! Every reader yields [`Piece::Text`] pieces and a [`Piece::End`] after each document. A piece
//! ends at a *safe cut* (right after a `\n` followed by a non-whitespace character, where the
//! GPT-2 pre-tokenizer always splits) or at the end of its document, so tokenizing the pieces one
//! by one gives exactly the ids of tokenizing each document whole, and pieces can be tokenized in
//! parallel. Pieces are about [`CHUNK_BYTES`] long, so memory stays bounded whatever the size of
//! the input (a stretch of text without any safe cut stays in one piece). A literal
//! `<|endoftext|>` inside a text separates documents, in every format.

use std::collections::VecDeque;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::tokenizer::EOT;

/// Target size of a piece (bytes): large enough to amortise task overhead, small enough to keep
/// both cores busy on a single-file corpus.
pub const CHUNK_BYTES: usize = 1 << 18;

/// Bytes a text reader asks the file (or decompressor) for at a time.
const READ_BYTES: usize = 1 << 20;

/// One step of a document stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Non-empty text of the current document, ending at a safe cut or the document's end.
    Text(String),
    /// The current document is complete.
    End,
}

/// Records passed over under `--skip-bad`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// How many lines or rows.
    pub count: u64,
    /// The first one's error message.
    pub first: Option<String>,
}

impl Skipped {
    /// Counts `e` as skipped.
    pub fn add(&mut self, e: Error) {
        self.count += 1;
        self.first.get_or_insert_with(|| e.to_string());
    }

    /// Adds another file's count.
    pub fn merge(&mut self, other: &Skipped) {
        self.count += other.count;
        if self.first.is_none() {
            self.first.clone_from(&other.first);
        }
    }
}

/// How to read the documents of a file (`--field`, `--column`, `--skip-bad`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// JSON Lines: the string field holding each document.
    pub field: String,
    /// Parquet: the string column holding each document.
    pub column: String,
    /// Count and skip JSON lines and Parquet rows without a document instead of failing.
    pub skip_bad: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            field: "text".to_string(),
            column: "text".to_string(),
            skip_bad: false,
        }
    }
}

/// A source of pieces: one input file in one format.
pub trait PieceSource: Send {
    /// The next piece, or `None` after the last [`Piece::End`].
    fn next_piece(&mut self) -> Result<Option<Piece>>;
    /// What `--skip-bad` passed over so far.
    fn skipped(&self) -> Skipped {
        Skipped::default()
    }
}

/// Queues the pieces of `text`, which holds one or more whole documents separated by
/// `<|endoftext|>`, each followed by [`Piece::End`].
pub fn push_documents(text: &str, queue: &mut VecDeque<Piece>) {
    for doc in text.split(EOT) {
        push_pieces(doc, queue);
        queue.push_back(Piece::End);
    }
}

/// Queues `doc` (part of one document ending at a safe cut or at the document's end) as pieces.
fn push_pieces(doc: &str, queue: &mut VecDeque<Piece>) {
    let mut start = 0;
    while start < doc.len() {
        let end = safe_cut_after(doc, start + CHUNK_BYTES).unwrap_or(doc.len());
        queue.push_back(Piece::Text(doc[start..end].to_string()));
        start = end;
    }
}

/// The first position `>= from` right after a `\n` whose next character is not whitespace.
pub fn safe_cut_after(doc: &str, from: usize) -> Option<usize> {
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

/// Reads until `buf` is full or the reader is exhausted; returns the bytes read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// How a read error is reported: plain I/O, or a corrupt compressed stream.
pub type ReadErr = fn(&Path, std::io::Error) -> Error;

/// Plain text: the whole file is one document (split at `<|endoftext|>`). A NUL byte is an
/// error (binary file), as is invalid UTF-8; both name the byte offset in the (decompressed)
/// text.
pub struct TextSource {
    path: PathBuf,
    reader: Box<dyn Read + Send>,
    read_err: ReadErr,
    /// Bytes read but not yet appended to `cur` (an incomplete UTF-8 sequence).
    raw: Vec<u8>,
    /// Offset of `raw[0]` in the text.
    raw_offset: u64,
    /// Text of the current document not yet queued.
    cur: String,
    queue: VecDeque<Piece>,
    eof: bool,
}

impl TextSource {
    /// Reads `reader` (the contents of `path`, decompressed if need be).
    pub fn new(path: &Path, reader: Box<dyn Read + Send>, read_err: ReadErr) -> Self {
        TextSource {
            path: path.to_path_buf(),
            reader,
            read_err,
            raw: Vec::new(),
            raw_offset: 0,
            cur: String::new(),
            queue: VecDeque::new(),
            eof: false,
        }
    }

    fn fill(&mut self) -> Result<()> {
        let old = self.raw.len();
        self.raw.resize(old + READ_BYTES, 0);
        let n = read_full(&mut self.reader, &mut self.raw[old..])
            .map_err(|e| (self.read_err)(&self.path, e))?;
        self.raw.truncate(old + n);
        if let Some(i) = self.raw[old..].iter().position(|&b| b == 0) {
            return Err(Error::BinaryFile {
                path: self.path.clone(),
                offset: self.raw_offset + (old + i) as u64,
            });
        }
        let valid = match std::str::from_utf8(&self.raw) {
            Ok(s) => s.len(),
            // An incomplete sequence at the end of the block: the next read completes it.
            Err(e) if e.error_len().is_none() && n > 0 => e.valid_up_to(),
            Err(e) => {
                return Err(Error::NotUtf8 {
                    path: self.path.clone(),
                    offset: self.raw_offset + e.valid_up_to() as u64,
                })
            }
        };
        let text = std::str::from_utf8(&self.raw[..valid]).map_err(|e| Error::NotUtf8 {
            path: self.path.clone(),
            offset: self.raw_offset + e.valid_up_to() as u64,
        })?;
        self.cur.push_str(text);
        self.raw.drain(..valid);
        self.raw_offset += valid as u64;
        self.eof = n == 0;
        self.queue_ready();
        Ok(())
    }

    /// Queues every complete document of `cur`, then its text up to the last safe cut (all of
    /// it at the end of the file). An `<|endoftext|>` cut short by the block end has no `\n`, so
    /// it always lies after the last safe cut and is completed by the next read.
    fn queue_ready(&mut self) {
        // Pieces are copied out with their exact size (a piece split off `cur` would keep all
        // of `cur`'s capacity), and `cur` is shifted once at the end.
        let mut start = 0;
        while let Some(i) = self.cur[start..].find(EOT) {
            push_pieces(&self.cur[start..start + i], &mut self.queue);
            self.queue.push_back(Piece::End);
            start += i + EOT.len();
        }
        if self.eof {
            push_pieces(&self.cur[start..], &mut self.queue);
            self.queue.push_back(Piece::End);
            self.cur.clear();
            return;
        }
        while let Some(cut) = safe_cut_after(&self.cur, start + CHUNK_BYTES) {
            self.queue
                .push_back(Piece::Text(self.cur[start..cut].to_string()));
            start = cut;
        }
        self.cur.drain(..start);
    }
}

impl PieceSource for TextSource {
    fn next_piece(&mut self) -> Result<Option<Piece>> {
        loop {
            if let Some(p) = self.queue.pop_front() {
                return Ok(Some(p));
            }
            if self.eof {
                return Ok(None);
            }
            self.fill()?;
        }
    }
}

/// JSON Lines: one document per line, in a string field (`--field`); blank lines are skipped.
/// A line that is not JSON or lacks the field is an error naming the line, or is counted and
/// skipped under `--skip-bad`. A NUL byte or invalid UTF-8 is an error about the whole file.
pub struct JsonlSource {
    path: PathBuf,
    reader: Box<dyn BufRead + Send>,
    read_err: ReadErr,
    field: String,
    skip_bad: bool,
    skipped: Skipped,
    line: Vec<u8>,
    line_no: u64,
    offset: u64,
    queue: VecDeque<Piece>,
}

impl JsonlSource {
    /// Reads `reader` (the contents of `path`, decompressed if need be).
    pub fn new(
        path: &Path,
        reader: Box<dyn BufRead + Send>,
        read_err: ReadErr,
        opts: &ReadOptions,
    ) -> Self {
        JsonlSource {
            path: path.to_path_buf(),
            reader,
            read_err,
            field: opts.field.clone(),
            skip_bad: opts.skip_bad,
            skipped: Skipped::default(),
            line: Vec::new(),
            line_no: 0,
            offset: 0,
            queue: VecDeque::new(),
        }
    }

    /// Reads one line; `false` at the end of the file.
    fn read_line(&mut self) -> Result<bool> {
        self.line.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.line)
            .map_err(|e| (self.read_err)(&self.path, e))?;
        if n == 0 {
            return Ok(false);
        }
        self.line_no += 1;
        let start = self.offset;
        self.offset += n as u64;
        if let Some(i) = self.line.iter().position(|&b| b == 0) {
            return Err(Error::BinaryFile {
                path: self.path.clone(),
                offset: start + i as u64,
            });
        }
        let text = std::str::from_utf8(&self.line).map_err(|e| Error::NotUtf8 {
            path: self.path.clone(),
            offset: start + e.valid_up_to() as u64,
        })?;
        if text.trim().is_empty() {
            return Ok(true);
        }
        match self.document(text) {
            Ok(doc) => push_documents(&doc, &mut self.queue),
            Err(e) if self.skip_bad => self.skipped.add(e),
            Err(e) => return Err(e),
        }
        Ok(true)
    }

    fn document(&self, line: &str) -> Result<String> {
        let mut v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| Error::JsonlBadLine {
                path: self.path.clone(),
                line: self.line_no,
                reason: e.to_string(),
            })?;
        match v.get_mut(&self.field).map(serde_json::Value::take) {
            Some(serde_json::Value::String(s)) => Ok(s),
            _ => Err(Error::JsonlMissingText {
                path: self.path.clone(),
                line: self.line_no,
                field: self.field.clone(),
            }),
        }
    }
}

impl PieceSource for JsonlSource {
    fn next_piece(&mut self) -> Result<Option<Piece>> {
        loop {
            if let Some(p) = self.queue.pop_front() {
                return Ok(Some(p));
            }
            if !self.read_line()? {
                return Ok(None);
            }
        }
    }

    fn skipped(&self) -> Skipped {
        self.skipped.clone()
    }
}

/// Drains a source into whole documents (tests and small inputs).
#[cfg(test)]
pub fn collect_documents(src: &mut dyn PieceSource) -> Result<Vec<String>> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    while let Some(p) = src.next_piece()? {
        match p {
            Piece::Text(t) => cur.push_str(&t),
            Piece::End => docs.push(std::mem::take(&mut cur)),
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_err(path: &Path, e: std::io::Error) -> Error {
        Error::io(path, e)
    }

    fn text(bytes: &[u8]) -> Result<Vec<String>> {
        let r: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(bytes.to_vec()));
        collect_documents(&mut TextSource::new(Path::new("f.txt"), r, io_err))
    }

    fn jsonl(bytes: &[u8], skip_bad: bool) -> Result<(Vec<String>, Skipped)> {
        let r: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(bytes.to_vec()));
        let opts = ReadOptions {
            skip_bad,
            ..ReadOptions::default()
        };
        let mut src = JsonlSource::new(Path::new("f.jsonl"), r, io_err, &opts);
        let docs = collect_documents(&mut src)?;
        Ok((docs, src.skipped()))
    }

    #[test]
    fn text_source_pieces_rebuild_the_documents_across_read_blocks() -> Result<()> {
        // Long enough for several read blocks and pieces; an EOT and a multi-byte character
        // straddle block ends somewhere in it.
        let mut s = String::new();
        for i in 0..120_000 {
            s.push_str(&format!("line {i} é€ text\n  indented\n"));
            if i % 50_000 == 7 {
                s.push_str("tail<|endoftext|>");
            }
        }
        let want: Vec<String> = s.split(EOT).map(str::to_string).collect();
        assert_eq!(text(s.as_bytes())?, want);
        // Every piece ends at a safe cut or at its document's end.
        let r: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(s.clone().into_bytes()));
        let mut src = TextSource::new(Path::new("f.txt"), r, io_err);
        let mut pieces = Vec::new();
        while let Some(p) = src.next_piece()? {
            pieces.push(p);
        }
        assert!(pieces.len() > 10, "{} pieces", pieces.len());
        for w in pieces.windows(2) {
            if let (Piece::Text(a), Piece::Text(b)) = (&w[0], &w[1]) {
                assert!(a.ends_with('\n') && !b.starts_with(char::is_whitespace));
            }
        }
        Ok(())
    }

    #[test]
    fn text_source_names_offsets_of_binary_and_bad_utf8() {
        let mut big = vec![b'a'; READ_BYTES + 5];
        big.extend_from_slice(b"\xff");
        assert!(matches!(
            text(&big),
            Err(Error::NotUtf8 { offset, .. }) if offset == READ_BYTES as u64 + 5
        ));
        assert!(matches!(
            text(b"ab\0"),
            Err(Error::BinaryFile { offset: 2, .. })
        ));
        // A truncated multi-byte character at the end of the file.
        assert!(matches!(
            text("aé".as_bytes().split_last().expect("bytes").1),
            Err(Error::NotUtf8 { offset: 1, .. })
        ));
    }

    #[test]
    fn jsonl_source_reports_or_skips_bad_lines() -> Result<()> {
        let bad = b"{\"text\": \"a\"}\n\nnope\n{\"txt\": 1}\n{\"text\": 5}\n{\"text\": \"b\"}\n";
        assert!(matches!(
            jsonl(bad, false),
            Err(Error::JsonlBadLine { line: 3, .. })
        ));
        let (docs, skipped) = jsonl(bad, true)?;
        assert_eq!(docs, vec!["a", "b"]);
        assert_eq!(skipped.count, 3);
        assert!(skipped.first.expect("first").contains("f.jsonl:3"));
        let e = jsonl(b"{\"txt\": \"a\"}\r\n", false).expect_err("no field");
        assert!(matches!(e, Error::JsonlMissingText { line: 1, .. }));
        assert!(e.to_string().contains("\"text\""), "{e}");
        Ok(())
    }
}
