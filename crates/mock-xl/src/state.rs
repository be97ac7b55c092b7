//! The mock `xl`'s state file (`XL_MOCK_STATE`, schema in crates/mock-xl/README.md): hosts, their PCI
//! functions and domains. Every call locks `<state>.lock`, reads, runs, and writes the state
//! back atomically (temp file + rename), so concurrent calls (parallel flows) never lose updates.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A problem of the mock itself (exit 2 with `mock-xl:`).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("XL_MOCK_STATE is not set (path of the mock's JSON state file)")]
    NoPath,
    #[error("cannot lock {path}: {source}")]
    Lock {
        path: String,
        source: xenpci::fsutil::WriteError,
    },
    #[error("cannot read state file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("state file {path} is not valid: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("cannot write state file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("XL_MOCK_HOST={0:?} names no host of the state file")]
    NoHost(String),
    #[error("the state file has no host")]
    Empty,
}

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Hosts in file order (the first is the default for `XL_MOCK_HOST`).
    pub hosts: Hosts,
    /// Calls per command, over the life of the file (for `XL_MOCK_FAIL`).
    #[serde(default, rename = "call-counts")]
    pub call_counts: BTreeMap<String, u64>,
}

/// An ordered name → host map (JSON object, order kept).
#[derive(Debug, Clone, Default)]
pub struct Hosts(pub Vec<(String, Host)>);

impl Serialize for Hosts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Hosts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hosts, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Hosts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of host name -> host")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Hosts, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Host>()? {
                    out.push((k, v));
                }
                Ok(Hosts(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn yes() -> bool {
    true
}

/// One Xen host as xl sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// Xen has an IOMMU (`virt_caps` has `hvm_directio pv_directio`).
    #[serde(default = "yes")]
    pub iommu: bool,
    /// `iommu_hap_pt_share` in virt_caps (Intel: yes, AMD: no).
    #[serde(default = "yes", rename = "hap-pt-share")]
    pub hap_pt_share: bool,
    /// Xen built with shadow paging: `shadow` in virt_caps, and PV guests can live-migrate
    /// (log-dirty). Default true (upstream's and XCP-ng's builds); Debian 12's Xen 4.17 is
    /// built without it (`"shadow": false`: every PV `xl migrate` fails, as tests/xen-e2e shows).
    #[serde(default = "yes")]
    pub shadow: bool,
    /// `/sys/bus/pci/drivers/pciback` exists.
    #[serde(default = "yes", rename = "pciback-loaded")]
    pub pciback_loaded: bool,
    /// Optional host root: the mock keeps `<root>/sys/bus/pci/devices/<bdf>/driver` symlinks
    /// (to `../../../bus/pci/drivers/<driver>`) in step with `driver` below.
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// dom0's PCI functions.
    #[serde(default)]
    pub devices: Vec<Device>,
    /// Guests (dom0 is implicit).
    #[serde(default)]
    pub domains: Vec<Domain>,
    /// The next domid `create`/migration gives.
    #[serde(default = "one", rename = "next-domid")]
    pub next_domid: u32,
}

fn one() -> u32 {
    1
}

/// One PCI function of a host.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Canonical `0000:03:00.0`.
    pub bdf: String,
    /// Bound driver now: `pciback`, a dom0 driver, or null.
    #[serde(default)]
    pub driver: Option<String>,
    /// `/libxl/pci/<bdf>/driver_path` (stored by `pci-assignable-add`).
    #[serde(default, rename = "driver-path")]
    pub driver_path: Option<String>,
    /// `/libxl/pci/<bdf>/name` (`pci-assignable-add -n`).
    #[serde(default)]
    pub name: Option<String>,
    /// Quarantined in dom_io (after assignable-add or a detach).
    #[serde(default)]
    pub quarantined: bool,
}

/// A guest domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    pub domid: u32,
    pub name: String,
    /// `pv`, `hvm` or `pvh`.
    #[serde(rename = "type")]
    pub kind: String,
    /// MiB.
    #[serde(default = "mem")]
    pub memory: u64,
    /// MiB; `memory < maxmem` on HVM = PoD.
    #[serde(default = "mem")]
    pub maxmem: u64,
    #[serde(default = "one")]
    pub vcpus: u32,
    /// Resolved passthrough mode: `disabled`, `sync_pt` or `share_pt`.
    #[serde(default = "disabled")]
    pub passthrough: String,
    /// Attached devices, backend index order.
    #[serde(default)]
    pub pci: Vec<Attached>,
    /// A PV guest whose pcifront connected once (stays after the last detach).
    #[serde(default)]
    pub pcifront: bool,
    /// The config file it was created from.
    #[serde(default)]
    pub config: Option<String>,
    /// Left broken by a crashed `xl migrate` (FINDINGS §D).
    #[serde(default)]
    pub broken: bool,
}

fn mem() -> u64 {
    1024
}

fn disabled() -> String {
    "disabled".into()
}

/// One attached device.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attached {
    pub bdf: String,
    /// Guest slot (`@vslot`), or the one the device model chose (HVM).
    #[serde(default)]
    pub vslot: Option<u8>,
    /// `opts-N`.
    #[serde(default = "default_opts")]
    pub opts: String,
    #[serde(default)]
    pub name: Option<String>,
}

fn default_opts() -> String {
    xenpci::xenstore::layout::DEFAULT_OPTS.to_string()
}

/// The locked, loaded state.
pub struct Locked {
    pub state: State,
    path: PathBuf,
    _lock: xenpci::fsutil::FileLock,
}

impl Locked {
    /// Locks `<path>.lock` and reads the file.
    pub fn open() -> Result<Locked, StateError> {
        let path = PathBuf::from(std::env::var_os("XL_MOCK_STATE").ok_or(StateError::NoPath)?);
        let lock_path = sidecar(&path, ".lock");
        let lock = xenpci::fsutil::lock(&lock_path).map_err(|source| StateError::Lock {
            path: lock_path.display().to_string(),
            source,
        })?;
        let p = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| StateError::Read {
            path: p.clone(),
            source,
        })?;
        let state = serde_json::from_str(&text).map_err(|source| StateError::Parse {
            path: p.clone(),
            source,
        })?;
        Ok(Locked {
            state,
            path,
            _lock: lock,
        })
    }

    /// Writes the state back (temp file + rename).
    pub fn save(&self) -> Result<(), StateError> {
        let p = self.path.display().to_string();
        let err = |source| StateError::Write {
            path: p.clone(),
            source,
        };
        let text = serde_json::to_string_pretty(&self.state).map_err(|e| err(e.into()))?;
        let tmp = sidecar(&self.path, ".tmp");
        std::fs::write(&tmp, text + "\n").map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)
    }

    /// The index of the host `XL_MOCK_HOST` names (default: the first).
    pub fn host_index(&self) -> Result<usize, StateError> {
        match std::env::var("XL_MOCK_HOST") {
            Ok(h) if !h.is_empty() => self
                .state
                .hosts
                .0
                .iter()
                .position(|(n, _)| *n == h)
                .ok_or(StateError::NoHost(h)),
            _ if self.state.hosts.0.is_empty() => Err(StateError::Empty),
            _ => Ok(0),
        }
    }
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl Host {
    /// The domain named by `arg` (numeric id or name), like xl's `find_domain`.
    pub fn find(&self, arg: &str) -> Option<usize> {
        if let Ok(id) = arg.parse::<u32>() {
            return self.domains.iter().position(|d| d.domid == id);
        }
        self.domains.iter().position(|d| d.name == arg)
    }

    /// The device with this BDF.
    pub fn device(&self, bdf: &str) -> Option<usize> {
        self.devices.iter().position(|d| d.bdf == bdf)
    }

    /// The domain `bdf` is attached to.
    pub fn owner(&self, bdf: &str) -> Option<&Domain> {
        self.domains
            .iter()
            .find(|d| d.pci.iter().any(|a| a.bdf == bdf))
    }

    /// Bound to pciback and attached to no domain: what `pci-assignable-list` shows.
    pub fn assignable(&self, bdf: &str) -> bool {
        self.pciback_loaded
            && self.owner(bdf).is_none()
            && self
                .device(bdf)
                .is_some_and(|i| self.devices[i].driver.as_deref() == Some("pciback"))
    }

    /// Keeps `<root>/sys/bus/pci/devices/<bdf>/driver` in step with the state.
    pub fn sync_sysfs(&self) {
        let Some(root) = &self.root else { return };
        for d in &self.devices {
            let dir = root.join("sys/bus/pci/devices").join(&d.bdf);
            let link = dir.join("driver");
            let _ = std::fs::remove_file(&link);
            if let Some(drv) = &d.driver {
                let _ = std::fs::create_dir_all(root.join("sys/bus/pci/drivers").join(drv));
                let _ = std::fs::create_dir_all(&dir);
                let _ =
                    std::os::unix::fs::symlink(format!("../../../../bus/pci/drivers/{drv}"), &link);
            }
        }
    }
}
