//! KVM hosts (issue 16) over the fixture hosts `kvm-debian` and `kvm-fedora`
//! (`xenpci_fixtures`): the toolstack and host check, `hide` as vfio-pci (the whole
//! IOMMU group, bridges left, the host's disk controller and NIC refused), its persistence (one
//! udev rule per function — never the identical twin —, the initramfs, the kernel IOMMU option,
//! each through the tool doubles), rollback, `unhide --now`, `hidden`, `check BDF`, and the
//! hand-off commands (libvirt-xml with --attach, vfio-acl, one-filter).

mod util;

use util::{tests_dir, Host};

const RULES: &str = "/etc/udev/rules.d/61-xenpci-vfio.rules";
const GPU: &str = "0000:01:00.0";
const AUDIO: &str = "0000:01:00.1";
const HOST_NIC: &str = "0000:02:00.0";
const TWIN: &str = "0000:03:00.0";
const AHCI: &str = "0000:00:1f.2";

fn dev(bdf: &str, attr: &str) -> String {
    format!("/sys/bus/pci/devices/{bdf}/{attr}")
}

/// `xenpci ARGS` on `h` with the KVM tool doubles wired in.
fn kvm(h: &Host, args: &[&str]) -> util::Run {
    let mut c = h.std_xenpci(args);
    for (var, tool) in [
        ("XENPCI_UPDATE_INITRAMFS", "update-initramfs"),
        ("XENPCI_UPDATE_GRUB", "update-grub"),
        ("XENPCI_GRUB2_MKCONFIG", "grub2-mkconfig"),
        ("XENPCI_DRACUT", "dracut"),
        ("XENPCI_MODPROBE", "modprobe"),
        ("XENPCI_VIRSH", "virsh"),
    ] {
        c.env(var, tests_dir().join("doubles").join(tool));
    }
    run(c)
}

fn run(mut c: std::process::Command) -> util::Run {
    let out = c.output().expect("run xenpci");
    util::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn failing(h: &Host, tool: &str, args: &[&str]) -> util::Run {
    let mut c = h.std_xenpci(args);
    c.env(
        "XENPCI_UPDATE_INITRAMFS",
        tests_dir().join("doubles/update-initramfs"),
    )
    .env("XENPCI_DOUBLE_FAIL", tool);
    run(c)
}

/// The kernel without IOMMU groups (the firmware's or the kernel line's IOMMU off).
fn without_groups(h: &Host) {
    std::fs::remove_dir_all(h.path("/sys/kernel/iommu_groups")).unwrap();
    std::fs::create_dir_all(h.path("/sys/kernel/iommu_groups")).unwrap();
    std::fs::remove_dir_all(h.path("/sys/class/iommu")).unwrap();
    h.write(
        "/proc/cmdline",
        "BOOT_IMAGE=/boot/vmlinuz root=/dev/sda1 ro quiet\n",
    );
}

#[test]
fn the_host_check_on_kvm_reports_the_kernel_iommu_its_line_and_vfio() {
    let h = Host::shape("kvm-debian");
    let r = kvm(&h, &["check", "--json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json();
    assert_eq!(j["toolstack"], "kvm");
    assert_eq!(j["kvm"]["evidence"], "/dev/kvm");
    assert_eq!(j["kvm"]["iommu"]["driver"], "DMAR");
    assert_eq!(j["kvm"]["iommu"]["groups"], 7);
    assert_eq!(j["kvm"]["options"]["intel_iommu"], "on");
    assert_eq!(j["kvm"]["vfio"]["available"], true);
    assert_eq!(j["kvm"]["vfio"]["initramfs"], "initramfs-tools");
    let findings = j["findings"].to_string();
    assert!(findings.contains("does not add vfio"), "{findings}");
    assert!(findings.contains("iommu=pt"), "{findings}");
    assert!(
        !findings.contains("pciback"),
        "no Xen advice on KVM: {findings}"
    );
    let text = kvm(&h, &["check"]).stdout;
    assert!(
        text.contains("kernel     IOMMU active (DMAR, 7 IOMMU groups)"),
        "{text}"
    );
    assert!(text.contains("toolstack  kvm"), "{text}");

    without_groups(&h);
    let r = kvm(&h, &["check", "--json"]);
    assert_eq!(r.code, 1, "no IOMMU groups: cannot pass through");
    assert!(r.json()["findings"].to_string().contains("intel_iommu=on"));
}

#[test]
fn a_xen_host_is_not_kvm_and_its_host_check_has_no_kvm_part() {
    let h = Host::shape("x9drw");
    let j = kvm(&h, &["check", "--json"]).json();
    assert_eq!(j["toolstack"], "xapi");
    assert!(j.get("kvm").is_none(), "{j}");
    // A Xen dom0 with libvirt installed is still Xen.
    let h = Host::shape("sriov-nic");
    h.write("/etc/libvirt/libvirtd.conf", "");
    assert_eq!(kvm(&h, &["check", "--json"]).json()["toolstack"], "xl");
}

#[test]
fn hide_now_binds_the_whole_iommu_group_to_vfio_and_leaves_its_bridge() {
    let h = Host::shape("kvm-debian");
    let r = kvm(&h, &["hide", "01:00.0", "--now"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!("{AUDIO} added")),
        "the audio function goes along: {}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("0000:00:01.0 (a bridge in IOMMU group 1) stays on its driver"),
        "{}",
        r.stderr
    );
    for b in [GPU, AUDIO] {
        assert_eq!(h.read(&dev(b, "driver_override")), "vfio-pci", "{b}");
    }
    assert_eq!(h.read("/sys/bus/pci/drivers/nouveau/unbind"), GPU);
    assert_eq!(h.read("/sys/bus/pci/drivers/snd_hda_intel/unbind"), AUDIO);
    assert_eq!(
        h.read("/sys/bus/pci/drivers/vfio-pci/bind"),
        AUDIO,
        "the last bind"
    );
    assert_eq!(
        h.read(&format!("/var/lib/xenpci/hide/{GPU}.driver")),
        "nouveau\n"
    );
    assert_eq!(h.read(&dev("0000:00:01.0", "driver_override")), "(null)\n");
    assert_eq!(
        h.read("/sys/bus/pci/drivers/vfio-pci/new_id"),
        "",
        "never new_id"
    );
    assert!(!h.path(RULES).exists(), "--now only");
    assert!(h.calls().is_empty(), "vfio-pci is loaded: no modprobe");
}

#[test]
fn the_hosts_disk_controller_and_its_nic_are_refused_and_nothing_changes() {
    let h = Host::shape("kvm-debian");
    for (bdf, why) in [
        ("00:1f.2", "holds / (ext4 on /dev/sda1)"),
        ("02:00.0", "carries dom0's default route (eno1)"),
    ] {
        let r = kvm(&h, &["hide", bdf, "--json"]);
        assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
        let j = r.json();
        assert_eq!(j["refused"], true);
        assert_eq!(j["refusals"][0]["codes"][0]["code"], "dom0-needs");
        assert!(j["error"].as_str().unwrap().contains(why), "{j}");
    }
    for b in [AHCI, "0000:00:1f.3", HOST_NIC] {
        assert_eq!(h.read(&dev(b, "driver_override")), "(null)\n", "{b}");
    }
    assert_eq!(h.read("/sys/bus/pci/drivers/ahci/unbind"), "");
    assert!(!h.path(RULES).exists());
    assert!(h.calls().is_empty());
    // Forced, it is named as forced.
    let r = kvm(&h, &["hide", "00:1f.2", "--now", "--force", "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("forced: 0000:00:1f.2: dom0 needs it"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_persistent_rule_names_only_the_chosen_nic_not_its_identical_twin() {
    let h = Host::shape("kvm-debian");
    let r = kvm(&h, &["hide", "03:00.0"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let rules = h.read(RULES);
    assert!(
        rules.contains(&format!(
            "KERNEL==\"{TWIN}\", ATTR{{driver_override}}=\"vfio-pci\""
        )),
        "{rules}"
    );
    assert!(
        !rules.contains(HOST_NIC),
        "the host's identical NIC: {rules}"
    );
    assert!(!rules.contains("10d3"), "never by ids: {rules}");
    assert_eq!(rules.matches("KERNEL==").count(), 1);
    let modules = h.read("/etc/initramfs-tools/modules");
    assert!(modules.starts_with("# List of modules"), "kept: {modules}");
    assert!(
        modules.ends_with("vfio\nvfio_iommu_type1\nvfio_pci\n"),
        "{modules}"
    );
    assert_eq!(h.calls(), vec!["update-initramfs -u"]);
    // The kernel has groups: the IOMMU option is left alone.
    assert!(!h.read("/etc/default/grub").contains("intel_iommu"));
    assert_eq!(h.read(&dev(TWIN, "driver_override")), "vfio-pci");
    assert_eq!(h.read(&dev(HOST_NIC, "driver_override")), "(null)\n");
    // Again: nothing new to write, the rule is there once.
    let r = kvm(&h, &["hide", "03:00.0", "--persistent"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(h.read(RULES), rules);
    assert_eq!(h.calls().len(), 1, "initramfs already configured");
    // A line someone else put in the file stays byte for byte.
    h.write(RULES, &format!("{rules}# mine\n"));
    let r = kvm(&h, &["hide", "01:00.0", "--persistent"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after = h.read(RULES);
    assert!(after.contains("# mine\n") && after.contains(GPU) && after.contains(TWIN));
    // unhide drops exactly its rules, the last one takes the file away.
    let r = kvm(&h, &["unhide", "03:00.0", "--persistent"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after = h.read(RULES);
    assert!(!after.contains(TWIN) && after.contains(GPU), "{after}");
}

#[test]
fn without_iommu_groups_the_kernel_option_goes_into_grub_and_the_distributions_tool_runs() {
    let h = Host::shape("kvm-debian");
    without_groups(&h);
    let dry = kvm(&h, &["hide", "03:00.0", "--persistent", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout
            .contains("+GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on iommu=pt\""),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("/update-grub\n"), "{}", dry.stdout);
    assert!(
        !h.read("/etc/default/grub").contains("intel_iommu"),
        "dry run"
    );
    assert!(h.calls().is_empty());
    let r = kvm(&h, &["hide", "03:00.0", "--persistent"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let grub = h.read("/etc/default/grub");
    assert!(grub.contains("GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on iommu=pt\"\n"));
    assert!(
        grub.starts_with("# If you change this file"),
        "rest kept: {grub}"
    );
    assert_eq!(h.calls(), vec!["update-initramfs -u", "update-grub "]);

    let f = Host::shape("kvm-fedora");
    without_groups(&f);
    let r = kvm(&f, &["hide", "03:00.0", "--persistent"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        f.read("/etc/dracut.conf.d/xenpci-vfio.conf"),
        "# xenpci: vfio for PCI passthrough (xenpci hide)\nadd_drivers+=\" vfio vfio_iommu_type1 vfio_pci \"\n"
    );
    assert_eq!(
        f.calls(),
        vec!["dracut --force", "grub2-mkconfig -o /boot/grub2/grub.cfg"]
    );
}

#[test]
fn a_tool_that_fails_rolls_every_file_back() {
    let h = Host::shape("kvm-debian");
    let modules = h.read("/etc/initramfs-tools/modules");
    let r = failing(&h, "update-initramfs", &["hide", "03:00.0"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains("undone: restored /etc/initramfs-tools/modules"),
        "{}",
        r.stderr
    );
    assert!(!h.path(RULES).exists());
    assert_eq!(h.read("/etc/initramfs-tools/modules"), modules);
    assert_eq!(
        h.read(&dev(TWIN, "driver_override")),
        "(null)\n",
        "live part not reached"
    );
    assert!(!h.path("/run/xenpci/plan-journal.json").exists());
}

/// The twin as a hide left it: on vfio-pci, pinned, its driver recorded.
fn twin_on_vfio(h: &Host) {
    h.bind(TWIN, "vfio-pci")
        .write(&dev(TWIN, "driver_override"), "vfio-pci\n")
        .write(&format!("/var/lib/xenpci/hide/{TWIN}.driver"), "e1000e\n");
}

#[test]
fn unhide_now_clears_the_override_and_rebinds_the_recorded_driver() {
    let h = Host::shape("kvm-debian");
    twin_on_vfio(&h);
    let dry = kvm(&h, &["unhide", "03:00.0", "--now", "--dry-run"]);
    assert!(
        dry.stdout
            .contains("echo -n 0000:03:00.0 > /sys/bus/pci/drivers/vfio-pci/unbind\n"),
        "{}",
        dry.stdout
    );
    let r = kvm(&h, &["unhide", "03:00.0", "--now"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(h.read("/sys/bus/pci/drivers/vfio-pci/unbind"), TWIN);
    assert_eq!(
        h.read(&dev(TWIN, "driver_override")),
        "\n",
        "a newline clears it"
    );
    assert_eq!(h.read("/sys/bus/pci/drivers/e1000e/bind"), TWIN);
    assert!(!h
        .path(&format!("/var/lib/xenpci/hide/{TWIN}.driver"))
        .exists());
}

#[test]
fn hidden_reports_vfio_now_and_after_the_next_boot() {
    let h = Host::shape("kvm-debian");
    twin_on_vfio(&h);
    let j = kvm(&h, &["hidden", "--json"]).json();
    assert_eq!(j["configured_in"], RULES);
    let d = &j["devices"][0];
    assert_eq!(
        (d["bdf"].as_str(), d["hidden_now"].as_bool()),
        (Some(TWIN), Some(true))
    );
    assert_eq!(d["status"], "hidden now but lost at reboot");
    let list = kvm(&h, &["list", "-s", "03:00.0"]).stdout;
    assert!(list.contains("hidden from the host (vfio-pci)"), "{list}");
    assert!(!list.contains("not hidden for Xen"), "{list}");
    assert_eq!(kvm(&h, &["hide", "03:00.0", "--persistent"]).code, 0);
    h.bind(TWIN, "e1000e");
    let j = kvm(&h, &["hidden", "--json"]).json();
    assert_eq!(j["devices"][0]["status"], "reboot pending");
    assert_eq!(j["configured"], TWIN);
    let text = kvm(&h, &["hidden"]).stdout;
    assert!(text.contains(&format!("{TWIN}  now: e1000e")), "{text}");
}

#[test]
fn check_bdf_on_kvm_uses_the_kernel_group_and_placeholders_complete_it() {
    let h = Host::shape("kvm-debian");
    let r = kvm(&h, &["check", "--json", "01:00.0"]);
    assert_eq!(r.code, 1, "the audio function is still on the host");
    let j = r.json();
    let f = j["devices"][0]["findings"].to_string();
    assert!(f.contains("kernel IOMMU group 1 (/dev/vfio/1)"), "{f}");
    assert!(f.contains("the bridge 0000:00:01.0 stays"), "{f}");
    assert!(
        f.contains("pcie_acs_override"),
        "when an ACS override would matter: {f}"
    );
    assert!(f.contains("iommu=pt"), "{f}");
    assert!(!f.contains("libxl"), "{f}");
    assert_eq!(j["refusals"][0]["codes"][0]["code"], "group-not-whole");
    // The audio function on vfio-pci is a placeholder: the GPU alone can go.
    h.bind(AUDIO, "vfio-pci");
    let r = kvm(&h, &["check", "--json", "01:00.0"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // The ICH9 group: its LPC bridge on lpc_ich keeps vfio from the whole group.
    let r = kvm(&h, &["check", "00:1f.3"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("0000:00:1f.0 (lpc_ich)") && r.stdout.contains("not viable"),
        "{}",
        r.stdout
    );
    h.bind(GPU, "vfio-pci");
    let f = kvm(&h, &["check", "01:00.0"]).stdout;
    assert!(
        !f.contains("not viable"),
        "a root port does not hold the group: {f}"
    );
    assert!(
        f.contains("bound to vfio-pci: ready for a KVM guest (/dev/vfio/1)"),
        "{f}"
    );
}

#[test]
fn the_hand_off_prints_libvirt_xml_the_vfio_acl_and_the_opennebula_filter() {
    let h = Host::shape("kvm-debian");
    h.bind(GPU, "vfio-pci").bind(AUDIO, "vfio-pci");
    twin_on_vfio(&h);
    let r = kvm(&h, &["libvirt-xml", "01:00.0", "03:00.0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout
            .matches("<hostdev mode='subsystem' type='pci' managed='no'>")
            .count(),
        2
    );
    assert!(r
        .stdout
        .contains("<address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>"));
    let j = kvm(&h, &["libvirt-xml", "--json", "01:00.0"]).json();
    assert_eq!(j["placeholders"][0], AUDIO, "{j}");
    let acl = kvm(&h, &["vfio-acl", "01:00.0", "01:00.1", "03:00.0"]).stdout;
    assert!(
        acl.contains("\"/dev/vfio/vfio\",\n    \"/dev/vfio/1\",\n    \"/dev/vfio/3\",\n"),
        "{acl}"
    );
    let one = kvm(&h, &["one-filter", "01:00.0", "01:00.1"]);
    assert!(
        one.stdout
            .contains("\n:filter: '10de:1b80:0300,10de:10f0:0403'\n"),
        "{}",
        one.stdout
    );
    assert!(one
        .stdout
        .contains("\n:short_address: ['01:00.0', '01:00.1']\n"));
    assert!(one.stdout.contains("PCI = [ SHORT_ADDRESS = \"01:00.1\" ]"));
    let twin = kvm(&h, &["one-filter", "--json", "03:00.0"]).json();
    assert_eq!(twin["one_filter"], "8086:10d3:0200");
    assert!(
        twin["notes"]
            .to_string()
            .contains("same vendor:device:class"),
        "the filter would offer the host's NIC too: {twin}"
    );
    // The host's disk controller is refused here too.
    let r = kvm(&h, &["libvirt-xml", "--json", "00:1f.2"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.json()["refusals"][0]["codes"][0]["code"], "dom0-needs");
}

#[test]
fn attach_runs_virsh_attach_device_with_each_element() {
    let h = Host::shape("kvm-debian");
    twin_on_vfio(&h);
    let r = kvm(&h, &["libvirt-xml", "03:00.0", "--attach", "vm1"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        h.calls(),
        vec![
            format!("virsh attach-device vm1 /run/xenpci/hostdev-{TWIN}.xml --live"),
            "<address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>".to_string()
        ]
    );
    assert!(
        !h.path(&format!("/run/xenpci/hostdev-{TWIN}.xml")).exists(),
        "cleaned up"
    );
    // A device not on vfio-pci is not attached (managed='no': libvirt would not bind it).
    let r = kvm(
        &h,
        &["libvirt-xml", "01:00.0", "01:00.1", "--attach", "vm1"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("bound to vfio-pci"), "{}", r.stderr);
    assert_eq!(h.calls().len(), 2);
}

#[test]
fn xen_options_are_refused_on_kvm_and_vfio_on_xen() {
    let h = Host::shape("kvm-debian");
    let r = kvm(&h, &["hide", "03:00.0", "--method", "grub"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("on a KVM host"), "{}", r.stderr);
    let r = kvm(&h, &["hide", "03:00.0", "--now", "--live", "sysfs"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("the live method is vfio"), "{}", r.stderr);
    assert_eq!(
        kvm(&h, &["hide", "03:00.0", "--now", "--live", "vfio"]).code,
        0
    );
    let x = Host::shape("sriov-nic");
    let r = kvm(&x, &["hide", "01:10.0", "--now", "--live", "vfio"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("only a KVM host uses"), "{}", r.stderr);
}

#[test]
fn every_kvm_outcome_is_one_json_document_with_the_exit_status_of_its_kind() {
    let h = Host::shape("kvm-debian");
    twin_on_vfio(&h);
    let error_keys = ["error", "hint", "input", "kind", "refusals", "refused"];
    // (argv, exit status, Some(error kind) or None for a result document)
    let cases: Vec<(Vec<&str>, i32, Option<&str>)> = vec![
        (vec!["libvirt-xml", "--json", "03:00.0"], 0, None),
        (vec!["vfio-acl", "--json", "03:00.0"], 0, None),
        (vec!["one-filter", "--json", "03:00.0"], 0, None),
        (vec!["libvirt-xml", "--json", "00:1f.2"], 1, Some("refused")),
        (vec!["vfio-acl", "--json", "09:00.0"], 2, Some("bad-input")),
        (vec!["hide", "--json", "--dry-run", "01:00.0"], 0, None),
        (
            vec!["hide", "--json", "--method", "grub", "01:00.0"],
            2,
            Some("bad-input"),
        ),
        (vec!["hidden", "--json"], 0, None),
        (vec!["check", "--json"], 0, None),
    ];
    for (args, code, kind) in cases {
        let r = kvm(&h, &args);
        assert_eq!(r.code, code, "{args:?}: {}{}", r.stdout, r.stderr);
        let doc = r.json();
        match kind {
            Some(k) => {
                let mut keys: Vec<&str> = doc
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                keys.sort_unstable();
                assert_eq!(keys, error_keys, "{args:?}: {doc}");
                assert_eq!(doc["kind"], k, "{args:?}");
            }
            None if args[0] != "check" && args[0] != "hidden" => {
                assert_eq!(doc["refused"], false, "{args:?}: {doc}")
            }
            None => {}
        }
    }
    let j = kvm(&h, &["hide", "--json", "--dry-run", "01:00.0"]).json();
    assert_eq!(j["binding"]["driver"], "vfio-pci");
    assert_eq!(j["live"], "vfio");
    assert_eq!(j["plan"]["steps"][0]["action"]["path"], RULES);
}

/// libvirt's own schema (virt-xml-validate, Debian's libvirt-clients; tests/run.sh installs it)
/// accepts the elements inside a domain.
#[test]
fn libvirt_validates_the_hostdev_elements() {
    let h = Host::shape("kvm-debian");
    h.bind(GPU, "vfio-pci").bind(AUDIO, "vfio-pci");
    let r = kvm(&h, &["libvirt-xml", "01:00.0", "01:00.1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dom = h.dir.path().join("dom.xml");
    std::fs::write(
        &dom,
        format!(
            "<domain type='kvm'><name>g</name><memory>1048576</memory><os><type>hvm</type></os>\
             <devices>\n{}</devices></domain>\n",
            r.stdout
        ),
    )
    .unwrap();
    let out = std::process::Command::new("virt-xml-validate")
        .arg(&dom)
        .arg("domain")
        .output()
        .expect(
            "virt-xml-validate (Debian packages libvirt-clients, libxml2-utils) must be installed",
        );
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And it can fail: an element libvirt does not know is refused.
    std::fs::write(
        &dom,
        "<domain type='kvm'><name>g</name><hostdev/></domain>\n",
    )
    .unwrap();
    let bad = std::process::Command::new("virt-xml-validate")
        .arg(&dom)
        .arg("domain")
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn a_vfio_group_a_process_holds_open_is_in_use() {
    let h = Host::shape("kvm-debian");
    twin_on_vfio(&h);
    h.write("/proc/4242/comm", "qemu-system-x86\n");
    std::fs::create_dir_all(h.path("/proc/4242/fd")).unwrap();
    std::os::unix::fs::symlink("/dev/vfio/3", h.path("/proc/4242/fd/17")).unwrap();
    std::os::unix::fs::symlink("/dev/null", h.path("/proc/4242/fd/0")).unwrap();
    let r = kvm(&h, &["unhide", "03:00.0", "--now", "--json"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let j = r.json();
    assert_eq!(j["kind"], "refused");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("its vfio group /dev/vfio/3 is open by qemu-system-x86 (pid 4242)"),
        "{j}"
    );
    assert_eq!(
        h.read("/sys/bus/pci/drivers/vfio-pci/unbind"),
        "",
        "nothing done"
    );
    let r = kvm(&h, &["libvirt-xml", "03:00.0"]);
    assert_eq!(r.code, 1, "another guest has it: {}", r.stderr);
    // Another group's user does not hold this one.
    std::fs::remove_file(h.path("/proc/4242/fd/17")).unwrap();
    std::os::unix::fs::symlink("/dev/vfio/1", h.path("/proc/4242/fd/17")).unwrap();
    assert_eq!(kvm(&h, &["unhide", "03:00.0", "--now"]).code, 0);
}

/// The policy at every KVM entry point, one case per row, the same reason code everywhere:
///
/// | case | device | hide | give (check, libvirt-xml, vfio-acl, one-filter) | unhide --now |
/// |---|---|---|---|---|
/// | the host's disk controller | 00:1f.2 | refused | refused | allowed |
/// | a bridge | 00:01.0 | refused | refused | allowed |
/// | the host's NIC | 02:00.0 | refused | refused | allowed |
/// | its group open by QEMU | 03:00.0 | allowed | refused | refused |
#[test]
fn the_policy_answers_alike_at_every_kvm_entry_point() {
    let cases = [
        ("0000:00:1f.2", "dom0-needs", true),
        ("0000:00:01.0", "bridge", true),
        ("0000:02:00.0", "dom0-needs", true),
        (TWIN, "in-use", false),
    ];
    for (bdf, code, host_device) in cases {
        let h = Host::shape("kvm-debian");
        twin_on_vfio(&h);
        h.write("/proc/77/comm", "qemu-system-x86\n");
        std::fs::create_dir_all(h.path("/proc/77/fd")).unwrap();
        std::os::unix::fs::symlink("/dev/vfio/3", h.path("/proc/77/fd/30")).unwrap();
        let before = |h: &Host| {
            (
                h.read(&dev(bdf, "driver_override")),
                h.path(RULES).exists(),
                h.calls(),
            )
        };
        let was = before(&h);
        let give: [&[&str]; 4] = [
            &["check", "--json"],
            &["libvirt-xml", "--json"],
            &["vfio-acl", "--json"],
            &["one-filter", "--json"],
        ];
        for args in give {
            let mut a = args.to_vec();
            a.push(bdf);
            let r = kvm(&h, &a);
            assert_eq!(r.code, 1, "{bdf} {a:?}: {}{}", r.stdout, r.stderr);
            let codes = r.json()["refusals"].to_string();
            assert!(
                codes.contains(&format!("\"code\":\"{code}\"")),
                "{bdf} {a:?}: {codes}"
            );
        }
        let hide = kvm(&h, &["hide", "--json", "--dry-run", bdf]);
        assert_eq!(
            hide.code,
            if host_device { 1 } else { 0 },
            "{bdf} hide: {}",
            hide.stdout
        );
        if host_device {
            assert!(hide.json()["refusals"].to_string().contains(code));
        }
        let unhide = kvm(&h, &["unhide", "--json", "--now", "--dry-run", bdf]);
        assert_eq!(
            unhide.code,
            if host_device { 0 } else { 1 },
            "{bdf} unhide: {}",
            unhide.stdout
        );
        assert_eq!(before(&h), was, "{bdf}: nothing changed");
    }
}

/// When the bind to vfio-pci fails (vfio-pci refuses a device without an IOMMU group), the
/// rollback clears the override before it binds the original driver again: with the override
/// still naming vfio-pci, the kernel refuses that bind and the device is left on no driver.
#[test]
fn a_failed_vfio_bind_clears_the_override_before_rebinding_the_original_driver() {
    let h = Host::shape("kvm-debian");
    std::fs::remove_file(h.path("/sys/bus/pci/drivers/vfio-pci/bind")).unwrap();
    std::fs::create_dir(h.path("/sys/bus/pci/drivers/vfio-pci/bind")).unwrap();
    let r = kvm(&h, &["hide", "03:00.0", "--now"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let clear = r
        .stderr
        .find(&format!("> /sys/bus/pci/devices/{TWIN}/driver_override"))
        .unwrap_or_else(|| panic!("override not undone: {}", r.stderr));
    let rebind = r
        .stderr
        .find(&format!(
            "echo -n {TWIN} > /sys/bus/pci/drivers/e1000e/bind"
        ))
        .unwrap_or_else(|| panic!("e1000e not rebound: {}", r.stderr));
    assert!(clear < rebind, "the override must go first: {}", r.stderr);
    assert_eq!(h.read(&dev(TWIN, "driver_override")), "\n");
    assert_eq!(h.read("/sys/bus/pci/drivers/e1000e/bind"), TWIN);
}
