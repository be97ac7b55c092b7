//! pciback as a module: `options xen-pciback hide=(...)` in `/etc/modprobe.d/*.conf`. The last
//! such line (files in name order, as modprobe reads them) is edited in place; when there is
//! none, the line goes to `/etc/modprobe.d/xen-pciback.conf`.

use std::fs;

use super::grub::split_lines;
use super::{push_notes, Configured, Method};
use crate::hide::hide_param::{edit_args, find_params, read_args, Change, MODPROBE_KEYS};
use crate::hide::{read_host, Ctx, HideError};
use crate::plan::Plan;

/// The directory.
pub const DIR: &str = "/etc/modprobe.d";
/// The file created when no `options xen-pciback hide=` line exists.
pub const OWN_FILE: &str = "/etc/modprobe.d/xen-pciback.conf";
const MODULES: [&str; 3] = ["xen-pciback", "xen_pciback", "pciback"];

/// A hide line: file (host path), content, line index and where its parameters start.
struct Found {
    path: String,
    text: String,
    line: usize,
    params_at: usize,
}

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

/// Where `options <pciback> ` parameters start on a line, if it is one.
fn options_params(line: &str) -> Option<usize> {
    let t = line.trim_start();
    let lead = line.len() - t.len();
    let rest = t.strip_prefix("options")?;
    let r2 = rest.trim_start();
    if r2.len() == rest.len() {
        return None;
    }
    let module = r2.split_whitespace().next()?;
    MODULES
        .contains(&module)
        .then(|| lead + "options".len() + (rest.len() - r2.len()) + module.len())
}

/// The last `options <pciback> ... hide=` line (files in name order, as modprobe reads them).
fn find(ctx: Ctx<'_>) -> Result<Option<Found>, HideError> {
    let mut last = None;
    for (path, text) in conf_files(ctx)? {
        for (i, line) in text.lines().enumerate() {
            if let Some(at) = options_params(line) {
                if !find_params(&line[at..], MODPROBE_KEYS).is_empty() {
                    last = Some(Found {
                        path: path.clone(),
                        text: text.clone(),
                        line: i,
                        params_at: at,
                    });
                }
            }
        }
    }
    Ok(last)
}

/// The configured list (empty when no line sets one).
pub fn read(ctx: Ctx<'_>) -> Result<Configured, HideError> {
    match find(ctx)? {
        Some(f) => {
            let line = f.text.lines().nth(f.line).unwrap_or("");
            let place = format!("{} line {}", f.path, f.line + 1);
            let list = read_args(&line[f.params_at..], MODPROBE_KEYS).map_err(|problem| {
                HideError::List {
                    place: place.clone(),
                    problem,
                }
            })?;
            Ok(Configured {
                list,
                source: place,
            })
        }
        None => {
            if !ctx.root.path(DIR).is_dir() {
                return Err(HideError::NotHere {
                    method: Method::Modprobe,
                    what: format!("no {DIR}"),
                });
            }
            Ok(Configured {
                list: Default::default(),
                source: format!("{DIR}/*.conf (no options xen-pciback hide= line)"),
            })
        }
    }
}

/// Plans the edit of the hide line, or a new line in [`OWN_FILE`].
pub fn plan(ctx: Ctx<'_>, change: &Change, plan: &mut Plan) -> Result<(), HideError> {
    let before_len = plan.steps.len();
    match find(ctx)? {
        Some(f) => {
            let mut lines = split_lines(&f.text);
            let body = lines[f.line].0.clone();
            let ed = edit_args(&body[f.params_at..], MODPROBE_KEYS, "hide", change).map_err(
                |problem| HideError::List {
                    place: format!("{} line {}", f.path, f.line + 1),
                    problem,
                },
            )?;
            push_notes(plan, ed.notes);
            lines[f.line].0 = format!("{}{}", &body[..f.params_at], ed.new);
            let new: String = lines.iter().map(|(b, e)| format!("{b}{e}")).collect();
            plan.write_file(
                f.path.as_str(),
                Some(&f.text),
                new,
                format!("persistent (modprobe): hide list on line {}", f.line + 1),
            );
        }
        None => {
            let Change::Add(_) = change else {
                for b in change.bdfs() {
                    plan.note(format!("{b} was not in the hide list"));
                }
                return Ok(());
            };
            if !ctx.root.path(DIR).is_dir() {
                return Err(HideError::NotHere {
                    method: Method::Modprobe,
                    what: format!("no {DIR}"),
                });
            }
            let old = read_host(ctx.root, OWN_FILE)?;
            let ed = edit_args("", MODPROBE_KEYS, "hide", change).map_err(|problem| {
                HideError::List {
                    place: OWN_FILE.into(),
                    problem,
                }
            })?;
            let base = old.clone().unwrap_or_else(|| {
                "# Devices xen-pciback seizes when it loads (written by xenpci hide).\n".into()
            });
            let sep = if base.is_empty() || base.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            plan.write_file(
                OWN_FILE,
                old.as_deref(),
                format!("{base}{sep}options xen-pciback {}\n", ed.new),
                "persistent (modprobe): new options xen-pciback hide= line",
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_lines_are_recognised_by_module_name() {
        let l = "options xen-pciback hide=(0000:05:00.0) passthrough=1";
        assert_eq!(
            &l[options_params(l).unwrap()..],
            " hide=(0000:05:00.0) passthrough=1"
        );
        assert!(options_params("options nouveau modeset=0").is_none());
        assert!(options_params("optionsxen-pciback hide=(1)").is_none());
        assert!(options_params("  options\tpciback hide=(1)").is_some());
    }
}
