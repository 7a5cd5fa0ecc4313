//! `ladder data` end to end: the built binary on generated corpora, bad inputs, corrupt shards.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ladder_data::{load_tokenizer, Meta, Split, TokenShard, TrainSampler};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn ladder(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(args)
        .output()
        .expect("run the ladder binary")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// A deterministic English-like corpus: `n` lines of words from a small lexicon.
fn corpus(n: usize, salt: u64) -> String {
    const WORDS: &[&str] = &[
        "the",
        "and",
        "of",
        "ladder",
        "scaling",
        "law",
        "token",
        "model",
        "loss",
        "data",
        "in",
        "beginning",
        "was",
        "word",
        "Ünïcode",
        "naïve",
        "café",
        "42",
        "3.14",
        "—",
        "“quoted”",
    ];
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ salt;
    let mut out = String::new();
    for i in 0..n {
        let len = 3 + i % 9;
        for j in 0..len {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if j > 0 {
                out.push(' ');
            }
            let r = (x >> 33) as usize;
            if r.is_multiple_of(4) {
                // Numbers give BPE plenty of distinct pairs to merge.
                out.push_str(&(r % 997).to_string());
            } else {
                out.push_str(WORDS[r % WORDS.len()]);
            }
        }
        out.push_str(if i % 5 == 4 { ".\n\n" } else { ",\n" });
    }
    out
}

/// Runs `ladder data prepare` expecting failure; returns stderr and checks `out` was not created.
fn prepare_fails(inputs: &[&Path], out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["data", "prepare", "--out", s(out)];
    for i in inputs {
        args.push("--input");
        args.push(s(i));
    }
    args.extend_from_slice(extra);
    let o = ladder(&args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "expected failure for {args:?}");
    assert!(!err.contains("panicked"), "no panic: {err}");
    assert!(
        !out.exists(),
        "{} must not exist after a failure",
        out.display()
    );
    // Nothing half-written beside it either.
    let parent = out.parent().expect("parent");
    let leftovers: Vec<PathBuf> = std::fs::read_dir(parent)
        .expect("read parent")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(".tmp-"))
        })
        .collect();
    assert!(leftovers.is_empty(), "staging leftovers: {leftovers:?}");
    err
}

#[test]
fn data_prepare_rejects_bad_inputs_with_clear_messages() -> TestResult {
    let t = tempfile::tempdir()?;
    let d = t.path();
    let out = d.join("out");
    let good = d.join("good.txt");
    std::fs::write(&good, corpus(300, 1))?;

    let empty = d.join("empty.txt");
    std::fs::write(&empty, "")?;
    let err = prepare_fails(&[&empty], &out, &[]);
    assert!(err.contains("input is empty"), "{err}");

    let empty_dir = d.join("nothing");
    std::fs::create_dir(&empty_dir)?;
    let err = prepare_fails(&[&empty_dir], &out, &[]);
    assert!(err.contains("input is empty"), "{err}");

    let missing = d.join("no-such-file.txt");
    let err = prepare_fails(&[&good, &missing], &out, &[]);
    assert!(
        err.contains("no-such-file.txt") && err.contains("not found"),
        "{err}"
    );

    let binary = d.join("blob.dat");
    std::fs::write(&binary, b"text then \x00\x01\x02 bytes")?;
    let err = prepare_fails(&[&good, &binary], &out, &[]);
    assert!(err.contains("blob.dat") && err.contains("binary"), "{err}");
    assert!(err.contains("byte offset 10"), "{err}");

    let latin1 = d.join("latin1.txt");
    std::fs::write(&latin1, b"caf\xe9 au lait")?;
    let err = prepare_fails(&[&latin1], &out, &[]);
    assert!(
        err.contains("latin1.txt") && err.contains("not valid UTF-8"),
        "{err}"
    );
    assert!(err.contains("byte offset 3"), "{err}");

    let jsonl = d.join("docs.jsonl");
    std::fs::write(&jsonl, "{\"text\": \"fine\"}\n{\"body\": \"no text\"}\n")?;
    let err = prepare_fails(&[&jsonl], &out, &[]);
    assert!(
        err.contains("docs.jsonl:2") && err.contains("\"text\""),
        "{err}"
    );

    let err = prepare_fails(&[&good], &out, &["--vocab-size", "200"]);
    assert!(
        err.contains("vocab size 200 is too small") && err.contains("257"),
        "{err}"
    );

    let err = prepare_fails(&[&good], &out, &["--vocab-size", "60000"]);
    assert!(err.contains("too large for this data"), "{err}");

    for bad in ["0", "0.7", "-0.1", "NaN"] {
        let arg = format!("--val-fraction={bad}");
        let err = prepare_fails(&[&good], &out, &[arg.as_str()]);
        assert!(err.contains("val fraction"), "{bad}: {err}");
    }

    // An existing non-empty --out is refused (and left as it was) unless --force.
    std::fs::create_dir(&out)?;
    std::fs::write(out.join("keep.txt"), "mine")?;
    let o = ladder(&[
        "data",
        "prepare",
        "--input",
        s(&good),
        "--out",
        s(&out),
        "--vocab-size",
        "300",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("not empty") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(out.join("keep.txt"))?, "mine");
    let o = ladder(&[
        "data",
        "prepare",
        "--input",
        s(&good),
        "--out",
        s(&out),
        "--vocab-size",
        "300",
        "--force",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.join("keep.txt").exists());
    assert!(out.join("meta.json").exists());
    Ok(())
}

#[test]
fn data_prepare_walk_skips_binary_files_and_hidden_dirs() -> TestResult {
    let t = tempfile::tempdir()?;
    let src = t.path().join("tree");
    for d in ["pkg/__pycache__", ".git/objects", ".venv"] {
        std::fs::create_dir_all(src.join(d))?;
    }
    let text = corpus(1500, 7);
    std::fs::write(src.join("pkg/mod.py"), &text)?;
    // Binary files as a Python tree holds them: the NUL bytes sit near the start.
    std::fs::write(
        src.join("pkg/__pycache__/mod.pyc"),
        b"\x6f\x0d\x0d\x0a\x00\x00 code",
    )?;
    std::fs::write(
        src.join("pkg/logo.png"),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
    )?;
    // Hidden directories are not read at all (their text would otherwise be a document).
    std::fs::write(src.join(".git/objects/blob"), "hidden text")?;
    std::fs::write(src.join(".venv/site.py"), corpus(200, 8))?;
    let prepare = |input: &Path, out: &Path| {
        ladder(&[
            "data",
            "prepare",
            "--input",
            s(input),
            "--out",
            s(out),
            "--vocab-size",
            "300",
        ])
    };
    let out = t.path().join("data");
    let o = prepare(&src, &out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("skipped 2 binary files"), "{err}");
    assert!(err.contains("mod.pyc") && err.contains("logo.png"), "{err}");
    let meta = Meta::load(&out)?;
    assert_eq!(meta.text.as_ref().map(|t| t.files.len()), Some(1));
    // The shards are exactly those of the one text file prepared alone.
    let alone = t.path().join("alone");
    let o = prepare(&src.join("pkg/mod.py"), &alone);
    let quiet = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{quiet}");
    assert!(!quiet.contains("skipped"), "{quiet}");
    for f in ["train.bin", "val.bin", "tokenizer.json"] {
        assert_eq!(
            std::fs::read(out.join(f))?,
            std::fs::read(alone.join(f))?,
            "{f}"
        );
    }

    // An explicitly named binary file is still an error.
    let err = prepare_fails(&[&src.join("pkg/logo.png")], &t.path().join("x"), &[]);
    assert!(err.contains("logo.png") && err.contains("binary"), "{err}");
    // A directory with no text at all is still an error, and says what it skipped.
    let err = prepare_fails(&[&src.join("pkg/__pycache__")], &t.path().join("y"), &[]);
    assert!(
        err.contains("skipped 1 binary file") && err.contains("no text"),
        "{err}"
    );
    Ok(())
}

#[test]
fn data_prepare_roundtrips_a_generated_corpus() -> TestResult {
    let t = tempfile::tempdir()?;
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("sub"))?;
    let a = corpus(2000, 1);
    let b = corpus(1500, 2);
    std::fs::write(src.join("a.txt"), &a)?;
    std::fs::write(src.join("sub/b.txt"), &b)?;
    std::fs::write(src.join(".hidden.txt"), "ignored")?;
    let lines: Vec<String> = (0..50).map(|i| corpus(3, 10 + i)).collect();
    let jsonl: String = lines
        .iter()
        .map(|l| format!("{}\n", serde_json::json!({ "text": l, "id": 1 })))
        .collect();
    std::fs::write(src.join("c.jsonl"), jsonl)?;
    let out = t.path().join("data");
    let o = ladder(&[
        "data",
        "prepare",
        "--input",
        s(&src),
        "--out",
        s(&out),
        "--vocab-size",
        "400",
        "--val-fraction",
        "0.05",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("wrote"), "{stdout}");

    let meta = Meta::load(&out)?;
    assert_eq!(meta.vocab_size, 400);
    assert_eq!(
        meta.text.as_ref().map(|t| t.files.len()),
        Some(3),
        "hidden file skipped"
    );
    // Documents in walk order: a.txt, c.jsonl (50 lines), sub/b.txt.
    let docs: Vec<&str> = std::iter::once(a.as_str())
        .chain(lines.iter().map(String::as_str))
        .chain(std::iter::once(b.as_str()))
        .collect();
    let all_text: String = docs.concat();
    assert_eq!(meta.train_bytes + meta.val_bytes, all_text.len() as u64);
    assert!(meta.val_bytes as f64 >= 0.05 * all_text.len() as f64);
    for k in ["train.bin", "val.bin", "tokenizer.json"] {
        assert_eq!(meta.hashes.get(k).map(String::len), Some(64), "{k}");
    }

    // decode(encode(text)) == text, and the shards decode to the documents separated by EOT.
    let tok = load_tokenizer(&out)?;
    for text in [a.as_str(), "unseen: ½ ∑ 🦀\ttabs\n"] {
        let ids = tok.encode(text, false)?.get_ids().to_vec();
        assert_eq!(tok.decode(&ids, false)?, text);
    }
    let train = meta.open_shard(&out, Split::Train)?.to_vec();
    let val = meta.open_shard(&out, Split::Val)?.to_vec();
    let eot = meta.eot_token;
    assert_eq!(train.last(), Some(&eot));
    assert_eq!(val.last(), Some(&eot));
    let decoded = tok.decode(&train, false)? + &tok.decode(&val, false)?;
    let without_eot = decoded.replace("<|endoftext|>", "");
    assert_eq!(without_eot, all_text);
    assert_eq!(
        train.iter().chain(&val).filter(|&&t| t == eot).count() as u64,
        meta.train_documents + meta.val_documents
    );

    // Same inputs, same bytes (parallel tokenization is deterministic).
    let out2 = t.path().join("data2");
    let o = ladder(&[
        "data",
        "prepare",
        "--input",
        s(&src),
        "--out",
        s(&out2),
        "--vocab-size",
        "400",
        "--val-fraction",
        "0.05",
        "--quiet",
    ]);
    assert!(o.status.success());
    assert!(o.stdout.is_empty(), "--quiet prints nothing");
    assert_eq!(Meta::load(&out2)?.hashes, meta.hashes);

    // `ladder data info` checks and summarises the directory.
    let o = ladder(&["data", "info", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Ok(())
}

#[test]
fn data_info_detects_shard_corruption() -> TestResult {
    let t = tempfile::tempdir()?;
    let txt = t.path().join("a.txt");
    std::fs::write(&txt, corpus(500, 3))?;
    let out = t.path().join("d");
    let o = ladder(&[
        "data",
        "prepare",
        "--input",
        s(&txt),
        "--out",
        s(&out),
        "--vocab-size",
        "300",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let path = out.join("train.bin");
    let good = std::fs::read(&path)?;

    let check = |bytes: &[u8], want: &str| -> TestResult {
        std::fs::write(&path, bytes)?;
        let o = ladder(&["data", "info", s(&out)]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "corruption ({want}) not detected");
        assert!(
            err.contains("train.bin") && err.contains(want),
            "{want}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(TokenShard::open(&path).is_err());
        Ok(())
    };
    let mut b = good.clone();
    b[0] = b'#';
    check(&b, "not a ladder token shard")?;
    let mut b = good.clone();
    b[100] ^= 0x40;
    check(&b, "checksum mismatch")?;
    check(&good[..good.len() - 1], "header promises")?;
    let mut b = good.clone();
    b[8] = 2;
    check(&b, "format version 2")?;
    std::fs::write(&path, &good)?;
    assert!(ladder(&["data", "info", s(&out)]).status.success());
    Ok(())
}

#[test]
fn data_sampler_is_deterministic_and_covers_each_window_once_per_epoch() -> TestResult {
    let t = tempfile::tempdir()?;
    let out = t.path().join("synth");
    let o = ladder(&[
        "data",
        "synth",
        "--out",
        s(&out),
        "--tokens",
        "20001",
        "--val-tokens",
        "5000",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let meta = Meta::load(&out)?;
    assert!(meta
        .entropy_nats_per_token
        .is_some_and(|h| h > 0.5 && h < 3.0));
    let t_len = 100;
    let mut a = TrainSampler::new(meta.open_shard(&out, Split::Train)?, t_len, 7)?;
    let mut b = TrainSampler::new(meta.open_shard(&out, Split::Train)?, t_len, 7)?;
    let w = a.windows_per_epoch();
    assert_eq!(w, 200);
    let tokens = meta.open_shard(&out, Split::Train)?.to_vec();
    let (mut x, mut y, mut x2, mut y2) = (vec![0; 100], vec![0; 100], vec![0; 100], vec![0; 100]);
    for epoch in 0..2 {
        let mut hits = vec![0; w as usize];
        for i in 0..w {
            let idx = epoch * w + i;
            a.sequence(idx, &mut x, &mut y);
            // b reads the same index after jumping around: same tokens.
            b.sequence((idx * 7919) % (3 * w), &mut x2, &mut y2);
            b.sequence(idx, &mut x2, &mut y2);
            assert_eq!((&x, &y), (&x2, &y2));
            let win = a.window(idx) as usize;
            hits[win] += 1;
            assert_eq!(&x[..], &tokens[win * t_len..win * t_len + t_len]);
            assert_eq!(&y[..], &tokens[win * t_len + 1..win * t_len + t_len + 1]);
        }
        assert!(hits.iter().all(|&h| h == 1), "epoch {epoch}: {hits:?}");
    }
    Ok(())
}

#[test]
fn data_synth_rejects_bad_knobs_and_is_reproducible() -> TestResult {
    let t = tempfile::tempdir()?;
    let out = t.path().join("s");
    let o = ladder(&["data", "synth", "--out", s(&out), "--order-max", "5"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("order_max = 5") && err.contains("order_min..=3"),
        "{err}"
    );
    assert!(!out.exists());

    let args = |o: &Path| {
        vec![
            "data".to_string(),
            "synth".into(),
            "--out".into(),
            s(o).into(),
            "--tokens".into(),
            "50000".into(),
            "--val-tokens".into(),
            "8000".into(),
            "--switch-prob".into(),
            "0.01".into(),
        ]
    };
    let run = |o: &Path| {
        let a = args(o);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        ladder(&a)
    };
    let r = run(&out);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stdout).contains("entropy"));
    let out2 = t.path().join("s2");
    assert!(run(&out2).status.success());
    let (m1, m2) = (Meta::load(&out)?, Meta::load(&out2)?);
    assert_eq!(m1.hashes, m2.hashes);
    assert_eq!(m1.entropy_nats_per_token, m2.entropy_nats_per_token);
    assert_eq!(m1.synth.as_ref().map(|s| s.config.switch_prob), Some(0.01));
    Ok(())
}

#[test]
fn closed_stdout_pipe_ends_quietly_without_a_panic() -> TestResult {
    let t = tempfile::tempdir()?;
    let out = t.path().join("s");
    // A pipe whose reading end is already closed: every write to it fails with EPIPE.
    let (reader, writer) = std::io::pipe()?;
    drop(reader);
    let o = Command::new(env!("CARGO_BIN_EXE_ladder"))
        .args(["data", "synth", "--out", s(&out), "--tokens", "20000"])
        .args(["--val-tokens", "4000"])
        .stdout(writer)
        .output()?;
    let err = String::from_utf8_lossy(&o.stderr);
    // Neither a panic (println!) nor an error (writeln!): a closed pipe is the reader's choice.
    assert!(!err.contains("panicked") && !err.contains("error"), "{err}");
    // The data was written before the summary line that met the closed pipe.
    Meta::load(&out)?;
    Ok(())
}
