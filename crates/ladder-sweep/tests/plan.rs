//! IsoFLOP planning against the rules of issue 5: valid shapes, N spanning the requested range,
//! C = 6·N·D within 1 % for every run, deterministic names and seeds, and sweep.toml round-trips.

use ladder_data::{NoProgress, SynthConfig};
use ladder_sweep::{make_plan, Estimate, Plan, PlanRequest, SweepDir};

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

fn request(data: &std::path::Path, budgets: &[f64], n_range: Option<(f64, f64)>) -> PlanRequest {
    PlanRequest {
        data: data.to_path_buf(),
        budgets: budgets.to_vec(),
        sizes: 5,
        preset: "tiny".into(),
        sets: vec!["train.batch_size=8".into()],
        tokens_per_param: 20.0,
        span: 16.0,
        n_range,
        seed: 7,
        estimate: Estimate::Gflops(20.0),
    }
}

#[test]
fn plan_shapes_are_valid_span_the_range_and_keep_c_within_1_percent() {
    let d = data();
    let budgets = [3e12, 1e13, 3e13];
    let plan = make_plan(&request(&d.path().join("data"), &budgets, None)).unwrap();
    assert_eq!(plan.runs.len(), 15);
    for &c in &budgets {
        let runs: Vec<_> = plan.runs.iter().filter(|r| r.budget == c).collect();
        assert_eq!(runs.len(), 5, "budget {c}");
        // Requested range: centre sqrt(C / (6 · 20)), span 16 -> centre / 4 .. centre · 4.
        let centre = (c / 120.0).sqrt();
        let (lo, hi) = (centre / 4.0, centre * 4.0);
        let ns: Vec<f64> = runs.iter().map(|r| r.n_params() as f64).collect();
        assert!(ns.windows(2).all(|w| w[0] < w[1]), "N increases: {ns:?}");
        assert!(
            (ns[0] / lo).ln().abs() < 0.3,
            "smallest N {} vs {lo}",
            ns[0]
        );
        assert!((ns[4] / hi).ln().abs() < 0.3, "largest N {} vs {hi}", ns[4]);
        for r in runs {
            assert_eq!(r.n_embd % r.n_head, 0, "{}", r.name);
            assert!(r.n_embd / r.n_head >= 16, "{}: head size", r.name);
            let aspect = r.n_embd as f64 / r.n_layer as f64;
            assert!((8.0..=256.0).contains(&aspect), "{}: {aspect}", r.name);
            assert!(
                (r.compute() / c - 1.0).abs() <= 0.01,
                "{}: C = {}",
                r.name,
                r.compute()
            );
            assert_eq!(r.tokens % 512, 0, "{}: whole steps of 8 × 64", r.name);
            assert_eq!(r.seed, 7);
            assert!(r.est_seconds.unwrap() > 0.0);
        }
    }
    // Deterministic: the same request gives the same plan.
    let again = make_plan(&request(&d.path().join("data"), &budgets, None)).unwrap();
    assert_eq!(plan, again);
    assert_eq!(plan.runs[0].name, "c3e12-n0.038M");
}

#[test]
fn plan_with_a_fixed_range_and_round_trip_through_sweep_toml() {
    let d = data();
    let plan = make_plan(&request(
        &d.path().join("data"),
        &[1e11, 1e12],
        Some((5e3, 2e5)),
    ))
    .unwrap();
    for c in [1e11, 1e12] {
        let ns: Vec<u64> = plan
            .runs
            .iter()
            .filter(|r| r.budget == c)
            .map(|r| r.n_params())
            .collect();
        assert!(ns[0] < 7_000 && ns[ns.len() - 1] > 150_000, "{ns:?}");
    }
    let dir = SweepDir::create(&d.path().join("sweep"), &plan, false).unwrap();
    assert_eq!(dir.plan().unwrap(), Plan { ..plan.clone() });
    // A second plan into the same directory needs --force.
    let err = SweepDir::create(&d.path().join("sweep"), &plan, false).unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
}

#[test]
fn plan_rejects_bad_requests_with_the_fix() {
    let d = data();
    let data = d.path().join("data");
    let mut r = request(&data, &[], None);
    assert!(make_plan(&r).unwrap_err().to_string().contains("--budgets"));
    r.budgets = vec![-1.0];
    assert!(make_plan(&r).unwrap_err().to_string().contains("FLOPs > 0"));
    r.budgets = vec![1e8];
    let e = make_plan(&r).unwrap_err().to_string();
    assert!(e.contains("no model shape"), "{e}");
    r.budgets = vec![1e12];
    r.sizes = 0;
    assert!(make_plan(&r).unwrap_err().to_string().contains("--sizes"));
    r.sizes = 3;
    r.sets = vec!["train.nope=1".into()];
    let e = make_plan(&r).unwrap_err().to_string();
    assert!(e.contains("unknown key"), "{e}");
}

#[test]
fn plan_file_is_checked_strictly() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("sweep.toml");
    std::fs::write(
        &p,
        "format = \"something-else\"\nversion = 1\ndata = \"x\"\npreset = \"tiny\"\n",
    )
    .unwrap();
    let e = Plan::load(&p).unwrap_err().to_string();
    assert!(e.contains("ladder-sweep-plan"), "{e}");
    std::fs::write(
        &p,
        "format = \"ladder-sweep-plan\"\nversion = 1\ndata = \"x\"\npreset = \"tiny\"\nbogus = 3\n",
    )
    .unwrap();
    let e = Plan::load(&p).unwrap_err().to_string();
    assert!(e.contains("bogus"), "{e}");
    let run = "[[run]]\nname = \"a\"\nbudget = 1e9\nn_layer = 1\nn_embd = 32\nn_head = 1\ntokens = 10\nseed = 0\n";
    std::fs::write(
        &p,
        format!("format = \"ladder-sweep-plan\"\nversion = 1\ndata = \"x\"\npreset = \"tiny\"\n{run}{run}"),
    )
    .unwrap();
    let e = Plan::load(&p).unwrap_err().to_string();
    assert!(e.contains("two runs have this name"), "{e}");
}
