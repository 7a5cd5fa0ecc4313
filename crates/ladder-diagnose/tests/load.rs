//! Reading run directories: non-finite values written as null, optional files, clear errors.

use ladder_diagnose::{diagnose, Cause, DiagnoseOptions, Error, RunData, Verdict};

fn write_run(dir: &std::path::Path, metrics: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("summary.json"),
        r#"{"status": "diverged", "stop_reason": "diverged", "N": 1000, "D": 4096,
            "final_train_loss": null, "final_val_loss": null, "threads": 1}"#,
    )
    .unwrap();
    std::fs::write(dir.join("metrics.jsonl"), metrics).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "[model]\nvocab_size = 256\n[train]\ntokens = 8192\n",
    )
    .unwrap();
}

#[test]
fn a_diverged_run_is_read_and_judged() {
    let t = tempfile::tempdir().unwrap();
    let run = t.path().join("r");
    write_run(
        &run,
        "{\"step\":1,\"tokens\":2048,\"lr\":0.001,\"loss\":5.5,\"grad_norm\":1.0}\n\
         {\"step\":2,\"tokens\":4096,\"lr\":0.001,\"loss\":null,\"grad_norm\":null}\n",
    );
    let r = RunData::load(&run).unwrap();
    assert_eq!(r.steps.len(), 2);
    assert_eq!(r.steps[1].loss, None);
    assert_eq!((r.vocab_size, r.planned_tokens), (Some(256), Some(8192)));
    assert!(r.events.is_empty() && r.layers.is_empty());
    let d = diagnose(&run, &DiagnoseOptions::default()).unwrap();
    assert_eq!(
        (d.verdict, d.cause),
        (Verdict::Broken, Some(Cause::Diverged))
    );
    assert!(d.findings[0].message.contains("step 2"), "{:?}", d.findings);
}

#[test]
fn bad_inputs_name_the_file() {
    let t = tempfile::tempdir().unwrap();
    let e = RunData::load(t.path()).unwrap_err();
    assert!(matches!(e, Error::NotARun { .. }));
    assert!(e.to_string().contains("no summary.json"), "{e}");

    let run = t.path().join("r");
    write_run(&run, "{\"step\":1,\"tokens\":2048}\nnot json\n");
    let e = RunData::load(&run).unwrap_err().to_string();
    assert!(e.contains("metrics.jsonl") && e.contains("line 2"), "{e}");

    let refs = t.path().join("empty");
    std::fs::create_dir_all(&refs).unwrap();
    write_run(
        &run,
        "{\"step\":1,\"tokens\":2048,\"loss\":5.0,\"grad_norm\":1.0}\n",
    );
    let opts = DiagnoseOptions {
        law: None,
        reference: Some(refs),
        ..Default::default()
    };
    let e = diagnose(&run, &opts).unwrap_err().to_string();
    assert!(e.contains("no completed reference runs"), "{e}");
}
