//! What the packages ship besides the binaries is generated from the CLI itself: the man page and
//! the shell completions must name every subcommand, each as a whole word ("unhide" does not
//! count for "hide"), and the list of subcommands is read from `xenpci help`, so a new command
//! is checked without editing this file; [`EXPECTED`] makes a lost command fail too.

use assert_cmd::Command;
use predicates::prelude::*;
use regex::Regex;
use xenpci_testkit::cli::Cli;

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
    "maintenance",
    "hide",
    "unhide",
    "hidden",
    "libvirt-xml",
    "vfio-acl",
    "one-filter",
    "assign",
    "unassign",
    "assigned",
    "verify",
    "adopt",
    "apply",
    "export",
    "sriov",
    "pool",
    "completions",
    "demo",
];

fn stdout_of(args: &[&str]) -> String {
    let out = Command::from_std(Cli::xenpci().into_command())
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
    Command::from_std(Cli::xenpci().into_command())
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("tcsh"));
}

/// Every subcommand's `--help` ends with 2–3 pasteable examples of itself, and the man page
/// carries them.
#[test]
fn every_subcommand_help_has_examples() {
    fn walk(path: Vec<String>, out: &mut Vec<Vec<String>>) {
        let help = xenpci_help(&path);
        let subs = subcommands(&help);
        if !path.is_empty() {
            out.push(path.clone());
        }
        for s in subs {
            let mut p = path.clone();
            p.push(s);
            walk(p, out);
        }
    }
    fn xenpci_help(path: &[String]) -> String {
        let o = Cli::xenpci()
            .into_command()
            .args(path)
            .arg("--help")
            .output()
            .unwrap();
        assert!(o.status.success(), "{path:?}");
        String::from_utf8(o.stdout).unwrap()
    }
    fn subcommands(help: &str) -> Vec<String> {
        let Some(start) = help.find("Commands:\n") else {
            return Vec::new();
        };
        help[start + 10..]
            .lines()
            .take_while(|l| !l.is_empty())
            .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .filter(|n| n != "help")
            .collect()
    }
    let mut all = Vec::new();
    walk(Vec::new(), &mut all);
    assert!(all.len() >= 30, "{all:?}");
    for path in &all {
        let help = xenpci_help(path);
        let ex = help
            .split("\nExamples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("xenpci {} --help has no Examples:\n{help}", path.join(" ")));
        let lines: Vec<&str> = ex.lines().filter(|l| l.starts_with("  xenpci ")).collect();
        assert!(
            (2..=3).contains(&lines.len()),
            "xenpci {}: {lines:?}",
            path.join(" ")
        );
        // each example parses: its options exist (clap stops at an unknown one before --help;
        // `spec` takes hyphen values, so --help would be one of them there)
        for l in lines.iter().filter(|l| !l.starts_with("  xenpci spec ")) {
            let cmd = l.split(" #").next().unwrap().split(" > ").next().unwrap();
            let words = shell_words(cmd.trim());
            let o = Cli::xenpci()
                .into_command()
                .args(&words[1..])
                .arg("--help")
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "example {l:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        // each example runs this command (or a group's subcommands)
        assert!(
            lines
                .iter()
                .all(|l| l.contains(&format!("xenpci {}", path[0]))
                    || path[0] == "demo"
                    || path[0] == "pool"),
            "xenpci {}: {lines:?}",
            path.join(" ")
        );
    }
    let man = Cli::xenpci()
        .into_command()
        .args(["manpage", "--dir"])
        .arg(std::env::temp_dir().join(format!("xenpci-man-{}", std::process::id())))
        .output()
        .unwrap();
    assert!(man.status.success());
    let dir = std::env::temp_dir().join(format!("xenpci-man-{}", std::process::id()));
    let page = std::fs::read_to_string(dir.join("xenpci-assign.1")).unwrap();
    assert!(
        page.contains("Examples:") && page.contains("ceph\\-osd\\-1 \\-\\-restart"),
        "{page}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A mistyped option prints the subcommand's usage as `--help` shows it: options typed so far
/// are not made to look required.
#[test]
fn a_typo_prints_the_usage_with_optional_flags_optional() {
    for (args, usage) in [
        (
            &["check", "--json", "--jsn", "05:00.0"][..],
            "Usage: xenpci check [OPTIONS] [BDF]...",
        ),
        (
            &["assign", "05:00.0", "--vm", "x", "--restart", "--restrat"][..],
            "Usage: xenpci assign [OPTIONS] --vm <NAME|UUID> [BDF]...", // or --vf-of PF
        ),
        (
            &["xlcfg", "show", "--json", "--jsn", "f.cfg"][..],
            "Usage: xenpci xlcfg show [OPTIONS] <FILE>",
        ),
    ] {
        let o = Cli::xenpci().into_command().args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        let line = err
            .lines()
            .find(|l| l.starts_with("Usage: "))
            .unwrap_or_default();
        assert_eq!(line, usage, "{args:?}: {err}");
        assert!(err.contains("tip: a similar argument exists"), "{err}");
    }
}

/// Words of a command line: blanks split, single quotes group (enough for the examples).
fn shell_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
