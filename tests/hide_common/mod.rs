//! Shared helper for the `hide_*` tests: a throw-away host root copied from
//! `tests/fixtures/hide/<name>`, a small sysfs generator (devices, drivers, pciback), and the
//! `xenpci` command wired to the test doubles for `xen-cmdline` and `xl` through
//! `XENPCI_XEN_CMDLINE` / `XENPCI_XL`, which append every call to a log.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The repository's test directory.
pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// A host root in a temporary directory.
pub struct Host {
    pub dir: tempfile::TempDir,
    pub log: PathBuf,
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A copy of `tests/fixtures/hide/<fixture>` (empty root for "").
pub fn host(fixture: &str) -> Host {
    let dir = tempfile::tempdir().unwrap();
    if !fixture.is_empty() {
        copy_tree(
            &tests_dir().join("fixtures/hide").join(fixture),
            &dir.path().join("root"),
        );
    }
    fs::create_dir_all(dir.path().join("root")).unwrap();
    let log = dir.path().join("calls.log");
    Host { dir, log }
}

impl Host {
    /// The directory standing for `/`.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// A host path inside the root.
    pub fn path(&self, p: &str) -> PathBuf {
        self.root().join(p.trim_start_matches('/'))
    }

    /// Reads a host file.
    pub fn read(&self, p: &str) -> String {
        fs::read_to_string(self.path(p)).unwrap_or_else(|e| panic!("read {p}: {e}"))
    }

    /// Writes a host file (creating directories).
    pub fn write(&self, p: &str, content: &str) -> &Host {
        let path = self.path(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
        self
    }

    /// A driver directory with its bind/unbind attributes.
    pub fn driver_dir(&self, name: &str) -> &Host {
        for f in ["bind", "unbind", "new_id"] {
            let p = format!("/sys/bus/pci/drivers/{name}/{f}");
            if !self.path(&p).exists() {
                self.write(&p, "");
            }
        }
        self
    }

    /// pciback's directory with its attributes (empty slot list).
    pub fn pciback(&self) -> &Host {
        self.driver_dir("pciback");
        for f in ["new_slot", "remove_slot", "slots"] {
            self.write(&format!("/sys/bus/pci/drivers/pciback/{f}"), "");
        }
        self
    }

    /// A PCI function with a class (6 hex digits) and, optionally, a bound driver.
    pub fn device(&self, bdf: &str, class: &str, driver: Option<&str>) -> &Host {
        let dev = format!("/sys/bus/pci/devices/{bdf}");
        self.write(&format!("{dev}/class"), &format!("0x{class}\n"));
        self.write(&format!("{dev}/vendor"), "0x8086\n");
        if let Some(d) = driver {
            self.bind(bdf, d);
        }
        self
    }

    /// Points the device's driver link at `driver` (and pciback's BDF link when it is pciback).
    pub fn bind(&self, bdf: &str, driver: &str) -> &Host {
        self.driver_dir(driver);
        let link = self.path(&format!("/sys/bus/pci/devices/{bdf}/driver"));
        let _ = fs::remove_file(&link);
        symlink(format!("../../drivers/{driver}"), link).unwrap();
        if driver == "pciback" {
            let l = self.path(&format!("/sys/bus/pci/drivers/pciback/{bdf}"));
            let _ = fs::remove_file(&l);
            symlink(format!("../../devices/{bdf}"), l).unwrap();
        }
        self
    }

    /// Gives the device a `driver_override` attribute.
    pub fn with_override(&self, bdf: &str) -> &Host {
        self.write(
            &format!("/sys/bus/pci/devices/{bdf}/driver_override"),
            "(null)\n",
        )
    }

    /// The driver bound now, per the link.
    pub fn driver(&self, bdf: &str) -> Option<String> {
        fs::read_link(self.path(&format!("/sys/bus/pci/devices/{bdf}/driver")))
            .ok()
            .map(|t| t.file_name().unwrap().to_string_lossy().into_owned())
    }

    /// The commands the doubles received, one per line.
    pub fn calls(&self) -> Vec<String> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// `xenpci ARGS` against this root, with the doubles wired in and no inherited fault
    /// injection.
    pub fn xenpci(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("xenpci").unwrap();
        c.args(args);
        self.env(&mut c);
        c
    }

    /// The same environment for a std Command (for concurrent runs).
    pub fn std_xenpci(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("xenpci"));
        c.args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .env("XENPCI_ROOT", self.root())
            .env(
                "XENPCI_XEN_CMDLINE",
                tests_dir().join("doubles/xen-cmdline"),
            )
            .env("XENPCI_XL", tests_dir().join("doubles/xl"))
            .env("XENPCI_XE", self.dir.path().join("no-xe"))
            .env("XENPCI_DOUBLE_LOG", &self.log)
            .env_remove("XENPCI_FAIL_WRITE")
            .env_remove("XENPCI_DOUBLE_FAIL");
        c
    }

    fn env(&self, c: &mut Command) {
        c.env("XENPCI_ROOT", self.root())
            .env(
                "XENPCI_XEN_CMDLINE",
                tests_dir().join("doubles/xen-cmdline"),
            )
            .env("XENPCI_XL", tests_dir().join("doubles/xl"))
            .env("XENPCI_XE", self.dir.path().join("no-xe"))
            .env("XENPCI_DOUBLE_LOG", &self.log)
            .env_remove("XENPCI_FAIL_WRITE")
            .env_remove("XENPCI_DOUBLE_FAIL")
            .env_remove("XENPCI_DOUBLE_SLEEP");
    }

    /// Files in a host directory whose names contain `part`.
    pub fn files_like(&self, dir: &str, part: &str) -> Vec<String> {
        fs::read_dir(self.path(dir))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.contains(part))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The fixture's original content of a host file.
pub fn original(fixture: &str, p: &str) -> String {
    fs::read_to_string(
        tests_dir()
            .join("fixtures/hide")
            .join(fixture)
            .join(p.trim_start_matches('/')),
    )
    .unwrap()
}

/// Lines of `new` that differ from `old` (same line count assumed), as (old, new) pairs.
pub fn changed_lines(old: &str, new: &str) -> Vec<(String, String)> {
    assert_eq!(
        old.lines().count(),
        new.lines().count(),
        "line count changed:\n{new}"
    );
    old.lines()
        .zip(new.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}
