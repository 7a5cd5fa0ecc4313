//! End-to-end: `ladder profile` (table, JSON, trace, roofline figures) and `ladder doctor`
//! (healthy exit 0, a broken kernel exit 1 naming it, a stored fingerprint that differs exit 1).
//! Every run uses its own machine cache through $LADDER_MACHINE_CACHE.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ladder-cli-profile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ladder(cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(args)
        .env("LADDER_MACHINE_CACHE", cache)
        .env_remove("OMPI_COMM_WORLD_SIZE")
        .env_remove("PMI_SIZE")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn profile_prints_a_table_writes_a_valid_trace_and_the_roofline() {
    let d = tmp("profile");
    let cache = d.join("machine.json");
    let trace = d.join("trace.json");
    let out = d.join("prof");
    let o = ladder(
        &cache,
        &[
            "profile",
            "--config",
            "tiny",
            "--steps",
            "2",
            "--warmup",
            "1",
            "--threads",
            "1",
            "--batch",
            "2",
            "--seq",
            "32",
            "--trace",
            trace.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for needle in [
        "fwd",
        "bwd",
        "qkv",
        "attention",
        "adamw",
        "uncovered",
        "overhead",
        "bitwise identical: yes",
    ] {
        assert!(t.contains(needle), "{needle} missing:\n{t}");
    }
    // The roofs were measured and cached for the next run.
    let c: Value = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    assert!(c["entries"][0]["gemm_gflops"].as_f64().unwrap() > 0.0);
    let tr: Value = serde_json::from_slice(&std::fs::read(&trace).unwrap()).unwrap();
    let evs = tr["traceEvents"].as_array().unwrap();
    assert!(evs.iter().filter(|e| e["ph"] == "X").count() > 20);
    let p: Value =
        serde_json::from_slice(&std::fs::read(out.join("profile.json")).unwrap()).unwrap();
    assert!(p["ops"].as_array().unwrap().len() > 10);
    for f in ["roofline.png", "roofline.svg"] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 1000, "{f}");
    }
    // JSON mode prints one object.
    let o = ladder(
        &cache,
        &[
            "profile",
            "--config",
            "tiny",
            "--steps",
            "1",
            "--warmup",
            "0",
            "--threads",
            "1",
            "--batch",
            "1",
            "--seq",
            "16",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["coverage"]["median"].as_f64().unwrap() > 0.5);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn doctor_is_healthy_then_names_a_broken_kernel_and_a_changed_fingerprint() {
    let d = tmp("doctor");
    let cache = d.join("machine.json");
    let o = ladder(&cache, &["doctor", "--quick", "--threads", "1"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("healthy") && t.contains("recorded"), "{t}");
    // Second run: compares against the recorded fingerprint and speed.
    let o = ladder(&cache, &["doctor", "--quick", "--threads", "1", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let fp = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "fingerprint")
        .unwrap();
    assert_eq!(fp["status"], "ok", "{fp}");
    assert!(fp["detail"].as_str().unwrap().contains("matches"), "{fp}");
    assert!(matches!(o.status.code(), Some(0) | Some(2)), "{}", text(&o));
    // A broken kernel: exit 1, named.
    let o = ladder(
        &cache,
        &[
            "doctor",
            "--quick",
            "--threads",
            "1",
            "--break-kernel",
            "layernorm_backward",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("broken kernel(s): layernorm_backward"), "{t}");
    // A stored fingerprint that this build no longer reproduces: exit 1.
    let mut c: Value = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    c["entries"][0]["fingerprint"] = Value::from("0123456789abcdef");
    std::fs::write(&cache, serde_json::to_vec(&c).unwrap()).unwrap();
    let o = ladder(&cache, &["doctor", "--quick", "--threads", "1"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("differs from 0123456789abcdef"), "{t}");
    // Bad input: a kernel that does not exist.
    let o = ladder(&cache, &["doctor", "--break-kernel", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no such kernel"));
    let _ = std::fs::remove_dir_all(&d);
}
