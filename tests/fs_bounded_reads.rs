//! A FIFO or a device where a config file is expected is refused by name instead of hanging the
//! run (while holding the hide lock) or eating memory: grub.cfg, a modprobe.d entry, /proc/mounts
//! and an xl.cfg as FIFOs, and `xlcfg show /dev/zero`. Every run gets 20 s before it counts as hung.

mod util;

use util::{host, make_fifo, run_within, Host};

fn run(h: &Host, args: &[&str]) -> util::Run {
    run_within(h.std_xenpci(args), 20).unwrap_or_else(|| panic!("xenpci {args:?} hung"))
}

#[test]
fn a_fifo_as_grub_cfg_is_refused_by_hide_and_hidden() {
    let h = host("debian");
    make_fifo(&h.path("/boot/grub/grub.cfg"));
    let r = run(&h, &["hide", "05:00.0", "--persistent", "--method", "grub"]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("grub.cfg is a FIFO, not a regular file"),
        "{r:?}"
    );
    let r = run(&h, &["hidden"]);
    assert!(r.stderr.contains("grub.cfg is a FIFO"), "{r:?}");
    // the hide lock was released: the next hide is not blocked
    let r = run(&h, &["hide", "05:00.0", "--persistent", "--method", "grub"]);
    assert!(r.stderr.contains("is a FIFO"), "{r:?}");
}

#[test]
fn a_fifo_in_modprobe_d_is_refused_by_name() {
    let h = host("modprobe");
    make_fifo(&h.path("/etc/modprobe.d/blacklist.conf"));
    let r = run(
        &h,
        &["hide", "05:00.0", "--persistent", "--method", "modprobe"],
    );
    assert_ne!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("blacklist.conf is a FIFO"), "{r:?}");
}

#[test]
fn a_fifo_as_proc_mounts_is_a_warning_not_a_hang() {
    let h = Host::shape("x9drw");
    make_fifo(&h.path("/proc/mounts"));
    let r = run(&h, &["list"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("mounts is a FIFO"), "{r:?}");
}

#[test]
fn xlcfg_refuses_a_fifo_and_dev_zero_by_name() {
    let h = host("");
    let cfg = h.path("/etc/xen/vm.cfg");
    make_fifo(&cfg);
    let cfg = cfg.display().to_string();
    for args in [
        vec!["xlcfg", "show", &cfg],
        vec!["xlcfg", "add-pci", &cfg, "01:00.0"],
        vec!["xlcfg", "show", "/dev/zero"],
    ] {
        let r = run(&h, &args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        let what = if args[2] == "/dev/zero" {
            "/dev/zero is a character device, not a regular file"
        } else {
            "vm.cfg is a FIFO, not a regular file"
        };
        assert!(r.stderr.contains(what), "{args:?}: {r:?}");
    }
}
