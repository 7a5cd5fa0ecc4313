//! The data-parallel parts of the training loop (see [`crate::comm`] for the semantics): the
//! gradient all-reduce, the agreed stop decision, and the check that the data holds a global
//! batch (the validation batches split over the ranks are in [`crate::eval`]). With one process
//! every function here is the identity or the single-process code path, so single-process results
//! are unchanged.

use std::time::Instant;

use ladder_data::TrainSampler;

use super::Run;
use crate::comm::Comm;
use crate::error::{Error, Result};
use crate::metrics::StopReason;

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
