//! `xenpci hidden [--json]`: for each device hidden now, at boot or after the next boot, what is
//! true now and what the next boot will do, and the difference between the two. A device held by
//! a KVM stub (pci-stub, vfio-pci) is not hidden for Xen; its line says so and how to move it.

use std::process::ExitCode;

use clap::Args;
use xenpci::exec::SystemRunner;
use xenpci::hide::{Ctx, Method};
use xenpci::host::DriverState;

use super::Globals;

/// Arguments of `xenpci hidden`.
#[derive(Args, Debug)]
pub struct HiddenArgs {
    /// Where the next boot's list is configured (default: detected).
    #[arg(long, value_name = "METHOD")]
    pub method: Option<Method>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `xenpci hidden`.
pub fn run(a: HiddenArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let root = g.host_root()?;
    let runner = SystemRunner;
    let ctx = Ctx {
        root: &root,
        runner: &runner,
    };
    let (h, warnings) = xenpci::ops::hidden::hidden(ctx, a.method)?;
    for w in &warnings {
        eprintln!("xenpci: warning: {w}");
    }
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&h)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "next boot ({}): {}",
        h.configured_in,
        if h.configured.is_empty() {
            "(none)"
        } else {
            &h.configured
        }
    );
    let kvm = h.configured_in == xenpci::hide::vfio_persist::RULES;
    if h.devices.is_empty() {
        outln!(
            "{}",
            if kvm {
                "no device is bound to vfio-pci"
            } else {
                "no device is hidden from dom0"
            }
        );
    }
    for d in &h.devices {
        if kvm {
            outln!(
                "{}  now: {:<13} next boot: {:<8} {}",
                d.bdf,
                d.driver.as_deref().unwrap_or("no driver"),
                if d.hidden_next_boot {
                    "vfio-pci"
                } else {
                    "host"
                },
                d.status
            );
            continue;
        }
        let now = if d.hidden_now {
            "pciback".to_string()
        } else {
            d.driver.clone().unwrap_or_else(|| "no driver".into())
        };
        outln!(
            "{}  now: {:<10} next boot: {:<8} {}",
            d.bdf,
            now,
            if d.hidden_next_boot { "hidden" } else { "dom0" },
            d.status
        );
        let state = DriverState::of(d.driver.as_deref());
        if let Some(fix) = state.stub_fix(d.bdf) {
            outln!("    {}: {}; {fix}", d.bdf, state.describe());
        }
    }
    for v in &h.vf_hides {
        outln!(
            "virtfn{} of {} ({})  now: {:<10} every boot: hidden (udev rule {})",
            v.index,
            v.pf,
            v.vf.map_or_else(|| "not there now".to_string(), |b| b.to_string()),
            if v.hidden_now {
                "pciback"
            } else {
                "not hidden"
            },
            v.rule
        );
    }
    Ok(ExitCode::SUCCESS)
}
