//! Weighted fits: per-point standard errors weight the residuals, the χ² test compares the
//! residuals with the measured noise, and the noise bootstrap follows the stated noise.

use ladder_laws::data::{DataSource, RunPoints, XyPoints};
use ladder_laws::synth::normal;
use ladder_laws::{chinchilla, power, synth, FitFile, FitOptions};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn xy(x: Vec<f64>, y: Vec<f64>, se: Option<Vec<f64>>) -> XyPoints {
    XyPoints {
        x,
        y,
        x_name: "C".into(),
        y_name: "loss".into(),
        x_is_date: false,
        se,
        origin: DataSource {
            source: "synthetic".into(),
            sha256: String::new(),
            skipped: vec![],
        },
    }
}

/// `y = 3·x^-0.3` on 40 log-spaced x with noise sd `sigma[i]` in ln y.
fn power_data(sigma: &[f64], seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<f64> = (0..sigma.len())
        .map(|i| 10f64.powf(1.0 + 5.0 * i as f64 / (sigma.len() - 1) as f64))
        .collect();
    let y = x
        .iter()
        .zip(sigma)
        .map(|(&x, s)| 3.0 * x.powf(-0.3) * (s * normal(&mut rng)).exp())
        .collect();
    (x, y)
}

fn se_of(y: &[f64], sigma: &[f64]) -> Vec<f64> {
    y.iter().zip(sigma).map(|(y, s)| y * s).collect()
}

#[test]
fn weighted_power_fit_recovers_the_exponent_better_when_noise_differs() {
    // Every other point is 10x noisier. Over 40 data sets the weighted estimate of b must be
    // clearly closer to the truth than the unweighted one (the asymptotic variance ratio here is
    // about 5).
    let sigma: Vec<f64> = (0..40)
        .map(|i| if i % 2 == 0 { 0.005 } else { 0.05 })
        .collect();
    let opts = FitOptions::default().with_bootstrap(0).unwrap();
    let (mut mse_w, mut mse_u) = (0.0, 0.0);
    for seed in 0..40 {
        let (x, y) = power_data(&sigma, seed);
        let se = se_of(&y, &sigma);
        let w = match power::fit(&xy(x.clone(), y.clone(), Some(se)), &opts) {
            Ok(w) => w,
            Err(e) => panic!("seed {seed}: {e:?}"),
        };
        let u = power::fit(&xy(x, y, None), &opts).unwrap();
        assert!(w.fit.weighted && !u.fit.weighted);
        mse_w += (w.param("b").unwrap() + 0.3).powi(2);
        mse_u += (u.param("b").unwrap() + 0.3).powi(2);
    }
    eprintln!("power b: weighted mse {mse_w:.3e}, unweighted {mse_u:.3e}");
    assert!(
        mse_w < 0.5 * mse_u,
        "weighted mse {mse_w:.3e} vs unweighted {mse_u:.3e}"
    );
}

#[test]
fn weighted_chinchilla_fit_recovers_exponents_better_when_noise_differs() {
    let truth = [1.8, 480.0, 2000.0, 0.35, 0.37];
    let opts = FitOptions::default()
        .with_bootstrap(0)
        .unwrap()
        .with_starts(vec![[6.0, 7.5, 0.5, 0.3, 0.3], [5.0, 8.0, 0.7, 0.4, 0.4]])
        .unwrap();
    let (mut err_w, mut err_u) = (0.0, 0.0);
    for seed in 0..12 {
        let mut pts = synth::chinchilla_points(&truth, 60, (1e7, 1e10), (2.0, 200.0), 0.0, seed);
        let mut rng = ChaCha8Rng::seed_from_u64(100 + seed);
        let sigma: Vec<f64> = (0..pts.len())
            .map(|i| if i % 2 == 0 { 0.002 } else { 0.02 })
            .collect();
        for (l, s) in pts.loss.iter_mut().zip(&sigma) {
            *l *= (s * normal(&mut rng)).exp();
        }
        let u = chinchilla::fit(&pts, &opts).unwrap();
        pts.se = Some(se_of(&pts.loss, &sigma));
        let w = chinchilla::fit(&pts, &opts).unwrap();
        for (name, t) in [("alpha", truth[3]), ("beta", truth[4])] {
            err_w += (w.param(name).unwrap() - t).powi(2);
            err_u += (u.param(name).unwrap() - t).powi(2);
        }
    }
    eprintln!("chinchilla alpha, beta: weighted sq. error {err_w:.3e}, unweighted {err_u:.3e}");
    assert!(
        err_w < 0.6 * err_u,
        "weighted {err_w:.3e} vs unweighted {err_u:.3e}"
    );
}

#[test]
fn equal_standard_errors_give_the_unweighted_estimate() {
    let sigma = vec![0.01; 30];
    let (x, y) = power_data(&sigma, 3);
    let opts = FitOptions::default().with_bootstrap(0).unwrap();
    let se: Vec<f64> = y.iter().map(|y| 0.02 * y).collect();
    let w = power::fit(&xy(x.clone(), y.clone(), Some(se)), &opts).unwrap();
    let u = power::fit(&xy(x, y, None), &opts).unwrap();
    assert_eq!(w.params, u.params);
}

#[test]
fn chi2_is_near_one_under_the_stated_noise_and_large_for_another_law() {
    let sigma = vec![0.01; 60];
    let opts = FitOptions::default().with_bootstrap(0).unwrap();
    let mut ratios = vec![];
    for seed in 0..10 {
        let (x, y) = power_data(&sigma, 50 + seed);
        let se = se_of(&y, &sigma);
        let f = power::fit(&xy(x, y, Some(se)), &opts).unwrap();
        assert_eq!(f.residuals.dof, Some(58));
        ratios.push(f.residuals.chi2_dof.unwrap());
    }
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    // E[χ²/dof] = 1 with sd sqrt(2/58)/sqrt(10) ≈ 0.06 over ten sets (Huber adds a little).
    eprintln!("chi2/dof under the stated noise: mean {mean:.3} over 10 sets");
    assert!((0.8..1.25).contains(&mean), "mean chi2/dof {mean}");
    // Data from a power law with a floor, fitted by a pure power law: misfit far beyond 1 %.
    let (x, _) = power_data(&sigma, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let y: Vec<f64> = x
        .iter()
        .map(|&x| (3.0 * x.powf(-0.3) + 0.5) * (0.01 * normal(&mut rng)).exp())
        .collect();
    let se = se_of(&y, &sigma);
    let f = power::fit(&xy(x, y, Some(se)), &opts).unwrap();
    let c = f.residuals.chi2_dof.unwrap();
    eprintln!("chi2/dof of a pure power law on data with a floor: {c:.1}");
    assert!(c > 20.0, "chi2/dof {c}");
    assert_eq!(f.residuals.noise_consistent, Some(false));
    let table = ladder_laws::report::fit_table(&f);
    assert!(table.contains("exceed the measured noise"), "{table}");
}

#[test]
fn noise_bootstrap_follows_the_stated_noise() {
    // Exact data: a pairs bootstrap would give zero-width intervals; the noise bootstrap gives
    // intervals that scale with the stated SEs.
    let x: Vec<f64> = (0..30).map(|i| 10f64.powf(1.0 + i as f64 / 6.0)).collect();
    let y: Vec<f64> = x.iter().map(|&x| 3.0 * x.powf(-0.3)).collect();
    let opts = FitOptions::default().with_bootstrap(400).unwrap();
    let width = |s: f64| {
        let se: Vec<f64> = y.iter().map(|y| y * s).collect();
        let f: FitFile = power::fit(&xy(x.clone(), y.clone(), Some(se)), &opts).unwrap();
        assert_eq!(f.fit.resample, "noise");
        assert_eq!(f.residuals.noise_consistent, Some(true));
        let [lo, hi] = f.ci95.get("b").unwrap().0;
        hi - lo
    };
    let (w1, w10) = (width(0.001), width(0.01));
    // Least-squares sd of the slope: σ/sqrt(Σ(ln x − mean)²) = 0.001/sqrt(30·var) ≈ 7.6e-5 for
    // σ = 0.001 over ln x spanning 11.3; the 95 % width is ≈ 3.9 sd.
    let ln_x: Vec<f64> = x.iter().map(|x| x.ln()).collect();
    let m = ln_x.iter().sum::<f64>() / 30.0;
    let sxx: f64 = ln_x.iter().map(|v| (v - m).powi(2)).sum();
    let expected = 2.0 * 1.96 * 0.001 / sxx.sqrt();
    eprintln!(
        "noise bootstrap width of b: {w1:.3e} (least squares {expected:.3e}), x10 noise {w10:.3e}"
    );
    assert!(
        (w1 / expected - 1.0).abs() < 0.35,
        "width {w1:.3e}, expected {expected:.3e}"
    );
    assert!((w10 / w1 - 10.0).abs() < 2.5, "{w10} vs {w1}");
    // Without SEs the same exact data give a (near) zero-width pairs interval.
    let f = power::fit(&xy(x.clone(), y.clone(), None), &opts).unwrap();
    let [lo, hi] = f.ci95.get("b").unwrap().0;
    assert!(hi - lo < 1e-6 && f.fit.resample == "points");
}

#[test]
fn run_points_keep_standard_errors_only_when_all_have_one() {
    let mut pts: RunPoints = synth::chinchilla_points(
        &[1.8, 480.0, 2000.0, 0.35, 0.37],
        30,
        (1e7, 1e10),
        (2.0, 200.0),
        0.0,
        1,
    );
    assert!(pts.se.is_none());
    pts.se = Some(vec![0.01; pts.len()]);
    let f = chinchilla::fit(
        &pts,
        &FitOptions::default()
            .with_bootstrap(5)
            .unwrap()
            .with_starts(vec![[6.0, 7.5, 0.5, 0.3, 0.3]])
            .unwrap(),
    )
    .unwrap();
    assert!(f.fit.weighted && f.residuals.chi2.is_some());
    assert_eq!(f.fit.resample, "noise");
}
