//! The configuration languages Xen and XAPI really accept, as nom parsers: one small function per
//! grammar rule, named like the rule in `grammar/*.ebnf`.
//!
//! * [`pci_spec`]: xl's PCI_SPEC_STRING, BDF-only form (`xl pci-assignable-add`) and `rdm=` values,
//!   reaching exactly what Xen 4.17's libxlutil reaches ([`rdm`] holds the `rdm=` reader,
//!   [`c_scan`] glibc's `%x` and `atoi`).
//! * [`xl_cfg`]: the xl.cfg token and statement grammar (lossless; the document model is in
//!   [`crate::xlcfg`]).
//! * [`xapi_pci`]: XAPI's `other-config:pci` value, read the way xapi's pciops reads it.
//! * [`hide_list`]: the dom0 `xen-pciback.hide=(...)` list.

pub mod c_scan;
pub mod hide_list;
pub mod pci_spec;
pub mod rdm;
pub mod scan;
pub mod xapi_pci;
pub mod xl_cfg;
