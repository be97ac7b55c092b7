//! The XAPI host plugin driven through the real protocol: Python's `xmlrpc.client` builds each
//! call exactly as a request body, the plugin binary runs with only PATH in its environment (as
//! under xapi), and the same library parses its response. Malformed XML, wrong types, huge values
//! and unknown functions must all come back as proper Failure responses.

use std::process::Command;

use serde_json::Value;
use xenpci_testkit::cli::Cli;

fn plugin() -> &'static str {
    xenpci_testkit::bins::plugin_str()
}

/// Runs tests/plugin/xmlrpc_call.py with these arguments and returns its JSON verdict.
fn call(args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut c = Command::new("python3");
    c.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/plugin/xmlrpc_call.py"
    ))
    .arg(plugin())
    .args(args);
    for (k, v) in env {
        c.env(format!("PLUGIN_PASS_{k}"), v);
    }
    let out = c
        .output()
        .expect("python3 must be installed (tests/run.sh installs it)");
    assert!(
        out.status.success(),
        "driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("driver prints JSON");
    assert_eq!(v["exit"], 0, "the plugin must always exit 0: {v}");
    assert_eq!(
        v["parse_error"],
        Value::Null,
        "response must be valid XML-RPC: {v}"
    );
    v
}

fn failure_code(v: &Value) -> String {
    assert_eq!(v["status"], "Failure", "{v}");
    v["error"][0].as_str().unwrap().to_string()
}

#[test]
fn version_answers_with_a_json_string() {
    let v = call(&["version"], &[]);
    assert_eq!(v["status"], "Success", "{v}");
    let j: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    assert_eq!(j["name"], "xenpci");
    assert!(j["functions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "version"));
}

#[test]
fn unknown_function_is_xenapiplugins_failure() {
    let v = call(&["no_such_fn"], &[]);
    assert_eq!(failure_code(&v), "UNKNOWN_XENAPI_PLUGIN_FUNCTION");
    assert_eq!(v["error"][1], "no_such_fn");
}

#[test]
fn unknown_argument_is_refused_by_name() {
    let v = call(&["version", "verbose=1"], &[]);
    assert_eq!(failure_code(&v), "XENPCI_INVALID_ARGUMENT");
    assert!(
        v["error"][1].as_str().unwrap().contains("\"verbose\""),
        "{v}"
    );
}

#[test]
fn malformed_xml_wrong_types_and_wrong_argv_fail_cleanly() {
    for raw in [
        "<methodCall><methodName>version</methodName>",
        "not xml at all",
        "<methodCall><methodName>version</methodName><params></params></methodCall>",
        "",
    ] {
        let v = call(&["--raw", raw], &[]);
        assert_eq!(failure_code(&v), "XENPCI_BAD_CALL", "{raw}: {v}");
        assert!(!v["error"][1].as_str().unwrap().is_empty());
    }
    let v = call(&["--typed", "version", "count=3"], &[]);
    assert_eq!(failure_code(&v), "XENPCI_BAD_CALL");
    assert!(v["error"][1].as_str().unwrap().contains("<int>"), "{v}");
}

#[test]
fn a_method_name_with_control_characters_gets_a_well_formed_reply() {
    // Raw control characters and character references to ones XML 1.0 cannot carry: the name
    // is echoed in the Failure, and `call` checks the reply with Python's XML-RPC parser.
    for name in [
        "ver\u{1}sion\u{1b}[31m",
        "v&#1;&#x1B;&#xFFFF;\r",
        "\u{7f}\u{8}",
    ] {
        let raw = format!(
            "<methodCall><methodName>{name}</methodName><params><param><value>s</value></param>\
             <param><value><struct></struct></value></param></params></methodCall>"
        );
        let v = call(&["--raw", &raw], &[]);
        assert_eq!(failure_code(&v), "UNKNOWN_XENAPI_PLUGIN_FUNCTION", "{v}");
        assert!(v["error"][1].as_str().unwrap().contains("\\u{"), "{v}");
    }
}

#[test]
fn a_non_utf8_argv_gets_a_well_formed_failure() {
    use std::os::unix::ffi::OsStrExt;
    let out = Command::new(plugin())
        .arg(std::ffi::OsStr::from_bytes(
            b"<methodCall>\xff</methodCall>",
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let mut check = Command::new("python3")
        .args([
            "-c",
            "import sys, xmlrpc.client\n\
             (r,), _ = xmlrpc.client.loads(sys.stdin.read())\n\
             print(r['Status'], *r['ErrorDescription'], sep='|')",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    check.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let parsed = check.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&parsed.stdout);
    assert!(parsed.status.success(), "not XML-RPC: {:?}", out.stdout);
    assert!(
        text.starts_with("Failure|XENPCI_BAD_CALL|argument 1 is not valid UTF-8"),
        "{text}"
    );
}

#[test]
fn huge_values_are_handled_without_crashing() {
    // One argv string is capped at 128 KiB by Linux (MAX_ARG_STRLEN), so xapi can pass no more.
    let big = format!("bdf={}", "a".repeat(120_000));
    let v = call(&["version", &big], &[]);
    assert_eq!(failure_code(&v), "XENPCI_INVALID_ARGUMENT");
}

#[test]
fn no_argv_at_all_is_a_failure_response() {
    let out = Command::new(plugin()).env_clear().output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.contains("<string>Failure</string>") && s.contains("XENPCI_BAD_CALL"),
        "{s}"
    );
}

fn demo_root() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/demo/x9drw").to_string()
}

#[test]
fn list_returns_the_same_array_as_the_cli() {
    let root = demo_root();
    let v = call(&["list"], &[("XENPCI_ROOT", &root)]);
    assert_eq!(v["status"], "Success", "{v}");
    let plugin: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    let cli = Cli::xenpci()
        .into_command()
        .args(["--root", &root, "list", "--json"])
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(plugin, cli);
    let hba = plugin
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["bdf"] == "0000:05:00.0")
        .unwrap();
    assert_eq!(hba["device_id"], "0087");
    // filters use lspci's -d syntax, as on the CLI
    let v = call(&["list", "filter=1000::0107"], &[("XENPCI_ROOT", &root)]);
    let only: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    assert_eq!(only.as_array().unwrap().len(), 1, "{only}");
    let v = call(&["list", "filter=zz:"], &[("XENPCI_ROOT", &root)]);
    assert_eq!(failure_code(&v), "XENPCI_INVALID_ARGUMENT");
    // and slots lspci's -s syntax, the same selection as the CLI's
    let v = call(
        &["list", "slot=02:", "filter=8086:"],
        &[("XENPCI_ROOT", &root)],
    );
    let sel: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    let cli = Cli::xenpci()
        .into_command()
        .args([
            "--root", &root, "list", "--json", "-s", "02:", "-d", "8086:",
        ])
        .output()
        .unwrap();
    assert_eq!(sel, serde_json::from_slice::<Value>(&cli.stdout).unwrap());
    assert_eq!(sel.as_array().unwrap().len(), 2, "{sel}");
    let v = call(&["list", "slot=02:zz"], &[("XENPCI_ROOT", &root)]);
    assert_eq!(failure_code(&v), "XENPCI_INVALID_ARGUMENT");
}

/// A device given twice is planned once, by the plugin as by the CLI (the policy keeps each
/// device once; the CLI no longer de-duplicates on its own).
#[test]
fn a_device_given_twice_is_planned_once() {
    let root = tempfile::tempdir().unwrap();
    let src = demo_root();
    let copy = root.path().join("r");
    assert!(Command::new("cp")
        .args(["-a", &src])
        .arg(&copy)
        .status()
        .unwrap()
        .success());
    let env = [("XENPCI_ROOT", copy.to_str().unwrap())];
    let plan = |bdf: &str| {
        let v = call(
            &[
                "hide",
                bdf,
                "dry_run=true",
                "persistent=true",
                "method=grub",
            ],
            &env,
        );
        assert_eq!(v["status"], "Success", "{v}");
        let doc: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
        doc["plan"].clone()
    };
    let twice = plan("bdf=05:00.0,0000:05:00.0");
    assert_eq!(twice, plan("bdf=05:00.0"));
    assert!(twice.to_string().contains("(0000:05:00.0)"), "{twice}");
}

#[test]
fn check_reports_the_critical_controller_and_the_passable_hba() {
    let root = demo_root();
    let v = call(&["check", "bdf=05:00.0,00:1f.2"], &[("XENPCI_ROOT", &root)]);
    assert_eq!(v["status"], "Success", "{v}");
    let doc: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    assert_eq!(doc["passable"], false);
    assert_eq!(doc["devices"][0]["bdf"], "0000:05:00.0");
    assert_eq!(doc["devices"][0]["passable"], true);
    assert_eq!(doc["devices"][1]["passable"], false);
    // No bdf: the host check (as the CLI's `check` with no device).
    let v = call(&["check"], &[("XENPCI_ROOT", &root)]);
    let doc: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    assert_eq!(
        (doc["toolstack"].as_str(), &doc["pciback"]),
        (Some("xapi"), &Value::Bool(false)),
        "{doc}"
    );
    for (args, code, needle) in [
        (
            vec!["check", "bdf=05:00"],
            "XENPCI_INVALID_ARGUMENT",
            "\"05:00\"",
        ),
        (vec!["check", "bdf="], "XENPCI_INVALID_ARGUMENT", "is empty"),
    ] {
        let v = call(&args, &[("XENPCI_ROOT", &root)]);
        assert_eq!(failure_code(&v), code, "{args:?}: {v}");
        assert!(v["error"][1].as_str().unwrap().contains(needle), "{v}");
    }
}

#[test]
fn hide_refuses_dom0s_disk_controller_with_the_reason() {
    let root = demo_root();
    let v = call(
        &["hide", "bdf=00:1f.2", "dry_run=true"],
        &[("XENPCI_ROOT", &root)],
    );
    // A refusal is its own fault, with the override spelt as the plugin's argument.
    assert_eq!(failure_code(&v), "XENPCI_REFUSED");
    let msg = v["error"][1].as_str().unwrap();
    assert!(
        msg.contains("0000:00:1f.2") && msg.contains("holds /") && msg.contains("force=true"),
        "{msg}"
    );
    assert!(!msg.contains("--force"), "{msg}");
}

#[test]
fn hide_then_hidden_then_unhide_through_the_plugin() {
    // A copy of the demo host whose pciback is a module configured through modprobe.d.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("host");
    let ok = Cli::xenpci()
        .into_command()
        .args(["demo", "--write"])
        .arg(&root)
        .status()
        .unwrap();
    assert!(ok.success());
    std::fs::create_dir_all(root.join("etc/modprobe.d")).unwrap();
    let r = root.to_str().unwrap();
    let env = [("XENPCI_ROOT", r)];
    let args = ["hide", "bdf=05:00.0", "method=modprobe", "persistent=true"];
    // dry run: the plan, nothing written
    let mut dry = args.to_vec();
    dry.push("dry_run=yes");
    let v = call(&dry, &env);
    assert_eq!(v["status"], "Success", "{v}");
    let out: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    assert_eq!(out["dry_run"], true);
    assert_eq!(out["result"], Value::Null);
    assert!(
        out["plan"].to_string().contains("hide=(0000:05:00.0)"),
        "{out}"
    );
    assert!(!root.join("etc/modprobe.d/xen-pciback.conf").exists());
    // for real
    let v = call(&args, &env);
    assert_eq!(v["status"], "Success", "{v}");
    let conf = std::fs::read_to_string(root.join("etc/modprobe.d/xen-pciback.conf")).unwrap();
    assert!(
        conf.contains("options xen-pciback hide=(0000:05:00.0)"),
        "{conf}"
    );
    // The hide recorded the device's identity; verify (through xapi's XML-RPC) finds it in place.
    let v = call(&["verify", "dry_run=true"], &env);
    assert_eq!(v["status"], "Success", "{v}");
    let ver: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    assert_eq!(ver["devices"][0]["bdf"], "0000:05:00.0", "{ver}");
    assert_eq!(ver["devices"][0]["location"]["state"], "same", "{ver}");
    // export, then apply of what it wrote: nothing to change.
    let v = call(&["export"], &env);
    assert_eq!(v["status"], "Success", "{v}");
    let text: String = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    assert!(text.contains("hidden = true"), "{text}");
    let file = dir.path().join("desired.toml");
    std::fs::write(&file, &text).unwrap();
    let arg = format!("path={}", file.display());
    let v = call(&["apply", &arg], &env);
    assert_eq!(v["status"], "Success", "{v}");
    let applied: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    assert_eq!(applied["changed"], false, "{applied}");
    let v = call(&["apply"], &env);
    assert_eq!(v["error"][0], "XENPCI_INVALID_ARGUMENT", "{v}");
    let v = call(&["verify", "repair=maybe"], &env);
    assert_eq!(v["status"], "Failure", "{v}");
    assert_eq!(v["error"][0], "XENPCI_INVALID_ARGUMENT", "{v}");
    let v = call(&["hidden", "method=modprobe"], &env);
    let h: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    let dev = h["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["bdf"] == "0000:05:00.0")
        .unwrap();
    assert_eq!(dev["hidden_next_boot"], true, "{h}");
    assert_eq!(dev["status"], "reboot pending", "{h}");
    let v = call(
        &["unhide", "bdf=05:00.0", "method=modprobe", "persistent=1"],
        &env,
    );
    assert_eq!(v["status"], "Success", "{v}");
    let conf =
        std::fs::read_to_string(root.join("etc/modprobe.d/xen-pciback.conf")).unwrap_or_default();
    assert!(!conf.contains("0000:05:00.0"), "{conf}");
    // bad flags and methods are named
    let v = call(&["hide", "bdf=05:00.0", "dry_run=maybe"], &env);
    assert!(v["error"][1].as_str().unwrap().contains("dry_run"), "{v}");
    let v = call(&["hide", "bdf=05:00.0", "method=lilo"], &env);
    assert!(v["error"][1].as_str().unwrap().contains("lilo"), "{v}");
}

#[test]
fn attach_and_detach_through_the_plugin_drive_xl() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("xl.json");
    std::fs::write(
        &state,
        serde_json::json!({"hosts": {"h1": {
            "devices": [{"bdf": "0000:03:00.0", "driver": "pciback"},
                        {"bdf": "0000:00:1f.3", "driver": "i801_smbus"}],
            "domains": [{"domid": 1, "name": "domU", "type": "pv", "memory": 256, "maxmem": 256,
                         "vcpus": 1, "passthrough": "sync_pt", "pci": []}],
            "next-domid": 2}}})
        .to_string(),
    )
    .unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let env = [
        ("XENPCI_XL", xenpci_testkit::bins::xl()),
        ("XL_MOCK_STATE", state.to_str().unwrap()),
        ("XENPCI_ROOT", root.to_str().unwrap()),
        ("XENPCI_NO_XENSTORE", "1"),
    ];
    let v = call(
        &["attach", "domain=domU", "spec=0000:03:00.0,permissive=1"],
        &env,
    );
    assert_eq!(v["status"], "Success", "{v}");
    let r: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    assert_eq!(r["devices"][0], "0000:03:00.0");
    assert_eq!(r["verified_by"], "xl-pci-list", "{r}");
    let st: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(
        st["hosts"]["h1"]["domains"][0]["pci"][0]["bdf"], "0000:03:00.0",
        "{st}"
    );
    // a device dom0 still drives is refused before xl is asked
    let v = call(&["attach", "domain=domU", "spec=00:1f.3"], &env);
    assert_eq!(failure_code(&v), "XENPCI_REFUSED");
    assert!(
        v["error"][1].as_str().unwrap().contains("0000:00:1f.3"),
        "{v}"
    );
    // malformed spec and missing arguments are named
    let v = call(
        &["attach", "domain=domU", "spec=01:00.0, permissive=1"],
        &env,
    );
    assert!(
        v["error"][1].as_str().unwrap().contains("PCI_SPEC_STRING"),
        "{v}"
    );
    let v = call(&["attach", "spec=03:00.0"], &env);
    assert_eq!(failure_code(&v), "XENPCI_MISSING_ARGUMENT");
    let v = call(&["detach", "domain=domU", "bdf=03:00.0"], &env);
    assert_eq!(v["status"], "Success", "{v}");
    let st: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(
        st["hosts"]["h1"]["domains"][0]["pci"],
        serde_json::json!([]),
        "{st}"
    );
    // Again: nothing to do, a success saying so (as the CLI's exit 0).
    let v = call(&["detach", "domain=domU", "bdf=03:00.0"], &env);
    assert_eq!(v["status"], "Success", "{v}");
    let r: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    assert_eq!(r["nothing_to_do"], true, "{r}");
}

/// `fn=help` lists every function with its arguments; each listed argument is accepted, an
/// unlisted one is refused naming the listed ones, and docs/plugin.md documents every function
/// and argument with a working `xe host-call-plugin` line.
#[test]
fn help_lists_every_function_and_argument_and_the_doc_names_them_all() {
    let v = call(&["help"], &[]);
    assert_eq!(v["status"], "Success", "{v}");
    let help: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    let version = call(&["version"], &[]);
    let version: Value = serde_json::from_str(version["value"].as_str().unwrap()).unwrap();
    let names: Vec<&str> = help
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    let functions: Vec<&str> = version["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(names, functions);
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/plugin.md")).unwrap();
    for h in help.as_array().unwrap() {
        let name = h["name"].as_str().unwrap();
        let section = doc
            .split(&format!("\n## {name}\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("docs/plugin.md has no section for {name}"));
        let section = section.split("\n## ").next().unwrap();
        assert!(
            section.contains(&format!("plugin=xenpci fn={name}")),
            "no xe host-call-plugin line for {name}"
        );
        let args: Vec<&str> = h["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        for a in &args {
            assert!(
                section.contains(&format!("`{a}`")),
                "docs/plugin.md {name}: {a}"
            );
            // Accepted: whatever the answer, it is not "unknown argument".
            let r = call(&[name, &format!("{a}=x")], &[]);
            let msg = r["error"][1].as_str().unwrap_or_default().to_string();
            assert!(!msg.contains("unknown argument"), "{name} {a}: {r}");
        }
        let r = call(&[name, "no_such_arg=1"], &[]);
        assert_eq!(failure_code(&r), "XENPCI_INVALID_ARGUMENT");
        let msg = r["error"][1].as_str().unwrap();
        for a in &args {
            assert!(msg.contains(a), "{name}: {msg}");
        }
    }
}

/// Arguments may be spelt as the CLI's options (`dry-run` for `dry_run`).
#[test]
fn arguments_take_the_cli_spelling_too() {
    let root = demo_root();
    let env = [("XENPCI_ROOT", root.as_str())];
    let a = call(
        &[
            "hide",
            "bdf=05:00.0",
            "dry-run=true",
            "persistent=true",
            "method=grub",
        ],
        &env,
    );
    let b = call(
        &[
            "hide",
            "bdf=05:00.0",
            "dry_run=true",
            "persistent=true",
            "method=grub",
        ],
        &env,
    );
    assert_eq!(a["status"], "Success", "{a}");
    assert_eq!(a["value"], b["value"]);
}

#[test]
fn a_missing_host_root_is_a_failure_not_an_empty_host() {
    let missing = tempfile::tempdir().unwrap().path().join("no-such-root");
    let root = missing.to_str().unwrap();
    for f in ["list", "hidden", "assigned"] {
        let v = call(&[f], &[("XENPCI_ROOT", root)]);
        assert_eq!(v["status"], "Failure", "{f}: {v}");
        assert_eq!(failure_code(&v), "XENPCI_FAILED", "{f}: {v}");
        let msg = v["error"][1].as_str().unwrap();
        assert!(
            msg.contains("no-such-root") && msg.contains("does not exist"),
            "{f}: {msg}"
        );
    }
    assert!(
        !missing.exists(),
        "nothing may be created in a missing root"
    );
    // version reads no host: it still answers.
    assert_eq!(
        call(&["version"], &[("XENPCI_ROOT", root)])["status"],
        "Success"
    );
}

/// `fn=sriov` answers as `xenpci sriov --json`, and with count plans `sriov set` (the same
/// refusal, as XENPCI_REFUSED naming force=true).
#[test]
fn sriov_through_the_plugin_is_the_clis_report_and_set() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("host");
    let ok = Cli::xenpci()
        .into_command()
        .args(["demo", "--shape", "sriov-nic", "--write"])
        .arg(&root)
        .status()
        .unwrap();
    assert!(ok.success());
    let r = root.to_str().unwrap();
    let env = [("XENPCI_ROOT", r)];
    let v = call(&["sriov"], &env);
    assert_eq!(v["status"], "Success", "{v}");
    let plugin: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    let cli = Cli::xenpci()
        .into_command()
        .args(["--root", r, "sriov", "--json"])
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(plugin["pfs"], cli["pfs"]);
    assert_eq!(plugin["pfs"][0]["vfs"][5]["state"], "hidden");
    // 01:00.0 has hidden VFs: changing its count is refused
    let v = call(&["sriov", "pf=01:00.0", "count=2", "dry_run=true"], &env);
    assert_eq!(failure_code(&v), "XENPCI_REFUSED", "{v}");
    assert!(
        v["error"][1].as_str().unwrap().contains("force=true"),
        "{v}"
    );
    // 01:00.1 has none: the plan is the one write
    let v = call(&["sriov", "pf=01:00.1", "count=2", "dry_run=true"], &env);
    assert_eq!(v["status"], "Success", "{v}");
    let out: Value = serde_json::from_str(v["value"].as_str().unwrap()).unwrap();
    assert_eq!(
        out["outcome"]["plan"]["steps"].as_array().unwrap().len(),
        1,
        "{out}"
    );
    let v = call(&["sriov", "count=2"], &env);
    assert_eq!(failure_code(&v), "XENPCI_MISSING_ARGUMENT", "{v}");
    // attach vf_of=PF goes through the library's pick: a VF is not a PF; not with spec
    let v = call(&["attach", "domain=g", "vf_of=01:10.0"], &env);
    assert_eq!(failure_code(&v), "XENPCI_INVALID_ARGUMENT", "{v}");
    assert!(
        v["error"][1]
            .as_str()
            .unwrap()
            .contains("it is a VF of 0000:01:00.0"),
        "{v}"
    );
    let v = call(
        &["attach", "domain=g", "vf_of=01:00.0", "spec=01:10.0"],
        &env,
    );
    assert_eq!(failure_code(&v), "XENPCI_INVALID_ARGUMENT", "{v}");
}
