//! XAPI's `VM.other_config:pci` value, read exactly the way xapi's `pciops.ml` reads it, and
//! written so that xapi cannot misread it.
//!
//! xapi (`other_pcidevs_of_vm`, `sort_pcidevs`; XCP-ng 8.2 and 8.3 alike) does this:
//!
//! 1. split the value on `,` only (a space is not a separator);
//! 2. read each piece with OCaml `Scanf.sscanf piece "%d/%04x:%02x:%02x.%01x"`: no blank is
//!    skipped, `%04x` reads *up to* four hex digits (and `_`, which OCaml ignores inside numbers),
//!    `%d` takes a sign, and whatever follows the function digit is ignored;
//! 3. silently drop every piece that does not scan;
//! 4. plug the survivors by group `N` ascending and, inside one group, in **reverse** written
//!    order (the fold prepends); `position` is that plug order.
//!
//! [`parse`] reproduces this and adds what xapi never says: every dropped piece with its reason,
//! and a warning for every piece xapi reads differently from what it looks like. [`generate`]
//! writes values that read back to exactly the intended plug order; [`add`] and [`remove`] edit a
//! value and keep groups and order explicit. The grammar is `grammar/xapi-other-config-pci.ebnf`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::pci::Bdf;

/// The smallest group number xapi can read (OCaml's `min_int` on 64-bit: -2^62).
pub const GROUP_MIN: i64 = -(1 << 62);
/// The largest group number xapi can read (OCaml's `max_int` on 64-bit: 2^62 - 1).
pub const GROUP_MAX: i64 = (1 << 62) - 1;

/// Why a value cannot be generated or edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XapiPciError {
    /// The same device twice: xapi does not de-duplicate and would plug it twice.
    #[error("other-config:pci: {bdf} is listed twice (xapi would try to plug it twice)")]
    Duplicate {
        /// The repeated device.
        bdf: Bdf,
    },
    /// The entries are not in plug order (groups must not decrease).
    #[error(
        "other-config:pci: {bdf} in group {group} comes after group {previous}: xapi plugs groups \
         in ascending order, so this list is not a plug order"
    )]
    NotPlugOrder {
        /// The device whose group is out of order.
        bdf: Bdf,
        /// Its group.
        group: i64,
        /// The larger group before it.
        previous: i64,
    },
    /// A group number outside what OCaml's `%d` reads (xapi would drop the piece).
    #[error(
        "other-config:pci: group {group} for {bdf} is outside {GROUP_MIN}..={GROUP_MAX} \
         (xapi would drop the entry)"
    )]
    GroupRange {
        /// The device.
        bdf: Bdf,
        /// The group asked for.
        group: i64,
    },
}

/// The address xapi reads from a piece: any value its `Scanf` widths allow, so a slot up to 0xff
/// and a function up to 0xf, which no real PCI function has (xapi keeps it; the VM fails to
/// start). Display is xapi's own id format `%04x:%02x:%02x.%01x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct XapiAddr {
    /// PCI segment (up to 4 hex digits).
    pub segment: u16,
    /// Bus (up to 2 hex digits).
    pub bus: u8,
    /// Slot (up to 2 hex digits, so up to 0xff).
    pub slot: u8,
    /// Function (1 hex digit, so up to 0xf).
    pub function: u8,
}

impl XapiAddr {
    /// The real PCI address, when the slot is at most 0x1f and the function at most 7.
    pub fn bdf(&self) -> Option<Bdf> {
        Bdf::new(self.segment, self.bus, self.slot, self.function)
    }
}

impl From<Bdf> for XapiAddr {
    fn from(b: Bdf) -> XapiAddr {
        XapiAddr {
            segment: b.segment,
            bus: b.bus,
            slot: b.device,
            function: b.function,
        }
    }
}

impl Serialize for XapiAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for XapiAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.segment, self.bus, self.slot, self.function
        )
    }
}

/// One device xapi will plug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct XapiPciDevice {
    /// The address as xapi reads it.
    pub addr: XapiAddr,
    /// The group `N`.
    pub group: i64,
    /// Plug order among the other-config devices, from 0 (xapi counts vGPU and SR-IOV devices
    /// first, so the guest-wide index may be higher by that many).
    pub position: usize,
    /// Index of the piece in the value (0-based, counting every `,`-separated piece).
    pub piece: usize,
    /// The piece as written.
    pub text: String,
}

/// A piece xapi drops without a word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// The piece as written.
    pub text: String,
    /// Why xapi's `Scanf` rejects it.
    pub reason: String,
    /// Index of the piece in the value.
    pub piece: usize,
}

/// What xapi makes of a whole `other-config:pci` value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct XapiPciList {
    /// The value as given.
    pub input: String,
    /// The devices in plug order (`devices[i].position == i`).
    pub devices: Vec<XapiPciDevice>,
    /// The pieces xapi drops.
    pub dropped: Vec<Dropped>,
    /// One line per dropped or misread piece, and per surprising order.
    pub warnings: Vec<String>,
}

/// A device with its explicit group: the unit [`generate`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The group `N`.
    pub group: i64,
    /// The device.
    pub bdf: Bdf,
}

/// The result of [`add`] or [`remove`]: the new value, the devices in plug order, and what
/// changed or was cleaned up on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The new value (canonical form); empty when no device is left.
    pub value: String,
    /// The devices of the new value in plug order.
    pub entries: Vec<Entry>,
    /// Human-readable notes: devices already present / absent, pieces dropped from the old value.
    pub notes: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Rules (one per production of grammar/xapi-other-config-pci.ebnf)
// ---------------------------------------------------------------------------------------------

pub use super::scan::ScanFail;
use super::scan::{fail, Res};

/// `digits(width, radix)`: OCaml Scanf's digit run: a first digit, then up to `width` characters
/// in all of digits and `_` (the `_` are skipped and count towards the width).
fn digits<'a>(input: &'a str, width: usize, radix: u32, expected: &'static str) -> Res<'a, String> {
    let mut chars = input.char_indices();
    match chars.next() {
        Some((_, c)) if c.is_digit(radix) => {}
        _ => return fail(input, expected),
    }
    let mut end = input.len();
    let mut out = String::new();
    for (used, (i, c)) in input.char_indices().enumerate() {
        if used == width || !(c.is_digit(radix) || c == '_') {
            end = i;
            break;
        }
        if c != '_' {
            out.push(c);
        }
    }
    Ok((&input[end..], out))
}

/// `group = [ "+" | "-" ] decimal` — OCaml `%d` (no blank skipped, range of a 63-bit int).
pub fn group(input: &str) -> Res<'_, i64> {
    let (sign, rest) = match input.as_bytes().first() {
        Some(b'-') => (-1i128, &input[1..]),
        Some(b'+') => (1, &input[1..]),
        _ => (1, input),
    };
    let (rest, ds) = digits(rest, usize::MAX, 10, "a decimal group number N")?;
    let magnitude: i128 = ds.parse().unwrap_or(i128::MAX);
    let v = sign * magnitude;
    if v < GROUP_MIN as i128 || v > GROUP_MAX as i128 {
        return fail(input, "a group number that fits OCaml's 63-bit int");
    }
    Ok((rest, v as i64))
}

/// A literal separator character (`/`, `:` or `.`); no blank may precede it.
pub fn lit(c: char, expected: &'static str) -> impl Fn(&str) -> Res<'_, char> {
    move |input: &str| match input.strip_prefix(c) {
        Some(rest) => Ok((rest, c)),
        None => fail(input, expected),
    }
}

/// `hex(width)` — OCaml `%0Nx`: 1 to `width` hex digits (and `_`), no sign, no `0x`.
pub fn hex(width: usize, expected: &'static str) -> impl Fn(&str) -> Res<'_, u32> {
    move |input: &str| {
        let (rest, ds) = digits(input, width, 16, expected)?;
        // width <= 4, so the value always fits.
        Ok((rest, u32::from_str_radix(&ds, 16).unwrap_or(0)))
    }
}

/// `piece = group "/" segment ":" bus ":" slot "." function` — what one `Scanf` call reads;
/// returns the group, the address and the ignored rest of the piece.
pub fn piece(input: &str) -> Res<'_, (i64, XapiAddr)> {
    let (r, g) = group(input)?;
    let (r, _) = lit('/', "'/' after the group number")(r)?;
    let (r, segment) = hex(4, "the PCI segment: 1 to 4 hex digits")(r)?;
    let (r, _) = lit(':', "':' after the segment (at most 4 hex digits)")(r)?;
    let (r, bus) = hex(2, "the bus: 1 or 2 hex digits")(r)?;
    let (r, _) = lit(':', "':' after the bus (at most 2 hex digits)")(r)?;
    let (r, slot) = hex(2, "the slot: 1 or 2 hex digits")(r)?;
    let (r, _) = lit('.', "'.' after the slot (at most 2 hex digits)")(r)?;
    let (r, function) = hex(1, "the function: 1 hex digit")(r)?;
    let addr = XapiAddr {
        segment: segment as u16,
        bus: bus as u8,
        slot: slot as u8,
        function: function as u8,
    };
    Ok((r, (g, addr)))
}

// ---------------------------------------------------------------------------------------------
// Whole values
// ---------------------------------------------------------------------------------------------

/// The canonical text of one entry: `N/dddd:bb:ss.f`.
pub fn canonical_piece(group: i64, addr: XapiAddr) -> String {
    format!("{group}/{addr}")
}

fn describe(c: Option<char>) -> String {
    match c {
        None => "the end of the piece".to_string(),
        Some(c) => format!("{c:?}"),
    }
}

/// Why a piece does not scan, in words an admin can act on.
fn drop_reason(text: &str, fail: &ScanFail<'_>) -> String {
    let at = text.len() - fail.rest.len();
    let found = describe(fail.rest.chars().next());
    let hint = if text.is_empty() {
        return "empty piece (two commas in a row, or a comma at the start or end)".to_string();
    } else if text.starts_with(char::is_whitespace) {
        " — xapi skips no blanks: a space after a comma loses the device"
    } else if at == 0 || (!text.contains('/') && text.contains(':')) {
        if text.contains('/') {
            ""
        } else {
            " — the group prefix `N/` is missing (write e.g. 0/0000:05:00.0)"
        }
    } else if text[at..].starts_with('.') && fail.expected.starts_with("':' after the bus") {
        " — the PCI segment is missing (write DDDD:BB:SS.F, e.g. 0000:05:00.0)"
    } else {
        ""
    };
    format!(
        "at character {at}: expected {}, found {found}{hint}",
        fail.expected
    )
}

/// Warnings for a piece xapi accepts: ignored trailing text, non-canonical spelling, an address
/// that cannot exist.
fn misread_warnings(index: usize, text: &str, rest: &str, g: i64, addr: XapiAddr) -> Vec<String> {
    let mut w = Vec::new();
    let canon = canonical_piece(g, addr);
    let head = &text[..text.len() - rest.len()];
    if !rest.is_empty() {
        if rest.starts_with(|c: char| c.is_ascii_hexdigit()) {
            w.push(format!(
                "piece {index} {text:?}: xapi reads only one function digit and ignores {rest:?}: \
                 it plugs {addr}, probably not the device you meant"
            ));
        } else if rest.trim().is_empty() {
            w.push(format!(
                "piece {index} {text:?}: trailing blank ignored by xapi (reads {canon})"
            ));
        } else {
            w.push(format!(
                "piece {index} {text:?}: xapi ignores the trailing text {rest:?} (only ',' \
                 separates entries) and reads {canon}"
            ));
        }
    }
    if head != canon {
        w.push(format!(
            "piece {index} {text:?}: not in canonical form; xapi reads it as {canon}"
        ));
    }
    if addr.bdf().is_none() {
        w.push(format!(
            "piece {index} {text:?}: xapi keeps {addr}, but no PCI function has slot 0x{:x} / \
             function 0x{:x} (slot <= 0x1f, function <= 7): the VM will fail to start",
            addr.slot, addr.function
        ));
    }
    w
}

/// Reads a whole value as xapi does. Never fails: xapi never fails either, it drops.
pub fn parse(value: &str) -> XapiPciList {
    let mut warnings = Vec::new();
    let mut dropped = Vec::new();
    // (group, addr, piece index, text) in written order.
    let mut read: Vec<(i64, XapiAddr, usize, String)> = Vec::new();
    if value.is_empty() {
        warnings.push(
            "the value is empty: no device is plugged, but the key's presence still enables \
             passthrough (IOMMU) for a PV guest"
                .to_string(),
        );
    } else {
        for (i, text) in value.split(',').enumerate() {
            match piece(text) {
                Ok((rest, (g, addr))) => {
                    warnings.extend(misread_warnings(i, text, rest, g, addr));
                    read.push((g, addr, i, text.to_string()));
                }
                Err(e) => {
                    let f = match e {
                        nom::Err::Error(f) | nom::Err::Failure(f) => f,
                        nom::Err::Incomplete(_) => ScanFail {
                            rest: text,
                            expected: "a complete piece",
                        },
                    };
                    let reason = drop_reason(text, &f);
                    warnings.push(format!(
                        "piece {i} {text:?} is dropped silently by xapi: {reason}"
                    ));
                    dropped.push(Dropped {
                        text: text.to_string(),
                        reason,
                        piece: i,
                    });
                }
            }
        }
    }
    // Plug order: groups ascending; inside a group, reverse of the written order.
    let mut by_group: BTreeMap<i64, Vec<&(i64, XapiAddr, usize, String)>> = BTreeMap::new();
    for r in read.iter().rev() {
        by_group.entry(r.0).or_default().push(r);
    }
    let mut devices = Vec::new();
    for (g, members) in &by_group {
        if members.len() > 1 {
            let order: Vec<String> = members.iter().map(|m| m.1.to_string()).collect();
            warnings.push(format!(
                "group {g} holds {} devices: xapi plugs them in reverse of the written order \
                 ({}); use distinct groups to make the order explicit",
                members.len(),
                order.join(", ")
            ));
        }
        for m in members {
            devices.push(XapiPciDevice {
                addr: m.1,
                group: *g,
                position: devices.len(),
                piece: m.2,
                text: m.3.clone(),
            });
        }
    }
    let mut seen: BTreeMap<XapiAddr, usize> = BTreeMap::new();
    for d in &devices {
        *seen.entry(d.addr).or_default() += 1;
    }
    for (addr, n) in seen {
        if n > 1 {
            warnings.push(format!(
                "{addr} is listed {n} times: xapi does not de-duplicate and will try to plug it \
                 {n} times"
            ));
        }
    }
    XapiPciList {
        input: value.to_string(),
        devices,
        dropped,
        warnings,
    }
}

impl XapiPciList {
    /// The devices as [`Entry`]s in plug order, skipping addresses that cannot exist.
    pub fn entries(&self) -> Vec<Entry> {
        self.devices
            .iter()
            .filter_map(|d| {
                d.addr.bdf().map(|bdf| Entry {
                    group: d.group,
                    bdf,
                })
            })
            .collect()
    }
}

/// Writes `entries` (given in the intended plug order) so that xapi plugs exactly them, in
/// exactly that order, with those groups: canonical pieces, `,` without blanks, and inside one
/// group the pieces written in reverse (xapi reverses them back). Refuses duplicates, groups
/// out of plug order and group numbers xapi cannot read.
pub fn generate(entries: &[Entry]) -> Result<String, XapiPciError> {
    let mut seen = std::collections::HashSet::new();
    let mut previous: Option<i64> = None;
    for e in entries {
        if !(GROUP_MIN..=GROUP_MAX).contains(&e.group) {
            return Err(XapiPciError::GroupRange {
                bdf: e.bdf,
                group: e.group,
            });
        }
        if !seen.insert(e.bdf) {
            return Err(XapiPciError::Duplicate { bdf: e.bdf });
        }
        if let Some(p) = previous.filter(|p| *p > e.group) {
            return Err(XapiPciError::NotPlugOrder {
                bdf: e.bdf,
                group: e.group,
                previous: p,
            });
        }
        previous = Some(e.group);
    }
    let mut pieces = Vec::new();
    for run in entries.chunk_by(|a, b| a.group == b.group) {
        for e in run.iter().rev() {
            pieces.push(canonical_piece(e.group, e.bdf.into()));
        }
    }
    Ok(pieces.join(","))
}

/// Writes `bdfs` in this plug order with one group per device (0, 1, 2, …): the unambiguous form.
pub fn generate_ordered(bdfs: &[Bdf]) -> Result<String, XapiPciError> {
    let entries: Vec<Entry> = bdfs
        .iter()
        .enumerate()
        .map(|(i, bdf)| Entry {
            group: i as i64,
            bdf: *bdf,
        })
        .collect();
    generate(&entries)
}

fn cleanup_notes(list: &XapiPciList) -> Vec<String> {
    let mut notes = Vec::new();
    for d in &list.dropped {
        notes.push(format!(
            "removed piece {:?}, which xapi ignores ({})",
            d.text, d.reason
        ));
    }
    for d in &list.devices {
        if d.addr.bdf().is_none() {
            notes.push(format!(
                "removed {:?}: {} cannot exist (the VM could not start with it)",
                d.text, d.addr
            ));
        }
    }
    notes
}

fn dedup(entries: Vec<Entry>, notes: &mut Vec<String>) -> Vec<Entry> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for e in entries {
        if seen.insert(e.bdf) {
            out.push(e);
        } else {
            notes.push(format!("removed a second copy of {}", e.bdf));
        }
    }
    out
}

/// Adds `bdfs` to an existing value (possibly empty). Each new device is plugged after every
/// existing one: with `group: None` it gets its own group (one more than the largest so far),
/// with `Some(g)` it joins group `g` (after that group's current members, groups re-sorted).
/// The existing devices keep their groups and plug order; pieces xapi drops are removed and
/// reported; a device already present is not added twice (noted).
pub fn add(value: &str, bdfs: &[Bdf], group: Option<i64>) -> Result<Edit, XapiPciError> {
    let list = parse(value);
    let mut notes = cleanup_notes(&list);
    let mut entries = dedup(list.entries(), &mut notes);
    for bdf in bdfs {
        if entries.iter().any(|e| e.bdf == *bdf) {
            notes.push(format!("{bdf} is already in other-config:pci"));
            continue;
        }
        let g = match group {
            Some(g) => g,
            None => entries.iter().map(|e| e.group + 1).max().unwrap_or(0),
        };
        entries.push(Entry {
            group: g,
            bdf: *bdf,
        });
        notes.push(format!("added {bdf} in group {g}"));
    }
    // Stable sort by group: existing order inside a group is kept, new members come last.
    entries.sort_by_key(|e| e.group);
    let value = generate(&entries)?;
    Ok(Edit {
        value,
        entries,
        notes,
    })
}

/// Removes `bdfs` from a value, keeping the other devices' groups and plug order. A device that
/// is not there is noted, not an error.
pub fn remove(value: &str, bdfs: &[Bdf]) -> Result<Edit, XapiPciError> {
    let list = parse(value);
    let mut notes = cleanup_notes(&list);
    let mut entries = dedup(list.entries(), &mut notes);
    for bdf in bdfs {
        let before = entries.len();
        entries.retain(|e| e.bdf != *bdf);
        if entries.len() == before {
            notes.push(format!("{bdf} is not in other-config:pci"));
        } else {
            notes.push(format!("removed {bdf}"));
        }
    }
    let value = generate(&entries)?;
    Ok(Edit {
        value,
        entries,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bdf(s: &str) -> Bdf {
        s.parse().unwrap()
    }

    /// Plug order as `group/address` strings.
    fn order(value: &str) -> Vec<String> {
        parse(value)
            .devices
            .iter()
            .map(|d| canonical_piece(d.group, d.addr))
            .collect()
    }

    #[test]
    fn group_rule() {
        assert_eq!(group("0/x"), Ok(("/x", 0)));
        assert_eq!(group("-1/"), Ok(("/", -1)));
        assert_eq!(group("+2/"), Ok(("/", 2)));
        assert_eq!(group("1_0/"), Ok(("/", 10)));
        assert!(group(" 0/").is_err());
        assert!(group("_0/").is_err());
        assert!(group("-/").is_err());
        assert_eq!(group("4611686018427387903/"), Ok(("/", GROUP_MAX)));
        assert!(group("4611686018427387904/").is_err());
        assert_eq!(group("-4611686018427387904/"), Ok(("/", GROUP_MIN)));
    }

    #[test]
    fn hex_rule_reads_up_to_width_with_underscores() {
        let seg = hex(4, "seg");
        assert_eq!(seg("0000:"), Ok((":", 0)));
        assert_eq!(seg("000:"), Ok((":", 0)));
        assert_eq!(seg("00000:"), Ok(("0:", 0)));
        assert_eq!(seg("00_0:"), Ok((":", 0)));
        assert_eq!(seg("AB:"), Ok((":", 0xab)));
        assert!(seg("_0:").is_err());
        assert!(seg("x").is_err());
        assert_eq!(hex(1, "f")("10"), Ok(("0", 1)));
        assert_eq!(hex(2, "b")("6_:"), Ok((":", 6)));
    }

    #[test]
    fn lit_rule_skips_no_blank() {
        assert_eq!(lit('/', "/")("/a"), Ok(("a", '/')));
        assert!(lit('/', "/")(" /a").is_err());
    }

    #[test]
    fn piece_rule_keeps_trailing_text() {
        let (rest, (g, a)) = piece("0/0000:06:00.10").unwrap();
        assert_eq!(
            (rest, g, a.to_string()),
            ("0", 0, "0000:06:00.1".to_string())
        );
        assert!(piece("0/06:00.0").is_err());
        assert!(piece("0000:06:00.0").is_err());
    }

    #[test]
    fn reference_table_plug_orders() {
        for (value, want) in [
            (
                "0/0000:06:00.0,0/0000:07:00.0",
                vec!["0/0000:07:00.0", "0/0000:06:00.0"],
            ),
            (
                "0/0000:06:00.0,1/0000:07:00.0",
                vec!["0/0000:06:00.0", "1/0000:07:00.0"],
            ),
            (
                "1/0000:06:00.0,0/0000:07:00.0",
                vec!["0/0000:07:00.0", "1/0000:06:00.0"],
            ),
            (
                "2/0000:00:01.0,0/0000:00:02.0,1/0000:00:03.0,0/0000:00:04.0",
                vec![
                    "0/0000:00:04.0",
                    "0/0000:00:02.0",
                    "1/0000:00:03.0",
                    "2/0000:00:01.0",
                ],
            ),
            ("0/0000:06:00.0, 0/0000:07:00.0", vec!["0/0000:06:00.0"]),
            (
                "0/0000:06:00.0 ,0/0000:07:00.0",
                vec!["0/0000:07:00.0", "0/0000:06:00.0"],
            ),
            (" 0/0000:06:00.0", vec![]),
            ("0/0000:06:00.0;0/0000:07:00.0", vec!["0/0000:06:00.0"]),
            ("0000:06:00.0", vec![]),
            ("0/06:00.0", vec![]),
            ("0/000:84:00.0", vec!["0/0000:84:00.0"]),
            ("0/0000:6:0.0", vec!["0/0000:06:00.0"]),
            ("0/00000:06:00.0", vec![]),
            ("0/0000:06:00.10", vec!["0/0000:06:00.1"]),
            ("0/0000:06:00.8", vec!["0/0000:06:00.8"]),
            ("0/0000:AB:00.0", vec!["0/0000:ab:00.0"]),
            ("-1/0000:06:00.0", vec!["-1/0000:06:00.0"]),
            ("+2/0000:06:00.0", vec!["2/0000:06:00.0"]),
            (
                "0/0000:06:00.0,0/0000:06:00.0",
                vec!["0/0000:06:00.0", "0/0000:06:00.0"],
            ),
            ("", vec![]),
        ] {
            assert_eq!(order(value), want, "{value:?}");
        }
    }

    fn warns(value: &str, needle: &str) -> bool {
        parse(value).warnings.iter().any(|w| w.contains(needle))
    }

    #[test]
    fn every_dropped_or_misread_piece_is_warned() {
        assert!(warns(
            "0/0000:06:00.0, 0/0000:07:00.0",
            "a space after a comma"
        ));
        assert!(warns("0000:06:00.0", "`N/` is missing"));
        assert!(warns("0/06:00.0", "segment is missing"));
        assert!(warns("0/0000:06:00.10", "probably not the device"));
        assert!(warns("0/0000:06:00.0;x", "trailing text \";x\""));
        assert!(warns("0/0000:06:00.0 ", "trailing blank"));
        assert!(warns("0/0000:6:0.0", "canonical form"));
        assert!(warns("0/0000:06:00.8", "fail to start"));
        assert!(warns("0/0000:06:00.0,0/0000:06:00.0", "listed 2 times"));
        assert!(warns("0/0000:06:00.0,0/0000:07:00.0", "reverse"));
        assert!(warns("0/0000:06:00.0,", "empty piece"));
        assert!(warns("", "value is empty"));
        assert!(parse("0/0000:06:00.0,1/0000:07:00.0").warnings.is_empty());
    }

    #[test]
    fn dropped_pieces_have_text_and_reason() {
        let l = parse("0/0000:06:00.0, 0/0000:07:00.0");
        assert_eq!(l.dropped.len(), 1);
        assert_eq!(l.dropped[0].text, " 0/0000:07:00.0");
        assert!(l.dropped[0].reason.starts_with("at character 0"));
        assert_eq!(l.dropped[0].piece, 1);
    }

    #[test]
    fn generate_writes_plug_order_and_refuses_ambiguity() {
        let e = |g, s: &str| Entry {
            group: g,
            bdf: bdf(s),
        };
        let v = generate(&[e(0, "06:00.0"), e(0, "07:00.0"), e(1, "01:00.0")]).unwrap();
        assert_eq!(v, "0/0000:07:00.0,0/0000:06:00.0,1/0000:01:00.0");
        assert_eq!(
            generate(&[e(0, "06:00.0"), e(1, "06:00.0")]),
            Err(XapiPciError::Duplicate {
                bdf: bdf("06:00.0")
            })
        );
        assert!(matches!(
            generate(&[e(1, "06:00.0"), e(0, "07:00.0")]),
            Err(XapiPciError::NotPlugOrder { .. })
        ));
        assert!(matches!(
            generate(&[e(GROUP_MAX + 1, "06:00.0")]),
            Err(XapiPciError::GroupRange { .. })
        ));
        assert_eq!(generate(&[]).unwrap(), "");
        assert_eq!(
            generate_ordered(&[bdf("07:00.0"), bdf("06:00.0")]).unwrap(),
            "0/0000:07:00.0,1/0000:06:00.0"
        );
    }

    #[test]
    fn add_keeps_existing_order_and_cleans_dropped_pieces() {
        let ed = add("0/0000:06:00.0, 0/0000:07:00.0", &[bdf("08:00.0")], None).unwrap();
        assert_eq!(ed.value, "0/0000:06:00.0,1/0000:08:00.0");
        assert!(ed.notes.iter().any(|n| n.contains("xapi ignores")));
        let ed = add("0/0000:06:00.0", &[bdf("06:00.0")], None).unwrap();
        assert_eq!(ed.value, "0/0000:06:00.0");
        assert!(ed.notes.iter().any(|n| n.contains("already")));
        let ed = add("0/0000:07:00.0,0/0000:06:00.0", &[bdf("08:00.0")], Some(0)).unwrap();
        assert_eq!(
            order(&ed.value),
            vec!["0/0000:06:00.0", "0/0000:07:00.0", "0/0000:08:00.0"]
        );
        let ed = add("", &[bdf("05:00.0")], None).unwrap();
        assert_eq!(ed.value, "0/0000:05:00.0");
    }

    #[test]
    fn remove_keeps_the_rest() {
        let ed = remove(
            "0/0000:06:00.0,1/0000:07:00.0,2/0000:08:00.0",
            &[bdf("07:00.0")],
        )
        .unwrap();
        assert_eq!(ed.value, "0/0000:06:00.0,2/0000:08:00.0");
        let ed = remove("0/0000:06:00.0", &[bdf("09:00.0")]).unwrap();
        assert!(ed.notes.iter().any(|n| n.contains("not in")));
        let ed = remove("0/0000:06:00.0,0/0000:06:00.0", &[bdf("06:00.0")]).unwrap();
        assert_eq!(ed.value, "");
    }

    fn arb_entries() -> impl Strategy<Value = Vec<Entry>> {
        proptest::collection::vec((-3i64..5, any::<u16>(), any::<u8>(), 0u8..32, 0u8..8), 0..8)
            .prop_map(|v| {
                let mut seen = std::collections::HashSet::new();
                let mut out: Vec<Entry> = v
                    .into_iter()
                    .filter_map(|(g, s, b, d, f)| {
                        let bdf = Bdf::new(s, b, d, f)?;
                        seen.insert(bdf).then_some(Entry { group: g, bdf })
                    })
                    .collect();
                out.sort_by_key(|e| e.group);
                out
            })
    }

    proptest! {
        #[test]
        fn parse_generate_round_trip(x in arb_entries()) {
            let v = generate(&x).unwrap();
            let l = parse(&v);
            prop_assert_eq!(l.entries(), x.clone());
            prop_assert!(l.dropped.is_empty());
            // Only the same-group order note may appear.
            prop_assert!(
                l.warnings.iter().all(|w| w.contains("reverse") || (x.is_empty() && w.contains("empty"))),
                "{:?}", l.warnings
            );
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let l = parse(&s);
            prop_assert_eq!(l.devices.len() + l.dropped.len(), if s.is_empty() { 0 } else { s.split(',').count() });
        }
    }
}
