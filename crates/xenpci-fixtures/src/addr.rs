//! [`Bdf`]: the address of a fixture function, written as the kernel names its sysfs
//! directories (`0000:05:00.0`). The generator keeps its own small address type instead of
//! xenpci's, so that xenpci's own unit tests can use the fixtures without a dependency cycle
//! and the fixture trees stay an independent description of what the kernel writes.

use std::fmt;
use std::str::FromStr;

/// A PCI function address: segment, bus, device (0..=0x1f), function (0..=7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bdf {
    /// PCI segment ("domain").
    pub segment: u16,
    /// Bus.
    pub bus: u8,
    /// Device (slot).
    pub device: u8,
    /// Function.
    pub function: u8,
}

/// Why a text is not a fixture address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BdfError(pub String);

impl fmt::Display for BdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid fixture address {:?} (expected [SSSS:]BB:DD.F in hex)",
            self.0
        )
    }
}

impl std::error::Error for BdfError {}

impl fmt::Display for Bdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.segment, self.bus, self.device, self.function
        )
    }
}

impl FromStr for Bdf {
    type Err = BdfError;

    /// `SSSS:BB:DD.F` or `BB:DD.F` (segment 0).
    fn from_str(s: &str) -> Result<Bdf, BdfError> {
        let bad = || BdfError(s.to_string());
        let (head, func) = s.rsplit_once('.').ok_or_else(bad)?;
        let parts: Vec<&str> = head.split(':').collect();
        let (seg, bus, dev) = match parts.as_slice() {
            [b, d] => ("0", *b, *d),
            [s, b, d] => (*s, *b, *d),
            _ => return Err(bad()),
        };
        let hex = |t: &str, width: usize| {
            (!t.is_empty() && t.len() <= width && t.bytes().all(|c| c.is_ascii_hexdigit()))
                .then(|| u32::from_str_radix(t, 16).ok())
                .flatten()
                .ok_or_else(bad)
        };
        let (segment, bus, device, function) =
            (hex(seg, 4)?, hex(bus, 2)?, hex(dev, 2)?, hex(func, 1)?);
        if device > 0x1f || function > 7 {
            return Err(bad());
        }
        Ok(Bdf {
            segment: segment as u16,
            bus: bus as u8,
            device: device as u8,
            function: function as u8,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Bdf;

    #[test]
    fn an_address_round_trips_through_its_sysfs_name() {
        let b: Bdf = "05:00.0".parse().unwrap();
        assert_eq!(b.to_string(), "0000:05:00.0");
        assert_eq!(b.to_string().parse::<Bdf>().unwrap(), b);
        let b: Bdf = "0001:ff:1f.7".parse().unwrap();
        assert_eq!((b.segment, b.bus, b.device, b.function), (1, 0xff, 0x1f, 7));
    }

    #[test]
    fn out_of_range_parts_are_refused() {
        for bad in [
            "00:20.0",
            "00:00.8",
            "100:00.0",
            "00:00",
            "x:00.0",
            "00:00.0.1",
        ] {
            assert!(bad.parse::<Bdf>().is_err(), "{bad}");
        }
    }
}
