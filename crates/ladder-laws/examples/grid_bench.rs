//! Times the 4500-start Chinchilla grid and 1000 bootstrap refits with the hand-written L-BFGS
//! and with argmin's, and counts how many grid starts reach the best objective.
//! Usage: cargo run --release -p ladder-laws --example grid_bench -- runs.csv [hand|argmin|both]
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[1]).expect("read csv");
    let (mut n, mut d, mut l) = (vec![], vec![], vec![]);
    for line in text.lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|c| c.trim().parse().unwrap()).collect();
        n.push(v[0]);
        d.push(v[1]);
        l.push(v[2]);
    }
    let pts = LogPoints::new(&n, &d, &l);
    let grid = hoffmann_grid();
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
            "{which:6} grid {grid_s:.3} s  best {:.17e}  converged {conv}/4500  reach-best {reach}  iters {iters}  evals {evals}",
            best.value
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
