//! Fuzz target: `other-config:pci` reader. Never panics; every piece is either a device or a
//! dropped piece; plug positions are 0..n; whatever xapi reads can be regenerated and read back
//! to the same plug order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xenpci::syntax::xapi_pci;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let l = xapi_pci::parse(s);
    let pieces = if s.is_empty() { 0 } else { s.split(',').count() };
    assert_eq!(l.devices.len() + l.dropped.len(), pieces);
    for (i, d) in l.devices.iter().enumerate() {
        assert_eq!(d.position, i);
    }
    let entries = l.entries();
    let mut unique = entries.clone();
    unique.sort_by_key(|e| e.bdf);
    unique.dedup_by_key(|e| e.bdf);
    if unique.len() == entries.len() {
        let v = xapi_pci::generate(&entries).expect("plug order from parse is generable");
        assert_eq!(xapi_pci::parse(&v).entries(), entries);
    }
});
