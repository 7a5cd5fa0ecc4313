//! Silent data corruption (SDC) checks during training (`ladder train --sdc-check-every K`, or
//! `train.sdc_check_every = K`): a machine that computes or stores wrong numbers without crashing.
//!
//! **Data parallel.** Every rank holds the same weights after every optimizer step (they apply the
//! same all-reduced gradient to the same weights), so a rank whose weights differ has had a bad
//! bit in its memory or its update. Every `K` steps, at every checkpoint and at the last step, each
//! rank takes a [`checksum`] of its parameters after the optimizer step and the ranks exchange
//! them ([`exchange`]: one all-reduce of 2·ranks f64 values, each rank's checksum in its own two
//! slots). Ranks that disagree are named ([`verdict`]: the minority against a strict majority; with
//! no majority, as with 2 ranks, every rank is named and the resume tells which one was wrong by
//! recomputing the steps from the last agreed checkpoint, see [`SdcStop`]).
//!
//! **One process.** There is nobody to compare with, so every `K` steps the step's gradient is
//! computed twice from the same weights and data and the two are compared bit for bit (the loop is
//! deterministic, so any difference is a CPU or memory that does not compute the same thing
//! twice). That costs one more forward-backward every `K` steps.
//!
//! **The checksum.** `H = Σ_i c_i · w_i mod 2^64`, with `w_i` the bit pattern of parameter `i` as
//! an unsigned integer and `c_i = (2i + 1) · φ` (φ = 0x9E3779B97F4A7C15, the 64-bit golden
//! ratio), an odd multiplier for every position. A flipped bit `b` of parameter `i` changes `H` by
//! `±2^b · c_i mod 2^64`, which is never 0 because `c_i` is odd and `b < 32`: **every single bit
//! flip, indeed every change confined to one parameter, is detected with certainty**. Two values
//! swapped change it by `(c_i − c_j)(w_j − w_i)`, also never 0 mod 2^64 for fewer than 2^31
//! parameters (the 2-adic valuations add up to less than 64). Changes to several parameters escape
//! only if they cancel mod 2^64. A sum of independent terms in wrapping integer arithmetic is
//! exact and associative, so the parallel sum is the same for any thread count, and it costs two
//! integer multiplications and an addition per parameter (memory-bound, like reading the weights
//! once). A CRC would also catch every single-bit error but is sequential.

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::comm::Comm;
use crate::error::{io, Error, Result};
use crate::fsutil::write_json_atomic;

/// The file (in the run directory) where an SDC stop records every rank's checksum, for the
/// resume to tell which rank was wrong.
pub const STOP_FILE: &str = "sdc.json";

/// The event kind of an SDC finding in `events.jsonl` (a stop, or the resume's attribution).
pub const EVENT: &str = "sdc";

/// The 64-bit golden ratio: the multipliers `(2i + 1) · PHI` are odd and spread over all bits.
const PHI: u64 = 0x9E37_79B9_7F4A_7C15;

/// Parameters per parallel chunk of [`checksum`].
const CHUNK: usize = 1 << 15;

/// The checksum of a parameter buffer (see the module docs): any single bit flip changes it.
pub fn checksum(params: &[f32]) -> u64 {
    params
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let base = (c * CHUNK) as u64;
            chunk.iter().enumerate().fold(0u64, |h, (i, x)| {
                let c = (2 * (base + i as u64) + 1).wrapping_mul(PHI);
                h.wrapping_add(c.wrapping_mul(u64::from(x.to_bits())))
            })
        })
        .reduce(|| 0, u64::wrapping_add)
}

/// A checksum as text (16 hex digits), as in `state.json`, `sdc.json` and messages.
pub fn hex(h: u64) -> String {
    format!("{h:016x}")
}

/// Parses [`hex`]'s text.
pub fn parse_hex(s: &str) -> Option<u64> {
    (s.len() == 16).then(|| u64::from_str_radix(s, 16).ok())?
}

/// Every rank's checksum, on every rank: one all-reduce (sum) of `2 · ranks` f64 values in which
/// rank `r` fills slots `2r` and `2r + 1` with the high and low 32 bits of its checksum and every
/// other rank leaves zeros. Each 32-bit half is exact in an f64 and is only ever added to zeros,
/// so the sum carries every rank's checksum unchanged.
pub fn exchange(comm: &Comm, h: u64) -> Result<Vec<u64>> {
    let k = comm.size();
    let mut buf = vec![0.0f64; 2 * k];
    buf[2 * comm.rank()] = (h >> 32) as f64;
    buf[2 * comm.rank() + 1] = (h & 0xffff_ffff) as f64;
    comm.all_reduce_sum_f64(&mut buf)?;
    Ok(buf
        .chunks_exact(2)
        .map(|p| ((p[0] as u64) << 32) | (p[1] as u64 & 0xffff_ffff))
        .collect())
}

/// What the ranks' checksums say.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Every rank has this checksum.
    Agreed(u64),
    /// Some ranks differ.
    Disagree {
        /// The ranks named as wrong: the minority, or every rank when there is no majority.
        suspects: Vec<usize>,
        /// Whether a strict majority of the ranks agreed (then `suspects` is the rest).
        majority: bool,
        /// One line for the event and the error message.
        detail: String,
    },
}

/// Judges the ranks' checksums (index = rank): equal, or which ranks are the odd ones out. A
/// group of equal checksums held by more than half of the ranks is the majority and the other
/// ranks are named; without one (2 ranks, or a tie) no rank can be singled out, so every rank is
/// named.
pub fn verdict(sums: &[u64]) -> Verdict {
    let Some(&first) = sums.first() else {
        return Verdict::Agreed(0);
    };
    if sums.iter().all(|&h| h == first) {
        return Verdict::Agreed(first);
    }
    // Groups of equal checksums, largest first (ties by the lowest rank: deterministic).
    let mut groups: Vec<(u64, Vec<usize>)> = Vec::new();
    for (r, &h) in sums.iter().enumerate() {
        match groups.iter_mut().find(|(g, _)| *g == h) {
            Some((_, ranks)) => ranks.push(r),
            None => groups.push((h, vec![r])),
        }
    }
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.1[0].cmp(&b.1[0])));
    let list = |ranks: &[usize]| {
        ranks
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let k = sums.len();
    if groups[0].1.len() * 2 > k {
        let (good, agree) = (&groups[0].0, &groups[0].1);
        let suspects: Vec<usize> = (0..k).filter(|r| !agree.contains(r)).collect();
        let odd: Vec<String> = suspects
            .iter()
            .map(|&r| format!("rank {r} has {}", hex(sums[r])))
            .collect();
        let detail = format!(
            "the parameters of rank{} {} differ from the majority's (ranks {}: checksum {}): {}",
            if suspects.len() > 1 { "s" } else { "" },
            list(&suspects),
            list(agree),
            hex(*good),
            odd.join(", ")
        );
        return Verdict::Disagree {
            suspects,
            majority: true,
            detail,
        };
    }
    let each: Vec<String> = sums
        .iter()
        .enumerate()
        .map(|(r, h)| format!("rank {r} has {}", hex(*h)))
        .collect();
    Verdict::Disagree {
        suspects: (0..k).collect(),
        majority: false,
        detail: format!(
            "the ranks' parameters disagree and no majority says which are right ({}); ranks {} \
             are all suspect until `--resume` recomputes the steps from the last agreed \
             checkpoint and names the rank whose checksum it does not reproduce",
            each.join(", "),
            list(&(0..k).collect::<Vec<_>>())
        ),
    }
}

/// `sdc.json`: what an SDC stop of a data-parallel job leaves for the resume. The resume restarts
/// from the last agreed checkpoint, recomputes the steps up to `step`, and compares its agreed
/// checksum there with each rank's: the ranks whose checksum it does not reproduce were wrong.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdcStop {
    /// The step whose check failed.
    pub step: u64,
    /// Every rank's checksum at `step` (index = rank), as [`hex`].
    pub checksums: Vec<String>,
    /// The ranks named at the stop.
    pub suspects: Vec<usize>,
    /// The last step at which every rank agreed (0 = none yet: the start, a function of the seed).
    pub last_agreed_step: u64,
}

impl SdcStop {
    /// Writes `RUN/sdc.json` (atomically).
    pub fn save(&self, run_dir: &Path) -> Result<()> {
        write_json_atomic(&run_dir.join(STOP_FILE), self)
    }

    /// Reads `RUN/sdc.json`, `None` when there is none.
    pub fn load(run_dir: &Path) -> Result<Option<SdcStop>> {
        let p = run_dir.join(STOP_FILE);
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&p)(e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::BadCheckpoint {
                path: p,
                detail: format!(
                    "not a valid SDC stop record ({e}); remove it to resume without the \
                     attribution of the last SDC stop"
                ),
            })
    }

    /// Removes `RUN/sdc.json` (after the resume used it).
    pub fn remove(run_dir: &Path) -> Result<()> {
        let p = run_dir.join(STOP_FILE);
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&p)(e)),
        }
    }

    /// After the resumed run recomputed step `self.step` to the agreed checksum `h`: which ranks
    /// were wrong, as an event detail.
    pub fn attribute(&self, h: u64) -> (Vec<usize>, String) {
        let wrong: Vec<usize> = self
            .checksums
            .iter()
            .enumerate()
            .filter(|(_, c)| parse_hex(c) != Some(h))
            .map(|(r, _)| r)
            .collect();
        let right: Vec<usize> = (0..self.checksums.len())
            .filter(|r| !wrong.contains(r))
            .collect();
        let list = |v: &[usize]| {
            v.iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let detail = if right.is_empty() {
            format!(
                "recomputed step {} from the last agreed state: checksum {}, which no rank had at \
                 the SDC stop (ranks {} were all wrong, or this machine is not deterministic)",
                self.step,
                hex(h),
                list(&wrong)
            )
        } else {
            format!(
                "recomputed step {} from the last agreed state: checksum {} matches rank{} {}; \
                 rank{} {} computed or stored wrong values at the SDC stop",
                self.step,
                hex(h),
                if right.len() > 1 { "s" } else { "" },
                list(&right),
                if wrong.len() > 1 { "s" } else { "" },
                list(&wrong)
            )
        };
        (wrong, detail)
    }
}

/// Compares the gradients of one step computed twice (one process): `None` when they are the
/// same bits, else a description of the first difference and how many values differ.
pub fn compare_gradients(
    first: &[f32],
    second: &[f32],
    layout: &ladder_model::ParamLayout,
) -> Option<String> {
    let differ = first
        .par_iter()
        .zip(second.par_iter())
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    if differ == 0 {
        return None;
    }
    let i = first
        .iter()
        .zip(second)
        .position(|(a, b)| a.to_bits() != b.to_bits())
        .unwrap_or(0);
    let name = layout
        .tensors
        .iter()
        .find(|t| t.offset <= i && i < t.offset + t.shape.iter().product::<usize>().max(1))
        .map_or("padding".to_owned(), |t| {
            format!("{}[{}]", t.name, i - t.offset)
        });
    Some(format!(
        "{differ} of {} gradient values differ, the first at {name}: {:e} then {:e}",
        first.len(),
        first[i],
        second[i]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_single_bit_flip_changes_the_checksum() {
        let params: Vec<f32> = (0..3000).map(|i| (i as f32 * 0.37).sin()).collect();
        let h = checksum(&params);
        for i in [0, 1, 17, 1234, 2999] {
            for bit in 0..32 {
                let mut p = params.clone();
                p[i] = f32::from_bits(p[i].to_bits() ^ (1 << bit));
                assert_ne!(checksum(&p), h, "bit {bit} of parameter {i}");
            }
        }
        // Two values swapped.
        let mut p = params.clone();
        p.swap(5, 900);
        assert_ne!(checksum(&p), h);
    }

    #[test]
    fn the_checksum_does_not_depend_on_the_thread_count() {
        let params: Vec<f32> = (0..(3 * CHUNK + 77)).map(|i| i as f32 * 1e-3).collect();
        let pool = |n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
        };
        let a = pool(1).install(|| checksum(&params));
        let b = pool(3).install(|| checksum(&params));
        assert_eq!(a, b);
        // The sequential definition.
        let seq = params.iter().enumerate().fold(0u64, |h, (i, x)| {
            h.wrapping_add(
                (2 * i as u64 + 1)
                    .wrapping_mul(PHI)
                    .wrapping_mul(u64::from(x.to_bits())),
            )
        });
        assert_eq!(a, seq);
        assert_eq!(parse_hex(&hex(a)), Some(a));
        assert_eq!(parse_hex("12"), None);
    }

    #[test]
    fn the_exchange_carries_every_bit_of_a_checksum() {
        let c = Comm::single();
        for h in [0, 1, u64::MAX, 0x8000_0000_0000_0001, 0xdead_beef_0bad_f00d] {
            assert_eq!(exchange(&c, h).unwrap(), [h]);
        }
    }

    #[test]
    fn the_verdict_names_the_minority_or_everyone_without_a_majority() {
        assert_eq!(verdict(&[7, 7, 7]), Verdict::Agreed(7));
        match verdict(&[7, 7, 9, 7]) {
            Verdict::Disagree {
                suspects,
                majority,
                detail,
            } => {
                assert_eq!(suspects, [2]);
                assert!(majority);
                assert!(detail.contains("rank 2 differ"), "{detail}");
                assert!(detail.contains("ranks 0, 1, 3"), "{detail}");
            }
            v => panic!("{v:?}"),
        }
        match verdict(&[7, 9]) {
            Verdict::Disagree {
                suspects,
                majority,
                detail,
            } => {
                assert_eq!(suspects, [0, 1]);
                assert!(!majority);
                assert!(detail.contains("no majority"), "{detail}");
                assert!(
                    detail.contains(&format!("rank 1 has {}", hex(9))),
                    "{detail}"
                );
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn the_resume_attributes_a_stop_to_the_rank_it_does_not_reproduce() {
        let stop = SdcStop {
            step: 10,
            checksums: vec![hex(5), hex(6)],
            suspects: vec![0, 1],
            last_agreed_step: 5,
        };
        let (wrong, detail) = stop.attribute(5);
        assert_eq!(wrong, [1]);
        assert!(
            detail.contains("matches rank 0") && detail.contains("rank 1 computed"),
            "{detail}"
        );
        let (wrong, detail) = stop.attribute(8);
        assert_eq!(wrong, [0, 1]);
        assert!(detail.contains("no rank had"), "{detail}");
        let d = tempfile::tempdir().unwrap();
        assert_eq!(SdcStop::load(d.path()).unwrap(), None);
        stop.save(d.path()).unwrap();
        assert_eq!(SdcStop::load(d.path()).unwrap(), Some(stop));
        SdcStop::remove(d.path()).unwrap();
        assert!(!d.path().join(STOP_FILE).exists());
    }
}
