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
    /// summary.json exists but cannot be read or parsed: whether the run finished is unknown.
    Unreadable {
        /// The file and the reader's error, e.g. `runs/x/summary.json: expected value at line 1
        /// column 1`.
        message: String,
    },
}

/// Reads `runs/<name>/summary.json`.
pub fn outcome(dir: &SweepDir, name: &str) -> Outcome {
    let path = dir.run_dir(name).join("summary.json");
    if !path.exists() {
        return Outcome::Missing;
    }
    let s = match ladder_train::fsutil::read_json::<ladder_schema::Summary>(&path) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::Unreadable {
                message: ladder_train::resume::error_chain(&e),
            }
        }
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

/// Whether the run directory's `config.toml` is the config the plan resolves for `run` now (the
/// vocabulary, data path and thread count, which `ladder train` or the runner fill in, aside).
pub fn config_as_planned(dir: &SweepDir, plan: &Plan, run: &RunSpec) -> bool {
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

/// Whether the run directory holds a completed run of exactly this plan entry: summary.json says
/// completed and config.toml is the planned config ([`config_as_planned`]).
pub fn completed_as_planned(dir: &SweepDir, plan: &Plan, run: &RunSpec) -> bool {
    matches!(outcome(dir, &run.name), Outcome::Completed { .. })
        && config_as_planned(dir, plan, run)
}

/// How the next attempt of a run starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// From step 0 (`ladder train --force`: the directory holds nothing worth keeping).
    Fresh,
    /// From the newest verified checkpoint (`ladder train --resume`).
    Resume {
        /// That checkpoint's step.
        step: u64,
    },
}

/// Decides how the next attempt of `run` starts. It resumes when the run directory holds the
/// config the plan asks for now ([`config_as_planned`]) and at least one checkpoint that verifies
/// (`state.json` and the sha256 of every file, as `ladder train --resume` checks them); it starts
/// fresh otherwise: no attempt yet, an attempt that died before its first checkpoint, or a
/// directory left by a plan entry that has since been edited.
pub fn next_start(dir: &SweepDir, plan: &Plan, run: &RunSpec) -> Start {
    if !config_as_planned(dir, plan, run) {
        return Start::Fresh;
    }
    match ladder_train::resume::newest_good(&dir.run_dir(&run.name)) {
        Ok((Some((_, state)), _)) => Start::Resume { step: state.step },
        _ => Start::Fresh,
    }
}

/// What a run with an unreadable summary.json is told.
pub fn unreadable_note(message: &str) -> String {
    format!(
        "{message}; whether the run finished is unknown, so it is not retrained: fix or delete the \
         file, or run `ladder sweep run --retrain-unreadable` to train it again (from its newest \
         checkpoint)"
    )
}

/// Brings the state in line with the plan and the run directories when a runner starts (it holds
/// the lock, so no other runner is alive):
/// 1. a run done by a plan entry that has since changed becomes pending (it will be retrained);
/// 2. a run whose summary.json exists but cannot be read needs attention (it is never retrained
///    silently), or becomes pending with `retrain_unreadable`;
/// 3. a run whose directory holds a completed run of its current entry is done;
/// 4. a run left `running` by a dead runner becomes pending, unless `keep_running` says its
///    attempt lives on without the runner (a Slurm job); the interrupted attempt is no failure;
/// 5. with `retry_failed`, failed runs get their retries back.
///
/// Entries of runs no longer in the plan are kept (their directories too) but ignored.
pub fn reconcile(
    dir: &SweepDir,
    plan: &Plan,
    state: &mut State,
    keep_running: &dyn Fn(&RunState) -> bool,
    retry_failed: bool,
    retrain_unreadable: bool,
) {
    for run in &plan.runs {
        let spec = spec_hash(plan, run);
        let found = outcome(dir, &run.name);
        let done_as_planned = completed_as_planned(dir, plan, run);
        let e = state.entry(&run.name);
        if e.spec.as_deref().is_some_and(|s| s != spec) && e.status != Status::Running {
            // The entry was edited: its old attempts say nothing about the new one.
            *e = RunState::default();
        }
        match (e.status, &found) {
            (Status::Running, _) if keep_running(e) => {}
            (_, Outcome::Unreadable { message }) if !retrain_unreadable => {
                e.status = Status::Attention;
                e.pid = None;
                e.error = Some(unreadable_note(message));
            }
            (_, Outcome::Unreadable { .. }) => {
                e.status = Status::Pending;
                e.pid = None;
                e.error = None;
            }
            _ if done_as_planned => {
                e.status = Status::Done;
                e.spec = Some(spec);
                e.pid = None;
                if let Outcome::Completed { wall_s, .. } = found {
                    e.wall_s = Some(wall_s);
                }
            }
            (Status::Running | Status::Done | Status::Attention, _) => {
                e.status = Status::Pending;
                e.pid = None;
            }
            (Status::Failed, _) if retry_failed => {
                e.status = Status::Pending;
                e.failures = 0;
            }
            (Status::Failed | Status::Pending, _) => {}
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
