//! End-to-end tests of `ladder backtest` on a planted Chinchilla surface written as a CSV.

use std::path::Path;
use std::process::{Command, Output};

fn ladder(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(args)
        .output()
        .expect("run ladder");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked"),
        "ladder {args:?} panicked:\n{err}"
    );
    out
}

const PLANTED: (f64, f64, f64, f64, f64) = (1.69, 406.4, 410.7, 0.34, 0.28);

/// `(N_opt, loss at N_opt)` of the planted surface at compute `c` (C = 6·N·D).
fn planted_optimum(c: f64) -> (f64, f64) {
    let (e, a, b, alpha, beta) = PLANTED;
    let g = (alpha * a / (beta * b)).powf(1.0 / (alpha + beta));
    let n = g * (c / 6.0).powf(beta / (alpha + beta));
    let d = c / (6.0 * n);
    (n, e + a / n.powf(alpha) + b / d.powf(beta))
}

/// An IsoFLOP sweep of L = 1.69 + 406.4/N^0.34 + 410.7/D^0.28 (Hoffmann et al.): 5 budgets,
/// 9 sizes each over ±1.5 in ln N around N_opt, with a fixed pseudo-random ±0.2 % (uniform) as noise.
fn planted_csv(dir: &Path) -> String {
    let (e, a, b, alpha, beta) = PLANTED;
    let mut csv = String::from("N,D,loss\n");
    for (j, c) in [1e17f64, 1e18, 1e19, 1e20, 1e21].into_iter().enumerate() {
        let (n_opt, _) = planted_optimum(c);
        for k in 0..9 {
            let n = n_opt * (-1.5 + 3.0 * k as f64 / 8.0).exp();
            let d = c / (6.0 * n);
            // The classic shader hash: uniform-looking in [0, 1), fixed for (j, k).
            let h = ((12.9898 * k as f64 + 78.233 * j as f64).sin() * 43758.5453).rem_euclid(1.0);
            let noise = 1.0 + 0.004 * (h - 0.5);
            let loss = (e + a / n.powf(alpha) + b / d.powf(beta)) * noise;
            csv.push_str(&format!("{n:.6e},{d:.6e},{loss:.6}\n"));
        }
    }
    let p = dir.join("runs.csv");
    std::fs::write(&p, csv).unwrap();
    p.display().to_string()
}

#[test]
fn backtest_isoflop_prints_errors_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = planted_csv(tmp.path());
    let out = ladder(&["backtest", &csv, "--law", "isoflop", "--bootstrap", "200"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("best_loss") && table.contains("N_opt"),
        "{table}"
    );
    assert!(
        table.contains("truths inside their 95 % interval"),
        "{table}"
    );

    let json_path = tmp.path().join("bt.json");
    let out = ladder(&[
        "backtest",
        &csv,
        "--law",
        "isoflop",
        "--bootstrap",
        "200",
        "--json",
        "--out",
        json_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(v, file);
    assert_eq!(v["law"], "isoflop");
    assert_eq!(v["vertex"], "local");
    assert_eq!(v["holdout_top"], 1);
    assert_eq!(v["fit_budgets"].as_array().unwrap().len(), 4);
    let checks = v["heldout"][0]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    // The planted surface's own optimum at C = 1e21 lies inside each 95 % interval.
    let (n_opt, l_opt) = planted_optimum(1e21);
    for (c, truth) in checks.iter().zip([l_opt, n_opt]) {
        let ci = &c["prediction_interval"];
        let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
        assert!(lo <= truth && truth <= hi, "planted {truth} outside {c}");
        // Errors against the held-out runs are reported both ways, with the verdict.
        let (p, a) = (
            c["predicted"].as_f64().unwrap(),
            c["actual"].as_f64().unwrap(),
        );
        assert_eq!(c["inside"], lo <= a && a <= hi, "{c}");
        assert!(c["error_pct"].as_f64().unwrap().abs() < 20.0, "{c}");
        assert!((c["error"].as_f64().unwrap() - (p - a)).abs() < 1e-9);
        assert!((c["error_pct"].as_f64().unwrap() - 100.0 * (p - a) / a).abs() < 1e-9);
    }
}

#[test]
fn backtest_refuses_a_holdout_that_leaves_too_few_budgets() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = planted_csv(tmp.path());
    let out = ladder(&[
        "backtest",
        &csv,
        "--law",
        "chinchilla",
        "--holdout-top",
        "4",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--holdout-top 4 leaves 1 of 5 compute budget(s)")
            && err.contains("chinchilla needs at least 2")
            && err.contains("--holdout-top <= 3"),
        "{err}"
    );
    let out = ladder(&["backtest", &csv, "--holdout-top", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--holdout-top = 0"));
}
