//! Drawing infrastructure shared by the figures: each figure is drawn once through plotters'
//! SVG backend (inline in the HTML and written as .svg) and once through its bitmap backend
//! (written as .png), from the same code; plus the palette, tick placement and number formats.

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::font::FAMILY;

/// The result type of drawing code: plotters' errors as text.
pub type DrawResult = std::result::Result<(), String>;

/// Turns any plotters error into text.
pub fn pe<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A figure that can draw itself on any plotters backend.
pub trait Draw {
    /// Draws on `root` (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult;
}

/// One rendered figure.
#[derive(Clone, Debug)]
pub struct Figure {
    /// File stem (`curves` → `curves.svg`, `curves.png`).
    pub stem: String,
    /// Heading in the report.
    pub title: String,
    /// What it shows (HTML).
    pub caption: String,
    /// Width and height in pixels.
    pub size: (u32, u32),
    /// The SVG document (with a viewBox so it scales).
    pub svg: String,
    /// The PNG file's bytes.
    pub png: Vec<u8>,
}

/// Draws `d` to SVG and PNG.
pub fn render(
    stem: &str,
    title: &str,
    caption: String,
    size: (u32, u32),
    d: &impl Draw,
) -> Result<Figure> {
    let err = |message: String| Error::Plot {
        figure: stem.to_string(),
        message,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(pe(e)))?;
        d.draw(&root).map_err(err)?;
        root.present().map_err(|e| err(pe(e)))?;
    }
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(pe(e)))?;
        d.draw(&root).map_err(err)?;
        root.present().map_err(|e| err(pe(e)))?;
    }
    let png = encode_png(&rgb, size).map_err(|e| err(e.to_string()))?;
    Ok(Figure {
        stem: stem.to_string(),
        title: title.to_string(),
        caption,
        size,
        svg: scalable(&svg, size),
        png,
    })
}

fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> std::result::Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Best);
        let mut wr = enc.write_header()?;
        wr.write_image_data(rgb)?;
    }
    Ok(out)
}

/// Adds a viewBox to plotters' `<svg width=.. height=..>` so CSS can scale it.
fn scalable(svg: &str, (w, h): (u32, u32)) -> String {
    if svg.contains("viewBox") {
        return svg.to_string();
    }
    svg.replacen("<svg ", &format!("<svg viewBox=\"0 0 {w} {h}\" "), 1)
}

/// Budget colours (Tableau 10 without its red, which marks highlighted runs), by increasing C.
const PALETTE: [(u8, u8, u8); 9] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (188, 189, 34),
    (23, 190, 207),
    (127, 127, 127),
];

/// Colour of budget `k`.
pub fn budget_colour(k: usize) -> RGBColor {
    let (r, g, b) = PALETTE[k % PALETTE.len()];
    RGBColor(r, g, b)
}

/// Highlighted and diagnosed runs.
pub const HIGHLIGHT: RGBColor = RGBColor(214, 39, 40);
/// Laws and reference lines.
pub const INK: RGBColor = RGBColor(40, 40, 40);
/// Grid lines.
pub const GRID: RGBColor = RGBColor(228, 228, 228);
/// Reference runs and context points.
pub const MUTED: RGBColor = RGBColor(170, 170, 170);

/// Text style of about `size` pixels. plotters writes SVG font sizes as `size / 1.24`, so in the
/// page (where the SVGs are shown) text is smaller than in the PNG; the factor splits the
/// difference so both read well.
pub fn text(size: u32) -> TextStyle<'static> {
    TextStyle::from((FAMILY, f64::from(size) * 1.15).into_font()).color(&INK)
}

/// Tick positions for a log axis over `[lo, hi]`: powers of ten when the range spans several
/// decades, 1-2-5 (or 1…9) multiples over one or two, plain linear steps inside one decade.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    const MAX: usize = 8;
    let (k0, k1) = (lo.log10().ceil() as i32, hi.log10().floor() as i32);
    let powers: Vec<f64> = (k0..=k1).map(|k| 10f64.powi(k)).collect();
    if powers.len() >= 3 {
        let stride = powers.len().div_ceil(MAX);
        return powers.into_iter().step_by(stride).collect();
    }
    let series = |mults: &[f64]| -> Vec<f64> {
        (k0 - 1..=k1 + 1)
            .flat_map(|k| mults.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
            .collect()
    };
    let s125 = series(&[1.0, 2.0, 5.0]);
    if s125.len() >= 3 {
        return s125;
    }
    // Inside about one decade: 1…9 multiples when they are few enough to stay legible.
    let s19 = series(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    if s19.len() >= 3 && s19.len() <= 7 {
        return s19;
    }
    if s19.len() > 7 {
        return series(&[1.0, 2.0, 3.0, 5.0]);
    }
    linear_ticks(lo, hi)
}

/// About five evenly spaced ticks at 1, 2, 2.5 or 5 × 10^k inside `[lo, hi]`.
pub fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut v = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while v <= hi + step * 1e-9 {
        // Snap to the step grid so labels print cleanly.
        out.push((v / step).round() * step);
        v += step;
    }
    out
}

/// `x` with up to three significant digits, trailing zeros trimmed (`2.5`, `12`, `0.031`).
pub fn short(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A count with an SI suffix: `950`, `1.2k`, `3.4M`, `2G`, `1.5T`.
pub fn si(x: f64) -> String {
    let a = x.abs();
    let (v, s) = if a >= 1e12 {
        (x / 1e12, "T")
    } else if a >= 1e9 {
        (x / 1e9, "G")
    } else if a >= 1e6 {
        (x / 1e6, "M")
    } else if a >= 1e3 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    format!("{}{s}", short(v))
}

/// FLOPs in scientific notation: `1e13`, `3e13`, `2.5e14`.
pub fn sci(x: f64) -> String {
    if x <= 0.0 || !x.is_finite() {
        return short(x);
    }
    let k = x.log10().floor() as i32;
    let m = x / 10f64.powi(k);
    // A mantissa that rounds to 10 belongs to the next power.
    if (m - 10.0).abs() < 5e-3 {
        return format!("1e{}", k + 1);
    }
    format!("{}e{k}", short(m))
}

/// The range of `v` widened by `pad` (a factor for log axes: lo/pad, hi·pad).
pub fn log_range(v: impl IntoIterator<Item = f64>, pad: f64) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in v.into_iter().filter(|x| x.is_finite() && *x > 0.0) {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    // No finite value (the folds left lo > hi, or a NaN).
    if hi
        .partial_cmp(&lo)
        .is_none_or(|o| o == std::cmp::Ordering::Less)
    {
        return None;
    }
    if hi / lo < 1.05 {
        // A single value: give the axis some room.
        return Some((lo / 1.5, hi * 1.5));
    }
    Some((lo / pad, hi * pad))
}

/// The range of `v` widened by `pad` of its span on each side.
pub fn lin_range(v: impl IntoIterator<Item = f64>, pad: f64) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in v.into_iter().filter(|x| x.is_finite()) {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    // No finite value (the folds left lo > hi, or a NaN).
    if hi
        .partial_cmp(&lo)
        .is_none_or(|o| o == std::cmp::Ordering::Less)
    {
        return None;
    }
    let span = (hi - lo).max(hi.abs() * 0.02).max(1e-9);
    Some((lo - pad * span, hi + pad * span))
}

/// `n` log-spaced values from `lo` to `hi`.
pub fn geomspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (lo.ln() + (hi.ln() - lo.ln()) * i as f64 / (n - 1).max(1) as f64).exp())
        .collect()
}

/// Axis ranges of a chart, to place its legend where the data is not.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    /// x range and whether the axis is logarithmic.
    pub x: (f64, f64, bool),
    /// y range and whether the axis is logarithmic.
    pub y: (f64, f64, bool),
}

impl Frame {
    fn unit(v: f64, (lo, hi, log): (f64, f64, bool)) -> f64 {
        if log {
            (v.ln() - lo.ln()) / (hi.ln() - lo.ln())
        } else {
            (v - lo) / (hi - lo)
        }
    }

    /// The legend corner that covers the fewest of `points` (data coordinates); ties go to
    /// upper right, upper left, lower left, lower right in that order.
    pub fn legend_corner(
        &self,
        points: impl IntoIterator<Item = (f64, f64)>,
    ) -> SeriesLabelPosition {
        let mut count = [0usize; 4];
        for (x, y) in points {
            let (u, v) = (Self::unit(x, self.x), Self::unit(y, self.y));
            // Points outside the axes are clipped away: they take no room.
            if !((0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v)) {
                continue;
            }
            // A legend box reaches past the middle: the halves overlap.
            let (right, left, top, bottom) = (u > 0.4, u < 0.6, v > 0.6, v < 0.4);
            count[0] += usize::from(right && top);
            count[1] += usize::from(left && top);
            count[2] += usize::from(left && bottom);
            count[3] += usize::from(right && bottom);
        }
        let best = (0..4).min_by_key(|&i| (count[i], i)).unwrap_or(0);
        [
            SeriesLabelPosition::UpperRight,
            SeriesLabelPosition::UpperLeft,
            SeriesLabelPosition::LowerLeft,
            SeriesLabelPosition::LowerRight,
        ][best]
            .clone()
    }
}

/// Writes `message` in the middle of `area` (a panel with nothing to plot).
pub fn empty_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, message: &str) -> DrawResult {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        message.to_string(),
        (w as i32 / 2, h as i32 / 2),
        text(15).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        )),
    ))
    .map_err(pe)
}

/// Turns a tick value into its label (`si`, `short`, `sci`).
pub type TickFormat = fn(f64) -> String;

/// The axes every figure draws: descriptions, tick labels through `fmt`, a light major grid, no
/// minor grid; axis descriptions two points above the `label_size` of the ticks.
pub fn draw_mesh<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    (x_desc, y_desc): (&str, &str),
    fmt: (TickFormat, TickFormat),
    label_size: u32,
) -> DrawResult
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|v| (fmt.0)(*v))
        .y_label_formatter(&|v| (fmt.1)(*v))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_desc_style(text(label_size + 2))
        .label_style(text(label_size))
        .draw()
        .map_err(pe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_cover_decades_and_narrow_ranges() {
        assert_eq!(log_ticks(1e5, 1e9), vec![1e5, 1e6, 1e7, 1e8, 1e9]);
        // Inside one decade: 1-9 multiples or 1-2-5, never empty.
        let t = log_ticks(3.0, 8.0);
        assert!(
            t.len() >= 3 && t.iter().all(|v| (3.0..=8.0).contains(v)),
            "{t:?}"
        );
        let t = log_ticks(3.1, 3.5);
        assert!(t.len() >= 2, "{t:?}");
        assert!(log_ticks(1e12, 1e20).len() <= 8);
    }

    #[test]
    fn legend_goes_where_the_data_is_not() {
        let f = Frame {
            x: (0.0, 100.0, false),
            y: (0.0, 1.0, false),
        };
        // A falling curve fills upper left and lower right.
        let falling = (0..50).map(|i| (1.0 + i as f64 * 2.0, 1.0 - i as f64 / 50.0));
        assert!(matches!(
            f.legend_corner(falling.clone().chain([(90.0, 0.95)])),
            SeriesLabelPosition::LowerLeft
        ));
        assert!(matches!(
            f.legend_corner(falling),
            SeriesLabelPosition::UpperRight
        ));
    }

    #[test]
    fn formats_are_short() {
        assert_eq!(si(1_234_567.0), "1.23M");
        assert_eq!(si(20e6), "20M");
        assert_eq!(si(950.0), "950");
        assert_eq!(sci(3e13), "3e13");
        assert_eq!(sci(2.5e14), "2.5e14");
        assert_eq!(sci(9.999e14), "1e15");
        assert_eq!(short(3.25), "3.25");
        assert_eq!(short(0.031), "0.031");
        // Span 1.2 over ~5 ticks: step 0.25 (the 1, 2, 2.5, 5 steps).
        assert_eq!(linear_ticks(2.9, 4.1), vec![3.0, 3.25, 3.5, 3.75, 4.0]);
    }
}
