//! `ladder report --compare A B`: one page setting two ladders' laws side by side (docs/compare.md):
//! both compute-optimal frontiers of loss with their 95 % bands on one figure, the compute
//! multiplier against compute with its band, the exponent table and the verdict. The numbers
//! come from `ladder_laws::compare`, the drawing from the same code as the ladder report.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use ladder_laws::compare::{loss_band, multiplier_band, Comparison, Side};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::figures::frontier::{CHINCHILLA, ISOFLOP};
use crate::html::esc;
use crate::plot::{
    draw_mesh, geomspace, log_range, log_ticks, pe, render, sci, short, text, Draw, DrawResult,
    Figure, Frame, GRID, INK, MUTED,
};

/// Colour of ladder A (the reference).
const COLOUR_A: RGBColor = CHINCHILLA;
/// Colour of ladder B.
const COLOUR_B: RGBColor = ISOFLOP;

/// What the comparison page shows.
pub struct ComparePage<'a> {
    /// Names of A and B (their paths, or the architectures).
    pub labels: [&'a str; 2],
    /// A's frontier and replicates.
    pub a: &'a Side,
    /// B's frontier and replicates.
    pub b: &'a Side,
    /// The comparison.
    pub cmp: &'a Comparison,
    /// Compute range the runs cover (the figure extends past it, shaded).
    pub data_range: [f64; 2],
    /// Page title.
    pub title: &'a str,
}

/// The two-panel figure: frontier losses, then the multiplier.
struct Panels<'a>(&'a ComparePage<'a>);

/// How far past the data the figure reaches.
const EXTRAPOLATE: f64 = 1000.0;

type Line = Vec<(f64, f64, Option<[f64; 2]>)>;

fn draw_band<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    line: &Line,
    colour: RGBColor,
    label: String,
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let with_ci: Vec<(f64, [f64; 2])> = line
        .iter()
        .filter_map(|b| Some((b.0, b.2?)))
        .filter(|b| b.1[0].is_finite() && b.1[1].is_finite() && b.1[0] > 0.0)
        .collect();
    if with_ci.len() >= 2 {
        let poly: Vec<(f64, f64)> = with_ci
            .iter()
            .map(|b| (b.0, b.1[1]))
            .chain(with_ci.iter().rev().map(|b| (b.0, b.1[0])))
            .collect();
        chart
            .draw_series([Polygon::new(poly, colour.mix(0.18).filled())])
            .map_err(pe)?;
    }
    chart
        .draw_series(LineSeries::new(
            line.iter()
                .filter(|b| b.1.is_finite() && b.1 > 0.0)
                .map(|b| (b.0, b.1)),
            colour.stroke_width(2),
        ))
        .map_err(pe)?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], colour.stroke_width(2)));
    Ok(())
}

impl Panels<'_> {
    fn span(&self) -> (f64, f64) {
        let [lo, hi] = self.0.data_range;
        (lo / 2.0, hi * EXTRAPOLATE)
    }

    fn shade<DB: DrawingBackend, X, Y>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
        (c1, y0, y1): (f64, f64, f64),
    ) -> DrawResult
    where
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        let hi = self.0.data_range[1];
        chart
            .draw_series([Rectangle::new(
                [(hi, y0), (c1, y1)],
                RGBColor(120, 120, 120).mix(0.08).filled(),
            )])
            .map_err(pe)?;
        chart
            .draw_series([Text::new(
                "extrapolation",
                (hi * 1.2, y1 / (y1 / y0).powf(0.06)),
                text(12).color(&RGBColor(110, 110, 110)),
            )])
            .map_err(pe)?;
        Ok(())
    }

    fn losses<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let (c0, c1) = self.span();
        let cs = geomspace(c0, c1, 80);
        let line = |s: &Side| -> Line {
            cs.iter()
                .map(|&c| {
                    let (v, ci) = loss_band(s, c);
                    (c, v, ci)
                })
                .collect()
        };
        let (la, lb) = (line(self.0.a), line(self.0.b));
        let values = la
            .iter()
            .chain(&lb)
            .flat_map(|b| [Some(b.1), b.2.map(|i| i[0]), b.2.map(|i| i[1])])
            .flatten()
            .filter(|v| v.is_finite() && *v > 0.0);
        let (y0, y1) = log_range(values, 1.05).ok_or("no frontier values")?;
        let mut chart = ChartBuilder::on(area)
            .caption("Loss along the compute-optimal frontier", text(18))
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (c0..c1).log_scale().with_key_points(log_ticks(c0, c1)),
                (y0..y1).log_scale().with_key_points(log_ticks(y0, y1)),
            )
            .map_err(pe)?;
        draw_mesh(
            &mut chart,
            ("compute C, FLOPs (log scale)", "loss L_opt(C) (log scale)"),
            (sci, short),
            12,
        )?;
        self.shade(&mut chart, (c1, y0, y1))?;
        for (line, colour, label) in [
            (&la, COLOUR_A, self.0.labels[0]),
            (&lb, COLOUR_B, self.0.labels[1]),
        ] {
            draw_band(&mut chart, line, colour, format!("{label} (band: 95 %)"))?;
        }
        if let Some(x) = &self.0.cmp.crossover {
            if (c0..=c1).contains(&x.compute) {
                chart
                    .draw_series([Circle::new((x.compute, x.loss), 5, INK.stroke_width(2))])
                    .map_err(pe)?
                    .label("crossover")
                    .legend(|(x, y)| Circle::new((x + 11, y), 5, INK.stroke_width(2)));
            }
        }
        let frame = Frame {
            x: (c0, c1, true),
            y: (y0, y1, true),
        };
        let taken: Vec<(f64, f64)> = la.iter().chain(&lb).map(|b| (b.0, b.1)).collect();
        chart
            .configure_series_labels()
            .position(frame.legend_corner(taken))
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font(text(12).color(&INK))
            .draw()
            .map_err(pe)
    }

    fn multiplier<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let (c0, c1) = self.span();
        let cs = geomspace(c0, c1, 80);
        let line: Line = cs
            .iter()
            .map(|&c| {
                let (v, ci) = multiplier_band(self.0.a, self.0.b, c);
                (c, v, ci)
            })
            .collect();
        let values = line
            .iter()
            .flat_map(|b| [Some(b.1), b.2.map(|i| i[0]), b.2.map(|i| i[1])])
            .flatten()
            .filter(|v| v.is_finite() && *v > 0.0)
            .chain([1.0]);
        let (y0, y1) = log_range(values, 1.3).ok_or("no multiplier values")?;
        let mut chart = ChartBuilder::on(area)
            .caption("Compute multiplier: B's compute for A's loss", text(18))
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (c0..c1).log_scale().with_key_points(log_ticks(c0, c1)),
                (y0..y1).log_scale().with_key_points(log_ticks(y0, y1)),
            )
            .map_err(pe)?;
        draw_mesh(
            &mut chart,
            (
                "A's compute C, FLOPs (log scale)",
                "C_B / C (log scale; < 1: B cheaper)",
            ),
            (sci, short),
            12,
        )?;
        self.shade(&mut chart, (c1, y0, y1))?;
        chart
            .draw_series(LineSeries::new(
                [(c0, 1.0), (c1, 1.0)],
                MUTED.stroke_width(1),
            ))
            .map_err(pe)?;
        draw_band(
            &mut chart,
            &line,
            COLOUR_B,
            format!(
                "{} relative to {} (band: 95 %)",
                self.0.labels[1], self.0.labels[0]
            ),
        )?;
        let frame = Frame {
            x: (c0, c1, true),
            y: (y0, y1, true),
        };
        chart
            .configure_series_labels()
            .position(frame.legend_corner(line.iter().map(|b| (b.0, b.1))))
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font(text(12).color(&INK))
            .draw()
            .map_err(pe)
    }
}

impl Draw for Panels<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let (w, _) = root.dim_in_pixel();
        let (left, right) = root.split_horizontally(w / 2);
        self.losses(&left)?;
        self.multiplier(&right)
    }
}

/// What [`write_compare_report`] wrote.
#[derive(Clone, Debug)]
pub struct CompareReport {
    /// The HTML page.
    pub html: PathBuf,
    /// Figure files (PNG and SVG) beside it.
    pub figures: Vec<PathBuf>,
}

/// Writes the comparison page to `out_html` and its figure to `<stem>_files/` beside it.
pub fn write_compare_report(p: &ComparePage, out_html: &Path) -> Result<CompareReport> {
    let stem = out_html
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .ok_or(Error::BadOutput {
            path: out_html.to_path_buf(),
            why: "needs a file name, e.g. compare.html",
        })?;
    if out_html.is_dir() {
        return Err(Error::BadOutput {
            path: out_html.to_path_buf(),
            why: "is a directory; give a file name, e.g. compare.html",
        });
    }
    crate::font::ensure_font()?;
    let fig = render(
        "compare",
        "Frontiers and compute multiplier",
        format!(
            "Left: the loss along each ladder's compute-optimal frontier, L_opt(C) = E + K·C^−γ \
             ({} law), with its 95 % bootstrap band; the ring marks where the frontiers cross. \
             Right: how much compute {b} needs to reach the loss {a} reaches at C, as a multiple of C \
             (below the grey line at 1, {b} is cheaper), with its 95 % band from the paired \
             replicates of both fits. The shaded region beyond the runs' largest compute is extrapolation.",
            esc(&p.cmp.law),
            a = esc(p.labels[0]),
            b = esc(p.labels[1]),
        ),
        (1040, 460),
        &Panels(p),
    )?;
    let dir_name = format!("{stem}_files");
    let files_dir = out_html.with_file_name(&dir_name);
    std::fs::create_dir_all(&files_dir).map_err(|e| Error::io(&files_dir, e))?;
    let svg = files_dir.join("compare.svg");
    crate::write_atomic(&svg, fig.svg.as_bytes())?;
    let png = files_dir.join("compare.png");
    crate::write_atomic(&png, &fig.png)?;
    crate::write_atomic(out_html, page(p, &fig, &dir_name).as_bytes())?;
    Ok(CompareReport {
        html: out_html.to_path_buf(),
        figures: vec![png, svg],
    })
}

fn fmt_mult(x: f64) -> String {
    if x.is_infinite() {
        "never".into()
    } else if x != 0.0 && !(0.01..1000.0).contains(&x) {
        format!("{x:.3e}")
    } else {
        format!("{x:.3}")
    }
}

/// The page: verdict, exponent table, multiplier and crossover, the figure, warnings.
fn page(p: &ComparePage, fig: &Figure, files_dir: &str) -> String {
    let c = p.cmp;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"ladder report --compare\">\n<title>{t}</title>\n<style>{css}</style>\n</head>\n<body>\n<main>\n\
         <header><h1>{t}</h1><p class=\"sub\">A = <code>{a}</code> · B = <code>{b}</code> · {law} law · {n} replicate pairs · made by <code>ladder report --compare</code></p></header>",
        t = esc(p.title),
        css = crate::html::CSS,
        a = esc(p.labels[0]),
        b = esc(p.labels[1]),
        law = esc(&c.law),
        n = c.pairs,
    );
    let m = &c.multiplier;
    let _ = writeln!(
        s,
        "<div class=\"cards\"><div class=\"card\"><div class=\"k\">verdict (frontier exponent)</div>\
         <div class=\"v\" id=\"verdict\">{}</div><div class=\"n\">B − A = {:+.4}, 95 % [{:+.4}, {:+.4}]</div></div>\
         <div class=\"card\"><div class=\"k\">compute multiplier at C = {}</div><div class=\"v\">{}×</div>\
         <div class=\"n\">95 % [{}, {}]; B's compute for A's loss {:.4}</div></div>\
         <div class=\"card\"><div class=\"k\">crossover</div><div class=\"v\">{}</div><div class=\"n\">{:.0} % of replicate pairs cross between {} and {}</div></div></div>",
        esc(c.verdict.as_str()),
        c.exponents.last().map_or(f64::NAN, |e| e.estimate),
        c.exponents.last().map_or(f64::NAN, |e| e.ci95[0]),
        c.exponents.last().map_or(f64::NAN, |e| e.ci95[1]),
        sci(m.compute),
        fmt_mult(m.estimate),
        fmt_mult(m.ci95[0]),
        fmt_mult(m.ci95[1]),
        m.loss,
        c.crossover.map_or("none".to_string(), |x| format!(
            "C = {}, {} lower above",
            sci(x.compute),
            x.lower_above
        )),
        100.0 * c.replicates_crossing,
        sci(c.window[0]),
        sci(c.window[1]),
    );
    s.push_str("<section id=\"exponents\"><h2>Exponents</h2><table><tr><th>exponent</th><th class=\"num\">A</th><th class=\"num\">B</th><th class=\"num\">B − A</th><th class=\"num\">95 % interval of B − A</th></tr>\n");
    for e in &c.exponents {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"num\">{:.4}</td><td class=\"num\">{:.4}</td><td class=\"num\">{:+.4}</td><td class=\"num\">[{:+.4}, {:+.4}]{}</td></tr>",
            esc(&e.name),
            e.a,
            e.b,
            e.estimate,
            e.ci95[0],
            e.ci95[1],
            if e.detected() { " *" } else { "" }
        );
    }
    s.push_str("</table><p class=\"lead\">frontier: the exponent γ of L_opt(C) = E + K·C^−γ along the compute-optimal frontier (larger: loss falls faster with compute); * marks an interval that excludes 0. The verdict reads the frontier exponent's interval only; a constant-factor advantage shows in the multiplier, not in the verdict.</p></section>\n");
    let _ = writeln!(
        s,
        "<section id=\"compare\"><h2>{}</h2><figure id=\"fig-compare\"><div class=\"plot\">{}</div><figcaption><b>Figure 1.</b> {} \
         <span class=\"note\">Files: <a href=\"{d}/compare.png\">compare.png</a> · <a href=\"{d}/compare.svg\">compare.svg</a></span></figcaption></figure></section>",
        esc(&fig.title),
        fig.svg,
        fig.caption,
        d = esc(files_dir),
    );
    if !c.warnings.is_empty() {
        s.push_str("<section id=\"notes\"><h2>Warnings</h2><ul>");
        for w in &c.warnings {
            let _ = write!(s, "<li>{}</li>", esc(w));
        }
        s.push_str("</ul></section>\n");
    }
    s.push_str("<footer>Compute is C = 6·N·D; losses are cross-entropy in nats per token. Intervals are 95 % percentile intervals over paired bootstrap replicates of the two fits (docs/compare.md).</footer>\n</main>\n</body>\n</html>\n");
    s
}
