//! Run directories as the report reads them (DESIGN §3): `summary.json` for the numbers,
//! `metrics.jsonl` for the training curves, and `diagnosis.json` (written by `ladder diagnose`)
//! when there is one. Everything is read leniently: a run that cannot be used is listed with the
//! reason instead of stopping the report, and only an input with no usable run at all is an error.

use std::path::{Path, PathBuf};

use ladder_schema::{f32_as_written, StepRecord, Summary};

use crate::error::{Error, Result};

/// Points kept per training curve: enough for a smooth line on a 1000-pixel-wide plot, few
/// enough to keep the SVG small. Subsampling keeps the first and last points.
pub const MAX_CURVE_POINTS: usize = 300;

/// One run directory.
#[derive(Clone, Debug)]
pub struct Run {
    /// The directory's name (`runs/<name>/` in a sweep).
    pub name: String,
    /// The run directory.
    pub dir: PathBuf,
    /// Non-embedding parameters.
    pub n: f64,
    /// All parameters, when summary.json has them.
    pub n_total: Option<f64>,
    /// Training tokens.
    pub d: f64,
    /// Training compute `C` from summary.json, else 6·N·D.
    pub c: f64,
    /// Mean loss of the last training step (nats/token).
    pub final_train_loss: Option<f64>,
    /// Loss of the final evaluation (nats/token).
    pub final_val_loss: Option<f64>,
    /// `completed`, `failed` or `diverged`.
    pub status: String,
    /// Entropy of the synthetic source, when the data has one.
    pub entropy: Option<f64>,
    /// Wall time of the run (s).
    pub wall_time_s: Option<f64>,
    /// Training curve: (tokens, loss), smoothed ([`smooth`]) and subsampled to
    /// [`MAX_CURVE_POINTS`].
    pub train_curve: Vec<(f64, f64)>,
    /// Evaluations: (tokens, val_loss).
    pub val_curve: Vec<(f64, f64)>,
    /// `diagnosis.json`, when the run has been diagnosed.
    pub diagnosis: Option<Diagnosis>,
    /// `model.n_layer` of its config.toml, when readable.
    pub n_layer: Option<u64>,
    /// `model.n_embd` of its config.toml, when readable.
    pub n_embd: Option<u64>,
    /// The architecture for labels: `model.arch` of its config.toml (`GPT-2` for `gpt2` or when
    /// absent, as `ladder train` defaults; `Llama` for `llama`; another name as written).
    pub arch: String,
}

impl Run {
    /// A run that can enter a fit: completed, with a finite positive validation loss.
    pub fn fittable(&self) -> bool {
        self.status == "completed"
            && self
                .final_val_loss
                .is_some_and(|l| l > 0.0 && l.is_finite())
    }
}

/// `diagnosis.json` as `ladder diagnose` writes it, in the shared schema (unknown keys are
/// ignored so that a newer diagnosis still shows).
pub use ladder_schema::{
    DiagnosisFile as Diagnosis, DiagnosisFinding as Finding, DiagnosisLaw as LawComparison,
};

/// The runs of one input, and the directories that could not be used.
#[derive(Clone, Debug, Default)]
pub struct Runs {
    /// Usable runs, sorted by (C, N, name).
    pub runs: Vec<Run>,
    /// (run directory, why it was skipped).
    pub skipped: Vec<(String, String)>,
    /// Problems that did not stop the report (a malformed diagnosis.json, bad metric lines).
    pub warnings: Vec<String>,
}

/// Reads every run under `input` (a sweep, a folder of runs or one run directory).
pub fn load_runs(input: &Path) -> Result<Runs> {
    if !input.exists() {
        return Err(Error::io(
            input,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        ));
    }
    let dirs = ladder_laws::runs::find_runs(input).map_err(|e| match e {
        ladder_laws::Error::Io { path, source } => Error::io(path, source),
        other => Error::Json {
            path: input.to_path_buf(),
            message: other.to_string(),
        },
    })?;
    if dirs.is_empty() {
        return Err(Error::NoRuns {
            path: input.to_path_buf(),
        });
    }
    let mut out = Runs::default();
    for dir in dirs {
        match load_run(&dir, &mut out.warnings) {
            Ok(run) => out.runs.push(run),
            Err(why) => out.skipped.push((dir.display().to_string(), why)),
        }
    }
    if out.runs.is_empty() {
        return Err(Error::NoUsableRuns {
            path: input.to_path_buf(),
            skipped: out.skipped,
        });
    }
    out.runs.sort_by(|a, b| {
        a.c.total_cmp(&b.c)
            .then(a.n.total_cmp(&b.n))
            .then(a.name.cmp(&b.name))
    });
    Ok(out)
}

/// Reads one run directory; `Err` says why it cannot be shown.
pub fn load_run(dir: &Path, warnings: &mut Vec<String>) -> std::result::Result<Run, String> {
    let bytes = std::fs::read(dir.join("summary.json"))
        .map_err(|e| format!("cannot read summary.json: {e}"))?;
    let summary = read_summary(&bytes)?;
    let count = |x: u64, k: &str| -> std::result::Result<f64, String> {
        Some(x as f64)
            .filter(|x| *x > 0.0)
            .ok_or_else(|| format!("summary.json has no positive `{k}`"))
    };
    let n = count(summary.n, "N")?;
    let d = count(summary.d, "D")?;
    let finite = |x: f64| Some(x).filter(|x| x.is_finite());
    let loss = |l: Option<f32>| l.map(f32_as_written).filter(|x| x.is_finite());
    let c = finite(summary.c)
        .filter(|c| *c > 0.0)
        .unwrap_or(6.0 * n * d);
    let name = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let (train_curve, val_curve) = read_curves(&dir.join("metrics.jsonl"), warnings);
    let diagnosis = read_diagnosis(&dir.join("diagnosis.json"), warnings);
    let shape = model_shape(dir);
    Ok(Run {
        name,
        dir: dir.to_path_buf(),
        n,
        // 0 is the schema's "not recorded" (files written before the field existed).
        n_total: Some(summary.n_total as f64).filter(|x| *x > 0.0),
        d,
        c,
        final_train_loss: loss(summary.final_train_loss),
        final_val_loss: loss(summary.final_val_loss),
        status: summary.status.as_str().to_string(),
        entropy: summary.entropy_nats_per_token.and_then(finite),
        wall_time_s: finite(summary.wall_time_s),
        train_curve,
        val_curve,
        diagnosis,
        n_layer: shape.0,
        n_embd: shape.1,
        arch: shape.2,
    })
}

/// summary.json in the shared schema; `Err` is the reason the run is skipped, naming the key
/// the report needs when one is missing.
fn read_summary(bytes: &[u8]) -> std::result::Result<Summary, String> {
    serde_json::from_slice::<Summary>(bytes).map_err(|e| {
        if !e.is_data() {
            return format!("summary.json is not JSON: {e}");
        }
        let missing = |k: &str| e.to_string().starts_with(&format!("missing field `{k}`"));
        if missing("N") || missing("D") {
            let k = if missing("N") { "N" } else { "D" };
            format!("summary.json has no positive `{k}`")
        } else if missing("status") {
            "summary.json has no `status`".to_string()
        } else {
            format!("summary.json is not a run summary: {e}")
        }
    })
}

/// `(model.n_layer, model.n_embd, architecture label)` of a run's config.toml; a missing or
/// unreadable file (or key) gives `None` (the shape is only used to group residuals) and GPT-2,
/// the architecture `ladder train` uses when `model.arch` is absent.
fn model_shape(dir: &Path) -> (Option<u64>, Option<u64>, String) {
    let Ok(text) = std::fs::read_to_string(dir.join("config.toml")) else {
        return (None, None, arch_label(None));
    };
    let Ok(v) = text.parse::<toml::Table>() else {
        return (None, None, arch_label(None));
    };
    let key = |k: &str| {
        v.get("model")
            .and_then(|m| m.get(k))
            .and_then(|x| x.as_integer())
            .and_then(|x| u64::try_from(x).ok())
    };
    let arch = v
        .get("model")
        .and_then(|m| m.get("arch"))
        .and_then(|x| x.as_str());
    (key("n_layer"), key("n_embd"), arch_label(arch))
}

/// The label of `model.arch`: `GPT-2` when absent or `gpt2`, `Llama` for `llama`, else the name.
pub fn arch_label(arch: Option<&str>) -> String {
    match arch {
        None | Some("gpt2") => "GPT-2".into(),
        Some("llama") => "Llama".into(),
        Some(other) => other.to_string(),
    }
}

/// The architectures of `runs`, distinct, in order of first appearance, joined by ", ".
pub fn arch_summary(runs: &[Run]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for r in runs {
        if !seen.contains(&r.arch.as_str()) {
            seen.push(&r.arch);
        }
    }
    seen.join(", ")
}

/// (tokens, loss) and (tokens, val_loss) from metrics.jsonl; a missing file gives empty curves,
/// a malformed line a warning.
/// (tokens, loss) points of a curve.
pub type Curve = Vec<(f64, f64)>;

fn read_curves(path: &Path, warnings: &mut Vec<String>) -> (Curve, Curve) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return (vec![], vec![]);
    };
    let (mut train, mut val) = (vec![], vec![]);
    let mut bad = 0usize;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let record = match serde_json::from_str::<StepRecord>(line) {
            Ok(r) => r,
            // Valid JSON that is not a step (no `tokens`, say) has no point to give.
            Err(e) if e.is_data() => continue,
            Err(_) => {
                bad += 1;
                continue;
            }
        };
        if record.tokens == 0 {
            continue;
        }
        let t = record.tokens as f64;
        let positive = |l: f32| Some(f32_as_written(l)).filter(|x| x.is_finite() && *x > 0.0);
        if let Some(l) = positive(record.loss) {
            train.push((t, l));
        }
        if let Some(l) = record.val_loss.and_then(positive) {
            val.push((t, l));
        }
    }
    if bad > 0 {
        warnings.push(format!(
            "{}: {bad} line(s) are not JSON and were left out of the curve",
            path.display()
        ));
    }
    train.sort_by(|a, b| a.0.total_cmp(&b.0));
    val.sort_by(|a, b| a.0.total_cmp(&b.0));
    (subsample(smooth(&train), MAX_CURVE_POINTS), val)
}

/// Share of the steps so far over which the training loss is averaged (see [`smooth`]).
pub const SMOOTH_FRACTION: f64 = 0.25;

/// Each point's loss averaged over the trailing [`SMOOTH_FRACTION`] of the steps up to it: a
/// window of constant width on a log token axis, so early steps stay sharp and the per-step
/// noise of small batches (large for tiny models) does not hide the trend later on.
pub fn smooth(v: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut prefix = Vec::with_capacity(v.len() + 1);
    prefix.push(0.0);
    for p in v {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + p.1);
    }
    (0..v.len())
        .map(|i| {
            let w = ((i + 1) as f64 * SMOOTH_FRACTION).floor().max(1.0) as usize;
            (v[i].0, (prefix[i + 1] - prefix[i + 1 - w]) / w as f64)
        })
        .collect()
}

/// At most `max` points, evenly spaced in index, first and last kept.
fn subsample(v: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    if v.len() <= max || max < 2 {
        return v;
    }
    let last = v.len() - 1;
    (0..max)
        .map(|i| v[(i * last + (max - 1) / 2) / (max - 1)])
        .collect()
}

fn read_diagnosis(path: &Path, warnings: &mut Vec<String>) -> Option<Diagnosis> {
    let text = std::fs::read_to_string(path).ok()?;
    match serde_json::from_str::<Diagnosis>(&text) {
        Ok(d) => Some(d),
        Err(e) => {
            warnings.push(format!(
                "{}: not a diagnosis written by `ladder diagnose` ({e}); rerun `ladder diagnose`",
                path.display()
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architecture_comes_from_the_config_and_defaults_to_gpt2() {
        let dir = tempfile::tempdir().unwrap();
        // No config.toml: GPT-2, as `ladder train` defaults.
        assert_eq!(model_shape(dir.path()), (None, None, "GPT-2".to_string()));
        let cfg = dir.path().join("config.toml");
        std::fs::write(&cfg, "[model]\nn_layer = 2\nn_embd = 64\n").unwrap();
        assert_eq!(model_shape(dir.path()).2, "GPT-2");
        std::fs::write(
            &cfg,
            "[model]\narch = \"llama\"\nn_layer = 2\nn_embd = 64\n",
        )
        .unwrap();
        assert_eq!(
            model_shape(dir.path()),
            (Some(2), Some(64), "Llama".to_string())
        );
        assert_eq!(arch_label(Some("gpt2")), "GPT-2");
        assert_eq!(arch_label(Some("other")), "other");
    }

    #[test]
    fn smooth_averages_a_trailing_quarter() {
        // Alternating 1, 3: from step 8 on the window holds an even number of steps (mean 2) or an odd one.
        let v: Vec<(f64, f64)> = (0..40)
            .map(|i| (i as f64, if i % 2 == 0 { 1.0 } else { 3.0 }))
            .collect();
        let s = smooth(&v);
        assert_eq!(s[0], (0.0, 1.0));
        // Step 8 (index 7): window of 2 steps (indices 6, 7), mean 2; index 39: 10 steps.
        assert_eq!(s[7].1, 2.0);
        assert_eq!(s[39].1, 2.0);
        assert_eq!(s.len(), 40);
    }

    #[test]
    fn unusable_summaries_are_skipped_with_the_key_they_lack() {
        let tmp = std::env::temp_dir().join(format!("ladder-report-runs-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let why = |text: &str| {
            std::fs::write(tmp.join("summary.json"), text).unwrap();
            load_run(&tmp, &mut vec![]).unwrap_err()
        };
        assert_eq!(
            why(r#"{"status": "failed"}"#),
            "summary.json has no positive `N`"
        );
        assert_eq!(
            why(r#"{"status": "failed", "N": 0, "D": 5}"#),
            "summary.json has no positive `N`"
        );
        assert_eq!(
            why(r#"{"status": "failed", "N": 10}"#),
            "summary.json has no positive `D`"
        );
        assert_eq!(why(r#"{"N": 10, "D": 5}"#), "summary.json has no `status`");
        assert!(why("{\"N\": 1").starts_with("summary.json is not JSON"));
        assert!(why(r#"{"N": 10, "D": 5, "status": "paused"}"#)
            .starts_with("summary.json is not a run summary: unknown variant `paused`"));
        // A hand-written summary (float counts, no stop_reason) is usable.
        std::fs::write(
            tmp.join("summary.json"),
            r#"{"N": 1e6, "D": 2e7, "final_val_loss": 3.25, "status": "completed"}"#,
        )
        .unwrap();
        let run = load_run(&tmp, &mut vec![]).unwrap();
        assert_eq!((run.n, run.d, run.c), (1e6, 2e7, 6.0 * 1e6 * 2e7));
        assert_eq!((run.final_val_loss, run.n_total), (Some(3.25), None));
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn subsample_keeps_ends_and_size() {
        let v: Vec<(f64, f64)> = (0..1000).map(|i| (i as f64, 0.0)).collect();
        let s = subsample(v, 300);
        assert_eq!(s.len(), 300);
        assert_eq!(s[0].0, 0.0);
        assert_eq!(s[299].0, 999.0);
        assert!(s.windows(2).all(|w| w[1].0 > w[0].0));
    }
}
