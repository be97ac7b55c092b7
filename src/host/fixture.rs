//! Fixture host roots: a generator that writes a fake dom0 (`sys/bus/pci/devices`, the resolved
//! `sys/devices/pci0000:00/...` tree with realistic `config` space, drivers, IOMMU groups, SR-IOV
//! links, block and net class links, `proc/mounts`, `proc/net/route`, `etc/`) into a directory,
//! so tests, the bundled demo host and the benchmark share one description of each shape.
//!
//! A shape is a [`Fixture`] built from [`Func`]s; each named shape is one function
//! ([`x9drw`], [`gpu_pair`], [`sriov_nic`], [`legacy_bridge`], [`big`]), listed by [`shape`].
//! The trees are complete enough for `lspci -A linux-sysfs -O sysfs.path=ROOT/sys/bus/pci` to read.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use super::config::{acs, cap, ext, PortType};
use crate::pci::Bdf;

/// One PCI function to generate.
#[derive(Debug, Clone)]
pub struct Func {
    /// Its address.
    pub bdf: Bdf,
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// Class code, 24 bits.
    pub class: u32,
    /// Subsystem vendor/device.
    pub subsystem: (u16, u16),
    /// Revision.
    pub rev: u8,
    /// Bound driver.
    pub driver: Option<String>,
    /// Upstream bridge (None: on a root bus).
    pub parent: Option<Bdf>,
    /// PCI Express port type (None: conventional PCI).
    pub pcie: Option<PortType>,
    /// Secondary bus, for PCI-to-PCI bridges (type 1 header).
    pub secondary: Option<u8>,
    /// FLR in PCIe DevCap.
    pub flr: bool,
    /// FLR in the Advanced Features capability.
    pub af_flr: bool,
    /// ACS capability with every flag enabled.
    pub acs: bool,
    /// SR-IOV: (TotalVFs, NumVFs, VF device id).
    pub sriov: Option<(u16, u16, u16)>,
    /// The PF of a VF.
    pub physfn: Option<Bdf>,
    /// NUMA node (-1: none).
    pub numa: i32,
    /// Kernel IOMMU group (plain Linux hosts only).
    pub iommu_group: Option<u32>,
    /// `boot_vga` attribute value (VGA devices).
    pub boot_vga: Option<bool>,
    /// `reset_method` attribute (newer kernels).
    pub reset_method: Option<String>,
    /// Device Serial Number capability (PCIe functions only).
    pub serial: Option<u64>,
}

fn bdf(s: &str) -> Bdf {
    s.parse()
        .unwrap_or_else(|e| panic!("fixture address {s:?}: {e}"))
}

impl Func {
    fn base(at: &str, vendor: u16, device: u16, class: u32, pcie: Option<PortType>) -> Func {
        Func {
            bdf: bdf(at),
            vendor,
            device,
            class,
            subsystem: (0, 0),
            rev: 1,
            driver: None,
            parent: None,
            pcie,
            secondary: None,
            flr: false,
            af_flr: false,
            acs: false,
            sriov: None,
            physfn: None,
            numa: -1,
            iommu_group: None,
            boot_vga: None,
            reset_method: None,
            serial: None,
        }
    }

    /// A PCI Express endpoint.
    pub fn endpoint(at: &str, vendor: u16, device: u16, class: u32) -> Func {
        Func::base(at, vendor, device, class, Some(PortType::Endpoint))
    }

    /// A root-complex integrated endpoint (PCIe capability, on the root bus).
    pub fn integrated(at: &str, vendor: u16, device: u16, class: u32) -> Func {
        Func::base(at, vendor, device, class, Some(PortType::RcIntegrated))
    }

    /// A conventional PCI function (no PCI Express capability), e.g. chipset functions on bus 0.
    pub fn conventional(at: &str, vendor: u16, device: u16, class: u32) -> Func {
        Func::base(at, vendor, device, class, None)
    }

    fn bridge(at: &str, vendor: u16, device: u16, secondary: u8, t: Option<PortType>) -> Func {
        let mut f = Func::base(at, vendor, device, 0x060400, t);
        f.secondary = Some(secondary);
        f.driver = Some("pcieport".into()).filter(|_| t.is_some());
        f
    }

    /// A PCIe root port leading to bus `secondary`.
    pub fn root_port(at: &str, vendor: u16, device: u16, secondary: u8) -> Func {
        Func::bridge(at, vendor, device, secondary, Some(PortType::RootPort))
    }

    /// A switch upstream port.
    pub fn upstream_port(at: &str, vendor: u16, device: u16, secondary: u8) -> Func {
        Func::bridge(at, vendor, device, secondary, Some(PortType::Upstream))
    }

    /// A switch downstream port.
    pub fn downstream_port(at: &str, vendor: u16, device: u16, secondary: u8) -> Func {
        Func::bridge(at, vendor, device, secondary, Some(PortType::Downstream))
    }

    /// A PCIe-to-PCI bridge: conventional devices behind it share its requester ID.
    pub fn pcie_to_pci(at: &str, vendor: u16, device: u16, secondary: u8) -> Func {
        let mut f = Func::bridge(at, vendor, device, secondary, Some(PortType::PcieToPci));
        f.driver = None;
        f
    }

    /// A conventional PCI-to-PCI bridge (no PCI Express capability) leading to bus `secondary`.
    pub fn pci_bridge(at: &str, vendor: u16, device: u16, secondary: u8) -> Func {
        Func::bridge(at, vendor, device, secondary, None)
    }

    /// Sets the revision.
    pub fn rev(mut self, rev: u8) -> Func {
        self.rev = rev;
        self
    }

    /// Sets the subsystem ids.
    pub fn subsystem(mut self, vendor: u16, device: u16) -> Func {
        self.subsystem = (vendor, device);
        self
    }

    /// Binds a driver.
    pub fn driver(mut self, name: &str) -> Func {
        self.driver = Some(name.to_string());
        self
    }

    /// Unbinds any driver.
    pub fn no_driver(mut self) -> Func {
        self.driver = None;
        self
    }

    /// Places it behind the bridge at `bridge`.
    pub fn under(mut self, bridge: &str) -> Func {
        self.parent = Some(self::bdf(bridge));
        self
    }

    /// Advertises FLR in PCIe DevCap.
    pub fn flr(mut self) -> Func {
        self.flr = true;
        self
    }

    /// Advertises FLR in an Advanced Features capability.
    pub fn af_flr(mut self) -> Func {
        self.af_flr = true;
        self
    }

    /// Adds an ACS capability with SV/RR/CR/UF implemented and enabled.
    pub fn acs(mut self) -> Func {
        self.acs = true;
        self
    }

    /// Adds an SR-IOV capability and the sysfs counts.
    pub fn sriov(mut self, total: u16, num: u16, vf_device: u16) -> Func {
        self.sriov = Some((total, num, vf_device));
        self
    }

    /// Sets the NUMA node.
    pub fn numa(mut self, node: i32) -> Func {
        self.numa = node;
        self
    }

    /// Puts it in kernel IOMMU group `g` (a plain-Linux host; Xen dom0 has none).
    pub fn iommu_group(mut self, g: u32) -> Func {
        self.iommu_group = Some(g);
        self
    }

    /// Sets `boot_vga`.
    pub fn boot_vga(mut self, on: bool) -> Func {
        self.boot_vga = Some(on);
        self
    }

    /// With a Device Serial Number capability (a PCIe function's EUI-64).
    pub fn serial(mut self, dsn: u64) -> Func {
        self.serial = Some(dsn);
        self
    }

    /// Writes a `reset_method` attribute.
    pub fn reset_method(mut self, methods: &str) -> Func {
        self.reset_method = Some(methods.to_string());
        self
    }
}

/// Builds the config space bytes for a function: header, PM / PCIe / AF capabilities, and on
/// PCIe functions the extended ACS and SR-IOV capabilities (4096 bytes; 256 for conventional).
pub fn config_bytes(f: &Func) -> Vec<u8> {
    config_bytes_mf(f, false)
}

fn config_bytes_mf(f: &Func, multifunction: bool) -> Vec<u8> {
    let len = if f.pcie.is_some() { 4096 } else { 256 };
    let mut b = vec![0u8; len];
    let put16 = |b: &mut Vec<u8>, o: usize, v: u16| b[o..o + 2].copy_from_slice(&v.to_le_bytes());
    let put32 = |b: &mut Vec<u8>, o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_le_bytes());
    // An SR-IOV virtual function's Vendor and Device ID registers read ffff (SR-IOV 1.1
    // §3.4.1.1, .2); the kernel's `vendor`/`device` attributes hold the ids from the PF.
    let vf = f.physfn.is_some();
    put16(&mut b, 0, if vf { 0xffff } else { f.vendor });
    put16(&mut b, 2, if vf { 0xffff } else { f.device });
    put16(&mut b, 4, 0x0006);
    put16(&mut b, 6, 0x0010);
    put32(&mut b, 8, (f.class << 8) | f.rev as u32);
    let header = if f.secondary.is_some() { 1 } else { 0 };
    b[0x0e] = header | if multifunction { 0x80 } else { 0 };
    if let Some(sec) = f.secondary {
        b[0x18] = f.bdf.bus;
        b[0x19] = sec;
        b[0x1a] = sec;
    } else {
        put16(&mut b, 0x2c, f.subsystem.0);
        put16(&mut b, 0x2e, f.subsystem.1);
    }
    b[0x34] = 0x40;
    // PM capability at 0x40: version 3, PMCSR with No_Soft_Reset set.
    b[0x40] = cap::PM;
    put16(&mut b, 0x42, 0x0003);
    put16(&mut b, 0x44, 0x0008);
    let mut last = 0x40;
    if let Some(t) = f.pcie {
        b[last + 1] = 0x60;
        b[0x60] = cap::EXP;
        put16(&mut b, 0x62, 0x0002 | ((t.bits() as u16) << 4));
        put32(&mut b, 0x64, if f.flr { 1 << 28 } else { 0 });
        last = 0x60;
    }
    if f.af_flr {
        b[last + 1] = 0x80;
        b[0x80] = cap::AF;
        b[0x82] = 0x06;
        b[0x83] = 0x03;
    }
    if f.pcie.is_some() {
        let mut ext_caps: Vec<(u16, Vec<u8>)> = Vec::new();
        if f.acs {
            let all = acs::SV | acs::RR | acs::CR | acs::UF | acs::TB;
            let mut v = vec![0u8; 4];
            v[0..2].copy_from_slice(&all.to_le_bytes());
            v[2..4].copy_from_slice(&(all & !acs::TB).to_le_bytes());
            ext_caps.push((ext::ACS, v));
        }
        if let Some((total, num, vf)) = f.sriov {
            let mut v = vec![0u8; 0x3c];
            v[0x04..0x06].copy_from_slice(&(if num > 0 { 0x9u16 } else { 0 }).to_le_bytes());
            v[0x08..0x0a].copy_from_slice(&total.to_le_bytes());
            v[0x0a..0x0c].copy_from_slice(&total.to_le_bytes());
            v[0x0c..0x0e].copy_from_slice(&num.to_le_bytes());
            v[0x10..0x12].copy_from_slice(&0x80u16.to_le_bytes());
            v[0x12..0x14].copy_from_slice(&2u16.to_le_bytes());
            v[0x16..0x18].copy_from_slice(&vf.to_le_bytes());
            // The payload starts at +4 (after the header): TotalVFs lands at +0x0e.
            ext_caps.push((ext::SRIOV, v));
        }
        if let Some(dsn) = f.serial {
            ext_caps.push((ext::DSN, dsn.to_le_bytes().to_vec()));
        }
        let mut pos = 0x100;
        for (i, (id, payload)) in ext_caps.iter().enumerate() {
            let next = if i + 1 < ext_caps.len() {
                pos + 0x40
            } else {
                0
            };
            put32(&mut b, pos, *id as u32 | (1 << 16) | ((next as u32) << 20));
            b[pos + 4..pos + 4 + payload.len()].copy_from_slice(payload);
            pos += 0x40;
        }
    }
    b
}

#[derive(Debug, Clone)]
struct Disk {
    name: String,
    bdf: Bdf,
    partitions: Vec<String>,
}

#[derive(Debug, Clone)]
struct VirtualBlock {
    name: String,
    dm_name: Option<String>,
    slaves: Vec<String>,
}

/// A whole fake host, written by [`Fixture::write`].
#[derive(Debug, Clone, Default)]
pub struct Fixture {
    funcs: Vec<Func>,
    disks: Vec<Disk>,
    vblocks: Vec<VirtualBlock>,
    mounts: Vec<(String, String, String)>,
    nics: Vec<(String, Bdf)>,
    bridges: Vec<(String, Vec<String>)>,
    default_route: Option<String>,
    files: Vec<(String, Vec<u8>)>,
}

impl Fixture {
    /// An empty host.
    pub fn new() -> Fixture {
        Fixture::default()
    }

    /// Adds a function.
    pub fn with(mut self, f: Func) -> Fixture {
        self.funcs.push(f);
        self
    }

    /// Adds the VFs of the SR-IOV PF at `pf` (which must have been added with `.sriov()`),
    /// at the given addresses, bound to `driver`.
    pub fn vfs(mut self, pf: &str, at: &[&str], driver: Option<&str>) -> Fixture {
        let pfb = bdf(pf);
        let p = self
            .funcs
            .iter()
            .find(|f| f.bdf == pfb)
            .unwrap_or_else(|| panic!("fixture: no PF {pf}"))
            .clone();
        let vf_dev = p.sriov.map_or(p.device, |s| s.2);
        for a in at {
            let mut f = Func::endpoint(a, p.vendor, vf_dev, p.class)
                .rev(p.rev)
                .subsystem(p.subsystem.0, p.subsystem.1)
                .flr();
            f.parent = p.parent;
            f.physfn = Some(pfb);
            f.driver = driver.map(str::to_string);
            f.numa = p.numa;
            self.funcs.push(f);
        }
        self
    }

    /// Binds the function at `at` to `driver` instead (None: no driver), e.g. a shape's HBA
    /// moved to `vfio-pci`.
    pub fn rebind(mut self, at: &str, driver: Option<&str>) -> Fixture {
        let b = bdf(at);
        let f = self
            .funcs
            .iter_mut()
            .find(|f| f.bdf == b)
            .unwrap_or_else(|| panic!("fixture: no function {at}"));
        f.driver = driver.map(str::to_string);
        self
    }

    /// A disk `name` (e.g. `sda`) on the controller at `at`, with partitions.
    pub fn disk(mut self, name: &str, at: &str, partitions: &[&str]) -> Fixture {
        self.disks.push(Disk {
            name: name.into(),
            bdf: bdf(at),
            partitions: partitions.iter().map(|s| s.to_string()).collect(),
        });
        self
    }

    /// A virtual block device (`dm-0`, `md0`) over `slaves`; `dm_name` is its `/dev/mapper` name.
    pub fn virtual_block(mut self, name: &str, dm_name: Option<&str>, slaves: &[&str]) -> Fixture {
        self.vblocks.push(VirtualBlock {
            name: name.into(),
            dm_name: dm_name.map(str::to_string),
            slaves: slaves.iter().map(|s| s.to_string()).collect(),
        });
        self
    }

    /// A line in `proc/mounts`.
    pub fn mount(mut self, dev: &str, at: &str, fstype: &str) -> Fixture {
        self.mounts.push((dev.into(), at.into(), fstype.into()));
        self
    }

    /// A network interface on the function at `at`.
    pub fn nic(mut self, name: &str, at: &str) -> Fixture {
        self.nics.push((name.into(), bdf(at)));
        self
    }

    /// A Linux bridge (e.g. `xenbr0`) with member interfaces.
    pub fn bridge_if(mut self, name: &str, members: &[&str]) -> Fixture {
        self.bridges
            .push((name.into(), members.iter().map(|s| s.to_string()).collect()));
        self
    }

    /// The interface carrying the default route (`proc/net/route`).
    pub fn default_route(mut self, iface: &str) -> Fixture {
        self.default_route = Some(iface.into());
        self
    }

    /// Any other file under the root (`etc/xensource-inventory`, `var/log/dmesg`).
    pub fn file(mut self, path: &str, content: &str) -> Fixture {
        self.files.push((path.into(), content.as_bytes().to_vec()));
        self
    }

    /// The functions, as added.
    pub fn funcs(&self) -> &[Func] {
        &self.funcs
    }

    /// The `sys/devices/...` directory of a function, relative to the root.
    pub fn device_dir(&self, b: Bdf) -> String {
        let mut chain = vec![b];
        let mut cur = b;
        let by: BTreeMap<Bdf, &Func> = self.funcs.iter().map(|f| (f.bdf, f)).collect();
        for _ in 0..32 {
            match by.get(&cur).and_then(|f| f.parent) {
                Some(p) => {
                    chain.push(p);
                    cur = p;
                }
                None => break,
            }
        }
        let top = chain.last().copied().unwrap_or(b);
        let mut s = format!("sys/devices/pci{:04x}:{:02x}", top.segment, top.bus);
        for c in chain.iter().rev() {
            s.push('/');
            s.push_str(&c.to_string());
        }
        s
    }

    /// Writes the tree into `root` (which should be empty).
    pub fn write(&self, root: &Path) -> io::Result<()> {
        let w = Writer { root };
        let mut slots: BTreeMap<(u16, u8, u8), usize> = BTreeMap::new();
        for f in &self.funcs {
            if f.physfn.is_none() {
                *slots
                    .entry((f.bdf.segment, f.bdf.bus, f.bdf.device))
                    .or_default() += 1;
            }
        }
        w.dir("sys/bus/pci/devices")?;
        w.dir("sys/bus/pci/drivers")?;
        w.dir("sys/kernel/iommu_groups")?;
        w.dir("sys/class/block")?;
        w.dir("sys/class/net")?;
        w.dir("proc/net")?;
        for f in &self.funcs {
            let dir = self.device_dir(f.bdf);
            let mf = f.physfn.is_none()
                && slots
                    .get(&(f.bdf.segment, f.bdf.bus, f.bdf.device))
                    .copied()
                    .unwrap_or(0)
                    > 1;
            w.dir(&dir)?;
            let hex = |v: u32, width: usize| format!("0x{v:0width$x}\n");
            w.text(&format!("{dir}/vendor"), &hex(f.vendor as u32, 4))?;
            w.text(&format!("{dir}/device"), &hex(f.device as u32, 4))?;
            w.text(&format!("{dir}/class"), &hex(f.class, 6))?;
            w.text(
                &format!("{dir}/subsystem_vendor"),
                &hex(f.subsystem.0 as u32, 4),
            )?;
            w.text(
                &format!("{dir}/subsystem_device"),
                &hex(f.subsystem.1 as u32, 4),
            )?;
            w.text(&format!("{dir}/revision"), &hex(f.rev as u32, 2))?;
            w.text(&format!("{dir}/numa_node"), &format!("{}\n", f.numa))?;
            w.text(&format!("{dir}/irq"), "0\n")?;
            w.text(&format!("{dir}/enable"), "1\n")?;
            w.text(
                &format!("{dir}/resource"),
                &"0x0000000000000000 0x0000000000000000 0x0000000000000000\n".repeat(13),
            )?;
            w.text(
                &format!("{dir}/modalias"),
                &format!(
                    "pci:v{:08X}d{:08X}sv{:08X}sd{:08X}bc{:02X}sc{:02X}i{:02X}\n",
                    f.vendor,
                    f.device,
                    f.subsystem.0,
                    f.subsystem.1,
                    f.class >> 16,
                    (f.class >> 8) & 0xff,
                    f.class & 0xff
                ),
            )?;
            w.bytes(&format!("{dir}/config"), &config_bytes_mf(f, mf))?;
            if let Some(v) = f.boot_vga {
                w.text(&format!("{dir}/boot_vga"), if v { "1\n" } else { "0\n" })?;
            }
            if let Some(m) = &f.reset_method {
                w.text(&format!("{dir}/reset_method"), &format!("{m}\n"))?;
            }
            w.link(&format!("sys/bus/pci/devices/{}", f.bdf), &dir)?;
            if let Some(d) = &f.driver {
                let ddir = format!("sys/bus/pci/drivers/{d}");
                w.dir(&ddir)?;
                w.link(&format!("{dir}/driver"), &ddir)?;
                w.link(&format!("{ddir}/{}", f.bdf), &dir)?;
            }
            if let Some(g) = f.iommu_group {
                let gdir = format!("sys/kernel/iommu_groups/{g}");
                w.dir(&format!("{gdir}/devices"))?;
                w.link(&format!("{dir}/iommu_group"), &gdir)?;
                w.link(&format!("{gdir}/devices/{}", f.bdf), &dir)?;
            }
            if let Some((total, num, _)) = f.sriov {
                w.text(&format!("{dir}/sriov_totalvfs"), &format!("{total}\n"))?;
                w.text(&format!("{dir}/sriov_numvfs"), &format!("{num}\n"))?;
                let vfs = self.funcs.iter().filter(|v| v.physfn == Some(f.bdf));
                for (i, v) in vfs.enumerate() {
                    w.link(&format!("{dir}/virtfn{i}"), &self.device_dir(v.bdf))?;
                }
            }
            if let Some(pf) = f.physfn {
                w.link(&format!("{dir}/physfn"), &self.device_dir(pf))?;
            }
        }
        for d in &self.disks {
            let base = format!(
                "{}/ata1/host0/target0:0:0/0:0:0:0/block/{}",
                self.device_dir(d.bdf),
                d.name
            );
            w.dir(&base)?;
            w.text(&format!("{base}/dev"), "8:0\n")?;
            w.link(&format!("sys/class/block/{}", d.name), &base)?;
            for p in &d.partitions {
                let pdir = format!("{base}/{p}");
                w.dir(&pdir)?;
                w.text(&format!("{pdir}/partition"), "1\n")?;
                w.link(&format!("sys/class/block/{p}"), &pdir)?;
            }
        }
        for v in &self.vblocks {
            let base = format!("sys/devices/virtual/block/{}", v.name);
            w.dir(&format!("{base}/slaves"))?;
            w.link(&format!("sys/class/block/{}", v.name), &base)?;
            if let Some(n) = &v.dm_name {
                w.dir(&format!("{base}/dm"))?;
                w.text(&format!("{base}/dm/name"), &format!("{n}\n"))?;
            }
            for s in &v.slaves {
                let target = self
                    .block_dir(s)
                    .unwrap_or_else(|| format!("sys/class/block/{s}"));
                w.link(&format!("{base}/slaves/{s}"), &target)?;
            }
        }
        let mut mounts = String::from("proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n");
        mounts.push_str("sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n");
        mounts.push_str("tmpfs /run tmpfs rw,nosuid,nodev,mode=755 0 0\n");
        for (dev, at, fs) in &self.mounts {
            mounts.push_str(&format!("{dev} {at} {fs} rw,relatime 0 0\n"));
        }
        w.text("proc/mounts", &mounts)?;
        for (name, b) in &self.nics {
            let ndir = format!("{}/net/{name}", self.device_dir(*b));
            w.dir(&ndir)?;
            w.text(&format!("{ndir}/operstate"), "up\n")?;
            w.link(&format!("sys/class/net/{name}"), &ndir)?;
        }
        for (name, members) in &self.bridges {
            let bdir = format!("sys/devices/virtual/net/{name}");
            w.text(&format!("{bdir}/bridge/stp_state"), "0\n")?;
            w.dir(&format!("{bdir}/brif"))?;
            w.link(&format!("sys/class/net/{name}"), &bdir)?;
            for m in members {
                let target = self
                    .nics
                    .iter()
                    .find(|(n, _)| n == m)
                    .map(|(n, b)| format!("{}/net/{n}/brport", self.device_dir(*b)))
                    .unwrap_or_else(|| format!("sys/class/net/{m}/brport"));
                w.text(&format!("{target}/state"), "3\n")?;
                w.link(&format!("{bdir}/brif/{m}"), &target)?;
            }
        }
        let mut route = String::from(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n",
        );
        if let Some(i) = &self.default_route {
            route.push_str(&format!(
                "{i}\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
            ));
            route.push_str(&format!(
                "{i}\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
            ));
        }
        w.text("proc/net/route", &route)?;
        for (p, c) in &self.files {
            w.bytes(p, c)?;
        }
        Ok(())
    }

    fn block_dir(&self, name: &str) -> Option<String> {
        for d in &self.disks {
            let base = format!(
                "{}/ata1/host0/target0:0:0/0:0:0:0/block/{}",
                self.device_dir(d.bdf),
                d.name
            );
            if d.name == name {
                return Some(base);
            }
            if d.partitions.iter().any(|p| p == name) {
                return Some(format!("{base}/{name}"));
            }
        }
        None
    }
}

struct Writer<'a> {
    root: &'a Path,
}

impl Writer<'_> {
    fn dir(&self, rel: &str) -> io::Result<()> {
        fs::create_dir_all(self.root.join(rel))
    }

    fn bytes(&self, rel: &str, data: &[u8]) -> io::Result<()> {
        let p = self.root.join(rel);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d)?;
        }
        fs::write(p, data)
    }

    fn text(&self, rel: &str, data: &str) -> io::Result<()> {
        self.bytes(rel, data.as_bytes())
    }

    /// A relative symlink at `at` pointing to `target` (both relative to the root).
    fn link(&self, at: &str, target: &str) -> io::Result<()> {
        let depth = at.matches('/').count();
        let rel = format!("{}{target}", "../".repeat(depth));
        let p = self.root.join(at);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d)?;
        }
        if fs::symlink_metadata(&p).is_ok() {
            fs::remove_file(&p)?;
        }
        symlink(&rel, &p)
    }
}

#[cfg(unix)]
fn symlink(target: &str, at: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(not(unix))]
fn symlink(_target: &str, _at: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "fixture trees need symlinks",
    ))
}

/// The seed's host: a Supermicro X9DRW running XCP-ng, dom0's root on the onboard C600 AHCI at
/// 00:1f.2, an LSI SAS2308 HBA at 05:00.0 meant for a Ceph OSD VM, the C602 SCU at 06:00.0, and
/// an I350 NIC whose first port carries xenbr0, the management network. No kernel IOMMU groups
/// (Xen owns the IOMMU); the dom0 kernel log shows XEN-PV-IOMMU.
pub fn x9drw() -> Fixture {
    let intel = 0x8086;
    let smc = 0x15d9;
    Fixture::new()
        .with(Func::conventional("00:00.0", intel, 0x3c00, 0x060000).rev(7).subsystem(smc, 0x0628))
        .with(Func::root_port("00:01.0", intel, 0x3c02, 5).rev(7).acs())
        .with(Func::root_port("00:02.0", intel, 0x3c04, 2).rev(7).acs())
        .with(Func::root_port("00:11.0", intel, 0x1d3e, 6).rev(6).acs())
        .with(
            Func::conventional("00:1a.0", intel, 0x1d2d, 0x0c0320)
                .rev(6)
                .subsystem(smc, 0x0628)
                .driver("ehci-pci"),
        )
        .with(
            Func::conventional("00:1f.0", intel, 0x1d41, 0x060100)
                .rev(6)
                .subsystem(smc, 0x0628)
                .driver("lpc_ich"),
        )
        .with(
            Func::conventional("00:1f.2", intel, 0x1d02, 0x010601)
                .rev(6)
                .subsystem(smc, 0x0628)
                .af_flr()
                .driver("ahci"),
        )
        .with(
            Func::conventional("00:1f.3", intel, 0x1d22, 0x0c0500)
                .rev(6)
                .subsystem(smc, 0x0628)
                .driver("i801_smbus"),
        )
        .with(
            Func::endpoint("02:00.0", intel, 0x1521, 0x020000)
                .rev(1)
                .subsystem(smc, 0x1521)
                .under("00:02.0")
                .flr()
                .driver("igb"),
        )
        .with(
            Func::endpoint("02:00.1", intel, 0x1521, 0x020000)
                .rev(1)
                .subsystem(smc, 0x1521)
                .under("00:02.0")
                .flr()
                .driver("igb"),
        )
        .with(
            Func::endpoint("05:00.0", 0x1000, 0x0087, 0x010700)
                .rev(5)
                .subsystem(0x1000, 0x3020)
                .under("00:01.0")
                .flr()
                .driver("mpt3sas"),
        )
        .with(
            Func::endpoint("06:00.0", intel, 0x1d6b, 0x010700)
                .rev(6)
                .subsystem(smc, 0x0628)
                .under("00:11.0")
                .driver("isci"),
        )
        .with(
            Func::conventional("08:01.0", 0x102b, 0x0532, 0x030000)
                .rev(0x0a)
                .subsystem(smc, 0x0628)
                .boot_vga(true)
                .driver("mgag200")
                .under("00:1e.0"),
        )
        .with(Func::pci_bridge("00:1e.0", intel, 0x244e, 8).rev(0xa6))
        .disk("sda", "00:1f.2", &["sda1", "sda2", "sda3"])
        .disk("sdb", "05:00.0", &[])
        .mount("/dev/sda1", "/", "ext3")
        .mount("/dev/sda2", "/var/log", "ext3")
        .nic("eth0", "02:00.0")
        .nic("eth1", "02:00.1")
        .bridge_if("xenbr0", &["eth0"])
        .default_route("xenbr0")
        .file(
            "etc/xensource-inventory",
            "PRIMARY_DISK='/dev/disk/by-id/ata-INTEL_SSDSC2CW240A3'\nPRODUCT_BRAND='XCP-ng'\nPRODUCT_VERSION='8.2.1'\nPRODUCT_VERSION_TEXT='8.2'\nMANAGEMENT_INTERFACE='xenbr0'\nMANAGEMENT_ADDRESS_TYPE='IPv4'\n",
        )
        // XCP-ng 8.2's BIOS grub.cfg (xe, xe-serial, safe and fallback entries), what
        // /opt/xensource/libexec/xen-cmdline edits, and the running dom0's command line.
        .file("boot/grub/grub.cfg", include_str!("fixtures/xcpng82-grub.cfg"))
        .file(
            "proc/cmdline",
            "root=LABEL=root-aqrmxw ro nolvm hpet=disable console=hvc0 console=tty0 quiet vga=785 splash plymouth.ignore-serial-consoles\n",
        )
        .file("sys/hypervisor/type", "xen\n")
        .file(
            "var/log/dmesg",
            "[    0.000000] Using GPFN IOMMU mode, 1-to-1 offset is 0x3e00000000\n[    1.523011] XEN-PV-IOMMU: Using software bounce buffering for IO on 32bit DMA devices (SWIOTLB)\n[    1.530117] XEN-PV-IOMMU - completed setting up 1-1 mapping\n",
        )
}

/// A desktop-style GPU with its HDMI audio function (01:00.0/01:00.1, no ACS on the
/// multifunction card, so both must go together), on a plain-Linux host with IOMMU groups.
pub fn gpu_pair() -> Fixture {
    Fixture::new()
        .with(Func::conventional("00:00.0", 0x8086, 0x3e30, 0x060000).iommu_group(0))
        .with(
            Func::root_port("00:01.0", 0x8086, 0x1901, 1)
                .acs()
                .iommu_group(1),
        )
        .with(
            Func::endpoint("01:00.0", 0x10de, 0x1b80, 0x030000)
                .rev(0xa1)
                .subsystem(0x1458, 0x3702)
                .under("00:01.0")
                .boot_vga(false)
                .iommu_group(1)
                .reset_method("bus")
                .driver("nouveau"),
        )
        .with(
            Func::endpoint("01:00.1", 0x10de, 0x10f0, 0x040300)
                .rev(0xa1)
                .subsystem(0x1458, 0x3702)
                .under("00:01.0")
                .iommu_group(1)
                .reset_method("bus")
                .driver("snd_hda_intel"),
        )
        .with(
            Func::integrated("00:02.0", 0x8086, 0x3e92, 0x030000)
                .boot_vga(true)
                .iommu_group(2)
                .driver("i915"),
        )
        .with(
            Func::integrated("00:14.0", 0x8086, 0xa36d, 0x0c0330)
                .rev(0x10)
                .iommu_group(3)
                .driver("xhci_hcd"),
        )
        .file("sys/class/iommu/dmar0/.keep", "")
}

/// An Intel 82576 SR-IOV NIC (the vtd.txt example): PF 01:00.0 on igb with 7 VFs, two of them
/// already hidden (pciback).
pub fn sriov_nic() -> Fixture {
    Fixture::new()
        .with(Func::root_port("00:01.0", 0x8086, 0x3c02, 1).acs())
        .with(
            Func::endpoint("01:00.0", 0x8086, 0x10c9, 0x020000)
                .subsystem(0x8086, 0xa03c)
                .under("00:01.0")
                .flr()
                .acs()
                .sriov(8, 7, 0x10ca)
                .driver("igb"),
        )
        .with(
            Func::endpoint("01:00.1", 0x8086, 0x10c9, 0x020000)
                .subsystem(0x8086, 0xa03c)
                .under("00:01.0")
                .flr()
                .acs()
                .sriov(8, 0, 0x10ca)
                .driver("igb"),
        )
        .vfs(
            "01:00.0",
            &["01:10.0", "01:10.2", "01:10.4", "01:10.6", "01:11.0"],
            Some("igbvf"),
        )
        .vfs("01:00.0", &["01:11.2", "01:11.4"], Some("pciback"))
        .file("sys/hypervisor/type", "xen\n")
}

/// A conventional PCI sound card and a second conventional device behind a PCIe-to-PCI bridge:
/// they share the bridge's requester ID, so they go to one domain or none.
pub fn legacy_bridge() -> Fixture {
    Fixture::new()
        .with(Func::root_port("00:1c.0", 0x8086, 0x1c10, 3).acs())
        .with(Func::pcie_to_pci("03:00.0", 0x104c, 0x8240, 4).under("00:1c.0"))
        .with(
            Func::conventional("04:00.0", 0x1102, 0x0002, 0x040100)
                .rev(7)
                .subsystem(0x1102, 0x8064)
                .under("03:00.0")
                .driver("snd_emu10k1"),
        )
        .with(
            Func::conventional("04:01.0", 0x10ec, 0x8169, 0x020000)
                .rev(0x10)
                .under("03:00.0")
                .driver("r8169"),
        )
}

/// A big host for the benchmark: root ports with ACS, each leading to a bus of multi-function
/// endpoints from a few real vendors, until `n` functions exist.
pub fn big(n: usize) -> Fixture {
    let models: [(u16, u16, u32, &str); 6] = [
        (0x8086, 0x1521, 0x020000, "igb"),
        (0x1000, 0x0087, 0x010700, "mpt3sas"),
        (0x15b3, 0x1017, 0x020000, "mlx5_core"),
        (0x10de, 0x1eb8, 0x030200, "nvidia"),
        (0x144d, 0xa808, 0x010802, "nvme"),
        (0x8086, 0x0b60, 0x010802, "nvme"),
    ];
    let mut fx = Fixture::new().with(Func::conventional("00:00.0", 0x8086, 0x2020, 0x060000));
    let mut count = 1usize;
    'outer: for (slot, bus) in (1u8..=0x1f).zip(1u16..) {
        if count >= n || bus > 0xff {
            break;
        }
        let rp = format!("00:{slot:02x}.0");
        fx = fx.with(Func::root_port(&rp, 0x8086, 0x2030, bus as u8).acs());
        count += 1;
        for dev in 0u8..=0x1f {
            for func in 0u8..8 {
                if count >= n {
                    break 'outer;
                }
                let (v, d, c, drv) = models[(dev as usize + func as usize) % models.len()];
                let at = format!("{bus:02x}:{dev:02x}.{func}");
                fx = fx.with(
                    Func::endpoint(&at, v, d, c)
                        .subsystem(v, d)
                        .under(&rp)
                        .flr()
                        .numa((slot % 2) as i32)
                        .driver(drv),
                );
                count += 1;
            }
        }
    }
    fx
}

/// The named shapes: `x9drw`, `gpu-pair`, `sriov-nic`, `legacy-bridge`, `kvm-debian`,
/// `kvm-fedora` ([`kvm_debian`], [`kvm_fedora`]), `big-N`.
pub fn shape(name: &str) -> Option<Fixture> {
    match name {
        "x9drw" => Some(x9drw()),
        "gpu-pair" => Some(gpu_pair()),
        "sriov-nic" => Some(sriov_nic()),
        "legacy-bridge" => Some(legacy_bridge()),
        "kvm-debian" => Some(kvm_debian()),
        "kvm-fedora" => Some(kvm_fedora()),
        _ => name
            .strip_prefix("big-")
            .and_then(|n| n.parse().ok())
            .filter(|n| *n <= 8000)
            .map(big),
    }
}

/// The names [`shape`] knows (big-N with N up to 8000).
pub const SHAPES: &[&str] = &[
    "x9drw",
    "gpu-pair",
    "sriov-nic",
    "legacy-bridge",
    "kvm-debian",
    "kvm-fedora",
    "big-N",
];

// ---- KVM hosts ----
//
// Fixture KVM hosts (Linux without Xen, `/dev/kvm`, kernel IOMMU groups), built with the
// generator in [`super::fixture`] and nothing else, so they move with it: [`kvm_debian`]
// (initramfs-tools, `update-grub`) and [`kvm_fedora`] (dracut, `grub2-mkconfig`), the same
// machine in both:
//
// * group 1: a GPU (01:00.0, nouveau) with its HDMI audio (01:00.1) and the root port 00:01.0
//   above them (no ACS on it): a group with a bridge;
// * groups 2 and 3: two identical Intel 82574L NICs (e1000e, 8086:10d3) behind their own root
//   ports; the host's default route runs over the first (02:00.0, `eno1`), the second (03:00.0)
//   is free — a `vfio-pci ids=8086:10d3` would take both;
// * group 4: the ICH9 functions 00:1f.0 (ISA bridge), 00:1f.2 (AHCI, holding `/`) and 00:1f.3
//   (SMBus), as on QEMU's q35;
// * `vfio-pci` loaded (its driver directory with bind/unbind), every device with a
//   `driver_override` attribute, `drivers_probe`, the vfio modules in `modules.dep`.

/// The kernel release of the fixtures.
pub const KVM_KERNEL: &str = "6.1.0-27-amd64";

/// Which distribution's boot tools the fixture has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Distro {
    Debian,
    Fedora,
}

fn kvm_machine(distro: Distro) -> Fixture {
    let intel = 0x8086;
    let mut fx = Fixture::new()
        .with(Func::conventional("00:00.0", intel, 0x29c0, 0x060000).iommu_group(0))
        .with(Func::root_port("00:01.0", intel, 0x1901, 1).iommu_group(1))
        .with(
            Func::endpoint("01:00.0", 0x10de, 0x1b80, 0x030000)
                .rev(0xa1)
                .subsystem(0x1458, 0x3702)
                .under("00:01.0")
                .boot_vga(false)
                .iommu_group(1)
                .reset_method("bus")
                .driver("nouveau"),
        )
        .with(
            Func::endpoint("01:00.1", 0x10de, 0x10f0, 0x040300)
                .rev(0xa1)
                .subsystem(0x1458, 0x3702)
                .under("00:01.0")
                .iommu_group(1)
                .reset_method("bus")
                .driver("snd_hda_intel"),
        )
        .with(
            Func::root_port("00:1c.0", intel, 0x2940, 2)
                .acs()
                .iommu_group(5),
        )
        .with(
            Func::endpoint("02:00.0", intel, 0x10d3, 0x020000)
                .subsystem(intel, 0xa01f)
                .under("00:1c.0")
                .flr()
                .iommu_group(2)
                .driver("e1000e"),
        )
        .with(
            Func::root_port("00:1c.1", intel, 0x2942, 3)
                .acs()
                .iommu_group(6),
        )
        .with(
            Func::endpoint("03:00.0", intel, 0x10d3, 0x020000)
                .subsystem(intel, 0xa01f)
                .under("00:1c.1")
                .flr()
                .iommu_group(3)
                .driver("e1000e"),
        )
        .with(
            Func::conventional("00:1f.0", intel, 0x2918, 0x060100)
                .rev(2)
                .iommu_group(4)
                .driver("lpc_ich"),
        )
        .with(
            Func::conventional("00:1f.2", intel, 0x2922, 0x010601)
                .rev(2)
                .iommu_group(4)
                .driver("ahci"),
        )
        .with(
            Func::conventional("00:1f.3", intel, 0x2930, 0x0c0500)
                .rev(2)
                .iommu_group(4)
                .driver("i801_smbus"),
        )
        .disk("sda", "00:1f.2", &["sda1", "sda2"])
        .mount("/dev/sda1", "/", "ext4")
        .nic("eno1", "02:00.0")
        .nic("enp3s0", "03:00.0")
        .default_route("eno1")
        .file("dev/kvm", "")
        .file("sys/class/iommu/dmar0/.keep", "")
        .file("proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\n")
        .file("proc/sys/kernel/osrelease", &format!("{KVM_KERNEL}\n"))
        .file(
            &format!("lib/modules/{KVM_KERNEL}/modules.dep"),
            "kernel/drivers/vfio/vfio.ko: \nkernel/drivers/vfio/vfio_iommu_type1.ko: kernel/drivers/vfio/vfio.ko\nkernel/drivers/vfio/pci/vfio-pci-core.ko: kernel/drivers/vfio/vfio.ko\nkernel/drivers/vfio/pci/vfio-pci.ko: kernel/drivers/vfio/pci/vfio-pci-core.ko kernel/drivers/vfio/vfio.ko\nkernel/drivers/net/ethernet/intel/e1000e/e1000e.ko: \n",
        )
        .file("sys/bus/pci/drivers_probe", "")
        .file(
            "etc/default/grub",
            "# If you change this file, run 'update-grub' afterwards to update\n# /boot/grub/grub.cfg.\n\nGRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n",
        )
        .file(
            "proc/cmdline",
            &format!("BOOT_IMAGE=/boot/vmlinuz-{KVM_KERNEL} root=/dev/sda1 ro quiet intel_iommu=on\n"),
        );
    for d in [
        "vfio-pci",
        "e1000e",
        "nouveau",
        "snd_hda_intel",
        "ahci",
        "lpc_ich",
        "i801_smbus",
    ] {
        for a in ["bind", "unbind", "new_id"] {
            fx = fx.file(&format!("sys/bus/pci/drivers/{d}/{a}"), "");
        }
    }
    let bdfs: Vec<_> = fx.funcs().iter().map(|f| f.bdf).collect();
    for b in bdfs {
        let dir = fx.device_dir(b);
        fx = fx.file(&format!("{dir}/driver_override"), "(null)\n");
    }
    match distro {
        Distro::Debian => fx
            .file(
                "etc/initramfs-tools/modules",
                "# List of modules that you want to include in your initramfs.\n# They will be loaded at boot time in the order below.\n#\n# Syntax:  module_name [args ...]\n",
            )
            .file("boot/grub/grub.cfg", "# generated by update-grub\n"),
        Distro::Fedora => fx
            .file("etc/dracut.conf.d/.keep", "")
            .file("boot/grub2/grub.cfg", "# generated by grub2-mkconfig\n"),
    }
}

/// The KVM host on Debian 12: initramfs-tools and `update-grub`.
pub fn kvm_debian() -> Fixture {
    kvm_machine(Distro::Debian)
}

/// The same host on Fedora: dracut and `grub2-mkconfig`.
pub fn kvm_fedora() -> Fixture {
    kvm_machine(Distro::Fedora)
}
