//! The operations layer: one library function per operation that gives a device to a guest,
//! hides it, or takes it back, each applying [`crate::policy`] with the facts it gathers
//! ([`facts`]) — so the CLI and the XAPI plugin only parse arguments and render. Every error is an
//! [`OpError`] with a [`Kind`] (which decides the exit status and the plugin fault), the failing
//! input, and the override that would apply, as data.
//!
//! * [`apply`]: desired state — `apply FILE`, `export`.
//! * [`check`]: the preflight with the policy's verdict.
//! * [`facts`]: who uses which device (xl, xe, xl.cfg).
//! * [`give`]: hide, unhide, attach, xl.cfg add-pci.
//! * [`hidden`]: the hidden state with the method given or detected.
//! * [`kvm_handoff`]: libvirt's hostdev XML, qemu.conf's vfio ACL, OpenNebula's filter.
//! * [`list`]: which functions `list` selects (`-d`, `-s`).
//! * [`sriov`]: SR-IOV PFs and their VFs — `sriov [PF]`, `sriov set PF N`.
//! * [`sriov_boot`]: `sriov restore` — the recorded VF counts and VF hides, applied again at boot.
//! * [`vf_hide`]: a VF's hide for every boot (a udev rule by PF and index, not the boot line).
//! * [`record`]: what hide/assign/apply record in the identity state.
//! * [`maintenance`]: a host emptied for maintenance, its pinned guests started again by `resume`.
//! * [`verify`]: device identities — `verify [--repair]`, `adopt`, and what hide records.

pub mod apply;
pub mod check;
pub mod facts;
pub mod give;
pub mod hidden;
pub mod kvm_handoff;
pub mod list;
pub mod maintenance;
pub mod record;
pub mod sriov;
pub mod sriov_boot;
pub mod sriov_vf;
pub mod verify;
pub mod vf_hide;

use serde::Serialize;

use crate::flows::FlowError;
use crate::hide::HideError;
use crate::policy::{Override, Refused};
use crate::xapi::assign::AssignError;
use crate::xapi::XeError;

/// What kind of "no" an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// xenpci said no before changing anything.
    Refused,
    /// A step failed after acting; what was done was undone (or the report says what was not).
    Failed,
    /// The input is malformed or names something that is not there.
    BadInput,
    /// A tool xenpci ran failed outright (or could not run).
    ToolFailed,
}

impl Kind {
    /// The exit status (README "Exit status"): 1 for a refusal or a rolled-back failure, 2 for
    /// bad input or a tool that failed.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Refused | Kind::Failed => 1,
            Kind::BadInput | Kind::ToolFailed => 2,
        }
    }

    /// The kind of a hide/unhide error.
    pub fn of_hide(e: &HideError) -> Kind {
        match e {
            HideError::Refused(_) | HideError::Policy(_) => Kind::Refused,
            HideError::Exec(_) | HideError::Io { .. } => Kind::ToolFailed,
            _ => Kind::BadInput,
        }
    }

    /// The kind of a flow error.
    pub fn of_flow(e: &FlowError) -> Kind {
        match e {
            // docs/mapping.md: an unmapped device, a host without an entry and an identity
            // mismatch are refusals (exit 1); a mapping file that cannot be read is bad input.
            FlowError::Refused { .. }
            | FlowError::Policy(_)
            | FlowError::Mapping(
                crate::flows::mapping::MappingError::Unmapped { .. }
                | crate::flows::mapping::MappingError::NoHost { .. }
                | crate::flows::mapping::MappingError::Mismatch { .. },
            ) => Kind::Refused,
            FlowError::BadInput { .. } | FlowError::Mapping(_) => Kind::BadInput,
            _ => Kind::ToolFailed,
        }
    }

    /// The kind of an assign error.
    pub fn of_assign(e: &AssignError) -> Kind {
        match e {
            // a step failed and was rolled back: the step's error says what kind
            AssignError::RolledBack { source, .. } => Kind::of_assign(source),
            AssignError::Policy(_) => Kind::Refused,
            AssignError::Xe(XeError::NoSuchVm { .. } | XeError::AmbiguousVm { .. }) => {
                Kind::BadInput
            }
            e if e.is_refusal() => Kind::Refused,
            e if e.is_refusal_or_failure() => Kind::Failed,
            AssignError::Xe(_) | AssignError::Lock(_) | AssignError::Journal(_) => Kind::ToolFailed,
            _ => Kind::BadInput,
        }
    }

    /// The kind of any error a command returned: the library's kinds where it is one of their
    /// errors, a failed tool for a command that could not run, else bad input.
    pub fn of_any(e: &(dyn std::error::Error + 'static)) -> Kind {
        if let Some(o) = e.downcast_ref::<OpError>() {
            o.kind()
        } else if let Some(f) = e.downcast_ref::<FlowError>() {
            Kind::of_flow(f)
        } else if let Some(h) = e.downcast_ref::<HideError>() {
            Kind::of_hide(h)
        } else if let Some(a) = e.downcast_ref::<AssignError>() {
            Kind::of_assign(a)
        } else if e.downcast_ref::<crate::exec::ExecError>().is_some()
            || e.downcast_ref::<XeError>().is_some()
        {
            Kind::ToolFailed
        } else {
            Kind::BadInput
        }
    }

    /// The XAPI plugin's fault code.
    pub fn fault(self) -> &'static str {
        match self {
            Kind::Refused => "XENPCI_REFUSED",
            Kind::BadInput => "XENPCI_INVALID_ARGUMENT",
            Kind::Failed | Kind::ToolFailed => "XENPCI_FAILED",
        }
    }
}

/// Why an operation did not happen (or did not finish).
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The policy refused.
    #[error(transparent)]
    Policy(#[from] Refused),
    /// Input that does not parse.
    #[error("{what} {input:?}: expected {expected}")]
    BadInput {
        /// What was read.
        what: String,
        /// The input.
        input: String,
        /// What was expected.
        expected: String,
    },
    /// Hiding or unhiding.
    #[error(transparent)]
    Hide(#[from] HideError),
    /// A hotplug flow.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// An XAPI assign.
    #[error(transparent)]
    Assign(#[from] AssignError),
    /// An xl.cfg edit.
    #[error(transparent)]
    Edit(#[from] crate::xlcfg::EditError),
    /// The identity state file.
    #[error(transparent)]
    State(#[from] crate::identity::StateError),
    /// A plan's step failed; the steps done were undone (or the failure says which were not).
    #[error(transparent)]
    Plan(Box<crate::plan::Failure>),
}

impl OpError {
    /// What kind of error it is.
    pub fn kind(&self) -> Kind {
        match self {
            OpError::Policy(_) => Kind::Refused,
            OpError::BadInput { .. } | OpError::Edit(_) => Kind::BadInput,
            OpError::Hide(e) => Kind::of_hide(e),
            OpError::Flow(e) => Kind::of_flow(e),
            OpError::Assign(e) => Kind::of_assign(e),
            OpError::State(crate::identity::StateError::Write(_)) => Kind::Failed,
            OpError::State(_) => Kind::BadInput,
            OpError::Plan(_) => Kind::Failed,
        }
    }

    /// The policy's refusal, when that is what this is.
    pub fn refused(&self) -> Option<&Refused> {
        match self {
            OpError::Policy(r)
            | OpError::Hide(HideError::Policy(r))
            | OpError::Flow(FlowError::Policy(r))
            | OpError::Assign(AssignError::Policy(r)) => Some(r),
            _ => None,
        }
    }

    /// The override that would apply, as data (the front end spells it).
    pub fn overridable(&self) -> Option<Override> {
        if let Some(r) = self.refused() {
            return Some(r.overridable);
        }
        match self {
            OpError::Assign(e) if e.hint() == Some("--force") => Some(Override::Force),
            _ => None,
        }
    }

    /// The failing input, when the error names one (a refused device list, a bad value).
    pub fn input(&self) -> Option<String> {
        if let Some(r) = self.refused() {
            return Some(
                r.refusals
                    .iter()
                    .map(|x| x.bdf.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        match self {
            OpError::BadInput { input, .. } | OpError::Flow(FlowError::BadInput { input, .. }) => {
                Some(input.clone())
            }
            _ => None,
        }
    }
}
