//! Flows that read XenStore (a real oxenstored, tests/xenstored/start.sh, fed by the mock xl's
//! mirror of h1): a PV guest whose device was detached moves live again (it suspends after the
//! detach: xl save/restore measured on Xen 4.17, tests/xen-e2e — FINDINGS.md §D's "cannot suspend"
//! was Debian's Xen lacking shadow paging). Real Xen erases the pcifront from XenStore with the
//! last device, so `xenpci migrate` notes the history from its own record of the attach.

#[allow(dead_code)]
#[path = "xenstored/harness.rs"]
mod xenstored;

use xenpci_testkit::lab::Scenario;

/// The tests share one xenstored and the mock mirrors whole hosts: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn pv_guest_whose_device_was_detached_moves_live_with_a_note() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if xenstored::shared().is_none() {
        return;
    }
    let s = Scenario::lab()
        .env("XL_MOCK_XENSTORE", "h1")
        .env("XENPCI_NO_XENSTORE", "0");
    let cfg = s.pv_cfg();
    s.xenpci(&["attach", "pvvm", "0000:03:00.0,permissive=1"])
        .ok();
    let backends = || {
        use xenpci::xenstore::Store;
        xenpci::xenstore::XsStore::open()
            .unwrap()
            .directory("/local/domain/0/backend/pci")
            .unwrap()
            .unwrap_or_default()
    };
    assert_eq!(backends().len(), 1, "the attach is mirrored into XenStore");
    let r = s.xenpci(&["detach", "pvvm", "0000:03:00.0"]);
    assert!(
        r.ok().stdout.contains("verified in XenStore"),
        "{}",
        r.stdout
    );
    // Nothing attached now, and (as on real Xen 4.17, tests/xen-e2e) the last detach removed the
    // backend and the guest's pcifront directory from XenStore.
    assert!(
        backends().is_empty(),
        "the mirror keeps no backend after the last detach"
    );
    assert_eq!(s.devices_of("h1", "pvvm"), Some(vec![]));
    let r = s.xenpci(&[
        "migrate",
        "pvvm",
        "--to",
        "h2",
        "--config",
        cfg.to_str().unwrap(),
        "--dry-run",
    ]);
    r.ok();
    assert!(r.stdout.contains("plan: live move"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("had a PCI device earlier and has none now"),
        "{}",
        r.stdout
    );
    // a guest that never had a device moves live
    let r = s.xenpci(&["migrate", "plain", "--to", "h2", "--dry-run"]);
    assert!(r.ok().stdout.contains("plan: live move"), "{}", r.stdout);
    assert!(
        !r.stdout.contains("had a PCI device"),
        "no history for plain: {}",
        r.stdout
    );
}

/// With XenStore reachable, an attach xl claims but never wrote is caught there.
#[test]
fn a_lying_exit_status_is_caught_in_xenstore() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if xenstored::shared().is_none() {
        return;
    }
    let s = Scenario::lab()
        .env("XL_MOCK_XENSTORE", "h1")
        .env("XENPCI_NO_XENSTORE", "0");
    let r = s.xenpci_env(
        &[("XL_MOCK_FAIL", "pci-attach:1=0")],
        &["attach", "hvmvm", "0000:04:00.0@7"],
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr.contains("xl reported success but XenStore says"),
        "{}",
        r.stderr
    );
}
