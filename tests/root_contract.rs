//! The `--root` contract: under a host root other than `/`, xenpci never runs a tool that would
//! act on the real host. A spy `xl`, `xe` and `xen-cmdline` first on PATH record every run;
//! commands and plugin functions that would query or change the host through them run against
//! the seed's fixture host with no stand-in configured, and the spy log stays empty. With a
//! stand-in configured, it gets the root as `XENPCI_ROOT` even when the root came from `--root`.

mod util;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use util::{generated, Host};
use xenpci_fixtures as fixture;
use xenpci_testkit::cli::Cli;

/// A directory of spies named like the host tools; each appends `NAME ARGS` and its
/// XENPCI_ROOT to `log`.
fn spies(dir: &Path, log: &Path) -> PathBuf {
    let bin = dir.join("spybin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["xl", "xe", "xen-cmdline"] {
        let p = bin.join(name);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\nprintf '%s root=%s\\n' \"{name} $*\" \"$XENPCI_ROOT\" >> '{}'\nexit 0\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn seed_host() -> Host {
    let h = generated(fixture::x9drw(), "xcpng82");
    h.pciback();
    h
}

fn spy_path(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `xenpci --root ROOT ARGS` with the spies first on PATH and no stand-in configured.
fn xenpci(h: &Host, bin: &Path, args: &[&str]) -> (i32, String) {
    let o = Cli::xenpci()
        .root(h.root())
        .args(args)
        .env("PATH", spy_path(bin))
        .env("XENPCI_NO_XENSTORE", "1")
        .run();
    (o.code, o.stderr)
}

fn spied(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

#[test]
fn under_a_fixture_root_no_host_tool_ever_runs() {
    let h = seed_host();
    let log = h.dir.path().join("spy.log");
    let bin = spies(h.dir.path(), &log);
    let cfg = h.dir.path().join("g.cfg");
    std::fs::write(&cfg, "name = \"g\"\npci = [ ]\n").unwrap();
    let cfg = cfg.to_string_lossy().into_owned();
    for args in [
        vec!["hide", "05:00.0", "--dry-run"],
        vec!["hide", "05:00.0", "--dry-run", "--method", "xen-cmdline"],
        vec!["hide", "05:00.0"],
        vec!["unhide", "05:00.0", "--now", "--dry-run"],
        vec!["hidden"],
        vec!["check", "05:00.0"],
        vec!["list"],
        vec!["attach", "g", "05:00.0", "--dry-run"],
        vec!["assign", "05:00.0", "--vm", "g", "--dry-run"],
        vec!["assigned"],
        vec!["xlcfg", "add-pci", &cfg, "05:00.0", "--dry-run"],
    ] {
        let (code, stderr) = xenpci(&h, &bin, &args);
        assert_eq!(
            spied(&log),
            "",
            "{args:?} (exit {code}) ran a host tool:\n{stderr}"
        );
    }
    // The plugin, which xapi runs with PATH only.
    let root = h.root().to_string_lossy().into_owned();
    for call in [
        vec!["hide", "bdf=05:00.0", "dry_run=true"],
        vec!["unhide", "bdf=05:00.0", "dry_run=true"],
        vec!["hidden"],
        vec!["check", "bdf=05:00.0"],
        vec!["attach", "domain=g", "spec=05:00.0", "dry_run=true"],
        vec!["assigned"],
    ] {
        let o = Command::new("python3")
            .arg(util::tests_dir().join("plugin/xmlrpc_call.py"))
            .arg(xenpci_testkit::bins::plugin_str())
            .args(&call)
            .env("PLUGIN_PASS_XENPCI_ROOT", &root)
            .env("PLUGIN_PASS_PATH", spy_path(&bin))
            .output()
            .unwrap();
        assert!(o.status.success());
        assert_eq!(
            spied(&log),
            "",
            "plugin {call:?} ran a host tool: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
}

#[test]
fn a_refused_host_tool_is_a_clear_error_naming_the_stand_in() {
    let h = seed_host();
    let log = h.dir.path().join("spy.log");
    let bin = spies(h.dir.path(), &log);
    let (code, stderr) = xenpci(
        &h,
        &bin,
        &["hide", "05:00.0", "--dry-run", "--method", "xen-cmdline"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("never runs the host's own xen-cmdline")
            && stderr.contains("XENPCI_XEN_CMDLINE"),
        "{stderr}"
    );
}

#[test]
fn a_configured_stand_in_runs_and_gets_the_root() {
    let h = seed_host();
    let log = h.dir.path().join("spy.log");
    let bin = spies(h.dir.path(), &log);
    let o = Cli::xenpci()
        .root(h.root())
        .args([
            "hide",
            "05:00.0",
            "--persistent",
            "--dry-run",
            "--method",
            "xen-cmdline",
        ])
        .env("XENPCI_XEN_CMDLINE", bin.join("xen-cmdline"))
        .run();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        spied(&log),
        format!(
            "xen-cmdline --get-dom0 xen-pciback.hide root={}\n",
            h.root().display()
        )
    );
}

/// `xenpci demo` runs its seed flow on a temporary copy of the demo host: the contract holds
/// there too (its hide must not run the host's xl on the host's devices).
#[test]
fn the_demo_runs_no_host_tool() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("spy.log");
    let bin = spies(dir.path(), &log);
    let o = Cli::xenpci().arg("demo").env("PATH", spy_path(&bin)).run();
    assert_eq!(o.code, 0, "{}", o.stderr);
    let out = &o.stdout;
    assert_eq!(spied(&log), "", "{out}");
    // without --keep the demo removes its host root at the end
    let root = out
        .lines()
        .find_map(|l| l.strip_prefix("export XENPCI_ROOT="))
        .and_then(|l| l.split(' ').next())
        .expect("the demo names its host root");
    assert!(!std::path::Path::new(root).exists(), "{root} left behind");
}
