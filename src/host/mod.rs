//! The host as xenpci sees it, read through one seam: a [`HostRoot`]. Every host file (`/sys`,
//! `/proc`, `/boot`, `/etc`, `/opt`) is opened relative to it, so a fixture tree can stand in
//! for a real dom0 (`--root DIR`, env `XENPCI_ROOT`).

mod root;

pub use root::HostRoot;
