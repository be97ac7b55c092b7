//! `xenpci assign BDF[,BDF...] --vm NAME|UUID`: gives PCI functions to an XAPI VM through its
//! `other-config:pci` (library: [`xenpci::ops::give::assign`]). Also the output shared with
//! `unassign`.
//!
//! `--json` prints one document on stdout whatever happens: the report, or on an error
//! the shape every command shares, `{"refused", "kind", "error", "input", "hint", "refusals"}`
//! (`refused`: nothing was changed because xenpci said no; `hint`: the option that overrides it)
//! next to the stderr message and exit status.

use std::process::ExitCode;

use clap::Args;
use xenpci::exec::SystemRunner;
use xenpci::pci::Bdf;
use xenpci::xapi::assign::{EditReport, EditRequest};
use xenpci::xapi::Xe;

use super::Globals;

/// Arguments of `xenpci assign`.
#[derive(Args, Debug)]
pub struct AssignArgs {
    /// PCI functions to assign (`05:00.0` or `0000:05:00.0`; several, or comma-separated).
    #[arg(
        required_unless_present = "vf_of",
        conflicts_with = "vf_of",
        value_delimiter = ',',
        value_name = "BDF"
    )]
    pub bdfs: Vec<Bdf>,
    /// Assign a free SR-IOV virtual function of this PF instead (one no VM holds, running or
    /// assigned; hidden first, now and at every boot, when it is not), and say which.
    #[arg(long, value_name = "PF")]
    pub vf_of: Option<Bdf>,
    /// The VM, by name-label or uuid.
    #[arg(long, value_name = "NAME|UUID", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub vm: String,
    /// Shut a running VM down cleanly and start it again (never vm-reboot), then verify.
    #[arg(long)]
    pub restart: bool,
    /// Plug these devices first, in this order (the others follow in their current order); the
    /// value is written with distinct groups so the guest sees exactly this order.
    #[arg(long, value_delimiter = ',', value_name = "BDF,...")]
    pub order: Vec<Bdf>,
    /// Take the devices from other VMs that hold them.
    #[arg(long)]
    pub steal: bool,
    /// Assign devices dom0 still uses or the safety policy refuses (only that).
    #[arg(long)]
    pub force: bool,
    /// Rewrite a current other-config:pci that xapi would drop or misread, keeping only what
    /// xenpci can read unambiguously (only that).
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

/// Runs `xenpci assign`.
pub fn run(a: AssignArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let req = EditRequest {
        vm: a.vm,
        add: a.bdfs,
        order: a.order,
        steal: a.steal,
        force: a.force,
        rewrite_misread: a.rewrite_misread,
        restart: a.restart,
        dry_run: a.dry_run,
        state_dir: a.state_dir,
        ..EditRequest::default()
    };
    match a.vf_of {
        Some(pf) => run_vf_of(pf, &req, a.json, g),
        None => run_edit(&req, a.json, g),
    }
}

/// `req` with its journal directory defaulted to ROOT/var/lib/xenpci.
fn with_state_dir(req: &EditRequest, root: &xenpci::host::HostRoot) -> EditRequest {
    let mut req = req.clone();
    if req.state_dir.is_none() {
        req.state_dir = Some(xenpci::journal::default_state_dir(root));
    }
    req
}

/// `assign --vf-of PF`: the VF picked, its hide, then the edit's report.
fn run_vf_of(pf: Bdf, req: &EditRequest, json: bool, g: &Globals) -> anyhow::Result<ExitCode> {
    let runner = SystemRunner;
    let xe = Xe::new(&runner);
    let root = g.host_root()?;
    let req = with_state_dir(req, &root);
    let r = match xenpci::ops::give::assign_vf_of(&xe, &root, &runner, pf, &req, &mut |line| {
        eprintln!("xenpci: {line}")
    }) {
        Ok(r) => r,
        Err(e) => return Ok(super::report_op_error(&e, json)),
    };
    let p = &r.picked;
    eprintln!("xenpci: {}", p.using("hidden first, now and at every boot"));
    if json {
        report!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let (Some(h), true) = (&r.hide, req.dry_run) {
        out!("{}", h.plan);
    }
    match &r.assign {
        Some(report) => {
            for f in &report.forced {
                eprintln!("xenpci: warning: forced: {f}");
            }
            print_report(report);
        }
        None => {
            outln!(
                "# then: assign {} to VM {} (checked once it is hidden)",
                p.vf,
                req.vm
            );
            outln!("# dry run: nothing was changed");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs an edit and prints its report (shared with `unassign`).
pub fn run_edit(req: &EditRequest, json: bool, g: &Globals) -> anyhow::Result<ExitCode> {
    let runner = SystemRunner;
    let xe = Xe::new(&runner);
    let root = g.host_root()?;
    let req = with_state_dir(req, &root);
    let report = match xenpci::ops::give::assign(&xe, &root, &runner, &req, &mut |line| {
        eprintln!("xenpci: {line}")
    }) {
        Ok(r) => r,
        Err(e) => return Ok(super::report_op_error(&e, json)),
    };
    for f in &report.forced {
        eprintln!("xenpci: warning: forced: {f}");
    }
    if json && report.dry_run {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else if json {
        report!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// `--json` when the edit did not happen or failed.
fn show(v: &Option<String>) -> String {
    v.as_ref()
        .map_or_else(|| "no pci key".to_string(), |v| v.clone())
}

fn print_report(r: &EditReport) {
    let vm = format!("VM {} ({})", r.vm.name_label, r.vm.uuid);
    if r.dry_run {
        out!("{}", r.plan);
        outln!("# dry run: nothing was changed");
        return;
    }
    if r.changed || !r.stolen.is_empty() {
        report!(
            "{vm}: other-config:pci = {} (before: {})",
            show(&r.after),
            show(&r.before)
        );
    } else {
        report!("{vm}: other-config:pci unchanged ({})", show(&r.after));
    }
    for s in &r.stolen {
        report!(
            "took {} from VM {} ({}): other-config:pci = {}",
            s.bdf,
            s.from.name_label,
            s.from.uuid,
            show(&s.after)
        );
    }
    if r.restarted {
        report!("{vm} was shut down and started again");
    }
    for v in &r.verified {
        let state = match v.attached {
            Some(true) => "attached",
            Some(false) => "NOT attached",
            None => "not verified",
        };
        report!("{}: {state} ({})", v.bdf, v.how);
    }
    for n in &r.notes {
        report!("note: {n}");
    }
}
