//! The compute-optimal frontier: N_opt(C) and D_opt(C) from the Chinchilla law (Approach 3) and
//! from the IsoFLOP power laws (Approach 2), each with its 95 % bootstrap band, the IsoFLOP
//! vertices with their intervals, and the ladder's own runs for context. Past the ladder's
//! largest budget the plot is shaded: that part is extrapolation.

use ladder_laws::FitFile;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::Ctx;
use crate::plot::{
    draw_mesh, geomspace, log_range, log_ticks, pe, sci, si, text, Draw, DrawResult, Frame, GRID,
    INK, MUTED,
};

/// Colour of the Chinchilla law's frontier.
pub const CHINCHILLA: RGBColor = RGBColor(31, 119, 180);
/// Colour of the IsoFLOP law's frontier.
pub const ISOFLOP: RGBColor = RGBColor(230, 110, 0);

/// How far past the largest budget the frontier is drawn (a quickstart predicts at 4–10×).
pub const EXTRAPOLATE: f64 = 30.0;

/// The two-panel frontier figure.
pub struct Frontier<'a> {
    /// What to draw from.
    pub ctx: Ctx<'a>,
    /// The Chinchilla fit, when there is one.
    pub chinchilla: Option<&'a FitFile>,
    /// The IsoFLOP fit, when there is one.
    pub isoflop: Option<&'a FitFile>,
}

/// A line with an optional band: (C, value, Some([lo, hi])).
type Band = Vec<(f64, f64, Option<[f64; 2]>)>;

fn band(fit: &FitFile, cs: &[f64], tokens: bool) -> Band {
    cs.iter()
        .filter_map(|&c| {
            let a = ladder_laws::predict::allocation(fit, c).ok()?;
            let e = if tokens { a.d_opt } else { a.n_opt };
            let ci = e
                .ci95
                .filter(|ci| ci[0].is_finite() && ci[1].is_finite() && ci[0] > 0.0);
            (e.value.is_finite() && e.value > 0.0).then_some((c, e.value, ci))
        })
        .collect()
}

impl Draw for Frontier<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        if self.chinchilla.is_none() && self.isoflop.is_none() {
            return crate::plot::empty_panel(root, "no law could be fitted: no frontier to draw");
        }
        let (w, _) = root.dim_in_pixel();
        let (left, right) = root.split_horizontally(w / 2);
        self.panel(&left, false)?;
        self.panel(&right, true)
    }
}

impl Frontier<'_> {
    fn panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, tokens: bool) -> DrawResult {
        let budgets = &self.ctx.laws.budgets;
        let c_max = budgets.last().map_or(1.0, |b| b.c);
        let (c0, c1) = (
            budgets.first().map_or(1.0, |b| b.c) / 2.0,
            c_max * EXTRAPOLATE,
        );
        let cs = geomspace(c0, c1, 60);
        let chin = self
            .chinchilla
            .map(|f| band(f, &cs, tokens))
            .unwrap_or_default();
        let iso = self
            .isoflop
            .map(|f| band(f, &cs, tokens))
            .unwrap_or_default();
        let key = if tokens { "D_opt" } else { "N_opt" };
        // IsoFLOP vertices: (C, value, interval, in range).
        let vertices: Vec<(f64, f64, Option<[f64; 2]>, bool)> = self
            .isoflop
            .map(|f| {
                f.derived
                    .budgets
                    .iter()
                    .filter(|b| b.kind == "vertex")
                    .map(|b| {
                        let v = if tokens { b.D_opt } else { b.N_opt };
                        let ci = b
                            .ci95
                            .get(key)
                            .map(|i| i.0)
                            .filter(|i| i[0].is_finite() && i[1].is_finite() && i[0] > 0.0);
                        (b.C, v, ci, b.in_range.unwrap_or(false))
                    })
                    .filter(|v| v.1.is_finite() && v.1 > 0.0)
                    .collect()
            })
            .unwrap_or_default();
        let runs: Vec<(f64, f64)> = self
            .ctx
            .runs
            .iter()
            .map(|r| (r.c, if tokens { r.d } else { r.n }))
            .collect();
        let values = chin
            .iter()
            .chain(&iso)
            .flat_map(|b| [Some(b.1), b.2.map(|i| i[0]), b.2.map(|i| i[1])])
            .chain(
                vertices
                    .iter()
                    .flat_map(|v| [Some(v.1), v.2.map(|i| i[0]), v.2.map(|i| i[1])]),
            )
            .flatten()
            .chain(runs.iter().map(|r| r.1));
        let (y0, y1) = log_range(values, 1.3).ok_or("no values")?;
        let title = if tokens {
            "Compute-optimal tokens D_opt(C)"
        } else {
            "Compute-optimal size N_opt(C)"
        };
        let frame = Frame {
            x: (c0, c1, true),
            y: (y0, y1, true),
        };
        let taken: Vec<(f64, f64)> = chin
            .iter()
            .chain(&iso)
            .flat_map(|b| {
                [Some(b.1), b.2.map(|i| i[0]), b.2.map(|i| i[1])]
                    .into_iter()
                    .flatten()
                    .map(move |y| (b.0, y))
            })
            .chain(runs.iter().copied())
            .chain(vertices.iter().map(|v| (v.0, v.1)))
            .collect();
        let mut chart = ChartBuilder::on(area)
            .caption(title, text(18))
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
                "compute C = 6ND, FLOPs (log scale)",
                if tokens {
                    "training tokens D (log scale)"
                } else {
                    "non-embedding parameters N (log scale)"
                },
            ),
            (sci, si),
            12,
        )?;
        chart
            .draw_series([Rectangle::new(
                [(c_max, y0), (c1, y1)],
                RGBColor(120, 120, 120).mix(0.08).filled(),
            )])
            .map_err(pe)?;
        chart
            .draw_series([Text::new(
                "extrapolation",
                (c_max * 1.15, y0 * 1.25),
                text(12).color(&RGBColor(110, 110, 110)),
            )])
            .map_err(pe)?;
        chart
            .draw_series(runs.iter().map(|&r| Circle::new(r, 3, MUTED.filled())))
            .map_err(pe)?
            .label(format!(
                "ladder runs ({})",
                crate::runs::arch_summary(self.ctx.runs)
            ))
            .legend(|(x, y)| Circle::new((x + 11, y), 3, MUTED.filled()));
        for (line, colour, name) in [
            (&chin, CHINCHILLA, "Chinchilla law"),
            (&iso, ISOFLOP, "IsoFLOP power law"),
        ] {
            if line.is_empty() {
                continue;
            }
            let with_ci: Vec<_> = line.iter().filter_map(|b| Some((b.0, b.2?))).collect();
            if with_ci.len() >= 2 {
                let poly: Vec<(f64, f64)> = with_ci
                    .iter()
                    .map(|b| (b.0, b.1[1]))
                    .chain(with_ci.iter().rev().map(|b| (b.0, b.1[0])))
                    .collect();
                chart
                    .draw_series([Polygon::new(poly, colour.mix(0.16).filled())])
                    .map_err(pe)?;
            }
            let label = if with_ci.len() >= 2 {
                format!("{name} (band: 95 % bootstrap)")
            } else {
                name.to_string()
            };
            chart
                .draw_series(LineSeries::new(
                    line.iter().map(|b| (b.0, b.1)),
                    colour.stroke_width(2),
                ))
                .map_err(pe)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], colour.stroke_width(2))
                });
        }
        if !vertices.is_empty() {
            chart
                .draw_series(vertices.iter().filter_map(|v| {
                    let ci = v.2?;
                    Some(PathElement::new(
                        vec![(v.0, ci[0]), (v.0, ci[1])],
                        ISOFLOP.stroke_width(2),
                    ))
                }))
                .map_err(pe)?;
            chart
                .draw_series(vertices.iter().map(|v| {
                    let style = if v.3 {
                        ISOFLOP.filled()
                    } else {
                        ISOFLOP.stroke_width(2)
                    };
                    Circle::new((v.0, v.1), 5, style)
                }))
                .map_err(pe)?
                .label("IsoFLOP minima (hollow: not used)")
                .legend(|(x, y)| Circle::new((x + 11, y), 5, ISOFLOP.filled()));
        }
        chart
            .configure_series_labels()
            .position(frame.legend_corner(taken))
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font(text(12).color(&INK))
            .draw()
            .map_err(pe)
    }
}
