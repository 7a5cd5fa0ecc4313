//! `ladder_schema`: the one definition of the files a run and a sweep write (DESIGN §3), shared by
//! every writer (ladder-train, ladder-diagnose, ladder-sweep) and reader (diagnose, report, sweep).
//!
//! - [`summary`]: `summary.json` ([`Summary`]) and its enums ([`Status`], [`StopReason`], ...).
//! - [`metrics`]: one line of `metrics.jsonl` ([`StepRecord`]).
//! - [`events`]: one line of `events.jsonl` ([`Event`]) with its [`EventKind`].
//! - [`layers`]: one line of `layers.jsonl` ([`LayerRecord`]).
//! - [`diagnosis`]: `diagnosis.json` as readers see it ([`DiagnosisFile`]).
//! - [`sweep`]: `sweep.json` ([`SweepState`], [`RunState`], [`RunStatus`]).
//!
//! Compatibility: files written before a field existed still load (new fields are optional or
//! defaulted), an event kind this version does not know loads as [`EventKind::Other`], and
//! non-finite numbers (which JSON writers spell `null`) load as NaN or `None`, and so do numbers
//! an older file lacks.

#![deny(missing_docs)]

pub mod diagnosis;
pub mod events;
pub mod layers;
pub mod metrics;
pub mod summary;
pub mod sweep;

pub use diagnosis::{DiagnosisFile, DiagnosisFinding, DiagnosisLaw, DiagnosisNotJudged};
pub use events::{Event, EventKind};
pub use layers::{LayerRecord, LayerStat};
pub use metrics::StepRecord;
pub use summary::{HealthReport, PeakSource, Status, StopReason, Summary};
pub use sweep::{RunState, RunStatus, SweepState, STATE_FORMAT, STATE_VERSION};

/// The value of a number a file does not have (written before the field existed): unknown.
pub(crate) fn nan_f64() -> f64 {
    f64::NAN
}

/// [`nan_f64`] for f32.
pub(crate) fn nan_f32() -> f32 {
    f32::NAN
}

/// Reads an f64 that a JSON writer may have written as `null` (non-finite): `null` → NaN.
pub(crate) fn nullable_f64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// [`nullable_f64`] for f32.
pub(crate) fn nullable_f32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
}

/// Reads a count (parameters, tokens) that a hand-written file may spell as a float (`1e6`,
/// `4096.0`): an integer, or a non-negative integral float up to 2^53 (beyond which floats are
/// no longer exact integers).
pub(crate) fn count_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    use serde::de::{Deserialize, Error, Unexpected};
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match serde_json::Number::deserialize(d)? {
        n if n.is_u64() => Ok(n.as_u64().unwrap_or_default()),
        n => match n.as_f64() {
            Some(x) if x >= 0.0 && x.fract() == 0.0 && x <= EXACT => Ok(x as u64),
            Some(x) => Err(D::Error::invalid_value(
                Unexpected::Float(x),
                &"a non-negative whole number",
            )),
            None => Err(D::Error::custom(format!("{n} is not a count"))),
        },
    }
}

/// An f32 of a file (a loss) as the f64 its text spells: `2.5393f32` is written `2.5393` and
/// read back here as `2.5393f64`, not as the f32's exact binary value `2.539299964904785`, so a
/// reader that works in f64 sees the number a reader of the JSON text would.
pub fn f32_as_written(x: f32) -> f64 {
    if !x.is_finite() {
        return f64::from(x);
    }
    x.to_string().parse().unwrap_or(f64::from(x))
}

#[cfg(test)]
mod tests {
    #[test]
    fn f32_as_written_is_the_shortest_decimal() {
        assert_eq!(super::f32_as_written(2.5393), 2.5393);
        assert_eq!(super::f32_as_written(1e-7), 1e-7);
        assert!(super::f32_as_written(f32::NAN).is_nan());
    }
}
