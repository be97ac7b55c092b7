//! Fault injection: a write failing at each step of the atomic replace (`XENPCI_FAIL_WRITE`:
//! temp file creation = permission denied / disk full at open, write = disk full, fsync, backup,
//! rename) leaves the original file intact and no temporary file behind; a read-only directory
//! does too; two `hide` runs at once both land (the lock).

mod util;

use std::os::unix::fs::PermissionsExt;

use predicates::prelude::*;
use util::{host, original};

const CFG: &str = "/boot/extlinux.conf";

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn every_failing_write_step_leaves_the_original_intact() {
    for step in ["create", "write", "fsync", "backup", "rename"] {
        let h = host("xs62");
        h.xenpci(&["hide", "05:00.0", "--persistent"])
            .env("XENPCI_FAIL_WRITE", step)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("injected failure at"))
            .stderr(predicate::str::contains("the original file is unchanged"));
        assert_eq!(h.read(CFG), original("xs62", CFG), "step {step}");
        assert!(
            h.files_like("/boot", "xenpci-tmp").is_empty(),
            "temporary file left after {step}"
        );
    }
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn a_read_only_directory_leaves_the_original_intact() {
    let h = host("xs62");
    let dir = h.path("/boot");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    if tempfile::tempfile_in(&dir).is_ok() {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        eprintln!("skipped: running as root, which ignores directory permissions (the create fault above covers EACCES at temp-file creation)");
        return;
    }
    h.xenpci(&["hide", "05:00.0", "--persistent"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Permission denied"));
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(h.read(CFG), original("xs62", CFG));
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn two_hides_at_once_both_land() {
    let h = host("xcpng82");
    let mut a = h.std_xenpci(&["hide", "05:00.0", "--persistent"]);
    let mut b = h.std_xenpci(&["hide", "06:00.0", "--persistent"]);
    // Each xen-cmdline --get-dom0 sleeps, so without the lock both would read the empty list
    // and the second --set-dom0 would drop the first device.
    a.env("XENPCI_DOUBLE_SLEEP", "0.4");
    b.env("XENPCI_DOUBLE_SLEEP", "0.4");
    let ca = a.spawn().unwrap();
    let cb = b.spawn().unwrap();
    let (oa, ob) = (
        ca.wait_with_output().unwrap(),
        cb.wait_with_output().unwrap(),
    );
    assert!(
        oa.status.success(),
        "{}",
        String::from_utf8_lossy(&oa.stderr)
    );
    assert!(
        ob.status.success(),
        "{}",
        String::from_utf8_lossy(&ob.stderr)
    );
    let cfg = h.read("/boot/grub/grub.cfg");
    let line = cfg
        .lines()
        .find(|l| l.contains("xen-pciback.hide="))
        .unwrap_or_else(|| panic!("no hide list:\n{cfg}"));
    assert!(
        line.contains("(0000:05:00.0)") && line.contains("(0000:06:00.0)"),
        "{line}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn two_file_hides_at_once_both_land() {
    let h = host("modprobe");
    let kids: Vec<_> = ["05:00.0", "06:00.0", "07:00.0", "08:00.0"]
        .iter()
        .map(|b| h.std_xenpci(&["hide", b, "--persistent"]).spawn().unwrap())
        .collect();
    for k in kids {
        let o = k.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let conf = h.read("/etc/modprobe.d/xen-pciback.conf");
    for b in ["05", "06", "07", "08"] {
        assert!(conf.contains(&format!("(0000:{b}:00.0)")), "{conf}");
    }
}
