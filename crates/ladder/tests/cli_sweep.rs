//! End-to-end tests of `ladder sweep` and `ladder quickstart` through the binary: planning (one
//! shape family, per-size lr, seeds, architectures), resuming after the runner is killed with
//! SIGKILL, a retry that resumes from the newest checkpoint, retries and the failure report, an
//! unreadable summary.json that is reported instead of retrained, a real Slurm (skipped, with the
//! reason printed, only when `sbatch` is absent), and `quickstart --size tiny`. Tiny models
//! (N 3,312 .. 12,768) of a few hundred thousand tokens keep it to about a minute of CPU.

mod cli_train_util;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cli_train_util::*;
use serde_json::Value;

/// `sweep plan` of `budgets` × 2 sizes (N 3,312 and 12,768), batch 8 × 64, one small evaluation.
fn plan(out: &Path, budgets: &str, sizes: &str) -> String {
    ok(&[
        "sweep",
        "plan",
        "--data",
        s(synth()),
        "--budgets",
        budgets,
        "--sizes",
        sizes,
        "--n-range",
        "3.3e3:1.3e4",
        "--set",
        "train.batch_size=8",
        "--set",
        "eval.every=0",
        "--set",
        "eval.tokens=4096",
        "--set",
        "train.warmup_steps=5",
        "--est-gflops",
        "20",
        "--out",
        s(out),
    ])
}

/// Gives the run at index `which` (plan order) a `set` list that makes `ladder train` fail.
fn break_run(sweep: &Path, which: usize) -> String {
    let p = sweep.join("sweep.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    let mut n = 0;
    let mut name = String::new();
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("name = ") {
            if n == which {
                name = line[8..line.len() - 1].to_string();
            }
            n += 1;
        }
        if line == "set = []" && n == which + 1 {
            out.push_str("set = [\"train.lr=-1\"]\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(&p, out).unwrap();
    name
}

fn state(sweep: &Path) -> Value {
    json(&sweep.join("sweep.json"))
}

fn run_names(sweep: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(sweep.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn attempts_in_log(sweep: &Path, name: &str) -> usize {
    std::fs::read_to_string(sweep.join("logs").join(format!("{name}.log")))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("== ladder sweep: attempt"))
        .count()
}

/// (final train loss, final val loss, D) of a run.
fn result(sweep: &Path, name: &str) -> (f64, f64, u64) {
    let s = json(&sweep.join("runs").join(name).join("summary.json"));
    assert_eq!(s["status"], "completed", "{name}: {s}");
    (
        s["final_train_loss"].as_f64().unwrap(),
        s["final_val_loss"].as_f64().unwrap(),
        s["D"].as_u64().unwrap(),
    )
}

fn pid_alive(pid: u64) -> bool {
    // A zombie (state Z) has exited; only its parent has not collected it yet.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn sweep_plan_prints_the_table_and_status_lists_pending_runs() {
    let sweep = fresh("sweep-plan");
    let table = plan(&sweep, "2e9,4e9", "2");
    for col in [
        "name", "arch", " L ", " d ", " H ", "N", "D", "C=6ND", "lr", "warmup", "est.",
    ] {
        assert!(table.contains(col), "{col}: {table}");
    }
    // Every run row names its architecture (GPT-2 unless --arch says otherwise).
    assert!(
        table.contains("c2e9-n0.0033M") && table.contains(" gpt2 "),
        "{table}"
    );
    assert!(
        table.contains("shape family depth:1, lr rule width (lr_ref 0.003)"),
        "{table}"
    );
    // lr = 3e-3 · 64 / d: 1.2e-2 for the 16-wide runs, 6e-3 for the 32-wide ones.
    assert!(
        table.contains("1.200e-2") && table.contains("6.000e-3"),
        "{table}"
    );
    assert!(
        table.contains("c2e9-n0.0033M") && table.contains("c4e9-n0.013M"),
        "{table}"
    );
    let st = ok(&["sweep", "status", s(&sweep)]);
    assert!(st.contains("4 runs: 4 pending"), "{st}");
    let rows: Value = serde_json::from_str(&ok(&["sweep", "status", s(&sweep), "--json"])).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 4);
    // Planning again into the same directory needs --force.
    let e = fails(&[
        "sweep",
        "plan",
        "--data",
        s(synth()),
        "--budgets",
        "2e9",
        "--out",
        s(&sweep),
    ]);
    assert!(e.contains("--force"), "{e}");
    let e = fails(&["sweep", "run", s(&sweep.join("nope"))]);
    assert!(e.contains("not a sweep directory"), "{e}");

    // K seeds per point: named <point>-s<k>, counted in the table.
    let seeded = fresh("sweep-plan-seeds");
    let base = [
        "sweep",
        "plan",
        "--data",
        s(synth()),
        "--budgets",
        "2e9",
        "--sizes",
        "2",
        "--n-range",
        "3.3e3:1.3e4",
        "--est-gflops",
        "20",
    ];
    let mut a = base.to_vec();
    a.extend(["--seeds", "2", "--out", s(&seeded)]);
    let table = ok(&a);
    assert!(table.contains("4 runs (2 points × 2 seeds)"), "{table}");
    for name in ["c2e9-n0.0033M-s0", "c2e9-n0.0033M-s1", "c2e9-n0.013M-s1"] {
        assert!(table.contains(name), "{name}: {table}");
    }
    // An architecture ladder cannot train is refused before anything is written.
    let refused = fresh("sweep-plan-arch");
    let mut a = base.to_vec();
    a.extend(["--arch", "gpt3", "--out", s(&refused)]);
    let e = fails(&a);
    assert!(e.contains("--arch gpt3") && e.contains("gpt2"), "{e}");
    assert!(!refused.join("sweep.toml").exists());
    let mut a = base.to_vec();
    a.extend(["--family", "depth:0", "--out", s(&refused)]);
    let e = fails(&a);
    assert!(e.contains("depth:0"), "{e}");
}

#[test]
fn sweep_resumes_after_sigkill_and_matches_an_uninterrupted_sweep() {
    // The reference: the same plan, run without interruption.
    let reference = fresh("sweep-reference");
    plan(&reference, "2e9,4e9", "2");
    ok(&["sweep", "run", s(&reference), "--jobs", "2", "--quiet"]);

    let sweep = fresh("sweep-killed");
    plan(&sweep, "2e9,4e9", "2");
    let mut runner = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["sweep", "run", s(&sweep), "--jobs", "2", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until at least one run is done and another is running, then SIGKILL the runner.
    let (done_before, killed) = loop {
        if let Some(status) = runner.try_wait().unwrap() {
            panic!("the sweep finished ({status}) before it could be interrupted");
        }
        if let Ok(text) = std::fs::read_to_string(sweep.join("sweep.json")) {
            if let Ok(st) = serde_json::from_str::<Value>(&text) {
                let runs = st["runs"].as_object().unwrap();
                let with = |s: &str| -> Vec<(String, Value)> {
                    runs.iter()
                        .filter(|(_, v)| v["status"] == s)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                };
                let (done, running) = (with("done"), with("running"));
                if !done.is_empty() && !running.is_empty() {
                    runner.kill().unwrap(); // SIGKILL
                    runner.wait().unwrap();
                    break (done, running);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // The runner's children die with it (no orphan keeps writing into a run directory).
    for (name, v) in &killed {
        let pid = v["pid"].as_u64().unwrap();
        let mut waited = 0;
        while pid_alive(pid) {
            waited += 1;
            assert!(waited < 3000, "run {name} (pid {pid}) outlived its runner");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let st = ok(&["sweep", "status", s(&sweep)]);
    assert!(st.contains("interrupted"), "{st}");

    // Resume.
    ok(&["sweep", "run", s(&sweep), "--jobs", "2", "--quiet"]);
    let st = state(&sweep);
    let names = run_names(&reference);
    assert_eq!(run_names(&sweep), names);
    for name in &names {
        let e = &st["runs"][name];
        assert_eq!(e["status"], "done", "{name}: {e}");
        if done_before.iter().any(|(n, _)| n == name) {
            // Finished before the kill: never trained again.
            assert_eq!(e["attempts"], 1, "{name}: {e}");
            assert_eq!(attempts_in_log(&sweep, name), 1, "{name}");
        }
        if killed.iter().any(|(n, _)| n == name) {
            assert_eq!(e["attempts"], 2, "{name} was cut short and restarted: {e}");
            assert_eq!(e["failures"], 0, "an interruption is not a failure: {e}");
        }
        // Same losses, bit for bit, as the uninterrupted sweep (same config and thread count).
        assert_eq!(result(&sweep, name), result(&reference, name), "{name}");
        let steps = json(&sweep.join("runs").join(name).join("summary.json"))["steps"]
            .as_u64()
            .unwrap();
        assert_eq!(metrics(&sweep.join("runs").join(name)).len() as u64, steps);
    }
    // A third invocation has nothing to do and trains nothing.
    ok(&["sweep", "run", s(&sweep), "--quiet"]);
    assert_eq!(state(&sweep), st);
}

#[test]
fn sweep_failed_run_is_retried_then_reported_and_rerun_after_the_plan_is_fixed() {
    let sweep = fresh("sweep-retry");
    plan(&sweep, "2e9", "2");
    let bad = break_run(&sweep, 1);
    let out = ladder(&["sweep", "run", s(&sweep), "--jobs", "2", "--retries", "2"]);
    assert!(!out.status.success(), "a failed run must fail the sweep");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("run {bad} failed")), "{err}");
    assert!(
        err.contains("train.lr"),
        "the run's own error is shown: {err}"
    );
    assert!(
        err.contains("1 of 2 runs failed after all retries"),
        "{err}"
    );
    let st = state(&sweep);
    let e = &st["runs"][&bad];
    assert_eq!(e["status"], "failed");
    assert_eq!(e["attempts"], 3, "1 try + 2 retries: {e}");
    assert_eq!(e["failures"], 3);
    assert_eq!(attempts_in_log(&sweep, &bad), 3);
    let good: Vec<_> = st["runs"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| **k != bad)
        .collect();
    assert_eq!(good.len(), 1);
    assert_eq!(good[0].1["status"], "done");
    let table = ok(&["sweep", "status", s(&sweep)]);
    assert!(table.contains("1 done, 1 failed"), "{table}");
    assert!(table.contains(&format!("{bad} failed:")), "{table}");

    // Running again does not retry it (its retries are spent) and still reports it ...
    let e = fails(&["sweep", "run", s(&sweep), "--quiet"]);
    assert!(e.contains(&bad), "{e}");
    assert_eq!(state(&sweep)["runs"][&bad]["attempts"], 3);
    // ... until its plan entry is fixed: then it is a new run and trains.
    let p = sweep.join("sweep.toml");
    let fixed = std::fs::read_to_string(&p)
        .unwrap()
        .replace("set = [\"train.lr=-1\"]", "set = []");
    std::fs::write(&p, fixed).unwrap();
    ok(&["sweep", "run", s(&sweep), "--quiet"]);
    let st = state(&sweep);
    assert_eq!(st["runs"][&bad]["status"], "done");
    assert_eq!(st["runs"][&bad]["attempts"], 1);
    assert_eq!(
        st["runs"][good[0].0]["attempts"], 1,
        "the good run is not repeated"
    );
}

#[test]
fn sweep_runs_through_slurm_with_a_failing_job_retried_and_reported() {
    if !ladder_sweep::slurm::sbatch_available() {
        eprintln!(
            "SKIPPED sweep_runs_through_slurm: `sbatch` is not installed (.ci/slurm-up.sh installs \
             and starts a one-node Slurm)"
        );
        return;
    }
    let sweep = fresh("sweep-slurm");
    plan(&sweep, "2e9", "3");
    let bad = break_run(&sweep, 2);
    let out = ladder(&[
        "sweep",
        "run",
        s(&sweep),
        "--executor",
        "slurm",
        "--poll",
        "0.5",
        "--retries",
        "1",
        "--time",
        "00:10:00",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("as Slurm job"), "{err}");
    assert!(
        err.contains(&format!("run {bad} failed")) && err.contains("train.lr"),
        "{err}"
    );
    let st = state(&sweep);
    let mut ids = std::collections::HashSet::new();
    for (name, e) in st["runs"].as_object().unwrap() {
        assert_eq!(e["executor"], "slurm");
        let id = e["job_id"].as_str().unwrap().to_string();
        assert!(id.parse::<u64>().is_ok(), "{name}: job id {id}");
        assert!(ids.insert(id), "job ids are distinct");
        if *name == bad {
            assert_eq!(e["status"], "failed");
            assert_eq!(e["attempts"], 2, "retried once: {e}");
        } else {
            assert_eq!(e["status"], "done", "{name}: {e}");
            assert_eq!(e["attempts"], 1);
            let (_, val, _) = result(&sweep, name);
            assert!(val.is_finite());
        }
    }
    assert!(sweep.join("slurm").join(format!("{bad}.sh")).is_file());
}

#[test]
fn quickstart_tiny_writes_everything_and_a_finite_interval() {
    let out = fresh("quickstart-tiny");
    let text = ok(&[
        "quickstart",
        "--size",
        "tiny",
        "--out",
        s(&out),
        "--bootstrap",
        "200",
        "--quiet",
    ]);
    for want in [
        "predicted val loss",
        "actual val loss",
        "fitted irreducible loss E",
        "true entropy",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    for f in [
        "data/meta.json",
        "sweep/sweep.toml",
        "sweep/sweep.json",
        "fit-chinchilla.json",
        "quickstart.json",
        "report.html",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // The report shows the predicted run against the ladder's law, with its diagnosis.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let target_name = json(&out.join("quickstart.json"))["target"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        html.contains(&target_name),
        "the predicted run is in the report"
    );
    let diag = out
        .join("target/runs")
        .join(&target_name)
        .join("diagnosis.json");
    assert!(diag.is_file(), "{}", diag.display());
    let q = json(&out.join("quickstart.json"));
    assert_eq!(q["runs"], 12, "3 budgets × 4 sizes");
    let t = &q["target"];
    let ci = t["predicted_loss"]["ci95"].as_array().unwrap();
    let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
    assert!(lo.is_finite() && hi.is_finite() && lo < hi, "{t}");
    assert!(t["actual_loss"].as_f64().unwrap().is_finite());
    assert!(
        (t["C"].as_f64().unwrap() / 4e10 - 4.0).abs() < 1e-9,
        "4× the largest budget"
    );
    let st = state(&out.join("sweep"));
    assert!(st["runs"]
        .as_object()
        .unwrap()
        .values()
        .all(|e| e["status"] == "done"));
    // The fit reads the sweep directly.
    let fit = json(&out.join("fit-chinchilla.json"));
    assert_eq!(fit["data"]["points"], 12);
}

/// The `== ladder sweep: attempt` sections of a run's log, in order.
fn attempts_of(sweep: &Path, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(sweep.join("logs").join(format!("{name}.log"))).unwrap();
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("== ladder sweep: attempt") {
            out.push(String::new());
        }
        if let Some(last) = out.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    out
}

#[test]
fn sweep_retry_resumes_from_the_newest_checkpoint_instead_of_restarting() {
    // One run of 1 × 32 (N 12,768), 102 steps, a checkpoint every 11.
    let sweep = fresh("sweep-resume");
    plan(&sweep, "4e9", "1");
    let plan_toml = std::fs::read_to_string(sweep.join("sweep.toml")).unwrap();
    assert!(
        plan_toml.contains("\"checkpoint.every\" = 11"),
        "{plan_toml}"
    );
    let name = "c4e9-n0.013M";
    // Its first attempt dies of SIGKILL right after step 60 (a dead machine).
    ok(&[
        "sweep",
        "run",
        s(&sweep),
        "--quiet",
        "--inject",
        &format!("{name}:kill@60"),
    ]);
    let e = &state(&sweep)["runs"][name];
    assert_eq!(e["status"], "done", "{e}");
    assert_eq!(e["attempts"], 2, "{e}");
    assert_eq!(e["failures"], 1, "{e}");
    assert_eq!(e["resumes"], 1, "{e}");
    assert_eq!(
        e["resumed_from"], 55,
        "the newest checkpoint before step 60: {e}"
    );
    let attempts = attempts_of(&sweep, name);
    assert_eq!(attempts.len(), 2);
    assert!(attempts[0].contains("--force") && attempts[0].contains("kill@60"));
    assert!(
        attempts[1].contains("--resume") && !attempts[1].contains("--force"),
        "a retry resumes: {}",
        attempts[1]
    );
    assert!(attempts[1].contains("resumed from"), "{}", attempts[1]);
    // Steps 1..55 were not trained again: the resume is recorded at step 55, and metrics.jsonl
    // has every step once.
    let run = sweep.join("runs").join(name);
    let events = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    let resume: Vec<Value> = events
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] == "resume")
        .collect();
    assert_eq!(resume.len(), 1, "{events}");
    assert_eq!(resume[0]["step"], 55, "{events}");
    let steps: Vec<u64> = metrics(&run)
        .iter()
        .map(|r| r["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, (1..=102).collect::<Vec<u64>>());
    let table = ok(&["sweep", "status", s(&sweep)]);
    assert!(table.contains("@55"), "{table}");

    // The same run uninterrupted ends with the same losses, bit for bit.
    let reference = fresh("sweep-resume-reference");
    plan(&reference, "4e9", "1");
    ok(&["sweep", "run", s(&reference), "--quiet"]);
    assert_eq!(result(&sweep, name), result(&reference, name));
}

#[test]
fn sweep_reports_an_unreadable_summary_instead_of_retraining_the_run() {
    let sweep = fresh("sweep-unreadable");
    plan(&sweep, "2e9", "2");
    ok(&["sweep", "run", s(&sweep), "--jobs", "2", "--quiet"]);
    let name = "c2e9-n0.013M";
    let summary = sweep.join("runs").join(name).join("summary.json");
    std::fs::write(&summary, "{\"status\": \"completed\", ").unwrap();

    let out = ladder(&["sweep", "run", s(&sweep), "--quiet"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!("run {name} needs attention")),
        "{err}"
    );
    assert!(
        err.contains(&summary.display().to_string()) && err.contains("EOF"),
        "names the file and the parse error: {err}"
    );
    assert!(err.contains("--retrain-unreadable"), "{err}");
    let e = &state(&sweep)["runs"][name];
    assert_eq!(e["status"], "attention", "{e}");
    assert_eq!(e["attempts"], 1, "not retrained: {e}");
    assert_eq!(attempts_in_log(&sweep, name), 1);
    let table = ok(&["sweep", "status", s(&sweep)]);
    assert!(table.contains("attention"), "{table}");
    assert!(
        table.contains(&format!("{name} needs attention")),
        "{table}"
    );

    // Asked to, it trains the run again, from its newest checkpoint (the final one).
    ok(&["sweep", "run", s(&sweep), "--quiet", "--retrain-unreadable"]);
    let e = &state(&sweep)["runs"][name];
    assert_eq!(e["status"], "done", "{e}");
    assert_eq!(e["attempts"], 2, "{e}");
    assert_eq!(json(&summary)["status"], "completed");
}
