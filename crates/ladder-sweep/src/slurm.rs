//! The Slurm executor: one `sbatch` job per run (a batch script in `slurm/<name>.sh` that execs
//! `ladder train`), job ids recorded in sweep.json, `squeue` polled until each job leaves the
//! queue, results read from the run directories. `sacct` is not needed (accounting is often off
//! on small clusters): a job that left the queue succeeded exactly when its run directory holds a
//! completed summary.json.
//!
//! A re-submitted run (a retry, or a job cut short) continues from its newest verified checkpoint
//! (`ladder train --resume`), decided when the script is written (see
//! [`crate::state::next_start`]). Resumable like the local executor, and more: the jobs live on when the runner stops, so a new
//! runner adopts the jobs still queued or running and resolves the ones that ended meanwhile. The
//! sweep directory and the `ladder` binary must be on a file system the compute nodes share.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::dir::SweepDir;
use crate::error::{io, Error, Result};
use crate::exec::{
    counts, finish_attempt, launch, record_start, report, shell_quote, start_log, Eta, Event,
    Observer, Report, RunOptions,
};
use crate::state::{reconcile, spec_hash, Status};

/// Slurm options of `ladder sweep run --executor slurm`.
#[derive(Clone, Debug)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time` (HH:MM:SS).
    pub time: Option<String>,
    /// Seconds between `squeue` polls.
    pub poll: Duration,
    /// Extra `sbatch` arguments, verbatim.
    pub sbatch_args: Vec<String>,
}

/// Runs a command and returns its stdout, or an [`Error::Slurm`] with its stderr.
fn slurm_cmd(program: &str, args: &[String]) -> Result<String> {
    let line = std::iter::once(program.to_string())
        .chain(args.iter().map(|a| shell_quote(a)))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| Error::Spawn {
            program: program.to_string(),
            source,
        })?;
    if !out.status.success() {
        return Err(Error::Slurm {
            command: line,
            message: format!(
                "{} ({})",
                String::from_utf8_lossy(&out.stderr).trim(),
                out.status
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Job ids in the queue (any state: pending, running, completing) with their state names.
fn queued() -> Result<HashMap<String, String>> {
    // No `-j`: squeue rejects ids it has forgotten, and those are exactly the finished jobs.
    let out = slurm_cmd("squeue", &["-h".into(), "-o".into(), "%i %T".into()])?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next().unwrap_or("").to_string()))
        })
        .collect())
}

/// Submits every pending run of the sweep in `dir` to Slurm and waits until all are done or
/// failed for good (failed jobs are resubmitted up to `retries` times).
pub fn run_slurm(
    dir: &SweepDir,
    opts: &RunOptions,
    slurm: &SlurmOptions,
    obs: &mut dyn Observer,
) -> Result<Report> {
    let _lock = dir.lock()?;
    let plan = dir.plan()?;
    let mut state = dir.state()?;
    // Jobs submitted by an earlier runner live on: keep them `running` and let the poll decide.
    reconcile(
        dir,
        &plan,
        &mut state,
        &|e| e.executor.as_deref() == Some("slurm") && e.job_id.is_some(),
        opts.retry_failed,
        opts.retrain_unreadable,
    );
    dir.save_state(&state)?;
    let mut eta = Eta::new();
    let mut started: HashMap<String, Instant> = HashMap::new();
    loop {
        // 1. Resolve jobs that left the queue.
        let queue = queued()?;
        for run in &plan.runs {
            let e = state.entry(&run.name);
            if e.status != Status::Running {
                continue;
            }
            let Some(id) = e.job_id.clone() else { continue };
            if queue.contains_key(&id) {
                continue;
            }
            let ev = finish_attempt(dir, &mut state, &run.name, true, opts.retries);
            if let Event::Done { wall_s, .. } = &ev {
                eta.record(run.est_seconds, *wall_s);
            }
            dir.save_state(&state)?;
            obs.event(&ev, &counts(&plan, &state, None));
        }
        // 2. Submit pending runs (up to `jobs` in the queue; 0 = all).
        let in_queue = |s: &crate::state::State| {
            plan.runs
                .iter()
                .filter(|r| s.runs.get(&r.name).map(|e| e.status) == Some(Status::Running))
                .count()
        };
        for run in &plan.runs {
            if state.runs.get(&run.name).map(|e| e.status) != Some(Status::Pending) {
                continue;
            }
            if opts.jobs > 0 && in_queue(&state) >= opts.jobs {
                break;
            }
            let attempt = state.entry(&run.name).attempts + 1;
            let (id, start) = submit(dir, &plan, run, attempt, opts, slurm)?;
            let e = state.entry(&run.name);
            record_start(e, attempt, start);
            e.spec = Some(spec_hash(&plan, run));
            e.executor = Some("slurm".into());
            e.job_id = Some(id.clone());
            e.pid = None;
            dir.save_state(&state)?;
            started.insert(run.name.clone(), Instant::now());
            let ev = Event::Started {
                name: run.name.clone(),
                attempt,
                job_id: Some(id),
                resumed_from: state.entry(&run.name).resumed_from,
            };
            obs.event(&ev, &counts(&plan, &state, None));
        }
        let c = counts(&plan, &state, None);
        if c.running == 0 && c.pending == 0 {
            break;
        }
        // 3. Wait, ticking the display.
        let pending: Vec<Option<f64>> = plan
            .runs
            .iter()
            .filter(|r| state.runs.get(&r.name).map(|e| e.status) == Some(Status::Pending))
            .map(|r| r.est_seconds)
            .collect();
        let running: Vec<(Option<f64>, Instant)> = plan
            .runs
            .iter()
            .filter(|r| state.runs.get(&r.name).map(|e| e.status) == Some(Status::Running))
            .map(|r| {
                (
                    r.est_seconds,
                    started.get(&r.name).copied().unwrap_or_else(Instant::now),
                )
            })
            .collect();
        let slots = if opts.jobs > 0 {
            opts.jobs
        } else {
            running.len()
        };
        obs.tick(&counts(&plan, &state, eta.eta(&pending, &running, slots)));
        std::thread::sleep(slurm.poll);
    }
    Ok(report(&plan, &state))
}

/// Writes `slurm/<name>.sh` and submits it; returns the job id and how the attempt starts
/// (decided at submission: a re-submission resumes from the newest verified checkpoint).
fn submit(
    dir: &SweepDir,
    plan: &crate::plan::Plan,
    run: &crate::plan::RunSpec,
    attempt: u32,
    opts: &RunOptions,
    slurm: &SlurmOptions,
) -> Result<(String, crate::state::Start)> {
    let go = launch(dir, plan, run, attempt, opts);
    let args = go.args;
    let line = std::iter::once(opts.exe.to_string_lossy().into_owned())
        .chain(args.iter().cloned())
        .map(|a| shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ");
    let script = dir.script_path(&run.name);
    let sdir = dir.root().join("slurm");
    std::fs::create_dir_all(&sdir).map_err(io(&sdir))?;
    let text = format!(
        "#!/bin/sh\n# ladder sweep: run {}, attempt {attempt} (written by `ladder sweep run --executor slurm`)\nexec {line}\n",
        run.name
    );
    ladder_train::fsutil::write_atomic(&script, text.as_bytes())?;
    let log = start_log(dir, &run.name, attempt, &line)?;
    let mut a: Vec<String> = vec![
        "--parsable".into(),
        format!("--job-name=ladder-{}", run.name),
        format!("--output={}", log.display()),
        "--open-mode=append".into(),
        format!("--cpus-per-task={}", opts.threads_per_job.max(1)),
        "--ntasks=1".into(),
    ];
    if let Some(p) = &slurm.partition {
        a.push(format!("--partition={p}"));
    }
    if let Some(t) = &slurm.time {
        a.push(format!("--time={t}"));
    }
    a.extend(slurm.sbatch_args.iter().cloned());
    a.push(script.to_string_lossy().into_owned());
    let out = slurm_cmd("sbatch", &a)?;
    // --parsable prints "jobid" or "jobid;cluster".
    let id = out
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if id.is_empty() {
        return Err(Error::Slurm {
            command: "sbatch --parsable".into(),
            message: format!("printed no job id: {out:?}"),
        });
    }
    Ok((id, go.start))
}

/// Whether `sbatch` is on the PATH.
pub fn sbatch_available() -> bool {
    Command::new("sbatch")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
