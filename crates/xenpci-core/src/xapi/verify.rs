//! After a VM start: are its devices really plugged? xapi's CLI cannot say (its records show
//! neither `VM.attached_PCIs` nor `PCI.attached_VMs`), so in dom0 xenpci reads what xenopsd wrote
//! in XenStore: for every device it plugs, xenopsd writes
//! `/local/domain/0/backend/pci/<domid>/0/dev-<slot>` = the host address (`Device.PCI.add`; the
//! PV path goes through `xl pci-attach`, whose libxl writes the same `dev-<n>` nodes). Elsewhere
//! only what xe shows is checked: the VM runs as a domain and its other-config:pci still names
//! the devices.

use serde::Serialize;

use super::reading::reading;
use super::xe::Xe;
use crate::host::HostRoot;
use crate::ids::{DomId, VmUuid};
use crate::pci::Bdf;
use crate::xenstore::{backend_path, Store, XenStoreError, XsStore};

/// How one device was found after the start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// The device.
    pub bdf: Bdf,
    /// True/false when it could be checked, None when it could not.
    pub attached: Option<bool>,
    /// How it was checked.
    pub how: String,
}

/// True when xenpci runs in dom0 (`/proc/xen/capabilities` under the host root says
/// `control_d`), where XenStore holds the truth.
pub fn in_dom0(root: &HostRoot) -> bool {
    crate::bounded_read::read_string(
        &root.path("/proc/xen/capabilities"),
        crate::bounded_read::KERNEL_LIMIT,
    )
    .map(|c| c.contains("control_d"))
    .unwrap_or(false)
}

/// The host devices listed in domain `domid`'s PCI backend (`dev-<n>` nodes), with their node.
pub fn backend_devices(
    store: &dyn Store,
    domid: DomId,
) -> Result<Vec<(String, Bdf)>, XenStoreError> {
    let base = backend_path(domid);
    let mut out = Vec::new();
    for child in store.directory(&base)?.unwrap_or_default() {
        if !child.starts_with("dev-") {
            continue;
        }
        let path = format!("{base}/{child}");
        if let Some(v) = store.read(&path)? {
            let bdf = v.trim().parse().map_err(|_| XenStoreError::Malformed {
                path: path.clone(),
                value: v.clone(),
                expected: "a PCI address DDDD:BB:SS.F",
            })?;
            out.push((path, bdf));
        }
    }
    Ok(out)
}

/// Checks `devices` against domain `domid`'s PCI backend in XenStore.
pub fn verify_xenstore(store: &dyn Store, domid: DomId, devices: &[Bdf]) -> Vec<Verified> {
    let listed = backend_devices(store, domid);
    devices
        .iter()
        .map(|b| {
            let (attached, how) = match &listed {
                Ok(l) => match l.iter().find(|(_, d)| d == b) {
                    Some((path, _)) => (Some(true), format!("XenStore {path} = {b}")),
                    None => (
                        Some(false),
                        format!(
                            "not listed in XenStore {} (which lists: {})",
                            backend_path(domid),
                            if l.is_empty() {
                                "nothing".to_string()
                            } else {
                                l.iter()
                                    .map(|(_, d)| d.to_string())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            }
                        ),
                    ),
                },
                Err(e) => (None, format!("cannot read XenStore: {e}")),
            };
            Verified {
                bdf: *b,
                attached,
                how,
            }
        })
        .collect()
}

/// What xe can say about `devices` of a VM that was just started: it runs as a domain and its
/// other-config:pci still names them; whether each is plugged stays unknown (`attached: None`).
pub fn verify_xe(xe: &Xe, vm: &VmUuid, devices: &[Bdf]) -> Vec<Verified> {
    let domid = xe.vm_param(vm, "dom-id");
    let value = xe.vm_pci(vm);
    devices
        .iter()
        .map(|b| {
            let named = match &value {
                Ok(Some(v)) => reading(v).devices.iter().any(|d| d.1 == *b),
                _ => false,
            };
            let (attached, how) = match (&domid, named) {
                (_, false) => (
                    Some(false),
                    "other-config:pci no longer names it after the start".to_string(),
                ),
                (Ok(d), true) => (
                    None,
                    format!(
                        "VM runs as domain {d} and other-config:pci names it; xe cannot show attached PCIs (run in dom0 to check XenStore)"
                    ),
                ),
                (Err(e), true) => (None, format!("xe cannot tell: {e}")),
            };
            Verified {
                bdf: *b,
                attached,
                how,
            }
        })
        .collect()
}

/// Verifies through XenStore in dom0 (the VM's `dom-id` from xe; the daemon at `XENSTORED_PATH`,
/// else the default socket), else through xe.
pub fn verify_attached(xe: &Xe, root: &HostRoot, vm: &VmUuid, devices: &[Bdf]) -> Vec<Verified> {
    if !in_dom0(root) {
        return verify_xe(xe, vm, devices);
    }
    let domid = match xe.vm_param(vm, "dom-id").map(|d| d.parse::<DomId>()) {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => return unknown(devices, format!("xe gave no usable dom-id: {e}")),
        Err(e) => return unknown(devices, format!("cannot read dom-id: {e}")),
    };
    match XsStore::open() {
        Ok(store) => verify_xenstore(&store, domid, devices),
        Err(e) => unknown(devices, format!("cannot read XenStore: {e}")),
    }
}

fn unknown(devices: &[Bdf], how: String) -> Vec<Verified> {
    devices
        .iter()
        .map(|b| Verified {
            bdf: *b,
            attached: None,
            how: how.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xenstore::MemStore;

    #[test]
    fn xenstore_backend_lists_what_xenopsd_plugged() {
        let store = MemStore::with(&[(
            "/local/domain/0/backend/pci/7/0/dev-4".to_string(),
            "0000:05:00.0".to_string(),
        )])
        .unwrap();
        let a: Bdf = "05:00.0".parse().unwrap();
        let b: Bdf = "06:00.0".parse().unwrap();
        let v = verify_xenstore(&store, DomId(7), &[a, b]);
        assert_eq!(v[0].attached, Some(true));
        assert!(v[0].how.contains("dev-4"), "{}", v[0].how);
        assert_eq!(v[1].attached, Some(false));
        assert!(v[1].how.contains("0000:05:00.0"), "{}", v[1].how);
        let v = verify_xenstore(&store, DomId(8), &[a]);
        assert_eq!(v[0].attached, Some(false));
        assert!(v[0].how.contains("nothing"));
    }

    #[test]
    fn dom0_is_told_by_proc_xen_capabilities() {
        let t = tempfile::tempdir().unwrap();
        let root = HostRoot::new(t.path());
        assert!(!in_dom0(&root));
        std::fs::create_dir_all(t.path().join("proc/xen")).unwrap();
        std::fs::write(t.path().join("proc/xen/capabilities"), "control_d\n").unwrap();
        assert!(in_dom0(&root));
    }
}
