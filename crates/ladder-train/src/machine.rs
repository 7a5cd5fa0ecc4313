//! This machine's measured roofs: the fp32 GEMM rate ([`crate::perf::probe_gemm_gflops`]) and
//! the memory bandwidth of a STREAM-like triad, measured once and cached per machine and thread
//! count in a small JSON file (`ladder doctor` writes it; `ladder profile` reads it, measuring on
//! a miss). The cache also keeps the doctor's fingerprint of the fixed-seed tiny model per thread
//! count. Nothing here feeds the numerics.
//!
//! Where: `$LADDER_MACHINE_CACHE` if set, else `$XDG_CACHE_HOME/ladder/machine.json`, else
//! `$HOME/.cache/ladder/machine.json`. The key is the host name plus the thread count.

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::fsutil;
use crate::perf;

/// Elements per triad array: 3 × 8 Mi f32 = 96 MiB, far beyond any last-level cache here.
const TRIAD_LEN: usize = 8 << 20;

/// The measured roofs of one (host, threads).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MachinePeaks {
    /// Host name.
    pub host: String,
    /// Worker threads the figures were measured on.
    pub threads: usize,
    /// Best fp32 GEMM rate, GFLOP/s.
    pub gemm_gflops: f64,
    /// Best triad bandwidth (`a = b + s·c`, 12 bytes per element), GB/s (10⁹ bytes/s).
    pub triad_gbs: f64,
    /// When measured (seconds since the Unix epoch).
    pub measured_unix: u64,
    /// The doctor's fingerprint of the fixed-seed tiny model on this machine, if it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The build (see `doctor::build_id`) that produced `fingerprint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint_build: Option<String>,
}

impl MachinePeaks {
    /// The ridge point: the arithmetic intensity (FLOP/byte) where the two roofs meet.
    pub fn ridge(&self) -> f64 {
        self.gemm_gflops / self.triad_gbs
    }

    /// The roof at intensity `i` FLOP/byte, GFLOP/s: min(peak, i · bandwidth).
    pub fn roof_gflops(&self, i: f64) -> f64 {
        self.gemm_gflops.min(i * self.triad_gbs)
    }
}

/// The cache file's content.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MachineCache {
    /// One entry per (host, threads).
    pub entries: Vec<MachinePeaks>,
}

/// The cache file's path (see the module docs); `None` when no home or cache directory is known.
pub fn cache_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LADDER_MACHINE_CACHE") {
        return Some(PathBuf::from(p));
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(x).join("ladder").join("machine.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/ladder/machine.json"))
}

/// This machine's host name (`gethostname`), or "unknown".
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Reads the cache (empty when the file does not exist).
pub fn load_cache() -> Result<MachineCache> {
    match cache_path() {
        Some(p) if p.exists() => fsutil::read_json(&p),
        _ => Ok(MachineCache::default()),
    }
}

/// The cached entry for this host and `threads`, if any.
pub fn cached(threads: usize) -> Result<Option<MachinePeaks>> {
    let host = host_name();
    Ok(load_cache()?
        .entries
        .into_iter()
        .find(|e| e.host == host && e.threads == threads))
}

/// Stores `entry` (replacing the one of the same host and threads), atomically.
pub fn store(entry: &MachinePeaks) -> Result<()> {
    let Some(path) = cache_path() else {
        return Ok(());
    };
    let mut cache = load_cache()?;
    cache
        .entries
        .retain(|e| !(e.host == entry.host && e.threads == entry.threads));
    cache.entries.push(entry.clone());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| crate::Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    fsutil::write_json_atomic(&path, &cache)
}

/// Measures both roofs now on the current rayon pool (call inside `pool.install`); ~1 s.
pub fn measure() -> MachinePeaks {
    let threads = rayon::current_num_threads();
    MachinePeaks {
        host: host_name(),
        threads,
        gemm_gflops: perf::probe_gemm_gflops(),
        triad_gbs: probe_triad_gbs(),
        measured_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        fingerprint: None,
        fingerprint_build: None,
    }
}

/// The cached roofs for the current pool's thread count, measuring and storing them on a miss.
pub fn peaks() -> Result<MachinePeaks> {
    let threads = rayon::current_num_threads();
    if let Some(e) = cached(threads)? {
        return Ok(e);
    }
    let m = measure();
    store(&m)?;
    Ok(m)
}

/// STREAM's triad `a[i] = b[i] + s·c[i]` over [`TRIAD_LEN`] f32 in parallel chunks: best of 5
/// timed passes after one warm-up, counting 12 bytes per element (two reads, one write; the
/// write-allocate read of `a` is not counted, as in STREAM). GB/s.
pub fn probe_triad_gbs() -> f64 {
    triad_gbs_len(TRIAD_LEN, 5)
}

/// [`probe_triad_gbs`] over `len` elements, best of `reps` timed passes.
pub fn triad_gbs_len(len: usize, reps: usize) -> f64 {
    let mut a = vec![0.0f32; len];
    let b: Vec<f32> = (0..len).map(|i| (i % 7) as f32).collect();
    let c: Vec<f32> = (0..len).map(|i| (i % 5) as f32).collect();
    let s = 3.0f32;
    let chunk = 1 << 16;
    let mut best = f64::INFINITY;
    for rep in 0..=reps.max(1) {
        let t0 = Instant::now();
        a.par_chunks_mut(chunk)
            .zip(b.par_chunks(chunk))
            .zip(c.par_chunks(chunk))
            .for_each(|((a, b), c)| {
                for ((a, &b), &c) in a.iter_mut().zip(b).zip(c) {
                    *a = b + s * c;
                }
            });
        let dt = t0.elapsed().as_secs_f64();
        if rep > 0 {
            best = best.min(dt);
        }
    }
    std::hint::black_box(&a);
    12.0 * len as f64 / best / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triad_reports_a_finite_positive_bandwidth() {
        let g = triad_gbs_len(1 << 16, 2);
        assert!(g.is_finite() && g > 0.0, "{g}");
    }

    #[test]
    fn roof_is_bandwidth_below_the_ridge_and_flat_above() {
        let m = MachinePeaks {
            host: "h".into(),
            threads: 1,
            gemm_gflops: 100.0,
            triad_gbs: 10.0,
            measured_unix: 0,
            fingerprint: None,
            fingerprint_build: None,
        };
        assert_eq!(m.ridge(), 10.0);
        assert_eq!(m.roof_gflops(1.0), 10.0);
        assert_eq!(m.roof_gflops(50.0), 100.0);
    }
}
