//! XenStore: reading what libxl and xen-pciback really wrote, instead of trusting a tool's exit code.
//!
//! * [`Store`] is the seam: `read`, `directory`, `write`, `rm`. [`XsStore`] talks to a real
//!   xenstored through the `xenstore-rs` crate (the socket named by `XENSTORED_PATH`, else
//!   `/run/xenstored/socket`, else `/dev/xen/xenbus`); [`MemStore`] is an in-memory tree with the
//!   same semantics, for unit tests.
//! * [`backend`] parses the PCI backend of a domain (`/local/domain/0/backend/pci/<domid>/0`) the
//!   way `xl pci-list` reads it, and the guest's pcifront.
//! * [`verify`] decides whether a device is really attached (reference xen-xl.md §5,
//!   "Checking an attach"): attached, half-attached, stale entries, missing backend.
//! * [`layout`] writes the trees libxl and pciback write, for mocks and tests.

pub mod backend;
pub mod layout;
pub mod store;
pub mod verify;

pub use backend::{
    list_backend_devices, pcifront, pcifront_present, read_backend, BackendDevice, PciBackend,
    PciFrontend, XenbusState,
};
pub use layout::{AttachedDevice, BackendTree};
pub use store::{MemStore, Store, XsStore};
pub use verify::{verify_pci_backend, GuestKind, Verdict};

use crate::ids::DomId;
use crate::pci::Bdf;

/// Why a XenStore operation or a XenStore value failed.
#[derive(Debug, thiserror::Error)]
pub enum XenStoreError {
    /// No xenstored could be reached.
    #[error("cannot connect to xenstored (socket {socket:?}, then /dev/xen/xenbus): {source}")]
    Connect {
        /// The socket path tried first (`XENSTORED_PATH` or the default).
        socket: String,
        /// What the last attempt reported.
        source: std::io::Error,
    },
    /// A request failed for another reason than "no such node".
    #[error("xenstore {op} {path:?} failed: {source}")]
    Request {
        /// `read`, `directory`, `write` or `rm`.
        op: &'static str,
        /// The node.
        path: String,
        /// The daemon's answer (`XS interface error EACCES`, ...) or the I/O error.
        source: std::io::Error,
    },
    /// A path that xenstored would reject (not absolute, empty component, bad character).
    #[error("invalid xenstore path {path:?}: {reason}")]
    InvalidPath {
        /// The path.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A node holds a value that is not in the format libxl/pciback write.
    #[error("xenstore node {path} = {value:?}: expected {expected}")]
    Malformed {
        /// The node.
        path: String,
        /// Its value.
        value: String,
        /// The format that was expected.
        expected: &'static str,
    },
}

/// `/local/domain/0/backend/pci/<domid>/0`: the PCI backend of a domain (always in dom0, devid 0).
pub fn backend_path(domid: DomId) -> String {
    format!("/local/domain/0/backend/pci/{domid}/0")
}

/// `/local/domain/<domid>/device/pci/0`: the guest's pcifront.
pub fn frontend_path(domid: DomId) -> String {
    format!("/local/domain/{domid}/device/pci/0")
}

/// `/local/domain/<domid>`: present while the domain exists.
pub fn domain_path(domid: DomId) -> String {
    format!("/local/domain/{domid}")
}

/// `/libxl/pci/<DDDD-BB-SS-F>`: libxl's bookkeeping for a host device (`domid`, `driver_path`, `name`).
pub fn libxl_pci_path(bdf: Bdf) -> String {
    format!("/libxl/pci/{}", bdf.xenstore_key())
}

/// Checks a path the way xenstored does before sending it: absolute, no empty component, only the
/// characters `[A-Za-z0-9-/_@]` (xenstore.txt), at most 3072 bytes.
pub fn check_path(path: &str) -> Result<(), XenStoreError> {
    let bad = |reason| {
        Err(XenStoreError::InvalidPath {
            path: path.to_string(),
            reason,
        })
    };
    if !path.starts_with('/') {
        return bad("not absolute (must start with '/')");
    }
    if path.len() > 3072 {
        return bad("longer than 3072 bytes");
    }
    if path != "/" && (path.ends_with('/') || path.contains("//")) {
        return bad("empty path component");
    }
    if path
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || "-/_@".contains(c)))
    {
        return bad("only letters, digits and - / _ @ are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_libxl() {
        let bdf: Bdf = "0000:00:02.0".parse().unwrap();
        assert_eq!(backend_path(DomId(1)), "/local/domain/0/backend/pci/1/0");
        assert_eq!(frontend_path(DomId(1)), "/local/domain/1/device/pci/0");
        assert_eq!(libxl_pci_path(bdf), "/libxl/pci/0000-00-02-0");
    }

    #[test]
    fn check_path_rejects_what_xenstored_rejects() {
        assert!(check_path("/local/domain/0").is_ok());
        assert!(check_path("/").is_ok());
        for p in ["local", "/a//b", "/a/", "/a/0000:00:02.0", "/a b"] {
            let e = check_path(p).unwrap_err().to_string();
            assert!(e.contains(&format!("{p:?}")), "{e}");
        }
    }
}
