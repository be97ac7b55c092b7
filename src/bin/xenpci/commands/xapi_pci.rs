//! `xenpci xapi-pci` (being written).
use super::Globals;
use clap::Subcommand;
use std::process::ExitCode;
#[derive(Subcommand, Debug)]
pub enum XapiPciCmd {
    /// Parse specs.
    Parse { specs: Vec<String> },
}
pub fn run(_c: XapiPciCmd, _g: &Globals) -> anyhow::Result<ExitCode> {
    anyhow::bail!("xapi-pci: not written yet")
}
