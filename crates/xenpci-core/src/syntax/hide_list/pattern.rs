//! [`BdfPattern`]: a PCI address with the hide list's wildcards (a whole slot or a whole bus),
//! how it is written and read, and which addresses it covers.

use std::fmt;
use std::str::FromStr;

use crate::pci::Bdf;

/// A PCI address with optional wildcards, as the hide list allows: a whole slot (`SS.*`) or a
/// whole bus (`*.*`). A wildcard slot implies a wildcard function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BdfPattern {
    /// PCI segment.
    pub segment: u16,
    /// Bus.
    pub bus: u8,
    /// Slot, or `None` for every slot (then `function` is `None` too).
    pub slot: Option<u8>,
    /// Function, or `None` for every function.
    pub function: Option<u8>,
}

/// Why a text is not a [`BdfPattern`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid PCI address pattern {input:?}: {reason} (expected [SSSS:]BB:SS.F, [SSSS:]BB:SS.* or \
     [SSSS:]BB:*.*)"
)]
pub struct PatternError {
    /// The text given.
    pub input: String,
    /// What is wrong.
    pub reason: String,
}

impl BdfPattern {
    /// Does this pattern include `bdf`?
    pub fn matches(&self, bdf: &Bdf) -> bool {
        self.segment == bdf.segment
            && self.bus == bdf.bus
            && self.slot.is_none_or(|s| s == bdf.device)
            && self.function.is_none_or(|f| f == bdf.function)
    }

    /// Does this pattern include every address of `other`?
    pub fn covers(&self, other: &BdfPattern) -> bool {
        self.segment == other.segment
            && self.bus == other.bus
            && match (self.slot, other.slot) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => a == b,
            }
            && match (self.function, other.function) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => a == b,
            }
    }

    /// The single device, when there is no wildcard.
    pub fn bdf(&self) -> Option<Bdf> {
        Bdf::new(self.segment, self.bus, self.slot?, self.function?)
    }

    /// The hide-list entry in the long form, e.g. `(0000:05:00.*)`.
    pub fn entry(&self) -> String {
        format!("({self})")
    }
}

impl From<Bdf> for BdfPattern {
    fn from(b: Bdf) -> BdfPattern {
        BdfPattern {
            segment: b.segment,
            bus: b.bus,
            slot: Some(b.device),
            function: Some(b.function),
        }
    }
}

impl fmt::Display for BdfPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:02x}:", self.segment, self.bus)?;
        match self.slot {
            Some(s) => write!(f, "{s:02x}.")?,
            None => f.write_str("*.")?,
        }
        match self.function {
            Some(x) => write!(f, "{x:x}"),
            None => f.write_str("*"),
        }
    }
}

impl FromStr for BdfPattern {
    type Err = PatternError;

    /// Strict: `[SSSS:]BB:SS.F` with `*` for the function or for slot and function.
    fn from_str(s: &str) -> Result<BdfPattern, PatternError> {
        let err = |reason: &str| PatternError {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let (head, func) = s.rsplit_once('.').ok_or_else(|| err("no '.'"))?;
        let parts: Vec<&str> = head.split(':').collect();
        let (seg, bus, slot) = match parts.as_slice() {
            [b, sl] => ("0", *b, *sl),
            [sg, b, sl] => (*sg, *b, *sl),
            _ => return Err(err("expected one or two ':' before the '.'")),
        };
        let hex = |t: &str, w: usize, max: u32, name: &str| -> Result<u32, PatternError> {
            if t.is_empty() || t.len() > w || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err(&format!("the {name} {t:?} is not 1 to {w} hex digits")));
            }
            let v = u32::from_str_radix(t, 16).map_err(|e| err(&e.to_string()))?;
            if v > max {
                return Err(err(&format!("the {name} 0x{v:x} is above 0x{max:x}")));
            }
            Ok(v)
        };
        let segment = hex(seg, 4, 0xffff, "segment")? as u16;
        let bus = hex(bus, 2, 0xff, "bus")? as u8;
        let slot = match slot {
            "*" => None,
            t => Some(hex(t, 2, 0x1f, "slot")? as u8),
        };
        let function = match func {
            "*" => None,
            t => Some(hex(t, 1, 7, "function")? as u8),
        };
        if slot.is_none() && function.is_some() {
            return Err(err("a wildcard slot needs a wildcard function (BB:*.*)"));
        }
        Ok(BdfPattern {
            segment,
            bus,
            slot,
            function,
        })
    }
}
