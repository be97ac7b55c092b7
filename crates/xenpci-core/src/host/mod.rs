//! The host as xenpci sees it, read through one seam: a [`HostRoot`]. Every host file (`/sys`,
//! `/proc`, `/boot`, `/etc`, `/opt`) is opened relative to it, so a fixture tree can stand in
//! for a real dom0 (`--root DIR`, env `XENPCI_ROOT`).
//!
//! [`Inventory::scan`] reads every PCI function ([`PciFunction`]): ids and names, driver,
//! isolation group ([`isolation`]), SR-IOV, reset methods, and why dom0 needs it ([`critical`]).
//! [`preflight`] answers "would passing these functions work?" for `xenpci check`. The fake
//! hosts the tests, the demo and the benchmark use are written by the dev-only
//! `xenpci-fixtures` crate (crates/xenpci-fixtures), which the library does not depend on.

pub mod config;
pub mod critical;
pub mod devdir;
pub mod driver;
pub mod filter;
pub mod finding;
pub mod inventory;
pub mod isolation;
pub mod kvm;
pub mod kvm_check;
pub mod names;
pub mod preflight;
mod root;
pub mod slot;
pub mod sysfs;
pub mod xensource;

pub use driver::DriverState;
pub use inventory::{Fields, Inventory, ListRecord, PciFunction, Sriov};
pub use root::{HostRoot, RootError};
