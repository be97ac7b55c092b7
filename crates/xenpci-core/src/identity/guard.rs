//! The identity check the policy applies to every give and hide: a BDF the identity state
//! records for one device, where another function sits now (the recorded device moved, or is
//! gone), is refused — so neither xenpci's own flows nor an xl.cfg it edits hand a guest the
//! wrong device before `xenpci verify --repair` has moved the records.

use std::collections::BTreeMap;

use super::{locate, DeviceIdentity, Location, State};
use crate::host::{HostRoot, Inventory};
use crate::pci::Bdf;
use crate::policy::{DeviceFacts, HostFacts};

/// An inventory with the identity state's verdicts beside it.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    inv: Inventory,
    wrong: BTreeMap<Bdf, String>,
}

impl Checked {
    /// Scans the host and checks every recorded BDF (an unreadable state file checks nothing:
    /// `verify` reports it).
    pub fn scan(root: &HostRoot) -> Checked {
        let inv = Inventory::scan(root);
        let st = State::load(root).unwrap_or_default();
        Checked::new(inv, &st)
    }

    /// Checks `st`'s records against `inv`.
    pub fn new(inv: Inventory, st: &State) -> Checked {
        let mut wrong = BTreeMap::new();
        for e in &st.devices {
            let Some(f) = inv.get(e.bdf) else { continue };
            let why = match locate(e.bdf, &e.identity, &inv) {
                Location::Same { .. } => continue,
                Location::Moved { to, .. } => format!("which moved to {to}"),
                Location::Missing => "which is not on this host any more".to_string(),
                Location::Ambiguous { .. } => {
                    "which cannot be told apart from its twins".to_string()
                }
            };
            let now = DeviceIdentity::of(f);
            wrong.insert(
                e.bdf,
                format!(
                    "{} is now {}, not the recorded {} ({why}); `xenpci verify --repair` moves the records",
                    e.bdf,
                    now.ids(),
                    e.identity.ids()
                ),
            );
        }
        Checked { inv, wrong }
    }

    /// The inventory.
    pub fn inventory(&self) -> &Inventory {
        &self.inv
    }
}

impl std::ops::Deref for Checked {
    type Target = Inventory;
    fn deref(&self) -> &Inventory {
        &self.inv
    }
}

impl HostFacts for Checked {
    fn device(&self, bdf: Bdf) -> DeviceFacts {
        DeviceFacts {
            not_recorded: self.wrong.get(&bdf).cloned(),
            ..self.inv.device(bdf)
        }
    }
}
