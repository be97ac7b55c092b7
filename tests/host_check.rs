//! `xenpci check` on fixture hosts: each preflight rule, its severity and the exit status.

mod util;

use util::Host;
use xenpci_fixtures::{self as fixture, Func};

fn finding<'a>(report: &'a serde_json::Value, check: &str) -> Vec<&'a serde_json::Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

#[test]
fn the_hba_passes_and_the_boot_controller_does_not() {
    let h = Host::shape("x9drw");
    let ok = h.run(&["check", "05:00.0"]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(
        ok.stdout.contains("=> 0000:05:00.0 can be passed through"),
        "{}",
        ok.stdout
    );
    assert!(ok.stdout.contains("XEN-PV-IOMMU"), "{}", ok.stdout);

    let bad = h.run(&["check", "05:00.0", "00:1f.2"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stdout.contains(
            "error    critical          dom0 needs 0000:00:1f.2: it holds / (ext3 on /dev/sda1)"
        ),
        "{}",
        bad.stdout
    );
    assert!(bad
        .stdout
        .contains("=> 0000:00:1f.2 must NOT be passed through"));

    let j = h.run(&["check", "--json", "05:00.0", "00:1f.2"]).json();
    assert_eq!(j["passable"], false);
    assert_eq!(j["iommu"]["enabled"], true);
    assert_eq!(j["devices"][0]["passable"], true);
    assert_eq!(j["devices"][1]["passable"], false);
    let crit = finding(&j["devices"][1], "critical");
    assert_eq!(crit[0]["severity"], "error");
    assert!(crit[0]["fix"]
        .as_str()
        .unwrap()
        .contains("do not pass 0000:00:1f.2"));
}

#[test]
fn the_management_nic_and_its_sibling_are_refused() {
    let h = Host::shape("x9drw");
    let j = h.run(&["check", "--json", "02:00.1"]).json();
    let g = finding(&j["devices"][0], "group");
    assert_eq!(g[0]["severity"], "error");
    assert!(g[0]["message"]
        .as_str()
        .unwrap()
        .contains("0000:02:00.0, which dom0 needs"));
    assert_eq!(h.run(&["check", "02:00.0"]).code, 1);
}

#[test]
fn bridges_are_never_passed() {
    let run = Host::shape("x9drw").run(&["check", "--json", "00:01.0"]);
    assert_eq!(run.code, 1);
    let b = run.json();
    let f = finding(&b["devices"][0], "bridge");
    assert_eq!(f[0]["severity"], "error");
    assert!(f[0]["fix"].as_str().unwrap().contains("0000:05:00.0"));
}

#[test]
fn conventional_pci_behind_a_bridge_goes_as_one_unit() {
    let h = Host::shape("legacy-bridge");
    let one = h.run(&["check", "--json", "04:00.0"]);
    assert_eq!(one.code, 1);
    let j = one.json();
    let f = finding(&j["devices"][0], "conventional-pci");
    assert_eq!(f[0]["severity"], "error");
    assert!(f[0]["message"]
        .as_str()
        .unwrap()
        .contains("bridge 0000:03:00.0"));
    assert_eq!(
        f[0]["fix"],
        "pass them together to one VM: xenpci check 0000:04:00.0 0000:04:01.0"
    );
    let both = h.run(&["check", "04:00.0", "04:01.0"]);
    assert_eq!(both.code, 0, "{}", both.stdout);
    // No IOMMU evidence in this root: a warning, not a pass.
    assert!(both.stdout.contains("warning  iommu"), "{}", both.stdout);
}

/// An SR-IOV PF (01:00.0) on pciback with one VF (01:10.0) and no driver on the VF.
fn hidden_pf_with_one_vf() -> fixture::Fixture {
    fixture::Fixture::new()
        .with(Func::root_port("00:01.0", 0x8086, 0x3c02, 1).acs())
        .with(
            Func::endpoint("01:00.0", 0x8086, 0x10c9, 0x020000)
                .under("00:01.0")
                .flr()
                .sriov(8, 1, 0x10ca)
                .driver("pciback"),
        )
        .vfs("01:00.0", &["01:10.0"], None)
}

#[test]
fn sriov_vfs_need_their_pf_driver() {
    let h = Host::shape("sriov-nic");
    assert_eq!(h.run(&["check", "01:11.2"]).code, 0);
    let j = h.run(&["check", "--json", "01:11.2", "01:00.0"]).json();
    assert_eq!(finding(&j["devices"][0], "sriov")[0]["severity"], "error");
    assert_eq!(finding(&j["devices"][1], "sriov")[0]["severity"], "warning");

    let fx = hidden_pf_with_one_vf();
    let run = Host::new(&fx).run(&["check", "--json", "01:10.0"]);
    assert_eq!(run.code, 1);
    let j = run.json();
    let f = finding(&j["devices"][0], "sriov");
    assert!(f[0]["message"]
        .as_str()
        .unwrap()
        .contains("pciback (a passthrough stub)"));
}

#[test]
fn usb_controllers_get_the_shared_rmrr_hint() {
    let run = Host::shape("gpu-pair").run(&["check", "--json", "00:14.0"]);
    assert_eq!(run.code, 0);
    let j = run.json();
    let f = finding(&j["devices"][0], "rmrr");
    assert_eq!(f[0]["severity"], "warning");
    assert!(f[0]["fix"].as_str().unwrap().contains("rdm_policy=relaxed"));
    assert_eq!(j["iommu"]["source"], "/sys/class/iommu");
}

#[test]
fn the_gpu_alone_is_a_group_warning_and_no_reset_is_a_warning() {
    let h = Host::shape("gpu-pair");
    let j = h.run(&["check", "--json", "01:00.0"]).json();
    let g = finding(&j["devices"][0], "group");
    assert_eq!(g[0]["severity"], "warning");
    assert!(g[0]["fix"]
        .as_str()
        .unwrap()
        .ends_with("0000:01:00.0 0000:01:00.1"));
    let fx = fixture::Fixture::new().with(Func::conventional("00:05.0", 0x1102, 0x0002, 0x040100));
    let j = Host::new(&fx).run(&["check", "--json", "00:05.0"]).json();
    assert_eq!(finding(&j["devices"][0], "reset")[0]["severity"], "warning");
}

#[test]
fn a_disabled_iommu_blocks_everything() {
    let h = Host::shape("legacy-bridge");
    h.put(
        "var/log/xen/hypervisor.log",
        b"(XEN) I/O virtualisation disabled\n",
    );
    let run = h.run(&["check", "--json", "04:00.0", "04:01.0"]);
    assert_eq!(run.code, 1);
    let j = run.json();
    assert_eq!(j["iommu"]["enabled"], false);
    assert_eq!(finding(&j["devices"][0], "iommu")[0]["severity"], "error");
}

#[test]
fn absent_and_malformed_addresses() {
    let h = Host::shape("x9drw");
    let run = h.run(&["check", "0a:00.0"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("there is no PCI function 0000:0a:00.0"),
        "{}",
        run.stdout
    );
    let run = h.run(&["check", "05:00"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("\"05:00\""), "{}", run.stderr);
}

/// A device on a KVM stub (vfio-pci, pci-stub) is not ready for Xen: a driver warning that says
/// so, with `xenpci hide --now` as the fix; on pciback the same device is ready.
#[test]
fn a_device_on_a_kvm_stub_must_move_to_pciback() {
    for stub in ["vfio-pci", "pci-stub"] {
        let h = Host::new(&fixture::x9drw().rebind("05:00.0", Some(stub)));
        let run = h.run(&["check", "--json", "05:00.0"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let j = run.json();
        let d = finding(&j["devices"][0], "driver");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0]["severity"], "warning");
        let msg = d[0]["message"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!("held by the KVM stub {stub}, not pciback")),
            "{msg}"
        );
        assert_eq!(
            d[0]["fix"],
            "move it to pciback: `xenpci hide --now 0000:05:00.0`"
        );
        let text = h.run(&["check", "05:00.0"]).stdout;
        assert!(
            text.contains(&format!("held by the KVM stub {stub}")) && text.contains("hide --now"),
            "{text}"
        );
    }
    let h = Host::new(&fixture::x9drw().rebind("05:00.0", Some("pciback")));
    let j = h.run(&["check", "--json", "05:00.0"]).json();
    let d = finding(&j["devices"][0], "driver");
    assert_eq!(d[0]["severity"], "ok");
    assert_eq!(d[0]["message"], "bound to pciback: ready to assign");
}

fn fix_of<'a>(report: &'a serde_json::Value, check: &str) -> &'a serde_json::Value {
    &finding(report, check)[0]["fix"]
}

#[test]
fn on_a_xapi_host_the_driver_fix_is_xenpci_hide() {
    let h = Host::shape("x9drw");
    let j = h.run(&["check", "--json", "05:00.0", "00:1f.2"]).json();
    let fix = fix_of(&j["devices"][0], "driver").as_str().unwrap();
    assert!(fix.starts_with("`xenpci hide 0000:05:00.0`"), "{fix}");
    assert!(fix.contains("next reboot"), "{fix}");
    assert!(!fix.contains("xl "), "{fix}");
    // dom0's boot controller stays with dom0: no finding says to hide it.
    let driver = finding(&j["devices"][1], "driver");
    assert!(driver[0]["fix"].is_null(), "{j}");
    assert_eq!(
        driver[0]["message"],
        "bound to ahci in dom0, where it has to stay (see the errors above)"
    );
}

#[test]
fn on_plain_xen_the_driver_fix_is_xl_or_xenpci_hide_now() {
    // 01:00.1 is an ordinary function (a PF without VFs): hidden now or on the boot line.
    let h = Host::shape("sriov-nic");
    let j = h.run(&["check", "--json", "01:00.1"]).json();
    let fix = fix_of(&j["devices"][0], "driver").as_str().unwrap();
    assert!(
        fix.contains("`xl pci-assignable-add 0000:01:00.1`"),
        "{fix}"
    );
    assert!(fix.contains("`xenpci hide --now 0000:01:00.1`"), "{fix}");
    assert!(fix.contains("xen-pciback.hide=(0000:01:00.1)"), "{fix}");
    // The same host with XAPI's inventory is a XAPI host.
    h.put("etc/xensource-inventory", b"PRODUCT_BRAND='XCP-ng'\n");
    let j = h.run(&["check", "--json", "01:00.1"]).json();
    let fix = fix_of(&j["devices"][0], "driver").as_str().unwrap();
    assert!(fix.starts_with("`xenpci hide 0000:01:00.1`"), "{fix}");
}

/// A VF does not exist when the boot line is read: its fix is a hide now and a udev rule for
/// every boot (never `xen-pciback.hide=` or XAPI's boot-time hide list), and `check` says what is
/// different for a VF. (Before: `add xen-pciback.hide=(0000:01:10.0) ... for every boot`.)
#[test]
fn a_vfs_fix_hides_it_now_never_on_the_boot_line() {
    let h = Host::shape("sriov-nic");
    let j = h.run(&["check", "--json", "01:10.0"]).json();
    let fix = fix_of(&j["devices"][0], "driver").as_str().unwrap();
    assert!(fix.contains("`xenpci hide --now 0000:01:10.0`"), "{fix}");
    assert!(!fix.contains("xen-pciback.hide=("), "{fix}");
    assert!(
        fix.contains("`xenpci hide --persistent 0000:01:10.0` (a udev rule"),
        "{fix}"
    );
    assert!(
        fix.contains("does not exist at boot until 0000:01:00.0's driver"),
        "{fix}"
    );
    let info: Vec<String> = finding(&j["devices"][0], "sriov")
        .iter()
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        info.iter().any(|m| m.contains("MSI/MSI-X only")
            && m.contains("0000:01:00.0 and its driver stay in dom0")
            && m.contains("disappears when 0000:01:00.0's driver unloads")),
        "{info:?}"
    );
    h.put("etc/xensource-inventory", b"PRODUCT_BRAND='XCP-ng'\n");
    let j = h.run(&["check", "--json", "01:10.0"]).json();
    let fix = fix_of(&j["devices"][0], "driver").as_str().unwrap();
    assert!(
        fix.starts_with("now: `xenpci hide --now 0000:01:10.0`"),
        "{fix}"
    );
    assert!(!fix.contains("xl "), "{fix}");
}

#[test]
fn a_hidden_pf_is_given_back_with_the_hosts_own_tool() {
    let fx = hidden_pf_with_one_vf();
    let h = Host::new(&fx);
    let j = h.run(&["check", "--json", "01:10.0"]).json();
    let fix = fix_of(&j["devices"][0], "sriov").as_str().unwrap();
    assert!(
        fix.contains("`xl pci-assignable-remove -r 0000:01:00.0`"),
        "{fix}"
    );
    assert!(fix.contains("`xenpci unhide 0000:01:00.0`"), "{fix}");
    h.put("etc/xensource-inventory", b"PRODUCT_BRAND='XCP-ng'\n");
    let j = h.run(&["check", "--json", "01:10.0"]).json();
    let fix = fix_of(&j["devices"][0], "sriov").as_str().unwrap();
    assert!(fix.contains("`xenpci unhide 0000:01:00.0`"), "{fix}");
    assert!(!fix.contains("xl "), "{fix}");
}

/// `check` with no device is the host check: IOMMU, pciback, toolstack; exit 1 while something
/// stops passthrough now, 0 once it does not.
#[test]
fn check_without_a_device_checks_the_host() {
    let h = util::demo_host("x9drw");
    let r = h.run(&["check", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let j = r.json();
    assert_eq!(j["iommu"]["enabled"], true, "{j}");
    assert_eq!(j["pciback"], false);
    assert_eq!(j["toolstack"], "xapi");
    assert!(
        j["findings"][0]
            .as_str()
            .unwrap()
            .contains("modprobe xen-pciback"),
        "{j}"
    );
    h.pciback();
    let r = h.run(&["check"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("pciback    loaded"), "{}", r.stdout);
    assert!(r
        .stdout
        .contains("=> this host can pass PCI devices through"));
}
