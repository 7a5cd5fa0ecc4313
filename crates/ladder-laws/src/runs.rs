//! Run directories and sweeps as fit input (DESIGN §3).
//!
//! A path is a run directory when it holds `summary.json`, a sweep when it holds `runs/`
//! (then every `runs/*/` is a run), and otherwise a folder whose subdirectories are runs.
//! `summary.json` gives N (non-embedding), D, C (else 6·N·D), `final_val_loss` and `status`;
//! only `status: "completed"` runs are used, and every skipped run is reported with the reason.
//! Training curves come from `metrics.jsonl` (one JSON object per logged step, `tokens` and the
//! loss key, `loss` by default).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::data::{sort_curve, Curve, Curves, DataSource, RunPoints};
use crate::error::{Error, Result};

/// The run directories under `path` (see the module docs), sorted by path.
pub fn find_runs(path: &Path) -> Result<Vec<PathBuf>> {
    if path.join("summary.json").is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let base = if path.join("runs").is_dir() {
        path.join("runs")
    } else {
        path.to_path_buf()
    };
    let mut out: Vec<PathBuf> = std::fs::read_dir(&base)
        .map_err(|e| Error::io(&base, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("summary.json").is_file())
        .collect();
    out.sort();
    Ok(out)
}

fn run_name(dir: &Path) -> String {
    dir.display().to_string()
}

/// (N, D, C, final_val_loss) of a run.
type Summary = (f64, f64, f64, f64);

/// A parsed summary.json of a completed run: (N, D, C, final_val_loss).
fn read_summary(dir: &Path) -> std::result::Result<(Summary, Vec<u8>), String> {
    let path = dir.join("summary.json");
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read summary.json: {e}"))?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("summary.json is not JSON: {e}"))?;
    match v.get("status").and_then(|s| s.as_str()) {
        Some("completed") => {}
        Some(s) => return Err(format!("status \"{s}\"")),
        None => return Err("summary.json has no status".to_string()),
    }
    let num = |k: &str| -> std::result::Result<f64, String> {
        let x = v
            .get(k)
            .and_then(|x| x.as_f64())
            .ok_or_else(|| format!("summary.json has no numeric `{k}`"))?;
        if x > 0.0 && x.is_finite() {
            Ok(x)
        } else {
            Err(format!("summary.json `{k}` = {x} is not > 0"))
        }
    };
    let n = num("N")?;
    let d = num("D")?;
    let loss = num("final_val_loss")?;
    let c = if v.get("C").is_some_and(|c| !c.is_null()) {
        num("C")?
    } else {
        6.0 * n * d
    };
    Ok(((n, d, c, loss), bytes))
}

/// Reads the runs under each path into (N, D, loss, C) points.
pub fn run_points(paths: &[PathBuf]) -> Result<RunPoints> {
    let mut pts = RunPoints {
        n: vec![],
        d: vec![],
        loss: vec![],
        c: vec![],
        se: None,
        origin: DataSource {
            source: sources(paths),
            sha256: String::new(),
            skipped: vec![],
        },
    };
    let mut hash = Sha256::new();
    for p in paths {
        for dir in find_runs(p)? {
            match read_summary(&dir) {
                Ok(((n, d, c, l), bytes)) => {
                    hash.update(run_name(&dir).as_bytes());
                    hash.update(b"\n");
                    hash.update(&bytes);
                    pts.n.push(n);
                    pts.d.push(d);
                    pts.c.push(c);
                    pts.loss.push(l);
                }
                Err(why) => pts.origin.skipped.push((run_name(&dir), why)),
            }
        }
    }
    if pts.n.is_empty() {
        return Err(Error::NoRuns {
            path: PathBuf::from(sources(paths)),
            skipped: pts.origin.skipped,
        });
    }
    pts.origin.sha256 = hex::encode(hash.finalize());
    Ok(pts)
}

/// Reads training curves (`metrics.jsonl`, key `loss_key` against `tokens`) of the completed runs
/// under each path; N comes from summary.json.
pub fn run_curves(paths: &[PathBuf], loss_key: &str) -> Result<Curves> {
    let mut curves = Curves {
        runs: vec![],
        origin: DataSource {
            source: sources(paths),
            sha256: String::new(),
            skipped: vec![],
        },
    };
    let mut hash = Sha256::new();
    for p in paths {
        for dir in find_runs(p)? {
            let ((n, ..), summary) = match read_summary(&dir) {
                Ok(s) => s,
                Err(why) => {
                    curves.origin.skipped.push((run_name(&dir), why));
                    continue;
                }
            };
            let mpath = dir.join("metrics.jsonl");
            let Ok(bytes) = std::fs::read(&mpath) else {
                curves
                    .origin
                    .skipped
                    .push((run_name(&dir), "no metrics.jsonl".to_string()));
                continue;
            };
            let mut c = Curve {
                name: run_name(&dir),
                n,
                tokens: vec![],
                loss: vec![],
            };
            let text = String::from_utf8_lossy(&bytes);
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let v: serde_json::Value = serde_json::from_str(line).map_err(|e| Error::Json {
                    path: mpath.clone(),
                    message: format!("line {}: {e}", i + 1),
                })?;
                let (Some(t), Some(l)) = (
                    v.get("tokens").and_then(|x| x.as_f64()),
                    v.get(loss_key).and_then(|x| x.as_f64()),
                ) else {
                    continue; // e.g. a line without this loss key
                };
                if t > 0.0 && l > 0.0 && t.is_finite() && l.is_finite() {
                    c.tokens.push(t);
                    c.loss.push(l);
                }
            }
            if c.tokens.len() < 2 {
                curves.origin.skipped.push((
                    run_name(&dir),
                    format!(
                        "fewer than 2 steps with `tokens` and `{loss_key}` > 0 in metrics.jsonl"
                    ),
                ));
                continue;
            }
            hash.update(run_name(&dir).as_bytes());
            hash.update(b"\n");
            hash.update(&summary);
            hash.update(&bytes);
            sort_curve(&mut c);
            curves.runs.push(c);
        }
    }
    if curves.runs.is_empty() {
        return Err(Error::NoRuns {
            path: PathBuf::from(sources(paths)),
            skipped: curves.origin.skipped,
        });
    }
    curves.origin.sha256 = hex::encode(hash.finalize());
    Ok(curves)
}

fn sources(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_run(dir: &Path, name: &str, summary: &str, metrics: Option<&str>) {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("summary.json"), summary).unwrap();
        if let Some(m) = metrics {
            std::fs::write(d.join("metrics.jsonl"), m).unwrap();
        }
    }

    #[test]
    fn runs_read_completed_and_report_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let sweep = tmp.path().join("sweep");
        let runs = sweep.join("runs");
        write_run(
            &runs,
            "a",
            r#"{"N": 1e6, "N_total": 2e6, "D": 2e7, "C": 1.2e14, "final_val_loss": 3.0, "final_train_loss": 2.9, "status": "completed"}"#,
            None,
        );
        write_run(
            &runs,
            "b",
            r#"{"N": 2e6, "D": 4e7, "final_val_loss": 2.8, "status": "completed"}"#,
            None,
        );
        write_run(
            &runs,
            "c",
            r#"{"N": 2e6, "D": 4e7, "final_val_loss": null, "status": "diverged"}"#,
            None,
        );
        write_run(
            &runs,
            "d",
            r#"{"N": 2e6, "D": 4e7, "status": "completed"}"#,
            None,
        );
        let p = run_points(std::slice::from_ref(&sweep)).unwrap();
        assert_eq!(p.n, vec![1e6, 2e6]);
        assert_eq!(p.c[1], 6.0 * 2e6 * 4e7);
        assert_eq!(p.origin.skipped.len(), 2);
        assert!(p.origin.skipped[0].1.contains("status \"diverged\""));
        assert!(p.origin.skipped[1].1.contains("final_val_loss"));
        // A single run directory works too.
        let one = run_points(&[runs.join("a")]).unwrap();
        assert_eq!(one.n.len(), 1);
        // Nothing usable: the error lists why.
        let e = run_points(&[runs.join("c")]).unwrap_err().to_string();
        assert!(
            e.contains("no usable runs") && e.contains("diverged"),
            "{e}"
        );
        let empty = tmp.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let e = run_points(&[empty]).unwrap_err().to_string();
        assert!(e.contains("no summary.json found"), "{e}");
    }

    #[test]
    fn runs_read_curves_from_metrics() {
        let tmp = tempfile::tempdir().unwrap();
        let m = "{\"step\":1,\"tokens\":1000,\"flops\":1,\"loss\":5.0}\n{\"step\":2,\"tokens\":2000,\"flops\":2,\"loss\":4.0,\"val_loss\":4.2}\n";
        write_run(
            tmp.path(),
            "a",
            r#"{"N": 1e6, "D": 2000, "final_val_loss": 4.2, "status": "completed"}"#,
            Some(m),
        );
        let c = run_curves(&[tmp.path().to_path_buf()], "loss").unwrap();
        assert_eq!(c.runs[0].tokens, vec![1000.0, 2000.0]);
        let e = run_curves(&[tmp.path().to_path_buf()], "val_loss")
            .unwrap_err()
            .to_string();
        assert!(e.contains("fewer than 2 steps"), "{e}");
        write_run(
            tmp.path(),
            "b",
            r#"{"N": 1e6, "D": 2000, "final_val_loss": 4.2, "status": "completed"}"#,
            Some("{bad\n"),
        );
        let e = run_curves(&[tmp.path().to_path_buf()], "loss")
            .unwrap_err()
            .to_string();
        assert!(e.contains("metrics.jsonl: line 1"), "{e}");
    }
}
