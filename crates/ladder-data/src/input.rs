//! Reading the inputs of `ladder data prepare`: which files, their format, and a stream of their
//! documents.
//!
//! Files are taken as given; directories are walked recursively in sorted order, skipping hidden
//! entries (`.git`, any name starting with '.'), symbolic links to directories and, as ripgrep
//! does, binary files (a NUL byte in the first [`BINARY_SNIFF_BYTES`]; for a gzip or zstd file,
//! of its decompressed text): a source tree with `__pycache__/*.pyc` is still text. Parquet
//! files are data, never skipped.
//!
//! Formats ([`Format`]): a file starting with the Parquet magic `PAR1` (or named `*.parquet`) is
//! Parquet; a file starting with the gzip or zstd magic bytes is decompressed on the fly, and its
//! name without the `.gz`/`.zst` suffix says what is inside: `*.jsonl`/`*.ndjson` are JSON Lines,
//! anything else is text. See `crate::docs` for what a document is in each.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::docs::{JsonlSource, Piece, PieceSource, ReadErr, ReadOptions, Skipped, TextSource};
use crate::error::{Error, Result};
use crate::parquet_src::ParquetSource;

/// How much of a file the directory walk reads to decide it is binary (ripgrep's heuristic).
pub const BINARY_SNIFF_BYTES: usize = 8 * 1024;

/// The files to read, and the binary files a directory walk passed over.
#[derive(Clone, Debug, Default)]
pub struct InputFiles {
    /// Files to read, in a deterministic order.
    pub files: Vec<PathBuf>,
    /// Files found in a directory walk with a NUL byte in their first [`BINARY_SNIFF_BYTES`].
    pub skipped_binary: Vec<PathBuf>,
}

/// Input files in a deterministic order. `out` (and anything under it) is skipped when it lies
/// inside an input directory.
pub fn collect_files(inputs: &[PathBuf], out: &Path) -> Result<InputFiles> {
    let mut files = InputFiles::default();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::MissingInput {
                    path: input.clone(),
                }
            } else {
                Error::io(input, e)
            }
        })?;
        if meta.is_dir() {
            walk(input, out, &mut files)?;
        } else {
            files.files.push(input.clone());
        }
    }
    Ok(files)
}

/// True when the first [`BINARY_SNIFF_BYTES`] of `path`'s text (decompressed for gzip and zstd
/// files) hold a NUL byte; Parquet files are never binary here. A compressed file that cannot be
/// decompressed counts as binary (a walk passes over it).
fn looks_binary(path: &Path) -> Result<bool> {
    let (compression, parquet) = sniff(path)?;
    if parquet {
        return Ok(false);
    }
    let mut head = Vec::with_capacity(BINARY_SNIFF_BYTES);
    let read = decompressed(path, compression)
        .and_then(|r| {
            r.take(BINARY_SNIFF_BYTES as u64)
                .read_to_end(&mut head)
                .map_err(|e| read_error(compression)(path, e))
        })
        .map(|_| head.contains(&0));
    match read {
        Ok(binary) => Ok(binary),
        Err(Error::Decompress { .. }) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Adds a file found by the walk, or notes it as skipped when it looks binary.
fn add_walked(path: PathBuf, files: &mut InputFiles) -> Result<()> {
    if looks_binary(&path)? {
        files.skipped_binary.push(path);
    } else {
        files.files.push(path);
    }
    Ok(())
}

fn walk(dir: &Path, out: &Path, files: &mut InputFiles) -> Result<()> {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    if same(dir, out) {
        return Ok(());
    }
    let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = e.file_type().map_err(|err| Error::io(&path, err))?;
        if ft.is_dir() {
            walk(&path, out, files)?;
        } else if ft.is_symlink() {
            // Follow links to files; skip links to directories (they can form cycles).
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => add_walked(path, files)?,
                Ok(_) => {}
                Err(err) => return Err(Error::io(&path, err)),
            }
        } else if ft.is_file() {
            add_walked(path, files)?;
        }
    }
    Ok(())
}

/// Compression of an input file, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Read as is.
    None,
    /// gzip (`1f 8b`); concatenated members are read like `gzip -d` does.
    Gzip,
    /// Zstandard (`28 b5 2f fd`); consecutive frames are read like `zstd -d` does.
    Zstd,
}

/// What an input file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Text: the whole file is one document.
    Text(Compression),
    /// JSON Lines: one document per line, in a string field.
    Jsonl(Compression),
    /// Parquet: one document per row, in a string column.
    Parquet,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const PARQUET_MAGIC: &[u8] = b"PAR1";

/// The compression (from the magic bytes) and whether the file is Parquet.
fn sniff(path: &Path) -> Result<(Compression, bool)> {
    let mut head = Vec::with_capacity(4);
    std::fs::File::open(path)
        .and_then(|f| f.take(4).read_to_end(&mut head))
        .map_err(|e| Error::io(path, e))?;
    let compression = if head.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    };
    Ok((compression, head.starts_with(PARQUET_MAGIC)))
}

fn has_ext(name: &str, exts: &[&str]) -> bool {
    let lower = name.to_ascii_lowercase();
    exts.iter().any(|e| lower.ends_with(e))
}

/// The format of `path` (see the module docs).
pub fn detect_format(path: &Path) -> Result<Format> {
    let (compression, parquet) = sniff(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if parquet || (compression == Compression::None && has_ext(&name, &[".parquet"])) {
        return Ok(Format::Parquet);
    }
    let inner = match compression {
        Compression::None => name.as_str(),
        _ => ["gz", "gzip", "zst", "zstd"]
            .iter()
            .find_map(|e| {
                let lower = name.to_ascii_lowercase();
                lower
                    .ends_with(&format!(".{e}"))
                    .then(|| &name[..name.len() - e.len() - 1])
            })
            .unwrap_or(name.as_str()),
    };
    Ok(if has_ext(inner, &[".jsonl", ".ndjson"]) {
        Format::Jsonl(compression)
    } else {
        Format::Text(compression)
    })
}

/// How read errors of a stream with `compression` are reported: a failing decoder means a
/// corrupt file, not an I/O problem.
fn read_error(compression: Compression) -> ReadErr {
    match compression {
        Compression::None => |p, e| Error::io(p, e),
        Compression::Gzip => |p, e| Error::Decompress {
            path: p.to_path_buf(),
            format: "gzip",
            cause: e,
        },
        Compression::Zstd => |p, e| Error::Decompress {
            path: p.to_path_buf(),
            format: "zstd",
            cause: e,
        },
    }
}

/// The file's bytes, decompressed on the fly.
fn decompressed(path: &Path, compression: Compression) -> Result<Box<dyn Read + Send>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let buffered = BufReader::with_capacity(1 << 16, f);
    Ok(match compression {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|e| read_error(compression)(path, e))?,
        ),
    })
}

/// Opens `path` as a stream of document pieces in its format.
pub fn open_source(path: &Path, opts: &ReadOptions) -> Result<Box<dyn PieceSource>> {
    Ok(match detect_format(path)? {
        Format::Parquet => Box::new(ParquetSource::open(path, opts)?),
        Format::Text(c) => Box::new(TextSource::new(path, decompressed(path, c)?, read_error(c))),
        Format::Jsonl(c) => Box::new(JsonlSource::new(
            path,
            Box::new(BufReader::with_capacity(1 << 16, decompressed(path, c)?)),
            read_error(c),
            opts,
        )),
    })
}

/// The non-empty documents of several files, in order, as one stream of pieces: a
/// [`Piece::End`] only follows a document that had text.
pub struct DocStream {
    files: Vec<PathBuf>,
    /// Index of the next file to open.
    next_file: usize,
    opts: ReadOptions,
    current: Option<Box<dyn PieceSource>>,
    doc_has_text: bool,
    skipped: Skipped,
}

impl DocStream {
    /// Streams `files` (opened one at a time, when reached).
    pub fn new(files: &[PathBuf], opts: &ReadOptions) -> Self {
        DocStream {
            files: files.to_vec(),
            next_file: 0,
            opts: opts.clone(),
            current: None,
            doc_has_text: false,
            skipped: Skipped::default(),
        }
    }
}

impl PieceSource for DocStream {
    /// The next piece of a non-empty document, or `None` after the last file.
    fn next_piece(&mut self) -> Result<Option<Piece>> {
        loop {
            let Some(src) = self.current.as_mut() else {
                let Some(path) = self.files.get(self.next_file) else {
                    return Ok(None);
                };
                self.current = Some(open_source(path, &self.opts)?);
                self.next_file += 1;
                continue;
            };
            match src.next_piece()? {
                Some(Piece::Text(t)) => {
                    self.doc_has_text = true;
                    return Ok(Some(Piece::Text(t)));
                }
                Some(Piece::End) => {
                    if std::mem::take(&mut self.doc_has_text) {
                        return Ok(Some(Piece::End));
                    }
                }
                None => {
                    self.skipped.merge(&src.skipped());
                    self.current = None;
                }
            }
        }
    }

    /// What `--skip-bad` passed over in the files finished so far.
    fn skipped(&self) -> Skipped {
        self.skipped.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs::collect_documents;

    /// The documents of one file given as bytes, read as `name` would be.
    fn read_documents(name: &str, bytes: &[u8], docs: &mut Vec<String>) -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
        let mut src = open_source(&p, &ReadOptions::default())?;
        docs.extend(collect_documents(src.as_mut())?);
        Ok(())
    }

    #[test]
    fn read_documents_rejects_binary_bad_utf8_and_bad_jsonl() {
        let mut docs = Vec::new();
        let p = "f.txt";
        assert!(matches!(
            read_documents(p, b"ab\0c", &mut docs),
            Err(Error::BinaryFile { offset: 2, .. })
        ));
        assert!(matches!(
            read_documents(p, b"abc\xffd", &mut docs),
            Err(Error::NotUtf8 { offset: 3, .. })
        ));
        let j = "f.jsonl";
        assert!(matches!(
            read_documents(j, b"{\"text\": \"a\"}\n{\"txt\": 1}\n", &mut docs),
            Err(Error::JsonlMissingText { line: 2, .. })
        ));
        assert!(matches!(
            read_documents(j, b"{\"text\": \"a\"}\n\nnope\n", &mut docs),
            Err(Error::JsonlBadLine { line: 3, .. })
        ));
        docs.clear();
        read_documents(
            j,
            b"{\"text\": \"a<|endoftext|>b\"}\n\n{\"text\": \"c\"}",
            &mut docs,
        )
        .expect("valid jsonl");
        assert_eq!(docs, vec!["a", "b", "c"]);
    }

    #[test]
    fn formats_are_detected_by_magic_bytes_and_inner_name() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let put = |name: &str, bytes: &[u8]| -> PathBuf {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).expect("write");
            p
        };
        let gz = |b: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut e, b).expect("gzip");
            e.finish().expect("gzip")
        };
        let zst = |b: &[u8]| zstd::encode_all(b, 3).expect("zstd");
        let j = b"{\"text\": \"x\"}\n";
        let cases = [
            (put("a.txt", b"hi"), Format::Text(Compression::None)),
            (put("a.jsonl", j), Format::Jsonl(Compression::None)),
            (put("a.jsonl.gz", &gz(j)), Format::Jsonl(Compression::Gzip)),
            (
                put("a.ndjson.zst", &zst(j)),
                Format::Jsonl(Compression::Zstd),
            ),
            // The magic decides compression, whatever the name says.
            (put("b.txt", &zst(b"hi")), Format::Text(Compression::Zstd)),
            (put("c.gz", &gz(b"hi")), Format::Text(Compression::Gzip)),
            (put("d.bin", b"PAR1xxxx"), Format::Parquet),
        ];
        for (p, want) in &cases {
            assert_eq!(detect_format(p)?, *want, "{}", p.display());
        }
        // A gzip file whose text is binary (a .tar.gz) is skipped by a walk; text is not.
        assert!(looks_binary(&put("t.tar.gz", &gz(b"ab\0cd")))?);
        assert!(!looks_binary(&cases[2].0)?);
        assert!(looks_binary(&put("corrupt.gz", &[0x1f, 0x8b, 0, 0]))?);
        Ok(())
    }
}
