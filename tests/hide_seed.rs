//! The seed-000 flow on the seed's XCP-ng host (Supermicro X9DRW from the inventory's fixture
//! generator: C600 AHCI at 00:1f.2 holding dom0's root, LSI SAS2308 at 05:00.0, C602 SCU at
//! 06:00.0, I350 carrying the management bridge) with an XCP-ng 8.2 grub.cfg:
//! `xenpci hide 05:00.0 --dry-run` shows exactly what would change (the xen-cmdline
//! --get-dom0/--set-dom0 argv, the xl call) and changes nothing; the real run does it; the guard
//! refuses the controller holding dom0's root and bridges, and handles isolation groups.

mod util;

use predicates::prelude::*;
use util::{generated, original, Host};
use xenpci_fixtures as fixture;

fn seed_host() -> Host {
    let h = generated(fixture::x9drw(), "xcpng82");
    h.pciback();
    h
}

#[test]
fn seed_000_dry_run_shows_exactly_what_would_change() {
    let h = seed_host();
    let xc = util::tests_dir().join("doubles/xen-cmdline");
    let xl = util::tests_dir().join("doubles/xl");
    let out = h
        .xenpci(&["hide", "05:00.0", "--dry-run"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    let expected = format!(
        "# plan: hide 0000:05:00.0\n\
         # read: {xc} --get-dom0 xen-pciback.hide\n\
         #   => (empty)\n\
         # 1. persistent (xen-cmdline): set dom0's hide list (--set-dom0 replaces the whole value)\n\
         {xc} --set-dom0 'xen-pciback.hide=(0000:05:00.0)'\n\
         # 2. now (xl): unbind 0000:05:00.0 from mpt3sas and hand it to pciback\n\
         {xl} pci-assignable-add 0000:05:00.0\n\
         # note: the boot configuration changes take effect at the next host reboot\n\
         # dry run: nothing was changed\n",
        xc = xc.display(),
        xl = xl.display()
    );
    assert_eq!(out, expected);
    // Only the read-only query ran.
    assert_eq!(h.calls(), vec!["xen-cmdline --get-dom0 xen-pciback.hide"]);
    assert_eq!(
        h.read("/boot/grub/grub.cfg"),
        original("xcpng82", "/boot/grub/grub.cfg")
    );
    assert_eq!(h.driver("0000:05:00.0").as_deref(), Some("mpt3sas"));
}

#[test]
fn seed_000_real_run_hides_now_and_after_reboot() {
    let h = seed_host();
    h.xenpci(&["hide", "05:00.0"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "--set-dom0 'xen-pciback.hide=(0000:05:00.0)'",
        ))
        .stdout(predicate::str::contains("pci-assignable-add 0000:05:00.0"));
    assert!(h
        .read("/boot/grub/grub.cfg")
        .contains("plymouth.ignore-serial-consoles xen-pciback.hide=(0000:05:00.0)\n"));
    assert_eq!(h.driver("0000:05:00.0").as_deref(), Some("pciback"));
    h.xenpci(&["hidden", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"status\": \"hidden\""));
}

#[test]
fn the_controller_holding_dom0s_root_is_refused_with_the_override_named() {
    let h = seed_host();
    h.xenpci(&["hide", "00:1f.2"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "refusing to hide 0000:00:1f.2: dom0 needs it: holds / (ext3 on /dev/sda1)",
        ))
        .stderr(predicate::str::contains("add --force"));
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    assert_eq!(h.driver("0000:00:1f.2").as_deref(), Some("ahci"));
    h.xenpci(&["hide", "00:1f.2", "--persistent", "--force", "--dry-run"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: forced: 0000:00:1f.2: dom0 needs it: holds /",
        ))
        .stdout(predicate::str::contains("xen-pciback.hide=(0000:00:1f.2)"));
}

#[test]
fn a_bridge_is_refused_with_the_override_named() {
    let h = seed_host();
    h.xenpci(&["hide", "00:01.0", "--persistent"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "refusing to hide 0000:00:01.0: dom0 needs it",
        ))
        .stderr(predicate::str::contains("it is a bridge"))
        .stderr(predicate::str::contains("--force"));
    assert!(h.calls().is_empty());
}

#[test]
fn isolation_group_siblings_are_named_and_added_with_with_group() {
    let h = generated(fixture::gpu_pair(), "debian");
    // An isolation group is passed whole: half of it is refused (the policy), naming the rest.
    h.xenpci(&["hide", "01:00.0", "--persistent", "--dry-run"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "refusing to hide 0000:01:00.0: shares its isolation group with 0000:01:00.1, which would stay behind",
        ));
    assert!(h.calls().is_empty(), "{:?}", h.calls());
    h.xenpci(&[
        "hide",
        "01:00.0",
        "--persistent",
        "--dry-run",
        "--with-group",
    ])
    .assert()
    .success()
    .stdout(predicate::str::contains(
        "xen-pciback.hide=(0000:01:00.0)(0000:01:00.1)\n",
    ));
}

#[test]
fn without_pciback_the_default_hides_from_the_next_boot_only() {
    let h = generated(fixture::x9drw(), "xcpng82");
    h.xenpci(&["hide", "05:00.0"])
        .assert()
        .success()
        .stderr(predicate::str::contains("pciback driver is not loaded"));
    assert!(!h.calls().iter().any(|c| c.starts_with("xl ")));
    assert!(h
        .read("/boot/grub/grub.cfg")
        .contains("xen-pciback.hide=(0000:05:00.0)"));
    h.xenpci(&["hide", "06:00.0", "--now", "--live", "sysfs"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("modprobe xen-pciback"));
}

fn stdout_json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn json_refusal_is_one_document_on_stdout_with_exit_1() {
    let h = seed_host();
    let out = h
        .xenpci(&["hide", "--json", "00:1f.2", "00:01.0", "05:00.0"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "refusing to hide 0000:00:1f.2: dom0 needs it",
        ))
        .get_output()
        .clone();
    let j = stdout_json(&out);
    assert_eq!(j["refused"], true);
    assert_eq!(j["hint"], "--force");
    assert_eq!(j["refusals"].as_array().unwrap().len(), 2, "{j}");
    assert_eq!(j["refusals"][0]["bdf"], "0000:00:1f.2");
    assert_eq!(
        j["refusals"][0]["reasons"][0],
        "dom0 needs it: holds / (ext3 on /dev/sda1); holds /var/log (ext3 on /dev/sda2)"
    );
    assert_eq!(j["refusals"][0]["codes"][0]["code"], "dom0-needs");
    assert_eq!(j["kind"], "refused");
    assert_eq!(j["refusals"][1]["bdf"], "0000:00:01.0");
    assert!(j["refusals"][1]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("bridge"));
    assert!(j["error"]
        .as_str()
        .unwrap()
        .starts_with("refusing to hide 0000:00:1f.2"));
    // The isolation-group sibling left behind is a reason of the refusal, not a warning.
    assert!(j["refusals"][0]["reasons"][1]
        .as_str()
        .unwrap()
        .contains("0000:00:1f.3"));
    assert!(h.calls().is_empty(), "{:?}", h.calls());
}

#[test]
fn json_outcome_and_planning_errors_say_refused_false() {
    let h = seed_host();
    let out = h
        .xenpci(&["hide", "--json", "--dry-run", "05:00.0"])
        .assert()
        .success()
        .get_output()
        .clone();
    let j = stdout_json(&out);
    assert_eq!(j["refused"], false);
    assert_eq!(j["dry_run"], true);
    assert_eq!(j["method"], "xen-cmdline");
    // An error before anything is planned: still one document, exit 2 and the stderr message.
    for cmd in ["hide", "unhide"] {
        let out = h
            .xenpci(&[cmd, "--json", "--method", "extlinux", "05:00.0"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "xenpci: error: extlinux: no /boot/extlinux.conf",
            ))
            .get_output()
            .clone();
        let j = stdout_json(&out);
        assert_eq!(j["refused"], false);
        assert_eq!(j["kind"], "bad-input");
        assert_eq!(j["error"], "extlinux: no /boot/extlinux.conf");
    }
}
