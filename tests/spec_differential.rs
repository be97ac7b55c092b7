//! Differential test against Xen's real parser: builds `tests/xlu/xlu_shim.c` with `cc` against
//! Debian's libxen-dev (libxlutil/libxenlight 4.17), feeds it every conformance vector plus
//! thousands of generated inputs, and requires our parsers to reach the same result:
//! accept/reject, error class (INVAL -6 / FAIL -3), what libxlutil prints, and on success domain,
//! bus, dev, func, vdevfn, vfunc_mask, the four flags, rdm_policy and name (spec, with random xl
//! defaults), domain..func and mask (bdf), strategy and policy (rdm).
//!
//! Inputs on which Xen's behaviour is undefined (an uninitialised `%n`; our parser says
//! `Undefined`) are never sent to Xen: the shim could read wild memory. They are counted, and the
//! test checks we reject them.
//!
//! Run `cargo test --test spec_differential -- --nocapture` to see the counts.

mod spec_common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use spec_common::{ours, vectors, Ctx, Defaults, Reached};
use xenpci_testkit::rng::Rng;

const HEADERS: [&str; 2] = ["/usr/include/libxlutil.h", "/usr/include/libxl.h"];

fn build_shim(dir: &Path) -> PathBuf {
    for h in HEADERS {
        assert!(
            Path::new(h).exists(),
            "{h} is missing: install Debian's libxen-dev (apt-get install libxen-dev) to run the differential test against Xen's libxlutil"
        );
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/xlu/xlu_shim.c");
    let exe = dir.join("xlu_shim");
    let out = Command::new("cc")
        .args(["-O1", "-Wall", "-o"])
        .arg(&exe)
        .arg(&src)
        .args(["-lxlutil", "-lxenlight"])
        .output()
        .expect("run cc (install a C compiler, e.g. apt-get install gcc)");
    assert!(
        out.status.success(),
        "building the libxlutil shim failed (is libxen-dev installed?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Runs the shim on all cases; returns one output line per case.
fn run_shim(exe: &Path, cases: &[(Ctx, String, Defaults)]) -> Vec<String> {
    let mut child = Command::new(exe)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start shim");
    let mut stdin = child.stdin.take().unwrap();
    let mut payload = Vec::new();
    for (ctx, input, d) in cases {
        payload.push(ctx.letter() as u8);
        payload.extend_from_slice(&d.header());
        payload.extend_from_slice(input.as_bytes());
        payload.push(0);
    }
    let writer = std::thread::spawn(move || {
        stdin.write_all(&payload).expect("write to shim");
    });
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    writer.join().unwrap();
    let status = child.wait().unwrap();
    let lines: Vec<String> = out.lines().map(str::to_string).collect();
    assert!(
        status.success() && lines.len() == cases.len(),
        "the shim stopped ({status}) after {} of {} inputs; next input: {:?}",
        lines.len(),
        cases.len(),
        cases.get(lines.len())
    );
    lines
}

/// This test's pieces, drawn with the test kit's generator ([`Rng`]).
struct Gen(Rng);

impl Gen {
    /// Mostly well-formed pieces, sometimes a weird one.
    fn hex(&mut self) -> &'static str {
        if self.0.chance(70) {
            self.0.pick(GOOD_HEX)
        } else {
            self.0.pick(HEX)
        }
    }
}

const GOOD_HEX: &[&str] = &[
    "0", "1", "01", "2", "3", "4", "5", "6", "7", "a", "1e", "1f", "05", "0000",
];
const HEX: &[&str] = &[
    "0",
    "1",
    "01",
    "7",
    "8",
    "1f",
    "1F",
    "20",
    "ff",
    "100",
    "ffff",
    "10000",
    "dead",
    "DDDD",
    "100000000",
    "100000007",
    "ffffffff",
    "ffffffffffffffffff",
    "10000000000000000",
    "0x1f",
    "0X7",
    "0x",
    "0xg",
    "+1",
    "-1",
    "-0",
    "+0x1f",
    "-0x",
    " 1",
    "\t2",
    "\n3",
    "00000001",
    "a",
    "x",
    "",
    " ",
    "*",
    "0000",
    "05",
    "1e",
    "\x0b1",
    "\x0c2",
    "\r3",
    " -0x1",
];
const KEYS: &[&str] = &[
    "bdf",
    "vslot",
    "permissive",
    "msitranslate",
    "seize",
    "power_mgmt",
    "rdm_policy",
    "name",
    "Permissive",
    "foo",
    "",
    " permissive",
    ",seize",
    "BDF",
    "vslot ",
];
const VALUES: &[&str] = &[
    "0",
    "1",
    "yes",
    "true",
    "2",
    "-1",
    " 1",
    "1 ",
    "0x1",
    "",
    "4294967296",
    "4294967297",
    "99999999999999999999",
    "-99999999999999999999",
    "+1",
    "- 1",
    "strict",
    "relaxed",
    "invalid",
    "RELAXED",
    "Strict",
    "foo",
    "strict ",
    "gpu",
    "my gpu",
    "a=b",
    "01:00.0",
    "01:00.*",
    "01:00.0@4",
    "1f",
    "20",
    "0x1f",
    "4junk",
    "0",
    "ffff:ff:1f.7",
    "01:20.0",
    "x",
];
const GOOD_KEYS: &[&str] = &[
    "vslot",
    "permissive",
    "msitranslate",
    "seize",
    "power_mgmt",
    "rdm_policy",
];
const GOOD_VALUES: &[&str] = &["0", "1", "strict", "relaxed", "2", "yes", "1f", "4", ""];
const SEPS: &[&str] = &[",", ",", ",", ", ", ",,", ";", " ,", ""];
const NOISE: &[&str] = &[
    ":", ".", "@", ",", "=", "*", " ", "0", "1", "f", "x", "+", "-", "\t", "é", "g", "bdf=",
];

fn bdf_text(g: &mut Gen) -> String {
    let mut s = String::new();
    if g.0.chance(40) {
        s.push_str(g.hex());
        s.push(':');
    }
    s.push_str(g.hex());
    s.push(':');
    s.push_str(g.hex());
    if g.0.chance(97) {
        s.push('.');
    }
    s.push_str(if g.0.chance(15) { "*" } else { g.hex() });
    s
}

fn spec_text(g: &mut Gen) -> String {
    let mut s = String::new();
    match g.0.below(10) {
        0..=5 => {
            s.push_str(&bdf_text(g));
            if g.0.chance(30) {
                s.push('@');
                s.push_str(g.hex());
            }
        }
        6 => s.push_str(&format!("bdf={}", bdf_text(g))),
        7 => s.push_str(&format!("name={}", g.0.pick(VALUES))),
        _ => {}
    }
    for _ in 0..g.0.below(4) {
        if !s.is_empty() {
            s.push_str(if g.0.chance(80) { "," } else { g.0.pick(SEPS) });
        }
        let key = if g.0.chance(75) {
            g.0.pick(GOOD_KEYS)
        } else {
            g.0.pick(KEYS)
        };
        s.push_str(key);
        if g.0.chance(95) {
            s.push('=');
        }
        s.push_str(&match key {
            "bdf" => bdf_text(g),
            "vslot" => g.hex().to_string(),
            "rdm_policy" if g.0.chance(60) => {
                g.0.pick(&["strict", "relaxed", "Invalid"]).to_string()
            }
            _ if g.0.chance(60) => g.0.pick(GOOD_VALUES).to_string(),
            _ => g.0.pick(VALUES).to_string(),
        });
    }
    if g.0.chance(10) {
        s.push(',');
    }
    mutate(g, s)
}

fn rdm_text(g: &mut Gen) -> String {
    let keys = ["strategy", "policy", "Strategy", " policy", "foo", ""];
    let vals = [
        "host", "HOST", "strict", "relaxed", "invalid", "Relaxed", "bogus", "", "host ", "a=b",
    ];
    let mut s = String::new();
    for i in 0..1 + g.0.below(3) {
        if i > 0 {
            s.push(',');
        }
        s.push_str(g.0.pick(&keys));
        if g.0.chance(95) {
            s.push('=');
        }
        s.push_str(g.0.pick(&vals));
    }
    if g.0.chance(10) {
        s.push(',');
    }
    mutate(g, s)
}

/// Sometimes inserts, deletes or replaces one character, or glues random noise together.
fn mutate(g: &mut Gen, s: String) -> String {
    if g.0.chance(5) {
        return (0..g.0.below(12)).map(|_| g.0.pick(NOISE)).collect();
    }
    let mut chars: Vec<char> = s.chars().collect();
    if g.0.chance(15) {
        let at = g.0.below(chars.len() + 1);
        match g.0.below(3) {
            0 if at < chars.len() => {
                chars.remove(at);
            }
            1 if at < chars.len() => chars[at] = g.0.pick(NOISE).chars().next().unwrap(),
            _ => chars.insert(at, g.0.pick(NOISE).chars().next().unwrap()),
        }
    }
    chars.into_iter().collect()
}

#[test]
fn our_parsers_reach_what_xens_libxlutil_reaches() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_shim(dir.path());

    let mut cases: Vec<(Ctx, String, Defaults)> = Vec::new();
    for v in vectors() {
        cases.push((v.ctx, v.input.clone(), Defaults::default()));
    }
    let mut g = Gen(Rng::new(0x5eed_1234_abcd_0001));
    for _ in 0..60_000 {
        let d = Defaults::from_bits(g.0.below(16) as u8, g.0.below(3) as u8);
        let s = spec_text(&mut g);
        cases.push((Ctx::Spec, s, d));
    }
    for _ in 0..10_000 {
        let b = bdf_text(&mut g);
        let s = mutate(&mut g, b);
        cases.push((Ctx::Bdf, s, Defaults::default()));
    }
    for _ in 0..10_000 {
        cases.push((Ctx::Rdm, rdm_text(&mut g), Defaults::default()));
    }
    cases.retain(|(_, s, _)| !s.contains('\0'));

    // Split off the inputs Xen has no defined result for.
    let mut undefined = 0;
    let mut compared: Vec<(Ctx, String, Defaults, Reached)> = Vec::new();
    for (ctx, input, d) in cases {
        match ours(ctx, &input, &d) {
            Some(r) => compared.push((ctx, input, d, r)),
            None => undefined += 1,
        }
    }
    let to_xen: Vec<(Ctx, String, Defaults)> = compared
        .iter()
        .map(|(c, s, d, _)| (*c, s.clone(), *d))
        .collect();
    let lines = run_shim(&exe, &to_xen);

    let mut disagreements = Vec::new();
    let mut per_ctx = [0usize; 3];
    let mut accepted = 0;
    for ((ctx, input, d, ours), line) in compared.iter().zip(&lines) {
        per_ctx[*ctx as usize] += 1;
        let xen = Reached::from_shim(*ctx, line).comparable(*ctx);
        let ours = ours.comparable(*ctx);
        if xen.rc == 0 {
            accepted += 1;
        }
        if xen != ours {
            disagreements.push(format!(
                "{ctx:?} {input:?} defaults {:?}\n  xen:  {xen:?}\n  ours: {ours:?}",
                d.0
            ));
        }
    }
    let total = compared.len();
    println!(
        "differential vs libxlutil 4.17: {total} inputs compared (spec {}, bdf {}, rdm {}; {accepted} accepted by Xen), {} disagreements; {undefined} inputs with undefined behaviour in Xen rejected by us and not compared",
        per_ctx[0],
        per_ctx[1],
        per_ctx[2],
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements with Xen's libxlutil, first ones:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(total > 70_000, "too few inputs compared: {total}");
    assert!(
        accepted > 15_000,
        "too few accepted inputs to be meaningful: {accepted}"
    );
}

#[test]
fn inputs_undefined_in_xen_are_rejected_by_us() {
    use xenpci::syntax::pci_spec::{parse_assignable_bdf, parse_spec, SpecErrorKind};
    for s in [
        "01:00",
        "01:00:0",
        "0000:0x01:00.0",
        "bdf=01:00",
        "01: 00:00.0",
        "1:2:3",
    ] {
        let e = parse_spec(s, &Default::default()).unwrap_err();
        assert_eq!(e.kind, SpecErrorKind::Undefined, "{s}");
        assert!(e.message.contains("undefined"), "{e}");
    }
    assert_eq!(
        parse_assignable_bdf("01:00").unwrap_err().kind,
        SpecErrorKind::Undefined
    );
}
