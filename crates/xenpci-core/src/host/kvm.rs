//! KVM hosts: a Linux host with no Xen under it that runs guests with KVM (`/dev/kvm`) or
//! libvirt, where passthrough means vfio-pci and the kernel's own IOMMU groups. This module holds
//! the test of "KVM host" ([`evidence`], used by [`super::xensource::Toolstack::of`]) and the host
//! facts `xenpci check` reports on such a host ([`host_facts`]): the IOMMU as the kernel sees it
//! (DMAR / AMD-Vi units in `sys/class/iommu`, `sys/kernel/iommu_groups` populated), the IOMMU
//! options on the running kernel's line, and whether the vfio modules are available, loaded and
//! configured into the initramfs (dracut or initramfs-tools).

use serde::Serialize;

use super::sysfs::read_text;
use super::HostRoot;

/// Files whose presence says "this Linux runs on Xen" (dom0 or a guest): never a KVM host then.
const XEN_MARKS: &[&str] = &["/proc/xen", "/sys/hypervisor/type"];

/// Files whose presence says "this host runs KVM guests": the KVM device, or libvirt.
pub const KVM_MARKS: &[&str] = &[
    "/dev/kvm",
    "/etc/libvirt",
    "/run/libvirt",
    "/usr/sbin/libvirtd",
    "/usr/bin/virsh",
];

/// The vfio modules a passthrough host needs (module names as `modules.dep` spells their files).
pub const VFIO_MODULES: &[&str] = &["vfio", "vfio_iommu_type1", "vfio_pci"];

/// Why the host is (or is not) a KVM host: Some(the KVM mark found) when no Xen mark is there.
pub fn evidence(root: &HostRoot) -> Option<&'static str> {
    let xen = XEN_MARKS.iter().any(|m| {
        let p = root.path(m);
        if m.ends_with("/type") {
            read_text(root, &p).is_ok_and(|t| t.trim() == "xen")
        } else {
            p.exists()
        }
    });
    if xen {
        return None;
    }
    KVM_MARKS
        .iter()
        .copied()
        .find(|m| root.path(m).symlink_metadata().is_ok())
}

/// Which IOMMU the kernel runs, from the units in `sys/class/iommu` (`dmar0`: Intel VT-d,
/// `ivhd0`: AMD-Vi) and the groups in `sys/kernel/iommu_groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelIommu {
    /// `DMAR` (Intel VT-d), `AMD-Vi`, `other` or None (no unit).
    pub driver: Option<String>,
    /// The units (`dmar0`, `ivhd0`...).
    pub units: Vec<String>,
    /// How many IOMMU groups the kernel made.
    pub groups: usize,
    /// Groups exist: the kernel isolates devices and vfio can use them.
    pub active: bool,
}

/// The IOMMU options on a kernel line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IommuOptions {
    /// `intel_iommu=` value.
    pub intel_iommu: Option<String>,
    /// `amd_iommu=` value.
    pub amd_iommu: Option<String>,
    /// `iommu=` value (`pt`: passthrough mode for the host's own devices).
    pub iommu: Option<String>,
    /// ACS override (`pcie_acs_override=`, only on kernels patched for it).
    pub acs_override: Option<String>,
}

impl IommuOptions {
    /// Reads the options from a kernel line.
    pub fn parse(line: &str) -> IommuOptions {
        let mut o = IommuOptions::default();
        for w in line.split_whitespace() {
            let (k, v) = w.split_once('=').unwrap_or((w, ""));
            let slot = match k {
                "intel_iommu" => &mut o.intel_iommu,
                "amd_iommu" => &mut o.amd_iommu,
                "iommu" => &mut o.iommu,
                "pcie_acs_override" => &mut o.acs_override,
                _ => continue,
            };
            *slot = Some(v.to_string());
        }
        o
    }
}

/// The vfio modules: in the kernel's module tree, loaded now, and configured into the initramfs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VfioModules {
    /// The running kernel's release (`proc/sys/kernel/osrelease`).
    pub kernel: Option<String>,
    /// vfio-pci is built in or a module of that kernel (`lib/modules/REL/modules.dep` or
    /// `modules.builtin`); None when the module tree cannot be read.
    pub available: Option<bool>,
    /// vfio-pci is loaded now (`sys/bus/pci/drivers/vfio-pci`).
    pub loaded: bool,
    /// The initramfs generator found (`dracut`, `initramfs-tools`, or None).
    pub initramfs: Option<&'static str>,
    /// The vfio modules the generator's configuration adds (empty: none).
    pub in_initramfs: Vec<String>,
}

/// The initramfs generator of the host and its configuration file for xenpci's vfio modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initramfs {
    /// dracut: `/etc/dracut.conf.d/*.conf` with `add_drivers+=`/`force_drivers+=`.
    Dracut,
    /// Debian's initramfs-tools: `/etc/initramfs-tools/modules`, one module a line.
    InitramfsTools,
}

/// The dracut drop-in xenpci writes.
pub const DRACUT_CONF: &str = "/etc/dracut.conf.d/xenpci-vfio.conf";
/// initramfs-tools' module list.
pub const INITRAMFS_TOOLS_MODULES: &str = "/etc/initramfs-tools/modules";

impl Initramfs {
    /// The generator on this host: initramfs-tools when its module list exists, else dracut when
    /// its configuration does.
    pub fn of(root: &HostRoot) -> Option<Initramfs> {
        if root.path(INITRAMFS_TOOLS_MODULES).is_file() {
            Some(Initramfs::InitramfsTools)
        } else if root.path("/etc/dracut.conf.d").is_dir()
            || root.path("/etc/dracut.conf").is_file()
        {
            Some(Initramfs::Dracut)
        } else {
            None
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Initramfs::Dracut => "dracut",
            Initramfs::InitramfsTools => "initramfs-tools",
        }
    }

    /// The vfio modules its configuration adds to the initramfs now.
    pub fn configured(self, root: &HostRoot) -> Vec<String> {
        let mut texts = Vec::new();
        match self {
            Initramfs::InitramfsTools => {
                texts.extend(read_text(root, &root.path(INITRAMFS_TOOLS_MODULES)).ok());
            }
            Initramfs::Dracut => {
                texts.extend(read_text(root, &root.path("/etc/dracut.conf")).ok());
                let mut confs: Vec<_> = std::fs::read_dir(root.path("/etc/dracut.conf.d"))
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "conf"))
                    .collect();
                confs.sort();
                texts.extend(confs.iter().filter_map(|p| read_text(root, p).ok()));
            }
        }
        let mut found = Vec::new();
        for t in &texts {
            for line in t.lines() {
                let line = line.split('#').next().unwrap_or("");
                let words: Vec<&str> = match self {
                    Initramfs::InitramfsTools => line.split_whitespace().take(1).collect(),
                    Initramfs::Dracut => {
                        let Some((k, v)) = line.split_once('=') else {
                            continue;
                        };
                        let k = k.trim().trim_end_matches('+');
                        if !matches!(k, "add_drivers" | "force_drivers" | "drivers") {
                            continue;
                        }
                        v.trim_matches(|c: char| c.is_whitespace() || c == '"' || c == '\'')
                            .split_whitespace()
                            .collect()
                    }
                };
                for w in words {
                    let m = w.replace('-', "_");
                    if VFIO_MODULES.contains(&m.as_str()) && !found.contains(&m) {
                        found.push(m);
                    }
                }
            }
        }
        found
    }
}

/// What `check` reports about a KVM host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KvmHost {
    /// What made it a KVM host (`/dev/kvm`, `/etc/libvirt`...).
    pub evidence: String,
    /// The IOMMU as the kernel runs it.
    pub iommu: KernelIommu,
    /// The running kernel's line (`proc/cmdline`).
    pub cmdline: String,
    /// The IOMMU options on it.
    pub options: IommuOptions,
    /// The vfio modules.
    pub vfio: VfioModules,
    /// What to do about what was found, each a sentence with its fix.
    pub findings: Vec<String>,
    /// True when devices can be bound to vfio-pci and used now.
    pub passable: bool,
    /// The CPU is AMD's (`proc/cpuinfo`): AMD-Vi is on by default, Intel needs `intel_iommu=on`.
    pub amd_cpu: bool,
}

/// The kernel option that turns the IOMMU on, in words for a fix.
pub fn iommu_on_option_text(h: &KvmHost) -> &'static str {
    if h.amd_cpu {
        "amd_iommu=on (the default; check the firmware's IOMMU setting)"
    } else {
        "intel_iommu=on"
    }
}

/// The processes holding a vfio group open (a link in `proc/PID/fd` to `/dev/vfio/N`): (group,
/// pid, command name). What cannot be read (another user's process) is skipped.
pub fn vfio_users(root: &HostRoot) -> Vec<(u32, u32, String)> {
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir(root.path("/proc")) else {
        return out;
    };
    for p in procs.flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let mut groups: Vec<u32> = fds
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .filter_map(|t| t.to_str()?.strip_prefix("/dev/vfio/")?.parse::<u32>().ok())
            .collect();
        groups.sort_unstable();
        groups.dedup();
        if groups.is_empty() {
            continue;
        }
        let comm = read_text(root, &p.path().join("comm"))
            .map(|c| c.trim().to_string())
            .unwrap_or_else(|_| "?".into());
        out.extend(groups.into_iter().map(|g| (g, pid, comm.clone())));
    }
    out.sort();
    out
}

/// The functions of kernel IOMMU group `g` (`sys/kernel/iommu_groups/G/devices`).
pub fn group_devices(root: &HostRoot, g: u32) -> Vec<crate::pci::Bdf> {
    let mut v: Vec<crate::pci::Bdf> =
        std::fs::read_dir(root.path(format!("/sys/kernel/iommu_groups/{g}/devices")))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
            .collect();
    v.sort();
    v
}

/// The kernel's IOMMU units and groups under `root`.
pub fn kernel_iommu(root: &HostRoot) -> KernelIommu {
    let names = |dir: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(root.path(dir))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        v.sort();
        v
    };
    let units = names("/sys/class/iommu");
    let groups = names("/sys/kernel/iommu_groups").len();
    let driver = units.first().map(|u| {
        if u.starts_with("dmar") {
            "DMAR".to_string()
        } else if u.starts_with("ivhd") {
            "AMD-Vi".to_string()
        } else {
            "other".to_string()
        }
    });
    KernelIommu {
        driver,
        units,
        groups,
        active: groups > 0,
    }
}

/// True when the host's CPU is AMD's (`proc/cpuinfo`), for the kernel option to suggest.
pub fn amd_cpu(root: &HostRoot) -> bool {
    read_text(root, &root.path("/proc/cpuinfo")).is_ok_and(|t| t.contains("AuthenticAMD"))
}

/// The kernel option that turns the IOMMU on for this CPU (`intel_iommu=on`; AMD-Vi is on by
/// default, so nothing for AMD).
pub fn iommu_on_option(root: &HostRoot) -> Option<&'static str> {
    (!amd_cpu(root)).then_some("intel_iommu=on")
}

fn modules_have(root: &HostRoot, kernel: &str, module: &str) -> Option<bool> {
    let file = format!("{}.ko", module.replace('_', "-"));
    let mut any = false;
    for list in ["modules.dep", "modules.builtin"] {
        if let Ok(t) = read_text(root, &root.path(format!("/lib/modules/{kernel}/{list}"))) {
            any = true;
            if t.lines().any(|l| {
                let path = l.split(':').next().unwrap_or("");
                let name = path.rsplit('/').next().unwrap_or("");
                name == file || name.starts_with(&format!("{file}."))
            }) {
                return Some(true);
            }
        }
    }
    any.then_some(false)
}

/// The host facts of a KVM host, with a finding (and its fix) for each problem.
pub fn host_facts(root: &HostRoot, evidence: &str) -> KvmHost {
    let iommu = kernel_iommu(root);
    let cmdline = read_text(root, &root.path("/proc/cmdline"))
        .unwrap_or_default()
        .trim()
        .to_string();
    let options = IommuOptions::parse(&cmdline);
    let kernel = read_text(root, &root.path("/proc/sys/kernel/osrelease"))
        .ok()
        .map(|s| s.trim().to_string());
    let available = kernel
        .as_deref()
        .and_then(|k| modules_have(root, k, "vfio_pci"));
    let loaded = root.path("/sys/bus/pci/drivers/vfio-pci").is_dir();
    let gen = Initramfs::of(root);
    let in_initramfs = gen.map(|g| g.configured(root)).unwrap_or_default();
    let mut findings = Vec::new();
    if !iommu.active {
        let opt = iommu_on_option(root).unwrap_or("amd_iommu=on (the default)");
        findings.push(format!(
            "the kernel has no IOMMU groups (sys/kernel/iommu_groups is empty): vfio cannot pass \
             devices through; enable VT-d/AMD-Vi in the firmware and add {opt} to the kernel line \
             (`xenpci hide BDF` adds it to /etc/default/grub)"
        ));
    }
    if options.acs_override.is_some() {
        findings.push(
            "pcie_acs_override is on the kernel line: the kernel splits IOMMU groups it cannot \
             prove isolated, so devices in one \"group\" may still reach each other by DMA"
                .into(),
        );
    }
    if iommu.active && options.iommu.as_deref() != Some("pt") {
        findings.push(
            "iommu=pt is not on the kernel line: the host's own devices go through IOMMU \
             translation too (slower DMA for them; passthrough itself works)"
                .into(),
        );
    }
    match available {
        Some(false) => findings.push(format!(
            "vfio-pci is not in the module tree of kernel {}: install the kernel's modules",
            kernel.as_deref().unwrap_or("?")
        )),
        None if !loaded => findings.push(
            "cannot tell whether vfio-pci is available (no lib/modules/RELEASE/modules.dep)".into(),
        ),
        _ => {}
    }
    if !loaded {
        findings.push(
            "vfio-pci is not loaded now (`xenpci hide --now BDF` loads it with modprobe)".into(),
        );
    }
    match gen {
        None => findings.push(
            "no initramfs generator found (dracut, initramfs-tools): vfio-pci loads only after \
             the root filesystem is mounted, after drivers in the initramfs took their devices"
                .into(),
        ),
        Some(g) => {
            let missing: Vec<&str> = VFIO_MODULES
                .iter()
                .copied()
                .filter(|m| !in_initramfs.iter().any(|x| x == m))
                .collect();
            if !missing.is_empty() {
                findings.push(format!(
                    "the initramfs ({}) does not add {}: `xenpci hide BDF` configures it",
                    g.name(),
                    missing.join(", ")
                ));
            }
        }
    }
    KvmHost {
        evidence: evidence.to_string(),
        passable: iommu.active && available != Some(false),
        amd_cpu: amd_cpu(root),
        iommu,
        cmdline,
        options,
        vfio: VfioModules {
            kernel,
            available,
            loaded,
            initramfs: gen.map(Initramfs::name),
            in_initramfs,
        },
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, HostRoot) {
        let d = tempfile::tempdir().unwrap();
        let r = HostRoot::new(d.path());
        (d, r)
    }

    fn put(r: &HostRoot, p: &str, c: &str) {
        let p = r.path(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, c).unwrap();
    }

    #[test]
    fn kvm_needs_a_kvm_mark_and_no_xen_mark() {
        let (_d, r) = root();
        assert_eq!(evidence(&r), None);
        put(&r, "/dev/kvm", "");
        assert_eq!(evidence(&r), Some("/dev/kvm"));
        put(&r, "/sys/hypervisor/type", "xen\n");
        assert_eq!(evidence(&r), None, "a Xen dom0 with libvirt is not KVM");
    }

    #[test]
    fn the_iommu_unit_names_the_driver_and_groups_make_it_active() {
        let (_d, r) = root();
        assert_eq!(kernel_iommu(&r).driver, None);
        assert!(!kernel_iommu(&r).active);
        put(&r, "/sys/class/iommu/ivhd0/x", "");
        put(&r, "/sys/kernel/iommu_groups/0/x", "");
        put(&r, "/sys/kernel/iommu_groups/1/x", "");
        let k = kernel_iommu(&r);
        assert_eq!(
            (k.driver.as_deref(), k.groups, k.active),
            (Some("AMD-Vi"), 2, true)
        );
        put(&r, "/proc/cpuinfo", "vendor_id\t: AuthenticAMD\n");
        assert_eq!(iommu_on_option(&r), None, "AMD-Vi is on by default");
    }

    #[test]
    fn options_and_initramfs_configuration_are_read() {
        let o = IommuOptions::parse("ro quiet intel_iommu=on iommu=pt");
        assert_eq!(o.intel_iommu.as_deref(), Some("on"));
        assert_eq!(o.iommu.as_deref(), Some("pt"));
        assert_eq!(o.amd_iommu, None);
        let (_d, r) = root();
        put(
            &r,
            "/etc/dracut.conf.d/10-x.conf",
            "add_drivers+=\" vfio-pci vfio \" # x\n",
        );
        assert_eq!(Initramfs::of(&r), Some(Initramfs::Dracut));
        assert_eq!(Initramfs::Dracut.configured(&r), ["vfio_pci", "vfio"]);
        put(&r, INITRAMFS_TOOLS_MODULES, "# list\nvfio_iommu_type1\n");
        assert_eq!(Initramfs::of(&r), Some(Initramfs::InitramfsTools));
        assert_eq!(
            Initramfs::InitramfsTools.configured(&r),
            ["vfio_iommu_type1"]
        );
    }
}
