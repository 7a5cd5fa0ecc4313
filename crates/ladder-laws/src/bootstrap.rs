//! The bootstrap of every law fitted in log space (chinchilla, kaplan, power, doubling), with a
//! per-replicate random stream, so replicate `b` draws the same data whatever the thread count or
//! scheduling: the generator is ChaCha8 seeded with the user's seed, on stream `b`.
//!
//! Two schemes ([`Scheme`]):
//!
//! * **points** (Efron 1979, "pairs"): resample the points with replacement and refit. Used when
//!   the points carry no standard errors: the scatter of the data is then the only noise estimate.
//! * **noise** (parametric): keep every point and redraw its log value as
//!   `fitted_i + s·σ_i·z_i`, z standard normal, σ_i = SE_i/y_i its measured noise in log space and
//!   `s = max(1, sqrt(χ²/dof))` (the residuals' excess over the measured noise, as the Particle Data
//!   Group's scale factor). Used when every point has a standard error: a ladder's (N, D) design is
//!   chosen, not sampled, so resampling points only drops model sizes (a 12-run ladder then gives
//!   replicates without a single small model), whereas the loss noise is what was measured.
//!
//! **The one rule for replicates** (every law here): a replicate counts when its refit converged
//! to a finite objective; it is then kept whole, non-finite parameter values included (an `A` that
//! overflowed is written `null` in fit.json). A replicate whose refit failed is dropped, and
//! `bootstrap_used` says how many were kept. Every interval and standard error is taken over the
//! finite values of its own quantity ([`spread`]). Dropping a whole row for one infinite entry
//! would also drop the other parameters' values of the replicates where the data pin the law down
//! least, and so narrow their intervals.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::options::FitOptions;
use crate::stats::{interval95, std_dev};
use crate::synth::normal;

/// How replicates are drawn (module docs).
#[derive(Clone, Debug, PartialEq)]
pub enum Scheme {
    /// Resample points with replacement.
    Points,
    /// Keep every point; draw its log value around the fit with sd `scale[i]`.
    Noise {
        /// Fitted log value of each point.
        fitted: Vec<f64>,
        /// Noise sd of each point in log space (already scaled).
        scale: Vec<f64>,
    },
}

impl Scheme {
    /// The `fit.resample` name of fit.json.
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Points => "points",
            Scheme::Noise { .. } => "noise",
        }
    }

    /// Replicate `b`'s data under `seed` for `n` points.
    pub fn draw(&self, n: usize, seed: u64, b: u64) -> Draw {
        let mut rng = replicate_rng(seed, b);
        match self {
            Scheme::Points => Draw {
                counts: resample_counts(n, &mut rng),
                ln_y: None,
            },
            Scheme::Noise { fitted, scale } => Draw {
                counts: vec![1; n],
                ln_y: Some(
                    fitted
                        .iter()
                        .zip(scale)
                        .map(|(f, s)| f + s * normal(&mut rng))
                        .collect(),
                ),
            },
        }
    }
}

/// One replicate's data: multiplicities of the points and, for the noise scheme, new log values.
#[derive(Clone, Debug, PartialEq)]
pub struct Draw {
    /// `counts[i]` copies of point i.
    pub counts: Vec<u32>,
    /// Replacement log values (noise scheme), else `None`.
    pub ln_y: Option<Vec<f64>>,
}

/// Runs `opts.bootstrap` replicates in parallel and keeps those whose `refit` returned a value
/// (the one rule of the module docs: `refit` returns `None` exactly when its refit failed).
pub fn replicates<T, F>(n: usize, scheme: &Scheme, opts: &FitOptions, refit: F) -> Vec<T>
where
    T: Send,
    F: Fn(&Draw) -> Option<T> + Sync,
{
    let reps: Vec<Option<T>> = (0..opts.bootstrap as u64)
        .into_par_iter()
        .map(|b| refit(&scheme.draw(n, opts.seed, b)))
        .collect();
    reps.into_iter().flatten().collect()
}

/// The random stream of replicate `b` under `seed`.
pub fn replicate_rng(seed: u64, b: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(b);
    rng
}

/// Multiplicities of a resample of `n` points drawn with replacement: `counts[i]` copies of point
/// `i`, summing to `n`.
pub fn resample_counts(n: usize, rng: &mut ChaCha8Rng) -> Vec<u32> {
    let mut counts = vec![0u32; n];
    for _ in 0..n {
        counts[rng.random_range(0..n)] += 1;
    }
    counts
}

/// Percentile 95 % interval and standard error of one quantity over the bootstrap replicates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// `[p2.5, p97.5]` of the replicates.
    pub ci95: [f64; 2],
    /// Sample standard deviation of the replicates.
    pub stderr: f64,
}

/// The [`Spread`] of `values` (non-finite replicates ignored); `None` with fewer than two.
pub fn spread(values: &[f64]) -> Option<Spread> {
    Some(Spread {
        ci95: interval95(values)?,
        stderr: std_dev(values)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resample_is_deterministic_per_replicate() {
        let a = resample_counts(50, &mut replicate_rng(7, 3));
        let b = resample_counts(50, &mut replicate_rng(7, 3));
        let c = resample_counts(50, &mut replicate_rng(7, 4));
        let d = resample_counts(50, &mut replicate_rng(8, 3));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_eq!(a.iter().sum::<u32>(), 50);
    }

    #[test]
    fn spread_of_uniform_grid() {
        let v: Vec<f64> = (0..=1000).map(|i| i as f64 / 1000.0).collect();
        let s = spread(&v).unwrap();
        assert!((s.ci95[0] - 0.025).abs() < 1e-12 && (s.ci95[1] - 0.975).abs() < 1e-12);
        // sd of U(0,1) is 1/sqrt(12)
        assert!((s.stderr - (1.0f64 / 12.0).sqrt()).abs() < 1e-3);
    }
}
