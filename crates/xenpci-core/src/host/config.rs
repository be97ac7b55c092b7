//! [`ConfigSpace`]: the few facts xenpci reads from a function's PCI configuration space (the
//! sysfs `config` file): header type, multifunction bit, secondary bus of bridges, the PCI Express
//! capability (port type, FLR in DevCap), Advanced Features FLR, PM soft reset, ACS, SR-IOV and the
//! Device Serial Number (the strongest identity a function offers, [`crate::identity`]).
//!
//! Only the capability lists are walked; nothing else is interpreted. A short or malformed file
//! yields whatever could be read (every walk is bounded), never a panic.

/// Standard capability ids (PCI Local Bus spec).
pub mod cap {
    /// Power management.
    pub const PM: u8 = 0x01;
    /// PCI Express.
    pub const EXP: u8 = 0x10;
    /// Advanced Features (conventional-PCI FLR).
    pub const AF: u8 = 0x13;
}

/// Extended capability ids (PCIe spec).
pub mod ext {
    /// Access Control Services.
    pub const ACS: u16 = 0x000d;
    /// Single Root I/O Virtualization.
    pub const SRIOV: u16 = 0x0010;
    /// Device Serial Number (a 64-bit EUI-64 the device keeps across slots and reboots).
    pub const DSN: u16 = 0x0003;
}

/// PCIe device/port type (PCIe capability register bits 7:4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortType {
    /// PCIe endpoint.
    Endpoint,
    /// Legacy PCIe endpoint.
    LegacyEndpoint,
    /// Root port of a root complex.
    RootPort,
    /// Upstream port of a switch.
    Upstream,
    /// Downstream port of a switch.
    Downstream,
    /// PCIe-to-PCI/PCI-X bridge: devices behind it share its requester ID.
    PcieToPci,
    /// PCI/PCI-X-to-PCIe bridge.
    PciToPcie,
    /// Root-complex integrated endpoint.
    RcIntegrated,
    /// Root-complex event collector.
    RcEventCollector,
    /// A value the spec does not define.
    Other(u8),
}

impl PortType {
    /// Decodes the 4-bit type field.
    pub fn from_bits(v: u8) -> PortType {
        match v {
            0x0 => PortType::Endpoint,
            0x1 => PortType::LegacyEndpoint,
            0x4 => PortType::RootPort,
            0x5 => PortType::Upstream,
            0x6 => PortType::Downstream,
            0x7 => PortType::PcieToPci,
            0x8 => PortType::PciToPcie,
            0x9 => PortType::RcIntegrated,
            0xa => PortType::RcEventCollector,
            o => PortType::Other(o),
        }
    }

    /// The 4-bit type field.
    pub fn bits(self) -> u8 {
        match self {
            PortType::Endpoint => 0x0,
            PortType::LegacyEndpoint => 0x1,
            PortType::RootPort => 0x4,
            PortType::Upstream => 0x5,
            PortType::Downstream => 0x6,
            PortType::PcieToPci => 0x7,
            PortType::PciToPcie => 0x8,
            PortType::RcIntegrated => 0x9,
            PortType::RcEventCollector => 0xa,
            PortType::Other(o) => o & 0xf,
        }
    }

    /// Short lowercase name for output.
    pub fn name(self) -> &'static str {
        match self {
            PortType::Endpoint => "endpoint",
            PortType::LegacyEndpoint => "legacy-endpoint",
            PortType::RootPort => "root-port",
            PortType::Upstream => "upstream-port",
            PortType::Downstream => "downstream-port",
            PortType::PcieToPci => "pcie-to-pci-bridge",
            PortType::PciToPcie => "pci-to-pcie-bridge",
            PortType::RcIntegrated => "rc-integrated",
            PortType::RcEventCollector => "rc-event-collector",
            PortType::Other(_) => "other",
        }
    }
}

/// ACS capability and control bits (PCIe spec 7.7.8).
pub mod acs {
    /// Source Validation.
    pub const SV: u16 = 0x0001;
    /// Translation Blocking.
    pub const TB: u16 = 0x0002;
    /// P2P Request Redirect.
    pub const RR: u16 = 0x0004;
    /// P2P Completion Redirect.
    pub const CR: u16 = 0x0008;
    /// Upstream Forwarding.
    pub const UF: u16 = 0x0010;
    /// P2P Egress Control.
    pub const EC: u16 = 0x0020;
    /// What Linux requires for isolation (`REQ_ACS_FLAGS` in drivers/iommu/iommu.c).
    pub const REQUIRED: u16 = SV | RR | CR | UF;
}

/// The SR-IOV capability fields xenpci reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SriovCap {
    /// TotalVFs.
    pub total_vfs: u16,
    /// NumVFs.
    pub num_vfs: u16,
    /// VF device id.
    pub vf_device: u16,
}

/// What was read from one config space.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSpace {
    /// Bytes available (64 for unprivileged reads, 256 conventional, 4096 PCIe).
    pub len: usize,
    /// Vendor id at 0x00.
    pub vendor: u16,
    /// Device id at 0x02.
    pub device: u16,
    /// Revision at 0x08.
    pub revision: u8,
    /// Class code (class, subclass, prog-if) at 0x09..0x0c.
    pub class: u32,
    /// Header type, low 7 bits (0 endpoint, 1 PCI bridge, 2 CardBus).
    pub header_type: u8,
    /// Multifunction bit of the header type.
    pub multifunction: bool,
    /// Secondary bus number of a bridge (type 1 header).
    pub secondary_bus: Option<u8>,
    /// Subsystem vendor/device of a type 0 header.
    pub subsystem: Option<(u16, u16)>,
    /// PCIe port type, when the PCI Express capability is present.
    pub pcie: Option<PortType>,
    /// FLR advertised in PCIe DevCap (bit 28).
    pub pcie_flr: bool,
    /// FLR advertised in the Advanced Features capability.
    pub af_flr: bool,
    /// A PM capability without No_Soft_Reset (so a D3hot→D0 reset resets the function).
    pub pm_reset: bool,
    /// ACS capability and control registers.
    pub acs: Option<(u16, u16)>,
    /// SR-IOV capability.
    pub sriov: Option<SriovCap>,
    /// Device Serial Number capability's value (lower dword at +4, upper at +8).
    pub serial: Option<u64>,
}

fn u8_at(b: &[u8], o: usize) -> Option<u8> {
    b.get(o).copied()
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(o)?, *b.get(o + 1)?]))
}

fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(o)?,
        *b.get(o + 1)?,
        *b.get(o + 2)?,
        *b.get(o + 3)?,
    ]))
}

impl ConfigSpace {
    /// Reads the facts from raw config bytes. Returns None when not even the 64-byte header is
    /// there.
    pub fn parse(b: &[u8]) -> Option<ConfigSpace> {
        if b.len() < 64 {
            return None;
        }
        let ht = u8_at(b, 0x0e)?;
        let mut c = ConfigSpace {
            len: b.len(),
            vendor: u16_at(b, 0)?,
            device: u16_at(b, 2)?,
            revision: u8_at(b, 8)?,
            class: u32_at(b, 8)? >> 8,
            header_type: ht & 0x7f,
            multifunction: ht & 0x80 != 0,
            ..ConfigSpace::default()
        };
        match c.header_type {
            0 => c.subsystem = Some((u16_at(b, 0x2c)?, u16_at(b, 0x2e)?)),
            1 => c.secondary_bus = u8_at(b, 0x19),
            _ => {}
        }
        let status = u16_at(b, 6)?;
        if status & 0x10 != 0 {
            c.walk_caps(b);
        }
        if b.len() > 0x100 && c.pcie.is_some() {
            c.walk_ext_caps(b);
        }
        Some(c)
    }

    fn walk_caps(&mut self, b: &[u8]) {
        let mut pos = u8_at(b, 0x34).unwrap_or(0) as usize & !3;
        for _ in 0..48 {
            if pos < 0x40 {
                return;
            }
            let (Some(id), Some(next)) = (u8_at(b, pos), u8_at(b, pos + 1)) else {
                return;
            };
            match id {
                cap::EXP => {
                    if let Some(flags) = u16_at(b, pos + 2) {
                        self.pcie = Some(PortType::from_bits(((flags >> 4) & 0xf) as u8));
                    }
                    self.pcie_flr = u32_at(b, pos + 4).is_some_and(|d| d & (1 << 28) != 0);
                }
                cap::AF => {
                    // AF capabilities at +3: bit 0 TP, bit 1 FLR; the kernel wants both.
                    self.af_flr = u8_at(b, pos + 3).is_some_and(|v| v & 0x3 == 0x3);
                }
                cap::PM => {
                    // PMCSR at +4, bit 3 No_Soft_Reset.
                    self.pm_reset = u16_at(b, pos + 4).is_some_and(|v| v & 0x8 == 0);
                }
                _ => {}
            }
            pos = next as usize & !3;
        }
    }

    fn walk_ext_caps(&mut self, b: &[u8]) {
        let mut pos = 0x100usize;
        for _ in 0..(4096 / 8) {
            let Some(h) = u32_at(b, pos) else { return };
            if h == 0 || h == 0xffff_ffff {
                return;
            }
            match (h & 0xffff) as u16 {
                ext::ACS => {
                    if let (Some(capr), Some(ctrl)) = (u16_at(b, pos + 4), u16_at(b, pos + 6)) {
                        self.acs = Some((capr, ctrl));
                    }
                }
                ext::SRIOV => {
                    if let (Some(total), Some(num), Some(dev)) = (
                        u16_at(b, pos + 0x0e),
                        u16_at(b, pos + 0x10),
                        u16_at(b, pos + 0x1a),
                    ) {
                        self.sriov = Some(SriovCap {
                            total_vfs: total,
                            num_vfs: num,
                            vf_device: dev,
                        });
                    }
                }
                ext::DSN => {
                    if let (Some(lo), Some(hi)) = (u32_at(b, pos + 4), u32_at(b, pos + 8)) {
                        self.serial = Some(((hi as u64) << 32) | lo as u64);
                    }
                }
                _ => {}
            }
            let next = (h >> 20) as usize & !3;
            if next < 0x100 {
                return;
            }
            pos = next;
        }
    }

    /// True for PCI-to-PCI bridges (type 1 header) and anything with bridge class 0x0604/0x0609.
    pub fn is_bridge(&self) -> bool {
        self.header_type == 1
    }

    /// Linux's `pci_acs_flags_enabled`: the ACS control has every required flag the capability
    /// implements (flags the capability lacks are hard-wired on, except egress control).
    pub fn acs_flags_enabled(&self, flags: u16) -> bool {
        match self.acs {
            None => false,
            Some((capr, ctrl)) => {
                let want = flags & (capr | acs::EC);
                ctrl & want == want
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xenpci_fixtures::{config_bytes, Func};

    #[test]
    fn header_fields_and_pcie_flr_are_read() {
        let f = Func::endpoint("05:00.0", 0x1000, 0x0087, 0x010700)
            .rev(5)
            .subsystem(0x15d9, 0x0691)
            .flr();
        let c = ConfigSpace::parse(&config_bytes(&f)).unwrap();
        assert_eq!((c.vendor, c.device, c.revision), (0x1000, 0x0087, 5));
        assert_eq!(c.class, 0x010700);
        assert_eq!(c.subsystem, Some((0x15d9, 0x0691)));
        assert_eq!(c.pcie, Some(PortType::Endpoint));
        assert!(c.pcie_flr && !c.af_flr && !c.is_bridge());
        assert_eq!(c.len, 4096);
    }

    #[test]
    fn acs_and_sriov_extended_caps_are_found() {
        let rp = Func::root_port("00:01.0", 0x8086, 0x3c02, 1).acs();
        let c = ConfigSpace::parse(&config_bytes(&rp)).unwrap();
        assert!(c.is_bridge() && c.secondary_bus == Some(1));
        assert_eq!(c.pcie, Some(PortType::RootPort));
        assert!(c.acs_flags_enabled(acs::REQUIRED));
        let pf = Func::endpoint("01:00.0", 0x8086, 0x10c9, 0x020000).sriov(8, 7, 0x10ca);
        let c = ConfigSpace::parse(&config_bytes(&pf)).unwrap();
        assert_eq!(
            c.sriov,
            Some(SriovCap {
                total_vfs: 8,
                num_vfs: 7,
                vf_device: 0x10ca
            })
        );
        assert!(c.acs.is_none() && !c.acs_flags_enabled(acs::REQUIRED));
    }

    #[test]
    fn conventional_af_flr_and_garbage_are_safe() {
        let f = Func::conventional("08:01.0", 0x1102, 0x0002, 0x040100).af_flr();
        let c = ConfigSpace::parse(&config_bytes(&f)).unwrap();
        assert!(c.pcie.is_none() && c.af_flr);
        assert_eq!(c.len, 256);
        assert!(ConfigSpace::parse(&[0xff; 10]).is_none());
        // A capability list that loops forever ends after a bounded walk.
        let mut b = vec![0u8; 256];
        b[6] = 0x10;
        b[0x34] = 0x40;
        b[0x40] = 0x01;
        b[0x41] = 0x40;
        assert!(ConfigSpace::parse(&b).is_some());
        let mut b = vec![0xffu8; 4096];
        b[0x34] = 0x40;
        b[0x40] = cap::EXP;
        assert!(ConfigSpace::parse(&b).is_some());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_without_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..4200)) {
            let _ = ConfigSpace::parse(&b);
        }
    }
}
