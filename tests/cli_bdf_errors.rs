//! Every BDF argument of every subcommand is parsed by clap with `Bdf::from_str`, so a bad one
//! is the same usage error everywhere: `error: invalid value 'X' for '<BDF>': invalid PCI address
//! "X": <what is wrong> (expected [SSSS:]BB:DD.F in hex, e.g. 0000:05:00.0)`, nothing on stdout,
//! exit 2. The help of every subcommand is walked, so a new BDF argument without a case here
//! fails the test.

use xenpci_testkit::cli::Cli;
use xenpci_testkit::harness::Run;

/// (subcommand path and arguments with `{}` where the bad BDF goes, clap's name for the argument).
const CASES: &[(&[&str], &str)] = &[
    (&["check", "{}"], "[BDF]..."),
    (&["hide", "{}"], "<BDF>..."),
    (&["hide", "--json", "05:00.0", "{}"], "<BDF>..."),
    (&["unhide", "{}"], "<BDF>..."),
    (&["assign", "{}", "--vm", "v"], "[BDF]..."), // optional: or --vf-of
    (&["assign", "--vf-of", "{}", "--vm", "v"], "--vf-of <PF>"),
    (
        &["assign", "05:00.0", "--vm", "v", "--order", "{}"],
        "--order <BDF,...>",
    ),
    (&["unassign", "05:00.0,{}", "--vm", "v"], "[BDF]..."), // optional: or --all
    (&["detach", "dom", "{}"], "<BDF>"),
    (&["pool", "check", "{}"], "<BDF>..."),
    (&["libvirt-xml", "{}"], "<BDF>..."),
    (&["vfio-acl", "{}"], "<BDF>..."),
    (&["one-filter", "{}"], "<BDF>..."),
    (&["xapi-pci", "fmt", "{}"], "<BDF>..."),
    (
        &["xlcfg", "remove-pci", "/nonexistent/vm.cfg", "{}"],
        "<BDF>",
    ),
];

/// Bad inputs and what the message says is wrong with each.
const BAD: &[(&str, &str)] = &[
    ("zz:00.0", "the bus \"zz\" is not 1 to 2 hex digits"),
    ("05:00", "no '.' before the function"),
    ("05:00.9", "the function 0x9 is above the maximum 0x7"),
    ("1:2:3:4.0", "expected one or two ':' before the '.'"),
];

fn xenpci(args: &[String]) -> Run {
    let root = tempfile::tempdir().unwrap();
    Cli::xenpci().root(root.path()).args(args).run()
}

fn with(args: &[&str], bad: &str) -> Vec<String> {
    args.iter().map(|a| a.replace("{}", bad)).collect()
}

#[test]
fn every_bad_bdf_is_the_same_usage_error() {
    for (args, name) in CASES {
        for (bad, why) in BAD {
            let argv = with(args, bad);
            let out = xenpci(&argv);
            let stderr = &out.stderr;
            let want = format!(
                "error: invalid value '{bad}' for '{name}': invalid PCI address \"{bad}\": {why} \
                 (expected [SSSS:]BB:DD.F in hex, e.g. 0000:05:00.0)\n"
            );
            assert!(
                stderr.starts_with(&want),
                "{argv:?}:\n{stderr}\nwant:\n{want}"
            );
            assert_eq!(out.code, 2, "{argv:?}: {stderr}");
            if argv.iter().any(|a| a == "--json") {
                // one JSON document with the same message (a_bad_bdf_with_json_gives_a_json_document)
                let v: serde_json::Value = serde_json::from_str(&out.stdout)
                    .unwrap_or_else(|e| panic!("{argv:?}: stdout is not JSON: {e}"));
                assert_eq!(
                    v["error"].as_str(),
                    Some(want.trim_start_matches("error: ").trim_end())
                );
            } else {
                assert!(out.stdout.is_empty(), "{argv:?}: stdout {:?}", out.stdout);
            }
        }
    }
}

/// (SPEC shows as `[SPEC]` since `--vf-of PF` may stand in its place.)
#[test]
fn a_bad_spec_for_attach_is_the_same_usage_error() {
    let out = xenpci(&with(&["attach", "dom", "{}"], "zz:00.0"));
    let stderr = &out.stderr;
    assert!(
        stderr.starts_with(
            "error: invalid value 'zz:00.0' for '[SPEC]': invalid PCI_SPEC_STRING \"zz:00.0\""
        ),
        "{stderr}"
    );
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty());
}

/// `xenpci [path] --help` for every subcommand, recursively: (path, help text).
fn all_helps(path: Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
    let mut argv = path.clone();
    argv.push("--help".into());
    let help = xenpci(&argv).stdout;
    let subs: Vec<String> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect();
    out.push((path.clone(), help));
    for s in subs {
        let mut p = path.clone();
        p.push(s);
        all_helps(p, out);
    }
}

#[test]
fn every_bdf_argument_has_a_case() {
    let mut helps = Vec::new();
    all_helps(Vec::new(), &mut helps);
    assert!(helps.len() > 20, "only {} helps found", helps.len());
    let arg = regex::Regex::new(r"(--[a-z-]+ )?<BDF[^>]*>(\.\.\.)?").unwrap();
    for (path, help) in &helps {
        let usage = help.lines().find(|l| l.starts_with("Usage:")).unwrap_or("");
        for m in arg.find_iter(help) {
            let name = m.as_str();
            // Positional BDFs are named in the usage line; options in the option list.
            if !name.starts_with("--") && !usage.contains(name) {
                continue;
            }
            let covered = CASES.iter().any(|(args, n)| {
                *n == name && args.len() > path.len() && args[..path.len()] == path[..]
            });
            assert!(
                covered,
                "xenpci {} takes {name}: add a case",
                path.join(" ")
            );
        }
    }
}

/// With --json a usage error still leaves one JSON document on stdout (exit 2, message on stderr).
#[test]
fn a_bad_bdf_with_json_gives_a_json_document() {
    let out = Cli::xenpci().args(["check", "--json", "zz:00.0"]).run();
    assert_eq!(out.code, 2);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(v["refused"], false);
    assert_eq!(v["kind"], "bad-input");
    let e = v["error"].as_str().unwrap();
    // (check's BDF is optional: no BDF is the host check)
    assert!(
        e.starts_with("invalid value 'zz:00.0' for '[BDF]...'"),
        "{e}"
    );
    assert!(out.stderr.contains("zz:00.0"));
}
