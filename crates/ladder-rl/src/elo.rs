//! Elo by maximum likelihood under Bradley–Terry, with bootstrap intervals.
//!
//! Model: P(i beats j) = 1 / (1 + 10^{-(R_i - R_j)/400}). The likelihood is maximised with Hunter's
//! (2004) minorisation–maximisation iteration on γ_i = 10^{R_i/400}. An agent that wins (or loses)
//! every game has an infinite MLE (the solver against weak agents does), so each pair that played
//! gets one virtual game split half–half, a weak prior that keeps every rating finite and moves
//! ratings by much less than their intervals once a pair has tens of games. Ratings are anchored so
//! that the anchor agent (the uniformly random player) has 0.
//!
//! Intervals: a parametric bootstrap over games — each pair's win count is redrawn as
//! Binomial(n_ij, w_ij/n_ij) (resampling that pair's games with replacement), the ratings refitted,
//! and the 2.5 and 97.5 percentiles reported.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One row of the Elo table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EloEntry {
    /// Agent.
    pub name: String,
    /// Maximum-likelihood Elo.
    pub elo: f64,
    /// 2.5th percentile of the bootstrap.
    pub lo: f64,
    /// 97.5th percentile of the bootstrap.
    pub hi: f64,
    /// Games played.
    pub games: u32,
    /// Fraction of games won.
    pub score: f64,
}

/// Maximum-likelihood Elo of every agent, the anchor at 0. `wins[i][j]` = games i won against j.
pub fn fit(wins: &[Vec<u32>], anchor: usize) -> Result<Vec<f64>> {
    let k = wins.len();
    if k < 2 || anchor >= k || wins.iter().any(|r| r.len() != k) {
        return Err(Error::Config(
            "Elo needs a square table of at least two agents".into(),
        ));
    }
    // Virtual half-wins for every pair that played.
    let played = |i: usize, j: usize| wins[i][j] + wins[j][i] > 0;
    let w = |i: usize, j: usize| wins[i][j] as f64 + if played(i, j) { 0.5 } else { 0.0 };
    let games = |i: usize, j: usize| w(i, j) + w(j, i);
    // Every agent must be connected to the anchor through games.
    let mut seen = vec![false; k];
    let mut stack = vec![anchor];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        stack.extend((0..k).filter(|&j| j != i && played(i, j) && !seen[j]));
    }
    if seen.iter().any(|s| !s) {
        return Err(Error::Config("some agents never played (directly or through others) the anchor: ratings are undefined".into()));
    }
    let total_w: Vec<f64> = (0..k)
        .map(|i| (0..k).filter(|&j| j != i).map(|j| w(i, j)).sum())
        .collect();
    let mut gamma = vec![1.0f64; k];
    for _ in 0..100_000 {
        let mut next = vec![0.0; k];
        for i in 0..k {
            let denom: f64 = (0..k)
                .filter(|&j| j != i && played(i, j))
                .map(|j| games(i, j) / (gamma[i] + gamma[j]))
                .sum();
            next[i] = total_w[i] / denom;
        }
        let g = next[anchor];
        next.iter_mut().for_each(|x| *x /= g);
        let change = next
            .iter()
            .zip(&gamma)
            .map(|(a, b)| (a.ln() - b.ln()).abs())
            .fold(0.0, f64::max);
        gamma = next;
        if change < 1e-12 {
            break;
        }
    }
    Ok(gamma.iter().map(|g| 400.0 * g.log10()).collect())
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The Elo table: MLE and bootstrap 95 % intervals from `reps` replicates.
pub fn table(
    names: &[String],
    wins: &[Vec<u32>],
    anchor: usize,
    reps: usize,
    seed: u64,
) -> Result<Vec<EloEntry>> {
    let k = wins.len();
    let elo = fit(wins, anchor)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut samples = vec![Vec::with_capacity(reps); k];
    for _ in 0..reps {
        let mut w = vec![vec![0u32; k]; k];
        for i in 0..k {
            for j in i + 1..k {
                let n = wins[i][j] + wins[j][i];
                let p = if n > 0 {
                    wins[i][j] as f64 / n as f64
                } else {
                    0.0
                };
                let wi = (0..n).filter(|_| rng.random::<f64>() < p).count() as u32;
                w[i][j] = wi;
                w[j][i] = n - wi;
            }
        }
        for (s, e) in samples.iter_mut().zip(fit(&w, anchor)?) {
            s.push(e);
        }
    }
    Ok((0..k)
        .map(|i| {
            let mut s = samples[i].clone();
            s.sort_by(f64::total_cmp);
            let games: u32 = (0..k).map(|j| wins[i][j] + wins[j][i]).sum();
            let won: u32 = wins[i].iter().sum();
            EloEntry {
                name: names[i].clone(),
                elo: elo[i],
                lo: if reps > 0 {
                    percentile(&s, 0.025)
                } else {
                    elo[i]
                },
                hi: if reps > 0 {
                    percentile(&s, 0.975)
                } else {
                    elo[i]
                },
                games,
                score: if games > 0 {
                    won as f64 / games as f64
                } else {
                    0.0
                },
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simulate(ratings: &[f64], games: u32, seed: u64) -> Vec<Vec<u32>> {
        let k = ratings.len();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut w = vec![vec![0u32; k]; k];
        for i in 0..k {
            for j in i + 1..k {
                let p = 1.0 / (1.0 + 10f64.powf(-(ratings[i] - ratings[j]) / 400.0));
                let wi = (0..games).filter(|_| rng.random::<f64>() < p).count() as u32;
                w[i][j] = wi;
                w[j][i] = games - wi;
            }
        }
        w
    }

    #[test]
    fn recovers_planted_ratings_within_intervals() {
        let planted = [0.0, 150.0, 300.0, 500.0];
        let names: Vec<String> = (0..4).map(|i| format!("a{i}")).collect();
        let mut covered = 0;
        let mut total = 0;
        for seed in 0..5 {
            let w = simulate(&planted, 300, seed);
            let t = table(&names, &w, 0, 200, seed + 100).unwrap();
            assert_eq!(t[0].elo, 0.0);
            for (e, &r) in t.iter().zip(&planted).skip(1) {
                total += 1;
                covered += (e.lo <= r && r <= e.hi) as usize;
                assert!(
                    (e.elo - r).abs() < 80.0,
                    "{} fitted {} planted {r}",
                    e.name,
                    e.elo
                );
                assert!(e.hi - e.lo < 150.0 && e.hi > e.lo);
            }
        }
        // 95 % intervals: expect ~14 of 15; the binomial lower tail below 12 is < 1 %.
        assert!(covered >= 12, "covered {covered} of {total}");
    }

    #[test]
    fn a_perfect_record_stays_finite_and_ordered() {
        let w = vec![vec![0, 0, 0], vec![100, 0, 10], vec![100, 90, 0]];
        let e = fit(&w, 0).unwrap();
        assert!(e.iter().all(|x| x.is_finite()));
        assert!(e[0] < e[1] && e[1] < e[2]);
    }

    #[test]
    fn disconnected_agents_are_an_error() {
        let w = vec![vec![0, 5, 0], vec![5, 0, 0], vec![0, 0, 0]];
        assert!(fit(&w, 0).is_err());
    }
}
