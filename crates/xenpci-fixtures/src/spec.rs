//! The PCI and PCIe spec numbers the generator writes into config space: capability ids,
//! extended capability ids, ACS control bits, and the PCIe device/port type field. Written out
//! here rather than taken from xenpci, so that a mistake in xenpci's decoder is not mirrored by
//! the fixture it is tested against.

/// Capability ids (PCI Local Bus spec).
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
    /// Device Serial Number.
    pub const DSN: u16 = 0x0003;
    /// Access Control Services.
    pub const ACS: u16 = 0x000d;
    /// Single Root I/O Virtualization.
    pub const SRIOV: u16 = 0x0010;
}

/// ACS capability and control bits (PCIe spec §7.7.8).
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
}

/// The PCIe device/port types a fixture function can have (PCIe capability bits 7:4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortType {
    /// PCIe endpoint.
    Endpoint,
    /// Root port of a root complex.
    RootPort,
    /// Upstream port of a switch.
    Upstream,
    /// Downstream port of a switch.
    Downstream,
    /// PCIe-to-PCI/PCI-X bridge.
    PcieToPci,
    /// Root-complex integrated endpoint.
    RcIntegrated,
}

impl PortType {
    /// The 4-bit type field.
    pub fn bits(self) -> u8 {
        match self {
            PortType::Endpoint => 0x0,
            PortType::RootPort => 0x4,
            PortType::Upstream => 0x5,
            PortType::Downstream => 0x6,
            PortType::PcieToPci => 0x7,
            PortType::RcIntegrated => 0x9,
        }
    }
}
