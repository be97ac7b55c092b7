//! `xenpci migrate` end to end against the mock xl (two hosts) and the mock xe: the HVM hot path
//! (seed 002's model: hot-remove, migrate, hot-add the mapped devices), the PV cold path (said up
//! front, FINDINGS §D), a live move without devices, the XAPI cold move, dry run, identity
//! refusal, detach-all/reattach.

use xenpci_testkit::lab::Scenario;

fn hvm_with_two_devices() -> Scenario {
    let s = Scenario::lab();
    s.xl(
        "h1",
        &["pci-attach", "hvmvm", "0000:03:00.0@5,permissive=1"],
    )
    .ok();
    s.xl("h1", &["pci-attach", "hvmvm", "0000:04:00.0@6"]).ok();
    s
}

#[test]
fn hvm_hot_path_moves_mapped_devices_with_options_and_vslots() {
    let s = hvm_with_two_devices();
    let r = s.xenpci(&["migrate", "hvmvm", "--to", "h2"]);
    r.ok();
    assert!(
        r.stdout.contains("plan: hot move of hvmvm from h1 to h2"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("flow ") && r.stdout.contains(": done"));
    assert_eq!(
        s.xl("h2", &["pci-list", "hvmvm"]).stdout,
        "Vdev Device\n05.0 0000:81:00.0\n06.0 0000:82:00.0\n"
    );
    let st = s.xl_state();
    let opts = &st["hosts"]["h2"]["domains"][0]["pci"][0]["opts"];
    assert!(opts.as_str().unwrap().contains("permissive=1"), "{opts}");
    assert_eq!(s.devices_of("h1", "hvmvm"), None, "gone from h1");
    // order: detach both, migrate, attach both
    let log = s.xl_log();
    let muts: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains(" pci-detach ") || l.contains(" migrate ") || l.contains(" pci-attach ")
        })
        .collect();
    assert!(
        muts[0].contains("pci-detach")
            && muts[1].contains("pci-detach")
            && muts[2].contains("migrate")
            && muts[3].starts_with("[h2] xl pci-attach"),
        "{muts:?}"
    );
}

#[test]
fn pv_with_a_device_takes_the_cold_path_and_says_so_first() {
    let s = Scenario::lab();
    let cfg = s.pv_cfg();
    s.xl("h1", &["pci-attach", "pvvm", "0000:03:00.0,permissive=1"])
        .ok();
    let r = s.xenpci(&[
        "migrate",
        "pvvm",
        "--to",
        "h2",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    r.ok();
    let plan_at = r
        .stdout
        .find("live move is impossible")
        .expect("said up front");
    assert!(plan_at < r.stdout.find("done").unwrap());
    assert!(r.stdout.contains("plan: cold move"));
    assert!(
        !s.xl_log().contains(" migrate "),
        "never xl migrate for this guest"
    );
    assert_eq!(
        s.devices_of("h2", "pvvm"),
        Some(vec!["0000:81:00.0".into()])
    );
    let target = std::fs::read_to_string(s.path("pvvm@h2.cfg")).unwrap();
    assert!(
        target.starts_with("# the ceph OSD guest\nname = \"pvvm\""),
        "{target}"
    );
    assert!(
        target.contains("0000:81:00.0,permissive=1") && !target.contains("03:00.0"),
        "{target}"
    );
    assert!(target.contains("# HBA"), "comments kept: {target}");
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        std::fs::read_to_string(s.path("pvvm.cfg")).unwrap()
    );
}

#[test]
fn guest_without_devices_moves_live() {
    let s = Scenario::lab();
    let r = s.xenpci(&["migrate", "plain", "--to", "h2"]);
    r.ok();
    assert!(r.stdout.contains("plan: live move"), "{}", r.stdout);
    assert_eq!(s.devices_of("h2", "plain"), Some(vec![]));
}

#[test]
fn dry_run_prints_every_command_with_its_host_and_changes_nothing() {
    let s = hvm_with_two_devices();
    let before = s.attachments();
    let r = s.xenpci(&["migrate", "hvmvm", "--to", "h2", "--dry-run"]);
    r.ok();
    for line in [
        "1. [h1] xl pci-detach hvmvm 0000:03:00.0",
        "2. [h1] xl pci-detach hvmvm 0000:04:00.0",
        "3. [h1] xl migrate hvmvm h2",
        "4. [h2] xl pci-attach hvmvm 0000:81:00.0@0x05,permissive=1",
        "5. [h2] xl pci-attach hvmvm 0000:82:00.0@0x06",
    ] {
        assert!(r.stdout.contains(line), "{line:?} not in\n{}", r.stdout);
    }
    assert_eq!(s.attachments(), before);
    assert!(
        !s.path("state/flows").exists()
            || std::fs::read_dir(s.path("state/flows")).unwrap().count() == 0
    );
}

#[test]
fn identity_mismatch_on_the_target_is_refused_before_acting() {
    let s = hvm_with_two_devices();
    std::fs::write(
        s.root("h2").join("sys/bus/pci/devices/0000:81:00.0/device"),
        "0x0072\n",
    )
    .unwrap();
    let r = s.xenpci(&["migrate", "hvmvm", "--to", "h2"]);
    assert_eq!(r.code, 1, "a mismatch is a refusal (docs/mapping.md)");
    assert!(r.stderr.contains("identity mismatch for \"ceph-hba\" at 0000:81:00.0 on h2: found 1000:0072, the mapping says 1000:0097"), "{}", r.stderr);
    assert_eq!(s.attachments().len(), 2);
    assert!(!s.xl_log().contains("pci-detach"));
}

#[test]
fn unmapped_device_is_refused() {
    let s = Scenario::lab();
    s.write("map.json", r#"{"devices": {}}"#);
    s.xl("h1", &["pci-attach", "hvmvm", "0000:03:00.0@5"]).ok();
    let r = s.xenpci(&["migrate", "hvmvm", "--to", "h2"]);
    assert_eq!(r.code, 1, "refused (docs/mapping.md)");
    assert!(
        r.stderr
            .contains("0000:03:00.0 on h1 is not in the mapping file"),
        "{}",
        r.stderr
    );
}

#[test]
fn xapi_cold_move_rewrites_other_config_and_starts_on_the_target() {
    let s = Scenario::lab();
    s.xapi();
    let r = s.xenpci(&["migrate", "xvm", "--to", "h2", "--toolstack", "xapi"]);
    r.ok();
    assert!(r.stdout.contains("COLD move"), "{}", r.stdout);
    assert_eq!(s.xe_get("other-config"), "pci: 0/0000:81:00.0");
    assert_eq!(s.xe_get("power-state"), "running");
    assert_eq!(
        s.xe_get("resident-on"),
        "22222222-2222-2222-2222-222222222222"
    );
}

#[test]
fn detach_all_then_reattach_on_another_host_with_the_map() {
    let s = hvm_with_two_devices();
    let save = s.path("saved.json");
    s.xenpci(&["detach-all", "hvmvm", "--save", save.to_str().unwrap()])
        .ok();
    assert_eq!(s.devices_of("h1", "hvmvm"), Some(vec![]));
    let st = s.xenpci(&["status", "--all"]);
    let line = st
        .ok()
        .stdout
        .lines()
        .find(|l| l.contains("hvmvm"))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains("  detach-all hvmvm on h1  Done  ")
            && !line.contains("detach-all detach-all"),
        "{line}"
    );
    s.xl("h1", &["migrate", "hvmvm", "h2"]).ok();
    s.xenpci(&["reattach", "--from", save.to_str().unwrap(), "--host", "h2"])
        .ok();
    assert_eq!(
        s.xl("h2", &["pci-list", "hvmvm"]).stdout,
        "Vdev Device\n05.0 0000:81:00.0\n06.0 0000:82:00.0\n"
    );
}

/// What the real-Xen e2e check does (tests/xen-e2e): migrate to `localhost`, config found
/// through XENPCI_XL_CONFIG_DIRS; no mapping needed on the same host.
#[test]
fn same_host_moves_cold_and_live_without_a_map() {
    let s = Scenario::lab();
    let guests = s.root("h1").join("guests");
    std::fs::create_dir_all(&guests).unwrap();
    std::fs::copy(s.pv_cfg(), guests.join("pvvm.cfg")).unwrap();
    s.xl("h1", &["pci-attach", "pvvm", "0000:03:00.0,permissive=1"])
        .ok();
    let r = s.xenpci_env(
        &[
            ("XENPCI_XL_CONFIG_DIRS", "/nowhere:/guests"),
            ("XENPCI_MAP", "<unset>"),
        ],
        &["migrate", "pvvm", "--to", "localhost"],
    );
    r.ok();
    assert!(
        r.stdout.contains("plan: cold move of pvvm from h1 to h1"),
        "{}",
        r.stdout
    );
    assert_eq!(
        s.devices_of("h1", "pvvm"),
        Some(vec!["0000:03:00.0".to_string()])
    );
    let r = s.xenpci_env(
        &[("XENPCI_MAP", "<unset>")],
        &["migrate", "plain", "--to", "localhost"],
    );
    r.ok();
    assert!(
        r.stdout
            .contains("xl migrate -s '' plain 'xl migrate-receive'"),
        "{}",
        r.stdout
    );
    assert!(s
        .xl_log()
        .contains("[h1] xl migrate -s '' plain 'xl migrate-receive'"));
}

/// On a Xen built without shadow paging (Debian 12's 4.17: no `shadow` in virt_caps) a PV guest
/// cannot move live: refused up front with the reason and the cold alternative, xl migrate is
/// never run, the guest stays; `--cold` moves it.
#[test]
fn pv_live_move_refused_without_shadow_paging() {
    let s = Scenario::lab();
    let mut st = s.xl_state();
    st["hosts"]["h1"]["shadow"] = false.into();
    std::fs::write(s.path("xl.json"), st.to_string()).unwrap();
    let r = s.xenpci(&["migrate", "plain", "--to", "h2"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains("refusing to move plain live from h1"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("has no shadow paging (`shadow`)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("xenpci migrate plain --to h2 --cold"),
        "{}",
        r.stderr
    );
    assert!(!s.xl_log().contains("migrate"), "{}", s.xl_log());
    assert_eq!(s.devices_of("h1", "plain"), Some(vec![]));
    // an HVM guest only needs hap or shadow: it still moves live
    let r = s.xenpci(&["migrate", "hvmvm", "--to", "h2", "--dry-run"]);
    assert!(
        r.stdout.contains("plan: live move of hvmvm"),
        "{} {}",
        r.stdout,
        r.stderr
    );
    // --cold is the way for the PV guest
    let cfg = s.write(
        "plain.cfg",
        "name = \"plain\"\ntype = \"pv\"\nmemory = 256\n",
    );
    let r = s.xenpci(&[
        "migrate",
        "plain",
        "--to",
        "h2",
        "--cold",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    assert_eq!(s.devices_of("h2", "plain"), Some(vec![]));
}

/// When xl says why the live move failed (log-dirty), xenpci passes the reason on.
#[test]
fn failed_logdirty_is_explained() {
    use xenpci::flows::{migrate::explain_migrate_failure, FlowError};
    let e = explain_migrate_failure(FlowError::Xl {
        host: "h1".into(),
        command: "xl migrate plain h2".into(),
        status: "exit 1".into(),
        stderr:
            "xc: error: Failed to enable logdirty: 95,22,0 (22 = Invalid argument): Internal error"
                .into(),
    });
    let t = e.to_string();
    assert!(t.contains("shadow paging") && t.contains("--cold"), "{t}");
}

/// On an XAPI host detach-all of a VM xl does not know points at what works there (the cold
/// migrate, unassign --all), not only "not a domain".
#[test]
fn detach_all_on_an_xapi_host_points_at_the_cold_migrate() {
    let s = Scenario::lab();
    let etc = s.root("h1").join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("xensource-inventory"), "INSTALLATION_UUID='h1'\n").unwrap();
    let save = s.path("saved.json");
    let r = s.xenpci(&["detach-all", "ceph-osd-1", "--save", save.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("this host runs XAPI")
            && r.stderr
                .contains("`xenpci migrate ceph-osd-1 --to HOST --cold`")
            && r.stderr.contains("`xenpci unassign --all --vm ceph-osd-1`"),
        "{}",
        r.stderr
    );
}

/// `-vv` into a pipe (not a terminal) is plain text: no ANSI colour codes in the log.
#[test]
fn the_debug_log_in_a_pipe_has_no_colour_codes() {
    let s = Scenario::lab();
    let save = s.path("saved.json");
    let r = s.xenpci(&[
        "-vv",
        "detach-all",
        "nosuchvm",
        "--save",
        save.to_str().unwrap(),
    ]);
    assert!(
        r.stderr.contains("DEBUG") && r.stderr.contains("run"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains('\u{1b}'), "{:?}", r.stderr);
}

/// A target the transport cannot reach (ssh exits 255) is its own error naming the host, a tool
/// failure (exit 2), not an identity mismatch; nothing is done.
#[test]
fn an_unreachable_target_is_a_transport_failure_not_a_mismatch() {
    let s = hvm_with_two_devices();
    let ssh = s.write(
        "fake-ssh",
        "#!/bin/sh\nhost=$1; shift\nif [ \"$host\" = h2 ]; then\n  echo \"ssh: connect to host h2 port 22: No route to host\" >&2; exit 255\nfi\nexec env XL_MOCK_HOST=\"$host\" \"$@\"\n",
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let transport = format!("{} {{host}} {{cmd}}", ssh.display());
    let r = s.xenpci_env(
        &[("XENPCI_TRANSPORT", &transport)],
        &["migrate", "hvmvm", "--to", "h2"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot reach host h2")
            && r.stderr.contains("No route to host")
            && !r.stderr.contains("identity mismatch"),
        "{}",
        r.stderr
    );
    assert_eq!(s.attachments().len(), 2);
    assert!(!s.xl_log().contains("pci-detach"));
}
