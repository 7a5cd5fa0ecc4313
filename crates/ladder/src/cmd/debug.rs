//! `ladder debug` (being written).

/// Subcommands of `ladder debug`.
#[derive(clap::Subcommand, Debug)]
pub enum DebugCommand {}

pub fn run(c: DebugCommand) -> anyhow::Result<()> {
    match c {}
}
