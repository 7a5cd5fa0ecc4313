//! Each check on runs built in memory with one known defect: the verdict and the cause class
//! must name it, and a clean run must be healthy.

use ladder_diagnose::{
    judge, judge_with, Cause, LayerRecord, LayerStat, RunData, RunSummary, Step, Verdict,
};
use ladder_laws::fitfile::Support;
use ladder_laws::{synth, FitOptions};
use ladder_schema::{Status, StopReason};

const V: u64 = 1024;
const ENTROPY: f64 = 1.3;

/// A healthy-looking run: loss decays from ln V towards 2.5, flat gradient norms, AdamW's exact
/// first step, every weight moving, val ≈ train.
fn healthy(n: f64, d: f64) -> RunData {
    let steps: Vec<Step> = (1..=200u64)
        .map(|s| {
            let x = s as f64 / 200.0;
            let wiggle = 0.02 * ((s * 7919 % 13) as f64 / 13.0 - 0.5);
            Step {
                step: s,
                tokens: (d * x) as u64,
                lr: Some(1e-3),
                loss: Some(2.5 + ((V as f64).ln() - 2.5) * (-8.0 * x).exp() + wiggle),
                grad_norm: Some(1.0 + wiggle),
                tok_per_s: Some(10_000.0),
                val_loss: None,
            }
        })
        .collect();
    let layer = |name: &str, ratio: f64, unchanged: f64| LayerStat {
        layer: name.into(),
        grad_norm: Some(0.5),
        weight_norm: Some(10.0),
        update_ratio: Some(ratio),
        unchanged_fraction: Some(unchanged),
        numel: 10_000,
    };
    // Step 1: ‖Δθ‖ = lr·√numel = 1e-4·100 = 1e-2 = 1e-3 · ‖θ‖.
    let layers = [1u64, 50, 100, 150]
        .iter()
        .map(|&step| LayerRecord {
            step,
            lr: Some(1e-4),
            grad_cosine_prev: (step > 1).then_some(0.05),
            layers: vec![
                layer("wte", 1e-3, 0.0),
                layer("h.0", 1e-3, 0.0),
                layer("h.1", 1e-3, 0.0),
            ],
        })
        .collect();
    RunData {
        dir: "runs/healthy".into(),
        summary: serde_json::from_value::<RunSummary>(serde_json::json!({
            "status": "completed",
            "stop_reason": "tokens",
            "N": n as u64,
            "D": d as u64,
            "final_train_loss": 2.5,
            "final_val_loss": 2.51,
            "entropy_nats_per_token": ENTROPY,
            "tok_per_s": 10_000.0,
            "threads": 1,
        }))
        .unwrap(),
        steps,
        events: Vec::new(),
        layers,
        vocab_size: Some(V),
        planned_tokens: Some(d as u64),
        data: Err("built in memory".into()),
    }
}

fn refs() -> Vec<RunData> {
    (0..3)
        .map(|i| healthy(1e6 * (1.0 + 0.2 * i as f64), 2e7))
        .collect()
}

fn check(run: &RunData, verdict: Verdict, cause: Option<Cause>) {
    let d = judge(run, None, &refs());
    let why: Vec<String> = d.findings.iter().map(|f| format!("{f:?}")).collect();
    assert_eq!(d.verdict, verdict, "{why:#?}");
    assert_eq!(d.cause, cause, "{why:#?}");
}

#[test]
fn a_clean_run_is_healthy() {
    check(&healthy(1.1e6, 2e7), Verdict::Healthy, None);
    // Without references too.
    let d = judge(&healthy(1.1e6, 2e7), None, &[]);
    assert_eq!(d.verdict, Verdict::Healthy, "{:#?}", d.findings);
    // Per-layer medians over the logged steps after the first, with the references' beside.
    let d = judge(&healthy(1.1e6, 2e7), None, &refs());
    let layers: Vec<(&str, f64, Option<f64>)> = d
        .layers
        .iter()
        .map(|l| (l.layer.as_str(), l.update_ratio, l.reference_update_ratio))
        .collect();
    assert_eq!(
        layers,
        [
            ("wte", 1e-3, Some(1e-3)),
            ("h.0", 1e-3, Some(1e-3)),
            ("h.1", 1e-3, Some(1e-3))
        ]
    );
}

#[test]
fn non_finite_loss_is_divergence() {
    let mut r = healthy(1e6, 2e7);
    r.steps[150].loss = None;
    r.summary.status = Status::Diverged;
    check(&r, Verdict::Broken, Some(Cause::Diverged));
}

#[test]
fn loss_below_the_entropy_is_leakage() {
    let mut r = healthy(1e6, 2e7);
    r.summary.final_val_loss = Some(0.4);
    check(&r, Verdict::Broken, Some(Cause::TargetLeakage));
}

#[test]
fn huge_initial_loss_is_bad_initialisation() {
    let mut r = healthy(1e6, 2e7);
    r.steps[0].loss = Some(40.0);
    check(&r, Verdict::Broken, Some(Cause::BadInitialisation));
}

#[test]
fn first_update_size_names_the_optimizer_bug_and_a_hidden_lr() {
    let scale_first = |r: &mut RunData, k: f64| {
        for l in &mut r.layers[0].layers {
            l.update_ratio = l.update_ratio.map(|u| u * k);
        }
    };
    let mut r = healthy(1e6, 2e7);
    scale_first(&mut r, 0.1 / 0.05f64.sqrt());
    check(&r, Verdict::Broken, Some(Cause::OptimizerStateBug));
    let mut r = healthy(1e6, 2e7);
    scale_first(&mut r, 30.0);
    check(&r, Verdict::Broken, Some(Cause::LrTooHigh));
}

#[test]
fn unchanged_weights_are_precision_loss() {
    let mut r = healthy(1e6, 2e7);
    for rec in &mut r.layers[1..] {
        for l in &mut rec.layers {
            l.unchanged_fraction = Some(0.9);
        }
    }
    check(&r, Verdict::Broken, Some(Cause::PrecisionLoss));
}

#[test]
fn growing_gradient_norms_are_an_optimizer_state_bug() {
    let mut r = healthy(1e6, 2e7);
    for s in &mut r.steps {
        s.grad_norm = Some(s.step as f64);
    }
    check(&r, Verdict::Broken, Some(Cause::OptimizerStateBug));
}

#[test]
fn persistent_gradient_directions_are_an_optimizer_state_bug() {
    let mut r = healthy(1e6, 2e7);
    for rec in &mut r.layers[1..] {
        rec.grad_cosine_prev = Some(0.75);
    }
    check(&r, Verdict::Broken, Some(Cause::OptimizerStateBug));
}

#[test]
fn a_wide_train_val_gap_is_data_repetition() {
    let mut r = healthy(1e6, 2e7);
    r.summary.final_val_loss = Some(3.2);
    check(&r, Verdict::Broken, Some(Cause::DataRepetition));
}

#[test]
fn larger_updates_than_the_references_point_to_a_high_lr() {
    let mut r = healthy(1e6, 2e7);
    for rec in &mut r.layers[1..] {
        for l in &mut rec.layers {
            l.update_ratio = l.update_ratio.map(|u| u * 10.0);
        }
    }
    check(&r, Verdict::Suspicious, Some(Cause::LrTooHigh));
}

#[test]
fn slow_training_is_a_throughput_regression() {
    let mut r = healthy(1e6, 2e7);
    for s in &mut r.steps {
        s.tok_per_s = Some(1_000.0);
    }
    check(&r, Verdict::Suspicious, Some(Cause::ThroughputRegression));
    // --no-throughput: the only timing-dependent check is left out, nothing else changes.
    let d = judge_with(&r, None, &refs(), false);
    assert_eq!(d.verdict, Verdict::Healthy, "{:?}", d.findings);
    assert!(d.findings.iter().all(|f| f.check != "throughput"));
}

#[test]
fn a_run_cut_by_its_time_limit_is_under_trained() {
    let mut r = healthy(1e6, 2e7);
    r.summary.stop_reason = StopReason::MaxTime;
    r.planned_tokens = Some(1e8 as u64);
    check(&r, Verdict::Suspicious, Some(Cause::UnderTraining));
}

#[test]
fn the_law_flags_losses_outside_its_interval_in_both_directions() {
    // A law fitted on noisy points of a known surface; runs at its prediction pass, runs 20 %
    // off either way do not, and too low points to leakage.
    let truth = [1.8, 40.0, 200.0, 0.35, 0.37];
    let pts = synth::chinchilla_points(&truth, 60, (1e5, 1e8), (2.0, 200.0), 0.01, 3);
    let opts = FitOptions::default().with_bootstrap(100).unwrap();
    let fit = ladder_laws::chinchilla::fit(&pts, &opts).unwrap();
    let (n, d) = (3e6, 6e7);
    let at = |k: f64| {
        let mut r = healthy(n, d);
        r.summary.entropy_nats_per_token = None;
        let val = ladder_laws::chinchilla::predict(&truth, n, d) * k;
        // The training curve ends where the validation loss does (single-pass data).
        let shift = val - f64::from(r.summary.final_val_loss.unwrap());
        for s in &mut r.steps {
            s.loss = s.loss.map(|l| l + shift);
        }
        r.summary.final_val_loss = Some(val as f32);
        r
    };
    let ok = judge(&at(1.0), Some(&fit), &[]);
    assert_eq!(ok.verdict, Verdict::Healthy, "{:#?}", ok.findings);
    let law = ok.law.expect("compared with the law");
    assert!(
        law.z.abs() < 3.0 && law.interval95[0] < law.observed && law.observed < law.interval95[1]
    );
    let high = judge(&at(1.2), Some(&fit), &[]);
    assert_eq!(high.verdict, Verdict::Broken);
    assert!(high.law.unwrap().z > 5.0);
    let low = judge(&at(0.8), Some(&fit), &[]);
    assert_eq!(
        (low.verdict, low.cause),
        (Verdict::Broken, Some(Cause::TargetLeakage))
    );
}

const TRUTH: [f64; 5] = [1.8, 40.0, 200.0, 0.35, 0.37];

fn ladder_points() -> ladder_laws::data::RunPoints {
    synth::chinchilla_points(&TRUTH, 60, (1e5, 1e8), (2.0, 200.0), 0.01, 3)
}

/// A law on a known surface over N in [1e5, 1e8], D/N in [2, 200], with its ranges recorded,
/// and a healthy run whose final loss is the surface's at (n, d).
fn law_and_run(n: f64, d: f64) -> (ladder_laws::FitFile, RunData) {
    let pts = ladder_points();
    let opts = FitOptions::default().with_bootstrap(100).unwrap();
    let mut fit = ladder_laws::chinchilla::fit(&pts, &opts).unwrap();
    fit.support = Some(ladder_laws::fitfile::Support {
        n: Support::range(&pts.n),
        d: Support::range(&pts.d),
        c: Support::range(&pts.c),
    });
    let mut r = healthy(n, d);
    r.summary.entropy_nats_per_token = None;
    let val = ladder_laws::chinchilla::predict(&TRUTH, n, d);
    let shift = val - f64::from(r.summary.final_val_loss.unwrap());
    for s in &mut r.steps {
        s.loss = s.loss.map(|l| l + shift);
    }
    r.summary.final_val_loss = Some(val as f32);
    (fit, r)
}

fn not_judged(d: &ladder_diagnose::Diagnosis) -> Vec<(&str, &str)> {
    d.not_judged
        .iter()
        .map(|x| (x.check, x.kind.as_str()))
        .collect()
}

#[test]
fn far_outside_the_fitted_ranges_the_law_is_inconclusive() {
    let (fit, inside) = law_and_run(3e6, 6e7);
    let d = judge(&inside, Some(&fit), &[]);
    assert_eq!(d.verdict, Verdict::Healthy, "{:#?}", d.findings);
    assert_eq!(d.law.as_ref().unwrap().outside_decades, Some(0.0));
    // The ladder's run of the largest compute, and its largest D.
    let pts = ladder_points();
    let top = (0..pts.n.len())
        .max_by(|&i, &j| pts.c[i].total_cmp(&pts.c[j]))
        .unwrap();
    let (n_top, d_top) = (pts.n[top], pts.d[top]);
    let d_max = fit.support.as_ref().unwrap().d.unwrap()[1];
    // D 10× beyond the largest fitted D: far outside, whatever the law says there.
    let (fit, far) = law_and_run(n_top, 10.0 * d_max);
    let d = judge(&far, Some(&fit), &[]);
    assert_eq!(d.verdict, Verdict::Inconclusive, "{:#?}", d.findings);
    assert_eq!(not_judged(&d), [("law", "inconclusive")]);
    let law = d.law.unwrap();
    assert!(!law.judged && law.outside_decades.unwrap() >= 1.0 - 1e-9);
    // A modest extrapolation (D ×1.5 beyond) is judged, and says how far.
    let (fit, near) = law_and_run(n_top, 1.5 * d_top);
    let d = judge(&near, Some(&fit), &[]);
    assert_eq!(d.verdict, Verdict::Healthy, "{:#?}", d.findings);
    let f = d.findings.iter().find(|f| f.check == "law").unwrap();
    assert!(f.message.contains("modest extrapolation"), "{}", f.message);
    // A bug the law does not need to see is still found: inconclusive never hides broken.
    let (fit, mut far) = law_and_run(n_top, 10.0 * d_max);
    far.summary.status = Status::Diverged;
    assert_eq!(judge(&far, Some(&fit), &[]).verdict, Verdict::Broken);
}

#[test]
fn a_law_interval_too_wide_is_inconclusive_unless_the_run_falls_outside_it() {
    let (mut fit, run) = law_and_run(3e6, 6e7);
    // The ladder scattered ±20 % around its law: a 95 % half-width of 0.39 in ln L.
    fit.residuals.rmse_log = 0.2;
    let d = judge(&run, Some(&fit), &[]);
    assert_eq!(d.verdict, Verdict::Inconclusive, "{:#?}", d.findings);
    assert_eq!(not_judged(&d), [("law", "inconclusive")]);
    assert!(d.not_judged[0].message.contains("too wide"));
    // Three times the predicted loss is outside even that interval: judged, broken.
    let (mut fit, mut run) = law_and_run(3e6, 6e7);
    fit.residuals.rmse_log = 0.2;
    let val = 3.0 * f64::from(run.summary.final_val_loss.unwrap());
    run.summary.final_val_loss = Some(val as f32);
    let d = judge(&run, Some(&fit), &[]);
    assert_eq!(d.verdict, Verdict::Broken, "{:#?}", d.findings);
    assert!(d.law.unwrap().judged);
}

#[test]
fn a_law_or_references_from_other_data_are_not_applicable() {
    use ladder_diagnose::{judge_opts, JudgeOptions};
    use ladder_laws::fitfile::DataDir;
    let dir = |name: &str, tok: &str| DataDir {
        data_dir: Some(format!("/data/{name}")),
        tokenizer_sha256: Some(tok.into()),
        train_sha256: Some(format!("{name}-train")),
        val_sha256: Some(format!("{name}-val")),
        vocab_size: Some(V),
        description: None,
    };
    let (mut fit, mut run) = law_and_run(3e6, 6e7);
    fit.data.identity.known = true;
    fit.data.identity.sources = vec![dir("synth", "t-synth")];
    run.data = Ok(dir("kjv", "t-kjv"));
    let mut references = refs();
    for r in &mut references {
        r.data = Ok(dir("synth", "t-synth"));
    }
    let d = judge(&run, Some(&fit), &references);
    assert_eq!(d.verdict, Verdict::Inconclusive, "{:#?}", d.findings);
    assert_eq!(
        not_judged(&d),
        [("law", "not-applicable"), ("reference", "not-applicable")]
    );
    assert!(d.law.is_none() && d.references == 0 && !d.other_data);
    let m = &d.not_judged[0].message;
    assert!(m.contains("/data/kjv") && m.contains("/data/synth"), "{m}");
    assert!(m.contains("another tokenizer"), "{m}");
    // The user insists: judged, and the diagnosis says the data differ.
    let opts = JudgeOptions {
        allow_other_data: true,
        ..JudgeOptions::default()
    };
    let d = judge_opts(&run, Some(&fit), &references, opts);
    assert_eq!(d.verdict, Verdict::Healthy, "{:#?}", d.findings);
    assert!(d.other_data && d.not_judged.is_empty() && d.references == 3);
    assert!(d.law.unwrap().judged);
    // The same data: judged, without a word about other data.
    run.data = Ok(dir("synth", "t-synth"));
    let d = judge(&run, Some(&fit), &references);
    assert_eq!(d.verdict, Verdict::Healthy, "{:#?}", d.findings);
    assert!(!d.other_data && d.references == 3);
    // Some references on other data are left out; the rest are used.
    references[0].data = Ok(dir("kjv", "t-kjv"));
    let d = judge(&run, Some(&fit), &references);
    assert_eq!((d.verdict, d.references), (Verdict::Healthy, 2));
}

#[test]
fn non_finite_events_are_labelled_by_what_the_trainer_did() {
    let event = |step: u64, kind: &str| ladder_diagnose::Event {
        step,
        kind: kind.into(),
        detail: format!("{kind} at {step}"),
    };
    let message = |r: &RunData| {
        let d = judge(r, None, &refs());
        d.findings
            .iter()
            .find(|f| f.check == "events" && f.message.contains("non-finite"))
            .map(|f| f.message.clone())
            .expect("an events finding")
    };
    // --health rollback: every NaN is followed by a rollback at its step.
    let mut r = healthy(1e6, 2e7);
    r.events = vec![event(40, "nan"), event(40, "rollback")];
    let m = message(&r);
    assert!(m.contains("(rolled back)"), "{m}");
    // --health warn: a NaN ends the run as diverged; nothing was rolled back.
    let mut r = healthy(1e6, 2e7);
    r.events = vec![event(40, "nan")];
    r.summary.status = Status::Diverged;
    r.summary.stop_reason = StopReason::Diverged;
    let m = message(&r);
    assert!(
        m.contains("(ended the run as diverged)") && !m.contains("rolled back"),
        "{m}"
    );
    // --health stop: the run stops at the NaN.
    let mut r = healthy(1e6, 2e7);
    r.events = vec![event(40, "nan")];
    r.summary.status = Status::Failed;
    r.summary.stop_reason = StopReason::Health;
    let m = message(&r);
    assert!(
        m.contains("(stopped the run)") && !m.contains("rolled back"),
        "{m}"
    );
    // Mixed: one rolled back, the next one stopped the run.
    r.events = vec![event(20, "nan"), event(20, "rollback"), event(40, "nan")];
    let m = message(&r);
    assert!(m.contains("(1 rolled back, 1 stopped the run)"), "{m}");
}

#[test]
fn event_kinds_unknown_to_this_version_still_load() {
    let e: ladder_diagnose::Event =
        serde_json::from_str(r#"{"step":3,"kind":"loss_plateau","detail":"new kind"}"#).unwrap();
    assert_eq!(
        e.kind,
        ladder_diagnose::EventKind::Other("loss_plateau".into())
    );
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"step":3,"kind":"loss_plateau","detail":"new kind"}"#
    );
}
