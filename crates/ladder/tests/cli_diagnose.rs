//! `ladder diagnose` on planted bugs (issue "diagnose"): a tiny reference ladder on synthetic
//! data is trained and fitted once; every planted bug must be named as broken or suspicious with
//! its cause class, and healthy runs with five other seeds must be healthy (no false alarms).

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn ladder() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ladder"))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Runs the commands two at a time (CI has two cores; each trainer uses one thread).
fn run_all(mut cmds: Vec<Command>) {
    let mut running: Vec<(Child, String)> = Vec::new();
    let wait = |(c, what): (Child, String)| {
        let out = c.wait_with_output().expect("wait for ladder");
        assert!(
            out.status.success(),
            "{what} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for mut cmd in cmds.drain(..) {
        if running.len() == 2 {
            wait(running.remove(0));
        }
        let what = format!("{cmd:?}");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ladder");
        running.push((child, what));
    }
    running.into_iter().for_each(wait);
}

/// `ladder train` of the tiny preset on one thread, quietly.
fn train(data: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = ladder();
    c.args([
        "train",
        "--data",
        s(data),
        "--out",
        s(out),
        "--preset",
        "tiny",
    ])
    .args(["--set", "train.threads=1", "--set", "eval.tokens=16384"])
    .args(["--peak-gflops=100", "--quiet"])
    .args(extra);
    c
}

const BUGS: [(&str, &str); 7] = [
    ("causal-leak", "target-leakage"),
    ("stale-grad", "optimizer-state-bug"),
    ("bad-init", "bad-initialisation"),
    ("no-bias-correction", "optimizer-state-bug"),
    ("bf16-weights", "precision-loss"),
    ("lr-x30", "lr-too-high"),
    ("repeat-data", "data-repetition"),
];

#[test]
fn planted_bugs_are_named_and_healthy_seeds_pass() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let o = ladder()
        .args(["data", "synth", "--out", s(&data), "--tokens", "1000000"])
        .args(["--val-tokens", "65536"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The reference ladder: 4 widths × 2 token budgets, then a Chinchilla fit through it.
    let ladder_dir = t.path().join("ladder");
    let mut cmds = Vec::new();
    for width in ["32", "48", "64", "96"] {
        for tokens in ["60000", "120000"] {
            let out = ladder_dir.join(format!("e{width}-t{tokens}"));
            let w = format!("model.n_embd={width}");
            let d = format!("train.tokens={tokens}");
            cmds.push(train(&data, &out, &["--set", &w, "--set", &d]));
        }
    }
    // Suspects at the ladder's 64-wide, 120k-token point: five healthy seeds and the bugs.
    let runs = t.path().join("runs");
    let at = ["--set", "train.tokens=120000"];
    for seed in 1..=5 {
        let set = format!("train.seed={seed}");
        let mut args = at.to_vec();
        args.extend(["--set", &set]);
        cmds.push(train(&data, &runs.join(format!("seed{seed}")), &args));
    }
    for (bug, _) in BUGS {
        let mut args = at.to_vec();
        args.extend(["--debug-bug", bug]);
        cmds.push(train(&data, &runs.join(bug), &args));
    }
    run_all(cmds);
    let fit = ladder_dir.join("fit.json");
    let o = ladder()
        .args([
            "fit",
            s(&ladder_dir),
            "--law",
            "chinchilla",
            "--bootstrap",
            "100",
        ])
        .args(["--out", s(&fit)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let diagnose = |run: &Path| -> Value {
        let o = ladder()
            .args([
                "diagnose",
                s(run),
                "--law",
                s(&fit),
                "--reference",
                s(&ladder_dir),
            ])
            .arg("--check")
            // Tests run next to other work: tokens/s is not the run's property here.
            .arg("--no-throughput")
            .output()
            .unwrap();
        let verdict: Value =
            serde_json::from_slice(&std::fs::read(run.join("diagnosis.json")).unwrap()).unwrap();
        // --check: 0 healthy, 2 suspicious, 3 broken.
        let want = match verdict["verdict"].as_str() {
            Some("healthy") => 0,
            Some("suspicious") => 2,
            _ => 3,
        };
        assert_eq!(
            o.status.code(),
            Some(want),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stdout).contains("evidence:"));
        // The numbers behind docs/diagnose.md's thresholds (`--nocapture` shows them).
        eprintln!(
            "{}: {} {} law {}",
            run.display(),
            verdict["verdict"],
            verdict["cause"],
            verdict["law"]
        );
        verdict
    };
    let mut failures = Vec::new();
    for seed in 1..=5 {
        let d = diagnose(&runs.join(format!("seed{seed}")));
        if d["verdict"] != "healthy" {
            failures.push(format!("healthy seed {seed} judged {}", d));
        }
        assert!(
            d["law"]["z"].as_f64().is_some(),
            "compared with the law: {d}"
        );
    }
    for (bug, cause) in BUGS {
        let d = diagnose(&runs.join(bug));
        let bad = d["verdict"] == "broken" || d["verdict"] == "suspicious";
        if !bad || d["cause"] != cause {
            failures.push(format!("{bug}: want {cause}, got {d}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn bad_arguments_get_clear_errors() {
    let t = tempfile::tempdir().unwrap();
    let o = ladder()
        .args(["diagnose", s(&t.path().join("missing"))])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not a finished run directory"), "{err}");
    assert!(!err.contains("panicked"));

    let o = ladder()
        .args([
            "train",
            "--out",
            s(&t.path().join("r")),
            "--debug-bug",
            "nope",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("unknown planted bug `nope`"),
        "{err}"
    );
}
