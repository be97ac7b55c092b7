//! `xenpci check` (being written).
use super::Globals;
use clap::Args;
use std::process::ExitCode;
/// Arguments of `xenpci check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}
pub fn run(_a: CheckArgs, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("check: not written yet")
}
