//! Surviving faults, end to end (issue 6): SIGKILLs at seeded random points and during checkpoint
//! writes, resumed bit for bit; corrupted checkpoints named and passed over; NaNs and loss spikes
//! rolled back; a supervisor that restarts a killed trainer; slow steps reported; config changes
//! on resume; an unwritable checkpoint directory.

mod cli_train_util;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use cli_train_util::*;
use serde_json::Value;

const STEPS: u64 = 30;

/// The config of every run here: 30 tiny steps, checkpoints every 5 (3 kept), layer statistics
/// every 4 (so the checkpoint of step 15 must carry step 15's gradient for step 16's cosine).
fn sets() -> Vec<String> {
    [
        "train.steps=30",
        "train.warmup_steps=5",
        "eval.every=10",
        "eval.tokens=2048",
        "train.threads=1",
        "checkpoint.every=5",
        "log.layer_stats_every=4",
    ]
    .map(String::from)
    .to_vec()
}

fn args(run: &Path, extra: &[&str]) -> Vec<String> {
    let sets = sets();
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let mut a = train_args(synth(), run, &sets, &["--quiet", PEAK]);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn resume_args(run: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["train", "--out", s(run), "--resume", "--quiet", PEAK]
        .map(String::from)
        .to_vec();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// The uninterrupted run every faulty one is compared with.
fn clean() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = fresh("fault-clean");
        ok(&args(&run, &[]));
        run
    })
}

/// metrics.jsonl without the timing fields (the only ones that may differ between two runs).
fn losses(run: &Path) -> Vec<Value> {
    metrics(run)
        .into_iter()
        .map(|mut r| {
            let o = r.as_object_mut().unwrap();
            for k in ["tok_per_s", "mfu", "elapsed_s"] {
                o.remove(k);
            }
            r
        })
        .collect()
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Same losses, same layers.jsonl, and every checkpoint the clean run kept byte for byte.
fn assert_same_as_clean(run: &Path, what: &str) {
    let c = clean();
    assert_eq!(losses(run), losses(c), "{what}: metrics.jsonl differs");
    assert!(
        read(&run.join("layers.jsonl")) == read(&c.join("layers.jsonl")),
        "{what}: layers.jsonl differs"
    );
    for step in [20, 25, 30] {
        let d = format!("checkpoints/step_{step:07}");
        for f in ["model.safetensors", "optimizer.safetensors", "state.json"] {
            let (a, b) = (run.join(&d).join(f), c.join(&d).join(f));
            assert!(read(&a) == read(&b), "{what}: {d}/{f} differs");
        }
    }
    assert_eq!(
        json(&run.join("summary.json"))["status"],
        "completed",
        "{what}"
    );
}

/// splitmix64: the seeded kill points.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(unix)]
fn killed_by_sigkill(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9)
}

/// Runs `ladder` to its end; asserts it died of SIGKILL.
fn run_killed(a: &[String], what: &str) {
    let out = ladder(a);
    assert!(
        killed_by_sigkill(&out.status),
        "{what}: expected death by SIGKILL, got {} ({})",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts a run and SIGKILLs it from outside once `lines` steps are logged: a random moment in
/// the step, evaluation or checkpoint write that follows. `slow@29` keeps it from finishing first.
fn kill_from_outside(run: &Path, lines: usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(args(run, &["--inject", "slow@29:60s"]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    loop {
        let n = std::fs::read_to_string(run.join("metrics.jsonl"))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if n >= lines {
            break;
        }
        if let Some(st) = child.try_wait().unwrap() {
            panic!("the run ended before it was killed: {st}");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    let st = child.wait().unwrap();
    assert!(killed_by_sigkill(&st), "{st}");
}

#[test]
fn resume_after_seeded_sigkills_is_bitwise_identical() {
    let mut seed = 6u64;
    let mut tried = 0;
    // 6 kills after a random step, 3 in the middle of a checkpoint write, 3 from outside.
    for i in 0..12 {
        let run = fresh(&format!("fault-kill-{i}"));
        let k = 1 + next(&mut seed) % STEPS;
        let what = match i {
            0..=5 => {
                let spec = format!("kill@{k}");
                run_killed(&args(&run, &["--inject", &spec]), &spec);
                spec
            }
            6..=8 => {
                let k = k.min(STEPS - 1);
                let spec = format!("kill-checkpoint@{k}");
                run_killed(&args(&run, &["--inject", &spec]), &spec);
                // The interrupted write is a temp dir; LATEST still names a complete checkpoint.
                let tmp = run.join(format!("checkpoints/.tmp-step_{:07}", k.div_ceil(5) * 5));
                assert!(tmp.is_dir(), "{spec}: {} missing", tmp.display());
                spec
            }
            _ => {
                let lines = (k as usize).min(27);
                kill_from_outside(&run, lines);
                format!("SIGKILL from outside after {lines} logged steps")
            }
        };
        let err = String::from_utf8_lossy(&ladder(&resume_args(&run, &[])).stderr).into_owned();
        assert!(err.contains("resumed from"), "{what}: {err}");
        assert!(!run.join("checkpoints").read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".tmp")));
        assert_same_as_clean(&run, &what);
        let events = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
        assert!(events.contains("\"resume\""), "{what}: {events}");
        tried += 1;
    }
    eprintln!("{tried} kill points resumed bitwise");
    assert_eq!(tried, 12);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &p);
        } else {
            std::fs::copy(e.path(), p).unwrap();
        }
    }
}

/// A name, what it does to a copy of the clean run, and the message that must name it.
type Corruption = (&'static str, fn(&Path), &'static str);

#[test]
fn corrupted_checkpoints_are_named_and_passed_over() {
    let ck30 = "checkpoints/step_0000030";
    let cases: [Corruption; 4] = [
        (
            "truncate",
            |r| {
                let p = r.join("checkpoints/step_0000030/model.safetensors");
                let n = std::fs::metadata(&p).unwrap().len();
                let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
                f.set_len(n / 2).unwrap();
            },
            "step_0000030/model.safetensors: sha256",
        ),
        (
            "flip",
            |r| {
                let p = r.join("checkpoints/step_0000030/optimizer.safetensors");
                let mut b = std::fs::read(&p).unwrap();
                let i = b.len() - 100;
                b[i] ^= 1;
                std::fs::write(&p, b).unwrap();
            },
            "step_0000030/optimizer.safetensors: sha256",
        ),
        (
            "delete-tensor-file",
            |r| std::fs::remove_file(r.join("checkpoints/step_0000030/model.safetensors")).unwrap(),
            "step_0000030/model.safetensors",
        ),
        (
            "delete-latest",
            |r| std::fs::remove_file(r.join("checkpoints/LATEST")).unwrap(),
            "LATEST is missing",
        ),
    ];
    for (name, corrupt, msg) in cases {
        let run = fresh(&format!("fault-corrupt-{name}"));
        copy_dir(clean(), &run);
        corrupt(&run);
        let out = ladder(&["checkpoint", "verify", s(&run)]);
        assert!(!out.status.success(), "{name}: verify should fail");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(msg), "{name}: verify says\n{text}");
        let err = String::from_utf8_lossy(&ladder(&resume_args(&run, &[])).stderr).into_owned();
        assert!(err.contains(msg), "{name}: resume says\n{err}");
        if name == "delete-latest" {
            assert!(err.contains("using step_0000030"), "{name}: {err}");
        } else {
            assert!(
                err.contains("skipping bad checkpoint step_0000030")
                    && err.contains("resumed from step_0000025"),
                "{name}: {err}"
            );
        }
        // Steps 26..30 redone from step 25: the same bytes as the clean run.
        assert_same_as_clean(&run, name);
        ok(&["checkpoint", "verify", s(&run)]);
        assert!(run.join(ck30).is_dir());
    }
    let good = ok(&["checkpoint", "verify", s(clean())]);
    assert!(good.contains("step_0000030  ok  (LATEST)"), "{good}");
}

fn events(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn has_event(ev: &[Value], kind: &str, step: u64) -> bool {
    ev.iter().any(|e| e["kind"] == kind && e["step"] == step)
}

#[test]
fn nan_and_spike_are_rolled_back_and_the_run_ends_near_the_clean_one() {
    // health.rollback_after=1: every finding rolls back at once (the skip-first rule is below).
    let run = fresh("fault-nan-spike");
    let out = ok(&args(
        &run,
        &[
            "--inject",
            "nan@13",
            "--inject",
            "spike@24",
            "--set",
            "health.rollback_after=1",
        ],
    ));
    let _ = out;
    let ev = events(&run);
    for (kind, step) in [
        ("nan", 13),
        ("rollback", 13),
        ("spike", 24),
        ("rollback", 24),
    ] {
        assert!(has_event(&ev, kind, step), "{kind}@{step} missing: {ev:?}");
    }
    let sum = json(&run.join("summary.json"));
    assert_eq!(sum["status"], "completed");
    assert_eq!(sum["health"]["events"]["rollback"], 2);
    // Rolled back to step 10, then to 20: the data of steps 11..=13 and 21..=24 was skipped.
    assert_eq!(sum["health"]["skipped_sequences"], (3 + 4) * 4);
    let steps: Vec<u64> = metrics(&run)
        .iter()
        .map(|r| r["step"].as_u64().unwrap())
        .collect();
    assert_eq!(
        steps,
        (1..=STEPS).collect::<Vec<_>>(),
        "one record per step"
    );
    let (a, b) = (
        sum["final_val_loss"].as_f64().unwrap(),
        json(&clean().join("summary.json"))["final_val_loss"]
            .as_f64()
            .unwrap(),
    );
    // Different (skipped) data, same amount of training: equal within batch noise.
    assert!((a - b).abs() < 0.05, "val loss {a} vs clean {b}");
    // Under `--health warn` the same spike is only recorded and the NaN ends the run.
    let warn = fresh("fault-warn");
    let err = ladder(&args(&warn, &["--health", "warn", "--inject", "nan@13"]));
    assert_eq!(err.status.code(), Some(3));
    assert_eq!(json(&warn.join("summary.json"))["status"], "diverged");
}

/// The default rule (health.rollback_after = 2): one spike only skips its step's batch (the
/// weights were never touched: the finding comes before the update); a second finding in a row
/// rolls back to the newest checkpoint. A NaN still rolls back at once.
#[test]
fn a_single_spike_skips_its_batch_and_a_second_in_a_row_rolls_back() {
    let one = fresh("fault-spike-skip");
    ok(&args(&one, &["--inject", "nan@13", "--inject", "spike@24"]));
    let ev = events(&one);
    for (kind, step) in [("nan", 13), ("rollback", 13), ("spike", 24), ("skip", 24)] {
        assert!(has_event(&ev, kind, step), "{kind}@{step} missing: {ev:?}");
    }
    assert!(!has_event(&ev, "rollback", 24), "{ev:?}");
    let sum = json(&one.join("summary.json"));
    assert_eq!(sum["status"], "completed");
    assert_eq!(sum["health"]["events"]["rollback"], 1);
    assert_eq!(sum["health"]["events"]["skip"], 1);
    // Steps 11..=13 rolled back, then step 24's batch alone skipped (4 sequences per step).
    assert_eq!(sum["health"]["skipped_sequences"], (3 + 1) * 4);
    let steps: Vec<u64> = metrics(&one)
        .iter()
        .map(|r| r["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, (1..=STEPS).collect::<Vec<_>>());

    // The retried step 24 spikes again: now the run rolls back to step 20.
    let two = fresh("fault-spike-twice");
    ok(&args(
        &two,
        &["--inject", "spike@24", "--inject", "spike@24"],
    ));
    let ev = events(&two);
    for kind in ["spike", "skip", "rollback"] {
        assert!(has_event(&ev, kind, 24), "{kind}@24 missing: {ev:?}");
    }
    let sum = json(&two.join("summary.json"));
    assert_eq!(sum["health"]["events"]["spike"], 2);
    assert_eq!(sum["health"]["events"]["rollback"], 1);
    // The skipped batch, then the data of steps 21..=24 from the checkpoint of step 20.
    assert_eq!(sum["health"]["skipped_sequences"], (1 + 4) * 4);
}

#[test]
fn health_stop_checkpoints_the_last_good_state_and_exits_3() {
    let run = fresh("fault-stop");
    let out = ladder(&args(&run, &["--health", "stop", "--inject", "nan@12"]));
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stopped by the health monitor at step 12") && err.contains("--resume"),
        "{err}"
    );
    let sum = json(&run.join("summary.json"));
    assert_eq!(sum["stop_reason"], "health");
    assert_eq!(sum["steps"], 11);
    assert!(run.join("checkpoints/step_0000011/state.json").is_file());
    // The last good state continues to the same end as the clean run.
    ok(&resume_args(&run, &["--health", "rollback"]));
    assert_eq!(losses(&run), losses(clean()));
}

#[test]
fn kill_under_supervise_ends_with_the_clean_weights() {
    let run = fresh("fault-supervise");
    let out = ladder(&args(
        &run,
        &[
            "--supervise",
            "--backoff",
            "0",
            "--inject",
            "corrupt-checkpoint@15",
            "--inject",
            "kill@17",
        ],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("signal 9 (SIGKILL)"), "{err}");
    // The corrupted step 15 was passed over: the restart resumed from step 10.
    assert!(
        err.contains("skipping bad checkpoint step_0000015")
            && err.contains("resumed from step_0000010"),
        "{err}"
    );
    let ev = events(&run);
    assert!(has_event(&ev, "restart", 17), "{ev:?}");
    assert!(has_event(&ev, "resume", 10), "{ev:?}");
    assert_same_as_clean(&run, "supervised kill@17");
    assert_eq!(
        json(&run.join("summary.json"))["health"]["events"]["restart"],
        1
    );
}

#[test]
fn a_crash_loop_stops_the_supervisor_with_a_diagnosis() {
    let run = fresh("fault-crash-loop");
    let out = ladder(&args(
        &run,
        &[
            "--supervise",
            "--backoff",
            "0",
            "--inject",
            "kill-always@12",
        ],
    ));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("crash loop") && err.contains("3 times in a row without getting past step 12"),
        "{err}"
    );
    let ev = events(&run);
    assert_eq!(
        ev.iter().filter(|e| e["kind"] == "restart").count(),
        2,
        "{ev:?}"
    );
    assert!(ev.iter().any(|e| e["kind"] == "crash_loop"), "{ev:?}");
}

#[test]
fn a_slow_step_is_reported_as_a_throughput_event() {
    let run = fresh("fault-slow");
    ok(&args(&run, &["--inject", "slow@15:1.5s"]));
    let ev = events(&run);
    let slow = ev
        .iter()
        .find(|e| e["kind"] == "slow_step" && e["step"] == 15)
        .unwrap_or_else(|| panic!("{ev:?}"));
    assert!(slow["detail"].as_str().unwrap().contains("tok/s"), "{slow}");
    // Sleeping changes no number.
    assert_eq!(losses(&run), losses(clean()));
}

#[test]
fn resume_allows_safe_config_changes_and_refuses_shape_changes() {
    let run = fresh("fault-config");
    copy_dir(clean(), &run);
    let err = fails(&resume_args(&run, &["--set", "model.n_embd=128"]));
    assert!(
        err.contains("model.n_embd: 64 → 128") && err.contains("model's shape"),
        "{err}"
    );
    let err = fails(&resume_args(&run, &["--set", "train.batch_size=8"]));
    assert!(err.contains("train.batch_size: 4 → 8"), "{err}");
    let out = ladder(&resume_args(
        &run,
        &["--set", "train.steps=40", "--set", "eval.every=5"],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("train.steps: 30 → 40") && err.contains("eval.every: 10 → 5"),
        "{err}"
    );
    assert_eq!(metrics(&run).len(), 40);
    assert!(has_event(&events(&run), "config_change", 30));
    let cfg = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(cfg.contains("steps = 40"), "{cfg}");
    let err = fails(&resume_args(&fresh("fault-no-run"), &[]));
    assert!(err.contains("no run to resume"), "{err}");
}

#[test]
fn an_unwritable_checkpoint_directory_is_a_clear_error_and_keeps_the_old_checkpoints() {
    let run = fresh("fault-unwritable");
    copy_dir(clean(), &run);
    let ck = run.join("checkpoints");
    // Make the next checkpoint's write fail: a read-only directory where permissions bind (not
    // for root), otherwise a file where the checkpoint directory must go.
    #[cfg(unix)]
    let read_only = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ck, std::fs::Permissions::from_mode(0o555)).unwrap();
        std::fs::write(ck.join("probe"), b"x").is_err()
    };
    #[cfg(not(unix))]
    let read_only = false;
    if !read_only {
        let _ = std::fs::remove_file(ck.join("probe"));
        std::fs::write(ck.join("step_0000035"), b"in the way").unwrap();
    }
    let err = fails(&resume_args(&run, &["--set", "train.steps=35"]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ck, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert!(
        err.contains("cannot write checkpoint")
            && err.contains("step_0000035")
            && err.contains("previous checkpoints are intact (newest: step_0000030)"),
        "{err}"
    );
    let _ = std::fs::remove_file(ck.join("step_0000035"));
    ok(&["checkpoint", "verify", s(&run)]);
    for step in [20, 25, 30] {
        let f = format!("checkpoints/step_{step:07}/model.safetensors");
        assert!(read(&run.join(&f)) == read(&clean().join(&f)), "{f}");
    }
}

#[test]
fn max_time_running_out_between_steps_still_ends_with_an_evaluation_and_a_checkpoint() {
    // `pause@2:3s` sleeps after step 2 is over, so a 2 s limit runs out between two steps (unless
    // the machine is so slow that it runs out earlier, inside a step: then the same holds).
    let run = fresh("fault-max-time");
    let a = train_args(
        synth(),
        &run,
        &[
            "train.steps=1000",
            "train.max_time=2s",
            "eval.every=1000",
            "eval.tokens=2048",
            "checkpoint.every=1000",
            "train.threads=1",
        ],
        &["--quiet", PEAK, "--inject", "pause@2:3s"],
    );
    ok(&a);
    let sum = json(&run.join("summary.json"));
    assert_eq!(sum["status"], "completed");
    assert_eq!(sum["stop_reason"], "max_time");
    let last = sum["steps"].as_u64().unwrap();
    assert!((1..=3).contains(&last), "{sum}");
    assert!(sum["final_val_loss"].as_f64().is_some(), "{sum}");
    let m = metrics(&run);
    let rec = m.last().unwrap();
    assert_eq!(rec["step"], last);
    assert!(rec["val_loss"].as_f64().is_some(), "{rec}");
    let ck = format!("step_{last:07}");
    assert!(run
        .join("checkpoints")
        .join(&ck)
        .join("state.json")
        .is_file());
    let latest = std::fs::read_to_string(run.join("checkpoints/LATEST")).unwrap();
    assert_eq!(latest.trim(), ck);
}

#[test]
fn a_checkpoint_from_a_cpu_with_other_features_is_resumed_with_a_notice() {
    let run = fresh("fault-cpu");
    copy_dir(clean(), &run);
    let p = run.join("checkpoints/step_0000030/state.json");
    let mut state = json(&p);
    let here = state["cpu"].clone();
    assert_eq!(here["arch"], std::env::consts::ARCH, "{state}");
    state["cpu"]["features"] = serde_json::json!(["made-up-feature"]);
    std::fs::write(&p, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    let out = ladder(&resume_args(&run, &["--set", "train.steps=32"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("other features")
            && err.contains("made-up-feature")
            && err.contains("not bit for bit"),
        "{err}"
    );
    let ev = events(&run);
    assert!(
        ev.iter()
            .any(|e| e["kind"] == "resume" && e["detail"].as_str().unwrap().contains("made-up")),
        "{ev:?}"
    );
    // The same CPU says nothing.
    let same = fresh("fault-cpu-same");
    copy_dir(clean(), &same);
    let err =
        String::from_utf8_lossy(&ladder(&resume_args(&same, &["--set", "train.steps=31"])).stderr)
            .into_owned();
    assert!(
        err.contains("resumed from") && !err.contains("other features"),
        "{err}"
    );
}

/// A run's log lines that must not depend on being killed: `metrics.jsonl` without its timing
/// fields, `layers.jsonl`, and `events.jsonl` without the events about processes and timing.
fn record_lines(run: &Path) -> (Vec<Value>, String, Vec<Value>) {
    let ev = events(run)
        .into_iter()
        .filter(|e| {
            !["resume", "restart", "config_change", "slow_step"]
                .contains(&e["kind"].as_str().unwrap())
        })
        .collect();
    let layers = std::fs::read_to_string(run.join("layers.jsonl")).unwrap();
    (losses(run), layers, ev)
}

/// SIGKILLs at `kills` seeded random moments of runs with a checkpoint after every step, each
/// followed by a resume (or a fresh start when the first process died before writing its
/// config); every run, once complete, has the uninterrupted run's record line for line.
fn random_kills_lose_no_log_line(kills: usize, seed: u64) {
    const N: u64 = 60;
    let sets = [
        format!("train.steps={N}"),
        "train.warmup_steps=5".into(),
        "eval.every=7".into(),
        "eval.tokens=1024".into(),
        "train.threads=1".into(),
        "checkpoint.every=1".into(),
        "checkpoint.keep=2".into(),
        "log.layer_stats_every=3".into(),
        "health.rollback_after=1".into(),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    // spike@20 and its rollback put events into the record that the resumes must keep.
    let inject = ["--inject", "spike@20"];
    let tag = format!("fault-random-kills-{kills}");
    let clean = fresh(&format!("{tag}-clean"));
    let start = std::time::Instant::now();
    ok(&train_args(
        synth(),
        &clean,
        &sets,
        &[&["--quiet", PEAK][..], &inject].concat(),
    ));
    // A whole run's time, start-up included: kills land anywhere in a process's life.
    let whole = start.elapsed().as_micros() as u64;
    let want = record_lines(&clean);
    assert!(
        want.2.iter().any(|e| e["kind"] == "rollback"),
        "{:?}",
        want.2
    );
    let (mut state, mut killed, mut runs) = (seed, 0usize, 0usize);
    while killed < kills {
        runs += 1;
        let run = fresh(&format!("{tag}-{runs}"));
        let mut processes = 0;
        loop {
            processes += 1;
            assert!(
                processes < 500,
                "run {runs}: no progress after {processes} processes"
            );
            let a = match run.join("config.toml").is_file() {
                true => resume_args(&run, &inject),
                false => train_args(
                    synth(),
                    &run,
                    &sets,
                    &[&["--quiet", PEAK, "--force"][..], &inject].concat(),
                ),
            };
            let mut child = Command::new(env!("CARGO_BIN_EXE_ladder"))
                .args(&a)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            if killed < kills {
                // A moment in the first quarter of a whole run's time: most processes get a few
                // steps done before they die.
                let wait = next(&mut state) % (whole / 4).max(1);
                std::thread::sleep(std::time::Duration::from_micros(wait));
                if child.try_wait().unwrap().is_none() {
                    child.kill().unwrap(); // SIGKILL
                    let st = child.wait().unwrap();
                    assert!(killed_by_sigkill(&st), "{st}");
                    killed += 1;
                    continue;
                }
            }
            let st = child.wait().unwrap();
            assert!(st.success(), "run {runs}, process {processes}: {st}");
            break;
        }
        let got = record_lines(&run);
        let what = format!("run {runs} ({processes} processes)");
        assert_eq!(got.0.len() as u64, N, "{what}");
        assert_eq!(got.0, want.0, "{what}: metrics.jsonl differs");
        assert!(got.1 == want.1, "{what}: layers.jsonl differs");
        assert_eq!(got.2, want.2, "{what}: events.jsonl differs");
        assert_eq!(
            json(&run.join("summary.json"))["status"],
            "completed",
            "{what}"
        );
    }
    eprintln!("{killed} SIGKILLs over {runs} runs, every record complete");
}

/// 50 kills take about a minute on a busy 2-core machine (57 s measured, the synthetic data
/// included), most of it process start-ups and per-step checkpoints.
#[test]
fn fifty_random_sigkills_with_a_checkpoint_every_step_lose_no_log_line() {
    random_kills_lose_no_log_line(50, 50);
}

/// `--sdc-check-every 5` on one process computes every 5th step's gradient twice; `bitflip@10`
/// flips a weight between the two computations (memory going bad mid-step), so step 10's two
/// gradients differ: the run stops with exit code 4, an `sdc` event and no checkpoint of the bad
/// state. The step-5 checkpoint records its parameters' checksum; one whose recorded checksum no
/// longer matches its parameters is passed over by the resume, which then recomputes everything
/// (checking every 5th step again, with no false alarm) and ends with the clean run's weights.
#[test]
fn a_bit_flip_on_one_process_is_detected_and_the_resume_ends_with_the_clean_weights() {
    let run = fresh("fault-sdc");
    let out = ladder(&args(
        &run,
        &["--sdc-check-every", "5", "--inject", "bitflip@10"],
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("silent data corruption detected at step 10")
            && err.contains("computed twice")
            && err.contains("restarts from step_0000005"),
        "{err}"
    );
    assert!(has_event(&events(&run), "sdc", 10), "{:?}", events(&run));
    let sum = json(&run.join("summary.json"));
    assert_eq!(sum["stop_reason"], "sdc");
    assert_eq!(sum["steps"], 9, "step 10 was never completed");
    assert!(!run.join("checkpoints/step_0000010").exists());
    // The checkpoint of step 5 records the checksum of its parameters.
    let state_path = run.join("checkpoints/step_0000005/state.json");
    let mut state = json(&state_path);
    assert_eq!(state["sdc"]["ranks"], 1);
    let recorded = state["sdc"]["checksum"].as_str().unwrap().to_owned();
    assert_eq!(recorded.len(), 16);
    // A checkpoint whose parameters no longer have the agreed checksum is not resumed from.
    state["sdc"]["checksum"] = "0123456789abcdef".into();
    std::fs::write(&state_path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    let out = ladder(&resume_args(&run, &[]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "skipping step_0000005: its parameters' checksum {recorded} is not the \
             0123456789abcdef"
        )) && err.contains("starting again from step 0"),
        "{err}"
    );
    assert_eq!(losses(&run), losses(clean()));
    for f in ["model.safetensors", "optimizer.safetensors"] {
        let p = format!("checkpoints/step_0000030/{f}");
        assert!(read(&run.join(&p)) == read(&clean().join(&p)), "{p}");
    }
    assert_eq!(json(&run.join("summary.json"))["status"], "completed");
}
