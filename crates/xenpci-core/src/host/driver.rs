//! [`DriverState`]: who holds a PCI function, as far as Xen passthrough is concerned. This is the
//! one definition of "hidden": only pciback (xen-pciback) makes a function assignable to a Xen
//! guest (`xl pci-assignable-list` lists pciback's slots). pci-stub and vfio-pci are KVM's stubs:
//! the function is away from dom0's drivers, but Xen cannot pass it through until it is moved to
//! pciback (`xenpci hide --now BDF`).

use crate::pci::Bdf;

/// The name pciback registers its driver under (`/sys/bus/pci/drivers/pciback`).
pub const PCIBACK: &str = "pciback";

/// The driver that hands a function to a KVM guest (`/sys/bus/pci/drivers/vfio-pci`).
pub const VFIO_PCI: &str = "vfio-pci";

/// KVM's stub drivers: they keep dom0's drivers off a function but do not export it to Xen.
pub const KVM_STUBS: &[&str] = &["pci-stub", VFIO_PCI];

/// Who holds a PCI function now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverState {
    /// Bound to pciback: hidden from dom0 and ready for Xen passthrough.
    Pciback,
    /// Bound to a KVM stub (`pci-stub`, `vfio-pci`): away from dom0's drivers, not assignable.
    KvmStub(String),
    /// Bound to one of dom0's own drivers (`ahci`, `igb`, ...).
    Dom0Driver(String),
    /// Bound to no driver.
    Unbound,
}

impl DriverState {
    /// The state for the driver named by a function's `driver` link (None: no link).
    pub fn of(driver: Option<&str>) -> DriverState {
        match driver {
            None => DriverState::Unbound,
            Some(PCIBACK) => DriverState::Pciback,
            Some(d) if KVM_STUBS.contains(&d) => DriverState::KvmStub(d.to_string()),
            Some(d) => DriverState::Dom0Driver(d.to_string()),
        }
    }

    /// Hidden for Xen: bound to pciback, so a Xen guest can be given the function.
    pub fn is_pciback(&self) -> bool {
        *self == DriverState::Pciback
    }

    /// The bound driver's name.
    pub fn driver(&self) -> Option<&str> {
        match self {
            DriverState::Pciback => Some(PCIBACK),
            DriverState::KvmStub(d) | DriverState::Dom0Driver(d) => Some(d),
            DriverState::Unbound => None,
        }
    }

    /// What holds the function, for messages (`bound to pciback`, `held by the KVM stub
    /// vfio-pci, not pciback`, `bound to dom0's ahci driver`, `bound to no driver`).
    pub fn describe(&self) -> String {
        match self {
            DriverState::Pciback => "bound to pciback".into(),
            DriverState::KvmStub(d) => format!(
                "held by the KVM stub {d}, not pciback: Xen cannot pass it through from there"
            ),
            DriverState::Dom0Driver(d) => format!("bound to dom0's {d} driver"),
            DriverState::Unbound => "bound to no driver".into(),
        }
    }

    /// For a KVM stub: the command that moves `bdf` to pciback now.
    pub fn stub_fix(&self, bdf: Bdf) -> Option<String> {
        matches!(self, DriverState::KvmStub(_))
            .then(|| format!("move it to pciback: `xenpci hide --now {bdf}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pciback_is_hidden_for_xen() {
        assert!(DriverState::of(Some("pciback")).is_pciback());
        for stub in ["pci-stub", "vfio-pci"] {
            let s = DriverState::of(Some(stub));
            assert_eq!(s, DriverState::KvmStub(stub.into()));
            assert!(!s.is_pciback());
            assert!(s.describe().contains("KVM stub"), "{}", s.describe());
            let fix = s.stub_fix("05:00.0".parse().unwrap()).unwrap();
            assert!(fix.contains("xenpci hide --now 0000:05:00.0"), "{fix}");
            assert_eq!(s.driver(), Some(stub));
        }
        let ahci = DriverState::of(Some("ahci"));
        assert_eq!(ahci, DriverState::Dom0Driver("ahci".into()));
        assert_eq!(ahci.describe(), "bound to dom0's ahci driver");
        assert_eq!(ahci.stub_fix("05:00.0".parse().unwrap()), None);
        assert_eq!(DriverState::of(None), DriverState::Unbound);
        assert_eq!(DriverState::of(None).driver(), None);
        assert_eq!(DriverState::Pciback.driver(), Some("pciback"));
    }
}
