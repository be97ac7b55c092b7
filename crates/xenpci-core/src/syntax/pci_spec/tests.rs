//! The driver's scenarios: what Xen accepts, rejects and warns about, and the generator's
//! round trip.

use super::*;

fn ok(s: &str) -> (PciSpec, Vec<String>) {
    parse_spec(s, &SpecDefaults::default()).unwrap_or_else(|e| panic!("{s}: {e}"))
}
fn err(s: &str) -> SpecError {
    parse_spec(s, &SpecDefaults::default()).expect_err(s)
}
fn b(s: &str) -> Bdf {
    s.parse().unwrap()
}

#[test]
fn colon_count_stops_at_the_first_other_char() {
    assert_eq!(colon_count("0000:01:00.0"), 2);
    assert_eq!(colon_count("01:00.0:1:2"), 1);
    assert_eq!(colon_count("0x01:00.0"), 0);
    assert_eq!(colon_count("1:2:3:4.5"), 3);
    assert_eq!(colon_count("01: 00:0.0"), 1);
}

#[test]
fn hex_field_rule() {
    let (rest, h) = hex_field(" 1f.0", "the bus").unwrap();
    assert_eq!((rest, h.value), (".0", 0x1f));
    assert!(hex_field(".0", "the bus").is_err());
}

#[test]
fn function_rule() {
    assert_eq!(function("*,x").unwrap().0, ",x");
    assert_eq!(function("*,x").unwrap().1 .0, Function::All);
    assert_eq!(function("7@1").unwrap().1 .0, Function::One(7));
    assert_eq!(function("7@1").unwrap().0, "@1");
    assert_eq!(function("0x7").unwrap().1 .0, Function::One(7));
    assert!(function("8").is_err());
    assert!(function(" *").is_err());
}

#[test]
fn bdf_rule() {
    let (rest, r) = bdf("01:00.0@4").unwrap();
    assert_eq!((rest, r.bdf, r.all_functions), ("@4", b("01:00.0"), false));
    let (rest, r) = bdf("ffff:ff:1f.*,x").unwrap();
    assert_eq!(
        (rest, r.bdf, r.all_functions),
        (",x", b("ffff:ff:1f.0"), true)
    );
    assert_eq!(
        rule_error(bdf("01:00").unwrap_err()).kind,
        SpecErrorKind::Undefined
    );
    assert_eq!(
        rule_error(bdf("01:20").unwrap_err()).kind,
        SpecErrorKind::Inval
    );
    assert_eq!(
        rule_error(bdf("1:2:3:4.5").unwrap_err()).kind,
        SpecErrorKind::Inval
    );
    assert_eq!(
        rule_error(bdf("0x01:00.0").unwrap_err()).kind,
        SpecErrorKind::Inval
    );
    let (_, r) = bdf("100000000:01:00.0").unwrap();
    assert_eq!(r.bdf, b("0000:01:00.0"));
    assert!(r.notes.iter().any(|n| n.contains("wraps")));
}

#[test]
fn vslot_rule() {
    let (rest, v) = vslot("1f,x").unwrap();
    assert_eq!((rest, v.slot), (",x", 0x1f));
    let (rest, v) = vslot("10").unwrap();
    assert_eq!((rest, v.slot), ("", 0x10));
    assert!(v.notes[0].contains("0x10 = 16"));
    let e = rule_error(vslot("20").unwrap_err());
    assert!(e.message.contains("0x20 = 32"), "{}", e.message);
    assert!(vslot("").is_err());
}

#[test]
fn positional_spec_rule() {
    let (rest, p) = positional_spec("01:00.0@4,seize=1").unwrap();
    assert_eq!(rest, "seize=1");
    assert_eq!(
        (p.bdf.bdf, p.vslot.map(|v| v.slot)),
        (b("01:00.0"), Some(4))
    );
    assert_eq!(positional_spec("01:00.0").unwrap().0, "");
    assert!(matches!(
        positional_spec("bdf=01:00.0"),
        Err(nom::Err::Error(_))
    ));
    assert!(matches!(
        positional_spec("01:00.0@20"),
        Err(nom::Err::Failure(_))
    ));
    assert!(matches!(
        positional_spec("01:00.0 ,x=1"),
        Err(nom::Err::Failure(_))
    ));
    let e = rule_error(positional_spec("01:00").unwrap_err());
    assert_eq!(e.kind, SpecErrorKind::Undefined);
}

#[test]
fn key_val_rule() {
    assert_eq!(key_val("a=b,c=d").unwrap(), ("c=d", ("a", "b")));
    assert_eq!(key_val("a=b=c").unwrap(), ("", ("a", "b=c")));
    assert_eq!(key_val(",p=1").unwrap(), ("", (",p", "1")));
    assert_eq!(key_val("a=,,").unwrap(), (",", ("a", "")));
    assert!(key_val("permissive").is_err());
}

#[test]
fn boolean_rule() {
    assert_eq!(boolean("p", "1"), (true, vec![]));
    assert!(!boolean("p", "yes").0);
    assert!(boolean("p", "yes").1[0].contains("means 0"));
    assert!(boolean("p", "-1").0);
    assert!(!boolean("p", "4294967296").0);
}

#[test]
fn rdm_policy_rule() {
    assert_eq!(rdm_policy_value("RELAXED"), Ok(Some(RdmPolicy::Relaxed)));
    assert_eq!(rdm_policy_value("Invalid"), Ok(None));
    assert_eq!(rdm_policy_value("strict "), Err(UnknownPolicy));
}

#[test]
fn spec_scenarios() {
    let (s, w) = ok("0000:05:00.0@1f,permissive=1");
    assert_eq!(s.bdf, Some(b("05:00.0")));
    assert_eq!((s.vslot, s.permissive), (Some(0x1f), true));
    assert!(w.is_empty(), "{w:?}");
    let (s, w) = ok("01:00.0,permissive=yes");
    assert!(!s.permissive && w[0].contains("atoi"));
    let (s, _) = ok("name=gpu");
    assert_eq!(s.name.as_deref(), Some("gpu"));
    let e = err("01:00.0, permissive=1");
    assert_eq!(
        e.xen_report.as_deref(),
        Some("Unknown PCI_SPEC_STRING option:  permissive")
    );
    assert!(e.message.contains("no space after ','"), "{e}");
    assert_eq!(e.offset, 8);
    assert_eq!(err("01:00.0,rdm_policy=foo").kind, SpecErrorKind::Fail);
    assert_eq!(err("01:00").kind, SpecErrorKind::Undefined);
    assert_eq!(err("a\0b").kind, SpecErrorKind::Undefined);
}

#[test]
fn defaults_apply_and_keys_override_them() {
    let d = SpecDefaults {
        permissive: true,
        rdm_policy: Some(RdmPolicy::Relaxed),
        ..SpecDefaults::default()
    };
    let (s, _) = parse_spec("01:00.0", &d).unwrap();
    assert!(s.permissive);
    assert_eq!(s.rdm_policy, Some(RdmPolicy::Relaxed));
    let (s, _) = parse_spec("01:00.0,permissive=,rdm_policy=invalid", &d).unwrap();
    assert!(!s.permissive);
    assert_eq!(s.rdm_policy, None);
    assert_eq!(
        format_spec(&s, &d).unwrap(),
        "0000:01:00.0,permissive=0,rdm_policy=invalid"
    );
}

#[test]
fn format_spec_writes_the_canonical_form() {
    let (s, _) = ok("5:0.0@1f,permissive=1");
    assert_eq!(s.canonical().unwrap(), "0000:05:00.0@0x1f,permissive=1");
    let (s, _) = ok("name=gpu,vslot=4,seize=1");
    assert_eq!(s.canonical().unwrap(), "name=gpu,vslot=0x04,seize=1");
    let (s, _) = ok("01:00.*@3");
    assert_eq!(s.canonical().unwrap(), "0000:01:00.*@0x03");
    let mut bad = s.clone();
    bad.name = Some("x".into());
    assert_eq!(
        bad.canonical().unwrap_err().kind,
        SpecErrorKind::Unrepresentable
    );
}

#[test]
fn assignable_bdf_ignores_the_rest() {
    let (r, w) = parse_assignable_bdf("01:00.0,permissive=1").unwrap();
    assert_eq!(r.bdf, b("01:00.0"));
    assert!(w[0].contains("ignores"));
    assert!(parse_assignable_bdf(" 01:00.0").is_err());
    assert_eq!(
        parse_assignable_bdf("01:00").unwrap_err().kind,
        SpecErrorKind::Undefined
    );
}
