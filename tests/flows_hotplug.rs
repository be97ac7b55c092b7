//! `xenpci attach` / `detach` / `attached` against the mock xl: what xl would refuse is refused
//! before xl is called, and results are verified (xl pci-list, or XenStore with a real oxenstored).

#[allow(dead_code)]
#[path = "xenstored/harness.rs"]
mod xenstored;

use xenpci_testkit::lab::Scenario;

fn attach_calls(s: &Scenario) -> usize {
    s.xl_log()
        .lines()
        .filter(|l| l.contains(" pci-attach "))
        .count()
}

#[test]
fn attach_with_options_and_vslot_then_detach() {
    let s = Scenario::lab();
    let r = s.xenpci(&["attach", "hvmvm", "0000:03:00.0@5,permissive=1"]);
    r.ok();
    assert!(
        r.stdout.contains("verified with xl pci-list"),
        "{}",
        r.stdout
    );
    assert_eq!(
        s.xl("h1", &["pci-list", "hvmvm"]).stdout,
        "Vdev Device\n05.0 0000:03:00.0\n"
    );
    let r = s.xenpci(&["attached", "hvmvm", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.ok().stdout).unwrap();
    assert_eq!(v[0]["bdf"], "0000:03:00.0");
    assert_eq!(v[0]["vslot"], 5);
    s.xenpci(&["detach", "hvmvm", "0000:03:00.0"]).ok();
    assert_eq!(s.devices_of("h1", "hvmvm"), Some(vec![]));
}

#[test]
fn refusals_happen_before_xl_is_called() {
    let s = Scenario::lab();
    for (dom, spec, needle) in [
        ("pvvm", "0000:05:00.0", "not assignable"),
        ("plain", "0000:03:00.0", "without passthrough=\"enabled\""),
        ("pod", "0000:03:00.0", "populate-on-demand"),
        ("hvmvm", "0000:03:00.*", "needs a guest slot"),
        ("ghost", "0000:03:00.0", "ghost is not a domain there"),
    ] {
        let r = s.xenpci(&["attach", dom, spec]);
        // An unknown domain is bad input (exit 2), as an unknown VM is for assign.
        let want = if dom == "ghost" { 2 } else { 1 };
        assert_eq!(r.code, want, "{dom} {spec}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{needle:?} not in {}", r.stderr);
    }
    assert_eq!(attach_calls(&s), 0);
    let r = s.xenpci(&["attach", "pvvm", "zz:zz"]);
    assert!(
        r.stderr.contains("PCI_SPEC_STRING \"zz:zz\""),
        "{}",
        r.stderr
    );
}

#[test]
fn a_device_on_another_guest_is_not_attached_twice() {
    let s = Scenario::lab();
    s.xenpci(&["attach", "pvvm", "0000:03:00.0"]).ok();
    let r = s.xenpci(&["attach", "hvmvm", "0000:03:00.0@4"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("refusing to attach 0000:03:00.0 to domain hvmvm: in use: attached to running domain pvvm (domid 1)"),
        "{}",
        r.stderr
    );
    assert_eq!(s.attachments().len(), 1);
}

#[test]
fn xl_failure_is_reported_with_its_stderr() {
    let s = Scenario::lab();
    let r = s.xenpci_env(
        &[("XL_MOCK_FAIL", "pci-attach:1")],
        &["attach", "pvvm", "0000:03:00.0"],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("injected failure of pci-attach"),
        "{}",
        r.stderr
    );
}

#[test]
fn dry_run_prints_the_command_and_changes_nothing() {
    let s = Scenario::lab();
    let r = s.xenpci(&["attach", "pvvm", "0000:03:00.0", "--dry-run"]);
    assert!(r.ok().stdout.contains("would run on h1: "), "{}", r.stdout);
    assert!(r.stdout.contains("pci-attach pvvm 0000:03:00.0"));
    assert_eq!(attach_calls(&s), 0);
}

#[test]
fn detach_of_a_device_that_is_not_attached_has_nothing_to_do() {
    // "Nothing to do" is exit 0 everywhere (it was a refusal, exit 1).
    let s = Scenario::lab();
    let r = s.xenpci(&["detach", "pvvm", "0000:03:00.0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("nothing to do: 0000:03:00.0 is not attached to pvvm"),
        "{}",
        r.stdout
    );
    assert!(!s.xl_log().contains("pci-detach"), "{}", s.xl_log());
}

/// With a real oxenstored and the mock's XenStore mirror, the attach is verified in XenStore.
#[test]
fn attach_is_verified_in_a_real_xenstore() {
    if xenstored::shared().is_none() {
        return;
    }
    let s = Scenario::lab()
        .env("XL_MOCK_XENSTORE", "1")
        .env("XENPCI_NO_XENSTORE", "0");
    let r = s.xenpci(&["attach", "pvvm", "0000:04:00.0"]);
    assert!(
        r.ok().stdout.contains("verified in XenStore"),
        "{}",
        r.stdout
    );
    let r = s.xenpci(&["detach", "pvvm", "0000:04:00.0"]);
    assert!(
        r.ok().stdout.contains("verified in XenStore"),
        "{}",
        r.stdout
    );
}

/// xl's exit status is not trusted: an attach that "succeeds" (exit 0) but changes nothing is
/// reported as not verified.
#[test]
fn a_lying_exit_status_is_caught_by_verification() {
    let s = Scenario::lab();
    let r = s.xenpci_env(
        &[("XL_MOCK_FAIL", "pci-attach:1=0")],
        &["attach", "pvvm", "0000:03:00.0"],
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("not verified: xl pci-list pvvm does not list 0000:03:00.0 after the attach"),
        "{}",
        r.stderr
    );
}

#[test]
fn json_refusals_and_xl_failures_are_one_document_on_stdout() {
    let s = Scenario::lab();
    let r = s.xenpci(&["attach", "plain", "0000:03:00.0", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("without passthrough=\"enabled\""));
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect(&r.stdout);
    assert_eq!(v["refused"], true);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("without passthrough=\"enabled\""));
    // Nothing to do (not attached): the report, exit 0.
    let r = s.xenpci(&["detach", "pvvm", "0000:03:00.0", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect(&r.stdout);
    assert_eq!(v["nothing_to_do"], true, "{v}");
    // xl's own failure is an error, not a refusal.
    let r = s.xenpci_env(
        &[("XL_MOCK_FAIL", "pci-attach:1")],
        &["attach", "pvvm", "0000:03:00.0", "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect(&r.stdout);
    assert_eq!(v["refused"], false);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("injected failure of pci-attach"));
    assert_eq!(attach_calls(&s), 1);
}

/// The xm/xl habit `pci-attach [-o OPTS] DOM BDF [VSLOT]` (the seed's
/// `xm pci-attach -o msitranslate=0 0:2:0.0 7`) next to the spec form: the same attach.
#[test]
fn attach_takes_the_xm_form_with_a_slot_and_dash_o() {
    let s = Scenario::lab();
    let r = s.xenpci(&["attach", "-o", "permissive=1", "hvmvm", "0:3:0.0", "7"]);
    r.ok();
    assert!(
        s.xl_log()
            .contains("pci-attach hvmvm 0:3:0.0@7,permissive=1"),
        "{}",
        s.xl_log()
    );
    assert_eq!(
        s.xl("h1", &["pci-list", "hvmvm"]).stdout,
        "Vdev Device\n07.0 0000:03:00.0\n"
    );
    // Two slots, or options xl would refuse, are bad input (exit 2) before xl is asked.
    let r = s.xenpci(&["attach", "pvvm", "0000:04:00.0@3", "4"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("one guest slot"), "{}", r.stderr);
    let r = s.xenpci(&["attach", "pvvm", "0000:04:00.0", "-o", "bogus"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(attach_calls(&s), 1);
}

/// `attach DOM --vf-of PF` takes a VF of that PF that no guest holds — the one already hidden
/// first — says which, and attaches it through the same checks; a PF whose VFs are all taken is
/// bad input naming why.
#[test]
fn attach_vf_of_takes_a_hidden_vf_and_says_which() {
    use xenpci_fixtures::{Fixture, Func};
    let s = Scenario::with_state(serde_json::json!({"hosts": {
        "h1": {"devices": [
            {"bdf": "0000:01:10.2", "driver": "pciback"},
            {"bdf": "0000:01:10.0", "driver": "igbvf"}],
          "domains": [{"domid": 1, "name": "pvvm", "type": "pv", "passthrough": "sync_pt"}],
          "next-domid": 2}}}));
    Fixture::new()
        .with(Func::root_port("00:01.0", 0x8086, 0x3c02, 1).acs())
        .with(
            Func::endpoint("01:00.0", 0x8086, 0x10c9, 0x020000)
                .under("00:01.0")
                .flr()
                .acs()
                .sriov(8, 2, 0x10ca)
                .driver("igb"),
        )
        .vfs("01:00.0", &["01:10.0"], Some("igbvf"))
        .vfs("01:00.0", &["01:10.2"], Some("pciback"))
        .write(&s.root("h1"))
        .unwrap();
    let r = s.xenpci(&["attach", "pvvm", "--vf-of", "01:00.0"]);
    r.ok();
    assert!(
        r.stderr
            .contains("using 0000:01:10.2 (virtfn1 of 0000:01:00.0, already hidden)"),
        "{}",
        r.stderr
    );
    assert_eq!(
        s.devices_of("h1", "pvvm"),
        Some(vec!["0000:01:10.2".to_string()])
    );
    // a PF that is not one, and a spec together with --vf-of
    let r = s.xenpci(&["attach", "pvvm", "--vf-of", "01:10.0"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("it is a VF of 0000:01:00.0"),
        "{}",
        r.stderr
    );
    let r = s.xenpci(&["attach", "pvvm", "01:10.0", "--vf-of", "01:00.0"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
