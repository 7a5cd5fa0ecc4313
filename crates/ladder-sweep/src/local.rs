//! The local executor: a pool of child `ladder train` processes, `jobs` at a time, each with
//! `threads_per_job` threads (2 × 1 keeps 2 cores busy with no oversubscription).
//!
//! Resumable: the runner holds the sweep's lock and records every start and end in sweep.json
//! atomically. Each child asks the kernel to kill it when the runner dies (`PR_SET_PDEATHSIG`
//! on Linux), so a runner killed by SIGKILL leaves no orphan writing into a run directory; the
//! next runner finds the run `running` with no live runner and continues it from its newest
//! verified checkpoint (`ladder train --resume`; from step 0 when it wrote none, see
//! [`crate::state::next_start`]). Runs are started longest first (estimated time), which packs the
//! pool best: the last run to start is a short one.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::dir::SweepDir;
use crate::error::{io, Error, Result};
use crate::exec::{
    counts, finish_attempt, launch, record_start, report, shell_quote, start_log, Eta, Event,
    Observer, Report, RunOptions,
};
use crate::state::{reconcile, spec_hash, Status};

/// How often children are polled.
const POLL: Duration = Duration::from_millis(200);

struct Running {
    name: String,
    child: Child,
    started: Instant,
    est: Option<f64>,
}

/// Runs every pending run of the sweep in `dir` on this machine; returns when all are done or
/// failed for good.
pub fn run_local(dir: &SweepDir, opts: &RunOptions, obs: &mut dyn Observer) -> Result<Report> {
    let _lock = dir.lock()?;
    let plan = dir.plan()?;
    let mut state = dir.state()?;
    // We hold the lock: nothing started by an earlier runner is still alive.
    reconcile(
        dir,
        &plan,
        &mut state,
        &|_| false,
        opts.retry_failed,
        opts.retrain_unreadable,
    );
    dir.save_state(&state)?;
    let jobs = opts.jobs.max(1);
    let mut running: Vec<Running> = Vec::new();
    let mut eta = Eta::new();
    loop {
        // 1. Fill free slots, longest run first.
        while running.len() < jobs {
            let next = plan
                .runs
                .iter()
                .filter(|r| {
                    state.runs.get(&r.name).map(|e| e.status) == Some(Status::Pending)
                        && !running.iter().any(|x| x.name == r.name)
                })
                .max_by(|a, b| {
                    a.est_seconds
                        .unwrap_or(0.0)
                        .total_cmp(&b.est_seconds.unwrap_or(0.0))
                });
            let Some(run) = next else { break };
            let attempt = state.entry(&run.name).attempts + 1;
            let go = launch(dir, &plan, run, attempt, opts);
            let args = go.args;
            let line = std::iter::once(opts.exe.to_string_lossy().into_owned())
                .chain(args.iter().cloned())
                .map(|a| shell_quote(&a))
                .collect::<Vec<_>>()
                .join(" ");
            let log = start_log(dir, &run.name, attempt, &line)?;
            let child = spawn(&opts.exe, &args, &log)?;
            let e = state.entry(&run.name);
            record_start(e, attempt, go.start);
            e.spec = Some(spec_hash(&plan, run));
            e.executor = Some("local".into());
            e.job_id = None;
            e.pid = Some(child.id());
            dir.save_state(&state)?;
            running.push(Running {
                name: run.name.clone(),
                child,
                started: Instant::now(),
                est: run.est_seconds,
            });
            let ev = Event::Started {
                name: run.name.clone(),
                attempt,
                job_id: None,
                resumed_from: state.entry(&run.name).resumed_from,
            };
            let left = eta_of(&plan, &state, &running, &eta, jobs);
            obs.event(&ev, &counts(&plan, &state, left));
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(POLL);
        // 2. Collect the children that ended.
        let mut i = 0;
        while i < running.len() {
            let status = running[i].child.try_wait().map_err(io(dir.root()))?;
            let Some(status) = status else {
                i += 1;
                continue;
            };
            let r = running.swap_remove(i);
            let ev = finish_attempt(dir, &mut state, &r.name, status.success(), opts.retries);
            if let Event::Done { wall_s, .. } = &ev {
                eta.record(r.est, *wall_s);
            }
            dir.save_state(&state)?;
            let left = eta_of(&plan, &state, &running, &eta, jobs);
            obs.event(&ev, &counts(&plan, &state, left));
        }
        let left = eta_of(&plan, &state, &running, &eta, jobs);
        obs.tick(&counts(&plan, &state, left));
    }
    Ok(report(&plan, &state))
}

fn eta_of(
    plan: &crate::plan::Plan,
    state: &crate::state::State,
    running: &[Running],
    eta: &Eta,
    jobs: usize,
) -> Option<f64> {
    let pending: Vec<Option<f64>> = plan
        .runs
        .iter()
        .filter(|r| state.runs.get(&r.name).map(|e| e.status) == Some(Status::Pending))
        .map(|r| r.est_seconds)
        .collect();
    let run: Vec<(Option<f64>, Instant)> = running.iter().map(|r| (r.est, r.started)).collect();
    eta.eta(&pending, &run, jobs)
}

/// Starts one child with stdout and stderr appended to `log`.
fn spawn(exe: &std::path::Path, args: &[String], log: &std::path::Path) -> Result<Child> {
    let out = std::fs::OpenOptions::new()
        .append(true)
        .open(log)
        .map_err(io(log))?;
    let err = out.try_clone().map_err(io(log))?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    die_with_parent(&mut cmd);
    cmd.spawn().map_err(|source| Error::Spawn {
        program: exe.display().to_string(),
        source,
    })
}

/// Linux: the child gets SIGKILL when the runner's thread that spawned it dies (children are only
/// spawned from the runner's main thread, which lives as long as the runner).
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and calls only async-signal-safe functions
    // (prctl, getppid, kill); it allocates nothing.
    let parent = unsafe { libc::getpid() };
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The runner died between fork and prctl: the signal will never come.
            if libc::getppid() != parent {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}
