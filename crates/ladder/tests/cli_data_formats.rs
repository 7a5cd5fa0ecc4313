//! `ladder data prepare` on JSON Lines through the CLI: `--field`, a bad line's error naming the
//! file and line, and `--skip-bad` counting what it skips. (Every format giving the text file's
//! shards is tested in ladder-data's tests/formats.rs.)

use std::path::Path;
use std::process::{Command, Output};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn ladder(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(args)
        .output()
        .expect("run the ladder binary")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// JSON lines with the documents in `field`.
fn lines(field: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let doc = format!(
                "document {i} says {} and {}\nline two of {i}: {}\n",
                i * 7919 % 1009,
                ["ladder", "naïve", "scaling", "café"][i % 4],
                i % 13
            );
            serde_json::json!({ field: doc, "id": i }).to_string()
        })
        .collect()
}

#[test]
fn data_prepare_reads_a_jsonl_field_and_skips_or_names_bad_lines() -> TestResult {
    let t = tempfile::tempdir()?;
    let d = t.path();
    let mut l = lines("content", 300);
    l.insert(4, "{not json".to_string());
    let input = d.join("docs.jsonl");
    std::fs::write(&input, l.join("\n"))?;
    let prep = |out: &str, extra: &[&str]| {
        let out = d.join(out);
        let mut args = vec![
            "data",
            "prepare",
            "--input",
            s(&input),
            "--vocab-size",
            "300",
            "--val-fraction",
            "0.05",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", s(&out)]);
        let o = ladder(&args);
        (o, out)
    };

    let (o, out) = prep("a", &["--field", "content"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("docs.jsonl:5: not valid JSON"), "{err}");
    assert!(err.contains("--skip-bad"), "{err}");
    assert!(!out.exists());

    let (o, out) = prep("b", &["--skip-bad"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "no \"text\" field anywhere");
    assert!(err.contains("input is empty"), "{err}");
    assert!(!out.exists());

    let (o, out) = prep("c", &["--field", "content", "--skip-bad"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("skipped 1 bad record") && err.contains("docs.jsonl:5"),
        "{err}"
    );
    let meta = ladder_data::Meta::load(&out)?;
    // The document the split falls in counts in both splits.
    assert!((300..=301).contains(&(meta.train_documents + meta.val_documents)));
    Ok(())
}
