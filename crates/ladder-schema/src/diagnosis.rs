//! `diagnosis.json` as readers see it (`ladder diagnose` writes `ladder_diagnose::Diagnosis`,
//! which serialises to this shape). Unknown keys are ignored so a newer diagnosis still loads.

use serde::{Deserialize, Serialize};

/// `diagnosis.json`: the fields a reader needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisFile {
    /// `healthy`, `inconclusive`, `suspicious` or `broken`.
    pub verdict: String,
    /// The most likely cause class (kebab-case), when one was named.
    #[serde(default)]
    pub cause: Option<String>,
    /// The comparison with the law, when a law was given.
    #[serde(default)]
    pub law: Option<DiagnosisLaw>,
    /// Reference runs used.
    #[serde(default)]
    pub references: usize,
    /// Comparisons asked for that could not judge the run (absent before `inconclusive`).
    #[serde(default)]
    pub not_judged: Vec<DiagnosisNotJudged>,
    /// True when the law or the reference runs came from other data and were compared anyway.
    #[serde(default)]
    pub other_data: bool,
    /// The evidence, worst first.
    #[serde(default)]
    pub findings: Vec<DiagnosisFinding>,
}

/// A comparison that could not judge the run (`diagnosis.json` → `not_judged`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisNotJudged {
    /// `law` or `reference`.
    pub check: String,
    /// `not-applicable` (other data) or `inconclusive` (far outside the law's runs, or an
    /// interval too wide).
    pub status: String,
    /// Why.
    pub message: String,
}

/// The run's final loss against the law (`diagnosis.json` → `law`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisLaw {
    /// The law's name.
    pub law: String,
    /// The run's final validation loss.
    pub observed: f64,
    /// The law's point prediction.
    pub predicted: f64,
    /// The prediction's 95 % interval.
    pub interval95: [f64; 2],
    /// ln(observed / predicted) in standard deviations.
    pub z: f64,
    /// False when the comparison was inconclusive (absent in older files: judged).
    #[serde(default = "yes")]
    pub judged: bool,
    /// Decades outside the law's fitted N, D, C ranges (0 inside), when fit.json records them.
    #[serde(default)]
    pub outside_decades: Option<f64>,
}

fn yes() -> bool {
    true
}

/// One piece of evidence (`diagnosis.json` → `findings`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisFinding {
    /// Which check produced it.
    pub check: String,
    /// `healthy`, `inconclusive`, `suspicious` or `broken`.
    pub severity: String,
    /// The cause class it points to.
    #[serde(default)]
    pub cause: Option<String>,
    /// What was measured.
    pub message: String,
}
