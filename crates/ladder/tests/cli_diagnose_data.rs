//! `ladder diagnose` knows when it cannot judge: a law and reference runs from other data (not
//! applicable unless `--allow-other-data`), a run far outside the runs the law was fitted on
//! (inconclusive), a law fitted from a CSV (no data identity: said so).
//!
//! Kept fast: the suspects are real tiny runs of a few dozen steps; the ladder is a 3 × 3 grid
//! of run directories written here (summary.json, metrics.jsonl and a config.toml naming the
//! synthetic data directory, as `ladder train` writes them) with losses on a known Chinchilla
//! surface, so that the law is tight and its ranges are known exactly.

mod cli_train_util;

use std::path::Path;

use cli_train_util::{ladder, ok};

use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// A few dozen KB of English-like text (a deterministic word salad) for `data prepare`.
fn text() -> String {
    const WORDS: &[&str] = &[
        "in",
        "the",
        "beginning",
        "was",
        "word",
        "and",
        "light",
        "darkness",
        "upon",
        "face",
        "of",
        "deep",
        "spirit",
        "moved",
        "waters",
        "said",
        "let",
        "there",
        "be",
        "he",
        "saw",
        "that",
        "it",
        "good",
        "divided",
        "called",
        "day",
        "night",
        "evening",
        "morning",
    ];
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut out = String::new();
    for i in 0..20000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out += WORDS[(x % WORDS.len() as u64) as usize];
        out += if i % 13 == 12 { ".\n" } else { " " };
    }
    out
}

/// `ladder train` of the tiny preset on one thread.
fn train(data: &Path, out: &Path, tokens: u64) {
    let t = format!("train.tokens={tokens}");
    ok(&[
        "train",
        "--data",
        s(data),
        "--out",
        s(out),
        "--preset",
        "tiny",
        "--set",
        "train.threads=1",
        "--set",
        &t,
        "--set",
        "eval.tokens=512",
        "--peak-gflops=100",
        "--quiet",
    ]);
}

/// The Chinchilla surface of the written ladder.
fn law(n: f64, d: f64) -> f64 {
    1.5 + 50.0 / n.powf(0.35) + 30.0 / d.powf(0.35)
}

/// A completed run directory as `ladder train` leaves it, at (N, D) with the surface's loss.
fn write_run(dir: &Path, n: f64, d: f64, data: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let loss = law(n, d);
    let summary = serde_json::json!({
        "status": "completed", "stop_reason": "tokens", "N": n, "D": d, "C": 6.0 * n * d,
        "final_train_loss": loss, "final_val_loss": loss, "threads": 1, "tok_per_s": 1000.0,
    });
    std::fs::write(dir.join("summary.json"), summary.to_string()).unwrap();
    let metrics: String = (1..=8)
        .map(|k| {
            let t = d * k as f64 / 8.0;
            format!(
                "{{\"step\":{k},\"tokens\":{t},\"lr\":0.001,\"loss\":{},\"grad_norm\":1.0,\"tok_per_s\":1000.0}}\n",
                law(n, t)
            )
        })
        .collect();
    std::fs::write(dir.join("metrics.jsonl"), metrics).unwrap();
    let config = format!(
        "[data]\ndir = {:?}\n[model]\nvocab_size = 1024\n[train]\ntokens = {d}\n",
        s(data)
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
}

/// `ladder diagnose RUN ARGS... --check`: (exit code, stdout, diagnosis.json).
fn diagnose(run: &Path, args: &[&str]) -> (Option<i32>, String, Value) {
    let mut a = vec!["diagnose", s(run), "--check", "--no-throughput"];
    a.extend(args);
    let o = ladder(&a);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    let d = json(&run.join("diagnosis.json"));
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        d,
    )
}

fn not_judged(d: &Value, check: &str) -> Option<String> {
    d["not_judged"]
        .as_array()?
        .iter()
        .find(|x| x["check"] == check)
        .and_then(|x| x["status"].as_str().map(String::from))
}

#[test]
fn diagnose_says_when_it_cannot_judge() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    // Two data sources: the synthetic one and a small text with its own tokenizer.
    let syn = root.join("syn");
    ok(&[
        "data",
        "synth",
        "--out",
        s(&syn),
        "--tokens",
        "80000",
        "--val-tokens",
        "8192",
    ]);
    let txt = root.join("genesis.txt");
    std::fs::write(&txt, text()).unwrap();
    let kjv = root.join("kjv");
    ok(&[
        "data",
        "prepare",
        "--input",
        s(&txt),
        "--out",
        s(&kjv),
        "--vocab-size",
        "300",
        "--val-fraction",
        "0.2",
    ]);

    // The suspects: one on each source inside the ladder, one at 10× its largest D.
    let runs = root.join("runs");
    let (same, other, far) = (runs.join("syn"), runs.join("kjv"), runs.join("far"));
    train(&syn, &same, 4096);
    train(&kjv, &other, 4096);
    train(&syn, &far, 40960);
    let n0 = json(&same.join("summary.json"))["N"].as_f64().unwrap();

    // The ladder on the synthetic source: N in [n0/2, 2 n0], D in [1024, 4096].
    let grid: Vec<(f64, f64)> = [0.5, 1.0, 2.0]
        .iter()
        .flat_map(|k| [1024.0, 2048.0, 4096.0].map(|d| (k * n0, d)))
        .collect();
    let lad = root.join("ladder");
    let mut csv = String::from("N,D,loss\n");
    for (i, (n, d)) in grid.iter().enumerate() {
        write_run(&lad.join(format!("r{i}")), *n, *d, &syn);
        csv += &format!("{n},{d},{}\n", law(*n, *d));
    }
    let fit = root.join("fit.json");
    let base = ["--law", "chinchilla", "--bootstrap", "50", "--out"];
    let mut args = vec!["fit", s(&lad)];
    args.extend(base);
    args.push(s(&fit));
    let table = ok(&args);
    assert!(
        table.contains("identity   9 run(s) trained on 1 data directory"),
        "{table}"
    );
    assert!(
        table.contains("fitted on  N [") && table.contains("D [1.024e3, 4.096e3]"),
        "{table}"
    );

    // fit.json carries the data identity of its runs and their ranges.
    let f = json(&fit);
    let meta = json(&syn.join("meta.json"));
    assert_eq!(f["data"]["known"], true, "{}", f["data"]);
    let src = &f["data"]["sources"][0];
    assert_eq!(src["data_dir"], s(&syn));
    assert_eq!(src["train_sha256"], meta["hashes"]["train.bin"]);
    assert_eq!(src["tokenizer_sha256"], meta["hashes"]["tokenizer.json"]);
    assert_eq!(src["vocab_size"], meta["vocab_size"]);
    assert_eq!(f["support"]["d"], serde_json::json!([1024.0, 4096.0]));
    assert_eq!(f["support"]["n"][1].as_f64(), Some(2.0 * n0));

    let law_ref = ["--law", s(&fit), "--reference", s(&lad)];

    // Same data: judged, and the evidence says the data match.
    let (_, out, d) = diagnose(&same, &law_ref);
    assert_eq!(d["law"]["judged"], true, "{d}");
    assert!(d["not_judged"].as_array().unwrap().is_empty(), "{d}");
    assert!(out.contains("the same data as the law's runs"), "{out}");
    assert_eq!(d["references"], 9);

    // Other data: neither the law nor the reference runs can judge; the message names both.
    let (code, out, d) = diagnose(&other, &law_ref);
    assert_eq!(
        not_judged(&d, "law").as_deref(),
        Some("not-applicable"),
        "{d}"
    );
    assert_eq!(
        not_judged(&d, "reference").as_deref(),
        Some("not-applicable"),
        "{d}"
    );
    assert_ne!(d["verdict"], "healthy", "{d}");
    assert!(d["law"].is_null(), "{d}");
    assert!(out.contains(s(&kjv)) && out.contains(s(&syn)), "{out}");
    if d["verdict"] == "inconclusive" {
        assert_eq!(code, Some(4), "{out}");
    }

    // ... unless the user insists: judged, and the output says the data differ.
    let mut insist = law_ref.to_vec();
    insist.push("--allow-other-data");
    let (_, out, d) = diagnose(&other, &insist);
    assert_eq!(d["law"]["judged"], true, "{d}");
    assert_eq!(d["other_data"], true);
    assert!(not_judged(&d, "law").is_none(), "{d}");
    assert!(out.contains("the data differ"), "{out}");
    assert_eq!(d["references"], 9);

    // 10× the ladder's largest D: the law check is inconclusive, and so is the verdict (the
    // run itself is healthy: the checks that need no law find nothing).
    let (code, out, d) = diagnose(&far, &["--law", s(&fit)]);
    assert_eq!(
        not_judged(&d, "law").as_deref(),
        Some("inconclusive"),
        "{d}"
    );
    assert_eq!(d["verdict"], "inconclusive", "{out}");
    assert_eq!(code, Some(4));
    assert!(
        (d["law"]["outside_decades"].as_f64().unwrap() - 1.0).abs() < 0.01,
        "{d}"
    );
    assert!(
        out.contains("far outside") && out.contains("INCONCLUSIVE"),
        "{out}"
    );
    for check in ["first-update", "initial-loss", "unchanged-weights"] {
        assert!(
            d["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["check"] == check),
            "the health checks still run: {check}"
        );
    }

    // A law fitted from a CSV has no data identity: the check could not be made, said so.
    let csv_path = root.join("ladder.csv");
    std::fs::write(&csv_path, csv).unwrap();
    let csv_fit = root.join("csv-fit.json");
    let mut args = vec!["fit", s(&csv_path)];
    args.extend(base);
    args.push(s(&csv_fit));
    ok(&args);
    let f = json(&csv_fit);
    assert_eq!(f["data"]["known"], false);
    assert!(f["data"]["note"]
        .as_str()
        .unwrap()
        .contains("data identity unknown"));
    let (_, out, d) = diagnose(&other, &["--law", s(&csv_fit)]);
    assert!(
        out.contains("data identity unknown: the check could not be made"),
        "{out}"
    );
    assert_eq!(d["law"]["judged"], true, "{d}");
}
