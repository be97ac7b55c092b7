//! `list`: which of the host's PCI functions a request selects — lspci's `-d` filters and `-s`
//! slot together — for the CLI and the plugin alike.

use crate::host::filter::{self, Filter};
use crate::host::slot::Slot;
use crate::host::{Fields, HostRoot, Inventory, ListRecord, PciFunction};

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `-d` filters (any may match; none: all).
    pub filters: Vec<Filter>,
    /// `-s` slot (None: all).
    pub slot: Option<Slot>,
    /// Read each function's NUMA node: the text listing shows it, the JSON record has none,
    /// so `list --json` and the plugin do not read it.
    pub numa_node: bool,
}

impl Selection {
    /// True when `f` is selected.
    pub fn shows(&self, f: &PciFunction) -> bool {
        filter::any_matches(&self.filters, f.vendor_id, f.device_id, f.class)
            && self.slot.is_none_or(|s| s.matches(f.bdf))
    }
}

/// The host's functions `sel` selects, as the records `list --json` prints.
pub fn list(root: &HostRoot, sel: &Selection) -> (Inventory, Vec<ListRecord>) {
    let inv = Inventory::scan_fields(
        root,
        Fields {
            numa_node: sel.numa_node,
        },
    );
    let records = inv
        .functions()
        .iter()
        .filter(|f| sel.shows(f))
        .map(|f| f.record(&inv))
        .collect();
    (inv, records)
}
