//! The workspace's shape (issue 12): one crate per part — the library (`xenpci-core`, crate
//! `xenpci`), the command (`xenpci`, this package) and the XAPI plugin (`xenpci-plugin`), each
//! shipped crate building one binary; their normal dependency trees (what the shipped binaries
//! link) hold none of the dev-only crates (the mocks, the fixture generator, the test kit, the
//! test-only crates); the fault hooks are a feature that is off by default; and no crate's
//! sources have an import cycle beyond the known list.

use std::process::Command;

use serde_json::Value;
use xenpci_testkit::bins::workspace_root;
use xenpci_testkit::modgraph;

/// `cargo ARGS` in the workspace root, offline and locked; its stdout.
fn cargo(args: &[&str]) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(args)
        .args(["--locked", "--offline"])
        .current_dir(workspace_root())
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 from cargo")
}

fn packages() -> Vec<Value> {
    let m: Value =
        serde_json::from_str(&cargo(&["metadata", "--format-version", "1", "--no-deps"])).unwrap();
    m["packages"].as_array().unwrap().clone()
}

fn package<'a>(all: &'a [Value], name: &str) -> &'a Value {
    all.iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no package {name} in the workspace"))
}

fn bins(p: &Value) -> Vec<String> {
    p["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

const DEV_ONLY: &[&str] = &["mock-xe", "mock-xl", "xenpci-fixtures", "xenpci-testkit"];

#[test]
fn the_command_the_plugin_and_the_library_are_crates_of_their_own_and_so_are_the_mocks() {
    let all = packages();
    assert_eq!(
        bins(package(&all, "xenpci")),
        ["xenpci"],
        "`cargo install --path .` would install these (the plugin: --path crates/xenpci-plugin)"
    );
    assert_eq!(bins(package(&all, "xenpci-plugin")), ["xenpci-plugin"]);
    let core = package(&all, "xenpci-core");
    assert!(bins(core).is_empty(), "the library builds no binary");
    let lib: Vec<&str> = core["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "lib"))
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(lib, ["xenpci"], "the library's crate name");
    assert_eq!(bins(package(&all, "mock-xe")), ["xe"]);
    assert_eq!(bins(package(&all, "mock-xl")), ["xl"]);
    for name in DEV_ONLY {
        // `publish = false` shows as an empty registry list
        assert_eq!(
            package(&all, name)["publish"],
            serde_json::json!([]),
            "{name}"
        );
    }
}

#[test]
fn the_shipped_binaries_link_none_of_the_dev_only_crates() {
    for (shipped, also) in [("xenpci", "clap"), ("xenpci-plugin", "serde_json")] {
        let tree = cargo(&["tree", "-e", "normal", "-p", shipped, "--prefix", "none"]);
        let names: Vec<&str> = tree
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert!(
            names.contains(&shipped) && names.contains(&"xenpci-core") && names.contains(&also),
            "{tree}"
        );
        for dev in DEV_ONLY
            .iter()
            .chain(&["assert_cmd", "predicates", "proptest", "pci-ids"])
        {
            assert!(!names.contains(dev), "{shipped} links {dev}:\n{tree}");
        }
    }
    // The library is not built with the command's or the plugin's argument machinery.
    let tree = cargo(&[
        "tree",
        "-e",
        "normal",
        "-p",
        "xenpci-core",
        "--prefix",
        "none",
    ]);
    for adapter in ["clap", "anyhow", "xenpci", "xenpci-plugin"] {
        assert!(
            !tree
                .lines()
                .any(|l| l.split_whitespace().next() == Some(adapter)),
            "the library depends on {adapter}:\n{tree}"
        );
    }
}

#[test]
fn the_fault_hooks_are_a_feature_that_is_off_by_default() {
    let all = packages();
    for p in &all {
        let default = p["features"]["default"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            !default
                .iter()
                .any(|f| f.as_str().is_some_and(|f| f.contains("fault-injection"))),
            "{}'s default features enable fault-injection",
            p["name"]
        );
    }
    // what a plain `cargo build` / `cargo install` of the shipped crates enables
    for shipped in ["xenpci", "xenpci-plugin"] {
        let tree = cargo(&["tree", "-e", "features", "-p", shipped, "--prefix", "none"]);
        assert!(tree.contains("xenpci-core v"), "{tree}");
        assert!(!tree.contains("fault-injection"), "{tree}");
    }
}

/// The import cycles that are still there, each to be broken by the branch that made it. The
/// check fails on any other cycle, and on an entry here that no longer exists (delete it: the
/// list only shrinks). The engine branch's three (flows <-> journal, flows: migrate <-> steps,
/// xapi: assign <-> verify) are gone since its merge.
const KNOWN_CYCLES: &[(&str, &str)] = &[];

#[test]
fn no_crate_has_an_import_cycle_beyond_the_known_list() {
    // the command and the plugin (no cycle, none known), then the library
    for adapter in ["src", "crates/xenpci-plugin/src"] {
        let found = modgraph::cycles(&workspace_root().join(adapter)).expect("read the sources");
        assert!(
            modgraph::modules(&workspace_root().join(adapter))
                .unwrap()
                .len()
                > 3
                && found.is_empty(),
            "import cycles in {adapter}: {:?}",
            found.iter().map(|c| c.to_string()).collect::<Vec<_>>()
        );
    }
    let src = workspace_root().join("crates/xenpci-core/src");
    let found = modgraph::cycles(&src).expect("read src/");
    let report: Vec<String> = found.iter().map(|c| c.to_string()).collect();
    eprintln!(
        "import cycles in src/ ({}):\n{}",
        found.len(),
        report.join("\n")
    );
    let names: Vec<String> = found.iter().map(|c| c.name()).collect();
    let new: Vec<&String> = found
        .iter()
        .zip(&report)
        .filter(|(c, _)| !KNOWN_CYCLES.iter().any(|(k, _)| *k == c.name()))
        .map(|(_, r)| r)
        .collect();
    assert!(
        new.is_empty(),
        "import cycles in src/:\n{}",
        new.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let gone: Vec<&str> = KNOWN_CYCLES
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| !names.iter().any(|n| n == k))
        .collect();
    assert!(
        gone.is_empty(),
        "no longer cycles, remove them from KNOWN_CYCLES: {gone:?}"
    );
}

/// The library's reads of the environment outside `src/config.rs`: the fault hooks, compiled
/// only with the `fault-injection` feature. Everything else is read once, by the binaries'
/// `main`, into `xenpci::config::Config`.
const KNOWN_ENV_READS: &[(&str, &str)] = &[
    (
        "src/fsutil/write.rs",
        "fault hook XENPCI_FAIL_WRITE (feature fault-injection)",
    ),
    (
        "src/engine/executor.rs",
        "fault hooks XENPCI_CRASH_*_STEP (feature fault-injection)",
    ),
];

#[test]
fn the_library_reads_the_environment_only_in_config() {
    let src = workspace_root().join("crates/xenpci-core/src");
    let mut readers: Vec<String> = Vec::new();
    for (m, file) in modgraph::modules(&src).unwrap() {
        let text = std::fs::read_to_string(&file).unwrap();
        let shown = format!("src/{}", file.strip_prefix(&src).unwrap().display());
        if m == ["config"] || !(text.contains("env::var(") || text.contains("env::var_os(")) {
            continue;
        }
        readers.push(shown);
    }
    let unknown: Vec<&String> = readers
        .iter()
        .filter(|r| !KNOWN_ENV_READS.iter().any(|(k, _)| k == r))
        .collect();
    assert!(
        unknown.is_empty(),
        "environment read outside src/config.rs: {unknown:?}"
    );
    let gone: Vec<&str> = KNOWN_ENV_READS
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| !readers.iter().any(|r| r == k))
        .collect();
    assert!(
        gone.is_empty(),
        "no longer read the environment, remove them from KNOWN_ENV_READS: {gone:?}"
    );
}

/// Every text file under `dir` (recursively, `target` and hidden directories skipped).
fn text_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if p.is_dir() {
            text_files(&p, out);
        } else if std::fs::read_to_string(&p).is_ok() {
            out.push(p);
        }
    }
}

/// The reference facts the tree cites (`xen-xl.md §2.7`, `FINDINGS.md §D`) are in
/// docs/reference/, and nothing points outside the repository for them any more.
#[test]
fn the_cited_reference_facts_are_in_the_repository() {
    let root = workspace_root();
    for f in [
        "xen-xl.md",
        "xapi-xe.md",
        "FINDINGS.md",
        "style.md",
        "README.md",
    ] {
        assert!(
            root.join("docs/reference").join(f).is_file(),
            "docs/reference/{f}"
        );
    }
    let mut files = Vec::new();
    for d in [
        "src",
        "crates",
        "tests",
        "grammar",
        "docs",
        "scripts",
        "README.md",
    ] {
        let p = root.join(d);
        if p.is_file() {
            files.push(p);
        } else {
            text_files(&p, &mut files);
        }
    }
    let outside: Vec<String> = files
        .iter()
        .filter(|p| !p.starts_with(root.join("docs/reference")))
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            [
                concat!("shared/", "reference/"),
                concat!("shared/", "xen-lab/FINDINGS"),
                concat!("xen-lab ", "FINDINGS"),
            ]
            .iter()
            .any(|c| text.contains(c))
            .then(|| p.strip_prefix(root).unwrap().display().to_string())
        })
        .collect();
    assert!(
        outside.is_empty(),
        "cite the copies in docs/reference/: {outside:?}"
    );
}
