//! The XenStore seam: trait [`Store`], the real daemon ([`XsStore`], via `xenstore-rs`) and an
//! in-memory tree with the same semantics ([`MemStore`]) for unit tests.
//!
//! Semantics shared by both (checked against a real oxenstored in `tests/xenstore_real.rs`):
//! a missing node reads as `None` (not an error); `write` creates missing ancestors with empty
//! values; a directory node reads as `""`; `rm` removes the whole subtree and is a no-op for a
//! node that does not exist; paths must be absolute and use only `[A-Za-z0-9-/_@]`.

use std::collections::BTreeMap;
use std::io;
use std::sync::Mutex;

use xenstore_rs::unix::XsUnix;
use xenstore_rs::Xs;

use super::{check_path, XenStoreError};

/// The four XenStore operations xenpci needs.
pub trait Store {
    /// The node's value, `None` when the node does not exist.
    fn read(&self, path: &str) -> Result<Option<String>, XenStoreError>;
    /// The names of the node's children (not full paths), `None` when the node does not exist.
    fn directory(&self, path: &str) -> Result<Option<Vec<String>>, XenStoreError>;
    /// Sets the node's value, creating it and its missing ancestors.
    fn write(&self, path: &str, value: &str) -> Result<(), XenStoreError>;
    /// Removes the node and everything below it; nothing to do when it does not exist.
    fn rm(&self, path: &str) -> Result<(), XenStoreError>;
}

/// A connection to a real xenstored (dom0's daemon, or a test daemon).
pub struct XsStore {
    xs: XsUnix,
}

impl XsStore {
    /// Connects like the C library does: the Unix socket `XENSTORED_PATH` (default
    /// `/run/xenstored/socket`), else the `/dev/xen/xenbus` device.
    pub fn open() -> Result<XsStore, XenStoreError> {
        let socket = crate::config::get().xenstored_path.clone();
        XsUnix::new()
            .map(|xs| XsStore { xs })
            .map_err(|source| XenStoreError::Connect { socket, source })
    }
}

fn request<T>(
    op: &'static str,
    path: &str,
    result: io::Result<T>,
) -> Result<Option<T>, XenStoreError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(XenStoreError::Request {
            op,
            path: path.to_string(),
            source,
        }),
    }
}

impl Store for XsStore {
    fn read(&self, path: &str) -> Result<Option<String>, XenStoreError> {
        check_path(path)?;
        Ok(request("read", path, self.xs.read(path))?.map(String::from))
    }

    fn directory(&self, path: &str) -> Result<Option<Vec<String>>, XenStoreError> {
        check_path(path)?;
        let names = request("directory", path, self.xs.directory(path))?;
        Ok(names.map(|v| v.into_iter().map(String::from).collect()))
    }

    fn write(&self, path: &str, value: &str) -> Result<(), XenStoreError> {
        check_path(path)?;
        match request("write", path, self.xs.write(path, value))? {
            Some(()) => Ok(()),
            None => Err(XenStoreError::Request {
                op: "write",
                path: path.to_string(),
                source: io::Error::new(io::ErrorKind::NotFound, "XS interface error ENOENT"),
            }),
        }
    }

    fn rm(&self, path: &str) -> Result<(), XenStoreError> {
        check_path(path)?;
        // xenstored answers ENOENT when the parent is missing too: removed either way.
        request("rm", path, self.xs.rm(path)).map(|_| ())
    }
}

/// An in-memory XenStore: a map from absolute path to value. Thread-safe.
#[derive(Debug, Default)]
pub struct MemStore {
    nodes: Mutex<BTreeMap<String, String>>,
}

impl MemStore {
    /// An empty store (only the root `/` exists).
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// A store holding these `(path, value)` nodes (ancestors created as by `write`).
    pub fn with(nodes: &[(String, String)]) -> Result<MemStore, XenStoreError> {
        let s = MemStore::new();
        for (p, v) in nodes {
            s.write(p, v)?;
        }
        Ok(s)
    }

    /// Every node as `(path, value)`, sorted by path; like `xenstore-ls -f`, without `/`.
    pub fn dump(&self) -> Vec<(String, String)> {
        self.lock().clone().into_iter().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        // A panic while holding the lock cannot leave the map half-updated (single inserts).
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn is_below(path: &str, parent: &str) -> bool {
    if parent == "/" {
        return path != "/";
    }
    path.len() > parent.len() && path.starts_with(parent) && path.as_bytes()[parent.len()] == b'/'
}

impl Store for MemStore {
    fn read(&self, path: &str) -> Result<Option<String>, XenStoreError> {
        check_path(path)?;
        if path == "/" {
            return Ok(Some(String::new()));
        }
        Ok(self.lock().get(path).cloned())
    }

    fn directory(&self, path: &str) -> Result<Option<Vec<String>>, XenStoreError> {
        check_path(path)?;
        let nodes = self.lock();
        if path != "/" && !nodes.contains_key(path) {
            return Ok(None);
        }
        let prefix = if path == "/" { 0 } else { path.len() };
        let children = nodes
            .keys()
            .filter(|k| is_below(k, path))
            .map(|k| &k[prefix + 1..])
            .filter(|rest| !rest.contains('/'))
            .map(String::from)
            .collect();
        Ok(Some(children))
    }

    fn write(&self, path: &str, value: &str) -> Result<(), XenStoreError> {
        check_path(path)?;
        if path == "/" {
            return Ok(());
        }
        let mut nodes = self.lock();
        let mut end = 0;
        while let Some(i) = path[end + 1..].find('/') {
            end += 1 + i;
            nodes.entry(path[..end].to_string()).or_default();
        }
        nodes.insert(path.to_string(), value.to_string());
        Ok(())
    }

    fn rm(&self, path: &str) -> Result<(), XenStoreError> {
        check_path(path)?;
        self.lock().retain(|k, _| k != path && !is_below(k, path));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_creates_ancestors_and_directory_lists_children() {
        let s = MemStore::new();
        s.write("/a/b/c", "1").unwrap();
        s.write("/a/bb", "2").unwrap();
        assert_eq!(s.read("/a/b").unwrap().as_deref(), Some(""));
        assert_eq!(s.read("/a/b/c").unwrap().as_deref(), Some("1"));
        assert_eq!(s.directory("/a").unwrap().unwrap(), ["b", "bb"]);
        assert_eq!(s.directory("/").unwrap().unwrap(), ["a"]);
        assert_eq!(s.read("/a/x").unwrap(), None);
        assert_eq!(s.directory("/a/x").unwrap(), None);
    }

    #[test]
    fn rm_removes_the_subtree_only() {
        let s = MemStore::new();
        s.write("/a/b/c", "1").unwrap();
        s.write("/a/bc", "2").unwrap();
        s.rm("/a/b").unwrap();
        s.rm("/nope/zzz").unwrap();
        assert_eq!(s.read("/a/b/c").unwrap(), None);
        assert_eq!(s.read("/a/bc").unwrap().as_deref(), Some("2"));
    }

    #[test]
    fn invalid_paths_are_refused_with_the_path() {
        let s = MemStore::new();
        let e = s.write("/a/0000:00:02.0", "x").unwrap_err().to_string();
        assert!(e.contains("0000:00:02.0"), "{e}");
        assert!(s.read("relative").is_err());
    }
}
