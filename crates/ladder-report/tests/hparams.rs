//! The report of a learning-rate × batch sweep (issue 15): its hyper-parameter figure (loss
//! against lr per budget, η_opt(C) and B_opt(C) with bands) is drawn, linked and valid; a ladder
//! without an lr grid gets none (tests/report.rs).

#[path = "support/fixture.rs"]
mod fixture;

use ladder_laws::synth::{hparam_points, HparamSurface};
use ladder_report::{write_report, ReportOptions};

#[test]
fn an_lr_batch_sweep_gets_the_hyper_parameter_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tmp.path().join("sweep");
    let s = HparamSurface {
        p: [0.3118, -0.125, 0.292, 0.3271],
        curv_lr: 0.02,
        curv_batch: 0.01,
        skew_lr: 0.0,
    };
    let p = hparam_points(
        &s,
        &[1e13, 1e14, 1e15],
        (5, 4),
        &[(0.2, 0.3); 3],
        0.002,
        false,
        0,
    );
    let n = 1e5;
    for i in 0..p.len() {
        let dir = sweep.join("runs").join(format!("r{i:02}"));
        fixture::write_run(&dir, n, p.c[i] / (6.0 * n), Some(p.loss[i]), 10);
        // The batch in whole tokens (seq_len 1) so the planted batch survives the rounding.
        std::fs::write(
            dir.join("config.toml"),
            format!(
                "[model]\nn_layer = 2\nn_embd = 64\n\n[train]\nlr = {:e}\nbatch_size = {}\nseq_len = 1\ngrad_accum = 1\n",
                p.lr[i],
                p.batch_tokens[i].round()
            ),
        )
        .unwrap();
    }
    let out = tmp.path().join("report.html");
    let r = write_report(
        &sweep,
        &out,
        &ReportOptions {
            bootstrap: 40,
            ..ReportOptions::default()
        },
    )
    .unwrap();
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(
        html.contains("id=\"fig-hparams\""),
        "no hyper-parameter figure"
    );
    assert!(html.contains("η_opt = "), "caption with the fitted law");
    for ext in ["png", "svg"] {
        let f = r.files_dir.join(format!("hparams.{ext}"));
        let bytes = std::fs::read(&f).unwrap();
        assert!(bytes.len() > 1000, "{}", f.display());
    }
    let svg = std::fs::read_to_string(r.files_dir.join("hparams.svg")).unwrap();
    assert!(svg.contains("Optimal learning rate") && svg.contains("Optimal batch"));
}
