//! XenStore tests against a real daemon: Debian's oxenstored (Xen 4.17), started once for this
//! test binary by tests/xenstored/start.sh. They write backend trees exactly as libxl and pciback
//! write them (reference xen-xl.md §5 and the tree recorded on real Xen in
//! docs/reference/FINDINGS.md) and check xenpci's verifier: attached, half-attached, stale, missing backend.
//! A missing oxenstored fails these tests; `XENPCI_SKIP_XENSTORED=1` skips them explicitly.

#[path = "xenstored/harness.rs"]
mod xenstored;

use xenpci::ids::DomId;
use xenpci::pci::Bdf;
use xenpci::xenstore::{
    list_backend_devices, pcifront_present, verify_pci_backend, AttachedDevice, BackendTree,
    GuestKind, MemStore, Store, Verdict, XsStore,
};

/// A connection to the shared daemon, or `None` when explicitly skipped.
fn real() -> Option<XsStore> {
    xenstored::shared()?;
    Some(XsStore::open().expect("connect to the test oxenstored"))
}

fn bdf(s: &str) -> Bdf {
    s.parse().unwrap()
}

/// Writes `tree` into the real daemon, applies `edits` (`None` removes), and verifies `dev`.
fn verdict_on_real(
    xs: &XsStore,
    tree: &BackendTree,
    edits: &[(String, Option<&str>)],
    dev: &str,
    kind: GuestKind,
) -> Verdict {
    tree.write_to(xs).unwrap();
    for (p, v) in edits {
        match v {
            Some(v) => xs.write(p, v).unwrap(),
            None => xs.rm(p).unwrap(),
        }
    }
    verify_pci_backend(xs, tree.domid, bdf(dev), kind).unwrap()
}

fn expect(v: &Verdict, label: &str, needle: &str) {
    assert_eq!(v.label(), label, "{}", v.explanation());
    assert!(
        v.explanation().contains(needle),
        "{needle:?} not in {}",
        v.explanation()
    );
}

fn be(domid: u32, node: &str) -> String {
    format!("/local/domain/0/backend/pci/{domid}/0/{node}")
}

/// The same operations on the real daemon and on MemStore give the same answers.
#[test]
fn memstore_behaves_like_oxenstored() {
    let Some(xs) = real() else { return };
    let mem = MemStore::new();
    let stores: [&dyn Store; 2] = [&xs, &mem];
    let mut answers = Vec::new();
    for s in stores {
        s.write("/contract/a/b/c", "1").unwrap();
        s.write("/contract/a/bb", "2").unwrap();
        let mut dir = s.directory("/contract/a").unwrap().unwrap();
        dir.sort();
        let mut seen = vec![
            format!("{:?}", s.read("/contract/a/b").unwrap()),
            format!("{:?}", s.read("/contract/a/b/c").unwrap()),
            format!("{:?}", s.read("/contract/a/nope").unwrap()),
            format!("{:?}", s.directory("/contract/nope").unwrap()),
            format!("{dir:?}"),
        ];
        s.rm("/contract/a/b").unwrap();
        s.rm("/contract/a/b").unwrap();
        s.rm("/contract/nope/deeper").unwrap();
        seen.push(format!("{:?}", s.read("/contract/a/b/c").unwrap()));
        seen.push(format!("{:?}", s.directory("/contract/a").unwrap()));
        seen.push(s.write("/contract/0000:00:02.0", "x").is_err().to_string());
        s.rm("/contract").unwrap();
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1], "oxenstored vs MemStore");
    assert_eq!(answers[0][0], "Some(\"\")");
}

/// The PV tree recorded on real Xen 4.17 (FINDINGS.md), written node by node as recorded.
#[test]
fn recorded_pv_tree_is_attached() {
    let Some(xs) = real() else { return };
    let d = 21;
    for (node, value) in [
        ("frontend", "/local/domain/21/device/pci/0"),
        ("frontend-id", "21"),
        ("online", "1"),
        ("domain", "domU"),
        ("num_devs", "1"),
        ("key-0", "0000:00:02.0"),
        ("dev-0", "0000:00:02.0"),
        (
            "opts-0",
            "msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict",
        ),
        ("state-0", "3"),
        ("vdev-0", "0000:00:00.00"),
        ("root_num", "1"),
        ("root-0", "0000:00"),
        ("state", "4"),
    ] {
        xs.write(&be(d, node), value).unwrap();
    }
    xs.write("/local/domain/21/name", "domU").unwrap();
    xs.write("/libxl/pci/0000-00-02-0/domid", "21").unwrap();
    let v = verify_pci_backend(&xs, DomId(d), bdf("0000:00:02.0"), GuestKind::Pv).unwrap();
    expect(&v, "attached", "dev-0 = 0000:00:02.0");
    let listed = list_backend_devices(&xs, DomId(d)).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        format!("{} {}", listed[0].guest_slot(), listed[0].bdf),
        "00.0 0000:00:02.0"
    );
}

#[test]
fn attached_pv_and_hvm_from_the_builder() {
    let Some(xs) = real() else { return };
    let pv = BackendTree::pv(DomId(22), "pv22")
        .device(AttachedDevice::new(bdf("0000:03:00.0")))
        .device(
            AttachedDevice::new(bdf("0000:03:00.1"))
                .vslot(4)
                .opts("msitranslate=1,power_mgmt=0,permissive=1,rdm_policy=relaxed"),
        );
    let v = verdict_on_real(&xs, &pv, &[], "0000:03:00.1", GuestKind::Pv);
    expect(&v, "attached", "dev-1 = 0000:03:00.1 (num_devs 2)");
    let slots: Vec<String> = list_backend_devices(&xs, DomId(22))
        .unwrap()
        .iter()
        .map(|d| d.guest_slot())
        .collect();
    assert_eq!(slots, ["00.0", "04.0"]);
    assert!(pcifront_present(&xs, DomId(22)).unwrap());

    let hvm = BackendTree::hvm(DomId(23), "hvm23").device(AttachedDevice::new(bdf("0000:04:00.0")));
    let v = verdict_on_real(&xs, &hvm, &[], "0000:04:00.0", GuestKind::Hvm);
    expect(&v, "attached", "vdevfn-0 = 18 (guest slot 03.0)");
    assert!(!pcifront_present(&xs, DomId(23)).unwrap());
}

#[test]
fn half_attached_when_state_is_not_4_or_state_n_not_3() {
    let Some(xs) = real() else { return };
    let tree = |d: u32, b: &str| BackendTree::pv(DomId(d), "g").device(AttachedDevice::new(bdf(b)));
    // pcifront never connected: backend still at 3 (Initialised)
    let v = verdict_on_real(
        &xs,
        &tree(24, "0000:05:00.0").state(3),
        &[],
        "0000:05:00.0",
        GuestKind::Pv,
    );
    expect(&v, "half-attached", "state is 3 (Initialised), expected 4");
    // hot-add in progress: libxl wrote state=7, pciback has not exported the new device (state-0=1)
    let v = verdict_on_real(
        &xs,
        &tree(25, "0000:05:00.1").state(7),
        &[(be(25, "state-0"), Some("1"))],
        "0000:05:00.1",
        GuestKind::Pv,
    );
    expect(&v, "half-attached", "has not exported the device yet");
    expect(&v, "half-attached", "7 (Reconfiguring)");
    // detach in progress: state-0=5
    let v = verdict_on_real(
        &xs,
        &tree(26, "0000:05:00.2"),
        &[(be(26, "state-0"), Some("5"))],
        "0000:05:00.2",
        GuestKind::Pv,
    );
    expect(&v, "half-attached", "detach is in progress");
}

#[test]
fn stale_entries() {
    let Some(xs) = real() else { return };
    // libxl's bookkeeping points at another domain that no longer exists
    let t = BackendTree::pv(DomId(27), "g").device(AttachedDevice::new(bdf("0000:06:00.0")));
    let v = verdict_on_real(
        &xs,
        &t,
        &[("/libxl/pci/0000-06-00-0/domid".into(), Some("99"))],
        "0000:06:00.0",
        GuestKind::Pv,
    );
    expect(&v, "stale", "domain 99, which does not exist");
    // dev-1 left behind by an interrupted detach: num_devs says 1
    let t = BackendTree::pv(DomId(28), "g").device(AttachedDevice::new(bdf("0000:06:00.1")));
    let edits = [
        (be(28, "dev-1"), Some("0000:06:00.2")),
        (be(28, "state-1"), Some("5")),
        ("/libxl/pci/0000-06-00-2/domid".to_string(), Some("28")),
    ];
    let v = verdict_on_real(&xs, &t, &edits, "0000:06:00.2", GuestKind::Pv);
    expect(&v, "stale", "dev-1 = 0000:06:00.2 but num_devs is 1");
    // the backend outlived its domain
    let t = BackendTree::pv(DomId(29), "g").device(AttachedDevice::new(bdf("0000:06:00.3")));
    let v = verdict_on_real(
        &xs,
        &t,
        &[("/local/domain/29".into(), None)],
        "0000:06:00.3",
        GuestKind::Pv,
    );
    expect(&v, "stale", "domain 29 does not exist");
}

#[test]
fn missing_backend_and_not_attached() {
    let Some(xs) = real() else { return };
    let v = verify_pci_backend(&xs, DomId(30), bdf("0000:07:00.0"), GuestKind::Pv).unwrap();
    expect(
        &v,
        "missing-backend",
        "/local/domain/0/backend/pci/30/0 does not exist",
    );
    // what real Xen leaves after the last detach: the backend directory, no devices
    xs.write(&be(31, "state"), "4").unwrap();
    xs.write("/local/domain/31/name", "g").unwrap();
    let v = verify_pci_backend(&xs, DomId(31), bdf("0000:07:00.0"), GuestKind::Pv).unwrap();
    expect(&v, "not-attached", "it lists no devices");
    assert!(list_backend_devices(&xs, DomId(31)).unwrap().is_empty());
}

/// A daemon owned by a test stops when its guard drops: no leaked processes.
#[test]
fn daemon_stops_when_its_guard_drops() {
    if xenstored::shared().is_none() {
        return;
    }
    let d = xenstored::Daemon::start().expect("second daemon");
    let pid = d.pid;
    assert!(d.alive(), "oxenstored {pid} not running");
    drop(d);
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
    });
    assert!(
        gone,
        "oxenstored {pid} still running after the guard dropped"
    );
}
