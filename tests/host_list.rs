//! `xenpci list` on fixture hosts: the JSON interface, the -d filter, grouping and critical marks.

mod util;

use util::{bdfs, record, Host};

const FIELDS: &[&str] = &[
    "bdf",
    "vendor_id",
    "device_id",
    "class",
    "subsystem_vendor_id",
    "subsystem_device_id",
    "revision",
    "vendor_name",
    "device_name",
    "class_name",
    "driver",
    "iommu_group",
    "isolation_group",
    "sriov",
    "physfn",
    "reset",
    "assignable",
    "critical",
];

#[test]
fn json_records_have_exactly_the_interface_fields() {
    let h = Host::shape("x9drw");
    let run = h.run(&["list", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let list = run.json();
    for r in list.as_array().unwrap() {
        let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = FIELDS.to_vec();
        keys.sort();
        want.sort();
        assert_eq!(keys, want);
    }
    let hba = record(&list, "0000:05:00.0");
    assert_eq!(hba["vendor_id"], "1000");
    assert_eq!(hba["device_id"], "0087");
    assert_eq!(hba["class"], "010700");
    assert_eq!(hba["revision"], "05");
    assert_eq!(hba["class_name"], "Serial Attached SCSI controller");
    assert_eq!(hba["driver"], "mpt3sas");
    assert_eq!(hba["iommu_group"], serde_json::Value::Null);
    assert_eq!(hba["isolation_group"], serde_json::json!(["0000:05:00.0"]));
    assert_eq!(hba["assignable"], true);
    assert_eq!(hba["critical"], serde_json::json!([]));
    assert_eq!(hba["reset"], serde_json::json!(["flr", "bus"]));
}

#[test]
fn the_boot_controller_and_management_nic_are_critical() {
    let list = Host::shape("x9drw").run(&["list", "--json"]).json();
    let sata = record(&list, "0000:00:1f.2");
    assert_eq!(sata["assignable"], false);
    assert_eq!(sata["critical"][0], "holds / (ext3 on /dev/sda1)");
    assert_eq!(
        sata["isolation_group"],
        serde_json::json!(["0000:00:1f.0", "0000:00:1f.2", "0000:00:1f.3"])
    );
    // The SMBus function is not needed itself but shares the group with the root controller.
    assert_eq!(record(&list, "0000:00:1f.3")["assignable"], false);
    let nic = record(&list, "0000:02:00.0");
    assert!(nic["critical"][0]
        .as_str()
        .unwrap()
        .contains("xenbr0 → eth0"));
    assert_eq!(record(&list, "0000:02:00.1")["assignable"], false);
    assert_eq!(record(&list, "0000:06:00.0")["assignable"], true);
    assert_eq!(record(&list, "0000:00:01.0")["assignable"], false);
}

#[test]
fn human_output_groups_and_marks_critical_functions() {
    let run = Host::shape("x9drw").run(&["list"]);
    assert_eq!(run.code, 0);
    let out = run.stdout;
    assert!(out.contains("computed from config space"), "{out}");
    assert!(
        out.contains("! 0000:00:1f.2  SATA controller [0106]"),
        "{out}"
    );
    assert!(
        out.contains("CRITICAL: holds / (ext3 on /dev/sda1)"),
        "{out}"
    );
    assert!(
        out.contains("NOT assignable: dom0 needs 0000:00:1f.2"),
        "{out}"
    );
    let g = out.find("0000:05:00.0").unwrap();
    let header = out[..g].rfind("group").unwrap();
    assert!(out[header..g].contains("assignable"), "{}", &out[header..g]);
}

#[test]
fn dash_d_filters_like_lspci_with_opennebula_lists() {
    let h = Host::shape("x9drw");
    let sas = h.run(&["list", "--json", "-d", "::0107"]).json();
    assert_eq!(bdfs(&sas), ["0000:05:00.0", "0000:06:00.0"]);
    let two = h.run(&["list", "--json", "-d", "8086::0106,1000:"]).json();
    assert_eq!(bdfs(&two), ["0000:00:1f.2", "0000:05:00.0"]);
    let none = h.run(&["list", "--json", "-d", "10de::0300"]).json();
    assert_eq!(bdfs(&none), Vec::<String>::new());
    let human = h.run(&["list", "-d", "1000:0087"]).stdout;
    assert!(
        human.contains("0000:05:00.0") && !human.contains("0000:06:00.0"),
        "{human}"
    );
    assert!(
        human.contains("\n1 function in 1 isolation group;"),
        "one of each is singular: {human}"
    );
    let two = h.run(&["list", "-d", "::0107"]).stdout;
    assert!(
        two.contains("\n2 functions in 2 isolation groups;"),
        "{two}"
    );
}

/// `-s` selects slots as lspci does, alone or with `-d`; a bad selector is a usage error naming
/// the part.
#[test]
fn dash_s_selects_slots_like_lspci() {
    let h = Host::shape("x9drw");
    let one = h.run(&["list", "--json", "-s", "02:00.1"]).json();
    assert_eq!(bdfs(&one), ["0000:02:00.1"]);
    let bus = h.run(&["list", "--json", "-s", "02:"]).json();
    assert_eq!(bdfs(&bus), ["0000:02:00.0", "0000:02:00.1"]);
    let both = h
        .run(&["list", "--json", "-s", "00:", "-d", "::0106"])
        .json();
    assert_eq!(bdfs(&both), ["0000:00:1f.2"]);
    let bad = h.run(&["list", "-s", "02:zz.0"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("\"zz\" is not a hex device"),
        "{}",
        bad.stderr
    );
}

#[test]
fn bad_filters_fail_with_the_position() {
    let run = Host::shape("x9drw").run(&["list", "-d", "10de::0300,zz"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("invalid -d filter \"10de::0300,zz\" at position 11"),
        "{}",
        run.stderr
    );
}

#[test]
fn sriov_links_are_reported_both_ways() {
    let list = Host::shape("sriov-nic").run(&["list", "--json"]).json();
    let pf = record(&list, "0000:01:00.0");
    assert_eq!(pf["sriov"]["totalvfs"], 8);
    assert_eq!(pf["sriov"]["numvfs"], 7);
    assert_eq!(pf["sriov"]["vfs"].as_array().unwrap().len(), 7);
    assert_eq!(pf["sriov"]["vfs"][1], "0000:01:10.2");
    let vf = record(&list, "0000:01:11.2");
    assert_eq!(vf["physfn"], "0000:01:00.0");
    assert_eq!(vf["driver"], "pciback");
    assert_eq!(vf["sriov"], serde_json::Value::Null);
    assert_eq!(vf["isolation_group"], serde_json::json!(["0000:01:11.2"]));
}

#[test]
fn kernel_groups_are_used_and_disagreement_is_shown() {
    let run = Host::shape("gpu-pair").run(&["list", "--json"]);
    let list = run.json();
    let gpu = record(&list, "0000:01:00.0");
    assert_eq!(gpu["iommu_group"], 1);
    assert_eq!(
        gpu["isolation_group"],
        serde_json::json!(["0000:00:01.0", "0000:01:00.0", "0000:01:00.1"])
    );
    // Three functions disagree alike: one line with the first and a count...
    let alike: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("IOMMU group"))
        .collect();
    assert_eq!(alike.len(), 1, "{}", run.stderr);
    assert!(
        alike[0].contains("and 2 more functions alike"),
        "{}",
        alike[0]
    );
    // ... and each one with -v.
    let verbose = Host::shape("gpu-pair").run(&["-v", "list", "--json"]);
    assert!(
        verbose.stderr.contains("0000:01:00.0: kernel IOMMU group 1 is [0000:00:01.0, 0000:01:00.0, 0000:01:00.1] but config space suggests [0000:01:00.0, 0000:01:00.1]"),
        "{}",
        verbose.stderr
    );
    let human = Host::shape("gpu-pair").run(&["list"]).stdout;
    assert!(human.contains("(iommu group 1)"), "{human}");
    assert!(
        human.contains("config space suggests group [01:00.0 01:00.1]"),
        "{human}"
    );
    // The integrated GPU drives the console.
    assert!(record(&list, "0000:00:02.0")["critical"][0]
        .as_str()
        .unwrap()
        .contains("boot_vga"));
}

#[test]
fn conventional_pci_goes_with_its_bridge() {
    let list = Host::shape("legacy-bridge").run(&["list", "--json"]).json();
    let want = serde_json::json!(["0000:03:00.0", "0000:04:00.0", "0000:04:01.0"]);
    assert_eq!(record(&list, "0000:04:00.0")["isolation_group"], want);
    assert_eq!(record(&list, "0000:04:01.0")["isolation_group"], want);
    assert_eq!(record(&list, "0000:04:00.0")["assignable"], true);
}

/// Only pciback hides a device for Xen: the HBA on a KVM stub (vfio-pci, pci-stub) keeps its
/// driver and assignability in the JSON, and the text says it is held by the stub, not hidden,
/// and how to move it to pciback.
#[test]
fn a_device_on_a_kvm_stub_is_not_hidden_for_xen() {
    for stub in ["vfio-pci", "pci-stub"] {
        let h = Host::new(&xenpci_fixtures::x9drw().rebind("05:00.0", Some(stub)));
        let list = h.run(&["list", "--json"]).json();
        let hba = record(&list, "0000:05:00.0");
        assert_eq!(hba["driver"], stub);
        assert_eq!(hba["assignable"], true);
        let run = h.run(&["list"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let line = run
            .stdout
            .lines()
            .skip_while(|l| !l.contains("0000:05:00.0"))
            .nth(1)
            .unwrap();
        assert!(
            line.contains(&format!(
                "held by the KVM stub {stub}, not hidden for Xen (`xenpci hide --now 0000:05:00.0` moves it to pciback)"
            )),
            "{line}"
        );
        assert!(!line.contains("hidden from dom0"), "{line}");
    }
    let h = Host::new(&xenpci_fixtures::x9drw().rebind("05:00.0", Some("pciback")));
    let out = h.run(&["list"]).stdout;
    let line = out
        .lines()
        .skip_while(|l| !l.contains("0000:05:00.0"))
        .nth(1)
        .unwrap();
    assert!(
        line.contains("hidden from dom0") && !line.contains("KVM"),
        "{line}"
    );
}
