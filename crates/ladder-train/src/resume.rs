//! Continuing a run (`ladder train --out RUN --resume`) and checking its checkpoints
//! (`ladder checkpoint verify RUN`).
//!
//! A resume
//! 1. checks the new config against the run's `config.toml` ([`config_changes`]): keys that change
//!    the model's shape or the run's identity are refused, the others (more steps, eval cadence,
//!    checkpoint cadence, learning rate, health settings …) are allowed and recorded;
//! 2. picks the newest *good* checkpoint ([`newest_good`]): every `step_*` directory, newest first,
//!    has its `state.json` and the sha256 of each file checked; a bad one is named with its file
//!    and passed over. With no good checkpoint the run restarts from step 0, whose state is a
//!    function of the seed;
//! 3. truncates `metrics.jsonl` and `layers.jsonl` to the checkpoint's step, and `events.jsonl` to
//!    it too except for the events about the process itself (`restart`, `resume`,
//!    `config_change`), so the resumed run's files continue exactly where the checkpoint left off;
//! 4. restores parameters, AdamW moments and step count, the data position (step plus the
//!    sequences skipped by rollbacks) and the health monitor's window. Nothing else in the loop is
//!    random, so the resumed run is bitwise the run that never stopped (same thread count).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::checkpoint::{self, CheckpointState, MODEL_FILE, OPTIMIZER_FILE};
use crate::config::Config;
use crate::error::{io, Error, Result};
use crate::fsutil::write_atomic;
use crate::metrics::{Event, JsonlWriter};

/// Keys whose change would make a resumed run a different model or a different run: the
/// parameter shapes, the batch shape (tokens per step and the data position), the seed and data
/// (the data order), planted bugs.
const FIXED_KEYS: [&str; 7] = [
    "model.",
    "train.batch_size",
    "train.seq_len",
    "train.grad_accum",
    "train.seed",
    "data.dir",
    "debug.bug",
];

/// Event kinds about the process rather than a training step; a resume keeps them. `sdc` is
/// kept too: the steps after the last agreed checkpoint are recomputed, but the record that a
/// machine corrupted them must stay.
pub const PROCESS_EVENTS: [&str; 4] = ["restart", "resume", "config_change", "sdc"];

/// Compares a resumed run's config with the one it was started with. Returns the changed keys as
/// `key: old → new` lines, or [`Error::ResumeConfig`] naming every key that may not change. A
/// config that cannot be flattened into keys is an error, never "no changes".
pub fn config_changes(old: &Config, new: &Config) -> Result<Vec<String>> {
    let a = flatten(&old.to_toml(), "the run's config.toml")?;
    let b = flatten(&new.to_toml(), "the resumed run's config")?;
    let mut changed = Vec::new();
    let mut refused = Vec::new();
    let value = |list: &[(String, String)], key: &str| {
        list.iter()
            .find(|(k, _)| k == key)
            .map_or("(absent)".to_owned(), |(_, v)| v.clone())
    };
    // Every key of either config, the old one's first (schema order).
    let keys = a
        .iter()
        .chain(b.iter().filter(|(k, _)| !a.iter().any(|(ka, _)| ka == k)))
        .map(|(k, _)| k);
    for key in keys {
        let (va, vb) = (value(&a, key), value(&b, key));
        if va != vb {
            let line = format!("{key}: {va} → {vb}");
            if FIXED_KEYS.iter().any(|f| key.starts_with(f)) {
                refused.push(line);
            } else {
                changed.push(line);
            }
        }
    }
    if !refused.is_empty() {
        return Err(Error::ResumeConfig { keys: refused });
    }
    Ok(changed)
}

/// `section.key` → value text, in schema order, from a config's TOML text (`what` names it in
/// the error). A top-level key that is not a section is kept under its own name.
fn flatten(text: &str, what: &str) -> Result<Vec<(String, String)>> {
    let table: toml::Table = toml::from_str(text).map_err(|e| Error::ConfigParse {
        path: PathBuf::from(what),
        message: format!(
            "{} (cannot compare it key by key, so the resume is refused rather than checked \
             half-way)",
            e.message()
        ),
    })?;
    let mut out = Vec::new();
    for (section, v) in table {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    out.push((format!("{section}.{k}"), v.to_string()));
                }
            }
            v => out.push((section, v.to_string())),
        }
    }
    Ok(out)
}

/// A note for a resume from a checkpoint written on a CPU with other features than `here`
/// (`None` when they match or the checkpoint does not record them): the GEMM picks its kernels
/// by these features, so the resumed run matches an uninterrupted one to rounding, not bits.
pub fn cpu_change(
    recorded: Option<&checkpoint::CpuFeatures>,
    here: &checkpoint::CpuFeatures,
) -> Option<String> {
    let recorded = recorded?;
    (recorded != here).then(|| {
        format!(
            "the checkpoint was written on a CPU with other features ({}; this one: {}): the \
             matrix kernels differ, so the resumed run matches an uninterrupted one to rounding, \
             not bit for bit",
            recorded.describe(),
            here.describe()
        )
    })
}

/// The verdict on one checkpoint directory.
#[derive(Clone, Debug, Serialize)]
pub struct CheckpointCheck {
    /// Directory name (`step_0000020`).
    pub name: String,
    /// The step in its name.
    pub step: u64,
    /// `None` = good; otherwise what is wrong, naming the file.
    pub problem: Option<String>,
}

/// Everything `ladder checkpoint verify` reports about a run.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    /// Every `step_*` directory, newest first.
    pub checkpoints: Vec<CheckpointCheck>,
    /// What `checkpoints/LATEST` names, if it exists.
    pub latest: Option<String>,
    /// What is wrong with `LATEST` (missing, names a bad or absent checkpoint).
    pub latest_problem: Option<String>,
    /// Interrupted writes (`.tmp-step_*`), ignored by a resume and removed by it.
    pub incomplete: Vec<String>,
}

impl VerifyReport {
    /// The newest good checkpoint's name.
    pub fn newest_good(&self) -> Option<&CheckpointCheck> {
        self.checkpoints.iter().find(|c| c.problem.is_none())
    }

    /// Whether every checkpoint and LATEST are good.
    pub fn all_good(&self) -> bool {
        self.latest_problem.is_none() && self.checkpoints.iter().all(|c| c.problem.is_none())
    }
}

/// Checks one checkpoint directory: `state.json` (format, version), the presence and sha256 of
/// both tensor files. Returns its state.
pub fn verify_checkpoint(dir: &Path) -> Result<CheckpointState> {
    let state = checkpoint::load_state(dir)?;
    for f in [MODEL_FILE, OPTIMIZER_FILE] {
        if !state.files.contains_key(f) {
            return Err(Error::BadCheckpoint {
                path: dir.join(checkpoint::STATE_FILE),
                detail: format!("records no sha256 for {f}"),
            });
        }
    }
    Ok(state)
}

/// Verifies every checkpoint of a run and its `LATEST`.
pub fn verify_run(run_dir: &Path) -> Result<VerifyReport> {
    let root = run_dir.join("checkpoints");
    if !root.is_dir() {
        return Err(Error::NoCheckpoint {
            path: run_dir.to_path_buf(),
        });
    }
    let mut checkpoints = Vec::new();
    let mut incomplete = Vec::new();
    for entry in std::fs::read_dir(&root).map_err(io(&root))? {
        let name = entry
            .map_err(io(&root))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.starts_with(".tmp-") {
            incomplete.push(name);
        } else if let Some(step) = name.strip_prefix("step_").and_then(|n| n.parse().ok()) {
            let problem = verify_checkpoint(&root.join(&name))
                .err()
                .map(|e| error_chain(&e));
            checkpoints.push(CheckpointCheck {
                name,
                step,
                problem,
            });
        }
    }
    checkpoints.sort_by_key(|c| std::cmp::Reverse(c.step));
    incomplete.sort();
    let (latest, latest_problem) = match checkpoint::latest(run_dir) {
        Ok(dir) => {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let problem = match checkpoints.iter().find(|c| c.name == name) {
                None => Some(format!("LATEST names {name}, which does not exist")),
                Some(c) if c.problem.is_some() => {
                    Some(format!("LATEST names {name}, which is bad"))
                }
                Some(_) => None,
            };
            (Some(name), problem)
        }
        Err(Error::NoCheckpoint { .. }) => (None, Some("checkpoints/LATEST is missing".into())),
        Err(e) => (None, Some(error_chain(&e))),
    };
    Ok(VerifyReport {
        checkpoints,
        latest,
        latest_problem,
        incomplete,
    })
}

/// An error and its causes on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

/// A verified checkpoint: its directory and `state.json`.
pub type GoodCheckpoint = (PathBuf, CheckpointState);

/// The newest checkpoint that verifies, with notes on the newer ones that did not (each naming
/// its bad file) and on `LATEST`. `None` when there is none: the run starts again from step 0.
pub fn newest_good(run_dir: &Path) -> Result<(Option<GoodCheckpoint>, Vec<String>)> {
    let report = match verify_run(run_dir) {
        Ok(r) => r,
        Err(Error::NoCheckpoint { .. }) => return Ok((None, Vec::new())),
        Err(e) => return Err(e),
    };
    let mut notes = Vec::new();
    for c in &report.checkpoints {
        match &c.problem {
            Some(p) => notes.push(format!("skipping bad checkpoint {}: {p}", c.name)),
            None => break,
        }
    }
    let good = report.newest_good().map(|c| {
        let dir = run_dir.join("checkpoints").join(&c.name);
        (dir, c.name.clone())
    });
    if let (Some(p), Some((_, name))) = (&report.latest_problem, &good) {
        notes.push(format!(
            "{p}; using {name}, the newest checkpoint that verifies"
        ));
    }
    if good.is_none() && !report.checkpoints.is_empty() {
        notes.push("no checkpoint verifies: starting again from step 0".into());
    }
    match good {
        Some((dir, _)) => {
            let state = verify_checkpoint(&dir)?;
            Ok((Some((dir, state)), notes))
        }
        None => Ok((None, notes)),
    }
}

/// [`newest_good`] for a run checked with `--sdc-check-every`: the newest good checkpoint whose
/// parameters all ranks agreed on. A checkpoint that records an SDC checksum must still have it
/// (its parameters are loaded and summed again), and after an SDC stop (`stop`) one written after
/// the last agreed step is passed over. Checkpoints without a record (written without the check)
/// are taken as they are unless an SDC stop says they are too new.
pub fn newest_agreed(
    run_dir: &Path,
    model_cfg: &ladder_model::ModelConfig,
    stop: Option<&crate::sdc::SdcStop>,
) -> Result<(Option<GoodCheckpoint>, Vec<String>)> {
    let (point, mut notes) = newest_good(run_dir)?;
    let quick = stop.is_none() && point.as_ref().is_none_or(|(_, s)| s.sdc.is_none());
    if quick || point.is_none() {
        return Ok((point, notes));
    }
    let layout = ladder_model::ParamLayout::new(model_cfg);
    let report = verify_run(run_dir)?;
    for c in report.checkpoints.iter().filter(|c| c.problem.is_none()) {
        let dir = run_dir.join("checkpoints").join(&c.name);
        let state = verify_checkpoint(&dir)?;
        if let Some(s) = stop.filter(|s| state.step > s.last_agreed_step) {
            notes.push(format!(
                "skipping {}: written after step {}, the last step all ranks agreed on before the \
                 SDC stop at step {}",
                c.name, s.last_agreed_step, s.step
            ));
            continue;
        }
        if let Some(rec) = &state.sdc {
            let params = checkpoint::load_model(&dir.join(MODEL_FILE), model_cfg, &layout)?;
            let h = crate::sdc::hex(crate::sdc::checksum(&params));
            if h != rec.checksum {
                notes.push(format!(
                    "skipping {}: its parameters' checksum {h} is not the {} its {} rank(s) \
                     agreed on",
                    c.name, rec.checksum, rec.ranks
                ));
                continue;
            }
        }
        return Ok((Some((dir, state)), notes));
    }
    notes.push("no checkpoint the ranks agreed on: starting again from step 0".into());
    Ok((None, notes))
}

/// Removes interrupted checkpoint writes (`checkpoints/.tmp-*`).
pub fn remove_incomplete(run_dir: &Path) -> Result<Vec<String>> {
    let root = run_dir.join("checkpoints");
    let mut removed = Vec::new();
    if !root.is_dir() {
        return Ok(removed);
    }
    for entry in std::fs::read_dir(&root).map_err(io(&root))? {
        let entry = entry.map_err(io(&root))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") {
            let p = entry.path();
            std::fs::remove_dir_all(&p).map_err(io(&p))?;
            removed.push(name);
        }
    }
    Ok(removed)
}

/// Rewrites a JSON-lines file (atomically) keeping the lines `keep` accepts; a line that does not
/// parse (a write cut short by a crash) is dropped. A missing file stays missing. Returns how
/// many lines were dropped.
pub fn truncate_jsonl(path: &Path, keep: impl Fn(&serde_json::Value) -> bool) -> Result<usize> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source: e,
            })
        }
    };
    let mut out = String::with_capacity(text.len());
    let mut dropped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) if keep(&v) => {
                out.push_str(line);
                out.push('\n');
            }
            _ => dropped += 1,
        }
    }
    if dropped > 0 {
        write_atomic(path, out.as_bytes())?;
    }
    Ok(dropped)
}

fn step_of(v: &serde_json::Value) -> u64 {
    v.get("step").and_then(|s| s.as_u64()).unwrap_or(u64::MAX)
}

/// Truncates the step logs of a run to `step`: `metrics.jsonl` and `layers.jsonl` keep records of
/// steps `<= step`, `events.jsonl` also keeps [`PROCESS_EVENTS`]. Returns the records dropped.
pub fn truncate_logs(run_dir: &Path, step: u64, events_too: bool) -> Result<usize> {
    let mut dropped = 0;
    for f in ["metrics.jsonl", "layers.jsonl"] {
        dropped += truncate_jsonl(&run_dir.join(f), |v| step_of(v) <= step)?;
    }
    if events_too {
        dropped += truncate_jsonl(&run_dir.join("events.jsonl"), |v| {
            step_of(v) <= step
                || v.get("kind")
                    .and_then(|k| k.as_str())
                    .is_some_and(|k| PROCESS_EVENTS.contains(&k))
        })?;
    }
    Ok(dropped)
}

/// What a resumed run takes over from its `metrics.jsonl` up to the checkpoint's step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogTail {
    /// Wall seconds at that step: `elapsed_s` continues from here.
    pub elapsed_s: f64,
    /// Seconds spent in training steps (from each step's throughput).
    pub train_s: f64,
    /// The last training loss.
    pub loss: Option<f32>,
    /// The last evaluation.
    pub val: Option<crate::eval::ValLoss>,
}

/// Reads [`LogTail`] for the first `step` steps of a run (default when there is no log).
pub fn log_tail(run_dir: &Path, step: u64, tokens_per_step: u64) -> LogTail {
    let Ok(records) = crate::metrics::read_metrics(&run_dir.join("metrics.jsonl")) else {
        return LogTail::default();
    };
    let mut t = LogTail::default();
    for r in records.iter().filter(|r| r.step <= step) {
        t.elapsed_s = r.elapsed_s;
        t.loss = Some(r.loss);
        if r.tok_per_s > 0.0 {
            t.train_s += tokens_per_step as f64 / r.tok_per_s;
        }
        if let Some(v) = crate::eval::ValLoss::of_record(r) {
            t.val = Some(v);
        }
    }
    t
}

/// Appends one event to a run's `events.jsonl` (open, write, fsync): for writers outside the
/// training loop, such as the supervisor.
pub fn append_event(run_dir: &Path, event: &Event) -> Result<()> {
    let path = run_dir.join("events.jsonl");
    let mut w = JsonlWriter::append(&path)?;
    w.write(event)?;
    w.finish()
}

/// The step logs of a run in progress: `metrics.jsonl` and `events.jsonl` (`layers.jsonl` is
/// the layer log's, a step hook).
pub(crate) struct Logs {
    out: PathBuf,
    pub metrics: JsonlWriter,
    pub events: JsonlWriter,
    /// Whether this process writes them (rank 0).
    root: bool,
}

impl Logs {
    /// Creates the logs of a new run, or opens a resumed run's for appending. Ranks other than
    /// 0 of a data-parallel job (`root = false`) get logs that drop everything.
    pub fn open(out: &Path, append: bool, root: bool) -> Result<Logs> {
        if !root {
            return Ok(Logs {
                out: out.to_path_buf(),
                metrics: JsonlWriter::discard(),
                events: JsonlWriter::discard(),
                root,
            });
        }
        let open = |name: &str| {
            let p = out.join(name);
            if append {
                JsonlWriter::append(&p)
            } else {
                JsonlWriter::create(&p)
            }
        };
        Ok(Logs {
            out: out.to_path_buf(),
            metrics: open("metrics.jsonl")?,
            events: open("events.jsonl")?,
            root,
        })
    }

    /// Writes an event.
    pub fn event(&mut self, step: u64, kind: &str, detail: String) -> Result<()> {
        self.events.write(&Event {
            step,
            kind: kind.into(),
            detail,
        })
    }

    /// Makes every line written so far durable (fsync), without closing: called before a
    /// checkpoint is renamed into place, so no checkpoint survives a crash that its log lines do
    /// not. Every line is flushed to the file as it is written, and fsync reaches all of a file's
    /// written data through any descriptor.
    pub fn sync(&self) -> Result<()> {
        if !self.root {
            return Ok(());
        }
        for name in ["metrics.jsonl", "events.jsonl"] {
            sync_file(&self.out.join(name))?;
        }
        Ok(())
    }

    /// Truncates `metrics.jsonl` and `layers.jsonl` to `step` (a rollback) and reopens
    /// `metrics.jsonl` (the layer log reopens its own file). Every line is flushed as it is
    /// written, so the old writers hold nothing unwritten.
    pub fn rewind(&mut self, step: u64) -> Result<()> {
        if !self.root {
            return Ok(());
        }
        truncate_logs(&self.out, step, false)?;
        self.metrics = JsonlWriter::append(&self.out.join("metrics.jsonl"))?;
        Ok(())
    }

    /// Flushes and fsyncs both.
    pub fn finish(self) -> Result<()> {
        self.metrics.finish()?;
        self.events.finish()
    }
}

/// fsyncs the data of the file at `path` (through a new descriptor; a missing file is fine).
pub(crate) fn sync_file(path: &Path) -> Result<()> {
    match std::fs::File::open(path) {
        Ok(f) => f.sync_data().map_err(io(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;

    #[test]
    fn config_changes_allow_safe_keys_and_refuse_shape_changes() {
        let old = Config::resolve(Some(Preset::Tiny), None, &["train.steps=30".into()]).unwrap();
        assert!(config_changes(&old, &old).unwrap().is_empty());
        let more = Config::resolve(
            Some(Preset::Tiny),
            None,
            &["train.steps=60".into(), "eval.every=7".into()],
        )
        .unwrap();
        let c = config_changes(&old, &more).unwrap();
        assert_eq!(c, ["eval.every: 100 → 7", "train.steps: 30 → 60"]);
        let wide = Config::resolve(
            Some(Preset::Tiny),
            None,
            &[
                "train.steps=30".into(),
                "model.n_embd=128".into(),
                "train.seed=3".into(),
            ],
        )
        .unwrap();
        let e = config_changes(&old, &wide).unwrap_err().to_string();
        assert!(
            e.contains("model.n_embd: 64 → 128") && e.contains("train.seed: 0 → 3"),
            "{e}"
        );
    }

    #[test]
    fn a_config_that_does_not_flatten_is_an_error_not_an_empty_comparison() {
        let e = flatten("[train\nsteps = 3", "the run's config.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the run's config.toml") && e.contains("resume is refused"),
            "{e}"
        );
        let keys = flatten("top = 1\n[train]\nsteps = 3\n", "x").unwrap();
        assert_eq!(
            keys,
            [
                ("top".to_owned(), "1".to_owned()),
                ("train.steps".to_owned(), "3".to_owned())
            ]
        );
    }

    #[test]
    fn a_checkpoint_from_another_cpu_gets_a_note() {
        let here = checkpoint::CpuFeatures::detect();
        assert_eq!(cpu_change(Some(&here), &here), None);
        assert_eq!(cpu_change(None, &here), None, "old checkpoints say nothing");
        let other = checkpoint::CpuFeatures {
            arch: here.arch.clone(),
            features: vec!["made-up".into()],
        };
        let note = cpu_change(Some(&other), &here).unwrap();
        assert!(
            note.contains("made-up") && note.contains("to rounding, not bit for bit"),
            "{note}"
        );
    }

    #[test]
    fn truncate_jsonl_keeps_early_steps_process_events_and_drops_torn_lines() {
        let d = tempfile::tempdir().unwrap();
        let ev = d.path().join("events.jsonl");
        std::fs::write(
            &ev,
            "{\"step\":3,\"kind\":\"spike\",\"detail\":\"\"}\n\
             {\"step\":9,\"kind\":\"nan\",\"detail\":\"\"}\n\
             {\"step\":9,\"kind\":\"restart\",\"detail\":\"\"}\n",
        )
        .unwrap();
        let m = d.path().join("metrics.jsonl");
        std::fs::write(&m, "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n{\"st").unwrap();
        // metrics: step 3 and the torn line; events: the spike and the nan after step 2
        assert_eq!(truncate_logs(d.path(), 2, true).unwrap(), 4);
        assert_eq!(
            std::fs::read_to_string(&m).unwrap(),
            "{\"step\":1}\n{\"step\":2}\n"
        );
        let kept = std::fs::read_to_string(&ev).unwrap();
        assert!(!kept.contains("spike") && !kept.contains("nan") && kept.contains("restart"));
    }
}
