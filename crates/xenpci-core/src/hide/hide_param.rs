//! The hide-list edits the methods share, on top of [`crate::syntax::hide_list`] (which owns the
//! grammar, the merge/remove rules and the in-line editing): a [`Change`] (hide or unhide these
//! devices) applied to a list, then to one kernel argument string (a grub dom0 line, an extlinux
//! dom0 segment, a `GRUB_CMDLINE_LINUX_XEN_REPLACE` value) with every other byte kept.
//!
//! Policy chosen here: a list we rewrite is written wholly in the long form (the short form
//! breaks XCP-ng 8.3's PCI API), and each short-form entry rewritten is reported; lists we do not
//! touch stay byte for byte. Removing a device hidden only by a wildcard entry is refused.

use std::fmt;

use crate::pci::Bdf;
use crate::syntax::hide_list::{self, BdfPattern, WildcardPolicy};

/// Why a hide list could not be read or edited (the grammar module's error).
pub type HideParamError = hide_list::HideError;

/// A hide list the kernel accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HideList(pub hide_list::HideList);

impl Default for HideList {
    fn default() -> HideList {
        HideList::parse("").expect("the empty list is valid")
    }
}

impl HideList {
    /// Parses a list value.
    pub fn parse(value: &str) -> Result<HideList, HideParamError> {
        hide_list::parse(value).map(HideList)
    }

    /// True when the list hides the device (exactly or by a wildcard).
    pub fn contains(&self, b: &Bdf) -> bool {
        self.0.hides(b)
    }

    /// The devices named one by one.
    pub fn bdfs(&self) -> Vec<Bdf> {
        self.0
            .entries
            .iter()
            .filter_map(|e| e.pattern.bdf())
            .collect()
    }

    /// True when nothing is hidden.
    pub fn is_empty(&self) -> bool {
        self.0.entries.is_empty()
    }

    /// What XCP-ng 8.3's xapi cannot read in this list (empty: all fine).
    pub fn xapi_problems(&self) -> Vec<String> {
        self.0.xapi_problems()
    }
}

impl fmt::Display for HideList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.input)
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

    /// The list after the change, and notes (already hidden, not hidden, normalised entries).
    /// When the list changes, the whole new list is written in the long form.
    pub fn apply(&self, list: &HideList) -> Result<(HideList, Vec<String>), HideParamError> {
        let edit = match self {
            Change::Add(b) => {
                let p: Vec<BdfPattern> = b.iter().map(|d| BdfPattern::from(*d)).collect();
                list.0.add(&p)
            }
            Change::Remove(b) => list.0.remove(b, WildcardPolicy::Refuse)?,
        };
        let mut notes: Vec<String> = edit
            .notes
            .into_iter()
            .filter(|n| !n.starts_with("added ") && !n.starts_with("removed "))
            .collect();
        if !edit.changed {
            return Ok((list.clone(), notes));
        }
        let mut new = hide_list::parse(&edit.value)?;
        if !edit.short_form_kept.is_empty() {
            for e in new.entries.iter().filter(|e| e.short_form) {
                notes.push(format!(
                    "normalised {} to {} (XCP-ng 8.3's PCI API fails on the short form)",
                    e.text,
                    e.pattern.entry()
                ));
            }
            new = hide_list::parse(&new.normalised())?;
        }
        Ok((HideList(new), notes))
    }
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

/// The hide list of a kernel argument string (the last hide argument wins, as for the kernel).
pub fn read_cmdline(args: &str) -> Result<HideList, HideParamError> {
    match hide_list::find_in_cmdline(args).last() {
        Some(p) => HideList::parse(&p.value),
        None => Ok(HideList::default()),
    }
}

/// The key of the last hide argument, if any.
pub fn key_of(args: &str) -> Option<String> {
    hide_list::find_in_cmdline(args)
        .last()
        .map(|p| p.key.clone())
}

/// Applies `change` to the hide argument of a kernel argument string: in place when there is
/// one, else appended as `default_key=LIST`; removed when the list becomes empty. Every other
/// byte stays.
pub fn edit_cmdline(
    args: &str,
    default_key: &str,
    change: &Change,
) -> Result<ArgsEdit, HideParamError> {
    let before = read_cmdline(args)?;
    let (after, notes) = change.apply(&before)?;
    let new = if after == before {
        args.to_string()
    } else if after.is_empty() {
        hide_list::remove_from_cmdline(args)
    } else if key_of(args).is_none() && default_key != "xen-pciback.hide" {
        // Keep the spelling the rest of the file uses (`pciback.hide` on XenLinux kernels).
        let end = args.trim_end().len();
        let sep = if end == 0 { "" } else { " " };
        format!("{}{sep}{default_key}={after}{}", &args[..end], &args[end..])
    } else {
        hide_list::set_in_cmdline(args, &after.to_string())
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
        edit_cmdline(args, "xen-pciback.hide", &Change::Add(vec![b(d)])).unwrap()
    }

    #[test]
    fn adding_appends_a_token_at_the_end_keeping_trailing_bytes() {
        let e = add("\tmodule2 /boot/vmlinuz root=LABEL=x ro quiet", "05:00.0");
        assert_eq!(
            e.new,
            "\tmodule2 /boot/vmlinuz root=LABEL=x ro quiet xen-pciback.hide=(0000:05:00.0)"
        );
        let e = edit_cmdline("ro quiet", "pciback.hide", &Change::Add(vec![b("05:00.0")])).unwrap();
        assert_eq!(e.new, "ro quiet pciback.hide=(0000:05:00.0)");
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
        assert!(same.notes[0].contains("already hidden"), "{:?}", same.notes);
    }

    #[test]
    fn removing_the_last_entry_drops_the_token() {
        let rm = |a: &str, d: &str| {
            edit_cmdline(a, "xen-pciback.hide", &Change::Remove(vec![b(d)]))
                .unwrap()
                .new
        };
        assert_eq!(
            rm("ro xen-pciback.hide=(0000:05:00.0) quiet", "05:00.0"),
            "ro quiet"
        );
        assert_eq!(
            rm(
                "ro xen-pciback.hide=(0000:05:00.0)(0000:06:00.0)",
                "05:00.0"
            ),
            "ro xen-pciback.hide=(0000:06:00.0)"
        );
        assert!(edit_cmdline(
            "xen-pciback.hide=(05:00.*)",
            "xen-pciback.hide",
            &Change::Remove(vec![b("05:00.1")]),
        )
        .is_err());
    }

    #[test]
    fn malformed_lists_are_errors() {
        assert!(read_cmdline("xen-pciback.hide=(0000:82.0.0)").is_err());
        assert_eq!(
            read_cmdline("a xen_pciback.hide=(1:0.0) b").unwrap().bdfs(),
            vec![b("01:00.0")]
        );
    }
}
