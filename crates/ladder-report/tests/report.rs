//! `write_report` on ladders built from a known law (tests/fixture.rs): every plot is
//! referenced and valid, the run table matches summary.json, diagnosis shows when there is one,
//! and bad input gives clear errors.

#[path = "support/fixture.rs"]
mod fixture;

use std::path::Path;

use ladder_report::{write_report, Error, ReportOptions};

const BUDGETS: [f64; 3] = [1e13, 3e13, 1e14];

fn opts() -> ReportOptions {
    ReportOptions {
        // Few replicates: the tests check the report, not the intervals.
        bootstrap: 40,
        ..ReportOptions::default()
    }
}

/// Width and height from a PNG's IHDR, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 1000, "PNG too small: {} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20))
}

/// Every `NAME_files/...` link in the page.
fn links(html: &str, dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let needle = format!("href=\"{dir}/");
    let mut rest = html;
    while let Some(i) = rest.find(&needle) {
        let tail = &rest[i + needle.len()..];
        let end = tail.find('"').unwrap();
        out.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// The `data-value` numbers of the run table's row for `name`.
fn row_values(html: &str, name: &str) -> Vec<f64> {
    let start = html
        .find(&format!("<tr data-run=\"{name}\""))
        .unwrap_or_else(|| panic!("no table row for {name}"));
    let row = &html[start..start + html[start..].find("</tr>").unwrap()];
    row.split("data-value=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect()
}

#[test]
fn report_references_every_plot_and_every_plot_is_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tmp.path().join("sweep");
    fixture::make_sweep(&sweep, &BUDGETS, 5);
    let out = tmp.path().join("out/report.html");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let r = write_report(&sweep, &out, &opts()).unwrap();
    assert_eq!(r.runs, 15);
    assert!(r.unavailable.is_empty(), "{:?}", r.unavailable);
    let html = std::fs::read_to_string(&out).unwrap();
    let linked = links(&html, "report_files");
    for stem in ["curves", "isoflop", "law", "residuals", "frontier"] {
        for ext in ["png", "svg"] {
            let f = format!("{stem}.{ext}");
            assert!(linked.contains(&f), "page does not link {f}");
        }
        assert!(
            html.contains(&format!("id=\"fig-{stem}\"")),
            "no figure {stem}"
        );
    }
    // Every file in report_files/ is linked, and every link is a valid image.
    let mut files: Vec<String> = std::fs::read_dir(&r.files_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut sorted = linked.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(files, sorted);
    for f in &linked {
        let bytes = std::fs::read(r.files_dir.join(f)).unwrap();
        if f.ends_with(".png") {
            let (w, h) = png_size(&bytes);
            assert_eq!(w, 1040, "{f}");
            assert!(h == 600 || h == 460, "{f}: height {h}");
        } else {
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.starts_with("<svg") && text.contains("</svg>"), "{f}");
            assert!(text.contains("<text"), "{f}: no text in the SVG");
        }
    }
    // The page stands alone: each figure is inline too.
    assert_eq!(html.matches("<svg ").count(), 5);
    // The law fitted here recovers the truth's exponents roughly, and the page says so.
    assert!(html.contains("irreducible loss E"));
    assert!(html.contains("fitted here on 15 runs"));
    // Same input, same bytes.
    let again = tmp.path().join("out/again.html");
    write_report(&sweep, &again, &opts()).unwrap();
    let html2 = std::fs::read_to_string(&again).unwrap();
    assert_eq!(
        html.replace("report_files", "X"),
        html2.replace("again_files", "X")
    );
}

#[test]
fn report_table_numbers_match_summary_json() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tmp.path().join("sweep");
    let dirs = fixture::make_sweep(&sweep, &BUDGETS[..1], 4);
    // One diverged run: shown in the table with its status, left out of the fits.
    fixture::write_run(&sweep.join("runs/zz-diverged"), 3e5, 5e6, None, 30);
    let out = tmp.path().join("report.html");
    let r = write_report(&sweep, &out, &opts()).unwrap();
    assert_eq!(r.runs, 5);
    let html = std::fs::read_to_string(&out).unwrap();
    for dir in &dirs {
        let s: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
        let name = dir.file_name().unwrap().to_str().unwrap();
        let v = row_values(&html, name);
        let f = |k: &str| s[k].as_f64().unwrap();
        // Columns: N, D, C, D/N, final train loss, val loss, law, residual.
        assert_eq!(v[0], f("N"), "{name} N");
        assert_eq!(v[1], f("D"), "{name} D");
        assert_eq!(v[2], f("C"), "{name} C");
        assert_eq!(v[4], f("final_train_loss"), "{name} train loss");
        assert_eq!(v[5], f("final_val_loss"), "{name} val loss");
        // The shown text rounds the same number.
        assert!(html.contains(&format!(">{:.4}</td>", f("final_val_loss"))));
    }
    let v = row_values(&html, "zz-diverged");
    assert_eq!(v[0], 300000.0);
    assert!(html.contains("<span class=\"badge diverged\">diverged</span>"));
    assert!(html.contains("Left out of the fits here: <code>zz-diverged</code> (status diverged)"));
    // One budget: no frontier interval to speak of, but the IsoFLOP law needs 2 budgets.
    assert!(
        r.unavailable.iter().any(|(law, _)| law == "isoflop"),
        "{:?}",
        r.unavailable
    );
}

#[test]
fn report_shows_diagnosis_when_a_run_has_diagnosis_json() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tmp.path().join("sweep");
    let dirs = fixture::make_sweep(&sweep, &BUDGETS[..2], 4);
    let out = tmp.path().join("report.html");
    // No diagnosis.json, no highlight: no diagnosis section.
    write_report(&sweep, &out, &opts()).unwrap();
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(!html.contains("id=\"diagnosis\""));

    let suspect = &dirs[2];
    fixture::write_diagnosis(suspect, "broken", "target-leakage", 2.71);
    let big = tmp.path().join("big-run");
    fixture::write_run(&big, 3e6, 2e8, Some(2.9), 40);
    let o = ReportOptions {
        diagnose: vec![big.clone()],
        highlight: vec![dirs[0].file_name().unwrap().to_string_lossy().into_owned()],
        ..opts()
    };
    let r = write_report(&sweep, &out, &o).unwrap();
    let html = std::fs::read_to_string(&out).unwrap();
    let name = suspect.file_name().unwrap().to_str().unwrap();
    assert!(html.contains("id=\"diagnosis\""));
    assert!(html.contains(&format!("id=\"diag-{name}\"")));
    assert!(html.contains("<span class=\"badge broken\">broken</span>"));
    assert!(html.contains("most likely cause: <b>target-leakage</b>"));
    assert!(
        html.contains("9.4 sigma below the law"),
        "findings are listed"
    );
    assert!(html.contains("z = -9.4"));
    // Its figure, the highlighted run's and the --diagnose run's.
    for stem in [
        format!("run_{name}"),
        format!("run_{}", dirs[0].file_name().unwrap().to_str().unwrap()),
        "run_big-run".to_string(),
    ] {
        let png = std::fs::read(r.files_dir.join(format!("{stem}.png"))).unwrap();
        assert_eq!(png_size(&png), (1040, 460));
        assert!(html.contains(&format!("report_files/{stem}.svg")), "{stem}");
    }
    assert!(html.contains("id=\"diag-big-run\""));
    // A broken run is kept out of the fits made here.
    assert!(html.contains(&format!("<code>{name}</code> (diagnosed broken)")));

    // An inconclusive diagnosis: the card says which checks could not judge, and why.
    let other = &dirs[1];
    let text = serde_json::json!({
        "run": other.display().to_string(), "verdict": "inconclusive", "cause": null,
        "law": null, "references": 0, "other_data": false,
        "not_judged": [
            {"check": "law", "status": "not-applicable", "message": "the run was trained on data/kjv but the law on data/syn"},
            {"check": "reference", "status": "not-applicable", "message": "4 of 4 reference runs were trained on data/syn"}
        ],
        "findings": [], "layers": []
    });
    std::fs::write(other.join("diagnosis.json"), text.to_string()).unwrap();
    write_report(&sweep, &out, &opts()).unwrap();
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("<span class=\"badge inconclusive\">inconclusive</span>"));
    assert!(
        html.contains("<b>Could not judge:</b>"),
        "the card lists them"
    );
    assert!(html.contains("<code>law</code> check not applicable: the run was trained on data/kjv"));
    assert!(html.contains("<code>reference</code> check not applicable"));
}

#[test]
fn report_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report.html");
    // No run directories at all.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = write_report(&empty, &out, &opts()).unwrap_err();
    assert!(matches!(e, Error::NoRuns { .. }));
    assert!(e.to_string().contains("no run directories found"), "{e}");
    assert!(!out.exists(), "no page for a failed report");
    // Run directories, none usable.
    let bad = tmp.path().join("bad/runs/r1");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("summary.json"), "{\"status\": \"failed\"}").unwrap();
    let e = write_report(&tmp.path().join("bad"), &out, &opts()).unwrap_err();
    assert!(
        e.to_string().contains("no usable runs") && e.to_string().contains("`N`"),
        "{e}"
    );
    // Missing input.
    let e = write_report(Path::new("no/such/sweep"), &out, &opts()).unwrap_err();
    assert!(e.to_string().contains("no/such/sweep"), "{e}");
    // An unreadable fit.json.
    let sweep = tmp.path().join("sweep");
    fixture::make_sweep(&sweep, &BUDGETS[..1], 3);
    let fit = tmp.path().join("fit.json");
    std::fs::write(&fit, "not json").unwrap();
    let o = ReportOptions {
        fits: vec![fit.clone()],
        ..opts()
    };
    let e = write_report(&sweep, &out, &o).unwrap_err();
    assert!(matches!(e, Error::Fit { .. }), "{e:?}");
    assert!(
        e.to_string().contains("fit.json") && e.to_string().contains("ladder fit"),
        "{e}"
    );
    // An unknown highlight names the runs there are.
    let o = ReportOptions {
        highlight: vec!["nope".to_string()],
        ..opts()
    };
    let e = write_report(&sweep, &out, &o).unwrap_err().to_string();
    assert!(
        e.contains("--highlight nope") && e.contains("c1e13-n0"),
        "{e}"
    );
}

#[test]
fn report_uses_a_given_fit_json() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tmp.path().join("sweep");
    fixture::make_sweep(&sweep, &BUDGETS, 4);
    let pts = ladder_laws::runs::run_points(std::slice::from_ref(&sweep)).unwrap();
    let opts_fit = ladder_laws::FitOptions::default()
        .with_bootstrap(30)
        .unwrap();
    let fit = ladder_laws::chinchilla::fit(&pts, &opts_fit).unwrap();
    let path = tmp.path().join("fit.json");
    fit.save(&path).unwrap();
    let out = tmp.path().join("report.html");
    let o = ReportOptions {
        fits: vec![path.clone()],
        bootstrap: 0,
        ..ReportOptions::default()
    };
    write_report(&sweep, &out, &o).unwrap();
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains(&format!("read from <code>{}</code>", path.display())));
    let e = fit.param("E").unwrap();
    assert!(html.contains(&format!("{e:.3}")));
}

#[test]
fn report_shows_residuals_by_shape_and_a_backtest() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tmp.path().join("sweep");
    let dirs = fixture::make_sweep(&sweep, &BUDGETS, 5);
    // Mixed shapes: every other run one layer deeper and narrower.
    for (i, d) in dirs.iter().enumerate() {
        let (layers, width) = if i % 2 == 0 { (2, 64) } else { (3, 48) };
        std::fs::write(
            d.join("config.toml"),
            format!("[model]\nn_layer = {layers}\nn_embd = {width}\n"),
        )
        .unwrap();
    }
    let out = tmp.path().join("report.html");
    let r = write_report(&sweep, &out, &opts()).unwrap();
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("id=\"fig-shape\""), "no shape figure");
    assert!(r.files_dir.join("shape.svg").is_file());
    let svg = std::fs::read_to_string(r.files_dir.join("shape.svg")).unwrap();
    assert!(svg.contains("n_layer = 2 (8 runs") && svg.contains("n_layer = 3 (7 runs"));
    // Three budgets: the backtests run here, holding out the largest.
    assert!(html.contains("<section id=\"backtest\">"));
    assert!(html.contains("Run by this report"));
    assert!(html.contains("best_loss") && html.contains("N_opt"));

    // A backtest.json in the input is shown instead.
    let points = ladder_laws::backtest::load_points(std::slice::from_ref(&sweep)).unwrap();
    let opts_bt = ladder_laws::FitOptions::default()
        .with_bootstrap(40)
        .unwrap();
    let bt = ladder_laws::backtest::backtest(&points, ladder_laws::LawKind::Isoflop, 1, &opts_bt)
        .unwrap();
    std::fs::write(sweep.join("backtest.json"), bt.to_json()).unwrap();
    write_report(&sweep, &out, &opts()).unwrap();
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("Read from <code>"), "backtest.json not used");
    assert!(html.contains("backtest.json"));
}

/// A law the report fits itself is the law `ladder fit` writes for the same runs: weighted by the
/// runs' standard errors (here 10× apart between neighbours), not by equal weights.
#[test]
fn report_fits_the_points_ladder_fit_fits() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tmp.path().join("sweep");
    let dirs = fixture::make_sweep(&sweep, &BUDGETS, 4);
    for (i, dir) in dirs.iter().enumerate() {
        let path = dir.join("summary.json");
        let mut sum: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let se = if i % 2 == 0 { 0.002 } else { 0.02 };
        sum["final_val_loss_se"] = serde_json::json!(se);
        std::fs::write(&path, serde_json::to_string_pretty(&sum).unwrap()).unwrap();
    }
    let pts = ladder_laws::runs::run_points(std::slice::from_ref(&sweep)).unwrap();
    assert!(pts.se.is_some());
    let opts = ladder_laws::FitOptions::default()
        .with_bootstrap(20)
        .unwrap()
        .with_seed(3);
    let want = ladder_laws::chinchilla::fit(&pts, &opts).unwrap();
    let runs = ladder_report::runs::load_runs(&sweep).unwrap().runs;
    let laws = ladder_report::fits::laws(&runs, &sweep, &[], 20, 3).unwrap();
    let got = laws.chinchilla.fit().expect("a Chinchilla fit");
    // The same points in another order: equal to the optimizer's tolerance, not to the bit.
    let mut unweighted = pts.clone();
    unweighted.se = None;
    unweighted.common_se = None;
    let plain = ladder_laws::chinchilla::fit(&unweighted, &opts).unwrap();
    for name in ["E", "A", "B", "alpha", "beta"] {
        let (g, w, p) = (
            got.param(name).unwrap(),
            want.param(name).unwrap(),
            plain.param(name).unwrap(),
        );
        assert!(
            (g - w).abs() <= 1e-6 * w.abs(),
            "{name}: report {g} vs fit {w}"
        );
        assert!(
            (p - w).abs() > 1e-4 * w.abs(),
            "{name}: weighting changed nothing ({p} vs {w})"
        );
    }
    assert!(got.fit.weighted && !plain.fit.weighted);
}
