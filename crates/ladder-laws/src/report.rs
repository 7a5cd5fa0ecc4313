//! Plain-text tables for people: a fit (parameters with intervals, derived allocation, budgets,
//! residuals) and predictions.

use std::fmt::Write;

use crate::dates::format_date;
use crate::fitfile::{Budget, FitFile, Interval, Named};
use crate::predict::{Allocation, Estimate};

/// A number in 4 significant digits: fixed for 1e-3 ≤ |x| < 1e5, else scientific.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "-".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if (1e-3..1e5).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
        format!("{x:.decimals$}")
    } else {
        format!("{x:.3e}")
    }
}

fn interval(i: Option<&Interval>) -> String {
    match i {
        Some(Interval([lo, hi])) => format!("[{}, {}]", num(*lo), num(*hi)),
        None => "-".into(),
    }
}

fn formula(f: &FitFile) -> &'static str {
    match f.law.as_str() {
        "chinchilla" => "L(N, D) = E + A/N^alpha + B/D^beta",
        "isoflop" => "per-budget vertices in ln N; N_opt = N0*C^a, D_opt = D0*C^b",
        "envelope" => "lowest loss per compute over curves; N_opt = N0*C^a, D_opt = D0*C^b",
        "kaplan" if f.params.0.len() == 2 => "L(X) = (Xc/X)^alpha_X",
        "kaplan" => "L(N, D) = [(Nc/N)^(alpha_N/alpha_D) + Dc/D]^alpha_D",
        "power" if f.params.0.len() == 3 => "y = a*x^b + c",
        "power" => "y = a*x^b",
        "doubling" => "y = y0 * 2^((t - t0)/doubling_time)",
        "hparams" => "per-budget optima in (ln lr, ln batch); eta_opt = eta0*C^k, B_opt = B0*C^m",
        _ => "",
    }
}

fn rows(
    out: &mut String,
    values: &[(String, f64)],
    ci: &Named<Interval>,
    se: &Named<f64>,
    date_key: Option<&str>,
) {
    for (k, v) in values {
        let shown = match date_key {
            Some(d) if d == k => format!("{} ({})", num(*v), format_date(*v)),
            _ => num(*v),
        };
        let _ = writeln!(
            out,
            "  {:<18} {:>22}  {:<28} {}",
            k,
            shown,
            interval(ci.get(k)),
            se.get(k).map_or("-".into(), |s| num(*s))
        );
    }
}

fn budget_rows(out: &mut String, budgets: &[Budget]) {
    let _ = writeln!(
        out,
        "  {:<10} {:<9} {:>10} {:<24} {:>10} {:<24} {:>9} {:>8}  note",
        "C", "kind", "N_opt", "95% interval", "D_opt", "95% interval", "tok/par", "loss"
    );
    for b in budgets {
        let _ = writeln!(
            out,
            "  {:<10} {:<9} {:>10} {:<24} {:>10} {:<24} {:>9} {:>8}  {}",
            num(b.C),
            b.kind,
            num(b.N_opt),
            interval(b.ci95.get("N_opt")),
            num(b.D_opt),
            interval(b.ci95.get("D_opt")),
            num(b.tokens_per_param),
            b.loss.map_or("-".into(), num),
            match (b.in_range, &b.note) {
                (_, Some(n)) => n.clone(),
                (Some(true), None) => "used".into(),
                _ => String::new(),
            }
        );
    }
}

fn hparam_rows(out: &mut String, budgets: &[Budget]) {
    let _ = writeln!(
        out,
        "  {:<10} {:<8} {:>10} {:<24} {:>10} {:<24} {:>8} {:>9} {:>9}  note",
        "C",
        "kind",
        "eta_opt",
        "95% interval",
        "B_opt",
        "95% interval",
        "loss",
        "lost lr",
        "lost B"
    );
    for b in budgets {
        let h = b.hparams.as_ref();
        let v = |f: fn(&crate::fitfile::HparamOptimum) -> f64| h.map_or("-".into(), |h| num(f(h)));
        let _ = writeln!(
            out,
            "  {:<10} {:<8} {:>10} {:<24} {:>10} {:<24} {:>8} {:>9} {:>9}  {}",
            num(b.C),
            b.kind,
            v(|h| h.eta_opt),
            interval(b.ci95.get("eta_opt")),
            v(|h| h.B_opt),
            interval(b.ci95.get("B_opt")),
            b.loss.map_or("-".into(), num),
            v(|h| h.loss_lr_x2),
            v(|h| h.loss_batch_x2),
            match (b.in_range, &b.note) {
                (_, Some(n)) => format!("not used: {n}"),
                (Some(true), None) => "used".into(),
                _ => String::new(),
            }
        );
    }
}

/// The human-readable summary of a fit.
pub fn fit_table(f: &FitFile) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "law        {}   {}", f.law, formula(f));
    let sha = f.data.sha256.get(..12).unwrap_or(&f.data.sha256);
    let _ = writeln!(
        o,
        "data       {} ({} points, sha256 {sha}…)",
        f.data.source, f.data.points
    );
    for s in &f.data.skipped {
        let _ = writeln!(o, "skipped    {}: {}", s.run, s.reason);
    }
    // What the runs were trained on, and the ranges the law holds over (`ladder diagnose` uses both).
    if !f.data.identity.note.is_empty() {
        let _ = writeln!(o, "identity   {}", f.data.identity.note);
    }
    for src in &f.data.identity.sources {
        let _ = writeln!(o, "data dir   {}", src.label());
    }
    if let Some(sup) = &f.support {
        let ranges: Vec<String> = [("N", sup.n), ("D", sup.d), ("C", sup.c)]
            .iter()
            .filter_map(|(k, r)| r.map(|[lo, hi]| format!("{k} [{lo:.3e}, {hi:.3e}]")))
            .collect();
        let _ = writeln!(o, "fitted on  {}", ranges.join(", "));
    }
    let obj = match f.fit.delta {
        Some(d) => format!("{} (delta {d})", f.fit.objective),
        None => f.fit.objective.clone(),
    };
    if matches!(f.law.as_str(), "isoflop" | "envelope" | "hparams") {
        let what = match (f.law.as_str(), &f.fit.vertex) {
            ("hparams", v) => format!(
                "optima by {}; {} power laws, sum of w*r^2 (ln eta_opt, ln B_opt)",
                v.as_deref().unwrap_or("-"),
                f.fit.objective
            ),
            // fit.json files written before `--vertex` existed hold the parabolas' SSE.
            ("isoflop", None) => "parabola SSE".to_string(),
            ("isoflop", Some(v)) => format!(
                "vertices by {v}; {} power law, sum of w*r^2 (ln N_opt)",
                f.fit.objective
            ),
            _ => "power-law SSE (ln N_opt)".to_string(),
        };
        let _ = writeln!(
            o,
            "fit        least squares; {}; {what} {:.6e}",
            f.fit.stop, f.fit.best
        );
    } else {
        let _ = writeln!(
            o,
            "fit        {obj}, best objective {:.6e}; {} of {} starts converged; best start: {}",
            f.fit.best, f.fit.converged, f.fit.starts, f.fit.stop
        );
    }
    if f.fit.bootstrap > 0 {
        let _ = writeln!(
            o,
            "bootstrap  {} replicates ({} used), seed {}, resampling {}{}",
            f.fit.bootstrap,
            f.fit.bootstrap_used,
            f.fit.seed,
            f.fit.resample,
            if f.fit.weighted {
                "; fit weighted by each point's standard error"
            } else {
                ""
            }
        );
    } else {
        let _ = writeln!(o, "bootstrap  none (--bootstrap 0): no intervals");
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "  {:<18} {:>22}  {:<28} std err",
        "parameter", "estimate", "95% interval"
    );
    let date_key = f.data.x_is_date.then_some("t0");
    rows(&mut o, &f.params.0, &f.ci95, &f.stderr, date_key);
    if f.law == "doubling" {
        let unit = if f.data.x_is_date { "years" } else { "x units" };
        let td = f.param("doubling_time").unwrap_or(f64::NAN);
        let _ = writeln!(
            o,
            "  doubling time {} {unit}{}",
            num(td),
            if td < 0.0 {
                " (negative: y is halving)"
            } else {
                ""
            }
        );
    }
    let d = &f.derived;
    let mut derived: Vec<(String, f64)> = Vec::new();
    if let Some(a) = d.a {
        derived.push(("a (N_opt ~ C^a)".into(), a));
    }
    if let Some(b) = d.b {
        derived.push(("b (D_opt ~ C^b)".into(), b));
    }
    derived.extend(d.values.0.iter().cloned());
    if !derived.is_empty() {
        let _ = writeln!(o, "\n  derived");
        // The intervals of a and b are stored under their short names.
        let mut ci = d.ci95.clone();
        let mut se = d.stderr.clone();
        for (short, long) in [("a", "a (N_opt ~ C^a)"), ("b", "b (D_opt ~ C^b)")] {
            if let Some(v) = d.ci95.get(short) {
                ci.push(long, *v);
            }
            if let Some(v) = d.stderr.get(short) {
                se.push(long, *v);
            }
        }
        rows(&mut o, &derived, &ci, &se, None);
    }
    if !d.budgets.is_empty() && f.law == "hparams" {
        let _ = writeln!(
            o,
            "\n  budgets (C in FLOPs; B in tokens per step; lost = loss lost at 2x or 1/2x the optimal lr / batch)"
        );
        hparam_rows(&mut o, &d.budgets);
    } else if !d.budgets.is_empty() {
        let _ = writeln!(o, "\n  budgets (C in FLOPs, C = 6*N*D)");
        budget_rows(&mut o, &d.budgets);
    }
    let _ = writeln!(
        o,
        "\nresiduals  rmse {} (natural log), max |r| {}",
        num(f.residuals.rmse_log),
        num(f.residuals.max_abs_log)
    );
    if let Some(line) = noise_line(f) {
        let _ = writeln!(o, "{line}");
    }
    o
}

/// The verdict of a weighted fit's χ² test: residuals consistent with the measured noise, or a
/// warning that the law misfits beyond it. `None` for unweighted fits.
pub fn noise_line(f: &FitFile) -> Option<String> {
    let r = &f.residuals;
    let (chi2_dof, dof, ok) = (r.chi2_dof?, r.dof?, r.noise_consistent?);
    Some(if ok {
        format!(
            "           residuals consistent with the measured noise (chi2/dof {}, {dof} dof)",
            num(chi2_dof)
        )
    } else {
        format!(
            "warning    residuals exceed the measured noise (chi2/dof {}, {dof} dof): the law misfits \
             beyond the noise; its intervals are widened by sqrt(chi2/dof) but treat it with care",
            num(chi2_dof)
        )
    })
}

fn est(e: &Estimate) -> String {
    let ci = e.ci95.map_or("(no bootstrap samples)".into(), |[lo, hi]| {
        format!("[{}, {}]", num(lo), num(hi))
    });
    format!("{:>10}  {ci}", num(e.value))
}

/// One line per allocation.
pub fn allocation_table(allocs: &[Allocation]) -> String {
    let mut o = String::new();
    for a in allocs {
        let _ = writeln!(o, "C = {} FLOPs", num(a.c));
        let _ = writeln!(o, "  N_opt             {}", est(&a.n_opt));
        let _ = writeln!(o, "  D_opt             {}", est(&a.d_opt));
        let _ = writeln!(o, "  tokens/param      {}", est(&a.tokens_per_param));
        if let Some(l) = &a.loss {
            let _ = writeln!(o, "  loss              {}", est(l));
        }
    }
    o
}

/// One line per prediction, labelled.
pub fn estimate_line(label: &str, e: &Estimate) -> String {
    format!("{label:<28} {}", est(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn num_formats_by_magnitude() {
        assert_eq!(num(1.81712), "1.817");
        assert_eq!(num(482.04), "482.0");
        assert_eq!(num(0.348), "0.3480");
        assert_eq!(num(2.8e9), "2.800e9");
        assert_eq!(num(1e-4), "1.000e-4");
        assert_eq!(num(f64::INFINITY), "inf");
        assert_eq!(num(0.0), "0");
    }
}
