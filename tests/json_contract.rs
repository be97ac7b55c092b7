//! The `--json` contract (docs/interface.md): every command prints exactly one JSON document on
//! stdout whatever happens — its result, or the one error shape `{refused, kind, error, input,
//! hint, refusals}` — and its exit status follows the kind: 0 done, 1 refused or failed, 2 bad
//! input or a tool that failed (an unknown domain is bad input, as an unknown VM is). Run on the
//! seed's XCP-ng host with the test doubles (and no xe: XAPI commands fail as a missing tool
//! does).

mod util;

use serde_json::Value;
use util::generated;
use xenpci_fixtures as fixture;

const ERROR_KEYS: &[&str] = &["refused", "kind", "error", "input", "hint", "refusals"];

fn assert_error_doc(doc: &Value, kind: &str, what: &str) {
    let obj = doc
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {doc}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = ERROR_KEYS.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want, "{what}: {doc}");
    assert_eq!(doc["kind"], kind, "{what}: {doc}");
    assert_eq!(doc["refused"], kind == "refused", "{what}: {doc}");
    assert!(
        doc["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: {doc}"
    );
}

#[test]
fn every_outcome_is_one_document_with_the_exit_status_of_its_kind() {
    let h = generated(fixture::x9drw(), "xcpng82");
    h.pciback();
    let cfg = h.dir.path().join("g.cfg");
    std::fs::write(&cfg, "name = \"g\"\npci = [ ]\n").unwrap();
    let cfg = cfg.to_string_lossy().into_owned();
    let missing = h
        .dir
        .path()
        .join("missing.cfg")
        .to_string_lossy()
        .into_owned();
    // (argv, exit status, Some(error kind) or None for a result document)
    let cases: Vec<(Vec<&str>, i32, Option<&str>)> = vec![
        (vec!["list", "--json"], 0, None),
        (vec!["list", "--json", "-s", "02:"], 0, None),
        (vec!["check", "--json", "05:00.0"], 0, None),
        (vec!["check", "--json", "00:1f.2"], 1, None),
        (vec!["check", "--json"], 0, None),
        (vec!["hidden", "--json"], 0, None),
        (vec!["sriov", "--json"], 0, None),
        (vec!["sriov", "--json", "05:00.0"], 2, Some("bad-input")),
        (
            vec!["sriov", "set", "--json", "05:00.0", "2"],
            2,
            Some("bad-input"),
        ),
        (
            vec!["sriov", "set", "--json", "zz", "2"],
            2,
            Some("bad-input"),
        ),
        (vec!["hide", "--json", "--dry-run", "05:00.0"], 0, None),
        (vec!["hide", "--json", "00:1f.2"], 1, Some("refused")),
        (
            vec!["hide", "--json", "--method", "extlinux", "05:00.0"],
            2,
            Some("bad-input"),
        ),
        (vec!["hide", "--json", "zz"], 2, Some("bad-input")),
        (vec!["unhide", "--json", "--dry-run", "05:00.0"], 0, None),
        (
            vec!["xlcfg", "add-pci", "--json", &cfg, "05:00.0", "--dry-run"],
            0,
            None,
        ),
        (
            vec!["xlcfg", "add-pci", "--json", &cfg, "00:1f.2"],
            1,
            Some("refused"),
        ),
        (
            vec!["xlcfg", "show", "--json", &missing],
            2,
            Some("bad-input"),
        ),
        (vec!["list", "--json", "-d", "zz"], 2, Some("bad-input")),
        (
            vec!["assign", "--json", "05:00.0", "--vm", "g"],
            2,
            Some("tool-failed"),
        ),
        (
            vec!["attach", "--json", "g", "05:00.0"],
            2,
            Some("bad-input"),
        ),
        (
            vec!["attach", "--json", "g", "05:00.0", "zz"],
            2,
            Some("bad-input"),
        ),
    ];
    for (args, code, kind) in cases {
        let out = h.xenpci(&args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let what = format!("{args:?}");
        let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "{what}: stdout is not one JSON document ({e}):\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(
            out.status.code(),
            Some(code),
            "{what}: {doc}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        match kind {
            Some(k) => assert_error_doc(&doc, k, &what),
            None => assert!(doc.get("kind").is_none(), "{what}: {doc}"),
        }
    }
}

/// `--json` may stand anywhere on the line: before the subcommand it gives the same document.
#[test]
fn json_may_stand_anywhere() {
    let h = generated(fixture::x9drw(), "xcpng82");
    for (a, b) in [
        (
            vec!["--json", "list", "-s", "02:"],
            vec!["list", "-s", "02:", "--json"],
        ),
        (
            vec!["--json", "hide", "00:1f.2"],
            vec!["hide", "00:1f.2", "--json"],
        ),
        (
            vec!["check", "--json", "05:00.0"],
            vec!["check", "05:00.0", "--json"],
        ),
    ] {
        let x = h.xenpci(&a).output().unwrap();
        let y = h.xenpci(&b).output().unwrap();
        assert_eq!(x.status.code(), y.status.code(), "{a:?}");
        let x: Value = serde_json::from_slice(&x.stdout).unwrap();
        let y: Value = serde_json::from_slice(&y.stdout).unwrap();
        assert_eq!(x, y, "{a:?}");
    }
}
