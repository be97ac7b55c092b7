//! [`Bdf`]: a PCI function address with canonical Display (`0000:05:00.0`) and a strict FromStr
//! that accepts the forms users type (`05:00.0`, `0000:05:00.0`, any case).
//!
//! This is the strict, unambiguous address used across xenpci's CLI and library. The lenient forms
//! that Xen's own parsers accept (`0x` prefixes, 32-bit wraparound, ...) live in
//! [`crate::syntax::pci_spec`], which reports them as warnings and converts into a `Bdf`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A PCI function address: segment (what lspci calls "domain"), bus, device, function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bdf {
    /// PCI segment, 0..=0xffff.
    pub segment: u16,
    /// Bus, 0..=0xff.
    pub bus: u8,
    /// Device (slot), 0..=0x1f.
    pub device: u8,
    /// Function, 0..=7.
    pub function: u8,
}

/// Why a text is not a PCI address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid PCI address {input:?}: {reason} (expected [SSSS:]BB:DD.F in hex, e.g. 0000:05:00.0)"
)]
pub struct BdfError {
    /// The text that was given.
    pub input: String,
    /// What was wrong with it.
    pub reason: String,
}

impl Bdf {
    /// Builds an address, checking each part's range.
    pub fn new(segment: u16, bus: u8, device: u8, function: u8) -> Option<Bdf> {
        (device <= 0x1f && function <= 7).then_some(Bdf {
            segment,
            bus,
            device,
            function,
        })
    }

    /// The sysfs/xenstore-key form used by libxl's bookkeeping: `SSSS-BB-DD-F`.
    pub fn xenstore_key(&self) -> String {
        format!(
            "{:04x}-{:02x}-{:02x}-{:x}",
            self.segment, self.bus, self.device, self.function
        )
    }

    /// The short form `BB:DD.F` (segment omitted; only meaningful for segment 0).
    pub fn short(&self) -> String {
        format!("{:02x}:{:02x}.{:x}", self.bus, self.device, self.function)
    }

    /// The same slot, another function.
    pub fn with_function(&self, function: u8) -> Option<Bdf> {
        Bdf::new(self.segment, self.bus, self.device, function)
    }
}

impl Bdf {
    /// The text `SSSS:BB:DD.F` in a stack buffer (None for a function above 0xf, which only a
    /// hand-built value has: it needs two digits).
    fn text(&self) -> Option<[u8; 12]> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        if self.function > 0xf {
            return None;
        }
        let h = |v: u32, shift: u32| HEX[((v >> shift) & 0xf) as usize];
        let (s, b, d) = (
            u32::from(self.segment),
            u32::from(self.bus),
            u32::from(self.device),
        );
        Some([
            h(s, 12),
            h(s, 8),
            h(s, 4),
            h(s, 0),
            b':',
            h(b, 4),
            h(b, 0),
            b':',
            h(d, 4),
            h(d, 0),
            b'.',
            h(u32::from(self.function), 0),
        ])
    }
}

impl fmt::Display for Bdf {
    /// `SSSS:BB:DD.F` in lower-case hex, without the formatting machinery: the inventory prints
    /// a few thousand of these per `list --json`, where that machinery was 12% of its user time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.text() {
            // Every byte is an ASCII hex digit or separator.
            Some(t) => f.pad(std::str::from_utf8(&t).map_err(|_| fmt::Error)?),
            None => f.pad(&format!(
                "{:04x}:{:02x}:{:02x}.{:x}",
                self.segment, self.bus, self.device, self.function
            )),
        }
    }
}

fn hex_field(input: &str, part: &str, name: &str, max: u32, width: usize) -> Result<u32, BdfError> {
    let err = |reason: String| BdfError {
        input: input.to_string(),
        reason,
    };
    if part.is_empty() {
        return Err(err(format!("the {name} is empty")));
    }
    if part.len() > width || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err(format!(
            "the {name} {part:?} is not 1 to {width} hex digits"
        )));
    }
    let v = u32::from_str_radix(part, 16).map_err(|e| err(e.to_string()))?;
    if v > max {
        return Err(err(format!(
            "the {name} 0x{v:x} is above the maximum 0x{max:x}"
        )));
    }
    Ok(v)
}

impl FromStr for Bdf {
    type Err = BdfError;

    fn from_str(s: &str) -> Result<Bdf, BdfError> {
        let err = |reason: &str| BdfError {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let (head, function) = s
            .rsplit_once('.')
            .ok_or_else(|| err("no '.' before the function"))?;
        let parts: Vec<&str> = head.split(':').collect();
        let (segment, bus, device) = match parts.as_slice() {
            [bus, device] => ("0", *bus, *device),
            [segment, bus, device] => (*segment, *bus, *device),
            _ => return Err(err("expected one or two ':' before the '.'")),
        };
        Ok(Bdf {
            segment: hex_field(s, segment, "segment", 0xffff, 4)? as u16,
            bus: hex_field(s, bus, "bus", 0xff, 2)? as u8,
            device: hex_field(s, device, "device", 0x1f, 2)? as u8,
            function: hex_field(s, function, "function", 7, 1)? as u8,
        })
    }
}

impl Serialize for Bdf {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.text() {
            Some(t) => s.serialize_str(std::str::from_utf8(&t).map_err(serde::ser::Error::custom)?),
            None => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Bdf {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Bdf, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_formatted_text_with_padding_kept() {
        for (seg, bus, dev, func) in [(0, 0, 0, 0), (0xabcd, 0xef, 0x1f, 7), (1, 2, 0x20, 0x1a)] {
            let b = Bdf {
                segment: seg,
                bus,
                device: dev,
                function: func,
            };
            let want = format!("{seg:04x}:{bus:02x}:{dev:02x}.{func:x}");
            assert_eq!(b.to_string(), want);
            assert_eq!(
                format!("{b:>14}|{b:<13}|"),
                format!("{want:>14}|{want:<13}|")
            );
        }
    }

    #[test]
    fn short_and_long_forms_round_trip_to_canonical() {
        for (input, canon) in [
            ("05:00.0", "0000:05:00.0"),
            ("0000:05:00.0", "0000:05:00.0"),
            ("0A:1F.7", "0000:0a:1f.7"),
            ("ffff:ff:1f.7", "ffff:ff:1f.7"),
            ("1:2.3", "0000:01:02.3"),
        ] {
            let bdf: Bdf = input.parse().unwrap();
            assert_eq!(bdf.to_string(), canon, "{input}");
            assert_eq!(canon.parse::<Bdf>().unwrap(), bdf);
        }
    }

    #[test]
    fn bad_addresses_name_the_input_and_the_part() {
        for (input, needle) in [
            ("05:20.0", "device 0x20"),
            ("05:00.8", "function 0x8"),
            ("100:00.0", "bus"),
            ("05:00", "no '.'"),
            ("1:2:3:4.5", "one or two"),
            ("0x5:00.0", "bus \"0x5\""),
            ("", "no '.'"),
            ("05:00.*", "function \"*\""),
        ] {
            let e = input.parse::<Bdf>().unwrap_err().to_string();
            assert!(e.contains(&format!("{input:?}")), "{e}");
            assert!(e.contains(needle), "{input}: {e}");
        }
    }

    #[test]
    fn xenstore_key_uses_dashes() {
        let bdf: Bdf = "0000:05:00.1".parse().unwrap();
        assert_eq!(bdf.xenstore_key(), "0000-05-00-1");
        assert_eq!(bdf.short(), "05:00.1");
    }
}
