//! What the packages ship besides the binaries is generated from the CLI itself: the man page and
//! the shell completions must name every subcommand, each as a whole word ("unhide" does not
//! count for "hide"), and the list of subcommands is read from `xenpci help`, so a new command
//! is checked without editing this file; [`EXPECTED`] makes a lost command fail too.

use assert_cmd::Command;
use predicates::prelude::*;
use regex::Regex;

/// Every subcommand a user can type (clap's own `help` aside).
const EXPECTED: &[&str] = &[
    "spec",
    "xlcfg",
    "xapi-pci",
    "list",
    "check",
    "attach",
    "detach",
    "attached",
    "migrate",
    "detach-all",
    "reattach",
    "resume",
    "status",
    "evacuate",
    "hide",
    "unhide",
    "hidden",
    "assign",
    "unassign",
    "assigned",
    "pool",
    "completions",
    "demo",
];

fn stdout_of(args: &[&str]) -> String {
    let out = Command::cargo_bin("xenpci")
        .unwrap()
        .args(args)
        .assert()
        .success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

/// The subcommands `xenpci help` lists under "Commands:".
fn listed_subcommands() -> Vec<String> {
    let help = stdout_of(&["help"]);
    let section = help
        .split("Commands:")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .expect("`xenpci help` has a Commands: section");
    section
        .lines()
        // A command's line starts with two spaces and its name; wrapped descriptions start deeper.
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// `name` as a whole word: not inside "unhide" or "detach-all" (for "detach").
fn names(text: &str, name: &str) -> bool {
    let re = Regex::new(&format!(r"(^|[^\w-]){}($|[^\w-])", regex::escape(name))).unwrap();
    re.is_match(text)
}

#[test]
fn help_lists_exactly_the_expected_subcommands() {
    let mut listed = listed_subcommands();
    let mut expected: Vec<String> = EXPECTED.iter().map(|s| s.to_string()).collect();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
}

#[test]
fn whole_word_matching_tells_unhide_from_hide() {
    assert!(!names("xenpci unhide 05:00.0", "hide"));
    assert!(!names("xenpci detach-all d", "detach"));
    assert!(names("spec xlcfg hide unhide", "hide"));
}

#[test]
fn man_page_is_roff_and_refers_to_a_page_per_subcommand() {
    // roff writes '-' as '\-'
    let text = stdout_of(&["manpage"]).replace("\\-", "-");
    assert!(
        text.contains(".TH xenpci 1"),
        "not a roff man page: {}",
        &text[..200.min(text.len())]
    );
    for s in listed_subcommands() {
        assert!(
            text.contains(&format!("xenpci-{s}(1)")),
            "man page lacks xenpci-{s}(1)"
        );
    }
}

#[test]
fn manpage_dir_writes_every_page_the_main_page_refers_to() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man");
    stdout_of(&["manpage", "--dir", out.to_str().unwrap()]);
    let mut pages: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    for s in listed_subcommands() {
        let page = format!("xenpci-{s}.1");
        assert!(pages.contains(&page), "no {page} in {pages:?}");
        let text = std::fs::read_to_string(out.join(&page)).unwrap();
        assert!(
            text.contains(&format!(".TH xenpci-{s} 1")),
            "{page}: {text}"
        );
    }
    // The nested commands get theirs too (xenpci-pool.1 refers to xenpci-pool-list(1)).
    for nested in [
        "xenpci-pool-list.1",
        "xenpci-xlcfg-add-pci.1",
        "xenpci-spec-parse.1",
    ] {
        assert!(
            pages.contains(&nested.to_string()),
            "no {nested} in {pages:?}"
        );
    }
    assert!(pages.contains(&"xenpci.1".to_string()));
}

#[test]
fn completions_cover_every_subcommand() {
    let subcommands = listed_subcommands();
    for shell in ["bash", "zsh", "fish"] {
        let text = stdout_of(&["completions", shell]);
        for s in &subcommands {
            assert!(
                names(&text, s),
                "{shell} completions lack the subcommand {s}"
            );
        }
    }
    Command::cargo_bin("xenpci")
        .unwrap()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("tcsh"));
}
