//! `ladder train --supervise`: this process becomes the parent; the trainer runs as a child
//! `ladder train` with the same arguments (less the supervisor's own), and restarts get `--resume`.

use std::ffi::{OsStr, OsString};
use std::process::ExitCode;
use std::time::Duration;

use ladder_train::inject::Injection;
use ladder_train::supervisor::{self, SuperviseOptions};

use super::train::TrainArgs;

/// Flags of the supervisor itself, with whether they take a value.
const OWN_FLAGS: [(&str, bool); 3] = [
    ("--supervise", false),
    ("--max-restarts", true),
    ("--backoff", true),
];

/// The child's arguments: this process's, minus the supervisor's flags; for a restart also minus
/// `--force` (it would wipe the run) and the one-shot injections (a restart is for faults that do
/// not come back), plus `--resume`.
pub fn child_args(argv: &[OsString], restart: bool) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].to_string_lossy().into_owned();
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (a.clone(), None),
        };
        let takes_value = |f: &str| OWN_FLAGS.iter().any(|(n, v)| *n == f && *v) || f == "--inject";
        let value = match (&inline, takes_value(&flag)) {
            (None, true) => {
                i += 1;
                argv.get(i).map(|v| v.to_string_lossy().into_owned())
            }
            (v, _) => v.clone(),
        };
        i += 1;
        let own = OWN_FLAGS.iter().any(|(n, _)| *n == flag);
        let dropped = own
            || (restart && flag == "--force")
            || (restart
                && flag == "--inject"
                && !value
                    .as_deref()
                    .and_then(|v| v.parse::<Injection>().ok())
                    .is_some_and(|inj| inj.survives_restart()));
        if dropped {
            continue;
        }
        out.push(OsString::from(&flag));
        if let Some(v) = value {
            if inline.is_some() {
                out.pop();
                out.push(OsString::from(format!("{flag}={v}")));
            } else {
                out.push(OsString::from(v));
            }
        }
    }
    if restart && !out.iter().any(|a| a == OsStr::new("--resume")) {
        out.push("--resume".into());
    }
    out
}

pub fn run(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.backoff >= 0.0 && args.backoff.is_finite(),
        "--backoff {} must be a number of seconds >= 0",
        args.backoff
    );
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let opts = SuperviseOptions {
        program: std::env::current_exe()?,
        first_args: child_args(&argv, false),
        restart_args: child_args(&argv, true),
        run_dir: args.out.clone(),
        max_restarts: args.max_restarts,
        backoff: Duration::from_secs_f64(args.backoff),
        crash_loop: 3,
    };
    // Restarts are shown even with --quiet: they are errors that were survived.
    let outcome = supervisor::supervise(&opts, &mut |line| {
        eprintln!("ladder: supervisor: {line}");
    });
    match outcome {
        Ok(o) => {
            if o.restarts > 0 {
                eprintln!(
                    "ladder: supervisor: finished after {} restart(s)",
                    o.restarts
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ ladder_train::Error::ChildFailed { .. }) => {
            eprintln!("ladder: error: {e}");
            Ok(ExitCode::from(supervisor::EXIT_HEALTH))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn child_args_drop_the_supervisor_flags_and_restarts_resume() {
        let argv = v(&[
            "train",
            "--out",
            "r",
            "--supervise",
            "--max-restarts",
            "4",
            "--backoff=0.1",
            "--force",
            "--inject",
            "kill@5",
            "--inject=kill-always@9",
            "--set",
            "train.steps=9",
        ]);
        assert_eq!(
            child_args(&argv, false),
            v(&[
                "train",
                "--out",
                "r",
                "--force",
                "--inject",
                "kill@5",
                "--inject=kill-always@9",
                "--set",
                "train.steps=9"
            ])
        );
        assert_eq!(
            child_args(&argv, true),
            v(&[
                "train",
                "--out",
                "r",
                "--inject=kill-always@9",
                "--set",
                "train.steps=9",
                "--resume"
            ])
        );
    }
}
