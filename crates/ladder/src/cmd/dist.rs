//! Joining a data-parallel job for `ladder train`: which communicator (`--comm`), the
//! `--global-batch` arithmetic, and how a rank reports an error (see docs/distributed.md).

use std::process::ExitCode;
use std::time::Duration;

use ladder_train::comm::{self, Comm};

/// `--comm`: which communicator `ladder train` uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CommKind {
    /// MPI when started by an MPI launcher (mpirun, srun --mpi=pmix), otherwise one process.
    #[default]
    Auto,
    /// One process, even under a launcher.
    Single,
    /// MPI (needs a build with `--features mpi`).
    Mpi,
}

/// Whether this build can do MPI.
pub const MPI_BUILT: bool = cfg!(feature = "mpi");

/// This process's rank as the launcher announced it (before MPI is initialised), for deciding who
/// prints an error that every rank has; 0 when not launched by MPI.
pub fn launcher_rank() -> usize {
    ["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"]
        .iter()
        .find_map(|v| std::env::var(v).ok().and_then(|s| s.trim().parse().ok()))
        .unwrap_or(0)
}

/// Connects to the job's other ranks, or returns the single-process communicator.
pub fn connect(kind: CommKind, timeout: Option<Duration>) -> anyhow::Result<Comm> {
    let launched = comm::launcher_world_size();
    let want_mpi = match kind {
        CommKind::Single => false,
        CommKind::Mpi => true,
        CommKind::Auto => launched.is_some(),
    };
    if !want_mpi {
        return Ok(Comm::single());
    }
    if !MPI_BUILT {
        let size = match launched {
            Some(n) if n > 0 => format!("one of {n} MPI ranks"),
            Some(_) => "by an MPI launcher".to_owned(),
            None => "with --comm mpi".to_owned(),
        };
        if kind == CommKind::Auto && launched == Some(1) {
            return Ok(Comm::single());
        }
        anyhow::bail!(
            "this ladder was started {size} but built without MPI support (each rank would train \
             the whole model alone into the same run directory); rebuild with `cargo build \
             --release -p ladder --features mpi` (needs libopenmpi-dev and libclang-dev, see \
             docs/distributed.md), or run one process without mpirun"
        );
    }
    connect_mpi(timeout)
}

#[cfg(feature = "mpi")]
fn connect_mpi(timeout: Option<Duration>) -> anyhow::Result<Comm> {
    Ok(Comm::new(comm::Mpi::init(timeout)?))
}

#[cfg(not(feature = "mpi"))]
fn connect_mpi(_timeout: Option<Duration>) -> anyhow::Result<Comm> {
    anyhow::bail!("this ladder was built without MPI support")
}

/// `--global-batch G` → sequences per rank per micro-batch, `G / (ranks · grad_accum)`.
pub fn per_rank_batch(global: usize, ranks: usize, grad_accum: usize) -> anyhow::Result<usize> {
    let per_step = ranks * grad_accum.max(1);
    anyhow::ensure!(
        global > 0 && global.is_multiple_of(per_step),
        "--global-batch {global} is not divisible by {ranks} rank(s) × train.grad_accum = \
         {grad_accum}: every rank takes the same number of sequences per micro-batch; use a \
         multiple of {per_step} (e.g. {}), or change the number of ranks or train.grad_accum",
        per_step * (global / per_step).max(1)
    );
    Ok(global / per_step)
}

/// Reports an error of `ladder train` on this rank and chooses the exit: an error every rank has
/// (a bad config, an agreed set-up failure, a divergence) is printed once (by the rank it belongs
/// to, or rank 0) and every rank exits non-zero after finalising MPI; an error only this rank has
/// ends the whole job at once (`MPI_Abort`), since the others would wait for it.
pub fn report_error(comm: &Comm, err: anyhow::Error) -> ExitCode {
    let rank_prefix = match comm.size() {
        1 => String::new(),
        k => format!("rank {} of {k}: ", comm.rank()),
    };
    let train_err = err.downcast_ref::<ladder_train::Error>();
    let shared = comm.size() == 1 || train_err.is_some_and(|e| e.is_shared_by_all_ranks());
    if !shared {
        eprintln!("ladder: error: {rank_prefix}{err:#}");
        eprintln!("ladder: rank {} is ending the whole job", comm.rank());
        comm.abort(1);
    }
    // A failure of several ranks is usually the same on each (bad data, a full disk): rank 0
    // speaks for them when it is among them.
    let own = match train_err {
        Some(ladder_train::Error::Ranks { own, failed, .. }) => {
            own.is_some() && (comm.is_root() || !failed.contains(&0))
        }
        _ => comm.is_root(),
    };
    if own {
        eprintln!("ladder: error: {err:#}");
    }
    // Nobody exits before the message is out: mpirun ends the whole job at the first non-zero
    // exit, and a busy machine could otherwise kill the speaking rank before it has printed.
    let _ = comm.barrier();
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_rank_batch_divides_or_explains() {
        assert_eq!(per_rank_batch(8, 2, 1).unwrap(), 4);
        assert_eq!(per_rank_batch(8, 2, 2).unwrap(), 2);
        let e = per_rank_batch(6, 4, 1).unwrap_err().to_string();
        assert!(e.contains("not divisible by 4 rank(s)"), "{e}");
        assert!(per_rank_batch(0, 1, 1).is_err());
    }
}
