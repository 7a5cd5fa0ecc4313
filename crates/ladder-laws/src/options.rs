//! Settings shared by every law's fit, built with validating `with_*` setters.

use crate::chinchilla::Theta;
use crate::error::{Error, Result};
use crate::solver::LbfgsOptions;
use crate::vertex::VertexMethod;

/// The laws `ladder fit` knows (DESIGN §4), by name; [`crate::law::Law`] is what each does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LawKind {
    /// `L = E + A/N^α + B/D^β` (Approach 3).
    Chinchilla,
    /// Per-budget parabolas in ln N, then N_opt(C), D_opt(C) power laws (Approach 2).
    Isoflop,
    /// Lowest loss per compute over training curves, then power laws (Approach 1).
    Envelope,
    /// `L = [(Nc/N)^(αN/αD) + Dc/D]^αD`, or one variable alone.
    Kaplan,
    /// `y = a·x^b (+ c)`.
    Power,
    /// `y = y0·2^((t − t0)/T)`.
    Doubling,
    /// Optimal learning rate and batch per budget, then η_opt = η0·C^k, B_opt = B0·C^m.
    Hparams,
}

impl LawKind {
    /// The name used on the command line and in fit.json.
    pub fn name(self) -> &'static str {
        match self {
            LawKind::Chinchilla => "chinchilla",
            LawKind::Isoflop => "isoflop",
            LawKind::Envelope => "envelope",
            LawKind::Kaplan => "kaplan",
            LawKind::Power => "power",
            LawKind::Doubling => "doubling",
            LawKind::Hparams => "hparams",
        }
    }

    /// Parses a law name (as [`LawKind::name`] writes it).
    pub fn parse(s: &str) -> Option<LawKind> {
        [
            LawKind::Chinchilla,
            LawKind::Isoflop,
            LawKind::Envelope,
            LawKind::Kaplan,
            LawKind::Power,
            LawKind::Doubling,
            LawKind::Hparams,
        ]
        .into_iter()
        .find(|l| l.name() == s)
    }
}

/// Which parameter count is a law's N (`ladder fit --params`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ParamCount {
    /// Parameters without the token and position embeddings (Kaplan et al. 2020): the count
    /// whose loss curves collapse onto one law across depths and widths. The default.
    #[default]
    NonEmbedding,
    /// Every parameter (summary.json `N_total`, CSV column `N_total`), as Hoffmann et al. count.
    Total,
}

impl ParamCount {
    /// The summary.json key / CSV column read as N.
    pub fn column(self) -> &'static str {
        match self {
            ParamCount::NonEmbedding => "N",
            ParamCount::Total => "N_total",
        }
    }
}

/// Options of a fit. Defaults: 1000 bootstrap replicates, seed 0, Huber δ = 1e-3 (DESIGN §4),
/// the Hoffmann grid of starts, no requested budgets, no offset, 40 envelope compute bins.
#[derive(Clone, Debug)]
pub struct FitOptions {
    pub(crate) bootstrap: usize,
    pub(crate) seed: u64,
    pub(crate) delta: f64,
    pub(crate) budgets: Vec<f64>,
    pub(crate) lbfgs: LbfgsOptions,
    pub(crate) starts: Option<Vec<Theta>>,
    pub(crate) offset: bool,
    pub(crate) bins: usize,
    pub(crate) params: ParamCount,
    pub(crate) vertex: VertexMethod,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            // 1000 replicates put the 2.5/97.5 percentiles on ~25 points each side.
            bootstrap: 1000,
            seed: 0,
            // δ = 1e-3 in log loss, as Hoffmann et al.: robust to the odd bad run.
            delta: 1e-3,
            budgets: Vec::new(),
            lbfgs: LbfgsOptions::default(),
            starts: None,
            offset: false,
            // 40 log-spaced compute values over the covered range: a few per octave at
            // typical ladder spans, enough for the power law without over-counting curves.
            bins: 40,
            params: ParamCount::NonEmbedding,
            // Chosen by the simulation study in tests/isoflop_simstudy.rs (docs/laws.md).
            vertex: VertexMethod::Local,
        }
    }
}

impl FitOptions {
    /// Bootstrap replicates (0 disables intervals; at most 1,000,000).
    pub fn with_bootstrap(mut self, b: usize) -> Result<Self> {
        if b > 1_000_000 {
            return Err(Error::InvalidOption {
                name: "--bootstrap",
                value: b.to_string(),
                rule: "must be at most 1000000",
            });
        }
        self.bootstrap = b;
        Ok(self)
    }
    /// Bootstrap seed (any value).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Huber threshold δ in log space (finite, > 0).
    pub fn with_delta(mut self, delta: f64) -> Result<Self> {
        if !(delta > 0.0 && delta.is_finite()) {
            return Err(Error::InvalidOption {
                name: "--huber-delta",
                value: delta.to_string(),
                rule: "must be finite and > 0",
            });
        }
        self.delta = delta;
        Ok(self)
    }
    /// Compute budgets (FLOPs, finite and > 0) at which to report the optimal allocation.
    pub fn with_budgets(mut self, budgets: &[f64]) -> Result<Self> {
        if let Some(c) = budgets.iter().find(|c| !(**c > 0.0 && c.is_finite())) {
            return Err(Error::InvalidOption {
                name: "--compute",
                value: c.to_string(),
                rule: "must be finite and > 0 (FLOPs)",
            });
        }
        self.budgets = budgets.to_vec();
        Ok(self)
    }
    /// L-BFGS settings.
    pub fn with_lbfgs(mut self, o: LbfgsOptions) -> Self {
        self.lbfgs = o;
        self
    }
    /// Chinchilla starts in θ order `[a, b, e, alpha, beta]` instead of the Hoffmann grid
    /// (non-empty, finite).
    pub fn with_starts(mut self, starts: Vec<Theta>) -> Result<Self> {
        if starts.is_empty() || starts.iter().flatten().any(|x| !x.is_finite()) {
            return Err(Error::InvalidOption {
                name: "starts",
                value: format!("{} start(s)", starts.len()),
                rule: "need at least one start, all values finite",
            });
        }
        self.starts = Some(starts);
        Ok(self)
    }
    /// Power law with an additive offset `c` (> 0).
    pub fn with_offset(mut self, offset: bool) -> Self {
        self.offset = offset;
        self
    }
    /// Number of log-spaced compute values of the envelope (2..=100000).
    pub fn with_bins(mut self, bins: usize) -> Result<Self> {
        if !(2..=100_000).contains(&bins) {
            return Err(Error::InvalidOption {
                name: "--bins",
                value: bins.to_string(),
                rule: "must be between 2 and 100000",
            });
        }
        self.bins = bins;
        Ok(self)
    }
    /// Which parameter count is N.
    pub fn with_params(mut self, params: ParamCount) -> Self {
        self.params = params;
        self
    }
    /// Which parameter count is N.
    pub fn params(&self) -> ParamCount {
        self.params
    }
    /// IsoFLOP vertex estimator.
    pub fn with_vertex(mut self, vertex: VertexMethod) -> Self {
        self.vertex = vertex;
        self
    }
    /// IsoFLOP vertex estimator.
    pub fn vertex(&self) -> VertexMethod {
        self.vertex
    }
    /// Replicates.
    pub fn bootstrap(&self) -> usize {
        self.bootstrap
    }
    /// Seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Huber δ.
    pub fn delta(&self) -> f64 {
        self.delta
    }
    /// Requested budgets.
    pub fn budgets(&self) -> &[f64] {
        &self.budgets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_options_validate() {
        let o = FitOptions::default();
        assert!(o.clone().with_bootstrap(0).is_ok());
        assert!(o.clone().with_bootstrap(2_000_000).is_err());
        assert!(o.clone().with_delta(0.0).is_err());
        assert!(o.clone().with_delta(-1.0).is_err());
        assert!(o.clone().with_delta(f64::INFINITY).is_err());
        assert_eq!(o.clone().with_delta(0.01).unwrap().delta(), 0.01);
        assert!(o.clone().with_budgets(&[1e21, 0.0]).is_err());
        assert!(o.clone().with_budgets(&[f64::NAN]).is_err());
        assert_eq!(o.clone().with_budgets(&[1e21]).unwrap().budgets(), &[1e21]);
        assert!(o.clone().with_starts(vec![]).is_err());
        assert!(o.clone().with_starts(vec![[f64::NAN; 5]]).is_err());
        assert!(o.clone().with_starts(vec![[0.0; 5]]).is_ok());
        assert!(o.clone().with_bins(1).is_err());
        assert!(o.clone().with_bins(10).is_ok());
        let e = o.with_delta(0.0).unwrap_err().to_string();
        assert!(e.contains("--huber-delta = 0"), "{e}");
    }

    #[test]
    fn law_names_round_trip() {
        for l in [
            "chinchilla",
            "isoflop",
            "envelope",
            "kaplan",
            "power",
            "doubling",
        ] {
            assert_eq!(LawKind::parse(l).unwrap().name(), l);
        }
        assert_eq!(LawKind::parse("hoffmann"), None);
    }
}
