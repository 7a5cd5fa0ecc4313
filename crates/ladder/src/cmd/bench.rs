//! `ladder bench` (being written).

/// Arguments of `ladder bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {}

pub fn run(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ladder bench` is not built yet")
}
