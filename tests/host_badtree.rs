//! Damaged host trees: each problem becomes a warning naming the file, the rest of the
//! inventory still prints, and nothing panics.

mod util;

use util::{bdfs, record, Host};

const HBA: &str = "sys/devices/pci0000:00/0000:00:01.0/0000:05:00.0";

#[test]
fn garbage_in_class_warns_and_falls_back_to_config_space() {
    let h = Host::shape("x9drw");
    h.put(&format!("{HBA}/class"), b"banana\n");
    let run = h.run(&["list", "--json"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr.contains("0000:05:00.0: /sys/devices/pci0000:00/0000:00:01.0/0000:05:00.0/class: expected a hex number of at most 6 digits like 0x000000, found \"banana\"; using config space value 010700"),
        "{}",
        run.stderr
    );
    let list = run.json();
    assert_eq!(record(&list, "0000:05:00.0")["class"], "010700");
    assert_eq!(list.as_array().unwrap().len(), 14);
}

#[test]
fn a_function_without_ids_is_skipped_with_a_warning() {
    let h = Host::shape("x9drw");
    h.remove(&format!("{HBA}/vendor"))
        .remove(&format!("{HBA}/config"));
    let run = h.run(&["list", "--json"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr
            .contains("0000:05:00.0: skipped: no vendor/device id"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("/0000:05:00.0/vendor: missing"),
        "{}",
        run.stderr
    );
    let list = run.json();
    assert!(!bdfs(&list).contains(&"0000:05:00.0".to_string()));
    assert_eq!(list.as_array().unwrap().len(), 13);
}

#[test]
fn dangling_links_and_stray_entries_are_reported() {
    let h = Host::shape("x9drw");
    h.relink(
        "sys/bus/pci/devices/0000:06:00.0",
        "../../../devices/pci0000:00/0000:00:11.0/gone",
    );
    h.put("sys/bus/pci/devices/README", b"not a device");
    h.put("sys/kernel/iommu_groups/7/type", b"DMA\n");
    h.relink(
        &format!("{HBA}/iommu_group"),
        "../../../../kernel/iommu_groups/x",
    );
    let run = h.run(&["list"]);
    assert_eq!(run.code, 0);
    assert!(run.stderr.contains("0000:06:00.0: skipped: /sys/bus/pci/devices/0000:06:00.0 points to /sys/devices/pci0000:00/0000:00:11.0/gone, which does not exist"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("/sys/bus/pci/devices/README: not a PCI address"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("iommu_group: points to \"x\", not a group number"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("0000:05:00.0") && run.stdout.contains("! 0000:00:1f.2"));
}

#[test]
fn short_config_space_and_missing_procfs_still_list() {
    let h = Host::shape("x9drw");
    h.put(&format!("{HBA}/config"), &[0x00, 0x10, 0x87]);
    h.remove("proc/mounts");
    let run = h.run(&["list", "--json"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr
            .contains("/0000:05:00.0/config: only 3 bytes, expected at least 64"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "cannot tell which controllers hold dom0's filesystems: /proc/mounts: missing"
        ),
        "{}",
        run.stderr
    );
    let list = run.json();
    let hba = record(&list, "0000:05:00.0");
    assert_eq!(hba["vendor_id"], "1000");
    assert_eq!(hba["reset"], serde_json::json!([]));
    let run = h.run(&["check", "05:00.0"]);
    assert!(
        run.stdout
            .contains("warning  reset             cannot read the capabilities"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_empty_or_missing_root_is_an_empty_host() {
    let dir = tempfile::tempdir().unwrap();
    let run = util::xenpci_at(dir.path(), &["list", "--json"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout.trim(), "[]");
    assert!(
        run.stderr
            .contains("/sys/bus/pci/devices: cannot list PCI functions"),
        "{}",
        run.stderr
    );
}
