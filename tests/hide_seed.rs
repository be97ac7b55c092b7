//! The seed-000 flow on a host modelled on the seed's XCP-ng box (Supermicro X9DRW: C600 AHCI at
//! 00:1f.2, LSI SAS2308 at 05:00.0, C602 SCU at 06:00.0): `xenpci hide 05:00.0 --dry-run` shows
//! exactly what would change (the xen-cmdline --get-dom0/--set-dom0 argv, the xl call) and
//! changes nothing; the real run does it; the guard refuses what dom0 needs.

mod hide_common;

use hide_common::{host, original, Host};
use predicates::prelude::*;

fn seed_host() -> Host {
    let h = host("xcpng82");
    h.pciback()
        .device("0000:00:1f.2", "010601", Some("ahci"))
        .device("0000:00:03.0", "060400", Some("pcieport"))
        .device("0000:05:00.0", "010700", Some("mpt2sas"))
        .device("0000:06:00.0", "010700", Some("isci"));
    h
}

#[test]
fn seed_000_dry_run_shows_exactly_what_would_change() {
    let h = seed_host();
    let xc = hide_common::tests_dir().join("doubles/xen-cmdline");
    let xl = hide_common::tests_dir().join("doubles/xl");
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
         # 2. now (xl): unbind 0000:05:00.0 from mpt2sas and hand it to pciback\n\
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
    assert_eq!(h.driver("0000:05:00.0").as_deref(), Some("mpt2sas"));
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
fn a_bridge_is_refused_with_the_override_named() {
    let h = seed_host();
    h.xenpci(&["hide", "00:03.0", "--persistent"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("0000:00:03.0 is needed by dom0"))
        .stderr(predicate::str::contains("PCI bridge"))
        .stderr(predicate::str::contains("--force"));
    assert!(h.calls().is_empty());
    h.xenpci(&["hide", "00:03.0", "--persistent", "--force", "--dry-run"])
        .assert()
        .success()
        .stderr(predicate::str::contains("hiding anyway: --force"));
}

#[test]
fn isolation_group_siblings_are_named_and_added_with_with_group() {
    let h = seed_host();
    h.device("0000:07:00.0", "030000", Some("nouveau")).device(
        "0000:07:00.1",
        "040300",
        Some("snd_hda_intel"),
    );
    for b in ["0000:07:00.0", "0000:07:00.1"] {
        h.write(
            &format!("/sys/bus/pci/devices/0000:07:00.0/iommu_group/devices/{b}"),
            "",
        );
    }
    h.xenpci(&["hide", "07:00.0", "--persistent", "--dry-run"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "shares its isolation group with 0000:07:00.1",
        ))
        .stdout(predicate::str::contains("xen-pciback.hide=(0000:07:00.0)'"));
    h.xenpci(&[
        "hide",
        "07:00.0",
        "--persistent",
        "--dry-run",
        "--with-group",
    ])
    .assert()
    .success()
    .stdout(predicate::str::contains(
        "xen-pciback.hide=(0000:07:00.0)(0000:07:00.1)'",
    ));
}
