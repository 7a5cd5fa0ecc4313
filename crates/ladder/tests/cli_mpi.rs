//! `mpirun -np 2 ladder train` (data parallel over MPI, docs/distributed.md): the same model as one
//! process at the same global batch, a killed or hung rank ends the job, bad launch settings fail
//! cleanly on every rank. These need `mpirun` and a binary built with `--features mpi`
//! (`cargo test -p ladder --features mpi --test cli_mpi`); without either they print why they are
//! skipped. The build-without-MPI check runs in the default build.

mod cli_train_util;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cli_train_util::{fresh, json, metrics, synth, PEAK};

/// Prints a skip notice past the test harness's output capture (which only catches `eprintln!`),
/// so a skipped test is visible in a plain `cargo test` run.
fn skip(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {msg}");
}

/// Whether the MPI tests can run here; prints the reason when not (never a silent pass).
fn mpi_ready(test: &str) -> bool {
    if !cfg!(feature = "mpi") {
        skip(&format!(
            "{test}: ladder was built without the `mpi` feature \
             (run `cargo test -p ladder --features mpi --test cli_mpi`)"
        ));
        return false;
    }
    let found = Command::new("mpirun")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|st| st.success());
    if !found {
        skip(&format!(
            "{test}: `mpirun` is not on PATH (apt-get install openmpi-bin)"
        ));
    }
    found
}

/// `mpirun -np N ladder ARGS...`: oversubscribed (the test machine may have fewer cores than ranks)
/// and allowed as root (CI containers).
fn mpirun(np: usize, args: &[String]) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["--oversubscribe", "--allow-run-as-root", "-np"])
        .arg(np.to_string())
        .arg(env!("CARGO_BIN_EXE_ladder"))
        .args(args);
    c
}

fn output(mut c: Command) -> Output {
    c.output().expect("run mpirun")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `train` on the shared synthetic data with the tiny preset, one thread per rank.
fn args(run: &Path, sets: &[&str], extra: &[&str]) -> Vec<String> {
    let mut a = cli_train_util::train_args(synth(), run, sets, extra);
    a.extend(["--set", "train.threads=1", "--quiet", PEAK].map(String::from));
    a
}

/// Every f32 tensor of a safetensors file, by name (header: u64 length, JSON, then the bytes).
fn tensors(path: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let mut out: Vec<(String, Vec<f32>)> = header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(k, v)| {
            assert_eq!(v["dtype"], "F32", "{k}");
            let o = &v["data_offsets"];
            let (a, b) = (
                o[0].as_u64().unwrap() as usize,
                o[1].as_u64().unwrap() as usize,
            );
            let vals = data[a..b]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            (k.clone(), vals)
        })
        .collect();
    out.sort_by(|x, y| x.0.cmp(&y.0));
    out
}

fn final_model(run: &Path) -> PathBuf {
    let latest = std::fs::read_to_string(run.join("checkpoints/LATEST")).unwrap();
    run.join("checkpoints")
        .join(latest.trim())
        .join("model.safetensors")
}

/// Largest |a − b| over all weights of two runs' final checkpoints.
fn max_weight_diff(a: &Path, b: &Path) -> f32 {
    let (ta, tb) = (tensors(&final_model(a)), tensors(&final_model(b)));
    assert_eq!(ta.len(), tb.len());
    let mut m = 0.0f32;
    for ((na, va), (nb, vb)) in ta.iter().zip(&tb) {
        assert_eq!((na, va.len()), (nb, vb.len()));
        for (x, y) in va.iter().zip(vb) {
            m = m.max((x - y).abs());
        }
    }
    m
}

fn losses(run: &Path, key: &str) -> Vec<f64> {
    metrics(run)
        .iter()
        .filter_map(|r| r[key].as_f64())
        .collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Two ranks × 2 sequences vs one process × 4 sequences, then one process × 2 sequences as the
/// control that shows the tolerance tells a different batch apart.
///
/// Tolerance: both runs see exactly the same sequences (rank r takes rows 2r, 2r+1 of each global
/// batch) and start from the same weights, so the only difference is the order of f32 additions:
/// (mean of 2 rows)/2 summed over the ranks vs the mean of 4 rows, and the f64 loss sums. That is
/// ~1e-7 relative per step; AdamW can amplify it in coordinates whose gradient is near zero, so
/// over 20 steps we allow 1e-4 nats on losses and 2e-4 on weights (measured: 5e-7 and 7e-6),
/// while a run that trains on other batches differs by > 1e-2 in loss within a few steps.
#[test]
fn mpi_two_ranks_match_one_process_at_the_same_global_batch() {
    if !mpi_ready("mpi_two_ranks_match_one_process_at_the_same_global_batch") {
        return;
    }
    let sets = [
        "train.steps=20",
        "train.warmup_steps=5",
        "eval.every=10",
        "eval.tokens=2048",
    ];
    let with_batch = |b: &'static str| {
        let mut v = sets.to_vec();
        v.push(b);
        v
    };
    let dp = fresh("mpi-dp2");
    let out = output(mpirun(
        2,
        &args(&dp, &with_batch("train.batch_size=2"), &[]),
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let one = fresh("mpi-single-b4");
    cli_train_util::ok(&args(&one, &with_batch("train.batch_size=4"), &[]));
    let half = fresh("mpi-single-b2");
    cli_train_util::ok(&args(&half, &with_batch("train.batch_size=2"), &[]));

    // Rank 0 alone wrote the run directory: one line per step, the job's token count.
    assert_eq!(metrics(&dp).len(), 20);
    let (sd, s1) = (
        json(&dp.join("summary.json")),
        json(&one.join("summary.json")),
    );
    assert_eq!(sd["world_size"], 2);
    assert_eq!(sd["D"], s1["D"], "both runs count 20 × 4 × 64 tokens");
    assert!(sd["comm_time_s"].as_f64().unwrap() > 0.0);

    let (ld, l1, lh) = (
        losses(&dp, "loss"),
        losses(&one, "loss"),
        losses(&half, "loss"),
    );
    let (vd, v1) = (losses(&dp, "val_loss"), losses(&one, "val_loss"));
    assert_eq!(vd.len(), 2);
    let (dl, dv, dw) = (
        max_diff(&ld, &l1),
        max_diff(&vd, &v1),
        max_weight_diff(&dp, &one),
    );
    eprintln!("2 ranks vs 1 process: max |Δloss| {dl:.2e}, |Δval| {dv:.2e}, |Δweight| {dw:.2e}");
    assert!(dl <= 1e-4, "train losses differ by {dl}: {ld:?} vs {l1:?}");
    assert!(dv <= 1e-4, "val losses differ by {dv}: {vd:?} vs {v1:?}");
    assert!(dw <= 2e-4, "final weights differ by {dw}");
    // The control: half the global batch is a different run, far outside the tolerance.
    let (ch, cw) = (max_diff(&ld, &lh), max_weight_diff(&dp, &half));
    eprintln!("2 ranks vs batch 2: max |Δloss| {ch:.2e}, |Δweight| {cw:.2e}");
    assert!(
        ch > 1e-2 && cw > 1e-3,
        "the control should differ: {ch}, {cw}"
    );
}

/// The pids of `mpirun`'s children, by MPI rank (from `OMPI_COMM_WORLD_RANK` in their environment).
fn rank_pid(launcher: u32, rank: usize) -> Option<u32> {
    let want = format!("OMPI_COMM_WORLD_RANK={rank}");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Field 4 is the parent pid; the command name (field 2) is in parentheses.
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid != Some(launcher) {
            continue;
        }
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if env.split(|&b| b == 0).any(|v| v == want.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

/// Starts a long 2-rank run with stderr in a file; returns the child once rank 0 has logged a
/// few steps (so both ranks are inside the training loop), and rank 1's pid.
fn start_long_job(run: &Path, extra: &[&str]) -> (Child, u32, PathBuf) {
    let err = run.with_extension("stderr");
    let mut c = mpirun(2, &args(run, &["train.steps=1000000"], extra));
    c.stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = c.spawn().expect("start mpirun");
    let start = Instant::now();
    loop {
        let steps = std::fs::read_to_string(run.join("metrics.jsonl"))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if steps >= 3 {
            break;
        }
        if let Some(st) = child.try_wait().unwrap() {
            panic!(
                "the job ended before training ({st}): {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the job did not start training within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = rank_pid(child.id(), 1).expect("find rank 1 among mpirun's children");
    (child, pid, err)
}

/// Waits for the job to end; a job still running after `limit` is killed and the test fails (the
/// failure this guards against is a hang, not slowness: the expected end takes a few seconds).
fn wait_bounded(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: the job was still running {limit:?} later (it hangs)");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill {sig} {pid}");
}

#[test]
fn mpi_killed_rank_ends_the_job_and_is_named() {
    if !mpi_ready("mpi_killed_rank_ends_the_job_and_is_named") {
        return;
    }
    let run = fresh("mpi-kill");
    let (mut child, pid, err) = start_long_job(&run, &[]);
    signal(pid, "-KILL");
    let st = wait_bounded(
        &mut child,
        Duration::from_secs(60),
        "after SIGKILL of rank 1",
    );
    let msg = std::fs::read_to_string(&err).unwrap();
    assert!(!st.success(), "{msg}");
    assert!(
        msg.contains("rank 1"),
        "the message names the dead rank: {msg}"
    );
}

/// A rank that stops responding (SIGSTOP) is not noticed by the launcher: the watchdog of the
/// waiting rank ends the job after --comm-timeout.
#[test]
fn mpi_hung_rank_is_ended_by_the_collective_timeout() {
    if !mpi_ready("mpi_hung_rank_is_ended_by_the_collective_timeout") {
        return;
    }
    let run = fresh("mpi-hang");
    let (mut child, pid, err) = start_long_job(&run, &["--comm-timeout", "3"]);
    signal(pid, "-STOP");
    let st = wait_bounded(
        &mut child,
        Duration::from_secs(90),
        "after SIGSTOP of rank 1",
    );
    // mpirun kills the stopped rank when it ends the job; make sure, by its pid, that it is gone.
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
    let msg = std::fs::read_to_string(&err).unwrap();
    assert!(!st.success(), "{msg}");
    assert!(
        msg.contains("rank 0 of 2") && msg.contains("died or hung"),
        "the waiting rank explains: {msg}"
    );
}

#[test]
fn mpi_bad_launch_settings_fail_on_every_rank_with_one_message() {
    if !mpi_ready("mpi_bad_launch_settings_fail_on_every_rank_with_one_message") {
        return;
    }
    // A global batch that two ranks cannot split.
    let run = fresh("mpi-bad-batch");
    let out = output(mpirun(
        2,
        &args(&run, &["train.steps=2"], &["--global-batch", "5"]),
    ));
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_eq!(
        err.matches("is not divisible by 2 rank(s)").count(),
        1,
        "{err}"
    );
    assert!(!run.exists());

    // More ranks than the validation split has windows for one global batch (the synthetic val
    // split holds 32768 tokens = 511 windows of 64; 2 × 300 > 511).
    let run = fresh("mpi-too-many");
    let out = output(mpirun(
        2,
        &args(&run, &["train.steps=2", "train.batch_size=300"], &[]),
    ));
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_eq!(
        err.matches("the val split holds only 511 windows").count(),
        1,
        "{err}"
    );
    assert!(err.contains("use at most 1 ranks"), "{err}");
    assert!(!run.exists(), "nothing is written when the set-up fails");

    // A good global batch: 8 sequences over 2 ranks = 4 per rank.
    let run = fresh("mpi-global-batch");
    let out = output(mpirun(
        2,
        &args(&run, &["train.steps=2"], &["--global-batch", "8"]),
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cfg = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(cfg.contains("batch_size = 4"), "{cfg}");
}

/// A binary without MPI support started by an MPI launcher must refuse, not train K copies of
/// the model into one directory. The launcher is imitated by its environment variable.
#[test]
fn train_without_mpi_support_refuses_to_run_under_a_launcher() {
    if cfg!(feature = "mpi") {
        skip("train_without_mpi_support_refuses_to_run_under_a_launcher: built with MPI");
        return;
    }
    let run = fresh("no-mpi");
    let out = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(args(&run, &["train.steps=2"], &[]))
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .env("OMPI_COMM_WORLD_RANK", "0")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("built without MPI support"), "{err}");
    assert!(err.contains("--features mpi"), "{err}");
    assert!(!run.exists());
    // --comm mpi says the same without a launcher.
    let out = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(args(&run, &["train.steps=2"], &["--comm", "mpi"]))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("built without MPI support"));
}

/// A 2-rank job killed mid-run (`--inject kill@12` on every rank) and resumed with `mpirun ...
/// --resume` ends with the same losses and the same final weights, byte for byte, as the job that
/// never stopped: the data position counts the sequences of all ranks, and every rank restores the
/// checkpoint rank 0 wrote.
#[test]
fn mpi_job_killed_and_resumed_matches_the_uninterrupted_job_bitwise() {
    if !mpi_ready("mpi_job_killed_and_resumed_matches_the_uninterrupted_job_bitwise") {
        return;
    }
    let sets = [
        "train.steps=20",
        "train.batch_size=2",
        "checkpoint.every=5",
        "eval.every=10",
        "eval.tokens=2048",
    ];
    let clean = fresh("mpi-resume-clean");
    let out = output(mpirun(2, &args(&clean, &sets, &[])));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let killed = fresh("mpi-resume-killed");
    let out = output(mpirun(2, &args(&killed, &sets, &["--inject", "kill@12"])));
    assert!(!out.status.success(), "the injected kill ends the job");
    assert_eq!(metrics(&killed).len(), 12);
    let mut resume: Vec<String> = ["train", "--out"].map(String::from).to_vec();
    resume.push(killed.display().to_string());
    resume.extend(["--resume", "--quiet"].map(String::from));
    let out = output(mpirun(2, &resume));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("resumed from step_0000010"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(losses(&killed, "loss"), losses(&clean, "loss"));
    assert_eq!(losses(&killed, "val_loss"), losses(&clean, "val_loss"));
    assert_eq!(
        std::fs::read(final_model(&killed)).unwrap(),
        std::fs::read(final_model(&clean)).unwrap(),
        "final weights byte for byte"
    );
}

/// `--inject bitflip@10:1 --sdc-check-every 5`: rank 1 flips one bit of one weight in step 10, the
/// ranks' checksums after step 10's update disagree, and the job stops (exit code 4) before step
/// 15 with both ranks named (two ranks have no majority) and an `sdc` event. `--resume` restarts
/// from the last agreed checkpoint (step 5), recomputes step 10, names rank 1 as the one whose
/// checksum it does not reproduce, and ends with the uninterrupted job's weights byte for byte.
#[test]
fn mpi_bit_flip_on_rank_1_is_named_and_the_resume_matches_the_clean_job() {
    if !mpi_ready("mpi_bit_flip_on_rank_1_is_named_and_the_resume_matches_the_clean_job") {
        return;
    }
    let sets = [
        "train.steps=20",
        "train.batch_size=2",
        "checkpoint.every=5",
        "eval.every=10",
        "eval.tokens=2048",
    ];
    let clean = fresh("mpi-sdc-clean");
    let out = output(mpirun(2, &args(&clean, &sets, &[])));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = fresh("mpi-sdc");
    let extra = ["--inject", "bitflip@10:1", "--sdc-check-every", "5"];
    let out = output(mpirun(2, &args(&run, &sets, &extra)));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert_eq!(
        err.matches("silent data corruption detected at step 10")
            .count(),
        1,
        "rank 0 speaks for both: {err}"
    );
    assert!(err.contains("rank 1 has"), "{err}");
    assert!(metrics(&run).len() < 15, "stopped by step 15");
    let ev = std::fs::read_to_string(run.join("events.jsonl")).unwrap();
    assert!(ev.contains("\"kind\":\"sdc\""), "{ev}");
    let stop = json(&run.join("sdc.json"));
    assert_eq!(stop["step"], 10);
    assert_eq!(stop["last_agreed_step"], 5);
    assert_eq!(json(&run.join("summary.json"))["stop_reason"], "sdc");

    let mut resume: Vec<String> = ["train", "--out"].map(String::from).to_vec();
    resume.push(run.display().to_string());
    resume.extend(["--resume", "--quiet"].map(String::from));
    let out = output(mpirun(2, &resume));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("resumed from step_0000005")
            && err.contains("matches rank 0; rank 1 computed or stored wrong values"),
        "{err}"
    );
    assert!(!run.join("sdc.json").exists(), "the stop is attributed");
    assert_eq!(losses(&run, "loss"), losses(&clean, "loss"));
    assert_eq!(
        std::fs::read(final_model(&run)).unwrap(),
        std::fs::read(final_model(&clean)).unwrap(),
        "final weights byte for byte"
    );
}
