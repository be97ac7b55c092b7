//! The dom0 hide list `xen-pciback.hide=(DDDD:BB:SS.F)(...)`, read exactly as Linux's
//! `pcistub_init` (drivers/xen/xen-pciback/pci_stub.c) reads it, merged and edited without
//! losing anything, and found inside kernel command lines and modprobe.d files.
//!
//! The kernel tries six forms per entry, in this order, with its own `sscanf` (a format blank
//! matches any run of blanks, `%x` skips leading blanks, takes an optional `0x` and wraps modulo
//! 2^32): `(D:B:S.F)`, `(D:B:S.*)`, `(D:B:*.*)`, `(B:S.F)`, `(B:S.*)`, `(B:*.*)`, each with
//! optional blanks around it. No comma, no other separator. **One entry that matches none makes
//! the kernel log `Error parsing pci_devs_to_hide at "<rest>"` and refuse to register pciback at
//! all** (no device is hidden); an entry out of range (slot > 0x1f, function > 7, bus > 0xff,
//! segment > 0xffff) aborts the same way, without that message. [`parse`] reports both as a
//! [`HideError`].
//!
//! xenpci writes only the long form `(DDDD:BB:SS.F)` with no blanks, the only form XCP-ng 8.3's
//! xapi (`Pciops.get_hidden_pcidevs`) can read. Entries it did not touch stay byte-for-byte,
//! short form included, and are reported ([`HideList::short_form_entries`]) so the caller can
//! decide to [`HideList::normalised`] them.
//!
//! Removing a device that is hidden only through a wildcard entry: [`WildcardPolicy::Refuse`]
//! (an error naming the entry) or [`WildcardPolicy::Split`], which replaces a slot wildcard
//! `(D:B:S.*)` by the seven other functions. A bus wildcard `(D:B:*.*)` is never split: it would
//! take 255 entries (3.5 KiB), more than the 2048-byte x86 kernel command line.
//!
//! Grammar: `grammar/hide-list.ebnf`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use crate::pci::Bdf;

// ---------------------------------------------------------------------------------------------
// BdfPattern
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why the kernel would refuse a hide list, or why an edit is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HideError {
    /// No form matches an entry: the kernel's own message, then ours.
    #[error(
        "Error parsing pci_devs_to_hide at \"{rest}\" (xenpci: in hide list {input:?}, the entry at \
         byte {offset}: {explanation}; the kernel then refuses the whole list: pciback is not \
         registered and no device is hidden)"
    )]
    Parse {
        /// The whole list.
        input: String,
        /// Byte offset of the failing entry (where the kernel's message starts).
        offset: usize,
        /// The text from the failing entry on, as the kernel prints it.
        rest: String,
        /// What was expected where, in our words.
        explanation: String,
    },
    /// The entry parses but `pcistub_device_id_add` returns -EINVAL.
    #[error(
        "hide list {input:?}: entry {entry:?} is out of range ({reason}); the kernel rejects it \
         with -EINVAL and pciback is not registered (no message is logged)"
    )]
    Range {
        /// The whole list.
        input: String,
        /// The entry text.
        entry: String,
        /// Which field is out of range.
        reason: String,
    },
    /// A number so large the kernel reads it as negative, which it treats as a wildcard in a
    /// combination xenpci does not model (e.g. every slot but one function).
    #[error(
        "hide list {input:?}: entry {entry:?}: {reason}; xenpci does not edit such a list \
         (rewrite the entry by hand)"
    )]
    Unmodelled {
        /// The whole list.
        input: String,
        /// The entry text.
        entry: String,
        /// What the kernel does with it.
        reason: String,
    },
    /// Removing a device hidden by a wildcard entry, with [`WildcardPolicy::Refuse`] or a bus
    /// wildcard.
    #[error(
        "{device} is hidden by the wildcard entry {entry:?}: {why} (remove or rewrite that entry \
         by hand)"
    )]
    CoveredByWildcard {
        /// The device asked for.
        device: Bdf,
        /// The wildcard entry that covers it.
        entry: String,
        /// Why it was not split.
        why: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Rules (one per production of grammar/hide-list.ebnf), on the kernel's sscanf semantics
// ---------------------------------------------------------------------------------------------

pub use super::scan::ScanFail;
use super::scan::{fail, Res};

/// The kernel's `isspace`: blank, `\t`..`\r`, and Latin-1 NBSP (0xa0; never alone in UTF-8).
fn is_kspace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// `blanks = { blank }` — a blank in a kernel sscanf format: any run, possibly empty.
pub fn blanks(input: &str) -> Res<'_, &str> {
    let end = input.find(|c| !is_kspace(c)).unwrap_or(input.len());
    Ok((&input[end..], &input[..end]))
}

/// A literal character of the format; the kernel skips no blank before it.
pub fn lit(c: char, expected: &'static str) -> impl Fn(&str) -> Res<'_, char> {
    move |input: &str| match input.strip_prefix(c) {
        Some(rest) => Ok((rest, c)),
        None => fail(input, expected),
    }
}

/// `number = blanks, hexdigit-or-0x, { hexdigit }` — the kernel's `%x`: skips blanks, needs a
/// hex digit first, drops a `0x`/`0X` prefix, reads every hex digit after it; the value wraps
/// modulo 2^64 and is stored into a 32-bit `int` (so `ffffffff` is -1).
pub fn number(expected: &'static str) -> impl Fn(&str) -> Res<'_, i32> {
    move |input: &str| {
        let (r, _) = blanks(input)?;
        if !r.starts_with(|c: char| c.is_ascii_hexdigit()) {
            return fail(r, expected);
        }
        let r = match r.as_bytes() {
            [b'0', b'x' | b'X', ..] => &r[2..],
            _ => r,
        };
        let end = r.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(r.len());
        let v = r[..end].chars().fold(0u64, |acc, c| {
            acc.wrapping_mul(16)
                .wrapping_add(c.to_digit(16).unwrap_or(0) as u64)
        });
        Ok((&r[end..], v as u32 as i32))
    }
}

/// The raw numbers of one entry: segment (None in the short forms), bus, slot (-1 = `*`),
/// function (-1 = `*`).
type Raw = (Option<i32>, i32, i32, i32);

fn open(i: &str) -> Res<'_, char> {
    let (i, _) = blanks(i)?;
    lit('(', "'(' to start an entry")(i)
}

fn close(i: &str) -> Res<'_, char> {
    let (i, c) = lit(')', "')' to end the entry")(i)?;
    let (i, _) = blanks(i)?;
    Ok((i, c))
}

fn star_dot_star(i: &str) -> Res<'_, ()> {
    let (i, _) = lit('*', "'*' (slot wildcard)")(i)?;
    let (i, _) = lit('.', "'.' after the slot")(i)?;
    let (i, _) = lit('*', "'*' (function wildcard)")(i)?;
    Ok((i, ()))
}

/// `long-full = "(" seg ":" bus ":" slot "." func ")"`
pub fn long_full(i: &str) -> Res<'_, Raw> {
    let (i, _) = open(i)?;
    let (i, d) = number("the segment (hex)")(i)?;
    let (i, _) = lit(':', "':' after the segment")(i)?;
    let (i, b) = number("the bus (hex)")(i)?;
    let (i, _) = lit(':', "':' after the bus")(i)?;
    let (i, s) = number("the slot (hex)")(i)?;
    let (i, _) = lit('.', "'.' after the slot")(i)?;
    let (i, f) = number("the function (hex)")(i)?;
    let (i, _) = close(i)?;
    Ok((i, (Some(d), b, s, f)))
}

/// `long-slot = "(" seg ":" bus ":" slot ".*)"`
pub fn long_slot(i: &str) -> Res<'_, Raw> {
    let (i, _) = open(i)?;
    let (i, d) = number("the segment (hex)")(i)?;
    let (i, _) = lit(':', "':' after the segment")(i)?;
    let (i, b) = number("the bus (hex)")(i)?;
    let (i, _) = lit(':', "':' after the bus")(i)?;
    let (i, s) = number("the slot (hex)")(i)?;
    let (i, _) = lit('.', "'.' after the slot")(i)?;
    let (i, _) = lit('*', "the function (hex or '*')")(i)?;
    let (i, _) = close(i)?;
    Ok((i, (Some(d), b, s, -1)))
}

/// `long-bus = "(" seg ":" bus ":*.*)"`
pub fn long_bus(i: &str) -> Res<'_, Raw> {
    let (i, _) = open(i)?;
    let (i, d) = number("the segment (hex)")(i)?;
    let (i, _) = lit(':', "':' after the segment")(i)?;
    let (i, b) = number("the bus (hex)")(i)?;
    let (i, _) = lit(':', "':' after the bus")(i)?;
    let (i, _) = star_dot_star(i)?;
    let (i, _) = close(i)?;
    Ok((i, (Some(d), b, -1, -1)))
}

/// `short-full = "(" bus ":" slot "." func ")"` (segment 0)
pub fn short_full(i: &str) -> Res<'_, Raw> {
    let (i, _) = open(i)?;
    let (i, b) = number("the bus (hex)")(i)?;
    let (i, _) = lit(':', "':' after the bus")(i)?;
    let (i, s) = number("the slot (hex)")(i)?;
    let (i, _) = lit('.', "'.' after the slot")(i)?;
    let (i, f) = number("the function (hex)")(i)?;
    let (i, _) = close(i)?;
    Ok((i, (None, b, s, f)))
}

/// `short-slot = "(" bus ":" slot ".*)"`
pub fn short_slot(i: &str) -> Res<'_, Raw> {
    let (i, _) = open(i)?;
    let (i, b) = number("the bus (hex)")(i)?;
    let (i, _) = lit(':', "':' after the bus")(i)?;
    let (i, s) = number("the slot (hex)")(i)?;
    let (i, _) = lit('.', "'.' after the slot")(i)?;
    let (i, _) = lit('*', "the function (hex or '*')")(i)?;
    let (i, _) = close(i)?;
    Ok((i, (None, b, s, -1)))
}

/// `short-bus = "(" bus ":*.*)"`
pub fn short_bus(i: &str) -> Res<'_, Raw> {
    let (i, _) = open(i)?;
    let (i, b) = number("the bus (hex)")(i)?;
    let (i, _) = lit(':', "':' after the bus")(i)?;
    let (i, _) = star_dot_star(i)?;
    let (i, _) = close(i)?;
    Ok((i, (None, b, -1, -1)))
}

/// `entry = long-full | long-slot | long-bus | short-full | short-slot | short-bus`, first match
/// wins (the kernel's order). On failure, the error that got furthest (our explanation).
pub fn entry(i: &str) -> Res<'_, Raw> {
    let forms: [fn(&str) -> Res<'_, Raw>; 6] = [
        long_full, long_slot, long_bus, short_full, short_slot, short_bus,
    ];
    let mut best: Option<ScanFail<'_>> = None;
    for form in forms {
        match form(i) {
            Ok(ok) => return Ok(ok),
            Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => {
                if best.as_ref().is_none_or(|b| e.rest.len() < b.rest.len()) {
                    best = Some(e);
                }
            }
            Err(nom::Err::Incomplete(_)) => {}
        }
    }
    Err(nom::Err::Error(best.unwrap_or(ScanFail {
        rest: i,
        expected: "an entry",
    })))
}

// ---------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------

/// One entry of a parsed list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HideEntry {
    /// The entry as written, from `(` to `)`.
    pub text: String,
    /// Byte range of `text` in the list.
    pub span: Range<usize>,
    /// What it hides.
    pub pattern: BdfPattern,
    /// Written without the segment (`(BB:SS.F)`), which XCP-ng 8.3's xapi cannot read.
    pub short_form: bool,
}

/// A hide list the kernel accepts, with its exact text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HideList {
    /// The list as given.
    pub input: String,
    /// The entries in order.
    pub entries: Vec<HideEntry>,
    /// Accepted but surprising: duplicates, `0x` prefixes, blanks, numbers that wrap.
    pub warnings: Vec<String>,
}

/// What to do when removing a device that is hidden only through a wildcard entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WildcardPolicy {
    /// Return [`HideError::CoveredByWildcard`].
    Refuse,
    /// Replace a slot wildcard `(D:B:S.*)` by the other seven functions (bus wildcards are still
    /// refused).
    Split,
}

/// The result of an edit: the new list and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HideEdit {
    /// The new hide list text (empty when nothing is hidden any more).
    pub value: String,
    /// Whether `value` differs from the input.
    pub changed: bool,
    /// One line per device: added, already hidden (by which entry), removed, not hidden, split.
    pub notes: Vec<String>,
    /// Short-form entries left as they were (the caller may [`HideList::normalised`] them).
    pub short_form_kept: Vec<String>,
}

fn range_check(raw: Raw) -> Result<BdfPattern, String> {
    let (d, b, s, f) = raw;
    let d = d.unwrap_or(0);
    if !(0..=0xffff).contains(&d) {
        return Err(format!("segment 0x{:x} > 0xffff", d as u32));
    }
    if !(0..=0xff).contains(&b) {
        return Err(format!("bus 0x{:x} > 0xff", b as u32));
    }
    if s > 0x1f {
        return Err(format!("slot 0x{s:x} > 0x1f"));
    }
    if f > 7 {
        return Err(format!("function 0x{f:x} > 7"));
    }
    Ok(BdfPattern {
        segment: d as u16,
        bus: b as u8,
        slot: (s >= 0).then_some(s as u8),
        function: (f >= 0).then_some(f as u8),
    })
}

/// Parses a hide list (the value after `hide=`, quotes already removed) as `pcistub_init` does.
/// An empty list is valid and hides nothing.
pub fn parse(value: &str) -> Result<HideList, HideError> {
    let mut entries: Vec<HideEntry> = Vec::new();
    // The first entry of each pattern, so "already covered" looks up the few patterns that can
    // cover an entry instead of scanning every earlier one (quadratic on a long hostile list).
    let mut first: HashMap<BdfPattern, usize> = HashMap::new();
    let mut warnings = Vec::new();
    let mut pos = 0;
    while pos < value.len() {
        let here = &value[pos..];
        let (rest, raw) = match entry(here) {
            Ok(ok) => ok,
            Err(e) => {
                let f = match e {
                    nom::Err::Error(f) | nom::Err::Failure(f) => f,
                    nom::Err::Incomplete(_) => ScanFail {
                        rest: here,
                        expected: "an entry",
                    },
                };
                let at = value.len() - f.rest.len();
                let found = match f.rest.chars().next() {
                    None => "the end of the list".to_string(),
                    Some(c) => format!("{c:?}"),
                };
                let mut explanation = format!("expected {}, found {found}", f.expected);
                if f.rest.starts_with(',') {
                    explanation.push_str(" (entries are not separated by commas: write (A)(B))");
                }
                return Err(HideError::Parse {
                    input: value.to_string(),
                    offset: pos,
                    rest: here.to_string(),
                    explanation: format!("at byte {at}, {explanation}"),
                });
            }
        };
        let consumed = here.len() - rest.len();
        let lead = here.len() - here.trim_start_matches(is_kspace).len();
        let chunk = &here[lead..consumed];
        let text = chunk.trim_end_matches(is_kspace).to_string();
        let start = pos + lead;
        let span = start..start + text.len();
        let pattern = match range_check(raw) {
            Ok(p) => p,
            Err(reason) => {
                return Err(HideError::Range {
                    input: value.to_string(),
                    entry: text,
                    reason,
                })
            }
        };
        if raw.2 < 0 && raw.3 >= 0 {
            return Err(HideError::Unmodelled {
                input: value.to_string(),
                entry: text,
                reason: "the kernel reads the slot as a negative number, i.e. every slot, but \
                         one function"
                    .to_string(),
            });
        }
        let canonical = pattern.entry();
        let short = raw.0.is_none();
        let as_written_star = text.matches('*').count();
        let stars = usize::from(pattern.slot.is_none()) + usize::from(pattern.function.is_none());
        if stars != as_written_star {
            warnings.push(format!(
                "entry {text:?}: a number that wraps to a negative value is a wildcard for the \
                 kernel: it reads {canonical}"
            ));
        } else if !short && text != canonical {
            warnings.push(format!(
                "entry {text:?} is not in canonical form; the kernel reads {canonical}"
            ));
        }
        if let Some(prev) = covering_patterns(&pattern)
            .iter()
            .filter_map(|p| first.get(p))
            .min()
            .map(|&i| &entries[i])
        {
            warnings.push(format!(
                "entry {text:?} is already covered by {:?}",
                prev.text
            ));
        }
        first.entry(pattern).or_insert(entries.len());
        entries.push(HideEntry {
            text,
            span,
            pattern,
            short_form: short,
        });
        pos += consumed;
    }
    Ok(HideList {
        input: value.to_string(),
        entries,
        warnings,
    })
}

/// Every pattern that [`BdfPattern::covers`] `p`: itself, and with the slot and/or the function
/// made a wildcard.
fn covering_patterns(p: &BdfPattern) -> Vec<BdfPattern> {
    let mut out = vec![*p];
    if p.function.is_some() {
        out.push(BdfPattern {
            function: None,
            ..*p
        });
    }
    if p.slot.is_some() {
        out.push(BdfPattern {
            slot: None,
            function: None,
            ..*p
        });
        if p.function.is_some() {
            out.push(BdfPattern { slot: None, ..*p });
        }
    }
    out
}

impl HideList {
    /// The entry that hides `device`, if any (exact entries first, then wildcards).
    pub fn covering(&self, device: &BdfPattern) -> Option<&HideEntry> {
        self.entries
            .iter()
            .find(|e| e.pattern == *device)
            .or_else(|| self.entries.iter().find(|e| e.pattern.covers(device)))
    }

    /// Is `bdf` hidden by this list?
    pub fn hides(&self, bdf: &Bdf) -> bool {
        self.entries.iter().any(|e| e.pattern.matches(bdf))
    }

    /// The short-form entries as written, e.g. `(05:00.0)`.
    pub fn short_form_entries(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.short_form)
            .map(|e| e.text.clone())
            .collect()
    }

    /// What XCP-ng 8.3's xapi (`Pciops.get_hidden_pcidevs`, behind `xe pci-disable-dom0-access`
    /// and friends) cannot read in this list: it reads `xen-pciback.hide=%s` up to the first
    /// blank and then only consecutive `(%04x:%02x:%02x.%01x)` entries, so a short-form entry, a
    /// wildcard or a blank makes those calls fail with `INTERNAL_ERROR` (Scanf failure) or hide
    /// entries from them. Empty when xapi reads the whole list.
    pub fn xapi_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor = 0;
        for e in &self.entries {
            if self.input[cursor..e.span.start].contains(is_kspace) {
                out.push(format!(
                    "blank before {:?}: xapi stops reading the list there",
                    e.text
                ));
            }
            cursor = e.span.end;
            if e.short_form {
                out.push(format!(
                    "{:?} is in the short form: xapi fails with a Scanf error",
                    e.text
                ));
            } else if e.pattern.bdf().is_none() {
                out.push(format!(
                    "{:?} is a wildcard: xapi fails with a Scanf error",
                    e.text
                ));
            } else if e.text != e.pattern.entry() {
                out.push(format!(
                    "{:?} is not written as (DDDD:BB:SS.F): xapi may misread it",
                    e.text
                ));
            }
        }
        if self.input[cursor..].contains(is_kspace) {
            out.push("trailing blank: xapi stops reading the list there".to_string());
        }
        out
    }

    /// Every entry rewritten in the long form with no blanks, duplicates removed.
    pub fn normalised(&self) -> String {
        let mut seen = HashSet::new();
        let mut out: Vec<BdfPattern> = Vec::new();
        for e in &self.entries {
            if seen.insert(e.pattern) {
                out.push(e.pattern);
            }
        }
        generate(&out)
    }

    /// Adds devices or patterns that are not hidden yet, in the long form, after the existing
    /// entries (which stay byte-for-byte). A device already covered, by an exact or wildcard
    /// entry, is not added again.
    pub fn add(&self, devices: &[BdfPattern]) -> HideEdit {
        let mut value = self.input.clone();
        let mut notes = Vec::new();
        let mut added: Vec<BdfPattern> = Vec::new();
        for d in devices {
            if let Some(e) = self.covering(d) {
                notes.push(format!("{d} is already hidden by {:?}", e.text));
            } else if added.iter().any(|a| a.covers(d)) {
                notes.push(format!("{d} is given twice"));
            } else {
                added.push(*d);
                value.push_str(&d.entry());
                notes.push(format!("added {}", d.entry()));
            }
        }
        self.edit_result(value, notes)
    }

    /// Removes exact entries for `devices` (all copies); a device that stays hidden through a
    /// wildcard entry is handled by `policy`. Other entries and the blanks around them stay.
    pub fn remove(&self, devices: &[Bdf], policy: WildcardPolicy) -> Result<HideEdit, HideError> {
        let mut notes = Vec::new();
        for d in devices {
            if !self.hides(d) {
                notes.push(format!("{d} is not in the hide list"));
            }
        }
        let mut split_done: HashSet<BdfPattern> = HashSet::new();
        // For each entry: the text to keep (original or replacement), or None to drop it.
        let mut keep: Vec<Option<String>> = Vec::new();
        for e in &self.entries {
            let hit: Vec<&Bdf> = devices.iter().filter(|d| e.pattern.matches(d)).collect();
            if hit.is_empty() {
                keep.push(Some(e.text.clone()));
                continue;
            }
            if e.pattern.bdf().is_some() {
                notes.push(format!("removed {:?}", e.text));
                keep.push(None);
                continue;
            }
            let refuse = |why: &str| HideError::CoveredByWildcard {
                device: *hit[0],
                entry: e.text.clone(),
                why: why.to_string(),
            };
            if policy == WildcardPolicy::Refuse {
                return Err(refuse("refusing to split it (policy: refuse)"));
            }
            if e.pattern.slot.is_none() {
                return Err(refuse(
                    "a bus wildcard would need 255 entries, more than the 2048-byte kernel \
                     command line",
                ));
            }
            if split_done.contains(&e.pattern) {
                notes.push(format!(
                    "removed {:?}, a second copy of a split entry",
                    e.text
                ));
                keep.push(None);
                continue;
            }
            split_done.insert(e.pattern);
            let others: String = (0..8u8)
                .filter(|f| !hit.iter().any(|d| d.function == *f))
                .map(|f| {
                    BdfPattern {
                        function: Some(f),
                        ..e.pattern
                    }
                    .entry()
                })
                .collect();
            notes.push(format!(
                "split {:?} into {others} to unhide {}",
                e.text,
                hit.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            keep.push(if others.is_empty() {
                None
            } else {
                Some(others)
            });
        }
        // Rebuild: leading blanks, then each kept entry with the blanks before it.
        let mut value = String::new();
        let mut cursor = 0;
        let mut first = true;
        for (e, k) in self.entries.iter().zip(&keep) {
            let gap = &self.input[cursor..e.span.start];
            if let Some(t) = k {
                if first {
                    value.push_str(&self.input[..self.entries[0].span.start]);
                } else {
                    value.push_str(gap);
                }
                value.push_str(t);
                first = false;
            }
            cursor = e.span.end;
        }
        if !first {
            value.push_str(&self.input[cursor..]);
        }
        Ok(self.edit_result(value, notes))
    }

    fn edit_result(&self, value: String, notes: Vec<String>) -> HideEdit {
        let short_form_kept = self
            .entries
            .iter()
            .filter(|e| e.short_form && value.contains(&e.text))
            .map(|e| e.text.clone())
            .collect();
        HideEdit {
            changed: value != self.input,
            value,
            notes,
            short_form_kept,
        }
    }
}

/// Writes patterns as a hide list in the long form with no blanks: `(0000:05:00.0)(0000:06:00.*)`.
pub fn generate(patterns: &[BdfPattern]) -> String {
    patterns.iter().map(BdfPattern::entry).collect()
}

// ---------------------------------------------------------------------------------------------
// Kernel command lines and modprobe.d
// ---------------------------------------------------------------------------------------------

/// One `…hide=` argument found in a kernel command line or an `options` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HideParam {
    /// Byte range of the whole argument (quotes included).
    pub span: Range<usize>,
    /// Byte range of the value inside the line (without quotes).
    pub value_span: Range<usize>,
    /// The key as written (`xen-pciback.hide`, `xen_pciback.hide`, `pciback.hide`, `hide`).
    pub key: String,
    /// The value without quotes.
    pub value: String,
    /// Whether quotes were used.
    pub quoted: bool,
}

/// Splits a line into arguments the way the kernel's `next_arg` does: blanks separate, a `"`
/// toggles quoting. Returns byte ranges.
fn args(line: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        if c == '"' {
            quoted = !quoted;
        }
        if is_kspace(c) && !quoted {
            if let Some(s) = start.take() {
                out.push(s..i);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push(s..line.len());
    }
    out
}

fn normalise_key(k: &str) -> String {
    k.replace('-', "_")
}

/// The hide arguments of a kernel command line (or a GRUB `module`/`module2` line: other words
/// never match), in order; the kernel uses the **last** one. Stops at a bare `--` (what follows
/// goes to init).
pub fn find_in_cmdline(line: &str) -> Vec<HideParam> {
    find_params(line, &["xen_pciback.hide", "pciback.hide"])
}

fn find_params(line: &str, keys: &[&str]) -> Vec<HideParam> {
    let mut out = Vec::new();
    for r in args(line) {
        let a = &line[r.clone()];
        if a == "--" {
            break;
        }
        let (inner, shift, quoted) = if a.starts_with('"') && a.ends_with('"') && a.len() >= 2 {
            (&a[1..a.len() - 1], 1, true)
        } else {
            (a, 0, false)
        };
        let Some((key, val)) = inner.split_once('=') else {
            continue;
        };
        if !keys.contains(&normalise_key(key).as_str()) {
            continue;
        }
        let (value, vshift, vq) = if val.starts_with('"') && val.ends_with('"') && val.len() >= 2 {
            (&val[1..val.len() - 1], 1, true)
        } else {
            (val, 0, false)
        };
        let vstart = r.start + shift + key.len() + 1 + vshift;
        out.push(HideParam {
            span: r,
            value_span: vstart..vstart + value.len(),
            key: key.to_string(),
            value: value.to_string(),
            quoted: quoted || vq,
        });
    }
    out
}

fn needs_quotes(v: &str) -> bool {
    v.contains(is_kspace) || v.contains('"')
}

/// Sets the hide value in a kernel command line: replaces the value of the last (effective)
/// occurrence in place, keeping its key spelling and quotes, and removes earlier occurrences
/// (dead, since the last wins); with none, appends ` xen-pciback.hide=VALUE` (before a bare `--`
/// if there is one). Every other byte stays. A value with blanks is quoted.
pub fn set_in_cmdline(line: &str, value: &str) -> String {
    set_param(line, &find_in_cmdline(line), "xen-pciback.hide", value)
}

fn set_param(line: &str, found: &[HideParam], new_key: &str, value: &str) -> String {
    match found.split_last() {
        Some((last, earlier)) => {
            let mut out = line.to_string();
            let v = if !last.quoted && needs_quotes(value) {
                format!("\"{value}\"")
            } else {
                value.to_string()
            };
            out.replace_range(last.value_span.clone(), &v);
            for p in earlier.iter().rev() {
                out = remove_range(&out, p.span.clone());
            }
            out
        }
        None => {
            let arg = if needs_quotes(value) {
                format!("{new_key}=\"{value}\"")
            } else {
                format!("{new_key}={value}")
            };
            let dashdash = args(line).into_iter().find(|r| &line[r.clone()] == "--");
            match dashdash {
                Some(r) => format!("{}{arg} {}", &line[..r.start], &line[r.start..]),
                None => {
                    let body = line.trim_end_matches(['\n', '\r']);
                    let nl = &line[body.len()..];
                    let sep = if body.is_empty() || body.ends_with(is_kspace) {
                        ""
                    } else {
                        " "
                    };
                    format!("{body}{sep}{arg}{nl}")
                }
            }
        }
    }
}

/// Deletes a byte range and one blank on its left (or its right at the start of the line).
fn remove_range(line: &str, r: Range<usize>) -> String {
    let before = &line[..r.start];
    let after = &line[r.end..];
    if before.ends_with([' ', '\t']) {
        format!("{}{after}", &before[..before.len() - 1])
    } else if after.starts_with([' ', '\t']) {
        format!("{before}{}", &after[1..])
    } else {
        format!("{before}{after}")
    }
}

/// Removes every hide argument from a kernel command line; every other byte stays.
pub fn remove_from_cmdline(line: &str) -> String {
    let mut out = line.to_string();
    for p in find_in_cmdline(line).iter().rev() {
        out = remove_range(&out, p.span.clone());
    }
    out
}

/// A `hide=` found in a modprobe.d file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModprobeHide {
    /// 0-based line number.
    pub line: usize,
    /// Byte offset of that line in the file.
    pub line_start: usize,
    /// The parameter, with spans relative to the line.
    pub param: HideParam,
}

fn is_pciback_options(line: &str) -> Option<usize> {
    let words = args(line);
    let (w0, w1) = (words.first()?, words.get(1)?);
    let module = normalise_key(&line[w1.clone()]);
    (&line[w0.clone()] == "options" && (module == "xen_pciback" || module == "pciback"))
        .then_some(w1.end)
}

fn lines_with_offsets(conf: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut off = 0;
    for l in conf.split_inclusive('\n') {
        out.push((off, l));
        off += l.len();
    }
    out
}

/// The `hide=` parameters of `options xen-pciback …` (or `xen_pciback`, old `pciback`) lines in
/// a modprobe.d file, in order (modprobe joins them; the last wins). Comment lines are skipped.
pub fn find_in_modprobe(conf: &str) -> Vec<ModprobeHide> {
    let mut out = Vec::new();
    for (n, (off, l)) in lines_with_offsets(conf).into_iter().enumerate() {
        let Some(end) = is_pciback_options(l) else {
            continue;
        };
        for mut p in find_params(&l[end..], &["hide"]) {
            p.span = p.span.start + end..p.span.end + end;
            p.value_span = p.value_span.start + end..p.value_span.end + end;
            out.push(ModprobeHide {
                line: n,
                line_start: off,
                param: p,
            });
        }
    }
    out
}

/// Sets the hide value in a modprobe.d file: in place in the last `hide=`, else appended to the
/// last `options xen-pciback` line, else a new line `options xen-pciback hide=VALUE` at the end.
/// Earlier `hide=` parameters are removed. Every other byte stays.
pub fn set_in_modprobe(conf: &str, value: &str) -> String {
    let found = find_in_modprobe(conf);
    let lines = lines_with_offsets(conf);
    if let Some(last) = found.last() {
        let mut out = String::new();
        for (n, (_, l)) in lines.iter().enumerate() {
            let here: Vec<HideParam> = found
                .iter()
                .filter(|h| h.line == n)
                .map(|h| h.param.clone())
                .collect();
            if here.is_empty() {
                out.push_str(l);
            } else if n == last.line {
                out.push_str(&set_param(l, &here, "hide", value));
            } else {
                let mut t = l.to_string();
                for p in here.iter().rev() {
                    t = remove_range(&t, p.span.clone());
                }
                out.push_str(&t);
            }
        }
        return out;
    }
    let target = lines
        .iter()
        .enumerate()
        .rev()
        .find(|(_, (_, l))| is_pciback_options(l).is_some());
    match target {
        Some((n, _)) => lines
            .iter()
            .enumerate()
            .map(|(i, (_, l))| {
                if i == n {
                    set_param(l, &[], "hide", value)
                } else {
                    l.to_string()
                }
            })
            .collect(),
        None => {
            let sep = if conf.is_empty() || conf.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            let v = if needs_quotes(value) {
                format!("\"{value}\"")
            } else {
                value.to_string()
            };
            format!("{conf}{sep}options xen-pciback hide={v}\n")
        }
    }
}

/// Removes every `hide=` from `options xen-pciback` lines; a line left with no parameter is
/// removed whole. Every other byte stays.
pub fn remove_from_modprobe(conf: &str) -> String {
    let found = find_in_modprobe(conf);
    let mut out = String::new();
    for (n, (_, l)) in lines_with_offsets(conf).into_iter().enumerate() {
        let here: Vec<&ModprobeHide> = found.iter().filter(|h| h.line == n).collect();
        if here.is_empty() {
            out.push_str(l);
            continue;
        }
        let mut t = l.to_string();
        for h in here.iter().rev() {
            t = remove_range(&t, h.param.span.clone());
        }
        if args(&t).len() > 2 {
            out.push_str(&t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pat(s: &str) -> BdfPattern {
        s.parse().unwrap()
    }

    #[test]
    fn covering_patterns_are_exactly_the_covering_ones() {
        let mut all = Vec::new();
        for bus in [0, 1] {
            for slot in [None, Some(0), Some(1)] {
                for function in [None, Some(0), Some(1)] {
                    all.push(BdfPattern {
                        segment: 0,
                        bus,
                        slot,
                        function,
                    });
                }
            }
        }
        for p in &all {
            let by_list = covering_patterns(p);
            for e in &all {
                assert_eq!(e.covers(p), by_list.contains(e), "{e:?} {p:?}");
            }
        }
    }

    #[test]
    fn a_long_list_parses_in_linear_time_and_still_finds_covered_entries() {
        // 60,000 entries: each used to be compared with every earlier one (1.8e9 checks).
        let mut v: String = (0..60_000u32)
            .map(|i| {
                format!(
                    "({:04x}:{:02x}:{:02x}.{})",
                    i >> 13,
                    (i >> 5) & 0xff,
                    i & 0x1f,
                    0
                )
            })
            .collect();
        v.push_str("(0000:05:03.*)(0000:05:03.2)(0000:07:*.*)(0000:07:01.5)(0000:00:02.0)");
        let t = std::time::Instant::now();
        let l = parse(&v).unwrap();
        assert!(t.elapsed().as_secs_f64() < 5.0, "{:?}", t.elapsed());
        let covered: Vec<&String> = l
            .warnings
            .iter()
            .filter(|w| w.contains("already covered"))
            .collect();
        assert_eq!(covered.len(), 3, "{covered:?}");
        assert!(covered[0].contains("\"(0000:05:03.*)\""), "{covered:?}");
        assert!(covered[1].contains("\"(0000:07:*.*)\""), "{covered:?}");
        assert!(covered[2].contains("\"(0000:00:02.0)\""), "{covered:?}");
        // Only the repeated (0000:00:02.0) goes.
        assert_eq!(l.normalised().matches('(').count(), 60_004);
    }
    fn bdf(s: &str) -> Bdf {
        s.parse().unwrap()
    }
    fn entries(v: &str) -> Vec<String> {
        parse(v)
            .unwrap()
            .entries
            .iter()
            .map(|e| e.pattern.to_string())
            .collect()
    }

    #[test]
    fn pattern_display_fromstr_round_trip() {
        for (i, c) in [
            ("05:00.0", "0000:05:00.0"),
            ("0000:05:00.*", "0000:05:00.*"),
            ("1:*.*", "0000:01:*.*"),
            ("ffff:ff:1f.7", "ffff:ff:1f.7"),
        ] {
            assert_eq!(pat(i).to_string(), c);
            assert_eq!(pat(c), pat(i));
        }
        for bad in [
            "05:*.0",
            "05:20.0",
            "05:00.8",
            "05:00",
            "x:00.0",
            "1:2:3:4.5",
        ] {
            let e = bad.parse::<BdfPattern>().unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn pattern_matches_and_covers() {
        assert!(pat("05:00.*").matches(&bdf("05:00.3")));
        assert!(!pat("05:00.*").matches(&bdf("05:01.0")));
        assert!(pat("05:*.*").covers(&pat("05:01.*")));
        assert!(!pat("05:01.*").covers(&pat("05:*.*")));
        assert!(!pat("0001:05:*.*").matches(&bdf("05:00.0")));
    }

    #[test]
    fn number_rule_is_kernel_percent_x() {
        let n = number("n");
        assert_eq!(n("1f)"), Ok((")", 0x1f)));
        assert_eq!(n("  5:"), Ok((":", 5)));
        assert_eq!(n("0x1f)"), Ok((")", 0x1f)));
        assert_eq!(n("0x)"), Ok((")", 0)));
        assert_eq!(n("ffffffff)"), Ok((")", -1)));
        assert_eq!(n("100000005)"), Ok((")", 5)));
        assert!(n("*").is_err());
        assert!(n("-1").is_err());
    }

    #[test]
    fn blanks_and_lit_rules() {
        assert_eq!(blanks(" \t(x"), Ok(("(x", " \t")));
        assert_eq!(blanks("(x"), Ok(("(x", "")));
        assert!(lit(':', ":")(" :").is_err());
    }

    #[test]
    fn one_rule_per_form() {
        assert_eq!(long_full("(0000:01:02.3)"), Ok(("", (Some(0), 1, 2, 3))));
        assert_eq!(long_slot("(0000:01:02.*) "), Ok(("", (Some(0), 1, 2, -1))));
        assert_eq!(long_bus("(0:01:*.*)"), Ok(("", (Some(0), 1, -1, -1))));
        assert_eq!(short_full("(01:02.3)"), Ok(("", (None, 1, 2, 3))));
        assert_eq!(short_slot("(01:02.*)"), Ok(("", (None, 1, 2, -1))));
        assert_eq!(short_bus("(01:*.*)"), Ok(("", (None, 1, -1, -1))));
        assert!(long_full("(01:02.3)").is_err());
        assert!(short_full("(0000:01:02.3)").is_err());
    }

    #[test]
    fn reference_rows_92_to_95() {
        assert_eq!(
            entries("(01:00.0)(0000:02:00.*)"),
            ["0000:01:00.0", "0000:02:00.*"]
        );
        assert_eq!(
            entries("(03:00.0) (04:*.*)"),
            ["0000:03:00.0", "0000:04:*.*"]
        );
        let e = parse("(0000:82.0.0)").unwrap_err().to_string();
        assert!(
            e.starts_with("Error parsing pci_devs_to_hide at \"(0000:82.0.0)\""),
            "{e}"
        );
        let e = parse("(01:00.0),(02:00.0)").unwrap_err().to_string();
        assert!(
            e.starts_with("Error parsing pci_devs_to_hide at \",(02:00.0)\""),
            "{e}"
        );
        assert!(e.contains("commas"), "{e}");
    }

    #[test]
    fn range_errors_and_quirks() {
        for (v, needle) in [
            ("(01:20.0)", "slot 0x20"),
            ("(01:00.8)", "function 0x8"),
            ("(10000:01:00.0)", "segment"),
            ("(100:00.0)", "bus"),
        ] {
            let e = parse(v).unwrap_err();
            assert!(matches!(e, HideError::Range { .. }), "{v}");
            assert!(e.to_string().contains(needle), "{e}");
        }
        assert_eq!(entries("( 5: 0. 0)"), ["0000:05:00.0"]);
        assert!(parse("(5 :0.0)").is_err());
        assert_eq!(entries("(0x5:0x0.0x1)"), ["0000:05:00.1"]);
        let l = parse("(0:5:0.ffffffff)").unwrap();
        assert_eq!(l.entries[0].pattern.to_string(), "0000:05:00.*");
        assert!(l.warnings.iter().any(|w| w.contains("wildcard")));
        assert!(matches!(
            parse("(0:5:ffffffff.0)"),
            Err(HideError::Unmodelled { .. })
        ));
        assert_eq!(entries(""), Vec::<String>::new());
        assert!(parse(" ").is_err());
        assert!(parse("(01:00.0").is_err());
    }

    #[test]
    fn add_merges_without_duplicates() {
        let l = parse("(05:00.0)").unwrap();
        let ed = l.add(&[pat("06:00.0"), pat("05:00.0")]);
        assert_eq!(ed.value, "(05:00.0)(0000:06:00.0)");
        assert_eq!(ed.short_form_kept, ["(05:00.0)"]);
        assert!(ed.notes.iter().any(|n| n.contains("already hidden")));
        let ed = parse("(0000:05:*.*)").unwrap().add(&[pat("05:03.1")]);
        assert!(!ed.changed);
        let ed = parse("").unwrap().add(&[pat("05:00.0")]);
        assert_eq!(ed.value, "(0000:05:00.0)");
    }

    #[test]
    fn remove_keeps_others_and_handles_wildcards() {
        let l = parse("(0000:05:00.0) (0000:06:00.0)(07:00.0)").unwrap();
        let ed = l.remove(&[bdf("06:00.0")], WildcardPolicy::Refuse).unwrap();
        assert_eq!(ed.value, "(0000:05:00.0)(07:00.0)");
        let ed = l.remove(&[bdf("05:00.0")], WildcardPolicy::Refuse).unwrap();
        assert_eq!(ed.value, "(0000:06:00.0)(07:00.0)");
        let ed = l.remove(&[bdf("09:00.0")], WildcardPolicy::Refuse).unwrap();
        assert!(!ed.changed);
        let w = parse("(0000:05:00.*)").unwrap();
        assert!(matches!(
            w.remove(&[bdf("05:00.1")], WildcardPolicy::Refuse),
            Err(HideError::CoveredByWildcard { .. })
        ));
        let ed = w.remove(&[bdf("05:00.1")], WildcardPolicy::Split).unwrap();
        assert_eq!(parse(&ed.value).unwrap().entries.len(), 7);
        assert!(!parse(&ed.value).unwrap().hides(&bdf("05:00.1")));
        let twice = parse("\t(5:00.*)(5:00.*)").unwrap();
        let ed = twice
            .remove(&[bdf("05:00.0")], WildcardPolicy::Split)
            .unwrap();
        assert!(
            !parse(&ed.value).unwrap().hides(&bdf("05:00.0")),
            "{}",
            ed.value
        );
        let ed = w
            .remove(&[bdf("05:00.1"), bdf("05:00.2")], WildcardPolicy::Split)
            .unwrap();
        let l = parse(&ed.value).unwrap();
        assert!(!l.hides(&bdf("05:00.1")) && !l.hides(&bdf("05:00.2")));
        assert_eq!(l.entries.len(), 6);
        assert!(parse("(05:*.*)")
            .unwrap()
            .remove(&[bdf("05:00.1")], WildcardPolicy::Split)
            .is_err());
    }

    #[test]
    fn xapi_problems_flags_what_xcpng_83_cannot_read() {
        assert!(parse("(0000:05:00.0)(0000:06:00.1)")
            .unwrap()
            .xapi_problems()
            .is_empty());
        let p = parse("(05:00.0) (0000:06:00.*)(0000:7:0.0)")
            .unwrap()
            .xapi_problems();
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].contains("short form"));
        assert!(p[1].contains("blank"));
        assert!(p[2].contains("wildcard"));
        assert!(p[3].contains("not written"));
    }

    #[test]
    fn normalise_rewrites_short_forms() {
        let l = parse("(05:00.0) (0000:06:00.*)(05:00.0)").unwrap();
        assert_eq!(l.normalised(), "(0000:05:00.0)(0000:06:00.*)");
        assert!(l.warnings.iter().any(|w| w.contains("already covered")));
    }

    #[test]
    fn cmdline_find_set_remove() {
        let line = "root=LABEL=x xen_pciback.hide=(05:00.0) quiet";
        let f = find_in_cmdline(line);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].value, "(05:00.0)");
        assert_eq!(
            set_in_cmdline(line, "(0000:05:00.0)(0000:06:00.0)"),
            "root=LABEL=x xen_pciback.hide=(0000:05:00.0)(0000:06:00.0) quiet"
        );
        assert_eq!(remove_from_cmdline(line), "root=LABEL=x quiet");
        assert_eq!(
            set_in_cmdline("ro  quiet\n", "(0000:05:00.0)"),
            "ro  quiet xen-pciback.hide=(0000:05:00.0)\n"
        );
        let q = "ro \"xen-pciback.hide=(03:00.0) (04:00.0)\" x";
        assert_eq!(find_in_cmdline(q)[0].value, "(03:00.0) (04:00.0)");
        assert_eq!(
            set_in_cmdline(q, "(0000:03:00.0)"),
            "ro \"xen-pciback.hide=(0000:03:00.0)\" x"
        );
        let two = "pciback.hide=(01:00.0) a xen-pciback.hide=(02:00.0)";
        assert_eq!(find_in_cmdline(two).len(), 2);
        assert_eq!(
            set_in_cmdline(two, "(0000:02:00.0)"),
            "a xen-pciback.hide=(0000:02:00.0)"
        );
        assert_eq!(
            set_in_cmdline("ro -- xen-pciback.hide=(1:0.0)", "(0000:05:00.0)"),
            "ro xen-pciback.hide=(0000:05:00.0) -- xen-pciback.hide=(1:0.0)"
        );
        assert_eq!(
            set_in_cmdline("a", "(0000:05:00.0) (0000:06:00.0)"),
            "a xen-pciback.hide=\"(0000:05:00.0) (0000:06:00.0)\""
        );
    }

    #[test]
    fn modprobe_find_set_remove() {
        let conf = "# hide\noptions xen-pciback hide=(05:00.0) passthrough=1\nblacklist x\n";
        assert_eq!(find_in_modprobe(conf)[0].param.value, "(05:00.0)");
        assert_eq!(
            set_in_modprobe(conf, "(0000:05:00.0)"),
            "# hide\noptions xen-pciback hide=(0000:05:00.0) passthrough=1\nblacklist x\n"
        );
        assert_eq!(
            remove_from_modprobe(conf),
            "# hide\noptions xen-pciback passthrough=1\nblacklist x\n"
        );
        assert_eq!(
            remove_from_modprobe("options xen_pciback hide=(1:0.0)\n"),
            ""
        );
        assert_eq!(
            set_in_modprobe("blacklist x", "(0000:05:00.0)"),
            "blacklist x\noptions xen-pciback hide=(0000:05:00.0)\n"
        );
        assert_eq!(
            set_in_modprobe("options xen-pciback passthrough=1\n", "(0000:05:00.0)"),
            "options xen-pciback passthrough=1 hide=(0000:05:00.0)\n"
        );
        assert!(find_in_modprobe("#options xen-pciback hide=(1:0.0)\n").is_empty());
    }

    fn arb_pattern() -> impl Strategy<Value = BdfPattern> {
        (
            any::<u16>(),
            any::<u8>(),
            prop::option::of(0u8..32),
            prop::option::of(0u8..8),
        )
            .prop_map(|(segment, bus, slot, function)| BdfPattern {
                segment,
                bus,
                slot,
                function: if slot.is_none() { None } else { function },
            })
    }

    proptest! {
        #[test]
        fn parse_generate_round_trip(ps in proptest::collection::vec(arb_pattern(), 0..6)) {
            let v = generate(&ps);
            let l = parse(&v).unwrap();
            let got: Vec<BdfPattern> = l.entries.iter().map(|e| e.pattern).collect();
            prop_assert_eq!(got, ps);
        }

        #[test]
        fn pattern_display_round_trip(p in arb_pattern()) {
            prop_assert_eq!(p.to_string().parse::<BdfPattern>().unwrap(), p);
        }

        #[test]
        fn parse_never_panics(s in "[()0-9a-fx:.* ,]{0,30}") {
            let _ = parse(&s);
        }
    }
}
