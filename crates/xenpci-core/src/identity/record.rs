//! [`DeviceIdentity`]: what makes a PCI function this device and not another one at the same
//! address. Ids (vendor, device, subsystem, class) say what kind of device it is; the
//! [`PhysPath`] says where it sits physically; a [`Serial`] (PCIe Device Serial Number) says which
//! unit it is, wherever it sits. Revision is kept but not required to match: a firmware update may
//! change it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::host::PciFunction;
use crate::pci::Bdf;

/// The chain of `device.function` numbers from the root complex to a function, e.g.
/// `pci0000:00/01.0/00.0` for a card in the slot behind root port 00:01.0. Bus numbers are left
/// out: they are assigned at enumeration and change when a card is added in front.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhysPath {
    /// The root complex, `pciSSSS:BB` as sysfs names it.
    pub root: String,
    /// Device and function of each hop, root port first, the function itself last.
    pub hops: Vec<(u8, u8)>,
}

/// Why a text is not a physical path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a physical path ({reason}); expected e.g. pci0000:00/01.0/00.0")]
pub struct PathError {
    /// The text given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl PhysPath {
    /// The path of a function from its `sys/devices/...` directory (host form, as
    /// [`PciFunction::sysfs_path`] holds it); None when no `pciSSSS:BB` component is in it.
    pub fn from_sysfs(dir: &std::path::Path) -> Option<PhysPath> {
        let mut root = None;
        let mut hops = Vec::new();
        for c in dir.components() {
            let name = c.as_os_str().to_str()?;
            if root.is_none() {
                if name.len() == 10 && name.starts_with("pci") {
                    root = Some(name.to_string());
                }
                continue;
            }
            if let Ok(b) = name.parse::<Bdf>() {
                hops.push((b.device, b.function));
            }
        }
        let root = root?;
        (!hops.is_empty()).then_some(PhysPath { root, hops })
    }
}

impl fmt::Display for PhysPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.root)?;
        for (d, func) in &self.hops {
            write!(f, "/{d:02x}.{func:x}")?;
        }
        Ok(())
    }
}

impl FromStr for PhysPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<PhysPath, PathError> {
        let err = |reason| PathError {
            input: s.to_string(),
            reason,
        };
        let mut parts = s.split('/');
        let root = parts.next().unwrap_or_default();
        let valid_root = root.len() == 10
            && root.starts_with("pci")
            && root.as_bytes()[7] == b':'
            && root[3..7].bytes().all(|b| b.is_ascii_hexdigit())
            && root[8..].bytes().all(|b| b.is_ascii_hexdigit());
        if !valid_root {
            return Err(err("it must start with the root complex, pciSSSS:BB"));
        }
        let mut hops = Vec::new();
        for p in parts {
            let (d, f) = p.split_once('.').ok_or_else(|| err("each hop is DD.F"))?;
            let d = u8::from_str_radix(d, 16)
                .ok()
                .filter(|d| *d <= 0x1f && !p.is_empty())
                .ok_or_else(|| err("a device number is 00..1f"))?;
            let f = f
                .parse::<u8>()
                .ok()
                .filter(|f| *f <= 7)
                .ok_or_else(|| err("a function number is 0..7"))?;
            hops.push((d, f));
        }
        if hops.is_empty() {
            return Err(err("no hop after the root complex"));
        }
        Ok(PhysPath {
            root: root.to_string(),
            hops,
        })
    }
}

impl Serialize for PhysPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PhysPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PhysPath, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A PCIe Device Serial Number, shown as lspci shows it: eight bytes, most significant first,
/// `00-1b-21-ff-ff-5a-b3-c4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Serial(pub u64);

/// Why a text is not a serial number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a device serial number; expected eight hex bytes like 00-1b-21-ff-ff-5a-b3-c4")]
pub struct SerialError {
    /// The text given.
    pub input: String,
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0.to_be_bytes();
        write!(
            f,
            "{:02x}-{:02x}-{:02x}-{:02x}-{:02x}-{:02x}-{:02x}-{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]
        )
    }
}

impl FromStr for Serial {
    type Err = SerialError;

    fn from_str(s: &str) -> Result<Serial, SerialError> {
        let parts: Vec<&str> = s.split('-').collect();
        let ok = parts.len() == 8
            && parts
                .iter()
                .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
        if !ok {
            return Err(SerialError {
                input: s.to_string(),
            });
        }
        let mut v = 0u64;
        for p in parts {
            v = (v << 8) | u64::from(u8::from_str_radix(p, 16).unwrap_or(0));
        }
        Ok(Serial(v))
    }
}

impl Serialize for Serial {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Serial {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Serial, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Ids are kept as 4- and 6-digit lowercase hex text in the state file (as `list --json` shows
/// them), so a human can read and edit it.
mod hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn ser16<S: Serializer>(v: &u16, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:04x}"))
    }
    pub fn de16<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
        let t = String::deserialize(d)?;
        u16::from_str_radix(&t, 16)
            .ok()
            .filter(|_| t.len() == 4)
            .ok_or_else(|| serde::de::Error::custom(format!("{t:?}: expected 4 hex digits")))
    }
    pub fn ser24<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:06x}"))
    }
    pub fn de24<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let t = String::deserialize(d)?;
        u32::from_str_radix(&t, 16)
            .ok()
            .filter(|_| t.len() == 6)
            .ok_or_else(|| serde::de::Error::custom(format!("{t:?}: expected 6 hex digits")))
    }
    pub fn ser8<S: Serializer>(v: &u8, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:02x}"))
    }
    pub fn de8<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
        let t = String::deserialize(d)?;
        u8::from_str_radix(&t, 16)
            .ok()
            .filter(|_| t.len() == 2)
            .ok_or_else(|| serde::de::Error::custom(format!("{t:?}: expected 2 hex digits")))
    }
}

/// The identity of one function as recorded when xenpci hid or assigned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceIdentity {
    /// Vendor id.
    #[serde(serialize_with = "hex::ser16", deserialize_with = "hex::de16")]
    pub vendor_id: u16,
    /// Device id.
    #[serde(serialize_with = "hex::ser16", deserialize_with = "hex::de16")]
    pub device_id: u16,
    /// Subsystem vendor id.
    #[serde(serialize_with = "hex::ser16", deserialize_with = "hex::de16")]
    pub subsystem_vendor_id: u16,
    /// Subsystem device id.
    #[serde(serialize_with = "hex::ser16", deserialize_with = "hex::de16")]
    pub subsystem_device_id: u16,
    /// Class code (class, subclass, prog-if).
    #[serde(serialize_with = "hex::ser24", deserialize_with = "hex::de24")]
    pub class: u32,
    /// Revision (informative: a firmware update may change it).
    #[serde(serialize_with = "hex::ser8", deserialize_with = "hex::de8")]
    pub revision: u8,
    /// Where it sits physically (None when sysfs did not show it).
    pub path: Option<PhysPath>,
    /// PCIe Device Serial Number, when the function has the capability.
    pub serial: Option<Serial>,
}

/// How well a function matches a recorded identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Likeness {
    /// Different ids, or a different serial: another device.
    Other,
    /// The same kind of device; neither the serial nor the physical path confirms the unit.
    SameKind,
    /// The same ids and the same physical path, no serial to compare.
    SameSlot,
    /// The same ids and the same serial: this unit, wherever it sits.
    SameUnit,
}

impl DeviceIdentity {
    /// The identity of a function as the inventory read it.
    pub fn of(f: &PciFunction) -> DeviceIdentity {
        DeviceIdentity {
            vendor_id: f.vendor_id,
            device_id: f.device_id,
            subsystem_vendor_id: f.subsystem_vendor_id,
            subsystem_device_id: f.subsystem_device_id,
            class: f.class,
            revision: f.revision,
            path: PhysPath::from_sysfs(&f.sysfs_path),
            serial: f.config.as_ref().and_then(|c| c.serial).map(Serial),
        }
    }

    /// `vendor:device` as lspci -n prints it.
    pub fn ids(&self) -> String {
        format!("{:04x}:{:04x}", self.vendor_id, self.device_id)
    }

    fn same_kind(&self, other: &DeviceIdentity) -> bool {
        self.vendor_id == other.vendor_id
            && self.device_id == other.device_id
            && self.subsystem_vendor_id == other.subsystem_vendor_id
            && self.subsystem_device_id == other.subsystem_device_id
            && self.class == other.class
    }

    /// How well `now` (a function's identity today) matches this recorded one.
    pub fn likeness(&self, now: &DeviceIdentity) -> Likeness {
        if !self.same_kind(now) {
            return Likeness::Other;
        }
        match (self.serial, now.serial) {
            (Some(a), Some(b)) if a == b => Likeness::SameUnit,
            (Some(_), Some(_)) => Likeness::Other,
            _ if self.path.is_some() && self.path == now.path => Likeness::SameSlot,
            _ => Likeness::SameKind,
        }
    }

    /// Differences a human should hear about although the device matched (e.g. the revision a
    /// firmware update changed).
    pub fn drift(&self, now: &DeviceIdentity) -> Vec<String> {
        let mut d = Vec::new();
        if self.revision != now.revision {
            d.push(format!(
                "revision {:02x} is now {:02x} (a firmware update?)",
                self.revision, now.revision
            ));
        }
        if self.path.is_some() && now.path.is_some() && self.path != now.path {
            d.push(format!(
                "it moved from slot path {} to {}",
                self.path
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                now.path
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ));
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phys_path_round_trips_and_ignores_bus_numbers() {
        let p = PhysPath::from_sysfs(std::path::Path::new(
            "/sys/devices/pci0000:00/0000:00:01.0/0000:05:00.1",
        ))
        .unwrap();
        assert_eq!(p.to_string(), "pci0000:00/01.0/00.1");
        assert_eq!(p.to_string().parse::<PhysPath>().unwrap(), p);
        let renumbered = PhysPath::from_sysfs(std::path::Path::new(
            "/sys/devices/pci0000:00/0000:00:01.0/0000:06:00.1",
        ))
        .unwrap();
        assert_eq!(renumbered, p);
    }

    #[test]
    fn bad_paths_name_the_input() {
        for bad in [
            "",
            "pci0000:00",
            "pcixxxx:00/01.0",
            "pci0000:00/20.0",
            "pci0000:00/01.8",
            "pci0000:00/01",
        ] {
            let e = bad.parse::<PhysPath>().unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn serial_round_trips_most_significant_byte_first() {
        let s = Serial(0x001b_21ff_ff5a_b3c4);
        assert_eq!(s.to_string(), "00-1b-21-ff-ff-5a-b3-c4");
        assert_eq!("00-1b-21-ff-ff-5a-b3-c4".parse::<Serial>().unwrap(), s);
        assert!("00-1b-21".parse::<Serial>().is_err());
        assert!("zz-1b-21-ff-ff-5a-b3-c4".parse::<Serial>().is_err());
    }

    fn id(serial: Option<u64>, path: &str) -> DeviceIdentity {
        DeviceIdentity {
            vendor_id: 0x1000,
            device_id: 0x0087,
            subsystem_vendor_id: 0x15d9,
            subsystem_device_id: 0x0691,
            class: 0x010700,
            revision: 5,
            path: Some(path.parse().unwrap()),
            serial: serial.map(Serial),
        }
    }

    #[test]
    fn likeness_prefers_the_serial_over_the_slot() {
        let rec = id(Some(1), "pci0000:00/01.0/00.0");
        assert_eq!(
            rec.likeness(&id(Some(1), "pci0000:00/03.0/00.0")),
            Likeness::SameUnit
        );
        assert_eq!(
            rec.likeness(&id(Some(2), "pci0000:00/01.0/00.0")),
            Likeness::Other
        );
        let noserial = id(None, "pci0000:00/01.0/00.0");
        assert_eq!(
            noserial.likeness(&id(None, "pci0000:00/01.0/00.0")),
            Likeness::SameSlot
        );
        assert_eq!(
            noserial.likeness(&id(None, "pci0000:00/02.0/00.0")),
            Likeness::SameKind
        );
        let mut nic = id(None, "pci0000:00/01.0/00.0");
        nic.device_id = 0x10d3;
        assert_eq!(noserial.likeness(&nic), Likeness::Other);
    }

    #[test]
    fn identity_json_is_hex_text_and_strict() {
        let rec = id(Some(0x0102030405060708), "pci0000:00/01.0/00.0");
        let j = serde_json::to_string(&rec).unwrap();
        assert!(
            j.contains(r#""vendor_id":"1000""#) && j.contains(r#""class":"010700""#),
            "{j}"
        );
        assert!(j.contains(r#""serial":"01-02-03-04-05-06-07-08""#), "{j}");
        assert_eq!(serde_json::from_str::<DeviceIdentity>(&j).unwrap(), rec);
        let bad = j.replace(r#""vendor_id":"1000""#, r#""vendor_id":"10000""#);
        assert!(serde_json::from_str::<DeviceIdentity>(&bad).is_err());
    }
}
