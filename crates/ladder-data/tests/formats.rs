//! The same documents as a text file, JSON Lines, Parquet (several row groups, snappy and zstd
//! pages) and gzip/zstd-compressed text and JSON Lines give byte-identical data directories; bad
//! lines and rows are errors naming them, or are counted and skipped under `--skip-bad`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ladder_data::{prepare, Error, PrepareConfig, Progress, ReadOptions};
use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Documents with several lines, Unicode, indentation and blank lines, of varied lengths.
fn documents(n: usize) -> Vec<String> {
    const WORDS: &[&str] = &[
        "the", "ladder", "scaling", "law", "token", "naïve", "café", "—", "42", "loss", "data",
    ];
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..n)
        .map(|d| {
            let mut doc = String::new();
            for line in 0..(1 + d % 7) {
                if line % 3 == 2 {
                    doc.push_str("  ");
                }
                for w in 0..(2 + (d + line) % 9) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if w > 0 {
                        doc.push(' ');
                    }
                    if x.is_multiple_of(5) {
                        // Numbers give BPE plenty of distinct pairs to merge.
                        doc.push_str(&(x % 997).to_string());
                    } else {
                        doc.push_str(WORDS[(x % WORDS.len() as u64) as usize]);
                    }
                }
                doc.push_str(if line % 4 == 3 { "\n\n" } else { "\n" });
            }
            doc
        })
        .collect()
}

fn jsonl(docs: &[String]) -> String {
    docs.iter()
        .enumerate()
        .map(|(i, d)| serde_json::json!({"id": i, "text": d}).to_string() + "\n")
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut e, bytes).expect("gzip");
    e.finish().expect("gzip")
}

/// Writes `docs` (a `None` is a null) to a Parquet file with an `id` column before `text`, in
/// row groups of `group` rows; `text` is REQUIRED when no document is `None`, else OPTIONAL.
fn write_parquet(path: &Path, docs: &[Option<&str>], group: usize, codec: Compression) {
    let required = docs.iter().all(Option::is_some);
    let schema = Arc::new(
        parse_message_type(&format!(
            "message doc {{ REQUIRED INT64 id; {} BYTE_ARRAY text (UTF8); }}",
            if required { "REQUIRED" } else { "OPTIONAL" }
        ))
        .expect("schema"),
    );
    let props = Arc::new(WriterProperties::builder().set_compression(codec).build());
    let file = std::fs::File::create(path).expect("create parquet");
    let mut w = SerializedFileWriter::new(file, schema, props).expect("writer");
    for (g, rows) in docs.chunks(group).enumerate() {
        let mut rg = w.next_row_group().expect("row group");
        let mut col = rg.next_column().expect("id column").expect("id");
        let ids: Vec<i64> = (0..rows.len() as i64)
            .map(|i| (g * group) as i64 + i)
            .collect();
        col.typed::<Int64Type>()
            .write_batch(&ids, None, None)
            .expect("ids");
        col.close().expect("close id");
        let mut col = rg.next_column().expect("text column").expect("text");
        let defs: Vec<i16> = rows.iter().map(|r| i16::from(r.is_some())).collect();
        let values: Vec<ByteArray> = rows.iter().flatten().map(|s| ByteArray::from(*s)).collect();
        let defs = if required {
            None
        } else {
            Some(defs.as_slice())
        };
        col.typed::<ByteArrayType>()
            .write_batch(&values, defs, None)
            .expect("texts");
        col.close().expect("close text");
        rg.close().expect("close row group");
    }
    w.close().expect("close parquet");
}

/// Records the notes `prepare` gives.
#[derive(Default)]
struct Notes(Mutex<Vec<String>>);

impl Progress for Notes {
    fn note(&self, message: &str) {
        self.0.lock().expect("notes").push(message.to_string());
    }
}

fn config(input: &Path, read: ReadOptions) -> PrepareConfig {
    PrepareConfig {
        inputs: vec![input.to_path_buf()],
        vocab_size: 320,
        val_fraction: 0.1,
        read,
    }
}

/// Prepares `input` into `out`; returns the bytes of tokenizer.json, train.bin and val.bin.
fn run(input: &Path, out: &Path, read: ReadOptions) -> Result<Vec<Vec<u8>>, Error> {
    prepare(&config(input, read), out, false, &Notes::default())?;
    Ok(["tokenizer.json", "train.bin", "val.bin"]
        .iter()
        .map(|f| std::fs::read(out.join(f)).expect("output file"))
        .collect())
}

#[test]
fn every_format_gives_the_shards_of_the_same_text() -> TestResult {
    let t = tempfile::tempdir()?;
    let d = t.path();
    let docs = documents(3000);
    let text = docs.join("<|endoftext|>");
    let put = |name: &str, bytes: &[u8]| -> PathBuf {
        let p = d.join(name);
        std::fs::write(&p, bytes).expect("write input");
        p
    };
    let txt = put("corpus.txt", text.as_bytes());
    let want = run(&txt, &d.join("out-txt"), ReadOptions::default())?;
    assert!(want[2].len() > 64, "a non-empty validation shard");

    let refs: Vec<Option<&str>> = docs.iter().map(|s| Some(s.as_str())).collect();
    let snappy = d.join("corpus-snappy.parquet");
    write_parquet(&snappy, &refs, 700, Compression::SNAPPY);
    let zstd_pq = d.join("corpus-zstd.parquet");
    write_parquet(
        &zstd_pq,
        &refs,
        1000,
        Compression::ZSTD(ZstdLevel::default()),
    );
    let lines = jsonl(&docs);
    let inputs = [
        put("corpus.jsonl", lines.as_bytes()),
        put("corpus.jsonl.gz", &gzip(lines.as_bytes())),
        put("corpus.jsonl.zst", &zstd::encode_all(lines.as_bytes(), 3)?),
        put("corpus.txt.gz", &gzip(text.as_bytes())),
        put("corpus.txt.zst", &zstd::encode_all(text.as_bytes(), 19)?),
        snappy,
        zstd_pq,
    ];
    for (i, input) in inputs.iter().enumerate() {
        let got = run(input, &d.join(format!("out-{i}")), ReadOptions::default())?;
        for (name, (g, w)) in ["tokenizer.json", "train.bin", "val.bin"]
            .iter()
            .zip(got.iter().zip(&want))
        {
            assert!(
                g == w,
                "{}: {name} differs from the text file's",
                input.display()
            );
        }
    }
    Ok(())
}

#[test]
fn bad_lines_and_rows_are_named_or_counted_and_skipped() -> TestResult {
    let t = tempfile::tempdir()?;
    let d = t.path();
    let docs = documents(400);
    // Line 3 is not JSON, line 6 lacks the field, line 9 has a number in it.
    let mut lines: Vec<String> = jsonl(&docs).lines().map(str::to_string).collect();
    lines.insert(2, "{\"text\": oops".into());
    lines.insert(5, "{\"body\": \"x\"}".into());
    lines.insert(8, "{\"text\": 7}".into());
    let bad = d.join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n"))?;
    let e = run(&bad, &d.join("o1"), ReadOptions::default()).expect_err("bad line 3");
    assert!(matches!(e, Error::JsonlBadLine { line: 3, .. }), "{e}");
    assert!(e.to_string().contains("bad.jsonl:3"), "{e}");
    assert!(!d.join("o1").exists());

    let skip = ReadOptions {
        skip_bad: true,
        ..ReadOptions::default()
    };
    let notes = Notes::default();
    prepare(&config(&bad, skip.clone()), &d.join("o2"), false, &notes)?;
    let notes = notes.0.into_inner()?;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("skipped 3 bad records") && n.contains("bad.jsonl:3")),
        "{notes:?}"
    );
    // Skipping the bad lines gives the shards of the good lines alone.
    let good = d.join("good.jsonl");
    std::fs::write(&good, jsonl(&docs))?;
    let read = |o: &str| std::fs::read(d.join(o).join("train.bin"));
    run(&good, &d.join("o3"), ReadOptions::default())?;
    assert_eq!(read("o2")?, read("o3")?);

    // Another field name.
    let other: String = docs
        .iter()
        .map(|s| serde_json::json!({"content": s}).to_string() + "\n")
        .collect();
    let other_p = d.join("other.jsonl");
    std::fs::write(&other_p, other)?;
    let e = run(&other_p, &d.join("o4"), ReadOptions::default()).expect_err("no text field");
    assert!(matches!(e, Error::JsonlMissingText { line: 1, .. }), "{e}");
    let content = ReadOptions {
        field: "content".into(),
        ..ReadOptions::default()
    };
    run(&other_p, &d.join("o5"), content)?;
    assert_eq!(read("o5")?, read("o3")?);

    // Parquet: a null row is an error naming it, or skipped; a missing column lists the others.
    let mut rows: Vec<Option<&str>> = docs.iter().map(|s| Some(s.as_str())).collect();
    rows.insert(150, None);
    let pq = d.join("nulls.parquet");
    write_parquet(&pq, &rows, 100, Compression::UNCOMPRESSED);
    let e = run(&pq, &d.join("o6"), ReadOptions::default()).expect_err("null row");
    assert!(matches!(e, Error::ParquetBadRow { row: 151, .. }), "{e}");
    run(&pq, &d.join("o7"), skip)?;
    assert_eq!(read("o7")?, read("o3")?);
    let body = ReadOptions {
        column: "body".into(),
        ..ReadOptions::default()
    };
    let e = run(&pq, &d.join("o8"), body).expect_err("no such column");
    assert!(e.to_string().contains("id, text"), "{e}");
    let id = ReadOptions {
        column: "id".into(),
        ..ReadOptions::default()
    };
    let e = run(&pq, &d.join("o9"), id).expect_err("not a string column");
    assert!(matches!(e, Error::ParquetColumnType { .. }), "{e}");

    // A corrupt compressed file names the format.
    let corrupt = d.join("broken.txt.gz");
    let mut gz = gzip(b"some text\nmore text\n");
    let n = gz.len();
    gz[n / 2] ^= 0xff;
    gz.truncate(n - 4);
    std::fs::write(&corrupt, gz)?;
    let e = run(&corrupt, &d.join("o10"), ReadOptions::default()).expect_err("corrupt gzip");
    assert!(e.to_string().contains("gzip"), "{e}");
    Ok(())
}
