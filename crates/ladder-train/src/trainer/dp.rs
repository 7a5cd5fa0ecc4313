//! The data-parallel parts of the training loop (see [`crate::comm`] for the semantics): the
//! gradient all-reduce, the agreed stop decision, the validation batches split over the ranks,
//! and the checks that the data holds a global batch. With one process every function here is
//! the identity or the single-process code path, so single-process results are unchanged.

use std::path::Path;
use std::time::Instant;

use ladder_data::{Meta, Split, TrainSampler};
use ladder_model::Workspace;

use super::{Run, ValSet};
use crate::comm::Comm;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::metrics::{bits_per_byte, StopReason};

impl Run {
    /// After the agreed set-up: sums the ranks' measured peaks (the job's peak behind MFU; a
    /// declared peak is the whole job's already) and gives every rank rank 0's parameters.
    /// Initialisation is deterministic, so the broadcast changes nothing unless a rank's start
    /// differs (which would otherwise go unnoticed).
    pub(super) fn join_ranks(&mut self, measured_peak: bool) -> Result<()> {
        if self.comm.size() == 1 {
            return Ok(());
        }
        if measured_peak {
            let mut peak = [self.info.peak_gflops];
            self.comm.all_reduce_sum_f64(&mut peak)?;
            self.info.peak_gflops = peak[0];
        }
        self.comm.broadcast(&mut self.params, 0)
    }

    /// Sums the gradient buffer over the ranks (each rank scaled its part by 1/(accum · K), so the
    /// sum is the global batch's mean gradient) and returns the ranks' total of `loss_sum`.
    pub(super) fn reduce_gradients(&mut self, loss_sum: f64) -> Result<f64> {
        if self.comm.size() == 1 {
            return Ok(loss_sum);
        }
        let t0 = Instant::now();
        self.comm.all_reduce_sum(&mut self.grads)?;
        self.comm_time += t0.elapsed().as_secs_f64();
        let mut loss = [loss_sum];
        self.comm.all_reduce_sum_f64(&mut loss)?;
        Ok(loss[0])
    }

    /// [`Run::stop_reason`], the same on every rank: the wall-time limit is read on rank 0 and
    /// broadcast (each rank's clock differs); step and token limits need no message.
    pub(super) fn agreed_stop_reason(&self) -> Result<Option<StopReason>> {
        let local = self.stop_reason();
        if self.comm.size() == 1 || self.info.max_time.is_none() {
            return Ok(local);
        }
        let code = |r: Option<StopReason>| match r {
            None => 0.0,
            Some(StopReason::Steps) => 1.0,
            Some(StopReason::Tokens) => 2.0,
            Some(_) => 3.0,
        };
        let mut c = [code(local)];
        self.comm.broadcast(&mut c, 0)?;
        Ok(match c[0] as u32 {
            0 => None,
            1 => Some(StopReason::Steps),
            2 => Some(StopReason::Tokens),
            _ => Some(StopReason::MaxTime),
        })
    }
}

/// Errors unless one optimizer step's global batch (`per_rank` sequences on each rank) fits in
/// one epoch of the training split: otherwise ranks would train on copies of the same windows
/// within a step.
pub(super) fn check_ranks_fit(comm: &Comm, per_rank: usize, sampler: &TrainSampler) -> Result<()> {
    let ranks = comm.size();
    let windows = sampler.windows_per_epoch();
    if (per_rank * ranks) as u64 > windows {
        return Err(Error::TooManyRanks {
            ranks,
            per_rank,
            global: per_rank * ranks,
            what: "optimizer step",
            split: "train",
            windows,
            seq_len: sampler.seq_len(),
            max_ranks: windows / per_rank.max(1) as u64,
        });
    }
    Ok(())
}

impl ValSet {
    /// This rank's part of the validation batches a single process with the global micro-batch
    /// (`K · B` sequences) would evaluate: rows `rank·B .. (rank+1)·B` of each of its batches. The
    /// job therefore evaluates exactly the single-process windows.
    pub fn load_slice(
        data_dir: &Path,
        meta: &Meta,
        config: &Config,
        rank: usize,
        world: usize,
    ) -> Result<Self> {
        let (b, seq) = (config.train.batch_size, config.train.seq_len);
        let shard = meta.open_shard(data_dir, Split::Val)?;
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
        let global = ladder_data::val_batches(&shard, b * world, seq, config.eval.tokens)?;
        let rows = rank * b * seq..(rank + 1) * b * seq;
        let batches = global
            .into_iter()
            .map(|(i, t)| (i[rows.clone()].to_vec(), t[rows.clone()].to_vec()))
            .collect();
        Ok(ValSet {
            batches,
            tokens: meta.val_tokens,
            bytes: meta.val_bytes,
            entropy: meta.entropy_nats_per_token,
        })
    }

    /// [`ValSet::evaluate`] over the ranks' slices (see [`ValSet::load_slice`]): each batch's mean
    /// is the mean of its K equal slices, so the loss is the ranks' summed slice losses over
    /// `batches · K`; the same on every rank.
    pub fn evaluate_shared(
        &self,
        ws: &mut Workspace,
        params: &[f32],
        comm: &Comm,
    ) -> Result<(f32, Option<f64>)> {
        let mut sum = [0.0f64];
        for (inputs, targets) in &self.batches {
            sum[0] += ws.forward_loss(params, inputs, targets)? as f64;
        }
        comm.all_reduce_sum_f64(&mut sum)?;
        let n = (self.batches.len() * comm.size()).max(1);
        let loss = (sum[0] / n as f64) as f32;
        Ok((loss, bits_per_byte(loss as f64, self.tokens, self.bytes)))
    }
}
