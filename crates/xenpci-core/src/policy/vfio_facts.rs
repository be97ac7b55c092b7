//! [`VfioFacts`]: the policy's host facts on a KVM host. The same facts as the inventory gives
//! (dom0's — the host's — devices, bridges, the kernel's IOMMU groups), except what "hidden"
//! means: bound to vfio-pci, the stub that keeps the host's drivers off a device there. A
//! sibling on vfio-pci is also a placeholder: a group is usable by a guest when each member is
//! given to it or bound to vfio-pci.

use super::{DeviceFacts, HostFacts};
use crate::host::Inventory;
use crate::pci::Bdf;

pub use crate::host::driver::VFIO_PCI;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::HostRoot;
    use crate::policy::{decide, Action, InUse, Reason, Request};

    #[test]
    fn a_sibling_on_vfio_pci_is_hidden_and_completes_a_give() {
        let d = tempfile::tempdir().unwrap();
        xenpci_fixtures::kvm_debian()
            .rebind("01:00.1", Some(VFIO_PCI))
            .write(d.path())
            .unwrap();
        let inv = Inventory::scan(&HostRoot::new(d.path()));
        let gpu: Bdf = "01:00.0".parse().unwrap();
        let audio: Bdf = "01:00.1".parse().unwrap();
        let f = VfioFacts(&inv).device(audio);
        assert!(f.hidden && f.placeholder);
        assert!(!inv.device(audio).placeholder, "never on Xen's facts");
        let req = |action| Request {
            action,
            devices: std::slice::from_ref(&gpu),
            target: &[],
            force: false,
            with_group: false,
        };
        assert!(
            decide(&VfioFacts(&inv), &InUse::default(), &req(Action::Give))
                .refused
                .is_empty()
        );
        let xen = decide(&inv, &InUse::default(), &req(Action::Give));
        assert_eq!(
            xen.refused[0].reasons,
            vec![Reason::GroupNotWhole {
                missing: vec![audio]
            }]
        );
    }
}
