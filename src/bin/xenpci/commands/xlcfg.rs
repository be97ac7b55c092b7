//! `xenpci xlcfg` (being written).
use std::process::ExitCode;
use clap::Subcommand;
use super::Globals;
#[derive(Subcommand, Debug)]
pub enum XlcfgCmd {
    /// Parse specs.
    Parse { specs: Vec<String> },
}
pub fn run(_c: XlcfgCmd, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("xlcfg: not written yet")
}
