//! XenServer 6.x: `/boot/extlinux.conf`, where a Xen label is `kernel mboot.c32` plus
//! `append XEN ARGS --- DOM0-KERNEL ARGS --- INITRD` (with tboot, one more `---` part in front).
//! The hide list goes at the end of the dom0 part of every Xen label's `append` line; the key
//! already in use (`pciback.hide` on the 6.2 seed) is kept.

use std::ops::Range;

use super::grub::{key_in_use, split_lines};
use super::{push_notes, Configured, Method};
use crate::hide::hide_param::{edit_cmdline, read_cmdline, Change};
use crate::hide::{read_host, Ctx, HideError};
use crate::plan::Plan;

/// The file.
pub const PATH: &str = "/boot/extlinux.conf";

/// A Xen label: its name, the index of its `append` line and the byte range of the dom0 part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XenLabel {
    /// The label.
    pub label: String,
    /// 0-based line index of `append`.
    pub line: usize,
    /// The dom0 kernel part of that line.
    pub dom0: Range<usize>,
}

/// The dom0 part of an `append` line: between the first ` --- ` and the next (the second and
/// third with tboot, i.e. when there are three separators).
fn dom0_part(line: &str) -> Option<Range<usize>> {
    let seps: Vec<usize> = line.match_indices(" --- ").map(|(i, _)| i).collect();
    let (a, b) = match seps.as_slice() {
        [a] => (*a, line.len()),
        [a, b] => (*a, *b),
        [_, a, b, ..] => (*a, *b),
        [] => return None,
    };
    Some(a + 5..b)
}

/// The Xen labels in file order.
pub fn xen_labels(text: &str) -> Vec<XenLabel> {
    let mut out = Vec::new();
    let mut label = None;
    let mut mboot = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        let mut words = t.splitn(2, char::is_whitespace);
        let word = words.next().unwrap_or("").to_ascii_lowercase();
        let rest = words.next().unwrap_or("").trim();
        match word.as_str() {
            "label" => {
                label = Some(rest.to_string());
                mboot = false;
            }
            "kernel" => mboot = rest.starts_with("mboot.c32"),
            "append" if mboot => {
                if let (Some(l), Some(r)) = (&label, dom0_part(line)) {
                    out.push(XenLabel {
                        label: l.clone(),
                        line: i,
                        dom0: r,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

fn default_label(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let t = l.trim();
        t.strip_prefix("default ").map(|d| d.trim().to_string())
    })
}

fn not_found() -> HideError {
    HideError::NotHere {
        method: Method::Extlinux,
        what: format!("no {PATH}"),
    }
}

fn no_label() -> HideError {
    HideError::NotHere {
        method: Method::Extlinux,
        what: format!("{PATH} has no Xen label (kernel mboot.c32 with append ... --- ...)"),
    }
}

/// The list of the default label (else the first Xen label).
pub fn read(ctx: Ctx<'_>) -> Result<Configured, HideError> {
    let text = read_host(ctx.root, PATH)?.ok_or_else(not_found)?;
    let labels = xen_labels(&text);
    let d = default_label(&text);
    let l = labels
        .iter()
        .find(|l| Some(&l.label) == d.as_ref())
        .or(labels.first())
        .ok_or_else(no_label)?;
    let line = text.lines().nth(l.line).unwrap_or("");
    let place = format!("{PATH} line {} (label {})", l.line + 1, l.label);
    let list = read_cmdline(&line[l.dom0.clone()]).map_err(|problem| HideError::List {
        place: place.clone(),
        problem,
    })?;
    Ok(Configured {
        list,
        source: place,
    })
}

/// Plans the edit of every Xen label's dom0 part.
pub fn plan(ctx: Ctx<'_>, change: &Change, plan: &mut Plan) -> Result<(), HideError> {
    let text = read_host(ctx.root, PATH)?.ok_or_else(not_found)?;
    let labels = xen_labels(&text);
    if labels.is_empty() {
        return Err(no_label());
    }
    let mut lines = split_lines(&text);
    let key = key_in_use(labels.iter().map(|l| &lines[l.line].0[l.dom0.clone()]));
    let mut changed = Vec::new();
    for l in &labels {
        let body = lines[l.line].0.clone();
        let ed = edit_cmdline(&body[l.dom0.clone()], &key, change).map_err(|problem| {
            HideError::List {
                place: format!("{PATH} line {} (label {})", l.line + 1, l.label),
                problem,
            }
        })?;
        push_notes(plan, ed.notes);
        let new = format!("{}{}{}", &body[..l.dom0.start], ed.new, &body[l.dom0.end..]);
        if new != body {
            changed.push(l.label.clone());
            lines[l.line].0 = new;
        }
    }
    let new: String = lines.iter().map(|(b, e)| format!("{b}{e}")).collect();
    plan.write_file(
        PATH,
        Some(&text),
        new,
        format!(
            "persistent (extlinux): hide list on the dom0 part of label {}",
            changed.join(", ")
        ),
    );
    if !plan.is_empty() {
        plan.note("the boot configuration changes take effect at the next host reboot");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dom0_part_is_between_the_separators() {
        let l = "  append /boot/xen.gz a --- /boot/vmlinuz ro splash --- /boot/initrd.img";
        assert_eq!(&l[dom0_part(l).unwrap()], "/boot/vmlinuz ro splash");
        let t = "append /tboot.gz x --- /xen.gz y --- /vmlinuz ro --- /initrd";
        assert_eq!(&t[dom0_part(t).unwrap()], "/vmlinuz ro");
    }

    #[test]
    fn only_mboot_labels_are_xen_labels() {
        let t = "default xe\nlabel xe\n  kernel mboot.c32\n  append /x --- /k ro --- /i\nlabel linux\n  kernel /k\n  append ro --- odd\n";
        let l = xen_labels(t);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].label, "xe");
        assert_eq!(default_label(t).as_deref(), Some("xe"));
    }
}
