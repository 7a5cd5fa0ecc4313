//! Fault injection (`ladder train --inject KIND@STEP`): a testing aid that makes the faults the
//! trainer must survive happen on purpose, at a known step, so tests can prove it survives them.
//!
//! | spec | fault |
//! |---|---|
//! | `kill@K` | SIGKILL to itself right after step K's `metrics.jsonl` line (a dead machine) |
//! | `kill-always@K` | the same, and `--supervise` passes it on to every restart (a persistent crash: tests crash-loop detection) |
//! | `kill-checkpoint@K` | SIGKILL halfway through writing the first checkpoint at or after step K (tensor files in the temp dir, nothing renamed) |
//! | `nan@K` | a NaN in step K's gradient |
//! | `spike@K` | step K's batches replaced by uniformly random tokens and its loss and gradient scaled by [`SPIKE_FACTOR`] (a bad data window meeting a confident model) |
//! | `corrupt-checkpoint@K` | one byte of `model.safetensors` flipped in the first checkpoint at or after step K, after it is complete (bit rot) |
//! | `slow@K:Ns` | step K sleeps N seconds (a stalled machine; e.g. `slow@90:5s`, `slow@90:0.5s`) |
//! | `pause@K:Ns` | the trainer sleeps N seconds after step K is over, between two steps (e.g. to make `train.max_time` run out at a step boundary) |
//! | `bitflip@K:RANK` | rank RANK (default 0) flips mantissa bit [`BITFLIP_BIT`] of one weight ([`bitflip_target`]) in step K, after its forward-backward and before its update (silent data corruption: see [`crate::sdc`]) |
//!
//! Each injection fires once per process: a step number that comes round again after a rollback
//! is not hit twice. `--supervise` drops all but `kill-always` on restarts, since a restart is for
//! faults that do not come back.

use std::path::Path;
use std::time::Duration;

use crate::error::{io, Result};

/// One fault to inject.
#[derive(Clone, Debug, PartialEq)]
pub enum Injection {
    /// SIGKILL after step `K`'s metrics line.
    Kill(u64),
    /// Like `Kill`, and kept on supervised restarts.
    KillAlways(u64),
    /// SIGKILL in the middle of the first checkpoint write at or after step `K`.
    KillCheckpoint(u64),
    /// A NaN in step `K`'s gradient.
    Nan(u64),
    /// Random tokens for step `K`'s batches.
    Spike(u64),
    /// Flip a byte of the model file of the first checkpoint at or after step `K`.
    CorruptCheckpoint(u64),
    /// Sleep inside step `K`.
    Slow(u64, Duration),
    /// Sleep after step `K` is over.
    Pause(u64, Duration),
    /// Flip one bit of one weight on one rank in step `step`.
    BitFlip {
        /// The step.
        step: u64,
        /// The rank whose weight flips.
        rank: usize,
    },
}

impl Injection {
    /// Whether `--supervise` passes it on to restarted trainers.
    pub fn survives_restart(&self) -> bool {
        matches!(self, Injection::KillAlways(_))
    }
}

impl std::str::FromStr for Injection {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let usage = "expected KIND@STEP with KIND one of kill, kill-always, kill-checkpoint, nan, \
                     spike, corrupt-checkpoint, or slow@STEP:SECONDSs / pause@STEP:SECONDSs / \
                     bitflip@STEP:RANK (e.g. kill@137, slow@90:5s, bitflip@10:1)";
        let (kind, rest) = s.split_once('@').ok_or_else(|| format!("`{s}`: {usage}"))?;
        let (step, secs) = match rest.split_once(':') {
            Some((st, d)) => (st, Some(d)),
            None => (rest, None),
        };
        let step: u64 = step
            .parse()
            .ok()
            .filter(|&k| k > 0)
            .ok_or_else(|| format!("`{s}`: the step must be a whole number >= 1; {usage}"))?;
        let timed = kind == "slow" || kind == "pause";
        if kind == "bitflip" {
            let rank = match secs {
                None => 0,
                Some(r) => r.parse().map_err(|_| {
                    format!(
                        "`{s}`: `{r}` is not a rank (a whole number >= 0), e.g. bitflip@{step}:1"
                    )
                })?,
            };
            return Ok(Injection::BitFlip { step, rank });
        }
        if !timed && secs.is_some() {
            return Err(format!(
                "`{s}`: only slow and pause take a duration (and bitflip a rank); {usage}"
            ));
        }
        Ok(match kind {
            "kill" => Injection::Kill(step),
            "kill-always" => Injection::KillAlways(step),
            "kill-checkpoint" => Injection::KillCheckpoint(step),
            "nan" => Injection::Nan(step),
            "spike" => Injection::Spike(step),
            "corrupt-checkpoint" => Injection::CorruptCheckpoint(step),
            "slow" | "pause" => {
                let d = secs.ok_or_else(|| {
                    format!("`{s}`: {kind} needs a duration, e.g. {kind}@{step}:5s")
                })?;
                let n: f64 = d
                    .strip_suffix('s')
                    .and_then(|n| n.parse().ok())
                    .filter(|n: &f64| *n >= 0.0 && n.is_finite())
                    .ok_or_else(|| {
                        format!("`{s}`: `{d}` is not a duration in seconds such as 5s or 0.5s")
                    })?;
                let d = Duration::from_secs_f64(n);
                match kind {
                    "slow" => Injection::Slow(step, d),
                    _ => Injection::Pause(step, d),
                }
            }
            _ => return Err(format!("`{s}`: unknown fault `{kind}`; {usage}")),
        })
    }
}

/// The injections of one process, each firing at most once.
#[derive(Clone, Debug, Default)]
pub struct Injector {
    items: Vec<(Injection, bool)>,
    /// The step whose batches `spike@K` garbles (set when the step begins).
    spiking: Option<u64>,
    /// This process's rank (`bitflip@K:RANK` fires on that rank only).
    rank: usize,
    /// The weight `bitflip@K` flips (an index into the parameter buffer).
    target: usize,
}

/// The mantissa bit `bitflip@K` flips: bit 12 of the 23, so the weight changes by a factor
/// `1 ± 2^-11` (at most 0.05 %, never to a non-finite value): the model stays finite and close to
/// its path, as with most real bit flips in the low bits, and the change is far above rounding,
/// so it shows in the next computation that reads the weight.
pub const BITFLIP_BIT: u32 = 12;

/// The weight `bitflip@K` flips: the middle element of the first matrix of block 0 (the attention
/// input projection), which every token of every batch passes through, so the flip reaches every
/// gradient (an embedding row would only matter to batches holding its token).
pub fn bitflip_target(layout: &ladder_model::ParamLayout) -> usize {
    let t = layout
        .tensors
        .iter()
        .find(|t| t.layer == Some(0) && t.shape.len() == 2)
        .or_else(|| layout.tensors.first());
    t.map_or(0, |t| t.offset + t.shape.iter().product::<usize>() / 2)
}

/// Flips bit [`BITFLIP_BIT`] of `params[at]`.
pub fn flip_bit(params: &mut [f32], at: usize) {
    params[at] = f32::from_bits(params[at].to_bits() ^ (1 << BITFLIP_BIT));
}

impl Injector {
    /// Arms `items`.
    pub fn new(items: Vec<Injection>) -> Self {
        Injector {
            items: items.into_iter().map(|i| (i, false)).collect(),
            spiking: None,
            rank: 0,
            target: 0,
        }
    }

    /// Places the injector on rank `rank`, flipping weight `target` for `bitflip@K`.
    pub fn on_rank(mut self, rank: usize, target: usize) -> Self {
        self.rank = rank;
        self.target = target;
        self
    }

    /// The `bitflip@K:RANK` injections whose rank is not below `ranks`, as (step, rank).
    pub fn bad_ranks(&self, ranks: usize) -> Option<(u64, usize)> {
        self.items.iter().find_map(|(i, _)| match i {
            Injection::BitFlip { step, rank } if *rank >= ranks => Some((*step, *rank)),
            _ => None,
        })
    }

    /// Flips a weight if `bitflip@step` is due on this rank; returns whether it did.
    pub fn bitflip(&mut self, step: u64, params: &mut [f32]) -> bool {
        let rank = self.rank;
        let due = |i: &Injection| matches!(i, Injection::BitFlip { step: k, rank: r } if *k == step && *r == rank);
        let hit = self.fire(due).is_some();
        if hit && self.target < params.len() {
            flip_bit(params, self.target);
        }
        hit
    }

    /// Fires (and returns) the first unfired injection that `hit` selects.
    fn fire(&mut self, hit: impl Fn(&Injection) -> bool) -> Option<Injection> {
        let (inj, fired) = self.items.iter_mut().find(|(i, f)| !*f && hit(i))?;
        *fired = true;
        Some(inj.clone())
    }

    /// How long step `step` must stall, if at all.
    pub fn slow(&mut self, step: u64) -> Option<Duration> {
        match self.fire(|i| matches!(i, Injection::Slow(k, _) if *k == step)) {
            Some(Injection::Slow(_, d)) => Some(d),
            _ => None,
        }
    }

    /// How long to sleep after step `step` is over, if at all.
    pub fn pause(&mut self, step: u64) -> Option<Duration> {
        match self.fire(|i| matches!(i, Injection::Pause(k, _) if *k == step)) {
            Some(Injection::Pause(_, d)) => Some(d),
            _ => None,
        }
    }

    /// Whether step `step`'s batches are to be replaced by random tokens.
    pub fn spike(&mut self, step: u64) -> bool {
        self.fire(|i| *i == Injection::Spike(step)).is_some()
    }

    /// At the start of step `step`: fires a spike due at it, for [`Injector::spiking`].
    pub fn arm_spike(&mut self, step: u64) {
        self.spiking = self.spike(step).then_some(step);
    }

    /// Whether step `step` is the one [`Injector::arm_spike`] armed.
    pub fn spiking(&self, step: u64) -> bool {
        self.spiking == Some(step)
    }

    /// Whether step `step`'s gradient gets a NaN.
    pub fn nan(&mut self, step: u64) -> bool {
        self.fire(|i| *i == Injection::Nan(step)).is_some()
    }

    /// Kills the process if a kill is due after step `step`.
    pub fn kill_after(&mut self, step: u64) {
        if self
            .fire(|i| matches!(i, Injection::Kill(k) | Injection::KillAlways(k) if *k == step))
            .is_some()
        {
            kill_self();
        }
    }

    /// Whether the checkpoint of step `step` is to be interrupted by a kill.
    pub fn kill_in_checkpoint(&mut self, step: u64) -> bool {
        self.fire(|i| matches!(i, Injection::KillCheckpoint(k) if *k <= step))
            .is_some()
    }

    /// Flips a byte of `dir/model.safetensors` if the checkpoint of step `step` is to be corrupted;
    /// returns whether it did.
    pub fn corrupt_checkpoint(&mut self, step: u64, dir: &Path) -> Result<bool> {
        if self
            .fire(|i| matches!(i, Injection::CorruptCheckpoint(k) if *k <= step))
            .is_none()
        {
            return Ok(false);
        }
        let p = dir.join(crate::checkpoint::MODEL_FILE);
        let mut bytes = std::fs::read(&p).map_err(io(&p))?;
        // A byte in the tensor data (past the header), so only the hash can tell.
        let at = bytes.len() - 1 - bytes.len() / 3;
        bytes[at] ^= 0x5a;
        std::fs::write(&p, &bytes).map_err(io(&p))?;
        Ok(true)
    }
}

/// Ends this process with SIGKILL (no destructors, no flushing): what a dead machine looks like.
pub fn kill_self() -> ! {
    #[cfg(unix)]
    // SAFETY: kill(2) on our own pid with a valid signal number has no memory-safety preconditions.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}

/// How much `spike@K` scales the step's loss and gradient. Random tokens alone are not a spike for
/// a young model, whose loss on any data is near ln V; the factor makes the loss jump as it does
/// when a confident model meets garbage.
pub const SPIKE_FACTOR: f32 = 10.0;

/// Scales a step's loss and gradient by [`SPIKE_FACTOR`]; returns the loss.
pub fn amplify(loss: f32, grads: &mut [f32]) -> f32 {
    grads.iter_mut().for_each(|g| *g *= SPIKE_FACTOR);
    loss * SPIKE_FACTOR
}

/// Replaces a micro-batch by uniformly random tokens below `vocab` (a fixed function of the step
/// and micro-batch, so the injected fault is reproducible).
pub fn scramble(inputs: &mut [u32], targets: &mut [u32], step: u64, micro: usize, vocab: usize) {
    let mut state = step.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ ((micro as u64) << 32);
    let mut next = || {
        // splitmix64 (Steele, Lea & Flood 2014)
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % vocab as u64) as u32
    };
    for x in inputs.iter_mut().chain(targets.iter_mut()) {
        *x = next();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_say_why() {
        let p = |s: &str| s.parse::<Injection>();
        assert_eq!(p("kill@137"), Ok(Injection::Kill(137)));
        assert_eq!(p("kill-always@3"), Ok(Injection::KillAlways(3)));
        assert_eq!(p("kill-checkpoint@10"), Ok(Injection::KillCheckpoint(10)));
        assert_eq!(p("nan@200"), Ok(Injection::Nan(200)));
        assert_eq!(p("spike@260"), Ok(Injection::Spike(260)));
        assert_eq!(
            p("corrupt-checkpoint@300"),
            Ok(Injection::CorruptCheckpoint(300))
        );
        assert_eq!(
            p("slow@90:5s"),
            Ok(Injection::Slow(90, Duration::from_secs(5)))
        );
        assert_eq!(
            p("slow@9:0.25s"),
            Ok(Injection::Slow(9, Duration::from_millis(250)))
        );
        assert_eq!(
            p("pause@4:2s"),
            Ok(Injection::Pause(4, Duration::from_secs(2)))
        );
        for (bad, why) in [
            ("kill", "KIND@STEP"),
            ("kill@x", "whole number"),
            ("kill@0", "whole number"),
            ("explode@3", "unknown fault `explode`"),
            ("slow@3", "needs a duration"),
            ("slow@3:5m", "not a duration in seconds"),
            ("nan@3:5s", "only slow and pause"),
            ("pause@3", "pause needs a duration"),
        ] {
            let e = p(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert_eq!(
            p("bitflip@10:1"),
            Ok(Injection::BitFlip { step: 10, rank: 1 })
        );
        assert_eq!(p("bitflip@7"), Ok(Injection::BitFlip { step: 7, rank: 0 }));
        let e = p("bitflip@7:x").unwrap_err();
        assert!(e.contains("`x` is not a rank"), "{e}");
        assert!(Injection::KillAlways(1).survives_restart());
        assert!(!Injection::Kill(1).survives_restart());
    }

    #[test]
    fn each_injection_fires_once() {
        let mut inj = Injector::new(vec![
            Injection::Nan(5),
            Injection::Spike(5),
            Injection::KillCheckpoint(7),
        ]);
        assert!(!inj.nan(4));
        assert!(inj.nan(5));
        assert!(!inj.nan(5), "a replayed step is not hit twice");
        assert!(inj.spike(5));
        assert!(!inj.kill_in_checkpoint(6));
        assert!(
            inj.kill_in_checkpoint(10),
            "the first checkpoint at or after 7"
        );
        assert!(!inj.kill_in_checkpoint(12));
    }

    #[test]
    fn a_bitflip_fires_once_on_its_rank_and_keeps_the_weight_finite_and_close() {
        let items = vec![Injection::BitFlip { step: 3, rank: 1 }];
        let mut p = vec![0.5f32, -0.02, 1.0];
        let mut on0 = Injector::new(items.clone()).on_rank(0, 1);
        assert!(!on0.bitflip(3, &mut p), "rank 0 is not the target");
        assert_eq!(p, [0.5, -0.02, 1.0]);
        let mut on1 = Injector::new(items).on_rank(1, 1);
        assert!(!on1.bitflip(2, &mut p));
        assert!(on1.bitflip(3, &mut p));
        assert!(!on1.bitflip(3, &mut p), "once");
        assert_eq!((p[1].to_bits() ^ (-0.02f32).to_bits()).count_ones(), 1);
        assert!(p[1].is_finite() && ((p[1] + 0.02) / 0.02).abs() <= 2f32.powi(-11));
        assert_eq!(on1.bad_ranks(2), None);
        assert_eq!(on1.bad_ranks(1), Some((3, 1)));
    }

    #[test]
    fn scramble_is_deterministic_and_in_range() {
        let (mut a, mut b) = (vec![0u32; 64], vec![0u32; 64]);
        scramble(&mut a, &mut b, 3, 0, 50);
        assert!(a.iter().chain(&b).all(|&t| t < 50));
        let (mut c, mut d) = (vec![0u32; 64], vec![0u32; 64]);
        scramble(&mut c, &mut d, 3, 0, 50);
        assert_eq!((a.clone(), b), (c, d));
        let distinct: std::collections::BTreeSet<_> = a.iter().collect();
        assert!(distinct.len() > 20, "roughly uniform: {}", distinct.len());
    }
}
