//! `ladder sweep status`: one row per planned run, from sweep.json and the run directories.

use serde::Serialize;

use crate::dir::SweepDir;
use crate::error::Result;
use crate::state::{outcome, spec_hash, unreadable_note, Outcome, Status};

/// One run's row.
#[derive(Clone, Debug, Serialize)]
#[allow(non_snake_case)]
pub struct Row {
    /// Run name.
    pub name: String,
    /// Budget of the plan entry.
    pub budget: f64,
    /// Non-embedding parameters.
    pub N: u64,
    /// Training tokens.
    pub D: u64,
    /// 6·N·D.
    pub C: f64,
    /// `pending`, `running`, `done`, `failed`, `attention` (its summary.json cannot be read; see
    /// `error`), or `interrupted` (left running by a local runner that is gone; the next `sweep
    /// run` continues it), or `changed` (done, but its plan entry was edited since: the next
    /// `sweep run` trains it again).
    pub status: String,
    /// Times started.
    pub attempts: u32,
    /// Times failed.
    pub failures: u32,
    /// Attempts that continued from a checkpoint instead of step 0.
    pub resumes: u32,
    /// The step the current or last attempt resumed from.
    pub resumed_from: Option<u64>,
    /// Slurm job id.
    pub job_id: Option<String>,
    /// Final validation loss (done runs).
    pub val_loss: Option<f64>,
    /// Final training loss (done runs).
    pub train_loss: Option<f64>,
    /// Wall seconds (done runs).
    pub wall_s: Option<f64>,
    /// Tail of the last error output (failed runs), or what is wrong (runs needing attention).
    pub error: Option<String>,
}

/// The rows of the sweep in plan order.
pub fn rows(dir: &SweepDir) -> Result<Vec<Row>> {
    let plan = dir.plan()?;
    let state = dir.state()?;
    let runner_alive = dir.is_locked();
    let mut out = Vec::new();
    for r in &plan.runs {
        let e = state.runs.get(&r.name).cloned().unwrap_or_default();
        let mut status = e.status.as_str().to_string();
        if e.status == Status::Running && e.executor.as_deref() != Some("slurm") && !runner_alive {
            status = "interrupted".into();
        }
        if e.status == Status::Done && e.spec.as_deref() != Some(spec_hash(&plan, r).as_str()) {
            status = "changed".into();
        }
        let mut error = e.error.clone();
        // Found out here too, before a runner looks: a summary.json that has become unreadable.
        if let Outcome::Unreadable { message } = outcome(dir, &r.name) {
            if e.status != Status::Running {
                status = Status::Attention.as_str().into();
                error = Some(unreadable_note(&message));
            }
        }
        let (mut n, mut d) = (r.n_params(), r.tokens);
        let (mut val_loss, mut train_loss, mut wall_s) = (None, None, None);
        if e.status == Status::Done {
            if let Outcome::Completed {
                val_loss: v,
                train_loss: t,
                wall_s: w,
                n: sn,
                d: sd,
            } = outcome(dir, &r.name)
            {
                (val_loss, train_loss, wall_s) = (v, t, Some(w));
                (n, d) = (sn, sd);
            }
        }
        out.push(Row {
            name: r.name.clone(),
            budget: r.budget,
            N: n,
            D: d,
            C: 6.0 * n as f64 * d as f64,
            status,
            attempts: e.attempts,
            failures: e.failures,
            resumes: e.resumes,
            resumed_from: e.resumed_from,
            job_id: e.job_id.clone(),
            val_loss,
            train_loss,
            wall_s,
            error,
        });
    }
    Ok(out)
}
