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

use std::collections::BTreeMap;

use crate::data::{sort_curve, CsvTable, Curve, Curves, DataSource, ParamCount, RunPoints};
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

/// A scalar of summary.json or config.toml.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Num(f64),
    Text(String),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Num(x) => format!("{x:?}"),
            Cell::Text(s) => s.clone(),
        }
    }
}

/// One run's summary.json and resolved config.toml as flat maps of dotted names.
struct RunFiles {
    summary: BTreeMap<String, Cell>,
    /// `final_val_block_losses` of summary.json (an array, so not a column).
    blocks: Option<Vec<f64>>,
    config: BTreeMap<String, Cell>,
    /// The bytes read, for the data hash (summary, then config when present).
    bytes: Vec<u8>,
}

impl RunFiles {
    fn num(&self, k: &str) -> Option<f64> {
        match self.summary.get(k) {
            Some(Cell::Num(x)) => Some(*x),
            _ => None,
        }
    }
}

fn flatten_json(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, Cell>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                flatten_json(&key(k), v, out);
            }
        }
        serde_json::Value::Number(n) => {
            if let Some(x) = n.as_f64() {
                out.insert(prefix.to_string(), Cell::Num(x));
            }
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_string(), Cell::Text(s.clone()));
        }
        serde_json::Value::Bool(b) => {
            out.insert(prefix.to_string(), Cell::Text(b.to_string()));
        }
        // null (an absent value) and arrays (not a column) are left out.
        _ => {}
    }
}

fn flatten_toml(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, Cell>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten_toml(&key(k), v, out);
            }
        }
        toml::Value::Integer(i) => {
            out.insert(prefix.to_string(), Cell::Num(*i as f64));
        }
        toml::Value::Float(x) => {
            out.insert(prefix.to_string(), Cell::Num(*x));
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), Cell::Text(s.clone()));
        }
        toml::Value::Boolean(b) => {
            out.insert(prefix.to_string(), Cell::Text(b.to_string()));
        }
        toml::Value::Datetime(d) => {
            out.insert(prefix.to_string(), Cell::Text(d.to_string()));
        }
        toml::Value::Array(_) => {}
    }
}

/// Reads a run's summary.json (must say `status: "completed"`) and its config.toml when present.
fn read_run(dir: &Path) -> std::result::Result<RunFiles, String> {
    let path = dir.join("summary.json");
    let mut bytes = std::fs::read(&path).map_err(|e| format!("cannot read summary.json: {e}"))?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("summary.json is not JSON: {e}"))?;
    match v.get("status").and_then(|s| s.as_str()) {
        Some("completed") => {}
        Some(s) => return Err(format!("status \"{s}\"")),
        None => return Err("summary.json has no status".to_string()),
    }
    let mut summary = BTreeMap::new();
    flatten_json("", &v, &mut summary);
    let blocks = v
        .get("final_val_block_losses")
        .and_then(|b| b.as_array())
        .and_then(|b| b.iter().map(|x| x.as_f64()).collect::<Option<Vec<f64>>>());
    let mut config = BTreeMap::new();
    let cpath = dir.join("config.toml");
    if let Ok(text) = std::fs::read_to_string(&cpath) {
        let t: toml::Value = toml::from_str(&text)
            .map_err(|e| format!("config.toml is not valid TOML: {}", e.message()))?;
        flatten_toml("", &t, &mut config);
        bytes.extend_from_slice(text.as_bytes());
    }
    Ok(RunFiles {
        summary,
        blocks,
        config,
        bytes,
    })
}

/// A run as a point: (N, D, C, final_val_loss, its SE).
struct RunPoint {
    n: f64,
    d: f64,
    c: f64,
    loss: f64,
    se: Option<f64>,
    /// The final evaluation's block means and token count, for paired noise.
    blocks: Option<(Vec<f64>, u64)>,
}

/// N (non-embedding or total), D, C (else 6·N·D), `final_val_loss` and `final_val_loss_se` of a
/// completed run; the reason when one is missing or not > 0.
fn run_point(f: &RunFiles, params: ParamCount) -> std::result::Result<RunPoint, String> {
    let num = |k: &str| -> std::result::Result<f64, String> {
        let x = f
            .num(k)
            .ok_or_else(|| format!("summary.json has no numeric `{k}`"))?;
        if x > 0.0 && x.is_finite() {
            Ok(x)
        } else {
            Err(format!("summary.json `{k}` = {x} is not > 0"))
        }
    };
    let n = num(params.column())?;
    let d = num("D")?;
    let loss = num("final_val_loss")?;
    let c = if f.summary.contains_key("C") {
        num("C")?
    } else {
        6.0 * n * d
    };
    let se = if f.summary.contains_key("final_val_loss_se") {
        Some(num("final_val_loss_se")?)
    } else {
        None
    };
    let blocks = match (&f.blocks, f.num("final_val_tokens")) {
        (Some(b), Some(t)) if b.iter().all(|x| x.is_finite() && *x > 0.0) => {
            Some((b.clone(), t as u64))
        }
        _ => None,
    };
    Ok(RunPoint {
        n,
        d,
        c,
        loss,
        se,
        blocks,
    })
}

/// Fewest runs and blocks for paired noise: the common mode is estimated from the runs
/// themselves, and each run's own noise from its blocks.
const PAIRED_MIN_RUNS: usize = 3;
const PAIRED_MIN_BLOCKS: usize = 8;

/// Paired noise. Runs evaluated on the same validation windows (same block count and tokens)
/// share most of their measurement error: a harder stretch of the split raises every run's loss
/// by about the same factor. That common factor scales every loss alike, which a law with a free
/// scale (E, A, B of Chinchilla; the prefactor of a power law) absorbs exactly, and a prediction
/// compared with a run measured on the same windows shares it too; what scatters the points
/// around a law is each run's *own* error. So each run's SE is replaced by the batch-means SE of
/// its relative block deviations `d_ib = l_ib/L_i − 1` after removing their mean over the runs,
/// `c_b`: `SE_i = L_i·√(n/(n−1) · Σ_b (d_ib − c_b)² / (K(K−1)))` (n runs, K blocks). Returns the
/// relative SE of the common mode, `sd(c_b)/√K`, or `None` (SEs untouched) when the runs do not
/// all share their windows.
fn pair_noise(runs: &mut [(RunPoint, BTreeMap<String, Cell>)]) -> Option<f64> {
    let (first, tokens) = runs.first()?.0.blocks.as_ref()?;
    let k = first.len();
    let shared = runs.len() >= PAIRED_MIN_RUNS
        && k >= PAIRED_MIN_BLOCKS
        && runs.iter().all(|(p, _)| {
            p.se.is_some()
                && p.blocks
                    .as_ref()
                    .is_some_and(|(b, t)| b.len() == k && t == tokens)
        });
    if !shared {
        return None;
    }
    let dev: Vec<Vec<f64>> = runs
        .iter()
        .map(|(p, _)| {
            let b = &p.blocks.as_ref().expect("checked above").0;
            let mean = b.iter().sum::<f64>() / k as f64;
            b.iter().map(|x| x / mean - 1.0).collect()
        })
        .collect();
    let n = runs.len() as f64;
    let common: Vec<f64> = (0..k)
        .map(|b| dev.iter().map(|d| d[b]).sum::<f64>() / n)
        .collect();
    let kf = k as f64;
    for ((p, _), d) in runs.iter_mut().zip(&dev) {
        let ss: f64 = d.iter().zip(&common).map(|(x, c)| (x - c).powi(2)).sum();
        let rel = (n / (n - 1.0) * ss / (kf * (kf - 1.0))).sqrt();
        p.se = Some((rel * p.loss).max(f64::MIN_POSITIVE));
    }
    let cm = common.iter().sum::<f64>() / kf;
    let ss: f64 = common.iter().map(|c| (c - cm).powi(2)).sum();
    Some((ss / (kf * (kf - 1.0))).sqrt())
}

/// Config keys that do not change a run's loss, left out when grouping seed replicates.
fn ignored_for_replicates(key: &str) -> bool {
    matches!(key, "train.seed" | "train.threads" | "train.max_time")
        || key.starts_with("checkpoint.")
        || key.starts_with("log.")
}

/// Merges seed replicates: runs with the same N and D whose config.toml agree on every key but
/// `train.seed` (and the keys of [`ignored_for_replicates`]) become one point with the mean loss
/// and the standard error of that mean,
/// `SE² = max(s², mean SE_j²) / k` over the k runs (s² the sample variance of their losses,
/// SE_j their eval standard errors): s² estimates seed-to-seed plus eval variance, and cannot
/// honestly be smaller than the eval variance it contains; with one run, SE is its eval SE.
fn merge_replicates(runs: Vec<(RunPoint, BTreeMap<String, Cell>)>) -> Vec<RunPoint> {
    // Each group: its runs and the config keys they share.
    type Group = (Vec<RunPoint>, Vec<(String, Cell)>);
    let mut groups: Vec<Group> = Vec::new();
    for (p, config) in runs {
        let key: Vec<(String, Cell)> = config
            .into_iter()
            .filter(|(k, _)| !ignored_for_replicates(k))
            .collect();
        match groups
            .iter_mut()
            .find(|(g, k)| g[0].n == p.n && g[0].d == p.d && *k == key)
        {
            Some((g, _)) => g.push(p),
            None => groups.push((vec![p], key)),
        }
    }
    groups
        .into_iter()
        .filter_map(|(mut g, _)| {
            if g.len() == 1 {
                return g.pop();
            }
            let k = g.len() as f64;
            let mean = |f: &dyn Fn(&RunPoint) -> f64| g.iter().map(f).sum::<f64>() / k;
            let loss = mean(&|p| p.loss);
            let spread = g.iter().map(|p| (p.loss - loss).powi(2)).sum::<f64>() / (k - 1.0);
            let eval = g
                .iter()
                .map(|p| p.se.map(|s| s * s))
                .sum::<Option<f64>>()
                .map(|v| v / k);
            let var = spread.max(eval.unwrap_or(0.0)) / k;
            Some(RunPoint {
                n: g[0].n,
                d: g[0].d,
                c: mean(&|p| p.c),
                loss,
                se: (var > 0.0).then(|| var.sqrt()),
                blocks: None,
            })
        })
        .collect()
}

/// Reads the runs under each path into (N, D, loss, C) points with non-embedding N.
pub fn run_points(paths: &[PathBuf]) -> Result<RunPoints> {
    run_points_with(paths, ParamCount::NonEmbedding)
}

/// Reads the runs under each path into (N, D, loss, C, SE) points, N as `params` says, seed
/// replicates merged ([`merge_replicates`]'s rule). SEs are kept only when every point has one.
pub fn run_points_with(paths: &[PathBuf], params: ParamCount) -> Result<RunPoints> {
    let mut skipped = vec![];
    let mut used = vec![];
    let mut hash = Sha256::new();
    for p in paths {
        for dir in find_runs(p)? {
            match read_run(&dir).and_then(|f| run_point(&f, params).map(|p| (p, f))) {
                Ok((point, f)) => {
                    hash.update(run_name(&dir).as_bytes());
                    hash.update(b"\n");
                    hash.update(&f.bytes);
                    used.push((point, f.config));
                }
                Err(why) => skipped.push((run_name(&dir), why)),
            }
        }
    }
    if used.is_empty() {
        return Err(Error::NoRuns {
            path: PathBuf::from(sources(paths)),
            skipped,
        });
    }
    let common_se = pair_noise(&mut used);
    let points = merge_replicates(used);
    let se: Option<Vec<f64>> = points.iter().map(|p| p.se).collect();
    Ok(RunPoints {
        n: points.iter().map(|p| p.n).collect(),
        d: points.iter().map(|p| p.d).collect(),
        loss: points.iter().map(|p| p.loss).collect(),
        c: points.iter().map(|p| p.c).collect(),
        se,
        common_se: common_se.filter(|_| points.iter().all(|p| p.se.is_some())),
        origin: DataSource {
            source: sources(paths),
            sha256: hex::encode(hash.finalize()),
            skipped,
        },
    })
}

/// The completed runs under each path as a table of named columns: every key of summary.json
/// (`N`, `D`, `C`, `final_val_loss`, `final_val_loss_se`, …) and of config.toml as dotted names
/// (`train.lr`, `model.n_embd`, …); a summary key wins over a config key of the same name. A run
/// lacking a key has an empty cell there.
pub fn run_table(paths: &[PathBuf]) -> Result<(CsvTable, DataSource)> {
    let mut skipped = vec![];
    let mut rows: Vec<(PathBuf, BTreeMap<String, Cell>)> = vec![];
    let mut hash = Sha256::new();
    for p in paths {
        for dir in find_runs(p)? {
            match read_run(&dir) {
                Ok(f) => {
                    hash.update(run_name(&dir).as_bytes());
                    hash.update(b"\n");
                    hash.update(&f.bytes);
                    let mut cells = f.config;
                    cells.extend(f.summary);
                    rows.push((dir, cells));
                }
                Err(why) => skipped.push((run_name(&dir), why)),
            }
        }
    }
    if rows.is_empty() {
        return Err(Error::NoRuns {
            path: PathBuf::from(sources(paths)),
            skipped,
        });
    }
    let header: Vec<String> = rows
        .iter()
        .flat_map(|(_, c)| c.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let sha = hex::encode(hash.finalize());
    let table_rows = rows
        .into_iter()
        .map(|(dir, c)| {
            let cells = header
                .iter()
                .map(|h| c.get(h).map_or(String::new(), Cell::text))
                .collect();
            (dir, cells)
        })
        .collect();
    let source = sources(paths);
    let table = CsvTable::from_runs(Path::new(&source), header, table_rows, sha.clone());
    Ok((
        table,
        DataSource {
            source,
            sha256: sha,
            skipped,
        },
    ))
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
            let (n, summary) = match read_run(&dir)
                .and_then(|f| run_point(&f, ParamCount::NonEmbedding).map(|p| (p.n, f.bytes)))
            {
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
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

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

    fn write_config(dir: &Path, name: &str, config: &str) {
        std::fs::write(dir.join(name).join("config.toml"), config).unwrap();
    }

    fn summary(n: f64, d: f64, loss: f64, se: f64) -> String {
        format!(
            r#"{{"N": {n}, "N_total": {}, "D": {d}, "final_val_loss": {loss}, "final_val_loss_se": {se}, "status": "completed"}}"#,
            n * 3.0
        )
    }

    #[test]
    fn seed_replicates_merge_into_one_point() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path();
        // Two seeds of one point, a third run of the same (N, D) with another learning rate,
        // and a point of its own.
        for (name, loss, seed, lr) in [
            ("p-s0", 3.0, 0, 0.003),
            ("p-s1", 3.2, 1, 0.003),
            ("p-lr", 3.5, 0, 0.01),
        ] {
            write_run(runs, name, &summary(1e6, 2e7, loss, 0.01), None);
            write_config(
                runs,
                name,
                &format!(
                    "[train]\nseed = {seed}\nlr = {lr}\nthreads = {}\n",
                    seed + 1
                ),
            );
        }
        write_run(runs, "q", &summary(2e6, 4e7, 2.8, 0.02), None);
        let p = run_points(&[runs.to_path_buf()]).unwrap();
        assert_eq!(p.len(), 3, "{:?}", p.loss);
        // Runs come in path order: p-lr, then p-s0 and p-s1 merged, then q.
        let se = p.se.as_ref().unwrap();
        assert_eq!((p.loss[0], se[0]), (3.5, 0.01));
        assert!((p.loss[1] - 3.1).abs() < 1e-12);
        // s² = 0.02 > mean SE² = 1e-4: SE = sqrt(0.02 / 2) = 0.1.
        assert!((se[1] - 0.1).abs() < 1e-12, "{se:?}");
        assert_eq!((p.loss[2], se[2]), (2.8, 0.02));
        // Identical losses: the SE of the mean falls back to the eval SEs, sqrt(1e-4 / 2).
        let tmp2 = tempfile::tempdir().unwrap();
        for (name, seed) in [("a", 0), ("b", 1)] {
            write_run(tmp2.path(), name, &summary(1e6, 2e7, 3.0, 0.01), None);
            write_config(tmp2.path(), name, &format!("[train]\nseed = {seed}\n"));
        }
        let p = run_points(&[tmp2.path().to_path_buf()]).unwrap();
        assert_eq!(p.len(), 1);
        assert!((p.se.unwrap()[0] - (1e-4f64 / 2.0).sqrt()).abs() < 1e-15);
    }

    #[test]
    fn runs_give_total_params_and_drop_ses_unless_all_have_one() {
        let tmp = tempfile::tempdir().unwrap();
        write_run(tmp.path(), "a", &summary(1e6, 2e7, 3.0, 0.01), None);
        write_run(
            tmp.path(),
            "b",
            r#"{"N": 2e6, "N_total": 5e6, "D": 4e7, "final_val_loss": 2.8, "status": "completed"}"#,
            None,
        );
        let p = run_points_with(&[tmp.path().to_path_buf()], ParamCount::Total).unwrap();
        assert_eq!(p.n, vec![3e6, 5e6]);
        assert!(p.se.is_none(), "run b has no SE");
        write_run(
            tmp.path(),
            "c",
            r#"{"N": 2e6, "D": 4e7, "final_val_loss": 2.8, "status": "completed"}"#,
            None,
        );
        let p = run_points_with(&[tmp.path().to_path_buf()], ParamCount::Total).unwrap();
        assert_eq!(p.len(), 2);
        assert!(
            p.origin.skipped[0].1.contains("`N_total`"),
            "{:?}",
            p.origin.skipped
        );
    }

    /// A run whose 32 block losses are `loss·(1 + common_b + own_b)`, with its whole-split SE.
    fn blocked_summary(n: f64, loss: f64, common: &[f64], own: &[f64], tokens: u64) -> String {
        let blocks: Vec<f64> = common
            .iter()
            .zip(own)
            .map(|(c, o)| loss * (1.0 + c + o))
            .collect();
        let mean = blocks.iter().sum::<f64>() / 32.0;
        let sd = (blocks.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / 31.0).sqrt();
        format!(
            r#"{{"N": {n}, "D": 1e6, "final_val_loss": {mean}, "final_val_loss_se": {}, "final_val_tokens": {tokens}, "final_val_block_losses": {blocks:?}, "status": "completed"}}"#,
            sd / 32f64.sqrt()
        )
    }

    #[test]
    fn runs_on_shared_windows_keep_only_their_own_noise() {
        // Every run sees the same hard and easy stretches of the split (2 % relative spread per
        // block), plus its own 0.1 % block noise: the SE of a run relative to the others is the
        // own part, ~0.001/√32 relative, 20× below the whole-split SE.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut normal = || -> f64 {
            let (u, v): (f64, f64) = (rng.random(), rng.random());
            (-2.0 * (1.0 - u).ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let common: Vec<f64> = (0..32).map(|_| 0.02 * normal()).collect();
        let tmp = tempfile::tempdir().unwrap();
        let losses = [3.0, 2.9, 2.8, 2.7, 2.6, 2.5];
        for (i, loss) in losses.iter().enumerate() {
            let own: Vec<f64> = (0..32).map(|_| 0.001 * normal()).collect();
            let text = blocked_summary(1e4 * (i + 1) as f64, *loss, &common, &own, 1 << 20);
            write_run(tmp.path(), &format!("r{i}"), &text, None);
        }
        let p = run_points(&[tmp.path().to_path_buf()]).unwrap();
        let se = p.se.as_ref().unwrap();
        let common_se = p.common_se.expect("paired");
        assert!((0.5 * 0.02 / 32f64.sqrt()..2.0 * 0.02 / 32f64.sqrt()).contains(&common_se));
        for (s, l) in se.iter().zip(&p.loss) {
            let rel = s / l;
            let want = 0.001 / 32f64.sqrt();
            assert!((0.6 * want..1.5 * want).contains(&rel), "{rel} vs {want}");
        }
        // One run measured on other windows (another token count): no pairing, SEs as written.
        let own = vec![0.0; 32];
        let text = blocked_summary(9e4, 2.4, &common, &own, 1 << 16);
        write_run(tmp.path(), "other", &text, None);
        let p = run_points(&[tmp.path().to_path_buf()]).unwrap();
        assert!(p.common_se.is_none());
        assert!(
            p.se.unwrap().iter().all(|s| *s > 0.002),
            "whole-split SEs kept"
        );
    }

    #[test]
    fn run_table_has_summary_and_config_columns() {
        let tmp = tempfile::tempdir().unwrap();
        for (name, embd, loss) in [("a", 16, 3.0), ("b", 32, 2.7), ("c", 64, 2.5)] {
            write_run(tmp.path(), name, &summary(1e6, 2e7, loss, 0.01), None);
            write_config(
                tmp.path(),
                name,
                &format!("[model]\nn_embd = {embd}\n[train]\nlr = 0.003\n"),
            );
        }
        let (t, origin) = run_table(&[tmp.path().to_path_buf()]).unwrap();
        for col in [
            "N",
            "final_val_loss",
            "final_val_loss_se",
            "model.n_embd",
            "train.lr",
        ] {
            assert!(t.find(col).is_some(), "{col} in {:?}", t.header());
        }
        let pts = crate::data::XyPoints::from_table(
            &t,
            "model.n_embd",
            "final_val_loss",
            crate::data::XKind::Positive,
        )
        .unwrap();
        assert_eq!(pts.x, vec![16.0, 32.0, 64.0]);
        assert_eq!(pts.se, Some(vec![0.01; 3]));
        assert_eq!(origin.sha256.len(), 64);
        let e = crate::data::XyPoints::from_table(
            &t,
            "model.n_layer",
            "final_val_loss",
            crate::data::XKind::Positive,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("no column `model.n_layer`") && e.contains("model.n_embd"),
            "{e}"
        );
        // A run lacking a key is named in the error, without a line number.
        write_run(tmp.path(), "d", &summary(1e6, 2e7, 2.4, 0.01), None);
        let (t, _) = run_table(&[tmp.path().to_path_buf()]).unwrap();
        let e = crate::data::XyPoints::from_table(
            &t,
            "model.n_embd",
            "final_val_loss",
            crate::data::XKind::Positive,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("/d: column `model.n_embd`: `(empty)` is not a number"),
            "{e}"
        );
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
