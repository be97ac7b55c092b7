//! `xenpci assigned [--json]`: every XAPI VM's PCI devices, flagging a device named by several VMs,
//! a device dom0 still uses, and pieces of a value xapi would drop or misread.

use std::process::ExitCode;

use clap::Args;
use xenpci::exec::SystemRunner;
use xenpci::xapi::assign::assigned;
use xenpci::xapi::Xe;

use super::Globals;

/// Arguments of `xenpci assigned`.
#[derive(Args, Debug)]
pub struct AssignedArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `xenpci assigned`; exits 1 when anything is flagged.
pub fn run(a: AssignedArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let runner = SystemRunner;
    let xe = Xe::new(&runner);
    let vms = assigned(&xe, &g.host_root()?)?;
    let flagged = vms.iter().any(|v| {
        !v.not_understood.is_empty()
            || v.devices
                .iter()
                .any(|d| (!d.hidden && d.elsewhere.is_none()) || !d.also_assigned_to.is_empty())
    });
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&vms)?);
    } else if vms.is_empty() {
        outln!("no VM has other-config:pci");
    } else {
        for v in &vms {
            let state = v.power_state.map_or("?".to_string(), |p| p.to_string());
            outln!(
                "{} ({}, {state}): other-config:pci={}",
                v.name_label,
                v.uuid,
                v.value
            );
            for d in &v.devices {
                let mut flags = Vec::new();
                if let Some(h) = &d.elsewhere {
                    flags.push(format!("on host {h}, not checked here"));
                } else if !d.hidden {
                    flags.push(format!("NOT HIDDEN from dom0: {}", d.dom0));
                }
                if !d.also_assigned_to.is_empty() {
                    let others: Vec<String> =
                        d.also_assigned_to.iter().map(|u| u.to_string()).collect();
                    flags.push(format!("ALSO ASSIGNED to {}", others.join(", ")));
                }
                let flags = if flags.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", flags.join("; "))
                };
                outln!("  {}. {} (group {}){flags}", d.position, d.bdf, d.group);
            }
            for p in &v.not_understood {
                outln!("  XAPI DROPS OR MISREADS: {p}");
            }
        }
    }
    Ok(if flagged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
