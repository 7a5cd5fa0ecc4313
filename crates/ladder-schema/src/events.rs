//! One line of `events.jsonl`: what the health monitor, the trainer and the supervisor saw.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of event: written as its snake_case name. A kind this version does not know (from
/// an older or newer writer) loads as [`EventKind::Other`] and is written back unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum EventKind {
    /// Loss or gradient norm not finite.
    Nan,
    /// Loss far above its recent median.
    Spike,
    /// Gradient norm far above its recent median.
    GradExplosion,
    /// A step much slower than its recent median.
    SlowStep,
    /// The trainer skipped one step's batch after a finding, keeping the weights.
    Skip,
    /// The trainer went back to a checkpoint and skipped the offending data.
    Rollback,
    /// The supervisor restarted a dead trainer.
    Restart,
    /// The run continued from a checkpoint.
    Resume,
    /// A resumed run's config differs from the one it started with (an allowed key).
    ConfigChange,
    /// Silent data corruption: ranks whose weights disagreed (or a step whose gradient came out
    /// different when computed twice), or the resume's naming of the rank that was wrong.
    Sdc,
    /// Any other kind, kept verbatim.
    Other(String),
}

impl EventKind {
    /// The name in the file.
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::Nan => "nan",
            EventKind::Spike => "spike",
            EventKind::GradExplosion => "grad_explosion",
            EventKind::SlowStep => "slow_step",
            EventKind::Skip => "skip",
            EventKind::Rollback => "rollback",
            EventKind::Restart => "restart",
            EventKind::Resume => "resume",
            EventKind::ConfigChange => "config_change",
            EventKind::Sdc => "sdc",
            EventKind::Other(s) => s,
        }
    }

    /// Loss or gradients became non-finite.
    pub fn is_non_finite(&self) -> bool {
        matches!(self, EventKind::Nan)
    }

    /// A loss spike or gradient explosion: an instability with finite numbers.
    pub fn is_instability(&self) -> bool {
        matches!(self, EventKind::Spike | EventKind::GradExplosion)
    }

    /// An event about the process rather than the numerics (restart, resume, config change).
    pub fn is_process(&self) -> bool {
        matches!(
            self,
            EventKind::Restart | EventKind::Resume | EventKind::ConfigChange
        )
    }
}

impl From<&str> for EventKind {
    fn from(s: &str) -> Self {
        match s {
            "nan" => EventKind::Nan,
            "spike" => EventKind::Spike,
            "grad_explosion" => EventKind::GradExplosion,
            "slow_step" => EventKind::SlowStep,
            "skip" => EventKind::Skip,
            "rollback" => EventKind::Rollback,
            "restart" => EventKind::Restart,
            "resume" => EventKind::Resume,
            "config_change" => EventKind::ConfigChange,
            "sdc" => EventKind::Sdc,
            other => EventKind::Other(other.to_owned()),
        }
    }
}

impl From<String> for EventKind {
    fn from(s: String) -> Self {
        match EventKind::from(s.as_str()) {
            EventKind::Other(_) => EventKind::Other(s),
            known => known,
        }
    }
}

impl From<EventKind> for String {
    fn from(k: EventKind) -> String {
        match k {
            EventKind::Other(s) => s,
            known => known.as_str().to_owned(),
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of `events.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Step at which it happened.
    pub step: u64,
    /// What happened.
    pub kind: EventKind,
    /// Human-readable detail.
    #[serde(default)]
    pub detail: String,
}
