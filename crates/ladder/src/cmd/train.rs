//! `ladder train` (being written).

/// Arguments of `ladder train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {}

pub fn run(_args: TrainArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ladder train` is not built yet")
}
