//! Backtests on planted Chinchilla surfaces: fit every budget but the largest, predict it, and
//! check the truth falls inside the 95 % intervals with small errors.

use ladder_laws::backtest::backtest;
use ladder_laws::{synth, FitOptions, LawKind};

const TRUTH: [f64; 5] = [1.69, 406.4, 410.7, 0.34, 0.28];

fn sweep() -> ladder_laws::data::RunPoints {
    // 5 budgets, 9 sizes over ±1.5 in ln N, 0.5 % noise.
    synth::isoflop_points(
        &TRUTH,
        &[1e17, 1e18, 1e19, 1e20, 1e21],
        9,
        1.5,
        1.0,
        0.005,
        11,
    )
}

#[test]
fn isoflop_backtest_predicts_the_held_out_budget() {
    let opts = FitOptions::default().with_bootstrap(300).unwrap();
    let bt = backtest(&sweep(), LawKind::Isoflop, 1, &opts).unwrap();
    assert_eq!(bt.fit_budgets.len(), 4);
    assert_eq!(bt.fit_points, 36);
    assert_eq!(bt.heldout.len(), 1);
    let h = &bt.heldout[0];
    assert!((h.C / 1e21 - 1.0).abs() < 1e-9);
    let q: Vec<&str> = h.checks.iter().map(|c| c.quantity.as_str()).collect();
    assert_eq!(q, ["best_loss", "N_opt"]);
    for c in &h.checks {
        assert_eq!(c.inside, Some(true), "{c:?}");
        assert!((c.error - (c.predicted - c.actual)).abs() < 1e-12);
        assert!(c.actual_source.starts_with("vertex (local)"), "{c:?}");
    }
    // The vertex loss extrapolates within 1 %, N_opt within 30 % (one decade beyond the fit).
    assert!(h.checks[0].error_pct.abs() < 1.0, "{:?}", h.checks[0]);
    assert!(h.checks[1].error_pct.abs() < 30.0, "{:?}", h.checks[1]);
    assert_eq!((bt.inside, bt.with_interval), (2, 2));
    let table = bt.table();
    assert!(table.contains("2 of 2 truths inside"), "{table}");
    // The JSON round-trips.
    let back: ladder_laws::backtest::Backtest = serde_json::from_str(&bt.to_json()).unwrap();
    assert_eq!(back, bt);
}

#[test]
fn chinchilla_backtest_checks_best_loss_and_every_held_out_run() {
    let opts = FitOptions::default()
        .with_bootstrap(100)
        .unwrap()
        .with_starts(vec![[6.0, 6.0, 0.5, 0.3, 0.3]])
        .unwrap();
    let bt = backtest(&sweep(), LawKind::Chinchilla, 2, &opts).unwrap();
    assert_eq!(bt.fit_budgets.len(), 3);
    assert_eq!(bt.heldout.len(), 2);
    for h in &bt.heldout {
        // best_loss, N_opt, then one loss per run.
        assert_eq!(h.checks.len(), 2 + 9);
        let runs: Vec<_> = h
            .checks
            .iter()
            .filter(|c| c.quantity == "loss_at_run")
            .collect();
        assert_eq!(runs.len(), 9);
        // Each run's loss is predicted within 2 % (0.5 % noise).
        for c in &runs {
            assert!(c.error_pct.abs() < 2.0, "{c:?}");
            assert!(c.N.is_some() && c.D.is_some());
        }
        let best = &h.checks[0];
        assert_eq!(best.quantity, "best_loss");
        assert!(best.error_pct.abs() < 1.0, "{best:?}");
    }
    // Most truths fall inside their intervals (a run's own noise is not in the law's interval).
    assert!(
        bt.inside * 2 > bt.with_interval,
        "{} of {}",
        bt.inside,
        bt.with_interval
    );
}

#[test]
fn holding_out_too_many_budgets_is_refused_with_the_numbers() {
    let opts = FitOptions::default().with_bootstrap(0).unwrap();
    let e = backtest(&sweep(), LawKind::Isoflop, 4, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--holdout-top 4 leaves 1 of 5") && e.contains("needs at least 2"),
        "{e}"
    );
    assert!(e.contains("--holdout-top <= 3"), "{e}");
    let e = backtest(&sweep(), LawKind::Chinchilla, 0, &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--holdout-top = 0"), "{e}");
    let e = backtest(&sweep(), LawKind::Power, 1, &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("chinchilla and isoflop"), "{e}");
}
