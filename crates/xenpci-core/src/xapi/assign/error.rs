//! [`AssignError`]: why an assign or unassign was refused or failed, and how each kind maps to
//! the exit status and the option that overrides it.

use super::super::xe::XeError;
use crate::fsutil::WriteError;
use crate::ids::VmUuid;
use crate::pci::Bdf;
use crate::syntax::xapi_pci;

/// Why an assign/unassign was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AssignError {
    /// An xe call failed.
    #[error(transparent)]
    Xe(#[from] XeError),
    /// The change's journal could not be written.
    #[error(transparent)]
    Journal(#[from] crate::engine::JournalError),
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
    /// A step failed after earlier steps had changed something (a value stolen from another
    /// VM, this VM's value, a shutdown); those were undone, as `restored` says.
    #[error("{source}; {restored}")]
    RolledBack {
        /// Why the step failed.
        source: Box<AssignError>,
        /// What happened to every value the edit had changed.
        restored: String,
    },
    /// SIGINT or SIGTERM arrived between two steps; the steps done were undone.
    #[error("{}; {restored}", crate::interrupt::STOPPED)]
    Interrupted {
        /// What happened to every value the edit had changed.
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
                | AssignError::Interrupted { .. }
        ) || matches!(
            self,
            AssignError::RolledBack { source, .. } if source.is_refusal_or_failure()
        )
    }
}
