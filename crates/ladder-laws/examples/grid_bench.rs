//! Times the 4500-start Chinchilla grid and 1000 bootstrap refits with the hand-written L-BFGS
//! and with argmin's, and counts how many grid starts reach the best objective.
//! Usage: cargo run --release -p ladder-laws --example grid_bench -- runs.csv [hand|argmin|both] [stride]
//!        cargo run --release -p ladder-laws --example grid_bench -- --synthetic
//! (`--synthetic`: best-of-grid objective of both solvers on 8 synthetic data sets.)
use std::time::Instant;

use ladder_laws::argmin_fit::minimize_argmin;
use ladder_laws::chinchilla::{hoffmann_grid, ChinchillaObjective, LogPoints, Theta};
use ladder_laws::solver::{minimize, LbfgsOptions, Minimum};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

fn solve(which: &str, pts: &LogPoints, x0: Theta) -> Minimum<5> {
    let o = ChinchillaObjective::new(pts, 1e-3);
    if which == "hand" {
        minimize(&o, x0, &LbfgsOptions::default())
    } else {
        minimize_argmin(&o, x0, 1e-10, 1e-15, 10_000)
    }
}

/// Best converged objective over the full grid with each solver, on synthetic data sets.
fn synthetic() {
    let cases = [
        [1.69, 406.4, 410.7, 0.34, 0.28],
        [1.82, 482.01, 2085.43, 0.3478, 0.3658],
        [2.2, 2000.0, 300.0, 0.5, 0.25],
        [0.8, 150.0, 900.0, 0.3, 0.4],
    ];
    for (k, truth) in cases.iter().enumerate() {
        for (n, sigma) in [(60, 0.02), (250, 0.01)] {
            let p = ladder_laws::synth::chinchilla_points(
                truth,
                n,
                (1e6, 1e10),
                (1.0, 1000.0),
                sigma,
                k as u64,
            );
            let pts = LogPoints::new(&p.n, &p.d, &p.loss);
            let mut line = format!("case {k} n {n:3} sigma {sigma}:");
            for which in ["hand", "argmin"] {
                let t = Instant::now();
                let runs: Vec<Minimum<5>> = hoffmann_grid()
                    .par_iter()
                    .map(|x0| solve(which, &pts, *x0))
                    .collect();
                let best = runs
                    .iter()
                    .filter(|r| r.value.is_finite() && r.stop.converged())
                    .map(|r| r.value)
                    .fold(f64::INFINITY, f64::min);
                let reach = runs.iter().filter(|r| r.value <= best + 1e-9).count();
                line += &format!(
                    "  {which} best {best:.12e} reach {reach:4} {:.2} s",
                    t.elapsed().as_secs_f64()
                );
            }
            println!("{line}");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--synthetic") {
        return synthetic();
    }
    let text = std::fs::read_to_string(&args[1]).expect("read csv");
    let (mut n, mut d, mut l) = (vec![], vec![], vec![]);
    for line in text.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|c| c.trim().parse().unwrap()).collect();
        n.push(v[0]);
        d.push(v[1]);
        l.push(v[2]);
    }
    let pts = LogPoints::new(&n, &d, &l);
    // Optional stride: every k-th grid start (to compare with a subsampled SciPy run).
    let stride: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let grid: Vec<_> = hoffmann_grid().into_iter().step_by(stride).collect();
    let sel = args.get(2).map(String::as_str).unwrap_or("both");
    for which in ["hand", "argmin"] {
        if sel != "both" && sel != which {
            continue;
        }
        let t = Instant::now();
        let runs: Vec<Minimum<5>> = grid.par_iter().map(|x0| solve(which, &pts, *x0)).collect();
        let grid_s = t.elapsed().as_secs_f64();
        let conv = runs.iter().filter(|r| r.stop.converged()).count();
        let best = *runs
            .iter()
            .filter(|r| r.value.is_finite() && r.stop.converged())
            .min_by(|a, b| a.value.total_cmp(&b.value))
            .unwrap();
        let reach = runs.iter().filter(|r| r.value <= best.value + 1e-9).count();
        let iters: usize = runs.iter().map(|r| r.iters).sum();
        let evals: usize = runs.iter().map(|r| r.evals).sum();
        println!(
            "{which:6} grid {grid_s:.3} s  best {:.17e}  converged {conv}/{}  reach-best {reach}  iters {iters}  evals {evals}",
            best.value,
            grid.len()
        );
        let t = Instant::now();
        let boots: Vec<Minimum<5>> = (0..1000u64)
            .into_par_iter()
            .map(|b| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(b);
                let mut counts = vec![0u32; pts.len()];
                for _ in 0..pts.len() {
                    counts[rng.random_range(0..pts.len())] += 1;
                }
                solve(which, &pts.weighted(&counts), best.params)
            })
            .collect();
        let conv = boots.iter().filter(|r| r.stop.converged()).count();
        let evals: usize = boots.iter().map(|r| r.evals).sum();
        let mut al: Vec<f64> = boots.iter().map(|r| r.params[3]).collect();
        al.sort_by(f64::total_cmp);
        println!(
            "{which:6} boot {:.3} s  converged {conv}/1000  evals {evals}  alpha 95% [{:.4}, {:.4}]",
            t.elapsed().as_secs_f64(),
            al[25],
            al[974]
        );
    }
}
