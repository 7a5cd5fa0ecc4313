//! `fit.json`: the one file format every law writes (DESIGN §3) and `ladder predict` reads.
//!
//! The keys are those of DESIGN §3 in that order (`law, params, ci95, stderr, derived, fit, data,
//! residuals`), plus `samples` (the bootstrap parameter replicates, which `predict` needs for its
//! intervals), `frontier` (isoflop: the loss along the vertices with its replicates, which
//! `compare` reads) and `version`. Maps keep the law's parameter order. Numbers that are not finite
//! (an interval that is unbounded on one side) are written as `null`.

use std::fmt;
use std::path::Path;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// Version of the fit.json layout; bumped on incompatible changes, checked on load.
pub const FIT_FILE_VERSION: u32 = 1;

/// A map that keeps insertion order (parameters read in the order the law names them).
#[derive(Clone, Debug, PartialEq)]
pub struct Named<T>(pub Vec<(String, T)>);

impl<T> Default for Named<T> {
    fn default() -> Self {
        Named(Vec::new())
    }
}

impl<T> Named<T> {
    /// An empty map.
    pub fn new() -> Self {
        Named(Vec::new())
    }
    /// Appends `key` (no check for repeats: callers insert each name once).
    pub fn push(&mut self, key: &str, value: T) {
        self.0.push((key.to_string(), value));
    }
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&T> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }
}

impl<T: Serialize> Serialize for Named<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Named<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut a: A,
            ) -> std::result::Result<Named<T>, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, T>()? {
                    out.push((k, v));
                }
                Ok(Named(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A 95 % interval `[lo, hi]`; an unbounded side is ±infinity in memory and `null` in JSON.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval(pub [f64; 2]);

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let f = |x: f64| x.is_finite().then_some(x);
        [f(self.0[0]), f(self.0[1])].serialize(s)
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let [lo, hi] = <[Option<f64>; 2]>::deserialize(d)?;
        Ok(Interval([
            lo.unwrap_or(f64::NEG_INFINITY),
            hi.unwrap_or(f64::INFINITY),
        ]))
    }
}

/// Serde for an `f64` that may be non-finite: written as `null`, read back as NaN.
mod nullable {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_finite() {
            s.serialize_f64(*x)
        } else {
            s.serialize_none()
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// Reads a map of numbers whose non-finite values were written as `null` (an infinite standard
/// error of a parameter the bootstrap could not pin down), back as NaN.
fn nullable_named<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Named<f64>, D::Error> {
    let m = Named::<Option<f64>>::deserialize(d)?;
    Ok(Named(
        m.0.into_iter()
            .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
            .collect(),
    ))
}

/// One compute budget: the compute-optimal allocation there, with intervals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct Budget {
    /// Compute in FLOPs (C = 6·N·D).
    pub C: f64,
    /// Compute-optimal non-embedding parameters.
    #[serde(with = "nullable")]
    pub N_opt: f64,
    /// Compute-optimal training tokens.
    #[serde(with = "nullable")]
    pub D_opt: f64,
    /// D_opt / N_opt.
    #[serde(with = "nullable")]
    pub tokens_per_param: f64,
    /// Loss at the optimum: the law's prediction (chinchilla) or the parabola's minimum (isoflop
    /// vertices); absent where the law does not model loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// 95 % intervals of the quantities above (those the bootstrap could compute).
    pub ci95: Named<Interval>,
    /// Bootstrap standard errors of the same quantities.
    #[serde(default)]
    #[serde(deserialize_with = "nullable_named")]
    pub stderr: Named<f64>,
    /// `law` (from the fitted law at a requested budget), `vertex` (an IsoFLOP parabola's
    /// vertex) or `envelope` (the best run at that compute, Approach 1).
    pub kind: String,
    /// For vertices and envelope points: whether it lies inside the sampled N range and so was
    /// used for the power law. An outside vertex is an extrapolation and is flagged, not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_range: Option<bool>,
    /// For vertices: the runs in that budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<usize>,
    /// Why a vertex was not used, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Hyper-parameter fits: the optimal learning rate and batch here, and the loss lost away
    /// from them (absent for other laws).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hparams: Option<HparamOptimum>,
}

/// One budget's optimal learning rate and batch (`law: "hparams"`), and its flatness: the loss
/// lost at 2× and ½× the optimal lr (at the optimal batch) and batch (at the optimal lr).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct HparamOptimum {
    /// Optimal peak learning rate.
    #[serde(with = "nullable")]
    pub eta_opt: f64,
    /// Optimal batch in tokens per optimizer step.
    #[serde(with = "nullable")]
    pub B_opt: f64,
    /// Loss lost at 2× eta_opt.
    #[serde(with = "nullable")]
    pub loss_lr_x2: f64,
    /// Loss lost at ½× eta_opt.
    #[serde(with = "nullable")]
    pub loss_lr_half: f64,
    /// Loss lost at 2× B_opt.
    #[serde(with = "nullable")]
    pub loss_batch_x2: f64,
    /// Loss lost at ½× B_opt.
    #[serde(with = "nullable")]
    pub loss_batch_half: f64,
}

/// Quantities derived from the parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    /// Allocation exponent of N_opt ∝ C^a (β/(α+β) for chinchilla).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub a: Option<f64>,
    /// Allocation exponent of D_opt ∝ C^b (α/(α+β) for chinchilla).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b: Option<f64>,
    /// Other derived scalars (e.g. `G` for chinchilla, `growth_per_unit` for doubling).
    #[serde(default, skip_serializing_if = "Named::is_empty")]
    #[serde(deserialize_with = "nullable_named")]
    pub values: Named<f64>,
    /// 95 % intervals of `a`, `b` and `values`.
    #[serde(default)]
    pub ci95: Named<Interval>,
    /// Standard errors of `a`, `b` and `values`.
    #[serde(default)]
    #[serde(deserialize_with = "nullable_named")]
    pub stderr: Named<f64>,
    /// Budgets: requested ones, and for isoflop/envelope the per-budget optima found in the data.
    #[serde(default)]
    pub budgets: Vec<Budget>,
}

/// How the fit was done.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitInfo {
    /// `huber` (robust, in log space) or `ols` (least squares, in log space).
    pub objective: String,
    /// Huber threshold (absent for `ols`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<f64>,
    /// Lowest objective value found (the fit's point estimate).
    pub best: f64,
    /// Optimiser starts (1 for closed-form fits).
    pub starts: usize,
    /// Starts that converged.
    pub converged: usize,
    /// Bootstrap replicates requested.
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// Replicates kept (refit converged / enough data), from which the intervals come.
    pub bootstrap_used: usize,
    /// How the bootstrap resampled (`points`, `residuals within budgets`, `runs`).
    pub resample: String,
    /// Why the best start stopped.
    pub stop: String,
    /// True when each point's residual was weighted by its standard error (absent in files
    /// written before weighted fits: false).
    #[serde(default)]
    pub weighted: bool,
    /// IsoFLOP vertex estimator (`parabola`, `local` or `akima`); absent for other laws.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertex: Option<String>,
    /// The noise a weighted fit weighted by: `paired` (each run's own error, the error common to
    /// runs evaluated on the same windows removed) or `independent` (whole standard errors);
    /// absent for unweighted fits and in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<String>,
}

/// Where the data came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// Path(s) as given.
    pub source: String,
    /// sha256 of the input (see [`crate::data::DataSource::sha256`]).
    pub sha256: String,
    /// Points used by the fit.
    pub points: usize,
    /// Runs skipped, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// x column for power/doubling fits (`date` when it held dates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// y column for power/doubling fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// True when x held ISO dates, converted to decimal years.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub x_is_date: bool,
    /// What the runs were trained on (`known`, `sources`, `note` in the same `data` object), so
    /// that a law carries where it came from and `ladder diagnose` can refuse to compare a run
    /// trained on other data. Absent in files written before it was recorded: unknown.
    #[serde(flatten)]
    pub identity: DataIdentity,
}

/// The data the fitted runs were trained on: the data directories named by their resolved
/// `config.toml` (`data.dir`), with the hashes and vocabulary size their `meta.json` records.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataIdentity {
    /// True when every fitted run's data directory and its `meta.json` were read. False for a
    /// CSV (it names no data) and for files written before the identity was recorded.
    #[serde(default)]
    pub known: bool,
    /// The distinct data directories, in the order first met.
    #[serde(default)]
    pub sources: Vec<DataDir>,
    /// In words: where the identity came from, or why it is unknown.
    #[serde(default)]
    pub note: String,
}

/// One data directory as `meta.json` describes it. Fields it does not record are `null`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataDir {
    /// The directory (absolute, as the run's resolved config names it).
    #[serde(default)]
    pub data_dir: Option<String>,
    /// sha256 of `tokenizer.json`.
    #[serde(default)]
    pub tokenizer_sha256: Option<String>,
    /// sha256 of `train.bin`.
    #[serde(default)]
    pub train_sha256: Option<String>,
    /// sha256 of `val.bin`.
    #[serde(default)]
    pub val_sha256: Option<String>,
    /// Tokenizer vocabulary size.
    #[serde(default)]
    pub vocab_size: Option<u64>,
    /// `meta.json`'s description of the source (`synthetic: 256 rules ...`, the text files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl DataDir {
    /// True when at least one hash is known: something to compare.
    pub fn has_hashes(&self) -> bool {
        self.tokenizer_sha256.is_some() || self.train_sha256.is_some() || self.val_sha256.is_some()
    }

    /// Short human name: the directory, its description, the tokenizer hash prefix and vocabulary.
    pub fn label(&self) -> String {
        let mut s = self
            .data_dir
            .clone()
            .unwrap_or_else(|| "(unnamed data dir)".into());
        let mut extra = Vec::new();
        if let Some(d) = &self.description {
            let short: String = d.chars().take(60).collect();
            extra.push(if short.len() < d.len() {
                short + "…"
            } else {
                short
            });
        }
        if let Some(t) = &self.tokenizer_sha256 {
            extra.push(format!("tokenizer {}", &t[..t.len().min(12)]));
        }
        if let Some(v) = self.vocab_size {
            extra.push(format!("vocab {v}"));
        }
        if !extra.is_empty() {
            s += &format!(" ({})", extra.join(", "));
        }
        s
    }
}

/// The ranges of N, D and C over the points a law was fitted on (`support` in fit.json): where
/// its predictions are interpolations. An axis the input did not have is absent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Support {
    /// `[min, max]` of N.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<[f64; 2]>,
    /// `[min, max]` of D.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<[f64; 2]>,
    /// `[min, max]` of C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<[f64; 2]>,
}

impl Support {
    /// `[min, max]` of the finite positive values (`None` when there are none).
    pub fn range(values: &[f64]) -> Option<[f64; 2]> {
        values
            .iter()
            .copied()
            .filter(|x| x.is_finite() && *x > 0.0)
            .fold(None, |r: Option<[f64; 2]>, x| {
                Some(r.map_or([x, x], |[lo, hi]| [lo.min(x), hi.max(x)]))
            })
    }
}

/// A run that was found but not used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// Run directory.
    pub run: String,
    /// Why.
    pub reason: String,
}

/// Residuals of the point estimate, in natural log of the fitted quantity (loss, y, or N_opt
/// for envelope/isoflop power laws; isoflop also includes its parabolas' residuals).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Residuals {
    /// Root mean square.
    pub rmse_log: f64,
    /// Largest absolute value.
    pub max_abs_log: f64,
    /// Σ (r_i/σ_i)² against the points' measured noise σ_i = SE_i/y_i (weighted fits only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chi2: Option<f64>,
    /// Degrees of freedom: points − parameters (weighted fits only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dof: Option<usize>,
    /// χ²/dof: ≈ 1 when the law fits to within the noise (weighted fits only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chi2_dof: Option<f64>,
    /// χ² below the 99th percentile of χ²(dof): the residuals are consistent with the measured
    /// noise; false flags a law that misfits beyond it (weighted fits only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_consistent: Option<bool>,
}

/// Bootstrap replicates of the parameters, one row per kept replicate, columns in `params` order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Samples {
    /// Column names (the law's parameter names).
    pub params: Vec<String>,
    /// Rows. A replicate whose fit ran off to infinity (e.g. A = e^a overflowing) has a non-finite
    /// entry, written as `null` and read back as NaN; percentiles skip non-finite values either way.
    #[serde(deserialize_with = "nullable_rows")]
    pub values: Vec<Vec<f64>>,
}

/// Reads rows of numbers whose non-finite values were written as `null`, back as NaN.
fn nullable_rows<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<Vec<f64>>, D::Error> {
    let rows = Vec::<Vec<Option<f64>>>::deserialize(d)?;
    Ok(rows
        .into_iter()
        .map(|r| r.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
        .collect())
}

/// The loss along the compute-optimal frontier as its own power law, `L_opt(C) = K·C^−gamma`
/// (`frontier` in fit.json), for laws whose parameters do not give the loss at the optimum
/// (isoflop: fitted through the budgets' vertex losses). `ladder compare` reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frontier {
    /// The formula, in words (`L_opt = K·C^-gamma`).
    pub form: String,
    /// Point estimates: `K` and `gamma`.
    pub params: Named<f64>,
    /// Percentile 95 % bootstrap intervals.
    pub ci95: Named<Interval>,
    /// Bootstrap standard errors.
    #[serde(deserialize_with = "nullable_named")]
    pub stderr: Named<f64>,
    /// Bootstrap replicates, one row per kept replicate, columns in `params` order.
    #[serde(deserialize_with = "nullable_rows")]
    pub samples: Vec<Vec<f64>>,
}

/// The content of fit.json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitFile {
    /// `chinchilla`, `isoflop`, `envelope`, `kaplan`, `power`, `doubling` or `hparams`.
    pub law: String,
    /// Point estimates, in the law's order (DESIGN §3).
    pub params: Named<f64>,
    /// Percentile 95 % bootstrap intervals (empty without bootstrap).
    pub ci95: Named<Interval>,
    /// Bootstrap standard errors (empty without bootstrap).
    #[serde(deserialize_with = "nullable_named")]
    pub stderr: Named<f64>,
    /// Derived quantities.
    pub derived: Derived,
    /// Settings and optimiser outcome.
    pub fit: FitInfo,
    /// Data source.
    pub data: DataInfo,
    /// Residual statistics.
    pub residuals: Residuals,
    /// Ranges of N, D and C over the fitted points (absent when the input had none, and in
    /// files written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<Support>,
    /// Bootstrap parameter replicates (what `ladder predict` needs for intervals).
    pub samples: Samples,
    /// The loss along the compute-optimal frontier with its replicates (isoflop fits; absent for
    /// other laws and in files written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontier: Option<Frontier>,
    /// [`FIT_FILE_VERSION`].
    pub version: u32,
}

impl FitFile {
    /// Pretty JSON text.
    pub fn to_json(&self) -> String {
        // Serialising plain structs of numbers and strings cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Parses fit.json text; `path` is used in messages.
    pub fn from_json(path: &Path, text: &str) -> Result<Self> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Json {
            path: path.to_path_buf(),
            message: format!("not JSON: {e}"),
        })?;
        match v.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == FIT_FILE_VERSION as u64 => {}
            Some(v) => {
                return Err(Error::Json {
                    path: path.to_path_buf(),
                    message: format!(
                        "fit.json version {v}, this ladder reads version {FIT_FILE_VERSION}; refit with this ladder"
                    ),
                })
            }
            None => {
                return Err(Error::Json {
                    path: path.to_path_buf(),
                    message: "no `version`: not a fit.json written by `ladder fit`".to_string(),
                })
            }
        }
        // Parse the text again (not the Value): a Value's map is sorted, losing parameter order.
        let f: FitFile = serde_json::from_str(text).map_err(|e| Error::Json {
            path: path.to_path_buf(),
            message: format!("not a valid fit.json: {e}"),
        })?;
        if f.samples
            .values
            .iter()
            .any(|r| r.len() != f.samples.params.len())
            || f.samples.params.iter().any(|k| f.params.get(k).is_none())
            || f.samples.params.len() != f.params.0.len()
        {
            return Err(Error::Json {
                path: path.to_path_buf(),
                message: "`samples` does not match `params` (names or row lengths)".to_string(),
            });
        }
        if let Some(fr) = &f.frontier {
            if fr.samples.iter().any(|r| r.len() != fr.params.0.len()) {
                return Err(Error::Json {
                    path: path.to_path_buf(),
                    message: "`frontier.samples` rows do not match `frontier.params`".to_string(),
                });
            }
        }
        Ok(f)
    }

    /// Reads fit.json.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json(path, &text)
    }

    /// Writes fit.json atomically: a temporary file in the same directory, fsync, rename.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, (self.to_json() + "\n").as_bytes())
    }

    /// Parameter `name` of the point estimate.
    pub fn param(&self, name: &str) -> Option<f64> {
        self.params.get(name).copied()
    }

    /// The point estimate as a vector in `samples.params` order (the law's order), so it can be
    /// passed to the same formulas as a replicate row.
    pub fn param_vector(&self) -> Vec<f64> {
        if self.samples.params.is_empty() {
            return self.params.0.iter().map(|(_, v)| *v).collect();
        }
        self.samples
            .params
            .iter()
            .map(|k| self.params.get(k).copied().unwrap_or(f64::NAN))
            .collect()
    }
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename, then
/// fsync of the directory so the rename itself is durable).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "fit.json".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            // Directory fsync is not supported everywhere; the data itself is already synced.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_map_keeps_order_and_intervals_allow_null() {
        let mut m = Named::new();
        m.push("E", Interval([1.0, 2.0]));
        m.push("A", Interval([3.0, f64::INFINITY]));
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(s, r#"{"E":[1.0,2.0],"A":[3.0,null]}"#);
        let back: Named<Interval> = serde_json::from_str(&s).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn fit_file_with_infinite_stderr_reads_back() {
        // An unbounded bootstrap spread is written as `null`; `ladder fit --out` then `predict`,
        // `diagnose` and `report` must still read the file.
        let p = Path::new("fit.json");
        let truth = [2.0, 60.0, 80.0, 0.33, 0.3];
        let runs = crate::synth::chinchilla_points(&truth, 12, (1e5, 1e7), (5.0, 50.0), 0.01, 1);
        let opts = crate::FitOptions::default()
            .with_bootstrap(5)
            .unwrap()
            .with_starts(vec![[4.0, 4.4, 0.7, 0.33, 0.3]])
            .unwrap();
        let mut f = crate::chinchilla::fit(&runs, &opts).unwrap();
        f.stderr.0[1].1 = f64::INFINITY;
        f.derived.values.0[0].1 = f64::INFINITY;
        // A bootstrap replicate whose A overflowed (seen in the quickstart's 12-point ladder).
        f.samples.values[0][1] = f64::INFINITY;
        let text = f.to_json();
        assert!(text.contains("\"A\": null"), "{text}");
        let back = FitFile::from_json(p, &text).unwrap();
        assert!(back.stderr.get("A").unwrap().is_nan());
        assert!(back.derived.values.0[0].1.is_nan());
        assert!(back.samples.values[0][1].is_nan());
        assert_eq!(back.samples.values[1], f.samples.values[1]);
        // Predictions from the samples skip the broken replicate instead of failing.
        let q = crate::predict::loss(&back, 1e7, 2e8).unwrap();
        assert!(q
            .ci95
            .is_some_and(|[lo, hi]| lo.is_finite() && hi.is_finite()));
        assert_eq!(back.param("E"), f.param("E"));
    }

    #[test]
    fn fit_files_without_weighting_fields_still_load() {
        // A fit.json written before weighted fits: no `fit.weighted`, no χ² residual fields.
        let runs = crate::synth::chinchilla_points(
            &[2.0, 60.0, 80.0, 0.33, 0.3],
            12,
            (1e5, 1e7),
            (5.0, 50.0),
            0.01,
            1,
        );
        let opts = crate::FitOptions::default()
            .with_bootstrap(3)
            .unwrap()
            .with_starts(vec![[4.0, 4.4, 0.7, 0.33, 0.3]])
            .unwrap();
        let f = crate::chinchilla::fit(&runs, &opts).unwrap();
        let text = f.to_json();
        let old = text.replace(",\n    \"weighted\": false", "");
        assert!(!old.contains("weighted") && !old.contains("chi2"), "{old}");
        let back = FitFile::from_json(Path::new("old.json"), &old).unwrap();
        assert!(!back.fit.weighted && back.residuals.chi2_dof.is_none());
        assert_eq!(back.params, f.params);
    }

    #[test]
    fn fit_files_without_data_identity_or_support_still_load() {
        let runs = crate::synth::chinchilla_points(
            &[2.0, 60.0, 80.0, 0.33, 0.3],
            12,
            (1e5, 1e7),
            (5.0, 50.0),
            0.01,
            1,
        );
        let opts = crate::FitOptions::default()
            .with_bootstrap(3)
            .unwrap()
            .with_starts(vec![[4.0, 4.4, 0.7, 0.33, 0.3]])
            .unwrap();
        let mut f = crate::chinchilla::fit(&runs, &opts).unwrap();
        f.support = Some(Support {
            n: Support::range(&runs.n),
            d: None,
            c: Some([1.0, 2.0]),
        });
        let text = f.to_json();
        // The identity sits in `data`, next to the fields it always had; absent axes are left out.
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["data"]["known"], false);
        assert!(v["data"]["note"].as_str().unwrap().contains("unknown"));
        assert_eq!(v["support"]["c"], serde_json::json!([1.0, 2.0]));
        assert!(v["support"].get("d").is_none());
        assert_eq!(FitFile::from_json(Path::new("new.json"), &text).unwrap(), f);
        // A file written before either was recorded: unknown identity, no support.
        let mut old = v.clone();
        for k in ["known", "sources", "note"] {
            old["data"].as_object_mut().unwrap().remove(k);
        }
        old.as_object_mut().unwrap().remove("support");
        let back = FitFile::from_json(Path::new("old.json"), &old.to_string()).unwrap();
        assert!(!back.data.identity.known && back.data.identity.sources.is_empty());
        assert!(back.support.is_none());
        assert_eq!(back.data.sha256, f.data.sha256);
    }

    #[test]
    fn write_atomic_replaces_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fit.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "temp file left behind");
        let e = write_atomic(&dir.path().join("no/such/dir/fit.json"), b"x").unwrap_err();
        assert!(e.to_string().contains("no/such/dir"), "{e}");
    }
}
