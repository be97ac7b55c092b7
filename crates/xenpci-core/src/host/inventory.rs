//! [`Inventory`]: every PCI function of the host, read from `sys/bus/pci/devices/*` through a
//! [`HostRoot`], with names, driver, IOMMU/isolation group, SR-IOV links, upstream bridges, reset
//! methods and the critical-device flags. This is the library entry point other modules use for
//! the boot-device guard:
//!
//! ```no_run
//! use xenpci::host::{HostRoot, Inventory};
//! let inv = Inventory::scan(&HostRoot::default());
//! if let Some(f) = inv.get("0000:05:00.0".parse().unwrap()) {
//!     if !f.critical.is_empty() || f.is_bridge() { /* crate::policy refuses it */ }
//!     println!("{:?} {:?} {:?}", f.driver, f.isolation_group, inv.critical_in_group(f.bdf));
//! }
//! ```
//!
//! A bad tree (missing files, dangling links, garbage in attributes) produces a warning for the
//! function concerned, in [`PciFunction::warnings`]; the rest of the inventory is unaffected.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use super::config::{ConfigSpace, PortType};
use super::critical;
use super::devdir::DeviceDir;
use super::driver::DriverState;
use super::isolation::{self, Node};
use super::names;
use super::sysfs::SysfsError;
use super::HostRoot;
use crate::pci::{Bdf, HexId};

/// SR-IOV state of a physical function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sriov {
    /// `sriov_totalvfs`.
    pub totalvfs: u32,
    /// `sriov_numvfs`.
    pub numvfs: u32,
    /// The enabled VFs (`virtfnN` links), in N order.
    pub vfs: Vec<Bdf>,
}

/// One PCI function as the host shows it.
#[derive(Debug, Clone)]
pub struct PciFunction {
    /// Address.
    pub bdf: Bdf,
    /// Vendor id.
    pub vendor_id: u16,
    /// Device id.
    pub device_id: u16,
    /// Class code (class, subclass, prog-if).
    pub class: u32,
    /// Subsystem vendor id.
    pub subsystem_vendor_id: u16,
    /// Subsystem device id.
    pub subsystem_device_id: u16,
    /// Revision.
    pub revision: u8,
    /// Bound driver (`driver` link), if any.
    pub driver: Option<String>,
    /// Kernel IOMMU group, where the kernel has them (not in a Xen dom0).
    pub iommu_group: Option<u32>,
    /// The group to pass together: the kernel's IOMMU group when there is one, else the group
    /// computed from config space. Sorted; includes this function.
    pub isolation_group: Vec<Bdf>,
    /// The group computed from config space (differs from `isolation_group` only when the
    /// kernel's group disagrees).
    pub computed_group: Vec<Bdf>,
    /// SR-IOV state of a PF.
    pub sriov: Option<Sriov>,
    /// The PF of a VF (from the PF's `virtfnN` links).
    pub physfn: Option<Bdf>,
    /// Upstream bridges, nearest first.
    pub upstream: Vec<Bdf>,
    /// The `sys/devices/...` path (host form).
    pub sysfs_path: PathBuf,
    /// What config space says, when readable.
    pub config: Option<ConfigSpace>,
    /// Reset methods: `reset_method` when the kernel has it, else computed from config space
    /// (`flr`, `af_flr`, `pm`, `bus`).
    pub reset: Vec<String>,
    /// NUMA node (None for -1 or unknown).
    pub numa_node: Option<i32>,
    /// `boot_vga` = 1: the console.
    pub boot_vga: bool,
    /// Why dom0 needs this function (empty: it does not).
    pub critical: Vec<String>,
    /// Problems reading this function.
    pub warnings: Vec<String>,
}

impl PciFunction {
    /// True for bridge-class functions (class 0x06: host, ISA, PCI-to-PCI bridges...), which
    /// pciback refuses to export and which are never passed through.
    pub fn is_bridge(&self) -> bool {
        self.class >> 16 == 0x06 || self.config.as_ref().is_some_and(|c| c.is_bridge())
    }

    /// True when the function has a PCI Express capability.
    pub fn is_pcie(&self) -> bool {
        self.pcie_type().is_some()
    }

    /// Its PCIe port type.
    pub fn pcie_type(&self) -> Option<PortType> {
        self.config.as_ref().and_then(|c| c.pcie)
    }

    /// Who holds it: pciback (hidden for Xen), a KVM stub, a dom0 driver or nothing.
    pub fn driver_state(&self) -> DriverState {
        DriverState::of(self.driver.as_deref())
    }

    /// Vendor name from the PCI ID database (`Vendor xxxx` when it has none).
    pub fn vendor_name(&self) -> Cow<'static, str> {
        names::vendor_name(self.vendor_id)
    }

    /// Device name from the PCI ID database (`Device xxxx` when it has none).
    pub fn device_name(&self) -> Cow<'static, str> {
        names::device_name(self.vendor_id, self.device_id)
    }

    /// Class name (subclass name when known).
    pub fn class_name(&self) -> Cow<'static, str> {
        names::class_name(self.class)
    }

    /// The list/JSON record (field names are an interface).
    pub fn record(&self, inv: &Inventory) -> ListRecord {
        let hex4 = |v: u16| HexId::new(u32::from(v), 4);
        ListRecord {
            bdf: self.bdf,
            vendor_id: hex4(self.vendor_id),
            device_id: hex4(self.device_id),
            class: HexId::new(self.class, 6),
            subsystem_vendor_id: hex4(self.subsystem_vendor_id),
            subsystem_device_id: hex4(self.subsystem_device_id),
            revision: HexId::new(u32::from(self.revision), 2),
            vendor_name: self.vendor_name(),
            device_name: self.device_name(),
            class_name: self.class_name(),
            driver: self.driver.clone(),
            iommu_group: self.iommu_group,
            isolation_group: self.isolation_group.clone(),
            sriov: self.sriov.clone(),
            physfn: self.physfn,
            reset: self.reset.clone(),
            assignable: inv.assignable(self.bdf),
            critical: self.critical.clone(),
        }
    }
}

/// One element of `xenpci list --json`.
#[derive(Debug, Clone, Serialize)]
pub struct ListRecord {
    /// `0000:05:00.0`.
    pub bdf: Bdf,
    /// 4 lowercase hex digits.
    pub vendor_id: HexId,
    /// 4 lowercase hex digits.
    pub device_id: HexId,
    /// 6 hex digits.
    pub class: HexId,
    /// 4 lowercase hex digits.
    pub subsystem_vendor_id: HexId,
    /// 4 lowercase hex digits.
    pub subsystem_device_id: HexId,
    /// 2 hex digits.
    pub revision: HexId,
    /// From the PCI ID database.
    pub vendor_name: Cow<'static, str>,
    /// From the PCI ID database.
    pub device_name: Cow<'static, str>,
    /// From the PCI ID database.
    pub class_name: Cow<'static, str>,
    /// Bound driver.
    pub driver: Option<String>,
    /// Kernel IOMMU group.
    pub iommu_group: Option<u32>,
    /// Functions that go together.
    pub isolation_group: Vec<Bdf>,
    /// SR-IOV state of a PF.
    pub sriov: Option<Sriov>,
    /// PF of a VF.
    pub physfn: Option<Bdf>,
    /// Reset methods.
    pub reset: Vec<String>,
    /// Could be passed through without taking anything dom0 needs.
    pub assignable: bool,
    /// Why dom0 needs it.
    pub critical: Vec<String>,
}

/// The host's PCI functions, sorted by address.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    functions: Vec<PciFunction>,
    index: BTreeMap<Bdf, usize>,
    /// Problems not tied to one function (unreadable device list, unresolvable mounts...).
    pub warnings: Vec<String>,
    /// True when the kernel exposes IOMMU groups (plain Linux with an IOMMU; never a Xen dom0).
    pub kernel_groups: bool,
}

fn warn(w: &mut Vec<String>, e: SysfsError) {
    w.push(e.to_string());
}

/// Which of the optional facts a scan reads (the others every caller needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields {
    /// [`PciFunction::numa_node`] (None for every function when not read). Only the text
    /// listing shows it; not reading it saves four system calls per function.
    pub numa_node: bool,
}

impl Fields {
    /// Everything.
    pub const ALL: Fields = Fields { numa_node: true };
}

/// The fewest functions read by more than one thread.
const PARALLEL_FROM: usize = 64;

/// The most threads reading functions (past that the kernel's path lookups are the limit).
const MAX_THREADS: usize = 4;

/// What reading one function needs from the scan (one per thread).
struct Scan<'a> {
    root: &'a HostRoot,
    /// The `sys/bus/pci/devices` listing.
    devices: &'a DeviceDir<'a>,
    /// The kernel has IOMMU groups.
    groups: bool,
    fields: Fields,
    /// Host-wide warnings.
    global: Vec<String>,
    /// The config space buffer, reused from function to function.
    scratch: Vec<u8>,
    /// The last function's directory, its memory reused for the next.
    spare: Option<DeviceDir<'a>>,
}

impl Inventory {
    /// Reads the host under `root`. Never fails: what cannot be read becomes a warning.
    pub fn scan(root: &HostRoot) -> Inventory {
        Inventory::scan_fields(root, Fields::ALL)
    }

    /// [`Inventory::scan`] reading only the optional `fields` asked for.
    pub fn scan_fields(root: &HostRoot, fields: Fields) -> Inventory {
        Inventory::scan_on(root, fields, None)
    }

    /// [`Inventory::scan_fields`] on `threads` threads (None: as many as pay off).
    fn scan_on(root: &HostRoot, fields: Fields, threads: Option<usize>) -> Inventory {
        let mut inv = Inventory::default();
        let devices = root.path("/sys/bus/pci/devices");
        let listing = DeviceDir::open(root, &devices);
        if let Some(e) = listing.listing_error() {
            inv.warnings.push(format!(
                "{}: cannot list PCI functions: {e}",
                root.host_path(&devices).display()
            ));
            return inv;
        }
        // Only ask each function for its IOMMU group when the kernel has groups at all.
        let groups = std::fs::read_dir(root.path("/sys/kernel/iommu_groups"))
            .is_ok_and(|mut rd| rd.next().is_some());
        let names: Vec<&str> = listing.entries().map(|(n, _)| n).collect();
        // Reading a function is system calls on its own directory, so functions are read in
        // parallel, a contiguous share of the listing per thread (results joined in listing
        // order: the same functions and warnings as one thread reading them all). Small hosts
        // are read on this thread: starting one costs more than reading a few dozen functions.
        let threads = if let Some(n) = threads {
            n
        } else if names.len() >= PARALLEL_FROM {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
        } else {
            1
        };
        let share = names.len().div_ceil(threads.max(1)).max(1);
        let read_share = |share: &[&str]| {
            let mut scan = Scan {
                root,
                devices: &listing,
                groups,
                fields,
                global: Vec::new(),
                scratch: Vec::with_capacity(4096),
                spare: None,
            };
            let mut functions = Vec::with_capacity(share.len());
            for name in share {
                match name.parse::<Bdf>() {
                    Ok(b) => {
                        if let Some(f) = read_function(&mut scan, name, b) {
                            functions.push(f);
                        }
                    }
                    Err(e) => scan.global.push(format!(
                        "/sys/bus/pci/devices/{name}: not a PCI address, skipped ({e})"
                    )),
                }
            }
            (functions, scan.global)
        };
        let mut shares = names.chunks(share);
        let first = shares.next().unwrap_or_default();
        let results: Vec<(Vec<PciFunction>, Vec<String>)> = std::thread::scope(|s| {
            let others: Vec<_> = shares.map(|c| s.spawn(move || read_share(c))).collect();
            let mut all = vec![read_share(first)];
            for h in others {
                match h.join() {
                    Ok(r) => all.push(r),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            all
        });
        inv.functions.reserve(names.len());
        for (functions, global) in results {
            inv.functions.extend(functions);
            inv.warnings.extend(global);
        }
        inv.functions.sort_by_key(|f| f.bdf);
        inv.reindex();
        inv.finish(root);
        inv
    }

    fn reindex(&mut self) {
        self.index = self
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| (f.bdf, i))
            .collect();
    }

    fn finish(&mut self, root: &HostRoot) {
        // A VF's PF is the function whose virtfnN links name it (saves a readlink per function).
        let links: Vec<(Bdf, Bdf)> = self
            .functions
            .iter()
            .filter_map(|f| f.sriov.as_ref().map(|s| (f.bdf, s)))
            .flat_map(|(pf, s)| s.vfs.iter().map(move |vf| (*vf, pf)))
            .collect();
        for (vf, pf) in links {
            if let Some(&i) = self.index.get(&vf) {
                self.functions[i].physfn = Some(pf);
            }
        }
        // Bus reset is possible only for a function alone on its bus behind a bridge.
        let mut per_bus: BTreeMap<(u16, u8), usize> = BTreeMap::new();
        for f in &self.functions {
            *per_bus.entry((f.bdf.segment, f.bdf.bus)).or_default() += 1;
        }
        for f in &mut self.functions {
            let bridge = f.is_bridge();
            if let Some(c) = f.config.as_ref().filter(|_| f.reset.is_empty() && !bridge) {
                let mut r = Vec::new();
                if c.pcie_flr {
                    r.push("flr");
                }
                if c.af_flr {
                    r.push("af_flr");
                }
                if c.pm_reset {
                    r.push("pm");
                }
                if !f.upstream.is_empty() && per_bus[&(f.bdf.segment, f.bdf.bus)] == 1 {
                    r.push("bus");
                }
                f.reset = r.into_iter().map(String::from).collect();
            }
        }
        // Isolation.
        let nodes: Vec<Node> = self
            .functions
            .iter()
            .map(|f| Node {
                bdf: f.bdf,
                parent: f.upstream.first().copied(),
                config: f.config.clone(),
                is_virtfn: f.physfn.is_some(),
            })
            .collect();
        let computed = isolation::compute(&nodes);
        let mut kernel: BTreeMap<u32, Vec<Bdf>> = BTreeMap::new();
        for f in &self.functions {
            if let Some(g) = f.iommu_group {
                kernel.entry(g).or_default().push(f.bdf);
            }
        }
        self.kernel_groups = !kernel.is_empty();
        for members in kernel.values_mut() {
            members.sort();
        }
        for f in &mut self.functions {
            f.computed_group = computed.get(&f.bdf).cloned().unwrap_or_else(|| vec![f.bdf]);
            f.isolation_group = match f.iommu_group {
                Some(g) => {
                    let k = kernel[&g].clone();
                    if k != f.computed_group {
                        f.warnings.push(format!(
                            "kernel IOMMU group {g} is [{}] but config space suggests [{}]; using the kernel's",
                            join(&k),
                            join(&f.computed_group)
                        ));
                    }
                    k
                }
                None => f.computed_group.clone(),
            };
        }
        // Critical devices.
        let crit = critical::find(root);
        self.warnings.extend(crit.warnings);
        for (b, reasons) in crit.reasons {
            match self.index.get(&b) {
                Some(&i) => self.functions[i].critical.extend(reasons),
                None => self.warnings.push(format!(
                    "{b} is needed by dom0 ({}) but is not in /sys/bus/pci/devices",
                    reasons.join("; ")
                )),
            }
        }
        for f in &mut self.functions {
            if f.boot_vga {
                f.critical
                    .push("dom0's console display (boot_vga = 1)".to_string());
            }
        }
    }

    /// The warnings as a person reads them: the host's own, then the functions', one line per
    /// kind of warning ("kernel IOMMU group N is [...] but ..." on 997 functions is one line with
    /// its first example and the count). With `all`, one line per function and warning.
    pub fn warning_lines(&self, all: bool) -> Vec<String> {
        let mut lines = self.warnings.clone();
        let mut kinds: Vec<(String, String, usize)> = Vec::new(); // kind, first example, count
        for f in &self.functions {
            for w in &f.warnings {
                let line = format!("{}: {w}", f.bdf);
                if all {
                    lines.push(line);
                    continue;
                }
                let kind = warning_kind(w);
                match kinds.iter_mut().find(|(k, _, _)| *k == kind) {
                    Some((_, _, n)) => *n += 1,
                    None => kinds.push((kind, line, 1)),
                }
            }
        }
        for (_, first, n) in kinds {
            lines.push(match n {
                1 => first,
                n => format!(
                    "{first} (and {} more functions alike; -v or --json shows each)",
                    n - 1
                ),
            });
        }
        lines
    }

    /// All functions, sorted by address.
    pub fn functions(&self) -> &[PciFunction] {
        &self.functions
    }

    /// The function at `bdf`.
    pub fn get(&self, bdf: Bdf) -> Option<&PciFunction> {
        self.index.get(&bdf).map(|&i| &self.functions[i])
    }

    /// Other members of `bdf`'s isolation group that dom0 needs, with their reasons.
    pub fn critical_in_group(&self, bdf: Bdf) -> Vec<(Bdf, Vec<String>)> {
        let Some(f) = self.get(bdf) else {
            return Vec::new();
        };
        f.isolation_group
            .iter()
            .filter(|b| **b != bdf)
            .filter_map(|b| self.get(*b))
            .filter(|g| !g.critical.is_empty())
            .map(|g| (g.bdf, g.critical.clone()))
            .collect()
    }

    /// Could `bdf` be passed through without taking anything dom0 needs: not a bridge, not
    /// critical, and nothing critical in its isolation group.
    pub fn assignable(&self, bdf: Bdf) -> bool {
        self.get(bdf).is_some_and(|f| {
            !f.is_bridge()
                && f.critical.is_empty()
                // critical_in_group(bdf).is_empty(), without building the list per function
                && !f
                    .isolation_group
                    .iter()
                    .filter(|b| **b != bdf)
                    .any(|b| self.get(*b).is_some_and(|g| !g.critical.is_empty()))
        })
    }

    /// The distinct isolation groups, in address order of their first member.
    pub fn groups(&self) -> Vec<Vec<Bdf>> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for f in &self.functions {
            if seen.insert(f.isolation_group.clone()) {
                out.push(f.isolation_group.clone());
            }
        }
        out
    }
}

fn join(v: &[Bdf]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(v.len() * 14);
    for (i, b) in v.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(out, "{sep}{b}");
    }
    out
}

/// Reads the function `name` of the `sys/bus/pci/devices` listing `devices`.
fn read_function(scan: &mut Scan, name: &str, bdf: Bdf) -> Option<PciFunction> {
    let Scan {
        root,
        devices,
        groups,
        fields,
        global,
        scratch,
        spare,
    } = scan;
    let (root, groups) = (*root, *groups);
    let mut w = Vec::new();
    let link = || devices.path().join(name);
    let dir = match devices.read_link(name) {
        Ok(d) => d,
        Err(_) => link(),
    };
    let dd = match spare.take() {
        Some(d) => d.reopen_unlisted(&dir),
        None => DeviceDir::open_unlisted(root, &dir),
    };
    let host_dir = root.host_path(&dir);
    // The addresses along the path, then without this function's own, nearest bridge first.
    let mut upstream: Vec<Bdf> = host_dir
        .components()
        .filter_map(|c| {
            let s = c.as_os_str().to_str()?;
            (s.len() == 12).then(|| s.parse::<Bdf>().ok()).flatten()
        })
        .collect();
    while upstream.last() == Some(&bdf) {
        upstream.pop();
    }
    upstream.reverse();
    let config = match dd.read_config_into("config", scratch) {
        Ok(()) => {
            let b = &scratch[..];
            let c = ConfigSpace::parse(b);
            if c.is_none() {
                w.push(format!(
                    "{}/config: only {} bytes, expected at least 64",
                    host_dir.display(),
                    b.len()
                ));
            }
            c
        }
        Err(e) => {
            warn(&mut w, e);
            None
        }
    };
    // Only when config could not be read: is the device directory there at all (a dangling
    // link in sys/bus/pci/devices)? Saves a stat per function on healthy trees.
    if config.is_none() && !dir.is_dir() {
        global.push(format!(
            "{bdf}: skipped: {} points to {}, which does not exist",
            root.host_path(&link()).display(),
            root.host_path(&dir).display()
        ));
        return None;
    }
    let mut hex = |attr: &str, digits: usize, from_config: Option<u32>| -> Option<u32> {
        match dd.read_hex(attr, digits) {
            Ok(v) => Some(v),
            Err(e) => {
                let used = match from_config {
                    Some(v) => format!("; using config space value {v:0digits$x}"),
                    None => String::new(),
                };
                w.push(format!("{e}{used}"));
                from_config
            }
        }
    };
    let c = config.as_ref();
    // Vendor and device ids come from config space, which the kernel's `vendor`/`device`
    // attributes repeat, except for an SR-IOV virtual function: its config space reads ffff and
    // the kernel takes the ids from the physical function. Then (or without config) the
    // attributes answer.
    let ids = c.filter(|c| c.vendor != 0xffff && c.device != 0xffff);
    let (vendor, device) = match ids {
        Some(c) => (Some(c.vendor as u32), Some(c.device as u32)),
        None => (
            hex("vendor", 4, c.map(|c| c.vendor as u32)),
            hex("device", 4, c.map(|c| c.device as u32)),
        ),
    };
    let (Some(vendor), Some(device)) = (vendor, device) else {
        global.push(format!(
            "{bdf}: skipped: no vendor/device id ({})",
            w.join("; ")
        ));
        return None;
    };
    let class = hex("class", 6, c.map(|c| c.class)).unwrap_or(0xff0000);
    // Subsystem ids of a type 0 header are read from config space, as lspci does (the kernel's
    // attributes hold the same values); bridges keep theirs elsewhere, so use the attributes.
    let (sv, sd) = match c.and_then(|c| c.subsystem) {
        Some((v, d)) => (v as u32, d as u32),
        None => (
            hex("subsystem_vendor", 4, None).unwrap_or(0),
            hex("subsystem_device", 4, None).unwrap_or(0),
        ),
    };
    let rev = match c {
        Some(c) => c.revision as u32,
        None => hex("revision", 2, None).unwrap_or(0),
    };
    let driver = dd.driver().unwrap_or_else(|e| {
        warn(&mut w, e);
        None
    });
    let iommu_group =
        match (groups && !dd.absent("iommu_group")).then(|| dd.link_name("iommu_group")) {
            None => None,
            Some(r) => match r {
                Ok(g) => match g.parse() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        w.push(format!(
                            "{}/iommu_group: points to {g:?}, not a group number",
                            host_dir.display()
                        ));
                        None
                    }
                },
                Err(SysfsError::Missing { .. }) => None,
                Err(e) => {
                    warn(&mut w, e);
                    None
                }
            },
        };

    let may_sriov = c.is_none_or(|c| c.sriov.is_some() || c.len <= 256);
    let sriov = if may_sriov && !dd.absent("sriov_totalvfs") {
        read_sriov(&dd, &mut w)
    } else {
        None
    };
    let numa_node = match fields.numa_node.then(|| dd.read_int("numa_node")) {
        None => None,
        Some(Ok(n)) if n >= 0 => i32::try_from(n).ok(),
        Some(Ok(_)) | Some(Err(SysfsError::Missing { .. })) => None,
        Some(Err(e)) => {
            warn(&mut w, e);
            None
        }
    };
    let reset = match dd.read_optional_text("reset_method") {
        Some(t) => t.split_whitespace().map(str::to_string).collect(),
        None => Vec::new(),
    };
    let boot_vga =
        class >> 16 == 0x03 && dd.read_optional_text("boot_vga").is_some_and(|t| t == "1");
    *spare = Some(dd);
    Some(PciFunction {
        bdf,
        vendor_id: vendor as u16,
        device_id: device as u16,
        class,
        subsystem_vendor_id: sv as u16,
        subsystem_device_id: sd as u16,
        revision: rev as u8,
        driver,
        iommu_group,
        isolation_group: Vec::new(),
        computed_group: Vec::new(),
        sriov,
        physfn: None,
        upstream,
        sysfs_path: host_dir,
        config,
        reset,
        numa_node,
        boot_vga,
        critical: Vec::new(),
        warnings: w,
    })
}

/// What makes two functions' warnings the same kind: the text with its addresses, numbers and
/// bracketed lists blanked.
fn warning_kind(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    let mut depth = 0usize;
    let mut in_token = false;
    let mut token_has_digit = false;
    let mut token = String::new();
    let flush = |out: &mut String, token: &mut String, has_digit: bool| {
        if has_digit {
            out.push('#');
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for ch in w.chars() {
        match ch {
            '[' => {
                depth += 1;
                if depth == 1 {
                    out.push_str("[…]");
                }
                continue;
            }
            ']' if depth > 0 => {
                depth -= 1;
                continue;
            }
            _ if depth > 0 => continue,
            _ => {}
        }
        if ch.is_ascii_hexdigit() || ch == ':' || ch == '.' {
            in_token = true;
            token_has_digit |= ch.is_ascii_digit();
            token.push(ch);
        } else {
            if in_token {
                flush(&mut out, &mut token, token_has_digit);
                in_token = false;
                token_has_digit = false;
            }
            out.push(ch);
        }
    }
    if in_token {
        flush(&mut out, &mut token, token_has_digit);
    }
    out
}

fn read_sriov(dd: &DeviceDir, w: &mut Vec<String>) -> Option<Sriov> {
    let total = match dd.read_int("sriov_totalvfs") {
        Ok(t) => t,
        Err(SysfsError::Missing { .. }) => return None,
        Err(e) => {
            warn(w, e);
            return None;
        }
    };
    let num = dd.read_int("sriov_numvfs").unwrap_or_else(|e| {
        warn(w, e);
        0
    });
    let mut vfs = Vec::new();
    for i in 0..num.clamp(0, 4096) {
        match dd.link_name(&format!("virtfn{i}")) {
            Ok(n) => match n.parse() {
                Ok(b) => vfs.push(b),
                Err(_) => w.push(format!("virtfn{i} points to {n:?}, not a PCI address")),
            },
            Err(e) => warn(w, e),
        }
    }
    Some(Sriov {
        totalvfs: total.clamp(0, u32::MAX as i64) as u32,
        numvfs: num.clamp(0, u32::MAX as i64) as u32,
        vfs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use xenpci_fixtures as fixture;

    fn scan(fx: &fixture::Fixture) -> (tempfile::TempDir, Inventory) {
        let d = tempfile::tempdir().unwrap();
        fx.write(d.path()).unwrap();
        let inv = Inventory::scan(&HostRoot::new(d.path()));
        (d, inv)
    }

    fn b(s: &str) -> Bdf {
        s.parse().unwrap()
    }

    #[test]
    fn the_guard_api_answers_for_the_seed_host() {
        let (_d, inv) = scan(&fixture::x9drw());
        assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
        let sata = inv.get(b("00:1f.2")).unwrap();
        assert_eq!(
            sata.critical,
            [
                "holds / (ext3 on /dev/sda1)",
                "holds /var/log (ext3 on /dev/sda2)"
            ]
        );
        assert_eq!(sata.driver.as_deref(), Some("ahci"));
        assert!(!sata.is_bridge() && !sata.is_pcie());
        assert_eq!(sata.driver_state(), DriverState::Dom0Driver("ahci".into()));
        let smbus = inv.get(b("00:1f.3")).unwrap();
        assert!(smbus.critical.is_empty());
        assert_eq!(inv.critical_in_group(smbus.bdf)[0].0, b("00:1f.2"));
        assert!(!inv.assignable(smbus.bdf));
        let hba = inv.get(b("05:00.0")).unwrap();
        assert_eq!(hba.upstream, [b("00:01.0")]);
        assert_eq!(hba.isolation_group, [b("05:00.0")]);
        assert!(inv.assignable(hba.bdf));
        assert!(inv.get(b("00:01.0")).unwrap().is_bridge());
        assert!(
            inv.get(b("00:1f.0")).unwrap().is_bridge(),
            "ISA bridges are class 06 too"
        );
        assert!(inv.get(b("07:00.0")).is_none());
        assert!(!inv.kernel_groups);
    }

    #[test]
    fn threads_read_what_one_thread_reads() {
        let d = tempfile::tempdir().unwrap();
        // A device-list entry that is not an address, and one whose directory is gone: their
        // warnings keep their place whichever thread meets them.
        let fx = fixture::big(300);
        fx.write(d.path()).unwrap();
        let devices = d.path().join("sys/bus/pci/devices");
        std::os::unix::fs::symlink("nowhere", devices.join("0000:7f:00.0")).unwrap();
        std::fs::create_dir(devices.join("junk")).unwrap();
        let root = HostRoot::new(d.path());
        let text = |inv: &Inventory| {
            let records: Vec<ListRecord> = inv.functions().iter().map(|f| f.record(inv)).collect();
            (
                serde_json::to_string(&records).unwrap(),
                inv.warning_lines(true),
                format!("{:?}", inv.functions()),
            )
        };
        let one = text(&Inventory::scan_on(&root, Fields::ALL, Some(1)));
        assert_eq!(one.0.matches("\"bdf\"").count(), 300);
        assert!(one.1.iter().any(|w| w.contains("junk")), "{:?}", one.1);
        assert!(one.1.iter().any(|w| w.contains("7f:00.0")), "{:?}", one.1);
        for n in [2, 3, 7] {
            assert_eq!(
                text(&Inventory::scan_on(&root, Fields::ALL, Some(n))),
                one,
                "{n} threads"
            );
        }
        assert_eq!(text(&Inventory::scan_fields(&root, Fields::ALL)), one);
    }

    #[test]
    fn the_policy_gets_critical_bridge_and_group_facts() {
        use crate::policy::HostFacts;
        let (_d, inv) = scan(&fixture::x9drw());
        let f = inv.device(b("00:1f.3"));
        assert!(f.critical.is_empty() && !f.bridge);
        assert_eq!(
            f.group,
            [b("00:1f.2")],
            "the ISA bridge 00:1f.0 is not offered"
        );
        let hba = inv.device(b("05:00.0"));
        assert!(hba.critical.is_empty() && hba.group.is_empty() && !hba.bridge);
        assert!(inv.device(b("00:01.0")).bridge);
        assert!(!inv.device(b("00:1f.2")).critical.is_empty());
    }

    #[test]
    fn warnings_of_one_kind_are_one_line_with_a_count() {
        let a = "kernel IOMMU group 12 is [0000:00:1c.0, 0000:01:00.0] but config space suggests [0000:01:00.0]; using the kernel's";
        let b = "kernel IOMMU group 7 is [0000:03:00.0] but config space suggests [0000:03:00.1]; using the kernel's";
        assert_eq!(warning_kind(a), warning_kind(b));
        assert_ne!(
            warning_kind(a),
            warning_kind("/sys/x/config: only 12 bytes, expected at least 64")
        );
        // Words made of hex letters stay words ("bad", "face" are not numbers).
        assert_eq!(warning_kind("a bad face 31"), "a bad face #");
        let (_d, mut inv) = scan(&fixture::sriov_nic());
        for (i, f) in inv.functions.iter_mut().enumerate().take(3) {
            f.warnings.push(format!(
                "kernel IOMMU group {i} is [{}] but config space suggests []; using the kernel's",
                f.bdf
            ));
        }
        let lines = inv.warning_lines(false);
        let alike: Vec<&String> = lines.iter().filter(|l| l.contains("IOMMU group")).collect();
        assert_eq!(alike.len(), 1, "{lines:?}");
        assert!(
            alike[0].contains("and 2 more functions alike"),
            "{}",
            alike[0]
        );
        assert_eq!(
            inv.warning_lines(true)
                .iter()
                .filter(|l| l.contains("IOMMU group"))
                .count(),
            3
        );
    }

    #[test]
    fn the_numa_node_is_read_only_when_asked() {
        let fx = fixture::Fixture::new()
            .with(fixture::Func::endpoint("05:00.0", 0x1000, 0x0072, 0x010700).numa(1));
        let d = tempfile::tempdir().unwrap();
        fx.write(d.path()).unwrap();
        let root = HostRoot::new(d.path());
        let all = Inventory::scan(&root);
        assert_eq!(all.get(b("05:00.0")).unwrap().numa_node, Some(1));
        // Garbage there is a warning only for a scan that reads it.
        let attr = d
            .path()
            .join(
                fx.device_dir("05:00.0".parse().unwrap())
                    .trim_start_matches('/'),
            )
            .join("numa_node");
        assert!(attr.is_file(), "{}", attr.display());
        std::fs::write(&attr, "banana\n").unwrap();
        let without = Inventory::scan_fields(&root, Fields { numa_node: false });
        let f = without.get(b("05:00.0")).unwrap();
        assert_eq!(
            (f.numa_node, f.warnings.len()),
            (None, 0),
            "{:?}",
            f.warnings
        );
        let with = Inventory::scan(&root);
        assert!(with.get(b("05:00.0")).unwrap().warnings[0].contains("numa_node"));
    }

    #[test]
    fn sriov_and_hidden_state_are_read() {
        let (_d, inv) = scan(&fixture::sriov_nic());
        let pf = inv.get(b("01:00.0")).unwrap();
        let s = pf.sriov.as_ref().unwrap();
        assert_eq!((s.totalvfs, s.numvfs, s.vfs.len()), (8, 7, 7));
        let vf = inv.get(b("01:11.4")).unwrap();
        assert_eq!(vf.physfn, Some(pf.bdf));
        assert!(vf.driver_state().is_pciback());
        assert_eq!(vf.reset, ["flr"]);
        // A VF's config space reads ffff for its ids; the kernel's attributes answer instead.
        assert_eq!(vf.config.as_ref().unwrap().vendor, 0xffff);
        assert_eq!((vf.vendor_id, vf.device_id), (0x8086, 0x10ca));
        assert!(vf.warnings.is_empty(), "{:?}", vf.warnings);
    }
}
