//! The preflight of a device on a KVM host ([`adjust`]): the same checks as on Xen
//! ([`super::preflight`]), with the findings that differ on KVM said in KVM's terms — the IOMMU
//! as the kernel runs it (its groups, not Xen's), the device's kernel IOMMU group and what vfio
//! needs of it (every endpoint on vfio-pci; bridges stay), when an ACS override or `iommu=pt`
//! matter, the RMRR rule of the kernel, and vfio-pci as the driver a guest needs.

use super::driver::VFIO_PCI;
use super::finding::{Finding, Report, Severity};
use super::kvm::{self, KvmHost};
use super::{HostRoot, Inventory};
use crate::pci::Bdf;

fn f(check: &'static str, severity: Severity, message: String, fix: Option<String>) -> Finding {
    Finding {
        check,
        severity,
        message,
        fix,
    }
}

fn list(v: &[Bdf]) -> String {
    v.iter().map(Bdf::to_string).collect::<Vec<_>>().join(" ")
}

/// Rewrites the KVM-specific findings of each report (the host facts read once).
pub fn adjust(root: &HostRoot, inv: &Inventory, reports: &mut [Report]) {
    let host = kvm::host_facts(root, kvm::evidence(root).unwrap_or("(not detected)"));
    for (i, r) in reports.iter_mut().enumerate() {
        adjust_one(&host, inv, r, i == 0);
        r.passable = !r.findings.iter().any(|x| x.severity == Severity::Error);
    }
}

fn adjust_one(host: &KvmHost, inv: &Inventory, r: &mut Report, first: bool) {
    let Some(dev) = inv.get(r.bdf) else {
        return;
    };
    let bdf = r.bdf;
    let group = dev.iommu_group;
    let iommu = if host.iommu.active {
        f(
            "iommu",
            Severity::Ok,
            format!(
                "IOMMU active in the kernel ({}, {} groups){}",
                host.iommu.driver.as_deref().unwrap_or("no unit listed"),
                host.iommu.groups,
                group.map_or(String::new(), |g| format!("; {bdf} is in IOMMU group {g}"))
            ),
            None,
        )
    } else {
        f(
            "iommu",
            Severity::Error,
            "the kernel has no IOMMU groups: vfio cannot pass any device through".into(),
            Some(format!(
                "enable VT-d/AMD-Vi in the firmware, add {} to the kernel line (`xenpci hide {bdf}` \
                 adds it to /etc/default/grub) and reboot",
                kvm::iommu_on_option_text(host)
            )),
        )
    };
    let mut out: Vec<Finding> = Vec::new();
    for x in r.findings.drain(..) {
        match x.check {
            "iommu" => out.push(iommu.clone()),
            "rmrr" => out.push(f(
                "rmrr",
                Severity::Warning,
                "USB controllers and Intel integrated graphics usually have a reserved memory \
                 region (RMRR); Linux refuses to give such a device to vfio (\"Device is \
                 ineligible for IOMMU domain attach due to platform RMRR requirement\")"
                    .into(),
                None,
            )),
            "driver" => out.push(driver(dev.driver.as_deref(), bdf, group, &x)),
            "reset" => out.push(Finding {
                message: x.message.replace(
                    ", and libxl logs \"The kernel doesn't support reset from sysfs\"",
                    " (vfio-pci then cannot reset it between guests)",
                ),
                ..x
            }),
            // On Xen a sibling left behind is a warning about DMA; on KVM the group goes to
            // vfio-pci whole (the `iommu-group` finding below says how).
            "group" if x.severity == Severity::Warning => {}
            _ => out.push(x),
        }
    }
    if let Some(g) = group {
        let members: Vec<Bdf> = dev
            .isolation_group
            .iter()
            .filter(|b| **b != bdf)
            .copied()
            .collect();
        let bridges: Vec<Bdf> = members
            .iter()
            .filter(|b| inv.get(**b).is_some_and(|m| m.is_bridge()))
            .copied()
            .collect();
        let endpoints: Vec<Bdf> = members
            .iter()
            .filter(|b| !bridges.contains(b))
            .copied()
            .collect();
        let off_vfio: Vec<Bdf> = endpoints
            .iter()
            .filter(|b| inv.get(**b).and_then(|m| m.driver.as_deref()) != Some(VFIO_PCI))
            .copied()
            .collect();
        let mut msg = format!("kernel IOMMU group {g} (/dev/vfio/{g})");
        if endpoints.is_empty() {
            msg.push_str(": no other endpoint in it");
        } else {
            msg.push_str(&format!(
                ": also holds {}; vfio opens a group only when every endpoint in it is on \
                 vfio-pci (or no driver), so they go along as placeholders",
                list(&endpoints)
            ));
        }
        if !bridges.is_empty() {
            msg.push_str(&format!(
                "; the bridge{} {} stay{} on the host's driver",
                if bridges.len() == 1 { "" } else { "s" },
                list(&bridges),
                if bridges.len() == 1 { "s" } else { "" }
            ));
        }
        // vfio takes a group only when no member is held by a host driver that does not leave
        // its DMA to vfio: a bridge with a type 1 header (PCI-to-PCI, pcieport) is fine, but an
        // ISA/LPC or host bridge is a type 0 function, and its driver (lpc_ich, ...) keeps the
        // whole group from any guest.
        let holding = group_holders(inv, &members);
        if !holding.is_empty() {
            out.push(f(
                "iommu-group",
                Severity::Error,
                format!(
                    "IOMMU group {g} holds {}, held by the host's driver and not a PCI-to-PCI \
                     bridge: vfio refuses the whole group (QEMU: \"group {g} is not viable\") \
                     while it is",
                    holding
                        .iter()
                        .map(|(b, d)| format!("{b} ({d})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Some(format!(
                    "do not pass devices of group {g} (only a different slot, or firmware that \
                     isolates them, separates them)"
                )),
            ));
        }
        let fix = (!off_vfio.is_empty()).then(|| {
            format!(
                "`xenpci hide {bdf}` binds {} to vfio-pci too",
                list(&off_vfio)
            )
        });
        out.push(f("iommu-group", Severity::Info, msg, fix));
        if !endpoints.is_empty() && host.options.acs_override.is_none() {
            out.push(f(
                "acs",
                Severity::Info,
                format!(
                    "only an ACS override (the out-of-tree pcie_acs_override= patch) would split \
                     group {g}, and then without the isolation the group stands for; pass the \
                     group whole instead"
                ),
                None,
            ));
        }
    }
    if let Some(v) = &host.options.acs_override {
        out.push(f(
            "acs",
            Severity::Warning,
            format!(
                "pcie_acs_override={v} is on the kernel line: its groups are split without proof \
                 of isolation, so a device may still reach its former group members by DMA"
            ),
            None,
        ));
    }
    // A fact of the host, said once.
    if first && host.iommu.active && host.options.iommu.as_deref() != Some("pt") {
        out.push(f(
            "iommu-pt",
            Severity::Info,
            "iommu=pt is not on the kernel line: the host's own devices' DMA is translated too \
             (slower for them; it does not change passthrough)"
                .into(),
            Some("add iommu=pt to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub".into()),
        ));
    }
    r.findings = out;
}

/// The members of a group that keep vfio from using it: bridge-class functions with a type 0
/// header (host, ISA/LPC bridges) bound to a driver other than vfio-pci or pci-stub.
pub fn group_holders(inv: &Inventory, members: &[Bdf]) -> Vec<(Bdf, String)> {
    members
        .iter()
        .filter_map(|b| inv.get(*b))
        .filter(|m| m.class >> 16 == 0x06 && m.config.as_ref().is_some_and(|c| c.header_type == 0))
        .filter_map(|m| {
            let d = m.driver.as_deref()?;
            (d != VFIO_PCI && d != "pci-stub").then(|| (m.bdf, d.to_string()))
        })
        .collect()
}

fn driver(driver: Option<&str>, bdf: Bdf, group: Option<u32>, xen: &Finding) -> Finding {
    let hide = Some(format!(
        "`xenpci hide {bdf}`: binds it (and its IOMMU group) to vfio-pci now and at every boot"
    ));
    match driver {
        Some(VFIO_PCI) => f(
            "driver",
            Severity::Ok,
            format!(
                "bound to vfio-pci: ready for a KVM guest{}",
                group.map_or(String::new(), |g| format!(" (/dev/vfio/{g})"))
            ),
            None,
        ),
        Some("pci-stub") => f(
            "driver",
            Severity::Warning,
            "held by pci-stub: QEMU's vfio needs vfio-pci".into(),
            hide,
        ),
        // A device that has to stay (the Xen finding says so) keeps that sentence.
        _ if xen.fix.is_none() && xen.severity == Severity::Info && driver.is_some() => {
            let mut x = xen.clone();
            x.message = x.message.replace("in dom0", "on the host");
            x
        }
        Some(d) => f(
            "driver",
            Severity::Info,
            format!(
                "bound to {d} on the host: it must be bound to vfio-pci before a guest gets it"
            ),
            hide,
        ),
        None => f(
            "driver",
            Severity::Info,
            "no driver bound: bind it to vfio-pci first".into(),
            hide,
        ),
    }
}
