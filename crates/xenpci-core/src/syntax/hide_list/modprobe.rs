//! The `hide=` parameter of `options xen-pciback …` lines in a modprobe.d file: found, set in
//! place or appended, removed, every other byte kept.

use super::cmdline::{
    args, find_params, needs_quotes, normalise_key, remove_range, set_param, HideParam,
};

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
