//! The demo's bundled hosts, compiled into `xenpci` as data: the build script writes each shape
//! of [`shapes`] with the dev-only fixture generator (`xenpci-fixtures`, a build-dependency, so
//! none of its code is linked into the binary) into `OUT_DIR/demo-hosts/<shape>`, and packs the
//! trees into `OUT_DIR/demo_hosts.bin`, which `xenpci demo` unpacks
//! (src/commands/demo_hosts.rs reads the same layout):
//!
//! ```text
//! "XPDH1\n"
//! per shape:  u8 name length, name, u32 entry count, entries (a directory before what it holds)
//! per entry:  u8 kind ('d' directory, 'f' file, 'l' symlink), u16 path length, path (relative)
//!   'f':      u32 length, u32 stored length, stored bytes (the file without its trailing zero
//!             bytes: most of a 4096-byte config space is zeros)
//!   'l':      u16 target length, target
//! ```
//! Integers little-endian.

use std::fs;
use std::path::Path;

/// The shapes `xenpci demo --shape` offers: every named shape of the generator (`big-N`, any
/// size, is written by `xenpci-fixture`).
fn shapes() -> impl Iterator<Item = &'static str> {
    xenpci_fixtures::SHAPES
        .iter()
        .copied()
        .filter(|s| !s.starts_with("big-"))
}

/// Writes every shape and the packed `demo_hosts.bin` into `out`.
pub fn generate(out: &Path) {
    let trees = out.join("demo-hosts");
    if trees.exists() {
        fs::remove_dir_all(&trees).expect("removing the old demo hosts");
    }
    let mut blob = b"XPDH1\n".to_vec();
    for name in shapes() {
        let fx = xenpci_fixtures::shape(name).unwrap_or_else(|| panic!("no fixture shape {name}"));
        let dir = trees.join(name);
        fs::create_dir_all(&dir).expect("creating a demo host directory");
        fx.write(&dir)
            .unwrap_or_else(|e| panic!("writing the {name} demo host: {e}"));
        let mut entries = Vec::new();
        walk(&dir, "", &mut entries);
        blob.push(name.len() as u8);
        blob.extend_from_slice(name.as_bytes());
        blob.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for e in entries {
            blob.extend_from_slice(&e);
        }
    }
    fs::write(out.join("demo_hosts.bin"), blob).expect("writing demo_hosts.bin");
}

/// Appends the entries under `dir` (path `rel` inside the host), sorted by name.
fn walk(dir: &Path, rel: &str, entries: &mut Vec<Vec<u8>>) {
    let mut names: Vec<_> = fs::read_dir(dir)
        .expect("listing a demo host directory")
        .map(|e| e.expect("a demo host entry").file_name())
        .collect();
    names.sort();
    for n in names {
        let n = n.to_str().expect("demo host names are UTF-8");
        let path = if rel.is_empty() {
            n.to_string()
        } else {
            format!("{rel}/{n}")
        };
        let full = dir.join(n);
        let meta = fs::symlink_metadata(&full).expect("a demo host entry's metadata");
        let mut e = Vec::new();
        let head = |e: &mut Vec<u8>, kind: u8| {
            e.push(kind);
            e.extend_from_slice(&(path.len() as u16).to_le_bytes());
            e.extend_from_slice(path.as_bytes());
        };
        if meta.file_type().is_symlink() {
            let t = fs::read_link(&full).expect("a demo host link");
            let t = t.to_str().expect("demo host link targets are UTF-8");
            head(&mut e, b'l');
            e.extend_from_slice(&(t.len() as u16).to_le_bytes());
            e.extend_from_slice(t.as_bytes());
            entries.push(e);
        } else if meta.is_dir() {
            head(&mut e, b'd');
            entries.push(e);
            walk(&full, &path, entries);
        } else {
            let data = fs::read(&full).expect("a demo host file");
            let stored = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            head(&mut e, b'f');
            e.extend_from_slice(&(data.len() as u32).to_le_bytes());
            e.extend_from_slice(&(stored as u32).to_le_bytes());
            e.extend_from_slice(&data[..stored]);
            entries.push(e);
        }
    }
}
