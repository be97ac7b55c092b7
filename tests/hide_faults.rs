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

// ---- hide on the change engine: every step failing, killed at every step --------------------
//
// `hide 05:00.0 --persistent` on the grub pair (two steps: /etc/default/grub, then grub.cfg,
// journaled in plan-journal.json with the request) and on extlinux (one step, no journal).
// Consistent = every file exactly as before or exactly as after; `resume` finishes a journaled
// run (after), `resume --rollback` puts it back (before); the next `hide` converges to after and
// leaves no journal.

const HIDE: [&str; 3] = ["hide", "05:00.0", "--persistent"];
const PLANS: [(&str, &[&str]); 2] = [
    ("debian", &["/etc/default/grub", "/boot/grub/grub.cfg"]),
    ("xs62", &["/boot/extlinux.conf"]),
];
const JOURNAL: &str = "/var/lib/xenpci/plan-journal.json";

fn files(h: &util::Host, list: &[&str]) -> Vec<String> {
    list.iter().map(|f| h.read(f)).collect()
}

/// The files before and after a clean hide; checks the plan has one step per file.
fn hide_ends(fixture: &str, list: &[&str]) -> (Vec<String>, Vec<String>) {
    let h = host(fixture);
    let out = h
        .xenpci(&["hide", "05:00.0", "--persistent", "--dry-run", "--json"])
        .assert()
        .success();
    let plan: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        plan["plan"]["steps"].as_array().map(Vec::len),
        Some(list.len()),
        "{fixture}: {plan}"
    );
    let before = files(&h, list);
    h.xenpci(&HIDE).assert().success();
    let after = files(&h, list);
    (before, after)
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn hide_each_failing_step_rolls_back_by_itself() {
    for (fixture, list) in PLANS {
        let (before, _) = hide_ends(fixture, list);
        // a two-file plan is journaled: the journal is written first, then before and after
        // each step (its intent, its outcome), so step i's file is the (3i+3)th atomic write
        let journaled = list.len() >= 2;
        for i in 0..list.len() {
            let h = host(fixture);
            let nth = if journaled { 3 * i + 3 } else { i + 1 };
            h.xenpci(&HIDE)
                .env("XENPCI_FAIL_WRITE", format!("rename@{nth}"))
                .assert()
                .code(1)
                .stderr(predicate::str::contains("injected failure at rename"));
            assert_eq!(files(&h, list), before, "{fixture} step {} failing", i + 1);
            assert!(!h.path(JOURNAL).exists(), "{fixture} step {}", i + 1);
            eprintln!(
                "matrix hide {fixture} step {} ({}) fails: rolled back by itself",
                i + 1,
                list[i]
            );
        }
    }
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn hide_killed_at_every_step_is_finished_by_resume_or_rolled_back() {
    for (fixture, list) in PLANS {
        let (before, after) = hide_ends(fixture, list);
        for hook in ["XENPCI_CRASH_BEFORE_STEP", "XENPCI_CRASH_AFTER_STEP"] {
            for n in 1..=list.len() {
                for resume in [&["resume"][..], &["resume", "--rollback"][..]] {
                    let h = host(fixture);
                    h.xenpci(&HIDE).env(hook, n.to_string()).assert().code(137);
                    let journaled = list.len() >= 2;
                    // a two-file plan is journaled: status says so; resume finishes it,
                    // resume --rollback puts the files back
                    let status = h.xenpci(&["status"]).assert();
                    if journaled {
                        status
                            .code(1)
                            .stdout(predicate::str::contains("hide 0000:05:00.0"))
                            .stdout(predicate::str::contains("interrupted"));
                    } else {
                        status.success();
                    }
                    h.xenpci(resume).assert().success();
                    let now = files(&h, list);
                    // one file, killed after its step: the change is whole, nothing to undo;
                    // journaled: finished by resume, rolled back by resume --rollback
                    let forward = resume.len() == 1;
                    let want = if journaled && forward || !journaled && hook.contains("AFTER") {
                        &after
                    } else {
                        &before
                    };
                    assert_eq!(&now, want, "{fixture} {hook}={n} {resume:?}");
                    assert!(!h.path(JOURNAL).exists(), "{fixture} {hook}={n}");
                    h.xenpci(&["status"]).assert().success();
                    h.xenpci(&HIDE).assert().success();
                    assert_eq!(files(&h, list), after, "{fixture} {hook}={n}: converges");
                    eprintln!(
                        "matrix hide {fixture} killed {} step {n}, then {}: exactly as {}",
                        if hook.contains("BEFORE") {
                            "before"
                        } else {
                            "after"
                        },
                        resume.join(" "),
                        if want == &after { "after" } else { "before" }
                    );
                }
            }
        }
    }
}

/// A hide now and at boot (`hide 05:00.0` with pciback loaded: the boot files, then pciback's
/// sysfs writes) killed after each step: `status` names it, `resume` finishes it — the boot
/// files exactly as a run that was not killed leaves them, pciback given the device — and
/// `resume --rollback` puts the boot files back and says what it left.
#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn a_hide_now_and_at_boot_killed_at_every_step_is_finished_by_resume() {
    let boot = ["/etc/default/grub", "/boot/grub/grub.cfg"];
    let seed = || {
        let h = host("debian");
        h.pciback()
            .device("0000:00:1f.2", "010601", Some("ahci"))
            .device("0000:05:00.0", "010700", Some("mpt3sas"));
        h
    };
    let clean = seed();
    let plan = clean
        .xenpci(&["hide", "05:00.0", "--live", "sysfs", "--dry-run", "--json"])
        .assert()
        .success();
    let plan: serde_json::Value = serde_json::from_slice(&plan.get_output().stdout).unwrap();
    let steps = plan["plan"]["steps"].as_array().map_or(0, Vec::len);
    assert!(steps > boot.len(), "boot files and sysfs writes: {plan}");
    let before = files(&clean, &boot);
    clean
        .xenpci(&["hide", "05:00.0", "--live", "sysfs"])
        .assert()
        .success();
    let after = files(&clean, &boot);
    let new_slot = "/sys/bus/pci/drivers/pciback/new_slot";
    assert!(clean.read(new_slot).contains("0000:05:00.0"));
    for n in 1..steps {
        for rollback in [false, true] {
            let h = seed();
            h.xenpci(&["hide", "05:00.0", "--live", "sysfs"])
                .env("XENPCI_CRASH_AFTER_STEP", n.to_string())
                .assert()
                .code(137);
            h.xenpci(&["status"])
                .assert()
                .code(1)
                .stdout(predicate::str::contains("hide 0000:05:00.0"));
            let args: &[&str] = if rollback {
                &["resume", "--rollback"]
            } else {
                &["resume"]
            };
            let r = h.xenpci(args).assert().success();
            let err = String::from_utf8_lossy(&r.get_output().stderr).into_owned();
            assert!(!h.path(JOURNAL).exists(), "step {n} {args:?}");
            h.xenpci(&["status"]).assert().success();
            if rollback {
                assert_eq!(files(&h, &boot), before, "step {n} rolled back");
                assert!(
                    err.contains("is rolled back as far as its files go"),
                    "{err}"
                );
            } else {
                assert_eq!(files(&h, &boot), after, "step {n} finished");
                assert!(h.read(new_slot).contains("0000:05:00.0"), "step {n}");
                assert!(
                    err.contains("finishing the interrupted `hide 0000:05:00.0 --live sysfs`"),
                    "{err}"
                );
            }
            eprintln!(
                "matrix hide now+boot killed after step {n} of {steps}, then {}: {}",
                args.join(" "),
                if rollback {
                    "files as before"
                } else {
                    "as a clean run"
                }
            );
        }
    }
}

/// A resumed hide that does not finish (here the first step it still had to do fails, and is
/// undone) keeps the record of how the files were before the *killed* run: its journal takes
/// /etc/default/grub's old content over from the killed run's, so `status` still names the
/// change and `resume --rollback` puts both boot files back.
#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn a_resume_that_fails_keeps_the_record_of_before_the_killed_run() {
    let list = ["/etc/default/grub", "/boot/grub/grub.cfg"];
    let h = host("debian");
    h.pciback()
        .device("0000:00:1f.2", "010601", Some("ahci"))
        .device("0000:05:00.0", "010700", Some("mpt3sas"));
    let args = ["hide", "05:00.0", "--live", "sysfs"];
    let before = files(&h, &list);
    h.xenpci(&args)
        .env("XENPCI_CRASH_AFTER_STEP", "1")
        .assert()
        .code(137);
    let killed = files(&h, &list);
    assert_ne!(killed[0], before[0], "/etc/default/grub was written");
    assert_eq!(killed[1], before[1], "grub.cfg was not");
    // the resumed plan journals first (1), then its first step's intent (2), then that
    // step's file, grub.cfg (3): that write fails, and the step is undone
    h.xenpci(&["resume"])
        .env("XENPCI_FAIL_WRITE", "rename@3")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("injected failure at rename"))
        .stderr(predicate::str::contains("did not finish"));
    assert_eq!(
        files(&h, &list),
        killed,
        "the failed resume undid its own step"
    );
    assert!(h.path(JOURNAL).exists(), "the journal is kept");
    h.xenpci(&["status"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("hide 0000:05:00.0"));
    h.xenpci(&["resume", "--rollback"]).assert().success();
    assert_eq!(
        files(&h, &list),
        before,
        "both files as before the killed run"
    );
    assert!(!h.path(JOURNAL).exists());
    h.xenpci(&["status"]).assert().success();
}

/// `resume` asks the policy again: a journal whose recorded request would hide dom0's own disk
/// controller (00:1f.2 holds `/` on the demo host; such a journal can only be written by hand)
/// is refused like `hide 00:1f.2`, and the journal is left for the admin.
#[test]
fn a_resumed_request_goes_through_the_policy_again() {
    let h = xenpci_testkit::harness::demo_host("x9drw");
    let journal = serde_json::json!({
        "title": "hide 0000:00:1f.2", "files": [], "status": "running", "steps": [],
        "request": {"op": "hide", "devices": ["0000:00:1f.2"], "persistent": true,
                    "now": false, "method": null, "live": null, "force": false,
                    "with_group": false}});
    h.write(JOURNAL, &journal.to_string());
    h.xenpci(&["resume"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("refusing to hide 0000:00:1f.2"));
    assert!(h.path(JOURNAL).exists(), "kept for the admin");
    h.xenpci(&["status"]).assert().code(1);
}
