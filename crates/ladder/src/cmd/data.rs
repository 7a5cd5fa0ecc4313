//! `ladder data` (being written).

/// Subcommands of `ladder data`.
#[derive(clap::Subcommand, Debug)]
pub enum DataCommand {}

pub fn run(c: DataCommand) -> anyhow::Result<()> {
    match c {}
}
