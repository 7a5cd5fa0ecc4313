//! Synthetic data with known truth, for tests, benchmarks and for trying the laws without runs:
//! Chinchilla surfaces sampled over a log-uniform (N, tokens-per-parameter) design, and IsoFLOP
//! grids, each with multiplicative log-normal noise.

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
