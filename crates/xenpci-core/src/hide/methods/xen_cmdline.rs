//! XCP-ng / XenServer 7+: the dom0 hide list through `/opt/xensource/libexec/xen-cmdline`.
//!
//! `--get-dom0 xen-pciback.hide` prints the matching argument of the default entry (or an empty
//! line); `--set-dom0 K=V` *replaces* the whole value in the `xe`/`xe-serial` entries, so the
//! list is read first, merged, and written back whole, one key per call; `--delete-dom0 K`
//! removes it when the list becomes empty. The tool always exits 0, so the caller re-reads the
//! list after executing to confirm.

use super::{push_notes, Configured};
use crate::exec::{CommandSpec, Tool};
use crate::hide::hide_param::{Change, HideList};
use crate::hide::{Ctx, HideError};
use crate::plan::Plan;

/// The dom0 argument xen-cmdline edits.
pub const KEY: &str = "xen-pciback.hide";

/// `xen-cmdline ARGS...`.
pub fn command<'a>(args: impl IntoIterator<Item = &'a str>) -> CommandSpec {
    Tool::XenCmdline.command().args(args)
}

/// The configured list (the last `xen-pciback.hide` argument printed), and the query that read it.
pub fn read(ctx: Ctx<'_>) -> Result<(Configured, (CommandSpec, String)), HideError> {
    let cmd = command(["--get-dom0", KEY]);
    let out = ctx.runner.run(&cmd)?;
    let value = out
        .stdout
        .lines()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            if l == KEY {
                Some("")
            } else {
                l.strip_prefix(KEY).and_then(|r| r.strip_prefix('='))
            }
        })
        .unwrap_or("");
    let list = HideList::parse(value).map_err(|problem| HideError::List {
        place: format!("`{cmd}` printed {value:?}"),
        problem,
    })?;
    Ok((
        Configured {
            list,
            source: cmd.to_string(),
        },
        (cmd, out.stdout),
    ))
}

/// Plans `--set-dom0` (or `--delete-dom0`) with the merged list.
pub fn plan(ctx: Ctx<'_>, change: &Change, plan: &mut Plan) -> Result<(), HideError> {
    let (conf, (cmd, out)) = read(ctx)?;
    plan.query(cmd.clone(), out);
    let before = conf.list;
    let (after, notes) = change.apply(&before).map_err(|problem| HideError::List {
        place: format!("`{cmd}`"),
        problem,
    })?;
    push_notes(plan, notes);
    if after == before {
        return Ok(());
    }
    let restore = if before.is_empty() {
        command(["--delete-dom0", KEY])
    } else {
        command(["--set-dom0", &format!("{KEY}={before}")])
    };
    if after.is_empty() {
        plan.run(
            command(["--delete-dom0", KEY]),
            "persistent (xen-cmdline): the hide list becomes empty, remove it from dom0's \
             command line",
            Some(restore),
        );
    } else {
        let kept: Vec<String> = before
            .bdfs()
            .into_iter()
            .filter(|b| after.contains(b))
            .map(|b| b.to_string())
            .collect();
        let why = if kept.is_empty() {
            "persistent (xen-cmdline): set dom0's hide list (--set-dom0 replaces the whole value)"
                .to_string()
        } else {
            format!(
                "persistent (xen-cmdline): set dom0's hide list, keeping {} (--set-dom0 \
                 replaces the whole value)",
                kept.join(", ")
            )
        };
        plan.run(
            command(["--set-dom0", &format!("{KEY}={after}")]),
            why,
            Some(restore),
        );
    }
    plan.note("the boot configuration changes take effect at the next host reboot");
    Ok(())
}
