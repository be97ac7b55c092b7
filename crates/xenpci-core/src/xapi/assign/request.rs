//! Building an edit: the new value of a VM's other-config:pci from what it holds and what was
//! asked ([`merge_devices`]), the values xapi would misread, the other VMs holding a device, the
//! refusal of devices dom0 still uses ([`check_hidden`]), and the per-device and per-VM locks.

use std::collections::BTreeSet;

use super::error::AssignError;
use crate::fsutil::{self, FileLock};
use crate::host::HostRoot;
use crate::ids::VmUuid;
use crate::pci::Bdf;
use crate::syntax::xapi_pci;
use crate::xapi::dom0::{Dom0Check, Dom0State};
use crate::xapi::reading::reading;
use crate::xapi::{VmInfo, Xe};

/// The lock file serialising edits of one VM's other-config: `ROOT/run/lock/xenpci-vm-UUID.lock`.
pub fn lock_path(root: &HostRoot, vm: &VmUuid) -> std::path::PathBuf {
    root.path(format!("/run/lock/xenpci-vm-{vm}.lock"))
}

/// The canonical value plugging `devices` in exactly this order (one group per device), None when
/// there is no device (the key is then removed).
pub(super) fn generate(devices: &[Bdf]) -> Result<Option<String>, AssignError> {
    if devices.is_empty() {
        return Ok(None);
    }
    xapi_pci::generate_ordered(devices)
        .map(Some)
        .map_err(AssignError::Generate)
}

pub(super) fn list(bdfs: &[Bdf]) -> String {
    if bdfs.is_empty() {
        return "(none)".into();
    }
    bdfs.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn no_dups(bdfs: &[Bdf]) -> Result<(), AssignError> {
    let mut seen = BTreeSet::new();
    for b in bdfs {
        if !seen.insert(*b) {
            return Err(AssignError::Duplicate { bdf: *b });
        }
    }
    Ok(())
}

/// The devices a value gives, in plug order, refusing what xapi would misread unless `rewrite`.
pub(super) fn readable(
    vm: &VmUuid,
    value: Option<&str>,
    rewrite: bool,
    notes: &mut Vec<String>,
) -> Result<Vec<Bdf>, AssignError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let parsed = reading(value);
    let kept: Vec<Bdf> = parsed.devices.iter().map(|d| d.1).collect();
    if !parsed.misread.is_empty() {
        let pieces = parsed.misread.join(", ");
        if !rewrite {
            return Err(AssignError::Misread {
                vm: vm.clone(),
                value: value.to_string(),
                pieces,
                kept: list(&kept),
            });
        }
        notes.push(format!(
            "VM {vm}: dropping {pieces} from other-config:pci (--rewrite-misread): xapi would drop or misread them"
        ));
    }
    Ok(kept)
}

/// Who else holds which of `wanted`: (device, VM, its value).
pub(super) fn holders(
    xe: &Xe,
    target: &VmUuid,
    wanted: &[Bdf],
) -> Result<Vec<(Bdf, VmInfo, String)>, AssignError> {
    let mut out = Vec::new();
    for vm in xe.vm_list()? {
        if &vm.uuid == target || !vm.other_config.iter().any(|(k, _)| k == "pci") {
            continue;
        }
        // The map print is ambiguous when other values hold "; ", so read the key exactly.
        let Some(value) = xe.vm_pci(&vm.uuid)? else {
            continue;
        };
        let theirs = reading(&value);
        for b in wanted {
            if theirs.plugged.contains(b) {
                out.push((*b, vm.clone(), value.clone()));
            }
        }
    }
    Ok(out)
}

/// Refuses devices dom0 still uses (unless `force`, then returns a note saying so). `vm` names
/// the VM in the message.
pub fn check_hidden(
    xe: &Xe,
    root: &HostRoot,
    vm: &str,
    bdfs: &[Bdf],
    force: bool,
) -> Result<Option<String>, AssignError> {
    let check = Dom0Check::new(root, Some(xe));
    let unhidden: Vec<(Bdf, Dom0State)> = bdfs
        .iter()
        .map(|b| (*b, check.state(*b)))
        .filter(|(_, s)| !s.hidden)
        .collect();
    if unhidden.is_empty() {
        return Ok(None);
    }
    // A function that is not there cannot be hidden first, and --force would not make it
    // appear: say it is missing.
    let absent: Vec<&(Bdf, Dom0State)> = unhidden.iter().filter(|(_, s)| !s.present).collect();
    if !absent.is_empty() {
        return Err(AssignError::NoSuchDevice {
            vm: vm.to_string(),
            list: list(&absent.iter().map(|(b, _)| *b).collect::<Vec<_>>()),
            details: absent
                .iter()
                .map(|(b, s)| format!("{b} is {}", s.why))
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    let critical = crate::host::critical::find(root);
    let details = unhidden
        .iter()
        .map(|(b, s)| match critical.reasons.get(b) {
            Some(r) => format!("{b} is {} and DOM0 NEEDS IT: {}", s.why, r.join(", ")),
            None => format!("{b} is {}", s.why),
        })
        .collect::<Vec<_>>()
        .join("; ");
    if force {
        return Ok(Some(format!(
            "--force: assigning devices dom0 still uses ({details}); xenopsd will take them from dom0 when the VM starts"
        )));
    }
    let bdfs: Vec<Bdf> = unhidden.iter().map(|(b, _)| *b).collect();
    let (needed, hideable): (Vec<Bdf>, Vec<Bdf>) =
        bdfs.iter().partition(|b| critical.reasons.contains_key(b));
    let mut advice = Vec::new();
    if !hideable.is_empty() {
        advice.push(format!(
            "Hide first: {}",
            hideable
                .iter()
                .map(|b| format!("`xenpci hide {b}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !needed.is_empty() {
        advice.push(format!(
            "Do not pass {} through: dom0 itself needs {}",
            list(&needed),
            if needed.len() == 1 { "it" } else { "them" }
        ));
    }
    Err(AssignError::NotHidden {
        vm: vm.to_string(),
        list: list(&bdfs),
        details,
        them: if bdfs.len() == 1 { "it" } else { "them" },
        advice: advice.join(". "),
    })
}

/// Takes the per-VM locks of `vms` in uuid order (so two runs locking overlapping sets cannot
/// deadlock). Held until the returned locks are dropped.
pub fn lock_vms<'v>(
    root: &HostRoot,
    vms: impl IntoIterator<Item = &'v VmUuid>,
) -> Result<Vec<FileLock>, AssignError> {
    let sorted: BTreeSet<&VmUuid> = vms.into_iter().collect();
    sorted
        .into_iter()
        .map(|vm| fsutil::lock(&lock_path(root, vm)).map_err(AssignError::from))
        .collect()
}

/// The lock file serialising assignments of one device: `ROOT/run/lock/xenpci-pci-BDF.lock`.
pub fn device_lock_path(root: &HostRoot, bdf: &Bdf) -> std::path::PathBuf {
    root.path(format!("/run/lock/xenpci-pci-{}.lock", bdf.xenstore_key()))
}

/// Takes the per-device locks of `bdfs` in address order; take them before any VM lock.
pub fn lock_devices(root: &HostRoot, bdfs: &[Bdf]) -> Result<Vec<FileLock>, AssignError> {
    let sorted: BTreeSet<&Bdf> = bdfs.iter().collect();
    sorted
        .into_iter()
        .map(|b| fsutil::lock(&device_lock_path(root, b)).map_err(AssignError::from))
        .collect()
}

/// Writes other-config:pci (None: removes the key) and reads it back to confirm.
pub fn write_pci(xe: &Xe, vm: &VmUuid, value: Option<&str>) -> Result<(), AssignError> {
    xe.put_vm_pci(vm, value)?;
    confirm(xe, vm, value)
}

pub(super) fn confirm(xe: &Xe, vm: &VmUuid, value: Option<&str>) -> Result<(), AssignError> {
    let got = xe.vm_pci(vm)?;
    if got.as_deref() != value {
        return Err(AssignError::NotConfirmed {
            vm: vm.clone(),
            wrote: value.map(str::to_string),
            got,
        });
    }
    Ok(())
}

/// The new device list of a VM: `current` minus `remove`, plus `add` (appended in order), with
/// the devices of `order` moved to the front in that order.
pub fn merge_devices(
    vm: &str,
    current: &[Bdf],
    add: &[Bdf],
    remove: &[Bdf],
    order: &[Bdf],
    notes: &mut Vec<String>,
) -> Result<Vec<Bdf>, AssignError> {
    for b in remove {
        // Nothing to do is not an error (exit 0), as adding a device already there.
        if !current.contains(b) {
            notes.push(format!(
                "nothing to do for {b}: it is not assigned to VM {vm} (its other-config:pci holds: {})",
                list(current)
            ));
        }
    }
    let mut devices: Vec<Bdf> = current
        .iter()
        .copied()
        .filter(|b| !remove.contains(b))
        .collect();
    for b in add {
        if devices.contains(b) {
            notes.push(format!("{b} was already assigned to VM {vm}"));
        } else {
            devices.push(*b);
        }
    }
    no_dups(order)?;
    for b in order {
        if !devices.contains(b) {
            return Err(AssignError::BadOrder {
                bdf: *b,
                vm: vm.to_string(),
                devices: list(&devices),
            });
        }
    }
    let rest = devices.iter().copied().filter(|b| !order.contains(b));
    Ok(order.iter().copied().chain(rest).collect())
}
#[cfg(test)]
mod tests {
    use super::*;

    fn bdfs(s: &[&str]) -> Vec<Bdf> {
        s.iter().map(|b| b.parse().unwrap()).collect()
    }

    #[test]
    fn merge_appends_removes_and_orders() {
        let mut notes = Vec::new();
        let cur = bdfs(&["05:00.0", "06:00.0"]);
        let m = merge_devices(
            "vm",
            &cur,
            &bdfs(&["07:00.0", "05:00.0"]),
            &[],
            &[],
            &mut notes,
        );
        assert_eq!(m.unwrap(), bdfs(&["05:00.0", "06:00.0", "07:00.0"]));
        assert!(
            notes[0].contains("0000:05:00.0 was already assigned"),
            "{notes:?}"
        );
        let m = merge_devices("vm", &cur, &[], &bdfs(&["05:00.0"]), &[], &mut notes);
        assert_eq!(m.unwrap(), bdfs(&["06:00.0"]));
        let m = merge_devices(
            "vm",
            &cur,
            &bdfs(&["07:00.0"]),
            &[],
            &bdfs(&["07:00.0"]),
            &mut notes,
        );
        assert_eq!(m.unwrap(), bdfs(&["07:00.0", "05:00.0", "06:00.0"]));
        // Removing what is not there: nothing to do, said in a note.
        notes.clear();
        let m = merge_devices("vm", &cur, &[], &bdfs(&["08:00.0"]), &[], &mut notes).unwrap();
        assert_eq!(m, cur);
        assert!(
            notes[0].contains("nothing to do for 0000:08:00.0: it is not assigned to VM vm"),
            "{notes:?}"
        );
        let e = merge_devices("vm", &cur, &[], &[], &bdfs(&["08:00.0"]), &mut notes).unwrap_err();
        assert!(e.to_string().contains("--order names 0000:08:00.0"), "{e}");
    }

    #[test]
    fn generate_writes_one_group_per_device() {
        let a: Bdf = "06:00.0".parse().unwrap();
        let b: Bdf = "07:00.0".parse().unwrap();
        assert_eq!(
            generate(&[b, a]).unwrap().as_deref(),
            Some("0/0000:07:00.0,1/0000:06:00.0")
        );
        assert_eq!(generate(&[]).unwrap(), None);
        assert!(generate(&[a, a]).is_err());
    }
}
