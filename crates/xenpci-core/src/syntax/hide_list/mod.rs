//! The dom0 hide list `xen-pciback.hide=(DDDD:BB:SS.F)(...)`, read exactly as Linux's
//! `pcistub_init` (drivers/xen/xen-pciback/pci_stub.c) reads it, merged and edited without
//! losing anything, and found inside kernel command lines and modprobe.d files.
//!
//! The kernel tries six forms per entry, in this order, with its own `sscanf` (a format blank
//! matches any run of blanks, `%x` skips leading blanks, takes an optional `0x` and wraps modulo
//! 2^32): `(D:B:S.F)`, `(D:B:S.*)`, `(D:B:*.*)`, `(B:S.F)`, `(B:S.*)`, `(B:*.*)`, each with
//! optional blanks around it. No comma, no other separator. **One entry that matches none makes
//! the kernel log `Error parsing pci_devs_to_hide at "<rest>"` and refuse to register pciback at
//! all** (no device is hidden); an entry out of range (slot > 0x1f, function > 7, bus > 0xff,
//! segment > 0xffff) aborts the same way, without that message. [`parse`] reports both as a
//! [`HideError`].
//!
//! xenpci writes only the long form `(DDDD:BB:SS.F)` with no blanks, the only form XCP-ng 8.3's
//! xapi (`Pciops.get_hidden_pcidevs`) can read. Entries it did not touch stay byte-for-byte,
//! short form included, and are reported ([`HideList::short_form_entries`]) so the caller can
//! decide to [`HideList::normalised`] them.
//!
//! Removing a device that is hidden only through a wildcard entry: [`WildcardPolicy::Refuse`]
//! (an error naming the entry) or [`WildcardPolicy::Split`], which replaces a slot wildcard
//! `(D:B:S.*)` by the seven other functions. A bus wildcard `(D:B:*.*)` is never split: it would
//! take 255 entries (3.5 KiB), more than the 2048-byte x86 kernel command line.
//!
//! Grammar: `grammar/hide-list.ebnf`.
//!
//! The module holds: [`pattern`] (addresses with wildcards), [`grammar`] (the kernel's reading of
//! one entry), [`list`] (the list, its parse and its edits), [`cmdline`] and [`modprobe`] (the
//! list's place in a kernel command line and in a modprobe.d file).

pub mod cmdline;
pub mod grammar;
pub mod list;
pub mod modprobe;
pub mod pattern;

pub use cmdline::{find_in_cmdline, remove_from_cmdline, set_in_cmdline, HideParam};
pub use grammar::{
    blanks, entry, lit, long_bus, long_full, long_slot, number, short_bus, short_full, short_slot,
    ScanFail,
};
pub use list::{generate, parse, HideEdit, HideEntry, HideError, HideList, WildcardPolicy};
pub use modprobe::{find_in_modprobe, remove_from_modprobe, set_in_modprobe, ModprobeHide};
pub use pattern::{BdfPattern, PatternError};

#[cfg(test)]
mod tests;
