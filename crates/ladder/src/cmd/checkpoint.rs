//! `ladder checkpoint verify RUN`: every checkpoint's files against the sha256 in its state.json.

use std::path::PathBuf;
use std::process::ExitCode;

/// `ladder checkpoint ...`.
#[derive(clap::Subcommand, Debug)]
pub enum CheckpointCommand {
    /// Check every checkpoint of a run: state.json parses, both tensor files exist and match their
    /// sha256, and LATEST names a good one. Exit code 1 when anything is bad.
    #[command(after_help = "\
A bad checkpoint is named with the file that is wrong (truncated, bit-flipped, missing). A resume
(`ladder train --out RUN --resume`) passes over bad checkpoints to the newest good one.

Example:
  ladder checkpoint verify runs/r1")]
    Verify(VerifyArgs),
}

/// Arguments of `ladder checkpoint verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// Run directory written by `ladder train`.
    #[arg(value_name = "RUN")]
    pub run: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(c: CheckpointCommand) -> anyhow::Result<ExitCode> {
    let CheckpointCommand::Verify(a) = c;
    let r = ladder_train::resume::verify_run(&a.run)?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("checkpoints of {}:", a.run.display());
        for c in &r.checkpoints {
            let latest = if r.latest.as_deref() == Some(c.name.as_str()) {
                "  (LATEST)"
            } else {
                ""
            };
            match &c.problem {
                None => println!("  {}  ok{latest}", c.name),
                Some(p) => println!("  {}  BAD{latest}: {p}", c.name),
            }
        }
        for t in &r.incomplete {
            println!("  {t}  incomplete: an interrupted write (a resume removes it)");
        }
        if let Some(p) = &r.latest_problem {
            println!("LATEST: {p}");
        }
        match r.newest_good() {
            Some(g) => println!("newest good checkpoint: {} (step {})", g.name, g.step),
            None => println!("no good checkpoint: a resume would start again from step 0"),
        }
    }
    if r.all_good() {
        Ok(ExitCode::SUCCESS)
    } else {
        let bad = r.checkpoints.iter().filter(|c| c.problem.is_some()).count();
        eprintln!(
            "ladder: error: {bad} of {} checkpoints are bad{}",
            r.checkpoints.len(),
            if r.latest_problem.is_some() {
                ", and LATEST is wrong"
            } else {
                ""
            }
        );
        Ok(ExitCode::FAILURE)
    }
}
