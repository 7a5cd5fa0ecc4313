//! The roofline of a `ladder profile` (its `profile.json`): every op of a training step at its
//! arithmetic intensity (FLOP/byte, x) and achieved GFLOP/s (y), under this machine's two roofs
//! (the triad bandwidth's slope and the fp32 GEMM peak's flat line). Read from JSON so this crate
//! does not depend on the trainer; a report over a directory holding `profile.json` shows it.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::html::esc;
use crate::plot::{
    budget_colour, draw_mesh, log_ticks, pe, render, short, text, Draw, DrawResult, Figure, GRID,
    INK,
};

/// One op on the roofline.
#[derive(Clone, Debug)]
pub struct Point {
    /// `phase op (kernel)`.
    pub label: String,
    /// FLOP/byte.
    pub intensity: f64,
    /// Achieved GFLOP/s.
    pub gflops: f64,
    /// Share of the step.
    pub share: f64,
    /// `compute` or `bandwidth`.
    pub bound: String,
    /// Achieved / roof.
    pub of_roof: f64,
}

/// The figure's data.
#[derive(Clone, Debug)]
pub struct Roofline {
    /// GEMM peak, GFLOP/s.
    pub peak_gflops: f64,
    /// Triad bandwidth, GB/s.
    pub bandwidth_gbs: f64,
    /// The ops with FLOPs (zero-FLOP ops have no place on a log axis).
    pub points: Vec<Point>,
    /// A one-line description of the profiled model.
    pub what: String,
}

fn bad(path: &Path, message: &str) -> Error {
    Error::Json {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

impl Roofline {
    /// Reads the fields of a profile.json (as `ladder profile --out` writes it).
    pub fn from_json(v: &Value, path: &Path) -> Result<Roofline> {
        let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64);
        let peaks = v.get("peaks").ok_or_else(|| bad(path, "no `peaks`"))?;
        let peak_gflops =
            num(peaks, "gemm_gflops").ok_or_else(|| bad(path, "no peaks.gemm_gflops"))?;
        let bandwidth_gbs =
            num(peaks, "triad_gbs").ok_or_else(|| bad(path, "no peaks.triad_gbs"))?;
        let ops = v
            .get("ops")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(path, "no `ops` array"))?;
        let points = ops
            .iter()
            .filter_map(|o| {
                let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("");
                Some(Point {
                    label: format!("{} {} ({})", s("phase"), s("op"), s("kernel")),
                    intensity: num(o, "intensity")?,
                    gflops: num(o, "gflops")?,
                    share: num(o, "share")?,
                    bound: s("bound").to_string(),
                    of_roof: num(o, "of_roof")?,
                })
            })
            .filter(|p| p.intensity > 0.0 && p.gflops > 0.0)
            .collect();
        let m = v.get("model");
        let g = |k: &str| {
            m.and_then(|m| m.get(k))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        let what = format!(
            "{} layers × {} wide, batch {} × seq {}, {} threads",
            g("n_layer"),
            g("n_embd"),
            v.get("batch").and_then(Value::as_u64).unwrap_or(0),
            v.get("seq_len").and_then(Value::as_u64).unwrap_or(0),
            v.get("threads").and_then(Value::as_u64).unwrap_or(0)
        );
        Ok(Roofline {
            peak_gflops,
            bandwidth_gbs,
            points,
            what,
        })
    }

    /// The figure (SVG + PNG).
    pub fn figure(&self) -> Result<Figure> {
        let mut rows = String::new();
        let mut pts = self.points.clone();
        pts.sort_by(|a, b| b.share.total_cmp(&a.share));
        for p in pts.iter().take(8) {
            rows.push_str(&format!(
                "<tr><td>{}</td><td>{:.1} %</td><td>{:.2}</td><td>{:.2}</td><td>{}</td><td>{:.0} %</td></tr>",
                esc(&p.label),
                100.0 * p.share,
                p.intensity,
                p.gflops,
                esc(&p.bound),
                100.0 * p.of_roof
            ));
        }
        render(
            "roofline",
            "Where a training step's time goes (roofline)",
            format!(
                "Each op of a training step ({}) at its arithmetic intensity (FLOPs per compulsory \
                 byte) and achieved GFLOP/s; dot area ∝ share of the step. The roofs are this \
                 machine's measured fp32 GEMM peak ({:.1} GFLOP/s) and triad bandwidth ({:.1} GB/s), \
                 meeting at {:.1} FLOP/byte: ops left of it are bandwidth-bound, right of it \
                 compute-bound; the gap to the roof is the time an op could still save \
                 (docs/profile.md).<table><tr><th>op (largest shares)</th><th>share</th>\
                 <th>FLOP/B</th><th>GFLOP/s</th><th>bound</th><th>of roof</th></tr>{rows}</table>",
                esc(&self.what),
                self.peak_gflops,
                self.bandwidth_gbs,
                self.peak_gflops / self.bandwidth_gbs
            ),
            (900, 600),
            self,
        )
    }
}

impl Draw for Roofline {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let ridge = self.peak_gflops / self.bandwidth_gbs;
        let lo_i = self
            .points
            .iter()
            .map(|p| p.intensity)
            .fold(ridge / 10.0, f64::min)
            / 2.0;
        let hi_i = self
            .points
            .iter()
            .map(|p| p.intensity)
            .fold(ridge * 10.0, f64::max)
            * 2.0;
        let lo_g = self
            .points
            .iter()
            .map(|p| p.gflops)
            .fold(lo_i * self.bandwidth_gbs, f64::min)
            / 2.0;
        let hi_g = self.peak_gflops * 2.0;
        let mut chart = ChartBuilder::on(root)
            .caption("Roofline", text(19))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (lo_i..hi_i)
                    .log_scale()
                    .with_key_points(log_ticks(lo_i, hi_i)),
                (lo_g..hi_g)
                    .log_scale()
                    .with_key_points(log_ticks(lo_g, hi_g)),
            )
            .map_err(pe)?;
        draw_mesh(
            &mut chart,
            ("arithmetic intensity, FLOP/byte", "achieved GFLOP/s"),
            (short, short),
            13,
        )?;
        let roof: Vec<(f64, f64)> = [lo_i, ridge, hi_i]
            .iter()
            .map(|&i| (i, self.peak_gflops.min(i * self.bandwidth_gbs)))
            .collect();
        chart
            .draw_series(LineSeries::new(roof, INK.stroke_width(2)))
            .map_err(pe)?
            .label(format!(
                "roof: min({:.1} GFLOP/s, {:.1} GB/s × intensity)",
                self.peak_gflops, self.bandwidth_gbs
            ))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], INK.stroke_width(2)));
        for (k, bound) in ["compute", "bandwidth"].iter().enumerate() {
            let colour = budget_colour(k);
            let mine: Vec<&Point> = self.points.iter().filter(|p| p.bound == *bound).collect();
            if mine.is_empty() {
                continue;
            }
            chart
                .draw_series(mine.iter().map(|p| {
                    let r = (3.0 + 30.0 * p.share.sqrt()).round() as i32;
                    Circle::new((p.intensity, p.gflops), r, colour.mix(0.6).filled())
                }))
                .map_err(pe)?
                .label(format!("{bound}-bound ops"))
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, colour.filled()));
        }
        // Name the ops that take the most time.
        let mut big: Vec<&Point> = self.points.iter().collect();
        big.sort_by(|a, b| b.share.total_cmp(&a.share));
        for p in big.iter().take(6) {
            let name = p.label.split(" (").next().unwrap_or(&p.label).to_string();
            chart
                .draw_series(std::iter::once(Text::new(
                    name,
                    (p.intensity * 1.15, p.gflops),
                    text(11),
                )))
                .map_err(pe)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font(text(13))
            .draw()
            .map_err(pe)
    }
}

/// The roofline of `dir/profile.json`, if the file exists.
pub fn from_dir(dir: &Path) -> Result<Option<Figure>> {
    let path = dir.join("profile.json");
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| bad(&path, &e.to_string()))?;
    Ok(Some(Roofline::from_json(&v, &path)?.figure()?))
}

/// Writes `roofline.svg` and `roofline.png` into `dir` from a profile's JSON value.
pub fn write_figures(dir: &Path, profile: &Value) -> Result<()> {
    crate::font::ensure_font()?;
    let fig = Roofline::from_json(profile, &dir.join("profile.json"))?.figure()?;
    crate::write_atomic(&dir.join("roofline.svg"), fig.svg.as_bytes())?;
    crate::write_atomic(&dir.join("roofline.png"), &fig.png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roofline_figure_from_profile_json() {
        let v = serde_json::json!({
            "model": {"n_layer": 2, "n_embd": 32},
            "batch": 2, "seq_len": 16, "threads": 1,
            "peaks": {"gemm_gflops": 50.0, "triad_gbs": 10.0},
            "ops": [
                {"phase": "fwd", "op": "qkv", "kernel": "matmul_forward", "intensity": 20.0,
                 "gflops": 30.0, "share": 0.3, "bound": "compute", "of_roof": 0.6},
                {"phase": "fwd", "op": "norm1", "kernel": "layernorm_forward", "intensity": 0.9,
                 "gflops": 2.0, "share": 0.05, "bound": "bandwidth", "of_roof": 0.22},
                {"phase": "step", "op": "zero_grad", "kernel": "fill", "intensity": 0.0,
                 "gflops": 0.0, "share": 0.01, "bound": "bandwidth", "of_roof": 0.0}
            ]
        });
        crate::font::ensure_font().unwrap();
        let r = Roofline::from_json(&v, Path::new("profile.json")).unwrap();
        assert_eq!(r.points.len(), 2, "zero-FLOP ops are left off the log axes");
        let f = r.figure().unwrap();
        assert!(f.svg.contains("<svg") && f.png.starts_with(&[0x89, b'P', b'N', b'G']));
        assert!(f.caption.contains("fwd qkv"));
        let missing = serde_json::json!({"ops": []});
        assert!(Roofline::from_json(&missing, Path::new("p.json")).is_err());
    }
}
