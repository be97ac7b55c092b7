//! `xenpci hide/unhide --now`: through the xl double (pci-assignable-add / -remove -r) and
//! through sysfs directly (original driver recorded, unbind, new_slot, bind; driver_override
//! where present), and rollback of earlier steps when a later one fails.

mod util;

use predicates::prelude::*;
use util::{host, original, Host};

const BDF: &str = "0000:05:00.0";

fn seed_host(fixture: &str) -> Host {
    let h = host(fixture);
    h.pciback()
        .device("0000:00:1f.2", "010601", Some("ahci"))
        .device(BDF, "010700", Some("mpt3sas"))
        .device("0000:06:00.0", "010700", Some("isci"));
    h
}

#[test]
fn xl_hides_now_and_unhide_rebinds_the_original_driver() {
    let h = seed_host("xcpng82");
    h.xenpci(&["hide", "05:00.0", "--now", "--live", "xl"])
        .assert()
        .success()
        .stdout(predicate::str::contains("done: "))
        .stdout(predicate::str::contains("pci-assignable-add 0000:05:00.0"));
    assert_eq!(h.calls(), vec![format!("xl pci-assignable-add {BDF}")]);
    assert_eq!(h.driver(BDF).as_deref(), Some("pciback"));
    assert_eq!(h.read("/sys/bus/pci/drivers/mpt3sas/unbind"), BDF);
    // Already hidden: nothing runs.
    h.xenpci(&["hide", "05:00.0", "--now", "--live", "xl"])
        .assert()
        .success()
        .stdout(predicate::str::contains("already bound to pciback"));
    assert_eq!(h.calls().len(), 1);
    h.xenpci(&["unhide", "05:00.0", "--now", "--live", "xl"])
        .assert()
        .success();
    assert_eq!(
        h.calls().last().unwrap(),
        &format!("xl pci-assignable-remove -r {BDF}")
    );
    assert_eq!(h.driver(BDF).as_deref(), Some("mpt3sas"));
}

#[test]
fn sysfs_records_the_driver_unbinds_adds_the_slot_and_binds() {
    let h = seed_host("debian");
    h.xenpci(&["hide", "05:00.0", "--now", "--live", "sysfs", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "echo -n 0000:05:00.0 > /sys/bus/pci/drivers/mpt3sas/unbind\n",
        ))
        .stdout(predicate::str::contains(
            "echo -n 0000:05:00.0 > /sys/bus/pci/drivers/pciback/new_slot\n",
        ))
        .stdout(predicate::str::contains(
            "echo -n 0000:05:00.0 > /sys/bus/pci/drivers/pciback/bind\n",
        ));
    assert_eq!(h.read("/sys/bus/pci/drivers/mpt3sas/unbind"), "");
    h.xenpci(&["hide", "05:00.0", "--now", "--live", "sysfs"])
        .assert()
        .success();
    assert_eq!(
        h.read("/var/lib/xenpci/hide/0000:05:00.0.driver"),
        "mpt3sas\n"
    );
    assert_eq!(h.read("/sys/bus/pci/drivers/mpt3sas/unbind"), BDF);
    assert_eq!(h.read("/sys/bus/pci/drivers/pciback/new_slot"), BDF);
    assert_eq!(h.read("/sys/bus/pci/drivers/pciback/bind"), BDF);
    assert!(h.calls().is_empty());
}

#[test]
fn sysfs_uses_driver_override_where_the_kernel_has_it() {
    let h = seed_host("debian");
    h.with_override(BDF);
    h.xenpci(&["hide", "05:00.0", "--now", "--live", "sysfs"])
        .assert()
        .success();
    assert_eq!(
        h.read("/sys/bus/pci/devices/0000:05:00.0/driver_override"),
        "pciback"
    );
    assert_eq!(h.read("/sys/bus/pci/drivers/pciback/new_slot"), "");
    assert_eq!(h.read("/sys/bus/pci/drivers/pciback/bind"), BDF);
}

#[test]
fn sysfs_unhide_clears_driver_override_with_a_newline() {
    // A zero-length write to driver_override changes nothing on a real kernel (the KVM lab
    // showed it); the kernel clears the override on "\n".
    let h = seed_host("debian");
    h.bind(BDF, "pciback")
        .write(
            "/sys/bus/pci/devices/0000:05:00.0/driver_override",
            "pciback\n",
        )
        .write("/var/lib/xenpci/hide/0000:05:00.0.driver", "mpt3sas\n");
    h.xenpci(&["unhide", "05:00.0", "--now", "--live", "sysfs"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(h.path("/sys/bus/pci/devices/0000:05:00.0/driver_override"))
            .unwrap(),
        "\n"
    );
    assert_eq!(h.read("/sys/bus/pci/drivers/mpt3sas/bind"), BDF);
}

#[test]
fn sysfs_unhide_restores_the_recorded_driver() {
    let h = seed_host("debian");
    h.bind(BDF, "pciback")
        .write("/sys/bus/pci/drivers/pciback/slots", "0000:05:00.0\n")
        .write("/var/lib/xenpci/hide/0000:05:00.0.driver", "mpt3sas\n");
    h.xenpci(&["unhide", "05:00.0", "--now", "--live", "sysfs"])
        .assert()
        .success();
    assert_eq!(h.read("/sys/bus/pci/drivers/pciback/unbind"), BDF);
    assert_eq!(h.read("/sys/bus/pci/drivers/pciback/remove_slot"), BDF);
    assert_eq!(h.read("/sys/bus/pci/drivers/mpt3sas/bind"), BDF);
    assert!(!h.path("/var/lib/xenpci/hide/0000:05:00.0.driver").exists());
}

#[test]
fn sysfs_without_pciback_is_a_clear_error() {
    let h = host("debian");
    h.device(BDF, "010700", Some("mpt3sas"));
    h.xenpci(&["hide", "05:00.0", "--now", "--live", "sysfs"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("modprobe xen-pciback"));
    h.xenpci(&["hide", "09:00.0", "--now", "--live", "sysfs"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no PCI function 0000:09:00.0"));
}

#[test]
fn a_failing_live_step_restores_the_boot_file() {
    let h = seed_host("debian");
    h.xenpci(&["hide", "05:00.0", "--method", "grub", "--live", "xl"])
        .env("XENPCI_DOUBLE_FAIL", "add")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("injected failure"))
        .stderr(predicate::str::contains(
            "undone: restored /etc/default/grub",
        ))
        .stderr(predicate::str::contains(
            "undone: restored /boot/grub/grub.cfg",
        ));
    assert_eq!(
        h.read("/boot/grub/grub.cfg"),
        original("debian", "/boot/grub/grub.cfg")
    );
    assert_eq!(
        h.read("/etc/default/grub"),
        original("debian", "/etc/default/grub")
    );
    assert_eq!(h.driver(BDF).as_deref(), Some("mpt3sas"));
}

#[test]
fn a_failing_live_step_reverts_xen_cmdline() {
    let h = seed_host("xcpng82");
    h.xenpci(&["hide", "05:00.0", "--live", "xl"])
        .env("XENPCI_DOUBLE_FAIL", "add")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--delete-dom0 xen-pciback.hide"));
    let calls = h.calls();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert!(calls[1].contains("--set-dom0 xen-pciback.hide=(0000:05:00.0)"));
    assert!(calls[3].ends_with("--delete-dom0 xen-pciback.hide"));
    assert_eq!(
        h.read("/boot/grub/grub.cfg"),
        original("xcpng82", "/boot/grub/grub.cfg")
    );
}

#[test]
fn a_failing_sysfs_bind_rebinds_the_original_driver() {
    let h = seed_host("debian");
    std::fs::remove_file(h.path("/sys/bus/pci/drivers/pciback/bind")).unwrap();
    h.xenpci(&["hide", "05:00.0", "--now", "--live", "sysfs"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("pciback/bind"))
        .stderr(predicate::str::contains(
            "undone: echo -n 0000:05:00.0 > /sys/bus/pci/drivers/mpt3sas/bind",
        ))
        .stderr(predicate::str::contains(
            "undone: echo -n 0000:05:00.0 > /sys/bus/pci/drivers/pciback/remove_slot",
        ));
    assert_eq!(h.read("/sys/bus/pci/drivers/mpt3sas/bind"), BDF);
    assert!(!h.path("/var/lib/xenpci/hide/0000:05:00.0.driver").exists());
}

/// A device held by a KVM stub (vfio-pci, pci-stub) is not hidden for Xen: `hidden` says so and
/// names `xenpci hide --now`, which moves it to pciback (`hide --now` does not stop at "already
/// hidden").
#[test]
fn a_device_on_a_kvm_stub_is_not_hidden_until_moved_to_pciback() {
    for stub in ["vfio-pci", "pci-stub"] {
        let h = seed_host("xcpng82");
        h.bind(BDF, stub);
        h.xenpci(&["hide", "05:00.0", "--persistent"])
            .assert()
            .success();
        let v: serde_json::Value = serde_json::from_slice(
            &h.xenpci(&["hidden", "--json"])
                .assert()
                .success()
                .get_output()
                .stdout,
        )
        .unwrap();
        let d = &v["devices"][0];
        assert_eq!(d["bdf"], BDF);
        assert_eq!(d["hidden_now"], false);
        assert_eq!(d["driver"], stub);
        assert_eq!(d["status"], "reboot pending");
        h.xenpci(&["hidden"])
            .assert()
            .success()
            .stdout(predicate::str::contains(format!("{BDF}  now: {stub}")))
            .stdout(predicate::str::contains(format!(
                "    {BDF}: held by the KVM stub {stub}, not pciback: Xen cannot pass it through \
                 from there; move it to pciback: `xenpci hide --now {BDF}`"
            )));
        h.xenpci(&["hide", "05:00.0", "--now", "--live", "xl", "--dry-run"])
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(
                "unbind {BDF} from {stub} and hand it to pciback"
            )));
        h.xenpci(&["hide", "05:00.0", "--now", "--live", "xl"])
            .assert()
            .success()
            .stdout(predicate::str::contains("done: "));
        assert_eq!(h.read(&format!("/sys/bus/pci/drivers/{stub}/unbind")), BDF);
        assert_eq!(
            h.calls().last().unwrap(),
            &format!("xl pci-assignable-add {BDF}")
        );
        assert_eq!(h.driver(BDF).as_deref(), Some("pciback"));
        h.xenpci(&["hidden"])
            .assert()
            .success()
            .stdout(predicate::str::contains(format!("{BDF}  now: pciback")))
            .stdout(predicate::str::contains("KVM stub").not());
    }
}
