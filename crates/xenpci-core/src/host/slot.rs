//! The `-s` selector of `xenpci list`, as lspci reads it:
//! `[[[[DOMAIN]:]BUS]:][DEVICE][.[FUNC]]`, hex, each part empty or `*` for any (`05:00.0`,
//! `05:`, `0000:05:00`, `.1`, `*:00.0`).

use crate::pci::Bdf;

/// One selector; None matches anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Slot {
    /// PCI segment (lspci's domain).
    pub segment: Option<u16>,
    /// Bus.
    pub bus: Option<u8>,
    /// Device.
    pub device: Option<u8>,
    /// Function.
    pub function: Option<u8>,
}

/// A `-s` value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid -s selector {input:?}: {part:?} {expected}")]
pub struct SlotError {
    /// The whole value.
    pub input: String,
    /// The part that is wrong.
    pub part: String,
    /// What was expected.
    pub expected: &'static str,
}

fn field(
    input: &str,
    part: &str,
    max: u32,
    expected: &'static str,
) -> Result<Option<u32>, SlotError> {
    if part.is_empty() || part == "*" {
        return Ok(None);
    }
    let bad = || SlotError {
        input: input.into(),
        part: part.into(),
        expected,
    };
    if part.len() > 4 || !part.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let v = u32::from_str_radix(part, 16).map_err(|_| bad())?;
    if v > max {
        return Err(bad());
    }
    Ok(Some(v))
}

/// Parses a selector.
pub fn parse(input: &str) -> Result<Slot, SlotError> {
    let (left, func) = match input.split_once('.') {
        Some((l, f)) => (l, Some(f)),
        None => (input, None),
    };
    let parts: Vec<&str> = left.split(':').collect();
    if parts.len() > 3 {
        return Err(SlotError {
            input: input.into(),
            part: left.into(),
            expected: "has more than DOMAIN:BUS:DEVICE",
        });
    }
    let mut it = parts.iter().rev();
    let device = it.next().copied().unwrap_or("");
    let bus = it.next().copied().unwrap_or("");
    let segment = it.next().copied().unwrap_or("");
    Ok(Slot {
        segment: field(input, segment, 0xffff, "is not a hex domain (0-ffff)")?.map(|v| v as u16),
        bus: field(input, bus, 0xff, "is not a hex bus (0-ff)")?.map(|v| v as u8),
        device: field(input, device, 0x1f, "is not a hex device (0-1f)")?.map(|v| v as u8),
        function: match func {
            Some(f) => field(input, f, 7, "is not a function (0-7)")?.map(|v| v as u8),
            None => None,
        },
    })
}

impl Slot {
    /// True when `bdf` is selected.
    pub fn matches(&self, bdf: Bdf) -> bool {
        self.segment.is_none_or(|s| s == bdf.segment)
            && self.bus.is_none_or(|b| b == bdf.bus)
            && self.device.is_none_or(|d| d == bdf.device)
            && self.function.is_none_or(|f| f == bdf.function)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bdf {
        s.parse().unwrap()
    }

    #[test]
    fn lspci_forms_select_what_lspci_selects() {
        let s = parse("05:00.0").unwrap();
        assert!(s.matches(b("0000:05:00.0")) && !s.matches(b("0000:05:00.1")));
        assert!(parse("05:").unwrap().matches(b("0000:05:1f.7")));
        assert!(!parse("05:").unwrap().matches(b("0000:06:00.0")));
        assert!(parse(".1").unwrap().matches(b("0000:02:00.1")));
        assert!(parse("*:00.0").unwrap().matches(b("0000:09:00.0")));
        assert!(parse("0001:05:00").unwrap().matches(b("0001:05:00.3")));
        assert!(!parse("0001:05:00").unwrap().matches(b("0000:05:00.3")));
        assert!(parse("1f").unwrap().matches(b("0000:00:1f.2")));
        assert!(parse("").unwrap().matches(b("0000:00:00.0")));
    }

    #[test]
    fn bad_selectors_name_the_part() {
        let e = parse("05:zz.0").unwrap_err();
        assert_eq!(e.part, "zz");
        assert!(e.to_string().contains("hex device"), "{e}");
        assert!(parse("05:00.8").is_err());
        assert!(parse("1:2:3:4").is_err());
        assert!(parse("05:20.0").is_err());
    }
}
