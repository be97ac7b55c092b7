//! What the RPM ships besides the binaries is generated from the CLI itself: the man page and
//! the shell completions must name every subcommand.

use assert_cmd::Command;
use predicates::prelude::*;

const SUBCOMMANDS: &[&str] = &[
    "spec", "xlcfg", "xapi-pci", "list", "check", "hide", "unhide", "hidden", "assign", "unassign",
    "assigned", "pool", "demo",
];

#[test]
fn man_page_is_roff_and_names_every_subcommand() {
    let out = Command::cargo_bin("xenpci")
        .unwrap()
        .arg("manpage")
        .assert()
        .success();
    // roff writes '-' as '\-'
    let text = String::from_utf8(out.get_output().stdout.clone())
        .unwrap()
        .replace("\\-", "-");
    assert!(
        text.starts_with(".ie") || text.contains(".TH xenpci 1"),
        "{}",
        &text[..200.min(text.len())]
    );
    for s in SUBCOMMANDS {
        assert!(text.contains(s), "man page lacks {s}");
    }
}

#[test]
fn completions_cover_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::cargo_bin("xenpci")
            .unwrap()
            .args(["completions", shell])
            .assert()
            .success();
        let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
        for s in SUBCOMMANDS {
            assert!(text.contains(s), "{shell} completions lack {s}");
        }
    }
    Command::cargo_bin("xenpci")
        .unwrap()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("tcsh"));
}
