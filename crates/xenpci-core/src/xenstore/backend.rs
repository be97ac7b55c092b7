//! A domain's PCI backend (`/local/domain/0/backend/pci/<domid>/0`) and pcifront
//! (`/local/domain/<domid>/device/pci/0`), read the way libxl reads them.
//!
//! `xl pci-list` reads only `num_devs`, `dev-i`, `vdevfn-i`, `name-i` and `opts-i` for
//! `i < num_devs` (`libxl__device_pci_from_xs_be`); [`list_backend_devices`] does the same and
//! also returns `key-i`, `vdev-i` and `state-i`. [`read_backend`] reads everything, tolerantly, and
//! records what does not fit (entries beyond `num_devs`, malformed values) for the verifier.

use std::fmt;

use serde::Serialize;

use super::{backend_path, frontend_path, Store, XenStoreError};
use crate::ids::DomId;
use crate::pci::Bdf;

/// A XenbusState number (`xen/include/public/io/xenbus.h`), as written to `state` nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct XenbusState(pub u8);

impl XenbusState {
    /// 1: the backend or frontend has just been created.
    pub const INITIALISING: XenbusState = XenbusState(1);
    /// 2: waiting for the other end.
    pub const INIT_WAIT: XenbusState = XenbusState(2);
    /// 3: pciback has exported the device(s).
    pub const INITIALISED: XenbusState = XenbusState(3);
    /// 4: pcifront is connected.
    pub const CONNECTED: XenbusState = XenbusState(4);
    /// 5: being removed (libxl writes it to `state-N` at detach).
    pub const CLOSING: XenbusState = XenbusState(5);
    /// 6: closed.
    pub const CLOSED: XenbusState = XenbusState(6);
    /// 7: libxl is adding or removing a device of a connected backend.
    pub const RECONFIGURING: XenbusState = XenbusState(7);
    /// 8: pciback has applied the change; goes back to 4 when pcifront follows.
    pub const RECONFIGURED: XenbusState = XenbusState(8);

    /// The name from xenbus.h (`Connected`, ...), or `Unknown`.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "Unknown",
            1 => "Initialising",
            2 => "InitWait",
            3 => "Initialised",
            4 => "Connected",
            5 => "Closing",
            6 => "Closed",
            7 => "Reconfiguring",
            8 => "Reconfigured",
            _ => "Unknown",
        }
    }
}

impl fmt::Display for XenbusState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

/// One device of a PCI backend: the `*-N` nodes of index N.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackendDevice {
    /// N.
    pub index: u32,
    /// `dev-N`: the host BDF.
    pub bdf: Bdf,
    /// `key-N` (libxl writes the same BDF).
    pub key: Option<String>,
    /// `vdevfn-N` (hex, no `0x`): the guest devfn; only written for HVM devices and given vslots.
    pub vdevfn: Option<u8>,
    /// `opts-N`, e.g. `msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict`.
    pub opts: Option<String>,
    /// `state-N`: 1 written by libxl, 3 once pciback exported it, 5 while being detached.
    pub state: Option<XenbusState>,
    /// `name-N`: only when attached by name.
    pub name: Option<String>,
    /// `vdev-N` (pciback): guest-visible BDF with a two-digit function, e.g. `0000:00:00.00`.
    pub vdev: Option<String>,
}

impl BackendDevice {
    /// The guest slot as `xl pci-list` prints it (`%02x.%01x` of `vdevfn`; `00.0` when absent).
    pub fn guest_slot(&self) -> String {
        let devfn = self.vdevfn.unwrap_or(0);
        format!("{:02x}.{:x}", devfn >> 3, devfn & 7)
    }
}

/// Everything in a domain's PCI backend directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PciBackend {
    /// The guest.
    pub domid: DomId,
    /// `/local/domain/0/backend/pci/<domid>/0`.
    pub path: String,
    /// Backend `state`.
    pub state: Option<XenbusState>,
    /// `num_devs`, when present and a number.
    pub num_devs: Option<u32>,
    /// `frontend-id`.
    pub frontend_id: Option<String>,
    /// `domain`: the guest's name.
    pub domain: Option<String>,
    /// The devices `0..num_devs` whose `dev-N` is a BDF.
    pub devices: Vec<BackendDevice>,
    /// `dev-N` entries that `num_devs` does not cover (N >= num_devs, or no num_devs): index and
    /// raw value. xl ignores them; they are leftovers of an interrupted attach or detach.
    pub uncovered: Vec<(u32, String)>,
    /// What does not fit libxl's layout, one sentence each.
    pub problems: Vec<String>,
}

/// The guest side: `/local/domain/<domid>/device/pci/0`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PciFrontend {
    /// The node.
    pub path: String,
    /// `state`: libxl writes 1; pcifront moves it on when it runs in the guest.
    pub state: Option<XenbusState>,
    /// `backend`.
    pub backend: Option<String>,
    /// True when pcifront has written its own nodes (`pci-op-ref`, `event-channel` or `magic`).
    pub driver_connected: bool,
}

/// A decimal XenbusState (`state`, `state-N`).
pub fn parse_state(s: &str) -> Option<XenbusState> {
    parse_decimal(s).and_then(|n| u8::try_from(n).ok().map(XenbusState))
}

/// A decimal count (`num_devs`, `root_num`): digits only, no sign, no spaces.
pub fn parse_decimal(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `vdevfn-N`: libxl writes `%x` (hex, no `0x`), a devfn 0..=0xff.
pub fn parse_vdevfn(s: &str) -> Option<u8> {
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(s, 16).ok()
}

/// Index N of a `<prefix>N` node name (`dev-12` → 12).
fn index_of(name: &str, prefix: &str) -> Option<u32> {
    name.strip_prefix(prefix).and_then(parse_decimal)
}

/// Reads the whole backend of `domid`; `None` when the backend directory does not exist.
pub fn read_backend(store: &dyn Store, domid: DomId) -> Result<Option<PciBackend>, XenStoreError> {
    let path = backend_path(domid);
    let Some(names) = store.directory(&path)? else {
        return Ok(None);
    };
    let node = |name: &str| store.read(&format!("{path}/{name}"));
    let mut problems = Vec::new();
    let state = match node("state")? {
        Some(v) => {
            let s = parse_state(&v);
            if s.is_none() {
                problems.push(format!("{path}/state = {v:?} is not a XenbusState number"));
            }
            s
        }
        None => None,
    };
    let num_devs = match node("num_devs")? {
        Some(v) => {
            let n = parse_decimal(&v);
            if n.is_none() {
                problems.push(format!("{path}/num_devs = {v:?} is not a decimal count"));
            }
            n
        }
        None => None,
    };
    let mut devices = Vec::new();
    let mut uncovered = Vec::new();
    let mut indices: Vec<u32> = names.iter().filter_map(|n| index_of(n, "dev-")).collect();
    indices.sort_unstable();
    for i in indices
        .iter()
        .copied()
        .filter(|&i| num_devs.is_none_or(|n| i >= n))
    {
        if let Some(v) = node(&format!("dev-{i}"))? {
            uncovered.push((i, v));
        }
    }
    for i in 0..num_devs.unwrap_or(0) {
        match read_device(store, &path, i)? {
            Ok(d) => devices.push(d),
            Err(p) => problems.push(p),
        }
    }
    for (i, v) in &uncovered {
        let n = num_devs.map_or("missing".to_string(), |n| n.to_string());
        problems.push(format!(
            "{path}/dev-{i} = {v:?} is not covered by num_devs ({n}): xl ignores it"
        ));
    }
    Ok(Some(PciBackend {
        domid,
        state,
        num_devs,
        frontend_id: node("frontend-id")?,
        domain: node("domain")?,
        devices,
        uncovered,
        problems,
        path,
    }))
}

/// Reads the `*-i` nodes of one device; the inner `Err` is a sentence saying what is wrong.
fn read_device(
    store: &dyn Store,
    path: &str,
    i: u32,
) -> Result<Result<BackendDevice, String>, XenStoreError> {
    let node = |name: &str| store.read(&format!("{path}/{name}-{i}"));
    let Some(dev) = node("dev")? else {
        return Ok(Err(format!(
            "{path}/dev-{i} is missing although num_devs covers index {i}"
        )));
    };
    let Ok(bdf) = dev.parse::<Bdf>() else {
        return Ok(Err(format!(
            "{path}/dev-{i} = {dev:?} is not a PCI address DDDD:BB:SS.F"
        )));
    };
    let vdevfn = match node("vdevfn")? {
        Some(v) => match parse_vdevfn(&v) {
            Some(n) => Some(n),
            None => return Ok(Err(format!("{path}/vdevfn-{i} = {v:?} is not a hex devfn"))),
        },
        None => None,
    };
    let state = match node("state")? {
        Some(v) => match parse_state(&v) {
            Some(s) => Some(s),
            None => {
                return Ok(Err(format!(
                    "{path}/state-{i} = {v:?} is not a XenbusState number"
                )))
            }
        },
        None => None,
    };
    Ok(Ok(BackendDevice {
        index: i,
        bdf,
        key: node("key")?,
        vdevfn,
        opts: node("opts")?,
        state,
        name: node("name")?,
        vdev: node("vdev")?,
    }))
}

/// The devices of `domid`'s backend as `xl pci-list` sees them (indices `0..num_devs`).
/// Empty when there is no backend or no `num_devs`; an error when `num_devs` or a covered
/// `dev-i`/`vdevfn-i`/`state-i` is malformed or missing (xl would print zeros instead).
pub fn list_backend_devices(
    store: &dyn Store,
    domid: DomId,
) -> Result<Vec<BackendDevice>, XenStoreError> {
    let path = backend_path(domid);
    let Some(n) = store.read(&format!("{path}/num_devs"))? else {
        return Ok(Vec::new());
    };
    let count = parse_decimal(&n).ok_or_else(|| XenStoreError::Malformed {
        path: format!("{path}/num_devs"),
        value: n.clone(),
        expected: "a decimal count",
    })?;
    let mut out = Vec::new();
    for i in 0..count {
        match read_device(store, &path, i)? {
            Ok(d) => out.push(d),
            Err(_) => {
                let p = format!("{path}/dev-{i}");
                let value = store.read(&p)?.unwrap_or_default();
                return Err(XenStoreError::Malformed {
                    path: p,
                    value,
                    expected: "a PCI address DDDD:BB:SS.F with valid vdevfn/state nodes",
                });
            }
        }
    }
    Ok(out)
}

/// The guest's pcifront node, `None` when it does not exist.
pub fn pcifront(store: &dyn Store, domid: DomId) -> Result<Option<PciFrontend>, XenStoreError> {
    let path = frontend_path(domid);
    let Some(names) = store.directory(&path)? else {
        return Ok(None);
    };
    let state = store.read(&format!("{path}/state"))?;
    Ok(Some(PciFrontend {
        state: state.as_deref().and_then(parse_state),
        backend: store.read(&format!("{path}/backend"))?,
        driver_connected: names
            .iter()
            .any(|n| matches!(n.as_str(), "pci-op-ref" | "event-channel" | "magic")),
        path,
    }))
}

/// True when the guest has a PCI frontend that its pcifront driver connected to.
///
/// A migration flow reads it to note a PV guest's device history (a guest with a device attached
/// cannot be suspended; after the detach it can again — tests/xen-e2e): on the real Xen of
/// tests/xen-e2e, once `xl pci-detach` of the last device completes,
/// libxl removes both the backend and `/local/domain/<domid>/device/pci` and this returns false
/// again. (On a loaded host `xl pci-detach` returned 0 while the backend still showed
/// `state-0 = 5`, `state = 7` and the frontend was still connected.) A frontend that only libxl
/// wrote (state 1, no pcifront nodes, e.g. an HVM guest) does not count.
pub fn pcifront_present(store: &dyn Store, domid: DomId) -> Result<bool, XenStoreError> {
    Ok(pcifront(store, domid)?.is_some_and(|f| {
        f.driver_connected || f.state.is_some_and(|s| s != XenbusState::INITIALISING)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xenstore::{AttachedDevice, BackendTree, MemStore};

    fn bdf(s: &str) -> Bdf {
        s.parse().unwrap()
    }

    fn store_with(tree: &BackendTree) -> MemStore {
        MemStore::with(&tree.nodes()).unwrap()
    }

    #[test]
    fn value_parsers() {
        assert_eq!(parse_state("4"), Some(XenbusState::CONNECTED));
        assert_eq!(parse_state("x"), None);
        assert_eq!(parse_state("300"), None);
        assert_eq!(parse_decimal("12"), Some(12));
        for bad in ["", "-1", " 1", "1a"] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
        assert_eq!(parse_vdevfn("28"), Some(0x28));
        assert_eq!(parse_vdevfn("0x28"), None);
        assert_eq!(parse_vdevfn("123"), None);
        assert_eq!(index_of("dev-10", "dev-"), Some(10));
        assert_eq!(index_of("dev-x", "dev-"), None);
        assert_eq!(XenbusState(4).to_string(), "4 (Connected)");
    }

    #[test]
    fn lists_devices_like_xl_pci_list() {
        let tree = BackendTree::pv(DomId(1), "domU")
            .device(AttachedDevice::new(bdf("0000:00:02.0")))
            .device(AttachedDevice::new(bdf("0000:00:03.0")).vslot(5));
        let s = store_with(&tree);
        let devs = list_backend_devices(&s, DomId(1)).unwrap();
        let shown: Vec<String> = devs
            .iter()
            .map(|d| format!("{} {}", d.guest_slot(), d.bdf))
            .collect();
        assert_eq!(shown, ["00.0 0000:00:02.0", "05.0 0000:00:03.0"]);
        assert_eq!(devs[0].state, Some(XenbusState::INITIALISED));
        assert_eq!(devs[0].vdev.as_deref(), Some("0000:00:00.00"));
        assert!(list_backend_devices(&s, DomId(2)).unwrap().is_empty());
    }

    #[test]
    fn malformed_num_devs_is_an_error_naming_the_node() {
        let s =
            store_with(&BackendTree::pv(DomId(3), "g").device(AttachedDevice::new(bdf("01:00.0"))));
        s.write("/local/domain/0/backend/pci/3/0/num_devs", "one")
            .unwrap();
        let e = list_backend_devices(&s, DomId(3)).unwrap_err().to_string();
        assert!(
            e.contains("/local/domain/0/backend/pci/3/0/num_devs") && e.contains("\"one\""),
            "{e}"
        );
    }

    #[test]
    fn read_backend_records_uncovered_entries() {
        let s =
            store_with(&BackendTree::pv(DomId(4), "g").device(AttachedDevice::new(bdf("01:00.0"))));
        s.write("/local/domain/0/backend/pci/4/0/dev-1", "0000:02:00.0")
            .unwrap();
        let be = read_backend(&s, DomId(4)).unwrap().unwrap();
        assert_eq!(be.devices.len(), 1);
        assert_eq!(be.uncovered, [(1, "0000:02:00.0".to_string())]);
        assert!(be.problems[0].contains("dev-1"), "{:?}", be.problems);
        assert!(read_backend(&s, DomId(5)).unwrap().is_none());
    }

    #[test]
    fn pcifront_presence_needs_the_guest_driver() {
        let pv = BackendTree::pv(DomId(6), "g").device(AttachedDevice::new(bdf("01:00.0")));
        assert!(pcifront_present(&store_with(&pv), DomId(6)).unwrap());
        let hvm =
            BackendTree::hvm(DomId(7), "h").device(AttachedDevice::new(bdf("01:00.0")).vslot(4));
        assert!(!pcifront_present(&store_with(&hvm), DomId(7)).unwrap());
        assert!(!pcifront_present(&MemStore::new(), DomId(8)).unwrap());
    }
}
