//! `sweep.json`: the state of every run of a sweep (pending, running, done, failed), its
//! attempts and Slurm job id, so an interrupted sweep resumes where it stopped.
//!
//! The run directories are the ground truth for results: a run is done when its
//! `summary.json` says `completed` and its `config.toml` is the config the plan asks for now.
//! [`reconcile`] applies that rule whenever a runner starts, so a run that finished while its
//! runner was being killed is found done rather than trained again, and a finished run whose plan
//! entry was edited is trained again.

use std::path::Path;

use crate::dir::SweepDir;
use crate::error::{io, Error, Result};
use crate::plan::{Plan, RunSpec};

// The file's types are the shared schema's; they keep their names here.
pub use ladder_schema::{
    RunState, RunStatus as Status, SweepState as State, STATE_FORMAT, STATE_VERSION,
};

/// Reads sweep.json; an absent file is an empty state, another format or version an error.
pub fn load(path: &Path) -> Result<State> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
        Err(e) => return Err(io(path)(e)),
    };
    let state: State = serde_json::from_slice(&bytes).map_err(|source| Error::StateParse {
        path: path.to_path_buf(),
        source,
    })?;
    if state.format != STATE_FORMAT || state.version != STATE_VERSION {
        return Err(Error::BadFormat {
            path: path.to_path_buf(),
            found: state.format,
            version: state.version,
            expected: STATE_FORMAT,
            want: STATE_VERSION,
        });
    }
    Ok(state)
}

/// Identifies a plan entry: sha256 of the data directory, preset and the `ladder train --set`
/// list (thread counts, which are the runner's business, excluded).
pub fn spec_hash(plan: &Plan, run: &RunSpec) -> String {
    let mut s = format!("{}\n{}\n", plan.data, plan.preset);
    for set in plan.train_sets(run) {
        s.push_str(&set);
        s.push('\n');
    }
    ladder_train::fsutil::sha256_hex(s.as_bytes())
}

/// What a run directory holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// summary.json says completed.
    Completed {
        /// Final validation loss.
        val_loss: Option<f64>,
        /// Final training loss.
        train_loss: Option<f64>,
        /// Wall seconds.
        wall_s: f64,
        /// N from summary.json.
        n: u64,
        /// D from summary.json.
        d: u64,
    },
    /// summary.json says failed or diverged.
    Failed {
        /// Its status and message.
        message: String,
    },
    /// No summary.json.
    Missing,
}

/// Reads `runs/<name>/summary.json`.
pub fn outcome(dir: &SweepDir, name: &str) -> Outcome {
    let path = dir.run_dir(name).join("summary.json");
    let Ok(s) = ladder_train::fsutil::read_json::<ladder_schema::Summary>(&path) else {
        return Outcome::Missing;
    };
    match s.status {
        ladder_schema::Status::Completed => Outcome::Completed {
            val_loss: s.final_val_loss.map(f64::from),
            train_loss: s.final_train_loss.map(f64::from),
            wall_s: s.wall_time_s,
            n: s.n,
            d: s.d,
        },
        other => Outcome::Failed {
            message: format!(
                "{:?}: {}",
                other,
                s.message.unwrap_or_else(|| "no message".into())
            )
            .to_lowercase(),
        },
    }
}

/// Whether the run directory holds a completed run of exactly this plan entry: summary.json says
/// completed and config.toml equals the config the plan resolves to (the vocabulary, data path
/// and thread count, which `ladder train` or the runner fill in, aside).
pub fn completed_as_planned(dir: &SweepDir, plan: &Plan, run: &RunSpec) -> bool {
    if !matches!(outcome(dir, &run.name), Outcome::Completed { .. }) {
        return false;
    }
    let Ok(want) = plan.run_config(run) else {
        return false;
    };
    let Ok(got) = ladder_train::Config::load(&dir.run_dir(&run.name).join("config.toml")) else {
        return false;
    };
    let norm = |mut c: ladder_train::Config| {
        c.model.vocab_size = 0;
        c.data.dir = String::new();
        c.train.threads = 0;
        c
    };
    norm(want) == norm(got)
}

/// Brings the state in line with the plan and the run directories when a runner starts (it holds
/// the lock, so no other runner is alive):
/// 1. a run done by a plan entry that has since changed becomes pending (it will be retrained);
/// 2. a run whose directory holds a completed run of its current entry is done;
/// 3. a run left `running` by a dead runner becomes pending, unless `keep_running` says its
///    attempt lives on without the runner (a Slurm job); the interrupted attempt is no failure;
/// 4. with `retry_failed`, failed runs get their retries back.
///
/// Entries of runs no longer in the plan are kept (their directories too) but ignored.
pub fn reconcile(
    dir: &SweepDir,
    plan: &Plan,
    state: &mut State,
    keep_running: &dyn Fn(&RunState) -> bool,
    retry_failed: bool,
) {
    for run in &plan.runs {
        let spec = spec_hash(plan, run);
        let done_as_planned = completed_as_planned(dir, plan, run);
        let e = state.entry(&run.name);
        if e.spec.as_deref().is_some_and(|s| s != spec) && e.status != Status::Running {
            // The entry was edited: its old attempts say nothing about the new one.
            *e = RunState::default();
        }
        match e.status {
            Status::Running if keep_running(e) => {}
            _ if done_as_planned => {
                e.status = Status::Done;
                e.spec = Some(spec);
                e.pid = None;
                if let Outcome::Completed { wall_s, .. } = outcome(dir, &run.name) {
                    e.wall_s = Some(wall_s);
                }
            }
            Status::Running | Status::Done => {
                e.status = Status::Pending;
                e.pid = None;
            }
            Status::Failed if retry_failed => {
                e.status = Status::Pending;
                e.failures = 0;
            }
            Status::Failed | Status::Pending => {}
        }
    }
}

/// The header line the runners write before each attempt's output in `logs/<name>.log`.
pub const ATTEMPT_HEADER: &str = "== ladder sweep: attempt";

/// The last `lines` lines of the last attempt's output in a log file (empty when unreadable).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let last: Vec<&str> = text.lines().collect();
    let start = last
        .iter()
        .rposition(|l| l.starts_with(ATTEMPT_HEADER))
        .map_or(0, |i| i + 1);
    let all: Vec<&str> = last[start..]
        .iter()
        .copied()
        .filter(|l| !l.trim().is_empty())
        .collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
