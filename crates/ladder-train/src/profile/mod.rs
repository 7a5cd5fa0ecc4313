//! `ladder profile`: where a training step's time goes. Every kernel call of a step (through
//! [`Instrumented`]) and the step-level passes (zeroing the gradients, the gradient-norm clip)
//! are timed; calls of the same op in different layers are summed per step and the median over
//! the timed steps is reported with the op's FLOPs, compulsory bytes, arithmetic intensity,
//! achieved GFLOP/s and GB/s, share of the step and position on this machine's roofline
//! ([`crate::machine`]). docs/profile.md explains how to read the table.
//!
//! Overhead: the profiler runs the same steps on a plain (uninstrumented) workspace interleaved
//! with the instrumented one, both from the same initial parameters on the same batch, and
//! reports the paired step-time difference; it also checks that both end with bitwise identical
//! parameters (instrumentation must change no number).

pub mod instrument;
pub mod trace;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use ladder_model::{AdamW, Cpu, Faults, ModelConfig, ParamLayout, Workspace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::Result;
use crate::machine::{self, MachinePeaks};
use crate::perf;
pub use instrument::{Hook, Instrumented, Kernel, NoHook, OpCall};

/// What to profile.
#[derive(Clone, Debug)]
pub struct ProfileOptions {
    /// Model shape (vocabulary included).
    pub model: ModelConfig,
    /// Sequences per step (B).
    pub batch: usize,
    /// Tokens per sequence (T).
    pub seq_len: usize,
    /// Timed steps (each mode).
    pub steps: usize,
    /// Untimed steps first (each mode).
    pub warmup: usize,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// Roofs to use; `None` = the machine cache ([`machine::peaks`], measuring on a miss).
    pub peaks: Option<MachinePeaks>,
}

/// What one recorded interval was.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EventKind {
    /// A backend kernel call.
    Kernel(OpCall),
    /// Zeroing the gradient buffer.
    ZeroGrad {
        /// Bytes written.
        bytes: f64,
    },
    /// Global gradient norm and clip.
    GradClip {
        /// FLOPs (square and add per element, scale when clipping).
        flops: f64,
        /// Bytes read (and written when clipping).
        bytes: f64,
    },
}

/// One timed interval on the step's driving thread.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    /// What ran.
    pub kind: EventKind,
    /// Timed step index (warm-up steps are not recorded).
    pub step: u32,
    /// Start, nanoseconds since the profiler was created.
    pub start_ns: u64,
    /// Duration in nanoseconds.
    pub dur_ns: u64,
}

/// The profiler's hook: records one [`Event`] per kernel call while enabled.
pub struct Recorder {
    t0: Instant,
    start: AtomicU64,
    step: AtomicU32,
    enabled: std::sync::atomic::AtomicBool,
    events: Mutex<Vec<Event>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            t0: Instant::now(),
            start: AtomicU64::new(0),
            step: AtomicU32::new(0),
            enabled: std::sync::atomic::AtomicBool::new(false),
            events: Mutex::new(Vec::new()),
        }
    }
}

impl Recorder {
    /// Nanoseconds since this recorder was created.
    pub fn now_ns(&self) -> u64 {
        self.t0.elapsed().as_nanos() as u64
    }

    fn push(&self, e: Event) {
        if let Ok(mut v) = self.events.lock() {
            v.push(e);
        }
    }

    /// Records a step-level interval that started at `start_ns` and ends now.
    pub fn record(&self, kind: EventKind, start_ns: u64) {
        if self.enabled.load(Ordering::Relaxed) {
            let end = self.now_ns();
            self.push(Event {
                kind,
                step: self.step.load(Ordering::Relaxed),
                start_ns,
                dur_ns: end.saturating_sub(start_ns),
            });
        }
    }

    /// Starts recording into step `step`.
    pub fn begin_step(&self, step: u32) {
        self.step.store(step, Ordering::Relaxed);
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// Stops recording.
    pub fn pause(&self) {
        self.enabled.store(false, Ordering::Relaxed);
    }

    /// The events recorded so far (moved out).
    pub fn take(&self) -> Vec<Event> {
        self.events
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

impl Hook for &Recorder {
    fn before(&self, _call: &OpCall) {
        self.start.store(self.now_ns(), Ordering::Relaxed);
    }
    fn after(&self, call: &OpCall, _out: &mut [f32]) {
        let s = self.start.load(Ordering::Relaxed);
        self.record(EventKind::Kernel(*call), s);
    }
}

/// Forward, backward, optimizer or step-level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Forward pass (the loss included).
    Forward,
    /// Backward pass.
    Backward,
    /// Optimizer update.
    Optimizer,
    /// Step-level passes outside the model (zero grads, clip).
    Step,
}

impl Phase {
    /// Short name for tables.
    pub fn short(self) -> &'static str {
        match self {
            Phase::Forward => "fwd",
            Phase::Backward => "bwd",
            Phase::Optimizer => "opt",
            Phase::Step => "step",
        }
    }
}

/// What limits an op on the roofline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Intensity at or above the ridge point: the FLOP roof applies.
    Compute,
    /// Intensity below the ridge: the bandwidth roof applies.
    Bandwidth,
}

/// Classifies intensity `i` (FLOP/byte) against `peaks`: the bound, the roof (GFLOP/s) there.
pub fn classify(peaks: &MachinePeaks, i: f64) -> (Bound, f64) {
    let bound = if i >= peaks.ridge() {
        Bound::Compute
    } else {
        Bound::Bandwidth
    };
    (bound, peaks.roof_gflops(i))
}

/// One row of the table: an op summed over the layers of a step.
#[derive(Clone, Debug, Serialize)]
pub struct OpRow {
    /// Phase.
    pub phase: Phase,
    /// The op's role (`qkv`, `norm1`, `attention`, `mlp_up`, ...).
    pub op: String,
    /// The kernel (or step-level pass) name.
    pub kernel: String,
    /// Calls per step.
    pub calls: usize,
    /// Median over steps of the op's summed time, ms.
    pub median_ms: f64,
    /// Fastest and slowest step's time for this op, ms.
    pub min_ms: f64,
    /// See `min_ms`.
    pub max_ms: f64,
    /// FLOPs per step.
    pub flops: f64,
    /// Compulsory bytes per step.
    pub bytes: f64,
    /// FLOPs per byte.
    pub intensity: f64,
    /// Achieved GFLOP/s at the median time.
    pub gflops: f64,
    /// Achieved GB/s at the median time.
    pub gbs: f64,
    /// Share of the median step time.
    pub share: f64,
    /// Roofline classification.
    pub bound: Bound,
    /// Roof at this intensity, GFLOP/s.
    pub roof_gflops: f64,
    /// Achieved / roof (1 = on the roof).
    pub of_roof: f64,
}

/// Min, median, max of a sample.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// 25th percentile.
    pub p25: f64,
    /// 75th percentile.
    pub p75: f64,
}

impl Spread {
    /// The spread of `xs` (must be non-empty).
    pub fn of(xs: &[f64]) -> Spread {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let x = p * (v.len() - 1) as f64;
            let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (x - lo as f64)
        };
        Spread {
            median: q(0.5),
            min: v[0],
            max: v[v.len() - 1],
            p25: q(0.25),
            p75: q(0.75),
        }
    }
}

/// The profile of a configuration.
#[derive(Clone, Debug, Serialize)]
pub struct ProfileReport {
    /// Model shape.
    pub model: ModelConfig,
    /// B.
    pub batch: usize,
    /// T.
    pub seq_len: usize,
    /// Threads.
    pub threads: usize,
    /// Timed steps per mode.
    pub steps: usize,
    /// Roofs used.
    pub peaks: MachinePeaks,
    /// Profiled step time, ms.
    pub step_ms: Spread,
    /// Plain (uninstrumented) step time, ms, interleaved with the profiled steps.
    pub plain_step_ms: Spread,
    /// Per step pair: (profiled − plain) / plain, percent.
    pub overhead_pct: Spread,
    /// Share of the profiled step time covered by the ops, per step.
    pub coverage: Spread,
    /// Step time not covered by any op, ms: the median over steps of step − Σ op times.
    pub uncovered_ms: f64,
    /// Whether the profiled and plain runs ended with bitwise identical parameters.
    pub bitwise_identical: bool,
    /// Rows, in the order of the step.
    pub ops: Vec<OpRow>,
    /// Raw events (for the trace; not serialized).
    #[serde(skip)]
    pub events: Vec<Event>,
    /// Step intervals (start ns, duration ns) of the profiled steps (for the trace).
    #[serde(skip)]
    pub step_spans: Vec<(u64, u64)>,
    /// Row label of each event (parallel to `events`).
    #[serde(skip)]
    pub labels: Vec<String>,
}

/// The matmul's role from its kernel and shape: (C, 3C) qkv, (C, C) attention projection,
/// (C, F)/(C, 2F) the MLP's input projection, (F, C) its output projection, (C, Vp) the lm head
/// (GPT-2 runs only its head through the `nt` kernels; for Llama a head of the same shape as
/// another matmul is named after the other).
fn matmul_role(cfg: &ModelConfig, kernel: Kernel, ic: usize, oc: usize) -> String {
    let (c, f, vp) = (cfg.n_embd, cfg.ffn_width(), cfg.padded_vocab_size());
    let nt = matches!(kernel, Kernel::MatmulNtForward | Kernel::MatmulNtBackward);
    let gpt2 = cfg.arch == ladder_model::Arch::Gpt2;
    if ic == c && oc == vp && nt && gpt2 {
        "lm_head".into()
    } else if ic == c && oc == 3 * c {
        "qkv".into()
    } else if ic == c && oc == c {
        "attn_proj".into()
    } else if ic == c && (oc == f || oc == 2 * f) && !(gpt2 && nt) {
        "mlp_up".into()
    } else if ic == f && oc == c {
        "mlp_down".into()
    } else if ic == c && oc == vp {
        "lm_head".into()
    } else {
        format!("matmul_{ic}x{oc}")
    }
}

/// Phase and op role of every event, by kernel, shape and order within its step (norms: the
/// forward runs norm1, norm2 per layer then the final norm; the backward the reverse).
fn label(cfg: &ModelConfig, events: &[Event]) -> Vec<(Phase, String, String)> {
    let per_pass = 2 * cfg.n_layer + 1;
    let (mut fwd_norms, mut bwd_norms, mut step) = (0usize, 0usize, u32::MAX);
    events
        .iter()
        .map(|e| {
            if e.step != step {
                step = e.step;
                fwd_norms = 0;
                bwd_norms = 0;
            }
            match e.kind {
                EventKind::ZeroGrad { .. } => (Phase::Step, "zero_grad".into(), "fill".into()),
                EventKind::GradClip { .. } => {
                    (Phase::Step, "grad_clip".into(), "clip_grad_norm".into())
                }
                EventKind::Kernel(k) => {
                    use Kernel::*;
                    let phase = match k.kernel {
                        AdamwUpdate => Phase::Optimizer,
                        // The fused loss forward + dlogits belongs to the forward's end.
                        CrossentropyForwardBackward | CrossentropyForward => Phase::Forward,
                        x if x.is_backward() => Phase::Backward,
                        _ => Phase::Forward,
                    };
                    let op = match k.kernel {
                        EmbeddingForward
                        | EmbeddingBackward
                        | TokenEmbeddingForward
                        | TokenEmbeddingBackward => "embedding".to_string(),
                        LayernormForward | RmsnormForward => {
                            let i = fwd_norms % per_pass;
                            fwd_norms += 1;
                            if i == per_pass - 1 {
                                "final_norm".into()
                            } else if i.is_multiple_of(2) {
                                "norm1".into()
                            } else {
                                "norm2".into()
                            }
                        }
                        LayernormBackward | RmsnormBackward => {
                            let i = bwd_norms % per_pass;
                            bwd_norms += 1;
                            if i == 0 {
                                "final_norm".into()
                            } else if (i - 1).is_multiple_of(2) {
                                "norm2".into()
                            } else {
                                "norm1".into()
                            }
                        }
                        MatmulForward
                        | MatmulForwardResidual
                        | MatmulBackwardInput
                        | MatmulBackwardWeight
                        | MatmulNtForward
                        | MatmulNtForwardResidual
                        | MatmulNtBackward => matmul_role(cfg, k.kernel, k.ic, k.oc),
                        AttentionForward | AttentionBackward => "attention".into(),
                        RopeForward | RopeBackward => "rope".into(),
                        SwigluForward | SwigluBackward => "swiglu".into(),
                        GeluForward | GeluBackward => "gelu".into(),
                        ResidualForward => "residual".into(),
                        CrossentropyForward | CrossentropyForwardBackward => "cross_entropy".into(),
                        AdamwUpdate => "adamw".into(),
                    };
                    (phase, op, k.kernel.name().to_string())
                }
            }
        })
        .collect()
}

fn cost(kind: &EventKind) -> (f64, f64) {
    match *kind {
        EventKind::Kernel(k) => (k.flops, k.bytes),
        EventKind::ZeroGrad { bytes } => (0.0, bytes),
        EventKind::GradClip { flops, bytes } => (flops, bytes),
    }
}

/// Builds the table from recorded events of `steps` timed steps with the given step times.
pub fn summarize(
    cfg: &ModelConfig,
    events: &[Event],
    step_s: &[f64],
    peaks: &MachinePeaks,
) -> (Vec<OpRow>, Vec<String>, Vec<f64>) {
    let steps = step_s.len();
    let labels = label(cfg, events);
    // Row key: (phase, op, kernel), in order of first appearance.
    let mut keys: Vec<(Phase, String, String)> = Vec::new();
    let mut idx = Vec::with_capacity(events.len());
    for l in &labels {
        let i = match keys.iter().position(|k| k == l) {
            Some(i) => i,
            None => {
                keys.push(l.clone());
                keys.len() - 1
            }
        };
        idx.push(i);
    }
    let mut time = vec![vec![0.0f64; steps]; keys.len()];
    let mut flops = vec![vec![0.0f64; steps]; keys.len()];
    let mut bytes = vec![vec![0.0f64; steps]; keys.len()];
    let mut calls = vec![vec![0usize; steps]; keys.len()];
    let mut covered = vec![0.0f64; steps];
    for (e, &i) in events.iter().zip(&idx) {
        let s = e.step as usize;
        if s >= steps {
            continue;
        }
        let (f, b) = cost(&e.kind);
        time[i][s] += e.dur_ns as f64 * 1e-9;
        flops[i][s] += f;
        bytes[i][s] += b;
        calls[i][s] += 1;
        covered[s] += e.dur_ns as f64 * 1e-9;
    }
    let step_med = Spread::of(step_s).median;
    let rows = keys
        .iter()
        .enumerate()
        .map(|(i, (phase, op, kernel))| {
            let t = Spread::of(&time[i]);
            let (f, b) = (flops[i][0], bytes[i][0]);
            let intensity = if b > 0.0 { f / b } else { 0.0 };
            let gflops = f / t.median / 1e9;
            let (bound, roof) = classify(peaks, intensity);
            OpRow {
                phase: *phase,
                op: op.clone(),
                kernel: kernel.clone(),
                calls: calls[i][0],
                median_ms: t.median * 1e3,
                min_ms: t.min * 1e3,
                max_ms: t.max * 1e3,
                flops: f,
                bytes: b,
                intensity,
                gflops,
                gbs: b / t.median / 1e9,
                share: t.median / step_med,
                bound,
                roof_gflops: roof,
                of_roof: if roof > 0.0 { gflops / roof } else { 0.0 },
            }
        })
        .collect();
    let label_strings = labels
        .iter()
        .map(|(p, op, k)| format!("{} {op} ({k})", p.short()))
        .collect();
    let coverage = covered.iter().zip(step_s).map(|(c, s)| c / s).collect();
    (rows, label_strings, coverage)
}

/// Fixed random tokens for one (B, T) batch.
fn batch(cfg: &ModelConfig, b: usize, t: usize) -> (Vec<u32>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let data: Vec<u32> = (0..b * (t + 1))
        .map(|_| rng.random_range(0..cfg.vocab_size as u32))
        .collect();
    let (mut inputs, mut targets) = (Vec::with_capacity(b * t), Vec::with_capacity(b * t));
    for row in data.chunks_exact(t + 1) {
        inputs.extend_from_slice(&row[..t]);
        targets.extend_from_slice(&row[1..]);
    }
    (inputs, targets)
}

/// Runs the profile (see the module docs).
pub fn profile(opts: &ProfileOptions) -> Result<ProfileReport> {
    opts.model.validate()?;
    let threads = perf::resolve_threads(opts.threads);
    let pool = perf::thread_pool(threads)?;
    pool.install(|| {
        let peaks = match &opts.peaks {
            Some(p) => p.clone(),
            None => machine::peaks()?,
        };
        let cfg = &opts.model;
        let (b, t) = (opts.batch, opts.seq_len);
        let layout = ParamLayout::new(cfg);
        let init = ladder_model::init_params(cfg, 0);
        let (inputs, targets) = batch(cfg, b, t);
        let rec = Recorder::default();
        let be = Instrumented::new(Cpu, &rec);
        let mut pws = Workspace::build(be, &cfg.spec(), cfg, b, t, &Faults::NONE)?;
        let mut ws = Workspace::new(cfg, b, t)?;
        let (mut pp, mut p0) = (init.clone(), init);
        let (mut pg, mut g0) = (vec![0.0f32; layout.len], vec![0.0f32; layout.len]);
        let (mut pa, mut a0) = (AdamW::new(&layout), AdamW::new(&layout));
        let n = layout.len as f64;
        let steps = opts.steps.max(1);
        let (mut prof_s, mut plain_s) = (Vec::new(), Vec::new());
        let mut spans = Vec::new();
        for i in 0..opts.warmup + steps {
            let timed = i >= opts.warmup;
            // Plain step.
            let t0 = Instant::now();
            g0.fill(0.0);
            ws.forward_backward(&p0, &mut g0, &inputs, &targets, 1.0)?;
            ladder_model::clip_grad_norm(&mut g0, 1.0);
            a0.step(&layout, &mut p0, &g0, 3e-4, 0.1);
            let plain = t0.elapsed().as_secs_f64();
            // Profiled step.
            if timed {
                rec.begin_step((i - opts.warmup) as u32);
            }
            let s0 = rec.now_ns();
            let t0 = Instant::now();
            pg.fill(0.0);
            rec.record(EventKind::ZeroGrad { bytes: 4.0 * n }, s0);
            pws.forward_backward(&pp, &mut pg, &inputs, &targets, 1.0)?;
            let c0 = rec.now_ns();
            let norm = ladder_model::clip_grad_norm(&mut pg, 1.0);
            let clipped = if norm.is_finite() && norm > 1.0 {
                1.0
            } else {
                0.0
            };
            rec.record(
                EventKind::GradClip {
                    flops: (2.0 + clipped) * n,
                    bytes: 4.0 * (1.0 + 2.0 * clipped) * n,
                },
                c0,
            );
            pa.step_on(pws.backend(), &layout, &mut pp, &pg, 3e-4, 0.1);
            let prof = t0.elapsed().as_secs_f64();
            rec.pause();
            if timed {
                plain_s.push(plain);
                prof_s.push(prof);
                spans.push((s0, (prof * 1e9) as u64));
            }
        }
        let events = rec.take();
        let (ops, labels, coverage) = summarize(cfg, &events, &prof_s, &peaks);
        let step_ms = Spread::of(&prof_s.iter().map(|s| s * 1e3).collect::<Vec<_>>());
        let uncovered: Vec<f64> = prof_s
            .iter()
            .zip(&coverage)
            .map(|(s, c)| 1e3 * s * (1.0 - c))
            .collect();
        let overhead: Vec<f64> = prof_s
            .iter()
            .zip(&plain_s)
            .map(|(p, q)| 100.0 * (p - q) / q)
            .collect();
        let bitwise_identical = pp.iter().zip(&p0).all(|(a, b)| a.to_bits() == b.to_bits());
        Ok(ProfileReport {
            model: cfg.clone(),
            batch: b,
            seq_len: t,
            threads,
            steps,
            peaks,
            uncovered_ms: Spread::of(&uncovered).median,
            step_ms,
            plain_step_ms: Spread::of(&plain_s.iter().map(|s| s * 1e3).collect::<Vec<_>>()),
            overhead_pct: Spread::of(&overhead),
            coverage: Spread::of(&coverage),
            bitwise_identical,
            ops,
            events,
            step_spans: spans,
            labels,
        })
    })
}

/// The table as text (what `ladder profile` prints).
pub fn render_table(r: &ProfileReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let m = &r.model;
    let _ = writeln!(
        s,
        "model     {:?} {}×{} ({} heads, F {}, vocab {}), batch {} × seq {}, {} threads, {} steps",
        m.arch,
        m.n_layer,
        m.n_embd,
        m.n_head,
        m.ffn_width(),
        m.vocab_size,
        r.batch,
        r.seq_len,
        r.threads,
        r.steps
    );
    let _ = writeln!(
        s,
        "roofs     {:.1} GFLOP/s fp32 GEMM, {:.1} GB/s triad, ridge {:.1} FLOP/byte ({}, {} threads)",
        r.peaks.gemm_gflops,
        r.peaks.triad_gbs,
        r.peaks.ridge(),
        r.peaks.host,
        r.peaks.threads
    );
    let _ = writeln!(
        s,
        "{:<5} {:<13} {:<29} {:>5} {:>9} {:>6} {:>9} {:>9} {:>7} {:>8} {:>7} {:>9} {:>6}",
        "phase",
        "op",
        "kernel",
        "calls",
        "ms",
        "share",
        "MFLOP",
        "MB",
        "FLOP/B",
        "GFLOP/s",
        "GB/s",
        "bound",
        "roof%"
    );
    for o in &r.ops {
        let _ = writeln!(
            s,
            "{:<5} {:<13} {:<29} {:>5} {:>9.3} {:>5.1}% {:>9.1} {:>9.2} {:>7.2} {:>8.2} {:>7.2} {:>9} {:>5.0}%",
            o.phase.short(),
            o.op,
            o.kernel,
            o.calls,
            o.median_ms,
            100.0 * o.share,
            o.flops / 1e6,
            o.bytes / 1e6,
            o.intensity,
            o.gflops,
            o.gbs,
            match o.bound {
                Bound::Compute => "compute",
                Bound::Bandwidth => "bandwidth",
            },
            100.0 * o.of_roof
        );
    }
    let _ = writeln!(
        s,
        "step      {:.3} ms median (min {:.3}, max {:.3}); the ops cover {:.1}% of a step (median; {:.1}–{:.1}% over steps), uncovered {:.3} ms (median)",
        r.step_ms.median,
        r.step_ms.min,
        r.step_ms.max,
        100.0 * r.coverage.median,
        100.0 * r.coverage.min,
        100.0 * r.coverage.max,
        r.uncovered_ms
    );
    let _ = writeln!(
        s,
        "overhead  {:+.2}% median per step pair (IQR {:+.2} to {:+.2}%, range {:+.2} to {:+.2}%); plain step {:.3} ms median; parameters bitwise identical: {}",
        r.overhead_pct.median,
        r.overhead_pct.p25,
        r.overhead_pct.p75,
        r.overhead_pct.min,
        r.overhead_pct.max,
        r.plain_step_ms.median,
        if r.bitwise_identical { "yes" } else { "NO" }
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(arch: ladder_model::Arch) -> ModelConfig {
        ModelConfig {
            n_layer: 2,
            n_embd: 32,
            n_head: 2,
            block_size: 16,
            vocab_size: 96,
            arch,
            norm: if arch == ladder_model::Arch::Llama {
                ladder_model::NormKind::RmsNorm
            } else {
                ladder_model::NormKind::LayerNorm
            },
            ..ModelConfig::default()
        }
    }

    fn peaks() -> MachinePeaks {
        MachinePeaks {
            host: "test".into(),
            threads: 1,
            gemm_gflops: 50.0,
            triad_gbs: 10.0,
            measured_unix: 0,
            fingerprint: None,
            fingerprint_build: None,
        }
    }

    fn run(arch: ladder_model::Arch) -> ProfileReport {
        profile(&ProfileOptions {
            model: tiny(arch),
            batch: 2,
            seq_len: 16,
            steps: 3,
            warmup: 1,
            threads: 1,
            peaks: Some(peaks()),
        })
        .unwrap()
    }

    fn has(r: &ProfileReport, phase: Phase, op: &str) -> bool {
        r.ops.iter().any(|o| o.phase == phase && o.op == op)
    }

    #[test]
    fn gpt2_profile_covers_the_step_and_changes_no_number() {
        let r = run(ladder_model::Arch::Gpt2);
        assert!(r.bitwise_identical);
        for op in [
            "embedding",
            "norm1",
            "norm2",
            "final_norm",
            "qkv",
            "attention",
        ] {
            assert!(has(&r, Phase::Forward, op), "forward {op} missing");
            assert!(has(&r, Phase::Backward, op), "backward {op} missing");
        }
        for op in ["attn_proj", "mlp_up", "mlp_down", "gelu", "lm_head"] {
            assert!(
                has(&r, Phase::Forward, op) && has(&r, Phase::Backward, op),
                "{op}"
            );
        }
        assert!(has(&r, Phase::Forward, "cross_entropy"));
        assert!(has(&r, Phase::Optimizer, "adamw"));
        assert!(has(&r, Phase::Step, "zero_grad") && has(&r, Phase::Step, "grad_clip"));
        // Every layer's norm1 is one call of the row.
        let n1 = r.ops.iter().find(|o| o.op == "norm1").unwrap();
        assert_eq!(n1.calls, 2);
        let covered: f64 = r.ops.iter().map(|o| o.median_ms).sum();
        assert!(
            r.coverage.median >= 0.95,
            "ops cover {:.1}% of the step",
            100.0 * r.coverage.median
        );
        assert!(covered > 0.0);
        let shares: f64 = r.ops.iter().map(|o| o.share).sum();
        assert!(shares > 0.5 && shares <= 1.5, "{shares}");
    }

    #[test]
    fn llama_profile_names_its_ops() {
        let r = run(ladder_model::Arch::Llama);
        assert!(r.bitwise_identical);
        for op in [
            "norm1",
            "norm2",
            "final_norm",
            "qkv",
            "rope",
            "swiglu",
            "mlp_up",
        ] {
            assert!(has(&r, Phase::Forward, op), "forward {op} missing");
            assert!(has(&r, Phase::Backward, op), "backward {op} missing");
        }
        assert!(r.ops.iter().any(|o| o.kernel == "rmsnorm_forward"));
    }

    #[test]
    fn roofline_puts_a_gemm_above_and_a_norm_below_the_ridge() {
        // Model FLOPs and bytes, not timings: the classification depends on intensity only.
        let p = peaks(); // ridge 5 FLOP/byte
        let r = run(ladder_model::Arch::Gpt2);
        let gemm = 2.0 * 512.0 * 256.0 * 1024.0
            / (4.0 * (512.0 * 256.0 + 256.0 * 1024.0 + 512.0 * 1024.0));
        assert_eq!(classify(&p, gemm).0, Bound::Compute);
        for o in &r.ops {
            if o.kernel.starts_with("layernorm") || o.op == "residual" || o.op == "adamw" {
                assert_eq!(o.bound, Bound::Bandwidth, "{} {}", o.op, o.kernel);
            }
        }
        // The model's own matmuls at S-like width are compute-bound too.
        let big = MachinePeaks {
            gemm_gflops: 20.0,
            triad_gbs: 10.0,
            ..p
        };
        let row = r.ops.iter().find(|o| o.op == "mlp_up").unwrap();
        assert_eq!(
            classify(&big, row.intensity).0,
            Bound::Compute,
            "{}",
            row.intensity
        );
    }

    #[test]
    fn spread_quantiles() {
        let s = Spread::of(&[4.0, 1.0, 3.0, 2.0, 5.0]);
        assert_eq!(
            (s.min, s.p25, s.median, s.p75, s.max),
            (1.0, 2.0, 3.0, 4.0, 5.0)
        );
    }
}
