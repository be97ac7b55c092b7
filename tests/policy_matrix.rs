//! The safety policy at every entry point: each CLI command and plugin function that hides a
//! device, gives it to a guest or takes it back, against the same cases on one XCP-ng host (the
//! seed's Supermicro X9DRW, fixture generator) wired to the mock `xl` (domains, their devices,
//! pciback) and the mock `xe` (VMs and their other-config:pci):
//!
//! | case | device | hide | give (assign, attach, add-pci, reattach) | take back (unhide --now) |
//! |---|---|---|---|---|
//! | dom0's disk controller | 00:1f.2 | refused | refused | allowed |
//! | the bridge above the HBA | 00:01.0 | refused | refused | allowed |
//! | the management NIC | 02:00.0 | refused | refused | allowed |
//! | half of its isolation group | 02:00.1 | refused | refused | allowed |
//! | attached to a running domain | 06:00.0 | allowed | refused | refused |
//! | in another VM's other-config:pci | 07:00.0 | allowed | refused (assign: `--steal`) | refused |
//!
//! `check` (CLI and plugin) answers "not passable" for each case with the give operations'
//! reasons, and yes for the ordinary HBA at 05:00.0.
//!
//! (Hiding is not giving: a device a guest holds is already hidden; giving back to dom0 is the
//! safe way for dom0's own devices.) Every refusal: the same reasons in every entry point, exit 1
//! / `XENPCI_REFUSED`, and nothing changed (host files, both mocks' state, no mutating call in
//! their logs); `seize=1` in the spec changes nothing; `--force` / `force=true` does it and the
//! report names the forced device.

mod util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use util::{generated, Host};
use xenpci_fixtures::{self as fixture, Func};
use xenpci_testkit::cli::Cli;

const HOST: &str = "8f7e0c2a-0000-4000-8000-000000000001";
const DOM0: &str = "2d3b9b8e-0000-4000-8000-000000000002";
const GUEST: &str = "0a3e6c1e-0000-4000-8000-000000000003";
const OTHER: &str = "7c9d4e5f-0000-4000-8000-000000000004";

/// (case, device).
const CASES: &[(&str, &str)] = &[
    ("dom0's disk controller", "0000:00:1f.2"),
    ("bridge", "0000:00:01.0"),
    ("management NIC", "0000:02:00.0"),
    ("half of an isolation group", "0000:02:00.1"),
    ("attached to a running domain", "0000:06:00.0"),
    ("in another VM's other-config:pci", "0000:07:00.0"),
];

fn dom0_case(bdf: &str) -> bool {
    !matches!(bdf, "0000:06:00.0" | "0000:07:00.0")
}

/// The world: the host root, the mocks' states and logs, and `guest.cfg`.
struct World {
    host: Host,
}

fn xl_state(root: &Path) -> Value {
    let dev = |bdf: &str, drv: &str| json!({"bdf": bdf, "driver": drv});
    json!({"hosts": {"xcp1": {
        "root": root,
        "devices": [dev("0000:00:1f.2", "ahci"), dev("0000:02:00.0", "igb"),
                    dev("0000:02:00.1", "igb"), dev("0000:05:00.0", "mpt3sas"),
                    dev("0000:06:00.0", "pciback"), dev("0000:07:00.0", "pciback"),
                    dev("0000:00:01.0", "pcieport")],
        "domains": [
            {"domid": 1, "name": "busy", "type": "pv", "memory": 512, "maxmem": 512, "vcpus": 1,
             "passthrough": "sync_pt", "pci": [{"bdf": "0000:06:00.0", "opts": ""}]},
            {"domid": 2, "name": "guest", "type": "pv", "memory": 512, "maxmem": 512, "vcpus": 1,
             "passthrough": "sync_pt", "pci": []}],
        "next-domid": 3}}})
}

fn xe_state() -> Value {
    let dev = |bdf: &str, n: u32, drv: &str, critical: bool| {
        json!({"bdf": bdf, "uuid": format!("c0ffee00-0000-4000-8000-0000000000{n:02}"),
               "class": "0107", "vendor-name": "v", "device-name": "d", "driver": drv,
               "critical": critical})
    };
    json!({
        "xcp-ng-version": "8.2",
        "hosts": [{"uuid": HOST, "name-label": "xcp1",
                   "hide-booted": "(0000:06:00.0)(0000:07:00.0)",
                   "hide-configured": "(0000:06:00.0)(0000:07:00.0)",
                   "devices": [dev("0000:00:1f.2", 10, "ahci", true),
                               dev("0000:06:00.0", 11, "pciback", false),
                               dev("0000:07:00.0", 12, "pciback", false)]}],
        "vms": [
            {"uuid": DOM0, "name-label": "Control domain on host: xcp1", "power-state": "running",
             "is-control-domain": true, "resident-on": HOST, "domid": 0},
            {"uuid": GUEST, "name-label": "guest", "power-state": "halted",
             "other-config": {"mac_seed": "m1"}},
            {"uuid": OTHER, "name-label": "other", "power-state": "halted",
             "other-config": {"pci": "0/0000:07:00.0", "mac_seed": "m2"}}]
    })
}

impl World {
    fn new() -> World {
        let fx = fixture::x9drw()
            .with(Func::root_port("00:03.0", 0x8086, 0x3c08, 7).acs())
            .with(
                Func::endpoint("07:00.0", 0x1000, 0x0087, 0x010700)
                    .under("00:03.0")
                    .flr()
                    .driver("pciback"),
            )
            // A two-function NIC of no use to dom0: one isolation group.
            .with(Func::root_port("00:03.2", 0x8086, 0x3c0a, 9).acs())
            .with(
                Func::endpoint("09:00.0", 0x8086, 0x10fb, 0x020000)
                    .under("00:03.2")
                    .driver("pciback"),
            )
            .with(
                Func::endpoint("09:00.1", 0x8086, 0x10fb, 0x020000)
                    .under("00:03.2")
                    .driver("pciback"),
            );
        let host = generated(fx, "xcpng82");
        host.pciback();
        host.bind("0000:06:00.0", "pciback");
        let w = World { host };
        std::fs::write(w.file("xl.json"), xl_state(w.host.root()).to_string()).unwrap();
        std::fs::write(w.file("xe.json"), xe_state().to_string()).unwrap();
        std::fs::write(
            w.file("guest.cfg"),
            "name = \"guest\"\ntype = \"pv\"\nmemory = 512\npci = [ ]\n",
        )
        .unwrap();
        // The mocks rewrite their state (and xl its sysfs driver links) in their own format on
        // every call: one read-only call each first, so a snapshot shows only real changes.
        for (bin, arg) in [
            (xenpci_testkit::bins::xl(), "list"),
            (xenpci_testkit::bins::xe(), "vm-list"),
        ] {
            let mut c = Command::new(bin);
            c.arg(arg).env_remove("XL_MOCK_HOST");
            for (k, v) in w.env() {
                c.env(k, v);
            }
            assert!(c.output().unwrap().status.success(), "{bin} {arg}");
        }
        let _ = std::fs::remove_file(w.file("xl.log"));
        let _ = std::fs::remove_file(w.file("xe.log"));
        w
    }

    fn file(&self, name: &str) -> PathBuf {
        self.host.dir.path().join(name)
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let s = |p: PathBuf| p.to_string_lossy().into_owned();
        vec![
            ("XENPCI_ROOT", s(self.host.root().to_path_buf())),
            ("XENPCI_XL", xenpci_testkit::bins::xl().into()),
            ("XENPCI_XE", xenpci_testkit::bins::xe().into()),
            (
                "XENPCI_XEN_CMDLINE",
                s(util::tests_dir().join("doubles/xen-cmdline")),
            ),
            ("XENPCI_DOUBLE_LOG", s(self.file("calls.log"))),
            ("XL_MOCK_STATE", s(self.file("xl.json"))),
            ("XL_MOCK_LOG", s(self.file("xl.log"))),
            ("XE_MOCK_STATE", s(self.file("xe.json"))),
            ("XE_MOCK_LOG", s(self.file("xe.log"))),
            ("XENPCI_NO_XENSTORE", "1".into()),
        ]
    }

    fn xenpci(&self, args: &[&str]) -> (i32, Value, String) {
        let mut c = Cli::xenpci().into_command();
        c.args(args).arg("--json");
        for (k, v) in self.env() {
            c.env(k, v);
        }
        for k in [
            "XL_MOCK_HOST",
            "XL_MOCK_FAIL",
            "XE_MOCK_FAIL",
            "XENPCI_DOUBLE_FAIL",
            "XENPCI_FAIL_WRITE",
        ] {
            c.env_remove(k);
        }
        let o = c.output().unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!("{args:?}: not one JSON document ({e}): {stdout}\n{stderr}")
        });
        (o.status.code().unwrap_or(-1), doc, stderr)
    }

    /// The plugin through XML-RPC (tests/plugin/xmlrpc_call.py): the driver's verdict
    /// (`status`, `error` = [fault, message, ...], `value`).
    fn plugin(&self, args: &[&str]) -> Value {
        let mut c = Command::new("python3");
        c.arg(util::tests_dir().join("plugin/xmlrpc_call.py"))
            .arg(xenpci_testkit::bins::plugin_str())
            .args(args);
        for (k, v) in self.env() {
            c.env(format!("PLUGIN_PASS_{k}"), v);
        }
        let o = c.output().expect("python3");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// Everything a refused command must leave as it was: every host file (locks aside), both
    /// mocks' states and guest.cfg.
    fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let mut m = BTreeMap::new();
        walk(self.host.root(), self.host.root(), &mut m);
        m.insert(
            "guest.cfg".into(),
            std::fs::read(self.file("guest.cfg")).unwrap(),
        );
        // The mocks' states as what they say (they re-serialise on every call and count the
        // calls, reads too).
        for f in ["xl.json", "xe.json"] {
            let mut v: Value =
                serde_json::from_str(&std::fs::read_to_string(self.file(f)).unwrap()).unwrap();
            v.as_object_mut().unwrap().remove("call-counts");
            m.insert(f.into(), v.to_string().into_bytes());
        }
        m
    }

    /// Calls in the mocks' logs that change something.
    fn mutating_calls(&self) -> Vec<String> {
        ["xl.log", "xe.log", "calls.log"]
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(self.file(f))
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|l| {
                [
                    "pci-attach",
                    "pci-assignable-add",
                    "pci-assignable-remove",
                    "vm-param-set",
                    "vm-param-remove",
                    "--set-dom0",
                    "--delete-dom0",
                ]
                .iter()
                .any(|m| l.contains(m))
            })
            .collect()
    }
}

/// Nothing changed since `before`, and no mutating call was made.
fn assert_unchanged(w: &World, before: &BTreeMap<String, Vec<u8>>, what: &str) {
    let now = w.snapshot();
    let changed: Vec<&String> = now
        .keys()
        .chain(before.keys())
        .filter(|k| now.get(*k) != before.get(*k))
        .collect();
    assert!(changed.is_empty(), "{what} changed {changed:?}");
    assert_eq!(w.mutating_calls(), Vec::<String>::new(), "{what}");
}

fn walk(base: &Path, dir: &Path, m: &mut BTreeMap<String, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
        if rel.starts_with("run/lock") {
            continue;
        }
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.file_type().is_symlink() {
            m.insert(
                rel,
                std::fs::read_link(&p)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes(),
            );
        } else if meta.is_dir() {
            walk(base, &p, m);
        } else {
            m.insert(rel, std::fs::read(&p).unwrap_or_default());
        }
    }
}

/// The CLI argv for (world, device, seize=1, forced).
type CliArgs = fn(&World, &str, bool, bool) -> Vec<String>;
/// The plugin call for (device, seize=1, forced).
type PluginArgs = fn(&str, bool, bool) -> Vec<String>;

/// One entry point: how to run it on a device (with `seize=1` in the spec where there is one,
/// and forced), and what it does.
struct Entry {
    name: &'static str,
    /// hide / give / take-back.
    action: &'static str,
    cli: Option<CliArgs>,
    plugin: Option<PluginArgs>,
}

fn v(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn spec(bdf: &str, seize: bool) -> String {
    if seize {
        format!("{bdf},seize=1")
    } else {
        bdf.to_string()
    }
}

fn with_force(mut a: Vec<String>, force: bool, flag: &str) -> Vec<String> {
    if force {
        a.push(flag.into());
        a.push(
            if flag == "--force" {
                "--dry-run"
            } else {
                "dry_run=true"
            }
            .into(),
        );
    }
    a
}

fn entries() -> Vec<Entry> {
    vec![
        Entry {
            name: "hide",
            action: "hide",
            cli: Some(|_, b, _, f| with_force(v(&["hide", b]), f, "--force")),
            plugin: Some(|b, _, f| {
                with_force(vec!["hide".into(), format!("bdf={b}")], f, "force=true")
            }),
        },
        Entry {
            name: "assign",
            action: "give",
            cli: Some(|_, b, _, f| with_force(v(&["assign", b, "--vm", "guest"]), f, "--force")),
            plugin: None,
        },
        Entry {
            name: "attach",
            action: "give",
            cli: Some(|_, b, s, f| with_force(v(&["attach", "guest", &spec(b, s)]), f, "--force")),
            plugin: Some(|b, s, f| {
                with_force(
                    vec![
                        "attach".into(),
                        "domain=guest".into(),
                        format!("spec={}", spec(b, s)),
                    ],
                    f,
                    "force=true",
                )
            }),
        },
        Entry {
            name: "xlcfg add-pci",
            action: "give",
            cli: Some(|w, b, s, f| {
                let cfg = w.file("guest.cfg").to_string_lossy().into_owned();
                with_force(v(&["xlcfg", "add-pci", &cfg, &spec(b, s)]), f, "--force")
            }),
            plugin: None,
        },
        Entry {
            name: "reattach",
            action: "give",
            cli: Some(|_, b, s, f| {
                // A saved file naming the device (as if edited by hand), outside the world so
                // writing it changes nothing the matrix compares.
                let file = std::env::temp_dir().join(format!(
                    "xenpci-matrix-{}-{}-{s}.json",
                    std::process::id(),
                    b.replace(':', "-")
                ));
                let saved = json!({"host": "localhost", "vm": "guest",
                    "devices": [{"bdf": b, "spec": spec(b, s)}]});
                std::fs::write(&file, saved.to_string()).unwrap();
                let file = file.to_string_lossy().into_owned();
                with_force(v(&["reattach", "--from", &file]), f, "--force")
            }),
            plugin: None,
        },
        Entry {
            name: "unhide --now",
            action: "take-back",
            cli: Some(|_, b, _, f| with_force(v(&["unhide", b, "--now"]), f, "--force")),
            plugin: Some(|b, _, f| {
                with_force(
                    vec!["unhide".into(), format!("bdf={b}"), "now=true".into()],
                    f,
                    "force=true",
                )
            }),
        },
    ]
}

/// Whether the policy refuses `bdf` for this kind of entry point.
fn refused(action: &str, bdf: &str) -> bool {
    match action {
        "hide" => dom0_case(bdf),
        "give" => true,
        _ => !dom0_case(bdf),
    }
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn every_entry_point_refuses_every_case_the_same_way_and_changes_nothing() {
    let w = World::new();
    let before = w.snapshot();
    // The reasons each case got from the first entry point of each kind, to compare the others.
    let mut reasons: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (case, bdf) in CASES {
        for e in entries() {
            if !refused(e.action, bdf) {
                continue;
            }
            // The assign of another VM's device is refused by assign's own rule (`--steal`
            // moves it; forcing would leave it in two VMs' values), checked below.
            let steal_case = e.name == "assign" && *bdf == "0000:07:00.0";
            for seize in [false, true] {
                if let Some(cli) = e.cli {
                    let args = cli(&w, bdf, seize, false);
                    let a: Vec<&str> = args.iter().map(String::as_str).collect();
                    let (code, doc, stderr) = w.xenpci(&a);
                    assert_eq!(code, 1, "{case}: {args:?}: {doc}\n{stderr}");
                    assert_eq!(doc["refused"], true, "{case}: {args:?}: {doc}");
                    assert_eq!(doc["kind"], "refused", "{case}: {args:?}: {doc}");
                    if steal_case {
                        assert_eq!(doc["hint"], "--steal", "{doc}");
                    } else {
                        assert_eq!(doc["hint"], "--force", "{case}: {args:?}: {doc}");
                        assert_eq!(doc["refusals"][0]["bdf"], *bdf, "{doc}");
                        let got = strs(&doc["refusals"][0]["reasons"]);
                        let key = (case.to_string(), e.action.to_string());
                        let want = reasons.entry(key).or_insert_with(|| got.clone());
                        assert_eq!(&got, want, "{case}: {} disagrees", e.name);
                        assert!(!doc["error"].as_str().unwrap().contains("--"), "{doc}");
                    }
                    assert_unchanged(&w, &before, &format!("{case}: {args:?}"));
                }
                if let Some(plugin) = e.plugin {
                    let args = plugin(bdf, seize, false);
                    let a: Vec<&str> = args.iter().map(String::as_str).collect();
                    let r = w.plugin(&a);
                    assert_eq!(r["status"], "Failure", "{case}: {args:?}: {r}");
                    assert_eq!(r["error"][0], "XENPCI_REFUSED", "{case}: {args:?}: {r}");
                    let msg = r["error"][1].as_str().unwrap();
                    let key = (case.to_string(), e.action.to_string());
                    for reason in reasons.get(&key).expect("the CLI ran first") {
                        assert!(msg.contains(reason.as_str()), "{case}: {args:?}: {msg}");
                    }
                    assert!(
                        msg.contains("force=true") && !msg.contains("--force"),
                        "{msg}"
                    );
                    assert_unchanged(&w, &before, &format!("{case}: {args:?}"));
                }
            }
        }
    }
    check_agrees(&w, &reasons);
}

/// `check` (CLI and plugin) says no to exactly what the give operations refuse, with their
/// reasons.
fn check_agrees(w: &World, reasons: &BTreeMap<(String, String), Vec<String>>) {
    for (case, bdf) in CASES {
        let want = &reasons[&(case.to_string(), "give".to_string())];
        let (code, doc, stderr) = w.xenpci(&["check", bdf]);
        assert_eq!(code, 1, "{case}: {doc}\n{stderr}");
        assert_eq!(doc["passable"], false, "{case}: {doc}");
        assert_eq!(doc["devices"][0]["passable"], false, "{case}: {doc}");
        assert_eq!(&strs(&doc["refusals"][0]["reasons"]), want, "{case}: {doc}");
        let r = w.plugin(&["check", &format!("bdf={bdf}")]);
        assert_eq!(r["status"], "Success", "{case}: {r}");
        let doc: Value = serde_json::from_str(r["value"].as_str().unwrap()).unwrap();
        assert_eq!(&strs(&doc["refusals"][0]["reasons"]), want, "{case}: {doc}");
    }
    let (code, doc, _) = w.xenpci(&["check", "05:00.0"]);
    assert_eq!((code, &doc["refusals"]), (0, &json!([])), "{doc}");
}

#[test]
fn force_does_it_and_the_report_names_what_was_forced() {
    let w = World::new();
    for (case, bdf) in CASES {
        for e in entries() {
            if !refused(e.action, bdf) || (e.name == "assign" && *bdf == "0000:07:00.0") {
                continue;
            }
            // Forced past the policy, xl's own conditions remain: a device dom0 still drives
            // is attached with seize=1.
            let seize = e.name == "attach" || e.name == "reattach";
            if let Some(cli) = e.cli {
                let args = cli(&w, bdf, seize, true);
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                let (code, doc, stderr) = w.xenpci(&a);
                assert_eq!(code, 0, "{case}: {args:?}: {doc}\n{stderr}");
                assert!(
                    stderr.contains(&format!("forced: {bdf}")),
                    "{case}: {args:?}: {stderr}"
                );
                if e.name == "reattach" {
                    // A flow's report is its plan: the forced device is in its notes.
                    let notes = strs(&doc["notes"]);
                    assert!(
                        notes
                            .iter()
                            .any(|n| n.starts_with(&format!("forced: {bdf}"))),
                        "{case}: {args:?}: {doc}"
                    );
                } else {
                    assert_eq!(doc["forced"][0]["bdf"], *bdf, "{case}: {args:?}: {doc}");
                }
            }
            if let Some(plugin) = e.plugin {
                let args = plugin(bdf, seize, true);
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                let r = w.plugin(&a);
                assert_eq!(r["status"], "Success", "{case}: {args:?}: {r}");
                let doc: Value = serde_json::from_str(r["value"].as_str().unwrap()).unwrap();
                assert_eq!(doc["forced"][0]["bdf"], *bdf, "{case}: {args:?}: {doc}");
            }
        }
    }
}

#[test]
fn the_ordinary_device_goes_through_every_entry_point_without_force() {
    let w = World::new();
    // 05:00.0 is nobody's and dom0 does not need it: the policy lets it through (hide first,
    // then the gives, as dry runs).
    let cfg = w.file("guest.cfg").to_string_lossy().into_owned();
    for args in [
        vec!["hide", "05:00.0", "--dry-run"],
        vec!["xlcfg", "add-pci", &cfg, "05:00.0", "--dry-run"],
    ] {
        let (code, doc, stderr) = w.xenpci(&args);
        assert_eq!(code, 0, "{args:?}: {doc}\n{stderr}");
        assert_eq!(doc["forced"], json!([]), "{args:?}: {doc}");
    }
}

/// A device written into an xl.cfg anyway (forced, or by hand) is flagged by `xlcfg show`, with
/// the reasons add-pci gives, and makes it exit 1; before, show said "accepted by xl" and 0.
#[test]
fn xlcfg_show_flags_what_the_policy_refuses() {
    let w = World::new();
    let cfg = w.file("guest.cfg").to_string_lossy().into_owned();
    let (code, refused, _) = w.xenpci(&["xlcfg", "add-pci", &cfg, "00:1f.2"]);
    assert_eq!(code, 1, "{refused}");
    let (code, doc, stderr) = w.xenpci(&["xlcfg", "add-pci", &cfg, "00:1f.2", "--force"]);
    assert_eq!(code, 0, "{doc}\n{stderr}");
    assert!(std::fs::read_to_string(w.file("guest.cfg"))
        .unwrap()
        .contains("\"00:1f.2\""));
    let (code, doc, _) = w.xenpci(&["xlcfg", "show", &cfg]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(doc["ok"], true, "xl itself accepts it: {doc}");
    assert_eq!(doc["refusals"][0]["bdf"], "0000:00:1f.2", "{doc}");
    assert_eq!(
        doc["refusals"][0]["reasons"],
        refused["refusals"][0]["reasons"]
    );
    let out = Cli::xenpci()
        .into_command()
        .args(["xlcfg", "show", &cfg])
        .envs(w.env())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("accepted by xl, but REFUSED by xenpci's safety policy")
            && text.contains("refused: 0000:00:1f.2: dom0 needs it: holds /"),
        "{text}"
    );
}

/// An isolation group is passed whole: half of it goes to no guest, but the other half may join
/// the guest that already has the first (assign reads that from the VM's own other-config:pci).
#[test]
fn half_a_group_may_join_the_guest_holding_the_other_half() {
    let w = World::new();
    let (code, doc, _) = w.xenpci(&["assign", "09:00.0", "--vm", "guest", "--dry-run"]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(
        doc["refusals"][0]["codes"][0]["code"], "group-not-whole",
        "{doc}"
    );
    assert_eq!(doc["refusals"][0]["codes"][0]["missing"][0], "0000:09:00.1");
    let mut st = xe_state();
    st["vms"][1]["other-config"]["pci"] = json!("0/0000:09:00.1");
    std::fs::write(w.file("xe.json"), st.to_string()).unwrap();
    let (code, doc, stderr) = w.xenpci(&["assign", "09:00.0", "--vm", "guest", "--dry-run"]);
    assert_eq!(code, 0, "{doc}\n{stderr}");
    assert_eq!(doc["forced"], json!([]));
    // ... and not another guest.
    let (code, doc, _) = w.xenpci(&["assign", "09:00.0", "--vm", "other", "--dry-run"]);
    assert_eq!(code, 1, "{doc}");
}
