//! Critical devices: the PCI functions dom0 itself needs, each with the reason.
//!
//! * Storage: every block device mounted in `proc/mounts` (and swap in `proc/swaps`) is
//!   resolved through `sys/class/block/<name>` to the PCI function in its device path; partitions
//!   sit under their disk, and `dm-*`/`md*` devices are followed through their `slaves/`.
//!   `/dev/mapper/NAME` is matched against `sys/class/block/dm-*/dm/name`.
//! * Network: the interfaces carrying the default route (`proc/net/route`) and XAPI's management
//!   interface (`MANAGEMENT_INTERFACE` in `etc/xensource-inventory`) are resolved through
//!   `sys/class/net/<if>`, following Linux bridge members (`brif/`), bond/VLAN lower devices
//!   (`lower_*`) and, for openvswitch bridges that list no members, XAPI's `xenbrN` → `ethN` naming.
//! * Console: functions with `boot_vga` = 1 (read by the inventory).

use std::collections::BTreeMap;
use std::path::Path;

use super::sysfs::{link_name, read_link, read_text, SysfsError};
use super::xensource;
use super::HostRoot;
use crate::pci::Bdf;

/// Critical reasons per function, plus warnings about what could not be resolved.
#[derive(Debug, Default, Clone)]
pub struct Critical {
    /// Reasons for each critical function.
    pub reasons: BTreeMap<Bdf, Vec<String>>,
    /// What could not be followed (a mount whose device has no sysfs entry, ...).
    pub warnings: Vec<String>,
}

impl Critical {
    fn add(&mut self, b: Bdf, why: String) {
        let v = self.reasons.entry(b).or_default();
        if !v.contains(&why) {
            v.push(why);
        }
    }
}

/// The last PCI address among a resolved sysfs path's components (the function nearest the
/// device: `.../0000:00:1f.2/ata1/host0/.../sda` → 00:1f.2).
pub fn pci_in_path(p: &Path) -> Option<Bdf> {
    p.components()
        .filter_map(|c| {
            let s = c.as_os_str().to_str()?;
            (s.len() == 12).then(|| s.parse::<Bdf>().ok()).flatten()
        })
        .next_back()
}

/// Finds the critical functions of the host under `root`.
pub fn find(root: &HostRoot) -> Critical {
    let mut c = Critical::default();
    storage(root, &mut c);
    network(root, &mut c);
    c
}

fn storage(root: &HostRoot, c: &mut Critical) {
    let mounts = read_text(root, &root.path("/proc/mounts")).unwrap_or_else(|e| {
        c.warnings.push(format!(
            "cannot tell which controllers hold dom0's filesystems: {e}"
        ));
        String::new()
    });
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [dev, at, fstype, ..] = f.as_slice() else {
            continue;
        };
        if !dev.starts_with("/dev/") {
            continue;
        }
        let at = unescape_octal(at);
        let why = format!("holds {at} ({fstype} on {dev})");
        resolve_block_dev(root, dev, &why, c);
    }
    if let Ok(swaps) = read_text(root, &root.path("/proc/swaps")) {
        for line in swaps.lines().skip(1) {
            if let Some(dev) = line
                .split_whitespace()
                .next()
                .filter(|d| d.starts_with("/dev/"))
            {
                resolve_block_dev(root, dev, &format!("holds dom0's swap ({dev})"), c);
            }
        }
    }
}

fn unescape_octal(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\134", "\\")
}

fn resolve_block_dev(root: &HostRoot, dev: &str, why: &str, c: &mut Critical) {
    let name = match block_name(root, dev) {
        Some(n) => n,
        None => {
            c.warnings
                .push(format!("{why}: cannot find {dev} under /sys/class/block"));
            return;
        }
    };
    let mut found = Vec::new();
    block_to_pci(root, &name, 0, &mut found);
    if found.is_empty() {
        // Virtual disks (xvda in a guest, loop, ram) have no PCI function: nothing to protect.
        tracing::debug!(dev, "no PCI function behind block device");
    }
    for (b, via) in found {
        let r = if via.is_empty() || via == dev.trim_start_matches("/dev/") {
            why.to_string()
        } else {
            format!("{} via {via})", why.trim_end_matches(')'))
        };
        c.add(b, r);
    }
}

fn block_name(root: &HostRoot, dev: &str) -> Option<String> {
    if let Some(mapper) = dev.strip_prefix("/dev/mapper/") {
        let dir = root.path("/sys/class/block");
        for e in std::fs::read_dir(&dir).ok()?.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("dm-")
                && read_text(root, &dir.join(&n).join("dm/name"))
                    .ok()
                    .as_deref()
                    == Some(mapper)
            {
                return Some(n);
            }
        }
        return None;
    }
    // /dev/disk/by-*/... or /dev/VG/LV: follow the link when the root has /dev.
    let inside = root.path(dev);
    let name = match link_name(root, &inside) {
        Ok(n) => n,
        Err(SysfsError::Garbage { .. }) => return None,
        Err(_) => Path::new(dev).file_name()?.to_string_lossy().into_owned(),
    };
    root.path("/sys/class/block")
        .join(&name)
        .symlink_metadata()
        .ok()?;
    Some(name)
}

fn block_to_pci(root: &HostRoot, name: &str, depth: usize, out: &mut Vec<(Bdf, String)>) {
    if depth > 16 {
        return;
    }
    let link = root.path("/sys/class/block").join(name);
    let Ok(dir) = read_link(root, &link) else {
        return;
    };
    if let Some(b) = pci_in_path(&root.host_path(&dir)) {
        out.push((b, name.to_string()));
        return;
    }
    let mut slaves_dir = dir.join("slaves");
    if !slaves_dir.is_dir() && dir.join("partition").exists() {
        slaves_dir = dir.parent().map(|p| p.join("slaves")).unwrap_or(slaves_dir);
    }
    let Ok(rd) = std::fs::read_dir(&slaves_dir) else {
        return;
    };
    let mut names: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for s in names {
        let mut sub = Vec::new();
        block_to_pci(root, &s, depth + 1, &mut sub);
        for (b, via) in sub {
            out.push((b, format!("{name} → {via}")));
        }
    }
}

fn network(root: &HostRoot, c: &mut Critical) {
    let mut ifaces: Vec<(String, String)> = Vec::new();
    if let Ok(route) = read_text(root, &root.path("/proc/net/route")) {
        for line in route.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if let [iface, dest, _gw, flags, ..] = f.as_slice() {
                let up = u16::from_str_radix(flags, 16).is_ok_and(|v| v & 1 != 0);
                if *dest == "00000000" && up {
                    ifaces.push((iface.to_string(), "carries dom0's default route".into()));
                }
            }
        }
    }
    if let Ok(inv) = read_text(root, &root.path(xensource::PATH)) {
        if let Some(v) = xensource::value(&inv, "MANAGEMENT_INTERFACE").filter(|v| !v.is_empty()) {
            ifaces.push((
                v,
                "carries XAPI's management network (MANAGEMENT_INTERFACE in /etc/xensource-inventory)".into(),
            ));
        }
    }
    for (iface, why) in ifaces {
        let mut found = Vec::new();
        net_to_pci(root, &iface, 0, &mut found);
        if found.is_empty() {
            c.warnings
                .push(format!("{why}: interface {iface} leads to no PCI function"));
        }
        for (b, via) in found {
            c.add(b, format!("{why} ({via})"));
        }
    }
}

fn net_to_pci(root: &HostRoot, iface: &str, depth: usize, out: &mut Vec<(Bdf, String)>) {
    if depth > 8 {
        return;
    }
    let link = root.path("/sys/class/net").join(iface);
    let Ok(dir) = read_link(root, &link) else {
        return;
    };
    if let Some(b) = pci_in_path(&root.host_path(&dir)) {
        out.push((b, iface.to_string()));
        return;
    }
    let mut lower: Vec<String> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir.join("brif")) {
        lower.extend(
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned()),
        );
    }
    if let Ok(rd) = std::fs::read_dir(&dir) {
        lower.extend(rd.flatten().filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("lower_")
                .map(str::to_string)
        }));
    }
    lower.sort();
    lower.dedup();
    if lower.is_empty() {
        if let Some(n) = iface.strip_prefix("xenbr") {
            let eth = format!("eth{n}");
            if root
                .path("/sys/class/net")
                .join(&eth)
                .symlink_metadata()
                .is_ok()
            {
                lower.push(eth);
            }
        }
    }
    for l in lower {
        let mut sub = Vec::new();
        net_to_pci(root, &l, depth + 1, &mut sub);
        for (b, via) in sub {
            out.push((b, format!("{iface} → {via}")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xenpci_fixtures::{self as fixture, Fixture, Func};

    fn crit(fx: &Fixture) -> Critical {
        let d = tempfile::tempdir().unwrap();
        fx.write(d.path()).unwrap();
        find(&HostRoot::new(d.path()))
    }

    #[test]
    fn x9drw_root_disk_and_management_nic() {
        let c = crit(&fixture::x9drw());
        let b = |s: &str| s.parse::<Bdf>().unwrap();
        let sata = &c.reasons[&b("00:1f.2")];
        assert!(
            sata.contains(&"holds / (ext3 on /dev/sda1)".to_string()),
            "{sata:?}"
        );
        assert!(
            sata.iter().any(|r| r.starts_with("holds /var/log")),
            "{sata:?}"
        );
        let nic = &c.reasons[&b("02:00.0")];
        assert!(nic
            .iter()
            .any(|r| r.contains("default route") && r.contains("xenbr0 → eth0")));
        assert!(
            nic.iter().any(|r| r.contains("MANAGEMENT_INTERFACE")),
            "{nic:?}"
        );
        assert!(!c.reasons.contains_key(&b("05:00.0")));
        assert!(!c.reasons.contains_key(&b("02:00.1")));
    }

    #[test]
    fn lvm_root_is_followed_through_dm_slaves() {
        let fx = Fixture::new()
            .with(Func::endpoint("03:00.0", 0x144d, 0xa808, 0x010802).driver("nvme"))
            .disk("nvme0n1", "03:00.0", &["nvme0n1p1", "nvme0n1p2"])
            .virtual_block("dm-0", Some("vg-root"), &["nvme0n1p2"])
            .mount("/dev/mapper/vg-root", "/", "ext4");
        let c = crit(&fx);
        let r = &c.reasons[&"03:00.0".parse::<Bdf>().unwrap()];
        assert_eq!(
            r,
            &["holds / (ext4 on /dev/mapper/vg-root via dm-0 → nvme0n1p2)"]
        );
    }

    #[test]
    fn unresolvable_mounts_warn() {
        let fx = Fixture::new().mount("/dev/sdz1", "/", "xfs");
        let c = crit(&fx);
        assert!(c.reasons.is_empty());
        assert!(c.warnings[0].contains("/dev/sdz1"), "{:?}", c.warnings);
    }

    #[test]
    fn openvswitch_bridge_falls_back_to_xapi_naming() {
        let fx = Fixture::new()
            .with(Func::endpoint("02:00.0", 0x8086, 0x1521, 0x020000))
            .nic("eth0", "02:00.0")
            .file("sys/devices/virtual/net/xenbr0/.keep", "")
            .file("etc/xensource-inventory", "MANAGEMENT_INTERFACE='xenbr0'\n");
        let d = tempfile::tempdir().unwrap();
        fx.write(d.path()).unwrap();
        std::os::unix::fs::symlink(
            "../../devices/virtual/net/xenbr0",
            d.path().join("sys/class/net/xenbr0"),
        )
        .unwrap();
        let c = find(&HostRoot::new(d.path()));
        assert_eq!(c.reasons.len(), 1, "{c:?}");
    }
}
