//! `ladder quickstart`: the main job end to end on built-in data, no downloads. Synthesize the
//! source (known entropy), plan and run a small IsoFLOP ladder, fit the Chinchilla and IsoFLOP
//! laws, predict the loss of a run with 4× the ladder's largest compute at its compute-optimal
//! size, train that run, and compare prediction (with its interval) and outcome; also the fitted
//! irreducible loss E against the source's true entropy. Every step is resumable: run it again
//! and finished parts (the data, done runs) are reused.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use ladder_data::{Meta, NoProgress, SynthConfig};
use ladder_laws::predict::{self, Estimate};
use ladder_laws::{FitFile, FitOptions, FitRequest, LawKind};
use ladder_sweep::plan::{fmt_budget, fmt_duration, Plan};
use ladder_sweep::{Estimate as TimeEstimate, PlanRequest, RunOptions, SweepDir};
use serde::Serialize;

use super::sweep::{execute, finish_report, plan_table};

/// Ladder sizes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeArg {
    /// About a minute on 2 cores: tests and smoke runs (the fit is loose).
    Tiny,
    /// Under 10 minutes on 2 cores: 3 budgets × 4 sizes, then a 4× larger run.
    Small,
    /// About half an hour on 2 cores: 3 larger budgets × 5 sizes.
    Medium,
}

/// Arguments of `ladder quickstart`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Writes into --out: data/ (the synthetic source), sweep/ (the ladder: sweep.toml, runs/, logs/),
fit-chinchilla.json and fit-isoflop.json, target/ (the predicted run) and quickstart.json (the
prediction, the outcome and the fitted E against the true entropy). Re-running continues where it
stopped. See docs/quickstart.md.

Examples:
  cargo run --release -- quickstart
  ladder quickstart --size tiny --out /tmp/qs")]
pub struct QuickstartArgs {
    /// Output directory.
    #[arg(long, default_value = "ladder-quickstart", value_name = "DIR")]
    pub out: PathBuf,
    /// Ladder size.
    #[arg(long, value_enum, default_value = "small")]
    pub size: SizeArg,
    /// Runs at once (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Bootstrap replicates of the fits.
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Print only the final comparison.
    #[arg(long)]
    pub quiet: bool,
    /// Training seed of every run (ladder and predicted run) and of the fits' bootstrap. The
    /// synthetic source stays the same (its seed defines the data and the true entropy), so
    /// seeds measure how much a prediction moves with initialisation and data order alone.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Override a knob of the synthetic source (the names of `ladder data synth --help`, with
    /// `_`: rules, zipf_a, alphabet, order_min, order_max, branching, ...). Repeatable.
    #[arg(long = "synth", value_name = "KEY=VALUE")]
    pub synth: Vec<String>,
}

/// The settings of one size.
struct Recipe {
    synth_tokens: u64,
    budgets: Vec<f64>,
    sizes: usize,
    /// Sizes centred on N = sqrt(C / (6 · tokens_per_param)), spanning `span`; or a fixed range.
    tokens_per_param: f64,
    span: f64,
    n_range: Option<(f64, f64)>,
    sets: Vec<String>,
    /// The predicted run's compute ÷ the largest budget.
    factor: f64,
}

fn recipe(size: SizeArg) -> Recipe {
    // Batch 8 × 64, one evaluation at the end, no per-layer statistics: the ladder's runs are
    // many and short, and only their final validation loss enters the fits.
    let mut sets: Vec<String> = [
        "train.batch_size=8",
        "eval.every=0",
        "log.layer_stats_every=0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    match size {
        SizeArg::Tiny => {
            sets.push("eval.tokens=16384".into());
            // A smoke test: the final evaluation on 128 Ki tokens, not the whole 1 Mi split.
            sets.push("eval.final_tokens=131072".into());
            sets.push("train.warmup_steps=10".into());
            Recipe {
                synth_tokens: 4_000_000,
                budgets: vec![1e10, 2e10, 4e10],
                sizes: 4,
                tokens_per_param: 100.0,
                span: 16.0,
                n_range: Some((3.3e3, 4e4)),
                sets,
                factor: 4.0,
            }
        }
        // On the quickstart source the compute-optimal D/N is about 110–120 at these budgets
        // (vertices at N ≈ 8.6e3 and 1.2e4 for C = 5e10 and 1e11); each budget's 4 sizes centre
        // on D/N = 60 and span 12×. A 16× span keeps the largest budget's vertex inside its
        // sizes on the depth-1 family's coarse widths, but adds runs at D/N ≈ 3000 and 3 that the
        // law fits worse (χ²/dof 15 against 3.4, α's interval 0.38 wide against 0.14; measured,
        // docs/quickstart.md). About 4 CPU-minutes.
        SizeArg::Small => Recipe {
            synth_tokens: 20_000_000,
            budgets: vec![5e10, 1e11, 2e11],
            sizes: 4,
            tokens_per_param: 60.0,
            span: 12.0,
            n_range: None,
            sets,
            factor: 4.0,
        },
        SizeArg::Medium => Recipe {
            synth_tokens: 50_000_000,
            budgets: vec![2e11, 6e11, 2e12],
            sizes: 5,
            tokens_per_param: 60.0,
            span: 16.0,
            n_range: None,
            sets,
            factor: 4.0,
        },
    }
}

/// The quickstart's synthetic source: the default one with order-1 rules only, and 1024 of them.
///
/// The default source is made for models of 0.1M–10M non-embedding parameters (its order-2 and
/// order-3 rules have 1K and 32K contexts each). The quickstart's models have 3e3–1e5: there one
/// order-2 rule's table is a large share of a model's capacity, learning comes in chunks, and the
/// loss does not follow one power law across the ladder and its 4× extrapolation (measured, seed 0:
/// the prediction 4.85 % above the actual loss). With order-1 rules (32 contexts each) a rule
/// costs little capacity, many rules are learned across the ladder, and the Zipf tail of
/// unlearned rules gives the power law the laws assume (prediction 0.32 % off). More rules keep
/// the tail long enough for the largest run. docs/quickstart.md has both measurements.
fn quickstart_source(train_tokens: u64) -> SynthConfig {
    SynthConfig {
        train_tokens,
        order_max: 1,
        rules: 1024,
        ..SynthConfig::default()
    }
}

/// `base` with `KEY=VALUE` overrides of its knobs, checked like `ladder data synth`'s.
fn synth_config(base: SynthConfig, sets: &[String]) -> anyhow::Result<SynthConfig> {
    let mut knobs = match serde_json::to_value(&base)? {
        serde_json::Value::Object(m) => m,
        _ => anyhow::bail!("the synthetic source's knobs are not a table"),
    };
    for set in sets {
        let Some((key, value)) = set.split_once('=') else {
            anyhow::bail!("--synth {set:?}: expected KEY=VALUE, e.g. --synth rules=1024");
        };
        let key = key.trim().replace('-', "_");
        if !knobs.contains_key(&key) {
            let names: Vec<&str> = knobs.keys().map(String::as_str).collect();
            anyhow::bail!(
                "--synth {set:?}: no knob {key:?}; the knobs are {}",
                names.join(", ")
            );
        }
        let value = serde_json::from_str(value.trim())
            .with_context(|| format!("--synth {set:?}: {value:?} is not a number"))?;
        knobs.insert(key, value);
    }
    let synth: SynthConfig = serde_json::from_value(serde_json::Value::Object(knobs))
        .context("--synth: a knob has the wrong type (see ladder data synth --help)")?;
    synth.validate().context("--synth")?;
    Ok(synth)
}

/// quickstart.json.
#[derive(Serialize)]
#[allow(non_snake_case)]
struct Outcome {
    size: String,
    seed: u64,
    budgets: Vec<f64>,
    runs: usize,
    target: Target,
    E: Option<Est>,
    alpha: Option<Est>,
    beta: Option<Est>,
    entropy_nats_per_token: Option<f64>,
    isoflop_a: Option<Est>,
    /// Chinchilla residuals against the measured noise (weighted fits only).
    chi2_dof: Option<f64>,
    backtests: Vec<BacktestBrief>,
    wall_s: f64,
}

/// One law's backtest in quickstart.json (the whole table is `ladder backtest`'s).
#[derive(Serialize)]
struct BacktestBrief {
    law: String,
    holdout_top: usize,
    inside: usize,
    with_interval: usize,
    /// Largest |error| in percent of the truth over the held-out best-loss checks.
    best_loss_max_abs_error_pct: Option<f64>,
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct Target {
    name: String,
    C: f64,
    N: u64,
    D: u64,
    N_opt: Est,
    predicted_loss: Est,
    /// Half-width of the 95 % prediction interval in percent of the predicted loss.
    ci95_halfwidth_pct: Option<f64>,
    /// Final validation loss on the whole val split (eval.final_tokens), with its standard error.
    actual_loss: Option<f64>,
    actual_loss_se: Option<f64>,
    actual_val_tokens: Option<u64>,
    /// (actual - predicted) / actual, in percent.
    error_pct: Option<f64>,
    inside_ci95: Option<bool>,
}

#[derive(Serialize, Clone, Copy)]
struct Est {
    value: f64,
    ci95: Option<[f64; 2]>,
}

impl Est {
    /// A fitted parameter with its interval.
    fn param(f: &FitFile, name: &str) -> Option<Est> {
        f.param(name).map(|value| Est {
            value,
            ci95: f.ci95.get(name).map(|i| i.0),
        })
    }

    /// Width of the 95 % interval.
    fn width(&self) -> Option<f64> {
        self.ci95.map(|[lo, hi]| hi - lo)
    }
}

impl From<&Estimate> for Est {
    fn from(e: &Estimate) -> Self {
        Est {
            value: e.value,
            ci95: e.ci95,
        }
    }
}

fn fmt_est(e: &Est) -> String {
    match e.ci95 {
        Some([lo, hi]) => format!("{:.4} (95 % interval {lo:.4} .. {hi:.4})", e.value),
        None => format!("{:.4} (no interval)", e.value),
    }
}

pub fn run(a: QuickstartArgs) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let r = recipe(a.size);
    let say = |msg: String| {
        if !a.quiet {
            eprintln!("{msg}");
        }
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = a.jobs.unwrap_or(cores).max(1);

    // 1. The synthetic source (kept when an earlier quickstart wrote the same one).
    let data = a.out.join("data");
    let synth = synth_config(quickstart_source(r.synth_tokens), &a.synth)?;
    let meta = match Meta::load(&data) {
        Ok(m) if m.synth.as_ref().is_some_and(|s| s.config == synth) => {
            say(format!("== 1. synthetic data: reusing {}", data.display()));
            m
        }
        _ => {
            say(format!(
                "== 1. synthetic data: {} train tokens -> {}",
                r.synth_tokens,
                data.display()
            ));
            ladder_data::synth::write_synth(&synth, &data, true, &NoProgress)?
        }
    };
    let entropy = meta.entropy_nats_per_token;

    // 2. Plan and run the ladder.
    let sweep = a.out.join("sweep");
    // The shape family and lr rule are `sweep plan`'s defaults (docs/sweep.md).
    let req = PlanRequest {
        sizes: r.sizes,
        preset: "tiny".into(),
        sets: r.sets.clone(),
        tokens_per_param: r.tokens_per_param,
        span: r.span,
        n_range: r.n_range,
        estimate: TimeEstimate::Measure { threads: 1 },
        seed: a.seed,
        ..PlanRequest::new(data.clone(), r.budgets.clone())
    };
    let plan = ladder_sweep::make_plan(&req)?;
    // Replacing the plan keeps finished runs whose entries are unchanged: a re-run resumes.
    SweepDir::create(&sweep, &plan, true)?;
    say(format!(
        "== 2. IsoFLOP ladder: {} budgets × {} sizes, {jobs} at a time -> {}",
        r.budgets.len(),
        r.sizes,
        sweep.display()
    ));
    if !a.quiet {
        eprint!("{}", plan_table(&plan));
    }
    let exe = std::env::current_exe().context("locating the ladder binary for the child runs")?;
    let opts = RunOptions {
        exe: exe.clone(),
        jobs,
        threads_per_job: 1,
        retries: 1,
        retry_failed: true,
        retrain_unreadable: false,
        inject: vec![],
    };
    let report = execute(&sweep, &opts, None, a.quiet)?;
    finish_report(&report, &sweep, true)?;

    // 3. The fits.
    say("== 3. fitting the Chinchilla law L = E + A/N^alpha + B/D^beta and the IsoFLOP law".into());
    super::fit::init_threads(0);
    let fit = |law: LawKind, file: &str| -> anyhow::Result<(FitFile, PathBuf)> {
        let req = FitRequest {
            law,
            inputs: vec![sweep.clone()],
            x: None,
            y: None,
            curve_loss: "loss".into(),
            options: FitOptions::default()
                .with_bootstrap(a.bootstrap)?
                .with_seed(a.seed),
        };
        let f = ladder_laws::fit(&req).with_context(|| format!("fitting {}", law.name()))?;
        let path = a.out.join(file);
        f.save(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        if !a.quiet {
            eprint!("{}", ladder_laws::report::fit_table(&f));
        }
        Ok((f, path))
    };
    let (chin, chin_path) = fit(LawKind::Chinchilla, "fit-chinchilla.json")?;
    let iso = fit(LawKind::Isoflop, "fit-isoflop.json");
    if let Err(e) = &iso {
        say(format!(
            "ladder: warning: no IsoFLOP fit ({e:#}); the Chinchilla law picks the size"
        ));
    }

    // 3b. Backtests: each law refitted without the largest budget must predict it.
    let backtests = if r.budgets.len() >= 3 {
        run_backtests(&sweep, a.bootstrap, a.seed, a.quiet)
    } else {
        Vec::new()
    };

    // 4. Predict a run with `factor` × the largest budget at its compute-optimal size.
    let max_budget = r.budgets.iter().copied().fold(0.0, f64::max);
    let c_target = r.factor * max_budget;
    let alloc = match &iso {
        Ok((f, _)) => predict::allocation(f, c_target)?,
        Err(_) => predict::allocation(&chin, c_target)?,
    };
    let n_opt = alloc.n_opt.value;
    // The predicted run is drawn from the ladder's family, with the ladder's lr rule, so the law
    // fitted on the ladder applies to it.
    let shape = req.family.nearest(n_opt);
    let n = shape.n_params();
    let name = format!("target-c{}-n{:.3}M", fmt_budget(c_target), n as f64 / 1e6);
    let target_run = req.rules()?.run(name.clone(), c_target, shape, a.seed);
    let d = target_run.tokens;
    let predicted = predict::loss(&chin, n as f64, d as f64)?;
    say(format!(
        "== 4. prediction for C = {c_target:.2e} (4× the largest budget): N_opt = {:.0} -> shape {}×{} (N = {n}), D = {d}: loss {}",
        n_opt,
        shape.n_layer,
        shape.n_embd,
        fmt_est(&(&predicted).into())
    ));

    // 5. Train it (a one-run sweep, so it resumes like the ladder), on every core.
    let target_dir = a.out.join("target");
    let target_plan = Plan {
        seeds: None,
        runs: vec![target_run],
        ..plan.clone()
    };
    SweepDir::create(&target_dir, &target_plan, true)?;
    say(format!(
        "== 5. training the predicted run on {cores} threads -> {}",
        target_dir.join("runs").join(&name).display()
    ));
    let report = execute(
        &target_dir,
        &RunOptions {
            exe,
            jobs: 1,
            threads_per_job: cores,
            retries: 1,
            retry_failed: true,
            retrain_unreadable: false,
            inject: vec![],
        },
        None,
        a.quiet,
    )?;
    finish_report(&report, &target_dir, true)?;
    let summary = ladder_train::fsutil::read_json::<ladder_train::metrics::Summary>(
        &target_dir.join("runs").join(&name).join("summary.json"),
    )
    .ok();
    let actual = summary
        .as_ref()
        .and_then(|s| s.final_val_loss)
        .map(f64::from);

    // 6. The verdict.
    let e_fit = Est::param(&chin, "E");
    let inside = match (actual, predicted.ci95) {
        (Some(x), Some([lo, hi])) => Some(x >= lo && x <= hi),
        _ => None,
    };
    let outcome = Outcome {
        size: format!("{:?}", a.size).to_lowercase(),
        seed: a.seed,
        budgets: r.budgets.clone(),
        runs: plan.runs.len(),
        target: Target {
            name: name.clone(),
            C: c_target,
            N: n,
            D: d,
            N_opt: (&alloc.n_opt).into(),
            predicted_loss: (&predicted).into(),
            ci95_halfwidth_pct: predicted
                .ci95
                .map(|[lo, hi]| 50.0 * (hi - lo) / predicted.value),
            actual_loss: actual,
            actual_loss_se: summary.as_ref().and_then(|s| s.final_val_loss_se),
            actual_val_tokens: summary.as_ref().and_then(|s| s.final_val_tokens),
            error_pct: actual.map(|x| 100.0 * (x - predicted.value) / x),
            inside_ci95: inside,
        },
        E: e_fit,
        alpha: Est::param(&chin, "alpha"),
        beta: Est::param(&chin, "beta"),
        entropy_nats_per_token: entropy,
        isoflop_a: iso.as_ref().ok().and_then(|(f, _)| Est::param(f, "a")),
        chi2_dof: chin.residuals.chi2_dof,
        backtests,
        wall_s: t0.elapsed().as_secs_f64(),
    };
    let qs_path = a.out.join("quickstart.json");
    ladder_train::fsutil::write_json_atomic(&qs_path, &outcome)?;
    print!("{}", verdict(&outcome));

    // 7. The predicted run judged against the ladder's law, and the report of it all. Neither
    // changes the result above, so a failure here is reported, not fatal.
    let target_run = target_dir.join("runs").join(&name);
    let diagnosis = ladder_diagnose::diagnose(
        &target_run,
        &ladder_diagnose::DiagnoseOptions {
            law: Some(chin_path.clone()),
            reference: Some(sweep.clone()),
            ..Default::default()
        },
    )
    .map_err(anyhow::Error::from)
    .and_then(|d| {
        let json = serde_json::to_string_pretty(&d)? + "\n";
        ladder_train::fsutil::write_atomic(&target_run.join("diagnosis.json"), json.as_bytes())?;
        Ok(d)
    });
    match &diagnosis {
        Ok(d) => println!(
            "diagnosis of the predicted run: {}{}",
            d.verdict.as_str(),
            d.cause
                .map_or(String::new(), |c| format!(" ({})", c.as_str()))
        ),
        Err(e) => eprintln!("warning: the predicted run was not diagnosed: {e:#}"),
    }
    let report_path = a.out.join("report.html");
    let mut fits = vec![chin_path.clone()];
    if let Ok((_, p)) = &iso {
        fits.push(p.clone());
    }
    let report = ladder_report::write_report(
        &sweep,
        &report_path,
        &ladder_report::ReportOptions {
            title: Some("ladder quickstart".into()),
            fits,
            highlight: Vec::new(),
            diagnose: vec![target_run.clone()],
            bootstrap: a.bootstrap,
            seed: a.seed,
        },
    );
    if let Err(e) = &report {
        eprintln!("warning: the report was not written: {e}");
    }
    println!("where everything is:");
    println!("  data       {}", data.display());
    println!(
        "  ladder     {}  (ladder sweep status {})",
        sweep.display(),
        sweep.display()
    );
    println!("  fits       {}", chin_path.display());
    if let Ok((_, p)) = &iso {
        println!("             {}", p.display());
    }
    println!(
        "  prediction {}  (the run: {})",
        qs_path.display(),
        target_dir.join("runs").join(&name).display()
    );
    if report.is_ok() {
        println!("  report     {}", report_path.display());
    }
    println!("done in {}", fmt_duration(outcome.wall_s));
    Ok(())
}

/// The lines that answer "did the law predict the run, and did it find the entropy?".
fn verdict(o: &Outcome) -> String {
    let t = &o.target;
    let mut s = String::from("\n== result\n");
    s += &format!(
        "predicted run {} (N = {}, D = {}, C = {:.2e}, {}× the ladder's largest budget)\n",
        t.name,
        t.N,
        t.D,
        t.C,
        t.C / o.budgets.iter().copied().fold(0.0, f64::max)
    );
    s += &format!("  predicted val loss {}\n", fmt_est(&t.predicted_loss));
    match t.actual_loss {
        Some(x) => {
            let verdict = match t.inside_ci95 {
                Some(true) => "inside the interval",
                Some(false) => "OUTSIDE the interval",
                None => "no interval to compare",
            };
            let se = t
                .actual_loss_se
                .map_or(String::new(), |se| format!(" ± {se:.4}"));
            let tokens = t
                .actual_val_tokens
                .map_or(String::new(), |n| format!(" on {n} val tokens"));
            s += &format!(
                "  actual val loss    {x:.4}{se}{tokens} ({:+.4}, {:+.2} % from the prediction: {verdict})\n",
                x - t.predicted_loss.value,
                t.error_pct.unwrap_or(f64::NAN)
            );
        }
        None => s += "  actual val loss    n/a (the run has no final validation loss)\n",
    }
    if let Some(h) = t.ci95_halfwidth_pct {
        s += &format!("  95 % interval half-width {h:.2} % of the prediction\n");
    }
    for (name, e) in [
        ("alpha", &o.alpha),
        ("beta", &o.beta),
        ("IsoFLOP a", &o.isoflop_a),
    ] {
        if let Some(e) = e {
            s += &format!(
                "{name} = {} (interval width {})\n",
                fmt_est(e),
                e.width().map_or("n/a".into(), |w| format!("{w:.3}"))
            );
        }
    }
    if let Some(c) = o.chi2_dof {
        s += &format!("Chinchilla residuals: chi2/dof {c:.2} against the runs' measured noise\n");
    }
    for b in &o.backtests {
        s += &format!(
            "backtest {}: largest budget held out, {}/{} truths inside their 95 % intervals{}\n",
            b.law,
            b.inside,
            b.with_interval,
            b.best_loss_max_abs_error_pct
                .map_or(String::new(), |e| format!(", best-loss error {e:.2} %"))
        );
    }
    if let Some(e) = &o.E {
        s += &format!("fitted irreducible loss E = {}\n", fmt_est(e));
    }
    if let Some(h) = o.entropy_nats_per_token {
        s += &format!(
            "true entropy of the source  {h:.4} nats/token (no model can go below it{})\n",
            o.E.as_ref().map_or(String::new(), |e| format!(
                "; E - entropy = {:+.4}",
                e.value - h
            ))
        );
    }
    s
}

/// Backtests of both laws with the largest budget held out; a law that cannot be backtested is
/// reported and skipped (the quickstart's result does not depend on it).
fn run_backtests(
    sweep: &std::path::Path,
    bootstrap: usize,
    seed: u64,
    quiet: bool,
) -> Vec<BacktestBrief> {
    use ladder_laws::backtest;
    let points = match backtest::load_points(&[sweep.to_path_buf()]) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("warning: no backtest ({e})");
            return Vec::new();
        }
    };
    let opts = match FitOptions::default().with_bootstrap(bootstrap) {
        Ok(o) => o.with_seed(seed),
        Err(e) => {
            eprintln!("warning: no backtest ({e})");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (law, result) in backtest::largest_budget_held_out(&points, &opts) {
        match result {
            Ok(bt) => {
                if !quiet {
                    eprint!("{}", bt.table());
                }
                let worst = bt
                    .heldout
                    .iter()
                    .flat_map(|h| h.checks.iter())
                    .filter(|c| c.quantity == "best_loss")
                    .map(|c| c.error_pct.abs())
                    .fold(None, |m: Option<f64>, e| Some(m.map_or(e, |m| m.max(e))));
                out.push(BacktestBrief {
                    law: bt.law.clone(),
                    holdout_top: bt.holdout_top,
                    inside: bt.inside,
                    with_interval: bt.with_interval,
                    best_loss_max_abs_error_pct: worst,
                });
            }
            Err(e) => eprintln!("warning: no {} backtest ({e})", law.name()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn synth_overrides_set_knobs_and_name_bad_ones() {
        let c = synth_config(
            SynthConfig::default(),
            &sets(&["order-max=1", "rules=1024", "zipf_a=0.7"]),
        )
        .unwrap();
        assert_eq!((c.order_max, c.rules, c.zipf_a), (1, 1024, 0.7));
        let err = |s: &[&str]| {
            format!(
                "{:#}",
                synth_config(SynthConfig::default(), &sets(s)).unwrap_err()
            )
        };
        let e = err(&["rulez=3"]);
        assert!(
            e.contains("no knob \"rulez\"") && e.contains("rules"),
            "{e}"
        );
        assert!(err(&["rules"]).contains("KEY=VALUE"));
        assert!(err(&["rules=many"]).contains("not a number"));
        let e = err(&["order_max=7"]);
        assert!(e.contains("order_max"), "{e}");
    }
}
