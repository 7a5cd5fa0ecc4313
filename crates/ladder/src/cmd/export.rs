//! `ladder export` (being written).

/// Arguments of `ladder export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {}

pub fn run(_args: ExportArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ladder export` is not built yet")
}
