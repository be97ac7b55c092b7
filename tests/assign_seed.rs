//! Seed 000 end to end with every xenpci step real: the seed's host (Supermicro X9DRW, written by
//! `xenpci demo --shape x9drw`, plus the XCP-ng 8.2 grub.cfg fixture and a loaded pciback),
//! `xenpci list` to find the LSI SAS2308, `xenpci assign` refusing it while dom0's mpt3sas holds
//! it, `xenpci hide` (through the xen-cmdline and xl test doubles), `xenpci assign --restart` to
//! the Ceph OSD VM `ceph-osd-1` through the mock `xe`, and `xenpci assigned` to verify.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{json, Value};
use xenpci_testkit::cli::Cli;
use xenpci_testkit::harness::Host;

const HOST: &str = "8f7e0c2a-0000-4000-8000-000000000001";
const OSD: &str = "0a3e6c1e-0000-4000-8000-000000000003";

/// The seed's host: the kit's [`Host`] with the demo's X9DRW, XCP-ng 8.2's grub.cfg, pciback
/// loaded and the mock `xe` holding the pool (xen-cmdline and xl are the kit's doubles).
fn seed() -> Host {
    let s = xenpci_testkit::harness::host("");
    let root = s.root().to_path_buf();
    Command::from_std(Cli::xenpci().into_command())
        .args(["demo", "--write"])
        .arg(&root)
        .args(["--shape", "x9drw"])
        .assert()
        .success();
    std::fs::create_dir_all(root.join("boot/grub")).unwrap();
    std::fs::copy(
        xenpci_testkit::harness::tests_dir().join("fixtures/hide/xcpng82/boot/grub/grub.cfg"),
        root.join("boot/grub/grub.cfg"),
    )
    .unwrap();
    s.pciback();
    let state = json!({
        "xcp-ng-version": "8.2",
        "hosts": [{"uuid": HOST, "name-label": "xcp1", "devices": [
            {"bdf": "0000:00:1f.2", "uuid": "c0ffee00-0000-4000-8000-000000000010",
             "class": "0106", "vendor-name": "Intel Corporation",
             "device-name": "C600/X79 series chipset 6-Port SATA AHCI Controller",
             "driver": "ahci", "critical": true},
            {"bdf": "0000:05:00.0", "uuid": "c0ffee00-0000-4000-8000-000000000011",
             "class": "0107", "vendor-name": "LSI Logic / Symbios Logic",
             "device-name": "SAS2308 PCI-Express Fusion-MPT SAS-2", "driver": "mpt3sas"}]}],
        "vms": [{"uuid": OSD, "name-label": "ceph-osd-1", "power-state": "running",
                 "resident-on": HOST, "domid": 1,
                 "other-config": {"mac_seed": "2d6f0e8b", "base_template_name": "Debian Buster 10"}}]
    });
    s.with_mock_xe(&state)
}

#[test]
fn seed000_list_refuse_hide_assign_restart_verify() {
    let s = seed();
    // 1. Find the HBA.
    let out = s.xenpci(&["list", "--json"]).assert().success();
    let list: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let hba = list
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f.to_string().contains("SAS2308"))
        .expect("the SAS2308 is listed");
    let bdf = hba["bdf"].as_str().unwrap().to_string();
    assert_eq!(bdf, "0000:05:00.0");
    // 2. dom0's mpt3sas holds it: refused, with the command to run.
    s.xenpci(&["assign", &bdf, "--vm", "ceph-osd-1", "--restart"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("mpt3sas"))
        .stderr(predicate::str::contains(format!("`xenpci hide {bdf}`")));
    assert_eq!(
        s.mock_xe().state()["vms"][0]["other-config"].get("pci"),
        None
    );
    // The onboard AHCI holds dom0's own filesystems: refused, and not offered for hiding.
    s.xenpci(&["assign", "00:1f.2", "--vm", "ceph-osd-1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "refusing to assign 0000:00:1f.2 to VM ceph-osd-1: dom0 needs it: holds /",
        ))
        .stderr(predicate::str::contains("xenpci hide 0000:00:1f.2").not());
    // 3. Hide it (boot config through xen-cmdline, now through xl).
    s.xenpci(&["hide", &bdf]).assert().success();
    assert!(std::fs::read_to_string(s.root().join("boot/grub/grub.cfg"))
        .unwrap()
        .contains("xen-pciback.hide=(0000:05:00.0)"));
    // The mock keeps its own view of dom0's drivers: mirror the host's change there.
    let mut st = s.mock_xe().state();
    st["hosts"][0]["devices"][1]["driver"] = json!("pciback");
    s.mock_xe().set_state(&st);
    // 4. Assign and restart.
    s.xenpci(&["assign", &bdf, "--vm", "ceph-osd-1", "--restart"])
        .assert()
        .success()
        .stderr(predicate::str::contains("shutting down"))
        .stdout(predicate::str::contains(
            "other-config:pci = 0/0000:05:00.0",
        ));
    let st = s.mock_xe().state();
    let vm = &st["vms"][0];
    assert_eq!(vm["power-state"], "running");
    assert_eq!(vm["attached-pcis"], json!(["0000:05:00.0"]));
    assert_eq!(vm["other-config"]["mac_seed"], "2d6f0e8b");
    assert_eq!(vm["other-config"]["base_template_name"], "Debian Buster 10");
    assert_eq!(st["hosts"][0]["taken_from_dom0"], json!([]));
    // 5. Verify.
    let out = s.xenpci(&["assigned", "--json"]).assert().success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v[0]["devices"][0]["bdf"], "0000:05:00.0");
    assert_eq!(v[0]["devices"][0]["hidden"], true);
    assert_eq!(v[0]["devices"][0]["also_assigned_to"], json!([]));
}
