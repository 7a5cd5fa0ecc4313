//! The Chrome trace-event format (loads in Perfetto and chrome://tracing): one complete event
//! (`"ph": "X"`) per op call on the step's driving thread (tid 0), FLOPs, bytes, kernel and step
//! in `args`, and one event per profiled step on a second track (tid 1). Times in microseconds.

use serde_json::{json, Value};

use super::{cost, EventKind, ProfileReport};

/// The trace of `r` as a JSON value.
pub fn chrome_trace(r: &ProfileReport) -> Value {
    let mut ev = vec![
        json!({"name": "thread_name", "ph": "M", "pid": 0, "tid": 0, "args": {"name": "ops"}}),
        json!({"name": "thread_name", "ph": "M", "pid": 0, "tid": 1, "args": {"name": "steps"}}),
    ];
    for (e, label) in r.events.iter().zip(&r.labels) {
        let (flops, bytes) = cost(&e.kind);
        let kernel = match e.kind {
            EventKind::Kernel(k) => k.kernel.name(),
            EventKind::ZeroGrad { .. } => "fill",
            EventKind::GradClip { .. } => "clip_grad_norm",
        };
        ev.push(json!({
            "name": label,
            "cat": label.split(' ').next().unwrap_or("op"),
            "ph": "X",
            "ts": e.start_ns as f64 / 1e3,
            "dur": e.dur_ns as f64 / 1e3,
            "pid": 0,
            "tid": 0,
            "args": {"flops": flops, "bytes": bytes, "kernel": kernel, "step": e.step},
        }));
    }
    for (i, &(s, d)) in r.step_spans.iter().enumerate() {
        ev.push(json!({
            "name": "step", "cat": "step", "ph": "X",
            "ts": s as f64 / 1e3, "dur": d as f64 / 1e3, "pid": 0, "tid": 1,
            "args": {"step": i},
        }));
    }
    json!({"traceEvents": ev, "displayTimeUnit": "ms"})
}

/// Checks what the format requires of a trace: `traceEvents` is an array, every `"X"` event
/// has a name, numeric non-negative `ts` and `dur`, `pid` and `tid`, and the complete events of
/// each (pid, tid) do not overlap. Returns the number of complete events.
pub fn validate(trace: &Value) -> std::result::Result<usize, String> {
    let evs = trace
        .get("traceEvents")
        .and_then(Value::as_array)
        .ok_or("no traceEvents array")?;
    let mut spans: std::collections::BTreeMap<(i64, i64), Vec<(f64, f64)>> = Default::default();
    let mut n = 0;
    for (i, e) in evs.iter().enumerate() {
        let ph = e
            .get("ph")
            .and_then(Value::as_str)
            .ok_or(format!("event {i}: no ph"))?;
        if ph != "X" {
            continue;
        }
        n += 1;
        e.get("name")
            .and_then(Value::as_str)
            .ok_or(format!("event {i}: no name"))?;
        let num = |k: &str| {
            e.get(k)
                .and_then(Value::as_f64)
                .filter(|v| *v >= 0.0 && v.is_finite())
                .ok_or(format!("event {i}: {k} missing or negative"))
        };
        let (ts, dur) = (num("ts")?, num("dur")?);
        let id = |k: &str| {
            e.get(k)
                .and_then(Value::as_i64)
                .ok_or(format!("event {i}: no {k}"))
        };
        spans
            .entry((id("pid")?, id("tid")?))
            .or_default()
            .push((ts, ts + dur));
    }
    for ((pid, tid), mut v) in spans {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in v.windows(2) {
            // 1 ns of slack for the µs conversion.
            if w[1].0 + 1e-3 < w[0].1 {
                return Err(format!(
                    "pid {pid} tid {tid}: events at {} and {} µs overlap",
                    w[0].0, w[1].0
                ));
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::MachinePeaks;
    use crate::profile::{profile, ProfileOptions};

    #[test]
    fn trace_is_valid_chrome_trace_json() {
        let r = profile(&ProfileOptions {
            model: ladder_model::ModelConfig {
                n_layer: 2,
                n_embd: 32,
                n_head: 2,
                block_size: 16,
                vocab_size: 96,
                ..Default::default()
            },
            batch: 2,
            seq_len: 16,
            steps: 2,
            warmup: 1,
            threads: 2,
            peaks: Some(MachinePeaks {
                host: "t".into(),
                threads: 2,
                gemm_gflops: 10.0,
                triad_gbs: 5.0,
                measured_unix: 0,
                fingerprint: None,
                fingerprint_build: None,
            }),
        })
        .unwrap();
        // Round trip through text, as a viewer would read it.
        let text = serde_json::to_string(&chrome_trace(&r)).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let n = validate(&v).unwrap();
        assert_eq!(n, r.events.len() + r.step_spans.len());
        let e = &v["traceEvents"][2];
        assert_eq!(e["ph"], "X");
        assert!(e["args"]["flops"].is_number() && e["args"]["bytes"].is_number());
    }

    #[test]
    fn validator_rejects_overlap_and_missing_fields() {
        let ok = json!({"traceEvents": [
            {"name": "a", "ph": "X", "ts": 0.0, "dur": 2.0, "pid": 0, "tid": 0},
            {"name": "b", "ph": "X", "ts": 2.0, "dur": 1.0, "pid": 0, "tid": 0},
            {"name": "c", "ph": "X", "ts": 1.0, "dur": 1.0, "pid": 0, "tid": 1},
        ]});
        assert_eq!(validate(&ok), Ok(3));
        let overlap = json!({"traceEvents": [
            {"name": "a", "ph": "X", "ts": 0.0, "dur": 2.0, "pid": 0, "tid": 0},
            {"name": "b", "ph": "X", "ts": 1.0, "dur": 1.0, "pid": 0, "tid": 0},
        ]});
        assert!(validate(&overlap).unwrap_err().contains("overlap"));
        assert!(validate(&json!({"events": []})).is_err());
        let no_dur =
            json!({"traceEvents": [{"name": "a", "ph": "X", "ts": 0.0, "pid": 0, "tid": 0}]});
        assert!(validate(&no_dur).is_err());
    }
}
