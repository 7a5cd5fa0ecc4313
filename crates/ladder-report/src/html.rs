//! The HTML page: one file with its CSS inline and every figure inline as SVG (so it stands
//! alone), each figure linking to its PNG and SVG files beside the page. Numbers in the run
//! table carry their exact values in `data-value` attributes, for scripts and tests.

use std::fmt::Write;

use ladder_laws::FitFile;

use crate::figures::diagnosis::prediction;
use crate::fits::{FitSource, LawFit, Laws};
use crate::plot::{sci, si, Figure};
use crate::runs::{Diagnosis, Run};

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

pub(crate) const CSS: &str = r#"
:root { --ink:#1f2328; --muted:#656d76; --line:#d8dee4; --bg:#f6f8fa; --accent:#1f77b4;
        --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; }
* { box-sizing: border-box; }
body { margin:0; background:#fff; color:var(--ink);
       font: 16px/1.55 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 64px; }
header h1 { font-size: 30px; margin: 0 0 4px; letter-spacing: -0.01em; }
header p.sub { color: var(--muted); margin: 0 0 20px; }
h2 { font-size: 22px; margin: 44px 0 8px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 18px; margin: 28px 0 6px; }
p.lead { margin: 4px 0 14px; color: #333; max-width: 860px; }
nav { background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px;
      margin: 8px 0 8px; font-size: 15px; }
nav a { margin-right: 16px; color: var(--accent); text-decoration: none; white-space: nowrap; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; margin: 16px 0; }
.card { background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .k { font-size: 13.5px; color: var(--muted); }
.card .v { font-size: 22px; font-weight: 600; margin-top: 2px; font-variant-numeric: tabular-nums; }
.card .n { font-size: 13px; color: var(--muted); }
figure { margin: 14px 0 26px; }
figure .plot { border: 1px solid var(--line); border-radius: 8px; padding: 6px; background: #fff; }
figure .plot svg { display: block; width: 100%; height: auto; }
figcaption { font-size: 14.5px; color: #333; margin-top: 8px; max-width: 920px; }
figcaption a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; font-size: 14px; margin: 10px 0 18px; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.hl td { background: #fff5f5; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13.5px;
       background: var(--bg); padding: 1px 4px; border-radius: 4px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-size: 13px; font-weight: 600;
         color: #fff; text-transform: uppercase; letter-spacing: .04em; }
.badge.healthy, .badge.completed { background: var(--ok); }
.badge.suspicious { background: var(--warn); }
.badge.broken, .badge.failed, .badge.diverged { background: var(--bad); }
.badge.none { background: #8c959f; }
.badge.inconclusive { background: #6e7781; }
.diag { border: 1px solid var(--line); border-radius: 10px; padding: 4px 18px 8px; margin: 18px 0 28px; }
.diag.broken { border-left: 6px solid var(--bad); }
.diag.suspicious { border-left: 6px solid var(--warn); }
.diag.healthy { border-left: 6px solid var(--ok); }
.diag.inconclusive { border-left: 6px dashed #6e7781; }
.sev-inconclusive { color: #6e7781; font-weight: 600; }
.diag h3 { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
.sev-broken { color: var(--bad); font-weight: 600; }
.sev-suspicious { color: var(--warn); font-weight: 600; }
.sev-healthy { color: var(--ok); }
.note { color: var(--muted); font-size: 14px; }
ul.plain { padding-left: 20px; }
footer { margin-top: 48px; color: var(--muted); font-size: 13px; }
"#;

/// What the page shows.
pub struct Page<'a> {
    /// Title.
    pub title: &'a str,
    /// The input as given.
    pub input: &'a str,
    /// The input's runs.
    pub runs: &'a [Run],
    /// Runs shown in the diagnosis section (from the input or `--diagnose`).
    pub subjects: &'a [(&'a Run, Option<Figure>)],
    /// Indices of highlighted runs.
    pub highlight: &'a [usize],
    /// Laws and budgets.
    pub laws: &'a Laws,
    /// The main figures, in order.
    pub figures: &'a [Figure],
    /// Name of the folder beside the page holding the figure files.
    pub files_dir: &'a str,
    /// Run directories that could not be read.
    pub skipped: &'a [(String, String)],
    /// Problems that did not stop the report.
    pub warnings: &'a [String],
    /// The source's entropy.
    pub entropy: Option<f64>,
    /// Backtests of the laws.
    pub backtests: &'a crate::backtests::Backtests,
}

fn fmt_ci(f: &FitFile, k: &str, digits: usize) -> String {
    match f.ci95.get(k) {
        Some(i) if i.0[0].is_finite() && i.0[1].is_finite() => {
            format!("[{:.digits$}, {:.digits$}]", i.0[0], i.0[1])
        }
        _ => String::new(),
    }
}

fn card(s: &mut String, k: &str, v: &str, n: &str) {
    let _ = write!(
        s,
        "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\">{}</div><div class=\"n\">{}</div></div>",
        esc(k),
        v,
        n
    );
}

fn source_note(l: &LawFit, name: &str) -> String {
    match l {
        LawFit::Ok(_, FitSource::File(p)) => format!(
            "{name}: read from <code>{}</code>",
            esc(&p.display().to_string())
        ),
        LawFit::Ok(f, FitSource::Fitted) => format!(
            "{name}: fitted here on {} runs ({} bootstrap replicates, {} kept, seed {})",
            f.data.points, f.fit.bootstrap, f.fit.bootstrap_used, f.fit.seed
        ),
        LawFit::Unavailable(why) => format!("{name}: not available ({})", esc(why)),
    }
}

fn figure_html(s: &mut String, f: &Figure, number: usize, files_dir: &str) {
    let _ = writeln!(
        s,
        "<figure id=\"fig-{stem}\"><div class=\"plot\">{svg}</div><figcaption><b>Figure {number}.</b> {cap} \
         <span class=\"note\">Files: <a href=\"{dir}/{stem}.png\">{stem}.png</a> · <a href=\"{dir}/{stem}.svg\">{stem}.svg</a></span>\
         </figcaption></figure>",
        stem = esc(&f.stem),
        svg = f.svg,
        cap = f.caption,
        dir = esc(files_dir),
    );
}

fn td_num(s: &mut String, v: Option<f64>, shown: String) {
    match v {
        Some(x) => {
            let _ = write!(s, "<td class=\"num\" data-value=\"{x}\">{shown}</td>");
        }
        None => s.push_str("<td class=\"num\">–</td>"),
    }
}

/// The whole page.
pub fn page(p: &Page) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"ladder report\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>",
        esc(p.title)
    );
    let completed = p.runs.iter().filter(|r| r.status == "completed").count();
    let _ = writeln!(
        s,
        "<header><h1>{}</h1><p class=\"sub\">Input <code>{}</code> · {} runs ({} completed) in {} compute budgets · made by <code>ladder report</code></p></header>",
        esc(p.title),
        esc(p.input),
        p.runs.len(),
        completed,
        p.laws.budgets.len()
    );
    summary_cards(&mut s, p);
    let has = |stem: &str| p.figures.iter().any(|f| f.stem == stem);
    s.push_str("<nav>");
    for (id, name, show) in [
        ("curves", "Training curves", has("curves")),
        ("isoflop", "IsoFLOP profiles", has("isoflop")),
        ("law", "Fitted law", has("law")),
        ("residuals", "Residuals", has("residuals")),
        ("shape", "By shape", has("shape")),
        ("frontier", "Compute-optimal frontier", has("frontier")),
        ("backtest", "Backtest", true),
        ("diagnosis", "Diagnosis", !p.subjects.is_empty()),
        ("runs", "Runs", true),
        ("notes", "Notes", true),
    ] {
        if show {
            let _ = write!(s, "<a href=\"#{id}\">{name}</a>");
        }
    }
    s.push_str("</nav>\n");
    let mut number = 0;
    for f in p.figures {
        number += 1;
        let _ = writeln!(
            s,
            "<section id=\"{}\"><h2>{}</h2>",
            esc(&f.stem),
            esc(&f.title)
        );
        figure_html(&mut s, f, number, p.files_dir);
        if f.stem == "frontier" {
            frontier_table(&mut s, p.laws);
        }
        s.push_str("</section>\n");
    }
    backtest_section(&mut s, p.backtests);
    if !p.subjects.is_empty() {
        diagnosis_section(&mut s, p, &mut number);
    }
    runs_table(&mut s, p);
    notes(&mut s, p);
    s.push_str("<footer>Compute is C = 6·N·D with N the non-embedding parameters and D the training tokens; losses are cross-entropy in nats per token. Intervals are 95 % percentile bootstrap intervals.</footer>\n</main>\n</body>\n</html>\n");
    s
}

fn summary_cards(s: &mut String, p: &Page) {
    s.push_str("<div class=\"cards\">");
    let (cmin, cmax) = (
        p.laws.budgets.first().map_or(0.0, |b| b.c),
        p.laws.budgets.last().map_or(0.0, |b| b.c),
    );
    card(
        s,
        "compute range",
        &format!("{} – {}", sci(cmin), sci(cmax)),
        "FLOPs, C = 6·N·D",
    );
    let (nmin, nmax) = p
        .runs
        .iter()
        .fold((f64::INFINITY, 0.0f64), |a, r| (a.0.min(r.n), a.1.max(r.n)));
    card(
        s,
        "model sizes",
        &format!("{} – {}", si(nmin), si(nmax)),
        "non-embedding parameters N",
    );
    if let Some(f) = p.laws.chinchilla.fit() {
        if let Some(e) = f.param("E") {
            let note = match p.entropy {
                Some(h) => format!(
                    "{} · source entropy {h:.3} (Δ {:+.3})",
                    fmt_ci(f, "E", 3),
                    e - h
                ),
                None => fmt_ci(f, "E", 3),
            };
            card(s, "irreducible loss E", &format!("{e:.3}"), &note);
        }
        if let (Some(a), Some(b)) = (f.param("alpha"), f.param("beta")) {
            card(
                s,
                "exponents α, β",
                &format!("{a:.3}, {b:.3}"),
                &format!("{} · {}", fmt_ci(f, "alpha", 3), fmt_ci(f, "beta", 3)),
            );
        }
        if let Some(a) = f.derived.a {
            let ci = f
                .derived
                .ci95
                .get("a")
                .filter(|i| i.0[0].is_finite() && i.0[1].is_finite())
                .map_or(String::new(), |i| format!("[{:.3}, {:.3}]", i.0[0], i.0[1]));
            card(s, "N_opt ∝ C^a (Chinchilla)", &format!("a = {a:.3}"), &ci);
        }
        card(
            s,
            "fit residuals",
            &format!("{:.2} %", 100.0 * f.residuals.rmse_log),
            &format!("RMSE of ln L; max {:.2} %", 100.0 * f.residuals.max_abs_log),
        );
    }
    if let Some(f) = p.laws.isoflop.fit() {
        if let Some(a) = f.param("a") {
            card(
                s,
                "N_opt ∝ C^a (IsoFLOP)",
                &format!("a = {a:.3}"),
                &fmt_ci(f, "a", 3),
            );
        }
    }
    s.push_str("</div>\n");
}

fn frontier_table(s: &mut String, laws: &Laws) {
    let Some(last) = laws.budgets.last() else {
        return;
    };
    let cs: Vec<f64> = [1.0, 10.0, 100.0].iter().map(|m| last.c * m).collect();
    let mut rows = String::new();
    for (name, l) in [("Chinchilla", &laws.chinchilla), ("IsoFLOP", &laws.isoflop)] {
        let Some(f) = l.fit() else { continue };
        for &c in &cs {
            let Ok(a) = ladder_laws::predict::allocation(f, c) else {
                continue;
            };
            let ci = |e: &ladder_laws::predict::Estimate| {
                e.ci95
                    .filter(|i| i[0].is_finite() && i[1].is_finite())
                    .map_or(String::new(), |i| {
                        format!(" <span class=\"note\">[{}, {}]</span>", si(i[0]), si(i[1]))
                    })
            };
            let loss = a
                .loss
                .map_or("–".to_string(), |e| format!("{:.3}", e.value));
            let _ = write!(
                rows,
                "<tr><td>{name}</td><td class=\"num\">{}</td><td class=\"num\">{}{}</td><td class=\"num\">{}{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{loss}</td></tr>",
                sci(c),
                si(a.n_opt.value),
                ci(&a.n_opt),
                si(a.d_opt.value),
                ci(&a.d_opt),
                a.tokens_per_param.value,
            );
        }
    }
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "<p class=\"lead\">Compute-optimal allocation at the ladder's largest budget and 10× and 100× beyond it (95 % intervals in brackets):</p>\
         <table><thead><tr><th>law</th><th class=\"num\">C (FLOPs)</th><th class=\"num\">N_opt</th><th class=\"num\">D_opt (tokens)</th><th class=\"num\">tokens/param</th><th class=\"num\">loss at optimum</th></tr></thead><tbody>{rows}</tbody></table>"
    );
}

/// Losses with 4 decimals, sizes with SI prefixes.
fn bt_num(x: f64) -> String {
    if x.abs() >= 1e4 {
        si(x)
    } else {
        format!("{x:.4}")
    }
}

fn backtest_section(s: &mut String, b: &crate::backtests::Backtests) {
    use crate::backtests::BacktestSource;
    s.push_str("<section id=\"backtest\"><h2>Backtest: the largest budget predicted from the others</h2>\n");
    let from = match &b.source {
        BacktestSource::File(p) => format!(
            "Read from <code>{}</code> (written by <code>ladder backtest --out</code>).",
            esc(&p.display().to_string())
        ),
        BacktestSource::Run => "Run by this report: each law fitted on every compute budget but the largest (<code>ladder backtest --holdout-top 1</code>), then its predictions for the held-out budget checked against what its runs show.".to_string(),
        BacktestSource::None(why) => format!("No backtest: {}.", esc(why)),
    };
    let _ = writeln!(
        s,
        "<p class=\"lead\">{from} The truth of the best loss and N_opt is the held-out budget's own vertex; a truth counts as inside when it lies within the law's 95 % interval widened by the truth's own noise (docs/laws.md, Backtests).</p>"
    );
    for (law, r) in &b.items {
        match r {
            Err(why) => {
                let _ = writeln!(s, "<p><b>{}</b>: {}</p>", esc(law), esc(why));
            }
            Ok(bt) => {
                let _ = writeln!(
                    s,
                    "<p><b>{}</b> (vertices: {}), fitted on {} budget(s), {} runs: {} of {} truths inside their interval.</p>",
                    esc(&bt.law),
                    esc(&bt.vertex),
                    bt.fit_budgets.len(),
                    bt.fit_points,
                    bt.inside,
                    bt.with_interval
                );
                s.push_str("<table><thead><tr><th class=\"num\">C (FLOPs)</th><th>quantity</th><th class=\"num\">predicted</th><th class=\"num\">95 % interval</th><th class=\"num\">actual ± SE</th><th class=\"num\">error %</th><th>inside</th></tr></thead><tbody>");
                for h in &bt.heldout {
                    for c in &h.checks {
                        let what = match (c.N, c.D) {
                            (Some(n), Some(d)) => format!("loss at N = {}, D = {}", si(n), si(d)),
                            _ => c.quantity.clone(),
                        };
                        let ci = c.prediction_interval.map_or("–".to_string(), |[lo, hi]| {
                            format!("[{}, {}]", bt_num(lo), bt_num(hi))
                        });
                        let inside = match c.inside {
                            Some(true) => "yes",
                            Some(false) => "<b>no</b>",
                            None => "–",
                        };
                        let _ = write!(
                            s,
                            "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{ci}</td><td class=\"num\">{} ± {}</td><td class=\"num\">{:+.2}</td><td>{inside}</td></tr>",
                            sci(h.C),
                            esc(&what),
                            bt_num(c.predicted),
                            bt_num(c.actual),
                            bt_num(c.actual_se),
                            c.error_pct
                        );
                    }
                }
                s.push_str("</tbody></table>\n");
            }
        }
    }
    s.push_str("</section>\n");
}

fn verdict_class(d: Option<&Diagnosis>) -> &str {
    match d.map(|d| d.verdict.as_str()) {
        Some("healthy") => "healthy",
        Some("suspicious") => "suspicious",
        Some("broken") => "broken",
        Some("inconclusive") => "inconclusive",
        _ => "none",
    }
}

fn diagnosis_section(s: &mut String, p: &Page, number: &mut usize) {
    s.push_str("<section id=\"diagnosis\"><h2>Diagnosis: runs against the law</h2>\n<p class=\"lead\">Each run below was diagnosed with <code>ladder diagnose</code> (its <code>diagnosis.json</code>), highlighted, or given with <code>--diagnose</code>. Its final loss is compared with the law's 95 % prediction interval at its (N, D) — too low is as suspicious as too high (leaked targets) — and its training curve with those of reference runs of similar size.</p>\n");
    for (run, fig) in p.subjects {
        let d = run.diagnosis.as_ref();
        let class = verdict_class(d);
        let _ = write!(
            s,
            "<div class=\"diag {class}\" id=\"diag-{}\"><h3>{}",
            esc(&run.name),
            esc(&run.name)
        );
        match d {
            Some(d) => {
                let _ = write!(
                    s,
                    " <span class=\"badge {class}\">{}</span>",
                    esc(&d.verdict)
                );
                if let Some(c) = &d.cause {
                    let _ = write!(s, " <span>most likely cause: <b>{}</b></span>", esc(c));
                }
            }
            None => s.push_str(" <span class=\"badge none\">not diagnosed</span>"),
        }
        s.push_str("</h3>\n");
        let _ = writeln!(
        s,
        "<p>N = {}, D = {}, C = {} FLOPs, status {}, final validation loss {}. <span class=\"note\"><code>{}</code></span></p>",
            si(run.n),
            si(run.d),
            sci(run.c),
            esc(&run.status),
            run.final_val_loss.map_or("–".to_string(), |l| format!("{l:.4}")),
            esc(&run.dir.display().to_string())
        );
        if let Some(d) = d {
            could_not_judge(s, d);
        }
        match d.and_then(|d| d.law.as_ref()) {
            Some(l) => {
                let _ = writeln!(
        s,
        "<p>Law ({}): observed <b>{:.4}</b>, predicted {:.4}, 95 % interval [{:.4}, {:.4}], <b>z = {:+.1}</b> σ ({}){}.</p>",
                    esc(&l.law),
                    l.observed,
                    l.predicted,
                    l.interval95[0],
                    l.interval95[1],
                    l.z,
                    if l.z > 0.0 { "worse than the law" } else { "better than the law" },
                    if l.judged { "" } else { "; <b>inconclusive</b>: these numbers judge nothing" }
                );
            }
            None => {
                if let Some((pv, ci)) = prediction(run, p.laws.chinchilla.fit()) {
                    let ci = ci.map_or(String::new(), |i| {
                        format!(", 95 % interval of the fit [{:.4}, {:.4}]", i[0], i[1])
                    });
                    let _ = writeln!(
        s,
        "<p>Chinchilla law predicts {pv:.4}{ci} (parameter uncertainty only; <code>ladder diagnose</code> adds the ladder's scatter).</p>");
                }
            }
        }
        if let Some(f) = fig {
            *number += 1;
            figure_html(s, f, *number, p.files_dir);
        }
        if let Some(d) = d {
            if !d.findings.is_empty() {
                let _ = write!(s, "<table><thead><tr><th>severity</th><th>check</th><th>cause</th><th>evidence ({} reference runs)</th></tr></thead><tbody>", d.references);
                for f in &d.findings {
                    let _ = write!(
                        s,
                        "<tr><td class=\"sev-{sev}\">{sev}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                        esc(&f.check),
                        esc(f.cause.as_deref().unwrap_or("")),
                        esc(&f.message),
                        sev = esc(&f.severity),
                    );
                }
                s.push_str("</tbody></table>\n");
            }
        }
        s.push_str("</div>\n");
    }
    s.push_str("</section>\n");
}

/// The comparisons that could not judge the run, and a warning when data differ.
fn could_not_judge(s: &mut String, d: &Diagnosis) {
    if !d.not_judged.is_empty() {
        s.push_str("<p><b>Could not judge:</b></p><ul class=\"not-judged\">");
        for nj in &d.not_judged {
            let _ = write!(
                s,
                "<li><code>{}</code> check {}: {}</li>",
                esc(&nj.check),
                esc(&nj.status.replace('-', " ")),
                esc(&nj.message)
            );
        }
        s.push_str("</ul>\n");
    }
    if d.other_data {
        s.push_str("<p><b>The data differ:</b> the run was compared with a law or reference runs trained on other data (<code>--allow-other-data</code>).</p>\n");
    }
}

fn runs_table(s: &mut String, p: &Page) {
    s.push_str("<section id=\"runs\"><h2>Runs</h2>\n<p class=\"lead\">Every run of the ladder, by compute then size, as its <code>summary.json</code> records it. The law column is the Chinchilla prediction at the run's (N, D) and the residual is 100·ln(observed/law).</p>\n");
    s.push_str("<table id=\"runs-table\"><thead><tr><th>run</th><th>arch</th><th class=\"num\">N</th><th class=\"num\">D (tokens)</th><th class=\"num\">C (FLOPs)</th><th class=\"num\">D/N</th><th class=\"num\">final train loss</th><th class=\"num\">val loss</th><th class=\"num\">law</th><th class=\"num\">residual</th><th>status</th><th>diagnosis</th></tr></thead><tbody>\n");
    let fit = p.laws.chinchilla.fit();
    for (i, r) in p.runs.iter().enumerate() {
        let hl = p.highlight.contains(&i);
        let _ = write!(
            s,
            "<tr data-run=\"{}\"{}><td>{}</td>",
            esc(&r.name),
            if hl { " class=\"hl\"" } else { "" },
            esc(&r.name)
        );
        let _ = write!(s, "<td>{}</td>", esc(&r.arch));
        td_num(s, Some(r.n), si(r.n));
        td_num(s, Some(r.d), si(r.d));
        td_num(s, Some(r.c), sci(r.c));
        td_num(s, Some(r.d / r.n), format!("{:.1}", r.d / r.n));
        td_num(
            s,
            r.final_train_loss,
            r.final_train_loss
                .map_or(String::new(), |l| format!("{l:.4}")),
        );
        td_num(
            s,
            r.final_val_loss,
            r.final_val_loss
                .map_or(String::new(), |l| format!("{l:.4}")),
        );
        let pred = fit
            .and_then(|f| ladder_laws::predict::loss(f, r.n, r.d).ok())
            .map(|e| e.value);
        td_num(s, pred, pred.map_or(String::new(), |l| format!("{l:.4}")));
        let res = pred
            .zip(r.final_val_loss)
            .map(|(p, o)| 100.0 * (o / p).ln());
        td_num(s, res, res.map_or(String::new(), |x| format!("{x:+.2} %")));
        let _ = write!(
            s,
            "<td><span class=\"badge {0}\">{0}</span></td>",
            esc(&r.status)
        );
        match &r.diagnosis {
            Some(d) => {
                let _ = write!(
                    s,
                    "<td><a href=\"#diag-{}\"><span class=\"badge {}\">{}</span></a></td>",
                    esc(&r.name),
                    verdict_class(Some(d)),
                    esc(&d.verdict)
                );
            }
            None => s.push_str("<td class=\"note\">–</td>"),
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table></section>\n");
}

fn notes(s: &mut String, p: &Page) {
    s.push_str("<section id=\"notes\"><h2>Notes</h2><ul class=\"plain\">");
    let _ = write!(
        s,
        "<li>{}</li>",
        source_note(
            &p.laws.chinchilla,
            "Chinchilla law (Approach 3: Huber loss in log space, L-BFGS from the Hoffmann grid)"
        )
    );
    let _ = write!(s, "<li>{}</li>", source_note(&p.laws.isoflop, "IsoFLOP law (Approach 2: per-budget vertices by the fit's vertex estimator, a weighted power law through them)"));
    for (run, why) in &p.laws.left_out {
        let _ = write!(
            s,
            "<li>Left out of the fits here: <code>{}</code> ({})</li>",
            esc(run),
            esc(why)
        );
    }
    for (run, why) in p.skipped {
        let _ = write!(
            s,
            "<li>Not shown: <code>{}</code> ({})</li>",
            esc(run),
            esc(why)
        );
    }
    for w in p.warnings {
        let _ = write!(s, "<li>Warning: {}</li>", esc(w));
    }
    s.push_str("</ul></section>\n");
}
