//! Shared helpers for the integration tests: a fake host root written from a fixture shape
//! (`xenpci::host::fixture`), ways to damage it, and `xenpci` runs against it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;
use xenpci::host::fixture::{self, Fixture};

/// A fixture host root in a temporary directory.
pub struct Host {
    pub dir: TempDir,
}

/// What one `xenpci` run gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }
}

impl Host {
    /// Writes `fx` into a new temporary root.
    pub fn new(fx: &Fixture) -> Host {
        let dir = tempfile::tempdir().expect("tempdir");
        fx.write(dir.path()).expect("write fixture");
        Host { dir }
    }

    /// One of the named shapes (`x9drw`, `gpu-pair`, `sriov-nic`, `legacy-bridge`, `big-N`).
    pub fn shape(name: &str) -> Host {
        Host::new(&fixture::shape(name).unwrap_or_else(|| panic!("no shape {name}")))
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the root (`sys/bus/pci/devices/0000:05:00.0/class`).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Overwrites a file inside the root (following sysfs links).
    pub fn put(&self, rel: &str, content: &[u8]) -> &Host {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        self
    }

    /// Removes a file or link inside the root.
    pub fn remove(&self, rel: &str) -> &Host {
        std::fs::remove_file(self.path(rel)).unwrap_or_else(|e| panic!("remove {rel}: {e}"));
        self
    }

    /// Replaces a link with one pointing at `target`.
    pub fn relink(&self, rel: &str, target: &str) -> &Host {
        let p = self.path(rel);
        let _ = std::fs::remove_file(&p);
        std::os::unix::fs::symlink(target, p).unwrap();
        self
    }

    /// Runs `xenpci --root ROOT ARGS...`.
    pub fn xenpci(&self, args: &[&str]) -> Run {
        xenpci_at(self.root(), args)
    }
}

/// Runs `xenpci --root ROOT ARGS...` with a clean environment for the seams.
pub fn xenpci_at(root: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_xenpci"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("XENPCI_ROOT")
        .env_remove("XENPCI_XL")
        .output()
        .expect("run xenpci");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The record of `bdf` in a `list --json` array.
pub fn record<'a>(list: &'a Value, bdf: &str) -> &'a Value {
    list.as_array()
        .expect("array")
        .iter()
        .find(|r| r["bdf"] == bdf)
        .unwrap_or_else(|| panic!("{bdf} not listed in {list}"))
}

/// The bdfs of a `list --json` array.
pub fn bdfs(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|r| r["bdf"].as_str().unwrap().to_string())
        .collect()
}
