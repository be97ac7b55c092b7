//! The assign/unassign library flows against a small stateful stand-in for `xe` (a
//! `RecordingRunner` answering with xe's exact record layout and error texts from xapi-xe.md §2 and
//! §7), so every xe call the flows make is checked argv by argv.

use std::sync::{Arc, Mutex};

use xenpci::exec::{CommandSpec, Output, RecordingRunner};
use xenpci::host::HostRoot;
use xenpci::xapi::assign::{assigned, edit, AssignError, EditRequest};
use xenpci::xapi::Xe;

const OSD: &str = "0a3e6c1e-0000-4000-8000-000000000003";
const WEB: &str = "7c9d4e5f-0000-4000-8000-000000000004";
const DOM0: &str = "5b1f2d3c-0000-4000-8000-000000000002";

#[derive(Clone)]
struct Vm {
    uuid: &'static str,
    name: &'static str,
    power: &'static str,
    other_config: Vec<(String, String)>,
}

#[derive(Default)]
struct World {
    vms: Vec<Vm>,
    fail_start: bool,
}

fn err(text: &str) -> Output {
    Output {
        status: Some(1),
        stdout: String::new(),
        stderr: text.to_string(),
    }
}

fn param<'a>(c: &'a CommandSpec, key: &str) -> Option<&'a str> {
    c.args
        .iter()
        .find_map(|a| a.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

fn record(fields: &[(&str, &str, String)]) -> String {
    let w = 4 + fields
        .iter()
        .map(|(n, t, _)| n.len() + t.len() + 3)
        .max()
        .unwrap_or(0);
    let mut s = String::new();
    for (i, (n, t, v)) in fields.iter().enumerate() {
        let label = format!("{n} ({t})");
        if i == 0 {
            s += &format!("{label:<w$}: {v}\n");
        } else {
            s += &format!("{label:>w$}: {v}\n");
        }
    }
    s + "\n\n"
}

fn answer(w: &mut World, c: &CommandSpec) -> Output {
    let find = |w: &World, u: &str| w.vms.iter().position(|v| v.uuid == u);
    match c.args[0].as_str() {
        "vm-list" => {
            let sel: Vec<&Vm> = w
                .vms
                .iter()
                .filter(|v| param(c, "uuid").is_none_or(|u| u == v.uuid))
                .filter(|v| param(c, "name-label").is_none_or(|n| n == v.name))
                .collect();
            if c.args.iter().any(|a| a == "--minimal") {
                let u: Vec<&str> = sel.iter().map(|v| v.uuid).collect();
                return Output::ok(format!("{}\n", u.join(",")));
            }
            let params = param(c, "params").unwrap_or("uuid,name-label,power-state");
            let mut out = String::new();
            for v in sel {
                let oc = v
                    .other_config
                    .iter()
                    .map(|(k, x)| format!("{k}: {x}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                let all = [
                    ("uuid", "RO", v.uuid.to_string()),
                    ("name-label", "RW", v.name.to_string()),
                    ("power-state", "RO", v.power.to_string()),
                    ("other-config", "MRW", oc),
                ];
                let f: Vec<_> = all
                    .into_iter()
                    .filter(|(n, _, _)| params.split(',').any(|p| p == *n))
                    .collect();
                out += &record(&f);
            }
            Output::ok(out)
        }
        "vm-param-get" => {
            let Some(i) = param(c, "uuid").and_then(|u| find(w, u)) else {
                return err("The uuid you supplied was invalid.\ntype: VM\nuuid: x\n");
            };
            let vm = &w.vms[i];
            match (param(c, "param-name"), param(c, "param-key")) {
                (Some("other-config"), Some("pci")) => {
                    match vm.other_config.iter().find(|(k, _)| k == "pci") {
                        Some((_, v)) => Output::ok(format!("{v}\n")),
                        None => err("Error: Key pci not found in map\n"),
                    }
                }
                (Some("power-state"), _) => Output::ok(format!("{}\n", vm.power)),
                (Some("resident-on"), _) => Output::ok("<not in database>\n"),
                (Some(p), _) => err(&format!(
                    "Error code: Missing parameter\nError parameters: {p}\n"
                )),
                _ => err("Required parameter not found: param-name\nFor usage run: 'xe help'\n"),
            }
        }
        "vm-param-set" => {
            let i = find(w, param(c, "uuid").unwrap()).unwrap();
            let v = param(c, "other-config:pci").unwrap().to_string();
            let oc = &mut w.vms[i].other_config;
            oc.retain(|(k, _)| k != "pci");
            oc.push(("pci".into(), v));
            Output::ok("")
        }
        "vm-param-remove" => {
            let i = find(w, param(c, "uuid").unwrap()).unwrap();
            let oc = &mut w.vms[i].other_config;
            if !oc.iter().any(|(k, _)| k == "pci") {
                return err("Error: Key pci is not in map\n");
            }
            oc.retain(|(k, _)| k != "pci");
            Output::ok("")
        }
        "vm-shutdown" => {
            let i = find(w, param(c, "uuid").unwrap()).unwrap();
            w.vms[i].power = "halted";
            Output::ok("")
        }
        "vm-start" => {
            if w.fail_start {
                return err("The server failed to handle your request, due to an internal error. The given message may give details useful for debugging the problem.\nmessage: xenopsd internal error: Cannot_add(0000:05:00.0, _)\n");
            }
            let i = find(w, param(c, "uuid").unwrap()).unwrap();
            w.vms[i].power = "running";
            Output::ok("")
        }
        cmd => err(&format!(
            "Unknown command: {cmd}\nFor usage run: 'xe help'\n"
        )),
    }
}

struct Env {
    world: Arc<Mutex<World>>,
    runner: RecordingRunner,
    _dir: tempfile::TempDir,
    root: HostRoot,
}

fn env(vms: Vec<Vm>, pciback: &[&str], dom0_driver: &[(&str, &str)]) -> Env {
    let world = Arc::new(Mutex::new(World {
        vms,
        fail_start: false,
    }));
    let w2 = world.clone();
    let runner = RecordingRunner::new().on(move |c| Some(answer(&mut w2.lock().unwrap(), c)));
    let dir = tempfile::tempdir().unwrap();
    let bind = |bdf: &str, drv: &str| {
        let dev = dir.path().join("sys/bus/pci/devices").join(bdf);
        let d = dir.path().join("sys/bus/pci/drivers").join(drv);
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::symlink(&d, dev.join("driver")).unwrap();
    };
    for b in pciback {
        bind(b, "pciback");
    }
    for (b, d) in dom0_driver {
        bind(b, d);
    }
    let root = HostRoot::new(dir.path());
    Env {
        world,
        runner,
        _dir: dir,
        root,
    }
}

fn vm(uuid: &'static str, name: &'static str, power: &'static str, oc: &[(&str, &str)]) -> Vm {
    Vm {
        uuid,
        name,
        power,
        other_config: oc
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn seed000() -> Env {
    env(
        vec![
            vm(
                OSD,
                "ceph-osd-1",
                "running",
                &[("mac_seed", "m1"), ("base_template_name", "Debian")],
            ),
            vm(WEB, "web", "halted", &[("mac_seed", "m2")]),
            vm(DOM0, "Control domain on host: xcp1", "running", &[]),
        ],
        &["0000:05:00.0", "0000:06:00.0"],
        &[("0000:00:1f.2", "ahci")],
    )
}

fn req(vm: &str, add: &[&str]) -> EditRequest {
    EditRequest {
        vm: vm.into(),
        add: add.iter().map(|b| b.parse().unwrap()).collect(),
        ..EditRequest::default()
    }
}

fn oc(e: &Env, uuid: &str) -> Vec<(String, String)> {
    let w = e.world.lock().unwrap();
    w.vms
        .iter()
        .find(|v| v.uuid == uuid)
        .unwrap()
        .other_config
        .clone()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn seed000_assign_restart_keeps_other_keys() {
    let e = seed000();
    let xe = Xe::new(&e.runner);
    let mut lines = Vec::new();
    let mut r = req("ceph-osd-1", &["05:00.0"]);
    r.restart = true;
    let rep = edit(&xe, &e.root, &r, &mut |l| lines.push(l.to_string())).unwrap();
    assert_eq!(rep.after.as_deref(), Some("0/0000:05:00.0"));
    assert!(rep.restarted);
    assert_eq!(
        oc(&e, OSD),
        pairs(&[
            ("mac_seed", "m1"),
            ("base_template_name", "Debian"),
            ("pci", "0/0000:05:00.0")
        ])
    );
    let calls = e.runner.calls();
    let writes: Vec<&String> = calls
        .iter()
        .filter(|c| c.contains("-set ") || c.contains("-remove ") || c.contains("vm-s"))
        .collect();
    assert_eq!(
        writes,
        [
            &format!("xe vm-param-set uuid={OSD} other-config:pci=0/0000:05:00.0"),
            &format!("xe vm-shutdown uuid={OSD}"),
            &format!("xe vm-start uuid={OSD}"),
        ]
    );
    assert!(!calls
        .iter()
        .any(|c| c.contains("vm-reboot") || c.contains("vm-param-clear")));
    assert!(
        lines.iter().any(|l| l.contains("shutting down")),
        "{lines:?}"
    );
    assert_eq!(e.world.lock().unwrap().vms[0].power, "running");
}

#[test]
fn second_device_merges_in_order_and_unassign_removes_only_the_key() {
    let e = seed000();
    let xe = Xe::new(&e.runner);
    edit(&xe, &e.root, &req(OSD, &["05:00.0"]), &mut |_| {}).unwrap();
    let rep = edit(&xe, &e.root, &req(OSD, &["06:00.0"]), &mut |_| {}).unwrap();
    assert_eq!(rep.after.as_deref(), Some("0/0000:05:00.0,1/0000:06:00.0"));
    let mut r = req(OSD, &[]);
    r.order = vec!["06:00.0".parse().unwrap()];
    let rep = edit(&xe, &e.root, &r, &mut |_| {}).unwrap();
    assert_eq!(rep.after.as_deref(), Some("0/0000:06:00.0,1/0000:05:00.0"));
    let mut r = req(OSD, &[]);
    r.remove = vec!["05:00.0".parse().unwrap(), "06:00.0".parse().unwrap()];
    let rep = edit(&xe, &e.root, &r, &mut |_| {}).unwrap();
    assert_eq!(rep.after, None);
    assert_eq!(
        oc(&e, OSD),
        pairs(&[("mac_seed", "m1"), ("base_template_name", "Debian")])
    );
    assert!(e.runner.calls().contains(&format!(
        "xe vm-param-remove uuid={OSD} param-name=other-config param-key=pci"
    )));
}

#[test]
fn refuses_a_device_dom0_uses_and_names_the_hide_command() {
    let e = seed000();
    let xe = Xe::new(&e.runner);
    let msg = edit(&xe, &e.root, &req("ceph-osd-1", &["00:1f.2"]), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("ahci") && msg.contains("`xenpci hide 0000:00:1f.2`"),
        "{msg}"
    );
    assert!(!e.runner.calls().iter().any(|c| c.contains("vm-param-set")));
    let mut r = req("ceph-osd-1", &["00:1f.2"]);
    r.force = true;
    let rep = edit(&xe, &e.root, &r, &mut |_| {}).unwrap();
    assert!(rep.notes.iter().any(|n| n.contains("--force")));
}

#[test]
fn refuses_a_device_of_another_vm_unless_stolen() {
    let e = seed000();
    let xe = Xe::new(&e.runner);
    edit(
        &xe,
        &e.root,
        &req("web", &["05:00.0", "06:00.0"]),
        &mut |_| {},
    )
    .unwrap();
    let e1 = edit(&xe, &e.root, &req("ceph-osd-1", &["05:00.0"]), &mut |_| {}).unwrap_err();
    assert!(matches!(e1, AssignError::AssignedElsewhere { .. }), "{e1}");
    assert!(e1.to_string().contains(WEB) && e1.to_string().contains("--steal"));
    let mut r = req("ceph-osd-1", &["05:00.0"]);
    r.steal = true;
    let rep = edit(&xe, &e.root, &r, &mut |_| {}).unwrap();
    assert_eq!(rep.stolen.len(), 1);
    assert_eq!(
        oc(&e, WEB),
        pairs(&[("mac_seed", "m2"), ("pci", "0/0000:06:00.0")])
    );
    let list = assigned(&xe, &e.root).unwrap();
    assert_eq!(list.len(), 2);
    assert!(list
        .iter()
        .all(|v| v.devices.iter().all(|d| d.also_assigned_to.is_empty())));
}

#[test]
fn refuses_a_value_xapi_would_misread() {
    let e = env(
        vec![vm(
            OSD,
            "nas",
            "halted",
            &[("pci", "0/0000:06:00.0, 0/0000:07:00.0")],
        )],
        &["0000:05:00.0"],
        &[],
    );
    let xe = Xe::new(&e.runner);
    let msg = edit(&xe, &e.root, &req("nas", &["05:00.0"]), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(msg.contains("\" 0/0000:07:00.0\""), "{msg}");
    assert_eq!(
        oc(&e, OSD),
        pairs(&[("pci", "0/0000:06:00.0, 0/0000:07:00.0")])
    );
}

#[test]
fn failing_start_restores_the_old_value_and_says_so() {
    let e = seed000();
    let xe = Xe::new(&e.runner);
    edit(&xe, &e.root, &req("ceph-osd-1", &["06:00.0"]), &mut |_| {}).unwrap();
    e.world.lock().unwrap().fail_start = true;
    let mut r = req("ceph-osd-1", &["05:00.0"]);
    r.restart = true;
    let msg = edit(&xe, &e.root, &r, &mut |_| {}).unwrap_err().to_string();
    assert!(
        msg.contains("Cannot_add") && msg.contains("restored to \"0/0000:06:00.0\""),
        "{msg}"
    );
    assert_eq!(
        oc(&e, OSD),
        pairs(&[
            ("mac_seed", "m1"),
            ("base_template_name", "Debian"),
            ("pci", "0/0000:06:00.0")
        ])
    );
}

#[test]
fn dry_run_reads_but_only_reports_writes() {
    let e = seed000();
    let xe = Xe::new(&e.runner);
    let mut r = req("ceph-osd-1", &["05:00.0"]);
    r.dry_run = true;
    r.restart = true;
    let rep = edit(&xe, &e.root, &r, &mut |_| {}).unwrap();
    let shown: Vec<String> = rep.commands.iter().map(|a| a[1..].join(" ")).collect();
    assert_eq!(
        shown,
        [
            format!("vm-param-set uuid={OSD} other-config:pci=0/0000:05:00.0"),
            format!("vm-shutdown uuid={OSD}"),
            format!("vm-start uuid={OSD}"),
        ]
    );
    assert!(!e
        .runner
        .calls()
        .iter()
        .any(|c| c.contains("vm-param-set") || c.contains("vm-s")));
    assert_eq!(oc(&e, OSD).len(), 2);
}

#[test]
fn seed004_multi_device_value_never_has_a_space() {
    // Seed 004 wrote `0/0000:06:00.0, 0/0000:07:00.0` (xapi silently drops the second device)
    // and removed the mapping with vm-param-clear (wiping every key). xenpci writes both devices
    // and removes only the pci key.
    let e = env(
        vec![vm(OSD, "nas", "running", &[("mac_seed", "m1")])],
        &["0000:06:00.0", "0000:07:00.0"],
        &[],
    );
    let xe = Xe::new(&e.runner);
    let mut r = req("nas", &["06:00.0", "07:00.0"]);
    r.restart = true;
    let rep = edit(&xe, &e.root, &r, &mut |_| {}).unwrap();
    assert_eq!(rep.after.as_deref(), Some("0/0000:06:00.0,1/0000:07:00.0"));
    let mut r = req("nas", &[]);
    r.remove = vec!["06:00.0".parse().unwrap(), "07:00.0".parse().unwrap()];
    edit(&xe, &e.root, &r, &mut |_| {}).unwrap();
    assert_eq!(oc(&e, OSD), pairs(&[("mac_seed", "m1")]));
}

#[test]
fn ambiguous_and_unknown_vms_are_named() {
    let e = env(
        vec![vm(OSD, "dup", "halted", &[]), vm(WEB, "dup", "halted", &[])],
        &["0000:05:00.0"],
        &[],
    );
    let xe = Xe::new(&e.runner);
    let msg = edit(&xe, &e.root, &req("dup", &["05:00.0"]), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(msg.contains("2 VMs are named \"dup\""), "{msg}");
    let msg = edit(&xe, &e.root, &req("nope", &["05:00.0"]), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(msg.contains("\"nope\""), "{msg}");
}

#[test]
fn a_device_another_vm_holds_through_a_misread_piece_still_counts() {
    // xapi plugs 05:00.0 from `0/0000:05:00.0;x` (the `;x` is ignored trailing junk).
    let e = env(
        vec![
            vm(OSD, "ceph-osd-1", "halted", &[]),
            vm(WEB, "web", "halted", &[("pci", "0/0000:05:00.0;x")]),
        ],
        &["0000:05:00.0"],
        &[],
    );
    let xe = Xe::new(&e.runner);
    let err = edit(&xe, &e.root, &req("ceph-osd-1", &["05:00.0"]), &mut |_| {}).unwrap_err();
    assert!(
        matches!(err, AssignError::AssignedElsewhere { .. }),
        "{err}"
    );
    let list = assigned(&xe, &e.root).unwrap();
    assert!(
        list[0].not_understood[0].contains("xapi reads it as 0/0000:05:00.0"),
        "{list:?}"
    );
}

#[test]
fn dom0_is_never_a_target() {
    let e = seed000();
    let xe = Xe::new(&e.runner);
    let msg = edit(&xe, &e.root, &req(DOM0, &["05:00.0"]), &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(msg.contains("control domain"), "{msg}");
    assert!(!e.runner.calls().iter().any(|c| c.contains("vm-param-set")));
}
