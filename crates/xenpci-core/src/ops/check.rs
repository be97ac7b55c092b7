//! `check BDF...`: the preflight report ([`crate::host::preflight`]: IOMMU, reset, RMRR, SR-IOV,
//! ...) together with the policy's verdict on giving those devices to a guest, so `check` says no
//! exactly when `assign`, `attach` and `xlcfg add-pci` would refuse; and, with no device, the
//! host check ([`host`]: IOMMU, pciback, toolstack).

use serde::Serialize;

use super::facts;
use crate::exec::{Runner, Tool};
use crate::hide::methods::live::PCIBACK;
use crate::host::preflight::{self, CheckOutput, Finding, IommuStatus, Severity};
use crate::host::xensource::Toolstack;
use crate::host::{HostRoot, Inventory};
use crate::pci::Bdf;
use crate::policy::{self, Action, Refusal};

/// The preflight report plus the policy's refusals.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The preflight (its `passable` is false when the policy refuses too).
    #[serde(flatten)]
    pub output: CheckOutput,
    /// What the policy refuses, with the reasons every give operation would give.
    pub refusals: Vec<Refusal>,
    /// Facts that could not be checked.
    pub notes: Vec<String>,
}

/// Checks `bdfs` as one request: xl is asked about the IOMMU through `iommu_runner` (None: from
/// the files), and who uses the devices through `runner` (stand-ins only under a fixture root).
pub fn check(
    root: &HostRoot,
    iommu_runner: Option<&dyn Runner>,
    runner: &dyn Runner,
    bdfs: &[Bdf],
) -> (Inventory, CheckReport) {
    let (inv, mut output) = preflight::check_host(root, iommu_runner, bdfs);
    let in_use = facts::local(root, runner);
    let vfio = crate::policy::vfio_facts::VfioFacts(&inv);
    let host: &dyn policy::HostFacts = if Toolstack::of(root) == Toolstack::Kvm {
        &vfio
    } else {
        &inv
    };
    let v = policy::decide(
        host,
        &in_use,
        &policy::Request {
            action: Action::Give,
            devices: bdfs,
            target: &[],
            force: false,
            with_group: false,
        },
    );
    // Each refused device's report says so too ("policy" findings), so no device reads
    // "can be passed through" while the policy refuses it.
    for r in &v.refused {
        if let Some(rep) = output.devices.iter_mut().find(|d| d.bdf == r.bdf) {
            rep.passable = false;
            for reason in &r.reasons {
                rep.findings.push(Finding {
                    check: "policy",
                    severity: Severity::Error,
                    message: format!("xenpci refuses to give {} to a guest: {reason}", r.bdf),
                    fix: None,
                });
            }
        }
    }
    output.passable &= v.refused.is_empty();
    (
        inv,
        CheckReport {
            output,
            refusals: v.refused,
            notes: v.notes,
        },
    )
}

/// `check` with no device: can this host pass devices through at all?
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    /// True when nothing below stops passthrough (an unknown IOMMU state does not).
    pub passable: bool,
    /// The IOMMU, from xl or the host files.
    pub iommu: IommuStatus,
    /// pciback (xen-pciback) is loaded: devices can be hidden now, not only from the next boot.
    pub pciback: bool,
    /// `xapi` (XCP-ng / XenServer) or `xl`.
    pub toolstack: &'static str,
    /// Whether the toolstack's tool can be run (its stand-in under a fixture root).
    pub toolstack_tool: Option<String>,
    /// What to do about what was found.
    pub findings: Vec<String>,
    /// On a KVM host: the kernel's IOMMU, its line, the vfio modules (absent on Xen hosts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kvm: Option<crate::host::kvm::KvmHost>,
}

/// The host check: IOMMU, pciback, toolstack.
pub fn host(root: &HostRoot, iommu_runner: Option<&dyn Runner>) -> HostReport {
    let iommu = preflight::iommu_status(root, iommu_runner);
    let pciback = root.path(PCIBACK).is_dir();
    let ts = Toolstack::of(root);
    if ts == Toolstack::Kvm {
        return kvm_host(root, iommu);
    }
    let tool = match ts {
        Toolstack::Xapi => Tool::Xe,
        _ => Tool::Xl,
    };
    let located = tool.locate();
    let mut findings = Vec::new();
    match iommu.enabled {
        Some(false) => findings.push(format!(
            "the IOMMU is off ({}): no device can be passed through; enable VT-d/AMD-Vi in the \
             firmware and iommu=1 on Xen's command line",
            iommu.source
        )),
        None => findings.push(
            "the IOMMU state is unknown (no xl answer, no evidence in the host files)".into(),
        ),
        Some(true) => {}
    }
    if !pciback {
        findings.push(
            "pciback is not loaded: devices can only be hidden from the next boot (`modprobe \
             xen-pciback` to hide them now)"
                .into(),
        );
    }
    if let Err(e) = &located {
        findings.push(e.to_string());
    }
    HostReport {
        passable: iommu.enabled != Some(false) && pciback,
        iommu,
        pciback,
        toolstack: ts.name(),
        toolstack_tool: located.ok().map(|p| p.display().to_string()),
        findings,
        kvm: None,
    }
}

/// The host check of a KVM host: the kernel's IOMMU and line, the vfio modules and the
/// initramfs; virsh as the toolstack's tool (libvirt is optional: oVirt and OpenNebula drive it,
/// plain QEMU does not need it).
fn kvm_host(root: &HostRoot, iommu: IommuStatus) -> HostReport {
    let evidence = crate::host::kvm::evidence(root).unwrap_or("(not detected)");
    let k = crate::host::kvm::host_facts(root, evidence);
    let virsh = Tool::Virsh.locate();
    HostReport {
        passable: k.passable,
        iommu,
        pciback: false,
        toolstack: Toolstack::Kvm.name(),
        toolstack_tool: virsh.ok().map(|p| p.display().to_string()),
        findings: k.findings.clone(),
        kvm: Some(k),
    }
}
