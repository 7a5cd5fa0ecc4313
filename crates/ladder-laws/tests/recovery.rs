//! Statistical tests of the Chinchilla fit: ground-truth recovery with tolerances derived from the
//! noise, bootstrap interval coverage, agreement with the SciPy reference, and the argmin cross-check.
//! All seeded and deterministic.

use std::path::Path;

use ladder_laws::argmin_fit::minimize_argmin;
use ladder_laws::chinchilla::{self, hoffmann_grid, ChinchillaObjective, LogPoints};
use ladder_laws::data::RunPoints;
use ladder_laws::solver::{minimize, LbfgsOptions};
use ladder_laws::{synth, FitOptions};

/// Asymptotic standard deviations of θ = (a, b, e, α, β) for a Huber fit in log space with
/// Gaussian log-noise σ: Cov ≈ v·σ²·(JᵀJ)⁻¹ with J = ∂ ln L̂/∂θ at the truth. For δ → 0 the Huber
/// estimator becomes least absolute deviations, whose variance factor is v = π/2 (1/(4 f(0)²) for
/// the normal density f); for δ > 0 it is smaller, so π/2 is a conservative bound.
fn asymptotic_sd(truth: &[f64; 5], pts: &RunPoints, sigma: f64) -> [f64; 5] {
    let [e_big, a_big, b_big, al, be] = *truth;
    let mut jtj = [[0.0f64; 5]; 5];
    for i in 0..pts.len() {
        let (ln_n, ln_d) = (pts.n[i].ln(), pts.d[i].ln());
        let u0 = a_big * (-al * ln_n).exp();
        let u1 = b_big * (-be * ln_d).exp();
        let s = u0 + u1 + e_big;
        let j = [u0 / s, u1 / s, e_big / s, -ln_n * u0 / s, -ln_d * u1 / s];
        for r in 0..5 {
            for c in 0..5 {
                jtj[r][c] += j[r] * j[c];
            }
        }
    }
    let inv = invert5(jtj);
    let v = std::f64::consts::FRAC_PI_2 * sigma * sigma;
    std::array::from_fn(|k| (v * inv[k][k]).sqrt())
}

/// Gauss–Jordan inverse with partial pivoting (JᵀJ is symmetric positive definite here).
fn invert5(m: [[f64; 5]; 5]) -> [[f64; 5]; 5] {
    let mut a = m;
    let mut inv = [[0.0; 5]; 5];
    for (i, row) in inv.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for col in 0..5 {
        let p = (col..5)
            .max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))
            .unwrap();
        a.swap(col, p);
        inv.swap(col, p);
        let d = a[col][col];
        for k in 0..5 {
            a[col][k] /= d;
            inv[col][k] /= d;
        }
        for r in 0..5 {
            if r != col {
                let f = a[r][col];
                for k in 0..5 {
                    a[r][k] -= f * a[col][k];
                    inv[r][k] -= f * inv[col][k];
                }
            }
        }
    }
    inv
}

#[test]
fn fit_chinchilla_recovers_known_params() {
    // (name, [E, A, B, alpha, beta]):
    //   Hoffmann et al. 2022 eq. 10; Besiroglu et al. 2024 (Epoch AI) replication; two more shapes.
    let cases = [
        ("chinchilla", [1.69, 406.4, 410.7, 0.34, 0.28]),
        ("epoch", [1.82, 482.01, 2085.43, 0.3478, 0.3658]),
        ("steep-N", [2.2, 2000.0, 300.0, 0.5, 0.25]),
        ("low-E", [0.8, 150.0, 900.0, 0.3, 0.4]),
    ];
    let sigma = 0.005; // 0.5 % multiplicative noise
    for (k, (name, truth)) in cases.iter().enumerate() {
        // 200 runs over 4 decades of N (1e6..1e10) and 1..1000 tokens per parameter.
        let pts = synth::chinchilla_points(
            truth,
            200,
            (1e6, 1e10),
            (1.0, 1000.0),
            sigma,
            100 + k as u64,
        );
        let f = chinchilla::fit(&pts, &FitOptions::default().with_bootstrap(0).unwrap()).unwrap();
        let sd = asymptotic_sd(truth, &pts, sigma);
        // θ = (ln A, ln B, ln E, α, β); compare in θ so the tolerance is the sd above.
        let est = [
            f.param("A").unwrap().ln(),
            f.param("B").unwrap().ln(),
            f.param("E").unwrap().ln(),
            f.param("alpha").unwrap(),
            f.param("beta").unwrap(),
        ];
        let tru = [
            truth[1].ln(),
            truth[2].ln(),
            truth[0].ln(),
            truth[3],
            truth[4],
        ];
        for (j, nm) in ["ln A", "ln B", "ln E", "alpha", "beta"].iter().enumerate() {
            // 4.5 sd: with 20 checks a false failure has probability < 1e-4 (and the seeds are fixed).
            let tol = 4.5 * sd[j];
            assert!(
                (est[j] - tru[j]).abs() <= tol,
                "{name}: {nm} = {} vs truth {} (tolerance {tol:.3e} = 4.5 sd)",
                est[j],
                tru[j]
            );
        }
        assert_eq!(f.fit.starts, 4500);
        assert!(
            f.fit.converged > 4000,
            "{name}: only {} starts converged",
            f.fit.converged
        );
    }
}

#[test]
fn bootstrap_interval_of_alpha_covers_truth() {
    // 200 seeded data sets of 80 runs with 1 % noise; 95 % percentile interval from 200 replicates.
    // The point fit uses 8 starts of the Hoffmann grid's range (the property tested is the
    // bootstrap's, and the refits start from the best point as in the full procedure).
    let truth = [1.82, 482.01, 2085.43, 0.3478, 0.3658];
    let mut starts = vec![];
    for a in [5.0, 10.0] {
        for b in [5.0, 10.0] {
            for e in [0.0, 0.5] {
                starts.push([a, b, e, 0.5, 0.5]);
            }
        }
    }
    let opts = FitOptions::default()
        .with_bootstrap(200)
        .unwrap()
        .with_starts(starts)
        .unwrap();
    let datasets = 200;
    let mut covered = 0;
    for s in 0..datasets {
        let pts =
            synth::chinchilla_points(&truth, 80, (1e6, 1e10), (1.0, 1000.0), 0.01, 10_000 + s);
        let f = chinchilla::fit(&pts, &opts.clone().with_seed(s)).unwrap();
        let ci = f.ci95.get("alpha").unwrap().0;
        if ci[0] <= truth[3] && truth[3] <= ci[1] {
            covered += 1;
        }
    }
    let rate = covered as f64 / datasets as f64;
    eprintln!("alpha coverage: {covered}/{datasets} = {rate:.3}");
    assert!((0.88..=0.99).contains(&rate), "coverage {rate}");
}

/// sha-free check of the benchmark file: SciPy 1.17.1 / NumPy 2.4.6 running
/// `python3 fit_ref.py chinchilla250.csv` (../shared/reference/fit_ref.py) printed
/// `"objective": 0.0017549248505383372`. Ladder must reach it to within 1e-9.
#[test]
fn fit_chinchilla_matches_scipy_reference_objective() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chinchilla250.csv");
    let pts = RunPoints::from_csv(&p).unwrap();
    let f = chinchilla::fit(&pts, &FitOptions::default().with_bootstrap(0).unwrap()).unwrap();
    let scipy = 0.0017549248505383372;
    assert!(
        f.fit.best <= scipy + 1e-9,
        "ladder {} vs scipy {scipy}",
        f.fit.best
    );
    // SciPy's parameters: E 1.80513, A 408.711, B 1987.82, alpha 0.339001, beta 0.363155.
    assert!((f.param("alpha").unwrap() - 0.33900118968328385).abs() < 1e-6);
    assert!((f.param("beta").unwrap() - 0.36315472348870653).abs() < 1e-6);
    assert!((f.param("E").unwrap() - 1.8051296161302328).abs() < 1e-5);
}

#[test]
fn solver_agrees_with_argmin_lbfgs() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chinchilla250.csv");
    let pts = RunPoints::from_csv(&p).unwrap();
    let lp = LogPoints::new(&pts.n, &pts.d, &pts.loss);
    let obj = ChinchillaObjective::new(&lp, 1e-3);
    // Grid starts from which both solvers reach the global minimum (index 0 is a=b=0, e=-1, α=β=0).
    let grid = hoffmann_grid();
    let mut agreed = 0;
    for &i in &[0usize, 3015, 3060, 3870] {
        let h = minimize(&obj, grid[i], &LbfgsOptions::default());
        let a = minimize_argmin(&obj, grid[i], 1e-10, 1e-15, 10_000);
        assert!(
            h.stop.converged() && a.stop.converged(),
            "start {i}: {:?} {:?}",
            h.stop,
            a.stop
        );
        assert!(
            (h.value - a.value).abs() < 1e-12,
            "start {i}: {} vs {}",
            h.value,
            a.value
        );
        for k in 0..5 {
            assert!(
                (h.params[k] - a.params[k]).abs() < 1e-5,
                "start {i}: {:?} vs {:?}",
                h.params,
                a.params
            );
        }
        agreed += 1;
    }
    assert_eq!(agreed, 4);
}

#[test]
fn fit_reports_non_convergence_with_best_point() {
    let truth = [1.82, 482.01, 2085.43, 0.3478, 0.3658];
    let pts = synth::chinchilla_points(&truth, 50, (1e6, 1e10), (1.0, 1000.0), 0.01, 1);
    let opts = FitOptions::default()
        .with_lbfgs(LbfgsOptions::default().with_max_iters(2).unwrap())
        .with_starts(vec![[0.0, 0.0, -1.0, 0.0, 0.0]])
        .unwrap();
    let e = chinchilla::fit(&pts, &opts).unwrap_err().to_string();
    assert!(
        e.contains("did not converge (0 of 1 starts converged)"),
        "{e}"
    );
    assert!(e.contains("best objective") && e.contains("alpha="), "{e}");
}

#[test]
fn fit_chinchilla_rejects_unidentifiable_and_small_data() {
    let truth = [1.82, 482.01, 2085.43, 0.3478, 0.3658];
    let mut pts = synth::chinchilla_points(&truth, 20, (1e6, 1e10), (1.0, 1000.0), 0.01, 1);
    let few = RunPoints {
        n: pts.n[..5].to_vec(),
        d: pts.d[..5].to_vec(),
        loss: pts.loss[..5].to_vec(),
        c: pts.c[..5].to_vec(),
        se: None,
        common_se: None,
        origin: pts.origin.clone(),
    };
    let e = chinchilla::fit(&few, &FitOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("5 usable point(s), but 5 parameters need at least 6"),
        "{e}"
    );
    pts.n.iter_mut().for_each(|n| *n = 1e8);
    let e = chinchilla::fit(&pts, &FitOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("all 20 points have N = 100000000") && e.contains("other model sizes"),
        "{e}"
    );
}
