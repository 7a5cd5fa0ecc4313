//! Hyper-parameter grids (`ladder sweep plan --grid lr=3e-4:3e-2:7,batch=8:64:4`).
//!
//! Each axis is `name=lo:hi:count`: `count` log-spaced values from `lo` to `hi` (learning rates
//! and batch sizes matter by their ratios, so a log grid puts the same number of points in every
//! octave). A plan with a grid trains, for every budget and model size, one run per grid point
//! (the Cartesian product of the axes); each run carries its values as typed `[run.params]`
//! keys, so `ladder fit --law hparams` reads them back from the resolved config.toml.
//!
//! Axes:
//! - `lr`: the peak learning rate `train.lr`, rounded to 3 significant digits;
//! - `batch`: sequences per micro-batch `train.batch_size`, rounded to whole sequences (the
//!   optimizer batch is `batch × train.grad_accum` sequences of `train.seq_len` tokens); each
//!   run's steps are set so it still spends its budget;
//! - `warmup`: warm-up steps `train.warmup_steps`, rounded to whole steps.

use std::fmt;
use std::str::FromStr;

use crate::lr::round_sig;

/// Most values on one axis (a 16 × 16 grid is already 256 runs per budget and size).
pub const MAX_VALUES: usize = 16;

/// A hyper-parameter a grid can vary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Axis {
    /// `train.lr`.
    Lr,
    /// `train.batch_size` (sequences per micro-batch).
    Batch,
    /// `train.warmup_steps`.
    Warmup,
}

impl Axis {
    const ALL: [Axis; 3] = [Axis::Lr, Axis::Batch, Axis::Warmup];

    /// The name in `--grid`.
    pub fn name(self) -> &'static str {
        match self {
            Axis::Lr => "lr",
            Axis::Batch => "batch",
            Axis::Warmup => "warmup",
        }
    }

    /// The config key the value goes to (`[run.params]`).
    pub fn key(self) -> &'static str {
        match self {
            Axis::Lr => "train.lr",
            Axis::Batch => "train.batch_size",
            Axis::Warmup => "train.warmup_steps",
        }
    }

    /// The tag in run names: `lr3e-4`, `b16`, `w100`.
    fn tag(self) -> &'static str {
        match self {
            Axis::Lr => "lr",
            Axis::Batch => "b",
            Axis::Warmup => "w",
        }
    }

    /// Whether values are whole numbers (batch, warm-up).
    fn integer(self) -> bool {
        !matches!(self, Axis::Lr)
    }

    /// The value as the typed TOML literal of its key.
    pub fn toml(self, v: f64) -> toml::Value {
        if self.integer() {
            toml::Value::Integer(v as i64)
        } else {
            toml::Value::Float(v)
        }
    }

    /// The value in a run name.
    pub fn label(self, v: f64) -> String {
        if self.integer() {
            format!("{}{}", self.tag(), v as u64)
        } else {
            format!("{}{}", self.tag(), fmt_sig(v))
        }
    }
}

/// One axis of a grid: its values, ascending.
#[derive(Clone, Debug, PartialEq)]
pub struct GridAxis {
    /// Which hyper-parameter.
    pub axis: Axis,
    /// The values, ascending and distinct.
    pub values: Vec<f64>,
}

/// A parsed `--grid`: its axes in the order given, and the text it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// The axes.
    pub axes: Vec<GridAxis>,
    spec: String,
}

impl Grid {
    /// Every grid point (the Cartesian product, first axis slowest), as (axis, value) pairs.
    pub fn points(&self) -> Vec<Vec<(Axis, f64)>> {
        let mut out: Vec<Vec<(Axis, f64)>> = vec![vec![]];
        for a in &self.axes {
            out = out
                .into_iter()
                .flat_map(|p| {
                    a.values.iter().map(move |&v| {
                        let mut q = p.clone();
                        q.push((a.axis, v));
                        q
                    })
                })
                .collect();
        }
        out
    }

    /// The axis `axis`, when the grid has it.
    pub fn axis(&self, axis: Axis) -> Option<&GridAxis> {
        self.axes.iter().find(|a| a.axis == axis)
    }
}

impl fmt::Display for Grid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec)
    }
}

/// `x` with up to 3 significant digits, trailing zeros dropped: `3e-4`, `6.46e-4`, `0.0139` →
/// `1.39e-2`.
fn fmt_sig(x: f64) -> String {
    let s = format!("{x:.2e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mant = mant.trim_end_matches('0').trim_end_matches('.');
    format!("{mant}e{exp}")
}

/// `count` values from `lo` to `hi`, evenly spaced in ln.
pub fn log_spaced(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    let k = (count - 1) as f64;
    (0..count)
        .map(|i| lo * (hi / lo).powf(i as f64 / k))
        .collect()
}

fn parse_axis(item: &str) -> Result<GridAxis, String> {
    let usage = "expected NAME=LO:HI:COUNT, e.g. lr=3e-4:3e-2:7";
    let (name, range) = item
        .split_once('=')
        .ok_or_else(|| format!("{item:?}: {usage}"))?;
    let name = name.trim();
    let axis = Axis::ALL
        .into_iter()
        .find(|a| a.name() == name)
        .ok_or_else(|| {
            format!(
                "{name:?} is not a grid axis; the axes are lr (train.lr), batch \
                 (train.batch_size, in sequences) and warmup (train.warmup_steps)"
            )
        })?;
    let parts: Vec<&str> = range.split(':').map(str::trim).collect();
    let [lo, hi, count] = parts[..] else {
        return Err(format!("{item:?}: {usage}"));
    };
    let num = |s: &str| -> Result<f64, String> {
        s.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{item:?}: {s:?} is not a number ({usage})"))
    };
    let (lo, hi) = (num(lo)?, num(hi)?);
    let count: usize = count
        .parse()
        .map_err(|_| format!("{item:?}: count {count:?} is not a whole number ({usage})"))?;
    if !(lo > 0.0 && hi > 0.0) {
        return Err(format!(
            "{item:?}: {name} values must be > 0 (a log-spaced grid), e.g. {name}={}",
            example(axis)
        ));
    }
    if count < 2 || hi <= lo {
        return Err(format!(
            "{item:?}: a grid axis needs at least 2 values with LO < HI, e.g. {name}={}; to \
             fix one value for every run use --set {}=VALUE",
            example(axis),
            axis.key()
        ));
    }
    if count > MAX_VALUES {
        return Err(format!(
            "{item:?}: at most {MAX_VALUES} values per axis (the runs multiply across axes)"
        ));
    }
    let mut values: Vec<f64> = log_spaced(lo, hi, count)
        .into_iter()
        .map(|v| {
            if axis.integer() {
                v.round()
            } else {
                round_sig(v, 3)
            }
        })
        .collect();
    if axis.integer() && values[0] < 1.0 {
        return Err(format!(
            "{item:?}: {name} is a whole number >= 1, e.g. {name}={}",
            example(axis)
        ));
    }
    let before = values.len();
    values.dedup();
    if values.len() < before {
        return Err(format!(
            "{item:?}: {before} values between {lo} and {hi} round to only {} distinct {name} \
             values; widen the range or lower the count",
            values.len()
        ));
    }
    Ok(GridAxis { axis, values })
}

fn example(axis: Axis) -> &'static str {
    match axis {
        Axis::Lr => "3e-4:3e-2:7",
        Axis::Batch => "8:64:4",
        Axis::Warmup => "10:200:3",
    }
}

impl FromStr for Grid {
    type Err = String;
    fn from_str(s: &str) -> Result<Grid, String> {
        let mut axes: Vec<GridAxis> = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let a = parse_axis(item)?;
            if axes.iter().any(|b| b.axis == a.axis) {
                return Err(format!("{} appears twice in the grid {s:?}", a.axis.name()));
            }
            axes.push(a);
        }
        if axes.is_empty() {
            return Err(format!(
                "{s:?}: give at least one axis, e.g. lr=3e-4:3e-2:7,batch=8:64:4"
            ));
        }
        Ok(Grid {
            axes,
            spec: s.trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_log_spaced_and_rounded() {
        let g: Grid = "lr=3e-4:3e-2:7, batch=8:64:4".parse().unwrap();
        assert_eq!(
            g.axis(Axis::Lr).unwrap().values,
            [3e-4, 6.46e-4, 1.39e-3, 3e-3, 6.46e-3, 1.39e-2, 3e-2]
        );
        assert_eq!(g.axis(Axis::Batch).unwrap().values, [8.0, 16.0, 32.0, 64.0]);
        let p = g.points();
        assert_eq!(p.len(), 28);
        assert_eq!(p[0], [(Axis::Lr, 3e-4), (Axis::Batch, 8.0)]);
        assert_eq!(p[5], [(Axis::Lr, 6.46e-4), (Axis::Batch, 16.0)]);
        assert_eq!(Axis::Lr.label(6.46e-4), "lr6.46e-4");
        assert_eq!(Axis::Lr.label(3e-3), "lr3e-3");
        assert_eq!(Axis::Batch.label(16.0), "b16");
        assert_eq!(Axis::Batch.toml(16.0), toml::Value::Integer(16));
        assert_eq!(g.to_string(), "lr=3e-4:3e-2:7, batch=8:64:4");
    }

    #[test]
    fn bad_grids_are_refused_with_the_fix() {
        for (spec, says) in [
            ("lr=3e-3:3e-3:1", "at least 2 values"),
            ("lr=3e-3:3e-2:1", "at least 2 values"),
            ("lr=-1e-3:3e-2:4", "must be > 0"),
            ("lr=3e-4:3e-2", "NAME=LO:HI:COUNT"),
            ("beta2=0.9:0.99:3", "not a grid axis"),
            ("lr=1e-3:1e-2:3,lr=1e-3:1e-2:3", "twice"),
            ("batch=8:9:4", "distinct"),
            ("lr=1e-3:x:3", "not a number"),
            ("lr=1e-3:1e-2:40", "at most"),
            ("", "at least one axis"),
        ] {
            let e = spec.parse::<Grid>().unwrap_err();
            assert!(e.contains(says), "{spec}: {e}");
        }
    }
}
