//! The hand-off to the KVM toolstacks, for functions on vfio-pci: libvirt's `<hostdev
//! mode='subsystem' type='pci' managed='no'>` elements (and `virsh attach-device` with them),
//! the `/dev/vfio/N` lines qemu.conf's `cgroup_device_acl` needs, and OpenNebula's PCI filter
//! (`vendor:device:class`, lspci's `-d` syntax, for its probe's `:filter:`) with the short
//! addresses its templates can name (`PCI = [ SHORT_ADDRESS = "01:00.0" ]`).
//!
//! Every hand-off is a give: the policy ([`crate::policy`], [`Action::Give`], with the KVM
//! facts) refuses the host's own devices, bridges and groups that would not be whole (each
//! member given or left on vfio-pci as a placeholder) unless forced, before anything is printed
//! or run.

use serde::Serialize;

use super::OpError;
use crate::exec::{CommandSpec, Runner, Tool};
use crate::host::{HostRoot, Inventory};
use crate::pci::Bdf;
use crate::policy::vfio_facts::{VfioFacts, VFIO_PCI};
use crate::policy::{self, Action, InUse, Refusal};

/// One function handed off.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Device {
    /// The function.
    pub bdf: Bdf,
    /// Its kernel IOMMU group.
    pub iommu_group: Option<u32>,
    /// `/dev/vfio/N` of its group.
    pub vfio_dev: Option<String>,
    /// Bound to vfio-pci now.
    pub on_vfio: bool,
    /// `vendor:device:class` (4 hex digits each, class without prog-if).
    pub filter: String,
    /// libvirt's `<hostdev>` element for it.
    pub hostdev: String,
}

/// The whole hand-off.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Handoff {
    /// The functions, as given.
    pub devices: Vec<Device>,
    /// The `cgroup_device_acl` entries: `/dev/vfio/vfio` and each group's `/dev/vfio/N`.
    pub acl: Vec<String>,
    /// OpenNebula's probe filter for the devices (comma-separated `vendor:device:class`).
    pub one_filter: String,
    /// OpenNebula's short addresses (`BB:DD.F`; segment 0 only).
    pub one_short_addresses: Vec<String>,
    /// Functions of the groups that are not handed off: they stay on vfio-pci (placeholders).
    pub placeholders: Vec<Bdf>,
    /// What to know (devices not on vfio-pci yet, facts not checked).
    pub notes: Vec<String>,
    /// What `force` let through.
    pub forced: Vec<Refusal>,
    /// The `virsh attach-device` commands run (`--attach`).
    pub attached: Vec<String>,
}

/// libvirt's element for one function (`managed='no'`: xenpci, not libvirt, binds it).
pub fn hostdev_xml(bdf: Bdf) -> String {
    format!(
        "<hostdev mode='subsystem' type='pci' managed='no'>\n  <source>\n    <address domain='0x{:04x}' bus='0x{:02x}' slot='0x{:02x}' function='0x{:x}'/>\n  </source>\n</hostdev>\n",
        bdf.segment, bdf.bus, bdf.device, bdf.function
    )
}

/// Builds the hand-off of `bdfs` after the policy (refused: an error naming each device and
/// why, unless `force`).
pub fn handoff(root: &HostRoot, bdfs: &[Bdf], force: bool) -> Result<Handoff, OpError> {
    let inv = Inventory::scan(root);
    for b in bdfs {
        if inv.get(*b).is_none() {
            return Err(OpError::BadInput {
                what: "PCI function".into(),
                input: b.to_string(),
                expected: "a function of this host (see `xenpci list`)".into(),
            });
        }
    }
    let mut in_use = InUse::default();
    super::facts::kvm_users(root, &mut in_use);
    let v = policy::decide(
        &VfioFacts(&inv),
        &in_use,
        &policy::Request {
            action: Action::Give,
            devices: bdfs,
            target: &[],
            force,
            with_group: false,
        },
    )
    .into_result("hand off", " to a KVM guest")?;
    let mut notes = v.notes.clone();
    notes.extend(v.forced_notes());
    let mut devices = Vec::new();
    let mut acl = vec!["/dev/vfio/vfio".to_string()];
    let mut filters: Vec<String> = Vec::new();
    let mut placeholders = Vec::new();
    for &bdf in &v.devices {
        let Some(f) = inv.get(bdf) else { continue };
        let on_vfio = f.driver.as_deref() == Some(VFIO_PCI);
        if !on_vfio {
            notes.push(format!(
                "{bdf} is not bound to vfio-pci (driver: {}): `xenpci hide {bdf}` first",
                f.driver.as_deref().unwrap_or("none")
            ));
        }
        let vfio_dev = f.iommu_group.map(|g| format!("/dev/vfio/{g}"));
        if f.iommu_group.is_none() {
            notes.push(format!(
                "{bdf} has no kernel IOMMU group: vfio cannot use it (is the IOMMU on?)"
            ));
        }
        if let Some(d) = &vfio_dev {
            if !acl.contains(d) {
                acl.push(d.clone());
            }
        }
        for (m, d) in crate::host::kvm_check::group_holders(&inv, &f.isolation_group) {
            let note = format!(
                "{m} in the IOMMU group of {bdf} is held by {d}: vfio refuses the group (not \
                 viable) while it is"
            );
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
        for m in &f.isolation_group {
            let member = inv.get(*m);
            if !v.devices.contains(m)
                && !placeholders.contains(m)
                && member.is_some_and(|g| !g.is_bridge())
            {
                placeholders.push(*m);
            }
        }
        let filter = format!(
            "{:04x}:{:04x}:{:04x}",
            f.vendor_id,
            f.device_id,
            f.class >> 8
        );
        if !filters.contains(&filter) {
            filters.push(filter.clone());
        }
        devices.push(Device {
            bdf,
            iommu_group: f.iommu_group,
            vfio_dev,
            on_vfio,
            filter,
            hostdev: hostdev_xml(bdf),
        });
    }
    let one_short_addresses = devices
        .iter()
        .filter(|d| d.bdf.segment == 0)
        .map(|d| {
            format!(
                "{:02x}:{:02x}.{:x}",
                d.bdf.bus, d.bdf.device, d.bdf.function
            )
        })
        .collect();
    if filters.len() < devices.len() {
        notes.push(
            "the OpenNebula filter matches by ids, so identical devices of the host are offered \
             too; pin the VM's template to SHORT_ADDRESS to take exactly these"
                .into(),
        );
    } else if inv.functions().iter().any(|g| {
        !v.devices.contains(&g.bdf)
            && filters.contains(&format!(
                "{:04x}:{:04x}:{:04x}",
                g.vendor_id,
                g.device_id,
                g.class >> 8
            ))
    }) {
        notes.push(
            "another function of this host has the same vendor:device:class, so the OpenNebula \
             filter offers it too; name the chosen ones by SHORT_ADDRESS in the VM template"
                .into(),
        );
    }
    Ok(Handoff {
        devices,
        acl,
        one_filter: filters.join(","),
        one_short_addresses,
        placeholders,
        notes,
        forced: v.forced,
        attached: Vec::new(),
    })
}

/// `--attach DOMAIN`: writes each element to a file under `run/xenpci` of the host root and
/// runs `virsh attach-device DOMAIN FILE --live` for it (after [`handoff`]'s policy), stopping
/// at the first that fails. A device not on vfio-pci is refused: with `managed='no'` libvirt
/// would not bind it.
pub fn attach(
    root: &HostRoot,
    runner: &dyn Runner,
    domain: &str,
    h: &mut Handoff,
    dry_run: bool,
) -> Result<(), OpError> {
    if let Some(d) = h.devices.iter().find(|d| !d.on_vfio) {
        return Err(OpError::BadInput {
            what: "PCI function".into(),
            input: d.bdf.to_string(),
            expected: "a function bound to vfio-pci (`xenpci hide` it first)".into(),
        });
    }
    let dir = "/run/xenpci";
    for d in &h.devices {
        let file = format!("{dir}/hostdev-{}.xml", d.bdf);
        let cmd: CommandSpec =
            Tool::Virsh
                .command()
                .args(["attach-device", domain, &file, "--live"]);
        h.attached.push(cmd.to_string());
        if dry_run {
            continue;
        }
        let real = root.path(&file);
        if let Some(parent) = real.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        crate::fsutil::atomic_write(&real, d.hostdev.as_bytes(), false).map_err(|e| {
            OpError::BadInput {
                what: "hostdev file".into(),
                input: file.clone(),
                expected: format!("a writable path ({e})"),
            }
        })?;
        let r = runner.run(&cmd);
        let _ = std::fs::remove_file(&real);
        r.map_err(|e| OpError::Hide(e.into()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_element_is_libvirts_address_form() {
        let x = hostdev_xml("0000:03:00.0".parse().unwrap());
        assert!(x.starts_with("<hostdev mode='subsystem' type='pci' managed='no'>"));
        assert!(x.contains("<address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>"));
    }
}
