//! What a run writes while and after it trains (DESIGN §3): one [`StepRecord`] per line of
//! `metrics.jsonl`, health [`Event`]s in `events.jsonl`, and the [`Summary`] in `summary.json`.
//!
//! FLOP conventions, stated once:
//! - `StepRecord::flops`, `Summary::flops`, `mfu` and GFLOP/s use the training FLOPs per token of
//!   `ladder_model::ModelConfig::train_flops_per_token` = `6·(N + V·C) + 12·L·T·C` (forward +
//!   backward, lm-head matmul and attention scores included; PaLM appendix B).
//! - `Summary::c` (`C` in the file) is Kaplan's `6·N·D` with `N` = non-embedding parameters, the
//!   headline compute of scaling-law fits.
//!
//! Timing fields (`tok_per_s`, `mfu`, `elapsed_s`, `wall_time_s`) are the only ones that differ
//! between two identical runs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{io, Result};

// The types of the files live in `ladder-schema`, the one definition every reader shares; they
// stay reachable at their old paths.
pub use ladder_schema::{
    Event, EventKind, HealthReport, PeakSource, Status, StepRecord, StopReason, Summary,
};

/// An append-only JSON-lines file, flushed after every line so a crash loses at most one record.
pub struct JsonlWriter {
    path: PathBuf,
    /// `None` for [`JsonlWriter::discard`].
    out: Option<BufWriter<File>>,
}

impl JsonlWriter {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let f = File::create(path).map_err(io(path))?;
        Ok(JsonlWriter {
            path: path.to_path_buf(),
            out: Some(BufWriter::new(f)),
        })
    }

    /// Opens `path` for appending (creating it if absent): a resumed run continues its logs.
    pub fn append(path: &Path) -> Result<Self> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io(path))?;
        Ok(JsonlWriter {
            path: path.to_path_buf(),
            out: Some(BufWriter::new(f)),
        })
    }

    /// A writer that drops every record: what the ranks other than 0 of a data-parallel job use,
    /// since rank 0 alone writes the run directory.
    pub fn discard() -> Self {
        JsonlWriter {
            path: PathBuf::new(),
            out: None,
        }
    }

    /// Appends one record as a line.
    pub fn write<T: Serialize>(&mut self, record: &T) -> Result<()> {
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        let line = serde_json::to_string(record).map_err(|source| crate::Error::Json {
            path: self.path.clone(),
            source,
        })?;
        writeln!(out, "{line}")
            .and_then(|_| out.flush())
            .map_err(io(&self.path))
    }

    /// Flushes and fsyncs the file.
    pub fn finish(self) -> Result<()> {
        let Some(mut out) = self.out else {
            return Ok(());
        };
        out.flush().map_err(io(&self.path))?;
        out.get_ref().sync_all().map_err(io(&self.path))
    }
}

/// Counts the events of an `events.jsonl` by kind (empty when absent; unreadable lines skipped).
pub fn count_events(path: &Path) -> std::collections::BTreeMap<String, u64> {
    let mut counts = std::collections::BTreeMap::new();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    for e in text
        .lines()
        .filter_map(|l| serde_json::from_str::<Event>(l).ok())
    {
        *counts.entry(String::from(e.kind)).or_insert(0) += 1;
    }
    counts
}

/// Reads every record of a `metrics.jsonl`.
pub fn read_metrics(path: &Path) -> Result<Vec<StepRecord>> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).map_err(|source| crate::Error::Json {
                path: path.to_path_buf(),
                source,
            })
        })
        .collect()
}

/// Bits per byte from a loss in nats/token and the split's token and byte counts
/// (`loss · tokens/bytes / ln 2`); `None` when the data has no byte count (synthetic sources).
pub fn bits_per_byte(loss_nats: f64, tokens: u64, bytes: u64) -> Option<f64> {
    (bytes > 0 && tokens > 0)
        .then(|| loss_nats * tokens as f64 / bytes as f64 / std::f64::consts::LN_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_uses_the_fitters_key_names() {
        let s = Summary {
            status: Status::Completed,
            stop_reason: StopReason::Steps,
            message: None,
            n: 1,
            n_total: 2,
            d: 3,
            c: 18.0,
            steps: 1,
            flops: 1.0,
            flops_per_token: 1.0,
            final_train_loss: Some(1.0),
            final_val_loss: None,
            final_val_loss_se: None,
            final_val_tokens: None,
            final_val_block_losses: None,
            final_val_bpb: None,
            entropy_nats_per_token: None,
            wall_time_s: 0.0,
            tok_per_s: 0.0,
            mfu: 0.0,
            peak_gflops: 1.0,
            peak_source: PeakSource::Measured,
            threads: 1,
            health: None,
            world_size: None,
            comm_time_s: None,
            sdc_check_s: None,
            sdc_checks: None,
        };
        let v = serde_json::to_value(&s).unwrap();
        for k in [
            "N",
            "N_total",
            "D",
            "C",
            "final_val_loss",
            "final_train_loss",
            "status",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert_eq!(v["status"], "completed");
        assert_eq!(v["peak_source"], "measured");
    }

    #[test]
    fn bits_per_byte_is_nats_per_byte_over_ln2() {
        // 2 tokens per 8 bytes at ln 2 nats/token = 1 bit per token = 0.25 bits per byte
        let b = bits_per_byte(std::f64::consts::LN_2, 2, 8).unwrap();
        assert!((b - 0.25).abs() < 1e-12);
        assert_eq!(bits_per_byte(1.0, 10, 0), None);
    }

    #[test]
    fn jsonl_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.jsonl");
        let mut w = JsonlWriter::create(&p).unwrap();
        let r = StepRecord {
            step: 1,
            tokens: 256,
            flops: 1e9,
            lr: 3e-3,
            loss: 4.5,
            grad_norm: 1.25,
            tok_per_s: 1000.0,
            mfu: 0.1,
            elapsed_s: 0.5,
            val_loss: Some(4.4),
            val_bpb: None,
            val_loss_se: Some(0.01),
            val_tokens: Some(4096),
        };
        w.write(&r).unwrap();
        w.finish().unwrap();
        assert_eq!(read_metrics(&p).unwrap(), vec![r]);
    }
}
