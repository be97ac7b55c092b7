//! Differential test: xenpci's xl.cfg parser against Xen's own (libxlutil's `xlu_cfg_readdata`,
//! through the C shim in `tests/xlu_cfg/shim.c`, built here with `cc -lxlutil`). Every document —
//! the fixtures, the conformance vectors and thousands of generated ones — must give the same
//! accept/reject, the same error report byte for byte, and the same values for every key
//! (`xlu_cfg_get_string`, `_get_list` + `_get_listitem`, `_get_long`, warnings included).
//!
//! Needs libxen-dev (`/usr/include/libxlutil.h`, `libxlutil.so`); `.ci/run` installs it.
//! `XLCFG_DIFF_DOCS=N` changes the number of generated documents (default 4000).

#[path = "xlu_cfg/render.rs"]
mod render;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use render::KEYS;
use xenpci_testkit::rng::Rng;

/// The shim, built once per test binary (tests run in parallel: a second `cc -o` over a running
/// shim fails with ETXTBSY).
fn shim() -> PathBuf {
    static SHIM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    SHIM.get_or_init(build_shim).clone()
}

fn build_shim() -> PathBuf {
    assert!(
        std::path::Path::new("/usr/include/libxlutil.h").exists(),
        "libxen-dev is not installed: /usr/include/libxlutil.h is missing \
         (apt-get install libxen-dev); the differential test needs Xen's real parser"
    );
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("xlu_shim");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/xlu_cfg/shim.c");
    let st = Command::new("cc")
        .args(["-O1", "-Wall", "-o"])
        .arg(&out)
        .arg(src)
        .arg("-lxlutil")
        .status()
        .expect("cannot run cc (install a C compiler)");
    assert!(st.success(), "building {src} with cc -lxlutil failed");
    out
}

/// Runs every document through the real parser in one shim process.
fn run_real(docs: &[String]) -> Vec<String> {
    let mut child = Command::new(shim())
        .args(KEYS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot start the shim");
    let mut input = Vec::new();
    for d in docs {
        writeln!(input, "{}", d.len()).unwrap();
        input.extend_from_slice(d.as_bytes());
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("shim failed");
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "shim exited with {}", out.status);
    let text = String::from_utf8(out.stdout).unwrap();
    let blocks: Vec<String> = text.split_inclusive("END\n").map(str::to_string).collect();
    assert_eq!(
        blocks.len(),
        docs.len(),
        "shim answered a different number of documents"
    );
    blocks
}

/// This test's pieces, drawn with the test kit's generator ([`Rng`]).
struct Gen(Rng);

impl Gen {
    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "01:00.0",
            "0000:03:00.0,permissive=1",
            "04:00.0@6",
            "a",
            "x y",
            "#",
            ",",
            "=",
            "é",
            "strategy=host",
            "strategy=host,policy=relaxed",
            "sync_pt",
            "1",
            "010",
            "08",
            "0x1f",
            "-1",
            " 5",
            "1e",
            "\t",
            "\r",
            "\u{b}",
        ];
        const ESCAPES: &[&str] = &[
            "\\n", "\\t", "\\\\", "\\\"", "\\'", "\\a", "\\v", "\\101", "\\1", "\\12", "\\1 5",
            "\\x41", "\\q", "\\0", "\\7777", "\\1+2", "\\ ", "\\é", "\\\t", "\\1\t5", "\\1\r5",
            "\\9", "\\19", "\\x",
        ];
        let q = if self.0.chance(50) { '\'' } else { '"' };
        let mut s = String::new();
        s.push(q);
        for _ in 0..self.0.below(3) {
            if self.0.chance(12) {
                s.push_str(self.0.pick(ESCAPES));
            } else {
                s.push_str(self.0.pick(PIECES));
            }
        }
        if self.0.chance(2) {
            s.push(if q == '"' { '\'' } else { '"' });
        }
        if !self.0.chance(2) {
            s.push(q);
        }
        s
    }

    fn atom(&mut self) -> String {
        if self.0.chance(55) {
            self.string()
        } else {
            self.0
                .pick(&[
                    "0",
                    "1",
                    "010",
                    "08",
                    "0x1f",
                    "1e",
                    "12",
                    "0x",
                    "99999999999999999999",
                    "7a",
                ])
                .to_string()
        }
    }

    fn nl(&mut self) -> &'static str {
        match self.0.below(20) {
            0..=13 => "",
            14..=16 => "\n",
            17 => " # c\n",
            18 => "\n  ",
            _ => " ",
        }
    }

    fn value(&mut self, depth: usize) -> String {
        if depth > 1 || self.0.chance(50) {
            return self.atom();
        }
        let mut s = String::from("[");
        s.push_str(self.0.pick(&["", " ", "\n", " # open\n  "]));
        let n = self.0.below(4);
        for i in 0..n {
            let v = self.value(depth + 1);
            s.push_str(&v);
            s.push_str(self.nl());
            if i + 1 < n {
                s.push_str(if self.0.chance(2) { ",," } else { "," });
                s.push_str(self.nl());
                s.push_str(self.0.pick(&["", " ", "\n    "]));
            }
        }
        if n > 0 && self.0.chance(25) {
            s.push(',');
            s.push_str(self.nl());
        }
        if self.0.chance(3) {
            s.push_str(" \"z\"");
        }
        if !self.0.chance(2) {
            s.push(']');
        }
        s
    }

    fn junk(&mut self) -> &'static str {
        self.0.pick(&[
            ":", "-1", "PCI", "\\", "(", "'open", "\"open", "\r", "é", ",", "]", "[", "=", "x y",
            ".", "#", "+", "1F", "\t",
        ])
    }

    fn doc(&mut self) -> String {
        const KEYS_GEN: &[&str] = &[
            "pci",
            "pci",
            "x",
            "y",
            "pci_permissive",
            "pci_msitranslate",
            "rdm",
            "passthrough",
            "a.b",
        ];
        let mut s = String::new();
        let stmts = self.0.below(6);
        for i in 0..stmts {
            if self.0.chance(8) {
                s.push_str(
                    self.0
                        .pick(&["# comment\n", "\n", "  \n", ";", "\t# x = 1\n"]),
                );
            }
            s.push_str(self.0.pick(&["", "", " ", "\t"]));
            s.push_str(self.0.pick(KEYS_GEN));
            s.push_str(self.0.pick(&[" = ", "=", " += ", "+=", " =", "= "]));
            let v = self.value(0);
            s.push_str(&v);
            if self.0.chance(6) {
                s.push_str(self.junk());
            }
            let last = i + 1 == stmts;
            let end = if last && self.0.chance(20) {
                ""
            } else {
                self.0.pick(&[
                    "\n",
                    "\n",
                    "\n",
                    ";",
                    "; ",
                    " # trailing\n",
                    "\r\n",
                    " ",
                    ";\n",
                    "\n\n",
                ])
            };
            s.push_str(end);
        }
        if self.0.chance(4) {
            s.push_str(self.0.pick(&["# final", "#", ":", "x", "\n#c\n"]));
        }
        s
    }
}

fn fixtures_and_vectors() -> Vec<String> {
    let mut docs = Vec::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xlcfg");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/fixtures/xlcfg")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
        .collect();
    paths.sort();
    for p in paths {
        docs.push(std::fs::read_to_string(p).unwrap());
    }
    let vectors: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/grammar/vectors/xl-cfg.json"
        ))
        .unwrap(),
    )
    .unwrap();
    for v in vectors.as_array().unwrap() {
        docs.push(v["input"].as_str().unwrap().to_string());
    }
    docs
}

#[test]
fn rust_parser_agrees_with_libxlutil() {
    let n: usize = std::env::var("XLCFG_DIFF_DOCS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4000);
    let mut docs = fixtures_and_vectors();
    let handwritten = docs.len();
    let mut g = Gen(Rng::new(0x9E37_79B9_7F4A_7C15));
    docs.extend((0..n).map(|_| g.doc()));
    let real = run_real(&docs);
    let mut disagreements = Vec::new();
    let mut rejected = 0;
    for (i, (doc, want)) in docs.iter().zip(&real).enumerate() {
        let got = render::render(doc, KEYS);
        if !want.starts_with("DOC\nRC 0\n") {
            rejected += 1;
        }
        if &got != want {
            disagreements.push(format!(
                "#{i} {doc:?}\n--- libxlutil\n{want}--- xenpci\n{got}"
            ));
        }
    }
    println!(
        "xl.cfg differential: {} documents compared ({handwritten} fixtures/vectors, {n} generated; \
         {rejected} rejected by libxlutil), {} disagreements",
        docs.len(),
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements, first ones:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Nesting around bison's stack limit (YYMAXDEPTH 10000: "memory exhausted" from about 4,997
/// lists deep, the exact depth depending on what precedes the innermost list), and far beyond
/// it (50,000 overflowed xenpci's stack). Depths either side of the limit, with each parity of
/// the stack, newlines inside, unterminated lists and the lookahead at end of input.
#[test]
fn deep_nesting_agrees_with_libxlutil() {
    let mut docs = Vec::new();
    for depth in [1, 100, 4995, 4996, 4997, 4998, 4999, 5000, 10_000, 50_000] {
        let (open, close) = ("[".repeat(depth), "]".repeat(depth));
        docs.push(format!("x = {open}{close}\n"));
        docs.push(format!("x = [1, {open}{close}]\n"));
        docs.push(format!("y = 2\nx = {}{close}\n", "[\n".repeat(depth)));
        docs.push(format!("x = {open}"));
        docs.push(format!("x = [1,{open}"));
        docs.push(format!("x = {open}\n"));
        docs.push(format!("x = {open}'a'{close}\nz = 1\n"));
    }
    let real = run_real(&docs);
    for (doc, want) in docs.iter().zip(&real) {
        let got = render::render(doc, KEYS);
        assert_eq!(
            &got,
            want,
            "{}... ({} bytes): xenpci and libxlutil disagree",
            &doc[..doc.len().min(40)],
            doc.len()
        );
    }
}
