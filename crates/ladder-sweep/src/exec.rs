//! What both executors share: the `ladder train` command line of a run, its log, deciding how an
//! attempt ended (done, retry, failed), progress counts with an ETA, and the final report.

use std::path::PathBuf;
use std::time::Instant;

use crate::dir::SweepDir;
use crate::error::{io, Result};
use crate::plan::{Plan, RunSpec};
use crate::state::{
    log_tail, next_start, outcome, unreadable_note, Outcome, Start, State, Status, ATTEMPT_HEADER,
};

/// Options of `ladder sweep run` common to both executors.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The `ladder` binary that trains (`std::env::current_exe()` from the CLI).
    pub exe: PathBuf,
    /// Runs at once (local: child processes; Slurm: jobs in the queue, 0 = all).
    pub jobs: usize,
    /// `train.threads` of every run (and `--cpus-per-task` on Slurm).
    pub threads_per_job: usize,
    /// Failed attempts retried before a run is reported failed.
    pub retries: u32,
    /// Give failed runs of earlier invocations their retries back.
    pub retry_failed: bool,
    /// Train again runs whose summary.json cannot be read (otherwise they need attention).
    pub retrain_unreadable: bool,
    /// TESTING AID: `(run, KIND@STEP)` faults passed as `ladder train --inject` to the first
    /// attempt of that run (see `ladder_train::inject`), so tests can kill a run mid-way.
    pub inject: Vec<(String, String)>,
}

/// Something that happened to a run, for the progress display.
#[derive(Clone, Debug)]
pub enum Event {
    /// An attempt started (local) or was submitted (Slurm, with its job id).
    Started {
        /// Run name.
        name: String,
        /// 1-based attempt.
        attempt: u32,
        /// Slurm job id.
        job_id: Option<String>,
        /// The checkpoint step it resumes from (`None`: from step 0).
        resumed_from: Option<u64>,
    },
    /// A run finished.
    Done {
        /// Run name.
        name: String,
        /// Final validation loss.
        val_loss: Option<f64>,
        /// Wall seconds.
        wall_s: f64,
    },
    /// An attempt failed.
    Failed {
        /// Run name.
        name: String,
        /// 1-based attempt.
        attempt: u32,
        /// Whether it will be retried.
        retry: bool,
        /// Tail of its error output.
        tail: String,
    },
    /// A run needs attention (its summary.json cannot be read); it is not retried.
    Attention {
        /// Run name.
        name: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// Runs per state, and the estimated time left.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    /// Runs in the plan.
    pub total: usize,
    /// Finished.
    pub done: usize,
    /// Started and not finished.
    pub running: usize,
    /// Failed for good.
    pub failed: usize,
    /// Needing attention (unreadable summary.json).
    pub attention: usize,
    /// Waiting.
    pub pending: usize,
    /// Estimated seconds until the last run ends.
    pub eta_s: Option<f64>,
}

/// Receives progress from a runner (the CLI draws it; the library prints nothing).
pub trait Observer {
    /// A run started, finished or failed.
    fn event(&mut self, event: &Event, counts: &Counts);
    /// Called every poll (about 5 times a second locally) with the current counts.
    fn tick(&mut self, _counts: &Counts) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {
    fn event(&mut self, _: &Event, _: &Counts) {}
}

/// How a sweep run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Runs in the plan.
    pub total: usize,
    /// Runs done (this invocation or before).
    pub done: usize,
    /// Runs failed for good: name and the tail of their last error output.
    pub failed: Vec<(String, String)>,
    /// Runs needing attention: name and what is wrong.
    pub attention: Vec<(String, String)>,
}

/// How an attempt starts and its `ladder train` arguments.
pub struct Launch {
    /// Fresh or resumed, decided by [`next_start`].
    pub start: Start,
    /// The arguments (after the program).
    pub args: Vec<String>,
}

/// The `ladder train` arguments of attempt `attempt` of `run` with `opts.threads_per_job`
/// threads: `--resume` when the run directory holds a verified checkpoint of this plan entry, else
/// `--force` (the sweep owns `runs/<name>/`; an attempt that left no checkpoint has nothing worth keeping).
pub fn launch(
    dir: &SweepDir,
    plan: &Plan,
    run: &RunSpec,
    attempt: u32,
    opts: &RunOptions,
) -> Launch {
    let start = next_start(dir, plan, run);
    let mut a = vec![
        "train".to_string(),
        "--data".into(),
        plan.data.clone(),
        "--out".into(),
        dir.run_dir(&run.name).to_string_lossy().into_owned(),
        "--preset".into(),
        plan.preset.clone(),
    ];
    for s in plan.train_sets(run) {
        a.push("--set".into());
        a.push(s);
    }
    a.push("--set".into());
    a.push(format!("train.threads={}", opts.threads_per_job));
    a.push("--quiet".into());
    a.push(match start {
        Start::Resume { .. } => "--resume".into(),
        Start::Fresh => "--force".into(),
    });
    if attempt == 1 {
        for (name, spec) in &opts.inject {
            if *name == run.name {
                a.push("--inject".into());
                a.push(spec.clone());
            }
        }
    }
    Launch { start, args: a }
}

/// Records an attempt's start in the run's state entry: attempts, and whether it resumed.
pub(crate) fn record_start(e: &mut crate::state::RunState, attempt: u32, start: Start) {
    e.status = Status::Running;
    e.attempts = attempt;
    match start {
        Start::Resume { step } => {
            e.resumes += 1;
            e.resumed_from = Some(step);
        }
        Start::Fresh => e.resumed_from = None,
    }
}

/// Appends the header of a new attempt to `logs/<name>.log` and returns the log's path.
pub(crate) fn start_log(dir: &SweepDir, name: &str, attempt: u32, line: &str) -> Result<PathBuf> {
    use std::io::Write;
    let path = dir.log_path(name);
    let logs = dir.root().join("logs");
    std::fs::create_dir_all(&logs).map_err(io(&logs))?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io(&path))?;
    writeln!(f, "{ATTEMPT_HEADER} {attempt}: {line}").map_err(io(&path))?;
    Ok(path)
}

/// Quotes `s` for a POSIX shell (and a readable log line).
pub(crate) fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Records how an attempt of `name` ended: done when summary.json says completed (and the process
/// did not report an error), otherwise a failure, retried while failures <= `retries`.
pub(crate) fn finish_attempt(
    dir: &SweepDir,
    state: &mut State,
    name: &str,
    exited_ok: bool,
    retries: u32,
) -> Event {
    let e = state.entry(name);
    e.pid = None;
    match (outcome(dir, name), exited_ok) {
        (Outcome::Unreadable { message }, _) => {
            let message = unreadable_note(&message);
            e.status = Status::Attention;
            e.error = Some(message.clone());
            Event::Attention {
                name: name.to_string(),
                message,
            }
        }
        (
            Outcome::Completed {
                val_loss, wall_s, ..
            },
            true,
        ) => {
            e.status = Status::Done;
            e.wall_s = Some(wall_s);
            e.error = None;
            Event::Done {
                name: name.to_string(),
                val_loss,
                wall_s,
            }
        }
        (o, _) => {
            let mut tail = log_tail(&dir.log_path(name), 12);
            if let Outcome::Failed { message } = o {
                if !tail.contains(&message) {
                    tail = format!("{tail}\nsummary.json: {message}")
                        .trim()
                        .to_string();
                }
            }
            if tail.is_empty() {
                tail = "no error output (killed? see the log)".into();
            }
            e.failures += 1;
            let retry = e.failures <= retries;
            e.status = if retry {
                Status::Pending
            } else {
                Status::Failed
            };
            e.error = Some(tail.clone());
            Event::Failed {
                name: name.to_string(),
                attempt: e.attempts,
                retry,
                tail,
            }
        }
    }
}

/// Tracks the ETA: the plan's estimates of what is left, scaled by how the finished runs compared
/// with theirs, divided over the parallel slots.
pub(crate) struct Eta {
    actual: f64,
    estimated: f64,
}

impl Eta {
    pub(crate) fn new() -> Self {
        Eta {
            actual: 0.0,
            estimated: 0.0,
        }
    }

    pub(crate) fn record(&mut self, est: Option<f64>, wall_s: f64) {
        if let Some(e) = est {
            if e > 0.0 && wall_s > 0.0 {
                self.actual += wall_s;
                self.estimated += e;
            }
        }
    }

    /// `pending` and `running` (estimate, started) of the remaining runs, over `slots` slots.
    pub(crate) fn eta(
        &self,
        pending: &[Option<f64>],
        running: &[(Option<f64>, Instant)],
        slots: usize,
    ) -> Option<f64> {
        let ratio = if self.estimated > 0.0 {
            self.actual / self.estimated
        } else {
            1.0
        };
        let mut left = 0.0;
        for e in pending {
            left += (*e)? * ratio;
        }
        let mut longest_running: f64 = 0.0;
        for (e, t) in running {
            let rem = ((*e)? * ratio - t.elapsed().as_secs_f64()).max(0.0);
            left += rem;
            longest_running = longest_running.max(rem);
        }
        Some((left / slots.max(1) as f64).max(longest_running))
    }
}

/// Counts of the plan's runs by state.
pub(crate) fn counts(plan: &Plan, state: &State, eta_s: Option<f64>) -> Counts {
    let mut c = Counts {
        total: plan.runs.len(),
        eta_s,
        ..Counts::default()
    };
    for r in &plan.runs {
        match state
            .runs
            .get(&r.name)
            .map(|e| e.status)
            .unwrap_or_default()
        {
            Status::Pending => c.pending += 1,
            Status::Running => c.running += 1,
            Status::Done => c.done += 1,
            Status::Failed => c.failed += 1,
            Status::Attention => c.attention += 1,
        }
    }
    c
}

/// The final report from the state.
pub(crate) fn report(plan: &Plan, state: &State) -> Report {
    let c = counts(plan, state, None);
    let with = |status: Status| -> Vec<(String, String)> {
        plan.runs
            .iter()
            .filter_map(|r| {
                let e = state.runs.get(&r.name)?;
                (e.status == status).then(|| (r.name.clone(), e.error.clone().unwrap_or_default()))
            })
            .collect()
    };
    Report {
        total: c.total,
        done: c.done,
        failed: with(Status::Failed),
        attention: with(Status::Attention),
    }
}
