//! `ladder fit` (being written).

/// Arguments of `ladder fit`.
#[derive(clap::Args, Debug)]
pub struct FitArgs {}

pub fn run(_args: FitArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ladder fit` is not built yet")
}
