//! The [`Law`] trait: what a scaling law is to the rest of the crate — its parameters, what it
//! reads, its fit, and the quantities it predicts from a parameter vector (the point estimate or
//! any bootstrap replicate). `ladder fit` and `ladder predict` dispatch through it, so a new law is
//! one implementation here plus its fit module; fit.json keeps the law as a plain string
//! ([`law_of`] maps it back).

use crate::data::{Curves, RunPoints, XKind, XyPoints};
use crate::error::{Error, Result};
use crate::fitfile::FitFile;
use crate::hparams::HparamPoints;
use crate::options::{FitOptions, LawKind};
use crate::{allocation, chinchilla, doubling, envelope, hparams, isoflop, kaplan, power};

/// What a law reads from its input table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Columns {
    /// Runs: N (or N_total), D, C, the loss and its SE (CSV `N, D, C, loss, loss_se`; run
    /// directories' summary.json, seed replicates merged).
    Runs,
    /// Two columns named by `--x` and `--y` (any column of a CSV, summary.json or config.toml),
    /// with `<y>_se` as y's standard error when present.
    Xy(XKind),
    /// Training curves (CSV `N, D, loss` per step, or run directories' metrics.jsonl).
    Curves,
    /// Hyper-parameter sweeps (CSV `C, lr, batch_tokens, loss`, or run directories' summary.json
    /// and config.toml: `train.lr`, the batch shape).
    Hparams,
}

/// A law's input, read as its [`Columns`] say.
#[derive(Clone, Debug)]
pub enum Input {
    /// For [`Columns::Runs`].
    Runs(RunPoints),
    /// For [`Columns::Xy`].
    Xy(XyPoints),
    /// For [`Columns::Curves`].
    Curves(Curves),
    /// For [`Columns::Hparams`].
    Hparams(HparamPoints),
}

/// The compute-optimal allocation at one budget: (N_opt, D_opt, loss there when the law models
/// the loss).
pub type Optimum = (f64, f64, Option<f64>);

/// A scaling law.
pub trait Law: Sync {
    /// Which law (its CLI and fit.json name is `kind().name()`).
    fn kind(&self) -> LawKind;
    /// Parameter names, in fit.json order.
    fn params(&self) -> Vec<&'static str>;
    /// The columns it fits.
    fn columns(&self) -> Columns;
    /// Fits the law (with bootstrap) to its input.
    fn fit(&self, input: &Input, opts: &FitOptions) -> Result<FitFile>;
    /// Loss at (N, D) for parameters `p`, for laws of the loss in N and D.
    fn loss(&self, _p: &[f64], _n: f64, _d: f64) -> Option<f64> {
        None
    }
    /// y at x for parameters `p`, for laws of one variable.
    fn value_at(&self, _p: &[f64], _x: f64) -> Option<f64> {
        None
    }
    /// The compute-optimal allocation at `c` FLOPs for parameters `p` (a derived quantity).
    fn optimum(&self, _p: &[f64], _c: f64) -> Option<Optimum> {
        None
    }
    /// The optimal (peak learning rate, batch in tokens) at `c` FLOPs for parameters `p`, for
    /// hyper-parameter laws.
    fn hparams_at(&self, _p: &[f64], _c: f64) -> Option<(f64, f64)> {
        None
    }
}

/// η_opt = η0·C^k, B_opt = B0·C^m from per-budget optima ([`hparams`]).
pub struct Hparams;

impl Law for Hparams {
    fn kind(&self) -> LawKind {
        LawKind::Hparams
    }
    fn params(&self) -> Vec<&'static str> {
        hparams::PARAMS.to_vec()
    }
    fn columns(&self) -> Columns {
        Columns::Hparams
    }
    fn fit(&self, input: &Input, opts: &FitOptions) -> Result<FitFile> {
        match input {
            Input::Hparams(p) => hparams::fit(p, opts),
            _ => Err(wrong_input(self.kind())),
        }
    }
    fn hparams_at(&self, p: &[f64], c: f64) -> Option<(f64, f64)> {
        Some(hparams::optimal(p, c))
    }
}

fn wrong_input(law: LawKind) -> Error {
    Error::InvalidOption {
        name: "input",
        value: law.name().to_string(),
        rule: "this law reads another kind of input (internal dispatch error)",
    }
}

/// `L = E + A/N^α + B/D^β` ([`chinchilla`]).
pub struct Chinchilla;

impl Law for Chinchilla {
    fn kind(&self) -> LawKind {
        LawKind::Chinchilla
    }
    fn params(&self) -> Vec<&'static str> {
        chinchilla::PARAMS.to_vec()
    }
    fn columns(&self) -> Columns {
        Columns::Runs
    }
    fn fit(&self, input: &Input, opts: &FitOptions) -> Result<FitFile> {
        match input {
            Input::Runs(p) => chinchilla::fit(p, opts),
            _ => Err(wrong_input(self.kind())),
        }
    }
    fn loss(&self, p: &[f64], n: f64, d: f64) -> Option<f64> {
        Some(chinchilla::predict(p, n, d))
    }
    fn optimum(&self, p: &[f64], c: f64) -> Option<Optimum> {
        let (n, d) = allocation::optimal(p, c);
        Some((n, d, Some(chinchilla::predict(p, n, d))))
    }
}

/// Kaplan's joint `L(N, D)` ([`kaplan::fit`]).
pub struct KaplanJoint;

impl Law for KaplanJoint {
    fn kind(&self) -> LawKind {
        LawKind::Kaplan
    }
    fn params(&self) -> Vec<&'static str> {
        kaplan::PARAMS.to_vec()
    }
    fn columns(&self) -> Columns {
        Columns::Runs
    }
    fn fit(&self, input: &Input, opts: &FitOptions) -> Result<FitFile> {
        match input {
            Input::Runs(p) => kaplan::fit(p, opts),
            _ => Err(wrong_input(self.kind())),
        }
    }
    fn loss(&self, p: &[f64], n: f64, d: f64) -> Option<f64> {
        Some(kaplan::predict(p, n, d))
    }
}

/// Kaplan's one-variable `L(X) = (Xc/X)^{αX}` ([`kaplan::fit_single`]); X is D when `of_d`.
pub struct KaplanSingle {
    /// True for L(D), false for L(N).
    pub of_d: bool,
}

impl Law for KaplanSingle {
    fn kind(&self) -> LawKind {
        LawKind::Kaplan
    }
    fn params(&self) -> Vec<&'static str> {
        if self.of_d {
            vec!["Dc", "alpha_D"]
        } else {
            vec!["Nc", "alpha_N"]
        }
    }
    fn columns(&self) -> Columns {
        Columns::Xy(XKind::Positive)
    }
    fn fit(&self, input: &Input, opts: &FitOptions) -> Result<FitFile> {
        match input {
            Input::Xy(p) => kaplan::fit_single(p, opts),
            _ => Err(wrong_input(self.kind())),
        }
    }
    // The one variable is N (or D): `--n/--d` predict the loss at it, as `--x` does.
    fn loss(&self, p: &[f64], n: f64, d: f64) -> Option<f64> {
        Some(kaplan::predict_single(p, if self.of_d { d } else { n }))
    }
    fn value_at(&self, p: &[f64], x: f64) -> Option<f64> {
        Some(kaplan::predict_single(p, x))
    }
}

/// `y = a·x^b (+ c)` ([`power`]).
pub struct Power {
    /// With the additive offset c.
    pub offset: bool,
}

impl Law for Power {
    fn kind(&self) -> LawKind {
        LawKind::Power
    }
    fn params(&self) -> Vec<&'static str> {
        if self.offset {
            vec!["a", "b", "c"]
        } else {
            vec!["a", "b"]
        }
    }
    fn columns(&self) -> Columns {
        Columns::Xy(XKind::Positive)
    }
    fn fit(&self, input: &Input, opts: &FitOptions) -> Result<FitFile> {
        match input {
            Input::Xy(p) => power::fit(p, &opts.clone().with_offset(self.offset)),
            _ => Err(wrong_input(self.kind())),
        }
    }
    fn value_at(&self, p: &[f64], x: f64) -> Option<f64> {
        Some(power::predict(p, x))
    }
}

/// `y = y0·2^((t − t0)/T)` ([`doubling`]).
pub struct Doubling;

impl Law for Doubling {
    fn kind(&self) -> LawKind {
        LawKind::Doubling
    }
    fn params(&self) -> Vec<&'static str> {
        doubling::PARAMS.to_vec()
    }
    fn columns(&self) -> Columns {
        Columns::Xy(XKind::Time)
    }
    fn fit(&self, input: &Input, opts: &FitOptions) -> Result<FitFile> {
        match input {
            Input::Xy(p) => doubling::fit(p, opts),
            _ => Err(wrong_input(self.kind())),
        }
    }
    fn value_at(&self, p: &[f64], x: f64) -> Option<f64> {
        Some(doubling::predict(p, x))
    }
}

/// IsoFLOP (Approach 2, [`isoflop`]) and envelope (Approach 1, [`envelope`]): power laws of
/// N_opt(C) and D_opt(C).
pub struct Allocation {
    /// [`LawKind::Isoflop`] or [`LawKind::Envelope`].
    pub kind: LawKind,
}

impl Law for Allocation {
    fn kind(&self) -> LawKind {
        self.kind
    }
    fn params(&self) -> Vec<&'static str> {
        isoflop::PARAMS.to_vec()
    }
    fn columns(&self) -> Columns {
        if self.kind == LawKind::Envelope {
            Columns::Curves
        } else {
            Columns::Runs
        }
    }
    fn fit(&self, input: &Input, opts: &FitOptions) -> Result<FitFile> {
        match (self.kind, input) {
            (LawKind::Isoflop, Input::Runs(p)) => isoflop::fit(p, opts),
            (LawKind::Envelope, Input::Curves(c)) => envelope::fit(c, opts),
            _ => Err(wrong_input(self.kind)),
        }
    }
    fn optimum(&self, p: &[f64], c: f64) -> Option<Optimum> {
        let (n, d) = isoflop::optimal(p, c);
        Some((n, d, None))
    }
}

/// The law to fit for `kind`; `x` is the `--x` column (one-variable kaplan when given) and
/// `opts` carries the power law's offset.
pub fn law_for(kind: LawKind, x: Option<&str>, opts: &FitOptions) -> Box<dyn Law> {
    match kind {
        LawKind::Chinchilla => Box::new(Chinchilla),
        LawKind::Isoflop | LawKind::Envelope => Box::new(Allocation { kind }),
        LawKind::Kaplan => match x {
            Some(x) => Box::new(KaplanSingle { of_d: x == "D" }),
            None => Box::new(KaplanJoint),
        },
        LawKind::Power => Box::new(Power {
            offset: opts.offset,
        }),
        LawKind::Doubling => Box::new(Doubling),
        LawKind::Hparams => Box::new(Hparams),
    }
}

/// The law of a fit.json: its `law` name, the one-variable kaplan form when the fit names an x
/// column, the offset power law when it has a `c`.
pub fn law_of(fit: &FitFile) -> Result<Box<dyn Law>> {
    let kind = LawKind::parse(&fit.law).ok_or_else(|| Error::Unsupported {
        law: fit.law.clone(),
        what: "any prediction",
        hint: "; not a law this ladder knows (chinchilla, isoflop, envelope, kaplan, power, doubling, hparams)",
    })?;
    Ok(match kind {
        // Files written before `data.x` existed for kaplan: the one-variable form has 2 params.
        LawKind::Kaplan if fit.data.x.is_some() || fit.params.0.len() == 2 => {
            Box::new(KaplanSingle {
                of_d: fit.params.get("Dc").is_some(),
            })
        }
        LawKind::Power => Box::new(Power {
            offset: fit.params.get("c").is_some(),
        }),
        _ => law_for(kind, None, &FitOptions::default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn law_params_match_their_fits() {
        let runs = crate::synth::chinchilla_points(
            &[1.8, 480.0, 2000.0, 0.35, 0.37],
            30,
            (1e7, 1e9),
            (5.0, 100.0),
            0.005,
            0,
        );
        let opts = FitOptions::default()
            .with_bootstrap(3)
            .unwrap()
            .with_starts(vec![[6.0, 7.5, 0.5, 0.3, 0.3]])
            .unwrap();
        let law = law_for(LawKind::Chinchilla, None, &opts);
        let f = law.fit(&Input::Runs(runs.clone()), &opts).unwrap();
        assert_eq!(f.params.keys().collect::<Vec<_>>(), law.params());
        let back = law_of(&f).unwrap();
        assert_eq!(back.kind(), LawKind::Chinchilla);
        let p = f.param_vector();
        assert_eq!(
            back.loss(&p, 1e8, 1e9),
            Some(chinchilla::predict(&p, 1e8, 1e9))
        );
        assert!(back.value_at(&p, 1.0).is_none());
        // A law given the wrong input refuses instead of panicking.
        assert!(Doubling.fit(&Input::Runs(runs), &opts).is_err());
    }
}
