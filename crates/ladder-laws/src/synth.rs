//! Synthetic data with known truth, for tests, benchmarks and for trying the laws without runs:
//! Chinchilla surfaces sampled over a log-uniform (N, tokens-per-parameter) design, and IsoFLOP
//! grids, and hyper-parameter sweeps around planted optima, each with multiplicative log-normal
//! noise.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::{DataSource, RunPoints};

/// A standard normal draw (Box–Muller), so the crate needs no distribution dependency.
pub fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn source(name: &str) -> DataSource {
    DataSource {
        source: name.to_string(),
        sha256: String::new(),
        skipped: vec![],
    }
}

/// `n` runs from `L = E + A/N^α + B/D^β` (natural `p = [E, A, B, alpha, beta]`) with N log-uniform in
/// `n_range`, tokens per parameter log-uniform in `tpp_range`, and loss multiplied by
/// `exp(sigma·z)`, z standard normal.
pub fn chinchilla_points(
    p: &[f64; 5],
    n: usize,
    n_range: (f64, f64),
    tpp_range: (f64, f64),
    sigma: f64,
    seed: u64,
) -> RunPoints {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let log_uniform = |rng: &mut ChaCha8Rng, (lo, hi): (f64, f64)| {
        (lo.ln() + (hi.ln() - lo.ln()) * rng.random::<f64>()).exp()
    };
    let (mut ns, mut ds, mut ls, mut cs) = (vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let nn = log_uniform(&mut rng, n_range);
        let d = nn * log_uniform(&mut rng, tpp_range);
        let l = crate::chinchilla::predict(p, nn, d) * (sigma * normal(&mut rng)).exp();
        ns.push(nn);
        ds.push(d);
        ls.push(l);
        cs.push(6.0 * nn * d);
    }
    RunPoints {
        n: ns,
        d: ds,
        loss: ls,
        c: cs,
        se: None,
        common_se: None,
        origin: source("synthetic chinchilla"),
    }
}

/// An IsoFLOP design on a Chinchilla surface: for each budget, `per_budget` model sizes spaced
/// evenly in ln N over `±half_width` (natural log) around the true N_opt times `shift`, D = C/(6N).
pub fn isoflop_points(
    p: &[f64; 5],
    budgets: &[f64],
    per_budget: usize,
    half_width: f64,
    shift: f64,
    sigma: f64,
    seed: u64,
) -> RunPoints {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut ns, mut ds, mut ls, mut cs) = (vec![], vec![], vec![], vec![]);
    for &c in budgets {
        let (n_opt, _) = crate::allocation::optimal(p, c);
        for k in 0..per_budget {
            let x = (n_opt * shift).ln() - half_width
                + 2.0 * half_width * k as f64 / (per_budget - 1) as f64;
            let nn = x.exp();
            let d = c / (6.0 * nn);
            ns.push(nn);
            ds.push(d);
            ls.push(crate::chinchilla::predict(p, nn, d) * (sigma * normal(&mut rng)).exp());
            cs.push(c);
        }
    }
    RunPoints {
        n: ns,
        d: ds,
        loss: ls,
        c: cs,
        se: None,
        common_se: None,
        origin: source("synthetic isoflop"),
    }
}

/// A planted hyper-parameter surface: per budget C, ln loss =
/// ln L*(C) + `curv_lr`·d² + `skew_lr`·max(d, 0)³ + `curv_batch`·(ln B − ln B_opt(C))², with
/// d = ln lr − ln η_opt(C), η_opt = p[0]·C^p[1], B_opt = p[2]·C^p[3] (`p = [eta0, k, B0, m]`) and
/// L*(C) = 10·C^−0.05. `skew_lr` > 0 makes the loss rise faster above the optimal lr than below
/// it, as real LR sweeps do (the planted optimum stays at d = 0).
#[derive(Clone, Debug)]
pub struct HparamSurface {
    /// `[eta0, k, B0, m]`.
    pub p: [f64; 4],
    /// Curvature of ln loss in ln lr.
    pub curv_lr: f64,
    /// Curvature of ln loss in ln batch.
    pub curv_batch: f64,
    /// Extra cubic rise above the optimal lr (0: a symmetric bowl).
    pub skew_lr: f64,
}

impl HparamSurface {
    /// ln loss at (C, lr, batch tokens), without noise.
    pub fn ln_loss(&self, c: f64, lr: f64, batch: f64) -> f64 {
        let (e, b) = crate::hparams::optimal(&self.p, c);
        let d = (lr / e).ln();
        (10.0 * c.powf(-0.05)).ln()
            + self.curv_lr * d * d
            + self.skew_lr * d.max(0.0).powi(3)
            + self.curv_batch * (batch / b).ln().powi(2)
    }
}

/// A hyper-parameter sweep of `s`: per budget, `n_lr` learning rates a factor 2 apart and
/// `n_batch` batches a factor 2 apart, each grid offset from the optimum by `offset[k]` octaves
/// of the budget (lr, batch), loss × exp(sigma·z), with `loss_se` = sigma·loss when `with_se`.
pub fn hparam_points(
    s: &HparamSurface,
    budgets: &[f64],
    grid: (usize, usize),
    offsets: &[(f64, f64)],
    sigma: f64,
    with_se: bool,
    seed: u64,
) -> crate::hparams::HparamPoints {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut p = crate::hparams::HparamPoints {
        c: vec![],
        lr: vec![],
        batch_tokens: vec![],
        loss: vec![],
        se: with_se.then(Vec::new),
        n: None,
        origin: source("synthetic hyper-parameter sweep"),
    };
    for (k, &c) in budgets.iter().enumerate() {
        let (e, b) = crate::hparams::optimal(&s.p, c);
        let (oe, ob) = offsets.get(k).copied().unwrap_or((0.0, 0.0));
        for i in 0..grid.0 {
            for j in 0..grid.1 {
                let lr = e * 2f64.powf(i as f64 - (grid.0 - 1) as f64 / 2.0 + oe);
                let bt = b * 2f64.powf(j as f64 - (grid.1 - 1) as f64 / 2.0 + ob);
                let loss = (s.ln_loss(c, lr, bt) + sigma * normal(&mut rng)).exp();
                p.c.push(c);
                p.lr.push(lr);
                p.batch_tokens.push(bt);
                p.loss.push(loss);
                if let Some(se) = &mut p.se {
                    se.push(sigma * loss);
                }
            }
        }
    }
    p
}
