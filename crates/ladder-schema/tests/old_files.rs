//! Files written before this crate existed (a tiny run of the main-branch binary: summary.json,
//! metrics.jsonl and layers.jsonl lines; event lines in the trainer's format) load, and the run
//! files the trainer writes come back byte for byte when written again.

use ladder_schema::*;

const OLD_SUMMARY: &str = r#"{
  "status": "completed",
  "stop_reason": "steps",
  "N": 100096,
  "N_total": 169728,
  "D": 7680,
  "C": 4612423680.0,
  "steps": 30,
  "flops": 8387297280.0,
  "flops_per_token": 1092096.0,
  "final_train_loss": 6.194948,
  "final_val_loss": 5.8430996,
  "final_val_bpb": 1.7417864162098813,
  "entropy_nats_per_token": 1.3012213148666214,
  "wall_time_s": 0.427915283,
  "tok_per_s": 41281.01992499915,
  "mfu": 0.39858170663097986,
  "peak_gflops": 113.1081431636075,
  "peak_source": "measured",
  "threads": 2,
  "health": {
    "policy": "rollback",
    "events": {},
    "skipped_sequences": 0
  }
}"#;
const OLD_METRIC: &str = r#"{"step":1,"tokens":256,"flops":279576576.0,"lr":0.00006,"loss":6.91718,"grad_norm":2.082457,"tok_per_s":31217.483058723137,"mfu":0.30141497707362724,"elapsed_s":0.008203271}"#;
const OLD_EVAL_METRIC: &str = r#"{"step":30,"tokens":7680,"flops":8387297280.0,"lr":0.0018,"loss":6.194948,"grad_norm":1.1960808,"tok_per_s":28114.776819190796,"mfu":0.2714573367252483,"elapsed_s":0.419992425,"val_loss":5.8430996,"val_bpb":1.7417864162098813}"#;
const OLD_LAYERS: &str = r#"{"step":1,"lr":0.00006,"layers":[{"layer":"wte","grad_norm":0.4223487502185077,"weight_norm":5.09980800659352,"update_ratio":0.003010491083923308,"unchanged_fraction":0.0,"numel":65536},{"layer":"wpe","grad_norm":0.18044471065519221,"weight_norm":1.291641236894336,"update_ratio":0.0029728715784669854,"unchanged_fraction":0.0,"numel":4096}]}"#;
const OLD_EVENTS: [&str; 3] = [
    r#"{"step":12,"kind":"nan","detail":"loss NaN, grad_norm NaN"}"#,
    r#"{"step":12,"kind":"rollback","detail":"rolled back to step_0000010"}"#,
    r#"{"step":20,"kind":"restart","detail":"trainer exited with 137; restart 1 of 3"}"#,
];

#[test]
fn an_old_summary_loads_and_writes_back_byte_for_byte() {
    let s: Summary = serde_json::from_str(OLD_SUMMARY).unwrap();
    assert_eq!(
        (s.status, s.stop_reason),
        (Status::Completed, StopReason::Steps)
    );
    assert_eq!((s.n, s.n_total, s.d), (100096, 169728, 7680));
    assert_eq!(s.final_val_loss, Some(5.8430996));
    assert_eq!((s.final_val_loss_se, s.final_val_tokens), (None, None));
    assert_eq!(s.health.as_ref().unwrap().policy, "rollback");
    assert_eq!(serde_json::to_string_pretty(&s).unwrap(), OLD_SUMMARY);
}

#[test]
fn a_summary_with_the_new_fields_round_trips() {
    let mut s: Summary = serde_json::from_str(OLD_SUMMARY).unwrap();
    s.final_val_loss_se = Some(0.0123);
    s.final_val_tokens = Some(1 << 20);
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["final_val_loss_se"], 0.0123);
    assert_eq!(v["final_val_tokens"], 1 << 20);
    let back: Summary = serde_json::from_value(v).unwrap();
    assert_eq!(back, s);
}

#[test]
fn a_hand_written_minimal_summary_loads() {
    let s: Summary = serde_json::from_str(
        r#"{"status": "diverged", "stop_reason": "diverged", "N": 1000, "D": 4096,
            "final_train_loss": null, "final_val_loss": null, "threads": 1}"#,
    )
    .unwrap();
    assert_eq!(s.status, Status::Diverged);
    assert_eq!(s.final_val_loss, None);
    assert!(
        s.wall_time_s.is_nan() && s.c.is_nan(),
        "unknown numbers are NaN, not 0"
    );
}

#[test]
fn a_summary_without_stop_reason_and_with_float_counts_loads() {
    // As the fitter's and the report's hand-written inputs spell them.
    let s: Summary = serde_json::from_str(
        r#"{"N": 1e6, "N_total": 2e6, "D": 2e7, "final_val_loss": 3.0, "status": "completed"}"#,
    )
    .unwrap();
    assert_eq!((s.n, s.n_total, s.d), (1_000_000, 2_000_000, 20_000_000));
    assert_eq!(s.stop_reason, StopReason::Unknown);
    // A reason from a newer writer loads as unknown too.
    let s: Summary =
        serde_json::from_str(r#"{"N": 10, "D": 20, "status": "failed", "stop_reason": "oom"}"#)
            .unwrap();
    assert_eq!(s.stop_reason, StopReason::Unknown);
    // A count must still be a whole non-negative number.
    for bad in [r#""N": 1.5"#, r#""N": -3"#, r#""N": "many""#] {
        let text = format!(r#"{{{bad}, "D": 20, "status": "failed"}}"#);
        let e = serde_json::from_str::<Summary>(&text).unwrap_err();
        assert!(e.is_data(), "{text}: {e}");
    }
    let r: StepRecord = serde_json::from_str(r#"{"step": 1, "tokens": 4096.0}"#).unwrap();
    assert_eq!(r.tokens, 4096);
}

#[test]
fn old_metrics_lines_load_and_write_back_byte_for_byte() {
    for line in [OLD_METRIC, OLD_EVAL_METRIC] {
        let r: StepRecord = serde_json::from_str(line).unwrap();
        assert_eq!(r.val_loss_se, None);
        assert_eq!(serde_json::to_string(&r).unwrap(), line);
    }
    let r: StepRecord = serde_json::from_str(OLD_EVAL_METRIC).unwrap();
    assert_eq!(r.val_loss, Some(5.8430996));
    // Non-finite numbers are written as null and read as NaN.
    let r: StepRecord =
        serde_json::from_str(r#"{"step":2,"tokens":4096,"loss":null,"grad_norm":null}"#).unwrap();
    assert!(r.loss.is_nan() && r.grad_norm.is_nan() && r.lr.is_nan());
}

#[test]
fn old_layer_lines_load() {
    let r: LayerRecord = serde_json::from_str(OLD_LAYERS).unwrap();
    assert_eq!(r.step, 1);
    assert_eq!(r.layers[0].layer, "wte");
    assert_eq!(r.layers[0].numel, 65536);
    assert_eq!(r.grad_cosine_prev, None);
    // The same fields back (serde_json's default float parser may move a 17-digit number by an
    // ulp, on both sides alike, so compare parsed values rather than text).
    let old: serde_json::Value = serde_json::from_str(OLD_LAYERS).unwrap();
    assert_eq!(serde_json::to_value(&r).unwrap(), old);
}

#[test]
fn old_event_lines_load_with_their_kinds_and_write_back() {
    let kinds: Vec<EventKind> = OLD_EVENTS
        .iter()
        .map(|l| serde_json::from_str::<Event>(l).unwrap().kind)
        .collect();
    assert_eq!(
        kinds,
        [EventKind::Nan, EventKind::Rollback, EventKind::Restart]
    );
    for l in OLD_EVENTS {
        let e: Event = serde_json::from_str(l).unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), l);
    }
    for k in [
        "nan",
        "spike",
        "grad_explosion",
        "slow_step",
        "rollback",
        "restart",
        "resume",
        "config_change",
        "something_new",
    ] {
        let kind = EventKind::from(k);
        assert_eq!(kind.as_str(), k);
        assert_eq!(kind == EventKind::Other(k.into()), k == "something_new");
    }
}

#[test]
fn sweep_state_and_diagnosis_load() {
    let s: SweepState = serde_json::from_str(
        r#"{"format":"ladder-sweep-state","version":1,"runs":{
             "a":{"status":"done","attempts":1,"failures":0,"wall_s":12.5},
             "b":{"status":"failed","attempts":3,"failures":3,"error":"exit 1"},
             "c":{"status":"pending","attempts":0,"failures":0}}}"#,
    )
    .unwrap();
    assert_eq!(s.runs["a"].status, RunStatus::Done);
    assert_eq!(s.runs["b"].attempts, 3);
    assert_eq!(s.runs["c"].status.as_str(), "pending");
    let d: DiagnosisFile = serde_json::from_str(
        r#"{"run":"runs/a","verdict":"suspicious","cause":"lr-too-high","references":2,
            "law":{"law":"chinchilla","observed":3.1,"predicted":3.0,"interval95":[2.9,3.1],"z":2.1},
            "findings":[{"check":"events","severity":"suspicious","cause":"lr-too-high","message":"m"}],
            "layers":[]}"#,
    )
    .unwrap();
    assert_eq!(d.verdict, "suspicious");
    // A diagnosis written before `inconclusive`: every comparison judged, none on other data.
    assert!(d.not_judged.is_empty() && !d.other_data);
    let law = d.law.unwrap();
    assert_eq!((law.z, law.judged, law.outside_decades), (2.1, true, None));
    assert_eq!(d.findings[0].check, "events");
    let d: DiagnosisFile = serde_json::from_str(
        r#"{"verdict":"inconclusive","references":0,"other_data":false,
            "law":{"law":"chinchilla","observed":3.1,"predicted":3.0,"interval95":[2.0,4.5],"z":0.2,
                   "halfwidth_log":0.4,"outside_decades":1.0,"judged":false},
            "not_judged":[{"check":"law","status":"inconclusive","message":"far outside"}],
            "findings":[]}"#,
    )
    .unwrap();
    assert_eq!(d.not_judged[0].status, "inconclusive");
    assert!(!d.law.unwrap().judged);
}
