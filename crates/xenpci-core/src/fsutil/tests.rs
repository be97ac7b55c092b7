//! fsutil's tests: backups pruned, debris removed, locks per real file, the checked edit.

use std::fs;
use std::io;

use super::write::civil_from_days;
use super::*;

/// Twenty edits of one file leave its three newest backups (the last three old contents),
/// and nothing else beside it is touched.
#[test]
fn backups_are_pruned_to_the_newest_three_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("vm.cfg");
    let other = dir.path().join("other.cfg.xenpci-20200101T000000.bak");
    let alike = dir.path().join("vm.cfg.xenpci-notastamp.bak");
    fs::write(&other, "x").unwrap();
    fs::write(&alike, "y").unwrap();
    fs::write(&p, "v0\n").unwrap();
    for i in 1..=20 {
        atomic_write(&p, format!("v{i}\n").as_bytes(), true).unwrap();
    }
    let mut left: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("vm.cfg.xenpci-2"))
        .collect();
    left.sort();
    assert_eq!(left.len(), BACKUPS_KEPT, "{left:?}");
    let mut contents: Vec<String> = left
        .iter()
        .map(|n| fs::read_to_string(dir.path().join(n)).unwrap())
        .collect();
    contents.sort();
    assert_eq!(contents, ["v17\n", "v18\n", "v19\n"]);
    assert!(other.exists() && alike.exists());
}

/// A non-root user's `EACCES` says what to do (run as root), not only the OS error; other
/// errors are left alone.
#[test]
fn permission_denied_says_run_as_root() {
    let lock = WriteError::Lock {
        path: "/run/lock/xenpci-hide.lock".into(),
        source: io::Error::from(io::ErrorKind::PermissionDenied),
    };
    assert!(
        lock.to_string()
            .ends_with("(this needs root: run it as root, e.g. with sudo)"),
        "{lock}"
    );
    let step = WriteError::Step {
        path: "/boot/grub/grub.cfg".into(),
        step: "create temporary file",
        source: io::Error::from(io::ErrorKind::PermissionDenied),
    };
    assert!(step.to_string().contains("run it as root"), "{step}");
    let other = WriteError::Lock {
        path: "/x".into(),
        source: io::Error::from(io::ErrorKind::NotFound),
    };
    assert!(!other.to_string().contains("root"), "{other}");
}

#[test]
fn atomic_write_replaces_and_backs_up() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("grub.cfg");
    fs::write(&p, "old\n").unwrap();
    let b = atomic_write(&p, b"new\n", true).unwrap().unwrap();
    assert_eq!(fs::read_to_string(&p).unwrap(), "new\n");
    assert_eq!(fs::read_to_string(&b).unwrap(), "old\n");
    assert!(b.to_string_lossy().contains("grub.cfg.xenpci-"));
    let b2 = atomic_write(&p, b"newer\n", true).unwrap().unwrap();
    assert_ne!(b, b2);
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".xenpci-tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_symlinked_file_is_written_through_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.cfg");
    let link = dir.path().join("grub.cfg");
    fs::write(&target, "old\n").unwrap();
    std::os::unix::fs::symlink("real.cfg", &link).unwrap();
    atomic_write(&link, b"new\n", true).unwrap();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_to_string(&target).unwrap(), "new\n");
}

#[test]
fn a_locked_replace_checks_backs_up_and_refuses_a_changed_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("vm.cfg");
    fs::write(&p, "a = 1\n").unwrap();
    let l = lock_file(&p).unwrap();
    let b = l.replace(Some("a = 1\n"), "a = 2\n").unwrap().unwrap();
    assert_eq!(fs::read_to_string(&b).unwrap(), "a = 1\n");
    assert_eq!(fs::read_to_string(&p).unwrap(), "a = 2\n");
    let e = l.replace(Some("a = 1\n"), "a = 3\n").unwrap_err();
    assert!(matches!(e, WriteError::Changed { .. }), "{e}");
    assert!(
        e.to_string().contains("vm.cfg changed since it was read"),
        "{e}"
    );
    assert_eq!(fs::read_to_string(&p).unwrap(), "a = 2\n");
    assert!(matches!(
        l.remove("a = 1\n"),
        Err(WriteError::Changed { .. })
    ));
    l.remove("a = 2\n").unwrap();
    assert!(!p.exists());
    assert!(
        l.replace(None, "new\n").unwrap().is_none(),
        "no backup of nothing"
    );
    assert!(matches!(
        l.restore("other\n", Some("a = 1\n")),
        Err(WriteError::Changed { .. })
    ));
    l.restore("new\n", Some("a = 1\n")).unwrap();
    assert_eq!(fs::read_to_string(&p).unwrap(), "a = 1\n");
    drop(l);
    assert!(!dir.path().join(".vm.cfg.xenpci-lock").exists());
}

#[test]
fn read_text_names_the_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x");
    assert_eq!(read_text(&p).unwrap(), None);
    fs::write(&p, b"ok\xff").unwrap();
    let e = read_text(&p).unwrap_err().to_string();
    assert!(
        e.ends_with("is not UTF-8 text (invalid byte at offset 2)"),
        "{e}"
    );
}

#[test]
fn diff_is_empty_when_equal() {
    assert_eq!(unified_diff("f", "a\n", "a\n"), "");
    let d = unified_diff("f", "a\nb\n", "a\nc\n");
    assert!(d.contains("-b\n+c\n") && d.contains("--- a/f"), "{d}");
}

#[test]
fn timestamp_has_the_expected_shape() {
    let t = timestamp();
    assert_eq!(t.len(), 15);
    assert_eq!(&t[8..9], "T");
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(20_779), (2026, 11, 22));
}
