//! SIGINT/SIGTERM in the middle of a change: the step under way finishes, the change stops
//! there and is rolled back like a failed step, and `--json` still prints its one document
//! (before, the process died with an empty stdout, twice after the change was made).

mod util;

use std::process::Command;
use std::time::{Duration, Instant};

use util::{host, Host};

const BDF: &str = "0000:05:00.0";

/// xcpng82 with pciback loaded and the HBA bound to its driver: `hide` has two steps, the boot
/// configuration (xen-cmdline --set-dom0) then the live one (xl pci-assignable-add).
fn seed_host() -> Host {
    let h = host("xcpng82");
    h.pciback()
        .device("0000:00:1f.2", "010601", Some("ahci"))
        .device(BDF, "010700", Some("mpt3sas"));
    h
}

/// Waits (at most 20 s) until a call logged by the doubles contains `part`.
fn wait_for_call(h: &Host, part: &str) {
    let t = Instant::now();
    while !h.calls().iter().any(|c| c.contains(part)) {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no {part}: {:?}",
            h.calls()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_signal_during_hide_rolls_back_and_still_prints_the_json_document() {
    for sig in ["-TERM", "-INT"] {
        let h = seed_host();
        let mut c = h.std_xenpci(&["hide", "05:00.0", "--json"]);
        c.env("XENPCI_DOUBLE_SLEEP_SET", "1");
        let child = c.spawn().unwrap();
        // Step 1 is under way (the double sleeps before it writes).
        wait_for_call(&h, "--set-dom0");
        let st = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{sig}: no JSON document ({e}); stderr:\n{stderr}"));
        assert_eq!(out.status.code(), Some(1), "{sig}: {v}\n{stderr}");
        let f = &v["result"]["failure"];
        assert_eq!(f["step"], 2, "{sig}: {v}");
        assert!(f["error"].as_str().unwrap().contains("interrupted"), "{v}");
        assert_eq!(f["undone"].as_array().unwrap().len(), 1, "{sig}: {v}");
        // Step 2 never ran, step 1 was undone: the boot configuration is as it was.
        assert!(
            !h.calls().iter().any(|c| c.contains("pci-assignable-add")),
            "{:?}",
            h.calls()
        );
        assert_eq!(
            h.read("/boot/grub/grub.cfg"),
            util::original("xcpng82", "/boot/grub/grub.cfg"),
            "{sig}"
        );
        assert_eq!(h.driver(BDF).as_deref(), Some("mpt3sas"));
    }
}

#[test]
fn a_signal_during_migrate_rolls_back_and_still_prints_the_json_document() {
    let s = xenpci_testkit::lab::Scenario::lab();
    s.xl(
        "h1",
        &["pci-attach", "hvmvm", "0000:03:00.0@5,permissive=1"],
    )
    .ok();
    s.xl("h1", &["pci-attach", "hvmvm", "0000:04:00.0@6"]).ok();
    let sorted = |v: Option<Vec<String>>| {
        let mut v = v.expect("hvmvm on h1");
        v.sort();
        v
    };
    let before = sorted(s.devices_of("h1", "hvmvm"));
    let child = s.spawn_xenpci(
        &[("XL_MOCK_LATENCY_MS", "pci-detach=700")],
        &["migrate", "hvmvm", "--to", "h2", "--json"],
    );
    // Step 1 (the first pci-detach) is under way.
    let t = Instant::now();
    while !s.xl_log().contains("pci-detach") {
        assert!(t.elapsed() < Duration::from_secs(20), "{}", s.xl_log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON document ({e}); stderr:\n{stderr}"));
    assert_eq!(v["status"], "rolled-back", "{v}\n{stderr}");
    assert!(
        v["failure"].as_str().unwrap().contains("interrupted"),
        "{v}"
    );
    assert_eq!(out.status.code(), Some(1));
    // Back where it was: on h1 with both devices, never migrated.
    assert_eq!(sorted(s.devices_of("h1", "hvmvm")), before);
    assert!(!s.xl_log().contains("migrate "), "{}", s.xl_log());
}

/// assign runs on the change engine too: SIGTERM while the steal's write is under way stops the
/// edit before this VM's value is written, and the other VM's value is put back exactly.
#[test]
fn a_signal_during_assign_steal_rolls_back_the_steal() {
    let s = xenpci_testkit::lab::Scenario::lab();
    let xvm = "44444444-4444-4444-4444-444444444444";
    let st = serde_json::json!({
        "hosts": [{"uuid": "11111111-1111-1111-1111-111111111111", "name-label": "h1",
                   "devices": [{"bdf": "0000:03:00.0", "uuid": "aaaaaaaa-0000-0000-0000-000000000001",
                                "class": "0104", "driver": "pciback"}]}],
        "vms": [
            {"uuid": xvm, "name-label": "xvm", "power-state": "halted",
             "other-config": {"pci": "0/0000:03:00.0,1/0000:04:00.0", "mac_seed": "x1"}},
            {"uuid": "55555555-5555-5555-5555-555555555555", "name-label": "yvm",
             "power-state": "halted", "other-config": {"mac_seed": "y1"}}]});
    std::fs::write(s.path("xe.json"), st.to_string()).unwrap();
    let vms = || -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(s.path("xe.json")).unwrap(),
        )
        .unwrap()["vms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["other-config"].clone())
            .collect()
    };
    let before = vms();
    let child = s.spawn_xenpci(
        &[("XE_MOCK_LATENCY_MS", "vm-param-set=1500,0")],
        &["assign", "03:00.0", "--vm", "yvm", "--steal", "--force"],
    );
    let t = Instant::now();
    while !std::fs::read_to_string(s.path("xe.log"))
        .unwrap_or_default()
        .contains("vm-param-set")
    {
        assert!(t.elapsed() < Duration::from_secs(20), "no vm-param-set");
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "other-config:pci of VM {xvm} restored to \"0/0000:03:00.0,1/0000:04:00.0\""
        )),
        "{stderr}"
    );
    assert_eq!(vms(), before);
    let log = std::fs::read_to_string(s.path("xe.log")).unwrap();
    assert_eq!(
        log.matches("vm-param-set").count(),
        2,
        "the steal and its undo: {log}"
    );
}
