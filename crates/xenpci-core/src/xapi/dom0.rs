//! Is a PCI function hidden from dom0? xenopsd binds every device of `other-config:pci` to pciback
//! itself when the VM starts, taking it from whatever dom0 driver holds it (xapi-xe.md §1.4) —
//! even dom0's own disk controller. So before assigning, xenpci wants the function already bound to
//! pciback: its sysfs `driver` link (read through the [`HostRoot`]) names `pciback`
//! ([`DriverState::Pciback`]; a KVM stub such as vfio-pci does not count), or, on XCP-ng 8.3,
//! `xe pci-get-dom0-access-status` says `disabled`.

use std::cell::OnceCell;

use serde::Serialize;

use super::xe::{Dom0Access, Xe};
use crate::host::{sysfs, DriverState, HostRoot};
use crate::pci::Bdf;

/// What dom0 does with a function now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dom0State {
    /// True when dom0 cannot use it (bound to pciback, or XAPI says dom0 access is disabled).
    pub hidden: bool,
    /// The dom0 driver bound to it (None: unbound or not present).
    pub driver: Option<String>,
    /// Whether the function exists in the host's sysfs.
    pub present: bool,
    /// How this was decided, for messages.
    pub why: String,
}

/// Answers [`Dom0State`] for functions, asking xe at most once for the PCI objects.
pub struct Dom0Check<'a> {
    root: &'a HostRoot,
    xe: Option<&'a Xe<'a>>,
    pci_objects: OnceCell<Vec<(String, String)>>,
}

impl<'a> Dom0Check<'a> {
    /// Checks through `root`'s sysfs, and through `xe` (XCP-ng 8.3 dom0-access status) when given.
    pub fn new(root: &'a HostRoot, xe: Option<&'a Xe<'a>>) -> Dom0Check<'a> {
        Dom0Check {
            root,
            xe,
            pci_objects: OnceCell::new(),
        }
    }

    /// The current state of `bdf`.
    pub fn state(&self, bdf: Bdf) -> Dom0State {
        let dir = self.root.path(format!("/sys/bus/pci/devices/{bdf}"));
        let present = dir.exists();
        let driver = sysfs::driver_in(self.root, &dir).ok().flatten();
        let state = DriverState::of(driver.as_deref());
        if state.is_pciback() {
            return Dom0State {
                hidden: true,
                driver,
                present,
                why: state.describe(),
            };
        }
        if let Some(status) = self.xapi_status(bdf) {
            if status == Dom0Access::Disabled {
                return Dom0State {
                    hidden: true,
                    driver,
                    present,
                    why: "xe pci-get-dom0-access-status: disabled".into(),
                };
            }
        }
        let why = match (&state, present) {
            (DriverState::KvmStub(_), _) => {
                format!(
                    "{}; {}",
                    state.describe(),
                    state.stub_fix(bdf).unwrap_or_default()
                )
            }
            (DriverState::Unbound, true) => {
                "bound to no driver (dom0 may claim it at the next boot)".into()
            }
            (DriverState::Unbound, false) => {
                format!("not found at {}", self.root.host_path(&dir).display())
            }
            _ => state.describe(),
        };
        Dom0State {
            hidden: false,
            driver,
            present,
            why,
        }
    }

    fn xapi_status(&self, bdf: Bdf) -> Option<Dom0Access> {
        let xe = self.xe?;
        let objects = self.pci_objects.get_or_init(|| {
            xe.pci_list(None)
                .map(|recs| {
                    recs.iter()
                        .filter_map(|r| {
                            Some((r.get("uuid")?.to_string(), r.get("pci-id")?.to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default()
        });
        let (uuid, _) = objects
            .iter()
            .find(|(_, id)| id.parse::<Bdf>().ok() == Some(bdf))?;
        xe.dom0_access_status(uuid).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(dir: &std::path::Path, bdf: &str, driver: Option<&str>) {
        let dev = dir.join("sys/bus/pci/devices").join(bdf);
        std::fs::create_dir_all(&dev).unwrap();
        if let Some(d) = driver {
            let drv = dir.join("sys/bus/pci/drivers").join(d);
            std::fs::create_dir_all(&drv).unwrap();
            std::os::unix::fs::symlink(&drv, dev.join("driver")).unwrap();
        }
    }

    #[test]
    fn pciback_is_hidden_other_drivers_are_not() {
        let t = tempfile::tempdir().unwrap();
        fixture(t.path(), "0000:05:00.0", Some("pciback"));
        fixture(t.path(), "0000:08:00.0", Some("vfio-pci"));
        fixture(t.path(), "0000:00:1f.2", Some("ahci"));
        fixture(t.path(), "0000:06:00.0", None);
        let root = HostRoot::new(t.path());
        let c = Dom0Check::new(&root, None);
        assert!(c.state("05:00.0".parse().unwrap()).hidden);
        let s = c.state("00:1f.2".parse().unwrap());
        assert!(!s.hidden && s.why.contains("ahci"), "{s:?}");
        let s = c.state("08:00.0".parse().unwrap());
        assert!(
            !s.hidden && s.why.contains("KVM stub vfio-pci") && s.why.contains("hide --now"),
            "{s:?}"
        );
        let s = c.state("06:00.0".parse().unwrap());
        assert!(!s.hidden && s.present && s.driver.is_none());
        let s = c.state("07:00.0".parse().unwrap());
        assert!(
            !s.present && s.why.contains("/sys/bus/pci/devices/0000:07:00.0"),
            "{s:?}"
        );
    }
}
