//! The identity state file, `<root>/var/lib/xenpci/devices.json`: every device xenpci hid or
//! assigned, with its recorded [`DeviceIdentity`] and the places that name it by BDF. Schema
//! versioned (`"schema": 1`); a newer schema is refused rather than half understood. Written
//! atomically with a backup, under the file's lock, so two xenpci runs do not lose each other's
//! records.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::DeviceIdentity;
use crate::fsutil::{self, WriteError};
use crate::host::HostRoot;
use crate::pci::Bdf;

/// Where the state file lives on the host.
pub const PATH: &str = "/var/lib/xenpci/devices.json";

/// The schema this xenpci writes and reads.
pub const SCHEMA: u32 = 1;

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading, locking or writing it failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// It is not the JSON this schema describes.
    #[error("{path}: not a xenpci device state file: {problem}")]
    Parse {
        /// Host path.
        path: String,
        /// serde's message (with line and column).
        problem: String,
    },
    /// It was written by a newer xenpci.
    #[error(
        "{path}: schema {found} is newer than this xenpci understands ({SCHEMA}); upgrade xenpci"
    )]
    Schema {
        /// Host path.
        path: String,
        /// The schema found.
        found: u32,
    },
}

/// A place that names a device by BDF.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Use {
    /// The boot configuration's hide list (`xen-pciback.hide` or modprobe.d), written with
    /// `method` (None: the method detected at the time, not known).
    BootHide {
        /// The persistent method the hide used, as `--method` names it (`grub`, `modprobe`...;
        /// kept as text so the identity state does not depend on the hide module).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<String>,
    },
    /// Bound to pciback in the running dom0.
    LiveHide,
    /// An XAPI VM's `other-config:pci`.
    XapiVm {
        /// The VM's uuid.
        vm: String,
    },
    /// An xl.cfg's `pci = [...]`.
    Xlcfg {
        /// The file.
        path: String,
    },
}

impl Use {
    /// The boot hide list, whatever the method.
    pub fn is_boot_hide(&self) -> bool {
        matches!(self, Use::BootHide { .. })
    }

    /// The same place (a boot hide by any method is one place: a host has one boot list).
    pub fn same_place(&self, other: &Use) -> bool {
        (self.is_boot_hide() && other.is_boot_hide()) || self == other
    }
}

impl std::fmt::Display for Use {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Use::BootHide { method: None } => f.write_str("the boot hide list"),
            Use::BootHide { method: Some(m) } => write!(f, "the boot hide list ({m})"),
            Use::LiveHide => f.write_str("pciback now"),
            Use::XapiVm { vm } => write!(f, "VM {vm}'s other-config:pci"),
            Use::Xlcfg { path } => write!(f, "{path}"),
        }
    }
}

/// One recorded device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The address it had when recorded (and that the places in `uses` name).
    pub bdf: Bdf,
    /// A name the admin gave it (`apply` files may name devices by alias).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// What it is.
    pub identity: DeviceIdentity,
    /// Where it is named.
    pub uses: Vec<Use>,
    /// When it was recorded or last confirmed (UTC, `YYYYmmddTHHMMSS`).
    pub recorded: String,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Always [`SCHEMA`] when written by this xenpci.
    pub schema: u32,
    /// One entry per recorded device, in address order.
    pub devices: Vec<Entry>,
}

impl Default for State {
    fn default() -> State {
        State {
            schema: SCHEMA,
            devices: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
struct SchemaOnly {
    schema: u32,
}

impl State {
    /// The file's path under `root`.
    pub fn path(root: &HostRoot) -> PathBuf {
        root.path(PATH)
    }

    /// Parses the file's text (`shown`: the host path, for errors).
    pub fn parse(text: &str, shown: &str) -> Result<State, StateError> {
        let parse_err = |e: serde_json::Error| StateError::Parse {
            path: shown.to_string(),
            problem: e.to_string(),
        };
        let head: SchemaOnly = serde_json::from_str(text).map_err(parse_err)?;
        if head.schema > SCHEMA || head.schema == 0 {
            return Err(StateError::Schema {
                path: shown.to_string(),
                found: head.schema,
            });
        }
        serde_json::from_str(text).map_err(parse_err)
    }

    /// Reads the state (an absent file is an empty state).
    pub fn load(root: &HostRoot) -> Result<State, StateError> {
        let path = State::path(root);
        match fsutil::read_text(&path)? {
            None => Ok(State::default()),
            Some(t) => State::parse(&t, PATH),
        }
    }

    /// The entry recorded for `bdf`.
    pub fn get(&self, bdf: Bdf) -> Option<&Entry> {
        self.devices.iter().find(|e| e.bdf == bdf)
    }

    /// Records `uses` for the device at `bdf` with `identity` (a device of another identity at
    /// the same BDF replaces the old entry: that is what the places now name).
    pub fn record(&mut self, bdf: Bdf, identity: DeviceIdentity, uses: &[Use]) {
        let now = fsutil::timestamp();
        match self.devices.iter_mut().find(|e| e.bdf == bdf) {
            Some(e) => {
                if e.identity != identity {
                    e.identity = identity;
                }
                for u in uses {
                    e.uses.retain(|x| !x.same_place(u));
                    e.uses.push(u.clone());
                }
                e.uses.sort();
                e.recorded = now;
            }
            None => {
                let mut uses = uses.to_vec();
                uses.sort();
                uses.dedup();
                self.devices.push(Entry {
                    bdf,
                    alias: None,
                    identity,
                    uses,
                    recorded: now,
                });
                self.devices.sort_by_key(|e| e.bdf);
            }
        }
    }

    /// Drops `uses` of the device at `bdf`; an entry left with no use is removed.
    pub fn forget(&mut self, bdf: Bdf, uses: &[Use]) {
        for e in self.devices.iter_mut().filter(|e| e.bdf == bdf) {
            e.uses.retain(|u| !uses.iter().any(|x| x.same_place(u)));
        }
        self.devices.retain(|e| !e.uses.is_empty());
    }

    /// The file's text (pretty JSON, newline-terminated).
    pub fn to_text(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        s.push('\n');
        s
    }
}

/// Reads, changes and writes the state under the file's lock: `change` gets the current state;
/// the file is rewritten (atomically, with a backup) only when the state changed. Returns the
/// new state.
pub fn update(root: &HostRoot, change: impl FnOnce(&mut State)) -> Result<State, StateError> {
    let path = State::path(root);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| {
            StateError::Write(WriteError::Io {
                what: "create the state directory",
                path: dir.to_path_buf(),
                source,
            })
        })?;
    }
    let locked = fsutil::lock_file(&path)?;
    let old_text = locked.read()?;
    let mut state = match &old_text {
        None => State::default(),
        Some(t) => State::parse(t, PATH)?,
    };
    let before = state.clone();
    change(&mut state);
    if state != before {
        locked.replace(old_text.as_deref(), &state.to_text())?;
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::record::{DeviceIdentity, Serial};

    fn ident() -> DeviceIdentity {
        DeviceIdentity {
            vendor_id: 0x1000,
            device_id: 0x0087,
            subsystem_vendor_id: 0,
            subsystem_device_id: 0,
            class: 0x010700,
            revision: 5,
            path: Some("pci0000:00/01.0/00.0".parse().unwrap()),
            serial: Some(Serial(7)),
        }
    }

    #[test]
    fn record_and_forget_keep_one_entry_per_bdf() {
        let bdf: Bdf = "0000:05:00.0".parse().unwrap();
        let mut s = State::default();
        let boot = |method| Use::BootHide { method };
        s.record(bdf, ident(), &[boot(None)]);
        s.record(
            bdf,
            ident(),
            &[Use::LiveHide, boot(Some("modprobe".into()))],
        );
        assert_eq!(s.devices.len(), 1);
        assert_eq!(
            s.devices[0].uses,
            vec![boot(Some("modprobe".into())), Use::LiveHide]
        );
        s.forget(bdf, &[boot(None)]);
        assert_eq!(s.devices[0].uses, vec![Use::LiveHide]);
        s.forget(bdf, &[Use::LiveHide]);
        assert!(s.devices.is_empty());
    }

    #[test]
    fn the_file_round_trips_and_a_newer_schema_is_refused() {
        let mut s = State::default();
        s.record(
            "0000:05:00.0".parse().unwrap(),
            ident(),
            &[Use::XapiVm { vm: "u-1".into() }],
        );
        let t = s.to_text();
        assert!(t.contains(r#""kind": "xapi-vm""#), "{t}");
        assert_eq!(State::parse(&t, PATH).unwrap(), s);
        let newer = t.replace(r#""schema": 1"#, r#""schema": 2"#);
        let e = State::parse(&newer, PATH).unwrap_err().to_string();
        assert!(e.contains("schema 2") && e.contains(PATH), "{e}");
        let e = State::parse("{\"schema\":1,\"devices\":[{}]}", PATH)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field"), "{e}");
    }
}
