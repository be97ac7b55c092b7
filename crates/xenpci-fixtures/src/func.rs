//! One PCI function of a fixture host ([`Func`], built with chained setters) and the config
//! space the generator writes for it ([`config_bytes`]): a type 0 or type 1 header, the PM,
//! PCIe and Advanced Features capabilities, and on PCIe functions the ACS, SR-IOV and Device
//! Serial Number extended capabilities, laid out as real devices lay them out.

use crate::addr::Bdf;
use crate::spec::{acs, cap, ext, PortType};

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

pub(crate) fn bdf(s: &str) -> Bdf {
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

pub(crate) fn config_bytes_mf(f: &Func, multifunction: bool) -> Vec<u8> {
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
