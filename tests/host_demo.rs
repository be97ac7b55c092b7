//! The bundled demo host: `demo/x9drw` is what the generator writes (regenerate with
//! `XENPCI_REGEN_DEMO=1`), and README's demo shows 00:1f.2 critical and 05:00.0 passable.

mod util;

use std::collections::BTreeMap;
use std::path::Path;

use util::{record, xenpci_at, Host};
use xenpci_testkit::cli::Cli;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/x9drw");

/// Files (content) and symlinks (target) under `dir`; directories are implied.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                out.insert(
                    rel,
                    format!("-> {}", std::fs::read_link(&p).unwrap().display()),
                );
            } else if ft.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel, format!("{:?}", std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

#[test]
fn the_committed_demo_tree_is_what_the_generator_writes() {
    let fresh = Host::new(&xenpci_fixtures::x9drw());
    if std::env::var_os("XENPCI_REGEN_DEMO").is_some() {
        let _ = std::fs::remove_dir_all(DEMO);
        std::fs::create_dir_all(DEMO).unwrap();
        xenpci_fixtures::x9drw().write(Path::new(DEMO)).unwrap();
    }
    let want = snapshot(fresh.root());
    let have = snapshot(Path::new(DEMO));
    let missing: Vec<_> = want
        .keys()
        .filter(|k| have.get(*k) != want.get(*k))
        .collect();
    let extra: Vec<_> = have.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "demo/x9drw is out of date (XENPCI_REGEN_DEMO=1 cargo test --test host_demo):\ndiffer: {missing:?}\nextra: {extra:?}"
    );
}

#[test]
fn the_demo_shows_the_boot_controller_critical_and_the_hba_passable() {
    let list = xenpci_at(Path::new(DEMO), &["list", "--json"]).json();
    assert_eq!(
        record(&list, "0000:00:1f.2")["critical"][0],
        "holds / (ext3 on /dev/sda1)"
    );
    assert_eq!(record(&list, "0000:05:00.0")["assignable"], true);
    let check = xenpci_at(Path::new(DEMO), &["check", "05:00.0", "00:1f.2"]);
    assert_eq!(check.code, 1);
    assert!(check
        .stdout
        .contains("=> 0000:05:00.0 can be passed through"));
    assert!(check
        .stdout
        .contains("=> 0000:00:1f.2 must NOT be passed through"));
}

/// Runs `exe demo` with a clean environment: (exit code, stdout, stderr).
fn demo(exe: &Path, keep: bool) -> (Option<i32>, String, String) {
    let mut c = std::process::Command::new(exe);
    c.arg("demo");
    if keep {
        c.arg("--keep");
    }
    for k in [
        "XENPCI_ROOT",
        "XENPCI_XE",
        "XENPCI_XL",
        "XENPCI_XEN_CMDLINE",
        "XE_MOCK_STATE",
        "XL_MOCK_STATE",
    ] {
        c.env_remove(k);
    }
    let out = c.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `export …` line of a transcript as (name, value) pairs, and the demo directory.
fn exports(transcript: &str) -> (Vec<(String, String)>, std::path::PathBuf) {
    let line = transcript
        .lines()
        .find_map(|l| l.strip_prefix("export "))
        .expect("an export line");
    let vars: Vec<(String, String)> = line
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let root = vars
        .iter()
        .find(|(k, _)| k == "XENPCI_ROOT")
        .unwrap()
        .1
        .clone();
    (vars, root.into())
}

/// The demo is one story on stdout: every step's command line as typed, what it printed
/// (refusal reasons included), the undo and an xl hot-plug, ending verified; the commands can
/// be pasted after the printed `export`.
#[test]
fn xenpci_demo_tells_the_whole_story_on_stdout() {
    // the demo runs the mocks found next to xenpci: they are their own crates, built on demand
    let (xe, xl) = (xenpci_testkit::bins::xe(), xenpci_testkit::bins::xl());
    assert!(
        Path::new(xe).starts_with(xenpci_testkit::bins::bin_dir()),
        "{xe}"
    );
    assert!(
        Path::new(xl).starts_with(xenpci_testkit::bins::bin_dir()),
        "{xl}"
    );
    let (code, s, err) = demo(Path::new(env!("CARGO_BIN_EXE_xenpci")), true);
    assert_eq!(code, Some(0), "{s}{err}");
    assert_eq!(err, "", "nothing on stderr: the story is on stdout");
    assert!(s.contains("! 0000:00:1f.2  SATA controller"), "{s}");
    assert!(s.contains("=> 0000:05:00.0 can be passed through"), "{s}");
    // the refusals carry their reasons on stdout, each followed by its exit status
    assert!(s.contains("$ xenpci hide 00:1f.2 --persistent --dry-run\nxenpci: error: refusing to hide 0000:00:1f.2: dom0 needs it: holds / (ext3 on /dev/sda1)"), "{s}");
    assert!(
        s.contains("not bound to pciback (0000:05:00.0 is bound to dom0's mpt3sas driver)"),
        "{s}"
    );
    assert_eq!(
        s.matches("# exit status 1 (refused: nothing was changed)")
            .count(),
        3,
        "{s}"
    );
    // in story order: hide, reboot, assign (dry run then real), undo, xl hot-plug, unhide
    let order = [
        "$ xenpci hide 05:00.0 --persistent\n",
        "## 7. Reboot the host",
        "$ xenpci assign 05:00.0 --vm ceph-osd-1 --restart --dry-run\n# plan",
        "$ xenpci assign 05:00.0 --vm ceph-osd-1 --restart\n",
        "$ xenpci unassign --all --vm ceph-osd-1 --restart\n",
        "$ xenpci attach guest1 05:00.0\nattached 0000:05:00.0 on localhost (guest1): verified with xl pci-list",
        "$ xenpci detach guest1 05:00.0\ndetached 0000:05:00.0",
        "$ xenpci unhide 05:00.0 --persistent\n",
        "# Verified: every step above exited as the story says",
    ];
    let mut at = 0;
    for o in order {
        let i = s[at..]
            .find(o)
            .unwrap_or_else(|| panic!("{o:?} after byte {at}:\n{s}"));
        at += i + o.len();
    }
    assert!(
        !s.contains("NOT AS EXPECTED") && !s.contains("<x9drw"),
        "{s}"
    );
    // paste-able: the last `hidden`, typed again after the export, prints what the demo showed
    let (vars, dir) = exports(&s);
    let last = s.rfind("$ xenpci hidden\n").unwrap() + "$ xenpci hidden\n".len();
    let shown = &s[last..s[last..].find("\n\n").map_or(s.len(), |e| last + e + 1)];
    let mut c = Cli::xenpci().into_command();
    c.arg("hidden").envs(vars.iter().map(|(k, v)| (k, v)));
    let again = c.output().unwrap();
    assert_eq!(String::from_utf8_lossy(&again.stdout), shown);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A binary without its stand-ins beside it (an install of xenpci alone) names no source-tree
/// path, says which parts are skipped, and still ends verified.
#[test]
fn xenpci_demo_alone_says_what_it_skips() {
    let bin = tempfile::tempdir().unwrap();
    let exe = bin.path().join("xenpci");
    std::fs::copy(env!("CARGO_BIN_EXE_xenpci"), &exe).unwrap();
    // an `xe` beside it that is not xenpci's mock (the host's real one) is never run
    let ran = bin.path().join("real-xe-ran");
    let xe = bin.path().join("xe");
    std::fs::write(&xe, format!("#!/bin/sh\ntouch {}\n", ran.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&xe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (code, s, err) = demo(&exe, false);
    assert!(!ran.exists(), "the real xe ran");
    assert_eq!(code, Some(0), "{s}{err}");
    assert!(!s.contains(env!("CARGO_MANIFEST_DIR")), "{s}");
    assert!(s.contains("No mock xe next to this binary"), "{s}");
    assert!(s.contains("No mock xl next to this binary"), "{s}");
    assert!(
        s.contains("$ xenpci hide 05:00.0 --persistent --method grub\n"),
        "{s}"
    );
    assert!(!s.contains("$ xenpci assign"), "{s}");
    assert!(s.contains("# Verified:"), "{s}");
    // without --keep the root is gone at the end
    assert!(!exports(&s).1.exists(), "{s}");
}

#[test]
fn demo_write_refuses_a_non_empty_directory_and_unknown_shapes() {
    let h = Host::shape("legacy-bridge");
    let out = Cli::xenpci()
        .into_command()
        .args(["demo", "--write"])
        .arg(h.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));
    let out = Cli::xenpci()
        .into_command()
        .args(["demo", "--shape", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown shape \"nope\""));
}

#[test]
fn every_bundled_host_is_what_the_generator_writes_and_big_hosts_are_not_bundled() {
    for shape in [
        "x9drw",
        "gpu-pair",
        "sriov-nic",
        "legacy-bridge",
        "kvm-debian",
        "kvm-fedora",
    ] {
        let d = tempfile::tempdir().unwrap();
        let out = Cli::xenpci()
            .into_command()
            .args(["demo", "--shape", shape, "--write"])
            .arg(d.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{shape}: {out:?}");
        let fresh = Host::new(&xenpci_fixtures::shape(shape).unwrap());
        let (want, have) = (snapshot(fresh.root()), snapshot(d.path()));
        let differ: Vec<_> = want
            .keys()
            .filter(|k| have.get(*k) != want.get(*k))
            .collect();
        let extra: Vec<_> = have.keys().filter(|k| !want.contains_key(*k)).collect();
        assert!(
            differ.is_empty() && extra.is_empty() && want.len() > 50,
            "{shape}: differ {differ:?}, extra {extra:?}"
        );
    }
    let out = Cli::xenpci()
        .into_command()
        .args(["demo", "--shape", "big-1000", "--write", "/nonexistent/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("xenpci-fixture write big-N DIR"));
}
