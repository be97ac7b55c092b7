//! Giving PCI functions to XAPI VMs and taking them back, safely: the flows behind
//! `xenpci assign`, `unassign` and `assigned`.
//!
//! xapi reads a VM's `other-config:pci` only when it builds the domain, never validates it, drops
//! pieces it cannot read, and happily lets two VMs name the same device (xapi-xe.md §1). So every
//! edit here: resolves the VM; refuses devices dom0 still uses, devices given to another VM (unless
//! stolen), and current values xapi would misread; takes a per-VM lock (xe has no
//! compare-and-swap), re-reads, writes the whole canonical value with `vm-param-set` (or removes
//! the key with `vm-param-remove` when empty — never `vm-param-clear`), re-reads to confirm; and,
//! with restart, shuts the VM down cleanly, starts it (never `vm-reboot`), waits, verifies, and
//! puts the old value back if the start fails.

use std::collections::BTreeSet;

use serde::Serialize;

use super::dom0::{Dom0Check, Dom0State};
use super::verify::{verify_attached, Verified};
use super::xe::{PowerState, VmInfo, Xe, XeError, KEY_NOT_IN_MAP};
use crate::exec::CommandSpec;
use crate::fsutil::{self, FileLock, WriteError};
use crate::host::HostRoot;
use crate::ids::VmUuid;
use crate::pci::Bdf;
use crate::plan::Plan;
use crate::policy::{self, Action, Holder, InUse, Refusal};
use crate::syntax::xapi_pci;

/// Why an assign/unassign was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AssignError {
    /// An xe call failed.
    #[error(transparent)]
    Xe(#[from] XeError),
    /// The per-VM lock could not be taken.
    #[error(transparent)]
    Lock(#[from] WriteError),
    /// The safety policy refused ([`crate::policy`]).
    #[error(transparent)]
    Policy(#[from] crate::policy::Refused),
    /// Devices dom0 still uses.
    #[error("refusing to assign {list}: not bound to pciback ({details}). When VM {vm} starts, xenopsd would silently take {them} from dom0 and bind {them} to pciback itself. {advice} (or pass --force)")]
    NotHidden {
        /// The VM as given.
        vm: String,
        /// The devices, comma-separated.
        list: String,
        /// Per device: what dom0 does with it.
        details: String,
        /// "it" or "them".
        them: &'static str,
        /// What to do instead: the hide commands to run, or why not to.
        advice: String,
    },
    /// Devices this host does not have at all (a typo, or another host's device).
    #[error("refusing to assign {list} to VM {vm}: this host has no such PCI function ({details}); `xenpci list` shows the functions it has")]
    NoSuchDevice {
        /// The VM as given.
        vm: String,
        /// The devices, comma-separated.
        list: String,
        /// Where each was looked for.
        details: String,
    },
    /// A device already given to another VM.
    #[error("refusing to assign {bdf} to VM {vm}: it is already in other-config:pci of VM {other_uuid} ({other_name}); pass --steal to move it")]
    AssignedElsewhere {
        /// The device.
        bdf: Bdf,
        /// The target VM as given.
        vm: String,
        /// The other VM's uuid.
        other_uuid: VmUuid,
        /// The other VM's name-label.
        other_name: String,
    },
    /// The current value holds pieces xapi would drop or misread.
    #[error("VM {vm}'s other-config:pci is {value:?}, and xapi would drop or misread {pieces}; fix it by hand, or pass --rewrite-misread to rewrite it from what xenpci could read ({kept})")]
    Misread {
        /// The VM uuid.
        vm: VmUuid,
        /// The current value.
        value: String,
        /// The pieces, quoted and comma-separated.
        pieces: String,
        /// What would be kept.
        kept: String,
    },
    /// `--order` names a device that will not be assigned.
    #[error("--order names {bdf}, which VM {vm} would not hold (it would hold: {devices})")]
    BadOrder {
        /// The device.
        bdf: Bdf,
        /// The VM as given.
        vm: String,
        /// The final device list.
        devices: String,
    },
    /// The new value cannot be written.
    #[error(transparent)]
    Generate(xapi_pci::XapiPciError),
    /// The VM is dom0.
    #[error("VM {vm} ({uuid}) is a control domain (dom0): devices are hidden from dom0 and given to guests, never to dom0")]
    ControlDomain {
        /// The VM as given.
        vm: String,
        /// Its uuid.
        uuid: VmUuid,
    },
    /// A device given twice on the command line.
    #[error("{bdf} is given twice")]
    Duplicate {
        /// The device.
        bdf: Bdf,
    },
    /// The value read back after writing is not what was written.
    #[error("wrote other-config:pci={wrote:?} to VM {vm}, but reading it back gave {got:?} (changed by another tool at the same time?)")]
    NotConfirmed {
        /// The VM.
        vm: VmUuid,
        /// What was written (None: removed).
        wrote: Option<String>,
        /// What came back.
        got: Option<String>,
    },
    /// vm-start failed; other-config:pci was put back.
    #[error("starting VM {vm} failed: {source}; {restored}")]
    StartFailed {
        /// The VM.
        vm: VmUuid,
        /// The start error.
        #[source]
        source: Box<XeError>,
        /// What happened to other-config:pci.
        restored: String,
    },
    /// After the start, devices were not attached.
    #[error("VM {vm} started, but {missing} {is} not attached: {details}")]
    NotAttached {
        /// The VM.
        vm: VmUuid,
        /// The devices.
        missing: String,
        /// "is" / "are".
        is: &'static str,
        /// How this was checked.
        details: String,
    },
}

impl AssignError {
    /// True when xenpci refused before changing anything (the device is not hidden, held
    /// elsewhere, the value would be misread, the VM is dom0).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            AssignError::NotHidden { .. }
                | AssignError::NoSuchDevice { .. }
                | AssignError::Policy(_)
                | AssignError::AssignedElsewhere { .. }
                | AssignError::Misread { .. }
                | AssignError::ControlDomain { .. }
        )
    }

    /// The option that overrides a refusal, when there is one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            AssignError::NotHidden { .. } | AssignError::Policy(_) => Some("--force"),
            AssignError::Misread { .. } => Some("--rewrite-misread"),
            AssignError::AssignedElsewhere { .. } => Some("--steal"),
            _ => None,
        }
    }

    /// True when xenpci refused (the device is not hidden, held elsewhere, the value would be
    /// misread, ...) or a step failed after acting (start failed and was undone, devices not
    /// attached): exit status 1. Bad arguments and tool errors are not.
    pub fn is_refusal_or_failure(&self) -> bool {
        matches!(
            self,
            AssignError::NotHidden { .. }
                | AssignError::NoSuchDevice { .. }
                | AssignError::Policy(_)
                | AssignError::AssignedElsewhere { .. }
                | AssignError::Misread { .. }
                | AssignError::ControlDomain { .. }
                | AssignError::NotConfirmed { .. }
                | AssignError::StartFailed { .. }
                | AssignError::NotAttached { .. }
        )
    }
}

/// What to change on one VM.
#[derive(Debug, Clone, Default)]
pub struct EditRequest {
    /// The VM, by name-label or uuid.
    pub vm: String,
    /// Devices to add.
    pub add: Vec<Bdf>,
    /// Devices to remove.
    pub remove: Vec<Bdf>,
    /// Remove every device the VM holds (the `pci` key goes; `remove` is then ignored).
    pub remove_all: bool,
    /// Devices to plug first, in this order (the rest follow in their current order).
    pub order: Vec<Bdf>,
    /// Take devices from other VMs that hold them.
    pub steal: bool,
    /// Assign even devices dom0 still uses (the policy's override; nothing else).
    pub force: bool,
    /// Rewrite a current value xapi would drop or misread from what xenpci can read
    /// unambiguously (instead of refusing to touch it).
    pub rewrite_misread: bool,
    /// Shut a running VM down and start it again so the change takes effect.
    pub restart: bool,
    /// Only read; report the write commands that would run.
    pub dry_run: bool,
    /// Who else uses devices beyond the VMs' other-config:pci (running domains, from
    /// [`crate::ops::facts`]), for the policy.
    pub in_use: InUse,
}

/// A VM named in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmRef {
    /// uuid
    pub uuid: VmUuid,
    /// name-label
    pub name_label: String,
}

/// A device taken from another VM (`--steal`).
#[derive(Debug, Clone, Serialize)]
pub struct Stolen {
    /// The device.
    pub bdf: Bdf,
    /// The VM it was taken from.
    pub from: VmRef,
    /// That VM's power state (a running one still holds it until it stops).
    pub from_power_state: Option<PowerState>,
    /// Its value before.
    pub before: Option<String>,
    /// Its value after (None: key removed).
    pub after: Option<String>,
}

/// What an edit did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct EditReport {
    /// The VM.
    pub vm: VmRef,
    /// Its power state when the command began.
    pub power_state: Option<PowerState>,
    /// other-config:pci before (None: no key).
    pub before: Option<String>,
    /// other-config:pci after (None: no key).
    pub after: Option<String>,
    /// Devices after, in plug order.
    pub devices: Vec<Bdf>,
    /// False when nothing needed writing.
    pub changed: bool,
    /// Devices taken from other VMs.
    pub stolen: Vec<Stolen>,
    /// The xe commands that changed something (or would, in a dry run), argv each, in order.
    pub commands: Vec<Vec<String>>,
    /// The same commands as a plan (reads it was based on, why each step, how to undo it): the
    /// dry-run script.
    pub plan: Plan,
    /// True for a dry run.
    pub dry_run: bool,
    /// True when the VM was shut down and started again.
    pub restarted: bool,
    /// Per device, after a restart.
    pub verified: Vec<Verified>,
    /// Things the user should know.
    pub notes: Vec<String>,
    /// Devices the policy would have refused, assigned because of `force`.
    pub forced: Vec<Refusal>,
}

/// The lock file serialising edits of one VM's other-config: `ROOT/run/lock/xenpci-vm-UUID.lock`.
pub fn lock_path(root: &HostRoot, vm: &VmUuid) -> std::path::PathBuf {
    root.path(format!("/run/lock/xenpci-vm-{vm}.lock"))
}

/// What xapi plugs from a value, split into the devices it reads as they look and the pieces it
/// would drop or misread (read with [`xapi_pci::parse`], xapi's own reading).
#[derive(Debug, Clone, Default)]
pub(super) struct Reading {
    /// Devices xapi plugs as written: (group, device, xapi's plug position), in plug order.
    pub(super) devices: Vec<(i64, Bdf, usize)>,
    /// Pieces xapi drops, reads as another device, or lists twice, each with what happens.
    misread: Vec<String>,
    /// Everything xapi_pci warns about (also plug-order surprises).
    warnings: Vec<String>,
    /// Every real device xapi would plug, misread pieces included (what another VM really holds).
    plugged: Vec<Bdf>,
}

/// The group and device a piece looks like to a reader: `N/` and a strict [`Bdf`], blanks
/// around it ignored (as xapi ignores a trailing one).
fn looks_like(text: &str) -> Option<(i64, Bdf)> {
    let (n, addr) = text.trim_end().split_once('/')?;
    Some((n.parse().ok()?, addr.parse().ok()?))
}

pub(super) fn reading(value: &str) -> Reading {
    let list = xapi_pci::parse(value);
    let mut r = Reading {
        warnings: list.warnings.clone(),
        plugged: list.devices.iter().filter_map(|d| d.addr.bdf()).collect(),
        ..Reading::default()
    };
    r.misread = list
        .dropped
        .iter()
        .map(|d| format!("{:?} (xapi drops it: {})", d.text, d.reason))
        .collect();
    for d in &list.devices {
        let read = xapi_pci::canonical_piece(d.group, d.addr);
        match d.addr.bdf() {
            Some(bdf) if looks_like(&d.text) == Some((d.group, bdf)) => {
                if r.devices.iter().any(|(_, b, _)| *b == bdf) {
                    r.misread.push(format!(
                        "{:?} (listed twice: xapi would plug it twice)",
                        d.text
                    ));
                } else {
                    r.devices.push((d.group, bdf, d.position));
                }
            }
            _ => r
                .misread
                .push(format!("{:?} (xapi reads it as {read})", d.text)),
        }
    }
    r
}

/// The canonical value plugging `devices` in exactly this order (one group per device), None when
/// there is no device (the key is then removed).
fn generate(devices: &[Bdf]) -> Result<Option<String>, AssignError> {
    if devices.is_empty() {
        return Ok(None);
    }
    xapi_pci::generate_ordered(devices)
        .map(Some)
        .map_err(AssignError::Generate)
}

fn list(bdfs: &[Bdf]) -> String {
    if bdfs.is_empty() {
        return "(none)".into();
    }
    bdfs.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn no_dups(bdfs: &[Bdf]) -> Result<(), AssignError> {
    let mut seen = BTreeSet::new();
    for b in bdfs {
        if !seen.insert(*b) {
            return Err(AssignError::Duplicate { bdf: *b });
        }
    }
    Ok(())
}

/// The devices a value gives, in plug order, refusing what xapi would misread unless `rewrite`.
fn readable(
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
fn holders(
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

fn confirm(xe: &Xe, vm: &VmUuid, value: Option<&str>) -> Result<(), AssignError> {
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

/// Runs the changing xe commands of one edit (or, in a dry run, only records them).
struct Ctx<'x, 'p> {
    xe: &'x Xe<'x>,
    dry_run: bool,
    commands: Vec<Vec<String>>,
    plan: Plan,
    progress: &'p mut dyn FnMut(&str),
}

impl Ctx<'_, '_> {
    /// Runs (or, in a dry run, only records) a command that changes something.
    fn act(
        &mut self,
        cmd: CommandSpec,
        why: String,
        undo: Option<CommandSpec>,
    ) -> Result<(), XeError> {
        self.commands.push(cmd.argv());
        self.plan.run(cmd.clone(), why, undo);
        if self.dry_run {
            return Ok(());
        }
        self.xe.run(&cmd).map(drop)
    }

    /// The command that makes a VM's other-config:pci `value` (None: removes the key).
    fn put_cmd(&self, vm: &VmUuid, value: Option<&str>) -> CommandSpec {
        match value {
            Some(v) => self.xe.cmd_set_pci(vm, v),
            None => self.xe.cmd_remove_pci(vm),
        }
    }

    /// Writes or removes other-config:pci (`old`: the value it replaces) and reads it back.
    fn put(
        &mut self,
        vm: &VmUuid,
        value: Option<&str>,
        old: Option<&str>,
        why: String,
    ) -> Result<(), AssignError> {
        let cmd = self.put_cmd(vm, value);
        let undo = self.put_cmd(vm, old);
        match self.act(cmd, why, Some(undo)) {
            // The key was already absent: what we wanted.
            Err(XeError::Failed { stderr, .. }) if value.is_none() && stderr == KEY_NOT_IN_MAP => {}
            r => r?,
        }
        if self.dry_run {
            return Ok(());
        }
        confirm(self.xe, vm, value)
    }

    /// Puts every (VM, value) back; says what happened to each.
    fn restore(&mut self, values: &[(VmUuid, Option<String>)]) -> String {
        let mut said = Vec::new();
        for (vm, value) in values {
            let shown = value
                .as_ref()
                .map_or("no pci key".to_string(), |v| format!("{v:?}"));
            let why = format!("restore VM {vm}'s other-config:pci");
            match self.put(vm, value.as_deref(), None, why) {
                Ok(()) => said.push(format!("other-config:pci of VM {vm} restored to {shown}")),
                Err(e) => said.push(format!(
                    "restoring other-config:pci of VM {vm} FAILED ({e}); it should be {shown}"
                )),
            }
        }
        said.join("; ")
    }

    /// Clean shutdown, wait, start (on `on`), wait. A failed start is returned as Err(start
    /// error) after the shutdown succeeded.
    fn cycle(
        &mut self,
        vm: &VmUuid,
        name: &str,
        on: Option<&str>,
    ) -> Result<Result<(), XeError>, AssignError> {
        let dry = self.dry_run;
        let say = |p: &mut dyn FnMut(&str), line: String| {
            if !dry {
                p(&line)
            }
        };
        say(self.progress, format!("shutting down VM {vm} ({name}) ..."));
        self.act(
            self.xe.cmd_shutdown(vm),
            format!("shut VM {name} down cleanly: xapi reads other-config:pci only when it builds the domain (never vm-reboot)"),
            Some(self.xe.cmd_start(vm, on)),
        )?;
        if !self.dry_run {
            self.xe.wait_power_state(vm, PowerState::Halted)?;
        }
        say(self.progress, format!("VM {vm} is halted; starting it ..."));
        let why = format!(
            "start VM {name} again{}, with the new devices",
            on.map(|h| format!(" on host {h}")).unwrap_or_default()
        );
        let started = self
            .act(self.xe.cmd_start(vm, on), why, None)
            .and_then(|_| {
                if self.dry_run {
                    Ok(())
                } else {
                    self.xe.wait_power_state(vm, PowerState::Running)
                }
            });
        Ok(started)
    }
}

/// Adds and/or removes devices of one VM's other-config:pci (see the module doc for the rules),
/// restarting it when asked. `progress` receives one line per step of a restart.
pub fn edit(
    xe: &Xe,
    root: &HostRoot,
    req: &EditRequest,
    progress: &mut dyn FnMut(&str),
) -> Result<EditReport, AssignError> {
    no_dups(&req.add)?;
    no_dups(&req.remove)?;
    let uuid = xe.vm_lookup(&req.vm)?;
    let mut notes = Vec::new();

    // Per-device locks first (so two runs cannot give one device to two VMs), then per-VM locks;
    // every run takes them in this global order, so none can deadlock.
    let device_locks = if req.dry_run {
        Vec::new()
    } else {
        lock_devices(root, &req.add)?
    };

    // Devices other VMs hold.
    let held = holders(xe, &uuid, &req.add)?;
    // The policy first (so its reasons are the same as every other entry point's). Another
    // VM's other-config:pci is left to the refusal below, whose answer is `steal` (move it), not
    // `force` (which would leave it in two VMs' values); a running domain's device is never
    // taken unforced.
    let mut in_use = req.in_use.clone();
    let target = [Holder::Vm {
        uuid: uuid.to_string(),
        name: req.vm.clone(),
    }];
    // What the VM already holds is with the same guest (an isolation group completed by this
    // request is passed whole).
    if let Some(value) = xe.vm_pci(&uuid)? {
        for b in reading(&value).plugged {
            in_use.add(b, target[0].clone());
        }
    }
    let verdict = policy::decide(
        &crate::identity::guard::Checked::scan(root),
        &in_use,
        &policy::Request {
            action: Action::Give,
            devices: &req.add,
            target: &target,
            force: req.force,
            with_group: false,
        },
    )
    .into_result("assign", &format!(" to VM {}", req.vm))?;
    notes.extend(verdict.notes.iter().cloned());
    notes.extend(verdict.forced_notes());
    let forced = verdict.forced;
    notes.extend(check_hidden(xe, root, &req.vm, &req.add, req.force)?);
    if let Some((bdf, other, _)) = held.first().filter(|_| !req.steal) {
        return Err(AssignError::AssignedElsewhere {
            bdf: *bdf,
            vm: req.vm.clone(),
            other_uuid: other.uuid.clone(),
            other_name: other.name_label.clone(),
        });
    }
    let victims: BTreeSet<VmUuid> = held.iter().map(|(_, v, _)| v.uuid.clone()).collect();

    // Lock every VM whose value may change; then re-read everything.
    let locks = if req.dry_run {
        Vec::new()
    } else {
        lock_vms(root, victims.iter().chain([&uuid]))?
    };
    let info = xe.vm_info(&uuid)?;
    if info.is_control_domain()
        || xe.vm_param(&uuid, "is-control-domain").ok().as_deref() == Some("true")
    {
        return Err(AssignError::ControlDomain {
            vm: req.vm.clone(),
            uuid,
        });
    }
    let before = xe.vm_pci(&uuid)?;
    let current = readable(&uuid, before.as_deref(), req.rewrite_misread, &mut notes)?;
    let remove = if req.remove_all {
        current.clone()
    } else {
        req.remove.clone()
    };
    let devices = merge_devices(&req.vm, &current, &req.add, &remove, &req.order, &mut notes)?;
    let after = generate(&devices)?;
    let changed = after != before;

    let mut ctx = Ctx {
        xe,
        dry_run: req.dry_run,
        commands: Vec::new(),
        plan: Plan::new(format!(
            "other-config:pci of VM {} ({uuid})",
            info.name_label
        )),
        progress,
    };

    ctx.plan.query(
        xe.cmd_get_pci(&uuid),
        before
            .clone()
            .unwrap_or_else(|| "(no pci key: Error: Key pci not found in map)".into()),
    );

    // Steal first: xenpci never leaves a device in two VMs' values.
    let mut stolen = Vec::new();
    for victim in &victims {
        let their_before = xe.vm_pci(victim)?;
        let theirs = readable(
            victim,
            their_before.as_deref(),
            req.rewrite_misread,
            &mut notes,
        )?;
        let kept: Vec<Bdf> = theirs
            .iter()
            .copied()
            .filter(|b| !req.add.contains(b))
            .collect();
        let their_after = generate(&kept)?;
        let vinfo = xe.vm_info(victim)?;
        if their_after != their_before {
            let why = format!(
                "take {} from VM {} ({victim}): it is moved to VM {}",
                list(
                    &req.add
                        .iter()
                        .copied()
                        .filter(|b| theirs.contains(b))
                        .collect::<Vec<_>>()
                ),
                vinfo.name_label,
                info.name_label
            );
            ctx.put(victim, their_after.as_deref(), their_before.as_deref(), why)?;
        }
        if vinfo.power_state == Some(PowerState::Running) {
            notes.push(format!(
                "VM {victim} ({}) is running and still uses the stolen device(s) until it is shut down",
                vinfo.name_label
            ));
        }
        for (b, _, _) in held.iter().filter(|(_, v, _)| &v.uuid == victim) {
            stolen.push(Stolen {
                bdf: *b,
                from: VmRef {
                    uuid: victim.clone(),
                    name_label: vinfo.name_label.clone(),
                },
                from_power_state: vinfo.power_state,
                before: their_before.clone(),
                after: their_after.clone(),
            });
        }
    }

    if changed {
        let why = match &after {
            Some(_) => format!(
                "write VM {}'s whole other-config:pci (devices in plug order: {})",
                info.name_label,
                list(&devices)
            ),
            None => format!(
                "remove only the pci key of VM {}'s other-config (never vm-param-clear)",
                info.name_label
            ),
        };
        ctx.put(&uuid, after.as_deref(), before.as_deref(), why)?;
    }

    let mut restarted = false;
    let mut verified = Vec::new();
    let running = info.power_state == Some(PowerState::Running);
    if req.restart && running {
        // A read, so the dry run asks too: it prints exactly the `vm-start … on=HOST` the run
        // executes.
        let on = xe.resident_on(&uuid).ok().flatten();
        if let Err(source) = ctx.cycle(&uuid, &info.name_label, on.as_deref())? {
            let mut back = vec![(uuid.clone(), before.clone())];
            back.extend(
                stolen
                    .iter()
                    .map(|s| (s.from.uuid.clone(), s.before.clone())),
            );
            back.dedup();
            let restored = ctx.restore(&back);
            (ctx.progress)(&format!("start failed; {restored}"));
            return Err(AssignError::StartFailed {
                vm: uuid,
                source: Box::new(source),
                restored: format!("{restored}; the VM is left halted"),
            });
        }
        restarted = true;
        if !req.dry_run {
            (ctx.progress)(&format!("VM {uuid} is running; verifying its devices ..."));
            verified = verify_attached(xe, root, &uuid, &devices);
            let missing: Vec<Bdf> = verified
                .iter()
                .filter(|v| v.attached == Some(false))
                .map(|v| v.bdf)
                .collect();
            if !missing.is_empty() {
                return Err(AssignError::NotAttached {
                    vm: uuid,
                    missing: list(&missing),
                    is: if missing.len() == 1 { "is" } else { "are" },
                    details: verified
                        .iter()
                        .map(|v| format!("{}: {}", v.bdf, v.how))
                        .collect::<Vec<_>>()
                        .join("; "),
                });
            }
        }
    } else if req.restart {
        notes.push(format!(
            "VM {uuid} is {}: not restarted; the devices take effect at its next start",
            info.power_state
                .map_or("in an unknown state".to_string(), |p| p.to_string())
        ));
    } else if running && changed {
        notes.push(format!(
            "VM {uuid} is running: the change takes effect only when it is shut down and started again (pass --restart)"
        ));
    }
    drop(locks);
    drop(device_locks);
    ctx.plan.notes = notes.clone();

    Ok(EditReport {
        vm: VmRef {
            uuid,
            name_label: info.name_label,
        },
        power_state: info.power_state,
        before,
        after,
        devices,
        changed,
        stolen,
        commands: ctx.commands,
        plan: ctx.plan,
        dry_run: req.dry_run,
        restarted,
        verified,
        notes,
        forced,
    })
}

/// One device of one VM in [`assigned`].
#[derive(Debug, Clone, Serialize)]
pub struct AssignedDevice {
    /// The device.
    pub bdf: Bdf,
    /// Its `N/` group.
    pub group: i64,
    /// Its position in xapi's plug order.
    pub position: usize,
    /// Hidden from dom0 (on this host; false too when not checked here, see `elsewhere`).
    pub hidden: bool,
    /// What dom0 does with it.
    pub dom0: String,
    /// The host the VM runs on when that is another pool member (name-label, else uuid): this
    /// host's sysfs says nothing about that host's dom0, so the device was not checked here.
    pub elsewhere: Option<String>,
    /// Other VMs naming the same device (uuids).
    pub also_assigned_to: Vec<VmUuid>,
}

/// One VM with an other-config:pci key, in [`assigned`].
#[derive(Debug, Clone, Serialize)]
pub struct AssignedVm {
    /// uuid
    pub uuid: VmUuid,
    /// name-label
    pub name_label: String,
    /// power state
    pub power_state: Option<PowerState>,
    /// The raw value.
    pub value: String,
    /// Devices in plug order.
    pub devices: Vec<AssignedDevice>,
    /// Pieces xapi would drop, misread or plug twice, each with what happens.
    pub not_understood: Vec<String>,
    /// Every warning of xapi's reading (also plug-order surprises).
    pub warnings: Vec<String>,
}

/// Every VM's devices, with duplicates across VMs and devices dom0 still uses flagged.
pub fn assigned(xe: &Xe, root: &HostRoot) -> Result<Vec<AssignedVm>, AssignError> {
    let check = Dom0Check::new(root, Some(xe));
    // This host (`INSTALLATION_UUID` in /etc/xensource-inventory): a VM running on another pool
    // member is not checked against this host's sysfs.
    let this_host = crate::bounded_read::read_string(
        &root.path(crate::host::xensource::PATH),
        crate::bounded_read::CONFIG_LIMIT,
    )
    .ok()
    .and_then(|inv| crate::host::xensource::value(&inv, "INSTALLATION_UUID"));
    let host_names = std::cell::OnceCell::new();
    let elsewhere = |vm: &VmUuid| -> Option<String> {
        let here = this_host.as_deref()?;
        let on = xe.resident_on(vm).ok().flatten()?;
        if on == here {
            return None;
        }
        let names: &Vec<super::output::Record> =
            host_names.get_or_init(|| xe.host_list().unwrap_or_default());
        Some(
            names
                .iter()
                .find(|h| h.get("uuid") == Some(on.as_str()))
                .and_then(|h| h.get("name-label"))
                .map_or(on.clone(), str::to_string),
        )
    };
    let mut vms = Vec::new();
    for vm in xe.vm_list()? {
        if !vm.other_config.iter().any(|(k, _)| k == "pci") {
            continue;
        }
        let Some(value) = xe.vm_pci(&vm.uuid)? else {
            continue;
        };
        let parsed = reading(&value);
        vms.push((vm, value, parsed));
    }
    let mut out = Vec::new();
    for (vm, value, parsed) in &vms {
        let away = if vm.power_state == Some(PowerState::Running) {
            elsewhere(&vm.uuid)
        } else {
            None
        };
        let devices = parsed
            .devices
            .iter()
            .map(|&(group, bdf, position)| {
                let (hidden, dom0) = match &away {
                    Some(h) => (false, format!("on host {h}, not checked here")),
                    None => {
                        let s = check.state(bdf);
                        (s.hidden, s.why)
                    }
                };
                AssignedDevice {
                    bdf,
                    group,
                    position,
                    hidden,
                    dom0,
                    elsewhere: away.clone(),
                    also_assigned_to: vms
                        .iter()
                        .filter(|(o, _, p)| o.uuid != vm.uuid && p.plugged.contains(&bdf))
                        .map(|(o, _, _)| o.uuid.clone())
                        .collect(),
                }
            })
            .collect();
        out.push(AssignedVm {
            uuid: vm.uuid.clone(),
            name_label: vm.name_label.clone(),
            power_state: vm.power_state,
            value: value.clone(),
            devices,
            not_understood: parsed.misread.clone(),
            warnings: parsed.warnings.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices(v: &str) -> Vec<String> {
        reading(v).devices.iter().map(|d| d.1.to_string()).collect()
    }

    #[test]
    fn reading_keeps_what_xapi_reads_as_written() {
        assert_eq!(
            devices("0/0000:06:00.0,0/0000:07:00.0"),
            ["0000:07:00.0", "0000:06:00.0"]
        );
        for benign in [
            "0/0000:AB:00.0",
            "0/000:84:00.0",
            "0/0000:06:00.0 ",
            "1/0000:06:00.0",
        ] {
            let r = reading(benign);
            assert!(r.misread.is_empty(), "{benign}: {:?}", r.misread);
            assert_eq!(r.devices.len(), 1, "{benign}");
        }
    }

    #[test]
    fn reading_flags_dropped_misread_and_repeated_pieces() {
        let r = reading("0/0000:06:00.0, 0/0000:07:00.0");
        assert_eq!(devices("0/0000:06:00.0, 0/0000:07:00.0"), ["0000:06:00.0"]);
        assert!(r.misread[0].contains("xapi drops it"), "{:?}", r.misread);
        let r = reading("0/0000:06:00.10");
        assert!(r.devices.is_empty());
        assert!(
            r.misread[0].contains("reads it as 0/0000:06:00.1"),
            "{:?}",
            r.misread
        );
        let r = reading("0/0000:06:00.0;0/0000:07:00.0");
        assert_eq!(r.misread.len(), 1, "{:?}", r.misread);
        let r = reading("0/0000:06:00.0,1/0000:06:00.0");
        assert!(r.misread[0].contains("listed twice"), "{:?}", r.misread);
        assert!(reading("").devices.is_empty());
    }

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
