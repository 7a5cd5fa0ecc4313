//! Bootstrap resampling (Efron 1979) with a per-replicate random stream, so replicate `b` draws the
//! same indices whatever the thread count or scheduling: the generator is ChaCha8 seeded with
//! the user's seed, on stream `b`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::stats::{interval95, std_dev};

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
