//! Reading the inputs of `ladder data prepare`: which files, and the documents in each.
//!
//! Files are taken as given; directories are walked recursively in sorted order, skipping hidden
//! entries (`.git`, any name starting with '.'), symbolic links to directories and, as ripgrep
//! does, binary files (a NUL byte in the first [`BINARY_SNIFF_BYTES`]): a source tree with
//! `__pycache__/*.pyc` is still text. A `.jsonl` file holds one document per line (the string
//! field `text`), any other file is one document; a literal `<|endoftext|>` also separates
//! documents. A binary file named explicitly, or a NUL byte past the sniffed prefix, and
//! non-UTF-8 files are errors naming the byte offset.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::tokenizer::EOT;

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

/// True when the first [`BINARY_SNIFF_BYTES`] of `path` hold a NUL byte.
fn looks_binary(path: &Path) -> Result<bool> {
    let mut head = Vec::with_capacity(BINARY_SNIFF_BYTES);
    std::fs::File::open(path)
        .and_then(|f| f.take(BINARY_SNIFF_BYTES as u64).read_to_end(&mut head))
        .map_err(|e| Error::io(path, e))?;
    Ok(head.contains(&0))
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

/// Checks one file and appends its documents to `docs`.
pub fn read_documents(path: &Path, bytes: Vec<u8>, docs: &mut Vec<String>) -> Result<()> {
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(Error::BinaryFile {
            path: path.to_path_buf(),
            offset: offset as u64,
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to() as u64,
    })?;
    let is_jsonl = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl"));
    if is_jsonl {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let line_no = i as u64 + 1;
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| Error::JsonlBadLine {
                    path: path.to_path_buf(),
                    line: line_no,
                    reason: e.to_string(),
                })?;
            let t = v
                .get("text")
                .and_then(|t| t.as_str())
                .ok_or(Error::JsonlMissingText {
                    path: path.to_path_buf(),
                    line: line_no,
                })?;
            docs.extend(t.split(EOT).map(str::to_string));
        }
    } else if text.contains(EOT) {
        docs.extend(text.split(EOT).map(str::to_string));
    } else {
        docs.push(text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_documents_rejects_binary_bad_utf8_and_bad_jsonl() {
        let mut docs = Vec::new();
        let p = Path::new("f.txt");
        assert!(matches!(
            read_documents(p, b"ab\0c".to_vec(), &mut docs),
            Err(Error::BinaryFile { offset: 2, .. })
        ));
        assert!(matches!(
            read_documents(p, b"abc\xffd".to_vec(), &mut docs),
            Err(Error::NotUtf8 { offset: 3, .. })
        ));
        let j = Path::new("f.jsonl");
        assert!(matches!(
            read_documents(j, b"{\"text\": \"a\"}\n{\"txt\": 1}\n".to_vec(), &mut docs),
            Err(Error::JsonlMissingText { line: 2, .. })
        ));
        assert!(matches!(
            read_documents(j, b"{\"text\": \"a\"}\n\nnope\n".to_vec(), &mut docs),
            Err(Error::JsonlBadLine { line: 3, .. })
        ));
        docs.clear();
        read_documents(
            j,
            b"{\"text\": \"a<|endoftext|>b\"}\n\n{\"text\": \"c\"}".to_vec(),
            &mut docs,
        )
        .expect("valid jsonl");
        assert_eq!(docs, vec!["a", "b", "c"]);
    }
}
