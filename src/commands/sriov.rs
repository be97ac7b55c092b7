//! `xenpci sriov [PF] [--json]`: each SR-IOV physical function with its VF count, driver, VFs and
//! who holds each, and whether the count persists; `xenpci sriov set PF N [--persistent]
//! [--dry-run] [--force] [--json]`: change the count (the library's [`xenpci::ops::sriov`]).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use xenpci::exec::SystemRunner;
use xenpci::ops::sriov::{self, SetOptions, VfState};
use xenpci::pci::Bdf;

use super::Globals;

/// Arguments of `xenpci sriov`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SriovArgs {
    /// Only this physical function.
    #[arg(value_name = "PF")]
    pub pf: Option<Bdf>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub cmd: Option<SriovCmd>,
}

/// `xenpci sriov` subcommands.
#[derive(Subcommand, Debug)]
pub enum SriovCmd {
    /// Set a physical function's VF count (live; --persistent: also at every boot).
    #[command(after_help = super::examples::SRIOV_SET)]
    Set(SetArgs),
    /// Apply the recorded VF counts and VF hides again (xenpci's udev rules), for boot on hosts
    /// where udev does not (scripts/systemd/xenpci-sriov.service runs it before the guests).
    #[command(after_help = super::examples::SRIOV_RESTORE)]
    Restore(RestoreArgs),
    /// Set a NIC VF's MAC address and/or VLAN through its PF (`ip link set`; --persistent: also
    /// at every boot, a udev rule).
    #[command(after_help = super::examples::SRIOV_VF)]
    Vf(VfArgs),
}

/// Arguments of `xenpci sriov vf`.
#[derive(Args, Debug)]
pub struct VfArgs {
    /// The physical function (a NIC with a net device in dom0).
    #[arg(value_name = "PF")]
    pub pf: Bdf,
    /// N of the PF's virtfnN (as `xenpci sriov PF` lists them).
    #[arg(value_name = "N")]
    pub index: u32,
    /// The VF's MAC address (unicast, e.g. 52:54:00:12:34:56).
    #[arg(long, value_name = "MAC")]
    pub mac: Option<xenpci::ops::sriov_vf::Mac>,
    /// The VF's VLAN ID (0 to 4095; 0: none).
    #[arg(long, value_name = "ID", value_parser = clap::value_parser!(u16).range(0..=4095))]
    pub vlan: Option<u16>,
    /// Also at every boot: a udev rule run when the PF's net device appears.
    #[arg(long)]
    pub persistent: bool,
    /// Print the plan (the ip command and the rule's diff) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `xenpci sriov restore`.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Print what would be applied and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `xenpci sriov set`.
#[derive(Args, Debug)]
pub struct SetArgs {
    /// The physical function.
    #[arg(value_name = "PF")]
    pub pf: Bdf,
    /// The VF count (0 to sriov_totalvfs; 0 removes every VF).
    #[arg(value_name = "N")]
    pub n: u32,
    /// Also at every boot: a udev rule under /etc/udev/rules.d (N=0 removes it).
    #[arg(long)]
    pub persistent: bool,
    /// Print the plan (every sysfs write and file diff) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Change it although VFs are in use or XAPI manages the NIC (the report names what was forced).
    #[arg(long)]
    pub force: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `xenpci sriov ...`.
pub fn run(a: SriovArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    match a.cmd {
        Some(SriovCmd::Set(s)) => run_set(s, g),
        Some(SriovCmd::Restore(r)) => run_restore(r, g),
        Some(SriovCmd::Vf(v)) => run_vf(v, g),
        None => run_show(a.pf, a.json, g),
    }
}

fn run_show(pf: Option<Bdf>, json: bool, g: &Globals) -> anyhow::Result<ExitCode> {
    let root = g.host_root()?;
    let r = match sriov::report(&root, &SystemRunner, pf) {
        Ok(r) => r,
        Err(e) => return Ok(super::report_op_error(&e, json)),
    };
    for n in &r.notes {
        eprintln!("xenpci: warning: {n}");
    }
    if json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    if r.pfs.is_empty() {
        outln!("no SR-IOV physical function on this host");
    }
    for p in &r.pfs {
        outln!(
            "{}  {}  driver {}  VFs {}/{}",
            p.pf,
            p.name,
            p.driver.as_deref().unwrap_or("(none)"),
            p.numvfs,
            p.totalvfs
        );
        for v in &p.vfs {
            let state = match v.state {
                VfState::Free => "free".to_string(),
                VfState::Hidden => "hidden".to_string(),
                VfState::Attached | VfState::Assigned => v
                    .holders
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            outln!(
                "  virtfn{:<2} {}  {:<10} {state}{}",
                v.index,
                v.bdf,
                v.driver.as_deref().unwrap_or("(none)"),
                if v.hidden_at_boot {
                    "; hidden at every boot (udev)"
                } else {
                    ""
                },
            );
        }
        for s in &p.persistence {
            outln!(
                "  at boot: {} {} ({})",
                s.mechanism,
                s.file.display(),
                s.line.trim()
            );
        }
        if p.persists {
            outln!("  the VF count persists across a reboot");
        } else if p.numvfs > 0 {
            outln!(
                "  the VF count does not persist: after a reboot {} has no VFs (`xenpci sriov set {} {} --persistent`)",
                p.pf,
                p.pf,
                p.numvfs
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_vf(a: VfArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let root = g.host_root()?;
    let settings = xenpci::ops::sriov_vf::VfSettings {
        mac: a.mac,
        vlan: a.vlan,
    };
    let out = match xenpci::ops::sriov_vf::configure(
        &root,
        &SystemRunner,
        a.pf,
        a.index,
        settings,
        a.persistent,
        a.dry_run,
    ) {
        Ok(o) => o,
        Err(e) => return Ok(super::report_op_error(&e, a.json)),
    };
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if out.dry_run {
        out!("{}", out.plan);
        outln!("# dry run: nothing was changed");
        return Ok(ExitCode::SUCCESS);
    }
    for d in out.report.as_ref().map_or(&[][..], |r| r.done.as_slice()) {
        match &d.backup {
            Some(b) => report!("done: {} (backup: {})", d.action, b.display()),
            None => report!("done: {}", d.action),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_set(a: SetArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let root = g.host_root()?;
    let opts = SetOptions {
        persistent: a.persistent,
        dry_run: a.dry_run,
        force: a.force,
    };
    let out = match sriov::set(&root, &SystemRunner, a.pf, a.n, opts) {
        Ok(o) => o,
        Err(e) => {
            if let xenpci::ops::OpError::Plan(f) = &e {
                for u in &f.undone {
                    eprintln!("  undone: {u}");
                }
                for u in &f.not_undone {
                    eprintln!("  NOT undone: {u}");
                }
            }
            return Ok(super::report_op_error(&e, a.json));
        }
    };
    for n in &out.notes {
        eprintln!("xenpci: warning: {n}");
    }
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "refused": false,
                "outcome": &out,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    if out.dry_run {
        out!("{}", out.plan);
        outln!("# dry run: nothing was changed");
        return Ok(ExitCode::SUCCESS);
    }
    let done = out.report.as_ref().map_or(&[][..], |r| r.done.as_slice());
    for d in done {
        match &d.backup {
            Some(b) => report!("done: {} (backup: {})", d.action, b.display()),
            None => report!("done: {}", d.action),
        }
    }
    if done.is_empty() {
        report!("nothing to change");
    }
    for n in &out.plan.notes {
        report!("note: {n}");
    }
    Ok(ExitCode::SUCCESS)
}

fn run_restore(a: RestoreArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let root = g.host_root()?;
    let r = match xenpci::ops::sriov_boot::restore(&root, &SystemRunner, a.dry_run) {
        Ok(r) => r,
        Err(e) => return Ok(super::report_op_error(&e, a.json)),
    };
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        if r.items.is_empty() {
            outln!("nothing recorded: no xenpci VF count or VF hide rule");
        }
        for i in &r.items {
            let what = match (i.what, i.vf) {
                ("count", _) => format!("{} VF count {}", i.pf, i.value),
                (_, Some(vf)) => format!("{} virtfn{} ({vf}) hidden", i.pf, i.value),
                _ => format!("{} virtfn{} hidden", i.pf, i.value),
            };
            outln!("{}: {what}: {}", i.result, i.detail);
        }
    }
    Ok(if r.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
