//! What a PCI function is, and the words we use for it.
//!
//! A function is addressed by segment, bus, device (slot) and function: [`Bdf`]. The canonical
//! text form is `SSSS:BB:DD.F` in lowercase hex (`0000:05:00.0`), the form sysfs, pciback and xapi
//! use. Users also type the short `BB:DD.F`; [`Bdf::from_str`](std::str::FromStr) takes both.

mod bdf;
mod hex_id;

pub use bdf::{Bdf, BdfError};
pub use hex_id::{HexId, HexIdError};
