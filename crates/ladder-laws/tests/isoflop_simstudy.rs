//! Simulation study that chose the default IsoFLOP vertex estimator (docs/laws.md, "IsoFLOP").
//!
//! Synthetic IsoFLOP sweeps from two known Chinchilla surfaces: Hoffmann et al.'s fit
//! (α 0.34, β 0.28, a = 0.4516) and a more asymmetric one (α 0.45, β 0.22, a = 0.3284). Each
//! sweep has 5 budgets from 1e18 to 1e21 FLOPs with 7 sizes each spanning 1 to 2 decades of N,
//! centred off the optimum by a drift that grows with C (±35 % of the half-width at the
//! ends, ±10 % jitter), and log-normal noise of 0.5–1 % per
//! point (drawn per sweep). For each estimator: bias of a, coverage of the 95 % interval of a,
//! and its mean width. `default_estimator_is_unbiased_and_covers` asserts the default meets
//! |bias| ≤ 0.01 and coverage within 90–98 %; `simulation_study_full` (ignored) prints a larger
//! table: `cargo test --release -p ladder-laws --test isoflop_simstudy -- --ignored --nocapture`.

use ladder_laws::data::RunPoints;
use ladder_laws::vertex::VertexMethod;
use ladder_laws::{allocation, isoflop, synth, FitOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SURFACES: [(&str, [f64; 5]); 2] = [
    ("Hoffmann", [1.69, 406.4, 410.7, 0.34, 0.28]),
    ("asymmetric", [1.8, 1200.0, 250.0, 0.45, 0.22]),
];

/// One synthetic sweep on surface `p`, drawn from `seed`.
fn sweep(p: &[f64; 5], seed: u64) -> RunPoints {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sigma = rng.random_range(0.005..0.01);
    let mut out: Option<RunPoints> = None;
    for (k, c) in [1e18, 5.6e18, 3.2e19, 1.8e20, 1e21].into_iter().enumerate() {
        // 1 to 2 decades: half-width of ln N between ln(10)/2 and ln(100)/2.
        let half = rng.random_range(0.5 * 10f64.ln()..0.5 * 100f64.ln());
        // Off-centre the way real grids are: the sizes lag behind N_opt as C grows (the smallest
        // budget sampled right of its optimum, the largest left of it, by 35 % of the
        // half-width), plus a random ±10 %.
        let drift = 0.35 * (2.0 - k as f64) / 2.0 + rng.random_range(-0.1..0.1);
        let shift = (drift * half).exp();
        let pts = synth::isoflop_points(p, &[c], 7, half, shift, sigma, seed * 16 + k as u64);
        out = Some(match out {
            None => pts,
            Some(mut o) => {
                o.n.extend(pts.n);
                o.d.extend(pts.d);
                o.loss.extend(pts.loss);
                o.c.extend(pts.c);
                o
            }
        });
    }
    out.expect("five budgets")
}

/// Bias, coverage and mean CI width of a for one estimator on one surface.
#[derive(Debug)]
struct Row {
    bias: f64,
    coverage: f64,
    width: f64,
    failed: usize,
}

fn study(method: VertexMethod, p: &[f64; 5], sweeps: u64, bootstrap: usize) -> Row {
    let (a_true, _) = allocation::exponents(p[3], p[4]);
    let opts = FitOptions::default()
        .with_bootstrap(bootstrap)
        .unwrap()
        .with_vertex(method);
    let (mut err, mut hit, mut width, mut n, mut failed) = (0.0, 0usize, 0.0, 0usize, 0usize);
    for s in 0..sweeps {
        let Ok(f) = isoflop::fit(&sweep(p, 1000 + s), &opts.clone().with_seed(s)) else {
            failed += 1;
            continue;
        };
        let a = f.param("a").unwrap();
        let ci = f.ci95.get("a").unwrap().0;
        err += a - a_true;
        hit += usize::from(ci[0] <= a_true && a_true <= ci[1]);
        width += ci[1] - ci[0];
        n += 1;
    }
    Row {
        bias: err / n as f64,
        coverage: hit as f64 / n as f64,
        width: width / n as f64,
        failed,
    }
}

fn table(sweeps: u64, bootstrap: usize) -> Vec<(VertexMethod, &'static str, Row)> {
    let mut rows = Vec::new();
    println!("| estimator | surface | bias of a | 95 % coverage | mean CI width | failed fits |");
    println!("|---|---|---|---|---|---|");
    for m in VertexMethod::ALL {
        for (name, p) in &SURFACES {
            let r = study(m, p, sweeps, bootstrap);
            println!(
                "| {} | {name} | {:+.4} | {:.1} % | {:.3} | {} |",
                m.name(),
                r.bias,
                100.0 * r.coverage,
                r.width,
                r.failed
            );
            rows.push((m, *name, r));
        }
    }
    rows
}

#[test]
fn default_estimator_is_unbiased_and_covers() {
    let default = FitOptions::default().vertex();
    for (name, p) in &SURFACES {
        let r = study(default, p, 300, 200);
        println!("{} on {name}: {r:?}", default.name());
        assert!(r.bias.abs() <= 0.01, "{name}: bias {}", r.bias);
        assert!(
            (0.90..=0.98).contains(&r.coverage),
            "{name}: coverage {}",
            r.coverage
        );
        assert!(
            r.failed <= 3,
            "{name}: {} sweeps could not be fitted",
            r.failed
        );
    }
}

#[test]
#[ignore = "the full table for docs/laws.md: a few minutes in --release"]
fn simulation_study_full() {
    table(600, 400);
}

#[test]
#[ignore = "quick table of every estimator"]
fn simulation_study_quick() {
    table(150, 200);
}
