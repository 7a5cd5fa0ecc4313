//! `ladder predict` (being written).

/// Arguments of `ladder predict`.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {}

pub fn run(_args: PredictArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ladder predict` is not built yet")
}
