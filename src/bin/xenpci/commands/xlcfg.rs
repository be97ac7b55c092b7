//! `xenpci xlcfg` (being written).
use super::Globals;
use clap::Subcommand;
use std::process::ExitCode;
#[derive(Subcommand, Debug)]
pub enum XlcfgCmd {
    /// Parse specs.
    Parse { specs: Vec<String> },
}
pub fn run(_c: XlcfgCmd, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("xlcfg: not written yet")
}
