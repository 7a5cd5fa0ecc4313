//! Validation loss and its standard error.
//!
//! The evaluated windows (`ladder_data::val_batches`) are spread evenly over `val.bin` in split
//! order, and batch `b` holds windows `b·B .. (b+1)·B`, so consecutive batches cover consecutive
//! stretches of the split. Tokens of one document (and, in real text, of one chapter or book) are
//! correlated, so the per-token losses are not independent and `sd/√tokens` would understate the
//! error. The standard error here is the **batch-means** estimate over [`SE_BLOCKS`] contiguous
//! blocks of batches: each block's mean loss is one observation, blocks far longer than a document
//! are nearly independent, and the spread of their means measures the error of the whole mean
//! whatever the correlation inside a block. With fewer batches than [`SE_BLOCKS`] each batch is a
//! block (a mid-training evaluation's batches are far apart in the split, so nearly independent
//! already). docs/train.md ("Measurement precision") says why and shows its coverage.
//!
//! Data parallel: every rank evaluates its rows of each global batch ([`ValSet::load`] with
//! `world > 1`); the ranks' per-batch sums are all-reduced, so the batch means, the loss and the
//! standard error are those of one process with the global batch (up to the order of additions).

use std::path::Path;

use ladder_data::{Meta, Split, TokenShard};
use ladder_model::Workspace;

use crate::comm::Comm;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::metrics::bits_per_byte;

/// Contiguous blocks the standard error is computed over: enough for a stable estimate (31
/// degrees of freedom, ±13 % relative precision of the SE), few enough that every block of a
/// whole-split evaluation spans hundreds of documents.
pub const SE_BLOCKS: usize = 32;

/// One evaluation's result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValLoss {
    /// Mean validation cross-entropy (nats/token).
    pub loss: f32,
    /// Bits per byte of source text (`None` for data without byte counts).
    pub bpb: Option<f64>,
    /// Standard error of `loss` over [`ValLoss::blocks`] contiguous blocks (`None` with one batch).
    pub se: Option<f64>,
    /// Blocks behind `se` (0 when unknown).
    pub blocks: usize,
    /// Validation tokens evaluated (all ranks together); `None` when read back from a
    /// `metrics.jsonl` line written before the count was recorded.
    pub tokens: Option<u64>,
    /// The mean loss of each of the [`ValLoss::blocks`] blocks behind `se` (`None` when read back
    /// from `metrics.jsonl` or with one batch). Runs evaluated on the same windows share these
    /// blocks, so their losses can be compared pairwise (`ladder-laws`' paired noise).
    pub block_means: Option<BlockMeans>,
}

/// The block means behind a standard error, at most [`SE_BLOCKS`] (inline, so [`ValLoss`] stays
/// `Copy`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockMeans {
    len: usize,
    means: [f64; SE_BLOCKS],
}

impl BlockMeans {
    /// The means, block by block in split order.
    pub fn as_slice(&self) -> &[f64] {
        &self.means[..self.len]
    }
}

/// The mean of each of `min(blocks, n)` contiguous blocks of nearly equal size of `values`
/// (block `i` holds values `⌊i·n/K⌋ .. ⌊(i+1)·n/K⌋`), with its share of the values.
fn block_means(values: &[f64], blocks: usize) -> Vec<(f64, f64)> {
    let n = values.len();
    let k = blocks.min(n);
    (0..k)
        .map(|i| {
            let block = &values[i * n / k..(i + 1) * n / k];
            let m = block.iter().sum::<f64>() / block.len() as f64;
            (m, block.len() as f64 / n as f64)
        })
        .collect()
}

impl ValLoss {
    /// The evaluation a `metrics.jsonl` line records, if it has one (a resumed run takes over its
    /// last evaluation from there).
    pub fn of_record(r: &crate::metrics::StepRecord) -> Option<ValLoss> {
        Some(ValLoss {
            loss: r.val_loss?,
            bpb: r.val_bpb,
            se: r.val_loss_se,
            blocks: 0,
            tokens: r.val_tokens,
            block_means: None,
        })
    }
}

/// Standard error of the mean of `values` (equal-weight observations in split order) by batch
/// means over `blocks` contiguous blocks of nearly equal size (block `i` holds values
/// `⌊i·n/K⌋ .. ⌊(i+1)·n/K⌋`). Unequal sizes are weighted: SE² = K/(K−1) · Σ (nᵢ/n)² (mᵢ − m)².
/// Returns the SE and the number of blocks used (`min(blocks, n)`); `None` below two blocks.
pub fn batch_means_se(values: &[f64], blocks: usize) -> Option<(f64, usize)> {
    let n = values.len();
    let k = blocks.min(n);
    if k < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let ss: f64 = block_means(values, k)
        .iter()
        .map(|(m, w)| (w * (m - mean)).powi(2))
        .sum();
    Some(((ss * k as f64 / (k - 1) as f64).sqrt(), k))
}

/// Validation batches and how to turn a loss into bits per byte.
pub(crate) struct ValSet {
    /// This rank's rows of each batch (all rows with one process).
    pub batches: Vec<(Vec<u32>, Vec<u32>)>,
    /// Ranks the batches are split over.
    world: usize,
    /// Tokens of the split and bytes of its source text (bits per byte).
    tokens: u64,
    bytes: u64,
    /// The synthetic source's entropy over the validation split (the best possible loss). The
    /// evaluated windows are spread over the whole split, so that is the right reference.
    pub entropy: Option<f64>,
}

impl ValSet {
    /// `max_tokens` worth of validation batches of `world · B` windows (at least one batch;
    /// `usize::MAX` = the whole split), of which this rank keeps rows `rank·B .. (rank+1)·B`.
    pub fn load(
        data_dir: &Path,
        meta: &Meta,
        config: &Config,
        max_tokens: usize,
        rank: usize,
        world: usize,
    ) -> Result<Self> {
        let shard = meta.open_shard(data_dir, Split::Val)?;
        Self::from_shard(&shard, meta, config, max_tokens, rank, world)
    }

    fn from_shard(
        shard: &TokenShard,
        meta: &Meta,
        config: &Config,
        max_tokens: usize,
        rank: usize,
        world: usize,
    ) -> Result<Self> {
        let (b, seq) = (config.train.batch_size, config.train.seq_len);
        if world > 1 {
            let windows = (shard.len().saturating_sub(1) / seq.max(1)) as u64;
            if ((b * world) as u64) > windows {
                return Err(Error::TooManyRanks {
                    ranks: world,
                    per_rank: b,
                    global: b * world,
                    what: "evaluation batch",
                    split: "val",
                    windows,
                    seq_len: seq,
                    max_ranks: windows / b.max(1) as u64,
                });
            }
        }
        let global = ladder_data::val_batches(shard, b * world, seq, max_tokens)?;
        let batches = match world {
            1 => global,
            _ => {
                let rows = rank * b * seq..(rank + 1) * b * seq;
                global
                    .into_iter()
                    .map(|(i, t)| (i[rows.clone()].to_vec(), t[rows.clone()].to_vec()))
                    .collect()
            }
        };
        Ok(ValSet {
            batches,
            world,
            tokens: meta.val_tokens,
            bytes: meta.val_bytes,
            entropy: meta.entropy_nats_per_token,
        })
    }

    /// Mean loss over the batches, with its standard error. Every batch has the same number of
    /// tokens, so the mean of batch means is the token mean; it is summed in f64 in batch order
    /// (deterministic). With several ranks, one all-reduce carries the per-batch slice losses and
    /// their total (the total first summed per rank, as the loss has always been computed).
    pub fn evaluate(&self, ws: &mut Workspace, params: &[f32], comm: &Comm) -> Result<ValLoss> {
        let mut sums = self.local_sums(ws, params)?;
        if self.world > 1 {
            comm.all_reduce_sum_f64(&mut sums)?;
        }
        Ok(self.combine(&sums))
    }

    /// This rank's loss of each batch, then their total (summed in batch order).
    fn local_sums(&self, ws: &mut Workspace, params: &[f32]) -> Result<Vec<f64>> {
        let n = self.batches.len();
        let mut sums = vec![0.0f64; n + 1];
        for (i, (inputs, targets)) in self.batches.iter().enumerate() {
            let l = ws.forward_loss(params, inputs, targets)? as f64;
            sums[i] = l;
            sums[n] += l;
        }
        Ok(sums)
    }

    /// The loss and SE from the per-batch sums over the ranks and their total (last element).
    fn combine(&self, sums: &[f64]) -> ValLoss {
        let n = sums.len() - 1;
        let world = self.world as f64;
        let loss = (sums[n] / (n * self.world).max(1) as f64) as f32;
        let means: Vec<f64> = sums[..n].iter().map(|s| s / world).collect();
        let se = batch_means_se(&means, SE_BLOCKS);
        let block_means = se.map(|_| {
            let mut b = BlockMeans {
                len: 0,
                means: [0.0; SE_BLOCKS],
            };
            for (slot, (m, _)) in b.means.iter_mut().zip(block_means(&means, SE_BLOCKS)) {
                *slot = m;
                b.len += 1;
            }
            b
        });
        let rows: usize = self.batches.first().map_or(0, |(i, _)| i.len());
        ValLoss {
            loss,
            bpb: bits_per_byte(loss as f64, self.tokens, self.bytes),
            se: se.map(|s| s.0),
            blocks: se.map_or(1, |s| s.1),
            tokens: Some((n * rows * self.world) as u64),
            block_means,
        }
    }
}

/// The two evaluations of a run: the mid-training one (`eval.tokens`, loaded once) and the final
/// one (`eval.final_tokens`, by default the whole split; loaded when needed and then dropped, so
/// a large split costs memory only while it is evaluated).
pub(crate) struct Evaluator {
    periodic: ValSet,
    shard: TokenShard,
    meta: Meta,
    config: Config,
    rank: usize,
}

impl Evaluator {
    /// Opens the validation split and loads the mid-training batches (this rank's rows).
    pub fn open(data_dir: &Path, meta: &Meta, config: &Config, comm: &Comm) -> Result<Self> {
        let shard = meta.open_shard(data_dir, Split::Val)?;
        let (rank, world) = (comm.rank(), comm.size());
        let periodic = ValSet::from_shard(&shard, meta, config, config.eval.tokens, rank, world)?;
        Ok(Evaluator {
            periodic,
            shard,
            meta: meta.clone(),
            config: config.clone(),
            rank,
        })
    }

    /// The source's entropy, when the data has one.
    pub fn entropy(&self) -> Option<f64> {
        self.periodic.entropy
    }

    /// Evaluates `params`: on the final batches when `is_final`, else on the mid-training ones.
    pub fn evaluate(
        &self,
        ws: &mut Workspace,
        params: &[f32],
        comm: &Comm,
        is_final: bool,
    ) -> Result<ValLoss> {
        if !is_final {
            return self.periodic.evaluate(ws, params, comm);
        }
        let last = ValSet::from_shard(
            &self.shard,
            &self.meta,
            &self.config,
            self.config.eval.final_budget(),
            self.rank,
            self.periodic.world,
        )?;
        last.evaluate(ws, params, comm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A standard normal draw (Box–Muller).
    fn normal(rng: &mut ChaCha8Rng) -> f64 {
        let u1: f64 = rng.random::<f64>().max(1e-300);
        let u2: f64 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// AR(1) losses `x_t = μ + ρ·(x_{t−1} − μ) + ε_t`, started in its stationary law.
    fn ar1(rng: &mut ChaCha8Rng, n: usize, rho: f64) -> Vec<f64> {
        let sd = 1.0 / (1.0 - rho * rho).sqrt();
        let mut x = normal(rng) * sd;
        (0..n)
            .map(|_| {
                x = rho * x + normal(rng);
                3.0 + 0.1 * x
            })
            .collect()
    }

    /// Losses made of "documents": each of random length (geometric, mean `doc`) has its own
    /// difficulty, shared by its tokens, plus independent per-token noise.
    fn documents(rng: &mut ChaCha8Rng, n: usize, doc: f64) -> Vec<f64> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let level = 3.0 + 0.5 * normal(rng);
            out.push(level + 0.3 * normal(rng));
            while out.len() < n && rng.random::<f64>() > 1.0 / doc {
                out.push(level + 0.3 * normal(rng));
            }
        }
        out
    }

    /// Over many replicas: the mean estimated SE against the empirical SD of the mean, and the
    /// fraction of replicas whose ±1.96·SE interval covers the true mean.
    fn check(mut draw: impl FnMut(&mut ChaCha8Rng) -> Vec<f64>, truth: f64) -> (f64, f64, f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        let reps = 400;
        let (mut means, mut ses, mut covered) = (Vec::new(), Vec::new(), 0);
        for _ in 0..reps {
            let v = draw(&mut rng);
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let (se, k) = batch_means_se(&v, SE_BLOCKS).unwrap();
            assert_eq!(k, SE_BLOCKS);
            covered += usize::from((m - truth).abs() <= 1.96 * se);
            means.push(m);
            ses.push(se);
        }
        let mm = means.iter().sum::<f64>() / reps as f64;
        let sd = (means.iter().map(|m| (m - mm).powi(2)).sum::<f64>() / (reps - 1) as f64).sqrt();
        let mean_se = ses.iter().sum::<f64>() / reps as f64;
        eprintln!(
            "mean SE {mean_se:.5}, SD of means {sd:.5}, coverage {}",
            covered as f64 / reps as f64
        );
        (mean_se, sd, covered as f64 / reps as f64)
    }

    #[test]
    fn batch_means_se_covers_the_spread_of_ar1_losses() {
        // ρ = 0.9: the naive sd/√n would be (1+ρ)/(1−ρ) = 19× too small in variance.
        let (se, sd, cover) = check(|r| ar1(r, 8192, 0.9), 3.0);
        let naive = 0.1 / (1.0f64 - 0.81).sqrt() / (8192f64).sqrt();
        assert!(
            sd > 3.0 * naive,
            "the test data must be correlated: {sd} vs {naive}"
        );
        assert!(
            (se / sd - 1.0).abs() < 0.15,
            "mean SE {se} vs empirical SD {sd}"
        );
        assert!((0.90..=0.98).contains(&cover), "95 % coverage {cover}");
    }

    #[test]
    fn batch_means_se_covers_the_spread_of_document_correlated_losses() {
        let (se, sd, cover) = check(|r| documents(r, 65536, 128.0), 3.0);
        assert!(
            (se / sd - 1.0).abs() < 0.15,
            "mean SE {se} vs empirical SD {sd}"
        );
        assert!((0.90..=0.98).contains(&cover), "95 % coverage {cover}");
    }

    #[test]
    fn batch_means_se_of_equal_blocks_is_the_sd_of_block_means_over_root_k() {
        let v = [1.0, 3.0, 2.0, 6.0];
        // blocks (1,3) and (2,6): means 2 and 4, sd √2, SE √2/√2 = 1
        let (se, k) = batch_means_se(&v, 2).unwrap();
        assert_eq!(k, 2);
        assert!((se - 1.0).abs() < 1e-12, "{se}");
        assert_eq!(batch_means_se(&v[..1], 32), None);
        // fewer values than blocks: one value per block, the classical SE of the mean
        let (se, k) = batch_means_se(&v, 32).unwrap();
        assert_eq!(k, 4);
        let m = 3.0;
        let sd = (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 3.0).sqrt();
        assert!((se - sd / 2.0).abs() < 1e-12);
    }

    #[test]
    fn ranks_get_the_single_process_loss_and_se() {
        // One process with 2·B rows per batch against two ranks with B rows each, the all-reduce
        // done by hand: the same loss and SE up to the order of additions.
        let config = Config::resolve(Some(crate::config::Preset::Tiny), None, &[]).unwrap();
        let mut cfg = config.model_config();
        cfg.vocab_size = 97;
        let (b, t) = (config.train.batch_size, config.train.seq_len);
        let params = ladder_model::init_params(&cfg, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut tok = |n: usize| -> Vec<u32> { (0..n).map(|_| rng.random_range(0..97)).collect() };
        let global: Vec<(Vec<u32>, Vec<u32>)> =
            (0..6).map(|_| (tok(2 * b * t), tok(2 * b * t))).collect();
        let set = |batches, world| ValSet {
            batches,
            world,
            tokens: 0,
            bytes: 0,
            entropy: None,
        };
        let single = set(global.clone(), 1);
        let mut ws = Workspace::new(&cfg, 2 * b, t).unwrap();
        let one = single.evaluate(&mut ws, &params, &Comm::single()).unwrap();
        let mut ws = Workspace::new(&cfg, b, t).unwrap();
        let mut reduced = vec![0.0; global.len() + 1];
        let mut last = None;
        for rank in 0..2 {
            let rows = rank * b * t..(rank + 1) * b * t;
            let slices = global
                .iter()
                .map(|(i, t)| (i[rows.clone()].to_vec(), t[rows.clone()].to_vec()))
                .collect();
            let part = set(slices, 2);
            let sums = part.local_sums(&mut ws, &params).unwrap();
            reduced.iter_mut().zip(&sums).for_each(|(r, s)| *r += s);
            last = Some(part);
        }
        let two = last.unwrap().combine(&reduced);
        assert_eq!(two.tokens, one.tokens);
        assert_eq!((two.blocks, one.blocks), (6, 6));
        // The block means behind the SE are recorded, and give that SE back.
        for v in [&one, &two] {
            let means = v.block_means.expect("block means").as_slice().to_vec();
            assert_eq!(means.len(), 6);
            let (se, _) = batch_means_se(&means, SE_BLOCKS).unwrap();
            assert!((se - v.se.unwrap()).abs() < 1e-12, "{se} vs {:?}", v.se);
        }
        assert!(
            (two.loss - one.loss).abs() < 1e-5,
            "{} vs {}",
            two.loss,
            one.loss
        );
        let (s1, s2) = (one.se.unwrap(), two.se.unwrap());
        // Batch means are f32 (ulp ≈ 5e-7 at a loss of 4.6): equal to that rounding.
        assert!(s1 > 1e-3 && (s2 - s1).abs() < 1e-6, "{s2} vs {s1}");
    }
}
