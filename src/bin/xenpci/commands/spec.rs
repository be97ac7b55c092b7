//! `xenpci spec parse|fmt` (being written).
use super::Globals;
use clap::Subcommand;
use std::process::ExitCode;
#[derive(Subcommand, Debug)]
pub enum SpecCmd {
    /// Parse specs.
    Parse { specs: Vec<String> },
}
pub fn run(_c: SpecCmd, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("spec: not written yet")
}
