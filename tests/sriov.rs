//! SR-IOV (issue 15): `xenpci sriov` reports each PF's VFs and who holds them, and `sriov set`
//! plans and makes the exact sysfs writes the kernel needs (through 0 between two non-zero
//! counts, at most sriov_totalvfs) with the refusals (VFs in use or hidden, a PF away from dom0,
//! an XAPI-managed NIC). A fixture sysfs cannot create VF directories when `sriov_numvfs` is
//! written, so after each write the test plays the kernel: it rewrites the tree with the VFs the
//! new count gives (`kernel_made`), then `sriov` must see them.

mod util;

use util::Host;
use xenpci_fixtures::{Fixture, Func};

/// An 82576-like PF on igb (total 8) at 01:00.0 with `vfs` VFs (igbvf, none held), and a second
/// port 01:00.1 without VFs.
fn nic(vfs: usize, pf_driver: &str) -> Fixture {
    let at: Vec<String> = (0..vfs)
        .map(|i| format!("01:1{}.{}", i / 4, (i % 4) * 2))
        .collect();
    let at: Vec<&str> = at.iter().map(String::as_str).collect();
    let mut fx = Fixture::new()
        .with(Func::root_port("00:01.0", 0x8086, 0x3c02, 1).acs())
        .with(
            Func::endpoint("01:00.0", 0x8086, 0x10c9, 0x020000)
                .under("00:01.0")
                .flr()
                .acs()
                .sriov(8, vfs as u16, 0x10ca)
                .driver(pf_driver),
        )
        .with(
            Func::endpoint("01:00.1", 0x8086, 0x10c9, 0x020000)
                .under("00:01.0")
                .flr()
                .acs()
                .sriov(8, 0, 0x10ca)
                .driver("igb"),
        );
    if vfs > 0 {
        fx = fx.vfs("01:00.0", &at, Some("igbvf"));
    }
    fx
}

/// The kernel's part after `sriov_numvfs` was written: the tree as it is with that many VFs (the
/// host's other files — rules, backups — stay).
fn kernel_made(h: &Host, vfs: usize) {
    std::fs::remove_dir_all(h.path("sys")).unwrap();
    nic(vfs, "igb").write(h.root()).unwrap();
}

fn numvfs(h: &Host) -> String {
    h.read("sys/bus/pci/devices/0000:01:00.0/sriov_numvfs")
}

const RULE: &str = "etc/udev/rules.d/70-xenpci-sriov-0000:01:00.0.rules";

#[test]
fn sriov_lists_each_pf_with_its_vfs_and_who_holds_them() {
    let h = Host::shape("sriov-nic");
    // a running domain holds 01:10.2 (xl list -l through the xl double)
    h.write(
        "var/lib/xl-double/domains.json",
        r#"[{"domid": 3, "config": {"c_info": {"name": "g1"},
            "pcidevs": [{"domain": 0, "bus": 1, "dev": 16, "func": 2}]}}]"#,
    );
    let r = h.xenpci(&["sriov", "--json"]).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let pfs = j["pfs"].as_array().unwrap();
    assert_eq!(pfs.len(), 2, "{j}");
    let p = &pfs[0];
    assert_eq!(p["pf"], "0000:01:00.0");
    assert_eq!(
        (p["numvfs"].as_u64(), p["totalvfs"].as_u64()),
        (Some(7), Some(8))
    );
    assert_eq!(p["driver"], "igb");
    assert_eq!(p["persists"], false);
    let states: Vec<(&str, &str)> = p["vfs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["bdf"].as_str().unwrap(), v["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("0000:01:10.0", "free"),
            ("0000:01:10.2", "attached"),
            ("0000:01:10.4", "free"),
            ("0000:01:10.6", "free"),
            ("0000:01:11.0", "free"),
            ("0000:01:11.2", "hidden"),
            ("0000:01:11.4", "hidden"),
        ]
    );
    assert_eq!(p["vfs"][1]["holders"][0]["name"], "g1");
    assert_eq!(pfs[1]["numvfs"], 0);
    // one PF by name; a VF is not one
    let one = h.xenpci(&["sriov", "01:00.1", "--json"]).output().unwrap();
    let j: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(j["pfs"].as_array().unwrap().len(), 1);
    let vf = h.xenpci(&["sriov", "01:10.0"]).output().unwrap();
    assert_eq!(vf.status.code(), Some(2));
    let err = String::from_utf8_lossy(&vf.stderr);
    assert!(
        err.contains("0000:01:10.0") && err.contains("it is a VF of 0000:01:00.0"),
        "{err}"
    );
    // the text names the attached domain and says the count is lost at a reboot
    let t = h.xenpci(&["sriov"]).output().unwrap();
    let t = String::from_utf8_lossy(&t.stdout);
    assert!(t.contains("attached to running domain g1 (domid 3)"), "{t}");
    assert!(
        t.contains("`xenpci sriov set 0000:01:00.0 7 --persistent`"),
        "{t}"
    );
}

#[test]
fn set_writes_through_zero_and_keeps_the_count_in_a_udev_rule() {
    let h = Host::new(&nic(0, "igb"));
    // 0 -> 2: one write, and the rule
    let d = h
        .xenpci(&[
            "sriov",
            "set",
            "01:00.0",
            "2",
            "--persistent",
            "--dry-run",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(d.status.success(), "{}", String::from_utf8_lossy(&d.stderr));
    let j: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
    let steps: Vec<String> = j["outcome"]["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"]["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(steps, ["write_sysfs", "write_file"], "{j}");
    assert_eq!(numvfs(&h), "0\n", "a dry run writes nothing");
    assert!(!h.path(RULE).exists());
    let r = h
        .xenpci(&["sriov", "set", "01:00.0", "2", "--persistent"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(numvfs(&h), "2");
    let rule = h.read(RULE);
    assert!(
        rule.contains(
            r#"ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:01:00.0", ATTR{sriov_numvfs}="2""#
        ),
        "{rule}"
    );
    kernel_made(&h, 2);
    let j: serde_json::Value = serde_json::from_slice(
        &h.xenpci(&["sriov", "01:00.0", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let p = &j["pfs"][0];
    assert_eq!(p["numvfs"], 2);
    assert_eq!(p["vfs"][1]["bdf"], "0000:01:10.2");
    assert_eq!(p["persists"], true, "{p}");
    assert_eq!(p["persistence"][0]["ours"], true);
    // 2 -> 3: the kernel answers EBUSY to a non-zero to non-zero change, so 0 first
    let d = h
        .xenpci(&["sriov", "set", "01:00.0", "3", "--dry-run"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&d.stdout);
    let writes: Vec<&str> = text.lines().filter(|l| l.starts_with("echo -n")).collect();
    assert_eq!(
        writes,
        [
            "echo -n 0 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs",
            "echo -n 3 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs"
        ],
        "{text}"
    );
    assert!(text.contains("EBUSY"), "{text}");
    // 2 -> 0 --persistent: one write, the rule removed (and backed up)
    let r = h
        .xenpci(&["sriov", "set", "01:00.0", "0", "--persistent"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(numvfs(&h), "0");
    assert!(!h.path(RULE).exists());
    // the same count again: nothing to change
    let r = h
        .xenpci(&["sriov", "set", "01:00.0", "0"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&r.stdout).contains("nothing to change"));
}

#[test]
fn set_refuses_more_than_totalvfs_vfs_in_use_and_a_pf_away_from_dom0() {
    let h = Host::new(&nic(0, "igb"));
    let r = h
        .xenpci(&["sriov", "set", "01:00.0", "9"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("\"9\": expected 0 to 8 (sriov_totalvfs of 0000:01:00.0)"),
        "{err}"
    );
    assert_eq!(numvfs(&h), "0\n");
    // a VF attached to a domain, and one hidden on pciback: refused, nothing written
    let h = Host::new(&nic(3, "igb"));
    h.pciback().bind("0000:01:10.4", "pciback");
    h.write(
        "var/lib/xl-double/domains.json",
        r#"[{"domid": 3, "config": {"c_info": {"name": "g1"},
            "pcidevs": [{"domain": 0, "bus": 1, "dev": 16, "func": 0}]}}]"#,
    );
    let r = h
        .xenpci(&["sriov", "set", "01:00.0", "1", "--json"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let refused: Vec<&str> = j["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["bdf"].as_str().unwrap())
        .collect();
    assert_eq!(refused, ["0000:01:10.0", "0000:01:10.4"], "{j}");
    assert_eq!(j["refusals"][0]["codes"][0]["code"], "in-use");
    assert_eq!(j["refusals"][1]["codes"][0]["code"], "hidden-vf");
    assert_eq!(j["hint"], "--force");
    assert_eq!(numvfs(&h), "3\n");
    // --force does it and names what it forced
    let r = h
        .xenpci(&["sriov", "set", "01:00.0", "0", "--force"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stderr).contains("forced: 0000:01:10.0"));
    assert_eq!(numvfs(&h), "0");
    // the PF on pciback: refused
    let h = Host::new(&nic(0, "pciback"));
    h.pciback();
    let r = h
        .xenpci(&["sriov", "set", "01:00.0", "2"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("bound to pciback, not its dom0 driver"),
        "{err}"
    );
}

#[test]
fn on_an_xapi_host_a_nics_vfs_belong_to_network_sriov() {
    let h = Host::new(&nic(0, "igb"));
    h.put("etc/xensource-inventory", b"PRODUCT_BRAND='XCP-ng'\n");
    let r = h.run(&["sriov", "set", "01:00.0", "2", "--dry-run"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("XAPI's network-sriov manages its VFs"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("xe network-sriov-create"), "{}", r.stderr);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    // a rule for the count behind XAPI's back too, even without a live change
    let r = h.run(&["sriov", "set", "01:00.0", "0", "--persistent"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("network-sriov"), "{}", r.stderr);
}

#[cfg(feature = "fault-injection")]
#[test]
fn a_failed_rule_write_puts_the_old_count_back() {
    let h = Host::new(&nic(3, "igb"));
    let r = h
        .xenpci(&["sriov", "set", "01:00.0", "2", "--persistent"])
        .env("XENPCI_FAIL_WRITE", "rename")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("undone"), "{err}");
    // 3 -> 0 -> 2 then the rule failed: 2 undone to 0, 0 undone to 3
    assert_eq!(numvfs(&h), "3");
    assert!(!h.path(RULE).exists());
}

/// A VF's hide for every boot is a udev rule naming it by PF and index (the boot line is read
/// before the VF exists); the boot configuration is not touched, and unhide removes the rule.
#[test]
fn hide_persistent_of_a_vf_is_a_udev_rule_by_pf_and_index() {
    let h = util::generated(nic(3, "igb"), "debian");
    let grub = h.read("boot/grub/grub.cfg");
    let rule = "etc/udev/rules.d/71-xenpci-hide-0000:01:00.0-virtfn2.rules";
    let r = h
        .xenpci(&["hide", "01:10.4", "--persistent", "--method", "grub"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let text = h.read(rule);
    let line = text.lines().last().unwrap();
    assert!(
        line.contains("/sys/bus/pci/devices/0000:01:00.0/virtfn2"),
        "{line}"
    );
    assert!(
        line.contains("echo pciback > /sys%p/driver_override"),
        "{line}"
    );
    assert!(!line.contains("01:10.4"), "{line}");
    assert_eq!(
        h.read("boot/grub/grub.cfg"),
        grub,
        "no xen-pciback.hide= for a VF"
    );
    let j: serde_json::Value =
        serde_json::from_slice(&h.xenpci(&["sriov", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(j["pfs"][0]["vfs"][2]["hidden_at_boot"], true, "{j}");
    assert_eq!(j["pfs"][0]["vfs"][1]["hidden_at_boot"], false, "{j}");
    // a VF and another function together: bad input, nothing written
    let r = h
        .xenpci(&["hide", "01:10.0", "01:00.1", "--persistent"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("apart from other functions"));
    assert!(!h
        .path("etc/udev/rules.d/71-xenpci-hide-0000:01:00.0-virtfn0.rules")
        .exists());
    // unhide --persistent removes the rule
    let r = h
        .xenpci(&["unhide", "01:10.4", "--persistent"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(!h.path(rule).exists());
    assert_eq!(h.read("boot/grub/grub.cfg"), grub);
}

/// `hide VF` (now and for every boot): the ordinary live hide, recorded in the identity state as
/// a live hide only (its boot part is the udev rule, which `verify` must not take for the boot
/// line), plus the rule.
#[test]
fn hide_of_a_vf_now_and_at_boot_records_the_live_hide_only() {
    let h = Host::new(&nic(2, "igb"));
    h.pciback().driver_dir("igbvf");
    let r = h.run(&["hide", "01:10.2", "--live", "sysfs"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        h.read("sys/bus/pci/drivers/pciback/new_slot"),
        "0000:01:10.2"
    );
    assert!(h
        .path("etc/udev/rules.d/71-xenpci-hide-0000:01:00.0-virtfn1.rules")
        .exists());
    let state: serde_json::Value =
        serde_json::from_str(&h.read("var/lib/xenpci/devices.json")).unwrap();
    let text = state.to_string();
    assert!(text.contains("0000:01:10.2"), "{text}");
    assert!(text.contains(r#""kind":"live-hide""#), "{text}");
    assert!(!text.contains("boot-hide"), "{text}");
}

/// On a KVM host a VF on vfio-pci is hidden (held for a guest): `sriov` says so and a count
/// change that would remove it is refused; its hide is vfio-pci's, never the pciback udev rule.
#[test]
fn on_a_kvm_host_a_vf_on_vfio_pci_is_hidden() {
    let h = Host::new(&nic(2, "igb"));
    h.write("etc/libvirt/.keep", "");
    h.bind("0000:01:10.2", "vfio-pci");
    let j: serde_json::Value =
        serde_json::from_slice(&h.xenpci(&["sriov", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(j["pfs"][0]["vfs"][1]["state"], "hidden", "{j}");
    let r = h
        .xenpci(&["sriov", "set", "01:00.0", "0", "--json"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(j["refusals"][0]["bdf"], "0000:01:10.2", "{j}");
    assert_eq!(j["refusals"][0]["codes"][0]["code"], "hidden-vf");
    let r = h.run(&["hide", "01:10.0", "--persistent", "--dry-run"]);
    assert!(!r.stdout.contains("71-xenpci-hide-"), "{}", r.stdout);
}

/// `sriov restore` (the shipped xenpci-sriov.service's command): after a reboot without udev, the
/// recorded count comes back through `sriov set`'s write, and the recorded VF hide once the VF
/// exists again; what is already right is left alone, and a VF that is not there fails the run.
#[test]
fn restore_applies_the_recorded_count_then_the_recorded_vf_hide() {
    let h = Host::new(&nic(0, "igb"));
    h.pciback().driver_dir("igbvf");
    let pf = "0000:01:00.0";
    let pf_bdf: xenpci::pci::Bdf = pf.parse().unwrap();
    h.write(RULE, &xenpci::ops::sriov::rule_text(pf_bdf, 2));
    let hide_rule = "etc/udev/rules.d/71-xenpci-hide-0000:01:00.0-virtfn1.rules";
    h.write(hide_rule, "# recorded by hide 01:10.2\n");
    // the count first; the VF of the hide does not exist until the kernel made it
    let r = h.run(&["sriov", "restore", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(numvfs(&h), "2");
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let got: Vec<(&str, &str)> = j["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["what"].as_str().unwrap(), i["result"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [("count", "applied"), ("hide", "failed")], "{j}");
    assert!(j["items"][1]["detail"]
        .as_str()
        .unwrap()
        .contains("no virtfn1"));
    kernel_made(&h, 2);
    h.pciback().driver_dir("igbvf");
    let d = h.run(&["sriov", "restore", "--dry-run", "--json"]);
    assert_eq!(d.code, 0, "{}", d.stdout);
    assert!(d.stdout.contains("would-apply"), "{}", d.stdout);
    let slot = "sys/bus/pci/drivers/pciback/new_slot";
    let before = std::fs::read_to_string(h.path(slot)).unwrap_or_default();
    assert!(
        !before.contains("01:10.2"),
        "a dry run writes nothing: {before}"
    );
    let r = h.run(&["sriov", "restore"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("already: 0000:01:00.0 VF count 2:"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("applied: 0000:01:00.0 virtfn1 (0000:01:10.2) hidden"),
        "{}",
        r.stdout
    );
    assert_eq!(numvfs(&h), "2\n", "a count already right is not rewritten");
    let after = std::fs::read_to_string(h.path(slot)).unwrap_or_default();
    assert!(
        after.contains("0000:01:10.2"),
        "the VF went to pciback: {after}"
    );
}

/// `hidden` lists a VF hidden at every boot by xenpci's udev rule, by its PF and index, with the
/// VF it names now (text and --json).
#[test]
fn hidden_lists_the_vf_hides_by_pf_and_index() {
    let h = util::generated(nic(3, "igb"), "debian");
    let r = h.run(&["hide", "01:10.4", "--persistent", "--method", "grub"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = h.run(&["hidden", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let v = &j["vf_hides"][0];
    assert_eq!(
        (v["pf"].as_str(), v["index"].as_u64(), v["vf"].as_str()),
        (Some("0000:01:00.0"), Some(2), Some("0000:01:10.4")),
        "{j}"
    );
    assert_eq!(v["hidden_now"], false);
    let t = h.run(&["hidden"]);
    assert!(
        t.stdout
            .contains("virtfn2 of 0000:01:00.0 (0000:01:10.4)  now: not hidden"),
        "{}",
        t.stdout
    );
}

/// `xenpci ARGS` with the doubles (the iproute2 `ip` among them), as one [`util::Run`].
fn doubled(h: &Host, args: &[&str]) -> util::Run {
    let out = h.std_xenpci(args).output().unwrap();
    util::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `sriov vf PF N --mac --vlan`: one `ip link set DEV vf N mac M vlan V` through the PF's net
/// device (argv, the iproute2 double), `--persistent` a udev rule on that net device that
/// `sriov restore` applies again; bad input (no setting, a bad MAC, an index without a VF, a
/// PF that is no NIC or has no net device) names the input and runs nothing.
#[test]
fn vf_mac_and_vlan_go_through_the_pfs_net_device_and_persist() {
    let h = Host::new(&nic(2, "igb"));
    h.write(
        "sys/bus/pci/devices/0000:01:00.0/net/enp1s0f0/ifindex",
        "3\n",
    );
    let rule = "etc/udev/rules.d/72-xenpci-vf-0000:01:00.0-virtfn1.rules";
    let r = doubled(
        &h,
        &[
            "sriov",
            "vf",
            "01:00.0",
            "1",
            "--mac",
            "52:54:00:12:34:56",
            "--vlan",
            "100",
            "--dry-run",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("link set enp1s0f0 vf 1 mac 52:54:00:12:34:56 vlan 100"),
        "{}",
        r.stdout
    );
    assert!(
        h.calls().is_empty(),
        "a dry run runs nothing: {:?}",
        h.calls()
    );
    let r = doubled(
        &h,
        &[
            "sriov",
            "vf",
            "01:00.0",
            "1",
            "--mac",
            "52:54:00:12:34:56",
            "--vlan",
            "100",
            "--persistent",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        h.calls(),
        ["ip link set enp1s0f0 vf 1 mac 52:54:00:12:34:56 vlan 100"]
    );
    let text = h.read(rule);
    assert!(
        text.contains(
            r#"ACTION=="add", SUBSYSTEM=="net", KERNELS=="0000:01:00.0", RUN+="/sbin/ip link set $name vf 1 mac 52:54:00:12:34:56 vlan 100""#
        ),
        "{text}"
    );
    // at boot: restore sets it again
    let r = doubled(&h, &["sriov", "restore", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let item = j["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["what"] == "vf-settings")
        .unwrap_or_else(|| panic!("{j}"));
    assert_eq!(item["result"], "applied", "{j}");
    assert_eq!(item["vf"], "0000:01:10.2", "{j}");
    assert_eq!(h.calls().len(), 2, "{:?}", h.calls());
    // bad input: exit 2, nothing run
    for (args, says) in [
        (
            &["sriov", "vf", "01:00.0", "1"][..],
            "--mac MAC and/or --vlan ID",
        ),
        (
            &["sriov", "vf", "01:00.0", "1", "--mac", "01:00:5e:00:00:01"][..],
            "multicast",
        ),
        (
            &["sriov", "vf", "01:00.0", "1", "--vlan", "4096"][..],
            "4096",
        ),
        (
            &["sriov", "vf", "01:00.0", "5", "--vlan", "7"][..],
            "0 to 1 (0000:01:00.0 has 2 VFs)",
        ),
        (
            &["sriov", "vf", "01:00.1", "0", "--vlan", "7"][..],
            "0 to 0 (0000:01:00.1 has 0 VFs)",
        ),
    ] {
        let r = doubled(&h, args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    std::fs::remove_dir_all(h.path("sys/bus/pci/devices/0000:01:00.0/net")).unwrap();
    let r = doubled(&h, &["sriov", "vf", "01:00.0", "0", "--vlan", "7"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("gave it a net device in dom0"),
        "{}",
        r.stderr
    );
    assert_eq!(h.calls().len(), 2, "{:?}", h.calls());
}

/// A VF's hide killed half-way through its live part is finished by `resume` as the whole
/// request: the live hide and then the VF's udev rule (the journal records what was asked,
/// not the live-only plan the VF path makes first).
#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn a_vf_hide_killed_in_its_live_part_is_finished_with_its_udev_rule() {
    let h = Host::new(&nic(2, "igb"));
    h.pciback().driver_dir("igbvf");
    let rule = "etc/udev/rules.d/71-xenpci-hide-0000:01:00.0-virtfn1.rules";
    h.xenpci(&["hide", "01:10.2", "--live", "sysfs"])
        .env("XENPCI_CRASH_AFTER_STEP", "1")
        .assert()
        .code(137);
    assert!(!h.path(rule).exists());
    h.xenpci(&["status"]).assert().code(1);
    let r = h.xenpci(&["resume"]).assert().success();
    let err = String::from_utf8_lossy(&r.get_output().stderr).into_owned();
    assert!(err.contains("is finished from where it stopped"), "{err}");
    assert!(h.path(rule).exists(), "{err}");
    assert_eq!(
        h.read("sys/bus/pci/drivers/pciback/new_slot"),
        "0000:01:10.2"
    );
    h.xenpci(&["status"]).assert().success();
}
