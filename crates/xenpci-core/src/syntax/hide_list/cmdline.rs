//! The hide argument inside a kernel command line (or a GRUB `module`/`module2` line): found
//! as the kernel's `next_arg` splits arguments, set in place, removed, every other byte kept.

use std::ops::Range;

use super::grammar::is_kspace;

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
pub(super) fn args(line: &str) -> Vec<Range<usize>> {
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

pub(super) fn normalise_key(k: &str) -> String {
    k.replace('-', "_")
}

/// The hide arguments of a kernel command line (or a GRUB `module`/`module2` line: other words
/// never match), in order; the kernel uses the **last** one. Stops at a bare `--` (what follows
/// goes to init).
pub fn find_in_cmdline(line: &str) -> Vec<HideParam> {
    find_params(line, &["xen_pciback.hide", "pciback.hide"])
}

pub(super) fn find_params(line: &str, keys: &[&str]) -> Vec<HideParam> {
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

pub(super) fn needs_quotes(v: &str) -> bool {
    v.contains(is_kspace) || v.contains('"')
}

/// Sets the hide value in a kernel command line: replaces the value of the last (effective)
/// occurrence in place, keeping its key spelling and quotes, and removes earlier occurrences
/// (dead, since the last wins); with none, appends ` xen-pciback.hide=VALUE` (before a bare `--`
/// if there is one). Every other byte stays. A value with blanks is quoted.
pub fn set_in_cmdline(line: &str, value: &str) -> String {
    set_param(line, &find_in_cmdline(line), "xen-pciback.hide", value)
}

pub(super) fn set_param(line: &str, found: &[HideParam], new_key: &str, value: &str) -> String {
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
pub(super) fn remove_range(line: &str, r: Range<usize>) -> String {
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
