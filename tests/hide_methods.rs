//! `xenpci hide/unhide --persistent` for each method on its fixture root: the list is merged
//! (a second device keeps the first), unhiding one keeps the others, short-form entries are
//! normalised only in the list we rewrite, and every other byte stays.

mod util;

use predicates::prelude::*;
use util::{changed_lines, host, original};

const XCP_CFG: &str = "/boot/grub/grub.cfg";

#[test]
fn xen_cmdline_merges_a_second_device_and_unhides_one_keeping_the_other() {
    let h = host("xcpng82");
    h.xenpci(&["hide", "05:00.0", "--persistent"])
        .assert()
        .success()
        .stderr(predicate::str::contains("persistent method: xen-cmdline"));
    let calls = h.calls();
    assert!(
        calls[0].ends_with("--get-dom0 xen-pciback.hide"),
        "{calls:?}"
    );
    assert!(
        calls[1].ends_with("--set-dom0 xen-pciback.hide=(0000:05:00.0)"),
        "{calls:?}"
    );
    h.xenpci(&["hide", "0000:06:00.0", "--persistent"])
        .assert()
        .success();
    let cfg = h.read(XCP_CFG);
    let changed = changed_lines(&original("xcpng82", XCP_CFG), &cfg);
    // Only the xe and xe-serial entries' dom0 lines change (xen-cmdline's rule).
    assert_eq!(changed.len(), 2, "{changed:?}");
    for (_, new) in &changed {
        assert!(
            new.ends_with(" xen-pciback.hide=(0000:05:00.0)(0000:06:00.0)"),
            "{new}"
        );
    }
    h.xenpci(&["unhide", "05:00.0", "--persistent"])
        .assert()
        .success();
    let cfg = h.read(XCP_CFG);
    assert!(cfg.contains(" xen-pciback.hide=(0000:06:00.0)\n"), "{cfg}");
    assert!(!cfg.contains("0000:05:00.0"));
    h.xenpci(&["unhide", "06:00.0", "--persistent"])
        .assert()
        .success();
    assert_eq!(h.read(XCP_CFG), original("xcpng82", XCP_CFG));
    let calls = h.calls();
    assert!(
        calls[calls.len() - 2].ends_with("--delete-dom0 xen-pciback.hide"),
        "{calls:?}"
    );
}

#[test]
fn xcpng83_uefi_layout_keeps_the_existing_entry() {
    let h = host("xcpng83-uefi");
    let cfg = "/boot/efi/EFI/xenserver/grub.cfg";
    h.xenpci(&["hide", "05:00.0", "--persistent"])
        .assert()
        .success();
    let new = h.read(cfg);
    let changed = changed_lines(&original("xcpng83-uefi", cfg), &new);
    assert_eq!(changed.len(), 2, "{changed:?}");
    for (old, new) in &changed {
        assert_eq!(
            new,
            &old.replace("(0000:04:00.0)", "(0000:04:00.0)(0000:05:00.0)")
        );
    }
}

#[test]
fn already_hidden_device_changes_nothing() {
    let h = host("xcpng83-uefi");
    h.xenpci(&["hide", "04:00.0", "--persistent"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "0000:04:00.0 is already hidden by \"(0000:04:00.0)\"",
        ));
    assert_eq!(h.calls().len(), 2, "{:?}", h.calls()); // get, and get again to confirm
    assert!(h.calls().iter().all(|c| c.contains("--get-dom0")));
}

#[test]
fn extlinux_keeps_the_key_normalises_the_edited_list_and_backs_up() {
    let h = host("xs62");
    let path = "/boot/extlinux.conf";
    h.xenpci(&["hide", "05:00.0", "--persistent"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "normalised (06:00.0) to (0000:06:00.0)",
        ))
        .stdout(predicate::str::contains(
            "backup: /boot/extlinux.conf.xenpci-",
        ));
    let new = h.read(path);
    let changed = changed_lines(&original("xs62", path), &new);
    assert_eq!(changed.len(), 4, "{changed:?}");
    assert!(changed[0].1.contains(
        " splash pciback.hide=(0000:06:00.0)(0000:01:00.0)(0000:05:00.0) --- /boot/initrd-2.6-xen.img"
    ));
    assert!(changed[1]
        .1
        .contains("console=hvc0 pciback.hide=(0000:05:00.0) --- /boot/initrd-2.6-xen.img"));
    let backups = h.files_like("/boot", "extlinux.conf.xenpci-");
    assert_eq!(backups.len(), 1);
    assert_eq!(
        h.read(&format!("/boot/{}", backups[0])),
        original("xs62", path)
    );
    h.xenpci(&["unhide", "01:00.0", "--persistent"])
        .assert()
        .success();
    let after = h.read(path);
    assert!(after.contains("splash pciback.hide=(0000:06:00.0)(0000:05:00.0) ---"));
}

#[test]
fn debian_grub_edits_every_xen_entry_and_etc_default_grub() {
    let h = host("debian");
    let cfg = "/boot/grub/grub.cfg";
    h.xenpci(&["hide", "05:00.0", "--persistent"])
        .assert()
        .success()
        .stderr(predicate::str::contains("persistent method: grub"));
    let new = h.read(cfg);
    let changed = changed_lines(&original("debian", cfg), &new);
    assert_eq!(changed.len(), 3, "{changed:?}");
    for (old, new) in &changed {
        assert!(old.trim_start().starts_with("module2\t/boot/vmlinuz"));
        assert_eq!(new, &format!("{old} xen-pciback.hide=(0000:05:00.0)"));
    }
    let defaults = h.read("/etc/default/grub");
    assert!(defaults.starts_with(&original("debian", "/etc/default/grub")));
    assert!(defaults.ends_with(
        "GRUB_CMDLINE_LINUX_XEN_REPLACE=\"console=tty0 xen-pciback.hide=(0000:05:00.0)\"\n"
    ));
    h.xenpci(&["hide", "06:00.0", "--persistent"])
        .assert()
        .success();
    let defaults = h.read("/etc/default/grub");
    assert!(defaults.ends_with(
        "GRUB_CMDLINE_LINUX_XEN_REPLACE=\"console=tty0 xen-pciback.hide=(0000:05:00.0)(0000:06:00.0)\"\n"
    ));
    assert_eq!(
        defaults.matches("GRUB_CMDLINE_LINUX_XEN_REPLACE=").count(),
        1
    );
    h.xenpci(&["unhide", "05:00.0", "06:00.0", "--persistent"])
        .assert()
        .success();
    assert_eq!(h.read(cfg), original("debian", cfg));
    assert!(h
        .read("/etc/default/grub")
        .ends_with("GRUB_CMDLINE_LINUX_XEN_REPLACE=\"console=tty0\"\n"));
}

#[test]
fn modprobe_edits_the_existing_options_line_in_place() {
    let h = host("modprobe");
    let conf = "/etc/modprobe.d/xen-pciback.conf";
    h.xenpci(&["hide", "05:00.0", "--persistent"])
        .assert()
        .success()
        .stderr(predicate::str::contains("persistent method: modprobe"))
        .stdout(predicate::str::contains("normalised (03:00.0)"));
    let changed = changed_lines(&original("modprobe", conf), &h.read(conf));
    assert_eq!(
        changed,
        vec![(
            "options xen-pciback hide=(03:00.0) passthrough=1".to_string(),
            "options xen-pciback hide=(0000:03:00.0)(0000:05:00.0) passthrough=1".to_string()
        )]
    );
    assert_eq!(
        h.read("/etc/modprobe.d/blacklist.conf"),
        original("modprobe", "/etc/modprobe.d/blacklist.conf")
    );
}

#[test]
fn modprobe_creates_its_own_file_when_there_is_no_line() {
    let h = host("");
    h.write("/etc/modprobe.d/other.conf", "blacklist nouveau\n");
    h.xenpci(&["hide", "05:00.0", "--persistent", "--method", "modprobe"])
        .assert()
        .success();
    assert!(h
        .read("/etc/modprobe.d/xen-pciback.conf")
        .ends_with("\noptions xen-pciback hide=(0000:05:00.0)\n"));
}

#[test]
fn dry_run_shows_the_diff_and_changes_nothing() {
    let h = host("debian");
    h.xenpci(&["hide", "05:00.0", "--persistent", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--- a/boot/grub/grub.cfg"))
        .stdout(predicate::str::contains(
            "+\tmodule2\t/boot/vmlinuz-6.1.0-18-amd64 placeholder root=UUID=6f1c7e9a-4b1d-4e0b-9a51-2b8d1f0e5c11 ro console=tty0 quiet xen-pciback.hide=(0000:05:00.0)",
        ))
        .stdout(predicate::str::contains("+++ b/etc/default/grub"))
        .stdout(predicate::str::contains("dry run: nothing was changed"));
    assert_eq!(
        h.read("/boot/grub/grub.cfg"),
        original("debian", "/boot/grub/grub.cfg")
    );
    assert!(!h.path("/run/lock/xenpci-hide.lock").exists());
}

#[test]
fn json_plan_names_every_step() {
    let h = host("xs62");
    let out = h
        .xenpci(&["hide", "05:00.0", "--persistent", "--dry-run", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["method"], "extlinux");
    let step = &v["plan"]["steps"][0]["action"];
    assert_eq!(step["kind"], "write_file");
    assert_eq!(step["path"], "/boot/extlinux.conf");
    assert!(step["diff"].as_str().unwrap().contains("(0000:05:00.0)"));
    assert!(v["plan"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("normalised (01:00.0)")));
}

#[test]
fn a_malformed_existing_list_is_refused_and_named() {
    let h = host("xs62");
    let p = "/boot/extlinux.conf";
    let broken = original("xs62", p).replace("(06:00.0)(01:00.0)", "(0000:82.0.0)");
    h.write(p, &broken);
    h.xenpci(&["hide", "05:00.0", "--persistent"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("(0000:82.0.0)"))
        .stderr(predicate::str::contains(
            "/boot/extlinux.conf line 10 (label xe)",
        ));
    assert_eq!(h.read(p), broken);
}

#[test]
fn bad_bdf_and_unknown_method_are_clear_errors() {
    let h = host("xcpng82");
    h.xenpci(&["hide", "05:00"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("\"05:00\""));
    h.xenpci(&["hide", "05:00.0", "--method", "lilo"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown method \"lilo\""));
}

#[test]
fn hidden_reports_now_next_boot_and_the_difference() {
    let h = host("xcpng83-uefi");
    h.pciback()
        .device("0000:04:00.0", "010700", Some("pciback"))
        .device("0000:05:00.0", "010700", Some("mpt3sas"))
        .device("0000:07:00.0", "020000", Some("pciback"));
    h.xenpci(&["hide", "05:00.0", "--persistent"])
        .assert()
        .success();
    let out = h
        .xenpci(&["hidden", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let d = v["devices"].as_array().unwrap();
    let status: Vec<(&str, &str)> = d
        .iter()
        .map(|x| (x["bdf"].as_str().unwrap(), x["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        status,
        vec![
            ("0000:04:00.0", "hidden"),
            ("0000:05:00.0", "reboot pending"),
            ("0000:07:00.0", "hidden now but lost at reboot"),
        ]
    );
    assert_eq!(d[1]["driver"], "mpt3sas");
    assert_eq!(d[0]["hidden_at_boot"], true);
    h.xenpci(&["hidden"])
        .assert()
        .success()
        .stdout(predicate::str::contains("0000:05:00.0  now: mpt3sas"))
        .stdout(predicate::str::contains("reboot pending"));
}

fn xapi_host() -> util::Host {
    let h = host("xcpng83-uefi");
    h.write(
        "/var/lib/xe-double/pci",
        "c0ffee00-0000-4000-8000-000000000005 0000:05:00.0\n\
         c0ffee00-0000-4000-8000-000000000004 0000:04:00.0\n",
    );
    h
}

fn xe_double() -> std::path::PathBuf {
    util::tests_dir().join("doubles/xe")
}

#[test]
fn xapi_on_83_disables_and_enables_dom0_access_per_device() {
    let h = xapi_host();
    let cfg = "/boot/efi/EFI/xenserver/grub.cfg";
    h.xenpci(&["hide", "05:00.0", "--persistent"])
        .env("XENPCI_XE", xe_double())
        .assert()
        .success()
        .stderr(predicate::str::contains("persistent method: xapi"));
    let calls = h.calls();
    assert!(calls.contains(
        &"xe pci-list pci-id=0000:05:00.0 host-uuid=8f7e0c2a-0000-4000-8000-000000000001 --minimal"
            .to_string()
    ), "{calls:?}");
    assert!(calls.contains(
        &"xe pci-disable-dom0-access uuid=c0ffee00-0000-4000-8000-000000000005".to_string()
    ));
    // xapi prepends the device to what xen-cmdline had.
    assert!(h
        .read(cfg)
        .contains("xen-pciback.hide=(0000:05:00.0)(0000:04:00.0)\n"));
    h.xenpci(&["unhide", "05:00.0", "--persistent"])
        .env("XENPCI_XE", xe_double())
        .assert()
        .success();
    assert!(h.calls().contains(
        &"xe pci-enable-dom0-access uuid=c0ffee00-0000-4000-8000-000000000005".to_string()
    ));
    assert_eq!(h.read(cfg), original("xcpng83-uefi", cfg));
}

#[test]
fn xapi_without_a_pci_object_names_the_other_method() {
    let h = xapi_host();
    h.xenpci(&["hide", "06:00.0", "--persistent", "--method", "xapi"])
        .env("XENPCI_XE", xe_double())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "xapi has no PCI object for 0000:06:00.0",
        ))
        .stderr(predicate::str::contains("--method xen-cmdline"));
}

#[test]
fn xapi_falls_back_to_xen_cmdline_when_the_list_has_short_form_entries() {
    let h = xapi_host();
    let cfg = "/boot/efi/EFI/xenserver/grub.cfg";
    h.write(
        cfg,
        &original("xcpng83-uefi", cfg).replace("(0000:04:00.0)", "(04:00.0)"),
    );
    h.xenpci(&["hide", "05:00.0", "--persistent"])
        .env("XENPCI_XE", xe_double())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "xapi cannot read the current hide list",
        ))
        .stdout(predicate::str::contains(
            "normalised (04:00.0) to (0000:04:00.0)",
        ));
    assert!(!h.calls().iter().any(|c| c.starts_with("xe pci-disable")));
    assert!(h
        .read(cfg)
        .contains("xen-pciback.hide=(0000:04:00.0)(0000:05:00.0)\n"));
}

#[test]
fn hidden_without_a_known_boot_method_shows_the_current_state() {
    let h = host("");
    h.pciback()
        .device("0000:05:00.0", "010700", Some("pciback"));
    h.xenpci(&["hidden"])
        .assert()
        .success()
        .stderr(predicate::str::contains("showing the current state only"))
        .stdout(predicate::str::contains("0000:05:00.0  now: pciback"))
        .stdout(predicate::str::contains("hidden now (next boot unknown)"));
}

/// Seed 004's host kind: a XenServer 7 upgraded on legacy BIOS boots through extlinux and has
/// no xen-cmdline. Detection picks extlinux (it used to pick xen-cmdline and fail to run it),
/// and `hidden` without --method reads the same list after a hide.
#[test]
fn xenserver_7_with_extlinux_and_no_xen_cmdline_is_detected_as_extlinux() {
    let h = host("xs62");
    let inv = h
        .read("/etc/xensource-inventory")
        .replace("PRODUCT_VERSION='6.2.0'", "PRODUCT_VERSION='7.1.2'");
    h.write("/etc/xensource-inventory", &inv);
    let none = h.path("/nonexistent-xen-cmdline");
    let none = none.to_str().unwrap();
    h.xenpci(&["hide", "05:00.0", "06:00.0", "--dry-run"])
        .env("XENPCI_XEN_CMDLINE", none)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "persistent method: extlinux (XenServer 7.1.2: /boot/extlinux.conf)",
        ));
    h.xenpci(&["hide", "05:00.0", "--method", "extlinux"])
        .env("XENPCI_XEN_CMDLINE", none)
        .assert()
        .success();
    h.xenpci(&["hidden"])
        .env("XENPCI_XEN_CMDLINE", none)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "next boot (/boot/extlinux.conf line 10 (label xe)): (0000:06:00.0)(0000:01:00.0)(0000:05:00.0)",
        ));
}

/// When nothing fits, the error names every place looked at and the --method values.
#[test]
fn an_undetectable_xapi_host_names_what_was_looked_for() {
    let h = host("xs62");
    let inv = h
        .read("/etc/xensource-inventory")
        .replace("PRODUCT_VERSION='6.2.0'", "PRODUCT_VERSION='7.1.2'");
    h.write("/etc/xensource-inventory", &inv);
    h.remove("/boot/extlinux.conf");
    let none = h.path("/nonexistent-xen-cmdline");
    h.xenpci(&["hide", "05:00.0", "--dry-run"])
        .env("XENPCI_XEN_CMDLINE", none.to_str().unwrap())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "XenServer 7.1.2 (/etc/xensource-inventory)",
        ))
        .stderr(predicate::str::contains("xen-cmdline ("))
        .stderr(predicate::str::contains(
            "/boot/extlinux.conf with a Xen label",
        ))
        .stderr(predicate::str::contains("/boot/grub/grub.cfg"))
        .stderr(predicate::str::contains(
            "--method xen-cmdline, xapi, grub, extlinux or modprobe",
        ));
}
