//! Hyper-parameter sweeps (`ladder fit --law hparams`, docs/hparams.md): the final loss against
//! the learning rate at each budget (one line per batch, colour per budget, each budget's fitted
//! optimum ringed), and the optimal learning rate η_opt(C) and batch B_opt(C) against compute —
//! the budgets' optima with their 95 % intervals (hollow: not used) and the fitted power laws
//! with their 95 % bootstrap bands.

use ladder_laws::hparams::{HparamPoints, SAME_BUDGET_LN};
use ladder_laws::FitFile;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::plot::{
    budget_colour, draw_mesh, geomspace, log_range, log_ticks, pe, sci, short, text, Draw,
    DrawResult, Frame, GRID, INK,
};

/// The three-panel hyper-parameter figure.
pub struct Hparams<'a> {
    /// The runs' (C, lr, batch, loss).
    pub points: &'a HparamPoints,
    /// The hparams fit of those runs.
    pub fit: &'a FitFile,
}

impl Draw for Hparams<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let panels = root.split_evenly((1, 3));
        self.loss_vs_lr(&panels[0])?;
        self.optimum(&panels[1], false)?;
        self.optimum(&panels[2], true)
    }
}

impl Hparams<'_> {
    /// Budget index of each run (ln C within [`SAME_BUDGET_LN`] of a budget's C).
    fn budget_of(&self, c: f64) -> usize {
        let budgets: Vec<f64> = self
            .fit
            .derived
            .budgets
            .iter()
            .filter(|b| b.kind == "optimum")
            .map(|b| b.C)
            .collect();
        budgets
            .iter()
            .position(|b| (c / b).ln().abs() <= SAME_BUDGET_LN)
            .unwrap_or(0)
    }

    fn loss_vs_lr<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let p = self.points;
        let (x0, x1) = log_range(p.lr.iter().copied(), 1.2).ok_or("no runs")?;
        let (y0, y1) = log_range(p.loss.iter().copied(), 1.02).ok_or("no runs")?;
        let mut chart = ChartBuilder::on(area)
            .caption("Loss against learning rate", text(17))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(
                (x0..x1).log_scale().with_key_points(log_ticks(x0, x1)),
                (y0..y1).log_scale().with_key_points(log_ticks(y0, y1)),
            )
            .map_err(pe)?;
        draw_mesh(
            &mut chart,
            ("peak learning rate (log)", "final val loss (log)"),
            (short, short),
            11,
        )?;
        // One line per (budget, batch), in lr order.
        let mut keys: Vec<(usize, u64)> = (0..p.len())
            .map(|i| (self.budget_of(p.c[i]), p.batch_tokens[i].round() as u64))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut labelled = Vec::new();
        for (k, b) in keys {
            let mut line: Vec<(f64, f64)> = (0..p.len())
                .filter(|&i| self.budget_of(p.c[i]) == k && p.batch_tokens[i].round() as u64 == b)
                .map(|i| (p.lr[i], p.loss[i]))
                .collect();
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            let colour = budget_colour(k);
            let s = chart
                .draw_series(LineSeries::new(line.clone(), colour.stroke_width(1)))
                .map_err(pe)?;
            if !labelled.contains(&k) {
                labelled.push(k);
                let c = self.fit.derived.budgets.get(k).map_or(f64::NAN, |b| b.C);
                s.label(format!("C = {}", sci(c)))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour));
            }
            chart
                .draw_series(line.iter().map(|&q| Circle::new(q, 2, colour.filled())))
                .map_err(pe)?;
        }
        let optima: Vec<(usize, f64, f64)> = self
            .fit
            .derived
            .budgets
            .iter()
            .enumerate()
            .filter(|(_, b)| b.kind == "optimum")
            .filter_map(|(k, b)| Some((k, b.hparams.as_ref()?.eta_opt, b.loss?)))
            .collect();
        chart
            .draw_series(
                optima
                    .iter()
                    .map(|&(k, e, l)| Circle::new((e, l), 6, budget_colour(k).stroke_width(2))),
            )
            .map_err(pe)?;
        chart
            .configure_series_labels()
            .position(
                Frame {
                    x: (x0, x1, true),
                    y: (y0, y1, true),
                }
                .legend_corner(p.lr.iter().copied().zip(p.loss.iter().copied())),
            )
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font(text(11).color(&INK))
            .draw()
            .map_err(pe)
    }

    fn optimum<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        batch: bool,
    ) -> DrawResult {
        let f = self.fit;
        let (key, title, y_desc) = if batch {
            ("B_opt", "Optimal batch B_opt(C)", "tokens per step (log)")
        } else {
            (
                "eta_opt",
                "Optimal learning rate η_opt(C)",
                "learning rate (log)",
            )
        };
        let dots: Vec<(f64, f64, Option<[f64; 2]>, bool)> = f
            .derived
            .budgets
            .iter()
            .filter(|b| b.kind == "optimum")
            .filter_map(|b| {
                let h = b.hparams.as_ref()?;
                let v = if batch { h.B_opt } else { h.eta_opt };
                let ci = b.ci95.get(key).map(|i| i.0).filter(|i| i[0] > 0.0);
                Some((b.C, v, ci, b.in_range == Some(true)))
            })
            .collect();
        let cs: Vec<f64> = f.derived.budgets.iter().map(|b| b.C).collect();
        let (c0, c1) = log_range(cs, 1.5).ok_or("no budgets")?;
        let line: Vec<(f64, f64, Option<[f64; 2]>)> = geomspace(c0, c1, 40)
            .into_iter()
            .filter_map(|c| {
                let (e, b) = ladder_laws::predict::hparams(f, c).ok()?;
                let est = if batch { b } else { e };
                Some((c, est.value, est.ci95.filter(|i| i[0] > 0.0)))
            })
            .collect();
        let values = dots
            .iter()
            .flat_map(|d| [Some(d.1), d.2.map(|i| i[0]), d.2.map(|i| i[1])])
            .chain(
                line.iter()
                    .flat_map(|l| [Some(l.1), l.2.map(|i| i[0]), l.2.map(|i| i[1])]),
            )
            .flatten();
        let (y0, y1) = log_range(values, 1.3).ok_or("no optima")?;
        let mut chart = ChartBuilder::on(area)
            .caption(title, text(17))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(
                (c0..c1).log_scale().with_key_points(log_ticks(c0, c1)),
                (y0..y1).log_scale().with_key_points(log_ticks(y0, y1)),
            )
            .map_err(pe)?;
        draw_mesh(
            &mut chart,
            ("compute C, FLOPs (log)", y_desc),
            (sci, short),
            11,
        )?;
        let colour = RGBColor(31, 119, 180);
        let band: Vec<(f64, [f64; 2])> = line.iter().filter_map(|l| Some((l.0, l.2?))).collect();
        if band.len() >= 2 {
            let poly: Vec<(f64, f64)> = band
                .iter()
                .map(|b| (b.0, b.1[1]))
                .chain(band.iter().rev().map(|b| (b.0, b.1[0])))
                .collect();
            chart
                .draw_series([Polygon::new(poly, colour.mix(0.16).filled())])
                .map_err(pe)?;
        }
        chart
            .draw_series(LineSeries::new(
                line.iter().map(|l| (l.0, l.1)),
                colour.stroke_width(2),
            ))
            .map_err(pe)?;
        chart
            .draw_series(dots.iter().filter_map(|d| {
                let ci = d.2?;
                Some(PathElement::new(
                    vec![(d.0, ci[0]), (d.0, ci[1])],
                    INK.stroke_width(1),
                ))
            }))
            .map_err(pe)?;
        chart
            .draw_series(dots.iter().map(|d| {
                let style = if d.3 {
                    INK.filled()
                } else {
                    INK.stroke_width(1)
                };
                Circle::new((d.0, d.1), 4, style)
            }))
            .map_err(pe)?;
        Ok(())
    }
}
