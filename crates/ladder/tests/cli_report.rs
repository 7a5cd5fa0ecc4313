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
