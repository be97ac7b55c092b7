//! `xenpci evacuate HOST --to HOST2 -j N` against the two-host mock xl: every guest is moved with
//! the right mode, failures and rollbacks are reported per VM in the summary table, and nothing
//! is left half-done.

use xenpci_testkit::lab::Scenario;

#[test]
fn evacuate_moves_every_guest_and_reports_each() {
    let s = Scenario::lab();
    s.xl("h1", &["pci-attach", "hvmvm", "0000:03:00.0@5"]).ok();
    s.xl("h1", &["pci-attach", "pvvm", "0000:04:00.0"]).ok(); // PV with a device, no xl.cfg given
    let r = s.xenpci(&["evacuate", "h1", "--to", "h2", "-j", "2"]);
    assert_eq!(r.code, 1, "one VM cannot move: {}\n{}", r.stdout, r.stderr);
    let table = &r.stdout;
    assert!(table.starts_with("VM "), "{table}");
    let row = |vm: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{vm} ")))
            .unwrap_or_else(|| panic!("{vm} in {table}"))
            .to_string()
    };
    assert!(row("hvmvm").contains("moved") && row("hvmvm").contains("hot"));
    assert!(row("plain").contains("moved") && row("plain").contains("live"));
    assert!(row("pod").contains("moved"));
    assert!(
        row("pvvm").contains("failed") && row("pvvm").contains("give --config"),
        "{}",
        row("pvvm")
    );
    assert!(
        table.contains("moved 3, rolled back 0, failed 1"),
        "{table}"
    );
    // progress lines on stderr (not a terminal: plain lines)
    assert!(
        r.stderr.contains("hvmvm: hot move, 3 steps"),
        "{}",
        r.stderr
    );
    assert_eq!(
        s.xl("h2", &["pci-list", "hvmvm"]).stdout,
        "Vdev Device\n05.0 0000:81:00.0\n"
    );
    assert_eq!(
        s.devices_of("h1", "pvvm"),
        Some(vec!["0000:04:00.0".to_string()]),
        "the refused VM is untouched"
    );
}

#[test]
fn a_failing_migration_is_rolled_back_and_listed() {
    let s = Scenario::lab();
    s.xl("h1", &["pci-attach", "hvmvm", "0000:03:00.0@5"]).ok();
    // xl list order: pvvm, hvmvm, plain, pod; with -j 1 hvmvm's migrate is the 2nd migrate call
    let r = s.xenpci_env(
        &[("XL_MOCK_FAIL", "migrate:2")],
        &["evacuate", "h1", "--to", "h2", "-j", "1"],
    );
    assert_eq!(r.code, 1);
    let line = r.stdout.lines().find(|l| l.starts_with("hvmvm ")).unwrap();
    assert!(
        line.contains("rolled-back") && line.contains("injected failure of migrate"),
        "{line}"
    );
    assert!(
        r.stdout.contains("moved 3, rolled back 1, failed 0"),
        "{}",
        r.stdout
    );
    assert_eq!(
        s.xl("h1", &["pci-list", "hvmvm"]).stdout,
        "Vdev Device\n05.0 0000:03:00.0\n"
    );
    assert!(s.xenpci(&["status"]).stdout.contains("no half-done flow"));
}

#[test]
fn evacuate_dry_run_plans_every_vm() {
    let s = Scenario::lab();
    s.xl("h1", &["pci-attach", "hvmvm", "0000:03:00.0@5"]).ok();
    let r = s.xenpci(&["evacuate", "h1", "--to", "h2", "--dry-run"]);
    r.ok();
    assert!(r.stdout.contains("plan: hot move of hvmvm from h1 to h2"));
    assert!(r.stdout.contains("plan: live move of plain from h1 to h2"));
    assert!(!s.xl_log().contains(" migrate "));
}

#[test]
fn evacuate_an_xapi_host_moves_pci_vms_cold() {
    let s = Scenario::lab();
    s.xapi();
    let r = s.xenpci(&["evacuate", "h1", "--to", "h2", "--toolstack", "xapi"]);
    r.ok();
    assert!(
        r.stdout.contains("moved 1, rolled back 0, failed 0"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .lines()
            .any(|l| l.contains("33333333-3333-3333-3333-333333333333") && l.contains("cold")),
        "{}",
        r.stdout
    );
    assert_eq!(s.xe_get("other-config"), "pci: 0/0000:81:00.0");
}

/// The lab with a mapping that knows only the HBA: the NIC 0000:04:00.0 exists only on h1, so a
/// guest holding it is pinned there; its xl.cfg is in `cfg/`.
fn pinned_lab() -> (Scenario, std::path::PathBuf) {
    let s = Scenario::lab();
    s.write(
        "map.json",
        &serde_json::json!({"devices": {
        "ceph-hba": {"vendor": "1000", "device": "0097", "subsystem": "1000:3090",
                     "hosts": {"h1": "0000:03:00.0", "h2": "0000:81:00.0"}}}})
        .to_string(),
    );
    s.xl("h1", &["pci-attach", "hvmvm", "0000:03:00.0@5"]).ok();
    s.xl("h1", &["pci-attach", "pvvm", "0000:04:00.0"]).ok();
    let dir = s.path("cfg");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("pvvm.cfg"),
        "name = \"pvvm\"\ntype = \"pv\"\nmemory = 1024\npci = [ \"0000:04:00.0\" ]\n",
    )
    .unwrap();
    (s, dir)
}

#[test]
fn maintenance_stops_the_pinned_guest_moves_the_rest_and_resume_starts_it_again() {
    let (s, dir) = pinned_lab();
    let cfg = dir.to_str().unwrap();
    let args = ["maintenance", "h1", "--to", "h2", "--config-dir", cfg];
    let r = s.xenpci(&[&args[..], &["--dry-run"]].concat());
    r.ok();
    assert!(
        r.stdout
            .contains("pvvm: pinned to h1 by 0000:04:00.0: would be shut down"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("hvmvm: would move to h2"), "{}", r.stdout);
    assert_eq!(
        s.devices_of("h1", "pvvm"),
        Some(vec!["0000:04:00.0".to_string()])
    );
    // For real: pvvm is shut down (journaled), the other three move.
    let r = s.xenpci(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("moved 3, rolled back 0, failed 0"),
        "{}",
        r.stdout
    );
    assert_eq!(s.devices_of("h1", "pvvm"), None, "pvvm is shut down");
    assert_eq!(
        s.xl("h2", &["pci-list", "hvmvm"]).stdout,
        "Vdev Device\n05.0 0000:81:00.0\n"
    );
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.path("state/maintenance/h1.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(rec["state"], "host-down");
    assert_eq!(rec["pinned"][0]["state"], "stopped");
    // A second maintenance waits for the resume.
    let again = s.xenpci(&args);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("`xenpci resume`"), "{}", again.stderr);
    let st = s.xenpci(&["status"]);
    assert_eq!(st.code, 1);
    assert!(
        st.stdout
            .contains("maintenance of h1  host-down  pinned VMs stopped: pvvm"),
        "{}",
        st.stdout
    );
    // The host is back: resume verifies, then starts pvvm with its NIC.
    let r = s.xenpci(&["resume"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("maintenance of h1: pvvm: started with its devices")
            && r.stdout.contains("maintenance of h1: done"),
        "{}",
        r.stdout
    );
    assert_eq!(
        s.devices_of("h1", "pvvm"),
        Some(vec!["0000:04:00.0".to_string()])
    );
    assert_eq!(s.xenpci(&["status"]).code, 0);
}

#[test]
fn maintenance_without_the_pinned_guests_config_changes_nothing() {
    let (s, _) = pinned_lab();
    let r = s.xenpci(&["maintenance", "h1", "--to", "h2"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("give --config-dir DIR (DIR/pvvm.cfg)"),
        "{}",
        r.stderr
    );
    assert_eq!(
        s.devices_of("h1", "pvvm"),
        Some(vec!["0000:04:00.0".to_string()])
    );
    assert_eq!(
        s.devices_of("h1", "hvmvm"),
        Some(vec!["0000:03:00.0".to_string()])
    );
}

#[test]
fn resume_keeps_a_pinned_guest_stopped_when_its_device_did_not_verify() {
    let (s, dir) = pinned_lab();
    let r = s.xenpci(&[
        "maintenance",
        "h1",
        "--to",
        "h2",
        "--config-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // While h1 was down its cards moved: the identity state says 0000:04:00.0 was another device.
    let state = serde_json::json!({"schema": 1, "devices": [{
        "bdf": "0000:04:00.0",
        "identity": {"vendor_id": "dead", "device_id": "beef", "subsystem_vendor_id": "0000",
                     "subsystem_device_id": "0000", "class": "020000", "revision": "01",
                     "path": null, "serial": null},
        "uses": [{"kind": "live-hide"}], "recorded": "20261204T000000"}]});
    let p = s.root("h1").join("var/lib/xenpci/devices.json");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, state.to_string()).unwrap();
    let r = s.xenpci(&["resume"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("pvvm: not started: 0000:04:00.0 is not the recorded device any more"),
        "{}",
        r.stdout
    );
    assert_eq!(s.devices_of("h1", "pvvm"), None, "pvvm stays stopped");
    // Once the records are right again, resume starts it.
    std::fs::remove_file(&p).unwrap();
    let r = s.xenpci(&["resume"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        s.devices_of("h1", "pvvm"),
        Some(vec!["0000:04:00.0".to_string()])
    );
}

#[test]
fn on_xapi_maintenance_shuts_the_pinned_vm_down_and_resume_starts_it_on_the_host() {
    let s = Scenario::lab();
    s.xapi();
    s.write("map.json", r#"{"devices": {}}"#);
    let r = s.xenpci(&["maintenance", "h1", "--to", "h2", "--toolstack", "xapi"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("pinned to h1 by 0000:03:00.0"),
        "{}",
        r.stdout
    );
    assert_eq!(s.xe_get("power-state"), "halted");
    assert_eq!(
        s.xe_get("other-config"),
        "pci: 0/0000:03:00.0",
        "its device entry is kept"
    );
    let r = s.xenpci(&["resume", "--toolstack", "xapi"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(s.xe_get("power-state"), "running");
    assert_eq!(s.xe_get("resident-on").len(), 36, "started on a host");
    assert!(
        r.stdout.contains("started with its devices"),
        "{}",
        r.stdout
    );
}

#[test]
fn resume_asks_the_policy_again_before_starting_a_pinned_guest() {
    let (s, dir) = pinned_lab();
    let r = s.xenpci(&[
        "maintenance",
        "h1",
        "--to",
        "h2",
        "--config-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // While pvvm was stopped, somebody gave its NIC to another guest on h1.
    let other = s.write(
        "other.cfg",
        "name = \"other\"\ntype = \"pv\"\nmemory = 512\npci = [ \"0000:04:00.0\" ]\n",
    );
    s.xl("h1", &["create", other.to_str().unwrap()]).ok();
    assert_eq!(
        s.devices_of("h1", "other"),
        Some(vec!["0000:04:00.0".to_string()])
    );
    let r = s.xenpci(&["resume"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("pvvm: not started: refusing to give 0000:04:00.0 to pvvm")
            && r.stdout.contains("domain other"),
        "{}",
        r.stdout
    );
    assert_eq!(s.devices_of("h1", "pvvm"), None, "pvvm stays stopped");
    assert_eq!(
        s.devices_of("h1", "other"),
        Some(vec!["0000:04:00.0".to_string()]),
        "the other guest keeps the NIC"
    );
    // Once the NIC is free again, resume starts pvvm with it.
    s.xl("h1", &["destroy", "other"]).ok();
    let r = s.xenpci(&["resume"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        s.devices_of("h1", "pvvm"),
        Some(vec!["0000:04:00.0".to_string()])
    );
}

/// The shutdowns of the pinned guests are one change on the engine: when the second one fails,
/// the first guest is started again from its xl.cfg with its device, nothing moves, the
/// maintenance record is gone (nothing to resume) and the error says what was undone.
#[test]
fn a_failed_pinned_shutdown_starts_the_guests_stopped_before_it_again() {
    let (s, dir) = pinned_lab();
    // hvmvm also gets a device h2 has no counterpart for: two pinned guests.
    s.xl("h1", &["pci-assignable-add", "0000:05:00.0"]).ok();
    s.xl("h1", &["pci-attach", "hvmvm", "0000:05:00.0@6"]).ok();
    std::fs::write(
        dir.join("hvmvm.cfg"),
        "name = \"hvmvm\"\ntype = \"hvm\"\nmemory = 1024\npci = [ \"0000:03:00.0@5\", \"0000:05:00.0@6\" ]\n",
    )
    .unwrap();
    let before = |vm: &str| s.devices_of("h1", vm);
    let (pv, hvm) = (before("pvvm"), before("hvmvm"));
    assert!(pv.is_some() && hvm.is_some());
    let cfg = dir.to_str().unwrap();
    let r = s.xenpci_env(
        &[("XL_MOCK_FAIL", "shutdown:2")],
        &["maintenance", "h1", "--to", "h2", "--config-dir", cfg],
    );
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("maintenance of h1: step 2 (")
            && r.stderr.contains("failed")
            && r.stderr.contains("undone: step 1"),
        "{}",
        r.stderr
    );
    // Both guests run on h1 with the devices they had; nothing went to h2.
    let mut pv_now = before("pvvm").expect("pvvm runs on h1 again");
    let mut hvm_now = before("hvmvm").expect("hvmvm runs on h1 again");
    let (mut pv, mut hvm) = (pv.unwrap(), hvm.unwrap());
    for v in [&mut pv_now, &mut hvm_now, &mut pv, &mut hvm] {
        v.sort();
    }
    assert_eq!((pv_now, hvm_now), (pv, hvm));
    assert_eq!(s.devices_of("h2", "hvmvm"), None);
    assert!(!s.path("state/maintenance/h1.json").exists());
    // Nothing is left for resume or status.
    assert_eq!(s.xenpci(&["status"]).code, 0);
}
