//! Conformance of the mock `xe` (crates/mock-xe/) with the real xe, item by item from the checklist in
//! docs/reference/xapi-xe.md §7 (exact stdout, stderr and exit status), plus the xenopsd
//! behaviour of `vm-start`, the plugin protocol and the mock's own test hooks.
//!
//! Every test builds a scenario: the §7 fixture written as state JSON into a temp dir, the
//! built `xe` binary run with `XE_MOCK_*` set on the child only.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};
use xenpci_testkit::harness::Run;

const H: &str = "8f7e0c2a-0000-4000-8000-000000000001";
const D: &str = "5b1f2d3c-0000-4000-8000-000000000002";
const A: &str = "0a3e6c1e-0000-4000-8000-000000000003";
const B: &str = "7c9d4e5f-0000-4000-8000-000000000004";
const C: &str = "1c000000-0000-4000-8000-000000000005";
const E: &str = "1e000000-0000-4000-8000-000000000006";
const P: &str = "c0ffee00-0000-4000-8000-000000000010";
const H2: &str = "8f7e0c2a-0000-4000-8000-000000000009";

const POWER_DOC: &str =
    "You attempted an operation on a VM that was not in an appropriate power state at \
    the time; for example, you attempted to start a VM that was already running. The parameters \
    returned are the VM's handle, and the expected and actual VM state at the time of the call.";
const INTERNAL_DOC: &str =
    "The server failed to handle your request, due to an internal error. The given \
    message may give details useful for debugging the problem.";
const UUID_DOC: &str = "The uuid you supplied was invalid.";
const PLUGIN_DOC: &str = "There was a failure communicating with the plug-in.";

/// The §7 fixture.
fn fixture() -> Value {
    json!({
        "xcp-ng-version": "8.3",
        "hosts": [{
            "uuid": H, "name-label": "xcp1", "name-description": "Default install",
            "devices": [
                {"bdf": "0000:06:00.0", "uuid": P, "class": "0200", "vendor-name": "Intel Corporation",
                 "device-name": "I210 Gigabit Network Connection", "driver": "igb"}
            ]
        }],
        "vms": [
            {"uuid": A, "name-label": "pt-vm", "power-state": "halted",
             "other-config": {"mac_seed": "m1", "pci": "0/0000:06:00.0"}},
            {"uuid": D, "name-label": "Control domain on host: xcp1", "power-state": "running",
             "is-control-domain": true, "domid": 0, "resident-on": H},
            {"uuid": B, "name-label": "web", "power-state": "running", "domid": 1, "resident-on": H},
            {"uuid": C, "name-label": "dup", "power-state": "halted"},
            {"uuid": E, "name-label": "dup", "power-state": "halted"},
            {"uuid": "7e000000-0000-4000-8000-0000000000ff", "name-label": "tmpl", "power-state": "halted",
             "is-a-template": true}
        ]
    })
}

/// A temp dir with `state.json`, `plugins/`, `log`.
struct Scenario {
    dir: tempfile::TempDir,
}

impl Scenario {
    fn new(state: Value) -> Scenario {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("plugins")).expect("plugins dir");
        let s = Scenario { dir };
        s.set_state(&state);
        s
    }
    fn fixture() -> Scenario {
        Scenario::new(fixture())
    }
    fn with(f: impl FnOnce(&mut Value)) -> Scenario {
        let mut v = fixture();
        f(&mut v);
        Scenario::new(v)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path("state.json")).unwrap()).unwrap()
    }
    fn set_state(&self, v: &Value) {
        std::fs::write(
            self.path("state.json"),
            serde_json::to_string_pretty(v).unwrap(),
        )
        .unwrap();
    }
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(xenpci_testkit::bins::xe());
        c.args(args);
        for var in [
            "XE_MOCK_FAIL",
            "XE_MOCK_LATENCY_MS",
            "XE_MOCK_PLUGINS_DIR",
            "XE_MOCK_PLUGIN_TIMEOUT_MS",
        ] {
            c.env_remove(var);
        }
        c.env("XE_MOCK_STATE", self.path("state.json"))
            .env("XE_MOCK_LOG", self.path("log"));
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }
    fn xe_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let o = self.command(args, env).output().expect("run mock xe");
        Run::from(o)
    }
    /// Runs `xe` with a command line split on single spaces.
    fn xe(&self, line: &str) -> Run {
        let args: Vec<&str> = if line.is_empty() {
            vec![]
        } else {
            line.split(' ').collect()
        };
        self.xe_env(&args, &[])
    }
    fn plugin(&self, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let p = self.path("plugins").join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    fn vm(&self, uuid: &str) -> Value {
        self.state()["vms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["uuid"] == uuid)
            .unwrap()
            .clone()
    }
}

/// A 3-field vm-list record as xe prints it.
fn vm_rec(uuid: &str, name: &str, power: &str) -> String {
    format!("uuid ( RO)           : {uuid}\n     name-label ( RW): {name}\n    power-state ( RO): {power}\n\n\n")
}

fn power_err(vm: &str, expected: &str, actual: &str) -> String {
    format!("{POWER_DOC}\nvm: {vm}\nexpected: {expected}\nactual: {actual}\n")
}

// ---- §7 items 1–9: vm-list ----

#[test]
fn c01_vm_list_all_non_templates_with_dom0() {
    let want = [
        vm_rec(A, "pt-vm", "halted"),
        vm_rec(D, "Control domain on host: xcp1", "running"),
        vm_rec(B, "web", "running"),
        vm_rec(C, "dup", "halted"),
        vm_rec(E, "dup", "halted"),
    ]
    .concat();
    Scenario::fixture().xe("vm-list").prints(&want);
}

#[test]
fn c02_to_c06_vm_list_minimal_and_filters() {
    let s = Scenario::fixture();
    s.xe("vm-list --minimal")
        .prints(&format!("{A},{D},{B},{C},{E}\n"));
    s.xe("vm-list name-label=pt-vm --minimal")
        .prints(&format!("{A}\n"));
    s.xe("vm-list name-label=nope").prints("");
    s.xe("vm-list name-label=nope --minimal").prints("\n");
    s.xe("vm-list name-label=dup params=uuid --minimal")
        .prints(&format!("{C},{E}\n"));
    s.xe("vm-list power-state=running --minimal")
        .prints(&format!("{D},{B}\n"));
    s.xe(&format!(
        "vm-list resident-on={H} is-control-domain=false --minimal"
    ))
    .prints(&format!("{B}\n"));
    s.xe("vm-list is-a-template=true --minimal").prints("\n");
}

#[test]
fn c07_params_print_in_record_order() {
    Scenario::fixture()
        .xe(&format!("vm-list uuid={A} params=power-state,name-label"))
        .prints("name-label ( RW)     : pt-vm\n    power-state ( RO): halted\n\n\n");
}

#[test]
fn c08_map_filter() {
    Scenario::fixture()
        .xe("vm-list other-config:pci=0/0000:06:00.0 --minimal")
        .prints(&format!("{A}\n"));
}

#[test]
fn c09_unknown_filter_field() {
    Scenario::fixture()
        .xe("vm-list bogus=1")
        .fails_with("Error: Unknown field 'bogus'\n");
}

// ---- items 10–18, 64: vm-param-get ----

#[test]
fn c10_to_c12_param_get() {
    let s = Scenario::fixture();
    s.xe(&format!(
        "vm-param-get uuid={A} param-name=other-config param-key=pci"
    ))
    .prints("0/0000:06:00.0\n");
    s.xe(&format!("vm-param-get uuid={A} param-name=other-config"))
        .prints("mac_seed: m1; pci: 0/0000:06:00.0\n");
    s.xe(&format!("vm-param-get uuid={A} param-name=power-state"))
        .prints("halted\n");
}

#[test]
fn c13_to_c17_param_get_errors() {
    let s = Scenario::fixture();
    s.xe(&format!(
        "vm-param-get uuid={B} param-name=other-config param-key=pci"
    ))
    .fails_with("Error: Key pci not found in map\n");
    s.xe("vm-param-get uuid=deadbeef param-name=other-config param-key=pci")
        .fails_with(&format!("{UUID_DOC}\ntype: VM\nuuid: deadbeef\n"));
    s.xe(&format!("vm-param-get uuid={A}"))
        .fails_with("Required parameter not found: param-name\nFor usage run: 'xe help'\n");
    s.xe("vm-param-get param-name=other-config")
        .fails_with("Required parameter not found: uuid\nFor usage run: 'xe help'\n");
    s.xe(&format!("vm-param-get uuid={A} param-name=other_config"))
        .fails_with("Error code: Missing parameter\nError parameters: other_config\n");
}

#[test]
fn c18_to_c20_param_set_and_minimal_escaping() {
    let s = Scenario::fixture();
    s.xe(&format!(
        "vm-param-set uuid={A} other-config:pci=0/0000:06:00.0,1/0000:07:00.0"
    ))
    .prints("");
    s.xe(&format!(
        "vm-param-get uuid={A} param-name=other-config param-key=pci --minimal"
    ))
    .prints("0/0000:06:00.0\\,1/0000:07:00.0\n");
    s.xe(&format!(
        "vm-param-get uuid={A} param-name=other-config param-key=pci"
    ))
    .prints("0/0000:06:00.0,1/0000:07:00.0\n");
    s.xe(&format!(
        "vm-param-set uuid={A} other-config:pci=0/0000:06:00.0,1/0000:07:00.0 --minimal"
    ))
    .prints("\n");
    // No validation on write: a value xapi will misread is stored as given.
    s.xe_env(
        &[
            "vm-param-set",
            &format!("uuid={A}"),
            "other-config:pci=0/0000:06:00.0, 0/0000:07:00.0",
        ],
        &[],
    )
    .prints("");
    assert_eq!(
        s.vm(A)["other-config"]["pci"],
        "0/0000:06:00.0, 0/0000:07:00.0"
    );
    assert_eq!(s.vm(A)["other-config"]["mac_seed"], "m1");
}

#[test]
fn c21_to_c23_param_set_errors() {
    let s = Scenario::fixture();
    s.xe(&format!("vm-param-set uuid={A} other_config:pci=x"))
        .fails_with("Error: Unknown field 'other_config:pci'\n");
    s.xe("vm-param-set uuid=deadbeef other-config:pci=0/0000:06:00.0")
        .fails_with(&format!("{UUID_DOC}\ntype: VM\nuuid: deadbeef\n"));
    s.xe("vm-param-set other-config:pci=0/0000:06:00.0")
        .fails_with("Required parameter not found: uuid\nFor usage run: 'xe help'\n");
    s.xe(&format!("vm-param-set uuid={A} power-state=running"))
        .fails_with("Error: Field 'power-state' is read-only.\n");
    assert_eq!(s.vm(A)["power-state"], "halted");
}

#[test]
fn c24_param_add_duplicate_key() {
    let s = Scenario::fixture();
    s.xe(&format!(
        "vm-param-add uuid={A} param-name=other-config pci=x"
    ))
    .fails_with(&format!(
        "You tried to add a key-value pair to a map, but that key is already there.\ntype: VM\n\
         param_name: other_config\nuuid: {A} (pt-vm)\nkey: pci\n"
    ));
    s.xe(&format!(
        "vm-param-add uuid={A} param-name=other-config k2=v2"
    ))
    .prints("");
    s.xe(&format!(
        "vm-param-get uuid={A} param-name=other-config param-key=k2"
    ))
    .prints("v2\n");
}

#[test]
fn c25_to_c28_param_remove_and_clear() {
    let s = Scenario::fixture();
    let rm = format!("vm-param-remove uuid={A} param-name=other-config param-key=pci");
    s.xe(&rm).prints("");
    s.xe(&rm).fails_with("Error: Key pci is not in map\n");
    s.xe(&format!("vm-param-remove uuid={A} param-name=other-config"))
        .fails_with("Required parameter not found: param-key\nFor usage run: 'xe help'\n");
    assert_eq!(s.vm(A)["other-config"], json!({"mac_seed": "m1"}));
    s.xe(&format!("vm-param-clear uuid={A} param-name=other-config"))
        .prints("");
    assert_eq!(s.vm(A)["other-config"], json!({}));
}

#[test]
fn c64_typo_in_optional_param_is_ignored() {
    Scenario::fixture()
        .xe(&format!(
            "vm-param-get uuid={A} param-name=other-config param_key=pci"
        ))
        .prints("mac_seed: m1; pci: 0/0000:06:00.0\n");
}

// ---- items 29–37: power operations ----

#[test]
fn c29_vm_start_runs_the_vm() {
    let s = Scenario::fixture();
    s.xe(&format!("vm-start uuid={A}")).prints("");
    s.xe(&format!("vm-param-get uuid={A} param-name=power-state"))
        .prints("running\n");
    s.xe(&format!("vm-param-get uuid={A} param-name=resident-on"))
        .prints(&format!("{H}\n"));
    s.xe(&format!("vm-param-get uuid={A} param-name=dom-id"))
        .prints("2\n");
}

#[test]
fn c30_to_c34_bad_power_states() {
    let s = Scenario::fixture();
    s.xe(&format!("vm-start uuid={B}")).fails_with(&power_err(
        &format!("{B} (web)"),
        "halted",
        "running",
    ));
    let a = format!("{A} (pt-vm)");
    s.xe(&format!("vm-shutdown uuid={A}"))
        .fails_with(&power_err(&a, "running", "halted"));
    s.xe(&format!("vm-shutdown uuid={A} --force"))
        .fails_with(&power_err(&a, "paused, suspended, running", "halted"));
    s.xe(&format!("vm-reboot uuid={A}"))
        .fails_with(&power_err(&a, "running", "halted"));
    s.xe(&format!("vm-reboot uuid={A} --force"))
        .fails_with(&power_err(&a, "paused, running", "halted"));
}

#[test]
fn c35_to_c37_selectors() {
    let s = Scenario::fixture();
    s.xe("vm-shutdown uuid=deadbeef")
        .fails_with("Error: No matching VMs found\n");
    s.xe("vm-shutdown name-label=dup").fails_with(
        "Error: Multiple matches VMs found. --multiple required to complete the operation\n",
    );
    s.xe(&format!("vm-start uuid={A}")).prints("");
    s.xe("vm-shutdown vm=pt-vm").prints("");
    assert_eq!(s.vm(A)["power-state"], "halted");
    // dom0 is never selected for shutdown.
    s.xe(&format!("vm-shutdown uuid={D}"))
        .fails_with("Error: No matching VMs found\n");
}

// ---- items 38–40: vm-migrate ----

#[test]
fn c38_migrate_refused_with_pci_attached() {
    let s = Scenario::with(|v| {
        v["hosts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"uuid": H2, "name-label": "xcp2"}));
    });
    s.xe(&format!("vm-start uuid={A} on=xcp1")).prints("");
    s.xe(&format!("vm-migrate uuid={A} host=xcp2"))
        .fails_with(&format!(
        "This operation could not be performed, because the VM has one or more PCI devices passed \
         through.\nvm: {A} (pt-vm)\n"
    ));
    assert_eq!(s.vm(A)["resident-on"], H);
    // A VM without devices migrates.
    s.xe(&format!("vm-migrate uuid={B} host={H2}")).prints("");
    assert_eq!(s.vm(B)["resident-on"], H2);
}

#[test]
fn c39_c40_migrate_errors() {
    let s = Scenario::fixture();
    s.xe(&format!("vm-migrate uuid={A}"))
        .fails_with("Error: No destination host specified\n");
    s.xe(&format!("vm-migrate uuid={A} host=nohost"))
        .fails_with("Error: Host nohost not found\n");
    s.xe(&format!("vm-migrate uuid={A} host=xcp1"))
        .fails_with(&power_err(&format!("{A} (pt-vm)"), "running", "halted"));
}

// ---- items 41–48: hosts and plugins ----

#[test]
fn c41_c42_host_list() {
    let s = Scenario::fixture();
    s.xe("host-list").prints(&format!(
        "uuid ( RO)                : {H}\n          name-label ( RW): xcp1\n    name-description ( RW): Default install\n\n\n"
    ));
    s.xe("host-list --minimal").prints(&format!("{H}\n"));
}

/// The core `echo` plugin of XCP-ng 8.3 with XenAPIPlugin's dispatch inlined.
const ECHO: &str = r#"#!/usr/bin/python3
import sys, xmlrpc.client
def main(session, args):
    return "args were: %s" % repr(args)
def boom(session, args):
    raise ValueError("bad")
def fail(session, args):
    return ("FAILURE", ["MY_CODE", "a", "b"])
table = {"main": main, "boom": boom, "fail": fail}
params, name = xmlrpc.client.loads(sys.argv[1])
if name not in table:
    print(xmlrpc.client.dumps(({"Status": "Failure", "ErrorDescription": ["UNKNOWN_XENAPI_PLUGIN_FUNCTION", name]},), "", True))
else:
    try:
        r = table[name](params[0], params[1])
        if isinstance(r, tuple):
            print(xmlrpc.client.dumps(({"Status": "Failure", "ErrorDescription": r[1]},), "", True))
        else:
            print(xmlrpc.client.dumps(({"Status": "Success", "Value": r},), "", True))
    except Exception as e:
        print(xmlrpc.client.dumps(({"Status": "Failure", "ErrorDescription": ["XENAPI_PLUGIN_FAILURE", name, e.__class__.__name__, str(e)]},), "", True))
"#;

#[test]
fn c43_to_c48_host_call_plugin() {
    let s = Scenario::fixture();
    s.plugin("echo", ECHO);
    s.xe(&format!(
        "host-call-plugin host-uuid={H} plugin=echo fn=main args:foo=bar"
    ))
    .prints("args were: {'foo': 'bar'}\n");
    s.xe(&format!(
        "host-call-plugin host-uuid={H} plugin=nope fn=main"
    ))
    .fails_with("The requested plug-in could not be found.\nname: nope\n");
    s.xe(&format!(
        "host-call-plugin host-uuid={H} plugin=echo fn=nope"
    ))
    .fails_with("Error code: UNKNOWN_XENAPI_PLUGIN_FUNCTION\nError parameters: nope\n");
    s.xe("host-call-plugin host-uuid=deadbeef plugin=echo fn=main")
        .fails_with(&format!("{UUID_DOC}\ntype: host\nuuid: deadbeef\n"));
    s.xe(&format!("host-call-plugin host-uuid={H} plugin=echo"))
        .fails_with("Required parameter not found: fn\nFor usage run: 'xe help'\n");
    s.xe(&format!(
        "host-call-plugin host-uuid={H} plugin=echo fn=boom"
    ))
    .fails_with(&format!(
        "{PLUGIN_DOC}\nstatus: boom\nstdout: ValueError\nstderr: bad\n"
    ));
    s.xe(&format!(
        "host-call-plugin host-uuid={H} plugin=echo fn=fail"
    ))
    .fails_with("Error code: MY_CODE\nError parameters: a, b\n");
    // The plugin name is a file name, never a path.
    s.xe(&format!(
        "host-call-plugin host-uuid={H} plugin=../plugins/echo fn=main"
    ))
    .fails_with("The requested plug-in could not be found.\nname: ../plugins/echo\n");
}

#[test]
fn plugin_gets_one_xmlrpc_argument_and_only_path() {
    let s = Scenario::with(|v| v["hosts"][0]["plugin-env"] = json!({"XENPCI_ROOT": "/tmp/h1"}));
    let record = s.path("seen");
    s.plugin(
        "spy",
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$#\" \"$1\" > {rec}\nenv | sort >> {rec}\n\
             echo '<methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member>\
             <member><name>Value</name><value>a,b</value></member></struct></value></param></params></methodResponse>'\n",
            rec = record.display()
        ),
    );
    s.xe_env(
        &[
            "host-call-plugin",
            &format!("host-uuid={H}"),
            "plugin=spy",
            "fn=list",
            "args:bdf=0000:06:00.0",
            "args:e=",
        ],
        &[("SECRET_IN_TEST_ENV", "1")],
    )
    .prints("a,b\n");
    let seen = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[0], "1", "exactly one argument");
    assert!(
        lines[1].starts_with(
            "<methodCall><methodName>list</methodName><params><param><value>OpaqueRef:"
        ),
        "{seen}"
    );
    assert!(lines[1].ends_with(
        "</value></param><param><value><struct><member><name>bdf</name><value>0000:06:00.0</value></member>\
         <member><name>e</name><value/></member></struct></value></param></params></methodCall>"
    ));
    assert!(
        seen.contains("PATH=/sbin:/usr/sbin:/bin:/usr/bin\n"),
        "{seen}"
    );
    assert!(seen.contains("XENPCI_ROOT=/tmp/h1\n"), "{seen}");
    assert!(
        !seen.contains("SECRET_IN_TEST_ENV") && !seen.contains("XE_MOCK_STATE"),
        "{seen}"
    );
    // --minimal escapes the result like any list output.
    s.xe(&format!(
        "host-call-plugin host-uuid={H} plugin=spy fn=list --minimal"
    ))
    .prints("a\\,b\n");
}

#[test]
fn plugin_failures_map_to_xapi_errors() {
    let s = Scenario::fixture();
    s.plugin("exit1", "#!/bin/sh\necho out; echo err >&2; exit 1\n");
    s.xe(&format!("host-call-plugin host-uuid={H} plugin=exit1 fn=f"))
        .fails_with(&format!(
            "{PLUGIN_DOC}\nstatus: non-zero exit\nstdout: out\n\nstderr: err\n\n"
        ));
    s.plugin("garbage", "#!/bin/sh\necho 'starting up'\n");
    let r = s.xe(&format!(
        "host-call-plugin host-uuid={H} plugin=garbage fn=f"
    ));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with(&format!(
            "{PLUGIN_DOC}\nstatus: failed to parse plugin output\nstdout: starting up\n\nstderr: "
        )),
        "{}",
        r.stderr
    );
    s.plugin("fault", "#!/bin/sh\necho '<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>7</int></value></member><member><name>faultString</name><value>no</value></member></struct></value></fault></methodResponse>'\n");
    s.xe(&format!("host-call-plugin host-uuid={H} plugin=fault fn=f"))
        .fails_with(&format!(
            "{PLUGIN_DOC}\nstatus: fault\nstdout: 7\nstderr: no\n"
        ));
    s.plugin("slow", "#!/bin/sh\nexec sleep 30\n");
    s.xe_env(
        &[
            "host-call-plugin",
            &format!("host-uuid={H}"),
            "plugin=slow",
            "fn=f",
        ],
        &[("XE_MOCK_PLUGIN_TIMEOUT_MS", "200")],
    )
    .fails_with(&format!(
        "{PLUGIN_DOC}\nstatus: signal: SIGKILL\nstdout: \nstderr: \n"
    ));
}

// ---- items 49–59: PCI objects and dom0 access ----

#[test]
fn c49_c51_pci_list() {
    let s = Scenario::fixture();
    s.xe("pci-list").prints(&format!(
        "uuid ( RO)           : {P}\n    vendor-name ( RO): Intel Corporation\n    device-name ( RO): I210 Gigabit \
         Network Connection\n         pci-id ( RO): 0000:06:00.0\n\n\n"
    ));
    s.xe("pci-list pci-id=0000:06:00.0 --minimal")
        .prints(&format!("{P}\n"));
    s.xe(&format!("pci-param-list uuid={P}")).prints(&format!(
        "uuid ( RO)               : {P}\n        vendor-name ( RO): Intel Corporation\n        device-name ( RO): \
         I210 Gigabit Network Connection\n        driver-name ( RO): igb\n          host-uuid ( RO): {H}\n    \
         host-name-label ( RO): xcp1\n             pci-id ( RO): 0000:06:00.0\n       dependencies (SRO): \n       \
         other-config (MRW): \n\n\n"
    ));
}

#[test]
fn c50_c59_no_pci_api_on_8_2() {
    let s = Scenario::with(|v| v["xcp-ng-version"] = json!("8.2"));
    s.xe("pci-list")
        .fails_with("Unknown command: pci-list\nFor usage run: 'xe help'\n");
    s.xe(&format!("pci-get-dom0-access-status uuid={P}"))
        .fails_with("Unknown command: pci-get-dom0-access-status\nFor usage run: 'xe help'\n");
}

#[test]
fn c52_to_c57_dom0_access() {
    let s = Scenario::fixture();
    let status = format!("pci-get-dom0-access-status uuid={P}");
    s.xe(&status).prints("enabled\n");
    s.xe(&format!("pci-disable-dom0-access uuid={P}"))
        .prints("disable_on_reboot\n");
    assert_eq!(s.state()["hosts"][0]["hide-configured"], "(0000:06:00.0)");
    // Host reboot: the booted command line now has the configured value.
    let mut st = s.state();
    st["hosts"][0]["hide-booted"] = json!("(0000:06:00.0)");
    s.set_state(&st);
    s.xe(&status).prints("disabled\n");
    s.xe(&format!("pci-enable-dom0-access uuid={P}"))
        .prints("enable_on_reboot\n");
    assert_eq!(s.state()["hosts"][0]["hide-configured"], Value::Null);
    s.xe(&format!("{status} --minimal")).prints("\n");
    s.xe("pci-disable-dom0-access uuid=deadbeef")
        .fails_with(&format!("{UUID_DOC}\ntype: PCI\nuuid: deadbeef\n"));
}

#[test]
fn disable_prepends_to_the_reversed_list() {
    let s = Scenario::with(|v| {
        v["hosts"][0]["hide-configured"] = json!("(0000:01:00.0)(0000:02:00.0)")
    });
    s.xe(&format!("pci-disable-dom0-access uuid={P}"))
        .prints("disable_on_reboot\n");
    assert_eq!(
        s.state()["hosts"][0]["hide-configured"],
        "(0000:06:00.0)(0000:02:00.0)(0000:01:00.0)"
    );
}

#[test]
fn c58_short_form_hide_entry_breaks_the_pci_api() {
    let s = Scenario::with(|v| v["hosts"][0]["hide-configured"] = json!("(06:00.0)"));
    s.xe(&format!("pci-get-dom0-access-status uuid={P}")).fails_with(&format!(
        "{INTERNAL_DOC}\nmessage: Stdlib.Scanf.Scan_failure(\"scanf: bad input at char number 6: looking for ':', found '.'\")\n"
    ));
}

// ---- items 60–63: syntax ----

#[test]
fn c60_to_c63_syntax_and_usage() {
    let s = Scenario::fixture();
    s.xe("vm-foo")
        .fails_with("Unknown command: vm-foo\nFor usage run: 'xe help'\n");
    s.xe(&format!("uuid={A}"))
        .fails_with("Syntax error: \nFor usage run: 'xe help'\n");
    s.xe("vm-list -x")
        .fails_with("Syntax error: \nFor usage run: 'xe help'\n");
    let r = s.xe("");
    assert_eq!((r.stdout.as_str(), r.code), ("", 0));
    assert!(
        r.stderr.starts_with(&format!(
            "Usage:\n  {} <command>\n",
            xenpci_testkit::bins::xe()
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn version_says_it_is_the_mock() {
    let r = Scenario::fixture().xe("--version");
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.starts_with("mock-xe ") && r.stdout.contains("not the real xe"),
        "{}",
        r.stdout
    );
    Scenario::fixture()
        .xe("-version")
        .prints("ThinCLI protocol: 0.2\n");
}

// ---- xenopsd behaviour of vm-start (xapi-xe.md §1.2–1.4) ----

/// A host whose SATA controller carries dom0's root disk.
fn harm_fixture() -> Scenario {
    Scenario::with(|v| {
        v["hosts"][0]["devices"].as_array_mut().unwrap().extend([
            json!({"bdf": "0000:00:1f.2", "uuid": "c0ffee00-0000-4000-8000-000000000011", "class": "0106",
                   "driver": "ahci", "critical": true}),
            json!({"bdf": "0000:07:00.0", "driver": "pciback"}),
        ]);
    })
}

#[test]
fn start_takes_devices_from_dom0_drivers_and_records_the_harm() {
    let s = harm_fixture();
    s.xe(&format!(
        "vm-param-set uuid={A} other-config:pci=0/0000:06:00.0,1/0000:00:1f.2,2/0000:07:00.0"
    ))
    .prints("");
    s.xe(&format!("vm-start uuid={A}")).prints("");
    let st = s.state();
    assert_eq!(
        st["hosts"][0]["taken_from_dom0"],
        json!([
            {"bdf": "0000:06:00.0", "driver": "igb", "critical": false, "vm": A},
            {"bdf": "0000:00:1f.2", "driver": "ahci", "critical": true, "vm": A}
        ])
    );
    let drivers: Vec<&Value> = st["hosts"][0]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["driver"])
        .collect();
    assert_eq!(
        drivers,
        [&json!("pciback"), &json!("pciback"), &json!("pciback")]
    );
    assert_eq!(
        s.vm(A)["attached-pcis"],
        json!(["0000:06:00.0", "0000:00:1f.2", "0000:07:00.0"])
    );
}

#[test]
fn start_reads_other_config_pci_like_xapi() {
    let s = harm_fixture();
    // Comma+space: the second device is silently dropped; same group: reverse order.
    s.xe_env(
        &[
            "vm-param-set",
            &format!("uuid={A}"),
            "other-config:pci=0/0000:06:00.0, 0/0000:07:00.0",
        ],
        &[],
    )
    .prints("");
    s.xe(&format!("vm-start uuid={A}")).prints("");
    assert_eq!(s.vm(A)["attached-pcis"], json!(["0000:06:00.0"]));
    s.xe(&format!("vm-shutdown uuid={A}")).prints("");
    assert_eq!(s.vm(A)["attached-pcis"], json!([]));
    s.xe(&format!(
        "vm-param-set uuid={A} other-config:pci=0/0000:06:00.0,0/0000:07:00.0"
    ))
    .prints("");
    s.xe(&format!("vm-start uuid={A}")).prints("");
    assert_eq!(
        s.vm(A)["attached-pcis"],
        json!(["0000:07:00.0", "0000:06:00.0"])
    );
}

#[test]
fn start_fails_without_pciback_and_leaves_the_vm_halted() {
    let s = Scenario::with(|v| v["hosts"][0]["pciback-loaded"] = json!(false));
    s.xe(&format!("vm-start uuid={A}")).fails_with(&format!(
        "{INTERNAL_DOC}\nmessage: pciback has not loaded\n"
    ));
    assert_eq!(s.vm(A)["power-state"], "halted");
    assert_eq!(
        s.vm(A)["other-config"],
        json!({"mac_seed": "m1", "pci": "0/0000:06:00.0"})
    );
    assert_eq!(s.state()["hosts"][0]["devices"][0]["driver"], "igb");
    // A VM without devices does not need pciback.
    s.xe(&format!(
        "vm-param-remove uuid={A} param-name=other-config param-key=pci"
    ))
    .prints("");
    s.xe(&format!("vm-start uuid={A}")).prints("");
}

#[test]
fn start_refuses_a_device_in_use_and_a_missing_device() {
    let s = harm_fixture();
    s.xe(&format!(
        "vm-param-set uuid={C} other-config:pci=0/0000:06:00.0"
    ))
    .prints("");
    s.xe(&format!("vm-start uuid={A}")).prints("");
    let r = s.xe(&format!("vm-start uuid={C}"));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with(&format!(
            "{INTERNAL_DOC}\nmessage: xenopsd internal error: Cannot_add(0000:06:00.0,"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(s.vm(C)["power-state"], "halted");
    s.xe(&format!(
        "vm-param-set uuid={E} other-config:pci=0/0000:0a:00.0"
    ))
    .prints("");
    let r = s.xe(&format!("vm-start uuid={E}"));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with(&format!(
            "{INTERNAL_DOC}\nmessage: xenopsd internal error: "
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn reboot_picks_up_a_changed_pci_list() {
    let s = harm_fixture();
    s.xe(&format!("vm-start uuid={A}")).prints("");
    s.xe(&format!(
        "vm-param-set uuid={A} other-config:pci=0/0000:07:00.0"
    ))
    .prints("");
    assert_eq!(
        s.vm(A)["attached-pcis"],
        json!(["0000:06:00.0"]),
        "never hot-plugged"
    );
    s.xe(&format!("vm-reboot uuid={A}")).prints("");
    assert_eq!(s.vm(A)["attached-pcis"], json!(["0000:07:00.0"]));
}

// ---- the mock's hooks ----

#[test]
fn injected_fault_fails_the_nth_call_only() {
    let s = Scenario::fixture();
    let env = [(
        "XE_MOCK_FAIL",
        "vm-start:2=VM_BAD_POWER_STATE,x,halted,running",
    )];
    s.xe_env(&["vm-start", &format!("uuid={A}")], &env)
        .prints("");
    s.xe_env(&["vm-shutdown", &format!("uuid={A}")], &env)
        .prints("");
    s.xe_env(&["vm-start", &format!("uuid={A}")], &env)
        .fails_with(&power_err("x", "halted", "running"));
    assert_eq!(
        s.vm(A)["power-state"],
        "halted",
        "a failed call changes nothing"
    );
    s.xe_env(&["vm-start", &format!("uuid={A}")], &env)
        .prints("");
    let r = s.xe_env(&["vm-list"], &[("XE_MOCK_FAIL", "vm-list")]);
    assert_eq!(r.code, 2, "a malformed hook is the mock's error: {r:?}");
    assert!(r.stderr.contains("XE_MOCK_FAIL"), "{}", r.stderr);
}

#[test]
fn call_log_is_shell_quoted() {
    let s = Scenario::fixture();
    s.xe_env(
        &[
            "vm-param-set",
            &format!("uuid={A}"),
            "other-config:pci=0/0000:06:00.0, 0/0000:07:00.0",
        ],
        &[],
    )
    .prints("");
    s.xe_env(
        &["vm-list", "--minimal"],
        &[("XE_MOCK_LATENCY_MS", "vm-list=20,5")],
    )
    .prints(&format!("{A},{D},{B},{C},{E}\n"));
    let log = std::fs::read_to_string(s.path("log")).unwrap();
    assert_eq!(log, format!("xe vm-param-set uuid={A} 'other-config:pci=0/0000:06:00.0, 0/0000:07:00.0'\nxe vm-list --minimal\n"));
}

#[test]
fn concurrent_calls_do_not_lose_updates() {
    let s = Scenario::fixture();
    let children: Vec<_> = (0..12)
        .map(|i| {
            s.command(
                &[
                    "vm-param-add",
                    &format!("uuid={A}"),
                    "param-name=other-config",
                    &format!("k{i}=v{i}"),
                ],
                &[],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let oc = s.vm(A)["other-config"].as_object().unwrap().clone();
    assert_eq!(oc.len(), 14, "{oc:?}");
}

#[test]
fn broken_state_is_the_mocks_error_not_xes() {
    let s = Scenario::fixture();
    std::fs::write(s.path("state.json"), "{").unwrap();
    let r = s.xe("vm-list");
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("mock-xe: state file "), "{}", r.stderr);
}

// ---- mock-only host reboot: the seed-000 flow end to end ----

#[test]
fn seed_000_flow_hide_reboot_assign_start() {
    let s = harm_fixture();
    s.xe(&format!("pci-disable-dom0-access uuid={P}"))
        .prints("disable_on_reboot\n");
    s.xe(&format!("mock-host-reboot host-uuid={H}")).prints("");
    s.xe(&format!("pci-get-dom0-access-status uuid={P}"))
        .prints("disabled\n");
    assert_eq!(s.state()["hosts"][0]["devices"][0]["driver"], "pciback");
    assert_eq!(
        s.vm(B)["power-state"],
        "halted",
        "the reboot stopped the running VM"
    );
    assert_eq!(s.vm(D)["power-state"], "running");
    s.xe(&format!(
        "vm-param-set other-config:pci=0/0000:06:00.0 uuid={A}"
    ))
    .prints("");
    s.xe(&format!("vm-start uuid={A}")).prints("");
    assert_eq!(
        s.state()["hosts"][0]["taken_from_dom0"],
        json!([]),
        "a hidden device harms nothing"
    );
    // Unhide and reboot again: dom0's driver (learnt or configured) gets the device back.
    s.xe(&format!("pci-enable-dom0-access uuid={P}"))
        .prints("enable_on_reboot\n");
    s.xe(&format!("mock-host-reboot host-uuid={H}")).prints("");
    assert_eq!(s.state()["hosts"][0]["devices"][0]["driver"], "igb");
    s.xe(&format!("pci-get-dom0-access-status uuid={P}"))
        .prints("enabled\n");
}

#[test]
fn malformed_hide_value_leaves_pciback_unloaded_after_reboot() {
    let s = Scenario::with(|v| {
        v["hosts"][0]["hide-configured"] = json!("(0000:06.00.0)");
        v["hosts"][0]["devices"][0]["dom0-driver"] = json!("igb");
    });
    s.xe(&format!("mock-host-reboot host-uuid={H}")).prints("");
    assert_eq!(s.state()["hosts"][0]["pciback-loaded"], false);
    assert_eq!(s.state()["hosts"][0]["devices"][0]["driver"], "igb");
    s.xe(&format!("vm-start uuid={A}")).fails_with(&format!(
        "{INTERNAL_DOC}\nmessage: pciback has not loaded\n"
    ));
    s.xe(&format!("mock-host-reboot host-uuid={C}"))
        .fails_with(&format!("{UUID_DOC}\ntype: host\nuuid: {C}\n"));
}

#[test]
fn no_iommu_fails_a_start_with_passthrough() {
    let s = Scenario::with(|v| {
        v["hosts"][0]["iommu"] = json!(false);
        v["vms"][3]["hvm"] = json!(false);
        v["vms"][3]["other-config"] = json!({"pci": ""});
    });
    let no_iommu = format!("{INTERNAL_DOC}\nmessage: xenopsd internal error: Invalid_argument(\"IOMMU unavailable\")\n");
    s.xe(&format!("vm-start uuid={A}")).fails_with(&no_iommu);
    // PV: the mere presence of the key (even empty) turns passthrough on.
    s.xe(&format!("vm-start uuid={C}")).fails_with(&no_iommu);
    s.xe(&format!("vm-start uuid={E}")).prints("");
}

#[test]
fn multiple_reports_each_failure_on_stdout() {
    let s = Scenario::with(|v| v["vms"][4]["power-state"] = json!("running"));
    let r = s.xe("vm-start name-label=dup --multiple");
    r.is(
        &format!(
            "operation failed on {E}: {}",
            power_err(&format!("{E} (dup)"), "halted", "running")
        ),
        "",
        1,
    );
    assert_eq!(s.vm(C)["power-state"], "running", "the other VM started");
}

#[test]
fn param_forms_and_map_order() {
    let s = Scenario::fixture();
    // Legacy `map-key=value` form; a new key goes to the front of the map (DB add_to_map).
    s.xe(&format!(
        "vm-param-set uuid={B} other-config-pci=0/0000:06:00.0"
    ))
    .prints("");
    s.xe(&format!("vm-param-set uuid={A} other-config:zz=1"))
        .prints("");
    s.xe(&format!("vm-param-get uuid={A} param-name=other-config"))
        .prints("zz: 1; mac_seed: m1; pci: 0/0000:06:00.0\n");
    s.xe(&format!(
        "vm-param-get uuid={B} param-name=other-config param-key=pci"
    ))
    .prints("0/0000:06:00.0\n");
    s.xe(&format!(
        "host-param-get uuid={H} param-name=software-version param-key=product_version"
    ))
    .prints("8.3.0\n");
    s.xe(&format!("vm-list uuid={A} params=other-config"))
        .prints("other-config (MRW)    : zz: 1; mac_seed: m1; pci: 0/0000:06:00.0\n\n\n");
}

#[test]
fn plugin_args_from_a_file() {
    let s = Scenario::fixture();
    s.plugin("echo", ECHO);
    std::fs::write(s.path("val.txt"), "from file").unwrap();
    let file_arg = format!("args:k:file={}", s.path("val.txt").display());
    s.xe_env(
        &[
            "host-call-plugin",
            &format!("host-uuid={H}"),
            "plugin=echo",
            "fn=main",
            &file_arg,
        ],
        &[],
    )
    .prints("args were: {'k': 'from file'}\n");
}

#[test]
fn plugin_may_call_back_into_xe() {
    let s = Scenario::fixture();
    // The plugin reads the same pool: its host's plugin-env names the mock and the state.
    let mut st = s.state();
    st["hosts"][0]["plugin-env"] =
        json!({"XE": xenpci_testkit::bins::xe(), "XE_MOCK_STATE": s.path("state.json")});
    s.set_state(&st);
    s.plugin(
        "back",
        "#!/bin/sh\nv=$(\"$XE\" vm-list name-label=web --minimal)\n\
         printf '<methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value>\
         </member><member><name>Value</name><value>%s</value></member></struct></value></param></params></methodResponse>' \"$v\"\n",
    );
    s.xe(&format!("host-call-plugin host-uuid={H} plugin=back fn=f"))
        .prints(&format!("{B}\n"));
}

#[test]
fn real_commands_outside_the_mock_are_the_mocks_error() {
    let r = Scenario::fixture().xe(&format!("vm-suspend uuid={B}"));
    assert_eq!((r.stdout.as_str(), r.code), ("", 2));
    assert_eq!(
        r.stderr,
        "mock-xe: `vm-suspend` is a real xe command the mock does not emulate\n"
    );
}
