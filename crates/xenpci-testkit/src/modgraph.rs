//! The import graph of a library's `src/` and its cycles, for the no-cycle check in CI
//! (tests/workspace.rs). A module is a file (`a.rs`, `a/mod.rs` → `a`; `a/b.rs` → `a::b`; the
//! binaries under `src/bin/` are other crates and left out). Module `m` depends on module `t`
//! when `m`'s code (comments and `#[cfg(test)] mod … { … }` blocks removed) names a path into
//! `t`: `crate::t::…` (also inside `use crate::{…}` groups) or `super::…` / `self::…` resolved
//! from `m`. Each dependency is an edge at the level where the two paths part: `host::x` →
//! `hide::y` is `host` → `hide` among the top-level modules, `flows::a` → `flows::b::c` is
//! `a` → `b` among the children of `flows`. A child naming its own ancestor is no edge (a parent
//! declares its children). A cycle is a strongly connected component of more than one module
//! at one level.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::Path;

/// A module path, its segments from the crate root (`["host", "inventory"]`).
pub type ModPath = Vec<String>;

/// One dependency: the module that names the path, the module named, and where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dep {
    pub from: ModPath,
    pub to: ModPath,
    /// `file:line` of the first naming.
    pub at: String,
}

/// A cycle: modules under the same parent (empty: the top level) that reach each other.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cycle {
    pub parent: ModPath,
    pub members: BTreeSet<String>,
    /// The edges between the members, each with one place that makes it.
    pub edges: Vec<(String, String, String)>,
}

impl Cycle {
    /// `flows: engine <-> steps` / `host <-> hide` (members in name order).
    pub fn name(&self) -> String {
        let m: Vec<&str> = self.members.iter().map(String::as_str).collect();
        if self.parent.is_empty() {
            m.join(" <-> ")
        } else {
            format!("{}: {}", self.parent.join("::"), m.join(" <-> "))
        }
    }
}

impl std::fmt::Display for Cycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name())?;
        for (a, b, at) in &self.edges {
            write!(f, "\n    {a} -> {b}  ({at})")?;
        }
        Ok(())
    }
}

/// The modules of the crate under `src` (a directory holding `lib.rs` or `main.rs`), by path,
/// with their files.
pub fn modules(src: &Path) -> io::Result<BTreeMap<ModPath, std::path::PathBuf>> {
    let mut out = BTreeMap::new();
    walk(src, src, &mut out)?;
    Ok(out)
}

fn walk(src: &Path, dir: &Path, out: &mut BTreeMap<ModPath, std::path::PathBuf>) -> io::Result<()> {
    for e in fs::read_dir(dir)? {
        let p = e?.path();
        let rel = p.strip_prefix(src).unwrap_or(&p);
        if rel.starts_with("bin") {
            continue;
        }
        if p.is_dir() {
            walk(src, &p, out)?;
        } else if p.extension().is_some_and(|x| x == "rs") {
            let mut segs: ModPath = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if segs
                .last()
                .is_some_and(|s| s == "mod" || s == "lib" || s == "main")
            {
                segs.pop();
            }
            out.insert(segs, p);
        }
    }
    Ok(())
}

/// Every dependency between the modules under `src`, one per (from, to) pair.
pub fn deps(src: &Path) -> io::Result<Vec<Dep>> {
    let mods = modules(src)?;
    // files declared `#[cfg(test)] mod NAME;` are the tests', like inline test modules
    let mut test_mods: Vec<ModPath> = Vec::new();
    for (m, file) in &mods {
        for name in test_modules(&fs::read_to_string(file)?) {
            let mut t = m.clone();
            t.push(name);
            test_mods.push(t);
        }
    }
    let mut seen: BTreeMap<(ModPath, ModPath), String> = BTreeMap::new();
    for (m, file) in &mods {
        if test_mods.iter().any(|t| m.starts_with(t)) {
            continue;
        }
        let text = strip(&fs::read_to_string(file)?);
        let shown = file
            .strip_prefix(src.parent().unwrap_or(src))
            .unwrap_or(file);
        for (line, path) in paths(&text, m) {
            // the longest prefix that is a module
            let to = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| mods.contains_key(p))
                .unwrap_or_default();
            if to != *m {
                seen.entry((m.clone(), to))
                    .or_insert_with(|| format!("{}:{line}", shown.display()));
            }
        }
    }
    Ok(seen
        .into_iter()
        .map(|((from, to), at)| Dep { from, to, at })
        .collect())
}

/// The cycles of the graph of `src`, level by level.
pub fn cycles(src: &Path) -> io::Result<Vec<Cycle>> {
    // (parent, from child, to child) -> where
    let mut edges: BTreeMap<ModPath, BTreeMap<(String, String), String>> = BTreeMap::new();
    for d in deps(src)? {
        let common = d.from.iter().zip(&d.to).take_while(|(a, b)| a == b).count();
        if common == d.from.len() || common == d.to.len() {
            continue; // one names its own ancestor or descendant
        }
        edges
            .entry(d.from[..common].to_vec())
            .or_default()
            .entry((d.from[common].clone(), d.to[common].clone()))
            .or_insert(d.at);
    }
    let mut out = Vec::new();
    for (parent, es) in edges {
        for scc in sccs(es.keys()) {
            let cycle_edges = es
                .iter()
                .filter(|((a, b), _)| scc.contains(a) && scc.contains(b))
                .map(|((a, b), at)| (a.clone(), b.clone(), at.clone()))
                .collect();
            out.push(Cycle {
                parent: parent.clone(),
                members: scc,
                edges: cycle_edges,
            });
        }
    }
    out.sort();
    Ok(out)
}

/// The strongly connected components of more than one node (Tarjan).
fn sccs<'a>(edges: impl Iterator<Item = &'a (String, String)>) -> Vec<BTreeSet<String>> {
    let mut adj: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        adj.entry(a).or_default().push(b);
        adj.entry(b).or_default();
    }
    struct T<'a> {
        adj: BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.adj[v].clone() {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut c = BTreeSet::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                c.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            if c.len() > 1 {
                t.out.push(c);
            }
        }
    }
    let nodes: Vec<&str> = adj.keys().copied().collect();
    let mut t = T {
        adj,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in nodes {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// `text` without comments and without `#[cfg(test)] mod NAME { … }` blocks (their imports are
/// the tests', not the module's), newlines kept so line numbers stay right.
fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            while i < b.len() && !b[i..].starts_with(b"*/") {
                if b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 2;
        } else if b[i..].starts_with(b"r#\"") || b[i..].starts_with(b"r\"") {
            // a raw string literal: kept as `""`
            let close: &[u8] = if b[i + 1] == b'#' { b"\"#" } else { b"\"" };
            out.push_str("\"\"");
            i += if b[i + 1] == b'#' { 3 } else { 2 };
            while i < b.len() && !b[i..].starts_with(close) {
                if b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += close.len();
        } else if b[i] == b'\'' && char_literal_len(&text[i..]) > 0 {
            i += char_literal_len(&text[i..]);
        } else if b[i] == b'"' {
            // a string literal: kept as `""` (paths in strings are no imports)
            out.push_str("\"\"");
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                if i < b.len() && b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
        } else if b[i..].starts_with(b"#[cfg(test)]") && is_mod_after(&text[i + 12..]) {
            // skip to the matching close brace of the module
            let mut depth = 0usize;
            while i < b.len() {
                match b[i] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    b'\n' => out.push('\n'),
                    _ => {}
                }
                i += 1;
            }
        } else {
            let ch = text[i..].chars().next().expect("in bounds");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The length of the char literal (`'x'`, `'\\n'`, `'\\''`) `rest` starts with, 0 for a lifetime.
fn char_literal_len(rest: &str) -> usize {
    let mut cs = rest.char_indices().skip(1);
    match cs.next() {
        Some((_, '\\')) => rest
            .get(3..)
            .and_then(|r| r.find('\''))
            .map_or(0, |e| e + 4),
        Some((_, '\'')) | None => 0,
        Some(_) => match cs.next() {
            Some((j, '\'')) => j + 1,
            _ => 0,
        },
    }
}

/// The names of the modules `text` declares as `#[cfg(test)] mod NAME;` (in their own file).
fn test_modules(text: &str) -> Vec<String> {
    text.match_indices("#[cfg(test)]")
        .filter_map(|(i, a)| {
            let r = text[i + a.len()..].trim_start();
            let r = r.strip_prefix("pub ").unwrap_or(r);
            let (name, _) = r.strip_prefix("mod ")?.split_once(';')?;
            let name = name.trim();
            (!name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_'))
                .then(|| name.to_string())
        })
        .collect()
}

/// True when `rest` (what follows a `#[cfg(test)]`) starts an inline module: `mod NAME {`.
fn is_mod_after(rest: &str) -> bool {
    let r = rest.trim_start();
    let r = r.strip_prefix("pub ").unwrap_or(r);
    r.strip_prefix("mod ").is_some_and(|r| {
        let r = r.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_');
        r.trim_start().starts_with('{')
    })
}

/// Every path named from module `m` in `text` (stripped), resolved to absolute segments, with its
/// line number.
fn paths(text: &str, m: &ModPath) -> Vec<(usize, ModPath)> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < b.len() {
        let start_ok = i == 0 || !(ident(b[i - 1]) || b[i - 1] == b':' || b[i - 1] == b'$');
        let word = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|w| start_ok && b[i..].starts_with(w.as_bytes()));
        let Some(word) = word else {
            i += 1;
            continue;
        };
        let line = text[..i].matches('\n').count() + 1;
        let mut base: ModPath = match word {
            "crate::" => Vec::new(),
            "self::" => m.clone(),
            _ => m[..m.len().saturating_sub(1)].to_vec(),
        };
        i += word.len();
        // more `super::`
        while b[i..].starts_with(b"super::") {
            base.pop();
            i += "super::".len();
        }
        let (mut found, next) = tree(text, i, &base);
        out.extend(found.drain(..).map(|p| (line, p)));
        i = next.max(i + 1);
    }
    out
}

/// Parses a path tree at `i` (`a::b::c`, `a::{b, c::d}`, `*`), each leaf prefixed with `base`;
/// returns the leaves and the index after the tree.
fn tree(text: &str, mut i: usize, base: &ModPath) -> (Vec<ModPath>, usize) {
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut path = base.clone();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'{' {
            let mut leaves = Vec::new();
            i += 1;
            loop {
                while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
                    i += 1;
                }
                if i >= b.len() || b[i] == b'}' {
                    return (leaves, i + 1);
                }
                if b[i..].starts_with(b"self") && !ident(*b.get(i + 4).unwrap_or(&b' ')) {
                    leaves.push(path.clone());
                    i += 4;
                    continue;
                }
                let (sub, next) = tree(text, i, &path);
                leaves.extend(sub);
                // skip an `as alias`
                i = next;
                while i < b.len() && b[i] != b',' && b[i] != b'}' && b[i] != b'{' {
                    i += 1;
                }
            }
        }
        let s = i;
        while i < b.len() && ident(b[i]) {
            i += 1;
        }
        if i > s {
            path.push(text[s..i].to_string());
        }
        if b[i..].starts_with(b"::") {
            i += 2;
            continue;
        }
        return (vec![path], i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (p, text) in files {
            let p = dir.join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
    }

    #[test]
    fn a_cycle_through_a_use_group_and_super_is_found_and_tests_comments_strings_are_not() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            &[
                ("lib.rs", "pub mod a; pub mod b; pub mod c;"),
                ("a/mod.rs", "pub mod x; pub mod y;\nuse crate::{b::Thing, c};"),
                ("a/x.rs", "use super::y::Y; // crate::c::Nope\n"),
                ("a/y.rs", "pub fn f() { super::x::g(); }"),
                ("b.rs", "fn f() { let q = '\"'; crate::a::x::h(); }"),
                ("c.rs", "/* crate::a */ const S: &str = \"crate::a\";\n#[cfg(test)]\nmod tests { use crate::a::Y; }\n#[cfg(test)]\nmod t;"),
                ("c/t.rs", "use crate::a::x::Y;"),
            ],
        );
        let names: Vec<String> = cycles(d.path()).unwrap().iter().map(Cycle::name).collect();
        assert_eq!(names, ["a <-> b", "a: x <-> y"]);
    }

    #[test]
    fn a_dag_has_no_cycle() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            &[
                ("lib.rs", "pub mod a; pub mod b;"),
                ("a.rs", "use crate::b::{self, B as C};"),
                ("b.rs", "use super::super::nothing;"),
            ],
        );
        assert_eq!(cycles(d.path()).unwrap(), []);
        let deps = deps(d.path()).unwrap();
        assert!(
            deps.iter().any(|d| d.from == ["a"] && d.to == ["b"]),
            "{deps:?}"
        );
    }
}
