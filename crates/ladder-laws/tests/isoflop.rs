//! IsoFLOP (Approach 2) on synthetic Chinchilla surfaces whose N_opt(C) exponent is known.

use ladder_laws::data::RunPoints;
use ladder_laws::vertex::VertexMethod;
use ladder_laws::{allocation, isoflop, synth, FitOptions};

fn join(a: RunPoints, b: RunPoints) -> RunPoints {
    let mut out = a;
    out.n.extend(b.n);
    out.d.extend(b.d);
    out.loss.extend(b.loss);
    out.c.extend(b.c);
    out
}

#[test]
fn isoflop_recovers_allocation_exponent() {
    // a = β/(α+β): 0.28/0.62 = 0.4516 (Hoffmann) and 0.3658/0.7136 = 0.5126 (Epoch).
    let budgets = [1e17, 1e18, 1e19, 1e20, 1e21];
    for (seed, truth) in [
        [1.69, 406.4, 410.7, 0.34, 0.28],
        [1.82, 482.01, 2085.43, 0.3478, 0.3658],
    ]
    .iter()
    .enumerate()
    {
        let (a_true, b_true) = allocation::exponents(truth[3], truth[4]);
        // 9 sizes per budget over ±1.2 in ln N (a factor 3.3 each way), 0.2 % noise.
        let pts = synth::isoflop_points(truth, &budgets, 9, 1.2, 1.0, 0.002, seed as u64);
        // The parabola estimator on a narrow, centred, low-noise grid (the default `local` is
        // compared with it in tests/isoflop_simstudy.rs).
        let opts = FitOptions::default()
            .with_bootstrap(300)
            .unwrap()
            .with_vertex(VertexMethod::Parabola);
        let f = isoflop::fit(&pts, &opts).unwrap();
        let a = f.param("a").unwrap();
        let b = f.param("b").unwrap();
        // The loss profile is not exactly a parabola in ln N; over ±1.2 its vertex lands within
        // a few % of N_opt at every budget, and the bias is nearly the same at each budget, so
        // the exponent is off by far less: 0.01 bounds bias plus noise (bootstrap sd ≈ 0.003).
        assert!((a - a_true).abs() < 0.01, "a = {a}, truth {a_true}");
        assert!((b - b_true).abs() < 0.01, "b = {b}, truth {b_true}");
        assert!((a + b - 1.0).abs() < 1e-9);
        let ci = f.ci95.get("a").unwrap().0;
        assert!(ci[0] <= a && a <= ci[1]);
        assert!(f.derived.budgets.iter().all(|b| b.in_range == Some(true)));
        // Vertices are near the true optimum.
        for v in &f.derived.budgets {
            let (n_true, _) = allocation::optimal(truth, v.C);
            assert!(
                (v.N_opt / n_true).ln().abs() < 0.1,
                "C {}: {} vs {}",
                v.C,
                v.N_opt,
                n_true
            );
        }
    }
}

#[test]
fn isoflop_flags_vertex_outside_sampled_range() {
    let truth = [1.82, 482.01, 2085.43, 0.3478, 0.3658];
    let good = synth::isoflop_points(&truth, &[1e18, 1e19, 1e20], 7, 1.0, 1.0, 0.002, 1);
    // At 1e21 the sizes sit well above the optimum (centre 8x N_opt, ±1.0 in ln N): the
    // parabola's vertex falls below the smallest size.
    let off = synth::isoflop_points(&truth, &[1e21], 7, 1.0, 8.0, 0.0, 2);
    let f = isoflop::fit(
        &join(good, off),
        &FitOptions::default()
            .with_bootstrap(100)
            .unwrap()
            .with_vertex(VertexMethod::Parabola),
    )
    .unwrap();
    let flagged: Vec<_> = f
        .derived
        .budgets
        .iter()
        .filter(|b| b.in_range == Some(false))
        .collect();
    assert_eq!(flagged.len(), 1);
    assert!((flagged[0].C / 1e21 - 1.0).abs() < 1e-9);
    let note = flagged[0].note.as_deref().unwrap();
    assert!(
        note.contains("outside the sampled N range") && note.contains("not used"),
        "{note}"
    );
    assert_eq!(f.fit.converged, 3, "three budgets used");
    // The law still comes from the three good budgets.
    let (a_true, _) = allocation::exponents(truth[3], truth[4]);
    assert!((f.param("a").unwrap() - a_true).abs() < 0.02);
}

#[test]
fn isoflop_refuses_when_no_budget_is_usable() {
    let truth = [1.82, 482.01, 2085.43, 0.3478, 0.3658];
    let off = synth::isoflop_points(&truth, &[1e19, 1e20], 5, 0.5, 10.0, 0.0, 3);
    let e = isoflop::fit(&off, &FitOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("0 usable compute budget(s) out of 2"), "{e}");
    assert!(e.contains("outside the sampled N range"), "{e}");
    let mut one_n = synth::isoflop_points(&truth, &[1e19, 1e20], 5, 0.5, 1.0, 0.0, 3);
    one_n.n.iter_mut().for_each(|n| *n = 1e8);
    let e = isoflop::fit(&one_n, &FitOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("all 10 points have N = 100000000"), "{e}");
}

/// On a noise-free, wide (2 decades), off-centre grid the all-points parabola misplaces every
/// vertex by ~10 %, while the local parabola and the Akima spline find the optimum.
#[test]
fn local_and_akima_vertices_beat_the_parabola_on_wide_profiles() {
    let truth = [1.8, 1200.0, 250.0, 0.45, 0.22];
    let budgets = [1e18, 1e19, 1e20, 1e21];
    let pts = synth::isoflop_points(&truth, &budgets, 11, 2.3, 2.0, 0.0, 0);
    let err = |m: VertexMethod| {
        let opts = FitOptions::default()
            .with_bootstrap(0)
            .unwrap()
            .with_vertex(m);
        let f = isoflop::fit(&pts, &opts).unwrap();
        assert_eq!(f.fit.vertex.as_deref(), Some(m.name()));
        f.derived
            .budgets
            .iter()
            .map(|v| (v.N_opt / allocation::optimal(&truth, v.C).0).ln().abs())
            .fold(0.0, f64::max)
    };
    let (p, l, a) = (
        err(VertexMethod::Parabola),
        err(VertexMethod::Local),
        err(VertexMethod::Akima),
    );
    assert!(p > 0.05, "parabola max |ln error| {p}");
    assert!(l < 0.03 && a < 0.02, "local {l}, akima {a}");
}

#[test]
fn per_point_standard_errors_set_the_bootstrap_noise_and_are_checked() {
    let truth = [1.69, 406.4, 410.7, 0.34, 0.28];
    let pts = synth::isoflop_points(&truth, &[1e18, 1e19, 1e20], 7, 1.5, 1.0, 0.003, 5);
    let opts = FitOptions::default().with_bootstrap(200).unwrap();
    let width = |se: f64| {
        let s: Vec<f64> = pts.loss.iter().map(|l| l * se).collect();
        let f = isoflop::fit_with_se(&pts, Some(&s), &opts).unwrap();
        assert!(f.fit.resample.contains("loss_se"), "{}", f.fit.resample);
        let ci = f.ci95.get("a").unwrap().0;
        ci[1] - ci[0]
    };
    // Ten times the noise gives a much wider interval of a.
    assert!(width(0.01) > 3.0 * width(0.001));
    let mut bad: Vec<f64> = pts.loss.iter().map(|l| l * 0.01).collect();
    bad[4] = 0.0;
    let e = isoflop::fit_with_se(&pts, Some(&bad), &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("loss_se") && e.contains("finite and > 0"), "{e}");
}
