//! `xenpci resume` and `xenpci status`: every journal a change leaves — the flows', the
//! assign/unassign changes', hide/unhide's plan journal and the maintenance records — finished,
//! rolled back or listed, one renderer for each.

use std::process::ExitCode;

use xenpci::exec::SystemRunner;
use xenpci::flows::engine;
use xenpci::journal::{FlowStatus, Journal};

use super::{print_outcome, print_outcome_of, ResumeArgs, StatusArgs};
use crate::commands::Globals;

/// `xenpci resume [ID] [--rollback]`.
pub(super) fn resume(
    a: &ResumeArgs,
    g: &Globals,
    runner: &SystemRunner,
) -> anyhow::Result<ExitCode> {
    let site = a.opts.site(g, runner)?;
    let dir = a.state.dir(g)?;
    let mut worst = ExitCode::SUCCESS;
    let mut hide_journal = false;
    if a.id.is_none() {
        // hide/unhide's own journal, kept apart from the flows': its files put back,
        // then (unless --rollback) the recorded request made again
        let ctx = xenpci::hide::Ctx {
            root: &site.root,
            runner: site.runner,
        };
        match xenpci::ops::give::resume_hide(ctx, a.rollback) {
            Ok(None) => {}
            Ok(Some(r)) => {
                hide_journal = true;
                eprintln!("xenpci: {}", r.settled);
                match (&r.request, &r.finished) {
                    (Some(req), Some(out)) => {
                        eprintln!("xenpci: finishing the interrupted `{req}`");
                        worst = crate::commands::hide::render(out, a.opts.json)?;
                    }
                    (Some(req), None) => eprintln!(
                        "xenpci: the interrupted `{req}` is rolled back as far as its \
                         files go; commands and sysfs writes it did are left (`xenpci \
                         hidden` shows them; run `xenpci {req}` to finish it instead)"
                    ),
                    (None, _) => {}
                }
            }
            // said, and the other journals are still resumed
            Err(e) => {
                hide_journal = true;
                worst = crate::commands::report_op_error(&e, a.opts.json);
            }
        }
    }
    // assign/unassign journal their edits as changes (engine::change), apart from flows
    let is_change = |id: &str| xenpci::engine::change::path_of(&dir, id).exists();
    let (changes, ids): (Vec<String>, Vec<String>) = match &a.id {
        Some(id) if is_change(id) => (vec![id.clone()], vec![]),
        Some(id) => (vec![], vec![id.clone()]),
        None => (
            xenpci::engine::change::list(&dir)?
                .into_iter()
                .filter(|r| !r.status.is_final())
                .map(|r| r.id)
                .collect(),
            Journal::list(&dir)?
                .into_iter()
                .filter(|r| !r.status.is_final())
                .map(|r| r.id)
                .collect(),
        ),
    };
    let maint = if a.id.is_none() {
        xenpci::ops::maintenance::pending(&dir)?
    } else {
        Vec::new()
    };
    if ids.is_empty() && changes.is_empty() && maint.is_empty() && !hide_journal {
        // nothing to resume: with --json an empty list, so stdout is still one JSON document
        if a.opts.json {
            outln!("[]");
        } else {
            outln!("no half-done flow in {}", dir.display());
        }
    }
    let xe = xenpci::xapi::Xe::new(site.runner);
    for id in changes {
        let r = match xenpci::xapi::assign::resume(
            &xe,
            &site.root,
            &dir,
            &id,
            a.rollback,
            &mut |line| eprintln!("xenpci: {line}"),
        ) {
            Ok(r) => r,
            Err(e) => return Ok(crate::commands::report_op_error(&e.into(), a.opts.json)),
        };
        let o = engine::Outcome {
            id: r.id,
            status: r.status,
            failure: r.failure,
            undone: r.undone,
            stuck: r.stuck,
        };
        if print_outcome_of("change", &o, a.opts.json)? != ExitCode::SUCCESS {
            worst = ExitCode::from(1);
        }
    }
    for id in ids {
        let o = engine::resume(&site, &dir, &id, a.rollback)?;
        if print_outcome(&o, a.opts.json)? != ExitCode::SUCCESS {
            worst = ExitCode::from(1);
        }
    }
    // Hosts back from maintenance: identities first, then the pinned guests.
    for rec in maint {
        let r = xenpci::ops::maintenance::resume(&site, &dir, rec)?;
        for n in &r.notes {
            eprintln!("xenpci: {n}");
        }
        if a.opts.json {
            outln!("{}", serde_json::to_string_pretty(&r)?);
        } else {
            for p in &r.record.pinned {
                outln!("maintenance of {}: {}: {}", r.record.host, p.vm, p.note);
            }
            outln!("maintenance of {}: {}", r.record.host, r.record.state);
        }
        if r.record.state != "done" {
            worst = ExitCode::from(1);
        }
    }
    Ok(worst)
}

/// `xenpci status [--all]`.
pub(super) fn status(a: &StatusArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let dir = a.state.dir(g)?;
    let flows: Vec<_> = Journal::list(&dir)?
        .into_iter()
        .filter(|r| a.all || !r.status.is_final())
        .collect();
    // A flow that is not final and whose lock no run holds was interrupted: it needs
    // `resume`, and `status` says so and exits 1.
    let needs_resume =
        |f: &xenpci::journal::FlowRecord| !f.status.is_final() && !Journal::is_held(&dir, &f.id);
    let interrupted = |f: &xenpci::journal::FlowRecord| {
        f.status != xenpci::journal::FlowStatus::Stuck && needs_resume(f)
    };
    let changes: Vec<_> = xenpci::engine::change::list(&dir)?
        .into_iter()
        .filter(|r| a.all || !r.status.is_final())
        .collect();
    let change_needs_resume = |c: &xenpci::engine::change::ChangeRecord<_>| {
        !c.status.is_final() && !xenpci::engine::change::is_held(&dir, &c.id)
    };
    // hide/unhide's journal: left by a run killed half-way (unless a run holds the hide
    // lock now); `resume` finishes it, `resume --rollback` puts its files back
    let hide = g.host_root().ok().and_then(|root| {
        xenpci::plan_journal::pending(&root)
            .filter(|_| !xenpci::engine::disk::is_held(&xenpci::hide::lock_path(&root)))
    });
    let maint = xenpci::ops::maintenance::pending(&dir)?;
    let needs_resume = flows.iter().any(needs_resume)
        || changes.iter().any(change_needs_resume)
        || hide.is_some()
        || !maint.is_empty();
    let code = if needs_resume {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    if a.json {
        // the changes (assign/unassign) follow the flows, in the same array
        let mut all: Vec<serde_json::Value> = flows
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()?;
        for c in &changes {
            all.push(serde_json::to_value(c)?);
        }
        if let Some(title) = &hide {
            all.push(serde_json::json!({"kind": "hide", "title": title,
                "journal": xenpci::plan_journal::PATH, "status": "interrupted"}));
        }
        for m in &maint {
            all.push(serde_json::json!({"kind": "maintenance", "host": m.host,
                "status": m.state, "pinned": m.pinned}));
        }
        outln!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(code);
    }
    if flows.is_empty() && changes.is_empty() && hide.is_none() && maint.is_empty() {
        outln!("no half-done flow in {}", dir.display());
    }
    for m in &maint {
        let vms: Vec<&str> = m.pinned.iter().map(|p| p.vm.as_str()).collect();
        outln!(
            "maintenance of {}  {}  pinned VMs stopped: {} (run `xenpci resume` on {} once it is back)",
            m.host,
            m.state,
            vms.join(", "),
            m.host
        );
    }
    if let Some(title) = &hide {
        outln!(
            "{}  {title}  interrupted (run `xenpci resume` to finish it, or `xenpci resume --rollback` to put its files back)",
            xenpci::plan_journal::PATH
        );
    }
    for c in &changes {
        let done = c
            .steps
            .iter()
            .filter(|s| s.state == xenpci::journal::StepState::Done)
            .count();
        let status = if c.status != FlowStatus::Stuck && change_needs_resume(c) {
            "interrupted (run `xenpci resume`, or `xenpci resume --rollback`)".to_string()
        } else {
            format!("{:?}", c.status)
        };
        outln!(
            "{}  {} {}  {status}  {done}/{} steps done",
            c.id,
            c.kind,
            c.title,
            c.steps.len()
        );
        for st in c.steps.iter().filter(|s| {
            !matches!(
                s.state,
                xenpci::journal::StepState::Done | xenpci::journal::StepState::Planned
            )
        }) {
            outln!(
                "    step {} {:?}: {}{}",
                st.n,
                st.state,
                st.what,
                st.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
        }
    }
    for f in &flows {
        let done = f
            .steps
            .iter()
            .filter(|s| s.state == xenpci::journal::StepState::Done)
            .count();
        let what = if f.mode == f.kind {
            f.kind.clone()
        } else {
            format!("{} {}", f.kind, f.mode)
        };
        let place = if f.from == f.to {
            format!("on {}", f.from)
        } else {
            format!("{} -> {}", f.from, f.to)
        };
        let status = if interrupted(f) {
            "interrupted (run `xenpci resume`, or `xenpci resume --rollback`)".to_string()
        } else {
            format!("{:?}", f.status)
        };
        outln!(
            "{}  {what} {} {place}  {status}  {done}/{} steps done",
            f.id,
            f.vm,
            f.steps.len()
        );
        for s in f.steps.iter().filter(|s| {
            !matches!(
                s.state,
                xenpci::journal::StepState::Done | xenpci::journal::StepState::Planned
            )
        }) {
            outln!(
                "    step {} {:?}: {}{}",
                s.n,
                s.state,
                s.action,
                s.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(code)
}
