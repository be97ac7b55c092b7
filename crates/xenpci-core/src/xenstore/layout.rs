//! The XenStore nodes libxl, xen-pciback and pcifront leave behind for a guest with PCI devices
//! (reference xen-xl.md §5, and the tree recorded on real Xen 4.17 in docs/reference/FINDINGS.md):
//! a builder for mocks (the mock `xl`) and tests, so every fake tree has the real shape.
//!
//! The recorded PV tree after `xl pci-attach domU 0000:00:02.0` (domid 1):
//! `dev-0 = "0000:00:02.0"`, `key-0` (same), `state-0 = "3"`, `vdev-0 = "0000:00:00.00"`,
//! `opts-0 = "msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict"`, `num_devs = "1"`,
//! `root-0 = "0000:00"`, `state = "4"`, plus the generic device nodes (`frontend`,
//! `frontend-id`, `online`, `domain`).

use super::backend::XenbusState;
use super::verify::GuestKind;
use super::{backend_path, domain_path, frontend_path, libxl_pci_path, Store, XenStoreError};
use crate::ids::DomId;
use crate::pci::Bdf;

/// The `opts-N` value libxl writes with every option at its default.
pub const DEFAULT_OPTS: &str = "msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict";

/// One device in a [`BackendTree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedDevice {
    /// Host BDF (`dev-N`, `key-N`).
    pub bdf: Bdf,
    /// Guest slot given with `@vslot` (written as `vdevfn-N = slot << 3`).
    pub vslot: Option<u8>,
    /// `opts-N`.
    pub opts: String,
    /// `name-N` (attached by name).
    pub name: Option<String>,
    /// `state-N` (3 once pciback exported it).
    pub state: XenbusState,
    /// `/libxl/pci/<key>/driver_path` (the dom0 driver before `pci-assignable-add`).
    pub driver_path: Option<String>,
}

impl AttachedDevice {
    /// A device with libxl's defaults, exported by pciback (`state-N = 3`).
    pub fn new(bdf: Bdf) -> AttachedDevice {
        AttachedDevice {
            bdf,
            vslot: None,
            opts: DEFAULT_OPTS.to_string(),
            name: None,
            state: XenbusState::INITIALISED,
            driver_path: None,
        }
    }
    /// Sets the guest slot (0..=0x1f).
    pub fn vslot(mut self, slot: u8) -> AttachedDevice {
        self.vslot = Some(slot);
        self
    }
    /// Sets `opts-N`.
    pub fn opts(mut self, opts: &str) -> AttachedDevice {
        self.opts = opts.to_string();
        self
    }
    /// Sets `name-N`.
    pub fn name(mut self, name: &str) -> AttachedDevice {
        self.name = Some(name.to_string());
        self
    }
    /// Sets `state-N`.
    pub fn state(mut self, state: u8) -> AttachedDevice {
        self.state = XenbusState(state);
        self
    }
    /// Sets `/libxl/pci/<key>/driver_path`.
    pub fn driver_path(mut self, path: &str) -> AttachedDevice {
        self.driver_path = Some(path.to_string());
        self
    }
}

/// A guest's PCI backend, frontend and libxl bookkeeping as they are once the attach finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendTree {
    /// The guest.
    pub domid: DomId,
    /// Its name (`/local/domain/<domid>/name`, backend `domain`).
    pub name: String,
    /// PV (pcifront connects) or HVM (device model; no pcifront).
    pub kind: GuestKind,
    /// Backend `state`: 4 for PV (pcifront connected), 3 for HVM.
    pub state: XenbusState,
    /// The devices, index = position.
    pub devices: Vec<AttachedDevice>,
}

impl BackendTree {
    /// A PV guest whose pcifront is connected (backend `state = 4`).
    pub fn pv(domid: DomId, name: &str) -> BackendTree {
        BackendTree {
            domid,
            name: name.to_string(),
            kind: GuestKind::Pv,
            state: XenbusState::CONNECTED,
            devices: Vec::new(),
        }
    }
    /// An HVM guest (backend stays at `state = 3`, every device has `vdevfn-N`).
    pub fn hvm(domid: DomId, name: &str) -> BackendTree {
        BackendTree {
            kind: GuestKind::Hvm,
            state: XenbusState::INITIALISED,
            ..BackendTree::pv(domid, name)
        }
    }
    /// Adds a device at the next index.
    pub fn device(mut self, d: AttachedDevice) -> BackendTree {
        self.devices.push(d);
        self
    }
    /// Sets the backend `state`.
    pub fn state(mut self, state: u8) -> BackendTree {
        self.state = XenbusState(state);
        self
    }

    /// Every node, `(absolute path, value)`, in the order libxl/pciback/pcifront write them.
    pub fn nodes(&self) -> Vec<(String, String)> {
        let (d, be, fe) = (
            self.domid,
            backend_path(self.domid),
            frontend_path(self.domid),
        );
        let mut out: Vec<(String, String)> = Vec::new();
        let mut put = |p: String, v: String| out.push((p, v));
        let dom = domain_path(d);
        put(format!("{dom}/name"), self.name.clone());
        put(format!("{dom}/domid"), d.to_string());
        put(format!("{be}/frontend"), fe.clone());
        put(format!("{be}/frontend-id"), d.to_string());
        put(format!("{be}/online"), "1".into());
        put(format!("{be}/domain"), self.name.clone());
        put(format!("{be}/num_devs"), self.devices.len().to_string());
        for (i, dev) in self.devices.iter().enumerate() {
            let slot = match (self.kind, dev.vslot) {
                (_, Some(s)) => Some(s),
                (GuestKind::Hvm, None) => u8::try_from(i + 3).ok(),
                (GuestKind::Pv, None) => None,
            };
            put(format!("{be}/key-{i}"), dev.bdf.to_string());
            put(format!("{be}/dev-{i}"), dev.bdf.to_string());
            if let Some(s) = slot {
                put(format!("{be}/vdevfn-{i}"), format!("{:x}", s << 3));
            }
            if let Some(n) = &dev.name {
                put(format!("{be}/name-{i}"), n.clone());
            }
            put(format!("{be}/opts-{i}"), dev.opts.clone());
            put(format!("{be}/state-{i}"), dev.state.0.to_string());
            if dev.state >= XenbusState::INITIALISED {
                // pciback's vpci mode: the guest sees each device on its own slot of bus 00
                put(format!("{be}/vdev-{i}"), format!("0000:00:{i:02x}.00"));
            }
            let lx = libxl_pci_path(dev.bdf);
            put(format!("{lx}/domid"), d.to_string());
            if let Some(p) = &dev.driver_path {
                put(format!("{lx}/driver_path"), p.clone());
            }
        }
        if self
            .devices
            .iter()
            .any(|d| d.state >= XenbusState::INITIALISED)
        {
            put(format!("{be}/root_num"), "1".into());
            put(format!("{be}/root-0"), "0000:00".into());
        }
        put(format!("{be}/state"), self.state.0.to_string());
        put(format!("{fe}/backend"), be.clone());
        put(format!("{fe}/backend-id"), "0".into());
        match self.kind {
            GuestKind::Pv => {
                put(format!("{fe}/pci-op-ref"), "1234".into());
                put(format!("{fe}/event-channel"), "17".into());
                put(format!("{fe}/magic"), "7".into());
                let fs = if self.state == XenbusState::CONNECTED {
                    4
                } else {
                    1
                };
                put(format!("{fe}/state"), fs.to_string());
            }
            GuestKind::Hvm => put(format!("{fe}/state"), "1".into()),
        }
        out
    }

    /// Writes [`nodes`](Self::nodes) into `store`.
    pub fn write_to(&self, store: &dyn Store) -> Result<(), XenStoreError> {
        self.nodes().iter().try_for_each(|(p, v)| store.write(p, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pv_tree_matches_the_recorded_one() {
        let t = BackendTree::pv(DomId(1), "domU")
            .device(AttachedDevice::new("0000:00:02.0".parse().unwrap()));
        let nodes = t.nodes();
        let get = |p: &str| nodes.iter().find(|(k, _)| k == p).map(|(_, v)| v.as_str());
        let be = "/local/domain/0/backend/pci/1/0";
        assert_eq!(get(&format!("{be}/dev-0")), Some("0000:00:02.0"));
        assert_eq!(get(&format!("{be}/state-0")), Some("3"));
        assert_eq!(get(&format!("{be}/vdev-0")), Some("0000:00:00.00"));
        assert_eq!(get(&format!("{be}/opts-0")), Some(DEFAULT_OPTS));
        assert_eq!(get(&format!("{be}/root-0")), Some("0000:00"));
        assert_eq!(get(&format!("{be}/state")), Some("4"));
        assert_eq!(get(&format!("{be}/vdevfn-0")), None);
        assert_eq!(get("/libxl/pci/0000-00-02-0/domid"), Some("1"));
    }

    #[test]
    fn hvm_devices_get_a_vdevfn() {
        let t = BackendTree::hvm(DomId(2), "win")
            .device(AttachedDevice::new("0000:05:00.0".parse().unwrap()).vslot(5));
        let nodes = t.nodes();
        assert!(nodes.contains(&(
            "/local/domain/0/backend/pci/2/0/vdevfn-0".into(),
            "28".into()
        )));
    }
}
