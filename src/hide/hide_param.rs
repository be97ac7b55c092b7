//! Editing the pciback hide parameter inside one argument string (a dom0 kernel line, an extlinux
//! `append` segment, a `GRUB_CMDLINE_LINUX_XEN_REPLACE` value, a modprobe `options` line), keeping
//! every other byte as it was.
//!
//! The list grammar itself (`(DDDD:BB:SS.F)(...)`, wildcards, the short form) is
//! `crate::syntax::hide_list`'s job. Until that module lands, [`HideList`] below is a deliberately
//! thin stand-in with the same duties (parse, contains, add, remove, generate the long form) so
//! this module's callers do not change when it is swapped for the real one.

use std::fmt;
use std::ops::Range;

use crate::pci::Bdf;

/// The keys under which the hide list appears on a kernel line, in the spellings Linux accepts
/// (`-` and `_` are the same to the kernel; `pciback.hide` is the old XenLinux module name).
pub const KERNEL_KEYS: &[&str] = &["xen-pciback.hide", "xen_pciback.hide", "pciback.hide"];
/// The key on a modprobe `options xen-pciback` line.
pub const MODPROBE_KEYS: &[&str] = &["hide"];

/// Why a hide list could not be read or edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HideParamError {
    /// An entry the kernel would reject (and then load no pciback at all).
    #[error(
        "malformed entry {entry:?} at byte {pos} of hide list {value:?}: expected (DDDD:BB:SS.F) \
         or (BB:SS.F), `*` allowed for slot/function; the kernel rejects the whole list (pciback \
         would not load), so fix this entry first"
    )]
    Malformed {
        /// The whole list value.
        value: String,
        /// The bad entry.
        entry: String,
        /// Its byte offset in the value.
        pos: usize,
    },
    /// A device is hidden by a wildcard entry, which this edit cannot split.
    #[error("{bdf} is hidden by the wildcard entry ({entry}); edit that entry by hand")]
    Wildcard {
        /// The device.
        bdf: Bdf,
        /// The wildcard entry.
        entry: String,
    },
}

/// One entry of a hide list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The text inside the parentheses, as written.
    pub text: String,
    /// Segment, bus, and slot/function (None = `*`).
    seg: u16,
    bus: u8,
    slot: Option<u8>,
    func: Option<u8>,
    /// Written with the `DDDD:` segment.
    pub long: bool,
}

impl Entry {
    fn parse(text: &str) -> Option<Entry> {
        let t = text.trim();
        let (head, func) = t.rsplit_once('.')?;
        let parts: Vec<&str> = head.split(':').collect();
        let (seg, bus, slot, long) = match parts.as_slice() {
            [b, s] => ("0", *b, *s, false),
            [d, b, s] => (*d, *b, *s, true),
            _ => return None,
        };
        let hex = |s: &str, max: u32| {
            (!s.is_empty() && s.len() <= 4 && s.chars().all(|c| c.is_ascii_hexdigit()))
                .then(|| u32::from_str_radix(s, 16).ok())
                .flatten()
                .filter(|v| *v <= max)
        };
        let star = |s: &str, max: u32| -> Option<Option<u8>> {
            if s == "*" {
                Some(None)
            } else {
                hex(s, max).map(|v| Some(v as u8))
            }
        };
        let slot = star(slot, 0x1f)?;
        let func = star(func, 7)?;
        if slot.is_none() && func.is_some() {
            return None;
        }
        Some(Entry {
            text: text.to_string(),
            seg: hex(seg, 0xffff)? as u16,
            bus: hex(bus, 0xff)? as u8,
            slot,
            func,
            long,
        })
    }

    /// The device, when the entry names exactly one.
    pub fn bdf(&self) -> Option<Bdf> {
        Bdf::new(self.seg, self.bus, self.slot?, self.func?)
    }

    fn matches(&self, b: &Bdf) -> bool {
        self.seg == b.segment
            && self.bus == b.bus
            && self.slot.is_none_or(|s| s == b.device)
            && self.func.is_none_or(|f| f == b.function)
    }

    fn is_wildcard(&self) -> bool {
        self.slot.is_none() || self.func.is_none()
    }
}

/// A parsed hide list value (`(0000:05:00.0)(06:00.0)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HideList {
    /// The entries in order.
    pub entries: Vec<Entry>,
}

impl HideList {
    /// Parses a list value; entries may be separated by blanks.
    pub fn parse(value: &str) -> Result<HideList, HideParamError> {
        let mut entries = Vec::new();
        let mut rest = value;
        let bad = |entry: &str, rest: &str| HideParamError::Malformed {
            value: value.to_string(),
            entry: entry.to_string(),
            pos: value.len() - rest.len(),
        };
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            if !rest.starts_with('(') {
                return Err(bad(rest, rest));
            }
            let Some(close) = rest.find(')') else {
                return Err(bad(rest, rest));
            };
            let inner = &rest[1..close];
            entries.push(Entry::parse(inner).ok_or_else(|| bad(&rest[..=close], rest))?);
            rest = &rest[close + 1..];
        }
        Ok(HideList { entries })
    }

    /// True when some entry covers the device.
    pub fn contains(&self, b: &Bdf) -> bool {
        self.entries.iter().any(|e| e.matches(b))
    }

    /// The devices named one by one.
    pub fn bdfs(&self) -> Vec<Bdf> {
        self.entries.iter().filter_map(Entry::bdf).collect()
    }

    /// Adds the device in long form unless already covered; true when added.
    pub fn add(&mut self, b: Bdf) -> bool {
        if self.contains(&b) {
            return false;
        }
        self.entries
            .push(Entry::parse(&b.to_string()).expect("a Bdf prints as an entry"));
        true
    }

    /// Removes every entry naming exactly this device; true when one was removed.
    pub fn remove(&mut self, b: Bdf) -> Result<bool, HideParamError> {
        let before = self.entries.len();
        self.entries.retain(|e| e.bdf() != Some(b));
        if let Some(w) = self
            .entries
            .iter()
            .find(|e| e.is_wildcard() && e.matches(&b))
        {
            return Err(HideParamError::Wildcard {
                bdf: b,
                entry: w.text.clone(),
            });
        }
        Ok(self.entries.len() != before)
    }

    /// Rewrites short-form single-device entries in the long form; returns `(old, new)` pairs.
    pub fn normalise(&mut self) -> Vec<(String, String)> {
        let mut changed = Vec::new();
        for e in &mut self.entries {
            if let (false, Some(b)) = (e.long, e.bdf()) {
                changed.push((format!("({})", e.text), format!("({b})")));
                *e = Entry::parse(&b.to_string()).expect("a Bdf prints as an entry");
            }
        }
        changed
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Display for HideList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            write!(f, "({})", e.text)?;
        }
        Ok(())
    }
}

/// Devices to add to or remove from the hide list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Hide these.
    Add(Vec<Bdf>),
    /// Stop hiding these.
    Remove(Vec<Bdf>),
}

impl Change {
    /// The devices.
    pub fn bdfs(&self) -> &[Bdf] {
        match self {
            Change::Add(b) | Change::Remove(b) => b,
        }
    }

    /// Applies the change to a list; returns notes (normalised or already-present entries).
    pub fn apply(&self, list: &mut HideList) -> Result<Vec<String>, HideParamError> {
        let mut notes = Vec::new();
        let mut touched = false;
        match self {
            Change::Add(bdfs) => {
                for b in bdfs {
                    if list.add(*b) {
                        touched = true;
                    } else {
                        notes.push(format!("{b} is already in the hide list"));
                    }
                }
            }
            Change::Remove(bdfs) => {
                for b in bdfs {
                    if list.remove(*b)? {
                        touched = true;
                    } else {
                        notes.push(format!("{b} was not in the hide list"));
                    }
                }
            }
        }
        if touched {
            for (old, new) in list.normalise() {
                notes.push(format!(
                    "normalised {old} to {new} (XCP-ng 8.3's PCI API fails on the short form)"
                ));
            }
        }
        Ok(notes)
    }
}

/// One `KEY=VALUE` hide token found in an argument string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Byte range of the whole token.
    pub token: Range<usize>,
    /// Byte range of the value.
    pub value: Range<usize>,
    /// The key as written.
    pub key: String,
}

/// Finds the hide tokens (`KEY=...` with KEY one of `keys`) in a whitespace-separated string.
pub fn find_params(args: &str, keys: &[&str]) -> Vec<Param> {
    let mut out = Vec::new();
    let mut i = 0;
    let bytes = args.as_bytes();
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let tok = &args[start..i];
        if let Some((k, _)) = tok.split_once('=') {
            if keys.contains(&k) {
                out.push(Param {
                    token: start..i,
                    value: start + k.len() + 1..i,
                    key: k.to_string(),
                });
            }
        }
    }
    out
}

/// The result of editing one argument string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsEdit {
    /// The new string (equal to the old one when nothing changed).
    pub new: String,
    /// The list before.
    pub before: HideList,
    /// The list after.
    pub after: HideList,
    /// What the admin should know.
    pub notes: Vec<String>,
}

/// The hide list configured in an argument string (the last token wins, as for the kernel).
pub fn read_args(args: &str, keys: &[&str]) -> Result<HideList, HideParamError> {
    match find_params(args, keys).last() {
        Some(p) => HideList::parse(&args[p.value.clone()]),
        None => Ok(HideList::default()),
    }
}

/// Applies `change` to the hide token of `args` (the last one, which the kernel uses), adding
/// `default_key=...` at the end when there is none, and removing the token when the list becomes
/// empty. Every other byte stays as it was.
pub fn edit_args(
    args: &str,
    keys: &[&str],
    default_key: &str,
    change: &Change,
) -> Result<ArgsEdit, HideParamError> {
    let params = find_params(args, keys);
    let mut notes = Vec::new();
    if params.len() > 1 {
        notes.push(format!(
            "{} hide parameters on one line; the kernel uses the last, which is the one edited",
            params.len()
        ));
    }
    let before = match params.last() {
        Some(p) => HideList::parse(&args[p.value.clone()])?,
        None => HideList::default(),
    };
    let mut after = before.clone();
    notes.extend(change.apply(&mut after)?);
    if after == before {
        return Ok(ArgsEdit {
            new: args.to_string(),
            before,
            after,
            notes,
        });
    }
    let new = match params.last() {
        Some(p) if after.is_empty() => {
            // Drop the token and the blanks before it (or after it when it starts the string).
            let mut start = p.token.start;
            while start > 0 && matches!(args.as_bytes()[start - 1], b' ' | b'\t') {
                start -= 1;
            }
            let mut end = p.token.end;
            if start == 0 {
                while end < args.len() && matches!(args.as_bytes()[end], b' ' | b'\t') {
                    end += 1;
                }
            }
            format!("{}{}", &args[..start], &args[end..])
        }
        Some(p) => format!(
            "{}{}{}",
            &args[..p.value.start],
            after,
            &args[p.value.end..]
        ),
        None => {
            let end = args.trim_end().len();
            let sep = if end == 0 { "" } else { " " };
            format!("{}{sep}{default_key}={after}{}", &args[..end], &args[end..])
        }
    };
    Ok(ArgsEdit {
        new,
        before,
        after,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bdf {
        s.parse().unwrap()
    }

    fn add(args: &str, d: &str) -> ArgsEdit {
        edit_args(
            args,
            KERNEL_KEYS,
            "xen-pciback.hide",
            &Change::Add(vec![b(d)]),
        )
        .unwrap()
    }

    #[test]
    fn list_parses_long_short_and_wildcards() {
        let l = HideList::parse("(0000:05:00.0) (06:00.0)(0000:07:00.*)").unwrap();
        assert_eq!(l.entries.len(), 3);
        assert!(l.contains(&b("07:00.3")));
        assert_eq!(l.bdfs(), vec![b("05:00.0"), b("06:00.0")]);
        let e = HideList::parse("(0000:82.0.0)").unwrap_err().to_string();
        assert!(e.contains("(0000:82.0.0)") && e.contains("byte 0"), "{e}");
        assert!(HideList::parse("(0b::00.1)").is_err());
        assert!(HideList::parse("(01:20.0)").is_err());
    }

    #[test]
    fn adding_appends_a_token_at_the_end_keeping_trailing_bytes() {
        let e = add("\tmodule2 /boot/vmlinuz root=LABEL=x ro quiet  ", "05:00.0");
        assert_eq!(
            e.new,
            "\tmodule2 /boot/vmlinuz root=LABEL=x ro quiet xen-pciback.hide=(0000:05:00.0)  "
        );
    }

    #[test]
    fn adding_merges_and_normalises_only_the_edited_list() {
        let e = add(
            "ro pciback.hide=(06:00.0)(0000:01:00.0) quiet",
            "0000:05:00.0",
        );
        assert_eq!(
            e.new,
            "ro pciback.hide=(0000:06:00.0)(0000:01:00.0)(0000:05:00.0) quiet"
        );
        assert!(e.notes.iter().any(|n| n.contains("normalised (06:00.0)")));
        let same = add("ro xen-pciback.hide=(05:00.0)", "05:00.0");
        assert_eq!(same.new, "ro xen-pciback.hide=(05:00.0)");
        assert!(same.notes[0].contains("already"));
    }

    #[test]
    fn removing_the_last_entry_drops_the_token() {
        let rm = |a: &str, d: &str| {
            edit_args(
                a,
                KERNEL_KEYS,
                "xen-pciback.hide",
                &Change::Remove(vec![b(d)]),
            )
            .unwrap()
            .new
        };
        assert_eq!(
            rm("ro xen-pciback.hide=(0000:05:00.0) quiet", "05:00.0"),
            "ro quiet"
        );
        assert_eq!(
            rm("xen-pciback.hide=(0000:05:00.0) quiet", "05:00.0"),
            "quiet"
        );
        assert_eq!(
            rm(
                "ro xen-pciback.hide=(0000:05:00.0)(0000:06:00.0)",
                "05:00.0"
            ),
            "ro xen-pciback.hide=(0000:06:00.0)"
        );
        let w = edit_args(
            "xen-pciback.hide=(05:00.*)",
            KERNEL_KEYS,
            "xen-pciback.hide",
            &Change::Remove(vec![b("05:00.1")]),
        )
        .unwrap_err();
        assert!(matches!(w, HideParamError::Wildcard { .. }));
    }

    #[test]
    fn find_params_only_matches_whole_keys() {
        let p = find_params("foo.xen-pciback.hide=(1) xen_pciback.hide=(2)", KERNEL_KEYS);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].key, "xen_pciback.hide");
    }
}
