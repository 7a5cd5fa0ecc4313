//! Helpers shared by the CLI tests (`cli_train*.rs`, `cli_fault.rs`, `cli_compare.rs`, ...): run the binary, fresh temp paths, the synthetic
//! data directory and a small trained run (each made once per test binary).

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// A declared peak skips the GEMM probe in runs whose MFU nobody checks.
pub const PEAK: &str = "--peak-gflops=100";

/// Runs ladder; whatever its exit, it must not panic (bad input gets a message, not a backtrace).
pub fn ladder<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(args)
        .output()
        .expect("run the ladder binary");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked"),
        "ladder {} panicked:\n{err}",
        show(args)
    );
    out
}

fn show<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let v: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
    v.join(" ")
}

/// Runs ladder and returns stdout; panics with stderr when it fails.
pub fn ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = ladder(args);
    assert!(
        out.status.success(),
        "ladder {} failed ({}):\n{}",
        show(args),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs ladder, asserts a non-zero exit, returns stderr.
pub fn fails<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = ladder(args);
    assert!(
        !out.status.success(),
        "ladder {} should have failed",
        show(args)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `train --data DATA --out RUN --preset tiny`, then `--set` for each of `sets`, then `extra`.
pub fn train_args(data: &Path, run: &Path, sets: &[&str], extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "train",
        "--data",
        s(data),
        "--out",
        s(run),
        "--preset",
        "tiny",
    ]
    .map(String::from)
    .to_vec();
    for kv in sets {
        a.push("--set".into());
        a.push(kv.to_string());
    }
    a.extend(extra.iter().map(|x| x.to_string()));
    a
}

/// A fresh path under the test target's temp dir (whatever was there is removed).
pub fn fresh(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli_train")
        .join(name);
    if p.is_dir() {
        std::fs::remove_dir_all(&p).unwrap();
    } else if p.exists() {
        std::fs::remove_file(&p).unwrap();
    }
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    p
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 300k training tokens of the synthetic source (vocab 1024), made once per test binary.
pub fn synth() -> &'static Path {
    static DATA: OnceLock<PathBuf> = OnceLock::new();
    DATA.get_or_init(|| {
        let d = fresh(&format!("synth-{}", module_path!().replace("::", "-")));
        ok(&[
            "data",
            "synth",
            "--out",
            s(&d),
            "--tokens",
            "300000",
            "--val-tokens",
            "32768",
            "--quiet",
        ]);
        d
    })
}

/// A trained tiny run: 30 steps, evaluation every 10 on 4096 tokens (16 batches of 4 × 64), the
/// final one included, made once per test binary.
pub fn tiny_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = fresh("tiny-run");
        let sets = [
            "train.steps=30",
            "train.warmup_steps=5",
            "eval.every=10",
            "eval.tokens=4096",
            "eval.final_tokens=4096",
            "train.threads=2",
        ];
        ok(&train_args(synth(), &run, &sets, &["--quiet", PEAK]));
        run
    })
}

pub fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn metrics(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Mean of a metric over some records.
pub fn mean(rs: &[Value], key: &str) -> f64 {
    rs.iter().map(|r| r[key].as_f64().unwrap()).sum::<f64>() / rs.len() as f64
}

/// The data directory's vocabulary size.
pub fn vocab(data: &Path) -> u64 {
    json(&data.join("meta.json"))["vocab_size"]
        .as_u64()
        .unwrap()
}
