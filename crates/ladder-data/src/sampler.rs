//! Training and validation sequences cut from a [`TokenShard`].
//!
//! Training: the shard is cut into `W = (len - 1) / T` non-overlapping windows of `T + 1` tokens
//! (window `w` starts at token `w * T`; consecutive windows share one token, the last target of one
//! being the first input of the next). Sequence `index` (a counter over the whole run) belongs to
//! epoch `index / W` and is window `perm_e[index % W]`, where `perm_e` is a Fisher–Yates
//! permutation seeded by `(seed, e)`. Nothing but the counter is state, so resuming a run or giving
//! rank `r` of `R` the indices `r, r + R, ...` needs no loader state in checkpoints.

use crate::error::{Error, Result};
use crate::rng::{hash_words, Rng};
use crate::shard::TokenShard;

/// Domain tag mixed into permutation seeds, so they differ from seeds used elsewhere.
const PERM_TAG: u64 = 0x5045_524D; // "PERM"

/// Deterministic, stateless-by-index training sequences (see the module docs).
#[derive(Debug)]
pub struct TrainSampler {
    shard: TokenShard,
    seq_len: usize,
    seed: u64,
    windows: u64,
    /// The permutation of the most recent epoch asked for: recomputed (O(W)) only when a
    /// sequence from another epoch is requested.
    cached: Option<(u64, Vec<u64>)>,
}

impl TrainSampler {
    /// A sampler over `shard` with sequences of `seq_len` tokens. Errors if the shard holds fewer
    /// than `seq_len + 1` tokens (not even one window) or `seq_len` is 0.
    pub fn new(shard: TokenShard, seq_len: usize, seed: u64) -> Result<Self> {
        if seq_len == 0 {
            return Err(Error::ZeroSize { what: "seq_len" });
        }
        let windows = (shard.len().saturating_sub(1) / seq_len) as u64;
        if windows == 0 {
            return Err(Error::TooFewTokens {
                path: shard.path().to_path_buf(),
                tokens: shard.len() as u64,
                needed: seq_len as u64 + 1,
                seq_len,
            });
        }
        Ok(TrainSampler {
            shard,
            seq_len,
            seed,
            windows,
            cached: None,
        })
    }

    /// Number of windows, i.e. sequences per epoch.
    pub fn windows_per_epoch(&self) -> u64 {
        self.windows
    }

    /// Tokens seen per epoch as targets (`windows * T`).
    pub fn tokens_per_epoch(&self) -> u64 {
        self.windows * self.seq_len as u64
    }

    /// Sequence length T.
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// The underlying shard.
    pub fn shard(&self) -> &TokenShard {
        &self.shard
    }

    /// Epoch that sequence `index` falls in (`index / W`).
    pub fn epoch(&self, index: u64) -> u64 {
        index / self.windows
    }

    /// The window (0..W) that sequence `index` reads; its first token is `window * T`.
    pub fn window(&mut self, index: u64) -> u64 {
        let epoch = index / self.windows;
        let pos = (index % self.windows) as usize;
        if self.cached.as_ref().map(|(e, _)| *e) != Some(epoch) {
            self.cached = Some((epoch, permutation(self.windows, self.seed, epoch)));
        }
        match &self.cached {
            Some((_, perm)) => perm[pos],
            None => unreachable!("permutation cached above"),
        }
    }

    /// Overwrites `inputs` with the T tokens of sequence `index` and `targets` with the same
    /// tokens shifted by one. Panics if either slice is not `seq_len` long (a caller bug).
    pub fn sequence(&mut self, index: u64, inputs: &mut [u32], targets: &mut [u32]) {
        let t = self.seq_len;
        assert_eq!(inputs.len(), t, "inputs must hold seq_len tokens");
        assert_eq!(targets.len(), t, "targets must hold seq_len tokens");
        let start = self.window(index) as usize * t;
        self.shard.copy_to(start, inputs);
        self.shard.copy_to(start + 1, targets);
    }
}

/// Fisher–Yates permutation of `0..n` seeded by `(seed, epoch)`.
fn permutation(n: u64, seed: u64, epoch: u64) -> Vec<u64> {
    let mut rng = Rng::new(hash_words(&[PERM_TAG, seed, epoch]));
    let mut p: Vec<u64> = (0..n).collect();
    for i in (1..p.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        p.swap(i, j);
    }
    p
}

/// Validation batches: `k` windows of `seq_len + 1` tokens spread evenly over the whole shard
/// (window `j` of `k` starts at token `⌊j·W/k⌋·seq_len`, `W` = windows that fit), grouped `batch` at
/// a time, as many batches as fit in `max_tokens` target tokens but at least one. Each batch is
/// `(inputs, targets)`, both `batch * seq_len` long, row-major.
///
/// Spread, not a prefix: in data made of documents whose difficulty varies (text of different
/// kinds, or the synthetic source's Zipf-ranked rules) a prefix of 64 Ki tokens covers a few dozen
/// documents, and its loss was measured 0.2 nats away from the whole split's; windows spread over
/// the split cover as many documents as there are windows. When `k = W` the windows are the
/// contiguous tiling of the shard, so the targets are exactly tokens `1 ..= W·seq_len`.
pub fn val_batches(
    shard: &TokenShard,
    batch: usize,
    seq_len: usize,
    max_tokens: usize,
) -> Result<Vec<(Vec<u32>, Vec<u32>)>> {
    if batch == 0 {
        return Err(Error::ZeroSize { what: "batch" });
    }
    if seq_len == 0 {
        return Err(Error::ZeroSize { what: "seq_len" });
    }
    let windows = shard.len().saturating_sub(1) / seq_len;
    if windows < batch {
        return Err(Error::TooFewTokens {
            path: shard.path().to_path_buf(),
            tokens: shard.len() as u64,
            needed: (batch * seq_len + 1) as u64,
            seq_len,
        });
    }
    let n_batches = (max_tokens / (batch * seq_len)).clamp(1, windows / batch);
    let k = n_batches * batch;
    let mut out = Vec::with_capacity(n_batches);
    for b in 0..n_batches {
        let mut inputs = vec![0u32; batch * seq_len];
        let mut targets = vec![0u32; batch * seq_len];
        for r in 0..batch {
            let j = b * batch + r;
            // u128: j · W overflows u64 only for absurd shards, but costs nothing to rule out.
            let window = (j as u128 * windows as u128 / k as u128) as usize;
            let start = window * seq_len;
            let row = r * seq_len..(r + 1) * seq_len;
            shard.copy_to(start, &mut inputs[row.clone()]);
            shard.copy_to(start + 1, &mut targets[row]);
        }
        out.push((inputs, targets));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::write_shard;

    fn shard_of(tokens: &[u32], vocab: usize) -> (tempfile::TempDir, TokenShard) {
        let t = tempfile::tempdir().expect("tempdir");
        let p = t.path().join("s.bin");
        write_shard(&p, tokens, vocab).expect("write");
        let s = TokenShard::open(&p).expect("open");
        (t, s)
    }

    #[test]
    fn sampler_visits_each_window_once_per_epoch() {
        // Token i = i, so a window is identified by its first token.
        let toks: Vec<u32> = (0..1001).collect();
        let (_t, s) = shard_of(&toks, 2000);
        let mut sp = TrainSampler::new(s, 10, 3).expect("sampler");
        assert_eq!(sp.windows_per_epoch(), 100);
        let (mut x, mut y) = (vec![0; 10], vec![0; 10]);
        for epoch in 0..3u64 {
            let mut seen = vec![0u32; 100];
            let mut order = Vec::new();
            for k in 0..100 {
                sp.sequence(epoch * 100 + k, &mut x, &mut y);
                assert_eq!(x[0] % 10, 0);
                for i in 0..10 {
                    assert_eq!(y[i], x[i] + 1, "targets are inputs shifted by one");
                }
                seen[(x[0] / 10) as usize] += 1;
                order.push(x[0]);
            }
            assert!(seen.iter().all(|&c| c == 1), "epoch {epoch}: {seen:?}");
            assert_ne!(order, (0..100).map(|w| w * 10).collect::<Vec<_>>());
        }
    }

    #[test]
    fn sampler_is_deterministic_by_index_and_seed() {
        let toks: Vec<u32> = (0..5000).map(|i| (i * 31 % 97) as u32).collect();
        let (_t, s1) = shard_of(&toks, 100);
        let s2 = TokenShard::open(s1.path()).expect("open");
        let s3 = TokenShard::open(s1.path()).expect("open");
        let mut a = TrainSampler::new(s1, 16, 42).expect("a");
        let mut b = TrainSampler::new(s2, 16, 42).expect("b");
        let mut c = TrainSampler::new(s3, 16, 43).expect("c");
        let w = a.windows_per_epoch();
        // b visits the indices in another order (and across epochs): same answers.
        let idx: Vec<u64> = (0..3 * w).collect();
        let mut rev = idx.clone();
        rev.reverse();
        let mut got_a = Vec::new();
        let mut got_b = std::collections::HashMap::new();
        let mut diff = 0;
        for &i in &idx {
            got_a.push(a.window(i));
            diff += usize::from(a.window(i) != c.window(i));
        }
        for &i in &rev {
            got_b.insert(i, b.window(i));
        }
        for &i in &idx {
            assert_eq!(got_a[i as usize], got_b[&i]);
        }
        assert!(diff > 0, "another seed gives another order");
        // Successive epochs use different permutations.
        let e0: Vec<u64> = (0..w).map(|i| a.window(i)).collect();
        let e1: Vec<u64> = (w..2 * w).map(|i| a.window(i)).collect();
        assert_ne!(e0, e1);
    }

    #[test]
    fn sampler_rejects_too_short_shard() {
        let (_t, s) = shard_of(&[1, 2, 3], 10);
        match TrainSampler::new(s, 3, 0) {
            Err(Error::TooFewTokens { needed, .. }) => assert_eq!(needed, 4),
            other => panic!("expected TooFewTokens, got {other:?}"),
        }
    }

    #[test]
    fn val_batches_spread_over_the_shard_and_are_capped() {
        let toks: Vec<u32> = (0..1000).collect();
        let (_t, s) = shard_of(&toks, 1000);
        let b = val_batches(&s, 2, 8, 40).expect("batches");
        // 40 tokens allow 2 batches of 2*8 = 16 target tokens: 4 of the W = 124 windows, at
        // ⌊j·124/4⌋ = 0, 31, 62, 93, i.e. starting at tokens 0, 248, 496, 744.
        assert_eq!(b.len(), 2);
        let mut starts = Vec::new();
        for (x, y) in &b {
            assert_eq!(x.len(), 16);
            for i in 0..16 {
                assert_eq!(y[i], x[i] + 1);
            }
            starts.extend([x[0], x[8]]);
        }
        assert_eq!(starts, [0, 248, 496, 744]);
        // At least one batch even when max_tokens is tiny; at most what the shard holds, and then
        // the windows tile the shard: targets are exactly tokens 1..=W·T.
        assert_eq!(val_batches(&s, 2, 8, 1).expect("one").len(), 1);
        let all = val_batches(&s, 2, 8, 1 << 30).expect("all");
        assert_eq!(all.len(), 999 / 8 / 2);
        let targets: Vec<u32> = all.iter().flat_map(|(_, y)| y.iter().copied()).collect();
        assert_eq!(targets, (1..=(all.len() * 16) as u32).collect::<Vec<u32>>());
        assert!(val_batches(&s, 200, 8, 100).is_err());
    }
}
