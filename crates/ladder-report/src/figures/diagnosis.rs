//! One diagnosed (or highlighted) run against the ladder: left, its training curve against the
//! curves of reference runs of similar size with the law's prediction at its token count;
//! right, its final loss against the Chinchilla law along N at its own compute, with the
//! prediction's 95 % interval.

use ladder_laws::FitFile;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::law::chinchilla_params;
use super::Ctx;
use crate::plot::{
    draw_mesh, geomspace, lin_range, log_range, log_ticks, pe, sci, short, si, text, Draw,
    DrawResult, Frame, GRID, HIGHLIGHT, INK, MUTED,
};
use crate::runs::Run;

/// Reference runs are those within this factor of the run's N (as `ladder diagnose` does).
pub const SIMILAR_N: f64 = 2.0;

/// The law's prediction for a run: (point, 95 % interval), from diagnosis.json when it has one
/// (its interval includes the ladder's scatter), else from the fit's bootstrap.
pub fn prediction(run: &Run, fit: Option<&FitFile>) -> Option<(f64, Option<[f64; 2]>)> {
    if let Some(l) = run.diagnosis.as_ref().and_then(|d| d.law.as_ref()) {
        return Some((l.predicted, Some(l.interval95)));
    }
    let e = ladder_laws::predict::loss(fit?, run.n, run.d).ok()?;
    e.value.is_finite().then_some((e.value, e.ci95))
}

/// The per-run figure.
pub struct RunVsLaw<'a> {
    /// What to draw from.
    pub ctx: Ctx<'a>,
    /// The run.
    pub run: &'a Run,
    /// The Chinchilla fit, when there is one.
    pub fit: Option<&'a FitFile>,
}

impl RunVsLaw<'_> {
    /// Completed runs of similar size other than this one (all completed runs when none is).
    pub fn references(&self) -> (Vec<&Run>, bool) {
        let others: Vec<&Run> = self
            .ctx
            .runs
            .iter()
            .filter(|r| r.dir != self.run.dir && r.status == "completed")
            .collect();
        let similar: Vec<&Run> = others
            .iter()
            .copied()
            .filter(|r| r.n / self.run.n <= SIMILAR_N && self.run.n / r.n <= SIMILAR_N)
            .collect();
        if similar.is_empty() {
            (others, false)
        } else {
            (similar, true)
        }
    }
}

impl Draw for RunVsLaw<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let (w, _) = root.dim_in_pixel();
        let (left, right) = root.split_horizontally(w / 2);
        self.curves(&left)?;
        match self.fit {
            Some(fit) => self.law(&right, fit),
            None => crate::plot::empty_panel(&right, "no Chinchilla law to compare with"),
        }
    }
}

impl RunVsLaw<'_> {
    fn curves<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult {
        let run = self.run;
        let (refs, similar) = self.references();
        let pred = prediction(run, self.fit);
        let all = refs
            .iter()
            .flat_map(|r| r.train_curve.iter())
            .chain(&run.train_curve)
            .chain(&run.val_curve);
        let Some((x0, x1)) = log_range(all.clone().map(|p| p.0).chain([run.d]), 1.15) else {
            return crate::plot::empty_panel(area, "no metrics.jsonl: no training curve");
        };
        let extra = pred.iter().flat_map(|p| {
            [Some(p.0), p.1.map(|i| i[0]), p.1.map(|i| i[1])]
                .into_iter()
                .flatten()
        });
        let (y0, y1) = log_range(
            all.map(|p| p.1).chain(extra).chain(run.final_val_loss),
            1.04,
        )
        .ok_or("no losses")?;
        let frame = Frame {
            x: (x0, x1, true),
            y: (y0, y1, true),
        };
        let taken: Vec<(f64, f64)> = refs
            .iter()
            .flat_map(|r| r.train_curve.iter())
            .chain(&run.train_curve)
            .chain(&run.val_curve)
            .copied()
            .chain(pred.map(|p| (run.d, p.0)))
            .collect();
        let mut chart = ChartBuilder::on(area)
            .caption("Its training curve against similar runs", text(17))
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (x0..x1).log_scale().with_key_points(log_ticks(x0, x1)),
                (y0..y1).log_scale().with_key_points(log_ticks(y0, y1)),
            )
            .map_err(pe)?;
        draw_mesh(
            &mut chart,
            (
                "training tokens D (log scale)",
                "loss, nats/token (log scale)",
            ),
            (si, short),
            12,
        )?;
        let label = if similar {
            format!("reference runs, N within ×{SIMILAR_N} ({})", refs.len())
        } else {
            format!(
                "all other completed runs ({}): none of similar N",
                refs.len()
            )
        };
        for (j, r) in refs.iter().enumerate() {
            let s = chart
                .draw_series(LineSeries::new(
                    r.train_curve.clone(),
                    MUTED.stroke_width(1),
                ))
                .map_err(pe)?;
            if j == 0 {
                s.label(label.clone()).legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], MUTED.stroke_width(2))
                });
            }
        }
        chart
            .draw_series(LineSeries::new(
                run.train_curve.clone(),
                HIGHLIGHT.stroke_width(3),
            ))
            .map_err(pe)?
            .label(format!("{} (training loss)", run.name))
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], HIGHLIGHT.stroke_width(3))
            });
        chart
            .draw_series(
                run.val_curve
                    .iter()
                    .map(|&p| Circle::new(p, 4, HIGHLIGHT.filled())),
            )
            .map_err(pe)?
            .label("its validation loss")
            .legend(|(x, y)| Circle::new((x + 11, y), 4, HIGHLIGHT.filled()));
        if let Some((p, ci)) = pred {
            law_marker(&mut chart, run.d, p, ci)?;
        }
        chart
            .configure_series_labels()
            .position(frame.legend_corner(taken))
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font(text(12))
            .draw()
            .map_err(pe)
    }

    fn law<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, fit: &FitFile) -> DrawResult {
        let run = self.run;
        let p = chinchilla_params(fit).ok_or("fit.json lacks E, A, B, alpha or beta")?;
        let c = run.c;
        // Ladder runs at (about) the same compute: within 1 % in C.
        let peers: Vec<(f64, f64)> = self
            .ctx
            .runs
            .iter()
            .filter(|r| r.dir != run.dir && r.fittable() && (r.c / c).ln().abs() <= 0.01)
            .filter_map(|r| Some((r.n, r.final_val_loss?)))
            .collect();
        let (n_opt, _) = ladder_laws::allocation::optimal(&p, c);
        let (x0, x1) = log_range(
            peers
                .iter()
                .map(|q| q.0)
                .chain([run.n / 3.0, run.n * 3.0])
                .chain(Some(n_opt).filter(|n| n.is_finite())),
            1.2,
        )
        .ok_or("no sizes")?;
        let grid = geomspace(x0, x1, 80);
        let line: Vec<(f64, f64, Option<[f64; 2]>)> = grid
            .iter()
            .filter_map(|&n| {
                let e = ladder_laws::predict::loss(fit, n, c / (6.0 * n)).ok()?;
                e.value.is_finite().then_some((n, e.value, e.ci95))
            })
            .collect();
        let pred = prediction(run, Some(fit));
        let ys = line
            .iter()
            .map(|q| q.1)
            .chain(peers.iter().map(|q| q.1))
            .chain(run.final_val_loss)
            .chain(pred.iter().flat_map(|p| {
                [Some(p.0), p.1.map(|i| i[0]), p.1.map(|i| i[1])]
                    .into_iter()
                    .flatten()
            }));
        let (y0, y1) = lin_range(ys, 0.1).ok_or("no losses")?;
        let frame = Frame {
            x: (x0, x1, true),
            y: (y0, y1, false),
        };
        let taken: Vec<(f64, f64)> = line
            .iter()
            .map(|q| (q.0, q.1))
            .chain(peers.iter().copied())
            .chain(run.final_val_loss.map(|l| (run.n, l)))
            .chain(pred.iter().flat_map(|p| {
                [Some(p.0), p.1.map(|i| i[0]), p.1.map(|i| i[1])]
                    .into_iter()
                    .flatten()
                    .map(|y| (run.n, y))
            }))
            .collect();
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("Its final loss against the law at C = {}", sci(c)),
                text(17),
            )
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(60)
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
            12,
        )?;
        let with_ci: Vec<(f64, [f64; 2])> = line.iter().filter_map(|q| Some((q.0, q.2?))).collect();
        if with_ci.len() >= 2 {
            let poly: Vec<(f64, f64)> = with_ci
                .iter()
                .map(|q| (q.0, q.1[1]))
                .chain(with_ci.iter().rev().map(|q| (q.0, q.1[0])))
                .collect();
            chart
                .draw_series([Polygon::new(poly, INK.mix(0.1).filled())])
                .map_err(pe)?;
        }
        chart
            .draw_series(LineSeries::new(
                line.iter().map(|q| (q.0, q.1)),
                INK.stroke_width(2),
            ))
            .map_err(pe)?
            .label("law at this C (band: 95 % bootstrap)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], INK.stroke_width(2)));
        if !peers.is_empty() {
            chart
                .draw_series(peers.iter().map(|&q| Circle::new(q, 5, MUTED.filled())))
                .map_err(pe)?
                .label("ladder runs at this C")
                .legend(|(x, y)| Circle::new((x + 11, y), 5, MUTED.filled()));
        }
        if let Some((pv, ci)) = pred {
            law_marker(&mut chart, run.n, pv, ci)?;
        }
        if let Some(l) = run.final_val_loss {
            chart
                .draw_series([Circle::new((run.n, l), 7, HIGHLIGHT.filled())])
                .map_err(pe)?
                .label(format!("{}: {l:.3}", run.name))
                .legend(|(x, y)| Circle::new((x + 11, y), 6, HIGHLIGHT.filled()));
        }
        chart
            .configure_series_labels()
            .position(frame.legend_corner(taken))
            .background_style(WHITE.mix(0.85))
            .border_style(GRID)
            .label_font(text(12))
            .draw()
            .map_err(pe)
    }
}

/// The law's prediction at x: a cross and its 95 % interval as a vertical bar with caps.
fn law_marker<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<DB, Cartesian2d<X, Y>>,
    x: f64,
    pred: f64,
    ci: Option<[f64; 2]>,
) -> DrawResult
where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>,
{
    if let Some([lo, hi]) = ci.filter(|c| c[0].is_finite() && c[1].is_finite()) {
        chart
            .draw_series([PathElement::new(
                vec![(x, lo), (x, hi)],
                INK.stroke_width(2),
            )])
            .map_err(pe)?;
        for y in [lo, hi] {
            chart
                .draw_series([EmptyElement::at((x, y))
                    + PathElement::new(vec![(-6, 0), (6, 0)], INK.stroke_width(2))])
                .map_err(pe)?;
        }
    }
    let label = match ci {
        Some([lo, hi]) => format!("law predicts {pred:.3}, 95 %: [{lo:.3}, {hi:.3}]"),
        None => format!("law predicts {pred:.3}"),
    };
    chart
        .draw_series([Cross::new((x, pred), 6, INK.stroke_width(2))])
        .map_err(pe)?
        .label(label)
        .legend(|(x, y)| Cross::new((x + 11, y), 5, INK.stroke_width(2)));
    Ok(())
}
