//! The checks behind a diagnosis. Each appends [`Finding`]s (healthy ones too: they are the
//! evidence that a signal was looked at). Thresholds are stated where they are used, with why.

use ladder_laws::FitFile;

use ladder_schema::{f32_as_written, EventKind, Status, StopReason};

use crate::run::{Event, LayerRecord, RunData};
use crate::stats::{fraction, interpolate, median, smooth};
use crate::{Cause, Finding, LawComparison, NotJudged, NotJudgedKind, Verdict};

fn push(
    out: &mut Vec<Finding>,
    check: &'static str,
    severity: Verdict,
    cause: Option<Cause>,
    message: String,
) {
    out.push(Finding {
        check,
        severity,
        cause,
        message,
    });
}

/// Smallest log-space standard deviation a law comparison assumes (0.5 %): seed-to-seed noise
/// of a final loss is never smaller than this, even when a ladder happens to fit very tightly.
const MIN_SIGMA_LOG: f64 = 0.005;
/// |z| above which the final loss is suspicious / broken.
const LAW_Z_SUSPICIOUS: f64 = 3.0;
const LAW_Z_BROKEN: f64 = 5.0;
/// Decades beyond the fitted N, D or C range past which the law is not trusted: the ladder's own
/// backtests check one budget step out (×2, 0.3 decade), where 13 of 16 held-out checks fell
/// inside their intervals, while the quickstart's
/// predictions 4× beyond its largest budget (0.6 decade in C) missed by 4.9 % and 7.3 %, 1.8 and
/// 4.6 times their 95 % half-widths (BENCHMARKS.md). Half a decade (×3.2) lies between.
pub const FAR_DECADES: f64 = 0.5;
/// Largest 95 % half-width of ln L at which a run inside the interval is called healthy. In the
/// planted-bug evaluation (`cli_diagnose`: seven bugs and five healthy seeds at one ladder point)
/// the bugs moved the final loss by a median 0.147 in ln L from the healthy seeds' mean (from
/// 0.008 to 0.48; the seeds themselves spread 0.012). The law flags a run at 3 σ, so it can
/// catch that typical gap only when 3 σ ≤ 0.147, i.e. a half-width 1.96 σ ≤ 0.096: rounded, 0.1
/// (±10.5 %). The ladder there had a half-width of 0.070.
pub const MAX_HALFWIDTH_LOG: f64 = 0.1;

/// Where the run lies against the fitted ranges: the largest distance outside, in decades, and
/// the axis and range it is on (`None` when fit.json records no support).
pub fn outside(run: &RunData, fit: &FitFile) -> Option<(f64, String)> {
    let support = fit.support.as_ref()?;
    let (n, d) = (run.summary.n as f64, run.summary.d as f64);
    let c = if run.summary.c.is_finite() && run.summary.c > 0.0 {
        run.summary.c
    } else {
        6.0 * n * d
    };
    [("N", n, support.n), ("D", d, support.d), ("C", c, support.c)]
        .into_iter()
        .filter_map(|(axis, x, range)| {
            let [lo, hi] = range?;
            let out = (lo / x).log10().max((x / hi).log10()).max(0.0);
            let side = if x < lo { "below" } else { "above" };
            let what = format!("{axis} = {x:.3e} is {out:.2} decade(s) {side} the fitted {axis} range [{lo:.3e}, {hi:.3e}]");
            Some((out, what))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

/// The final validation loss against the law's prediction at the run's (N, D). The comparison
/// cannot judge (and says so in `not_judged`) when the run lies far outside the fitted ranges,
/// or when the interval is too wide to tell healthy from broken and the run falls inside it.
pub fn law(
    run: &RunData,
    fit: &FitFile,
    out: &mut Vec<Finding>,
    not_judged: &mut Vec<NotJudged>,
) -> Option<LawComparison> {
    let observed = f32_as_written(run.summary.final_val_loss?);
    let (n, d) = (run.summary.n as f64, run.summary.d as f64);
    let est = match ladder_laws::predict::loss(fit, n, d) {
        Ok(e) => e,
        Err(e) => {
            push(
                out,
                "law",
                Verdict::Healthy,
                None,
                format!("not compared with the law: {e}"),
            );
            return None;
        }
    };
    let predicted = est.value;
    // Parameter uncertainty (bootstrap interval) and the ladder's own scatter around the law.
    let sigma_param = est
        .ci95
        .map(|[lo, hi]| (hi.ln() - lo.ln()) / (2.0 * 1.96))
        .unwrap_or(0.0);
    let sigma = sigma_param.hypot(fit.residuals.rmse_log).max(MIN_SIGMA_LOG);
    let z = (observed / predicted).ln() / sigma;
    let halfwidth_log = 1.96 * sigma;
    let interval95 = [
        predicted * (-halfwidth_log).exp(),
        predicted * halfwidth_log.exp(),
    ];
    let place = outside(run, fit);
    let outside_decades = place.as_ref().map(|p| p.0);
    let (mut severity, cause) = match z.abs() {
        a if a > LAW_Z_BROKEN => (Verdict::Broken, None),
        a if a > LAW_Z_SUSPICIOUS => (Verdict::Suspicious, None),
        _ => (Verdict::Healthy, None),
    };
    // Lower than a law fitted on healthy runs allows: the model sees what it should predict.
    let cause = if severity > Verdict::Healthy && z < 0.0 {
        Some(Cause::TargetLeakage)
    } else {
        cause
    };
    let direction = if z < 0.0 { "below" } else { "above" };
    let mut message = format!(
        "final val loss {observed:.4} vs the {} law's {predicted:.4} [{:.4}, {:.4}] at N = {n:.3e}, D = {d:.3e}: {:.1} σ {direction}",
        fit.law,
        interval95[0],
        interval95[1],
        z.abs()
    );
    let support_note = match &place {
        None => {
            "; fit.json records no fitted N, D, C ranges: where the run lies could not be checked"
                .to_string()
        }
        Some((0.0, _)) => "; inside the fitted N, D and C ranges".to_string(),
        Some((x, what)) if *x <= FAR_DECADES => format!("; a modest extrapolation: {what}"),
        Some(_) => String::new(),
    };
    message += &support_note;
    let far = place.as_ref().filter(|p| p.0 > FAR_DECADES);
    let unjudged = if let Some((_, what)) = far {
        Some(format!(
            "far outside the runs the law was fitted on: {what} (more than {FAR_DECADES} decade is not trusted)"
        ))
    } else if severity == Verdict::Healthy && halfwidth_log > MAX_HALFWIDTH_LOG {
        Some(format!(
            "the law's 95 % interval is ±{:.0} % at this point (half-width {halfwidth_log:.3} in ln L, more than {MAX_HALFWIDTH_LOG}): too wide to tell a healthy run from a broken one",
            100.0 * (halfwidth_log.exp() - 1.0)
        ))
    } else {
        None
    };
    let judged = unjudged.is_none();
    if let Some(why) = unjudged {
        message = format!("inconclusive: {why}; {message}");
        severity = Verdict::Inconclusive;
        not_judged.push(NotJudged {
            check: "law",
            kind: NotJudgedKind::Inconclusive,
            message: why,
        });
    }
    push(out, "law", severity, cause.filter(|_| judged), message);
    Some(LawComparison {
        law: fit.law.clone(),
        n,
        d,
        observed,
        predicted,
        interval95,
        z,
        halfwidth_log,
        outside_decades,
        judged,
    })
}

/// Non-finite values, the run's status, and the trainer's health events.
pub fn health(run: &RunData, out: &mut Vec<Finding>) {
    let bad_step = run
        .steps
        .iter()
        .find(|s| s.loss.is_none() || s.grad_norm.is_none());
    if run.summary.status == Status::Diverged || bad_step.is_some() {
        let at = bad_step.map_or(String::new(), |s| format!(" at step {}", s.step));
        push(
            out,
            "health",
            Verdict::Broken,
            Some(Cause::Diverged),
            format!(
                "the loss or gradient became non-finite{at} (status {})",
                run.summary.status.as_str()
            ),
        );
    } else if run.summary.status != Status::Completed {
        push(
            out,
            "health",
            Verdict::Broken,
            None,
            format!(
                "the run did not complete (status {})",
                run.summary.status.as_str()
            ),
        );
    }
    let count = |pred: &dyn Fn(&EventKind) -> bool| {
        run.events
            .iter()
            .filter(|e| pred(&e.kind))
            .collect::<Vec<_>>()
    };
    let nonfinite = count(&EventKind::is_non_finite);
    let spikes = count(&EventKind::is_instability);
    let slow = count(&|k| *k == EventKind::SlowStep);
    let nonfinite_what = format!("non-finite values ({})", outcomes(run, &nonfinite));
    for (events, what, cause) in [
        (&nonfinite, nonfinite_what.as_str(), Cause::Diverged),
        (&spikes, "loss or gradient-norm spikes", Cause::LrTooHigh),
        (&slow, "slow steps", Cause::ThroughputRegression),
    ] {
        if let Some(first) = events.first() {
            push(
                out,
                "events",
                Verdict::Suspicious,
                Some(cause),
                format!(
                    "{} event(s) of {what} in events.jsonl, first at step {}: {}",
                    events.len(),
                    first.step,
                    first.detail
                ),
            );
        }
    }
}

/// What the trainer did about health events, counted by outcome: rolled back (a `rollback`
/// event at the same step follows), skipped the step's batch (a `skip` event), stopped the run (`--health stop`, or out of rollbacks: the
/// run's last such event with stop reason `health`), ended the run as diverged (the last one of
/// a diverged run, e.g. under `--health warn`), or nothing (training went on).
fn outcomes(run: &RunData, events: &[&Event]) -> String {
    let last = events.iter().map(|e| e.step).max();
    let (mut rolled, mut skipped, mut stopped, mut diverged, mut kept) = (0, 0, 0, 0, 0);
    let followed_by = |kind: EventKind, e: &Event| {
        run.events
            .iter()
            .any(|r| r.kind == kind && r.step == e.step)
    };
    for e in events {
        if followed_by(EventKind::Rollback, e) {
            rolled += 1;
        } else if followed_by(EventKind::Skip, e) {
            skipped += 1;
        } else if Some(e.step) == last && run.summary.stop_reason == StopReason::Health {
            stopped += 1;
        } else if Some(e.step) == last && run.summary.status == Status::Diverged {
            diverged += 1;
        } else {
            kept += 1;
        }
    }
    let parts: Vec<String> = [
        (rolled, "rolled back"),
        (skipped, "skipped the step's batch"),
        (stopped, "stopped the run"),
        (diverged, "ended the run as diverged"),
        (kept, "training went on"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| match events.len() {
        1 => (*what).to_owned(),
        _ => format!("{n} {what}"),
    })
    .collect();
    parts.join(", ")
}

/// A validation loss below the source's entropy is impossible for an honest model.
pub fn entropy(run: &RunData, out: &mut Vec<Finding>) {
    let (Some(h), Some(val)) = (
        run.summary.entropy_nats_per_token,
        run.summary.final_val_loss.map(f32_as_written),
    ) else {
        return;
    };
    // The entropy is exact (or ±1e-3 by Monte Carlo) and the validation estimate's sampling
    // error is far below 1 %: a margin of 1 % (at least 0.01 nats) leaves no false alarms.
    let margin = (0.01 * h).max(0.01);
    if val < h - margin {
        push(
            out,
            "entropy",
            Verdict::Broken,
            Some(Cause::TargetLeakage),
            format!(
                "final val loss {val:.4} is below the source's entropy {h:.4} nats/token: impossible unless the model sees its targets"
            ),
        );
    } else {
        push(
            out,
            "entropy",
            Verdict::Healthy,
            None,
            format!(
                "final val loss {val:.4} is {:.4} nats above the source's entropy {h:.4}",
                val - h
            ),
        );
    }
}

/// The first step's loss against ln V, the loss of a uniform prediction that a small (std 0.02)
/// initialisation gives to within a few hundredths.
pub fn initial_loss(run: &RunData, out: &mut Vec<Finding>) {
    let (Some(v), Some(first)) = (run.vocab_size, run.steps.first()) else {
        return;
    };
    let Some(l0) = first.loss else { return };
    let uniform = (v as f64).ln();
    if l0 > uniform + 1.0 {
        push(
            out,
            "initial-loss",
            Verdict::Broken,
            Some(Cause::BadInitialisation),
            format!(
                "first-step loss {l0:.2} is far above ln V = {uniform:.2}: the initial weights are far too large"
            ),
        );
    } else {
        push(
            out,
            "initial-loss",
            Verdict::Healthy,
            None,
            format!("first-step loss {l0:.3} vs ln V = {uniform:.3}"),
        );
    }
}

/// Transformer blocks: every weight there gets a gradient on every step (the grouping is the
/// model's, `ladder_model::is_block_group`).
fn block_layers(r: &LayerRecord) -> impl Iterator<Item = &crate::run::LayerStat> {
    r.layers
        .iter()
        .filter(|l| ladder_model::is_block_group(&l.layer))
}

/// AdamW's first step moves every weight with a non-zero gradient by exactly lr (m̂/√v̂ = ±1),
/// plus a negligible weight decay: ‖Δθ‖ = lr·√numel per layer. A different size means the
/// applied learning rate is not the logged one, or the moments are wrong.
pub fn first_update(run: &RunData, out: &mut Vec<Finding>) {
    let Some(rec) = run.layers.iter().find(|r| r.step == 1) else {
        return;
    };
    let Some(lr) = rec.lr.filter(|&lr| lr > 0.0) else {
        return;
    };
    let rho = median(block_layers(rec).filter_map(|l| {
        let moved = l.update_ratio? * l.weight_norm?;
        Some(moved / (lr * (l.numel as f64).sqrt()))
    }));
    let Some(rho) = rho else { return };
    let (severity, cause, why) = if rho > 2.0 {
        (
            Verdict::Broken,
            Some(Cause::LrTooHigh),
            "the applied learning rate is larger than the logged one",
        )
    } else if (0.3..0.7).contains(&rho) {
        (
            Verdict::Broken,
            Some(Cause::OptimizerStateBug),
            "≈ 0.45 is AdamW without bias correction (0.1/√0.05)",
        )
    } else if rho < 0.3 {
        (
            Verdict::Broken,
            Some(Cause::LrTooLow),
            "the applied learning rate is smaller than the logged one",
        )
    } else if rho > 1.4 {
        (
            Verdict::Suspicious,
            Some(Cause::LrTooHigh),
            "larger than AdamW's exact first step",
        )
    } else {
        (Verdict::Healthy, None, "as AdamW's first step should be")
    };
    push(
        out,
        "first-update",
        severity,
        cause,
        format!("the first update moved the block weights by {rho:.3} × lr per weight: {why}"),
    );
}

/// Weights a step leaves bit-for-bit unchanged: AdamW moves every weight with a non-zero moment,
/// so a sizeable fraction means updates are rounded away (low-precision weights).
pub fn unchanged_weights(run: &RunData, out: &mut Vec<Finding>) {
    let per_step = run.layers.iter().filter(|r| r.step > 1).filter_map(|r| {
        let (same, n) = block_layers(r).fold((0.0, 0.0), |(s, n), l| {
            let f = l.unchanged_fraction.unwrap_or(0.0);
            (s + f * l.numel as f64, n + l.numel as f64)
        });
        (n > 0.0).then(|| same / n)
    });
    let Some(frac) = median(per_step) else { return };
    // f32 AdamW moves every block weight on every step (0 % unchanged in every healthy run
    // measured); bf16 rounding left 10–60 % unchanged as the learning rate decayed.
    let severity = match frac {
        f if f > 0.1 => Verdict::Broken,
        f if f > 0.01 => Verdict::Suspicious,
        _ => Verdict::Healthy,
    };
    push(
        out,
        "unchanged-weights",
        severity,
        (severity > Verdict::Healthy).then_some(Cause::PrecisionLoss),
        format!(
            "a typical step left {:.1} % of the block weights exactly unchanged{}",
            100.0 * frac,
            if severity > Verdict::Healthy {
                ": updates are lost to rounding (low-precision weights?)"
            } else {
                ""
            }
        ),
    );
}

/// Median late / median early gradient norm (`None` on short runs).
fn grad_growth_of(run: &RunData) -> Option<f64> {
    let g: Vec<f64> = run.steps.iter().filter_map(|s| s.grad_norm).collect();
    if g.len() < 20 {
        return None;
    }
    let early = median(fraction(&g, 0.05, 0.25).iter().copied())?;
    let late = median(fraction(&g, 0.75, 1.0).iter().copied())?;
    (early > 0.0).then(|| late / early)
}

/// Gradient norms that grow through training: gradients summed over steps (not zeroed) grow
/// with the step count, while healthy gradient norms stay within a small factor.
pub fn grad_growth(run: &RunData, refs: &[RunData], out: &mut Vec<Finding>) {
    let Some(growth) = grad_growth_of(run) else {
        return;
    };
    let ref_max = refs
        .iter()
        .filter_map(grad_growth_of)
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    // Healthy runs here stay well under ×3; the references, when given, widen the bound.
    let limit = ref_max.map_or(8.0, |m| (3.0 * m).max(4.0));
    let severity = if growth > limit {
        Verdict::Broken
    } else if growth > limit / 2.0 {
        Verdict::Suspicious
    } else {
        Verdict::Healthy
    };
    let refs_note = ref_max.map_or(String::new(), |m| {
        format!(" (reference runs: up to ×{m:.2})")
    });
    push(
        out,
        "grad-growth",
        severity,
        (severity > Verdict::Healthy).then_some(Cause::OptimizerStateBug),
        format!(
            "the gradient norm changed ×{growth:.2} from early to late training{refs_note}{}",
            if severity > Verdict::Healthy {
                ": gradients probably accumulate across steps (not zeroed)"
            } else {
                ""
            }
        ),
    );
}

/// Median cosine between consecutive steps' gradients.
fn grad_cosine_of(run: &RunData) -> Option<f64> {
    median(run.layers.iter().filter_map(|r| r.grad_cosine_prev))
}

/// Consecutive minibatch gradients are mostly noise, nearly orthogonal (cosine ≈ 0.05 on the
/// tiny ladders measured); a gradient buffer that is not zeroed between steps carries the old
/// gradient along and keeps pointing the same way (≈ 0.75 measured, with clipping on).
pub fn grad_persistence(run: &RunData, refs: &[RunData], out: &mut Vec<Finding>) {
    let Some(cos) = grad_cosine_of(run) else {
        return;
    };
    let ref_max = refs
        .iter()
        .filter_map(grad_cosine_of)
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
    let limit = ref_max.map_or(0.5, |m| (m + 0.3).max(0.5));
    let severity = if cos > limit {
        Verdict::Broken
    } else if cos > limit - 0.2 {
        Verdict::Suspicious
    } else {
        Verdict::Healthy
    };
    let refs_note = ref_max.map_or(String::new(), |m| {
        format!(" (reference runs: up to {m:.2})")
    });
    push(
        out,
        "grad-persistence",
        severity,
        (severity > Verdict::Healthy).then_some(Cause::OptimizerStateBug),
        format!(
            "consecutive gradients have a median cosine of {cos:.2}{refs_note}{}",
            if severity > Verdict::Healthy {
                ": the gradient buffer is probably not zeroed between steps"
            } else {
                ""
            }
        ),
    );
}

/// Final val loss minus the mean training loss of the last fifth of the run, and the standard
/// error of that mean.
fn train_val_gap_of(run: &RunData) -> Option<(f64, f64)> {
    let losses = run.finite_losses();
    if losses.len() < 10 {
        return None;
    }
    let tail = fraction(&losses, 0.8, 1.0);
    let n = tail.len() as f64;
    let mean = tail.iter().sum::<f64>() / n;
    let var = tail.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    Some((
        f32_as_written(run.summary.final_val_loss?) - mean,
        (var / n).sqrt(),
    ))
}

/// A model that fits its training batches much better than held-out data has seen them before.
/// On single-pass data the gap is noise around zero; the noise is large on small runs (per-step
/// training losses of tiny models on the synthetic source vary by 0.8 nats), so the gap is
/// judged in units of its own standard error combined with the spread of the reference runs' gaps.
pub fn train_val_gap(run: &RunData, refs: &[RunData], out: &mut Vec<Finding>) {
    let Some((gap, se)) = train_val_gap_of(run) else {
        return;
    };
    // Runs of similar size when there are some: the gap's noise depends on the model.
    let near = similar(run, refs);
    let pool: Vec<&RunData> = if near.len() >= 2 {
        near
    } else {
        refs.iter().collect()
    };
    let ref_gaps: Vec<f64> = pool
        .iter()
        .filter_map(|r| Some(train_val_gap_of(r)?.0))
        .collect();
    let (base, spread) = match ref_gaps.len() {
        0 => (0.0, 0.1),
        1 => (ref_gaps[0], 0.1),
        k => {
            let m = ref_gaps.iter().sum::<f64>() / k as f64;
            let v = ref_gaps.iter().map(|g| (g - m).powi(2)).sum::<f64>() / (k - 1) as f64;
            (m, v.sqrt())
        }
    };
    let noise = se.hypot(spread);
    let excess = gap - base.max(0.0);
    let sigmas = excess / noise;
    let severity = if sigmas > 5.0 && excess > 0.2 {
        Verdict::Broken
    } else if sigmas > 3.0 && excess > 0.1 {
        Verdict::Suspicious
    } else {
        Verdict::Healthy
    };
    let refs_note = if ref_gaps.is_empty() {
        String::new()
    } else {
        format!(" (reference runs: {base:.3} ± {spread:.3})")
    };
    push(
        out,
        "train-val-gap",
        severity,
        (severity > Verdict::Healthy).then_some(Cause::DataRepetition),
        format!(
            "val − train loss = {gap:.3} ± {se:.3} nats{refs_note}, {sigmas:.1} σ above{}",
            if severity > Verdict::Healthy {
                ": the model fits its training data better than new data (data repeated?)"
            } else {
                ""
            }
        ),
    );
}

/// Median over logged steps after the first of the median block update ratio.
fn update_ratio_of(run: &RunData) -> Option<f64> {
    median(
        run.layers
            .iter()
            .filter(|r| r.step > 1)
            .filter_map(|r| median(block_layers(r).filter_map(|l| l.update_ratio))),
    )
}

/// Reference runs closest in size: within a factor 2 of N, else none.
fn similar<'a>(run: &RunData, refs: &'a [RunData]) -> Vec<&'a RunData> {
    refs.iter()
        .filter(|r| (r.summary.n as f64 / run.summary.n as f64).ln().abs() <= 2f64.ln())
        .collect()
}

/// Update/weight ratios far from those of healthy runs of similar size.
pub fn update_size(run: &RunData, refs: &[RunData], out: &mut Vec<Finding>) {
    let Some(mine) = update_ratio_of(run) else {
        return;
    };
    let Some(theirs) = median(similar(run, refs).into_iter().filter_map(update_ratio_of)) else {
        return;
    };
    if theirs <= 0.0 {
        return;
    }
    let ratio = mine / theirs;
    let (severity, cause) = if ratio > 4.0 {
        (Verdict::Suspicious, Some(Cause::LrTooHigh))
    } else if ratio < 0.25 {
        (Verdict::Suspicious, Some(Cause::LrTooLow))
    } else {
        (Verdict::Healthy, None)
    };
    push(
        out,
        "update-size",
        severity,
        cause,
        format!(
            "typical update/weight ratio {mine:.2e}, {ratio:.2} × that of reference runs of similar size"
        ),
    );
}

/// (tokens, smoothed training loss).
fn curve(run: &RunData) -> Vec<(f64, f64)> {
    let pts: Vec<(f64, f64)> = run
        .steps
        .iter()
        .filter_map(|s| Some((s.tokens as f64, s.loss?)))
        .collect();
    let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let smoothed = smooth(&ys, 9);
    pts.iter().zip(smoothed).map(|(p, y)| (p.0, y)).collect()
}

/// The loss curve's shape against the closest healthy run: the first half of training, where
/// schedules of different lengths still agree, compared at equal tokens.
pub fn curve_shape(run: &RunData, refs: &[RunData], out: &mut Vec<Finding>) {
    let Some(nearest) = similar(run, refs).into_iter().min_by(|a, b| {
        let da = (a.summary.n as f64 / run.summary.n as f64).ln().abs();
        let db = (b.summary.n as f64 / run.summary.n as f64).ln().abs();
        da.total_cmp(&db)
    }) else {
        return;
    };
    let (mine, theirs) = (curve(run), curve(nearest));
    let horizon = run.summary.d.min(nearest.summary.d) as f64;
    let rel = median(
        mine.iter()
            .filter(|(t, _)| *t > 0.1 * horizon && *t <= 0.5 * horizon)
            .filter_map(|&(t, y)| Some(y / interpolate(&theirs, t)? - 1.0)),
    );
    let Some(rel) = rel else { return };
    let severity = if rel.abs() > 0.1 {
        Verdict::Suspicious
    } else {
        Verdict::Healthy
    };
    let name = nearest.dir.file_name().map_or_else(
        || nearest.dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    push(
        out,
        "curve-shape",
        severity,
        None,
        format!(
            "over the first half of training the loss runs {:+.1} % against reference run {name} (N = {:.3e})",
            100.0 * rel,
            nearest.summary.n as f64
        ),
    );
}

/// Median tokens/s over steps after the first few (start-up and the first evaluation excluded).
fn throughput_of(run: &RunData) -> Option<f64> {
    median(run.steps.iter().skip(3).filter_map(|s| s.tok_per_s))
}

/// Throughput against reference runs of similar size on the same thread count.
pub fn throughput(run: &RunData, refs: &[RunData], out: &mut Vec<Finding>) {
    let Some(mine) = throughput_of(run) else {
        return;
    };
    let same: Vec<&RunData> = similar(run, refs)
        .into_iter()
        .filter(|r| r.summary.threads == run.summary.threads)
        .collect();
    let Some(theirs) = median(same.into_iter().filter_map(throughput_of)) else {
        return;
    };
    let ratio = mine / theirs;
    // Machine load alone moves throughput by tens of percent: only a large drop is a signal.
    let severity = if ratio < 0.3 {
        Verdict::Suspicious
    } else {
        Verdict::Healthy
    };
    push(
        out,
        "throughput",
        severity,
        (severity > Verdict::Healthy).then_some(Cause::ThroughputRegression),
        format!(
            "{mine:.0} tokens/s, {ratio:.2} × reference runs of similar size on the same threads"
        ),
    );
}

/// A run cut short by its wall-time limit.
pub fn under_training(run: &RunData, out: &mut Vec<Finding>) {
    let Some(planned) = run.planned_tokens.filter(|&p| p > 0) else {
        return;
    };
    if run.summary.stop_reason == StopReason::MaxTime
        && (run.summary.d as f64) < 0.95 * planned as f64
    {
        push(
            out,
            "under-training",
            Verdict::Suspicious,
            Some(Cause::UnderTraining),
            format!(
                "stopped by its time limit after {:.0} % of its planned {planned} tokens",
                100.0 * run.summary.d as f64 / planned as f64
            ),
        );
    }
}

/// Medians over logged steps after the first of one layer's gradient norm and update ratio.
fn layer_medians(run: &RunData, layer: &str) -> (Option<f64>, Option<f64>) {
    let stats = || {
        run.layers
            .iter()
            .filter(|r| r.step > 1)
            .flat_map(|r| r.layers.iter().filter(|l| l.layer == layer))
    };
    (
        median(stats().filter_map(|l| l.grad_norm)),
        median(stats().filter_map(|l| l.update_ratio)),
    )
}

/// Per-layer gradient norms and update/weight ratios, with the reference runs' update ratio.
pub fn layer_table(run: &RunData, refs: &[RunData]) -> Vec<crate::LayerSummary> {
    let Some(first) = run.layers.first() else {
        return Vec::new();
    };
    let near = similar(run, refs);
    first
        .layers
        .iter()
        .filter_map(|l| {
            let (grad_norm, update_ratio) = layer_medians(run, &l.layer);
            Some(crate::LayerSummary {
                layer: l.layer.clone(),
                grad_norm: grad_norm?,
                update_ratio: update_ratio?,
                reference_update_ratio: median(
                    near.iter().filter_map(|r| layer_medians(r, &l.layer).1),
                ),
            })
        })
        .collect()
}
