//! Checking a data directory's files against the sha256 hashes `meta.json` records, cheaply.
//!
//! Hashing a multi-GB `train.bin` before every run would cost more than a short run, so the result
//! is cached in [`VERIFY_CACHE_FILE`] inside the data directory: per file the size, modification
//! time and hash that was found to match. A file whose size and mtime still equal its cache entry
//! (and whose recorded hash is unchanged) is not read again; any other is hashed in full. The cache
//! is written atomically and only ever holds hashes that matched `meta.json`; a directory that
//! cannot be written to is still verified, just without the cache.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil::{sha256_file, write_atomic};
use crate::meta::Meta;

/// The cache of verified hashes, in the data directory (hidden: it is not data).
pub const VERIFY_CACHE_FILE: &str = ".verified.json";

/// What was seen of one file when its hash last matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    size: u64,
    mtime_ns: u128,
    sha256: String,
}

/// Checks every output file `meta.json` records a hash for (`tokenizer.json`, `train.bin`,
/// `val.bin`; the `input:` entries name the source texts, which need not be present) against it.
/// Returns the names of the files that had to be hashed in full (empty when the cache held all).
pub fn verify_hashes(dir: &Path, meta: &Meta) -> Result<Vec<String>> {
    let cache_path = dir.join(VERIFY_CACHE_FILE);
    // A missing or unreadable cache only costs a re-hash.
    let mut cache: BTreeMap<String, Seen> = std::fs::read(&cache_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let mut hashed = Vec::new();
    for (name, expected) in meta.hashes.iter().filter(|(k, _)| !k.contains(':')) {
        let path = dir.join(name);
        let md = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        let mtime_ns = md
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let now = Seen {
            size: md.len(),
            mtime_ns,
            sha256: expected.clone(),
        };
        if cache.get(name) == Some(&now) {
            continue;
        }
        let found = sha256_file(&path)?;
        hashed.push(name.clone());
        if &found != expected {
            return Err(Error::HashMismatch {
                path,
                expected: expected.clone(),
                found,
            });
        }
        cache.insert(name.clone(), now);
    }
    // Drop entries of files meta.json no longer records, then save if anything was learnt.
    cache.retain(|k, _| meta.hashes.contains_key(k));
    if !hashed.is_empty() {
        if let Ok(text) = serde_json::to_vec_pretty(&cache) {
            // Best effort: a read-only data directory is verified every time instead.
            let _ = write_atomic(&cache_path, &text);
        }
    }
    Ok(hashed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NoProgress, SynthConfig};

    #[test]
    fn hashes_once_then_trusts_the_cache_until_a_file_changes() -> Result<()> {
        let t = tempfile::tempdir().map_err(|e| Error::io(Path::new("tempdir"), e))?;
        let dir = t.path().join("d");
        let cfg = SynthConfig {
            train_tokens: 20_000,
            val_tokens: 4_000,
            ..SynthConfig::default()
        };
        let meta = crate::synth::write_synth(&cfg, &dir, false, &NoProgress)?;
        let all = ["tokenizer.json", "train.bin", "val.bin"].map(String::from);
        assert_eq!(verify_hashes(&dir, &meta)?, all);
        assert!(verify_hashes(&dir, &meta)?.is_empty(), "cached");
        // Rewriting a file (same bytes, new mtime) costs one re-hash of that file only.
        let tok = std::fs::read(dir.join("tokenizer.json")).map_err(|e| Error::io(&dir, e))?;
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.join("tokenizer.json"), &tok).map_err(|e| Error::io(&dir, e))?;
        assert_eq!(verify_hashes(&dir, &meta)?, ["tokenizer.json"]);
        // A changed file of the same size is caught and named.
        let mut bad = tok.clone();
        bad[0] ^= 1;
        std::fs::write(dir.join("tokenizer.json"), &bad).map_err(|e| Error::io(&dir, e))?;
        let err = verify_hashes(&dir, &meta).expect_err("changed file");
        assert!(err.to_string().contains("tokenizer.json"), "{err}");
        // A garbage cache is ignored, never trusted.
        std::fs::write(dir.join("tokenizer.json"), &tok).map_err(|e| Error::io(&dir, e))?;
        std::fs::write(dir.join(VERIFY_CACHE_FILE), b"{not json")
            .map_err(|e| Error::io(&dir, e))?;
        assert_eq!(verify_hashes(&dir, &meta)?, all);
        Ok(())
    }
}
