//! `sweep.json`: the state of every run of a sweep, so an interrupted sweep resumes where it
//! stopped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `format` of sweep.json.
pub const STATE_FORMAT: &str = "ladder-sweep-state";
/// `version` of sweep.json.
pub const STATE_VERSION: u32 = 1;

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Not started, or to be started again.
    #[default]
    Pending,
    /// Started by a runner (a child process or a Slurm job).
    Running,
    /// Finished: summary.json says completed.
    Done,
    /// Failed more than the allowed retries.
    Failed,
    /// Needs a person: its summary.json exists but cannot be read, so whether it finished is
    /// unknown. Never retrained silently (`ladder sweep run --retrain-unreadable` does).
    Attention,
}

impl RunStatus {
    /// `pending`, `running`, `done`, `failed`, `attention`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Failed => "failed",
            RunStatus::Attention => "attention",
        }
    }
}

/// One run's entry in sweep.json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct RunState {
    /// Where it stands.
    pub status: RunStatus,
    /// Times it was started.
    pub attempts: u32,
    /// Times it failed (an interrupted attempt is not a failure).
    pub failures: u32,
    /// sha256 of the plan entry it was last started with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// `local` or `slurm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    /// Slurm job id of the current or last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Process id of the current local attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Wall seconds of the finished run (from summary.json).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_s: Option<f64>,
    /// The tail of the error output of the last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Attempts that continued from a checkpoint (`ladder train --resume`) instead of step 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub resumes: u32,
    /// The step the current or last attempt resumed from (absent: it started at step 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<u64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// sweep.json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepState {
    /// [`STATE_FORMAT`].
    pub format: String,
    /// [`STATE_VERSION`].
    pub version: u32,
    /// By run name.
    pub runs: BTreeMap<String, RunState>,
}

impl SweepState {
    /// The entry of `name`, created pending when absent.
    pub fn entry(&mut self, name: &str) -> &mut RunState {
        self.runs.entry(name.to_string()).or_default()
    }
}

impl Default for SweepState {
    fn default() -> Self {
        SweepState {
            format: STATE_FORMAT.into(),
            version: STATE_VERSION,
            runs: BTreeMap::new(),
        }
    }
}
