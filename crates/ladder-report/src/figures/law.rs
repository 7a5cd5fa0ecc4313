//! The laws against the points: IsoFLOP parabolas with their minima (Approach 2), the fitted
//! Chinchilla law's IsoFLOP curves with its compute-optimal frontier (Approach 3), and the
//! residuals of the points around that law.

use ladder_laws::FitFile;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::Ctx;
use crate::plot::{
    budget_colour, draw_mesh, geomspace, lin_range, log_range, log_ticks, pe, short, si, text,
    Draw, DrawResult, Frame, GRID, HIGHLIGHT, INK, MUTED,
};

/// Chinchilla parameters `[E, A, B, alpha, beta]` by name (independent of the file's order).
pub fn chinchilla_params(f: &FitFile) -> Option<[f64; 5]> {
    Some([
        f.param("E")?,
        f.param("A")?,
        f.param("B")?,
        f.param("alpha")?,
        f.param("beta")?,
    ])
}

/// (budget, N, val loss, run index) of every run that entered the fits.
fn points(ctx: &Ctx) -> Vec<(usize, f64, f64, usize)> {
    (0..ctx.runs.len())
        .filter(|&i| {
            ctx.runs[i].fittable()
                && !ctx
                    .laws
                    .left_out
                    .iter()
                    .any(|(n, _)| *n == ctx.runs[i].name)
        })
        .filter_map(|i| {
            let r = &ctx.runs[i];
            Some((ctx.laws.budget_of[i], r.n, r.final_val_loss?, i))
        })
        .collect()
}

fn legend_line(colour: RGBColor, width: u32) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], colour.stroke_width(width))
}

/// IsoFLOP profiles: per budget, the runs' loss against N and the least-squares parabola in
/// ln N; its vertex is that budget's N_opt.
pub struct Isoflop<'a>(pub Ctx<'a>);

impl Draw for Isoflop<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let ctx = &self.0;
        let pts = points(ctx);
        let budgets = &ctx.laws.budgets;
        if budgets.iter().all(|b| b.parabola.is_none()) {
            return crate::plot::empty_panel(
                root,
                "no compute budget has 3 model sizes: an IsoFLOP profile needs at least 3",
            );
        }
        let vertices: Vec<(f64, f64)> = budgets.iter().filter_map(|b| b.vertex).collect();
        let (x0, x1) = log_range(
            pts.iter()
                .map(|p| p.1)
                .chain(vertices.iter().filter(|v| v.0.is_finite()).map(|v| v.0)),
            1.3,
        )
        .ok_or("no points")?;
        let (y0, y1) = lin_range(pts.iter().map(|p| p.2), 0.08).ok_or("no points")?;
        let frame = Frame {
            x: (x0, x1, true),
            y: (y0, y1, false),
        };
        let mut taken: Vec<(f64, f64)> = pts.iter().map(|p| (p.1, p.2)).collect();
        let mut chart = ChartBuilder::on(root)
            .caption("IsoFLOP profiles (Approach 2)", text(19))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (x0..x1).log_scale().with_key_points(log_ticks(x0, x1)),
                y0..y1,
            )
            .map_err(pe)?;
        draw_mesh(
            &mut chart,
            (
                "non-embedding parameters N (log scale)",
                "final validation loss, nats/token",
            ),
            (si, short),
            13,
        )?;
        for (k, b) in budgets.iter().enumerate() {
            let colour = budget_colour(k);
            let mine: Vec<_> = pts.iter().filter(|p| p.0 == k).collect();
            if mine.is_empty() {
                continue;
            }
            let label = match b.vertex {
                Some((n, _)) if b.vertex_in_range => {
                    format!("C = {}: N_opt = {}", crate::plot::sci(b.c), si(n))
                }
                Some(_) => format!("C = {}: minimum outside the sizes", crate::plot::sci(b.c)),
                None if b.parabola.is_some() => {
                    format!("C = {}: no minimum (opens down)", crate::plot::sci(b.c))
                }
                None => format!("C = {}: < 3 sizes, no profile", crate::plot::sci(b.c)),
            };
            let s = chart
                .draw_series(
                    mine.iter()
                        .map(|p| Circle::new((p.1, p.2), 5, colour.filled())),
                )
                .map_err(pe)?;
            s.label(label)
                .legend(move |(x, y)| Circle::new((x + 11, y), 5, colour.filled()));
            if let (Some(c), Some((lo, hi))) = (b.parabola, b.n_range) {
                let line = geomspace(lo / 1.2, hi * 1.2, 80).into_iter().map(|n| {
                    let x = n.ln();
                    (n, c[0] + c[1] * x + c[2] * x * x)
                });
                let line: Vec<(f64, f64)> = line.collect();
                taken.extend(line.iter().copied());
                chart
                    .draw_series(LineSeries::new(line, colour.stroke_width(2)))
                    .map_err(pe)?;
            }
            if let Some(v) = b.vertex {
                let style = if b.vertex_in_range {
                    colour.filled()
                } else {
                    colour.stroke_width(2)
                };
                chart
                    .draw_series([
                        Circle::new(v, 8, INK.stroke_width(2)),
                        Circle::new(v, 6, style),
                    ])
                    .map_err(pe)?;
            }
        }
        let mut minima: Vec<(f64, (f64, f64))> = budgets
            .iter()
            .filter(|b| b.vertex_in_range)
            .filter_map(|b| Some((b.c, b.vertex?)))
            .collect();
        minima.sort_by(|a, b| a.0.total_cmp(&b.0));
        if minima.len() >= 2 {
            chart
                .draw_series(DashedLineSeries::new(
                    minima.into_iter().map(|m| m.1),
                    6,
                    4,
                    INK.stroke_width(1),
                ))
                .map_err(pe)?
                .label("minima (ringed): N_opt at each C")
                .legend(legend_line(INK, 1));
        }
        highlight_rings(&mut chart, ctx, &pts)?;
        chart
            .configure_series_labels()
            .position(frame.legend_corner(taken))
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font(text(13))
            .draw()
            .map_err(pe)
    }
}

fn highlight_rings<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<DB, Cartesian2d<X, Y>>,
    ctx: &Ctx,
    pts: &[(usize, f64, f64, usize)],
) -> DrawResult
where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    let rings: Vec<_> = pts
        .iter()
        .filter(|p| ctx.highlight.contains(&p.3))
        .map(|p| Circle::new((p.1, p.2), 9, HIGHLIGHT.stroke_width(2)))
        .collect();
    if rings.is_empty() {
        return Ok(());
    }
    chart
        .draw_series(rings)
        .map_err(pe)?
        .label("highlighted run")
        .legend(|(x, y)| Circle::new((x + 11, y), 6, HIGHLIGHT.stroke_width(2)));
    Ok(())
}

/// The Chinchilla law against the points: for each budget the law's loss along N at that C
/// (its IsoFLOP curve), the runs, and the law's compute-optimal frontier through the minima.
pub struct LawFit<'a> {
    /// What to draw from.
    pub ctx: Ctx<'a>,
    /// The Chinchilla fit.
    pub fit: &'a FitFile,
}

impl Draw for LawFit<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let ctx = &self.ctx;
        let p = chinchilla_params(self.fit).ok_or("fit.json lacks E, A, B, alpha or beta")?;
        let law = |n: f64, d: f64| ladder_laws::chinchilla::predict(&p, n, d);
        let pts = points(ctx);
        let budgets = &ctx.laws.budgets;
        let opt: Vec<(f64, f64)> = budgets
            .iter()
            .map(|b| ladder_laws::allocation::optimal(&p, b.c).0)
            .filter(|n| n.is_finite())
            .map(|n| (n, 0.0))
            .collect();
        let (x0, x1) = log_range(pts.iter().map(|q| q.1).chain(opt.iter().map(|o| o.0)), 1.3)
            .ok_or("no points")?;
        // E and the source's entropy join the axis only when they are near the points: far below,
        // they would squash the runs into a strip (the cards give both numbers).
        let (lo, hi) = lin_range(pts.iter().map(|q| q.2), 0.0).ok_or("no points")?;
        let near = |v: f64| v < lo && lo - v < 0.6 * (hi - lo);
        let floors = [p[0]].into_iter().chain(ctx.entropy).filter(|v| near(*v));
        let (y0, y1) = lin_range(pts.iter().map(|q| q.2).chain(floors), 0.06).ok_or("no points")?;
        let frame = Frame {
            x: (x0, x1, true),
            y: (y0, y1, false),
        };
        let mut taken: Vec<(f64, f64)> = pts.iter().map(|q| (q.1, q.2)).collect();
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Chinchilla law L(N, D) = E + A/N^α + B/D^β against the runs",
                text(19),
            )
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (x0..x1).log_scale().with_key_points(log_ticks(x0, x1)),
                y0..y1,
            )
            .map_err(pe)?;
        draw_mesh(
            &mut chart,
            (
                "non-embedding parameters N (log scale)",
                "final validation loss, nats/token",
            ),
            (si, short),
            13,
        )?;
        let grid = geomspace(x0, x1, 120);
        for (k, b) in budgets.iter().enumerate() {
            let colour = budget_colour(k);
            if !pts.iter().any(|q| q.0 == k) {
                continue;
            }
            let c = b.c;
            taken.extend(grid.iter().map(|&n| (n, law(n, c / (6.0 * n)))));
            chart
                .draw_series(LineSeries::new(
                    grid.iter().map(|&n| (n, law(n, c / (6.0 * n)))),
                    colour.stroke_width(2),
                ))
                .map_err(pe)?
                .label(format!("C = {} FLOPs", crate::plot::sci(c)))
                .legend(legend_line(colour, 2));
            chart
                .draw_series(
                    pts.iter()
                        .filter(|q| q.0 == k)
                        .map(|q| Circle::new((q.1, q.2), 5, colour.filled())),
                )
                .map_err(pe)?;
        }
        // The frontier: (N_opt(C), L(N_opt, D_opt)) over the budgets' range and a little beyond.
        let (c_lo, c_hi) = (
            budgets.first().map_or(1.0, |b| b.c) / 3.0,
            budgets.last().map_or(1.0, |b| b.c) * 3.0,
        );
        let frontier: Vec<(f64, f64)> = geomspace(c_lo, c_hi, 60)
            .into_iter()
            .map(|c| {
                let (n, d) = ladder_laws::allocation::optimal(&p, c);
                (n, law(n, d))
            })
            .filter(|q| q.0.is_finite() && q.1.is_finite())
            .collect();
        taken.extend(frontier.iter().copied());
        chart
            .draw_series(DashedLineSeries::new(frontier, 7, 4, INK.stroke_width(2)))
            .map_err(pe)?
            .label("law's compute-optimal frontier")
            .legend(legend_line(INK, 2));
        let e = p[0];
        if e >= y0 {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0, e), (x1, e)],
                    3,
                    4,
                    INK.stroke_width(1),
                ))
                .map_err(pe)?
                .label(format!("E = {e:.3}: the law's irreducible loss"))
                .legend(legend_line(INK, 1));
        }
        if let Some(h) = ctx.entropy.filter(|h| *h >= y0) {
            chart
                .draw_series(LineSeries::new(
                    vec![(x0, h), (x1, h)],
                    MUTED.stroke_width(2),
                ))
                .map_err(pe)?
                .label(format!("source entropy {h:.3} (true floor)"))
                .legend(legend_line(MUTED, 2));
        }
        highlight_rings(&mut chart, ctx, &pts)?;
        chart
            .configure_series_labels()
            .position(frame.legend_corner(taken))
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font(text(13))
            .draw()
            .map_err(pe)
    }
}

/// Residuals ln(observed / law) of every run, in per cent, against N.
pub struct Residuals<'a> {
    /// What to draw from.
    pub ctx: Ctx<'a>,
    /// The Chinchilla fit.
    pub fit: &'a FitFile,
}

impl Draw for Residuals<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let ctx = &self.ctx;
        let p = chinchilla_params(self.fit).ok_or("fit.json lacks E, A, B, alpha or beta")?;
        let pts = points(ctx);
        let res: Vec<(usize, f64, f64, usize)> = pts
            .iter()
            .map(|q| {
                let r = &ctx.runs[q.3];
                let pred = ladder_laws::chinchilla::predict(&p, r.n, r.d);
                (q.0, q.1, 100.0 * (q.2 / pred).ln(), q.3)
            })
            .collect();
        let (x0, x1) = log_range(res.iter().map(|q| q.1), 1.3).ok_or("no points")?;
        let rmse = 100.0 * self.fit.residuals.rmse_log;
        let m = res.iter().map(|q| q.2.abs()).fold(rmse.max(0.5), f64::max) * 1.25;
        let frame = Frame {
            x: (x0, x1, true),
            y: (-m, m, false),
        };
        let mut chart = ChartBuilder::on(root)
            .caption("Residuals around the Chinchilla law", text(19))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (x0..x1).log_scale().with_key_points(log_ticks(x0, x1)),
                -m..m,
            )
            .map_err(pe)?;
        draw_mesh(
            &mut chart,
            (
                "non-embedding parameters N (log scale)",
                "100 · ln(observed / law), % of loss",
            ),
            (si, short),
            13,
        )?;
        chart
            .draw_series(LineSeries::new(
                vec![(x0, 0.0), (x1, 0.0)],
                INK.stroke_width(1),
            ))
            .map_err(pe)?;
        for s in [rmse, -rmse] {
            let series = chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0, s), (x1, s)],
                    6,
                    4,
                    MUTED.stroke_width(2),
                ))
                .map_err(pe)?;
            if s > 0.0 {
                series
                    .label(format!("± RMSE = {rmse:.2} %"))
                    .legend(legend_line(MUTED, 2));
            }
        }
        for k in 0..ctx.laws.budgets.len() {
            let colour = budget_colour(k);
            if !res.iter().any(|q| q.0 == k) {
                continue;
            }
            chart
                .draw_series(
                    res.iter()
                        .filter(|q| q.0 == k)
                        .map(|q| Circle::new((q.1, q.2), 5, colour.filled())),
                )
                .map_err(pe)?
                .label(ctx.budget_label(k))
                .legend(move |(x, y)| Circle::new((x + 11, y), 5, colour.filled()));
        }
        let ringed: Vec<_> = res
            .iter()
            .filter(|q| ctx.highlight.contains(&q.3))
            .map(|q| (0, q.1, q.2, q.3))
            .collect();
        highlight_rings(&mut chart, ctx, &ringed)?;
        chart
            .configure_series_labels()
            .position(frame.legend_corner(res.iter().map(|q| (q.1, q.2))))
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font(text(13))
            .draw()
            .map_err(pe)
    }
}
