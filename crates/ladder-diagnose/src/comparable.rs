//! Can the run be judged against this law and these reference runs at all? A loss means
//! something only against losses on the same data: another tokenizer or another text is another
//! scale (the synthetic source's entropy is 1.3 nats/token, English text's several times that).
//! The run's data directory (its `config.toml`'s `data.dir`, then `meta.json`'s hashes) is
//! compared with the law's (fit.json `data.sources`) and with each reference run's.

use ladder_laws::fitfile::DataDir;
use ladder_laws::identity::{compare, Comparison};
use ladder_laws::FitFile;

use crate::run::RunData;
use crate::{Finding, NotJudged, NotJudgedKind, Verdict};

/// What the data comparison decided for one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Same data, or nothing to compare: judge (the finding says which).
    Judge,
    /// Other data, judged anyway because the user insisted (`--allow-other-data`).
    JudgeOtherData,
    /// Other data: not applicable.
    Skip,
}

fn finding(out: &mut Vec<Finding>, severity: Verdict, message: String) {
    out.push(Finding {
        check: "data",
        severity,
        cause: None,
        message,
    });
}

/// The run's data directory when it records hashes, else why not.
fn run_data(run: &RunData) -> Result<&DataDir, String> {
    match &run.data {
        Ok(d) if d.has_hashes() => Ok(d),
        Ok(d) => Err(format!(
            "its data directory {} records no hashes",
            d.data_dir.as_deref().unwrap_or("?")
        )),
        Err(why) => Err(why.clone()),
    }
}

/// The worst comparison of `mine` with each of `theirs`, with the source it concerns.
fn worst<'a>(mine: &DataDir, theirs: &'a [DataDir]) -> (Comparison, Option<&'a DataDir>) {
    let rank = |c: &Comparison| match c {
        Comparison::Same => 0,
        Comparison::SameTokenizer => 1,
        Comparison::Unknown => 2,
        Comparison::Differ(_) => 3,
    };
    theirs
        .iter()
        .map(|t| (compare(mine, t), Some(t)))
        .max_by_key(|(c, _)| rank(c))
        .unwrap_or((Comparison::Unknown, None))
}

/// The law's data against the run's.
pub fn law(
    run: &RunData,
    fit: &FitFile,
    allow_other_data: bool,
    out: &mut Vec<Finding>,
    not_judged: &mut Vec<NotJudged>,
) -> Decision {
    let id = &fit.data.identity;
    if !id.known || id.sources.is_empty() {
        let why = if id.note.is_empty() {
            "fit.json records no data identity (written before ladder recorded it; refit from the run directories)"
        } else {
            id.note.trim_start_matches("data identity unknown: ")
        };
        finding(
            out,
            Verdict::Healthy,
            format!(
                "law: data identity unknown: the check could not be made ({why}); the law is used as if fitted on the run's data"
            ),
        );
        return Decision::Judge;
    }
    let mine = match run_data(run) {
        Ok(d) => d,
        Err(why) => {
            finding(
                out,
                Verdict::Healthy,
                format!(
                    "law: the run's data identity is unknown ({why}): the check could not be made"
                ),
            );
            return Decision::Judge;
        }
    };
    let theirs = id
        .sources
        .iter()
        .map(DataDir::label)
        .collect::<Vec<_>>()
        .join("; ");
    match worst(mine, &id.sources) {
        (Comparison::Differ(why), _) => {
            let msg = format!(
                "the run was trained on {} but the {} law was fitted on runs trained on {theirs} ({why})",
                mine.label(),
                fit.law
            );
            if allow_other_data {
                finding(
                    out,
                    Verdict::Healthy,
                    format!("law: the data differ: {msg}; judged anyway (--allow-other-data)"),
                );
                Decision::JudgeOtherData
            } else {
                not_judged.push(NotJudged {
                    check: "law",
                    kind: NotJudgedKind::NotApplicable,
                    message: format!(
                        "{msg}: losses on other data are on another scale; pass --allow-other-data to compare anyway"
                    ),
                });
                Decision::Skip
            }
        }
        (Comparison::Unknown, _) => {
            finding(
                out,
                Verdict::Healthy,
                format!(
                    "law: the run's data {} and the law's {theirs} record no common hash: the check could not be made",
                    mine.label()
                ),
            );
            Decision::Judge
        }
        (Comparison::SameTokenizer, _) => {
            finding(
                out,
                Verdict::Healthy,
                format!(
                    "law: same tokenizer and vocabulary as the law's runs ({theirs}), other shards: comparable when drawn from the same source"
                ),
            );
            Decision::Judge
        }
        (Comparison::Same, _) => {
            finding(
                out,
                Verdict::Healthy,
                format!("law: the same data as the law's runs ({theirs})"),
            );
            Decision::Judge
        }
    }
}

/// Splits the reference runs into those trained on comparable data (or data that cannot be
/// checked) and the others; the others are left out unless the user insisted. Returns the runs
/// to compare with and whether the reference check can be applied at all.
pub fn references<'a>(
    run: &RunData,
    refs: &'a [RunData],
    allow_other_data: bool,
    out: &mut Vec<Finding>,
    not_judged: &mut Vec<NotJudged>,
) -> (Vec<&'a RunData>, Decision) {
    if refs.is_empty() {
        return (Vec::new(), Decision::Judge);
    }
    let mine = match run_data(run) {
        Ok(d) => d,
        Err(why) => {
            finding(
                out,
                Verdict::Healthy,
                format!("reference: the run's data identity is unknown ({why}): the check could not be made"),
            );
            return (refs.iter().collect(), Decision::Judge);
        }
    };
    let (mut same, mut other, mut unknown) = (Vec::new(), Vec::new(), 0usize);
    let mut why_other = None;
    for r in refs {
        match run_data(r) {
            Ok(theirs) => match compare(mine, theirs) {
                Comparison::Differ(why) => {
                    why_other.get_or_insert_with(|| (theirs.label(), why));
                    other.push(r);
                }
                Comparison::Unknown => {
                    unknown += 1;
                    same.push(r);
                }
                _ => same.push(r),
            },
            Err(_) => {
                unknown += 1;
                same.push(r);
            }
        }
    }
    let n = refs.len();
    let unknown_note = if unknown > 0 {
        format!(" ({unknown} of them of unknown data: not checked)")
    } else {
        String::new()
    };
    let Some((theirs, why)) = why_other else {
        finding(
            out,
            Verdict::Healthy,
            format!(
                "reference: the {n} reference runs were trained on the run's data {}{unknown_note}",
                mine.label()
            ),
        );
        return (same, Decision::Judge);
    };
    let msg = format!(
        "{} of {n} reference runs were trained on {theirs}, the run on {} ({why})",
        other.len(),
        mine.label()
    );
    if allow_other_data {
        finding(
            out,
            Verdict::Healthy,
            format!("reference: the data differ: {msg}; all compared anyway (--allow-other-data)"),
        );
        return (refs.iter().collect(), Decision::JudgeOtherData);
    }
    if same.is_empty() {
        not_judged.push(NotJudged {
            check: "reference",
            kind: NotJudgedKind::NotApplicable,
            message: format!(
                "{msg}: curves and gaps on other data say nothing about this run; pass --allow-other-data to compare anyway"
            ),
        });
        return (same, Decision::Skip);
    }
    finding(
        out,
        Verdict::Healthy,
        format!(
            "reference: {msg}: left out; compared with the other {}{unknown_note}",
            same.len()
        ),
    );
    (same, Decision::Judge)
}
