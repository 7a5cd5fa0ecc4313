//! Residuals around the Chinchilla law by model shape: each run's 100·ln(observed/law) against
//! its width (`model.n_embd`), one colour per depth (`model.n_layer`), both read from the run's
//! config.toml. A law in N alone assumes shape does not matter at fixed N; a band per depth, or a
//! trend along width, says it does at this scale (issue: ladders whose runs obey one law).

use ladder_laws::FitFile;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::law::chinchilla_params;
use super::Ctx;
use crate::plot::{
    budget_colour, draw_mesh, log_range, log_ticks, pe, short, text, Draw, DrawResult, Frame, GRID,
    INK,
};

/// The figure: the Chinchilla fit and the runs.
pub struct ResidualsByShape<'a> {
    /// What to draw from.
    pub ctx: Ctx<'a>,
    /// The Chinchilla fit.
    pub fit: &'a FitFile,
}

/// `(n_layer, n_embd, residual %)` of every fitted run whose config.toml gives its shape.
pub fn shape_residuals(ctx: &Ctx, fit: &FitFile) -> Vec<(u64, f64, f64)> {
    let Some(p) = chinchilla_params(fit) else {
        return Vec::new();
    };
    ctx.runs
        .iter()
        .filter(|r| r.fittable() && !ctx.laws.left_out.iter().any(|(n, _)| *n == r.name))
        .filter_map(|r| {
            let pred = ladder_laws::chinchilla::predict(&p, r.n, r.d);
            Some((
                r.n_layer?,
                r.n_embd? as f64,
                100.0 * (r.final_val_loss? / pred).ln(),
            ))
        })
        .filter(|q| q.2.is_finite() && q.1 > 0.0)
        .collect()
}

impl Draw for ResidualsByShape<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let res = shape_residuals(&self.ctx, self.fit);
        let (x0, x1) = log_range(res.iter().map(|q| q.1), 1.3).ok_or("no run has a shape")?;
        let m = res.iter().map(|q| q.2.abs()).fold(0.5, f64::max) * 1.25;
        let frame = Frame {
            x: (x0, x1, true),
            y: (-m, m, false),
        };
        let mut chart = ChartBuilder::on(root)
            .caption("Residuals by depth and width", text(19))
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
                "width n_embd (log scale)",
                "100 · ln(observed / law), % of loss",
            ),
            (short, short),
            13,
        )?;
        chart
            .draw_series(LineSeries::new(
                vec![(x0, 0.0), (x1, 0.0)],
                INK.stroke_width(1),
            ))
            .map_err(pe)?;
        let mut depths: Vec<u64> = res.iter().map(|q| q.0).collect();
        depths.sort_unstable();
        depths.dedup();
        for (k, &depth) in depths.iter().enumerate() {
            let colour = budget_colour(k);
            let mine: Vec<&(u64, f64, f64)> = res.iter().filter(|q| q.0 == depth).collect();
            let mean = mine.iter().map(|q| q.2).sum::<f64>() / mine.len() as f64;
            chart
                .draw_series(
                    mine.iter()
                        .map(|q| Circle::new((q.1, q.2), 5, colour.filled())),
                )
                .map_err(pe)?
                .label(format!(
                    "n_layer = {depth} ({} run{}, mean {mean:+.2} %)",
                    mine.len(),
                    if mine.len() == 1 { "" } else { "s" }
                ))
                .legend(move |(x, y)| Circle::new((x + 11, y), 5, colour.filled()));
        }
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
