//! Fuzzing that runs on stable Rust inside `cargo test` (the cargo-fuzz targets in fuzz/ need
//! nightly): a fixed-seed generator mutates real inputs for a few seconds each
//! (`XENPCI_FUZZ_SECS`, default 3), so a failure names the seed and the case.
//! * the plugin's XML reader and call decoder (`crates/xenpci-plugin/src/xml.rs`, `protocol.rs`, compiled in
//!   here): never a panic; every reply, whatever it echoes, is well-formed XML to the reader;
//! * the CLI's argv (clap): random command lines from the CLI's own words never panic, in an
//!   empty host root with no host tools, from a scratch directory.

#[path = "../crates/xenpci-plugin/src/xml.rs"]
#[allow(dead_code)]
mod xml;

#[path = "../crates/xenpci-plugin/src/protocol.rs"]
#[allow(dead_code)]
mod protocol;

use std::process::Stdio;
use std::time::{Duration, Instant};
use xenpci_testkit::cli::Cli;
use xenpci_testkit::rng::Rng;

fn budget() -> Duration {
    let secs = std::env::var("XENPCI_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

const CALL: &str = "<?xml version='1.0'?>\n<methodCall>\n<methodName>list</methodName>\n<params>\n<param>\n<value><string>OpaqueRef:s</string></value>\n</param>\n<param>\n<value><struct>\n<member>\n<name>bdf</name>\n<value><string>05:00.0</string></value>\n</member>\n</struct></value>\n</param>\n</params>\n</methodCall>\n";

/// Pieces that matter to an XML reader.
const XML_BITS: &[&str] = &[
    "<",
    ">",
    "</",
    "/>",
    "&",
    ";",
    "&amp;",
    "&#1;",
    "&#x1F;",
    "&#xFFFF;",
    "&#99999999;",
    "&lt",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<?",
    "?>",
    "\"",
    "'",
    "=",
    "\u{0}",
    "\u{1}",
    "\u{1b}",
    "\r",
    "\n",
    "é",
    "\u{FFFF}",
    "<value>",
    "</value>",
    "<struct>",
    "<member>",
    "<name>",
    "<string>",
    "</string>",
    "<methodName>",
    "</methodName>",
    "<a>",
];

fn mutate(g: &mut Rng, base: &str) -> String {
    let mut s: Vec<char> = base.chars().collect();
    for _ in 0..=g.below(8) {
        let at = g.below(s.len() + 1);
        match g.below(4) {
            0 if !s.is_empty() => {
                let end = (at + g.below(16)).min(s.len());
                s.drain(at.min(end)..end);
            }
            1 => {
                let bit: Vec<char> = g.pick(XML_BITS).chars().collect();
                let n = if g.below(20) == 0 { 200 } else { 1 };
                for _ in 0..n {
                    let at = at.min(s.len());
                    s.splice(at..at, bit.iter().copied());
                }
            }
            2 if !s.is_empty() => {
                let at = at.min(s.len() - 1);
                s[at] = char::from_u32(g.below(0x80) as u32).unwrap_or('x');
            }
            _ => {
                let from = g.below(s.len());
                let end = (from + g.below(40)).min(s.len());
                let piece: Vec<char> = s[from..end].to_vec();
                let at = at.min(s.len());
                s.splice(at..at, piece);
            }
        }
    }
    s.into_iter().collect()
}

/// What Python's XML parser would also refuse: a character outside XML 1.0's Char.
fn well_formed_chars(reply: &str) -> bool {
    reply.chars().all(xml::is_xml_char)
}

#[test]
fn the_plugin_xml_reader_and_replies_survive_mutated_calls() {
    let seed = 0x5EED_0FC0_FFEE;
    let mut g = Rng::new(seed);
    let t = Instant::now();
    let mut n = 0;
    while t.elapsed() < budget() {
        let doc = mutate(&mut g, CALL);
        n += 1;
        // Never a panic; an accepted call's method name, echoed back, keeps the reply readable.
        let reply = match protocol::parse_call(&doc) {
            Ok(call) => protocol::failure("UNKNOWN_XENAPI_PLUGIN_FUNCTION", &[call.method]),
            Err(e) => protocol::failure("XENPCI_BAD_CALL", &[e.to_string()]),
        };
        assert!(
            well_formed_chars(&reply) && xml::parse(&reply).is_ok(),
            "seed {seed:#x} case {n}: reply not well-formed for {doc:?}:\n{reply}"
        );
    }
    assert!(n > 100, "only {n} cases in {:?}", budget());
    println!("plugin XML: {n} mutated calls");
}

/// The CLI's words: subcommands, options, and values of the shapes they take.
const WORDS: &[&str] = &[
    "spec",
    "parse",
    "fmt",
    "xlcfg",
    "show",
    "add-pci",
    "remove-pci",
    "set",
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
    "map",
    "completions",
    "bash",
    "demo",
    "help",
    "--json",
    "--dry-run",
    "--persistent",
    "--now",
    "--method",
    "--live",
    "--force",
    "--with-group",
    "--vm",
    "--to",
    "--from",
    "--cold",
    "--filter",
    "-d",
    "--bdf-only",
    "--rdm",
    "--timeout",
    "--jobs",
    "-j",
    "--all",
    "--rollback",
    "--map",
    "--toolstack",
    "--transport",
    "-v",
    "-vv",
    "--help",
    "-h",
    "--version",
    "--",
    "-",
    "05:00.0",
    "0000:05:00.0",
    "5:0.0",
    "05:00.0,permissive=1",
    "*",
    "x",
    "",
    " ",
    "=",
    "==",
    "--json=1",
    "--method=grub",
    "xl",
    "xapi",
    "sysfs",
    "grub",
    "99999999999999999999",
    "-1",
    "é",
    "\u{1}",
    "vm.cfg",
    "a=b",
    "--vm=",
    "--timeout=-5",
    "--jobs=0",
];

#[test]
fn random_command_lines_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(dir.path().join("vm.cfg"), "pci = [ '05:00.0' ]\n").unwrap();
    let err_path = dir.path().join("stderr");
    let seed = 0xA26_5EED;
    let mut g = Rng::new(seed);
    let t = Instant::now();
    let mut n = 0;
    while t.elapsed() < budget() {
        let argv: Vec<std::ffi::OsString> = (0..=g.below(6))
            .map(|_| {
                let w = g.pick(WORDS);
                match g.below(24) {
                    0 | 1 => w.repeat(1 + g.below(50)).into(),
                    // not UTF-8
                    2 => {
                        std::os::unix::ffi::OsStringExt::from_vec([w.as_bytes(), b"\xff"].concat())
                    }
                    _ => w.into(),
                }
            })
            .collect();
        n += 1;
        let mut child = Cli::xenpci()
            .into_command()
            .args(&argv)
            .current_dir(dir.path())
            .env("XENPCI_ROOT", &root)
            .env("XENPCI_STATE_DIR", dir.path().join("state"))
            .env("XENPCI_XL", dir.path().join("no-xl"))
            .env("XENPCI_XE", dir.path().join("no-xe"))
            .env("XENPCI_XEN_CMDLINE", dir.path().join("no-xen-cmdline"))
            .env("XENPCI_TRANSPORT", "local")
            .env("XENPCI_NO_XENSTORE", "1")
            .env_remove("XENPCI_MAP")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("seed {seed:#x} case {n}: xenpci {argv:?} still running after 20 s");
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
        assert!(
            status.code() != Some(101) && !stderr.contains("panicked"),
            "seed {seed:#x} case {n}: xenpci {argv:?} panicked:\n{stderr}"
        );
    }
    println!("argv: {n} command lines");
}
