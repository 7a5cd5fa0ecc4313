//! Atomic writes: every output goes to a temporary name in the same directory, is fsynced, then
//! renamed over the final name, so a crash never leaves a half-written file where a good one was.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename, fsync dir).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent_dir(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    sync_dir(&dir)
}

/// sha256 of a file's bytes, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// fsyncs a directory so a rename inside it is durable. Best effort on platforms where
/// directories cannot be opened.
pub fn sync_dir(dir: &Path) -> Result<()> {
    match File::open(dir) {
        Ok(f) => {
            // Some filesystems refuse fsync on directories; the rename already happened.
            let _ = f.sync_all();
            Ok(())
        }
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A data directory being built: a temporary directory next to the final `--out`, renamed into
/// place by [`StagingDir::commit`]. Dropped without committing, it is removed, so a failed command
/// leaves nothing at `--out`.
pub struct StagingDir {
    tmp: tempfile::TempDir,
    out: PathBuf,
    force: bool,
}

impl StagingDir {
    /// Checks `out` (must be absent or an empty directory unless `force`) and creates the staging
    /// directory beside it, creating `out`'s parent directories if needed.
    pub fn new(out: &Path, force: bool) -> Result<Self> {
        check_out(out, force)?;
        let parent = parent_dir(out);
        fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "data".to_string());
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.tmp-"))
            .tempdir_in(&parent)
            .map_err(|e| Error::io(&parent, e))?;
        Ok(StagingDir {
            tmp,
            out: out.to_path_buf(),
            force,
        })
    }

    /// The staging directory to write into.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Moves the finished directory to `out`. With `force`, an existing `out` is first moved
    /// aside and deleted only after the new one is in place.
    pub fn commit(self) -> Result<()> {
        let out = self.out;
        check_out(&out, self.force)?;
        let parent = parent_dir(&out);
        sync_dir(self.tmp.path())?;
        let staged = self.tmp.keep();
        let mut old: Option<PathBuf> = None;
        if out.exists() {
            // Absent or empty unless `force` (checked above). rename(2) replaces an empty
            // directory but not a full one, so move the old one aside first.
            let aside = parent.join(format!(
                ".{}.old-{}",
                out.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                std::process::id()
            ));
            fs::rename(&out, &aside).map_err(|e| Error::io(&out, e))?;
            old = Some(aside);
        }
        if let Err(e) = fs::rename(&staged, &out) {
            // Put the old directory back and drop the staged one.
            if let Some(aside) = &old {
                let _ = fs::rename(aside, &out);
            }
            let _ = fs::remove_dir_all(&staged);
            return Err(Error::io(&out, e));
        }
        sync_dir(&parent)?;
        if let Some(aside) = old {
            if aside.is_dir() {
                fs::remove_dir_all(&aside).map_err(|e| Error::io(&aside, e))?;
            } else {
                fs::remove_file(&aside).map_err(|e| Error::io(&aside, e))?;
            }
        }
        Ok(())
    }
}

/// `out` must be absent or an empty directory, unless `force`.
pub fn check_out(out: &Path, force: bool) -> Result<()> {
    if force || !out.exists() {
        return Ok(());
    }
    if out.is_dir() {
        let mut entries = fs::read_dir(out).map_err(|e| Error::io(out, e))?;
        if entries.next().is_none() {
            return Ok(());
        }
    }
    Err(Error::OutExists {
        path: out.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_dir_refuses_non_empty_out_without_force() -> Result<()> {
        let t = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let out = t.path().join("d");
        fs::create_dir(&out).map_err(|e| Error::io(&out, e))?;
        fs::write(out.join("x"), b"1").map_err(|e| Error::io(&out, e))?;
        assert!(matches!(
            StagingDir::new(&out, false),
            Err(Error::OutExists { .. })
        ));
        let s = StagingDir::new(&out, true)?;
        fs::write(s.path().join("y"), b"2").map_err(|e| Error::io(&out, e))?;
        s.commit()?;
        assert!(!out.join("x").exists());
        assert!(out.join("y").exists());
        // No leftovers beside `out`.
        let names: Vec<_> = fs::read_dir(t.path())
            .map_err(|e| Error::io("tmp", e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        Ok(())
    }

    #[test]
    fn staging_dir_dropped_leaves_nothing() -> Result<()> {
        let t = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let out = t.path().join("d");
        {
            let s = StagingDir::new(&out, false)?;
            fs::write(s.path().join("y"), b"2").map_err(|e| Error::io(&out, e))?;
        }
        assert!(!out.exists());
        assert_eq!(
            fs::read_dir(t.path())
                .map_err(|e| Error::io("tmp", e))?
                .count(),
            0
        );
        Ok(())
    }
}
