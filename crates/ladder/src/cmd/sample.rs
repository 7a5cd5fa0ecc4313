//! `ladder sample` (being written).

/// Arguments of `ladder sample`.
#[derive(clap::Args, Debug)]
pub struct SampleArgs {}

pub fn run(_args: SampleArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ladder sample` is not built yet")
}
