//! `xenpci spec parse|fmt` end to end: JSON field names (an interface), one line per input,
//! exit status 0 only when every input is accepted, canonical output of `fmt`.

use serde_json::Value;
use xenpci_testkit::cli::Cli;
use xenpci_testkit::harness::Run;

fn xenpci(args: &[&str]) -> Run {
    Cli::xenpci().args(args).run()
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn parse_json_accepted_has_exactly_the_interface_fields() {
    let Run {
        code, stdout: out, ..
    } = xenpci(&[
        "spec",
        "parse",
        "--json",
        "01:00.0@4,permissive=yes,rdm_policy=RELAXED",
    ]);
    assert_eq!(code, 0);
    let v = &json_lines(&out)[0];
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "accepted",
            "all_functions",
            "bdf",
            "input",
            "msitranslate",
            "name",
            "permissive",
            "power_mgmt",
            "rdm_policy",
            "seize",
            "vslot",
            "warnings"
        ]
    );
    assert_eq!(v["bdf"], "0000:01:00.0");
    assert_eq!(v["vslot"], 4);
    assert_eq!(v["permissive"], false);
    assert_eq!(v["rdm_policy"], "relaxed");
    assert_eq!(v["name"], Value::Null);
    assert!(v["warnings"][0].as_str().unwrap().contains("atoi"));
}

#[test]
fn parse_json_rejected_and_exit_status() {
    let Run {
        code, stdout: out, ..
    } = xenpci(&[
        "spec",
        "parse",
        "--json",
        "name=gpu",
        "01:00.0, permissive=1",
    ]);
    assert_eq!(code, 1);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["accepted"], true);
    assert_eq!(lines[0]["name"], "gpu");
    assert_eq!(lines[0]["vslot"], Value::Null);
    assert_eq!(lines[0]["rdm_policy"], Value::Null);
    let r = &lines[1];
    assert_eq!(r.as_object().unwrap().len(), 3);
    assert_eq!(r["accepted"], false);
    assert_eq!(r["input"], "01:00.0, permissive=1");
    let e = r["error"].as_str().unwrap();
    assert!(
        e.contains("offset 8") && e.contains("no space after ','"),
        "{e}"
    );
}

#[test]
fn parse_human_is_one_line_each() {
    let Run {
        code, stdout: out, ..
    } = xenpci(&["spec", "parse", "01:00.*@3", "02:00.0,seize=1"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].contains("0000:01:00.* (all functions)") && lines[0].contains("vslot 0x03"));
    assert!(lines[1].contains("seize=1"));
}

#[test]
fn fmt_prints_the_canonical_form_and_fails_on_bad_input() {
    let Run {
        code, stdout: out, ..
    } = xenpci(&["spec", "fmt", "5:0.0@1f,permissive=1", "name=gpu,vslot=10"]);
    assert_eq!(code, 0);
    assert_eq!(out, "0000:05:00.0@0x1f,permissive=1\nname=gpu,vslot=0x10\n");
    let Run {
        code,
        stdout: out,
        stderr: err,
    } = xenpci(&["spec", "fmt", "01:00.0@20"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains("\"01:00.0@20\"") && err.contains("0x20 = 32"),
        "{err}"
    );
}

#[test]
fn bdf_only_and_rdm_modes() {
    let Run {
        code, stdout: out, ..
    } = xenpci(&[
        "spec",
        "parse",
        "--bdf-only",
        "--json",
        "01:00.0,permissive=1",
    ]);
    assert_eq!(code, 0);
    let v = &json_lines(&out)[0];
    assert_eq!(v["bdf"], "0000:01:00.0");
    assert!(v["warnings"][0].as_str().unwrap().contains("ignores"));
    let Run {
        code, stdout: out, ..
    } = xenpci(&[
        "spec",
        "parse",
        "--rdm",
        "--json",
        "strategy=host,policy=relaxed",
    ]);
    assert_eq!(code, 1);
    assert!(json_lines(&out)[0]["error"]
        .as_str()
        .unwrap()
        .contains("inverts"));
}
