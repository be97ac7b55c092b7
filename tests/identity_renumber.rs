//! Device identity across renumbering: a host is set up (an HBA hidden, persistently and now),
//! then "rebooted" into a changed tree — a card added in front of the HBA, the HBA and dom0's
//! NVMe swapped, the HBA removed, two identical HBAs, an upgrade that dropped the hide list — and
//! `xenpci verify` must say exactly what moved, give a wrongly hidden device back to dom0 at once,
//! and `--repair` must move the hide list to the device's new BDF (shown first by `--dry-run`).

mod util;

use serde_json::Value;
use util::{generated, Host};
use xenpci_fixtures::{Fixture, Func};

const LSI: (u16, u16) = (0x1000, 0x0087);
const HBA_SERIAL: u64 = 0x0050_56ff_fe12_3456;

fn hba(at: &str, port: &str) -> Func {
    Func::endpoint(at, LSI.0, LSI.1, 0x010700)
        .rev(5)
        .subsystem(0x1000, 0x3020)
        .under(port)
        .driver("mpt3sas")
}

fn nvme(at: &str, port: &str) -> Func {
    Func::endpoint(at, 0x8086, 0x0953, 0x010802)
        .subsystem(0x8086, 0x3702)
        .under(port)
        .driver("nvme")
}

fn gpu(at: &str, port: &str) -> Func {
    Func::endpoint(at, 0x10de, 0x1eb8, 0x030200)
        .subsystem(0x10de, 0x12a2)
        .under(port)
        .driver("nouveau")
}

/// Three root ports (00:01.0, 00:02.0, 00:03.0) whose secondary buses are 5, 6, 7 in order, and
/// what sits behind each; dom0's root file system is on the NVMe, wherever it is.
fn host_with(cards: &[Option<Func>; 3]) -> Fixture {
    let mut fx = Fixture::new()
        .with(Func::conventional("00:00.0", 0x8086, 0x3c00, 0x060000))
        .with(Func::conventional("00:1f.0", 0x8086, 0x1d41, 0x060100).driver("lpc_ich"));
    let mut bus = 5u8;
    for (i, c) in cards.iter().enumerate() {
        let port = format!("00:0{}.0", i + 1);
        let sec = if c.is_some() { bus } else { 0x20 + i as u8 };
        fx = fx.with(Func::root_port(&port, 0x8086, 0x3c02 + i as u16, sec).acs());
        if let Some(f) = c {
            let mut f = f.clone();
            f.bdf = format!("0000:{bus:02x}:00.0").parse().unwrap();
            f.parent = Some(format!("0000:{port}").parse().unwrap());
            let is_nvme = f.device == 0x0953;
            let at = f.bdf.to_string();
            fx = fx.with(f);
            if is_nvme {
                fx = fx
                    .disk("nvme0n1", &at, &["nvme0n1p1"])
                    .mount("/dev/nvme0n1p1", "/", "ext4");
            }
            bus += 1;
        }
    }
    fx
}

fn before_cards() -> [Option<Func>; 3] {
    [
        Some(hba("05:00.0", "00:01.0").serial(HBA_SERIAL)),
        Some(nvme("06:00.0", "00:02.0")),
        None,
    ]
}

/// The host as set up: `before` written, the HBA at 05:00.0 hidden (boot list and pciback).
fn set_up(cards: [Option<Func>; 3], hide: &str) -> Host {
    let h = generated(host_with(&cards), "debian");
    h.pciback();
    let r = h.xenpci(&["hide", hide, "--live", "xl"]).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(h
        .read("/etc/default/grub")
        .contains(&format!("xen-pciback.hide=(0000:{hide})")));
    h
}

/// Whether xenpci gave `bdf` back to dom0 through sysfs (unbound from pciback, the kernel asked
/// to probe its driver); then does what the kernel would: binds `driver`.
fn given_back(h: &Host, bdf: &str, driver: &str) -> bool {
    let done = h.read("/sys/bus/pci/drivers/pciback/unbind") == bdf
        && h.read("/sys/bus/pci/drivers_probe") == bdf;
    if done {
        h.bind(bdf, driver);
        h.write("/sys/bus/pci/drivers/pciback/unbind", "");
        h.write("/sys/bus/pci/drivers_probe", "");
    }
    done
}

/// A reboot into `cards`: the new tree replaces /sys, the running kernel's line carries the hide
/// list the boot configuration had, and pciback holds whatever sits at the listed BDFs.
fn reboot(h: &Host, cards: [Option<Func>; 3], hidden_bdfs: &[&str]) {
    std::fs::remove_dir_all(h.path("/sys")).unwrap();
    let mut fx = host_with(&cards);
    for b in hidden_bdfs {
        fx = fx.rebind(b, Some("pciback"));
    }
    fx.write(h.root()).unwrap();
    h.pciback().write("/sys/bus/pci/drivers_probe", "");
    for d in ["mpt3sas", "nvme", "nouveau", "lpc_ich"] {
        h.driver_dir(d);
    }
    let list: Vec<String> = hidden_bdfs.iter().map(|b| format!("(0000:{b})")).collect();
    h.write(
        "/proc/cmdline",
        &format!(
            "placeholder root=/dev/nvme0n1p1 xen-pciback.hide={}\n",
            list.concat()
        ),
    );
}

fn verify(h: &Host, args: &[&str]) -> (i32, Value) {
    let mut a = vec!["verify", "--json"];
    a.extend_from_slice(args);
    let r = h.std_xenpci(&a).output().unwrap();
    let text = String::from_utf8_lossy(&r.stdout).to_string();
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&r.stderr)));
    (r.status.code().unwrap_or(-1), v)
}

fn device<'a>(v: &'a Value, bdf: &str) -> &'a Value {
    v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["bdf"] == bdf)
        .unwrap_or_else(|| panic!("no {bdf} in {v:#}"))
}

#[test]
fn the_hide_records_the_identity() {
    let h = set_up(before_cards(), "05:00.0");
    let state: Value = serde_json::from_str(&h.read("/var/lib/xenpci/devices.json")).unwrap();
    assert_eq!(state["schema"], 1);
    let d = &state["devices"][0];
    assert_eq!(d["bdf"], "0000:05:00.0");
    assert_eq!(d["identity"]["vendor_id"], "1000");
    assert_eq!(d["identity"]["path"], "pci0000:00/01.0/00.0");
    assert_eq!(d["identity"]["serial"], "00-50-56-ff-fe-12-34-56");
    assert_eq!(
        d["uses"],
        serde_json::json!([{"kind": "boot-hide", "method": "grub"}, {"kind": "live-hide"}])
    );
    let (code, v) = verify(&h, &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(device(&v, "0000:05:00.0")["location"]["state"], "same");
    assert_eq!(device(&v, "0000:05:00.0")["location"]["by"], "serial");
    // The run left its report for whoever looks after a boot.
    let last: Value = serde_json::from_str(&h.read("/var/lib/xenpci/last-verify.json")).unwrap();
    assert_eq!(
        (last["ok"].clone(), last["devices"][0]["bdf"].clone()),
        (Value::Bool(true), Value::from("0000:05:00.0"))
    );
    // Unhiding forgets it.
    assert!(h
        .xenpci(&["unhide", "05:00.0", "--live", "xl"])
        .output()
        .unwrap()
        .status
        .success());
    assert!(h
        .read("/var/lib/xenpci/devices.json")
        .contains(r#""devices": []"#));
}

#[test]
fn a_card_added_in_front_moves_the_hba_and_pciback_took_the_new_card() {
    let h = set_up(before_cards(), "05:00.0");
    // The HBA is moved to the second slot and a GPU put in the first, whose bus (5) enumerates
    // first: pciback takes the GPU at the listed 05:00.0; the HBA is found at 06:00.0 by its
    // serial number.
    reboot(
        &h,
        [
            Some(gpu("05:00.0", "00:01.0")),
            Some(hba("06:00.0", "00:02.0").serial(HBA_SERIAL)),
            Some(nvme("07:00.0", "00:03.0")),
        ],
        &["05:00.0"],
    );
    let grub_before = h.read("/etc/default/grub");
    // Until the records are repaired, xenpci's own commands refuse the old BDF: it is the GPU.
    h.write("/etc/xen/osd.cfg", "name = \"osd\"\n");
    let cfg = h.path("/etc/xen/osd.cfg");
    for args in [
        vec!["hide", "05:00.0", "--json"],
        vec![
            "xlcfg",
            "add-pci",
            "--json",
            cfg.to_str().unwrap(),
            "05:00.0",
        ],
    ] {
        let r = h.std_xenpci(&args).output().unwrap();
        assert_eq!(r.status.code(), Some(1), "{args:?}");
        let v: Value = serde_json::from_slice(&r.stdout).unwrap();
        assert_eq!(
            v["refusals"][0]["codes"][0]["code"], "not-the-recorded-device",
            "{v:#}"
        );
        let why = "0000:05:00.0 is now 10de:1eb8, not the recorded 1000:0087 (which moved to 0000:06:00.0)";
        assert!(v["error"].as_str().unwrap().contains(why), "{v:#}");
    }
    assert_eq!(h.read("/etc/xen/osd.cfg"), "name = \"osd\"\n");
    let (code, v) = verify(&h, &["--dry-run"]);
    assert_eq!(code, 1, "{v:#}");
    let d = device(&v, "0000:05:00.0");
    assert_eq!(
        d["location"],
        serde_json::json!({"state": "moved", "to": "0000:06:00.0", "by": "serial"})
    );
    assert_eq!(d["occupant"]["ids"], "10de:1eb8");
    assert!(
        d["actions"][0]
            .as_str()
            .unwrap()
            .starts_with("gave 0000:05:00.0 (10de:1eb8"),
        "{d:#}"
    );
    // A dry run changed nothing.
    assert_eq!(h.driver("0000:05:00.0").as_deref(), Some("pciback"));
    assert_eq!(h.read("/etc/default/grub"), grub_before);
    // verify without --repair gives the GPU back at once and says what --repair would do.
    let (code, v) = verify(&h, &[]);
    assert_eq!(code, 1);
    assert!(given_back(&h, "0000:05:00.0", "nouveau"));
    assert!(device(&v, "0000:05:00.0")["pending"][0]
        .as_str()
        .unwrap()
        .contains("--repair"));
    assert_eq!(h.read("/etc/default/grub"), grub_before);
    // --repair moves the hide to 06:00.0: boot list and pciback.
    let r = h.std_xenpci(&["verify", "--repair"]).output().unwrap();
    let text = String::from_utf8_lossy(&r.stdout);
    assert_eq!(r.status.code(), Some(0), "{text}");
    assert!(
        text.contains("0000:05:00.0  1000:0087")
            && text.contains("MOVED to 0000:06:00.0 (by serial)"),
        "{text}"
    );
    assert!(
        text.contains("moved the hide from 0000:05:00.0 to 0000:06:00.0"),
        "{text}"
    );
    let grub = h.read("/etc/default/grub");
    assert!(
        grub.contains("xen-pciback.hide=(0000:06:00.0)") && !grub.contains("05:00.0"),
        "{grub}"
    );
    assert_eq!(h.driver("0000:06:00.0").as_deref(), Some("pciback"));
    // The record follows the device; verify is clean afterwards.
    let (code, v) = verify(&h, &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(device(&v, "0000:06:00.0")["location"]["state"], "same");
}

#[test]
fn swapped_with_dom0s_nvme_the_nvme_goes_back_to_dom0_at_once() {
    let h = set_up(before_cards(), "05:00.0");
    reboot(
        &h,
        [
            Some(nvme("05:00.0", "00:01.0")),
            Some(hba("06:00.0", "00:02.0").serial(HBA_SERIAL)),
            None,
        ],
        &["05:00.0"],
    );
    let (code, v) = verify(&h, &[]);
    assert_eq!(code, 1);
    let d = device(&v, "0000:05:00.0");
    assert_eq!(d["location"]["to"], "0000:06:00.0");
    assert!(
        !d["occupant"]["critical"].as_array().unwrap().is_empty(),
        "{d:#}"
    );
    assert!(d["problems"].to_string().contains("dom0 needs it"), "{d:#}");
    assert!(given_back(&h, "0000:05:00.0", "nvme"));
}

#[test]
fn a_removed_hba_is_missing_and_nothing_is_guessed() {
    let h = set_up(before_cards(), "05:00.0");
    reboot(
        &h,
        [None, Some(nvme("05:00.0", "00:02.0")), None],
        &["05:00.0"],
    );
    let grub_before = h.read("/etc/default/grub");
    let (code, v) = verify(&h, &["--repair"]);
    assert_eq!(code, 1, "{v:#}");
    let d = device(&v, "0000:05:00.0");
    assert_eq!(d["location"]["state"], "missing");
    // dom0's NVMe, hidden because the list names 05:00.0, is given back; the list is left alone.
    assert!(given_back(&h, "0000:05:00.0", "nvme"));
    assert_eq!(h.read("/etc/default/grub"), grub_before);
}

#[test]
fn identical_hbas_are_told_apart_by_slot_and_never_guessed_between() {
    let twin = |at: &str, port: &str| hba(at, port); // no serial number
    let h = set_up(
        [
            Some(twin("05:00.0", "00:01.0")),
            Some(twin("06:00.0", "00:02.0")),
            Some(nvme("07:00.0", "00:03.0")),
        ],
        "05:00.0",
    );
    // The first slot's HBA is moved to the third slot, the NVMe to the first: two HBAs, neither
    // in the recorded slot, no serial — ambiguous.
    reboot(
        &h,
        [
            Some(nvme("05:00.0", "00:01.0")),
            Some(twin("06:00.0", "00:02.0")),
            Some(twin("07:00.0", "00:03.0")),
        ],
        &["05:00.0"],
    );
    let (code, v) = verify(&h, &["--repair"]);
    assert_eq!(code, 1);
    let d = device(&v, "0000:05:00.0");
    assert_eq!(
        d["location"],
        serde_json::json!({"state": "ambiguous", "candidates": ["0000:06:00.0", "0000:07:00.0"]})
    );
    assert!(given_back(&h, "0000:05:00.0", "nvme"));
    assert!(!h.read("/etc/default/grub").contains("06:00.0"));
}

#[test]
fn an_upgrade_that_dropped_the_hide_list_is_repaired() {
    let h = set_up(before_cards(), "05:00.0");
    // The installer writes fresh boot files: neither has the hide list.
    for f in ["/etc/default/grub", "/boot/grub/grub.cfg"] {
        let text = h.read(f);
        assert!(
            text.contains("xen-pciback.hide=(0000:05:00.0)"),
            "{f}: {text}"
        );
        h.write(f, &text.replace(" xen-pciback.hide=(0000:05:00.0)", ""));
    }
    let (code, v) = verify(&h, &[]);
    assert_eq!(code, 1);
    assert!(device(&v, "0000:05:00.0")["problems"][0]
        .as_str()
        .unwrap()
        .contains("no longer in the boot hide list"));
    let (code, v) = verify(&h, &["--repair"]);
    assert_eq!(code, 0, "{v:#}");
    assert!(h
        .read("/etc/default/grub")
        .contains("xen-pciback.hide=(0000:05:00.0)"));
}

#[test]
fn adopt_records_what_is_already_hidden() {
    let h = generated(host_with(&before_cards()), "debian");
    h.pciback();
    // A dry run records nothing.
    assert!(h
        .xenpci(&["hide", "05:00.0", "--persistent", "--dry-run"])
        .output()
        .unwrap()
        .status
        .success());
    let (code, v) = verify(&h, &[]);
    assert_eq!((code, v["devices"].as_array().unwrap().len()), (0, 0));
    // A host set up before xenpci recorded identities: hidden, no state file.
    let r = h
        .std_xenpci(&["hide", "05:00.0", "--persistent"])
        .output()
        .unwrap();
    assert!(r.status.success());
    std::fs::remove_file(h.path("/var/lib/xenpci/devices.json")).unwrap();
    let r = h.std_xenpci(&["adopt", "--json"]).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["adopted"][0][0], "0000:05:00.0");
    let (code, v) = verify(&h, &[]);
    assert_eq!(code, 0, "{v:#}");
}

#[test]
fn a_damaged_state_file_is_a_clear_error() {
    let h = set_up(before_cards(), "05:00.0");
    h.write(
        "/var/lib/xenpci/devices.json",
        "{\"schema\": 9, \"devices\": []}",
    );
    let r = h.std_xenpci(&["verify"]).output().unwrap();
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("/var/lib/xenpci/devices.json") && err.contains("schema 9"),
        "{err}"
    );
    h.write("/var/lib/xenpci/devices.json", "{not json");
    let r = h.std_xenpci(&["verify", "--json"]).output().unwrap();
    assert_eq!(r.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["kind"], "bad-input");
}

#[test]
fn the_boot_unit_runs_verify_before_any_toolstack_starts_a_guest() {
    let unit =
        std::fs::read_to_string(util::tests_dir().join("../scripts/systemd/xenpci-verify.service"))
            .unwrap();
    let line = |key: &str| -> String {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}= in the unit"))
            .to_string()
    };
    assert_eq!(line("ExecStart"), "/usr/bin/xenpci verify");
    let before = line("Before");
    for starter in ["xapi.service", "xenopsd-xc.service", "xendomains.service"] {
        assert!(
            before.split_whitespace().any(|u| u == starter),
            "Before= lacks {starter}: {before}"
        );
    }
    assert_eq!(line("ConditionPathExists"), "/var/lib/xenpci/devices.json");
    // The command it runs exists and takes no argument it does not know.
    let h = generated(host_with(&before_cards()), "debian");
    let r = h.std_xenpci(&["verify"]).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

/// An XAPI host (XCP-ng 8.2 boot files, the mock `xe` with its world in `state.json` beside the
/// root) with the halted VM `ceph-osd-1`.
const HOST: &str = "8f7e0c2a-0000-4000-8000-000000000001";
const OSD: &str = "0a3e6c1e-0000-4000-8000-000000000003";

fn xapi_host(cards: [Option<Func>; 3], hba_at: &str) -> Host {
    let h = generated(host_with(&cards), "xcpng82");
    h.pciback();
    let dev = |bdf: &str, driver: &str| {
        serde_json::json!({"bdf": bdf, "uuid": format!("c0ffee00-0000-4000-8000-0000000000{}", &bdf[5..7]),
            "class": "0107", "vendor-name": "LSI", "device-name": "SAS2308", "driver": driver, "critical": false})
    };
    let state = serde_json::json!({
        "xcp-ng-version": "8.2",
        "hosts": [{"uuid": HOST, "name-label": "xcp1", "name-description": "",
                   "hide-booted": format!("(0000:{hba_at})"), "hide-configured": format!("(0000:{hba_at})"),
                   "devices": [dev("0000:05:00.0", "pciback"), dev("0000:06:00.0", "mpt3sas")]}],
        "vms": [
            {"uuid": "5b1f2d3c-0000-4000-8000-000000000002", "name-label": "Control domain on host: xcp1",
             "power-state": "running", "is-control-domain": true, "resident-on": HOST, "domid": 0},
            {"uuid": OSD, "name-label": "ceph-osd-1", "power-state": "halted",
             "other-config": {"mac_seed": "2d6f0e8b"}},
        ]
    });
    h.with_mock_xe(&state)
}

/// `xenpci ARGS` on a host made by [`xapi_host`] (the kit wires its mock `xe`).
fn with_xe(h: &Host, args: &[&str]) -> std::process::Output {
    h.std_xenpci(args).output().unwrap()
}

fn osd(h: &Host) -> Value {
    h.mock_xe().state()["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["uuid"] == OSD)
        .unwrap()
        .clone()
}

#[test]
fn on_xapi_a_vm_naming_a_moved_device_is_blocked_from_starting_until_repaired() {
    let h = xapi_host(before_cards(), "05:00.0");
    let r = with_xe(&h, &["hide", "05:00.0", "--live", "xl"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let r = with_xe(&h, &["assign", "05:00.0", "--vm", "ceph-osd-1"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(h
        .read("/var/lib/xenpci/devices.json")
        .contains(&format!(r#""vm": "{OSD}""#)));
    // A card added in front: the HBA is at 06:00.0 now.
    reboot(
        &h,
        [
            Some(gpu("05:00.0", "00:01.0")),
            Some(hba("06:00.0", "00:02.0").serial(HBA_SERIAL)),
            None,
        ],
        &["05:00.0"],
    );
    let r = with_xe(&h, &["verify", "--json"]);
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let block = osd(&h)["blocked-operations"]["start"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        block.starts_with("xenpci verify: 0000:05:00.0 is no longer 1000:0087"),
        "{:#}",
        osd(&h)
    );
    // xapi (the mock) refuses to start it.
    let start = h
        .mock_xe()
        .command(&["vm-start", &format!("uuid={OSD}")])
        .env("XENPCI_ROOT", h.root())
        .output()
        .unwrap();
    assert!(!start.status.success());
    assert!(
        String::from_utf8_lossy(&start.stderr).contains("OPERATION_BLOCKED"),
        "{}",
        String::from_utf8_lossy(&start.stderr)
    );
    // --repair: the VM's entry names 06:00.0, other keys untouched, the block is gone.
    let r = with_xe(&h, &["verify", "--repair"]);
    assert!(
        r.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    let vm = osd(&h);
    assert_eq!(vm["other-config"]["pci"], "0/0000:06:00.0");
    assert_eq!(vm["other-config"]["mac_seed"], "2d6f0e8b");
    assert!(vm["blocked-operations"].get("start").is_none(), "{vm:#}");
}

// ---- desired state: apply and export ----

fn apply(h: &Host, file: &str, args: &[&str]) -> (i32, Value, String) {
    std::fs::write(h.dir.path().join("desired.toml"), file).unwrap();
    let path = h.dir.path().join("desired.toml");
    let mut a = vec!["apply", path.to_str().unwrap(), "--json"];
    a.extend_from_slice(args);
    let r = with_xe(h, &a);
    let out = String::from_utf8_lossy(&r.stdout).to_string();
    let v = serde_json::from_str(&out).unwrap_or(Value::Null);
    (
        r.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&r.stderr).to_string(),
    )
}

const HBA_FILE: &str =
    "schema = 1\n\n[[device]]\nalias = \"ceph-hba\"\nids = \"1000:0087\"\nhidden = true\n";

#[test]
fn apply_twice_changes_nothing_the_second_time() {
    let h = generated(host_with(&before_cards()), "debian");
    h.pciback();
    let grub = h.read("/etc/default/grub");
    let (code, v, err) = apply(&h, HBA_FILE, &["--dry-run"]);
    assert_eq!(
        (code, v["changed"].clone()),
        (0, Value::Bool(true)),
        "{err}"
    );
    assert_eq!(
        v["devices"][0]["changes"][0],
        "hide (boot configuration and now)"
    );
    assert_eq!(h.read("/etc/default/grub"), grub);
    let (code, v, err) = apply(&h, HBA_FILE, &[]);
    assert_eq!(
        (code, v["changed"].clone()),
        (0, Value::Bool(true)),
        "{err}"
    );
    assert!(h
        .read("/etc/default/grub")
        .contains("xen-pciback.hide=(0000:05:00.0)"));
    let state: Value = serde_json::from_str(&h.read("/var/lib/xenpci/devices.json")).unwrap();
    assert_eq!(state["devices"][0]["alias"], "ceph-hba");
    // The hide is done (as the xl double leaves it); the second apply has nothing to do.
    let (code, v, err) = apply(&h, HBA_FILE, &[]);
    assert_eq!(
        (code, v["changed"].clone()),
        (0, Value::Bool(false)),
        "{v:#} {err}"
    );
    // And giving it back is one edit of the file.
    let back = HBA_FILE.replace("hidden = true", "hidden = false");
    let (code, v, _) = apply(&h, &back, &[]);
    assert_eq!((code, v["changed"].clone()), (0, Value::Bool(true)));
    assert!(!h.read("/etc/default/grub").contains("xen-pciback.hide"));
}

#[test]
fn export_then_apply_changes_nothing() {
    let h = set_up(before_cards(), "05:00.0");
    let r = with_xe(&h, &["export"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let text = String::from_utf8_lossy(&r.stdout).to_string();
    assert!(
        text.contains("ids = \"1000:0087\"") && text.contains("hidden = true"),
        "{text}"
    );
    assert!(
        text.contains("serial = \"00-50-56-ff-fe-12-34-56\""),
        "{text}"
    );
    // Unique by ids and serial: no BDF in the file, so it survives renumbering.
    assert!(!text.contains("bdf ="), "{text}");
    let (code, v, err) = apply(&h, &text, &[]);
    assert_eq!(
        (code, v["changed"].clone()),
        (0, Value::Bool(false)),
        "{v:#} {err}"
    );
}

#[test]
fn apply_refuses_before_changing_anything() {
    let h = generated(host_with(&before_cards()), "debian");
    h.pciback();
    let grub = h.read("/etc/default/grub");
    // The HBA could be hidden, but dom0's NVMe (its root file system) cannot: nothing happens.
    let file = format!("{HBA_FILE}\n[[device]]\nids = \"8086:0953\"\nhidden = true\n");
    let (code, v, err) = apply(&h, &file, &[]);
    assert_eq!(code, 1, "{v:#} {err}");
    assert_eq!(v["refused"], true, "{v:#}");
    assert_eq!(h.read("/etc/default/grub"), grub);
    assert_ne!(h.driver("0000:05:00.0").as_deref(), Some("pciback"));
    // Identical twins: the file must say which.
    let h2 = generated(
        host_with(&[
            Some(hba("05:00.0", "00:01.0")),
            Some(hba("06:00.0", "00:02.0")),
            None,
        ]),
        "debian",
    );
    let (code, _, err) = apply(&h2, HBA_FILE, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("2 functions have this identity (0000:05:00.0, 0000:06:00.0)"),
        "{err}"
    );
    let pinned = HBA_FILE.replace("hidden", "path = \"pci0000:00/02.0/00.0\"\nhidden");
    let (code, v, err) = apply(&h2, &pinned, &["--dry-run"]);
    assert_eq!(
        (code, v["devices"][0]["bdf"].clone()),
        (0, Value::from("0000:06:00.0")),
        "{err}"
    );
    // A typo is named with its line.
    let (code, _, err) = apply(
        &h2,
        "schema = 1\n[[device]]\nids = \"1000:0087\"\nhiden = true\n",
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("hiden") && err.contains("line 4"), "{err}");
}

#[test]
fn apply_assigns_to_a_xapi_vm_and_an_xl_cfg() {
    let h = xapi_host(before_cards(), "05:00.0");
    let file = format!("{HBA_FILE}vm = \"ceph-osd-1\"\n");
    let (code, v, err) = apply(&h, &file, &[]);
    assert_eq!(code, 0, "{v:#} {err}");
    assert_eq!(osd(&h)["other-config"]["pci"], "0/0000:05:00.0");
    assert_eq!(osd(&h)["other-config"]["mac_seed"], "2d6f0e8b");
    let (_, v, _) = apply(&h, &file, &[]);
    assert_eq!(v["changed"], false, "{v:#}");
    // xl.cfg (plain Xen): the entry with its options, once.
    let x = set_up(before_cards(), "05:00.0");
    x.write("/etc/xen/osd.cfg", "name = \"osd\"\nmemory = 1024\n");
    let file = format!("{HBA_FILE}xlcfg = \"/etc/xen/osd.cfg\"\noptions = \"permissive=1\"\n");
    let (code, v, err) = apply(&x, &file, &[]);
    assert_eq!(code, 0, "{v:#} {err}");
    assert_eq!(
        x.read("/etc/xen/osd.cfg"),
        "name = \"osd\"\nmemory = 1024\npci = [ \"0000:05:00.0,permissive=1\" ]\n"
    );
    let (_, v, _) = apply(&x, &file, &[]);
    assert_eq!(v["changed"], false, "{v:#}");
}
