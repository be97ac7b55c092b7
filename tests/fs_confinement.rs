//! The host root confines every path: a boot config symlinked out of the root (absolute target,
//! or `..` climbing above it) is resolved inside the root as openat2(RESOLVE_IN_ROOT) would, so
//! the file outside is never read, rewritten or backed up; and a root that does not exist is an
//! error naming it (exit 2) with nothing created in it.

mod util;

use std::fs;
use std::os::unix::fs::symlink;

use util::{host, Host};

/// A directory beside the root, outside it, holding `name` with `content`.
fn outside(h: &Host, name: &str, content: &str) -> std::path::PathBuf {
    let dir = h.dir.path().join("elsewhere");
    fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    fs::write(&p, content).unwrap();
    p
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn an_absolute_extlinux_link_is_followed_inside_the_root_only() {
    let h = host("xs62");
    let conf = h.read("/boot/extlinux.conf");
    let out = outside(&h, "extlinux.conf", &conf);
    h.relink("/boot/extlinux.conf", &out.display().to_string());
    let r = h
        .xenpci(&["hide", "05:00.0", "--persistent", "--method", "extlinux"])
        .output()
        .unwrap();
    assert!(!r.status.success(), "nothing inside the root at that path");
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        conf,
        "the file outside is untouched"
    );
    assert_eq!(
        files_in(out.parent().unwrap()),
        ["extlinux.conf"],
        "and not backed up"
    );
    // The same link with its target inside the root (re-rooted) is edited there.
    h.write(&out.display().to_string(), &conf);
    h.xenpci(&["hide", "05:00.0", "--persistent", "--method", "extlinux"])
        .assert()
        .success();
    assert!(h
        .read(&out.display().to_string())
        .contains("(0000:05:00.0)"));
    assert_eq!(fs::read_to_string(&out).unwrap(), conf, "still untouched");
}

#[test]
fn a_grub_cfg_link_climbing_out_with_dotdot_stays_inside() {
    let h = host("debian");
    let cfg = h.read("/boot/grub/grub.cfg");
    let out = outside(&h, "grub.cfg", &cfg);
    // root/boot/grub/grub.cfg -> ../../../elsewhere/grub.cfg is <tmp>/elsewhere/grub.cfg for a
    // plain open, /elsewhere/grub.cfg inside the root.
    fs::remove_file(h.path("/boot/grub/grub.cfg")).unwrap();
    symlink("../../../elsewhere/grub.cfg", h.path("/boot/grub/grub.cfg")).unwrap();
    h.write("/elsewhere/grub.cfg", &cfg);
    h.xenpci(&["hide", "05:00.0", "--persistent", "--method", "grub"])
        .assert()
        .success();
    assert!(h
        .read("/elsewhere/grub.cfg")
        .contains("xen-pciback.hide=(0000:05:00.0)"));
    assert_eq!(fs::read_to_string(&out).unwrap(), cfg);
    assert_eq!(files_in(out.parent().unwrap()), ["grub.cfg"]);
}

#[test]
fn a_missing_root_is_an_error_and_nothing_is_created() {
    let h = host("");
    let missing = h.dir.path().join("no-such-root");
    let m = missing.display().to_string();
    for args in [
        vec!["list"],
        vec!["hidden"],
        vec!["status"],
        vec!["hide", "05:00.0", "--persistent", "--method", "grub"],
    ] {
        let r = util::xenpci_at(&missing, &args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains(&format!("host root {m} does not exist")),
            "{args:?}: {r:?}"
        );
        assert!(!missing.exists(), "{args:?} created the root");
    }
}
