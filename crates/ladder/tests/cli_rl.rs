//! End-to-end tests of `ladder rl`: solve, a tiny training run, a tournament over its snapshots,
//! and the errors a user sees for bad input.

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

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn solve_prints_the_short_diagonal_on_4x4_and_reuses_its_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("hex4.solve");
    let cache_s = cache.to_str().unwrap();
    let o = ladder(&["rl", "solve", "--size", "4", "--cache", cache_s, "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["to_move_wins"], true);
    assert_eq!(
        v["winning_moves"],
        serde_json::json!(["d1", "c2", "b3", "a4"])
    );
    assert!(cache.exists());
    let o = ladder(&[
        "rl", "solve", "--size", "4", "--cache", cache_s, "--moves", "c2",
    ]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("white to move loses"), "{}", stdout(&o));
}

#[test]
fn train_then_tournament_writes_snapshots_and_an_elo_table() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("h3");
    let run_s = run.to_str().unwrap();
    let o = ladder(&[
        "rl",
        "train",
        "--size",
        "3",
        "--width",
        "8",
        "--depth",
        "1",
        "--iters",
        "2",
        "--games",
        "4",
        "--steps",
        "2",
        "--batch",
        "8",
        "--nodes",
        "4",
        "--snapshot-every",
        "1",
        "--out",
        run_s,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("train.json")).unwrap()).unwrap();
    assert_eq!(rec["iters"].as_array().unwrap().len(), 2);
    assert!(rec["iters"][1]["compute"]["train_flops"].as_u64().unwrap() > 0);
    let snap = run.join("snapshots/iter-000002.json");
    assert!(snap.exists());
    // Training into the same directory again is refused.
    let o = ladder(&["rl", "train", "--size", "3", "--out", run_s]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already holds"));

    let table = dir.path().join("elo.json");
    let snap_s = snap.to_str().unwrap();
    let snap0 = format!("{snap_s}@0");
    let o = ladder(&[
        "rl",
        "tournament",
        "--size",
        "3",
        "--agent",
        "solver",
        "--agent",
        snap_s,
        "--agent",
        &snap0,
        "--pairs",
        "3",
        "--bootstrap",
        "20",
        "--error-games",
        "5",
        "--out",
        table.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&table).unwrap()).unwrap();
    let elo = t["elo"].as_array().unwrap();
    assert_eq!(elo.len(), 4, "random is added as the anchor");
    let random = elo.iter().find(|e| e["name"] == "random").unwrap();
    assert_eq!(random["elo"], 0.0);
    let solver_err = &t["error_rates"][1];
    assert_eq!(solver_err["errors"], 0);
}

#[test]
fn bad_input_is_explained() {
    let cases: [(&[&str], &str); 5] = [
        (&["rl", "solve", "--size", "7"], "up to 5x5"),
        (
            &["rl", "solve", "--size", "3", "--moves", "d1"],
            "not a cell of a 3x3 board",
        ),
        (
            &["rl", "solve", "--size", "3", "--moves", "a1 a1"],
            "illegal move a1",
        ),
        (
            &["rl", "tournament", "--size", "3", "--agent", "nothing.json"],
            "agent 'nothing.json'",
        ),
        (
            &["rl", "train", "--size", "12", "--out", "/nonexistent/x"],
            "board size 12",
        ),
    ];
    for (args, want) in cases {
        let o = ladder(args);
        assert!(!o.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
