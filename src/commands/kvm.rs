//! The KVM hand-off commands ([`xenpci::ops::kvm_handoff`]): `libvirt-xml BDF...` (the
//! `<hostdev>` elements; `--attach DOMAIN` runs `virsh attach-device` with each), `vfio-acl
//! BDF...` (qemu.conf's `cgroup_device_acl` lines) and `one-filter BDF...` (OpenNebula's PCI
//! filter and short addresses). Each asks the policy first; `--json` prints the whole hand-off
//! (`{"refused": false, "devices": [{bdf, iommu_group, vfio_dev, on_vfio, filter, hostdev}],
//! "acl", "one_filter", "one_short_addresses", "placeholders", "notes", "forced", "attached"}`),
//! or the shared error document.

use std::process::ExitCode;

use clap::Args;
use xenpci::exec::SystemRunner;
use xenpci::ops::kvm_handoff::{self, Handoff};
use xenpci::pci::Bdf;

use super::Globals;

/// Options every hand-off command takes.
#[derive(Args, Debug)]
pub struct HandoffArgs {
    /// PCI functions ([SSSS:]BB:DD.F), bound to vfio-pci (`xenpci hide`).
    #[arg(required = true, value_name = "BDF")]
    pub bdfs: Vec<Bdf>,
    /// Do it even when xenpci refuses (a device the host needs, a bridge, part of an IOMMU
    /// group not on vfio-pci). The report names what was forced.
    #[arg(long)]
    pub force: bool,
    /// The whole hand-off as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `xenpci libvirt-xml`.
#[derive(Args, Debug)]
pub struct LibvirtXmlArgs {
    #[command(flatten)]
    pub common: HandoffArgs,
    /// Also attach them to the running libvirt domain DOMAIN (`virsh attach-device DOMAIN FILE
    /// --live`, one per device).
    #[arg(long, value_name = "DOMAIN")]
    pub attach: Option<String>,
    /// With --attach: print the virsh commands, run nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(serde::Serialize)]
struct Doc<'a> {
    refused: bool,
    #[serde(flatten)]
    handoff: &'a Handoff,
}

fn build(a: &HandoffArgs, g: &Globals) -> anyhow::Result<Result<Handoff, ExitCode>> {
    let root = g.host_root()?;
    Ok(match kvm_handoff::handoff(&root, &a.bdfs, a.force) {
        Ok(h) => {
            for n in &h.notes {
                eprintln!("xenpci: note: {n}");
            }
            Ok(h)
        }
        Err(e) => Err(super::report_op_error(&e, a.json)),
    })
}

fn json(h: &Handoff) -> anyhow::Result<ExitCode> {
    outln!(
        "{}",
        serde_json::to_string_pretty(&Doc {
            refused: false,
            handoff: h
        })?
    );
    Ok(ExitCode::SUCCESS)
}

/// `xenpci libvirt-xml`.
pub fn run_libvirt_xml(a: LibvirtXmlArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let mut h = match build(&a.common, g)? {
        Ok(h) => h,
        Err(code) => return Ok(code),
    };
    if let Some(dom) = &a.attach {
        let root = g.host_root()?;
        if let Err(e) = kvm_handoff::attach(&root, &SystemRunner, dom, &mut h, a.dry_run) {
            return Ok(super::report_op_error(&e, a.common.json));
        }
    }
    if a.common.json {
        return json(&h);
    }
    for d in &h.devices {
        out!("{}", d.hostdev);
    }
    for c in &h.attached {
        if a.dry_run {
            outln!("# would run: {c}");
        } else {
            report!("done: {c}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `xenpci vfio-acl`.
pub fn run_vfio_acl(a: HandoffArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let h = match build(&a, g)? {
        Ok(h) => h,
        Err(code) => return Ok(code),
    };
    if a.json {
        return json(&h);
    }
    outln!("# /etc/libvirt/qemu.conf: add these to cgroup_device_acl (with its default entries)");
    for d in &h.acl {
        outln!("    \"{d}\",");
    }
    Ok(ExitCode::SUCCESS)
}

/// `xenpci one-filter`.
pub fn run_one_filter(a: HandoffArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let h = match build(&a, g)? {
        Ok(h) => h,
        Err(code) => return Ok(code),
    };
    if a.json {
        return json(&h);
    }
    let quoted: Vec<String> = h
        .one_short_addresses
        .iter()
        .map(|s| format!("'{s}'"))
        .collect();
    outln!("# OpenNebula's PCI probe, remotes/etc/im/kvm-probes.d/pci.conf:");
    outln!(":filter: '{}'", h.one_filter);
    outln!(":short_address: [{}]", quoted.join(", "));
    outln!(
        "# (older releases: FILTER = '{}' in kvm-probes.d/pci.rb)",
        h.one_filter
    );
    outln!("# VM template, exactly these functions:");
    for s in &h.one_short_addresses {
        outln!("PCI = [ SHORT_ADDRESS = \"{s}\" ]");
    }
    Ok(ExitCode::SUCCESS)
}
