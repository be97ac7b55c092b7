//! `xenpci list` (being written).
use super::Globals;
use clap::Args;
use std::process::ExitCode;
/// Arguments of `xenpci list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}
pub fn run(_a: ListArgs, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("list: not written yet")
}
