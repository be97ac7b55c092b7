//! xl.cfg files as documents: read them exactly as xl does, edit the PCI part without touching
//! any other byte, and report what xl would effectively do with it.
//!
//! * [`document`]: the lossless model (toml_edit style): [`Document::parse`] accepts exactly what
//!   libxlutil accepts and prints back byte for byte.
//! * [`edit`]: add / replace / remove `pci` entries, set `rdm`, `pci_*`, `passthrough`.
//! * [`file`]: editing a file on disk through the checked write path (lock, change check, backup).
//! * [`effective`]: the device list with the `pci_*` globals applied, the global `rdm`, and where
//!   xl would stop.
//!
//! ```
//! use xenpci::xlcfg::Document;
//! let src = "name = 'vm'\npci = [ '01:00.0' ]  # NIC\n";
//! let mut doc = Document::parse(src).unwrap();
//! assert_eq!(doc.to_string(), src);
//! doc.set_key("pci_permissive", "1").unwrap();
//! assert_eq!(doc.to_string(), format!("{src}pci_permissive = 1\n"));
//! ```

pub mod document;
pub mod edit;
pub mod effective;
pub mod file;

pub use document::{Assignment, Atom, Document, Item, List, ListItem, Node};
pub use edit::{Added, EditError, SETTABLE};
pub use effective::{effective, xl_spec_parser, Effective, PciError, Rdm, SpecFn, SpecRecord};
