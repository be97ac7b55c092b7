//! What may be hidden. A device the host inventory flags critical (dom0's storage controller,
//! management NIC, console) or a bridge (pciback seizes everything below a hidden bridge) is
//! refused unless `--force`; devices that share its isolation group are named, and added only
//! with `--with-group`.
//!
//! The facts come through [`Facts`], so the guard does not care how the host was scanned; the
//! CLI uses [`InventoryFacts`], the host inventory.

use std::fmt;

use serde::Serialize;

use crate::host::{HostRoot, Inventory};
use crate::pci::Bdf;

/// What the guard needs to know about one device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFacts {
    /// Why dom0 needs it (empty: not critical).
    pub critical: Vec<String>,
    /// A PCI bridge.
    pub bridge: bool,
    /// The other members of its isolation group.
    pub group: Vec<Bdf>,
}

/// A source of device facts.
pub trait Facts {
    /// The facts for one device.
    fn facts(&self, bdf: Bdf) -> DeviceFacts;
}

/// Facts from the host inventory ([`crate::host::Inventory`]): its critical reasons (dom0's
/// storage controllers, management NIC, console), bridge flag and isolation group.
pub struct InventoryFacts(pub Inventory);

impl InventoryFacts {
    /// Scans the host.
    pub fn scan(root: &HostRoot) -> InventoryFacts {
        InventoryFacts(Inventory::scan(root))
    }
}

impl Facts for InventoryFacts {
    fn facts(&self, bdf: Bdf) -> DeviceFacts {
        match self.0.get(bdf) {
            Some(f) => DeviceFacts {
                critical: f.critical.clone(),
                bridge: f.is_bridge(),
                group: f
                    .isolation_group
                    .iter()
                    .copied()
                    .filter(|b| *b != bdf)
                    .collect(),
            },
            None => DeviceFacts::default(),
        }
    }
}

/// One refused device: `{"bdf", "reasons"}` in JSON; Display is the full message with the
/// override (`--force`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The device.
    pub bdf: Bdf,
    /// Why dom0 needs it (critical uses, "it is a bridge ...").
    pub reasons: Vec<String>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refusing to hide {}: dom0 needs it: {}. Hiding it can take dom0's own disks, \
             network or console away (a host panic at the next VM reboot). If you are sure, add \
             --force",
            self.bdf,
            self.reasons.join("; ")
        )
    }
}

/// The guard's verdict on a hide request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Refused devices, each with its reasons.
    pub refused: Vec<Refusal>,
    /// Warnings (group siblings left in dom0, forced devices).
    pub warnings: Vec<String>,
    /// The devices to hide (the request plus, with `with_group`, the siblings).
    pub devices: Vec<Bdf>,
}

/// Checks a hide request.
pub fn check(facts: &dyn Facts, bdfs: &[Bdf], force: bool, with_group: bool) -> Verdict {
    let mut v = Verdict {
        devices: bdfs.to_vec(),
        ..Verdict::default()
    };
    let mut i = 0;
    while i < v.devices.len() {
        let bdf = v.devices[i];
        let f = facts.facts(bdf);
        let mut reasons = f.critical.clone();
        if f.bridge {
            reasons.push("it is a bridge (pciback would seize every device below it)".into());
        }
        if !reasons.is_empty() {
            if force {
                v.warnings.push(format!(
                    "{bdf} is needed by dom0 ({}); hiding anyway: --force",
                    reasons.join("; ")
                ));
            } else {
                v.refused.push(Refusal { bdf, reasons });
            }
        }
        // Bridges in a group stay with dom0 (they are never hidden, and need not be).
        let missing: Vec<Bdf> = f
            .group
            .iter()
            .copied()
            .filter(|s| !v.devices.contains(s) && !facts.facts(*s).bridge)
            .collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(Bdf::to_string).collect();
            if with_group {
                v.warnings.push(format!(
                    "{bdf} shares its isolation group with {}: hiding them too (--with-group)",
                    names.join(", ")
                ));
                v.devices.extend(missing);
            } else {
                v.warnings.push(format!(
                    "{bdf} shares its isolation group with {}, which stay in dom0; the device \
                     can only be passed through with them (add --with-group to hide them too)",
                    names.join(", ")
                ));
            }
        }
        i += 1;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Table(HashMap<Bdf, DeviceFacts>);
    impl Facts for Table {
        fn facts(&self, bdf: Bdf) -> DeviceFacts {
            self.0.get(&bdf).cloned().unwrap_or_default()
        }
    }

    fn b(s: &str) -> Bdf {
        s.parse().unwrap()
    }

    fn table() -> Table {
        let mut m = HashMap::new();
        m.insert(
            b("00:1f.2"),
            DeviceFacts {
                critical: vec!["holds dom0's root filesystem (/)".into()],
                ..Default::default()
            },
        );
        m.insert(
            b("00:01.0"),
            DeviceFacts {
                bridge: true,
                ..Default::default()
            },
        );
        m.insert(
            b("01:00.0"),
            DeviceFacts {
                group: vec![b("00:01.0"), b("01:00.1")],
                ..Default::default()
            },
        );
        Table(m)
    }

    #[test]
    fn critical_devices_and_bridges_are_refused_without_force() {
        let v = check(&table(), &[b("00:1f.2"), b("00:01.0")], false, false);
        assert_eq!(v.refused.len(), 2);
        let msg = v.refused[0].to_string();
        assert!(
            msg.contains("root filesystem") && msg.contains("--force"),
            "{msg}"
        );
        assert_eq!(v.refused[1].bdf, b("00:01.0"));
        assert!(v.refused[1].reasons[0].contains("bridge"));
        let v = check(&table(), &[b("00:1f.2")], true, false);
        assert!(v.refused.is_empty() && v.warnings[0].contains("--force"));
    }

    #[test]
    fn group_siblings_are_named_and_added_only_with_with_group() {
        let v = check(&table(), &[b("01:00.0")], false, false);
        assert_eq!(v.devices, vec![b("01:00.0")]);
        assert!(v.warnings[0].contains("0000:01:00.1") && v.warnings[0].contains("--with-group"));
        let v = check(&table(), &[b("01:00.0")], false, true);
        assert_eq!(v.devices, vec![b("01:00.0"), b("01:00.1")]);
    }
}
