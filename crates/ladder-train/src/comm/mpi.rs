//! [`Mpi`]: the [`Communicator`] over `MPI_COMM_WORLD` (the `mpi` crate, Open MPI or MPICH).
//!
//! MPI is initialised with `MPI_THREAD_SERIALIZED`: the trainer calls collectives from a rayon
//! worker, not the thread that initialised MPI, and every call goes through one mutex, so calls
//! are never concurrent. The `mpi` crate has no `MPI_IN_PLACE`, so all-reduces go through a
//! receive buffer kept here and are copied back (one memcpy of the gradients per step, measured
//! in BENCHMARKS.md as part of the all-reduce time).
//!
//! The watchdog: a thread that checks, twice a second, how long the current collective has been
//! waiting. Past the timeout it prints which collective hung on which rank and exits the process
//! (`_exit(1)`: no MPI call from a second thread); the launcher then ends the whole job.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, CommunicatorCollectives, Root};
use mpi::Threading;

use super::Communicator;
use crate::error::{Error, Result};

/// The MPI state behind the mutex.
struct Inner {
    /// Finalises MPI when dropped.
    _universe: Universe,
    world: SimpleCommunicator,
    /// Receive buffers for the all-reduces (no `MPI_IN_PLACE` in the `mpi` crate).
    recv: Vec<f32>,
    recv64: Vec<f64>,
}

// SAFETY: MPI is initialised with MPI_THREAD_SERIALIZED, which allows MPI calls from any thread as
// long as no two are concurrent; `Inner` is only reached through `Mpi::inner`'s mutex, so they
// never are.
unsafe impl Send for Inner {}

/// The communicator of a job started by `mpirun` / `srun --mpi=pmix` (see the module docs).
pub struct Mpi {
    inner: Mutex<Inner>,
    rank: usize,
    size: usize,
    local_size: usize,
    /// Milliseconds since `epoch` at which the current collective started; 0 = none running.
    busy_since: Arc<AtomicU64>,
    /// What the current collective is (index into [`OPS`]).
    busy_op: Arc<AtomicU64>,
    epoch: Instant,
}

const OPS: [&str; 4] = ["all-reduce", "all-reduce (f64)", "broadcast", "barrier"];

impl Mpi {
    /// Initialises MPI. `timeout` arms the watchdog (see the module docs); `None` = wait forever.
    /// Errors if MPI was already initialised or cannot call collectives from worker threads.
    pub fn init(timeout: Option<Duration>) -> Result<Mpi> {
        let (universe, threading) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| Error::Comm {
                op: "init",
                message: "MPI is already initialised in this process".into(),
            })?;
        if threading < Threading::Serialized {
            return Err(Error::Comm {
                op: "init",
                message: format!(
                    "the MPI library provides thread level {threading:?}, ladder needs \
                     Serialized (its collectives run on a worker thread); use an MPI built with \
                     thread support"
                ),
            });
        }
        let world = universe.world();
        let rank = world.rank() as usize;
        let size = world.size() as usize;
        let local_size = world.split_shared(0).size().max(1) as usize;
        let mpi = Mpi {
            inner: Mutex::new(Inner {
                _universe: universe,
                world,
                recv: Vec::new(),
                recv64: Vec::new(),
            }),
            rank,
            size,
            local_size,
            busy_since: Arc::new(AtomicU64::new(0)),
            busy_op: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
        };
        if let Some(t) = timeout {
            mpi.start_watchdog(t);
        }
        Ok(mpi)
    }

    fn start_watchdog(&self, timeout: Duration) {
        let (since, op, epoch) = (self.busy_since.clone(), self.busy_op.clone(), self.epoch);
        let (rank, size) = (self.rank, self.size);
        std::thread::Builder::new()
            .name("ladder-comm-watchdog".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(500));
                let start = since.load(Ordering::Acquire);
                if start == 0 {
                    continue;
                }
                let waited = (epoch.elapsed().as_millis() as u64).saturating_sub(start);
                if waited > timeout.as_millis() as u64 {
                    let what = OPS[op.load(Ordering::Acquire) as usize % OPS.len()];
                    eprintln!(
                        "ladder: rank {rank} of {size}: the {what} waited {:.0} s for the other \
                         ranks: one of them has died or hung. Ending this rank so the launcher \
                         ends the job (raise --comm-timeout if a step can take longer).",
                        waited as f64 / 1e3
                    );
                    // SAFETY: `_exit` ends the process at once; nothing here needs cleanup, and it
                    // makes no MPI call from this thread.
                    unsafe { libc::_exit(1) }
                }
            })
            .ok();
    }

    /// Runs one collective under the mutex, with the watchdog armed.
    fn collective<T>(&self, op: usize, f: impl FnOnce(&mut Inner) -> T) -> Result<T> {
        let mut inner = self.inner.lock().map_err(|_| Error::Comm {
            op: OPS[op],
            message: "an earlier collective panicked".into(),
        })?;
        self.busy_op.store(op as u64, Ordering::Release);
        let now = self.epoch.elapsed().as_millis() as u64;
        self.busy_since.store(now.max(1), Ordering::Release);
        let out = f(&mut inner);
        self.busy_since.store(0, Ordering::Release);
        Ok(out)
    }
}

impl Communicator for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn local_size(&self) -> usize {
        self.local_size
    }
    fn all_reduce_sum(&self, buf: &mut [f32]) -> Result<()> {
        self.collective(0, |inner| {
            inner.recv.resize(buf.len(), 0.0);
            inner
                .world
                .all_reduce_into(&*buf, &mut inner.recv[..], SystemOperation::sum());
            buf.copy_from_slice(&inner.recv);
        })
    }
    fn all_reduce_sum_f64(&self, buf: &mut [f64]) -> Result<()> {
        self.collective(1, |inner| {
            inner.recv64.resize(buf.len(), 0.0);
            inner
                .world
                .all_reduce_into(&*buf, &mut inner.recv64[..], SystemOperation::sum());
            buf.copy_from_slice(&inner.recv64);
        })
    }
    fn broadcast(&self, buf: &mut [f32], root: usize) -> Result<()> {
        self.collective(2, |inner| {
            inner.world.process_at_rank(root as i32).broadcast_into(buf);
        })
    }
    fn barrier(&self) -> Result<()> {
        self.collective(3, |inner| inner.world.barrier())
    }
    fn abort(&self, code: i32) -> ! {
        // Never wait for the mutex here: a collective that hung may hold it.
        match self.inner.try_lock() {
            Ok(inner) => inner.world.abort(code),
            // SAFETY: see `start_watchdog`.
            Err(_) => unsafe { libc::_exit(code) },
        }
    }
    fn name(&self) -> &'static str {
        "mpi"
    }
}
