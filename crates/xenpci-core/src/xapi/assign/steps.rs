//! The steps of an edit, run by the change engine ([`crate::engine`]): write (or remove) one
//! VM's other-config:pci and read it back, shut a VM down cleanly, start it. Each knows the xe
//! command it runs (the dry run and the report show exactly these), how to check on the VM
//! whether it happened, and how to reverse it.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use super::error::AssignError;
use super::request::confirm;
use crate::engine::{Probe, Step};
use crate::exec::CommandSpec;
use crate::ids::VmUuid;
use crate::xapi::{PowerState, Xe, XeError, KEY_NOT_IN_MAP};

/// What the steps run against: the xe handle, and where the restart's progress lines go.
pub(super) struct Cx<'x, 'p> {
    pub(super) xe: &'x Xe<'x>,
    pub(super) progress: RefCell<&'p mut dyn FnMut(&str)>,
}

impl Cx<'_, '_> {
    pub(super) fn say(&self, line: &str) {
        (self.progress.borrow_mut())(line)
    }
}

/// One change an edit makes through xe (journaled as JSON, tagged by `step`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub(super) enum XeStep {
    /// Make VM `vm`'s other-config:pci `value` (None: remove the key; never `vm-param-clear`),
    /// replacing `old`.
    PutPci {
        vm: VmUuid,
        value: Option<String>,
        old: Option<String>,
    },
    /// Shut VM `vm` down cleanly and wait until it is halted (xapi reads other-config:pci only
    /// when it builds the domain; never `vm-reboot`). `on`: where it ran, for the undo's start.
    Shutdown {
        vm: VmUuid,
        name: String,
        on: Option<String>,
    },
    /// Start VM `vm` (on host `on`) and wait until it runs.
    Start { vm: VmUuid, on: Option<String> },
}

/// The command that makes a VM's other-config:pci `value` (None: removes the key).
fn put_cmd(xe: &Xe, vm: &VmUuid, value: Option<&str>) -> CommandSpec {
    match value {
        Some(v) => xe.cmd_set_pci(vm, v),
        None => xe.cmd_remove_pci(vm),
    }
}

/// Writes or removes other-config:pci and reads it back to confirm.
fn put(xe: &Xe, vm: &VmUuid, value: Option<&str>) -> Result<(), AssignError> {
    match xe.run(&put_cmd(xe, vm, value)) {
        // The key was already absent: what we wanted.
        Err(XeError::Failed { stderr, .. }) if value.is_none() && stderr == KEY_NOT_IN_MAP => {}
        r => {
            r?;
        }
    }
    confirm(xe, vm, value)
}

impl XeStep {
    /// The VM the step changes.
    pub(super) fn vm(&self) -> &VmUuid {
        match self {
            XeStep::PutPci { vm, .. } | XeStep::Shutdown { vm, .. } | XeStep::Start { vm, .. } => {
                vm
            }
        }
    }

    /// The xe command the step runs.
    pub(super) fn command(&self, xe: &Xe) -> CommandSpec {
        match self {
            XeStep::PutPci { vm, value, .. } => put_cmd(xe, vm, value.as_deref()),
            XeStep::Shutdown { vm, .. } => xe.cmd_shutdown(vm),
            XeStep::Start { vm, on } => xe.cmd_start(vm, on.as_deref()),
        }
    }

    /// The xe command that reverses it, as the dry run shows it (None: the step is the last
    /// of a restart, nothing follows it that could fail).
    pub(super) fn inverse(&self, xe: &Xe) -> Option<CommandSpec> {
        match self {
            XeStep::PutPci { vm, old, .. } => Some(put_cmd(xe, vm, old.as_deref())),
            XeStep::Shutdown { vm, on, .. } => Some(xe.cmd_start(vm, on.as_deref())),
            XeStep::Start { .. } => None,
        }
    }
}

impl Step<Cx<'_, '_>> for XeStep {
    type Error = AssignError;

    fn describe(&self) -> String {
        match self {
            XeStep::PutPci { vm, value, .. } => match value {
                Some(v) => format!("set other-config:pci of VM {vm} to {v:?}"),
                None => format!("remove the pci key of VM {vm}'s other-config"),
            },
            XeStep::Shutdown { vm, name, .. } => format!("shut VM {vm} ({name}) down"),
            XeStep::Start { vm, on } => match on {
                Some(h) => format!("start VM {vm} on host {h}"),
                None => format!("start VM {vm}"),
            },
        }
    }

    fn perform(&self, cx: &Cx) -> Result<(), AssignError> {
        match self {
            XeStep::PutPci { vm, value, .. } => put(cx.xe, vm, value.as_deref()),
            XeStep::Shutdown { vm, name, .. } => {
                cx.say(&format!("shutting down VM {vm} ({name}) ..."));
                cx.xe.run(&cx.xe.cmd_shutdown(vm))?;
                cx.xe.wait_power_state(vm, PowerState::Halted)?;
                Ok(())
            }
            XeStep::Start { vm, on } => {
                cx.say(&format!("VM {vm} is halted; starting it ..."));
                cx.xe.run(&cx.xe.cmd_start(vm, on.as_deref()))?;
                cx.xe.wait_power_state(vm, PowerState::Running)?;
                Ok(())
            }
        }
    }

    fn probe(&self, cx: &Cx) -> Probe {
        match self {
            XeStep::PutPci { vm, value, old } => match cx.xe.vm_pci(vm) {
                Ok(now) if now == *value => Probe::Done,
                Ok(now) if now == *old => Probe::NotDone,
                _ => Probe::Unknown,
            },
            XeStep::Shutdown { vm, .. } => match cx.xe.power_state(vm) {
                Ok(PowerState::Halted) => Probe::Done,
                Ok(PowerState::Running) => Probe::NotDone,
                _ => Probe::Unknown,
            },
            XeStep::Start { vm, .. } => match cx.xe.power_state(vm) {
                Ok(PowerState::Running) => Probe::Done,
                Ok(PowerState::Halted) => Probe::NotDone,
                _ => Probe::Unknown,
            },
        }
    }

    /// A VM shut down for the restart is left halted when the edit is rolled back (its old
    /// value is put back; starting it again is the admin's call: a start that just failed may
    /// fail again). A started VM is shut down again.
    fn undo(&self, cx: &Cx) -> Result<(), AssignError> {
        match self {
            XeStep::PutPci { vm, old, .. } => put(cx.xe, vm, old.as_deref()),
            XeStep::Shutdown { .. } => Ok(()),
            XeStep::Start { vm, .. } => {
                cx.xe.run(&cx.xe.cmd_shutdown(vm))?;
                cx.xe.wait_power_state(vm, PowerState::Halted)?;
                Ok(())
            }
        }
    }
}
