//! `ladder report` from the command line: a ladder of run directories built from a known law
//! (no training; see crates/ladder-report/tests/support/fixture.rs) gives a page and valid
//! figure files, and bad input gives a clear message and a non-zero exit.

#[path = "../../ladder-report/tests/support/fixture.rs"]
mod fixture;

use std::path::Path;
use std::process::Command;

fn ladder() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ladder"))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn cli_report_writes_page_and_figures() {
    let t = tempfile::tempdir().unwrap();
    let sweep = t.path().join("sweep");
    let dirs = fixture::make_sweep(&sweep, &[1e13, 1e14], 4);
    fixture::write_diagnosis(&dirs[1], "suspicious", "lr-too-high", 3.2);
    let out = sweep.join("report.html");
    let o = ladder()
        .args(["report", s(&sweep), "--out", s(&out), "--bootstrap", "40"])
        .args(["--title", "Test <ladder>", "--threads", "1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("wrote") && stdout.contains("8 runs"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(
        html.contains("<title>Test &lt;ladder&gt;</title>"),
        "title is escaped"
    );
    assert!(html.contains("<span class=\"badge suspicious\">suspicious</span>"));
    let files = sweep.join("report_files");
    for stem in ["curves", "isoflop", "law", "residuals", "frontier"] {
        let png = std::fs::read(files.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png");
        let svg = std::fs::read_to_string(files.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("<svg"), "{stem}.svg");
        assert!(html.contains(&format!("report_files/{stem}.png")));
    }
    // The sweep's runs are still read as runs (the report's folder is not one).
    let o = ladder()
        .args(["report", s(&sweep), "--out", s(&out), "--bootstrap", "0"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn cli_report_errors_are_clear() {
    let t = tempfile::tempdir().unwrap();
    let empty = t.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = t.path().join("r.html");
    let o = ladder()
        .args(["report", s(&empty), "--out", s(&out)])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no run directories found"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let sweep = t.path().join("sweep");
    fixture::make_sweep(&sweep, &[1e13], 3);
    let fit = t.path().join("fit.json");
    std::fs::write(&fit, "{\"law\": \"chinchilla\"}").unwrap();
    let o = ladder()
        .args(["report", s(&sweep), "--out", s(&out), "--fit", s(&fit)])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("fit.json") && err.contains("version"), "{err}");
}

/// End to end on real runs: three tiny models trained for a few thousand tokens each (seconds on
/// one thread). Too few runs for either law, so the report must still be written, say why the
/// laws are missing, and show the runs' numbers exactly as their summary.json has them.
#[test]
fn cli_report_on_trained_tiny_runs() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    let o = ladder()
        .args(["data", "synth", "--out", s(&data), "--tokens", "200000"])
        .args(["--val-tokens", "16384"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let runs = t.path().join("runs");
    for width in ["32", "48", "64"] {
        let out = runs.join(format!("w{width}"));
        let o = ladder()
            .args([
                "train",
                "--data",
                s(&data),
                "--out",
                s(&out),
                "--preset",
                "tiny",
            ])
            .args(["--set", &format!("model.n_embd={width}")])
            .args(["--set", "train.tokens=8192", "--set", "train.threads=1"])
            .args(["--set", "eval.tokens=4096", "--set", "eval.every=8"])
            .args(["--peak-gflops=100", "--quiet"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let out = t.path().join("report.html");
    let o = ladder()
        .args(["report", s(&runs), "--out", s(&out), "--bootstrap", "20"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no chinchilla fit") && err.contains("no isoflop fit"),
        "{err}"
    );
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("report_files/curves.png"));
    assert!(
        html.contains("Chinchilla law (Approach 3"),
        "the notes say why"
    );
    for width in ["32", "48", "64"] {
        let summary: serde_json::Value = serde_json::from_slice(
            &std::fs::read(runs.join(format!("w{width}/summary.json"))).unwrap(),
        )
        .unwrap();
        let val = summary["final_val_loss"].as_f64().unwrap();
        assert!(
            html.contains(&format!("data-value=\"{val}\">{val:.4}</td>")),
            "w{width}: val loss {val} not in the table"
        );
        let n = summary["N"].as_f64().unwrap();
        assert!(
            html.contains(&format!("data-value=\"{n}\"")),
            "w{width}: N {n}"
        );
    }
}
