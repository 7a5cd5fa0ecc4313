//! `ladder doctor`: does this machine compute correctly and at its usual speed? Three kinds of
//! check (docs/doctor.md):
//! 1. known-answer tests of every kernel, forward and backward ([`kat`]);
//! 2. bitwise repeatability: two fresh runs of the same training steps of the fixed-seed tiny
//!    model give identical bits, and their fingerprint matches the one this build produced on
//!    this machine before (kept in the machine cache, [`crate::machine`]);
//! 3. speed: the GEMM rate and triad bandwidth against the machine's cached figures (degraded
//!    when either is more than 20 % below).
//!
//! Under MPI every rank runs the checks and the ranks compare fingerprints through the
//! communicator; a rank whose fingerprint differs from the majority is named.

pub mod kat;

use ladder_model::{AdamW, Backend, Cpu, Faults, ModelConfig, ParamLayout, Workspace};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::comm::Comm;
use crate::error::Result;
use crate::machine::{self, MachinePeaks};
use crate::perf;
use crate::profile::{Hook, Instrumented, Kernel, OpCall};

/// A check's outcome (ordered: the worst decides the exit code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Passed.
    Ok,
    /// Slower than the machine's own figures.
    Degraded,
    /// A wrong number.
    Failed,
}

impl Status {
    /// The process exit code: 0 healthy, 2 degraded, 1 failed.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Failed => 1,
            Status::Degraded => 2,
        }
    }
}

/// Performance more than this fraction below the cached figure is degraded.
pub const DEGRADED_BELOW: f64 = 0.20;

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct DoctorOptions {
    /// One shape per kernel and shorter speed probes.
    pub quick: bool,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// Test-only: perturb this kernel's output (proves a broken kernel is caught and named).
    pub break_kernel: Option<Kernel>,
}

/// One non-kernel check.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Its name.
    pub name: String,
    /// Outcome.
    pub status: Status,
    /// What was found, with the numbers.
    pub detail: String,
}

/// Everything the doctor found.
#[derive(Clone, Debug, Serialize)]
pub struct DoctorReport {
    /// This process's rank.
    pub rank: usize,
    /// Ranks in the job.
    pub world: usize,
    /// Host name.
    pub host: String,
    /// Threads.
    pub threads: usize,
    /// The worst outcome.
    pub status: Status,
    /// Known-answer tests.
    pub kernels: Vec<kat::KatResult>,
    /// Repeatability, fingerprint, speed and cross-rank checks.
    pub checks: Vec<Check>,
    /// Fingerprint of the fixed-seed tiny model after the doctor's steps.
    pub fingerprint: String,
    /// Measured now.
    pub measured: MachinePeaks,
}

impl DoctorReport {
    /// Kernels that failed their known-answer test (names, deduplicated).
    pub fn failed_kernels(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = Vec::new();
        for k in self.kernels.iter().filter(|k| k.status == Status::Failed) {
            if !v.contains(&k.kernel) {
                v.push(k.kernel);
            }
        }
        v
    }
}

/// The test-only fault: adds 5 % of (1 + |x|) to every third element of one kernel's output (a
/// wrong kernel, not a last-bit flip: see docs/doctor.md for what the checks can resolve).
#[derive(Clone, Copy, Debug, Default)]
pub struct Breaker(pub Option<Kernel>);

impl Hook for Breaker {
    fn after(&self, call: &OpCall, out: &mut [f32]) {
        if self.0 == Some(call.kernel) {
            for x in out.iter_mut().step_by(3) {
                *x += 0.05 * (1.0 + x.abs());
            }
        }
    }
}

/// The fixed-seed tiny model of the fingerprint: GPT-2, 2 × 32, vocabulary 96, B 2 × T 16.
pub fn fingerprint_config() -> ModelConfig {
    ModelConfig {
        n_layer: 2,
        n_embd: 32,
        n_head: 2,
        block_size: 16,
        vocab_size: 96,
        ..ModelConfig::default()
    }
}

/// Runs `steps` full training steps (zero, forward + backward, clip, AdamW) of the fixed-seed
/// tiny model on backend `be` and hashes the final parameters and every step's loss: sha256, the
/// first 16 hex digits. Deterministic for a fixed backend, thread count and build.
pub fn fingerprint<B: Backend>(be: B, steps: usize) -> Result<String> {
    let cfg = fingerprint_config();
    let (b, t) = (2, 16);
    let layout = ParamLayout::new(&cfg);
    let mut params = ladder_model::init_params(&cfg, 0);
    let mut grads = vec![0.0f32; layout.len];
    let mut adam = AdamW::new(&layout);
    let mut ws = Workspace::build(be, &cfg.spec(), &cfg, b, t, &Faults::NONE)?;
    let tokens: Vec<u32> = (0..b * (t + 1))
        .map(|i| ((i * 37 + 11) % 96) as u32)
        .collect();
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    for row in tokens.chunks_exact(t + 1) {
        inputs.extend_from_slice(&row[..t]);
        targets.extend_from_slice(&row[1..]);
    }
    let mut h = Sha256::new();
    for _ in 0..steps {
        grads.fill(0.0);
        let loss = ws.forward_backward(&params, &mut grads, &inputs, &targets, 1.0)?;
        ladder_model::clip_grad_norm(&mut grads, 1.0);
        adam.step_on(ws.backend(), &layout, &mut params, &grads, 1e-2, 0.1);
        h.update(loss.to_bits().to_le_bytes());
    }
    for p in &params {
        h.update(p.to_bits().to_le_bytes());
    }
    Ok(hex::encode(&h.finalize()[..8]))
}

/// An identifier of this build: sha256 of the running executable (16 hex digits), or the
/// package version when the executable cannot be read.
pub fn build_id() -> String {
    std::env::current_exe()
        .and_then(std::fs::read)
        .map(|bytes| hex::encode(&Sha256::digest(&bytes)[..8]))
        .unwrap_or_else(|_| format!("v{}", env!("CARGO_PKG_VERSION")))
}

/// Runs the doctor on this rank (see the module docs). Every rank must call it under MPI.
pub fn doctor(opts: &DoctorOptions, comm: &Comm) -> Result<DoctorReport> {
    let threads = perf::resolve_threads(opts.threads);
    let pool = perf::thread_pool(threads)?;
    pool.install(|| run(opts, comm, threads))
}

fn run(opts: &DoctorOptions, comm: &Comm, threads: usize) -> Result<DoctorReport> {
    let be = Instrumented::new(Cpu, Breaker(opts.break_kernel));
    let kernels = kat::run(&be, &kat::shapes(opts.quick));
    let mut checks = Vec::new();

    // Repeatability and fingerprint.
    let steps = 3;
    let a = fingerprint(Instrumented::new(Cpu, Breaker(opts.break_kernel)), steps)?;
    let b = fingerprint(Instrumented::new(Cpu, Breaker(opts.break_kernel)), steps)?;
    checks.push(Check {
        name: "repeatability".into(),
        status: if a == b { Status::Ok } else { Status::Failed },
        detail: if a == b {
            format!("{steps} training steps of the fixed-seed tiny model, twice: identical bits ({a})")
        } else {
            format!("{steps} training steps of the fixed-seed tiny model, twice: {a} then {b} (the machine or a kernel is not deterministic)")
        },
    });

    // Speed.
    let mut measured = machine::measure();
    let gemm_best = if opts.quick {
        measured.gemm_gflops
    } else {
        measured.gemm_gflops.max(perf::probe_gemm_gflops())
    };
    measured.gemm_gflops = gemm_best;
    let build = build_id();
    let cached = machine::cached(threads)?;
    let mut store = cached.clone().unwrap_or_else(|| measured.clone());
    let mut dirty = cached.is_none();
    match &cached {
        None => checks.push(Check {
            name: "speed".into(),
            status: Status::Ok,
            detail: format!(
                "no cached figures for {} at {threads} threads: recorded {:.1} GFLOP/s GEMM, {:.1} GB/s triad as this machine's baseline",
                measured.host, measured.gemm_gflops, measured.triad_gbs
            ),
        }),
        Some(c) => {
            let g = measured.gemm_gflops / c.gemm_gflops;
            let t = measured.triad_gbs / c.triad_gbs;
            let slow = g < 1.0 - DEGRADED_BELOW || t < 1.0 - DEGRADED_BELOW;
            checks.push(Check {
                name: "speed".into(),
                status: if slow { Status::Degraded } else { Status::Ok },
                detail: format!(
                    "GEMM {:.1} GFLOP/s = {:.0}% of the cached {:.1}; triad {:.1} GB/s = {:.0}% of the cached {:.1} (degraded below {:.0}%)",
                    measured.gemm_gflops,
                    100.0 * g,
                    c.gemm_gflops,
                    measured.triad_gbs,
                    100.0 * t,
                    c.triad_gbs,
                    100.0 * (1.0 - DEGRADED_BELOW)
                ),
            });
            // Keep the best figures seen as the baseline.
            if measured.gemm_gflops > store.gemm_gflops || measured.triad_gbs > store.triad_gbs {
                store.gemm_gflops = store.gemm_gflops.max(measured.gemm_gflops);
                store.triad_gbs = store.triad_gbs.max(measured.triad_gbs);
                dirty = true;
            }
        }
    }
    let stored_fp = cached.as_ref().and_then(|c| c.fingerprint.clone());
    let stored_build = cached.as_ref().and_then(|c| c.fingerprint_build.clone());
    let broken = opts.break_kernel.is_some();
    match (stored_fp, stored_build) {
        (Some(fp), Some(bid)) if bid == build => checks.push(Check {
            name: "fingerprint".into(),
            status: if fp == a { Status::Ok } else { Status::Failed },
            detail: if fp == a {
                format!("{a} matches this build's fingerprint stored for this machine at {threads} threads")
            } else {
                format!("{a} differs from {fp}, this build's fingerprint stored for this machine at {threads} threads: the same program computes different numbers than before")
            },
        }),
        _ if broken => checks.push(Check {
            name: "fingerprint".into(),
            status: Status::Ok,
            detail: "not recorded: a kernel is broken on purpose".into(),
        }),
        _ => {
            checks.push(Check {
                name: "fingerprint".into(),
                status: Status::Ok,
                detail: format!("{a} recorded for this build ({build}) at {threads} threads (no earlier fingerprint of this build here)"),
            });
            store.fingerprint = Some(a.clone());
            store.fingerprint_build = Some(build);
            dirty = true;
        }
    }
    if dirty && !broken {
        machine::store(&store)?;
    }

    // Cross-rank comparison.
    if comm.size() > 1 {
        checks.push(compare_ranks(comm, &a)?);
    }

    let status = kernels
        .iter()
        .map(|k| k.status)
        .chain(checks.iter().map(|c| c.status))
        .max()
        .unwrap_or(Status::Ok);
    Ok(DoctorReport {
        rank: comm.rank(),
        world: comm.size(),
        host: measured.host.clone(),
        threads,
        status,
        kernels,
        checks,
        fingerprint: a,
        measured,
    })
}

/// Every rank's fingerprint through one all-reduce (each rank writes its 64-bit value as four
/// 16-bit pieces, exact in f32, into its own slots); ranks differing from the majority are named.
fn compare_ranks(comm: &Comm, fp: &str) -> Result<Check> {
    let (rank, size) = (comm.rank(), comm.size());
    let value = u64::from_str_radix(fp, 16).unwrap_or(0);
    let mut buf = vec![0.0f32; 4 * size];
    for i in 0..4 {
        buf[4 * rank + i] = ((value >> (16 * i)) & 0xffff) as f32;
    }
    comm.all_reduce_sum(&mut buf)?;
    let all: Vec<u64> = buf
        .chunks_exact(4)
        .map(|c| (0..4).fold(0u64, |v, i| v | ((c[i] as u64) << (16 * i))))
        .collect();
    let mut counts: Vec<(u64, usize)> = Vec::new();
    for &v in &all {
        match counts.iter_mut().find(|(x, _)| *x == v) {
            Some(e) => e.1 += 1,
            None => counts.push((v, 1)),
        }
    }
    let majority = counts
        .iter()
        .max_by_key(|(v, n)| (*n, std::cmp::Reverse(*v)))
        .map_or(0, |e| e.0);
    let odd: Vec<String> = all
        .iter()
        .enumerate()
        .filter(|(_, &v)| v != majority)
        .map(|(r, v)| format!("rank {r} ({v:016x})"))
        .collect();
    Ok(Check {
        name: "ranks".into(),
        status: if odd.is_empty() {
            Status::Ok
        } else {
            Status::Failed
        },
        detail: if odd.is_empty() {
            format!("all {size} ranks computed fingerprint {majority:016x}")
        } else {
            format!(
                "{} differ from the majority's {majority:016x}: {}",
                if odd.len() == 1 {
                    "one rank's numbers"
                } else {
                    "ranks' numbers"
                },
                odd.join(", ")
            )
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_kernels_pass_their_known_answer_tests() {
        let pool = perf::thread_pool(2).unwrap();
        let res = pool.install(|| kat::run(&Cpu, &kat::shapes(false)));
        let bad: Vec<_> = res.iter().filter(|k| k.status != Status::Ok).collect();
        assert!(bad.is_empty(), "{bad:#?}");
        // Every kernel of the backend is checked.
        for k in Kernel::ALL {
            assert!(
                res.iter().any(|r| r.kernel == k.name()),
                "{} unchecked",
                k.name()
            );
        }
    }

    #[test]
    fn a_broken_kernel_fails_and_is_named() {
        for k in [
            Kernel::GeluForward,
            Kernel::LayernormBackward,
            Kernel::MatmulNtBackward,
            Kernel::AdamwUpdate,
        ] {
            let be = Instrumented::new(Cpu, Breaker(Some(k)));
            let res = kat::run(&be, &kat::shapes(true));
            let failed: Vec<_> = res
                .iter()
                .filter(|r| r.status == Status::Failed)
                .map(|r| r.kernel)
                .collect();
            assert_eq!(failed.first(), Some(&k.name()), "{failed:?}");
            assert!(failed.iter().all(|&f| f == k.name()), "{failed:?}");
        }
    }

    #[test]
    fn fingerprint_is_repeatable_and_sees_a_broken_kernel() {
        let pool = perf::thread_pool(1).unwrap();
        let (a, b, c) = pool.install(|| {
            (
                fingerprint(Cpu, 2).unwrap(),
                fingerprint(Instrumented::new(Cpu, Breaker(None)), 2).unwrap(),
                fingerprint(
                    Instrumented::new(Cpu, Breaker(Some(Kernel::GeluForward))),
                    2,
                )
                .unwrap(),
            )
        });
        assert_eq!(a, b, "the instrumented backend must not change a bit");
        assert_ne!(a, c);
        assert_eq!(a.len(), 16);
    }

    /// Rank `rank` of three whose peers computed `others` (by rank; this rank's own slot is
    /// filled by the doctor): the all-reduce adds the peers' pieces.
    struct Fake {
        rank: usize,
        others: [u64; 3],
    }
    impl crate::comm::Communicator for Fake {
        fn rank(&self) -> usize {
            self.rank
        }
        fn size(&self) -> usize {
            3
        }
        fn local_size(&self) -> usize {
            1
        }
        fn all_reduce_sum(&self, buf: &mut [f32]) -> Result<()> {
            for r in (0..3).filter(|&r| r != self.rank) {
                for i in 0..4 {
                    buf[4 * r + i] += ((self.others[r] >> (16 * i)) & 0xffff) as f32;
                }
            }
            Ok(())
        }
        fn all_reduce_sum_f64(&self, _buf: &mut [f64]) -> Result<()> {
            Ok(())
        }
        fn broadcast(&self, _buf: &mut [f32], _root: usize) -> Result<()> {
            Ok(())
        }
        fn barrier(&self) -> Result<()> {
            Ok(())
        }
        fn abort(&self, code: i32) -> ! {
            std::process::exit(code)
        }
        fn name(&self) -> &'static str {
            "fake"
        }
    }

    #[test]
    fn ranks_compare_fingerprints_and_name_the_odd_one() {
        let good = 0xfedc_ba98_7654_3210u64;
        let bad = 0xfedc_ba98_7654_3211u64;
        // Rank 0 and 2 agree, this rank (1) differs: it is named, on every rank.
        let comm = Comm::new(Fake {
            rank: 1,
            others: [good, 0, good],
        });
        let c = compare_ranks(&comm, &format!("{bad:016x}")).unwrap();
        assert_eq!(c.status, Status::Failed);
        assert!(
            c.detail.contains(&format!("rank 1 ({bad:016x})")),
            "{}",
            c.detail
        );
        assert!(
            !c.detail.contains("rank 0") && !c.detail.contains("rank 2"),
            "{}",
            c.detail
        );
        let comm = Comm::new(Fake {
            rank: 0,
            others: [0, good, bad],
        });
        let c = compare_ranks(&comm, &format!("{good:016x}")).unwrap();
        assert!(c.detail.contains("rank 2"), "{}", c.detail);
        let comm = Comm::new(Fake {
            rank: 2,
            others: [good, good, 0],
        });
        let c = compare_ranks(&comm, &format!("{good:016x}")).unwrap();
        assert_eq!(c.status, Status::Ok, "{}", c.detail);
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Status::Ok.exit_code(), 0);
        assert_eq!(Status::Failed.exit_code(), 1);
        assert_eq!(Status::Degraded.exit_code(), 2);
        assert!(Status::Failed > Status::Degraded);
    }
}
