//! [`VfioFacts`]: the policy's host facts on a KVM host. The same facts as the inventory gives
//! (dom0's — the host's — devices, bridges, the kernel's IOMMU groups), except what "hidden"
//! means: bound to vfio-pci, the stub that keeps the host's drivers off a device there. A
//! sibling on vfio-pci is also a placeholder: a group is usable by a guest when each member is
//! given to it or bound to vfio-pci.

use super::{DeviceFacts, HostFacts};
use crate::host::Inventory;
use crate::pci::Bdf;

/// The name vfio-pci registers its driver under.
pub const VFIO_PCI: &str = "vfio-pci";

/// The inventory of a KVM host, as the policy asks it.
pub struct VfioFacts<'a>(pub &'a Inventory);

impl HostFacts for VfioFacts<'_> {
    fn device(&self, bdf: Bdf) -> DeviceFacts {
        let mut f = self.0.device(bdf);
        let on_vfio = self
            .0
            .get(bdf)
            .is_some_and(|p| p.driver.as_deref() == Some(VFIO_PCI));
        f.hidden = on_vfio;
        f.placeholder = on_vfio;
        f
    }
}
