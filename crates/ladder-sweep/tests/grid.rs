//! Hyper-parameter grid plans (issue 15, step 1): one run per grid point of every (budget, size),
//! each spending its budget (C = 6ND within 1 % whatever its batch), its grid values typed in
//! `[run.params]` and resolved into its config, deterministic names, sizes centred on a given
//! optimal N, and the plan round-tripping through sweep.toml.

use ladder_data::{NoProgress, SynthConfig};
use ladder_sweep::grid::Grid;
use ladder_sweep::{make_plan, Estimate, PlanRequest, SweepDir};

fn data() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        train_tokens: 20_000,
        val_tokens: 4096,
        ..SynthConfig::default()
    };
    ladder_data::synth::write_synth(&cfg, &d.path().join("data"), false, &NoProgress).unwrap();
    d
}

fn request(data: &std::path::Path, budgets: &[f64], grid: &str) -> PlanRequest {
    PlanRequest {
        sizes: 1,
        sets: vec!["train.batch_size=8".into()],
        estimate: Estimate::Gflops(20.0),
        grid: Some(grid.parse::<Grid>().unwrap()),
        ..PlanRequest::new(data.to_path_buf(), budgets.to_vec())
    }
}

#[test]
fn grid_plan_has_one_run_per_point_each_spending_its_budget() {
    let d = data();
    let budgets = [1e11, 1e12];
    let req = request(
        &d.path().join("data"),
        &budgets,
        "lr=1e-3:1e-2:3,batch=8:32:3",
    );
    let plan = make_plan(&req).unwrap();
    assert_eq!(plan.grid.as_deref(), Some("lr=1e-3:1e-2:3,batch=8:32:3"));
    assert_eq!(plan.runs.len(), 2 * 9);
    let seq_len = plan.run_config(&plan.runs[0]).unwrap().train.seq_len as u64;
    for r in &plan.runs {
        let lr = r.params["train.lr"].as_float().unwrap();
        let b = r.params["train.batch_size"].as_integer().unwrap() as u64;
        assert!([1e-3, 3.16e-3, 1e-2].contains(&lr), "{}: {lr}", r.name);
        assert!([8, 16, 32].contains(&b), "{}: {b}", r.name);
        // The grid's lr replaces the rule's; the rule's warm-up stays (from the run's own steps).
        assert_eq!(r.lr, None);
        let steps = r.tokens / (b * seq_len);
        assert_eq!(r.tokens % (b * seq_len), 0, "{}: whole steps", r.name);
        let w = ((0.05 * steps as f64).round() as u64).clamp(10, 500);
        assert_eq!(r.warmup_steps, Some(w), "{}", r.name);
        assert!(
            (r.compute() / r.budget - 1.0).abs() <= 0.01,
            "{}: C {} vs {}",
            r.name,
            r.compute(),
            r.budget
        );
        let cfg = plan.run_config(r).unwrap();
        assert_eq!((cfg.train.lr, cfg.train.batch_size as u64), (lr, b));
        assert!(
            r.name.contains(&format!("-b{b}")) && r.name.contains("-lr"),
            "{}",
            r.name
        );
    }
    // One size per budget, the same for all its grid points; larger batches take fewer steps.
    for c in budgets {
        let runs: Vec<_> = plan.runs.iter().filter(|r| r.budget == c).collect();
        assert_eq!(runs.len(), 9);
        assert!(runs.iter().all(|r| r.shape() == runs[0].shape()));
    }
    assert_eq!(plan, make_plan(&req).unwrap(), "deterministic");
    // sweep.toml keeps the grid and the typed params.
    let dir = SweepDir::create(&d.path().join("sweep"), &plan, false).unwrap();
    let text = std::fs::read_to_string(dir.plan_path()).unwrap();
    assert!(
        text.contains("grid = \"lr=1e-3:1e-2:3,batch=8:32:3\""),
        "{text}"
    );
    assert!(text.contains("\"train.batch_size\" = 16"), "{text}");
    assert_eq!(dir.plan().unwrap(), plan);
}

#[test]
fn grid_sizes_centre_on_the_given_optimal_n_and_warmup_is_an_axis() {
    let d = data();
    let req = PlanRequest {
        centres: Some(vec![(1e12, 5e4)]),
        ..request(&d.path().join("data"), &[1e12], "warmup=10:40:3")
    };
    let plan = make_plan(&req).unwrap();
    assert_eq!(plan.runs.len(), 3);
    let n = plan.runs[0].n_params() as f64;
    assert!((n / 5e4).ln().abs() < 0.3, "N {n} vs 5e4");
    let w: Vec<i64> = plan
        .runs
        .iter()
        .map(|r| r.params["train.warmup_steps"].as_integer().unwrap())
        .collect();
    assert_eq!(w, [10, 20, 40]);
    assert!(plan.runs.iter().all(|r| r.warmup_steps.is_none()));
    // A batch too large for the budget cannot spend it in whole steps: refused, named.
    let e = make_plan(&request(&d.path().join("data"), &[2e9], "batch=64:256:2"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("c2e9"), "{e}");
}
