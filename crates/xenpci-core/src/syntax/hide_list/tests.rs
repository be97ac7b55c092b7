//! The hide list's tests: the kernel's reading of every form, the edits, the command-line and
//! modprobe.d placements, and properties over generated lists.

use super::list::covering_patterns;
use super::*;
use crate::pci::Bdf;
use proptest::prelude::*;

fn pat(s: &str) -> BdfPattern {
    s.parse().unwrap()
}

#[test]
fn covering_patterns_are_exactly_the_covering_ones() {
    let mut all = Vec::new();
    for bus in [0, 1] {
        for slot in [None, Some(0), Some(1)] {
            for function in [None, Some(0), Some(1)] {
                all.push(BdfPattern {
                    segment: 0,
                    bus,
                    slot,
                    function,
                });
            }
        }
    }
    for p in &all {
        let by_list = covering_patterns(p);
        for e in &all {
            assert_eq!(e.covers(p), by_list.contains(e), "{e:?} {p:?}");
        }
    }
}

#[test]
fn a_long_list_parses_in_linear_time_and_still_finds_covered_entries() {
    // 60,000 entries: each used to be compared with every earlier one (1.8e9 checks).
    let mut v: String = (0..60_000u32)
        .map(|i| {
            format!(
                "({:04x}:{:02x}:{:02x}.{})",
                i >> 13,
                (i >> 5) & 0xff,
                i & 0x1f,
                0
            )
        })
        .collect();
    v.push_str("(0000:05:03.*)(0000:05:03.2)(0000:07:*.*)(0000:07:01.5)(0000:00:02.0)");
    let t = std::time::Instant::now();
    let l = parse(&v).unwrap();
    assert!(t.elapsed().as_secs_f64() < 5.0, "{:?}", t.elapsed());
    let covered: Vec<&String> = l
        .warnings
        .iter()
        .filter(|w| w.contains("already covered"))
        .collect();
    assert_eq!(covered.len(), 3, "{covered:?}");
    assert!(covered[0].contains("\"(0000:05:03.*)\""), "{covered:?}");
    assert!(covered[1].contains("\"(0000:07:*.*)\""), "{covered:?}");
    assert!(covered[2].contains("\"(0000:00:02.0)\""), "{covered:?}");
    // Only the repeated (0000:00:02.0) goes.
    assert_eq!(l.normalised().matches('(').count(), 60_004);
}
fn bdf(s: &str) -> Bdf {
    s.parse().unwrap()
}
fn entries(v: &str) -> Vec<String> {
    parse(v)
        .unwrap()
        .entries
        .iter()
        .map(|e| e.pattern.to_string())
        .collect()
}

#[test]
fn pattern_display_fromstr_round_trip() {
    for (i, c) in [
        ("05:00.0", "0000:05:00.0"),
        ("0000:05:00.*", "0000:05:00.*"),
        ("1:*.*", "0000:01:*.*"),
        ("ffff:ff:1f.7", "ffff:ff:1f.7"),
    ] {
        assert_eq!(pat(i).to_string(), c);
        assert_eq!(pat(c), pat(i));
    }
    for bad in [
        "05:*.0",
        "05:20.0",
        "05:00.8",
        "05:00",
        "x:00.0",
        "1:2:3:4.5",
    ] {
        let e = bad.parse::<BdfPattern>().unwrap_err().to_string();
        assert!(e.contains(&format!("{bad:?}")), "{e}");
    }
}

#[test]
fn pattern_matches_and_covers() {
    assert!(pat("05:00.*").matches(&bdf("05:00.3")));
    assert!(!pat("05:00.*").matches(&bdf("05:01.0")));
    assert!(pat("05:*.*").covers(&pat("05:01.*")));
    assert!(!pat("05:01.*").covers(&pat("05:*.*")));
    assert!(!pat("0001:05:*.*").matches(&bdf("05:00.0")));
}

#[test]
fn number_rule_is_kernel_percent_x() {
    let n = number("n");
    assert_eq!(n("1f)"), Ok((")", 0x1f)));
    assert_eq!(n("  5:"), Ok((":", 5)));
    assert_eq!(n("0x1f)"), Ok((")", 0x1f)));
    assert_eq!(n("0x)"), Ok((")", 0)));
    assert_eq!(n("ffffffff)"), Ok((")", -1)));
    assert_eq!(n("100000005)"), Ok((")", 5)));
    assert!(n("*").is_err());
    assert!(n("-1").is_err());
}

#[test]
fn blanks_and_lit_rules() {
    assert_eq!(blanks(" \t(x"), Ok(("(x", " \t")));
    assert_eq!(blanks("(x"), Ok(("(x", "")));
    assert!(lit(':', ":")(" :").is_err());
}

#[test]
fn one_rule_per_form() {
    assert_eq!(long_full("(0000:01:02.3)"), Ok(("", (Some(0), 1, 2, 3))));
    assert_eq!(long_slot("(0000:01:02.*) "), Ok(("", (Some(0), 1, 2, -1))));
    assert_eq!(long_bus("(0:01:*.*)"), Ok(("", (Some(0), 1, -1, -1))));
    assert_eq!(short_full("(01:02.3)"), Ok(("", (None, 1, 2, 3))));
    assert_eq!(short_slot("(01:02.*)"), Ok(("", (None, 1, 2, -1))));
    assert_eq!(short_bus("(01:*.*)"), Ok(("", (None, 1, -1, -1))));
    assert!(long_full("(01:02.3)").is_err());
    assert!(short_full("(0000:01:02.3)").is_err());
}

#[test]
fn reference_rows_92_to_95() {
    assert_eq!(
        entries("(01:00.0)(0000:02:00.*)"),
        ["0000:01:00.0", "0000:02:00.*"]
    );
    assert_eq!(
        entries("(03:00.0) (04:*.*)"),
        ["0000:03:00.0", "0000:04:*.*"]
    );
    let e = parse("(0000:82.0.0)").unwrap_err().to_string();
    assert!(
        e.starts_with("Error parsing pci_devs_to_hide at \"(0000:82.0.0)\""),
        "{e}"
    );
    let e = parse("(01:00.0),(02:00.0)").unwrap_err().to_string();
    assert!(
        e.starts_with("Error parsing pci_devs_to_hide at \",(02:00.0)\""),
        "{e}"
    );
    assert!(e.contains("commas"), "{e}");
}

#[test]
fn range_errors_and_quirks() {
    for (v, needle) in [
        ("(01:20.0)", "slot 0x20"),
        ("(01:00.8)", "function 0x8"),
        ("(10000:01:00.0)", "segment"),
        ("(100:00.0)", "bus"),
    ] {
        let e = parse(v).unwrap_err();
        assert!(matches!(e, HideError::Range { .. }), "{v}");
        assert!(e.to_string().contains(needle), "{e}");
    }
    assert_eq!(entries("( 5: 0. 0)"), ["0000:05:00.0"]);
    assert!(parse("(5 :0.0)").is_err());
    assert_eq!(entries("(0x5:0x0.0x1)"), ["0000:05:00.1"]);
    let l = parse("(0:5:0.ffffffff)").unwrap();
    assert_eq!(l.entries[0].pattern.to_string(), "0000:05:00.*");
    assert!(l.warnings.iter().any(|w| w.contains("wildcard")));
    assert!(matches!(
        parse("(0:5:ffffffff.0)"),
        Err(HideError::Unmodelled { .. })
    ));
    assert_eq!(entries(""), Vec::<String>::new());
    assert!(parse(" ").is_err());
    assert!(parse("(01:00.0").is_err());
}

#[test]
fn add_merges_without_duplicates() {
    let l = parse("(05:00.0)").unwrap();
    let ed = l.add(&[pat("06:00.0"), pat("05:00.0")]);
    assert_eq!(ed.value, "(05:00.0)(0000:06:00.0)");
    assert_eq!(ed.short_form_kept, ["(05:00.0)"]);
    assert!(ed.notes.iter().any(|n| n.contains("already hidden")));
    let ed = parse("(0000:05:*.*)").unwrap().add(&[pat("05:03.1")]);
    assert!(!ed.changed);
    let ed = parse("").unwrap().add(&[pat("05:00.0")]);
    assert_eq!(ed.value, "(0000:05:00.0)");
}

#[test]
fn remove_keeps_others_and_handles_wildcards() {
    let l = parse("(0000:05:00.0) (0000:06:00.0)(07:00.0)").unwrap();
    let ed = l.remove(&[bdf("06:00.0")], WildcardPolicy::Refuse).unwrap();
    assert_eq!(ed.value, "(0000:05:00.0)(07:00.0)");
    let ed = l.remove(&[bdf("05:00.0")], WildcardPolicy::Refuse).unwrap();
    assert_eq!(ed.value, "(0000:06:00.0)(07:00.0)");
    let ed = l.remove(&[bdf("09:00.0")], WildcardPolicy::Refuse).unwrap();
    assert!(!ed.changed);
    let w = parse("(0000:05:00.*)").unwrap();
    assert!(matches!(
        w.remove(&[bdf("05:00.1")], WildcardPolicy::Refuse),
        Err(HideError::CoveredByWildcard { .. })
    ));
    let ed = w.remove(&[bdf("05:00.1")], WildcardPolicy::Split).unwrap();
    assert_eq!(parse(&ed.value).unwrap().entries.len(), 7);
    assert!(!parse(&ed.value).unwrap().hides(&bdf("05:00.1")));
    let twice = parse("\t(5:00.*)(5:00.*)").unwrap();
    let ed = twice
        .remove(&[bdf("05:00.0")], WildcardPolicy::Split)
        .unwrap();
    assert!(
        !parse(&ed.value).unwrap().hides(&bdf("05:00.0")),
        "{}",
        ed.value
    );
    let ed = w
        .remove(&[bdf("05:00.1"), bdf("05:00.2")], WildcardPolicy::Split)
        .unwrap();
    let l = parse(&ed.value).unwrap();
    assert!(!l.hides(&bdf("05:00.1")) && !l.hides(&bdf("05:00.2")));
    assert_eq!(l.entries.len(), 6);
    assert!(parse("(05:*.*)")
        .unwrap()
        .remove(&[bdf("05:00.1")], WildcardPolicy::Split)
        .is_err());
}

#[test]
fn xapi_problems_flags_what_xcpng_83_cannot_read() {
    assert!(parse("(0000:05:00.0)(0000:06:00.1)")
        .unwrap()
        .xapi_problems()
        .is_empty());
    let p = parse("(05:00.0) (0000:06:00.*)(0000:7:0.0)")
        .unwrap()
        .xapi_problems();
    assert_eq!(p.len(), 4, "{p:?}");
    assert!(p[0].contains("short form"));
    assert!(p[1].contains("blank"));
    assert!(p[2].contains("wildcard"));
    assert!(p[3].contains("not written"));
}

#[test]
fn normalise_rewrites_short_forms() {
    let l = parse("(05:00.0) (0000:06:00.*)(05:00.0)").unwrap();
    assert_eq!(l.normalised(), "(0000:05:00.0)(0000:06:00.*)");
    assert!(l.warnings.iter().any(|w| w.contains("already covered")));
}

#[test]
fn cmdline_find_set_remove() {
    let line = "root=LABEL=x xen_pciback.hide=(05:00.0) quiet";
    let f = find_in_cmdline(line);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].value, "(05:00.0)");
    assert_eq!(
        set_in_cmdline(line, "(0000:05:00.0)(0000:06:00.0)"),
        "root=LABEL=x xen_pciback.hide=(0000:05:00.0)(0000:06:00.0) quiet"
    );
    assert_eq!(remove_from_cmdline(line), "root=LABEL=x quiet");
    assert_eq!(
        set_in_cmdline("ro  quiet\n", "(0000:05:00.0)"),
        "ro  quiet xen-pciback.hide=(0000:05:00.0)\n"
    );
    let q = "ro \"xen-pciback.hide=(03:00.0) (04:00.0)\" x";
    assert_eq!(find_in_cmdline(q)[0].value, "(03:00.0) (04:00.0)");
    assert_eq!(
        set_in_cmdline(q, "(0000:03:00.0)"),
        "ro \"xen-pciback.hide=(0000:03:00.0)\" x"
    );
    let two = "pciback.hide=(01:00.0) a xen-pciback.hide=(02:00.0)";
    assert_eq!(find_in_cmdline(two).len(), 2);
    assert_eq!(
        set_in_cmdline(two, "(0000:02:00.0)"),
        "a xen-pciback.hide=(0000:02:00.0)"
    );
    assert_eq!(
        set_in_cmdline("ro -- xen-pciback.hide=(1:0.0)", "(0000:05:00.0)"),
        "ro xen-pciback.hide=(0000:05:00.0) -- xen-pciback.hide=(1:0.0)"
    );
    assert_eq!(
        set_in_cmdline("a", "(0000:05:00.0) (0000:06:00.0)"),
        "a xen-pciback.hide=\"(0000:05:00.0) (0000:06:00.0)\""
    );
}

#[test]
fn modprobe_find_set_remove() {
    let conf = "# hide\noptions xen-pciback hide=(05:00.0) passthrough=1\nblacklist x\n";
    assert_eq!(find_in_modprobe(conf)[0].param.value, "(05:00.0)");
    assert_eq!(
        set_in_modprobe(conf, "(0000:05:00.0)"),
        "# hide\noptions xen-pciback hide=(0000:05:00.0) passthrough=1\nblacklist x\n"
    );
    assert_eq!(
        remove_from_modprobe(conf),
        "# hide\noptions xen-pciback passthrough=1\nblacklist x\n"
    );
    assert_eq!(
        remove_from_modprobe("options xen_pciback hide=(1:0.0)\n"),
        ""
    );
    assert_eq!(
        set_in_modprobe("blacklist x", "(0000:05:00.0)"),
        "blacklist x\noptions xen-pciback hide=(0000:05:00.0)\n"
    );
    assert_eq!(
        set_in_modprobe("options xen-pciback passthrough=1\n", "(0000:05:00.0)"),
        "options xen-pciback passthrough=1 hide=(0000:05:00.0)\n"
    );
    assert!(find_in_modprobe("#options xen-pciback hide=(1:0.0)\n").is_empty());
}

fn arb_pattern() -> impl Strategy<Value = BdfPattern> {
    (
        any::<u16>(),
        any::<u8>(),
        prop::option::of(0u8..32),
        prop::option::of(0u8..8),
    )
        .prop_map(|(segment, bus, slot, function)| BdfPattern {
            segment,
            bus,
            slot,
            function: if slot.is_none() { None } else { function },
        })
}

proptest! {
    #[test]
    fn parse_generate_round_trip(ps in proptest::collection::vec(arb_pattern(), 0..6)) {
        let v = generate(&ps);
        let l = parse(&v).unwrap();
        let got: Vec<BdfPattern> = l.entries.iter().map(|e| e.pattern).collect();
        prop_assert_eq!(got, ps);
    }

    #[test]
    fn pattern_display_round_trip(p in arb_pattern()) {
        prop_assert_eq!(p.to_string().parse::<BdfPattern>().unwrap(), p);
    }

    #[test]
    fn parse_never_panics(s in "[()0-9a-fx:.* ,]{0,30}") {
        let _ = parse(&s);
    }
}
