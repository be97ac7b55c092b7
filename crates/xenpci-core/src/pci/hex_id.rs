//! [`HexId`]: a number shown as a fixed count of lowercase hex digits (`1000`, `010700`, `01`),
//! the form lspci and sysfs give vendor, device, class and revision ids in; serialized as that
//! string without building one (a 1000-function `list --json` holds 6000 of them).

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A hex id: its value and the least number of digits it is shown with (more when the value
/// needs them, as `{:04x}` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HexId {
    value: u32,
    digits: u8,
}

/// Why a text is not a hex id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid hex id {input:?}: expected 1 to 8 hex digits (e.g. 1000 or 010700)")]
pub struct HexIdError {
    /// The text that was given.
    pub input: String,
}

impl HexId {
    /// `value` shown with at least `digits` digits (at most 8 are kept).
    pub fn new(value: u32, digits: u8) -> HexId {
        HexId {
            value,
            digits: digits.clamp(1, 8),
        }
    }

    /// The number.
    pub fn value(&self) -> u32 {
        self.value
    }

    /// The digits, lowercase, in a buffer and how many of it are used.
    fn text(&self) -> ([u8; 8], usize) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let needed = (8 - self.value.leading_zeros() as usize / 4).max(1);
        let n = needed.max(self.digits as usize);
        let mut b = [b'0'; 8];
        for (i, out) in b[..n].iter_mut().rev().enumerate() {
            *out = HEX[((self.value >> (4 * i)) & 0xf) as usize];
        }
        (b, n)
    }
}

impl fmt::Display for HexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (b, n) = self.text();
        // Only ASCII hex digits were written.
        f.write_str(std::str::from_utf8(&b[..n]).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for HexId {
    type Err = HexIdError;

    /// Takes 1 to 8 hex digits, either case; the count given is the count shown.
    fn from_str(s: &str) -> Result<HexId, HexIdError> {
        let err = || HexIdError {
            input: s.to_string(),
        };
        if s.is_empty() || s.len() > 8 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(err());
        }
        let value = u32::from_str_radix(s, 16).map_err(|_| err())?;
        Ok(HexId::new(value, s.len() as u8))
    }
}

impl Serialize for HexId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (b, n) = self.text();
        s.serialize_str(std::str::from_utf8(&b[..n]).map_err(serde::ser::Error::custom)?)
    }
}

impl PartialEq<str> for HexId {
    fn eq(&self, other: &str) -> bool {
        let (b, n) = self.text();
        &b[..n] == other.as_bytes()
    }
}

impl PartialEq<&str> for HexId {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_prints_as_format_pads() {
        for (v, d) in [
            (0x1000, 4),
            (0x10700, 6),
            (1, 2),
            (0, 4),
            (0x12345, 4),
            (u32::MAX, 2),
        ] {
            let id = HexId::new(v, d);
            assert_eq!(
                id.to_string(),
                format!("{v:0w$x}", w = d as usize),
                "{v:x}/{d}"
            );
            assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
        }
    }

    #[test]
    fn it_round_trips_and_refuses_what_is_not_hex() {
        for t in ["1000", "010700", "01", "0", "ffffffff"] {
            let id: HexId = t.parse().unwrap();
            assert_eq!(id.to_string(), t);
            assert_eq!(id, t);
        }
        assert_eq!("ABCD".parse::<HexId>().unwrap().to_string(), "abcd");
        for bad in ["", "0x10", "123456789", "12g4", " 12"] {
            let e = bad.parse::<HexId>().unwrap_err();
            assert_eq!(e.input, bad);
            assert!(e.to_string().contains("hex digits"), "{e}");
        }
    }
}
