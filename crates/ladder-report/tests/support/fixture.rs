//! Builds ladders of run directories from a known Chinchilla law, written the way `ladder train`
//! writes them (`crates/ladder-train/src/metrics.rs`: summary.json, metrics.jsonl, config.toml),
//! so report tests need no training. Shared with `crates/ladder/tests/cli_report.rs`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The law behind the fixtures: E, A, B, alpha, beta (Chinchilla-like, with a small-model E).
pub const TRUTH: [f64; 5] = [2.0, 60.0, 80.0, 0.33, 0.30];

/// Source entropy written into the summaries (a little below E, as for the synthetic source).
pub const ENTROPY: f64 = 1.95;

/// Deterministic "noise" in [-1, 1] from an index (no RNG needed).
fn wobble(i: usize) -> f64 {
    ((i as f64) * 12.9898).sin()
}

/// Writes one run directory; `final_val` None writes a diverged run.
pub fn write_run(dir: &Path, n: f64, d: f64, final_val: Option<f64>, steps: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let law = |t: f64| ladder_laws::chinchilla::predict(&TRUTH, n, t);
    let ratio = final_val.map_or(1.0, |v| v / law(d));
    let mut metrics = String::new();
    let mut last_train = f32::NAN;
    for s in 1..=steps {
        let t = d * s as f64 / steps as f64;
        // Losses are f32 in the trainer, written as the shortest decimal of the f32.
        let train = (ratio * law(t) * (1.0 + 0.004 * wobble(s))) as f32;
        last_train = train;
        let mut line = format!(
            "{{\"step\":{s},\"tokens\":{},\"flops\":{},\"lr\":0.003,\"loss\":{train},\"grad_norm\":0.5,\"tok_per_s\":1000.0,\"mfu\":0.1,\"elapsed_s\":{}",
            t.round() as u64,
            6.0 * n * t,
            s as f64 * 0.1
        );
        if s % 10 == 0 || s == steps {
            line += &format!(",\"val_loss\":{}", (ratio * law(t)) as f32);
        }
        line += "}\n";
        metrics += &line;
    }
    std::fs::write(dir.join("metrics.jsonl"), metrics).unwrap();
    let (status, stop, val, train) = match final_val {
        Some(v) => (
            "completed",
            "tokens",
            format!("{}", v as f32),
            format!("{last_train}"),
        ),
        None => (
            "diverged",
            "diverged",
            "null".to_string(),
            "null".to_string(),
        ),
    };
    let summary = format!(
        r#"{{
  "status": "{status}",
  "stop_reason": "{stop}",
  "N": {n},
  "N_total": {nt},
  "D": {d},
  "C": {c},
  "steps": {steps},
  "flops": {c},
  "flops_per_token": {fpt},
  "final_train_loss": {train},
  "final_val_loss": {val},
  "final_val_bpb": null,
  "entropy_nats_per_token": {ENTROPY},
  "wall_time_s": 12.5,
  "tok_per_s": 1000.0,
  "mfu": 0.1,
  "peak_gflops": 50.0,
  "peak_source": "measured",
  "threads": 1
}}
"#,
        n = n.round() as u64,
        nt = (n * 1.3).round() as u64,
        d = d.round() as u64,
        c = 6.0 * n.round() * d.round(),
        fpt = 6.0 * n,
    );
    std::fs::write(dir.join("summary.json"), summary).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "[model]\narch = \"gpt2\"\nn_layer = 2\nn_embd = 64\nn_head = 2\nblock_size = 64\n\n[train]\nbatch_size = 4\nseq_len = 64\n",
    )
    .unwrap();
}

/// A sweep directory with `sizes` runs per budget around the law's N_opt, final losses on the
/// law times a ±0.5 % wobble. Returns the run directories.
pub fn make_sweep(root: &Path, budgets: &[f64], sizes: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(root.join("runs")).unwrap();
    std::fs::write(
        root.join("sweep.toml"),
        "# test ladder written by the report tests\n",
    )
    .unwrap();
    let mut out = Vec::new();
    let mut k = 0;
    for &c in budgets {
        let (n_opt, _) = ladder_laws::allocation::optimal(&TRUTH, c);
        for j in 0..sizes {
            let x = n_opt.ln() - 1.2 + 2.4 * j as f64 / (sizes - 1) as f64;
            let n = x.exp().round();
            let d = (c / (6.0 * n)).round();
            k += 1;
            let loss = ladder_laws::chinchilla::predict(&TRUTH, n, d) * (1.0 + 0.005 * wobble(k));
            let dir = root.join("runs").join(format!("c{c:.0e}-n{j}"));
            write_run(&dir, n, d, Some(loss), 60);
            out.push(dir);
        }
    }
    out
}

/// A diagnosis.json in the shape `ladder diagnose` writes (`ladder_diagnose::Diagnosis`).
pub fn write_diagnosis(dir: &Path, verdict: &str, cause: &str, observed: f64) {
    let text = format!(
        r#"{{
  "run": "{}",
  "verdict": "{verdict}",
  "cause": "{cause}",
  "law": {{"law": "chinchilla", "N": 1000000.0, "D": 20000000.0, "observed": {observed},
           "predicted": 3.1, "interval95": [3.05, 3.15], "z": -9.4}},
  "references": 4,
  "findings": [
    {{"check": "law", "severity": "{verdict}", "cause": "{cause}", "message": "final val loss {observed} is 9.4 sigma below the law's 3.1"}},
    {{"check": "entropy", "severity": "healthy", "cause": null, "message": "val loss above the source entropy"}}
  ],
  "layers": []
}}
"#,
        dir.display()
    );
    std::fs::write(dir.join("diagnosis.json"), text).unwrap();
}
