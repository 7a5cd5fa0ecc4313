//! End-to-end tests of `ladder compare`: two IsoFLOP ladders written as CSVs from planted
//! Chinchilla surfaces without a floor (frontier exponents 0.17 and 0.22), fitted by `ladder fit`
//! and compared from their fit.json files, and fitted on the fly from the CSVs.

mod cli_train_util;

use std::path::Path;

use cli_train_util::{fails, ok};
use ladder_laws::synth;

/// An IsoFLOP ladder CSV (5 budgets × 7 sizes, 0.5 % noise) on surface `p`.
fn write_csv(path: &Path, p: &[f64; 5], seed: u64) {
    let pts = synth::isoflop_points(p, &[1e17, 1e18, 1e19, 1e20, 1e21], 7, 1.5, 1.0, 0.005, seed);
    let mut s = String::from("N,D,loss\n");
    for i in 0..pts.len() {
        s += &format!("{},{},{}\n", pts.n[i], pts.d[i], pts.loss[i]);
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn compare_detects_a_steeper_ladder_and_prints_the_documented_json() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    write_csv(Path::new(&p("a.csv")), &[0.0, 400.0, 400.0, 0.34, 0.34], 1);
    write_csv(Path::new(&p("b.csv")), &[0.0, 400.0, 400.0, 0.44, 0.44], 2);
    for x in ["a", "b"] {
        ok(&[
            "fit",
            &p(&format!("{x}.csv")),
            "--law",
            "isoflop",
            "--bootstrap",
            "300",
            "--out",
            &p(&format!("{x}.json")),
        ]);
    }
    let out = ok(&["compare", &p("a.json"), &p("b.json"), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "compute_multiplier",
            "crossover",
            "exponent_difference",
            "law",
            "verdict"
        ]
    );
    assert_eq!(v["verdict"], "B scales better");
    let fr = v["exponent_difference"]["frontier"]["estimate"]
        .as_f64()
        .unwrap();
    assert!((fr - 0.05).abs() < 0.01, "{out}");
    // Default: A's loss at the largest compute its runs used.
    let at = v["compute_multiplier"]["at"]["compute"].as_f64().unwrap();
    assert!((at / 1e21 - 1.0).abs() < 1e-9, "{out}");
    let hi = v["compute_multiplier"]["ci95"][1].as_f64().unwrap();
    assert!(hi < 1.0, "{out}");

    // Reversed, from the CSVs fitted on the fly, as a table.
    let t = ok(&[
        "compare",
        &p("b.csv"),
        &p("a.csv"),
        "--law",
        "isoflop",
        "--bootstrap",
        "300",
    ]);
    assert!(t.contains("verdict: A scales better"), "{t}");

    // Different laws, and a fit without replicates, are refused with what to do.
    ok(&[
        "fit",
        &p("a.csv"),
        "--law",
        "isoflop",
        "--bootstrap",
        "0",
        "--out",
        &p("bare.json"),
    ]);
    let e = fails(&["compare", &p("a.json"), &p("bare.json")]);
    assert!(
        e.contains("fit B has 0 bootstrap replicate") && e.contains("--bootstrap"),
        "{e}"
    );
    let e = fails(&[
        "compare",
        &p("a.json"),
        &p("a.csv"),
        "--law",
        "chinchilla",
        "--bootstrap",
        "20",
    ]);
    assert!(e.contains("same law"), "{e}");
    let e = fails(&["compare", &p("a.json"), &p("b.json"), "--target-loss=-1"]);
    assert!(
        e.contains("--target-loss -1: must be a positive number"),
        "{e}"
    );
    // --compute and --target-loss name two different points: one at a time.
    let e = fails(&[
        "compare",
        &p("a.json"),
        &p("b.json"),
        "--compute",
        "1e21",
        "--target-loss",
        "2",
    ]);
    assert!(e.contains("cannot be used with"), "{e}");

    // The comparison page: the verdict, the exponent table and the figure files beside it.
    let out = ok(&[
        "report",
        "--compare",
        &p("a.json"),
        &p("b.json"),
        "--out",
        &p("cmp.html"),
    ]);
    assert!(out.contains("verdict: B scales better"), "{out}");
    let html = std::fs::read_to_string(p("cmp.html")).unwrap();
    assert!(
        html.contains("id=\"verdict\">B scales better<") && html.contains("<svg"),
        "page"
    );
    for f in ["cmp_files/compare.png", "cmp_files/compare.svg"] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
}
