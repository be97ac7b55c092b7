//! XAPI through its `xe` CLI: [`Xe`] builds every call as a [`crate::exec::CommandSpec`] and reads
//! xe's outputs ([`output`]) and exact error texts; [`assign`] holds the flows that give PCI
//! functions to VMs through `other-config:pci` (and take them back) safely; [`dom0`] tells whether
//! dom0 still uses a function; [`verify`] checks after a start that the devices are plugged.

pub mod assign;
pub mod dom0;
pub mod output;
mod reading;
pub mod verify;
mod xe;

pub use xe::{
    Dom0Access, PowerState, VmInfo, Xe, XeError, KEY_NOT_FOUND, KEY_NOT_IN_MAP, NO_MATCHING_VMS,
    UUID_INVALID, VM_BAD_POWER_STATE, VM_HAS_PCI_ATTACHED,
};
