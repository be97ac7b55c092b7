//! The desired-state file `xenpci apply` converges a host to and `xenpci export` writes: TOML,
//! written and edited by people, one `[[device]]` table per device, named by identity (ids, and
//! as much of subsystem / serial / slot path / BDF as it takes to be unique) and optionally an
//! alias, with what should be true of it: hidden from dom0 or not, which XAPI VM's
//! `other-config:pci` or which xl.cfg names it.
//!
//! ```toml
//! schema = 1
//!
//! [[device]]
//! alias = "ceph-hba"
//! ids = "1000:0087"              # vendor:device, required
//! subsystem = "1000:3020"        # optional, like serial, path and bdf
//! path = "pci0000:00/01.0/00.0"
//! hidden = true                  # boot configuration and now
//! vm = "ceph-osd-1"              # XAPI: name-label or uuid
//! ```
//!
//! Devices the file does not name are left alone.

use serde::{Deserialize, Serialize};

use super::{DeviceIdentity, PhysPath, Serial};
use crate::host::Inventory;
use crate::pci::Bdf;

/// The schema this xenpci reads and writes.
pub const SCHEMA: u32 = 1;

/// Why a desired-state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DesiredError {
    /// Not TOML of this schema (the message names the line).
    #[error("{path}: {problem}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with the line and column.
        problem: String,
    },
    /// A value that does not parse.
    #[error("{path}: device {device}: {field} {value:?}: expected {expected}")]
    Value {
        /// The file.
        path: String,
        /// The device (alias or ids).
        device: String,
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// No function, or more than one, has the identity given.
    #[error("{path}: device {device}: {problem}")]
    Match {
        /// The file.
        path: String,
        /// The device (alias or ids).
        device: String,
        /// What was found.
        problem: String,
    },
}

/// One `[[device]]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceSpec {
    /// A name for the device (shown in reports, kept in the identity state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// `vendor:device`, 4 hex digits each.
    pub ids: String,
    /// `subsystem-vendor:subsystem-device`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subsystem: Option<String>,
    /// PCIe Device Serial Number, as lspci prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// The slot path (`pciSSSS:BB/DD.F/...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The address: a constraint like the others (a device that moved no longer matches it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bdf: Option<String>,
    /// Hidden from dom0 (true), given back (false), or left as it is (absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    /// The persistent method of the hide (`xen-cmdline`, `grub`, `modprobe`, ...; default:
    /// the one the recorded hide used, else the one detected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The XAPI VM (name-label or uuid) whose `other-config:pci` must name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm: Option<String>,
    /// The xl.cfg whose `pci = [...]` must hold it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xlcfg: Option<String>,
    /// Options of the xl.cfg entry after the BDF (`permissive=1,msitranslate=0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Desired {
    /// [`SCHEMA`].
    pub schema: u32,
    /// The devices.
    #[serde(default, rename = "device")]
    pub devices: Vec<DeviceSpec>,
}

impl DeviceSpec {
    /// How reports name it: the alias, else the ids.
    pub fn name(&self) -> String {
        self.alias.clone().unwrap_or_else(|| self.ids.clone())
    }

    fn pair(&self, path: &str, field: &'static str, v: &str) -> Result<(u16, u16), DesiredError> {
        let bad = || DesiredError::Value {
            path: path.to_string(),
            device: self.name(),
            field,
            value: v.to_string(),
            expected: "two 4-digit hex ids, e.g. 1000:0087",
        };
        let (a, b) = v.split_once(':').ok_or_else(bad)?;
        let h = |t: &str| {
            (t.len() == 4)
                .then(|| u16::from_str_radix(t, 16).ok())
                .flatten()
        };
        Ok((h(a).ok_or_else(bad)?, h(b).ok_or_else(bad)?))
    }

    /// The one function of `inv` this spec names.
    pub fn resolve(&self, path: &str, inv: &Inventory) -> Result<Bdf, DesiredError> {
        let ids = self.pair(path, "ids", &self.ids)?;
        let sub = self
            .subsystem
            .as_deref()
            .map(|s| self.pair(path, "subsystem", s))
            .transpose()?;
        let value = |field, v: &str, expected| DesiredError::Value {
            path: path.to_string(),
            device: self.name(),
            field,
            value: v.to_string(),
            expected,
        };
        let serial = match &self.serial {
            Some(s) => Some(s.parse::<Serial>().map_err(|_| {
                value("serial", s, "eight hex bytes, e.g. 00-1b-21-ff-ff-5a-b3-c4")
            })?),
            None => None,
        };
        let phys = match &self.path {
            Some(p) => Some(
                p.parse::<PhysPath>()
                    .map_err(|_| value("path", p, "a slot path, e.g. pci0000:00/01.0/00.0"))?,
            ),
            None => None,
        };
        let bdf = match &self.bdf {
            Some(b) => Some(
                b.parse::<Bdf>()
                    .map_err(|_| value("bdf", b, "a PCI address, [SSSS:]BB:DD.F"))?,
            ),
            None => None,
        };
        let found: Vec<Bdf> = inv
            .functions()
            .iter()
            .filter(|f| {
                let id = DeviceIdentity::of(f);
                (id.vendor_id, id.device_id) == ids
                    && sub.is_none_or(|s| (id.subsystem_vendor_id, id.subsystem_device_id) == s)
                    && serial.is_none_or(|s| id.serial == Some(s))
                    && phys.as_ref().is_none_or(|p| id.path.as_ref() == Some(p))
                    && bdf.is_none_or(|b| f.bdf == b)
            })
            .map(|f| f.bdf)
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(DesiredError::Match {
                path: path.to_string(),
                device: self.name(),
                problem: "no PCI function on this host has this identity".into(),
            }),
            many => Err(DesiredError::Match {
                path: path.to_string(),
                device: self.name(),
                problem: format!(
                    "{} functions have this identity ({}); add subsystem, serial, path or bdf to tell them apart",
                    many.len(),
                    many.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }
}

impl Desired {
    /// Parses a file's text (`path` for messages).
    pub fn parse(text: &str, path: &str) -> Result<Desired, DesiredError> {
        let d: Desired = toml::from_str(text).map_err(|e| DesiredError::Parse {
            path: path.to_string(),
            problem: e.to_string().trim_end().replace('\n', " "),
        })?;
        if d.schema != SCHEMA {
            return Err(DesiredError::Parse {
                path: path.to_string(),
                problem: format!(
                    "schema {} is not the schema this xenpci reads ({SCHEMA})",
                    d.schema
                ),
            });
        }
        Ok(d)
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!(
            "# xenpci desired state (docs/identity.md): `xenpci apply FILE` makes the host match it.\n\
             # Each [[device]] is named by identity; only the devices named here are changed.\n{body}"
        )
    }
}

/// The identity fields of a function, as a spec names them (everything it has).
pub fn spec_of(id: &DeviceIdentity, bdf: Bdf) -> DeviceSpec {
    DeviceSpec {
        ids: id.ids(),
        subsystem: Some(format!(
            "{:04x}:{:04x}",
            id.subsystem_vendor_id, id.subsystem_device_id
        )),
        serial: id.serial.map(|s| s.to_string()),
        path: id.path.as_ref().map(ToString::to_string),
        bdf: Some(bdf.to_string()),
        ..DeviceSpec::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_bad_values_name_the_place() {
        let e = Desired::parse(
            "schema = 1\n[[device]]\nids = \"1000:0087\"\nhiden = true\n",
            "d.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("d.toml") && e.contains("hiden"), "{e}");
        let e = Desired::parse("schema = 2\n", "d.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("schema 2"), "{e}");
        let d = Desired::parse("schema = 1\n[[device]]\nids = \"10000:87\"\n", "d.toml").unwrap();
        let e = d.devices[0]
            .resolve("d.toml", &Inventory::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ids \"10000:87\"") && e.contains("1000:0087"),
            "{e}"
        );
    }

    #[test]
    fn the_text_round_trips() {
        let d = Desired {
            schema: 1,
            devices: vec![DeviceSpec {
                alias: Some("hba".into()),
                ids: "1000:0087".into(),
                hidden: Some(true),
                vm: Some("ceph-osd-1".into()),
                ..DeviceSpec::default()
            }],
        };
        assert_eq!(Desired::parse(&d.to_text(), "x").unwrap(), d);
    }
}
