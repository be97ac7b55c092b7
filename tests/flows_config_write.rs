//! The files flows write (the cold move's target xl.cfg, detach-all's saved device list) go
//! through the same checked write as `xenpci xlcfg`: locked, backed up, refused when the file
//! changed since the plan read it, untouched lines kept byte for byte, the dry run showing the
//! diff; a rollback puts back the exact original bytes, and never over someone else's edit.

use xenpci_testkit::lab::{Run, Scenario};

/// A guest config with layout xl accepts but a re-printer would not keep.
const CFG: &str = "# the ceph OSD guest\r\nname=\"pvvm\"   # tabs and spaces below\n\ttype = 'pv'\nmemory = 1024 ;\n\npci = [ \"0000:03:00.0,permissive=1\" ]  # HBA\nextra = \"console=hvc0\"\n";

/// A stale target config (an earlier move), with bytes no generator would write.
const STALE: &str = "# stale from an earlier move\nname = \"pvvm\"\n  pci=['0000:81:00.0']\n";

/// The lab with pvvm (PV) holding the HBA and its config `CFG`; returns the migrate args.
fn pv_guest(s: &Scenario) -> Vec<String> {
    let cfg = s.write("pvvm.cfg", CFG);
    s.xl("h1", &["pci-attach", "pvvm", "0000:03:00.0,permissive=1"])
        .ok();
    [
        "migrate",
        "pvvm",
        "--to",
        "h2",
        "--config",
        cfg.to_str().unwrap(),
    ]
    .map(str::to_string)
    .to_vec()
}

fn run(s: &Scenario, env: &[(&str, &str)], args: &[String]) -> Run {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    s.xenpci_env(env, &a)
}

/// Backups of `name` in the scenario dir.
fn backups(s: &Scenario, name: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(s.dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("{name}.xenpci-")) && n.ends_with(".bak"))
        .collect();
    v.sort();
    v
}

fn read(s: &Scenario, name: &str) -> String {
    std::fs::read_to_string(s.path(name)).unwrap()
}

/// XL_MOCK_FAIL value failing the next `xl CMD` call.
fn fail_next(s: &Scenario, cmd: &str) -> String {
    let n = s.xl_state()["call-counts"][cmd].as_u64().unwrap_or(0) + 1;
    format!("{cmd}:{n}")
}

#[test]
fn the_target_config_keeps_every_untouched_byte() {
    let s = Scenario::lab();
    let args = pv_guest(&s);
    run(&s, &[], &args).ok();
    assert_eq!(
        read(&s, "pvvm@h2.cfg"),
        CFG.replace("0000:03:00.0", "0000:81:00.0"),
        "only the BDF changes"
    );
    assert_eq!(
        read(&s, "pvvm.cfg"),
        CFG,
        "the source config is not touched"
    );
    assert!(
        backups(&s, "pvvm@h2.cfg").is_empty(),
        "a new file has nothing to back up"
    );
    assert!(
        !s.path(".pvvm@h2.cfg.xenpci-lock").exists(),
        "the xlcfg lock leaves no file behind"
    );
}

#[test]
fn a_replaced_target_config_is_backed_up_and_a_rollback_restores_its_bytes() {
    let s = Scenario::lab();
    let args = pv_guest(&s);
    s.write("pvvm@h2.cfg", STALE);
    let r = run(&s, &[("XL_MOCK_FAIL", &fail_next(&s, "create"))], &args);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("rolled back"), "{}", r.stdout);
    assert_eq!(read(&s, "pvvm@h2.cfg"), STALE, "exact original bytes");
    assert_eq!(
        s.devices_of("h1", "pvvm"),
        Some(vec!["0000:03:00.0".into()])
    );
    let b = backups(&s, "pvvm@h2.cfg");
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(read(&s, &b[0]), STALE);
    // and a move that succeeds replaces it, leaving the backup
    run(&s, &[], &args).ok();
    assert!(read(&s, "pvvm@h2.cfg").contains("0000:81:00.0,permissive=1"));
    assert!(backups(&s, "pvvm@h2.cfg")
        .iter()
        .all(|n| read(&s, n) == STALE));
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn a_config_changed_between_read_and_write_fails_the_step_and_the_flow_rolls_back() {
    let s = Scenario::lab();
    let args = pv_guest(&s);
    // planned (the target read as absent), then killed before the write
    let r = run(&s, &[("XENPCI_CRASH_BEFORE_STEP", "1")], &args);
    assert_eq!(r.code, 137, "{}", r.stderr);
    let theirs = "# written by the admin meanwhile\nname = \"pvvm\"\n";
    s.write("pvvm@h2.cfg", theirs);
    let r = s.xenpci(&["resume"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("rolled back"), "{}", r.stdout);
    assert!(
        r.stdout.contains("because step 1") && r.stdout.contains("changed since it was read"),
        "{}",
        r.stdout
    );
    assert_eq!(read(&s, "pvvm@h2.cfg"), theirs, "their edit is kept");
    assert!(backups(&s, "pvvm@h2.cfg").is_empty());
    assert_eq!(
        s.devices_of("h1", "pvvm"),
        Some(vec!["0000:03:00.0".into()])
    );
    assert!(
        !s.xl_log().contains(" shutdown "),
        "nothing after the refused write"
    );
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn a_rollback_does_not_undo_over_an_edit_made_after_the_write() {
    let s = Scenario::lab();
    let args = pv_guest(&s);
    let r = run(&s, &[("XENPCI_CRASH_AFTER_STEP", "1")], &args);
    assert_eq!(r.code, 137, "{}", r.stderr);
    let edited = read(&s, "pvvm@h2.cfg") + "vcpus = 4\n";
    s.write("pvvm@h2.cfg", &edited);
    let r = s.xenpci(&["resume", "--rollback"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("Stuck") && r.stdout.contains("changed since it was read"),
        "{}",
        r.stdout
    );
    assert_eq!(read(&s, "pvvm@h2.cfg"), edited);
}

#[test]
fn dry_run_prints_the_config_diff_and_writes_nothing() {
    let s = Scenario::lab();
    let mut args = pv_guest(&s);
    args.push("--dry-run".into());
    let r = run(&s, &[], &args);
    r.ok();
    let cfg = s.path("pvvm.cfg").display().to_string();
    for line in [
        format!("  1. [local] write {}@h2.cfg", &cfg[..cfg.len() - 4]),
        format!("  step 1 writes a new file; shown against {cfg}:"),
        "    -pci = [ \"0000:03:00.0,permissive=1\" ]  # HBA".into(),
        "    +pci = [ \"0000:81:00.0,permissive=1\" ]  # HBA".into(),
        "     extra = \"console=hvc0\"".into(),
    ] {
        assert!(r.stdout.contains(&line), "{line:?} not in\n{}", r.stdout);
    }
    assert!(!s.path("pvvm@h2.cfg").exists());
    // over an existing file, the diff is against what is there
    s.write("pvvm@h2.cfg", STALE);
    let r = run(&s, &[], &args);
    assert!(
        r.ok().stdout.contains("  step 1 changes:\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("    -  pci=['0000:81:00.0']"),
        "{}",
        r.stdout
    );
    assert_eq!(read(&s, "pvvm@h2.cfg"), STALE);
}

fn hvm_with_two_devices() -> Scenario {
    let s = Scenario::lab();
    s.xl("h1", &["pci-attach", "hvmvm", "0000:03:00.0@5"]).ok();
    s.xl("h1", &["pci-attach", "hvmvm", "0000:04:00.0@6"]).ok();
    s
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn detach_all_saves_through_the_checked_write_and_a_rollback_restores_the_old_save() {
    let s = hvm_with_two_devices();
    let save = s.write("saved.json", "{\"old\": true}\n");
    let args: Vec<String> = ["detach-all", "hvmvm", "--save", save.to_str().unwrap()]
        .map(str::to_string)
        .to_vec();
    let mut dry = args.clone();
    dry.push("--dry-run".into());
    let r = run(&s, &[], &dry);
    assert!(
        r.ok().stdout.contains("  1. [local] write "),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("    -{\"old\": true}"), "{}", r.stdout);
    assert!(
        r.stdout.contains("    +  \"vm\": \"hvmvm\","),
        "{}",
        r.stdout
    );
    // the second detach fails: the first is re-attached and the old save comes back
    let fail = format!(
        "pci-detach:{}",
        s.xl_state()["call-counts"]["pci-detach"]
            .as_u64()
            .unwrap_or(0)
            + 2
    );
    let r = run(&s, &[("XL_MOCK_FAIL", &fail)], &args);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(read(&s, "saved.json"), "{\"old\": true}\n");
    assert_eq!(s.devices_of("h1", "hvmvm").map(|d| d.len()), Some(2));
    run(&s, &[], &args).ok();
    assert!(read(&s, "saved.json").contains("\"spec\": \"0000:04:00.0@6\""));
    assert_eq!(backups(&s, "saved.json").len(), 2, "one per write");
}
