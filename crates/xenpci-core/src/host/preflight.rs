//! Preflight for `xenpci check`: one [`Report`] per requested function, each a list of
//! [`Finding`]s with a severity, what it means and the exact fix. A report passes when it has no
//! [`Severity::Error`].
//!
//! IOMMU evidence, in order ([`iommu_status`]):
//! 1. `xl info` (virt_caps has `hvm_directio`/`pv_directio`) and `xl dmesg` ("I/O virtualisation
//!    enabled/disabled"), run through a [`Runner`] — only when one is given (the CLI gives one
//!    when the host root is the real `/`; a fixture root is another host, so xl is not asked).
//! 2. Host files under the root: `sys/class/iommu/*` (a Linux IOMMU driver),
//!    `sys/kernel/iommu_groups/*`, and kernel logs `var/log/dmesg`, `var/log/kern.log`,
//!    `var/log/xen/hypervisor.log`, `var/log/xen/xen.log` searched for Xen's
//!    "I/O virtualisation enabled|disabled" and XCP-ng dom0's "XEN-PV-IOMMU" lines.

use serde::Serialize;

use super::config::PortType;
use super::finding::finding;
pub use super::finding::{Finding, Report, Severity};
use super::sysfs::read_text;
use super::xensource::Toolstack;
use super::{DriverState, HostRoot, Inventory, PciFunction};
use crate::exec::{CommandSpec, Runner, Tool};
use crate::pci::Bdf;

/// What is known about the IOMMU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IommuStatus {
    /// Some(true) enabled, Some(false) disabled/absent, None unknown.
    pub enabled: Option<bool>,
    /// Where the answer came from.
    pub source: String,
    /// The evidence.
    pub detail: String,
}

/// Asks `xl` (when `runner` is given) and then the host files for the IOMMU state.
pub fn iommu_status(root: &HostRoot, runner: Option<&dyn Runner>) -> IommuStatus {
    if let Some(r) = runner {
        if let Some(s) = from_xl(r) {
            return s;
        }
    }
    from_files(root)
}

fn xl(args: &[&str]) -> CommandSpec {
    Tool::Xl
        .command()
        .args(args.iter().copied())
        .timeout(std::time::Duration::from_secs(20))
}

/// The words of `xl info`'s `virt_caps` line (`pv hvm hvm_directio pv_directio hap shadow …`;
/// xl prints one word per capability Xen reports: `shadow` only when the hypervisor was built
/// with shadow paging, `hap` only with hardware-assisted paging), or `None` without that line.
pub fn virt_caps(xl_info: &str) -> Option<Vec<String>> {
    xl_info
        .lines()
        .find(|l| l.split(':').next().is_some_and(|k| k.trim() == "virt_caps"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.split_whitespace().map(str::to_string).collect())
}

fn from_xl(r: &dyn Runner) -> Option<IommuStatus> {
    let info = r.run(&xl(&["info"])).ok()?;
    let caps = virt_caps(&info.stdout).unwrap_or_default().join(" ");
    let directio = caps
        .split_whitespace()
        .any(|c| c == "hvm_directio" || c == "pv_directio");
    let dmesg = r.run(&xl(&["dmesg"])).map(|o| o.stdout).unwrap_or_default();
    let io_line = dmesg
        .lines()
        .find(|l| l.contains("I/O virtualisation"))
        .map(|l| l.trim().to_string());
    let disabled = io_line.as_deref().is_some_and(|l| l.contains("disabled"));
    Some(IommuStatus {
        enabled: Some(directio && !disabled),
        source: "xl info / xl dmesg".into(),
        detail: match &io_line {
            Some(l) => format!("virt_caps: {caps}; xl dmesg: {l}"),
            None => format!("virt_caps: {caps}"),
        },
    })
}

const LOGS: &[&str] = &[
    "/var/log/dmesg",
    "/var/log/kern.log",
    "/var/log/xen/hypervisor.log",
    "/var/log/xen/xen.log",
];

fn from_files(root: &HostRoot) -> IommuStatus {
    for (dir, what) in [
        ("/sys/class/iommu", "a Linux IOMMU driver is active"),
        ("/sys/kernel/iommu_groups", "the kernel has IOMMU groups"),
    ] {
        if let Ok(rd) = std::fs::read_dir(root.path(dir)) {
            let names: Vec<String> = rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            if !names.is_empty() {
                return IommuStatus {
                    enabled: Some(true),
                    source: dir.into(),
                    detail: format!("{what} ({})", names.join(", ")),
                };
            }
        }
    }
    for log in LOGS {
        let Ok(text) = read_text(root, &root.path(log)) else {
            continue;
        };
        if let Some(l) = text.lines().find(|l| l.contains("I/O virtualisation")) {
            return IommuStatus {
                enabled: Some(!l.contains("disabled")),
                source: log.to_string(),
                detail: l.trim().to_string(),
            };
        }
        let pv: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("XEN-PV-IOMMU"))
            .collect();
        if !pv.is_empty() {
            return IommuStatus {
                enabled: Some(true),
                source: log.to_string(),
                detail: format!(
                    "dom0's kernel uses Xen's PV-IOMMU: {}",
                    pv.last().map(|s| s.trim()).unwrap_or_default()
                ),
            };
        }
    }
    let xen = read_text(root, &root.path("/sys/hypervisor/type")).is_ok_and(|t| t == "xen");
    IommuStatus {
        enabled: None,
        source: "none".into(),
        detail: if xen {
            "running on Xen, but no xl answer and no IOMMU lines in the kernel logs".into()
        } else {
            "no sys/class/iommu entries and no IOMMU lines in the kernel logs".into()
        },
    }
}

/// Checks each requested function against the inventory.
/// `toolstack` picks the commands the fixes name (`xenpci hide` on XAPI hosts, xl elsewhere).
pub fn check(
    inv: &Inventory,
    iommu: &IommuStatus,
    toolstack: Toolstack,
    bdfs: &[Bdf],
) -> Vec<Report> {
    bdfs.iter()
        .map(|b| check_one(inv, iommu, toolstack, *b, bdfs))
        .collect()
}

/// `Class: Vendor Device (rev xx)`.
pub fn describe(f: &PciFunction) -> String {
    format!(
        "{}: {} {} (rev {:02x})",
        f.class_name(),
        f.vendor_name(),
        f.device_name(),
        f.revision
    )
}

fn list(v: &[Bdf]) -> String {
    v.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The bridge that makes `f` share a requester ID (conventional PCI behind a PCIe-to-PCI or PCI
/// bridge), if any: the topmost such bridge.
pub fn alias_bridge(inv: &Inventory, f: &PciFunction) -> Option<Bdf> {
    f.upstream
        .iter()
        .rev()
        .find(|b| {
            inv.get(**b).is_some_and(|u| {
                u.config.as_ref().is_some_and(|c| {
                    c.is_bridge() && matches!(c.pcie, None | Some(PortType::PcieToPci))
                })
            })
        })
        .copied()
}

fn consequence(why: &str) -> &'static str {
    if why.starts_with("holds") {
        "hiding it takes the filesystem away from dom0, and the host panics (at the latest when the VM reboots and the controller comes back renumbered)"
    } else if why.starts_with("carries") {
        "hiding it cuts dom0's network, and with it the management connection to the host"
    } else {
        "hiding it takes dom0's console away"
    }
}

/// The fix for a function still owned by dom0. On a XAPI host the hide list belongs to XAPI
/// (xen-cmdline / `xe pci-disable-dom0-access`), and an `xl pci-assignable-add` alone is lost at
/// the next boot, so the fix is `xenpci hide`, which picks that method.
fn hide_fix(toolstack: Toolstack, bdf: Bdf) -> String {
    match toolstack {
        Toolstack::Xapi => format!(
            "`xenpci hide {bdf}`: hides it for every boot in XAPI's hide list, and now too when pciback is loaded (else from the next reboot)"
        ),
        Toolstack::Kvm => format!(
            "`xenpci hide {bdf}`: binds it (and its IOMMU group) to vfio-pci now and at every boot"
        ),
        Toolstack::Xl => format!(
            "now: `xl pci-assignable-add {bdf}` or `xenpci hide --now {bdf}`; for every boot: add xen-pciback.hide=({bdf}) to dom0's kernel command line (`xenpci hide --persistent {bdf}` does it)"
        ),
    }
}

/// The fix for a VF still owned by dom0: hidden now, and for every boot by a udev rule
/// ([`crate::ops::vf_hide`]). A VF exists only once its PF's driver has created it, long after
/// the kernel command line's `xen-pciback.hide=` (and XAPI's hide list, which is that line) is
/// read, so a boot-time hide by BDF never catches it.
fn vf_hide_fix(toolstack: Toolstack, bdf: Bdf, pf: Bdf) -> String {
    let now = match toolstack {
        Toolstack::Xapi => format!("`xenpci hide --now {bdf}`"),
        _ => format!("`xenpci hide --now {bdf}` or `xl pci-assignable-add {bdf}`"),
    };
    format!(
        "now: {now}; for every boot: `xenpci hide --persistent {bdf}` (a udev rule binding it to pciback by its PF and VF index when it appears; `xenpci sriov set {pf} N --persistent` brings the VFs back) — not xen-pciback.hide=: the VF does not exist at boot until {pf}'s driver creates it, so a boot-time hide by BDF cannot catch it"
    )
}

/// The fix for a VF whose PF is hidden: give the PF back to dom0's driver.
fn unhide_pf_fix(toolstack: Toolstack, pf: Bdf) -> String {
    let rebind = match toolstack {
        Toolstack::Xapi => format!(
            "`xenpci unhide {pf}` (drops it from XAPI's hide list for every boot and rebinds it now when it can; otherwise after a reboot)"
        ),
        Toolstack::Kvm => format!("`xenpci unhide {pf}`"),
        Toolstack::Xl => format!(
            "`xl pci-assignable-remove -r {pf}`, or `xenpci unhide {pf}` to also drop it from the boot-time hide list"
        ),
    };
    format!("bind {pf} back to its network driver with {rebind}, and re-enable the VFs via /sys/bus/pci/devices/{pf}/sriov_numvfs")
}

fn check_one(
    inv: &Inventory,
    iommu: &IommuStatus,
    toolstack: Toolstack,
    bdf: Bdf,
    selected: &[Bdf],
) -> Report {
    use Severity::*;
    let Some(f) = inv.get(bdf) else {
        return Report {
            bdf,
            description: None,
            passable: false,
            findings: vec![finding(
                "present",
                Error,
                format!("there is no PCI function {bdf} on this host"),
                Some("look up the address with `xenpci list`".into()),
            )],
        };
    };
    let mut out = Vec::new();
    // IOMMU.
    out.push(match iommu.enabled {
        Some(true) => finding(
            "iommu",
            Ok,
            format!("IOMMU enabled ({}: {})", iommu.source, iommu.detail),
            None,
        ),
        Some(false) => finding(
            "iommu",
            Error,
            format!(
                "the IOMMU is off or missing ({}: {}); Xen cannot pass devices through without VT-d/AMD-Vi",
                iommu.source, iommu.detail
            ),
            Some("enable VT-d (Intel) or AMD-Vi/IOMMU in the firmware setup, boot Xen with iommu=1, then check `xl dmesg | grep 'I/O virtualisation'`".into()),
        ),
        None => finding(
            "iommu",
            Warning,
            format!("cannot tell whether the IOMMU is on: {}", iommu.detail),
            Some("run `xl info | grep virt_caps` (must list hvm_directio) and `xl dmesg | grep 'I/O virtualisation'` on the host".into()),
        ),
    });
    // Bridges.
    if f.is_bridge() {
        let below: Vec<Bdf> = inv
            .functions()
            .iter()
            .filter(|g| g.upstream.first() == Some(&bdf))
            .map(|g| g.bdf)
            .collect();
        out.push(finding(
            "bridge",
            Error,
            format!(
                "{bdf} is a bridge ({}); bridges are never passed through (pciback: \"Can't export bridges on the virtual PCI bus\")",
                f.class_name()
            ),
            Some(if below.is_empty() {
                "pass the endpoint devices you need instead".into()
            } else {
                format!("pass the devices behind it instead: {}", list(&below))
            }),
        ));
    }
    // Critical.
    if f.critical.is_empty() {
        out.push(finding(
            "critical",
            Ok,
            "dom0 does not use it for storage, network or console".into(),
            None,
        ));
    }
    for why in &f.critical {
        out.push(finding(
            "critical",
            Error,
            format!("dom0 needs {bdf}: it {why}; {}", consequence(why)),
            Some(format!("do not pass {bdf}; use another controller/NIC for the VM, or first move what dom0 keeps on it elsewhere")),
        ));
    }
    // Isolation group.
    let siblings: Vec<&PciFunction> = f
        .isolation_group
        .iter()
        .filter(|b| **b != bdf && !selected.contains(b))
        .filter_map(|b| inv.get(*b))
        .filter(|g| !g.is_bridge())
        .collect();
    for (b, why) in inv.critical_in_group(bdf) {
        out.push(finding(
            "group",
            Error,
            format!("{bdf} shares its isolation group with {b}, which dom0 needs ({}): they cannot be separated", why.join("; ")),
            Some(format!("do not pass {bdf}; its group [{}] cannot leave dom0", list(&f.isolation_group))),
        ));
    }
    let alias = alias_bridge(inv, f);
    let plain: Vec<Bdf> = siblings
        .iter()
        .filter(|g| g.critical.is_empty())
        .map(|g| g.bdf)
        .collect();
    if let Some(br) = alias {
        let all: Vec<Bdf> = f
            .isolation_group
            .iter()
            .filter(|b| inv.get(**b).is_some_and(|g| !g.is_bridge()))
            .copied()
            .collect();
        if plain.is_empty() {
            out.push(finding(
                "conventional-pci",
                Ok,
                format!("conventional PCI behind bridge {br}: every function sharing its requester ID is in this request"),
                None,
            ));
        } else {
            out.push(finding(
                "conventional-pci",
                Error,
                format!("{bdf} is conventional PCI behind bridge {br}: it shares the bridge's requester ID with {}, so all of them must go to the same domain (docs/misc/vtd.txt); libxl does not check this", list(&plain)),
                Some(format!("pass them together to one VM: xenpci check {}", list(&all))),
            ));
        }
    } else if plain.is_empty() {
        out.push(finding(
            "group",
            Ok,
            if f.isolation_group.len() <= 1 {
                "isolated: alone in its isolation group".into()
            } else {
                format!(
                    "isolation group [{}]: every other member is requested too or a bridge",
                    list(&f.isolation_group)
                )
            },
            None,
        ));
    } else {
        let all: Vec<Bdf> = f
            .isolation_group
            .iter()
            .filter(|b| inv.get(**b).is_some_and(|g| !g.is_bridge()))
            .copied()
            .collect();
        out.push(finding(
            "group",
            Warning,
            format!("{bdf} is not isolated from {} (no ACS between them): the VM's device could reach theirs by peer-to-peer DMA", list(&plain)),
            Some(format!("pass the whole group to the same VM: xenpci check {}", list(&all))),
        ));
    }
    // Reset.
    if !f.is_bridge() {
        if !f.reset.is_empty() {
            out.push(finding(
                "reset",
                Ok,
                format!("reset methods: {}", f.reset.join(", ")),
                None,
            ));
        } else if f.config.as_ref().is_none_or(|c| c.len <= 64) {
            out.push(finding(
                "reset",
                Warning,
                "cannot read the capabilities in config space, so the reset methods are unknown"
                    .into(),
                Some("run `xenpci check` as root".into()),
            ));
        } else {
            out.push(finding(
                "reset",
                Warning,
                "no reset method (no FLR, no PM reset, not alone on its bus): the device may keep state from one guest to the next, and libxl logs \"The kernel doesn't support reset from sysfs\"".into(),
                Some("give it to one VM only and shut that VM down cleanly; to allow a bus reset, pass every function on its bus together".into()),
            ));
        }
    }
    // RMRR.
    let usb = f.class >> 8 == 0x0c03;
    let igd = f.vendor_id == 0x8086 && f.class >> 16 == 0x03 && f.bdf.bus == 0 && f.bdf.device == 2;
    if usb || igd {
        out.push(finding(
            "rmrr",
            Warning,
            format!(
                "{} usually have a reserved memory region (RMRR) shared with other devices; under the strict default Xen refuses: \"It's disallowed to assign {bdf} with shared RMRR\"",
                if usb { "USB controllers" } else { "Intel integrated graphics (IGD)" }
            ),
            Some(format!(
                "if `xl dmesg` shows that message, use the per-device policy: pci = [ '{bdf},rdm_policy=relaxed' ]{}",
                if igd { " and gfx_passthru=1" } else { "" }
            )),
        ));
    }
    // SR-IOV.
    if let Some(pf) = f.physfn {
        match inv.get(pf) {
            _ if selected.contains(&pf) => out.push(finding(
                "sriov",
                Error,
                format!("{bdf} is a virtual function of {pf}, which is also requested: the PF must stay in dom0 with its driver or the VFs disappear"),
                Some(format!("do not pass {pf}; pass only its VFs")),
            )),
            Some(p) if matches!(p.driver_state(), DriverState::Dom0Driver(_)) => out.push(finding(
                "sriov",
                Ok,
                format!("virtual function of {pf}, which dom0's {} driver keeps enabled", p.driver.as_deref().unwrap_or("")),
                None,
            )),
            Some(p) => out.push(finding(
                "sriov",
                Error,
                format!(
                    "{bdf} is a virtual function of {pf}, whose driver is {}: VFs need the PF bound to its dom0 driver",
                    p.driver.as_deref().map_or("missing".to_string(), |d| format!("{d} (a passthrough stub)"))
                ),
                Some(unhide_pf_fix(toolstack, pf)),
            )),
            None => out.push(finding(
                "sriov",
                Error,
                format!("{bdf} is a virtual function of {pf}, which is not on the host"),
                None,
            )),
        }
    }
    if let Some(pf) = f.physfn {
        out.push(finding(
            "sriov",
            Info,
            format!("a virtual function: {pf} and its driver stay in dom0; the VF interrupts by MSI/MSI-X only (no INTx), and it disappears when {pf}'s driver unloads or its VF count changes (`xenpci sriov {pf}`)"),
            None,
        ));
    }
    if let Some(s) = &f.sriov {
        if s.numvfs > 0 {
            out.push(finding(
                "sriov",
                Warning,
                format!("{bdf} is an SR-IOV physical function with {} VFs enabled; passing it unbinds its dom0 driver and pciback then releases every VF", s.numvfs),
                Some(format!("pass its VFs instead ({})", list(&s.vfs))),
            ));
        }
    }
    // Driver. A device that stays with dom0 (it needs it, shares a group with one it needs, or a
    // bridge) gets no "hide it" fix: hiding it is what the errors above forbid.
    let dom0_needs = out
        .iter()
        .any(|x| x.severity == Error && matches!(x.check, "critical" | "group" | "bridge"));
    let hide = (!dom0_needs).then(|| match f.physfn {
        Some(pf) if toolstack != Toolstack::Kvm => vf_hide_fix(toolstack, bdf, pf),
        _ => hide_fix(toolstack, bdf),
    });
    let state = f.driver_state();
    out.push(match &state {
        DriverState::Pciback => finding(
            "driver",
            Ok,
            "bound to pciback: ready to assign".into(),
            None,
        ),
        DriverState::KvmStub(_) => {
            finding("driver", Warning, state.describe(), state.stub_fix(bdf))
        }
        DriverState::Dom0Driver(d) if dom0_needs => finding(
            "driver",
            Info,
            format!("bound to {d} in dom0, where it has to stay (see the errors above)"),
            None,
        ),
        DriverState::Dom0Driver(d) => finding(
            "driver",
            Info,
            format!(
                "bound to {d} in dom0: it must be hidden (bound to pciback) before a VM gets it"
            ),
            hide,
        ),
        DriverState::Unbound => finding(
            "driver",
            Info,
            "no driver bound: make it assignable first".into(),
            hide,
        ),
    });
    let passable = !out.iter().any(|x| x.severity == Error);
    Report {
        bdf,
        description: Some(describe(f)),
        passable,
        findings: out,
    }
}

/// The JSON document of `xenpci check --json` (and the plugin's `check`): `{"passable": bool,
/// "iommu": {...}, "devices": [Report...]}`. Field names are an interface.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutput {
    /// True when every device can be passed through.
    pub passable: bool,
    /// What was found about the IOMMU.
    pub iommu: IommuStatus,
    /// One report per requested device.
    pub devices: Vec<Report>,
}

/// Runs the preflight for `bdfs` on the host at `root` (xl through `runner` when given).
pub fn check_host(
    root: &HostRoot,
    runner: Option<&dyn Runner>,
    bdfs: &[Bdf],
) -> (Inventory, CheckOutput) {
    let inv = Inventory::scan(root);
    let iommu = iommu_status(root, runner);
    let toolstack = Toolstack::of(root);
    let mut devices = check(&inv, &iommu, toolstack, bdfs);
    if toolstack == Toolstack::Kvm {
        super::kvm_check::adjust(root, &inv, &mut devices);
    }
    let passable = devices.iter().all(|r| r.passable);
    (
        inv,
        CheckOutput {
            passable,
            iommu,
            devices,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Output, RecordingRunner};

    #[test]
    fn virt_caps_words() {
        let info = "host                   : lab\nvirt_caps              : pv hvm hvm_directio pv_directio hap iommu_hap_pt_share gnttab-v1 gnttab-v2\nxen_major              : 4\n";
        let caps = virt_caps(info).unwrap();
        assert_eq!(caps.len(), 8);
        assert!(caps.iter().any(|c| c == "hap") && !caps.iter().any(|c| c == "shadow"));
        assert_eq!(virt_caps("virt_caps              :\n"), Some(vec![]));
        assert_eq!(virt_caps("host : virt_caps\nxen_caps : x\n"), None);
    }

    #[test]
    fn xl_info_virt_caps_and_dmesg_decide() {
        let r = RecordingRunner::new()
            .on(|c| (c.args == ["info"]).then(|| Output::ok("host : x\nvirt_caps              : pv hvm hvm_directio pv_directio hap shadow\n")))
            .on(|c| (c.args == ["dmesg"]).then(|| Output::ok("(XEN) I/O virtualisation enabled\n(XEN)  - Dom0 mode: Relaxed\n")));
        let d = tempfile::tempdir().unwrap();
        let s = iommu_status(&HostRoot::new(d.path()), Some(&r));
        assert_eq!(s.enabled, Some(true), "{s:?}");
        assert!(s.detail.contains("I/O virtualisation enabled"));
        assert!(r.calls()[0].ends_with("info") && r.calls()[1].ends_with("dmesg"));

        let r = RecordingRunner::new()
            .on(|c| {
                (c.args == ["info"])
                    .then(|| Output::ok("virt_caps              : pv hvm hap shadow\n"))
            })
            .on(|c| {
                (c.args == ["dmesg"]).then(|| Output::ok("(XEN) I/O virtualisation disabled\n"))
            });
        assert_eq!(
            iommu_status(&HostRoot::new(d.path()), Some(&r)).enabled,
            Some(false)
        );
    }

    #[test]
    fn without_xl_the_files_answer() {
        let d = tempfile::tempdir().unwrap();
        let root = HostRoot::new(d.path());
        let failing = RecordingRunner::new();
        assert_eq!(iommu_status(&root, Some(&failing)).enabled, None);
        std::fs::create_dir_all(root.path("/var/log")).unwrap();
        std::fs::write(
            root.path("/var/log/dmesg"),
            "XEN-PV-IOMMU - completed setting up 1-1 mapping\n",
        )
        .unwrap();
        let s = iommu_status(&root, None);
        assert_eq!(
            (s.enabled, s.source.as_str()),
            (Some(true), "/var/log/dmesg")
        );
        std::fs::create_dir_all(root.path("/sys/class/iommu/dmar0")).unwrap();
        assert_eq!(iommu_status(&root, None).source, "/sys/class/iommu");
    }
}
