//! `xenpci assign` / `unassign` / `assigned` end to end against the mock `xe` (the package's `xe`
//! binary, wired in through `XENPCI_XE` on the child only, its world in a temporary
//! `XE_MOCK_STATE`) and a fixture host root for dom0's sysfs: the seed-000 flow (a SAS HBA for the
//! Ceph OSD VM `ceph-osd-1` on XCP-ng), the seed-004 flow (two devices, then removal), other
//! other-config keys surviving every command, concurrent assigns, and a failing `vm-start`.

#[allow(dead_code)]
#[path = "xenstored/harness.rs"]
mod xenstored;

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{json, Value};
use xenpci::xenstore::{Store, XsStore};
use xenpci_testkit::cli::Cli;
use xenpci_testkit::mock_xe::MockXe;

const HOST: &str = "8f7e0c2a-0000-4000-8000-000000000001";
const DOM0: &str = "5b1f2d3c-0000-4000-8000-000000000002";
const OSD: &str = "0a3e6c1e-0000-4000-8000-000000000003";
const NAS: &str = "7c9d4e5f-0000-4000-8000-000000000004";

/// A temporary world: the kit's mock `xe` (state and call log) and a host root with sysfs
/// driver links; no xl or xen-cmdline at all (an XAPI host seen through `xe` only).
struct World {
    dir: tempfile::TempDir,
    xe: MockXe,
}

impl World {
    fn new(state: Value, drivers: &[(&str, &str)]) -> World {
        let dir = tempfile::tempdir().unwrap();
        let xe = MockXe::at(dir.path(), "state.json", Some(&state));
        let root = dir.path().join("root");
        for (bdf, drv) in drivers {
            let dev = root.join("sys/bus/pci/devices").join(bdf);
            let d = root.join("sys/bus/pci/drivers").join(drv);
            std::fs::create_dir_all(&dev).unwrap();
            std::fs::create_dir_all(&d).unwrap();
            std::os::unix::fs::symlink(&d, dev.join("driver")).unwrap();
        }
        std::fs::create_dir_all(&root).unwrap();
        World { dir, xe }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn xenpci(&self, args: &[&str]) -> Command {
        let mut c = Cli::xenpci().into_command();
        self.xe.wire(&mut c);
        c.env("XENPCI_ROOT", self.path("root")).args(args);
        Command::from_std(c)
    }

    fn xe(&self, args: &[&str]) -> Command {
        let mut c = self.xe.command(args);
        c.env("XENPCI_ROOT", self.path("root"));
        Command::from_std(c)
    }

    fn state(&self) -> Value {
        self.xe.state()
    }

    fn vm(&self, uuid: &str) -> Value {
        self.state()["vms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["uuid"] == uuid)
            .unwrap()
            .clone()
    }

    fn log(&self) -> Vec<String> {
        self.xe.calls()
    }
}

fn device(bdf: &str, uuid: &str, vendor: &str, name: &str, driver: &str, critical: bool) -> Value {
    json!({"bdf": bdf, "uuid": uuid, "class": "0107", "vendor-name": vendor, "device-name": name,
           "driver": driver, "critical": critical})
}

/// Seed 000: three Supermicro hosts, each with an LSI SAS2308 add-in HBA at 05:00.0 (hidden
/// with `xen-pciback.hide=(05:00.0)`), the onboard AHCI at 00:1f.2 (dom0's disks) and a C602
/// SCU at 06:00.0; a running Ceph OSD VM.
fn seed000() -> World {
    let state = json!({
        "xcp-ng-version": "8.3",
        "hosts": [{
            "uuid": HOST, "name-label": "xcp1", "name-description": "Default install",
            "hide-booted": "(0000:05:00.0)", "hide-configured": "(0000:05:00.0)",
            "devices": [
                device("0000:00:1f.2", "c0ffee00-0000-4000-8000-000000000010", "Intel Corporation",
                       "C600/X79 series chipset 6-Port SATA AHCI Controller", "ahci", true),
                device("0000:05:00.0", "c0ffee00-0000-4000-8000-000000000011",
                       "LSI Logic / Symbios Logic", "SAS2308 PCI-Express Fusion-MPT SAS-2",
                       "pciback", false),
                device("0000:06:00.0", "c0ffee00-0000-4000-8000-000000000012", "Intel Corporation",
                       "C602 chipset 4-Port SATA Storage Control Unit", "isci", false),
            ]
        }],
        "vms": [
            {"uuid": DOM0, "name-label": "Control domain on host: xcp1", "power-state": "running",
             "is-control-domain": true, "resident-on": HOST, "domid": 0},
            {"uuid": OSD, "name-label": "ceph-osd-1", "power-state": "running",
             "resident-on": HOST, "domid": 1,
             "other-config": {"mac_seed": "2d6f0e8b", "base_template_name": "Debian Buster 10",
                              "install-methods": "cdrom,nfs,http,ftp"}},
        ]
    });
    World::new(
        state,
        &[
            ("0000:00:1f.2", "ahci"),
            ("0000:05:00.0", "pciback"),
            ("0000:06:00.0", "isci"),
        ],
    )
}

fn other_config(w: &World, vm: &str) -> Vec<(String, String)> {
    w.vm(vm)["other-config"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn without_pci(oc: &[(String, String)]) -> Vec<(String, String)> {
    oc.iter().filter(|(k, _)| k != "pci").cloned().collect()
}

#[test]
fn seed000_find_hide_assign_restart_verify() {
    let w = seed000();
    let before = other_config(&w, OSD);
    // Find the HBA the way the seed did (by name), through xe.
    let out = w
        .xe(&["pci-list", "params=pci-id,device-name"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(text.contains("SAS2308"), "{text}");
    // The AHCI controller holding dom0's disks is refused, with the hide command to run.
    w.xenpci(&["assign", "00:1f.2", "--vm", "ceph-osd-1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("ahci"))
        .stderr(predicate::str::contains("xenpci hide 0000:00:1f.2"));
    // The HBA, hidden (bound to pciback), goes to the VM, which is restarted.
    w.xenpci(&["assign", "05:00.0", "--vm", "ceph-osd-1", "--restart"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "other-config:pci = 0/0000:05:00.0",
        ))
        .stderr(predicate::str::contains("shutting down"))
        .stderr(predicate::str::contains("starting"));
    let vm = w.vm(OSD);
    assert_eq!(vm["power-state"], "running");
    assert_eq!(vm["attached-pcis"], json!(["0000:05:00.0"]));
    let after = other_config(&w, OSD);
    assert_eq!(without_pci(&after), before, "other keys must survive");
    assert!(after.contains(&("pci".into(), "0/0000:05:00.0".into())));
    // Nothing was taken from a dom0 driver.
    assert_eq!(w.state()["hosts"][0]["taken_from_dom0"], json!([]));
    let log = w.log();
    let shut = log
        .iter()
        .position(|l| l.starts_with("xe vm-shutdown"))
        .unwrap();
    let start = log
        .iter()
        .position(|l| l.starts_with("xe vm-start"))
        .unwrap();
    assert!(shut < start, "{log:?}");
    assert!(!log
        .iter()
        .any(|l| l.contains("vm-reboot") || l.contains("vm-param-clear")));
    // Verify: the listing shows the device, hidden, not duplicated.
    let out = w.xenpci(&["assigned", "--json"]).assert().success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v[0]["name_label"], "ceph-osd-1");
    assert_eq!(v[0]["devices"][0]["bdf"], "0000:05:00.0");
    assert_eq!(v[0]["devices"][0]["hidden"], true);
}

#[test]
fn dry_run_prints_the_exact_xe_commands_and_changes_nothing() {
    let w = seed000();
    // The mock rewrites its state (with defaults filled in) on every call: normalise first.
    w.xe(&["host-list"]).assert().success();
    let before = w.state();
    let xe = xenpci_testkit::bins::xe();
    let out = w
        .xenpci(&[
            "assign",
            "05:00.0",
            "--vm",
            "ceph-osd-1",
            "--restart",
            "--dry-run",
        ])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    // The commands, in order, each as its own line of the script (comments between them).
    let commands: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        commands,
        [
            format!("{xe} vm-param-set uuid={OSD} other-config:pci=0/0000:05:00.0"),
            format!("{xe} vm-shutdown uuid={OSD}"),
            format!("{xe} vm-start uuid={OSD} on={HOST}"),
        ]
    );
    assert!(
        text.starts_with("# plan: other-config:pci of VM ceph-osd-1"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "# read: {xe} vm-param-get uuid={OSD} param-name=other-config param-key=pci\n"
    )));
    assert!(text.ends_with("# dry run: nothing was changed\n"), "{text}");
    let out = w
        .xenpci(&["assign", "05:00.0", "--vm", OSD, "--dry-run", "--json"])
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        v["commands"],
        json!([[
            xe,
            "vm-param-set",
            format!("uuid={OSD}"),
            "other-config:pci=0/0000:05:00.0"
        ]])
    );
    assert_eq!(w.state()["vms"], before["vms"]);
    assert!(!w
        .log()
        .iter()
        .any(|l| l.contains("vm-param-set") || l.contains("vm-s")));
    // The dry run is the run: the real run executes exactly the commands it printed, in order
    // (the mock xe's call log, its writes).
    w.xenpci(&["assign", "05:00.0", "--vm", "ceph-osd-1", "--restart"])
        .assert()
        .success();
    let ran: Vec<String> = w
        .log()
        .into_iter()
        .filter(|l| {
            ["vm-param-set", "vm-param-remove", "vm-shutdown", "vm-start"]
                .iter()
                .any(|c| l.split_whitespace().nth(1) == Some(c))
        })
        .collect();
    let shown: Vec<String> = commands.iter().map(|c| c.replacen(xe, "xe", 1)).collect();
    assert_eq!(ran, shown, "dry run vs the run");
}

#[test]
fn other_keys_survive_assign_unassign_and_steal() {
    let w = seed000();
    let before = other_config(&w, OSD);
    for args in [
        vec!["assign", "05:00.0", "--vm", "ceph-osd-1"],
        vec!["assign", "06:00.0", "--vm", "ceph-osd-1", "--force"],
        vec!["unassign", "05:00.0", "--vm", "ceph-osd-1"],
        vec!["unassign", "06:00.0", "--vm", "ceph-osd-1"],
    ] {
        w.xenpci(&args).assert().success();
        assert_eq!(
            without_pci(&other_config(&w, OSD)),
            before,
            "after {args:?}"
        );
    }
    assert_eq!(
        other_config(&w, OSD),
        before,
        "pci key removed, nothing else"
    );
    assert!(w.log().contains(&format!(
        "xe vm-param-remove uuid={OSD} param-name=other-config param-key=pci"
    )));
}

#[test]
fn concurrent_assigns_of_different_devices_all_land() {
    let bdfs = [
        "0000:81:00.0",
        "0000:82:00.0",
        "0000:83:00.0",
        "0000:84:00.0",
    ];
    let devices: Vec<Value> = bdfs
        .iter()
        .enumerate()
        .map(|(i, b)| {
            device(
                b,
                &format!("c0ffee00-0000-4000-8000-00000000002{i}"),
                "Intel Corporation",
                "I350 Gigabit Network Connection",
                "pciback",
                false,
            )
        })
        .collect();
    let state = json!({
        "hosts": [{"uuid": HOST, "name-label": "xcp1", "devices": devices}],
        "vms": [{"uuid": NAS, "name-label": "nas", "power-state": "halted",
                 "other-config": {"mac_seed": "m1"}}]
    });
    let drivers: Vec<(&str, &str)> = bdfs.iter().map(|b| (*b, "pciback")).collect();
    let w = World::new(state, &drivers);
    let children: Vec<_> = bdfs
        .iter()
        .map(|b| {
            let mut c = Cli::xenpci().into_command();
            w.xe.wire(&mut c);
            c.env("XENPCI_ROOT", w.path("root"))
                // Slow xe widens the read-modify-write window a missing lock would lose.
                .env("XE_MOCK_LATENCY_MS", "30")
                .args(["assign", b, "--vm", "nas"])
                .stdout(std::process::Stdio::null());
            c.spawn().unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let oc = other_config(&w, NAS);
    let pci = &oc.iter().find(|(k, _)| k == "pci").unwrap().1;
    for b in bdfs {
        assert!(pci.contains(b), "{b} missing from {pci}");
    }
    assert_eq!(pci.split(',').count(), 4, "{pci}");
    assert!(oc.contains(&("mac_seed".into(), "m1".into())));
}

#[test]
fn failing_vm_start_restores_other_config_and_says_so() {
    let w = seed000();
    w.xenpci(&["assign", "06:00.0", "--vm", "ceph-osd-1", "--force"])
        .assert()
        .success();
    let before = other_config(&w, OSD);
    w.xenpci(&["assign", "05:00.0", "--vm", "ceph-osd-1", "--restart"])
        .env("XE_MOCK_FAIL", "vm-start:*")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("starting VM"))
        .stderr(predicate::str::contains("restored to \"0/0000:06:00.0\""));
    assert_eq!(other_config(&w, OSD), before);
}

#[test]
fn assigning_a_device_of_another_vm_needs_steal() {
    let w = seed000();
    let mut s = w.state();
    s["vms"].as_array_mut().unwrap().push(json!({
        "uuid": NAS, "name-label": "nas", "power-state": "halted",
        "other-config": {"pci": "0/0000:05:00.0", "mac_seed": "m2"}}));
    std::fs::write(w.path("state.json"), s.to_string()).unwrap();
    w.xenpci(&["assign", "05:00.0", "--vm", "ceph-osd-1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(NAS))
        .stderr(predicate::str::contains("--steal"));
    // `assigned` flags nothing yet (one holder) ...
    w.xenpci(&["assigned"]).assert().success();
    w.xenpci(&["assign", "05:00.0", "--vm", "ceph-osd-1", "--steal"])
        .assert()
        .success()
        .stdout(predicate::str::contains("took 0000:05:00.0 from VM nas"));
    assert_eq!(
        other_config(&w, NAS),
        vec![("mac_seed".to_string(), "m2".to_string())]
    );
    // ... and flags a duplicate written behind xenpci's back.
    w.xe(&[
        "vm-param-set",
        &format!("uuid={NAS}"),
        "other-config:pci=0/0000:05:00.0",
    ])
    .assert()
    .success();
    w.xenpci(&["assigned"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("ALSO ASSIGNED"));
}

/// The steal is undone when the edit fails after it: writing this VM's value fails (the mock's
/// fault hook) after the device was taken from the other VM, and the other VM's whole
/// other-config — `pci` byte for byte and every other key — is what it was, whether the steal
/// had rewritten its value (it kept another device) or removed the key (it held only this one).
#[test]
fn a_failed_write_after_a_steal_restores_the_other_vm() {
    for (theirs, fail) in [
        ("0/0000:05:00.0,1/0000:07:00.0", "vm-param-set:2"),
        ("0/0000:05:00.0", "vm-param-set:1"),
    ] {
        let w = seed000();
        let mut s = w.state();
        s["vms"].as_array_mut().unwrap().push(json!({
            "uuid": NAS, "name-label": "nas", "power-state": "halted",
            "other-config": {"pci": theirs, "mac_seed": "m2", "install-methods": "cdrom"}}));
        std::fs::write(w.path("state.json"), s.to_string()).unwrap();
        let (nas, osd) = (
            w.vm(NAS)["other-config"].clone(),
            w.vm(OSD)["other-config"].clone(),
        );
        w.xenpci(&["assign", "05:00.0", "--vm", "ceph-osd-1", "--steal"])
            .env("XE_MOCK_FAIL", fail)
            .assert()
            .failure()
            .stderr(predicate::str::contains(format!(
                "other-config:pci of VM {NAS} restored to \"{theirs}\""
            )));
        assert_eq!(w.vm(NAS)["other-config"], nas, "{theirs}");
        assert_eq!(w.vm(OSD)["other-config"], osd, "{theirs}");
    }
}

/// A failed clean shutdown of a restart (after the value was written) puts the old value back
/// too: the VM keeps running with the value it started with.
#[test]
fn a_failed_shutdown_of_a_restart_restores_the_value() {
    let w = seed000();
    let before = other_config(&w, OSD);
    w.xenpci(&["assign", "05:00.0", "--vm", "ceph-osd-1", "--restart"])
        .env("XE_MOCK_FAIL", "vm-shutdown:*")
        .assert()
        .failure()
        .stderr(predicate::str::contains(format!(
            "other-config:pci of VM {OSD} restored to no pci key"
        )));
    assert_eq!(other_config(&w, OSD), before);
    assert_eq!(w.vm(OSD)["power-state"], "running");
}

/// Seed 004 (XenServer 6.2 NAS box): two devices written as `0/0000:06:00.0, 0/0000:07:00.0` —
/// xapi silently drops the second — and the mapping removed with vm-param-clear, which wipes every
/// other key. xenpci refuses the broken value, writes a correct one, and removes only `pci`.
#[test]
fn seed004_two_devices_then_removal() {
    let state = json!({
        "hosts": [{"uuid": HOST, "name-label": "xs62", "devices": [
            device("0000:06:00.0", "c0ffee00-0000-4000-8000-000000000030", "Qualcomm Atheros",
                   "AR8131 Gigabit Ethernet", "pciback", false),
            device("0000:01:00.0", "c0ffee00-0000-4000-8000-000000000031", "Marvell",
                   "88SE9128 SATA", "pciback", false)]}],
        "vms": [{"uuid": NAS, "name-label": "freenas", "power-state": "running",
                 "resident-on": HOST, "domid": 3,
                 "other-config": {"mac_seed": "m1", "pci": "0/0000:06:00.0, 0/0000:01:00.0"}}]
    });
    let w = World::new(
        state,
        &[("0000:06:00.0", "pciback"), ("0000:01:00.0", "pciback")],
    );
    w.xenpci(&["assigned"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "XAPI DROPS OR MISREADS: \" 0/0000:01:00.0\" (xapi drops it",
        ));
    w.xenpci(&["assign", "01:00.0", "--vm", "freenas"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("drop or misread"))
        .stderr(predicate::str::contains("pass --rewrite-misread"));
    // --force is the policy override only: it does not rewrite a misread value
    w.xenpci(&["assign", "01:00.0", "--vm", "freenas", "--force"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("pass --rewrite-misread"));
    w.xenpci(&[
        "assign",
        "01:00.0",
        "--vm",
        "freenas",
        "--rewrite-misread",
        "--restart",
    ])
    .assert()
    .success();
    assert_eq!(
        other_config(&w, NAS),
        vec![
            ("mac_seed".to_string(), "m1".to_string()),
            (
                "pci".to_string(),
                "0/0000:06:00.0,1/0000:01:00.0".to_string()
            )
        ]
    );
    assert_eq!(
        w.vm(NAS)["attached-pcis"],
        json!(["0000:06:00.0", "0000:01:00.0"])
    );
    w.xenpci(&["unassign", "--all", "--vm", "freenas"])
        .assert()
        .success();
    assert_eq!(
        other_config(&w, NAS),
        vec![("mac_seed".to_string(), "m1".to_string())]
    );
}

#[test]
fn bad_arguments_name_the_input() {
    let w = seed000();
    w.xenpci(&["assign", "05:00.9", "--vm", "ceph-osd-1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("05:00.9"));
    w.xenpci(&["assign", "05:00.0", "--vm", "no-such-vm"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("\"no-such-vm\""));
    // Nothing to do is exit 0, as everywhere (it was exit 1).
    let before = w.state();
    w.xenpci(&["unassign", "05:00.0", "--vm", "ceph-osd-1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing to do for 0000:05:00.0"));
    assert_eq!(w.state()["vms"], before["vms"]);
}

/// In dom0 the restart is verified in XenStore (what xenopsd writes for each plugged device:
/// `/local/domain/0/backend/pci/<domid>/0/dev-<i>` = host address), against a real oxenstored
/// that the mock fills as xenopsd would (`XE_MOCK_XENSTORE=1`). Without that mirror — as if
/// xenopsd had plugged nothing — the same command fails and says which device is missing.
#[test]
fn restart_in_dom0_verifies_in_xenstore() {
    let Some(daemon) = xenstored::shared() else {
        return;
    };
    let w = seed000();
    std::fs::create_dir_all(w.path("root/proc/xen")).unwrap();
    std::fs::write(w.path("root/proc/xen/capabilities"), "control_d\n").unwrap();
    let xs = XsStore::open().unwrap();
    xs.rm("/local/domain/0/backend/pci").unwrap();
    w.xenpci(&["assign", "05:00.0", "--vm", "ceph-osd-1", "--restart"])
        .env("XENSTORED_PATH", &daemon.socket)
        .env("XE_MOCK_XENSTORE", "1")
        .assert()
        .success()
        .stdout(predicate::str::is_match(
            "0000:05:00.0: attached \\(XenStore /local/domain/0/backend/pci/[0-9]+/0/dev-0 = 0000:05:00.0\\)",
        ).unwrap());
    let domid = w.vm(OSD)["domid"].as_i64().unwrap();
    assert_eq!(
        xs.read(&format!("/local/domain/0/backend/pci/{domid}/0/dev-0"))
            .unwrap()
            .as_deref(),
        Some("0000:05:00.0")
    );
    // Without the mirror nothing writes the new domain's backend (xenopsd "plugged nothing").
    xs.rm("/local/domain/0/backend/pci").unwrap();
    w.xenpci(&[
        "assign",
        "06:00.0",
        "--vm",
        "ceph-osd-1",
        "--restart",
        "--force",
    ])
    .env("XENSTORED_PATH", &daemon.socket)
    .assert()
    .code(1)
    .stderr(predicate::str::contains(
        "0000:05:00.0, 0000:06:00.0 are not attached",
    ))
    .stderr(predicate::str::contains(
        "not listed in XenStore /local/domain/0/backend/pci/",
    ));
    xs.rm("/local/domain/0/backend/pci").unwrap();
}

/// XCP-ng 8.3: a device whose sysfs this host root cannot show still counts as hidden when
/// `xe pci-get-dom0-access-status` says `disabled`; on 8.2 (no such command) it is refused.
#[test]
fn dom0_access_status_counts_as_hidden_on_83_only() {
    for (version, ok) in [("8.3", true), ("8.2", false)] {
        let state = json!({
            "xcp-ng-version": version,
            "hosts": [{"uuid": HOST, "name-label": "xcp1",
                       "hide-booted": "(0000:05:00.0)", "hide-configured": "(0000:05:00.0)",
                       "devices": [device("0000:05:00.0", "c0ffee00-0000-4000-8000-000000000011",
                                          "LSI Logic / Symbios Logic", "SAS2308", "pciback", false)]}],
            "vms": [{"uuid": OSD, "name-label": "ceph-osd-1", "power-state": "halted"}]
        });
        let w = World::new(state, &[]);
        let a = w
            .xenpci(&["assign", "05:00.0", "--vm", "ceph-osd-1"])
            .assert();
        if ok {
            a.success();
            assert_eq!(w.vm(OSD)["other-config"]["pci"], "0/0000:05:00.0");
        } else {
            a.code(1).stderr(predicate::str::contains(
                "not found at /sys/bus/pci/devices/0000:05:00.0",
            ));
            assert_eq!(w.vm(OSD)["other-config"].get("pci"), None);
        }
    }
}

/// Two runs giving the same device to two different VMs at once: exactly one wins, the other is
/// refused because the winner holds it (per-device lock; without it both would write).
#[test]
fn concurrent_assigns_of_one_device_to_two_vms_never_duplicate() {
    let state = json!({
        "hosts": [{"uuid": HOST, "name-label": "xcp1", "devices": [
            device("0000:05:00.0", "c0ffee00-0000-4000-8000-000000000011",
                   "LSI Logic / Symbios Logic", "SAS2308", "pciback", false)]}],
        "vms": [{"uuid": OSD, "name-label": "ceph-osd-1", "power-state": "halted"},
                {"uuid": NAS, "name-label": "nas", "power-state": "halted"}]
    });
    let w = World::new(state, &[("0000:05:00.0", "pciback")]);
    let children: Vec<_> = ["ceph-osd-1", "nas"]
        .iter()
        .map(|vm| {
            let mut c = Cli::xenpci().into_command();
            w.xe.wire(&mut c);
            c.env("XENPCI_ROOT", w.path("root"))
                .env("XE_MOCK_LATENCY_MS", "40")
                .args(["assign", "05:00.0", "--vm", vm])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let won = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(won, 1, "{outs:?}");
    let lost = outs.iter().find(|o| !o.status.success()).unwrap();
    assert!(String::from_utf8_lossy(&lost.stderr).contains("already in other-config:pci of VM"));
    let holders = [OSD, NAS]
        .iter()
        .filter(|u| w.vm(u)["other-config"].get("pci").is_some())
        .count();
    assert_eq!(holders, 1);
}

/// A device on a KVM stub (vfio-pci, pci-stub) is away from dom0's drivers but not hidden for
/// Xen: assign refuses it, says it is held by the stub and how to move it to pciback, and writes
/// nothing.
#[test]
fn a_device_on_a_kvm_stub_is_refused() {
    for stub in ["vfio-pci", "pci-stub"] {
        let state = json!({
            "xcp-ng-version": "8.2",
            "hosts": [{"uuid": HOST, "name-label": "xcp1",
                       "devices": [device("0000:05:00.0", "c0ffee00-0000-4000-8000-000000000011",
                                          "LSI Logic / Symbios Logic", "SAS2308", stub, false)]}],
            "vms": [{"uuid": OSD, "name-label": "ceph-osd-1", "power-state": "halted"}]
        });
        let w = World::new(state, &[("0000:05:00.0", stub)]);
        w.xenpci(&["assign", "05:00.0", "--vm", "ceph-osd-1"])
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!(
                "not bound to pciback (0000:05:00.0 is held by the KVM stub {stub}, not pciback"
            )))
            .stderr(predicate::str::contains("`xenpci hide --now 0000:05:00.0`"));
        assert_eq!(w.vm(OSD)["other-config"].get("pci"), None);
    }
}

fn stdout_json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn json_refusals_and_failures_are_one_document_on_stdout() {
    let w = seed000();
    let mut s = w.state();
    s["vms"].as_array_mut().unwrap().push(json!({
        "uuid": NAS, "name-label": "nas", "power-state": "halted",
        "other-config": {"pci": "0/0000:05:00.0"}}));
    std::fs::write(w.path("state.json"), s.to_string()).unwrap();
    let out = w
        .xenpci(&["assign", "--json", "05:00.0", "--vm", "ceph-osd-1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--steal"))
        .get_output()
        .clone();
    let j = stdout_json(&out);
    assert_eq!(j["refused"], true);
    assert_eq!(j["hint"], "--steal");
    assert!(j["error"].as_str().unwrap().contains(NAS), "{j}");
    // A failed step after acting is not a refusal.
    let out = w
        .xenpci(&[
            "assign",
            "--json",
            "06:00.0",
            "--vm",
            "ceph-osd-1",
            "--force",
            "--restart",
        ])
        .env("XE_MOCK_FAIL", "vm-start:*")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let j = stdout_json(&out);
    assert_eq!(j["refused"], false);
    assert!(j["hint"].is_null());
    assert!(
        j["error"].as_str().unwrap().starts_with("starting VM"),
        "{j}"
    );
    // unassign shares the path; removing what is not there is nothing to do (exit 0).
    let out = w
        .xenpci(&["unassign", "--json", "01:00.0", "--vm", "ceph-osd-1"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let j = stdout_json(&out);
    assert_eq!(j["changed"], false, "{j}");
    assert!(
        j["notes"]
            .to_string()
            .contains("nothing to do for 0000:01:00.0"),
        "{j}"
    );
    // An unknown VM is bad input: the shared error document, exit 2.
    let out = w
        .xenpci(&["unassign", "--json", "01:00.0", "--vm", "no-such-vm"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let j = stdout_json(&out);
    assert_eq!(
        (j["refused"].as_bool(), j["kind"].as_str()),
        (Some(false), Some("bad-input"))
    );
}

/// A function the host does not have is not "not bound to pciback, hide first" (hiding would
/// fail too, and --force would not make it appear): it says there is no such function.
#[test]
fn a_function_the_host_does_not_have_is_named_missing_not_unhidden() {
    let w = seed000();
    w.xenpci(&["assign", "09:00.0", "--vm", "ceph-osd-1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "this host has no such PCI function (0000:09:00.0 is not found at /sys/bus/pci/devices/0000:09:00.0); `xenpci list` shows",
        ))
        .stderr(predicate::str::contains("hide").not())
        .stderr(predicate::str::contains("--force").not());
}

/// On a pool member, a VM running on another host (after a migrate) is not checked against
/// this host's sysfs: `assigned` says where it runs and does not flag it.
#[test]
fn assigned_on_a_pool_member_does_not_check_another_hosts_vm_here() {
    const H2: &str = "8f7e0c2a-0000-4000-8000-0000000000b2";
    let state = json!({
        "xcp-ng-version": "8.3",
        "hosts": [
            {"uuid": HOST, "name-label": "xcp1", "devices": []},
            {"uuid": H2, "name-label": "xcp2", "devices": []}
        ],
        "vms": [
            {"uuid": OSD, "name-label": "ceph-osd-1", "power-state": "running",
             "resident-on": H2, "domid": 4,
             "other-config": {"pci": "0/0000:81:00.0"}},
        ]
    });
    let w = World::new(state, &[]);
    let etc = w.path("root/etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("xensource-inventory"),
        format!("INSTALLATION_UUID='{HOST}'\n"),
    )
    .unwrap();
    w.xenpci(&["assigned"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "0. 0000:81:00.0 (group 0)  [on host xcp2, not checked here]",
        ))
        .stdout(predicate::str::contains("NOT HIDDEN").not());
    // the same VM resident here is checked (and flagged: 81:00.0 is not in this sysfs)
    std::fs::write(
        etc.join("xensource-inventory"),
        format!("INSTALLATION_UUID='{H2}'\n"),
    )
    .unwrap();
    w.xenpci(&["assigned"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("NOT HIDDEN from dom0"));
}

/// `assign --vf-of PF --vm VM` (issue 15): takes the PF's first VF no VM holds that is already
/// on pciback — not the one another VM's other-config:pci names — says which, and writes it as
/// `assign` would (the VM's other keys kept); when only an unhidden VF is left, a dry run shows
/// its hide (a udev rule by PF and index) then the assign, and changes nothing; a VF is no PF.
#[test]
fn assign_vf_of_takes_a_free_hidden_vf_and_says_which() {
    use xenpci_fixtures::{Fixture, Func};
    let w = seed000();
    let mut s = w.state();
    s["vms"].as_array_mut().unwrap().push(json!({
        "uuid": NAS, "name-label": "nas", "power-state": "halted",
        "other-config": {"pci": "0/0000:01:10.0", "mac_seed": "m2"}}));
    std::fs::write(w.path("state.json"), s.to_string()).unwrap();
    Fixture::new()
        .with(Func::root_port("00:01.0", 0x8086, 0x3c02, 1).acs())
        .with(
            Func::endpoint("01:00.0", 0x8086, 0x10c9, 0x020000)
                .under("00:01.0")
                .flr()
                .acs()
                .sriov(8, 3, 0x10ca)
                .driver("igb"),
        )
        .vfs("01:00.0", &["01:10.0"], Some("pciback"))
        .vfs("01:00.0", &["01:10.2"], Some("igbvf"))
        .vfs("01:00.0", &["01:10.4"], Some("pciback"))
        .write(&w.path("root"))
        .unwrap();
    std::fs::create_dir_all(w.path("root/etc")).unwrap();
    std::fs::write(
        w.path("root/etc/xensource-inventory"),
        "PRODUCT_BRAND='XCP-ng'\n",
    )
    .unwrap();
    let before = other_config(&w, OSD);
    w.xenpci(&["assign", "--vf-of", "01:00.0", "--vm", "ceph-osd-1"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "using 0000:01:10.4 (virtfn2 of 0000:01:00.0, already hidden)",
        ));
    let after = other_config(&w, OSD);
    assert!(
        after.contains(&("pci".to_string(), "0/0000:01:10.4".to_string())),
        "{after:?}"
    );
    assert_eq!(without_pci(&after), before, "other keys kept");
    assert_eq!(
        other_config(&w, NAS),
        vec![
            ("mac_seed".to_string(), "m2".to_string()),
            ("pci".to_string(), "0/0000:01:10.0".to_string())
        ]
    );
    // Only 01:10.2 is left, still on igbvf: a dry run shows its hide, then the assign.
    let vms = w.state()["vms"].clone();
    let out = w
        .xenpci(&["assign", "--vf-of", "01:00.0", "--vm", "nas", "--dry-run"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "using 0000:01:10.2 (virtfn1 of 0000:01:00.0, hidden first, now and at every boot)",
        ))
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.contains("71-xenpci-hide-0000:01:00.0-virtfn1.rules"),
        "{out}"
    );
    assert!(
        out.contains("# then: assign 0000:01:10.2 to VM nas"),
        "{out}"
    );
    assert_eq!(w.state()["vms"], vms, "the dry run changed no VM");
    assert!(!w
        .path("root/etc/udev/rules.d/71-xenpci-hide-0000:01:00.0-virtfn1.rules")
        .exists());
    // a VF is not a PF; --vf-of with BDFs is a usage error
    w.xenpci(&["assign", "--vf-of", "01:10.2", "--vm", "nas"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("it is a VF of 0000:01:00.0"));
    w.xenpci(&["assign", "01:10.2", "--vf-of", "01:00.0", "--vm", "nas"])
        .assert()
        .code(2);
}
