//! `ladder doctor`: does this machine compute correctly and at its usual speed?

use std::process::ExitCode;
use std::time::Duration;

use ladder_train::doctor::{doctor, DoctorOptions, Status};
use ladder_train::profile::Kernel;

/// Arguments of `ladder doctor`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Checks, in order:
  kernels         every kernel, forward and backward, against the f64 reference at several shapes
                  (--quick: one), within fp32 rounding-error bounds derived per kernel
  repeatability   the fixed-seed tiny model's training steps twice: identical bits
  fingerprint     those bits against the fingerprint this build recorded on this machine at the
                  same --threads (recorded on the first run of a build)
  speed           GEMM GFLOP/s and triad GB/s against this machine's cached figures (recorded on
                  the first run); more than 20% below is degraded
  ranks           under mpirun: every rank's fingerprint against the majority; an odd rank is named
Exit status: 0 healthy, 1 a check failed (wrong numbers), 2 degraded (slow).
The cache: $LADDER_MACHINE_CACHE, else $XDG_CACHE_HOME/ladder/machine.json, else
~/.cache/ladder/machine.json. See docs/doctor.md for a Slurm prolog and a node health check.

Examples:
  ladder doctor
  ladder doctor --quick --json
  mpirun -np 4 ladder doctor --quick")]
pub struct DoctorArgs {
    /// One shape per kernel and shorter speed probes (a few seconds).
    #[arg(long)]
    pub quick: bool,
    /// Worker threads (0 = all cores; under mpirun the cores are shared among local ranks).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Communicator: auto (MPI when started by mpirun/srun), single, mpi.
    #[arg(long, value_enum, default_value_t = super::dist::CommKind::Auto, value_name = "KIND")]
    pub comm: super::dist::CommKind,
    /// Test-only: perturb one kernel's output (e.g. gelu_forward) to see the check fail.
    #[arg(long, hide = true, value_name = "KERNEL")]
    pub break_kernel: Option<String>,
}

pub fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let break_kernel = match &args.break_kernel {
        None => None,
        Some(name) => Some(Kernel::from_name(name).ok_or_else(|| {
            let names: Vec<_> = Kernel::ALL.iter().map(|k| k.name()).collect();
            anyhow::anyhow!(
                "--break-kernel {name}: no such kernel (one of: {})",
                names.join(", ")
            )
        })?),
    };
    let comm = super::dist::connect(args.comm, Some(Duration::from_secs(600)))?;
    let threads = ladder_train::comm::resolve_threads(args.threads, &comm);
    let r = doctor(
        &DoctorOptions {
            quick: args.quick,
            threads,
            break_kernel,
        },
        &comm,
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::from(r.status.exit_code()));
    }
    let who = if r.world > 1 {
        format!("rank {} of {} on {}", r.rank, r.world, r.host)
    } else {
        r.host.clone()
    };
    let tag = |s: Status| match s {
        Status::Ok => "ok",
        Status::Degraded => "DEGRADED",
        Status::Failed => "FAILED",
    };
    let n_ok = r.kernels.iter().filter(|k| k.status == Status::Ok).count();
    let worst = r
        .kernels
        .iter()
        .map(|k| k.err / k.tol.max(f64::MIN_POSITIVE))
        .fold(0.0, f64::max);
    println!(
        "{who}, {} threads\n{:<14} {}  {n_ok}/{} known-answer checks within their fp32 bounds (worst error {:.3} of its bound)",
        r.threads,
        "kernels",
        tag(if n_ok == r.kernels.len() { Status::Ok } else { Status::Failed }),
        r.kernels.len(),
        worst
    );
    for k in r.kernels.iter().filter(|k| k.status != Status::Ok) {
        println!(
            "  FAILED {}: error {:.3e} > bound {:.3e}",
            k.name, k.err, k.tol
        );
    }
    for c in &r.checks {
        println!("{:<14} {}  {}", c.name, tag(c.status), c.detail);
    }
    let failed = r.failed_kernels();
    match r.status {
        Status::Ok => println!("healthy"),
        Status::Degraded => println!("degraded: slower than this machine's own figures"),
        Status::Failed if !failed.is_empty() => {
            println!("failed: broken kernel(s): {}", failed.join(", "))
        }
        Status::Failed => println!("failed: see the FAILED lines above"),
    }
    Ok(ExitCode::from(r.status.exit_code()))
}
