//! [`HideList`]: a parsed hide list with its exact text, its reading as the kernel does
//! ([`parse`], refusing what the kernel would refuse with a [`HideError`]), and its edits (add,
//! remove with a [`WildcardPolicy`], normalise), which keep every untouched entry byte for byte.

use std::collections::{HashMap, HashSet};

use std::ops::Range;

use super::grammar::{entry, is_kspace, Raw};
use super::pattern::BdfPattern;
use crate::pci::Bdf;
use crate::syntax::scan::ScanFail;

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
pub(super) fn covering_patterns(p: &BdfPattern) -> Vec<BdfPattern> {
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
