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
//!
//! The module holds the request and the report; [`request`] builds the new values and takes the
//! locks, [`steps`] are the xe changes the change engine ([`crate::engine`]) runs — so a failure
//! after a value was stolen from another VM puts that VM's value back too — and [`assigned`] is
//! the read-only listing.

mod assigned;
mod error;
mod request;
mod steps;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use assigned::{assigned, AssignedDevice, AssignedVm};
pub use error::AssignError;
pub use request::{
    check_hidden, device_lock_path, lock_devices, lock_path, lock_vms, merge_devices, write_pci,
};

use request::{generate, holders, list, no_dups, readable};
use steps::{Cx, XeStep};

use super::reading::reading;
use super::verify::{verify_attached, Verified};
use super::xe::{PowerState, Xe};
use crate::engine::{self, change, MemJournal, Status, UndoPolicy, UndoResult};
use crate::fsutil;
use crate::host::HostRoot;
use crate::ids::VmUuid;
use crate::pci::Bdf;
use crate::plan::Plan;
use crate::policy::{self, Action, Holder, InUse, Refusal};

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
    /// Where the edit's journal is kept (`changes/<id>.json` under it), so that `xenpci
    /// resume` can finish or roll back an edit killed half-way; None: in memory only.
    pub state_dir: Option<PathBuf>,
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

    let title = format!("other-config:pci of VM {} ({uuid})", info.name_label);
    let mut plan: engine::Plan<XeStep> = engine::Plan::new(title);
    let get = xe.cmd_get_pci(&uuid);
    plan.fact(
        get.to_string(),
        before
            .clone()
            .unwrap_or_else(|| "(no pci key: Error: Key pci not found in map)".into()),
    );

    // Steal first: xenpci never leaves a device in two VMs' values. Every value is read (and
    // refused when misread) before anything is written.
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
            plan.push(
                XeStep::PutPci {
                    vm: victim.clone(),
                    value: their_after.clone(),
                    old: their_before.clone(),
                },
                why,
            );
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
        plan.push(
            XeStep::PutPci {
                vm: uuid.clone(),
                value: after.clone(),
                old: before.clone(),
            },
            why,
        );
    }

    let running = info.power_state == Some(PowerState::Running);
    let restarted = req.restart && running;
    if restarted {
        // A read, so the dry run asks too: it prints exactly the `vm-start … on=HOST` the run
        // executes.
        let on = xe.resident_on(&uuid).ok().flatten();
        let name = &info.name_label;
        plan.push(
            XeStep::Shutdown {
                vm: uuid.clone(),
                name: name.clone(),
                on: on.clone(),
            },
            format!("shut VM {name} down cleanly: xapi reads other-config:pci only when it builds the domain (never vm-reboot)"),
        );
        plan.push(
            XeStep::Start {
                vm: uuid.clone(),
                on: on.clone(),
            },
            format!(
                "start VM {name} again{}, with the new devices",
                on.map(|h| format!(" on host {h}")).unwrap_or_default()
            ),
        );
    }
    let (mut shown, commands) = script(xe, &plan, get);

    let mut verified = Vec::new();
    if !req.dry_run {
        let kind = if req.add.is_empty() {
            "unassign"
        } else {
            "assign"
        };
        run(xe, &plan, req.state_dir.as_deref(), kind, progress)?;
    }
    if restarted && !req.dry_run {
        progress(&format!("VM {uuid} is running; verifying its devices ..."));
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
    } else if req.restart && !running {
        notes.push(format!(
            "VM {uuid} is {}: not restarted; the devices take effect at its next start",
            info.power_state
                .map_or("in an unknown state".to_string(), |p| p.to_string())
        ));
    } else if !req.restart && running && changed {
        notes.push(format!(
            "VM {uuid} is running: the change takes effect only when it is shut down and started again (pass --restart)"
        ));
    }
    drop(locks);
    drop(device_locks);
    shown.notes = notes.clone();

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
        commands,
        plan: shown,
        dry_run: req.dry_run,
        restarted,
        verified,
        notes,
        forced,
    })
}

/// The plan as the report and the dry run show it (each step's xe command, why, and the
/// command that reverses it), and the changing commands' argv in order. `get`: the read the
/// plan starts from.
fn script(
    xe: &Xe,
    plan: &engine::Plan<XeStep>,
    get: crate::exec::CommandSpec,
) -> (Plan, Vec<Vec<String>>) {
    let mut shown = Plan::new(plan.title.clone());
    for f in &plan.facts {
        shown.query(get.clone(), f.answer.clone());
    }
    let mut commands = Vec::new();
    for p in &plan.steps {
        let cmd = p.step.command(xe);
        commands.push(cmd.argv());
        shown.run(cmd, p.why.clone(), p.step.inverse(xe));
    }
    (shown, commands)
}

/// Runs the plan's steps on the change engine, journaled under `state_dir` when given. On a
/// failure every value written is put back (each one tried even when another fails: they are
/// independent), and the error says what happened to each.
fn run(
    xe: &Xe,
    plan: &engine::Plan<XeStep>,
    state_dir: Option<&Path>,
    kind: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<(), AssignError> {
    let steps: Vec<XeStep> = plan.steps.iter().map(|p| p.step.clone()).collect();
    if steps.is_empty() {
        // nothing to change: no journal either
        return Ok(());
    }
    let cx = Cx {
        xe,
        progress: RefCell::new(progress),
    };
    let opts = engine::Options::new(UndoPolicy::ContinuePastFailure);
    let out = match state_dir {
        None => {
            let mut journal = MemJournal::new(steps.len());
            engine::executor::execute(&steps, &cx, &mut journal, &opts)?
        }
        Some(dir) => {
            let subject = steps.last().map_or(String::new(), |s| s.vm().to_string());
            let mut journal = change::create(dir, kind, &subject, plan, |s| {
                engine::Step::<Cx>::describe(s)
            })?;
            let _lock = fsutil::lock(&journal.lock_path())?;
            engine::executor::execute(&steps, &cx, &mut journal, &opts)?
        }
    };
    if out.status == Status::Done {
        return Ok(());
    }
    let restored = restored(&steps, &out.undos);
    let Some(failure) = out.failure else {
        return Ok(());
    };
    match (&steps[failure.step], failure.error) {
        (_, None) => Err(AssignError::Interrupted { restored }),
        (XeStep::Start { vm, .. }, Some(AssignError::Xe(source))) => {
            cx.say(&format!("start failed; {restored}"));
            Err(AssignError::StartFailed {
                vm: vm.clone(),
                source: Box::new(source),
                restored: format!("{restored}; the VM is left halted"),
            })
        }
        (_, Some(e)) if out.undos.is_empty() => Err(e),
        (_, Some(e)) => Err(AssignError::RolledBack {
            source: Box::new(e),
            restored,
        }),
    }
}

/// How a resumed edit ended.
#[derive(Debug, Clone, Serialize)]
pub struct Resumed {
    /// The change's id.
    pub id: String,
    /// Its final status.
    pub status: Status,
    /// The step that failed and why, when one did now.
    pub failure: Option<String>,
    /// Steps undone, in the order they were undone.
    pub undone: Vec<String>,
    /// Undos that failed.
    pub stuck: Vec<String>,
}

/// Finishes an edit journaled under `state_dir` (change `id`) that a crash interrupted, or
/// rolls it back when `rollback` (or when it was rolling back or stuck): a step whose outcome
/// was not journaled is settled by reading the VM (its value, its power state). Holds the
/// VMs' locks and the change's lock meanwhile.
pub fn resume(
    xe: &Xe,
    root: &HostRoot,
    state_dir: &Path,
    id: &str,
    rollback: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<Resumed, AssignError> {
    let probe: engine::DiskJournal<change::ChangeRecord<XeStep>> = change::open(state_dir, id)?;
    let _lock = fsutil::lock(&probe.lock_path())?;
    let steps: Vec<XeStep> = probe.record.steps.iter().map(|s| s.step.clone()).collect();
    let _vm_locks = lock_vms(root, steps.iter().map(XeStep::vm))?;
    let mut journal: engine::DiskJournal<change::ChangeRecord<XeStep>> =
        change::open(state_dir, id)?;
    let status = journal.record.status;
    if status.is_final() {
        return Ok(Resumed {
            id: id.into(),
            status,
            failure: None,
            undone: Vec::new(),
            stuck: Vec::new(),
        });
    }
    let cx = Cx {
        xe,
        progress: RefCell::new(progress),
    };
    let opts = engine::Options::new(UndoPolicy::ContinuePastFailure);
    let out = if rollback || status == Status::Stuck {
        engine::executor::rollback(&steps, &cx, &mut journal, None, &opts)?
    } else {
        engine::executor::execute(&steps, &cx, &mut journal, &opts)?
    };
    Ok(Resumed {
        id: id.into(),
        status: out.status,
        undone: out.undone(),
        stuck: out.stuck(),
        failure: out.failure.map(|f| f.text),
    })
}

/// What the rollback did to each other-config:pci it put back, in the order it did it.
fn restored(steps: &[XeStep], undos: &[engine::Undo]) -> String {
    let said: Vec<String> = undos
        .iter()
        .filter_map(|u| {
            let XeStep::PutPci { vm, old, .. } = &steps[u.step] else {
                return None;
            };
            let shown = old
                .as_ref()
                .map_or("no pci key".to_string(), |v| format!("{v:?}"));
            Some(match &u.result {
                UndoResult::Undone => format!("other-config:pci of VM {vm} restored to {shown}"),
                UndoResult::NoInverse | UndoResult::Failed(_) => {
                    let why = match &u.result {
                        UndoResult::Failed(e) => e.clone(),
                        _ => "no inverse".into(),
                    };
                    format!(
                        "restoring other-config:pci of VM {vm} FAILED ({why}); it should be {shown}"
                    )
                }
            })
        })
        .collect();
    if said.is_empty() {
        "no other-config:pci had been changed".into()
    } else {
        said.join("; ")
    }
}
