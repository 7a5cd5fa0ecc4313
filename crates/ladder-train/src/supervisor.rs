//! `ladder train --supervise`: a parent process that runs the trainer as a child process and,
//! when the child dies (a non-zero exit or a signal), starts it again with `--resume` from the
//! newest good checkpoint:
//! - with exponential back-off between restarts (`backoff`, doubling, at most 60 s);
//! - at most `max_restarts` times;
//! - each restart recorded as a `restart` event in the run's `events.jsonl`;
//! - a **crash loop** (the child dying `crash_loop` times in a row without getting past the same
//!   step) stops the supervisor with a diagnosis instead of burning compute on it;
//! - exits that a restart cannot fix are passed through, not retried: a usage error (2) and a
//!   stop by the health monitor ([`EXIT_HEALTH`]) and a stop for silent data corruption
//!   ([`EXIT_SDC`]: the machine needs checking before the run goes on).
//!
//! "The step" of a failure is the last step in `metrics.jsonl` when the child died.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use crate::error::{io, Error, Result};
use crate::metrics::Event;

/// Exit code of `ladder train` stopped by the health monitor (or diverged): not restarted.
pub const EXIT_HEALTH: u8 = 3;
/// Exit code of `ladder train` stopped by the silent-data-corruption check
/// (`--sdc-check-every`): not restarted.
pub const EXIT_SDC: u8 = 4;
/// Exit code of a command-line usage error (clap's): not restarted.
pub const EXIT_USAGE: i32 = 2;
/// Longest wait between restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How to run and restart the trainer.
#[derive(Clone, Debug)]
pub struct SuperviseOptions {
    /// The `ladder` executable.
    pub program: PathBuf,
    /// Arguments of the first child.
    pub first_args: Vec<OsString>,
    /// Arguments of every restarted child (these include `--resume`).
    pub restart_args: Vec<OsString>,
    /// The run directory (for `events.jsonl` and the progress of `metrics.jsonl`).
    pub run_dir: PathBuf,
    /// Restarts allowed.
    pub max_restarts: u32,
    /// Wait before the first restart; doubles with each one.
    pub backoff: Duration,
    /// Consecutive failures without progress past one step that make a crash loop.
    pub crash_loop: u32,
}

/// How a supervised run ended well.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Restarts it took.
    pub restarts: u32,
}

/// How a child process ended, in words ("exit code 1", "signal 9 (SIGKILL)").
pub fn describe(status: &ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            let name = match sig {
                libc::SIGKILL => " (SIGKILL)",
                libc::SIGSEGV => " (SIGSEGV)",
                libc::SIGABRT => " (SIGABRT)",
                libc::SIGTERM => " (SIGTERM)",
                libc::SIGBUS => " (SIGBUS)",
                _ => "",
            };
            return format!("signal {sig}{name}");
        }
    }
    match status.code() {
        Some(c) => format!("exit code {c}"),
        None => "an unknown status".into(),
    }
}

/// The last step recorded in a run's `metrics.jsonl` (0 when there is none).
pub fn last_logged_step(run_dir: &Path) -> u64 {
    let text = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap_or_default();
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("step").and_then(|s| s.as_u64()))
        .unwrap_or(0)
}

/// Runs the trainer until it succeeds, restarting it as described in the module docs. `notify`
/// receives one line per restart.
pub fn supervise(opts: &SuperviseOptions, notify: &mut dyn FnMut(&str)) -> Result<Outcome> {
    let mut restarts = 0u32;
    let mut streak: Option<(u64, u32)> = None; // (step, consecutive failures there)
    loop {
        let args = if restarts == 0 {
            &opts.first_args
        } else {
            &opts.restart_args
        };
        let status = Command::new(&opts.program)
            .args(args)
            .status()
            .map_err(io(&opts.program))?;
        if status.success() {
            return Ok(Outcome { restarts });
        }
        let how = describe(&status);
        if let Some(code) = status.code() {
            let hint = match code {
                EXIT_USAGE => Some("a usage error: fix the command line"),
                c if c == EXIT_HEALTH as i32 => Some(
                    "the health monitor stopped the run: see events.jsonl, adjust the config, \
                     then `ladder train --out RUN --resume`",
                ),
                c if c == EXIT_SDC as i32 => Some(
                    "silent data corruption: this machine computed a step differently twice; \
                     check its hardware, then `ladder train --out RUN --resume`",
                ),
                _ => None,
            };
            if let Some(hint) = hint {
                return Err(Error::ChildFailed { how, hint });
            }
        }
        let step = last_logged_step(&opts.run_dir);
        let failures = match streak {
            Some((s, n)) if s == step => n + 1,
            _ => 1,
        };
        streak = Some((step, failures));
        if failures >= opts.crash_loop {
            let detail = format!(
                "the trainer died {failures} times in a row without getting past step {step} \
                 (last: {how}): a crash loop, not restarting"
            );
            let _ = crate::resume::append_event(&opts.run_dir, &event(step, "crash_loop", &detail));
            return Err(Error::CrashLoop {
                step,
                failures,
                how,
            });
        }
        if restarts >= opts.max_restarts {
            return Err(Error::TooManyRestarts {
                restarts,
                how,
                step,
            });
        }
        restarts += 1;
        let wait = opts
            .backoff
            .saturating_mul(1u32 << (restarts - 1).min(16))
            .min(MAX_BACKOFF);
        let detail = format!(
            "the trainer died after step {step} ({how}); restart {restarts} of at most {} in {:.1} s, \
             from the newest good checkpoint",
            opts.max_restarts,
            wait.as_secs_f64()
        );
        notify(&detail);
        crate::resume::append_event(&opts.run_dir, &event(step, "restart", &detail))?;
        std::thread::sleep(wait);
    }
}

fn event(step: u64, kind: &str, detail: &str) -> Event {
    Event {
        step,
        kind: kind.into(),
        detail: detail.into(),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A "trainer" that is a shell script: fails `fails` times (counted in a file), then succeeds.
    fn opts(dir: &Path, script: &str, max_restarts: u32) -> SuperviseOptions {
        let args: Vec<OsString> = vec!["-c".into(), script.into()];
        SuperviseOptions {
            program: "sh".into(),
            first_args: args.clone(),
            restart_args: args,
            run_dir: dir.to_path_buf(),
            max_restarts,
            backoff: Duration::from_millis(1),
            crash_loop: 3,
        }
    }

    #[test]
    fn restarts_until_success_and_records_each_restart() {
        let d = tempfile::tempdir().unwrap();
        let n = d.path().join("n");
        let m = d.path().join("metrics.jsonl");
        // Each attempt logs one more step, then dies by SIGKILL, until the third succeeds.
        let script = format!(
            "echo x >> {n}; c=$(wc -l < {n}); echo \"{{\\\"step\\\":$c}}\" >> {m}; \
             [ $c -ge 3 ] && exit 0; kill -9 $$",
            n = n.display(),
            m = m.display()
        );
        let out = supervise(&opts(d.path(), &script, 5), &mut |_| {}).unwrap();
        assert_eq!(out.restarts, 2);
        let ev = std::fs::read_to_string(d.path().join("events.jsonl")).unwrap();
        assert_eq!(ev.lines().count(), 2);
        assert!(
            ev.contains("signal 9 (SIGKILL)") && ev.contains("\"restart\""),
            "{ev}"
        );
    }

    #[test]
    fn a_crash_loop_stops_with_a_diagnosis() {
        let d = tempfile::tempdir().unwrap();
        let e = supervise(&opts(d.path(), "exit 1", 10), &mut |_| {}).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("crash loop") && msg.contains("3 times"),
            "{msg}"
        );
        let ev = std::fs::read_to_string(d.path().join("events.jsonl")).unwrap();
        assert!(ev.contains("crash_loop"), "{ev}");
    }

    #[test]
    fn gives_up_after_max_restarts_and_passes_health_stops_through() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("metrics.jsonl");
        // Progress every time (no crash loop), but never success.
        let script = format!(
            "echo \"{{\\\"step\\\":$(date +%s%N)}}\" >> {}; exit 1",
            m.display()
        );
        let e = supervise(&opts(d.path(), &script, 2), &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("2 restarts"), "{e}");
        let e = supervise(&opts(d.path(), "exit 3", 5), &mut |_| {}).unwrap_err();
        assert!(e.to_string().contains("health monitor"), "{e}");
    }
}
