//! End-to-end tests of the hyper-parameter workflow (issue 15) through the binary: `sweep plan
//! --grid` (the table, names, bad grids), `fit --law hparams` from a CSV and from run
//! directories (lr and batch read from each run's config.toml), and `suggest` writing a config
//! that `ladder train --config` trains. No sweep is trained: the runs are written from a planted
//! surface, and the one training run is a few steps of a tiny model.

mod cli_train_util;

use std::path::Path;

use cli_train_util::*;
use ladder_laws::synth::{hparam_points, HparamSurface};

fn surface() -> HparamSurface {
    HparamSurface {
        p: [0.3118, -0.125, 0.292, 0.3271],
        curv_lr: 0.02,
        curv_batch: 0.01,
        skew_lr: 0.0,
    }
}

const BUDGETS: [f64; 4] = [1e17, 1e18, 1e19, 1e20];
const OFFSETS: [(f64, f64); 4] = [(0.3, -0.2), (-0.4, 0.1), (0.1, 0.4), (-0.2, -0.3)];

fn write_csv(path: &Path) {
    let p = hparam_points(&surface(), &BUDGETS, (7, 5), &OFFSETS, 0.002, true, 5);
    let mut t = String::from("C,lr,batch_tokens,loss,loss_se\n");
    for i in 0..p.len() {
        t += &format!(
            "{:e},{:e},{:e},{},{}\n",
            p.c[i],
            p.lr[i],
            p.batch_tokens[i],
            p.loss[i],
            p.se.as_ref().unwrap()[i]
        );
    }
    std::fs::write(path, t).unwrap();
}

#[test]
fn sweep_plan_grid_prints_the_grid_table_and_refuses_bad_grids() {
    let sweep = fresh("hp-plan");
    let base = [
        "sweep",
        "plan",
        "--data",
        s(synth()),
        "--budgets",
        "1e11,1e12",
        "--set",
        "train.batch_size=8",
        "--est-gflops",
        "20",
    ];
    let mut a = base.to_vec();
    a.extend(["--grid", "lr=1e-3:1e-2:3,batch=4:16:3", "--out", s(&sweep)]);
    let table = ok(&a);
    assert!(
        table.contains("grid lr=1e-3:1e-2:3,batch=4:16:3"),
        "{table}"
    );
    assert!(
        table.contains("batch") && table.contains("3.160e-3"),
        "{table}"
    );
    // One size per budget by default with a grid: 2 budgets × 9 points.
    assert!(table.contains("18 runs,"), "{table}");
    assert!(table.contains("-lr3.16e-3-b16"), "{table}");
    let plan = std::fs::read_to_string(sweep.join("sweep.toml")).unwrap();
    assert!(plan.contains("\"train.batch_size\" = 4"), "{plan}");
    for (grid, says) in [
        ("lr=3e-3:3e-3:1", "at least 2 values"),
        ("lr=-1e-3:1e-2:3", "must be > 0"),
        ("momentum=0.8:0.9:2", "not a grid axis"),
    ] {
        let mut a = base.to_vec();
        let out = fresh("hp-plan-bad");
        a.extend(["--grid", grid, "--out", s(&out)]);
        let e = fails(&a);
        assert!(e.contains(says), "{grid}: {e}");
        assert!(!out.join("sweep.toml").exists());
    }
}

#[test]
fn fit_hparams_from_a_csv_then_suggest_writes_a_config_that_trains() {
    let dir = fresh("hp-fit");
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("hp.csv");
    write_csv(&csv);
    let hp = dir.join("hp.json");
    let table = ok(&[
        "fit",
        s(&csv),
        "--law",
        "hparams",
        "--bootstrap",
        "100",
        "--compute",
        "1e21",
        "--out",
        s(&hp),
    ]);
    for want in [
        "law        hparams",
        "eta0",
        "k ",
        "B0",
        "eta_opt",
        "lost lr",
        "used",
    ] {
        assert!(table.contains(want), "{want}: {table}");
    }
    let f = json(&hp);
    assert_eq!(f["law"], "hparams");
    // The file keeps the law's order; serde_json's map here sorts them.
    let text = std::fs::read_to_string(&hp).unwrap();
    let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
    assert!(at("eta0") < at("k") && at("k") < at("B0") && at("B0") < at("m"));
    let k = f["params"]["k"].as_f64().unwrap();
    assert!((k + 0.125).abs() < 0.02, "k {k}");
    let budgets = f["derived"]["budgets"].as_array().unwrap();
    assert_eq!(budgets.len(), 5);
    assert!(budgets[0]["hparams"]["eta_opt"].as_f64().unwrap() > 0.0);
    assert_eq!(budgets[4]["kind"], "law");

    // A CSV without lr: refused, naming the column.
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "C,batch_tokens,loss\n1e17,4096,3.1\n").unwrap();
    let e = fails(&["fit", s(&bad), "--law", "hparams"]);
    assert!(e.contains("`lr`"), "{e}");

    // suggest: lr and batch fitted, the model the preset's (marked default); the TOML trains.
    let toml = dir.join("run.toml");
    let out = ok(&[
        "suggest",
        "--compute",
        "3e9",
        "--hparams",
        s(&hp),
        "--out",
        s(&toml),
    ]);
    assert!(out.contains("fitted") && out.contains("default:"), "{out}");
    let cfg = std::fs::read_to_string(&toml).unwrap();
    let want_lr = 0.3118 * 3e9f64.powf(-0.125);
    let lr: f64 = cfg
        .lines()
        .find_map(|l| l.strip_prefix("lr = "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((lr / want_lr).ln().abs() < 0.1, "lr {lr} vs {want_lr}");
    let run = fresh("hp-suggested-run");
    ok(&[
        "train",
        "--config",
        s(&toml),
        "--data",
        s(synth()),
        "--out",
        s(&run),
        "--set",
        "train.steps=3",
        "--set",
        "eval.tokens=1024",
        "--set",
        "eval.final_tokens=1024",
        "--quiet",
    ]);
    assert_eq!(json(&run.join("summary.json"))["status"], "completed");
    // An hparams fit is not an allocation fit.
    let e = fails(&["suggest", "--compute", "3e9", "--fit", s(&hp)]);
    assert!(e.contains("hparams"), "{e}");
}

#[test]
fn fit_hparams_reads_lr_and_batch_from_run_directories() {
    // Run directories as `ladder train` leaves them: summary.json and the resolved config.toml.
    let sweep = fresh("hp-runs");
    let p = hparam_points(&surface(), &BUDGETS[..3], (5, 5), &OFFSETS, 0.0, false, 0);
    let seq_len = 64.0;
    for i in 0..p.len() {
        let run = sweep.join("runs").join(format!("r{i}"));
        std::fs::create_dir_all(&run).unwrap();
        // Batches of whole sequences: the planted grid's batch / 64, rounded.
        let batch = (p.batch_tokens[i] / seq_len).round().max(1.0);
        let n = 1e6;
        let summary = serde_json::json!({
            "status": "completed",
            "N": n,
            "D": p.c[i] / (6.0 * n),
            "C": p.c[i],
            "final_val_loss": p.loss[i],
        });
        std::fs::write(run.join("summary.json"), summary.to_string()).unwrap();
        std::fs::write(
            run.join("config.toml"),
            format!(
                "[train]\nlr = {:e}\nbatch_size = {batch}\nseq_len = 64\ngrad_accum = 1\n",
                p.lr[i]
            ),
        )
        .unwrap();
    }
    let out = ok(&[
        "fit",
        s(&sweep),
        "--law",
        "hparams",
        "--bootstrap",
        "50",
        "--format",
        "json",
    ]);
    let f: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(f["data"]["points"], 75);
    let k = f["params"]["k"].as_f64().unwrap();
    assert!((k + 0.125).abs() < 0.03, "k {k}");
}
