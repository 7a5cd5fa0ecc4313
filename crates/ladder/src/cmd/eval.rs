//! `ladder eval` (being written).

/// Arguments of `ladder eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {}

pub fn run(_args: EvalArgs) -> anyhow::Result<()> {
    anyhow::bail!("`ladder eval` is not built yet")
}
