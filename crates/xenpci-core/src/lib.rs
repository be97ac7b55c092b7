//! xenpci: safe, scriptable PCI passthrough on Xen hosts.
//!
//! A PCI function reaches a Xen guest in three steps, and each has a module here:
//!
//! 1. **Hide it from dom0.** The function must be bound to `pciback` (xen-pciback), either at boot
//!    (`xen-pciback.hide=(DDDD:BB:DD.F)` on dom0's kernel line, see [`syntax::hide_list`]) or live
//!    (`xl pci-assignable-add`, or the sysfs unbind/new_slot/bind dance).
//! 2. **Assign it to a VM.** With plain Xen through `pci = [ ... ]` in xl.cfg ([`xlcfg`],
//!    [`syntax::pci_spec`]) or `xl pci-attach`; with XAPI through the VM's `other-config:pci` key
//!    ([`syntax::xapi_pci`]), read by xapi only when the domain is built.
//! 3. **Check what really happened.** The host model ([`host`]) reads sysfs, procfs and boot files
//!    through one seam, a host root; external programs (`xe`, `xl`, `xen-cmdline`) run through the
//!    other seam, a [`exec::Runner`], which can be the real system, a mock, or a dry run.
//!
//! Words: the PCI *segment* (what lspci calls the domain) is the first part of a [`pci::Bdf`];
//! "domain" always means a Xen domain ([`ids::DomId`]).
#![forbid(unsafe_code)]

pub mod bounded_read;
pub mod config;
pub mod engine;
pub mod exec;
pub mod flows;
pub mod fsutil;
pub mod hide;
pub mod host;
pub mod identity;
pub mod ids;
pub mod interrupt;
pub mod journal;
pub mod ops;
pub mod pci;
pub mod plan;
pub mod plan_journal;
pub mod policy;
pub mod pool;
pub mod syntax;
pub mod xapi;
pub mod xenstore;
pub mod xlcfg;

/// True when this build carries the fault hooks the failure tests drive (`XENPCI_FAIL_WRITE`,
/// `XENPCI_CRASH_*_STEP`): the `fault-injection` cargo feature, off by default and in the packages.
pub const FAULT_INJECTION: bool = cfg!(feature = "fault-injection");
