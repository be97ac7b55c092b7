//! The world the mock `xe` keeps in `$XE_MOCK_STATE`: a JSON file with the pool's hosts (each
//! with its PCI functions, the pciback state and the `xen-pciback.hide` lists), the VMs (power
//! state, resident host, domid, other-config as an *ordered* map) and per-command call counts.
//!
//! The schema is documented in `crates/mock-xe/README.md`. Every call takes an exclusive lock on the
//! sidecar file `<state>.lock` (std `File::lock`), reads the state, runs, and writes it back
//! atomically (temp file + rename), so concurrent `xe` calls never lose each other's updates.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Failures to load or store the state file (a broken test fixture, not an xe error).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("XE_MOCK_STATE is not set (the mock needs a state file)")]
    NoStatePath,
    #[error("cannot open lock file {path}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read state file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is not valid mock-xe state: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("state file {path} is inconsistent: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write state file {path}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A string map that keeps insertion order (xapi prints other-config in stored order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderedMap(pub Vec<(String, String)>);

impl OrderedMap {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    /// Appends a key (for building maps in order).
    pub fn push(&mut self, key: &str, value: &str) {
        self.0.push((key.to_string(), value.to_string()));
    }
    /// xapi's DB `add_to_map`: the new pair goes to the *front* (`db_cache_types.ml`).
    pub fn add_front(&mut self, key: &str, value: &str) {
        self.remove(key);
        self.0.insert(0, (key.to_string(), value.to_string()));
    }
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }
    /// xapi's map rendering: `k1: v1; k2: v2`.
    pub fn render(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Serialize for OrderedMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for OrderedMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<OrderedMap, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(OrderedMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn default_version() -> String {
    "8.3".to_string()
}
fn default_true() -> bool {
    true
}
fn default_domid() -> i64 {
    -1
}

/// The whole pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// `"8.3"` (xapi 24.x: has the `pci-*` commands) or `"8.2"` (xapi 1.249: has not).
    #[serde(rename = "xcp-ng-version", default = "default_version")]
    pub version: String,
    pub hosts: Vec<Host>,
    pub vms: Vec<Vm>,
    /// How many times each command has been called (for `XE_MOCK_FAIL=cmd:N`).
    #[serde(rename = "call-counts", default)]
    pub call_counts: BTreeMap<String, u64>,
}

/// One host and its hardware as dom0 sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    pub uuid: String,
    #[serde(rename = "name-label")]
    pub name_label: String,
    #[serde(rename = "name-description", default)]
    pub name_description: String,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    /// Whether `/sys/bus/pci/drivers/pciback` exists in dom0.
    #[serde(rename = "pciback-loaded", default = "default_true")]
    pub pciback_loaded: bool,
    /// Whether Xen has an IOMMU (`CAP_DirectIO`); without it a domain with PCI devices fails.
    #[serde(default = "default_true")]
    pub iommu: bool,
    /// Value of `xen-pciback.hide=` in the running dom0's `/proc/cmdline` (null: absent).
    #[serde(rename = "hide-booted", default)]
    pub hide_booted: Option<String>,
    /// Value of `xen-pciback.hide=` in the boot config (`xen-cmdline --get-dom0`; null: absent).
    #[serde(rename = "hide-configured", default)]
    pub hide_configured: Option<String>,
    #[serde(rename = "software-version", default)]
    pub software_version: Option<OrderedMap>,
    #[serde(rename = "other-config", default)]
    pub other_config: OrderedMap,
    /// Extra environment for plugins run "on" this host (mock-only: lets tests give each mock
    /// host its own `XENPCI_ROOT`); xapi itself passes only PATH.
    #[serde(rename = "plugin-env", default)]
    pub plugin_env: OrderedMap,
    #[serde(default)]
    pub devices: Vec<Device>,
    /// Devices xenopsd took away from a dom0 driver when it started a VM (the harm record).
    #[serde(rename = "taken_from_dom0", default)]
    pub taken_from_dom0: Vec<Taken>,
}

/// One PCI function of a host.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Canonical `DDDD:BB:SS.F`, lower-case hex.
    pub bdf: String,
    /// Uuid of the xapi PCI object; only storage/network/display functions have one.
    #[serde(default)]
    pub uuid: Option<String>,
    /// Class code as hex (`"0107"` or `"010700"`), informational except for the check below.
    #[serde(default)]
    pub class: Option<String>,
    #[serde(rename = "vendor-name", default)]
    pub vendor_name: String,
    #[serde(rename = "device-name", default)]
    pub device_name: String,
    /// Driver bound right now (`"pciback"`, `"ahci"`, …; null: none).
    #[serde(default)]
    pub driver: Option<String>,
    /// The driver dom0 binds at boot when the device is not hidden (used by
    /// `mock-host-reboot`; null: none).
    #[serde(rename = "dom0-driver", default)]
    pub dom0_driver: Option<String>,
    /// Whether dom0 needs this device (root disk controller, management NIC).
    #[serde(default)]
    pub critical: bool,
    /// pci-ids of dependent functions (PCI object field `dependencies`).
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(rename = "other-config", default)]
    pub other_config: OrderedMap,
}

/// A device xenopsd unbound from a dom0 driver to give it to a VM.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Taken {
    pub bdf: String,
    pub driver: String,
    pub critical: bool,
    /// Uuid of the VM being started.
    pub vm: String,
}

/// One VM (or the control domain).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vm {
    pub uuid: String,
    #[serde(rename = "name-label")]
    pub name_label: String,
    #[serde(rename = "name-description", default)]
    pub name_description: String,
    /// `halted`, `running`, `paused` or `suspended`.
    #[serde(rename = "power-state")]
    pub power_state: String,
    /// Host uuid while running (null when halted).
    #[serde(rename = "resident-on", default)]
    pub resident_on: Option<String>,
    #[serde(default)]
    pub affinity: Option<String>,
    #[serde(rename = "is-control-domain", default)]
    pub is_control_domain: bool,
    #[serde(rename = "is-a-template", default)]
    pub is_a_template: bool,
    /// HVM (default) or PV: decides when the domain is built with passthrough enabled.
    #[serde(default = "default_true")]
    pub hvm: bool,
    #[serde(rename = "other-config", default)]
    pub other_config: OrderedMap,
    /// Operations refused with OPERATION_BLOCKED (xapi_vm_lifecycle's check of
    /// `blocked_operations`), operation name → the reason code given back.
    #[serde(rename = "blocked-operations", default)]
    pub blocked_operations: OrderedMap,
    #[serde(default = "default_domid")]
    pub domid: i64,
    /// BDFs plugged into the running domain, in plug order (empty when halted).
    #[serde(rename = "attached-pcis", default)]
    pub attached_pcis: Vec<String>,
}

impl Vm {
    /// `uuid (name)`: how xe shows a VM reference in error parameters.
    pub fn handle(&self) -> String {
        format!("{} ({})", self.uuid, self.name_label)
    }
}

const MANAGED_CLASSES: [&str; 3] = ["01", "02", "03"];

impl State {
    pub fn parse(text: &str, path: &Path) -> Result<State, StateError> {
        let state: State = serde_json::from_str(text).map_err(|e| StateError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        state.validate().map_err(|message| StateError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(state)
    }

    fn validate(&self) -> Result<(), String> {
        if self.version != "8.2" && self.version != "8.3" {
            return Err(format!(
                "xcp-ng-version {:?}: expected \"8.2\" or \"8.3\"",
                self.version
            ));
        }
        for h in &self.hosts {
            for d in &h.devices {
                if let (Some(_), Some(class)) = (&d.uuid, &d.class) {
                    if !MANAGED_CLASSES.iter().any(|c| class.starts_with(c)) {
                        return Err(format!(
                            "device {} on host {} has class {class} and a PCI object uuid: xapi \
                             makes PCI objects only for storage/network/display classes",
                            d.bdf, h.uuid
                        ));
                    }
                }
            }
        }
        for vm in &self.vms {
            if !["halted", "running", "paused", "suspended"].contains(&vm.power_state.as_str()) {
                return Err(format!("VM {}: power-state {:?}", vm.uuid, vm.power_state));
            }
        }
        Ok(())
    }

    pub fn host_index(&self, uuid: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.uuid == uuid)
    }

    /// xe's `get_host_by_name_or_id`: uuid, name-label or hostname.
    pub fn host_by_name_or_id(&self, s: &str) -> Option<usize> {
        self.hosts
            .iter()
            .position(|h| h.uuid == s || h.name_label == s || h.hostname.as_deref() == Some(s))
    }

    pub fn has_pci_api(&self) -> bool {
        self.version == "8.3"
    }
}

/// An open, locked state file. Dropping it releases the lock.
pub struct Locked {
    path: PathBuf,
    _lock: File,
}

impl Locked {
    /// Takes the exclusive lock on `<path>.lock` (blocking) and returns the parsed state.
    pub fn open(path: &Path) -> Result<(Locked, State), StateError> {
        let lock_path = sidecar(path, ".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| StateError::Lock {
                path: lock_path.clone(),
                source,
            })?;
        lock.lock().map_err(|source| StateError::Lock {
            path: lock_path,
            source,
        })?;
        let text = fs::read_to_string(path).map_err(|source| StateError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let state = State::parse(&text, path)?;
        Ok((
            Locked {
                path: path.to_path_buf(),
                _lock: lock,
            },
            state,
        ))
    }

    /// Writes the state back atomically (temp file in the same directory, then rename).
    pub fn save(&self, state: &State) -> Result<(), StateError> {
        let err = |source| StateError::Write {
            path: self.path.clone(),
            source,
        };
        let mut text = serde_json::to_string_pretty(state).expect("state serialises");
        text.push('\n');
        let tmp = sidecar(&self.path, &format!(".tmp.{}", std::process::id()));
        let mut f = File::create(&tmp).map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        fs::rename(&tmp, &self.path).map_err(err)?;
        Ok(())
    }
}

/// `<path><suffix>` next to the state file.
pub fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_map_keeps_document_order() {
        let m: OrderedMap = serde_json::from_str(r#"{"z":"1","a":"2","m":"3"}"#).unwrap();
        assert_eq!(m.render(), "z: 1; a: 2; m: 3");
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"z":"1","a":"2","m":"3"}"#
        );
    }

    #[test]
    fn rejects_pci_object_for_unmanaged_class() {
        let text = r#"{"hosts":[{"uuid":"h","name-label":"x","devices":[
            {"bdf":"0000:00:1d.0","uuid":"p","class":"0c0320"}]}],"vms":[]}"#;
        let err = State::parse(text, Path::new("s.json")).unwrap_err();
        assert!(err.to_string().contains("0000:00:1d.0"), "{err}");
    }
}
