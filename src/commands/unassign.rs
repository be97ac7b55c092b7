//! `xenpci unassign BDF...|--all --vm NAME|UUID`: takes PCI functions back from an XAPI VM; removes the
//! `pci` key (never the whole other-config) when none are left.

use std::process::ExitCode;

use clap::Args;
use xenpci::pci::Bdf;
use xenpci::xapi::assign::EditRequest;

use super::Globals;

/// Arguments of `xenpci unassign`.
#[derive(Args, Debug)]
pub struct UnassignArgs {
    /// PCI functions to take back (several, or comma-separated).
    #[arg(
        required_unless_present = "all",
        conflicts_with = "all",
        value_delimiter = ',',
        value_name = "BDF"
    )]
    pub bdfs: Vec<Bdf>,
    /// Take back every PCI function the VM holds (removes the `pci` key).
    #[arg(long)]
    pub all: bool,
    /// The VM, by name-label or uuid.
    #[arg(long, value_name = "NAME|UUID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub vm: String,
    /// Shut a running VM down cleanly and start it again (never vm-reboot).
    #[arg(long)]
    pub restart: bool,
    /// Rewrite a current other-config:pci that xapi would drop or misread, keeping only what
    /// xenpci can read unambiguously.
    #[arg(long)]
    pub rewrite_misread: bool,
    /// Print the xe commands that would change something; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Where the edit's journal is kept for `xenpci resume` (default ROOT/var/lib/xenpci).
    #[arg(long, env = "XENPCI_STATE_DIR")]
    pub state_dir: Option<std::path::PathBuf>,
}

/// Runs `xenpci unassign`.
pub fn run(a: UnassignArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let req = EditRequest {
        vm: a.vm,
        remove: a.bdfs,
        remove_all: a.all,
        rewrite_misread: a.rewrite_misread,
        restart: a.restart,
        dry_run: a.dry_run,
        state_dir: a.state_dir,
        ..EditRequest::default()
    };
    super::assign::run_edit(&req, a.json, g)
}
