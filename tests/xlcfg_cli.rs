//! `xenpci xlcfg` end to end: show (JSON interface and exit codes), edits with --dry-run diffs,
//! backups, untouched bytes, refusals, and a failed write leaving the file as it was.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use xenpci_testkit::cli::Cli;

/// xenpci on an empty host root (no devices, no tools): the files alone decide, whatever the
/// machine running the tests has.
fn xenpci() -> Command {
    static EMPTY: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let root = EMPTY.get_or_init(|| tempfile::tempdir().unwrap());
    let mut c = Command::from_std(Cli::xenpci().into_command());
    c.env_remove("XENPCI_FAIL_WRITE")
        .env("XENPCI_ROOT", root.path())
        .env_remove("XENPCI_XL")
        .env_remove("XENPCI_XE");
    c
}

/// A temp dir holding `vm.cfg` with `content`.
fn given(content: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("vm.cfg");
    std::fs::write(&p, content).unwrap();
    (dir, p)
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/xlcfg/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn show_json(path: &Path) -> (serde_json::Value, i32) {
    let out = xenpci()
        .args(["xlcfg", "show", "--json"])
        .arg(path)
        .output()
        .unwrap();
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        out.status.code().unwrap(),
    )
}

#[test]
fn show_json_has_the_interface_fields() {
    let (j, _) = show_json(Path::new(&fixture("no-pci.cfg")));
    for k in ["file", "ok", "error", "pci", "pci_error", "rdm", "warnings"] {
        assert!(j.get(k).is_some(), "missing {k} in {j}");
    }
    assert_eq!(j["ok"], true);
    assert_eq!(j["pci"], serde_json::json!([]));
}

#[test]
fn show_reports_xl_parse_errors_with_line() {
    let (_d, p) = given("name = 'x'\nPCI = [ '01:00.0' ]\n");
    let (j, code) = show_json(&p);
    assert_eq!(code, 1);
    assert_eq!(j["ok"], false);
    assert_eq!(j["error"]["line"], 2);
    assert_eq!(
        j["error"]["message"],
        "config parsing error near `PCI': lexical error"
    );
}

#[test]
fn show_explains_dropped_rdm_and_single_value_pci() {
    let (_d, p) = given("rdm = \"strategy=host,policy=relaxed\"\npci = \"01:00.0\"\n");
    let (j, code) = show_json(&p);
    assert_eq!(code, 0);
    assert_eq!(j["rdm"], serde_json::Value::Null);
    let w = j["warnings"].to_string();
    assert!(w.contains("inverted check"), "{w}");
    assert!(w.contains("is a single value but should be a list"), "{w}");
}

#[test]
fn show_human_output() {
    xenpci()
        .args(["xlcfg", "show"])
        .arg(fixture("quirks.cfg"))
        .assert()
        .success()
        .stdout(predicate::str::contains("accepted by xl"))
        .stdout(predicate::str::contains("not a valid number"));
}

#[test]
fn remove_pci_dry_run_prints_diff_and_writes_nothing() {
    let src = "name = 'vm'\npci = [ '01:00.0', '02:00.0' ]  # two\n";
    let (_d, p) = given(src);
    xenpci()
        .args(["xlcfg", "remove-pci", "--dry-run"])
        .arg(&p)
        .arg("0000:02:00.0")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "-pci = [ '01:00.0', '02:00.0' ]  # two",
        ))
        .stdout(predicate::str::contains("+pci = [ '01:00.0' ]  # two"));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), src);
}

#[test]
fn set_writes_with_backup_and_keeps_other_bytes() {
    let src = std::fs::read_to_string(fixture("hvm-gpu.cfg")).unwrap();
    let (_d, p) = given(&src);
    let out = xenpci()
        .args(["xlcfg", "set"])
        .arg(&p)
        .args(["pci_permissive", "1"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("backup: "), "{out}");
    let new = std::fs::read_to_string(&p).unwrap();
    assert_eq!(new, src.replace("pci_permissive = 0", "pci_permissive = 1"));
    let backup = out
        .split("backup: ")
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches(')');
    assert_eq!(std::fs::read_to_string(backup).unwrap(), src);
}

#[test]
fn refusals_exit_non_zero_and_leave_the_file() {
    let src = "pci = [ '01:00.0' ]\n";
    let (_d, p) = given(src);
    xenpci()
        .args(["xlcfg", "set"])
        .arg(&p)
        .args(["passthrough", "on"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown passthrough option"));
    xenpci()
        .args(["xlcfg", "remove-pci"])
        .arg(&p)
        .arg("1:2:3")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "invalid value '1:2:3' for '<BDF>': invalid PCI address \"1:2:3\"",
        ));
    xenpci()
        .args(["xlcfg", "add-pci"])
        .arg(&p)
        .arg("zz,foo")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "xl would reject the PCI_SPEC_STRING \"zz,foo\"",
        ));
    let (_d2, bad) = given("x = 1\r\n");
    xenpci()
        .args(["xlcfg", "set"])
        .arg(&bad)
        .args(["pci_seize", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "vm.cfg:1: config parsing error near `\r': lexical error",
        ));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), src);
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "needs the fault hooks: cargo test --features fault-injection (tests/run.sh)"
)]
fn failed_write_leaves_the_original() {
    let src = "pci = [ '01:00.0', '02:00.0' ]\n";
    let (d, p) = given(src);
    xenpci()
        .env("XENPCI_FAIL_WRITE", "rename")
        .args(["xlcfg", "remove-pci"])
        .arg(&p)
        .arg("01:00.0")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("rename failed"));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), src);
    let tmp_left = std::fs::read_dir(d.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".xenpci-tmp")
        })
        .count();
    assert_eq!(tmp_left, 0);
}

/// add-pci through the real PCI_SPEC_STRING parser: the entry is appended in the list's own
/// style (indent, trailing comma, comments kept) and reads back with its options.
#[test]
fn add_pci_appends_in_file_style() {
    let src = "name = 'vm'\npci = [\n    '01:00.0',  # nic\n]\n";
    let (_d, p) = given(src);
    xenpci()
        .args(["xlcfg", "add-pci"])
        .arg(&p)
        .arg("0000:03:00.0,permissive=1")
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        "name = 'vm'\npci = [\n    '01:00.0',  # nic\n    '0000:03:00.0,permissive=1',\n]\n"
    );
    let (j, code) = show_json(&p);
    assert_eq!(code, 0);
    assert_eq!(j["pci"][1]["bdf"], "0000:03:00.0");
    assert_eq!(j["pci"][1]["permissive"], true);
}

#[test]
fn show_stops_at_the_first_entry_xl_rejects() {
    let (_d, p) = given("pci_permissive = 1\npci = [ '01:00.0', '02:00.0,foo=1', '03:00.0' ]\n");
    let (j, code) = show_json(&p);
    assert_eq!(code, 1);
    assert_eq!(j["ok"], true);
    assert_eq!(j["pci"].as_array().unwrap().len(), 1);
    assert_eq!(j["pci"][0]["permissive"], true);
    assert_eq!(j["pci_error"]["index"], 1);
    assert_eq!(
        j["pci_error"]["message"],
        "unable to parse PCI_SPEC_STRING `02:00.0,foo=1' for passthrough"
    );
}

#[test]
fn edits_leave_no_lock_file_behind() {
    let (d, p) = given("pci = [ '01:00.0' ]\n");
    xenpci()
        .args(["xlcfg", "set"])
        .arg(&p)
        .args(["passthrough", "enabled"])
        .assert()
        .success();
    assert!(!d.path().join(".vm.cfg.xenpci-lock").exists());
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        "pci = [ '01:00.0' ]\npassthrough = 'enabled'\n"
    );
}

/// A `pci` entry of `xlcfg show --json` is the same record as `spec parse --json` prints for the
/// same string (without pci_* globals): one struct, [`xenpci::xlcfg::SpecRecord`], serves both.
#[test]
fn show_pci_entries_are_the_spec_parse_records() {
    let specs = [
        "0000:05:00.0@1f,permissive=1",
        "03:00.*,rdm_policy=relaxed",
        "name=foo",
        "1:0.0,seize=1,msitranslate=1,power_mgmt=1",
    ];
    let list: Vec<String> = specs.iter().map(|s| format!("'{s}'")).collect();
    let (_d, p) = given(&format!("pci = [ {} ]\n", list.join(", ")));
    let (j, _) = show_json(&p);
    let out = xenpci()
        .args(["spec", "parse", "--json"])
        .args(specs)
        .output()
        .unwrap();
    let parsed: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed.len(), specs.len());
    assert_eq!(j["pci"], serde_json::Value::Array(parsed));
}

#[test]
fn deep_nesting_is_refused_as_xl_does_and_just_below_the_limit_is_edited() {
    // 50,000 nested lists overflowed the stack (abort); xl says "memory exhausted".
    let deep = 50_000;
    let (_d, p) = given(&format!("x = {}{}\n", "[".repeat(deep), "]".repeat(deep)));
    xenpci()
        .args(["xlcfg", "show"])
        .arg(&p)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "config parsing error near `[': memory exhausted",
        ));
    // 4,996 deep is still accepted by xl, so it is a document that can be edited.
    let ok = 4_996;
    let (_d, p) = given(&format!("x = {}{}\n", "[".repeat(ok), "]".repeat(ok)));
    xenpci()
        .args(["xlcfg", "set"])
        .arg(&p)
        .args(["pci_permissive", "1"])
        .assert()
        .success();
    assert!(std::fs::read_to_string(&p)
        .unwrap()
        .ends_with("]\npci_permissive = 1\n"));
}
