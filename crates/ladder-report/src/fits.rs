//! The laws the report draws: a Chinchilla fit (Approach 3) and an IsoFLOP fit (Approach 2),
//! each read from a `--fit` fit.json or fitted here through `ladder_laws`, plus the per-budget
//! parabolas of the IsoFLOP profiles (fit.json keeps their vertices, not their coefficients, so
//! they are refitted here by the same least squares in ln N).
//!
//! Runs are grouped into compute budgets as `ladder_laws::isoflop` does: sorted by C, a run
//! whose ln C lies within 0.01 (≈ 1 %) of its group's first run joins that group.

use std::path::{Path, PathBuf};

use ladder_laws::data::{DataSource, RunPoints};
use ladder_laws::{FitFile, FitOptions};

use crate::error::{Error, Result};
use crate::runs::Run;

/// Budgets closer than this in ln C are one budget (as in `ladder_laws::isoflop`).
const SAME_BUDGET_LN: f64 = 0.01;

/// Where a law's fit came from.
#[derive(Clone, Debug, PartialEq)]
pub enum FitSource {
    /// Read from this fit.json.
    File(PathBuf),
    /// Fitted by the report from the runs it shows.
    Fitted,
}

/// A law's fit, or why there is none.
#[derive(Clone, Debug)]
pub enum LawFit {
    /// The fit and where it came from.
    Ok(Box<FitFile>, FitSource),
    /// The law could not be fitted to these runs (too few runs, budgets, sizes, ...).
    Unavailable(String),
}

impl LawFit {
    /// The fit, when there is one.
    pub fn fit(&self) -> Option<&FitFile> {
        match self {
            LawFit::Ok(f, _) => Some(f),
            LawFit::Unavailable(_) => None,
        }
    }
}

/// One compute budget: its runs and, with ≥ 3 distinct sizes, its IsoFLOP parabola.
#[derive(Clone, Debug)]
pub struct Budget {
    /// Geometric mean of its runs' C (FLOPs).
    pub c: f64,
    /// Indices into the report's runs.
    pub runs: Vec<usize>,
    /// `loss = c0 + c1·ln N + c2·(ln N)²` over the budget's fittable runs.
    pub parabola: Option<[f64; 3]>,
    /// The parabola's vertex (N_opt, loss) when it opens upwards.
    pub vertex: Option<(f64, f64)>,
    /// Whether the vertex lies inside the sampled N range (else an extrapolation).
    pub vertex_in_range: bool,
    /// The sampled N range of the fittable runs.
    pub n_range: Option<(f64, f64)>,
}

/// Everything the figures need about the laws.
#[derive(Clone, Debug)]
pub struct Laws {
    /// Chinchilla (E + A/N^α + B/D^β).
    pub chinchilla: LawFit,
    /// IsoFLOP (N_opt = N0·C^a, D_opt = D0·C^b).
    pub isoflop: LawFit,
    /// Budgets, by increasing C; every run is in exactly one.
    pub budgets: Vec<Budget>,
    /// Index of each run's budget.
    pub budget_of: Vec<usize>,
    /// Runs left out of the fits here, with the reason.
    pub left_out: Vec<(String, String)>,
    /// The points the laws were fitted to here (completed runs not left out).
    pub points: RunPoints,
}

/// A fit read from a file, with the file.
pub type GivenFit = Option<(FitFile, PathBuf)>;

/// Reads `--fit` files (at most one per law): (chinchilla, isoflop).
pub fn read_fits(paths: &[PathBuf]) -> Result<(GivenFit, GivenFit)> {
    let (mut chin, mut iso): (GivenFit, GivenFit) = (None, None);
    for p in paths {
        let f = FitFile::load(p).map_err(|error| Error::Fit {
            path: p.clone(),
            error,
        })?;
        let slot = match f.law.as_str() {
            "chinchilla" => &mut chin,
            "isoflop" => &mut iso,
            other => {
                return Err(Error::UnsupportedLaw {
                    path: p.clone(),
                    law: other.to_string(),
                })
            }
        };
        if let Some((_, first)) = slot {
            return Err(Error::DuplicateLaw {
                law: f.law.clone(),
                first: first.clone(),
                second: p.clone(),
            });
        }
        *slot = Some((f, p.clone()));
    }
    Ok((chin, iso))
}

/// Groups runs into budgets, refits the parabolas, and reads or fits both laws.
pub fn laws(
    runs: &[Run],
    source: &Path,
    fits: &[PathBuf],
    bootstrap: usize,
    seed: u64,
) -> Result<Laws> {
    let (chin_file, iso_file) = read_fits(fits)?;
    let (budgets, budget_of) = group(runs);
    let mut left_out = Vec::new();
    let mut pts = RunPoints {
        n: vec![],
        d: vec![],
        loss: vec![],
        c: vec![],
        se: None,
        common_se: None,
        origin: DataSource {
            source: source.display().to_string(),
            sha256: String::new(),
            skipped: vec![],
        },
    };
    let mut included = Vec::new();
    for r in runs {
        if !r.fittable() {
            left_out.push((r.name.clone(), format!("status {}", r.status)));
        } else if r.diagnosis.as_ref().is_some_and(|d| d.verdict == "broken") {
            left_out.push((r.name.clone(), "diagnosed broken".to_string()));
        } else if let Some(l) = r.final_val_loss {
            pts.n.push(r.n);
            pts.d.push(r.d);
            pts.c.push(r.c);
            pts.loss.push(l);
            included.push(r.dir.clone());
        }
    }
    // The points `ladder fit` would fit to the same runs (standard errors, paired noise, seed
    // replicates merged), so a law the report fits equals the one `ladder fit` writes; the plain
    // points above only when the run files lack what that reader needs.
    if let Ok(mut read) = ladder_laws::runs::run_points(&included) {
        read.origin.source = source.display().to_string();
        pts = read;
    }
    let opts = FitOptions::default()
        .with_bootstrap(bootstrap)
        .map_err(|e| Error::Json {
            path: source.to_path_buf(),
            message: e.to_string(),
        })?
        .with_seed(seed);
    let fit_or =
        |file: GivenFit, f: fn(&RunPoints, &FitOptions) -> ladder_laws::Result<FitFile>| match file
        {
            Some((fit, p)) => LawFit::Ok(Box::new(fit), FitSource::File(p)),
            None if pts.n.is_empty() => LawFit::Unavailable("no completed runs".to_string()),
            None => match f(&pts, &opts) {
                Ok(fit) => LawFit::Ok(Box::new(fit), FitSource::Fitted),
                Err(e) => LawFit::Unavailable(e.to_string()),
            },
        };
    let chinchilla = fit_or(chin_file, ladder_laws::chinchilla::fit);
    let isoflop = fit_or(iso_file, ladder_laws::isoflop::fit);
    let budgets = budgets
        .into_iter()
        .map(|b| with_parabola(b, runs, &left_out))
        .collect();
    Ok(Laws {
        chinchilla,
        isoflop,
        budgets,
        budget_of,
        left_out,
        points: pts,
    })
}

/// Budgets by increasing C and each run's budget index.
fn group(runs: &[Run]) -> (Vec<Budget>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..runs.len()).collect();
    idx.sort_by(|&a, &b| runs[a].c.total_cmp(&runs[b].c));
    let mut members: Vec<Vec<usize>> = Vec::new();
    let mut first = f64::NEG_INFINITY;
    for i in idx {
        let lc = runs[i].c.ln();
        match members.last_mut() {
            Some(m) if lc - first <= SAME_BUDGET_LN => m.push(i),
            _ => {
                members.push(vec![i]);
                first = lc;
            }
        }
    }
    let mut budget_of = vec![0; runs.len()];
    let budgets = members
        .into_iter()
        .enumerate()
        .map(|(k, m)| {
            for &i in &m {
                budget_of[i] = k;
            }
            let c = (m.iter().map(|&i| runs[i].c.ln()).sum::<f64>() / m.len() as f64).exp();
            Budget {
                c,
                runs: m,
                parabola: None,
                vertex: None,
                vertex_in_range: false,
                n_range: None,
            }
        })
        .collect();
    (budgets, budget_of)
}

fn with_parabola(mut b: Budget, runs: &[Run], left_out: &[(String, String)]) -> Budget {
    let used: Vec<&Run> = b
        .runs
        .iter()
        .map(|&i| &runs[i])
        .filter(|r| r.fittable() && !left_out.iter().any(|(n, _)| *n == r.name))
        .collect();
    let x: Vec<f64> = used.iter().map(|r| r.n.ln()).collect();
    let y: Vec<f64> = used.iter().filter_map(|r| r.final_val_loss).collect();
    if x.is_empty() {
        return b;
    }
    let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    b.n_range = Some((lo.exp(), hi.exp()));
    let mut distinct = x.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
    if distinct.len() < 3 {
        return b;
    }
    b.parabola = ladder_laws::stats::ols_parabola(&x, &y);
    if let Some(c) = b.parabola.filter(|c| c[2] > 0.0) {
        let xv = -c[1] / (2.0 * c[2]);
        b.vertex = Some((xv.exp(), c[0] + c[1] * xv + c[2] * xv * xv));
        b.vertex_in_range = xv >= lo && xv <= hi;
    }
    b
}
