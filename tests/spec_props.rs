//! Property tests for the PCI_SPEC_STRING parser and generator:
//! `parse(fmt(x, d), d) == x` for every representable spec and defaults, canonical output reads
//! back with no "surprising read" warning, and arbitrary text never panics any of the three
//! readers (every error names the input and a valid offset).

use proptest::prelude::*;
use xenpci::pci::Bdf;
use xenpci::syntax::pci_spec::{
    format_spec, parse_assignable_bdf, parse_spec, PciSpec, RdmPolicy, SpecDefaults,
};
use xenpci::syntax::rdm::parse_rdm;

fn policy() -> impl Strategy<Value = Option<RdmPolicy>> {
    prop_oneof![
        Just(None),
        Just(Some(RdmPolicy::Strict)),
        Just(Some(RdmPolicy::Relaxed))
    ]
}

fn defaults() -> impl Strategy<Value = SpecDefaults> {
    (any::<[bool; 4]>(), policy()).prop_map(|(f, p)| SpecDefaults {
        msitranslate: f[0],
        power_mgmt: f[1],
        permissive: f[2],
        seize: f[3],
        rdm_policy: p,
    })
}

fn spec() -> impl Strategy<Value = PciSpec> {
    let device = prop_oneof![
        (
            any::<u16>(),
            any::<u8>(),
            0u8..=0x1f,
            0u8..=7,
            any::<bool>()
        )
            .prop_map(|(s, b, d, f, all)| (
                Some(Bdf {
                    segment: s,
                    bus: b,
                    device: d,
                    function: if all { 0 } else { f }
                }),
                all,
                None
            )),
        "[^,\0]{0,12}".prop_map(|n| (None, false, Some(n))),
    ];
    (
        device,
        prop::option::of(1u8..=0x1f),
        any::<[bool; 4]>(),
        policy(),
    )
        .prop_map(
            |((bdf, all_functions, name), vslot, f, rdm_policy)| PciSpec {
                bdf,
                all_functions,
                vslot,
                msitranslate: f[0],
                power_mgmt: f[1],
                permissive: f[2],
                seize: f[3],
                rdm_policy,
                name,
            },
        )
}

/// Warnings that describe meaning, not a surprising read of the text.
fn semantic(w: &str) -> bool {
    w.contains("needs a vslot") || w.contains("INVALID") || w.starts_with("name=")
}

fn check_error(input: &str, offset: usize, text: &str) {
    assert!(
        offset <= input.len() && input.is_char_boundary(offset),
        "{text}"
    );
    assert!(text.contains(&format!("{input:?}")), "{text}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn fmt_then_parse_is_identity(x in spec(), d in defaults()) {
        let text = format_spec(&x, &d).unwrap();
        let (back, warnings) = parse_spec(&text, &d).unwrap();
        prop_assert_eq!(&back, &x, "{}", text);
        prop_assert!(warnings.iter().all(|w| semantic(w)), "{} {:?}", text, warnings);
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,40}") {
        match parse_spec(&s, &SpecDefaults::default()) {
            Ok((x, _)) => {
                // What we accept has a canonical form that reads back the same.
                let c = x.canonical().unwrap();
                prop_assert_eq!(parse_spec(&c, &SpecDefaults::default()).unwrap().0, x);
            }
            Err(e) => check_error(&s, e.offset, &e.to_string()),
        }
        if let Err(e) = parse_assignable_bdf(&s) { check_error(&s, e.offset, &e.to_string()) }
        if let Err(e) = parse_rdm(&s) { check_error(&s, e.offset, &e.to_string()) }
    }

    #[test]
    fn spec_like_text_never_panics(s in "[0-9a-fA-FxX:.@,=* +\\-\tbdfvslotpermisvenam_y]{0,40}") {
        match parse_spec(&s, &SpecDefaults::default()) {
            Ok((x, _)) => {
                let c = x.canonical().unwrap();
                prop_assert_eq!(parse_spec(&c, &SpecDefaults::default()).unwrap().0, x);
            }
            Err(e) => check_error(&s, e.offset, &e.to_string()),
        }
        if let Err(e) = parse_assignable_bdf(&s) { check_error(&s, e.offset, &e.to_string()) }
        if let Err(e) = parse_rdm(&s) { check_error(&s, e.offset, &e.to_string()) }
    }
}
