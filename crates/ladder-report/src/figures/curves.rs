//! Training curves: training loss against tokens for every run, log-log, one colour per compute
//! budget, evaluations as dots, highlighted runs in red, the source's entropy as a floor.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::Ctx;
use crate::plot::{
    budget_colour, draw_mesh, log_range, log_ticks, pe, short, si, text, Draw, DrawResult, Frame,
    GRID, HIGHLIGHT, INK,
};

/// The training-curves figure.
pub struct Curves<'a>(pub Ctx<'a>);

impl Draw for Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let ctx = &self.0;
        let all = ctx
            .runs
            .iter()
            .flat_map(|r| r.train_curve.iter().chain(&r.val_curve));
        let Some((x0, x1)) = log_range(all.clone().map(|p| p.0), 1.15) else {
            return crate::plot::empty_panel(root, "no run has a metrics.jsonl with losses");
        };
        let (y0, y1) = log_range(all.map(|p| p.1).chain(ctx.entropy), 1.04).unwrap_or((1.0, 10.0));
        let frame = Frame {
            x: (x0, x1, true),
            y: (y0, y1, true),
        };
        let mut chart = ChartBuilder::on(root)
            .caption("Training curves", text(19))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (x0..x1).log_scale().with_key_points(log_ticks(x0, x1)),
                (y0..y1).log_scale().with_key_points(log_ticks(y0, y1)),
            )
            .map_err(pe)?;
        draw_mesh(
            &mut chart,
            (
                "training tokens D (log scale)",
                "training loss, nats/token (log scale)",
            ),
            (si, short),
            13,
        )?;
        let mut labelled = vec![false; ctx.laws.budgets.len()];
        // Highlighted runs last, so they are drawn on top.
        let order = (0..ctx.runs.len())
            .filter(|i| !ctx.highlight.contains(i))
            .chain(ctx.highlight.iter().copied());
        for i in order {
            let r = &ctx.runs[i];
            if r.train_curve.is_empty() {
                continue;
            }
            let k = ctx.laws.budget_of[i];
            let hl = ctx.highlight.contains(&i);
            let colour = if hl { HIGHLIGHT } else { budget_colour(k) };
            let style = colour.stroke_width(if hl { 3 } else { 2 });
            let line = r.train_curve.clone();
            let series = if r.status == "completed" {
                chart
                    .draw_series(LineSeries::new(line, style))
                    .map_err(pe)?
            } else {
                chart
                    .draw_series(DashedLineSeries::new(line, 6, 4, style))
                    .map_err(pe)?
            };
            let label = if hl {
                Some(format!("{} (highlighted)", r.name))
            } else if !labelled[k] {
                labelled[k] = true;
                Some(ctx.budget_label(k))
            } else {
                None
            };
            if let Some(label) = label {
                series
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
            }
            chart
                .draw_series(
                    r.val_curve
                        .iter()
                        .map(|&p| Circle::new(p, 2, colour.filled())),
                )
                .map_err(pe)?;
        }
        if let Some(e) = ctx.entropy {
            let style = INK.stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new(vec![(x0, e), (x1, e)], 8, 5, style))
                .map_err(pe)?
                .label(format!("source entropy {e:.3} (best possible loss)"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
        }
        chart
            .configure_series_labels()
            .position(
                frame.legend_corner(
                    ctx.runs
                        .iter()
                        .flat_map(|r| r.train_curve.iter().chain(&r.val_curve).copied()),
                ),
            )
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font(text(13))
            .draw()
            .map_err(pe)
    }
}
