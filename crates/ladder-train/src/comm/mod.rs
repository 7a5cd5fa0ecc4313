//! Communicators for data-parallel training: how the ranks of one job average their gradients.
//!
//! [`Communicator`] is the interface the trainer sees: rank, world size, all-reduce (sum) of the
//! one contiguous gradient buffer (DESIGN §1) and of a few f64 scalars, broadcast and barrier.
//! Implementations: [`SingleProcess`] (always there; every collective is the identity) and, behind
//! the cargo feature `mpi`, [`Mpi`] (Open MPI / MPICH through the `mpi` crate). A GPU backend
//! (NCCL) would be a third implementation of the same trait; see docs/distributed.md.
//!
//! Data-parallel semantics (used by the trainer): rank `r` of `K` takes sequences
//! `((s·A + μ)·K + r)·B + i` of the sampler's global counter for micro-batch `μ` of step `s`
//! (A = grad_accum, B = per-rank batch), scales its gradients by `1/(A·K)` and sums them over the
//! ranks. That is exactly the batch one process with `K·B` sequences per micro-batch would see, so
//! the two runs agree up to the order of floating-point additions.
//!
//! Failure handling: MPI's default error handler (`MPI_ERRORS_ARE_FATAL`) ends the whole job when
//! a collective fails, and `mpirun` ends it when a rank dies. [`Mpi`] adds a watchdog: a rank that
//! waits longer than its timeout inside one collective (a peer hung) prints which collective and
//! exits, which makes the launcher end the job. Errors that every rank knows about are agreed on
//! with [`agree`], so all ranks exit cleanly (non-zero) instead of waiting for each other.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

#[cfg(feature = "mpi")]
mod mpi;
#[cfg(feature = "mpi")]
pub use self::mpi::Mpi;

/// What the trainer needs from the other ranks of a data-parallel job. Every method except
/// [`Communicator::rank`], [`Communicator::size`] and [`Communicator::local_size`] is collective:
/// every rank must call it, in the same order, with buffers of the same length.
pub trait Communicator: Send + Sync {
    /// This process's rank, `0..size()`; rank 0 writes the run directory.
    fn rank(&self) -> usize;
    /// Number of ranks in the job (the world size K).
    fn size(&self) -> usize;
    /// Ranks on this machine (they share its cores), at least 1.
    fn local_size(&self) -> usize;
    /// Replaces `buf` on every rank by the element-wise sum of all ranks' `buf`.
    fn all_reduce_sum(&self, buf: &mut [f32]) -> Result<()>;
    /// [`Communicator::all_reduce_sum`] for a few f64 scalars (losses, flags, metrics).
    fn all_reduce_sum_f64(&self, buf: &mut [f64]) -> Result<()>;
    /// Copies rank `root`'s `buf` into every rank's `buf`.
    fn broadcast(&self, buf: &mut [f32], root: usize) -> Result<()>;
    /// Returns when every rank has called it.
    fn barrier(&self) -> Result<()>;
    /// Ends the whole job at once with exit code `code` (after a local error the other ranks do
    /// not know about: they would otherwise wait in their next collective).
    fn abort(&self, code: i32) -> !;
    /// `"single"`, `"mpi"`, ...
    fn name(&self) -> &'static str;

    /// Replaces `buf` by the element-wise mean over the ranks.
    fn all_reduce_mean(&self, buf: &mut [f32]) -> Result<()> {
        self.all_reduce_sum(buf)?;
        if self.size() > 1 {
            let k = 1.0 / self.size() as f32;
            buf.iter_mut().for_each(|x| *x *= k);
        }
        Ok(())
    }
}

/// One process: rank 0 of 1; every collective leaves its buffer as it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Communicator for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn local_size(&self) -> usize {
        1
    }
    fn all_reduce_sum(&self, _buf: &mut [f32]) -> Result<()> {
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
        "single"
    }
}

/// A shared handle on a communicator, as carried by [`crate::TrainOptions`]; the default is
/// [`SingleProcess`].
#[derive(Clone)]
pub struct Comm(Arc<dyn Communicator>);

impl Comm {
    /// Wraps a communicator.
    pub fn new(c: impl Communicator + 'static) -> Self {
        Comm(Arc::new(c))
    }
    /// One process.
    pub fn single() -> Self {
        Comm::new(SingleProcess)
    }
    /// Whether this is rank 0, the one that writes files and draws progress.
    pub fn is_root(&self) -> bool {
        self.0.rank() == 0
    }
}

impl Default for Comm {
    fn default() -> Self {
        Comm::single()
    }
}

impl std::ops::Deref for Comm {
    type Target = dyn Communicator;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl fmt::Debug for Comm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Comm({}, rank {} of {})",
            self.0.name(),
            self.0.rank(),
            self.0.size()
        )
    }
}

/// Makes every rank agree on whether a phase succeeded: one small all-reduce of a flag per rank.
/// Returns `Ok` only if every rank's `local` is `Ok`; otherwise every rank returns
/// [`Error::Ranks`] (holding its own error, if it had one), so all ranks can exit cleanly.
/// With one process `local` is returned as it is.
pub fn agree<T>(comm: &Comm, local: Result<T>) -> Result<T> {
    if comm.size() == 1 {
        return local;
    }
    let mut failed = vec![0.0f64; comm.size()];
    failed[comm.rank()] = f64::from(u8::from(local.is_err()));
    comm.all_reduce_sum_f64(&mut failed)?;
    let failed: Vec<usize> = (0..failed.len()).filter(|&r| failed[r] > 0.0).collect();
    match local {
        Ok(v) if failed.is_empty() => Ok(v),
        Ok(_) => Err(Error::Ranks {
            failed,
            own: None,
            rank: comm.rank(),
        }),
        Err(e) => Err(Error::Ranks {
            failed,
            own: Some(Box::new(e)),
            rank: comm.rank(),
        }),
    }
}

/// Worker threads for this rank: `threads`, or when it is 0 the cores this process may use
/// divided among the ranks on this machine (so `mpirun -np 2` on 2 cores gives 1 thread each).
pub fn resolve_threads(threads: usize, comm: &Comm) -> usize {
    if threads > 0 {
        return threads;
    }
    (crate::perf::resolve_threads(0) / comm.local_size().max(1)).max(1)
}

/// The world size announced by an MPI launcher in the environment (`mpirun`'s
/// `OMPI_COMM_WORLD_SIZE`, Hydra/PMI's `PMI_SIZE`), or `Some(0)` when only a PMIx rank is set
/// (`srun --mpi=pmix` does not export the size); `None` when this process was not started by an
/// MPI launcher.
pub fn launcher_world_size() -> Option<usize> {
    for var in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] {
        if let Some(n) = std::env::var(var).ok().and_then(|v| v.trim().parse().ok()) {
            return Some(n);
        }
    }
    std::env::var_os("PMIX_RANK").map(|_| 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_process_collectives_are_identity() {
        let c = Comm::single();
        let mut v = vec![1.0f32, -2.0, 3.5];
        c.all_reduce_sum(&mut v).unwrap();
        c.all_reduce_mean(&mut v).unwrap();
        c.broadcast(&mut v, 0).unwrap();
        assert_eq!(v, [1.0, -2.0, 3.5]);
        assert!(c.is_root());
        assert_eq!((c.rank(), c.size()), (0, 1));
    }

    #[test]
    fn agree_on_one_process_returns_the_local_result() {
        let c = Comm::single();
        assert_eq!(agree(&c, Ok(3)).unwrap(), 3);
        let e = agree::<()>(&c, Err(Error::NoDataDir)).unwrap_err();
        assert!(matches!(e, Error::NoDataDir), "{e}");
    }

    #[test]
    fn zero_threads_are_shared_among_local_ranks() {
        let c = Comm::single();
        assert_eq!(resolve_threads(3, &c), 3);
        assert_eq!(resolve_threads(0, &c), crate::perf::resolve_threads(0));
    }
}
