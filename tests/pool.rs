//! The pool view end to end: `xenpci pool list|check` → the mock `xe` (`host-list`,
//! `host-call-plugin`) → the real `xenpci-plugin` binary run from a plugins directory with the
//! argv and environment xapi gives it → each host's own fixture root.

use std::path::Path;

use serde_json::{json, Value};
use xenpci_testkit::cli::Cli;
use xenpci_testkit::harness::Run;
use xenpci_testkit::mock_xe::MockXe;

const H1: &str = "11111111-1111-4111-8111-111111111111";
const H2: &str = "22222222-2222-4222-8222-222222222222";
const VM: &str = "33333333-3333-4333-8333-333333333333";

/// A two-host pool: host xcp1 is the demo X9DRW, host xcp2 a GPU host; VM ceph-osd-1 holds the
/// HBA in other-config:pci.
fn pool(dir: &Path) {
    let x9 = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/x9drw");
    let gpu = dir.join("gpu-host");
    let made = Cli::xenpci()
        .args(["demo", "--shape", "gpu-pair", "--write"])
        .arg(&gpu)
        .run();
    assert_eq!(made.code, 0, "{}", made.stderr);
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(xenpci_testkit::bins::plugin_str(), plugins.join("xenpci")).unwrap();
    let state = json!({
        "hosts": [
            {"uuid": H1, "name-label": "xcp1", "plugin-env": {"XENPCI_ROOT": x9}},
            {"uuid": H2, "name-label": "xcp2", "plugin-env": {"XENPCI_ROOT": gpu.to_str().unwrap()}}
        ],
        "vms": [{"uuid": VM, "name-label": "ceph-osd-1", "power-state": "halted",
                 "other-config": {"pci": "0/0000:05:00.0"}}]
    });
    std::fs::write(dir.join("state.json"), state.to_string()).unwrap();
}

/// `xenpci ARGS` with the kit's mock `xe` holding the pool `pool` wrote into `dir`, and more
/// environment after it.
fn xenpci_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = Cli::xenpci().args(args).into_command();
    MockXe::at(dir, "state.json", None).wire(&mut c);
    c.envs(env.iter().copied());
    Run::from(c.output().unwrap())
}

fn xenpci(dir: &Path, args: &[&str]) -> Run {
    xenpci_env(dir, args, &[])
}

#[test]
fn pool_list_merges_every_hosts_plugin_answer_with_the_vms() {
    let dir = tempfile::tempdir().unwrap();
    pool(dir.path());
    let Run {
        code,
        stdout: out,
        stderr: err,
    } = xenpci(dir.path(), &["pool", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let devs = v["devices"].as_array().unwrap();
    let find = |host: &str, bdf: &str| {
        devs.iter()
            .find(|d| d["host"] == host && d["bdf"] == bdf)
            .unwrap_or_else(|| panic!("{host} {bdf} in {v}"))
    };
    let hba = find("xcp1", "0000:05:00.0");
    // The same field names as `list --json` and `assigned --json`.
    assert_eq!(
        (&hba["vendor_id"], &hba["device_id"]),
        (&json!("1000"), &json!("0087"))
    );
    assert!(
        hba["device_name"].as_str().unwrap().contains("SAS2308"),
        "{hba}"
    );
    assert!(hba["assigned_to"][0]["uuid"].is_string(), "{hba}");
    assert_eq!(hba["assigned_to"][0]["name_label"], "ceph-osd-1");
    assert_eq!(hba["hidden"], false);
    assert!(!find("xcp1", "0000:00:1f.2")["critical"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(
        devs.iter().any(|d| d["host"] == "xcp2"),
        "second host answered: {v}"
    );
    assert!(devs
        .iter()
        .filter(|d| d["host"] == "xcp2")
        .all(|d| d["assigned_to"].as_array().unwrap().is_empty()));
    // the calls really went through host-call-plugin, once per host
    let log = std::fs::read_to_string(dir.path().join("xe.log")).unwrap();
    assert_eq!(log.matches("host-call-plugin").count(), 2, "{log}");
    assert!(log.contains(&format!("host-uuid={H2}")), "{log}");
    // human table
    let Run {
        code, stdout: out, ..
    } = xenpci(dir.path(), &["pool", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.lines().any(|l| l.starts_with("xcp1")
            && l.contains("0000:05:00.0")
            && l.contains("ceph-osd-1")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("xcp1") && l.contains("!0000:00:1f.2")),
        "{out}"
    );
}

#[test]
fn pool_check_runs_the_preflight_on_every_host() {
    let dir = tempfile::tempdir().unwrap();
    pool(dir.path());
    let Run {
        code,
        stdout: out,
        stderr: err,
    } = xenpci(dir.path(), &["pool", "check", "00:1f.2", "--json"]);
    assert_eq!(code, 1, "00:1f.2 holds dom0's root on xcp1: {out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["host"]["name_label"], "xcp1");
    assert_eq!(v[0]["value"]["devices"][0]["passable"], false);
    let Run { stdout: out, .. } = xenpci(dir.path(), &["pool", "check", "00:1f.2"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("xcp1") && l.contains("NO") && l.contains("holds /")),
        "{out}"
    );
}

#[test]
fn a_host_that_does_not_answer_in_time_is_reported_not_hung_on() {
    let dir = tempfile::tempdir().unwrap();
    pool(dir.path());
    let out = xenpci_env(
        dir.path(),
        &["pool", "list", "--timeout", "1"],
        &[("XE_MOCK_LATENCY_MS", "host-call-plugin=4000")],
    );
    let err = &out.stderr;
    assert_eq!(out.code, 1, "{err}");
    assert!(
        err.contains("host xcp1") && err.contains("did not finish within 1.0 s"),
        "{err}"
    );
    assert!(err.contains("host xcp2"), "{err}");
}

#[test]
fn pool_map_pairs_the_same_card_across_hosts_and_the_flows_accept_it() {
    let dir = tempfile::tempdir().unwrap();
    pool(dir.path());
    // a third host: another X9DRW, so the SAS2308 exists on two hosts
    let mut st: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("state.json")).unwrap())
            .unwrap();
    st["hosts"].as_array_mut().unwrap().push(json!({
        "uuid": "44444444-4444-4444-8444-444444444444", "name-label": "xcp3",
        "plugin-env": {"XENPCI_ROOT": concat!(env!("CARGO_MANIFEST_DIR"), "/demo/x9drw")}}));
    std::fs::write(dir.path().join("state.json"), st.to_string()).unwrap();
    let out = dir.path().join("map.json");
    let Run {
        code, stderr: err, ..
    } = xenpci(dir.path(), &["pool", "map", "-o", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&out).unwrap();
    let m: Value = serde_json::from_str(&text).unwrap();
    let hba = m["devices"]
        .as_object()
        .unwrap()
        .values()
        .find(|d| d["device"] == "0087")
        .unwrap_or_else(|| panic!("{m}"));
    assert_eq!(hba["hosts"]["xcp1"], "0000:05:00.0");
    assert_eq!(hba["hosts"]["xcp3"], "0000:05:00.0");
    assert_eq!(hba["subsystem"], "1000:3020");
    // dom0's disk controller is never offered for a mapping
    assert!(!text.contains("0000:00:1f.2"), "{text}");
    // the GPU is on xcp2 only: said so
    assert!(err.contains("not on every host"), "{err}");
    // the migration flows read it
    xenpci::flows::mapping::Mapping::parse(&text, "map.json")
        .expect("flows accept the generated mapping");
}
