//! The plan of a sweep (`sweep.toml`): which runs to train, each with a deterministic name, seed,
//! model shape and token count; and [`make_plan`], which lays out an IsoFLOP grid.
//!
//! An IsoFLOP grid (Hoffmann et al. 2022, Approach 2) trains, for each compute budget C, several
//! model sizes N with D = C / (6N) tokens each, so every budget's losses trace a parabola in ln N
//! whose vertex is the compute-optimal size. `C = 6·N·D` is Kaplan's convention with N the
//! non-embedding parameters (DESIGN §2), exactly what `ladder train` writes to summary.json.
//!
//! The file is written with comments for people and read back strictly (`format`, `version`,
//! unknown keys are errors). It is the editable plan: every command re-reads it, and a run whose
//! entry changes after it finished is trained again (see [`crate::state`]).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use ladder_train::{Config, Preset};
use serde::{Deserialize, Serialize};

use crate::error::{io, Error, Result};
use crate::grid::{Axis, Grid};
use crate::lr::{LrPlan, LrRule};
use crate::shapes::{Family, Shape};

/// `format` of sweep.toml.
pub const PLAN_FORMAT: &str = "ladder-sweep-plan";
/// `version` of sweep.toml this build writes. Version 2 added the shape family, the learning-rate
/// rule, seeds, and per run `arch`, `lr`, `warmup_steps` and `[run.params]`; version 1 files
/// (which have none of them) still load and keep their meaning.
pub const PLAN_VERSION: u32 = 2;
/// The versions of sweep.toml this build reads.
pub const PLAN_VERSIONS_READ: [u32; 2] = [1, 2];
/// The default architecture of a plan (`model.arch`).
pub const TRAINABLE_ARCH: &str = "gpt2";
/// Every architecture `ladder train` can train.
pub const TRAINABLE_ARCHS: [&str; 2] = ["gpt2", "llama"];
/// Checkpoints a sweep run writes over its steps when the plan's config sets no
/// `checkpoint.every` (see [`checkpoint_every`]).
pub const CHECKPOINTS_PER_RUN: u64 = 10;

/// sweep.toml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// [`PLAN_FORMAT`].
    pub format: String,
    /// [`PLAN_VERSION`] (or 1 for an older file).
    pub version: u32,
    /// The data directory every run trains on (absolute when written by `sweep plan`).
    pub data: String,
    /// The `ladder train --preset` every run starts from.
    pub preset: String,
    /// The shape family every run is drawn from (`depth:L` or `aspect:R`, see [`Family`]);
    /// absent in version 1 plans, whose shapes were mixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// How each run's `lr` and `warmup_steps` were set (`width` or `fixed`, see [`LrRule`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_rule: Option<String>,
    /// The rule's reference rate (`--lr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_ref: Option<f64>,
    /// Seeds per point (runs of the same budget and shape that differ only by `train.seed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<usize>,
    /// The hyper-parameter grid every (budget, size) was expanded over (`--grid`, as given);
    /// each run holds its grid values in `[run.params]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<String>,
    /// `--set` overrides for every run, applied before each run's own keys.
    #[serde(default)]
    pub set: Vec<String>,
    /// The runs, in plan order.
    #[serde(default, rename = "run")]
    pub runs: Vec<RunSpec>,
}

fn default_arch() -> String {
    TRAINABLE_ARCH.to_string()
}

/// One `[[run]]` of sweep.toml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Unique name; also the run directory `runs/<name>/` (letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// The compute budget this run belongs to (FLOPs, 6·N·D); groups the IsoFLOP parabolas.
    pub budget: f64,
    /// Model architecture (`model.arch`: `gpt2` or `llama`).
    #[serde(default = "default_arch")]
    pub arch: String,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Channels.
    pub n_embd: usize,
    /// Attention heads.
    pub n_head: usize,
    /// Training tokens (`train.tokens`).
    pub tokens: u64,
    /// `train.seed`.
    pub seed: u64,
    /// Peak learning rate (`train.lr`), from the plan's rule; absent = the config's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Warm-up steps (`train.warmup_steps`), from the plan's rule; absent = the config's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_steps: Option<u64>,
    /// Extra `--set` overrides of this run, applied last (free-form, as in version 1 plans).
    #[serde(default)]
    pub set: Vec<String>,
    /// Estimated wall time with one job's threads (for the ETA only).
    #[serde(default)]
    pub est_seconds: Option<f64>,
    /// Typed config overrides (`"train.lr" = 3e-3`, `"train.schedule" = "wsd"`): the keys of a
    /// hyper-parameter grid, applied after the shape, tokens, seed, lr and warm-up.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, toml::Value>,
}

impl RunSpec {
    /// The model shape (in the run's architecture; an unknown name counts as GPT-2 and is
    /// refused by [`Plan::validate`]).
    pub fn shape(&self) -> Shape {
        Shape {
            n_layer: self.n_layer,
            n_embd: self.n_embd,
            n_head: self.n_head,
            arch: parse_arch(&self.arch).unwrap_or_default(),
        }
    }

    /// Kaplan's N of the shape (what summary.json will say).
    pub fn n_params(&self) -> u64 {
        self.shape().n_params()
    }

    /// 6·N·D of the plan.
    pub fn compute(&self) -> f64 {
        6.0 * self.n_params() as f64 * self.tokens as f64
    }

    /// `[run.params]` as `--set KEY=VALUE` arguments, each value a TOML literal (`0.003`,
    /// `"wsd"`, `true`) that `ladder train` type-checks against the key.
    pub fn param_sets(&self) -> Vec<String> {
        self.params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }
}

/// How often a sweep run of `steps` optimizer steps checkpoints when the plan's config does not
/// say: [`CHECKPOINTS_PER_RUN`] times over the run, so a retry or a re-submitted job that resumes
/// (`ladder train --resume`) redoes at most a tenth of the run.
pub fn checkpoint_every(steps: u64) -> u64 {
    steps.div_ceil(CHECKPOINTS_PER_RUN).max(1)
}

impl Plan {
    /// The `--set` arguments of `ladder train` for `run`, in order: the plan's, the shape, tokens
    /// and seed, lr and warm-up, the run's `params`, then its `set`.
    pub fn train_sets(&self, run: &RunSpec) -> Vec<String> {
        let mut sets = self.set.clone();
        if run.arch != TRAINABLE_ARCH {
            sets.push(format!("model.arch={}", run.arch));
        }
        sets.push(format!("model.n_layer={}", run.n_layer));
        sets.push(format!("model.n_embd={}", run.n_embd));
        sets.push(format!("model.n_head={}", run.n_head));
        sets.push(format!("train.tokens={}", run.tokens));
        sets.push(format!("train.seed={}", run.seed));
        if let Some(lr) = run.lr {
            sets.push(format!("train.lr={lr}"));
        }
        if let Some(w) = run.warmup_steps {
            sets.push(format!("train.warmup_steps={w}"));
        }
        sets.extend(run.param_sets());
        sets.extend(run.set.iter().cloned());
        sets
    }

    /// The config `ladder train` resolves for `run` (before the data fills in the vocabulary).
    pub fn run_config(&self, run: &RunSpec) -> Result<Config> {
        let preset: Preset = self.preset.parse()?;
        Ok(Config::resolve(Some(preset), None, &self.train_sets(run))?)
    }

    /// The run named `name`.
    pub fn run(&self, name: &str) -> Option<&RunSpec> {
        self.runs.iter().find(|r| r.name == name)
    }

    /// The plan's shape family (`None` for a version 1 plan).
    pub fn family(&self) -> Option<Family> {
        self.family.as_deref().and_then(|f| f.parse().ok())
    }

    /// Reads and checks sweep.toml (version 1 or 2).
    pub fn load(path: &Path) -> Result<Plan> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let plan: Plan = toml::from_str(&text).map_err(|e| Error::PlanParse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        if plan.format != PLAN_FORMAT || !PLAN_VERSIONS_READ.contains(&plan.version) {
            return Err(Error::BadFormat {
                path: path.to_path_buf(),
                found: plan.format,
                version: plan.version,
                expected: PLAN_FORMAT,
                want: PLAN_VERSION,
            });
        }
        plan.check(path)?;
        Ok(plan)
    }

    /// Names unique and usable as directory names, tokens positive, a trainable architecture,
    /// shapes of the plan's family, a positive lr, and `params` whose keys and types the config
    /// accepts. Values `ladder train` checks itself (a bad `--set`) are left to it: such a run
    /// fails, is retried and reported.
    fn check(&self, path: &Path) -> Result<()> {
        let bad = |run: &str, message: String| Error::PlanInvalid {
            path: path.to_path_buf(),
            run: run.to_string(),
            message,
        };
        let family = match &self.family {
            None => None,
            Some(f) => Some(
                f.parse::<Family>()
                    .map_err(|e| bad("", format!("family = {e}")))?,
            ),
        };
        let mut seen = HashSet::new();
        for r in &self.runs {
            let ok = !r.name.is_empty()
                && !r.name.starts_with('.')
                && r.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                return Err(bad(
                    &r.name,
                    "names may hold only letters, digits, '.', '_' and '-' (and not start with '.')"
                        .into(),
                ));
            }
            if !seen.insert(r.name.as_str()) {
                return Err(bad(&r.name, "two runs have this name; rename one".into()));
            }
            if r.tokens == 0 {
                return Err(bad(
                    &r.name,
                    "tokens = 0; give the run a positive token count".into(),
                ));
            }
            check_arch(&r.arch).map_err(|m| bad(&r.name, m))?;
            if let Some(f) = family {
                if !f.contains(&r.shape()) {
                    return Err(bad(
                        &r.name,
                        format!(
                            "shape {} × {} with {} heads is not in the plan's family {f} (heads are                              {} channels wide); pick a shape of the family or change `family`",
                            r.n_layer,
                            r.n_embd,
                            r.n_head,
                            crate::shapes::HEAD_DIM
                        ),
                    ));
                }
            }
            if let Some(lr) = r.lr {
                if !(lr > 0.0 && lr.is_finite()) {
                    return Err(bad(
                        &r.name,
                        format!("lr = {lr}: must be a positive number"),
                    ));
                }
            }
            for (k, v) in &r.params {
                if !matches!(
                    v,
                    toml::Value::Float(_)
                        | toml::Value::Integer(_)
                        | toml::Value::String(_)
                        | toml::Value::Boolean(_)
                ) {
                    return Err(bad(
                        &r.name,
                        format!(
                            "params.{k:?} = {v}: values are numbers, strings or booleans, e.g.                              \"train.lr\" = 3e-3"
                        ),
                    ));
                }
            }
            if !r.params.is_empty() {
                let preset: Preset = self.preset.parse()?;
                Config::resolve(Some(preset), None, &r.param_sets())
                    .map_err(|e| bad(&r.name, format!("[run.params]: {e}")))?;
            }
        }
        Ok(())
    }

    /// sweep.toml as text, with comments that show each run's shape, N, D and C.
    pub fn to_toml(&self) -> String {
        let q = |s: &str| toml::Value::String(s.to_string()).to_string();
        let list = |v: &[String]| {
            let items: Vec<String> = v.iter().map(|s| q(s)).collect();
            format!("[{}]", items.join(", "))
        };
        let mut t = String::new();
        t += "# A ladder sweep plan (docs/sweep.md). Every `ladder sweep` command re-reads this file:\n";
        t += "# edit it (add, remove or change runs) and re-run `ladder sweep run`. A run whose entry\n";
        t += "# changes after it finished is trained again; finished, unchanged runs never are.\n";
        t += &format!("format = {}\nversion = {}\n", q(&self.format), self.version);
        t += &format!("data = {}\npreset = {}\n", q(&self.data), q(&self.preset));
        if let Some(f) = &self.family {
            t += "# Every run's shape comes from this family: depth:L = L blocks, width scaled;\n";
            t += "# aspect:R = n_embd ≈ R·n_layer (L >= 2). Widths are multiples of 16, heads 16 wide.\n";
            t += &format!("family = {}\n", q(f));
        }
        if let Some(rule) = &self.lr_rule {
            t += &format!(
                "# Each run's lr and warm-up: width = lr_ref · {} / n_embd (µP-style for Adam), warm-up\n",
                crate::lr::D_REF
            );
            t += &format!(
                "# {} % of the run's steps within {}..{}; fixed = lr_ref and the config's warm-up for all.\n",
                100.0 * crate::lr::WARMUP_FRACTION,
                crate::lr::WARMUP_MIN,
                crate::lr::WARMUP_MAX
            );
            t += &format!("lr_rule = {}\n", q(rule));
        }
        if let Some(lr) = self.lr_ref {
            t += &format!("lr_ref = {}\n", fmt_float(lr));
        }
        if let Some(k) = self.seeds {
            t += "# Runs per (budget, shape): named <point>-s<k> with train.seed = seed + k when > 1.\n";
            t += &format!("seeds = {k}\n");
        }
        if let Some(g) = &self.grid {
            t += "# Hyper-parameter grid (name=lo:hi:count, log-spaced): one run per grid point of each\n";
            t += "# budget and size, its values in [run.params], its steps set so it spends its budget.\n";
            t += &format!("grid = {}\n", q(g));
        }
        t += "# `ladder train --set` overrides for every run, before each run's own keys.\n";
        t += &format!("set = {}\n", list(&self.set));
        for r in &self.runs {
            let est = r
                .est_seconds
                .map_or(String::new(), |s| format!(", est. {}", fmt_duration(s)));
            t += &format!(
                "\n# {} × {} ({} heads): N = {} non-embedding, D = {} tokens, C = 6ND = {:.3e}{est}\n",
                r.n_layer,
                r.n_embd,
                r.n_head,
                r.n_params(),
                r.tokens,
                r.compute()
            );
            t += "[[run]]\n";
            t += &format!("name = {}\n", q(&r.name));
            t += &format!("budget = {}\n", fmt_float(r.budget));
            if self.version >= 2 || r.arch != TRAINABLE_ARCH {
                t += &format!("arch = {}\n", q(&r.arch));
            }
            t += &format!(
                "n_layer = {}\nn_embd = {}\nn_head = {}\n",
                r.n_layer, r.n_embd, r.n_head
            );
            t += &format!("tokens = {}\nseed = {}\n", r.tokens, r.seed);
            if let Some(lr) = r.lr {
                t += &format!("lr = {}\n", fmt_float(lr));
            }
            if let Some(w) = r.warmup_steps {
                t += &format!("warmup_steps = {w}\n");
            }
            t += &format!("set = {}\n", list(&r.set));
            if let Some(s) = r.est_seconds {
                t += &format!("est_seconds = {}\n", fmt_float(s));
            }
            if !r.params.is_empty() {
                t += "[run.params]\n";
                for (k, v) in &r.params {
                    t += &format!("{} = {v}\n", q(k));
                }
            }
        }
        t
    }
}

/// The architecture called `name` in configs.
fn parse_arch(name: &str) -> Option<ladder_model::Arch> {
    use ladder_model::Arch;
    [Arch::Gpt2, Arch::Llama]
        .into_iter()
        .find(|a| a.name() == name)
}

/// Refuses an architecture `ladder train` cannot train.
fn check_arch(arch: &str) -> std::result::Result<(), String> {
    match parse_arch(arch) {
        Some(_) => Ok(()),
        None => Err(format!(
            "arch = {arch:?} is not trainable in this build; use one of {TRAINABLE_ARCHS:?}"
        )),
    }
}

/// A float as TOML writes it and a person reads it: `3e12`, `2.5e12`, `0.5`, `130.0`.
fn fmt_float(x: f64) -> String {
    if x != 0.0 && (x.abs() >= 1e6 || x.abs() < 1e-3) {
        let s = format!("{x:e}");
        s.replace("e+", "e")
    } else if x.fract() == 0.0 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// `1m05s`, `42s`, `1h02m`.
pub fn fmt_duration(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// A budget in run names: `3e12`, `2.5e12`.
pub fn fmt_budget(c: f64) -> String {
    let e = c.log10().floor() as i32;
    let m = c / 10f64.powi(e);
    let m = (m * 10.0).round() / 10.0;
    let (m, e) = if m >= 10.0 { (m / 10.0, e + 1) } else { (m, e) };
    if m.fract() == 0.0 {
        format!("{}e{e}", m as u64)
    } else {
        format!("{m:.1}e{e}")
    }
}

/// N in run names, in millions with `digits` significant digits: `0.41M`, `0.013M`, `1.2M`.
fn fmt_n(n: u64, digits: usize) -> String {
    let m = n as f64 / 1e6;
    let mag = m.log10().floor() as i64;
    let decimals = (digits as i64 - 1 - mag).max(0) as usize;
    format!("{m:.decimals$}M")
}

/// How `sweep plan` estimates run times.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Estimate {
    /// Time a few training steps of every distinct shape with this many threads.
    Measure {
        /// Threads per job.
        threads: usize,
    },
    /// Assume this training rate (GFLOP/s of `train_flops_per_token`) for every run.
    Gflops(f64),
}

/// What `ladder sweep plan` asks for.
#[derive(Clone, Debug)]
pub struct PlanRequest {
    /// Data directory (its meta.json gives the vocabulary).
    pub data: PathBuf,
    /// Compute budgets (FLOPs, 6·N·D).
    pub budgets: Vec<f64>,
    /// Model sizes per budget.
    pub sizes: usize,
    /// `ladder train` preset the runs start from.
    pub preset: String,
    /// `--set` overrides for every run.
    pub sets: Vec<String>,
    /// Without `n_range`: each budget's sizes centre on N = sqrt(C / (6·r)) with this r = D/N.
    pub tokens_per_param: f64,
    /// Without `n_range`: largest / smallest N of each budget.
    pub span: f64,
    /// The same N range (min, max) for every budget instead of a centred one.
    pub n_range: Option<(f64, f64)>,
    /// `train.seed` of every run's first seed: all points then see the data in the same order, so
    /// differences between points come from N and D alone.
    pub seed: u64,
    /// Seeds per point: K > 1 makes K runs `<point>-s<k>` with `train.seed = seed + k`.
    pub seeds: usize,
    /// The shape family every run is drawn from.
    pub family: Family,
    /// How each run's lr and warm-up are set.
    pub lr_rule: LrRule,
    /// The rule's reference rate; `None` = the base config's `train.lr`.
    pub lr: Option<f64>,
    /// Warm-up as a fraction of each run's steps (width rule).
    pub warmup_fraction: f64,
    /// `model.arch` of every run (`gpt2` or `llama`; N is counted through its spec).
    pub arch: String,
    /// How to estimate run times.
    pub estimate: Estimate,
    /// A hyper-parameter grid: every (budget, size) becomes one run per grid point.
    pub grid: Option<Grid>,
    /// Per budget `(C, N)`: centre that budget's sizes on this N (the compute-optimal size of a
    /// fitted law) instead of `tokens_per_param`; with one size it is the size.
    pub centres: Option<Vec<(f64, f64)>>,
}

fn invalid(name: &'static str, value: impl ToString, rule: &'static str) -> Error {
    Error::InvalidOption {
        name,
        value: value.to_string(),
        rule,
    }
}

impl PlanRequest {
    /// A request with the defaults of `ladder sweep plan` for everything but the data and
    /// budgets.
    pub fn new(data: PathBuf, budgets: Vec<f64>) -> PlanRequest {
        PlanRequest {
            data,
            budgets,
            sizes: 5,
            preset: "tiny".into(),
            sets: vec![],
            tokens_per_param: 20.0,
            span: 16.0,
            n_range: None,
            seed: 0,
            seeds: 1,
            family: crate::shapes::DEFAULT_FAMILY,
            lr_rule: LrRule::Width,
            lr: None,
            warmup_fraction: crate::lr::WARMUP_FRACTION,
            arch: TRAINABLE_ARCH.into(),
            estimate: Estimate::Measure { threads: 1 },
            grid: None,
            centres: None,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.budgets.is_empty() {
            return Err(invalid(
                "--budgets",
                "",
                "give at least one budget, e.g. 3e12,1e13",
            ));
        }
        for &c in &self.budgets {
            if !(c > 0.0 && c.is_finite()) {
                return Err(invalid("--budgets", c, "budgets are FLOPs > 0, e.g. 3e12"));
            }
        }
        if self.sizes == 0 || self.sizes > 32 {
            return Err(invalid(
                "--sizes",
                self.sizes,
                "between 1 and 32 sizes per budget",
            ));
        }
        if self.seeds == 0 || self.seeds > 100 {
            return Err(invalid(
                "--seeds",
                self.seeds,
                "between 1 and 100 seeds per point",
            ));
        }
        if !(self.tokens_per_param > 0.0 && self.tokens_per_param.is_finite()) {
            return Err(invalid(
                "--tokens-per-param",
                self.tokens_per_param,
                "must be > 0",
            ));
        }
        if !(self.span >= 1.0 && self.span.is_finite()) {
            return Err(invalid(
                "--span",
                self.span,
                "the ratio largest/smallest N must be >= 1",
            ));
        }
        if let Some((lo, hi)) = self.n_range {
            if !(lo > 0.0 && hi >= lo && hi.is_finite()) {
                return Err(invalid(
                    "--n-range",
                    format!("{lo}:{hi}"),
                    "give MIN:MAX with 0 < MIN <= MAX, e.g. 2e4:1e6",
                ));
            }
        }
        if let Some(lr) = self.lr {
            if !(lr > 0.0 && lr.is_finite()) {
                return Err(invalid(
                    "--lr",
                    lr,
                    "the reference learning rate must be > 0",
                ));
            }
        }
        if !(self.warmup_fraction > 0.0 && self.warmup_fraction <= 0.5) {
            return Err(invalid(
                "--warmup-frac",
                self.warmup_fraction,
                "a fraction of each run's steps in (0, 0.5], e.g. 0.05",
            ));
        }
        if let Err(rule) = check_arch(&self.arch) {
            return Err(Error::InvalidArch {
                arch: self.arch.clone(),
                rule,
            });
        }
        if let Estimate::Gflops(g) = self.estimate {
            if !(g > 0.0 && g.is_finite()) {
                return Err(invalid("--est-gflops", g, "must be > 0"));
            }
        }
        if let Some(cs) = &self.centres {
            if self.n_range.is_some() {
                return Err(invalid(
                    "--n-range",
                    "with a fit",
                    "give either --n-range or the fit whose optimal N centres the sizes, not both",
                ));
            }
            if let Some(&(c, n)) = cs.iter().find(|(_, n)| !(*n > 0.0 && n.is_finite())) {
                return Err(invalid(
                    "fit",
                    format!("N_opt = {n} at C = {c:e}"),
                    "the fit gives no positive optimal N at this budget; check the fit or give --n-range",
                ));
            }
        }
        Ok(())
    }

    /// The centre of budget `c`'s sizes: the given N for it, else N = sqrt(C / (6·r)).
    fn centre(&self, c: f64) -> Result<f64> {
        match &self.centres {
            None => Ok((c / (6.0 * self.tokens_per_param)).sqrt()),
            Some(cs) => cs
                .iter()
                .find(|(b, _)| ((b / c).ln()).abs() < 1e-9)
                .map(|&(_, n)| n)
                .ok_or_else(|| {
                    invalid(
                        "--budgets",
                        c,
                        "no optimal N was given for this budget (internal: centres and budgets differ)",
                    )
                }),
        }
    }

    /// The target sizes of budget `c`, log-spaced.
    fn targets(&self, c: f64) -> Result<Vec<f64>> {
        let (lo, hi) = match self.n_range {
            Some(r) => r,
            None => {
                let centre = self.centre(c)?;
                (centre / self.span.sqrt(), centre * self.span.sqrt())
            }
        };
        if self.sizes == 1 {
            return Ok(vec![(lo * hi).sqrt()]);
        }
        Ok(crate::grid::log_spaced(lo, hi, self.sizes))
    }

    /// The rules that turn a (budget, shape) into a run of this request.
    pub fn rules(&self) -> Result<RunRules> {
        let preset: Preset = self.preset.parse()?;
        let base = Config::resolve(Some(preset), None, &self.sets)?;
        Ok(RunRules {
            lr: LrPlan {
                rule: self.lr_rule,
                lr_ref: self.lr.unwrap_or(base.train.lr),
                warmup_fraction: self.warmup_fraction,
                base_warmup: base.train.warmup_steps,
            },
            tokens_per_step: base.train.tokens_per_step(),
            batch_size: base.train.batch_size,
            // The plan's config asks for no periodic checkpoints: give each run its own cadence.
            checkpoints: base.checkpoint.every == 0,
            arch: self.arch.clone(),
        })
    }
}

/// How a plan makes one run from a budget and a shape: tokens in whole optimizer steps, lr and
/// warm-up by the rule, the checkpoint cadence, the architecture.
#[derive(Clone, Debug)]
pub struct RunRules {
    /// The learning-rate rule with its constants.
    pub lr: LrPlan,
    /// Tokens per optimizer step of the plan's config.
    pub tokens_per_step: u64,
    /// Sequences per micro-batch of the plan's config (`train.batch_size`).
    pub batch_size: usize,
    /// Whether each run gets `"checkpoint.every"` = [`checkpoint_every`] in its params.
    pub checkpoints: bool,
    /// `model.arch`.
    pub arch: String,
}

impl RunRules {
    /// The run `name` of `shape` with D ≈ `c` / (6N) rounded to whole optimizer steps.
    pub fn run(&self, name: String, c: f64, shape: Shape, seed: u64) -> RunSpec {
        self.run_with(name, c, shape, seed, self.tokens_per_step)
    }

    /// As [`RunRules::run`] for a run whose optimizer step takes `tokens_per_step` tokens (a
    /// grid point with its own batch size): its steps are set so it still spends `c`.
    pub fn run_with(
        &self,
        name: String,
        c: f64,
        shape: Shape,
        seed: u64,
        tokens_per_step: u64,
    ) -> RunSpec {
        let n = shape.n_params() as f64;
        let steps = (c / (6.0 * n) / tokens_per_step as f64).round().max(1.0) as u64;
        let mut params = BTreeMap::new();
        if self.checkpoints {
            params.insert(
                "checkpoint.every".to_string(),
                toml::Value::Integer(checkpoint_every(steps) as i64),
            );
        }
        RunSpec {
            name,
            budget: c,
            arch: self.arch.clone(),
            n_layer: shape.n_layer,
            n_embd: shape.n_embd,
            n_head: shape.n_head,
            tokens: steps * tokens_per_step,
            seed,
            lr: Some(self.lr.lr(shape.n_embd)),
            warmup_steps: Some(self.lr.warmup(steps)),
            set: vec![],
            est_seconds: None,
            params,
        }
    }
}

/// Lays out the IsoFLOP grid of `req`: for every budget, `sizes` distinct shapes of the request's
/// family near log-spaced targets, tokens rounded to whole optimizer steps (so the trained D is
/// the planned D), C = 6ND within 1 % of the budget, lr and warm-up by the rule, `seeds` runs per
/// point. Every run's config is resolved and validated.
pub fn make_plan(req: &PlanRequest) -> Result<Plan> {
    req.validate()?;
    let meta = ladder_data::Meta::load(&req.data)?;
    let data = std::fs::canonicalize(&req.data).map_err(io(&req.data))?;
    let rules = req.rules()?;
    let mut budgets = req.budgets.clone();
    budgets.sort_by(f64::total_cmp);
    budgets.dedup();
    let mut plan = Plan {
        format: PLAN_FORMAT.into(),
        version: PLAN_VERSION,
        data: data.to_string_lossy().into_owned(),
        preset: req.preset.clone(),
        family: Some(req.family.to_string()),
        lr_rule: Some(req.lr_rule.to_string()),
        lr_ref: Some(rules.lr.lr_ref),
        seeds: Some(req.seeds),
        grid: req.grid.as_ref().map(|g| g.to_string()),
        set: req.sets.clone(),
        runs: vec![],
    };
    let arch = parse_arch(&req.arch).unwrap_or_default();
    for &c in &budgets {
        let mut taken: Vec<Shape> = Vec::new();
        for target in req.targets(c)? {
            let shape = req
                .family
                .shape_for_arch(arch, target, &taken)
                .ok_or_else(|| {
                    let (min, max) = req.family.range_of(arch);
                    Error::NoShape {
                        target,
                        family: req.family.to_string(),
                        min,
                        max,
                    }
                })?;
            taken.push(shape);
        }
        taken.sort_by_key(|s| s.n_params());
        for shape in taken {
            let name = format!("c{}-n{}", fmt_budget(c), fmt_n(shape.n_params(), 2));
            plan.runs.push(rules.run(name, c, shape, req.seed));
        }
    }
    unique_names(&mut plan);
    if let Some(grid) = &req.grid {
        plan.runs = plan
            .runs
            .iter()
            .flat_map(|point| grid_runs(&rules, grid, point))
            .collect();
    }
    for run in &plan.runs {
        if (run.compute() / run.budget - 1.0).abs() > 0.01 {
            return Err(Error::BudgetTooSmall {
                budget: run.budget,
                name: run.name.clone(),
                tokens: run.tokens,
                tokens_per_step: run_tokens_per_step(&rules, run),
            });
        }
    }
    if req.seeds > 1 {
        plan.runs = plan
            .runs
            .iter()
            .flat_map(|point| {
                (0..req.seeds).map(move |k| RunSpec {
                    name: format!("{}-s{k}", point.name),
                    seed: point.seed + k as u64,
                    ..point.clone()
                })
            })
            .collect();
    }
    for r in &plan.runs {
        let mut cfg = plan.run_config(r)?;
        cfg.model.vocab_size = meta.vocab_size;
        cfg.validate()?;
        cfg.model_config()
            .validate()
            .map_err(ladder_train::Error::from)?;
    }
    estimate_times(&mut plan, meta.vocab_size, req.estimate)?;
    Ok(plan)
}

/// The runs of one (budget, shape) point for every grid point: named `<point>-lr…-b…-w…`, the
/// grid's values in `[run.params]` (replacing the lr rule's `lr` and warm-up where the grid sets
/// them), steps set for the point's batch so each run spends the budget.
fn grid_runs(rules: &RunRules, grid: &Grid, point: &RunSpec) -> Vec<RunSpec> {
    grid.points()
        .into_iter()
        .map(|values| {
            let mut name = point.name.clone();
            let mut tokens_per_step = rules.tokens_per_step;
            for &(axis, v) in &values {
                name = format!("{name}-{}", axis.label(v));
                if axis == Axis::Batch {
                    tokens_per_step = rules.tokens_per_step / rules.batch_size as u64 * v as u64;
                }
            }
            let mut run = rules.run_with(
                name,
                point.budget,
                point.shape(),
                point.seed,
                tokens_per_step,
            );
            for &(axis, v) in &values {
                match axis {
                    Axis::Lr => run.lr = None,
                    Axis::Warmup => run.warmup_steps = None,
                    Axis::Batch => {}
                }
                run.params.insert(axis.key().to_string(), axis.toml(v));
            }
            run
        })
        .collect()
}

/// Tokens per optimizer step of a planned run (its grid batch, else the plan's).
fn run_tokens_per_step(rules: &RunRules, run: &RunSpec) -> u64 {
    match run.params.get(Axis::Batch.key()) {
        Some(toml::Value::Integer(b)) => {
            rules.tokens_per_step / rules.batch_size as u64 * (*b).max(1) as u64
        }
        _ => rules.tokens_per_step,
    }
}

/// Two shapes whose N rounds to the same name get more decimals, then the depth.
fn unique_names(plan: &mut Plan) {
    for digits in 3..=6 {
        let mut seen = HashSet::new();
        let dup: HashSet<String> = plan
            .runs
            .iter()
            .filter(|r| !seen.insert(r.name.clone()))
            .map(|r| r.name.clone())
            .collect();
        if dup.is_empty() {
            return;
        }
        for r in plan.runs.iter_mut().filter(|r| dup.contains(&r.name)) {
            r.name = format!("c{}-n{}", fmt_budget(r.budget), fmt_n(r.n_params(), digits));
        }
    }
    for r in &mut plan.runs {
        r.name = format!("{}-L{}", r.name, r.n_layer);
    }
}

/// Training FLOPs of a run including its evaluations (forward only, a third of a training token).
fn run_flops(plan: &Plan, run: &RunSpec, vocab: usize) -> Result<f64> {
    let cfg = plan.run_config(run)?;
    let mut model = run.shape().model(vocab);
    model.block_size = cfg.model.block_size;
    let per_token = model.train_flops_per_token(cfg.train.seq_len);
    let steps = run.tokens.div_ceil(cfg.train.tokens_per_step());
    let evals = match cfg.eval.every {
        0 => 1,
        e => steps / e + 1,
    };
    Ok(per_token * (run.tokens as f64 + evals as f64 * cfg.eval.tokens as f64 / 3.0))
}

/// Fills `est_seconds` of every run: FLOPs ÷ a rate, measured per shape or given.
fn estimate_times(plan: &mut Plan, vocab: usize, how: Estimate) -> Result<()> {
    // Rates per (shape, micro-batch): a grid over batch sizes times each batch once.
    let mut rates: Vec<((Shape, usize), f64)> = Vec::new();
    for i in 0..plan.runs.len() {
        let run = plan.runs[i].clone();
        let flops = run_flops(plan, &run, vocab)?;
        let gflops = match how {
            Estimate::Gflops(g) => g,
            Estimate::Measure { threads } => {
                let cfg = plan.run_config(&run)?;
                let key = (run.shape(), cfg.train.batch_size);
                match rates.iter().find(|(k, _)| *k == key) {
                    Some(&(_, g)) => g,
                    None => {
                        let mut model = run.shape().model(vocab);
                        model.block_size = cfg.model.block_size;
                        let rep = ladder_train::bench::bench(&ladder_train::bench::BenchOptions {
                            model,
                            batch: cfg.train.batch_size,
                            seq_len: cfg.train.seq_len,
                            steps: 4,
                            warmup: 2,
                            threads,
                            // Declared so no GEMM probe runs: only the step time is used.
                            peak_gflops: Some(1.0),
                        })?;
                        // The fastest step: on a busy machine the others measure the neighbours.
                        let g = rep.flops_per_token * (rep.batch * rep.seq_len) as f64
                            / (rep.min_ms * 1e-3)
                            / 1e9;
                        rates.push((key, g));
                        g
                    }
                }
            }
        };
        // Tenths of a second: what sweep.toml keeps, so a plan round-trips exactly.
        plan.runs[i].est_seconds = Some((flops / (gflops * 1e9) * 10.0).round() / 10.0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_and_sizes_format_for_names() {
        assert_eq!(fmt_budget(3e12), "3e12");
        assert_eq!(fmt_budget(1e13), "1e13");
        assert_eq!(fmt_budget(2.5e12), "2.5e12");
        assert_eq!(fmt_budget(9.99e12), "1e13");
        assert_eq!(fmt_n(410_112, 2), "0.41M");
        assert_eq!(fmt_n(12_768, 2), "0.013M");
        assert_eq!(fmt_n(1_779_840, 2), "1.8M");
        assert_eq!(fmt_n(12_345_678, 2), "12M");
        assert_eq!(fmt_float(3e12), "3e12");
        assert_eq!(fmt_float(130.0), "130.0");
        assert_eq!(fmt_duration(65.0), "1m05s");
    }

    #[test]
    fn targets_are_log_spaced_around_the_centre() {
        let req = PlanRequest {
            sizes: 3,
            ..PlanRequest::new(PathBuf::new(), vec![1.2e12])
        };
        // centre = sqrt(1.2e12 / 120) = 1e5; span 16 -> 2.5e4 .. 4e5.
        let t = req.targets(1.2e12).unwrap();
        let want = [2.5e4, 1e5, 4e5];
        for (a, b) in t.iter().zip(want) {
            assert!((a / b - 1.0).abs() < 1e-9, "{t:?}");
        }
    }
}
