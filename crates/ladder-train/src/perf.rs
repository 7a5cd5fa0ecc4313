//! Performance plumbing: the worker thread pool, the machine's measured fp32 GEMM peak (the
//! denominator of MFU), and the process's peak resident memory.
//!
//! Process-wide state: the measured peak is cached per thread count in [`PEAK_CACHE`] the first
//! time it is asked for, so a process that trains, evaluates and benchmarks measures it once. It
//! is only ever a measurement of this machine, never an input to the numerics.

use std::sync::Mutex;
use std::time::Instant;

use crate::error::{Error, Result};

/// Builds the pool the kernels run on; `threads = 0` means one thread per core. Work runs on it
/// through `pool.install(..)`, so `rayon::current_num_threads()` inside equals `threads`, which
/// is what makes results reproducible for a fixed count.
pub fn thread_pool(threads: usize) -> Result<rayon::ThreadPool> {
    let n = resolve_threads(threads);
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("ladder-{i}"))
        .build()
        .map_err(|e| Error::ThreadPool {
            threads: n,
            message: e.to_string(),
        })
}

/// `threads`, or the number of cores when it is 0.
pub fn resolve_threads(threads: usize) -> usize {
    if threads > 0 {
        threads
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Measured peaks by thread count (see the module docs).
static PEAK_CACHE: Mutex<Vec<(usize, f64)>> = Mutex::new(Vec::new());

/// Shape of the probe: 1024 × 512 · 512 × 1024 (1.07 GFLOP), the size of the largest GEMMs of the
/// S/M configs (B·T = 2048 rows, 256–1536 columns), large enough to reach the kernel's peak.
const PROBE: (usize, usize, usize) = (1024, 512, 1024);

/// The best fp32 GEMM rate of this machine in GFLOP/s, on the current rayon pool (call it inside
/// `pool.install`): [`probe_gemm_gflops`], cached per thread count for the process.
pub fn measured_peak_gflops() -> f64 {
    let threads = rayon::current_num_threads();
    if let Ok(cache) = PEAK_CACHE.lock() {
        if let Some(&(_, g)) = cache.iter().find(|(t, _)| *t == threads) {
            return g;
        }
    }
    let g = probe_gemm_gflops();
    if let Ok(mut cache) = PEAK_CACHE.lock() {
        cache.push((threads, g));
    }
    g
}

/// One uncached measurement: a warm-up call, then the best of 8 timed calls of `gemm` (the crate
/// the model's matmuls use) on the current rayon pool; about 0.2 s on 2 cores. The best, not the
/// median: other processes on the machine can only slow a call down.
pub fn probe_gemm_gflops() -> f64 {
    let threads = rayon::current_num_threads();
    let (m, k, n) = PROBE;
    let a: Vec<f32> = (0..m * k).map(|i| ((i % 17) as f32 - 8.0) * 0.01).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i % 13) as f32 - 6.0) * 0.01).collect();
    let mut c = vec![0.0f32; m * n];
    let mut best = f64::INFINITY;
    for rep in 0..9 {
        let t0 = Instant::now();
        // SAFETY: row-major a (m×k), b (k×n), c (m×n) with the strides below stay inside their
        // Vecs, which outlive the call; c does not alias a or b.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr(),
                1,
                k as isize,
                b.as_ptr(),
                1,
                n as isize,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(threads),
            );
        }
        let dt = t0.elapsed().as_secs_f64();
        if rep > 0 {
            best = best.min(dt);
        }
    }
    std::hint::black_box(&c);
    2.0 * (m * k * n) as f64 / best / 1e9
}

/// Peak resident set size of this process in bytes (`getrusage` `ru_maxrss`), if the OS says.
pub fn peak_rss_bytes() -> Option<u64> {
    #[cfg(unix)]
    {
        // SAFETY: getrusage writes into the zeroed struct we pass and reads nothing else.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        if rc != 0 {
            return None;
        }
        let v = ru.ru_maxrss as u64;
        // Linux reports KiB, macOS bytes.
        if cfg!(target_os = "macos") {
            Some(v)
        } else {
            Some(v * 1024)
        }
    }
    #[cfg(not(unix))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_peak_is_positive_and_cached() {
        let pool = thread_pool(1).unwrap();
        let a = pool.install(measured_peak_gflops);
        assert!(a > 0.1 && a.is_finite(), "{a}");
        let b = pool.install(measured_peak_gflops);
        assert_eq!(a, b, "second call must come from the cache");
    }

    #[test]
    fn peak_rss_is_reported() {
        let r = peak_rss_bytes().unwrap();
        assert!(r > 1 << 20, "{r}");
    }

    #[test]
    fn zero_threads_means_all_cores() {
        assert!(resolve_threads(0) >= 1);
        assert_eq!(resolve_threads(3), 3);
    }
}
