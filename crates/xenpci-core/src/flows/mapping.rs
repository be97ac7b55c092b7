//! The device mapping across hosts: a JSON file naming logical devices (`ceph-hba`) with their
//! identity (vendor:device, optional subsystem) and, per host, the BDF (and optionally the
//! physical slot name). Flows resolve a device on the host they act on and verify its identity
//! there from sysfs (this host through the host root, another host through the transport),
//! refusing a mismatch. Format: docs/mapping.md.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::pci::Bdf;

use super::transport::Site;

/// Why a mapping cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// Unreadable file.
    #[error("cannot read mapping file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not the documented format.
    #[error("mapping file {path}: {message} (see docs/mapping.md)")]
    Parse {
        /// The file.
        path: String,
        /// serde's message with line and column.
        message: String,
    },
    /// A BDF of a host is named by no logical device.
    #[error("{bdf} on {host} is not in the mapping file: add it under a logical device with an entry for {host}")]
    Unmapped {
        /// The host.
        host: String,
        /// The device.
        bdf: Bdf,
    },
    /// The logical device has no entry for the host.
    #[error("logical device {name:?} has no entry for host {host} in the mapping file")]
    NoHost {
        /// The logical device.
        name: String,
        /// The host.
        host: String,
    },
    /// The device found is not the one the mapping describes.
    #[error("identity mismatch for {name:?} at {bdf} on {host}: {detail}")]
    Mismatch {
        /// The logical device.
        name: String,
        /// The host.
        host: String,
        /// The BDF.
        bdf: Bdf,
        /// What differs.
        detail: String,
    },
}

/// A per-host entry: a BDF string, or `{ "bdf": …, "slot": … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HostEntry {
    /// Just the BDF.
    Bdf(Bdf),
    /// BDF plus the physical slot name (`/sys/bus/pci/slots/<slot>/address`).
    Full {
        /// The BDF.
        bdf: Bdf,
        /// Physical slot name.
        #[serde(default)]
        slot: Option<String>,
    },
}

impl HostEntry {
    /// The BDF.
    pub fn bdf(&self) -> Bdf {
        match self {
            HostEntry::Bdf(b) | HostEntry::Full { bdf: b, .. } => *b,
        }
    }

    fn slot(&self) -> Option<&str> {
        match self {
            HostEntry::Full { slot, .. } => slot.as_deref(),
            HostEntry::Bdf(_) => None,
        }
    }
}

/// One logical device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogicalDevice {
    /// PCI vendor id, 4 hex digits (`1000`).
    pub vendor: String,
    /// PCI device id, 4 hex digits (`0097`).
    pub device: String,
    /// `SVID:SSID`, optional.
    #[serde(default)]
    pub subsystem: Option<String>,
    /// Host name → where it is on that host.
    pub hosts: BTreeMap<String, HostEntry>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Logical name → device.
    pub devices: BTreeMap<String, LogicalDevice>,
}

/// What was read on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `vendor:device` read from sysfs.
    pub id: String,
    /// `svid:ssid` read from sysfs, if readable.
    pub subsystem: Option<String>,
}

fn hex4(s: &str) -> String {
    s.trim().trim_start_matches("0x").to_ascii_lowercase()
}

impl Mapping {
    /// Reads and parses the file.
    pub fn load(path: &Path) -> Result<Mapping, MappingError> {
        let p = path.display().to_string();
        let text = crate::bounded_read::read_string(path, crate::bounded_read::CONFIG_LIMIT)
            .map_err(|source| MappingError::Read {
                path: p.clone(),
                source,
            })?;
        Mapping::parse(&text, &p)
    }

    /// Parses the JSON text (`label` names it in errors).
    pub fn parse(text: &str, label: &str) -> Result<Mapping, MappingError> {
        serde_json::from_str(text).map_err(|e| MappingError::Parse {
            path: label.to_string(),
            message: e.to_string(),
        })
    }

    /// The logical device at `bdf` on `host`.
    pub fn name_of(&self, host: &str, bdf: Bdf) -> Result<(&str, &LogicalDevice), MappingError> {
        self.devices
            .iter()
            .find(|(_, d)| d.hosts.get(host).is_some_and(|e| e.bdf() == bdf))
            .map(|(n, d)| (n.as_str(), d))
            .ok_or_else(|| MappingError::Unmapped {
                host: host.to_string(),
                bdf,
            })
    }

    /// The BDF of logical device `name` on `host`.
    pub fn bdf_on(&self, name: &str, host: &str) -> Result<Bdf, MappingError> {
        self.devices
            .get(name)
            .and_then(|d| d.hosts.get(host))
            .map(HostEntry::bdf)
            .ok_or_else(|| MappingError::NoHost {
                name: name.to_string(),
                host: host.to_string(),
            })
    }

    /// Maps `bdf` of `from` to the same logical device's BDF on `to`.
    pub fn translate(&self, from: &str, bdf: Bdf, to: &str) -> Result<(String, Bdf), MappingError> {
        let (name, _) = self.name_of(from, bdf)?;
        Ok((name.to_string(), self.bdf_on(name, to)?))
    }

    /// Reads the identity of logical device `name` on `host` and refuses a mismatch.
    pub fn verify(
        &self,
        site: &Site,
        name: &str,
        host: &str,
    ) -> Result<Identity, super::FlowError> {
        let dev = self.devices.get(name).ok_or_else(|| MappingError::NoHost {
            name: name.to_string(),
            host: host.to_string(),
        })?;
        let entry = dev.hosts.get(host).ok_or_else(|| MappingError::NoHost {
            name: name.to_string(),
            host: host.to_string(),
        })?;
        let bdf = entry.bdf();
        let base = format!("/sys/bus/pci/devices/{bdf}");
        let mut files: Vec<String> = ["vendor", "device", "subsystem_vendor", "subsystem_device"]
            .iter()
            .map(|f| format!("{base}/{f}"))
            .collect();
        if let Some(slot) = entry.slot() {
            files.push(format!("/sys/bus/pci/slots/{slot}/address"));
        }
        let got = site.read_files(host, &files)?;
        let mismatch = |detail: String| MappingError::Mismatch {
            name: name.to_string(),
            host: host.to_string(),
            bdf,
            detail,
        };
        let (Some(v), Some(d)) = (&got[0], &got[1]) else {
            return Err(mismatch(format!(
                "no PCI function at {bdf} ({base}/vendor is not readable)"
            ))
            .into());
        };
        let id = format!("{}:{}", hex4(v), hex4(d));
        let want = format!("{}:{}", hex4(&dev.vendor), hex4(&dev.device));
        if id != want {
            return Err(mismatch(format!("found {id}, the mapping says {want}")).into());
        }
        let subsystem = match (&got[2], &got[3]) {
            (Some(a), Some(b)) => Some(format!("{}:{}", hex4(a), hex4(b))),
            _ => None,
        };
        if let Some(want_sub) = &dev.subsystem {
            let want_sub = want_sub.to_ascii_lowercase();
            if subsystem.as_deref() != Some(want_sub.as_str()) {
                return Err(mismatch(format!(
                    "subsystem {}, the mapping says {want_sub}",
                    subsystem.as_deref().unwrap_or("unreadable")
                ))
                .into());
            }
        }
        if let Some(slot) = entry.slot() {
            let want_addr = format!("{:04x}:{:02x}:{:02x}", bdf.segment, bdf.bus, bdf.device);
            if got[4].as_deref() != Some(want_addr.as_str()) {
                return Err(mismatch(format!(
                    "physical slot {slot} holds {}, not {want_addr}",
                    got[4].as_deref().unwrap_or("nothing readable")
                ))
                .into());
            }
        }
        Ok(Identity { id, subsystem })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = r#"{"devices": {"ceph-hba": {"vendor": "1000", "device": "0097",
        "subsystem": "1000:3090", "hosts": {"h1": "0000:03:00.0",
        "h2": {"bdf": "0000:81:00.0", "slot": "4"}}}}}"#;

    #[test]
    fn translate_between_hosts() {
        let m = Mapping::parse(MAP, "t").unwrap();
        let (n, b) = m
            .translate("h1", "0000:03:00.0".parse().unwrap(), "h2")
            .unwrap();
        assert_eq!(
            (n.as_str(), b.to_string().as_str()),
            ("ceph-hba", "0000:81:00.0")
        );
        assert!(matches!(
            m.translate("h1", "0000:09:00.0".parse().unwrap(), "h2"),
            Err(MappingError::Unmapped { .. })
        ));
        assert!(matches!(
            m.bdf_on("ceph-hba", "h3"),
            Err(MappingError::NoHost { .. })
        ));
    }

    #[test]
    fn bad_files_name_the_problem() {
        let e = Mapping::parse(
            r#"{"devices": {"x": {"vendor": "1", "hosts": {}}}}"#,
            "m.json",
        )
        .unwrap_err();
        assert!(e.to_string().contains("missing field `device`"), "{e}");
        let e = Mapping::parse(
            r#"{"devices": {"x": {"vendor": "1", "device": "2", "hosts": {"h": "zz"}}}}"#,
            "m.json",
        )
        .unwrap_err();
        assert!(e.to_string().contains("m.json"), "{e}");
    }
}
