//! What `xenpci` does when its output or its arguments are not what a terminal gives: stdout
//! closed by the reader (`xenpci list | head -1`), stdout full, arguments that are not UTF-8.
//! Never a panic (exit 101, a backtrace): a closed stdout ends the command quietly with its own
//! status and a change already made is still reported (on stderr); a full one is exit 2; a bad
//! argument is a usage error naming it.

mod util;

use std::os::unix::ffi::OsStrExt;

use util::{closed_stdout, host, Host, Run};

const VM: &str = "33333333-3333-4333-8333-333333333333";

/// `xenpci ARGS` on `h` with the doubles, and the mock `xe` holding one host (whose plugin
/// reads the demo host) and one VM.
fn xenpci(h: &Host, args: &[&str]) -> std::process::Command {
    let dir = h.dir.path();
    let plugins = dir.join("plugins");
    if !plugins.exists() {
        std::fs::create_dir_all(&plugins).unwrap();
        std::fs::copy(xenpci_testkit::bins::plugin_str(), plugins.join("xenpci")).unwrap();
        let x9 = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/x9drw");
        let state = serde_json::json!({
            "hosts": [{"uuid": "11111111-1111-4111-8111-111111111111", "name-label": "xcp1",
                       "plugin-env": {"XENPCI_ROOT": x9}}],
            "vms": [{"uuid": VM, "name-label": "vm1", "power-state": "halted",
                     "other-config": {"pci": "0/0000:05:00.0"}}]
        });
        std::fs::write(dir.join("state.json"), state.to_string()).unwrap();
    }
    let mut c = h.std_xenpci(args);
    xenpci_testkit::mock_xe::MockXe::at(dir, "state.json", None).wire(&mut c);
    c
}

/// Every subcommand, with arguments that make it print something (with `--json`, an error
/// document is printed too).
fn every_subcommand(h: &Host) -> Vec<Vec<String>> {
    let cfg = h.dir.path().join("vm.cfg");
    std::fs::write(&cfg, "name = 'vm'\npci = [ '05:00.0' ]\n").unwrap();
    let cfg = cfg.display().to_string();
    let saved = h.dir.path().join("saved.json").display().to_string();
    let state = ["--state-dir", h.dir.path().to_str().unwrap()];
    let mut cmds: Vec<Vec<&str>> = vec![
        vec!["spec", "parse", "05:00.0,permissive=1"],
        vec!["spec", "fmt", "05:00.0"],
        vec!["xlcfg", "show", &cfg],
        vec!["xlcfg", "show", "--json", &cfg],
        vec!["xlcfg", "set", "--dry-run", &cfg, "pci_permissive", "1"],
        vec!["xapi-pci", "parse", "0/0000:05:00.0"],
        vec!["xapi-pci", "fmt", "05:00.0"],
        vec!["list"],
        vec!["list", "--json"],
        vec!["check", "05:00.0"],
        vec!["check", "--json", "05:00.0"],
        vec!["attach", "--json", "vm1", "05:00.0"],
        vec!["detach", "--json", "vm1", "05:00.0"],
        vec!["attached", "--json", "vm1"],
        vec!["migrate", "--json", "--to", "h2", "vm1"],
        vec!["detach-all", "--json", "--save", &saved, "vm1"],
        vec!["reattach", "--json", "--from", &saved],
        vec!["resume", "--json"],
        vec!["status", "--json"],
        vec!["evacuate", "--json", "--to", "h2", "h1"],
        vec!["hide", "--dry-run", "05:00.0"],
        vec!["unhide", "--json", "--dry-run", "05:00.0"],
        vec!["hidden"],
        vec!["hidden", "--json"],
        vec!["assign", "--json", "--vm", "vm1", "05:00.0"],
        vec!["unassign", "--json", "--vm", "vm1", "05:00.0"],
        vec!["assigned", "--json"],
        vec!["assigned"],
        vec!["pool", "list", "--json"],
        vec!["pool", "check", "--json", "05:00.0"],
        vec!["pool", "map"],
        vec!["completions", "bash"],
        vec!["manpage"],
        vec!["demo"],
        vec!["--help"],
        vec!["hide", "--json", "nonsense"],
    ];
    for c in cmds.iter_mut() {
        if [
            "migrate",
            "detach-all",
            "reattach",
            "resume",
            "status",
            "evacuate",
        ]
        .contains(&c[0])
        {
            c.extend(state);
        }
    }
    cmds.into_iter()
        .map(|c| c.into_iter().map(str::to_string).collect())
        .collect()
}

fn no_panic(args: &[String], r: &Run) {
    assert!(
        r.code != 101 && !r.stderr.contains("panicked"),
        "xenpci {} with stdout closed panicked (exit {}):\n{}",
        args.join(" "),
        r.code,
        r.stderr
    );
}

#[test]
fn no_subcommand_panics_when_stdout_is_closed() {
    let n = every_subcommand(&host("xcpng82")).len();
    for i in 0..n {
        // Each run on its own copy of the host: some of them change it.
        let (h1, h2) = (host("xcpng82"), host("xcpng82"));
        let (args, closed_args) = (&every_subcommand(&h1)[i], &every_subcommand(&h2)[i]);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        // The same command with stdout open prints something, so the closed pipe is met.
        let open = xenpci(&h1, &argv).output().unwrap();
        assert!(
            !open.stdout.is_empty(),
            "xenpci {} printed nothing on stdout",
            args.join(" ")
        );
        let argv: Vec<&str> = closed_args.iter().map(String::as_str).collect();
        let closed = closed_stdout(xenpci(&h2, &argv));
        no_panic(args, &closed);
        assert_eq!(
            closed.code,
            open.status.code().unwrap(),
            "xenpci {}: a closed stdout changed the exit status:\n{}",
            args.join(" "),
            closed.stderr
        );
    }
}

#[test]
fn a_change_made_with_stdout_closed_is_reported_on_stderr() {
    let h = host("xcpng82");
    let r = h.closed_stdout(&["hide", "05:00.0", "--persistent"]);
    no_panic(&["hide".into()], &r);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        h.calls()
            .iter()
            .any(|c| c.ends_with("--set-dom0 xen-pciback.hide=(0000:05:00.0)")),
        "{:?}",
        h.calls()
    );
    assert!(r.stderr.contains("done: "), "{}", r.stderr);

    let h = host("xcpng82");
    let r = h.closed_stdout(&["hide", "05:00.0", "--persistent", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = &r.stderr[r.stderr.find('{').expect("the JSON document")..];
    let v: serde_json::Value = serde_json::from_str(doc).expect("one JSON document");
    assert_eq!(v["result"]["ok"], true, "{v}");
}

#[test]
fn a_full_stdout_is_an_error_not_a_panic() {
    let h = host("xcpng82");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = h.std_xenpci(&["list"]).stdout(full).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot write to stdout"), "{stderr}");
}

#[test]
fn a_non_utf8_argument_is_a_usage_error_naming_it() {
    let h = host("xcpng82");
    let bad = std::ffi::OsStr::from_bytes(b"05:00.0\xff");
    for json in [false, true] {
        let mut c = h.std_xenpci(&["spec", "parse"]);
        c.arg(bad);
        if json {
            c.arg("--json");
        }
        let out = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(r#"argument 3 "05:00.0\xFF" is not valid UTF-8"#),
            "{stderr}"
        );
        if json {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(v["error"].as_str().unwrap().contains("argument 3"), "{v}");
        }
    }
    // A path may be any bytes: it is not refused for that.
    let mut c = h.std_xenpci(&["xlcfg", "show"]);
    c.arg(std::ffi::OsStr::from_bytes(b"/nonexistent/\xff.cfg"));
    let out = c.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("UTF-8") && !stderr.contains("panicked"),
        "{stderr}"
    );
}
