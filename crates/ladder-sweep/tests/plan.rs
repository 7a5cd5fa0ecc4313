//! IsoFLOP planning against the rules of issues 5, 13 and 14: valid shapes from one family, N
//! spanning the requested range, C = 6·N·D within 1 % for every run, lr and warm-up by the rule,
//! deterministic names and seeds (K seeds per point), only trainable architectures, typed
//! `[run.params]`, and sweep.toml round-trips (version 1 files still load).

use ladder_data::{NoProgress, SynthConfig};
use ladder_sweep::lr::LrRule;
use ladder_sweep::shapes::Family;
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
        sets: vec!["train.batch_size=8".into()],
        n_range,
        seed: 7,
        estimate: Estimate::Gflops(20.0),
        ..PlanRequest::new(data.to_path_buf(), budgets.to_vec())
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
            // One family (the default, depth:1): same depth, heads 16 wide.
            assert_eq!(r.n_layer, 1, "{}", r.name);
            assert_eq!(r.n_embd / r.n_head, 16, "{}", r.name);
            assert_eq!(r.arch, "gpt2");
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
    assert_eq!(plan.runs[0].name, "c3e12-n0.050M");
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

fn runs_of(plan: &Plan, c: f64) -> Vec<&ladder_sweep::RunSpec> {
    plan.runs.iter().filter(|r| r.budget == c).collect()
}

#[test]
fn depth_family_gives_every_run_the_same_depth_and_width_rule_lr() {
    let d = data();
    let req = PlanRequest {
        family: Family::Depth(2),
        sizes: 4,
        ..request(&d.path().join("data"), &[1e12, 4e12], None)
    };
    let plan = make_plan(&req).unwrap();
    assert_eq!(plan.family.as_deref(), Some("depth:2"));
    assert_eq!(plan.lr_rule.as_deref(), Some("width"));
    assert_eq!(plan.lr_ref, Some(3e-3), "the tiny preset's train.lr");
    assert_eq!(plan.runs.len(), 8);
    for r in &plan.runs {
        assert_eq!(r.n_layer, 2, "{}", r.name);
        assert_eq!(r.n_embd % 16, 0);
        assert_eq!(r.n_head, r.n_embd / 16);
        // lr = 3e-3 · 64 / d (4 significant digits); warm-up 5 % of the steps within 10..500.
        let want = 3e-3 * 64.0 / r.n_embd as f64;
        let lr = r.lr.unwrap();
        assert!(
            (lr / want - 1.0).abs() < 1e-3,
            "{}: lr {lr} vs {want}",
            r.name
        );
        let steps = r.tokens / 512;
        let w = ((0.05 * steps as f64).round() as u64).clamp(10, 500);
        assert_eq!(r.warmup_steps, Some(w), "{}", r.name);
        // Ten checkpoints over the run, so a retry resumes.
        assert_eq!(
            r.params["checkpoint.every"],
            toml::Value::Integer(steps.div_ceil(10) as i64)
        );
        let cfg = plan.run_config(r).unwrap();
        assert_eq!(cfg.train.lr, lr);
        assert_eq!(cfg.train.warmup_steps, w);
        assert_eq!(cfg.checkpoint.every, steps.div_ceil(10));
    }
    // Wider runs get smaller rates.
    let mut by_width: Vec<_> = plan
        .runs
        .iter()
        .map(|r| (r.n_embd, r.lr.unwrap()))
        .collect();
    by_width.sort_by_key(|p| p.0);
    assert!(
        by_width
            .windows(2)
            .all(|w| w[0].0 == w[1].0 || w[0].1 > w[1].1),
        "{by_width:?}"
    );

    // The fixed rule keeps one lr and the config's warm-up for every run; --lr sets lr_ref.
    let fixed = make_plan(&PlanRequest {
        lr_rule: LrRule::Fixed,
        lr: Some(2e-3),
        sets: vec!["train.batch_size=8".into(), "train.warmup_steps=7".into()],
        ..req.clone()
    })
    .unwrap();
    for r in &fixed.runs {
        assert_eq!((r.lr, r.warmup_steps), (Some(2e-3), Some(7)), "{}", r.name);
    }
}

#[test]
fn aspect_family_keeps_width_over_depth_with_at_least_two_blocks() {
    let d = data();
    let req = PlanRequest {
        family: Family::Aspect(32.0),
        sizes: 3,
        ..request(&d.path().join("data"), &[1e14], Some((1e5, 3e6)))
    };
    let plan = make_plan(&req).unwrap();
    assert_eq!(plan.family.as_deref(), Some("aspect:32"));
    let runs = runs_of(&plan, 1e14);
    assert_eq!(runs.len(), 3);
    for r in runs {
        assert!(r.n_layer >= 2, "{}", r.name);
        assert_eq!(r.n_embd, 32 * r.n_layer, "{}", r.name);
    }
    // A size outside the family is refused, naming the family.
    let e = make_plan(&PlanRequest {
        n_range: Some((1e3, 2e3)),
        ..req
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("aspect:32") && e.contains("--family"), "{e}");
}

#[test]
fn seeds_expand_every_point_into_named_deterministic_runs() {
    let d = data();
    let req = PlanRequest {
        seeds: 3,
        sizes: 2,
        ..request(&d.path().join("data"), &[1e12], None)
    };
    let plan = make_plan(&req).unwrap();
    assert_eq!(plan.seeds, Some(3));
    assert_eq!(plan.runs.len(), 6);
    let one = make_plan(&PlanRequest {
        seeds: 1,
        ..req.clone()
    })
    .unwrap();
    for (i, point) in one.runs.iter().enumerate() {
        for k in 0..3 {
            let r = &plan.runs[3 * i + k];
            assert_eq!(r.name, format!("{}-s{k}", point.name));
            assert_eq!(r.seed, 7 + k as u64);
            assert_eq!(r.shape(), point.shape());
            assert_eq!((r.tokens, r.lr), (point.tokens, point.lr));
            assert_eq!(r.est_seconds, point.est_seconds);
        }
    }
    assert_eq!(plan, make_plan(&req).unwrap(), "deterministic");
    let e = make_plan(&PlanRequest { seeds: 0, ..req })
        .unwrap_err()
        .to_string();
    assert!(e.contains("--seeds"), "{e}");
}

#[test]
fn unknown_architectures_are_refused_at_plan_time() {
    let d = data();
    let req = PlanRequest {
        arch: "gpt3".into(),
        ..request(&d.path().join("data"), &[1e12], None)
    };
    let e = make_plan(&req).unwrap_err().to_string();
    assert!(
        e.contains("gpt3") && e.contains("\"gpt2\", \"llama\""),
        "{e}"
    );
    // ... and in an edited sweep.toml.
    let plan = make_plan(&PlanRequest {
        arch: "gpt2".into(),
        sizes: 2,
        ..req
    })
    .unwrap();
    let dir = SweepDir::create(&d.path().join("sweep"), &plan, false).unwrap();
    let text = std::fs::read_to_string(dir.plan_path()).unwrap();
    std::fs::write(
        dir.plan_path(),
        text.replacen("arch = \"gpt2\"", "arch = \"gpt3\"", 1),
    )
    .unwrap();
    let e = dir.plan().unwrap_err().to_string();
    assert!(e.contains("arch = \"gpt3\"") && e.contains("gpt2"), "{e}");
}

#[test]
fn llama_plans_count_n_through_the_llama_spec_and_train_it() {
    let d = data();
    let base = request(&d.path().join("data"), &[1e12], None);
    let gpt2 = make_plan(&PlanRequest {
        sizes: 2,
        ..base.clone()
    })
    .unwrap();
    let llama = make_plan(&PlanRequest {
        arch: "llama".into(),
        sizes: 2,
        ..base
    })
    .unwrap();
    for r in &llama.runs {
        assert_eq!(r.arch, "llama");
        let shape = r.shape();
        assert_eq!(shape.arch, ladder_model::Arch::Llama);
        let cfg = ladder_model::ModelConfig {
            arch: ladder_model::Arch::Llama,
            norm: ladder_model::NormKind::RmsNorm,
            ..shape.model(1)
        };
        assert_eq!(r.n_params(), cfg.n_params_non_embedding(), "{}", r.name);
        assert!((r.compute() / r.budget - 1.0).abs() <= 0.01);
        assert!(llama
            .train_sets(r)
            .contains(&"model.arch=llama".to_string()));
    }
    assert!(gpt2.runs.iter().all(|r| !gpt2
        .train_sets(r)
        .iter()
        .any(|s| s.starts_with("model.arch"))));
}

/// A sweep.toml as version 1 wrote it: no family, lr rule, arch, lr, warm-up or params.
const V1_PLAN: &str = r#"# A ladder sweep plan (docs/sweep.md).
format = "ladder-sweep-plan"
version = 1
data = "/data/synth"
preset = "tiny"
set = ["train.batch_size=8", "eval.every=0"]

# N = 3312 non-embedding, D = 100352 tokens, C = 6ND = 1.994e9, est. 1s
[[run]]
name = "c2e9-n0.0033M"
budget = 2e9
n_layer = 1
n_embd = 16
n_head = 1
tokens = 100352
seed = 0
set = ["train.lr=1e-3"]
est_seconds = 0.6
"#;

#[test]
fn version_1_plans_load_unchanged_and_typed_params_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("sweep.toml");
    std::fs::write(&p, V1_PLAN).unwrap();
    let old = Plan::load(&p).unwrap();
    assert_eq!((old.version, old.family.as_deref()), (1, None));
    let r = &old.runs[0];
    assert_eq!(
        (r.arch.as_str(), r.lr, r.warmup_steps),
        ("gpt2", None, None)
    );
    assert!(r.params.is_empty());
    // The same `ladder train --set` list as version 1 built: finished runs keep their identity.
    assert_eq!(
        old.train_sets(r),
        [
            "train.batch_size=8",
            "eval.every=0",
            "model.n_layer=1",
            "model.n_embd=16",
            "model.n_head=1",
            "train.tokens=100352",
            "train.seed=0",
            "train.lr=1e-3",
        ]
    );
    // Saved again it still loads to the same plan.
    std::fs::write(&p, old.to_toml()).unwrap();
    assert_eq!(Plan::load(&p).unwrap(), old);

    // Typed params: numbers, strings and booleans, applied as type-checked config overrides.
    let mut plan = old.clone();
    plan.version = 2;
    let run = &mut plan.runs[0];
    run.params
        .insert("train.lr".into(), toml::Value::Float(2.5e-3));
    run.params
        .insert("train.schedule".into(), toml::Value::String("wsd".into()));
    run.params
        .insert("eval.every".into(), toml::Value::Integer(7));
    std::fs::write(&p, plan.to_toml()).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(
        text.contains("[run.params]\n\"eval.every\" = 7\n"),
        "{text}"
    );
    let back = Plan::load(&p).unwrap();
    assert_eq!(back, plan);
    let cfg = back.run_config(&back.runs[0]).unwrap();
    assert_eq!(cfg.train.schedule, ladder_train::config::ScheduleKind::Wsd);
    assert_eq!(cfg.eval.every, 7);
    // The run's own `set` comes last: it still wins over params.
    assert_eq!(cfg.train.lr, 1e-3);

    // A param the config does not know, or of the wrong type, is refused when the plan loads.
    for (bad, want) in [
        ("\"train.nope\" = 1", "nope"),
        ("\"eval.every\" = \"often\"", "eval.every"),
        ("\"eval.every\" = [1, 2]", "numbers, strings or booleans"),
    ] {
        let t = text.replace("\"eval.every\" = 7", bad);
        std::fs::write(&p, t).unwrap();
        let e = Plan::load(&p).unwrap_err().to_string();
        assert!(
            e.contains(want) && e.contains("c2e9-n0.0033M"),
            "{bad}: {e}"
        );
    }
}
