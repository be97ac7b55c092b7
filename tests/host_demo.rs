//! The bundled demo host: `demo/x9drw` is what the generator writes (regenerate with
//! `XENPCI_REGEN_DEMO=1`), and README's demo shows 00:1f.2 critical and 05:00.0 passable.

mod util;

use std::collections::BTreeMap;
use std::path::Path;

use util::{record, xenpci_at, Host};

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
    let fresh = Host::new(&xenpci::host::fixture::x9drw());
    if std::env::var_os("XENPCI_REGEN_DEMO").is_some() {
        let _ = std::fs::remove_dir_all(DEMO);
        std::fs::create_dir_all(DEMO).unwrap();
        xenpci::host::fixture::x9drw()
            .write(Path::new(DEMO))
            .unwrap();
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

#[test]
fn xenpci_demo_runs_list_and_check_on_a_fresh_copy() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xenpci"))
        .arg("demo")
        .env_remove("XENPCI_ROOT")
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("! 0000:00:1f.2  SATA controller"), "{s}");
    assert!(s.contains("=> 0000:05:00.0 can be passed through"), "{s}");
    assert!(
        s.contains("=> 0000:00:1f.2 must NOT be passed through"),
        "{s}"
    );
}

#[test]
fn demo_write_refuses_a_non_empty_directory_and_unknown_shapes() {
    let h = Host::shape("legacy-bridge");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xenpci"))
        .args(["demo", "--write"])
        .arg(h.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xenpci"))
        .args(["demo", "--shape", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown shape \"nope\""));
}
