//! The identity bookkeeping of the operations that hide, assign or write an xl.cfg: once a change
//! is confirmed, each device's identity is recorded with the place that now names it
//! ([`crate::identity::state`]); once a device is given back, the place is forgotten. A failure
//! to record is a warning: the change itself happened.

use crate::hide::apply::Options;
use crate::hide::{Ctx, Method};
use crate::host::Inventory;
use crate::identity::state;
use crate::identity::{DeviceIdentity, Use};
use crate::pci::Bdf;

/// After a hide (not a dry run): records the identity of each hidden device with the places
/// the hide wrote (the boot list, pciback now, or both). A failure to record is returned as a
/// warning: the hide itself happened.
pub fn record_hide(
    ctx: Ctx<'_>,
    bdfs: &[Bdf],
    opts: &Options,
    method: Option<Method>,
    hide: bool,
) -> Option<String> {
    let both = !opts.persistent && !opts.now;
    let mut uses = Vec::new();
    if opts.persistent || both {
        uses.push(Use::BootHide {
            method: method.map(|m| m.to_string()),
        });
    }
    if opts.now || both {
        uses.push(Use::LiveHide);
    }
    let inv = Inventory::scan(ctx.root);
    let mut all: Vec<Bdf> = bdfs.to_vec();
    if hide && opts.with_group {
        for b in bdfs {
            if let Some(f) = inv.get(*b) {
                all.extend(
                    f.isolation_group
                        .iter()
                        .filter(|g| inv.get(**g).is_some_and(|x| !x.is_bridge())),
                );
            }
        }
        all.sort();
        all.dedup();
    }
    let r = state::update(ctx.root, |s| {
        for b in &all {
            if hide {
                if let Some(f) = inv.get(*b) {
                    s.record(*b, DeviceIdentity::of(f), &uses);
                }
            } else {
                s.forget(*b, &uses);
            }
        }
    });
    r.err()
        .map(|e| format!("the device identities were not recorded: {e}"))
}

/// After an assign or unassign that changed a VM's `other-config:pci`: records the identity of
/// each added device as named by that VM, forgets the removed ones. A failure to record is
/// returned as a warning: the edit itself happened.
pub fn record_assign(
    root: &crate::host::HostRoot,
    vm: &str,
    added: &[Bdf],
    removed: &[Bdf],
) -> Option<String> {
    let inv = Inventory::scan(root);
    let u = [Use::XapiVm { vm: vm.to_string() }];
    let r = state::update(root, |s| {
        for b in removed {
            s.forget(*b, &u);
        }
        for b in added {
            if let Some(f) = inv.get(*b) {
                s.record(*b, DeviceIdentity::of(f), &u);
            }
        }
    });
    r.err()
        .map(|e| format!("the device identities were not recorded: {e}"))
}

/// Records that `place` names the device at `bdf` now (e.g. an xl.cfg `xlcfg add-pci` or
/// `apply` wrote). A failure to record is returned as a warning.
pub fn record_use(root: &crate::host::HostRoot, bdf: Bdf, place: Use) -> Option<String> {
    let inv = Inventory::scan(root);
    let f = inv.get(bdf)?;
    let id = DeviceIdentity::of(f);
    state::update(root, |s| s.record(bdf, id, &[place]))
        .err()
        .map(|e| format!("the device identity was not recorded: {e}"))
}
