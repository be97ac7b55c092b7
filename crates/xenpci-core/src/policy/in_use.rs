//! Who uses which device: the guests holding each one, as facts for [`super::decide`]. Gathering
//! them (xl, xe, an xl.cfg) is the operations layer's job ([`crate::ops::facts`]); this module only
//! holds them, so the policy stays a pure function.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::pci::Bdf;

/// A guest holding a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Holder {
    /// Attached to a running domain (libxl's view, `xl list -l`).
    Domain {
        /// The domain's name.
        name: String,
        /// Its domid.
        domid: u32,
    },
    /// Named in an XAPI VM's `other-config:pci` (xenopsd takes it from dom0 when the VM starts).
    Vm {
        /// The VM's uuid.
        uuid: String,
        /// Its name-label.
        name: String,
    },
    /// In the `pci = [...]` of an xl.cfg.
    XlCfg {
        /// The file.
        file: String,
        /// The guest's `name`, when the file sets one.
        name: Option<String>,
    },
    /// On a KVM host: a process (QEMU, for a guest) holding the device's vfio group open.
    VfioProcess {
        /// Its pid.
        pid: u32,
        /// Its command name (`/proc/PID/comm`).
        comm: String,
        /// The group's device file (`/dev/vfio/N`).
        group: String,
    },
}

impl Holder {
    /// True when both stand for the same guest: a domain, a VM and an xl.cfg are matched by
    /// name (an XAPI VM's domain carries its name-label), a VM also by uuid, a file by path.
    pub fn same_guest(&self, other: &Holder) -> bool {
        self.names().iter().any(|n| other.names().contains(n))
    }

    fn names(&self) -> Vec<String> {
        match self {
            Holder::Domain { name, .. } => vec![format!("name:{name}")],
            Holder::Vm { uuid, name } => vec![format!("name:{name}"), format!("uuid:{uuid}")],
            Holder::XlCfg { file, name } => {
                let mut v = vec![format!("file:{file}")];
                v.extend(name.iter().map(|n| format!("name:{n}")));
                v
            }
            Holder::VfioProcess { pid, .. } => vec![format!("pid:{pid}")],
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holder::Domain { name, domid } => {
                write!(f, "attached to running domain {name} (domid {domid})")
            }
            Holder::Vm { uuid, name } => {
                write!(f, "named in other-config:pci of VM {name} ({uuid})")
            }
            Holder::XlCfg { file, .. } => write!(f, "named in pci = [...] of {file}"),
            Holder::VfioProcess { pid, comm, group } => {
                write!(f, "its vfio group {group} is open by {comm} (pid {pid})")
            }
        }
    }
}

/// The holders of every device, and the sources that could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InUse {
    by_device: BTreeMap<Bdf, Vec<Holder>>,
    /// Sources that could not be asked (say which, and why): their holders are unknown.
    pub unchecked: Vec<String>,
}

impl InUse {
    /// Records that `holder` has `bdf` (once).
    pub fn add(&mut self, bdf: Bdf, holder: Holder) {
        let v = self.by_device.entry(bdf).or_default();
        if !v.contains(&holder) {
            v.push(holder);
        }
    }

    /// The holders of one device.
    pub fn holders(&self, bdf: Bdf) -> &[Holder] {
        self.by_device.get(&bdf).map_or(&[], Vec::as_slice)
    }
}
