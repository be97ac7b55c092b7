//! Fault injection at every step of the three cold/hot flows, proving the journal brings the
//! system back to a consistent state: each step failing (XL_MOCK_FAIL / XE_MOCK_FAIL, and
//! XENPCI_FAIL_WRITE for the config write) must roll back by itself; the process killed right
//! after a step's outcome is journaled (XENPCI_CRASH_AFTER_STEP) must be finished by
//! `xenpci resume`; killed right after a step's intent (XENPCI_CRASH_BEFORE_STEP) must be rolled
//! back by `xenpci resume --rollback`.
//! Consistent = the VM runs on exactly one host with its whole device set (the source's, or the
//! target's mapped one), no device is attached twice, and other-config:pci is intact.
//! Each case prints one line of the fault matrix (`cargo test --test flows_faults -- --nocapture`).

use xenpci_testkit::lab::{Run, Scenario};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Flow {
    HvmHot,
    PvCold,
    XapiCold,
}

/// (steps, failing command per step: (tool, command))
fn steps(flow: Flow) -> Vec<(&'static str, &'static str)> {
    match flow {
        Flow::HvmHot => vec![
            ("xl", "pci-detach"),
            ("xl", "pci-detach"),
            ("xl", "migrate"),
            ("xl", "pci-attach"),
            ("xl", "pci-attach"),
        ],
        Flow::PvCold => vec![("-", "write"), ("xl", "shutdown"), ("xl", "create")],
        Flow::XapiCold => vec![
            ("xe", "vm-shutdown"),
            ("xe", "vm-param-set"),
            ("xe", "vm-start"),
        ],
    }
}

fn setup(flow: Flow) -> (Scenario, Vec<String>) {
    let s = Scenario::lab();
    let args = match flow {
        Flow::HvmHot => {
            s.xl(
                "h1",
                &["pci-attach", "hvmvm", "0000:03:00.0@5,permissive=1"],
            )
            .ok();
            s.xl("h1", &["pci-attach", "hvmvm", "0000:04:00.0@6"]).ok();
            vec!["migrate", "hvmvm", "--to", "h2"]
        }
        Flow::PvCold => {
            s.pv_cfg();
            s.xl("h1", &["pci-attach", "pvvm", "0000:03:00.0,permissive=1"])
                .ok();
            vec!["migrate", "pvvm", "--to", "h2", "--config"]
        }
        Flow::XapiCold => {
            s.xapi();
            vec!["migrate", "xvm", "--to", "h2", "--toolstack", "xapi"]
        }
    };
    let mut args: Vec<String> = args.into_iter().map(str::to_string).collect();
    if flow == Flow::PvCold {
        args.push(s.path("pvvm.cfg").display().to_string());
    }
    (s, args)
}

/// Where the VM is: `Some(false)` = all at the source, `Some(true)` = all moved, `None` =
/// inconsistent (with the reason).
fn where_is(s: &Scenario, flow: Flow) -> Result<bool, String> {
    let att = s.attachments();
    let mut seen = std::collections::HashSet::new();
    for (h, _, b) in &att {
        if !seen.insert((h.clone(), b.clone())) {
            return Err(format!("{b} attached twice on {h}: {att:?}"));
        }
    }
    match flow {
        Flow::HvmHot | Flow::PvCold => {
            // pci-list lines (guest slot + host BDF), sorted: the set and the guest slots
            let (vm, src, dst): (&str, Vec<&str>, Vec<&str>) = if flow == Flow::HvmHot {
                (
                    "hvmvm",
                    vec!["05.0 0000:03:00.0", "06.0 0000:04:00.0"],
                    vec!["05.0 0000:81:00.0", "06.0 0000:82:00.0"],
                )
            } else {
                ("pvvm", vec!["00.0 0000:03:00.0"], vec!["00.0 0000:81:00.0"])
            };
            let lines = |h: &str| {
                let r = s.xl(h, &["pci-list", vm]);
                (r.code == 0).then(|| {
                    let mut l: Vec<String> = r.stdout.lines().skip(1).map(str::to_string).collect();
                    l.sort();
                    l
                })
            };
            let (on1, on2) = (lines("h1"), lines("h2"));
            match (on1, on2) {
                (Some(d), None) if d == src => Ok(false),
                (None, Some(d)) if d == dst => Ok(true),
                (a, b) => Err(format!("{vm}: h1 {a:?}, h2 {b:?}")),
            }
        }
        Flow::XapiCold => {
            let pci = s.xe_get("other-config");
            let running = s.xe_get("power-state") == "running";
            let on = s.xe_get("resident-on");
            match (pci.as_str(), running, on.as_str()) {
                ("pci: 0/0000:03:00.0", true, "11111111-1111-1111-1111-111111111111") => Ok(false),
                ("pci: 0/0000:81:00.0", true, "22222222-2222-2222-2222-222222222222") => Ok(true),
                _ => Err(format!(
                    "xvm: other-config {pci:?}, running {running}, on {on:?}"
                )),
            }
        }
    }
}

fn run(s: &Scenario, env: &[(&str, &str)], args: &[String]) -> Run {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    s.xenpci_env(env, &a)
}

fn call_count(s: &Scenario, tool: &str, cmd: &str) -> u64 {
    let file = if tool == "xl" { "xl.json" } else { "xe.json" };
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path(file)).unwrap()).unwrap();
    v["call-counts"][cmd].as_u64().unwrap_or(0)
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn each_failing_command_rolls_back_by_itself() {
    for flow in [Flow::HvmHot, Flow::PvCold, Flow::XapiCold] {
        let list = steps(flow);
        for (i, (tool, cmd)) in list.iter().enumerate() {
            let (s, args) = setup(flow);
            if *tool == "-" {
                // the config write: over an existing target file, its backup is the first thing
                // the write does, and only writes with a backup fail (never the journal's)
                let stale = "# stale target config\n";
                s.write("pvvm@h2.cfg", stale);
                let r = run(&s, &[("XENPCI_FAIL_WRITE", "backup")], &args);
                assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
                assert!(
                    r.stdout.contains(&format!("because step {}", i + 1))
                        && r.stdout.contains("backup failed"),
                    "{}",
                    r.stdout
                );
                assert_eq!(where_is(&s, flow), Ok(false));
                assert_eq!(
                    std::fs::read_to_string(s.path("pvvm@h2.cfg")).unwrap(),
                    stale
                );
                eprintln!("matrix {flow:?} step {} ({cmd}) fails: rolled back by itself, the target config as it was", i + 1);
                continue;
            }
            // the Nth call of this command in the flow = earlier same-command steps + 1
            let nth = call_count(&s, tool, cmd)
                + list[..i].iter().filter(|(_, c)| c == cmd).count() as u64
                + 1;
            let var = if *tool == "xl" {
                "XL_MOCK_FAIL"
            } else {
                "XE_MOCK_FAIL"
            };
            let r = run(&s, &[(var, &format!("{cmd}:{nth}"))], &args);
            assert_eq!(
                r.code,
                1,
                "{flow:?} step {}: {}\n{}",
                i + 1,
                r.stdout,
                r.stderr
            );
            assert!(
                r.stdout.contains("rolled back"),
                "{flow:?} step {}: {}",
                i + 1,
                r.stdout
            );
            assert!(
                r.stdout.contains(&format!("because step {}", i + 1)),
                "{}",
                r.stdout
            );
            assert_eq!(
                where_is(&s, flow),
                Ok(false),
                "{flow:?} step {} failing",
                i + 1
            );
            let undone = r.stdout.matches("  undone step").count();
            eprintln!("matrix {flow:?} step {} ({tool} {cmd}) fails: rolled back by itself, {undone} step(s) undone, VM back on h1 with its devices", i + 1);
        }
    }
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn killed_after_any_step_resume_finishes_the_move() {
    for flow in [Flow::HvmHot, Flow::PvCold, Flow::XapiCold] {
        for n in 1..=steps(flow).len() {
            let (s, args) = setup(flow);
            let r = run(&s, &[("XENPCI_CRASH_AFTER_STEP", &n.to_string())], &args);
            assert_eq!(r.code, 137, "{flow:?} {n}: {}", r.stderr);
            let st = s.xenpci(&["status"]);
            assert_eq!(st.code, 1, "an interrupted flow: status exits 1");
            assert!(
                st.stdout.contains("interrupted (run `xenpci resume`")
                    && !st.stdout.contains("Running")
                    && st
                        .stdout
                        .contains(&format!("{n}/{} steps done", steps(flow).len())),
                "{}",
                st.stdout
            );
            let r = s.xenpci(&["resume"]);
            assert!(r.ok().stdout.contains(": done"), "{}", r.stdout);
            assert_eq!(
                where_is(&s, flow),
                Ok(true),
                "{flow:?} killed after step {n}, resumed"
            );
            assert!(s.xenpci(&["status"]).stdout.contains("no half-done flow"));
            eprintln!("matrix {flow:?} killed after step {n}: resume finished the move, VM on h2 with the mapped devices");
        }
    }
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn killed_before_any_step_resume_rollback_restores_the_start() {
    for flow in [Flow::HvmHot, Flow::PvCold, Flow::XapiCold] {
        for n in 1..=steps(flow).len() {
            let (s, args) = setup(flow);
            let r = run(&s, &[("XENPCI_CRASH_BEFORE_STEP", &n.to_string())], &args);
            assert_eq!(r.code, 137, "{flow:?} {n}: {}", r.stderr);
            let r = s.xenpci(&["resume", "--rollback"]);
            assert_eq!(r.code, 1, "a rolled-back flow exits 1: {}", r.stdout);
            assert!(r.stdout.contains("rolled back"), "{}", r.stdout);
            assert_eq!(
                where_is(&s, flow),
                Ok(false),
                "{flow:?} killed before step {n}, rolled back"
            );
            eprintln!("matrix {flow:?} killed with step {n} in doubt: resume --rollback restored the start");
        }
    }
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn killed_with_a_step_in_doubt_resume_settles_it_by_looking() {
    // step 3 (xl migrate) of the hot flow: intent journaled, then killed; the migrate did not run
    let (s, args) = setup(Flow::HvmHot);
    run(&s, &[("XENPCI_CRASH_BEFORE_STEP", "3")], &args);
    s.xenpci(&["resume"]).ok();
    assert_eq!(where_is(&s, Flow::HvmHot), Ok(true));
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn a_failing_undo_leaves_the_flow_stuck_and_says_where_everything_is() {
    // step 4 (attach on h2) fails, and so does every migrate, so the migrate cannot be undone
    let (s, args) = setup(Flow::HvmHot);
    let nth = call_count(&s, "xl", "pci-attach") + 1;
    let fail = format!(
        "pci-attach:{nth};migrate:{}",
        call_count(&s, "xl", "migrate") + 2
    );
    let r = run(&s, &[("XL_MOCK_FAIL", &fail)], &args);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Stuck"), "{}", r.stdout);
    assert!(r.stdout.contains("undo of step 3"), "{}", r.stdout);
    let st = s.xenpci(&["status"]);
    assert_eq!(st.code, 1, "a stuck flow needs resume: status exits 1");
    assert!(st.stdout.contains("Stuck"), "{}", st.stdout);
    // once the cause is gone, resume --rollback finishes the rollback
    let r = s.xenpci(&["resume", "--rollback"]);
    assert!(r.stdout.contains("rolled back"), "{}", r.stdout);
    assert_eq!(where_is(&s, Flow::HvmHot), Ok(false));
    eprintln!("matrix HvmHot step 4 fails and the undo of step 3 fails: flow Stuck (reported), resume --rollback later restores the start");
}

// ---- assign --steal --restart on the change engine -------------------------------------------
//
// `xenpci assign 0000:03:00.0 --vm yvm --steal --restart --force`: VM xvm (halted) holds the HBA
// and another device; yvm runs on h1. Four steps: 1 rewrite xvm's value without the HBA, 2
// write yvm's, 3 shut yvm down, 4 start it. Consistent = both VMs' whole other-config exactly
// as before (the steal undone too) or exactly as after a clean run; a rolled-back restart
// leaves yvm halted (its old value back; starting it again is the admin's call).

const XVM: &str = "44444444-4444-4444-4444-444444444444";
const YVM: &str = "55555555-5555-5555-5555-555555555555";
const ASSIGN: [&str; 7] = [
    "assign",
    "0000:03:00.0",
    "--vm",
    "yvm",
    "--steal",
    "--restart",
    "--force",
];
/// The failing command of each step, and how many calls of it the steps before make.
const ASSIGN_STEPS: [(&str, u64); 4] = [
    ("vm-param-set", 0),
    ("vm-param-set", 1),
    ("vm-shutdown", 0),
    ("vm-start", 0),
];

fn assign_setup() -> Scenario {
    let s = Scenario::lab();
    let st = serde_json::json!({
        "hosts": [
            {"uuid": "11111111-1111-1111-1111-111111111111", "name-label": "h1",
             "devices": [{"bdf": "0000:03:00.0", "uuid": "aaaaaaaa-0000-0000-0000-000000000001", "class": "0104", "driver": "pciback"}]}],
        "vms": [
            {"uuid": XVM, "name-label": "xvm", "power-state": "halted", "hvm": true,
             "other-config": {"pci": "0/0000:03:00.0,1/0000:04:00.0", "mac_seed": "x1", "install-methods": "cdrom"},
             "domid": -1, "attached-pcis": []},
            {"uuid": YVM, "name-label": "yvm", "power-state": "halted", "hvm": true,
             "other-config": {"mac_seed": "y1"}, "domid": -1, "attached-pcis": []}]});
    std::fs::write(s.path("xe.json"), st.to_string()).unwrap();
    s.xe(&["vm-start", "vm=yvm", "on=h1"]).ok();
    s
}

/// (xvm's other-config, yvm's other-config, yvm's power state), from the mock's state file.
fn vms(s: &Scenario) -> (serde_json::Value, serde_json::Value, String) {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path("xe.json")).unwrap()).unwrap();
    let vm = |u: &str| {
        v["vms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["uuid"] == u)
            .unwrap()
            .clone()
    };
    let (x, y) = (vm(XVM), vm(YVM));
    (
        x["other-config"].clone(),
        y["other-config"].clone(),
        y["power-state"].as_str().unwrap_or("").to_string(),
    )
}

/// The states before and after a clean run.
fn assign_ends() -> (
    (serde_json::Value, serde_json::Value, String),
    (serde_json::Value, serde_json::Value, String),
) {
    let s = assign_setup();
    let before = vms(&s);
    s.xenpci(&ASSIGN).ok();
    let after = vms(&s);
    assert_ne!(before.0, after.0, "the steal changes xvm");
    assert_eq!(after.1["pci"], "0/0000:03:00.0");
    assert_eq!(after.2, "running");
    (before, after)
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn assign_each_failing_step_rolls_back_by_itself() {
    let (before, _) = assign_ends();
    for (i, (cmd, earlier)) in ASSIGN_STEPS.iter().enumerate() {
        let s = assign_setup();
        let nth = call_count(&s, "xe", cmd) + earlier + 1;
        let r = s.xenpci_env(&[("XE_MOCK_FAIL", &format!("{cmd}:{nth}"))], &ASSIGN);
        // a failed xe write or shutdown is a failed tool (2); a failed start, a failed step (1)
        let code = if i + 1 == 4 { 1 } else { 2 };
        assert_eq!(r.code, code, "step {}: {}\n{}", i + 1, r.stdout, r.stderr);
        let (x, y, power) = vms(&s);
        assert_eq!((&x, &y), (&before.0, &before.1), "step {} failing", i + 1);
        // a failed shutdown leaves it running; a failed start, halted
        let want = if i + 1 == 4 { "halted" } else { "running" };
        assert_eq!(power, want, "step {}", i + 1);
        if i > 0 {
            assert!(
                r.stderr.contains(&format!(
                    "other-config:pci of VM {XVM} restored to \"0/0000:03:00.0,1/0000:04:00.0\""
                )),
                "step {}: {}",
                i + 1,
                r.stderr
            );
        }
        eprintln!("matrix assign step {} ({cmd}) fails: rolled back by itself, both VMs' other-config as before", i + 1);
    }
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn assign_killed_at_every_step_is_resumed_or_rolled_back() {
    let (before, after) = assign_ends();
    for hook in ["XENPCI_CRASH_BEFORE_STEP", "XENPCI_CRASH_AFTER_STEP"] {
        for n in 1..=ASSIGN_STEPS.len() {
            for rollback in [false, true] {
                let s = assign_setup();
                let r = s.xenpci_env(&[(hook, &n.to_string())], &ASSIGN);
                assert_eq!(r.code, 137, "{hook}={n}: {}", r.stderr);
                let st = s.xenpci(&["status"]);
                assert_eq!(st.code, 1, "{hook}={n}: {}", st.stdout);
                assert!(
                    st.stdout.contains("assign other-config:pci of VM yvm")
                        && st.stdout.contains("interrupted"),
                    "{}",
                    st.stdout
                );
                let js = s.xenpci(&["status", "--json"]);
                let v: serde_json::Value = serde_json::from_str(&js.stdout).unwrap();
                assert_eq!(v[0]["kind"], "assign", "{v}");
                assert_eq!(v[0]["steps"].as_array().map(Vec::len), Some(4), "{v}");
                let args: &[&str] = if rollback {
                    &["resume", "--rollback"]
                } else {
                    &["resume"]
                };
                let r = s.xenpci(args);
                // as for a flow: finished 0, rolled back 1
                let code = if rollback { 1 } else { 0 };
                assert_eq!(
                    r.code, code,
                    "{hook}={n} {args:?}: {}\n{}",
                    r.stdout, r.stderr
                );
                let (x, y, power) = vms(&s);
                let end = if rollback {
                    format!("other-config exactly as before, yvm {power}")
                } else {
                    "exactly as after".to_string()
                };
                if rollback {
                    assert!(r.stdout.contains("rolled back"), "{}", r.stdout);
                    assert_eq!((&x, &y), (&before.0, &before.1), "{hook}={n} rolled back");
                    // started or shut down before the crash: left halted
                    let shut = n > 3 || (n == 3 && hook == "XENPCI_CRASH_AFTER_STEP");
                    let want = if shut { "halted" } else { "running" };
                    assert_eq!(power, want, "{hook}={n} rolled back");
                } else {
                    assert!(r.stdout.contains(": done"), "{}", r.stdout);
                    assert_eq!((x, y, power), after, "{hook}={n} resumed");
                }
                // settled: nothing left to resume
                assert_eq!(s.xenpci(&["status"]).code, 0, "{hook}={n}");
                eprintln!(
                    "matrix assign killed {} step {n}, then {}: {}",
                    if hook.contains("BEFORE") {
                        "before"
                    } else {
                        "after"
                    },
                    args.join(" "),
                    end
                );
            }
        }
    }
}
