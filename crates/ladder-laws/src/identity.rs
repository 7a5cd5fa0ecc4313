//! Where a law's runs came from, and where its predictions are interpolations.
//!
//! * Data identity: each run's resolved `config.toml` names its data directory (`data.dir`), whose
//!   `meta.json` records the sha256 of `tokenizer.json`, `train.bin` and `val.bin` and the
//!   vocabulary size. fit.json keeps the distinct directories ([`DataIdentity`]) so that a run
//!   can later be checked against the data its law was fitted on ([`compare`]). A CSV names no
//!   data: its identity is unknown.
//! * Support: the ranges of N, D and C over the fitted points ([`support_of`]).
//!
//! `meta.json` is read as plain JSON (this crate depends on no other ladder crate); its hashes
//! are the ones `ladder train` verifies before it trains, so they are not recomputed here.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::fitfile::{DataDir, DataIdentity, Skipped, Support};
use crate::law::Input;
use crate::runs::find_runs;

/// The data directory a run was trained on: `data.dir` of its `config.toml`, then that
/// directory's `meta.json`. The reason, in words, when either cannot be read.
pub fn run_data_dir(run: &Path) -> std::result::Result<DataDir, String> {
    let cpath = run.join("config.toml");
    let text = std::fs::read_to_string(&cpath)
        .map_err(|e| format!("{}: cannot read the run's config.toml ({e})", run.display()))?;
    let config: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: not TOML ({e})", cpath.display()))?;
    let dir = config
        .get("data")
        .and_then(|d| d.get("dir"))
        .and_then(|d| d.as_str())
        .filter(|d| !d.is_empty())
        .ok_or_else(|| format!("{}: names no data.dir", cpath.display()))?;
    data_dir(Path::new(dir))
}

/// A data directory as its `meta.json` describes it.
pub fn data_dir(dir: &Path) -> std::result::Result<DataDir, String> {
    let mpath = dir.join("meta.json");
    let bytes = std::fs::read(&mpath).map_err(|e| {
        format!(
            "cannot read {} ({e}); the data directory moved or is gone",
            mpath.display()
        )
    })?;
    let meta: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not JSON ({e})", mpath.display()))?;
    let hash = |name: &str| {
        meta.get("hashes")
            .and_then(|h| h.get(name))
            .and_then(|h| h.as_str())
            .map(String::from)
    };
    Ok(DataDir {
        data_dir: Some(dir.display().to_string()),
        tokenizer_sha256: hash("tokenizer.json"),
        train_sha256: hash("train.bin"),
        val_sha256: hash("val.bin"),
        vocab_size: meta.get("vocab_size").and_then(|v| v.as_u64()),
        description: meta
            .get("source")
            .and_then(|v| v.as_str())
            .map(String::from),
    })
}

/// The data identity of the runs under `paths` that a fit used (those not in `skipped`).
pub fn of_runs(paths: &[PathBuf], skipped: &[Skipped]) -> Result<DataIdentity> {
    let mut sources: Vec<DataDir> = Vec::new();
    let (mut runs, mut unknown) = (0usize, Vec::new());
    for p in paths {
        for dir in find_runs(p)? {
            let name = dir.display().to_string();
            if skipped.iter().any(|s| s.run == name) {
                continue;
            }
            runs += 1;
            match run_data_dir(&dir) {
                Ok(d) if d.has_hashes() => {
                    if !sources.contains(&d) {
                        sources.push(d);
                    }
                }
                Ok(d) => unknown.push(format!(
                    "{} records no hashes",
                    d.data_dir.unwrap_or_default()
                )),
                Err(why) => unknown.push(why),
            }
        }
    }
    let known = unknown.is_empty() && !sources.is_empty();
    let dirs = |n: usize| if n == 1 { "directory" } else { "directories" };
    let note = if known {
        format!(
            "{runs} run(s) trained on {} data {}, hashes from meta.json",
            sources.len(),
            dirs(sources.len())
        )
    } else {
        format!(
            "data identity unknown for {} of {runs} run(s): {}",
            unknown.len(),
            unknown.first().map_or("no runs", String::as_str)
        )
    };
    Ok(DataIdentity {
        known,
        sources,
        note,
    })
}

/// A CSV names no data: the identity of its runs is unknown.
pub fn unknown_from_csv(csv: &Path) -> DataIdentity {
    DataIdentity {
        known: false,
        sources: Vec::new(),
        note: format!(
            "data identity unknown: fitted from the CSV {}, which names no data directory; \
             fit run directories to record it",
            csv.display()
        ),
    }
}

/// The N, D and C ranges of a fit's input: run points (all three), training curves (N of each
/// run; D and C over the logged steps), or an x–y table whose x is `N`, `D` or `C`.
pub fn support_of(input: &Input) -> Option<Support> {
    let s = match input {
        Input::Runs(p) => Support {
            n: Support::range(&p.n),
            d: Support::range(&p.d),
            c: Support::range(&p.c),
        },
        Input::Curves(c) => {
            let n: Vec<f64> = c.runs.iter().map(|r| r.n).collect();
            let d: Vec<f64> = c.runs.iter().flat_map(|r| r.tokens.clone()).collect();
            let cc: Vec<f64> = c
                .runs
                .iter()
                .flat_map(|r| r.tokens.iter().map(move |t| 6.0 * r.n * t))
                .collect();
            Support {
                n: Support::range(&n),
                d: Support::range(&d),
                c: Support::range(&cc),
            }
        }
        Input::Xy(xy) => {
            let r = Support::range(&xy.x);
            match xy.x_name.as_str() {
                "N" | "N_total" => Support {
                    n: r,
                    ..Support::default()
                },
                "D" => Support {
                    d: r,
                    ..Support::default()
                },
                "C" => Support {
                    c: r,
                    ..Support::default()
                },
                _ => return None,
            }
        }
        Input::Hparams(h) => Support {
            n: h.n.as_deref().and_then(Support::range),
            c: Support::range(&h.c),
            ..Support::default()
        },
    };
    (s.n.is_some() || s.d.is_some() || s.c.is_some()).then_some(s)
}

/// How two data directories compare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// The same tokenizer, train and validation shards.
    Same,
    /// The same tokenizer and vocabulary, other shards (e.g. another draw of the same source).
    SameTokenizer,
    /// Another tokenizer, vocabulary or data: what differs, in words.
    Differ(String),
    /// Nothing to compare: neither side records the hashes.
    Unknown,
}

/// Compares what both sides record: tokenizer hash and vocabulary first (another tokenizer is
/// another loss scale), then the shards.
pub fn compare(a: &DataDir, b: &DataDir) -> Comparison {
    fn eq<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> Option<bool> {
        Some(a.as_ref()? == b.as_ref()?)
    }
    let tokenizer = eq(&a.tokenizer_sha256, &b.tokenizer_sha256);
    let vocab = eq(&a.vocab_size, &b.vocab_size);
    let train = eq(&a.train_sha256, &b.train_sha256);
    let val = eq(&a.val_sha256, &b.val_sha256);
    let mut differ = Vec::new();
    if tokenizer == Some(false) {
        differ.push("another tokenizer".to_string());
    }
    if vocab == Some(false) {
        differ.push(format!(
            "vocabulary {} vs {}",
            a.vocab_size.unwrap_or(0),
            b.vocab_size.unwrap_or(0)
        ));
    }
    if !differ.is_empty() {
        if train == Some(false) || val == Some(false) {
            differ.push("other shards".into());
        }
        return Comparison::Differ(differ.join(", "));
    }
    match (tokenizer, train, val) {
        (_, Some(true), Some(true)) => Comparison::Same,
        (Some(true), _, _) => Comparison::SameTokenizer,
        (None, Some(false), _) | (None, _, Some(false)) => {
            Comparison::Differ("other shards, and no tokenizer hash to compare".into())
        }
        _ => Comparison::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tok: &str, train: &str, vocab: u64) -> DataDir {
        DataDir {
            data_dir: Some(format!("/data/{tok}-{train}")),
            tokenizer_sha256: Some(tok.into()),
            train_sha256: Some(train.into()),
            val_sha256: Some(format!("v{train}")),
            vocab_size: Some(vocab),
            description: None,
        }
    }

    #[test]
    fn comparison_looks_at_tokenizer_vocabulary_then_shards() {
        let a = dir("t1", "s1", 1024);
        assert_eq!(compare(&a, &a.clone()), Comparison::Same);
        assert_eq!(
            compare(&a, &dir("t1", "s2", 1024)),
            Comparison::SameTokenizer
        );
        let Comparison::Differ(why) = compare(&a, &dir("t2", "s2", 1024)) else {
            panic!("another tokenizer differs")
        };
        assert_eq!(why, "another tokenizer, other shards");
        let Comparison::Differ(why) = compare(&a, &dir("t1", "s1", 8192)) else {
            panic!("another vocabulary differs")
        };
        assert!(why.contains("vocabulary 1024 vs 8192"), "{why}");
        assert_eq!(compare(&a, &DataDir::default()), Comparison::Unknown);
    }

    fn write_run(root: &Path, name: &str, data: Option<&Path>) -> PathBuf {
        let run = root.join(name);
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("summary.json"),
            r#"{"N": 1e6, "D": 2e7, "final_val_loss": 3.0, "status": "completed"}"#,
        )
        .unwrap();
        if let Some(d) = data {
            let cfg = format!("[data]\ndir = {:?}\n", d.display().to_string());
            std::fs::write(run.join("config.toml"), cfg).unwrap();
        }
        run
    }

    #[test]
    fn runs_record_their_data_directories() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(
            data.join("meta.json"),
            r#"{"vocab_size": 1024, "source": "synthetic: test",
                "hashes": {"tokenizer.json": "aa", "train.bin": "bb", "val.bin": "cc", "input:x": "dd"}}"#,
        )
        .unwrap();
        let runs = t.path().join("runs");
        write_run(&runs, "a", Some(&data));
        write_run(&runs, "b", Some(&data));
        let id = of_runs(std::slice::from_ref(&runs), &[]).unwrap();
        assert!(id.known, "{id:?}");
        assert_eq!(id.sources.len(), 1, "one directory, met twice");
        let s = &id.sources[0];
        assert_eq!(
            (s.tokenizer_sha256.as_deref(), s.train_sha256.as_deref()),
            (Some("aa"), Some("bb"))
        );
        assert_eq!(
            (s.vocab_size, s.val_sha256.as_deref()),
            (Some(1024), Some("cc"))
        );
        assert!(
            id.note.contains("2 run(s) trained on 1 data directory"),
            "{}",
            id.note
        );
        // A run without a config: the identity is unknown, and the note says why.
        write_run(&runs, "c", None);
        let id = of_runs(std::slice::from_ref(&runs), &[]).unwrap();
        assert!(!id.known);
        assert!(id.note.contains("unknown for 1 of 3") && id.note.contains("config.toml"));
        // ... unless the fit skipped that run.
        let skipped = [Skipped {
            run: runs.join("c").display().to_string(),
            reason: "test".into(),
        }];
        assert!(of_runs(&[runs], &skipped).unwrap().known);
        let csv = unknown_from_csv(Path::new("runs.csv"));
        assert!(!csv.known && csv.note.contains("data identity unknown"));
    }
}
