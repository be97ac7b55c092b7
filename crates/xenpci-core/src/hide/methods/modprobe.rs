//! pciback as a module: `options xen-pciback hide=(...)` in `/etc/modprobe.d/*.conf`. The file
//! holding the last such parameter (files in name order, as modprobe reads them) is edited in
//! place; when there is none, the line goes to `/etc/modprobe.d/xen-pciback.conf`. Finding and
//! rewriting the parameter inside a file is [`crate::syntax::hide_list`]'s job.

use std::fs;

use super::{push_notes, Configured, Method};
use crate::hide::hide_param::{Change, HideList};
use crate::hide::{read_host, Ctx, HideError};
use crate::plan::Plan;
use crate::syntax::hide_list::{find_in_modprobe, remove_from_modprobe, set_in_modprobe};

/// The directory.
pub const DIR: &str = "/etc/modprobe.d";
/// The file created when no `options xen-pciback hide=` line exists.
pub const OWN_FILE: &str = "/etc/modprobe.d/xen-pciback.conf";

fn conf_files(ctx: Ctx<'_>) -> Result<Vec<(String, String)>, HideError> {
    let dir = ctx.root.path(DIR);
    let mut names: Vec<String> = match fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".conf"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(HideError::Io {
                path: DIR.into(),
                source,
            })
        }
    };
    names.sort();
    let mut out = Vec::new();
    for n in names {
        let p = format!("{DIR}/{n}");
        if let Some(t) = read_host(ctx.root, &p)? {
            out.push((p, t));
        }
    }
    Ok(out)
}

/// The file with the last `hide=` parameter: path, content, 1-based line, value.
fn find(ctx: Ctx<'_>) -> Result<Option<(String, String, usize, String)>, HideError> {
    let mut last = None;
    for (path, text) in conf_files(ctx)? {
        if let Some(h) = find_in_modprobe(&text).last() {
            last = Some((path, text.clone(), h.line + 1, h.param.value.clone()));
        }
    }
    Ok(last)
}

fn no_dir() -> HideError {
    HideError::NotHere {
        method: Method::Modprobe,
        what: format!("no {DIR}"),
    }
}

/// The configured list (empty when no line sets one).
pub fn read(ctx: Ctx<'_>) -> Result<Configured, HideError> {
    match find(ctx)? {
        Some((path, _, line, value)) => {
            let place = format!("{path} line {line}");
            let list = HideList::parse(&value).map_err(|problem| HideError::List {
                place: place.clone(),
                problem,
            })?;
            Ok(Configured {
                list,
                source: place,
            })
        }
        None if !ctx.root.path(DIR).is_dir() => Err(no_dir()),
        None => Ok(Configured {
            list: HideList::default(),
            source: format!("{DIR}/*.conf (no options xen-pciback hide= line)"),
        }),
    }
}

/// Plans the edit of the hide line, or a new line in [`OWN_FILE`].
pub fn plan(ctx: Ctx<'_>, change: &Change, plan: &mut Plan) -> Result<(), HideError> {
    let before_len = plan.steps.len();
    let (path, old, place, before) = match find(ctx)? {
        Some((path, text, line, value)) => {
            let place = format!("{path} line {line}");
            let list = HideList::parse(&value).map_err(|problem| HideError::List {
                place: place.clone(),
                problem,
            })?;
            (path, Some(text), place, list)
        }
        None => {
            if !ctx.root.path(DIR).is_dir() {
                return Err(no_dir());
            }
            let old = read_host(ctx.root, OWN_FILE)?;
            (
                OWN_FILE.to_string(),
                old,
                OWN_FILE.to_string(),
                HideList::default(),
            )
        }
    };
    let (after, notes) = change.apply(&before).map_err(|problem| HideError::List {
        place: place.clone(),
        problem,
    })?;
    push_notes(plan, notes);
    if after != before {
        let base = old.clone().unwrap_or_else(|| {
            "# Devices xen-pciback seizes when it loads (written by xenpci hide).\n".into()
        });
        let new = if after.is_empty() {
            remove_from_modprobe(&base)
        } else {
            set_in_modprobe(&base, &after.to_string())
        };
        let why = if old.is_some() {
            format!("persistent (modprobe): hide list in {place}")
        } else {
            "persistent (modprobe): new options xen-pciback hide= line".to_string()
        };
        plan.write_file(path.as_str(), old.as_deref(), new, why);
    }
    if plan.steps.len() > before_len {
        plan.note(
            "xen-pciback must load before the devices' own drivers: if it is loaded from the \
             initramfs, rebuild it (update-initramfs -u, or dracut -f); the change takes effect \
             when the module next loads (reboot)",
        );
    }
    Ok(())
}
