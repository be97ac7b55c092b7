//! Fuzz target for the PCI_SPEC_STRING, BDF-only and rdm= readers: no input may panic; an accepted
//! spec's canonical form must read back to the same spec; every error names a valid offset.
//!
//! Run (needs the nightly toolchain, like every cargo-fuzz target):
//! `cd fuzz && cargo +nightly fuzz run pci_spec corpus/pci_spec seeds/pci_spec -- -max_total_time=300`
#![no_main]

use libfuzzer_sys::fuzz_target;
use xenpci::syntax::pci_spec::{parse_assignable_bdf, parse_spec, SpecDefaults};
use xenpci::syntax::rdm::parse_rdm;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let d = SpecDefaults::default();
    match parse_spec(s, &d) {
        Ok((spec, _)) => {
            let canonical = spec
                .canonical()
                .expect("an accepted spec has a canonical form");
            let (back, _) = parse_spec(&canonical, &d).expect("the canonical form is accepted");
            assert_eq!(back, spec, "{s:?} -> {canonical:?}");
        }
        Err(e) => assert!(e.offset <= s.len() && s.is_char_boundary(e.offset)),
    }
    if let Err(e) = parse_assignable_bdf(s) {
        assert!(e.offset <= s.len());
    }
    if let Err(e) = parse_rdm(s) {
        assert!(e.offset <= s.len());
    }
});
