//! The kill matrix: every persistent hide method (xen-cmdline through its double, grub with its
//! two files, extlinux, modprobe editing a line and creating its own file), a grub unhide, and
//! `xlcfg add-pci` / `remove-pci`, killed with SIGKILL at every call of every state-changing
//! system call (`strace -e inject=SYSCALL:signal=KILL:when=N`, each N from 1 to the count in a
//! traced run; only xenpci itself is traced, not the doubles): 815 points in 1-3 min.
//! `XENPCI_KILL_MATRIX=sample` keeps only the first of the `openat` calls before the first file
//! creation (they only read), for about 290 points.
//!
//! After each kill every file holds its old or its new bytes (single-file edits; the grub pair
//! may disagree until the next run, which is what its journal is for); the same command run
//! again exits 0, leaves every file at its new bytes (it converges) and leaves no debris: no
//! temporary file, lock file or journal, no backup that is not the file's old content.

mod util;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;

use util::{debris, host, killed_at, syscall_trace, Host};

/// The calls a kill can land on that change or prepare a change (reads before them are all
/// equivalent to a kill before the run).
const SYSCALLS: &[&str] = &[
    "openat",
    "write",
    "fsync",
    "fchmod",
    "fchown",
    "rename",
    "renameat",
    "renameat2",
    "unlink",
    "unlinkat",
    "mkdir",
    "flock",
];

const VM: &str = "/etc/xen/vm.cfg";
const VM_CFG: &str = "name = 'vm'\npci = [ '01:00.0' ]\n";

struct Case {
    name: &'static str,
    /// A fresh host for one run.
    host: fn() -> Host,
    /// The command line (host paths `/etc/...` mapped into the root by `args`).
    args: fn(&Host) -> Vec<String>,
    /// The files the command changes (host paths).
    files: &'static [&'static str],
}

fn hide(_: &Host) -> Vec<String> {
    ["hide", "05:00.0", "--persistent"]
        .map(String::from)
        .to_vec()
}

fn vm_host() -> Host {
    let h = host("");
    h.write(VM, VM_CFG);
    h
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "xen-cmdline",
            host: || host("xcpng82"),
            args: hide,
            files: &["/boot/grub/grub.cfg"],
        },
        Case {
            name: "grub",
            host: || host("debian"),
            args: hide,
            files: &["/boot/grub/grub.cfg", "/etc/default/grub"],
        },
        Case {
            name: "extlinux",
            host: || host("xs62"),
            args: hide,
            files: &["/boot/extlinux.conf"],
        },
        Case {
            name: "modprobe",
            host: || host("modprobe"),
            args: hide,
            files: &["/etc/modprobe.d/xen-pciback.conf"],
        },
        Case {
            name: "modprobe (new file)",
            host: || {
                let h = host("");
                h.write("/etc/modprobe.d/other.conf", "blacklist nouveau\n");
                h
            },
            args: |_| {
                ["hide", "05:00.0", "--persistent", "--method", "modprobe"]
                    .map(String::from)
                    .to_vec()
            },
            files: &["/etc/modprobe.d/xen-pciback.conf"],
        },
        Case {
            name: "grub unhide",
            host: || {
                let h = host("debian");
                h.xenpci(&hide(&h).iter().map(String::as_str).collect::<Vec<_>>())
                    .assert()
                    .success();
                for dir in ["/boot/grub", "/etc/default"] {
                    for b in h.files_like(dir, ".bak") {
                        std::fs::remove_file(h.path(&format!("{dir}/{b}"))).unwrap();
                    }
                }
                h
            },
            args: |_| {
                ["unhide", "05:00.0", "--persistent"]
                    .map(String::from)
                    .to_vec()
            },
            files: &["/boot/grub/grub.cfg", "/etc/default/grub"],
        },
        Case {
            name: "xlcfg add-pci",
            host: vm_host,
            args: |h| {
                vec![
                    "xlcfg".into(),
                    "add-pci".into(),
                    h.path(VM).display().to_string(),
                    "02:00.0".into(),
                ]
            },
            files: &[VM],
        },
        Case {
            name: "xlcfg remove-pci",
            host: vm_host,
            args: |h| {
                vec![
                    "xlcfg".into(),
                    "remove-pci".into(),
                    h.path(VM).display().to_string(),
                    "01:00.0".into(),
                ]
            },
            files: &[VM],
        },
    ]
}

fn full() -> bool {
    std::env::var("XENPCI_KILL_MATRIX").map_or(true, |v| v != "sample")
}

fn command(h: &Host, args: &[String]) -> std::process::Command {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    h.std_xenpci(&args)
}

fn contents(h: &Host, files: &[&str]) -> Vec<Option<Vec<u8>>> {
    files
        .iter()
        .map(|f| std::fs::read(h.path(f)).ok())
        .collect()
}

/// Kill points and passes of one case; panics with every failed point listed.
fn matrix(case: &Case) -> (usize, usize) {
    let reference = (case.host)();
    let old = contents(&reference, case.files);
    let trace = syscall_trace(&command(&reference, &(case.args)(&reference)), SYSCALLS);
    let new = contents(&reference, case.files);
    assert_ne!(old, new, "{}: the traced run changed nothing", case.name);
    let mut kill_points: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut first_create = None;
    for (name, line) in &trace {
        let n = kill_points.entry(name.clone()).or_default();
        let nth = n.len() + 1;
        if name == "openat" && first_create.is_none() && line.contains("O_CREAT") {
            first_create = Some(nth);
        }
        if name != "openat" || nth == 1 || first_create.is_some() || full() {
            n.push(nth);
        } else {
            n.push(0); // a read before anything is created: sampled out
        }
    }
    let counts: BTreeMap<&String, usize> = kill_points
        .iter()
        .map(|(k, v)| (k, v.iter().filter(|&&n| n > 0).count()))
        .collect();
    let (mut points, mut failures) = (0, Vec::new());
    for (syscall, ns) in &kill_points {
        for &n in ns.iter().filter(|&&n| n > 0) {
            points += 1;
            let h = (case.host)();
            let args = (case.args)(&h);
            let st = killed_at(&command(&h, &args), syscall, n);
            let at = format!("{} killed at {syscall} #{n}", case.name);
            if st.signal() != Some(9) {
                failures.push(format!("{at}: not killed ({st})"));
                continue;
            }
            let now = contents(&h, case.files);
            for (i, f) in case.files.iter().enumerate() {
                if case.files.len() == 1 && now[i] != old[i] && now[i] != new[i] {
                    failures.push(format!("{at}: {f} is neither old nor new"));
                }
            }
            let again = command(&h, &args).output().unwrap();
            if !again.status.success() {
                failures.push(format!(
                    "{at}: the next run failed ({}): {}",
                    again.status,
                    String::from_utf8_lossy(&again.stderr)
                ));
                continue;
            }
            if contents(&h, case.files) != new {
                failures.push(format!("{at}: the next run did not converge"));
            }
            let old_of = |p: &std::path::Path| {
                let host_path = format!("/{}", p.strip_prefix(h.root()).ok()?.display());
                let i = case.files.iter().position(|f| *f == host_path)?;
                old[i].clone()
            };
            let left = debris(h.root(), &old_of);
            if !left.is_empty() {
                failures.push(format!("{at}: debris after the next run: {left:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {points} kill points failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "{}: {points} kill points, all passed ({counts:?})",
        case.name
    );
    (points, points - failures.len())
}

#[test]
fn every_edit_survives_a_kill_at_every_state_changing_syscall() {
    let mut total = 0;
    for case in cases() {
        total += matrix(&case).0;
    }
    eprintln!("kill matrix: {total} kill points, all passed");
}

/// The grub pair killed between its two renames (the journal written first and around each
/// step — created, step 1 started, /etc/default/grub, step 1 done, step 2 started — then
/// grub.cfg, the sixth rename): the defaults already have the change (so an `update-grub` now
/// would complete it, not drop it); `xenpci resume` finishes it (grub.cfg as a clean run leaves
/// it), `xenpci resume --rollback` (or the next hide) puts both back first.
#[test]
fn a_grub_hide_killed_between_its_files_is_finished_or_rolled_back_by_resume() {
    let clean = host("debian");
    let (cfg, defaults) = (
        clean.read("/boot/grub/grub.cfg"),
        clean.read("/etc/default/grub"),
    );
    assert!(command(&clean, &hide(&clean)).status().unwrap().success());
    let (cfg_after, defaults_after) = (
        clean.read("/boot/grub/grub.cfg"),
        clean.read("/etc/default/grub"),
    );
    for rollback in [false, true] {
        let h = host("debian");
        let st = killed_at(&command(&h, &hide(&h)), "renameat", 6);
        assert_eq!(st.signal(), Some(9));
        assert!(h
            .read("/etc/default/grub")
            .contains("xen-pciback.hide=(0000:05:00.0)"));
        assert_eq!(
            h.read("/boot/grub/grub.cfg"),
            cfg,
            "grub.cfg was not replaced yet"
        );
        let args: &[&str] = if rollback {
            &["resume", "--rollback"]
        } else {
            &["resume"]
        };
        let r = h.std_xenpci(args).output().unwrap();
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(r.status.success(), "{err}");
        if rollback {
            assert!(
                err.contains(
                    "an interrupted 'hide 0000:05:00.0' was rolled back: /etc/default/grub restored"
                ),
                "{err}"
            );
            assert_eq!(h.read("/etc/default/grub"), defaults);
            assert_eq!(h.read("/boot/grub/grub.cfg"), cfg);
        } else {
            assert!(err.contains("is finished from where it stopped"), "{err}");
            assert_eq!(h.read("/etc/default/grub"), defaults_after);
            assert_eq!(h.read("/boot/grub/grub.cfg"), cfg_after);
        }
        assert!(!h.path("/var/lib/xenpci/plan-journal.json").exists());
    }
}
