//! Hiding PCI functions from dom0 so they can be passed through: persistently (dom0's boot
//! configuration gets a `xen-pciback.hide=(DDDD:BB:SS.F)...` list) and now (the function is
//! handed to pciback with `xl pci-assignable-add` or the sysfs unbind / `new_slot` / `bind`
//! sequence), as a [`Plan`] that can be shown (`--dry-run`) or executed with rollback.
//!
//! The traps this module exists for: `xen-cmdline --set-dom0` replaces the whole list (so every
//! edit here merges with what is there), a malformed entry disables pciback entirely (so an
//! unparsable existing list is refused, not extended), the short `(BB:SS.F)` form breaks XCP-ng
//! 8.3's PCI API (so every list written is in the long form), and hiding dom0's own disk
//! controller panics the host (so [`apply`] asks [`crate::policy`] first: critical devices, bridges
//! and partial isolation groups are refused unless forced).
//!
//! * [`methods`]: one module per persistent method (xen-cmdline, xapi, grub, extlinux, modprobe),
//!   the live methods, method detection and the `hidden` state report.
//! * [`hide_param`]: editing the hide parameter inside one argument string.
//! * [`vfio`], [`vfio_persist`]: on a KVM host, hiding means binding to vfio-pci (now, and for
//!   every boot by a per-function udev rule, the initramfs and the kernel's IOMMU option).

pub mod apply;
pub mod hide_param;
pub mod methods;
pub mod vfio;
pub mod vfio_persist;

use std::io;
use std::path::PathBuf;

use crate::bounded_read;
use crate::exec::{ExecError, Runner};
use crate::host::HostRoot;
use crate::pci::Bdf;
use crate::plan::Plan;

pub use hide_param::{Change, HideList};
pub use methods::{LiveMethod, Method};

/// Where the host is and how commands run while planning (read-only queries run for real even
/// for a dry run; the plan itself is executed separately).
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The host root.
    pub root: &'a HostRoot,
    /// The command runner.
    pub runner: &'a dyn Runner,
}

/// Why hiding or unhiding could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum HideError {
    /// The hide list found in a file or command output is unusable.
    #[error("{place}: {problem}")]
    List {
        /// Where the list was (file and line, or command).
        place: String,
        /// What is wrong with it.
        problem: hide_param::HideParamError,
    },
    /// A query command failed.
    #[error(transparent)]
    Exec(Box<ExecError>),
    /// A host file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// Host path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The method's configuration is not on this host.
    #[error("{method}: {what}")]
    NotHere {
        /// The method.
        method: Method,
        /// What is missing.
        what: String,
    },
    /// No persistent method fits this host.
    #[error("cannot tell how this host boots: {0} (choose one with --method xen-cmdline, xapi, grub, extlinux or modprobe)")]
    Undetected(String),
    /// The device does not exist.
    #[error("no PCI function {bdf} on this host ({path} does not exist)")]
    NoDevice {
        /// The device.
        bdf: Bdf,
        /// The sysfs path looked at.
        path: PathBuf,
    },
    /// The live sysfs method needs pciback.
    #[error(
        "the pciback driver is not loaded ({path} does not exist): load it with `modprobe \
         xen-pciback`, or hide persistently only (--persistent)"
    )]
    NoPciback {
        /// The driver directory.
        path: PathBuf,
    },
    /// XAPI has no PCI object for a device.
    #[error(
        "xapi has no PCI object for {bdf} (`{command}` printed nothing; xapi only tracks some \
         device classes): use --method xen-cmdline"
    )]
    NoPciObject {
        /// The device.
        bdf: Bdf,
        /// The lookup command.
        command: String,
    },
    /// A host file is not a regular file (a FIFO, a device) or is too large.
    #[error(transparent)]
    Read(crate::bounded_read::ReadError),
    /// The host root is unusable (missing).
    #[error(transparent)]
    Root(#[from] crate::host::RootError),
    /// The journal of an interrupted run could not be replayed.
    #[error(transparent)]
    Journal(#[from] crate::plan_journal::PlanJournalError),
    /// The hide lock could not be taken.
    #[error("{0}")]
    Refused(String),
    /// On a KVM host: what the vfio binding cannot do here, or an option that does not apply.
    #[error("{0}")]
    Kvm(String),
    /// The safety policy refused ([`crate::policy`]).
    #[error(transparent)]
    Policy(#[from] crate::policy::Refused),
}

impl From<ExecError> for HideError {
    fn from(e: ExecError) -> HideError {
        HideError::Exec(Box::new(e))
    }
}

/// Reads a host file through the root (symlinks resolved inside it; a regular UTF-8 file of at
/// most [`bounded_read::CONFIG_LIMIT`] bytes); Ok(None) when it does not exist.
pub(crate) fn read_host(root: &HostRoot, path: &str) -> Result<Option<String>, HideError> {
    let io = |source| HideError::Io {
        path: path.into(),
        source,
    };
    match bounded_read::read(&root.path(path), bounded_read::CONFIG_LIMIT) {
        Ok(None) => Ok(None),
        Ok(Some(b)) => String::from_utf8(b)
            .map(Some)
            .map_err(|e| io(io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()))),
        Err(bounded_read::ReadError::Io { source, .. }) => Err(io(source)),
        Err(e) => Err(HideError::Read(e)),
    }
}

/// What to do: which devices, which way, and where.
#[derive(Debug, Clone)]
pub struct Request {
    /// Hide or unhide, and which devices.
    pub change: Change,
    /// Edit the boot configuration with this method (None: leave it).
    pub persistent: Option<Method>,
    /// Change the running dom0 with this live method (None: leave it).
    pub now: Option<LiveMethod>,
}

/// The lock that serialises every hide/unhide on one host (planning and executing under it).
pub fn lock_path(root: &HostRoot) -> PathBuf {
    root.path("/run/lock/xenpci-hide.lock")
}

/// Plans a request: the persistent edit first, then the live change.
pub fn plan(ctx: Ctx<'_>, req: &Request) -> Result<Plan, HideError> {
    let verb = match req.change {
        Change::Add(_) => "hide",
        Change::Remove(_) => "unhide",
    };
    let names: Vec<String> = req.change.bdfs().iter().map(Bdf::to_string).collect();
    let mut plan = Plan::new(format!("{verb} {}", names.join(" ")));
    if let Some(m) = req.persistent {
        methods::plan_persistent(m, ctx, &req.change, &mut plan)?;
    }
    if let Some(l) = req.now {
        methods::live::plan(l, ctx, &req.change, &mut plan)?;
    }
    let mut seen = std::collections::HashSet::new();
    plan.notes.retain(|n| seen.insert(n.clone()));
    Ok(plan)
}
