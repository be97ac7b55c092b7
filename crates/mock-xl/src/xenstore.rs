//! `XL_MOCK_XENSTORE`: the selected host's PCI backends mirrored into the xenstored at
//! `XENSTORED_PATH`, as libxl, pciback and pcifront leave them.

use crate::state::Host;
use xenpci::pci::Bdf;

/// Mirrors the selected host's PCI backends into the xenstored at `XENSTORED_PATH`, as libxl,
/// pciback and pcifront leave them (xenpci::xenstore::layout::BackendTree).
pub(crate) fn mirror(host: &Host) -> Result<(), Box<dyn std::error::Error>> {
    use xenpci::ids::DomId;
    use xenpci::xenstore::layout::{AttachedDevice, BackendTree};
    use xenpci::xenstore::{libxl_pci_path, Store, XsStore};
    let xs = XsStore::open()?;
    // forget what no domain holds any more
    if let Some(doms) = xs.directory("/local/domain/0/backend/pci")? {
        for d in doms {
            let id: u32 = d.parse().unwrap_or(u32::MAX);
            if !host.domains.iter().any(|x| x.domid == id) {
                xs.rm(&format!("/local/domain/0/backend/pci/{d}"))?;
                xs.rm(&format!("/local/domain/{d}"))?;
            }
        }
    }
    for dev in &host.devices {
        if let Ok(b) = dev.bdf.parse::<Bdf>() {
            xs.rm(&format!("{}/domid", libxl_pci_path(b)))?;
        }
    }
    for d in &host.domains {
        let id = DomId(d.domid);
        xs.rm(&format!("/local/domain/0/backend/pci/{}", d.domid))?;
        xs.rm(&format!("/local/domain/{}/device/pci", d.domid))?;
        // Real Xen 4.17 (tests/xen-e2e): when a PV guest's last device is detached, libxl removes
        // the whole backend and the guest's device/pci frontend directory, although the guest
        // still cannot be suspended afterwards (FINDINGS.md §D). So nothing is mirrored then.
        if d.pci.is_empty() {
            continue;
        }
        let mut t = if d.kind == "hvm" {
            BackendTree::hvm(id, &d.name)
        } else {
            BackendTree::pv(id, &d.name)
        };
        for a in &d.pci {
            let Ok(b) = a.bdf.parse::<Bdf>() else {
                continue;
            };
            let mut ad = AttachedDevice::new(b).opts(&a.opts);
            if let Some(s) = a.vslot {
                ad = ad.vslot(s);
            }
            if let Some(n) = &a.name {
                ad = ad.name(n);
            }
            if let Some(p) = host
                .device(&a.bdf)
                .and_then(|i| host.devices[i].driver_path.clone())
            {
                ad = ad.driver_path(&p);
            }
            t = t.device(ad);
        }
        t.write_to(&xs)?;
    }
    Ok(())
}
