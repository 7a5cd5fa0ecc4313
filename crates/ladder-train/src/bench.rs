//! `ladder bench`: full training steps (zero grads, forward + backward, grad-norm clip, AdamW) on
//! random tokens, timed one by one after a few warm-up steps. Mirrors
//! `../shared/reference/torch_bench.py` (same model, batch, random data), so the two tokens/s
//! figures compare directly. GFLOP/s and MFU use `train_flops_per_token` (see [`crate::metrics`]);
//! the peak is the measured fp32 GEMM rate of [`crate::perf`] unless one is declared.

use std::time::Instant;

use ladder_model::{AdamW, ModelConfig, ParamLayout, Workspace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::Result;
use crate::metrics::PeakSource;
use crate::perf;

/// What to benchmark.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Model shape (vocabulary included).
    pub model: ModelConfig,
    /// Sequences per step (B).
    pub batch: usize,
    /// Tokens per sequence (T).
    pub seq_len: usize,
    /// Timed steps.
    pub steps: usize,
    /// Untimed steps first (allocation, page faults, caches).
    pub warmup: usize,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// Declared peak GFLOP/s; `None` = measure.
    pub peak_gflops: Option<f64>,
}

/// The measurements.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Model shape.
    pub model: ModelConfig,
    /// B.
    pub batch: usize,
    /// T.
    pub seq_len: usize,
    /// Threads used.
    pub threads: usize,
    /// Non-embedding parameters.
    pub n_params: u64,
    /// All parameters.
    pub n_params_total: u64,
    /// Timed steps.
    pub steps: usize,
    /// Median step time in milliseconds.
    pub median_ms: f64,
    /// Fastest step.
    pub min_ms: f64,
    /// Slowest step.
    pub max_ms: f64,
    /// Tokens per second at the median step time.
    pub tok_per_s: f64,
    /// `train_flops_per_token(T)`.
    pub flops_per_token: f64,
    /// Achieved GFLOP/s at the median step time.
    pub gflops: f64,
    /// Peak GFLOP/s.
    pub peak_gflops: f64,
    /// Measured or declared.
    pub peak_source: PeakSource,
    /// `gflops / peak_gflops`.
    pub mfu: f64,
    /// Peak resident memory of the process, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Loss of the last step (a sanity check: about ln V on random tokens).
    pub last_loss: f32,
}

/// Runs the benchmark.
pub fn bench(opts: &BenchOptions) -> Result<BenchReport> {
    opts.model.validate()?;
    let threads = perf::resolve_threads(opts.threads);
    let pool = perf::thread_pool(threads)?;
    pool.install(|| {
        let (peak_gflops, peak_source) = match opts.peak_gflops {
            Some(g) => (g, PeakSource::Declared),
            None => (perf::measured_peak_gflops(), PeakSource::Measured),
        };
        let cfg = &opts.model;
        let (b, t) = (opts.batch, opts.seq_len);
        let layout = ParamLayout::new(cfg);
        let mut params = ladder_model::init_params(cfg, 0);
        let mut grads = vec![0.0f32; layout.len];
        let mut adam = AdamW::new(&layout);
        let mut ws = Workspace::new(cfg, b, t)?;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let data: Vec<u32> = (0..b * (t + 1))
            .map(|_| rng.random_range(0..cfg.vocab_size as u32))
            .collect();
        let (mut inputs, mut targets) = (Vec::with_capacity(b * t), Vec::with_capacity(b * t));
        for row in data.chunks_exact(t + 1) {
            inputs.extend_from_slice(&row[..t]);
            targets.extend_from_slice(&row[1..]);
        }
        let mut times = Vec::with_capacity(opts.steps);
        let mut last_loss = 0.0;
        for i in 0..opts.warmup + opts.steps.max(1) {
            let t0 = Instant::now();
            grads.fill(0.0);
            last_loss = ws.forward_backward(&params, &mut grads, &inputs, &targets, 1.0)?;
            ladder_model::clip_grad_norm(&mut grads, 1.0);
            adam.step(&layout, &mut params, &grads, 3e-4, 0.1);
            let dt = t0.elapsed().as_secs_f64();
            if i >= opts.warmup {
                times.push(dt);
            }
        }
        // Probe again after the steps and keep the better: on a shared machine a single probe can
        // catch a busy moment and overstate MFU.
        let (peak_gflops, peak_source) = match peak_source {
            PeakSource::Measured => (peak_gflops.max(perf::probe_gemm_gflops()), peak_source),
            PeakSource::Declared => (peak_gflops, peak_source),
        };
        times.sort_by(f64::total_cmp);
        let median = if times.len() % 2 == 1 {
            times[times.len() / 2]
        } else {
            0.5 * (times[times.len() / 2 - 1] + times[times.len() / 2])
        };
        let tokens = (b * t) as f64;
        let flops_per_token = cfg.train_flops_per_token(t);
        let gflops = flops_per_token * tokens / median / 1e9;
        Ok(BenchReport {
            model: cfg.clone(),
            batch: b,
            seq_len: t,
            threads,
            n_params: cfg.n_params_non_embedding(),
            n_params_total: cfg.n_params_total(),
            steps: times.len(),
            median_ms: median * 1e3,
            min_ms: times[0] * 1e3,
            max_ms: times[times.len() - 1] * 1e3,
            tok_per_s: tokens / median,
            flops_per_token,
            gflops,
            peak_gflops,
            peak_source,
            mfu: gflops / peak_gflops,
            peak_rss_bytes: perf::peak_rss_bytes(),
            last_loss,
        })
    })
}
