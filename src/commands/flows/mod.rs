//! The flow subcommands (flattened into the top level): `attach`, `detach`, `attached`,
//! `migrate`, `detach-all`, `reattach`, `resume`, `status`, `evacuate`, and their shared
//! options (transport, hosts, state dir).
//!
//! With `--json` every command prints one document on stdout: its result, or on an error
//! the error document every command shares (`{"refused", "kind", "error", "input", "hint",
//! "refusals"}`; `refused`: xenpci said no before acting) next to the stderr
//! message and the exit status.
//!
//! The clap model is in [`args`]; `resume` and `status`, which read every kind of journal, in
//! [`journals`]; the rest (hot-plug, migration, detach-all/reattach, maintenance, evacuation)
//! here.

use std::process::ExitCode;

use xenpci::exec::SystemRunner;
use xenpci::flows::hotplug;
use xenpci::flows::migrate::{Plan, Request};
use xenpci::flows::transport::Site;
use xenpci::flows::xl::Xl;
use xenpci::flows::{engine, evacuate, migrate, saved};
use xenpci::journal::FlowStatus;
use xenpci::ops::give;
use xenpci::pci::Bdf;

use super::Globals;

mod args;
mod journals;

pub use args::*;

/// Runs a flow subcommand.
pub fn run(cmd: FlowCmd, g: &Globals) -> anyhow::Result<ExitCode> {
    let json = match &cmd {
        FlowCmd::Attach(a) => a.opts.json,
        FlowCmd::Detach(a) => a.opts.json,
        FlowCmd::Attached(a) => a.opts.json,
        FlowCmd::Migrate(a) => a.opts.json,
        FlowCmd::DetachAll(a) => a.opts.json,
        FlowCmd::Reattach(a) => a.opts.json,
        FlowCmd::Resume(a) => a.opts.json,
        FlowCmd::Status(a) => a.json,
        FlowCmd::Evacuate(a) | FlowCmd::Maintenance(a) => a.opts.json,
    };
    match run_cmd(cmd, g) {
        Ok(code) => Ok(code),
        Err(e) => Ok(super::report_error(&e, json)),
    }
}

/// `attach DOM --vf-of PF`: the VF picked, its hide, then the attach report.
fn run_attach_vf_of(xl: &Xl, a: &AttachArgs, pf: Bdf) -> anyhow::Result<ExitCode> {
    let r = match give::attach_vf_of(xl, &a.domain, pf, a.opts.dry_run, a.force) {
        Ok(r) => r,
        Err(e) => return Ok(super::report_op_error(&e, a.opts.json)),
    };
    let p = &r.picked;
    eprintln!("xenpci: {}", p.using("hidden first"));
    if a.opts.json {
        report!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(h) = &r.hide {
        if a.opts.dry_run {
            out!("{}", h.plan);
        }
    }
    match &r.attach {
        Some(at) => {
            for f in &at.forced {
                eprintln!("xenpci: warning: forced: {f}");
            }
            print_report(&at.report, false, a.opts.dry_run, "attached")
        }
        None => {
            outln!(
                "# then: attach {} to {} (checked once it is hidden)",
                p.vf,
                a.domain
            );
            outln!("# dry run: nothing was changed");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_cmd(cmd: FlowCmd, g: &Globals) -> anyhow::Result<ExitCode> {
    let runner = SystemRunner;
    match cmd {
        FlowCmd::Attach(a) => {
            let site = a.opts.site(g, &runner)?;
            let host = a.host.clone().unwrap_or_else(|| a.opts.local(g));
            let xl = Xl {
                site: &site,
                host: &host,
            };
            if let Some(pf) = a.vf_of {
                return run_attach_vf_of(&xl, &a, pf);
            }
            let spec = a.spec.as_deref().unwrap_or_default();
            let spec = match hotplug::compose_spec(spec, a.vslot.as_deref(), a.options.as_deref()) {
                Ok(s) => s,
                Err(e) => return Ok(super::report_op_error(&e.into(), a.opts.json)),
            };
            let r = match give::attach(&xl, &a.domain, &spec, a.opts.dry_run, a.force) {
                Ok(r) => r,
                Err(e) => return Ok(super::report_op_error(&e, a.opts.json)),
            };
            for f in &r.forced {
                eprintln!("xenpci: warning: forced: {f}");
            }
            if a.opts.json && a.opts.dry_run {
                outln!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(ExitCode::SUCCESS);
            } else if a.opts.json {
                report!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(ExitCode::SUCCESS);
            }
            print_report(&r.report, false, a.opts.dry_run, "attached")
        }
        FlowCmd::Detach(a) => {
            let site = a.opts.site(g, &runner)?;
            let host = a.host.clone().unwrap_or_else(|| a.opts.local(g));
            let xl = Xl {
                site: &site,
                host: &host,
            };
            let r = match give::detach(&xl, &a.domain, a.bdf, a.force, a.opts.dry_run) {
                Ok(r) => r,
                Err(e) => return Ok(super::report_op_error(&e, a.opts.json)),
            };
            print_report(&r, a.opts.json, a.opts.dry_run, "detached")
        }
        FlowCmd::Attached(a) => {
            let site = a.opts.site(g, &runner)?;
            let host = a.host.clone().unwrap_or_else(|| a.opts.local(g));
            let xl = Xl {
                site: &site,
                host: &host,
            };
            hotplug::domain(&xl, &a.domain)?;
            let list = xl.pci_list(&a.domain)?;
            if a.opts.json {
                outln!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for e in &list {
                    outln!("{:02x}.{:x} {}", e.vslot, e.vfunc, e.bdf);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        FlowCmd::Migrate(a) => {
            let site = a.opts.site(g, &runner)?;
            let req = Request {
                vm: a.vm.clone(),
                from: site.canonical(&a.from.clone().unwrap_or_else(|| a.opts.local(g))),
                to: site.canonical(&a.to),
                toolstack: a.state.toolstack()?,
                config: a.config.clone(),
                mapping: a.state.mapping()?,
                cold: a.cold,
                force_stop: a.force_stop,
            };
            let plan = migrate::plan(&site, &req)?;
            run_plan(&site, &a.state.dir(g)?, "migrate", &plan, &a.opts)
        }
        FlowCmd::DetachAll(a) => {
            let site = a.opts.site(g, &runner)?;
            let host = a.host.clone().unwrap_or_else(|| a.opts.local(g));
            let (plan, _) = saved::plan_detach_all(&site, &host, &a.vm, &a.save)?;
            run_plan(&site, &a.state.dir(g)?, "detach-all", &plan, &a.opts)
        }
        FlowCmd::Reattach(a) => {
            let site = a.opts.site(g, &runner)?;
            let host = a.host.clone().unwrap_or_else(|| a.opts.local(g));
            let saved = saved::load(&a.from_file)?;
            let map = a.state.mapping()?;
            let (plan, forced) = match give::reattach(&site, &saved, &host, map.as_ref(), a.force) {
                Ok(p) => p,
                Err(e) => return Ok(super::report_op_error(&e, a.opts.json)),
            };
            for f in &forced {
                eprintln!("xenpci: warning: forced: {f}");
            }
            run_plan(&site, &a.state.dir(g)?, "reattach", &plan, &a.opts)
        }
        FlowCmd::Resume(a) => journals::resume(&a, g, &runner),
        FlowCmd::Status(a) => journals::status(&a, g),
        FlowCmd::Maintenance(a) => {
            let site = a.opts.site(g, &runner)?;
            let dir = a.state.dir(g)?;
            let m = xenpci::ops::maintenance::Maintenance {
                ev: a.evacuation(&site, &dir)?,
                dry_run: a.opts.dry_run,
            };
            let out: std::sync::Mutex<Box<dyn std::io::Write + Send>> =
                std::sync::Mutex::new(Box::new(std::io::stderr()));
            let r = xenpci::ops::maintenance::start(&site, &m, &out)?;
            if a.opts.json {
                outln!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                let would = if r.dry_run { "would be " } else { "" };
                for p in &r.record.pinned {
                    let devs: Vec<String> = p.devices.iter().map(ToString::to_string).collect();
                    outln!(
                        "{}: pinned to {} by {}: {would}shut down, started again by `xenpci resume`",
                        p.vm,
                        r.record.host,
                        devs.join(", ")
                    );
                }
                if r.dry_run {
                    for v in &r.moved {
                        outln!("{}: would move to {}", v.vm, r.record.to);
                    }
                } else {
                    out!("{}", evacuate::table(&r.moved));
                    outln!(
                        "{} is ready for maintenance; after it is back, run `xenpci resume` on it",
                        r.record.host
                    );
                }
            }
            Ok(
                if r.moved.iter().all(|v| v.result == "moved" || r.dry_run) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                },
            )
        }
        FlowCmd::Evacuate(a) => {
            let site = a.opts.site(g, &runner)?;
            let dir = a.state.dir(g)?;
            let ev = a.evacuation(&site, &dir)?;
            if a.opts.dry_run {
                for vm in evacuate::guests(&site, &a.host, ev.toolstack)? {
                    let req = Request {
                        vm: vm.clone(),
                        from: a.host.clone(),
                        to: a.to.clone(),
                        toolstack: ev.toolstack,
                        config: ev.config_dir.as_ref().map(|d| d.join(format!("{vm}.cfg"))),
                        mapping: ev.mapping.clone(),
                        cold: false,
                        force_stop: false,
                    };
                    match migrate::plan(&site, &req) {
                        Ok(p) => out!("{p}"),
                        Err(e) => outln!("plan for {vm}: refused: {e}"),
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            let out: std::sync::Mutex<Box<dyn std::io::Write + Send>> =
                std::sync::Mutex::new(Box::new(std::io::stderr()));
            let results = evacuate::evacuate(&site, &ev, &out)?;
            if a.opts.json {
                report!("{}", serde_json::to_string_pretty(&results)?);
            } else {
                report!("{}", evacuate::table(&results).trim_end_matches('\n'));
            }
            Ok(if results.iter().all(|r| r.result == "moved") {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn run_plan(
    site: &Site,
    dir: &std::path::Path,
    kind: &str,
    plan: &Plan,
    opts: &FlowOpts,
) -> anyhow::Result<ExitCode> {
    if opts.dry_run {
        if opts.json {
            outln!("{}", serde_json::to_string_pretty(plan)?);
        } else {
            out!("{plan}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !opts.json {
        out!("{plan}");
    }
    let o = engine::start(site, dir, kind, plan)?;
    print_outcome(&o, opts.json)
}

fn print_outcome(o: &engine::Outcome, json: bool) -> anyhow::Result<ExitCode> {
    print_outcome_of("flow", o, json)
}

/// Prints how a flow or a change (`noun`) ended.
fn print_outcome_of(noun: &str, o: &engine::Outcome, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        report!("{}", serde_json::to_string_pretty(o)?);
    } else {
        match o.status {
            FlowStatus::Done => report!("{noun} {}: done", o.id),
            FlowStatus::RolledBack => {
                report!("{noun} {}: rolled back", o.id);
                if let Some(f) = &o.failure {
                    report!("  because {f}");
                }
                for u in &o.undone {
                    report!("  undone {u}");
                }
            }
            s => {
                report!("{noun} {}: {s:?}", o.id);
                for u in &o.stuck {
                    report!("  {u}");
                }
            }
        }
    }
    Ok(if o.status == FlowStatus::Done {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_report(
    r: &hotplug::HotplugReport,
    json: bool,
    dry_run: bool,
    verb: &str,
) -> anyhow::Result<ExitCode> {
    if json && dry_run {
        outln!("{}", serde_json::to_string_pretty(r)?);
    } else if json {
        report!("{}", serde_json::to_string_pretty(r)?);
    } else if r.nothing_to_do {
        for n in &r.notes {
            outln!("{n}");
        }
    } else if dry_run {
        outln!("would run on {}: {}", r.host, r.command);
    } else {
        let devs: Vec<String> = r.devices.iter().map(Bdf::to_string).collect();
        let by = match r.verified_by {
            hotplug::VerifiedBy::Xenstore => "verified in XenStore",
            hotplug::VerifiedBy::XlPciList => "verified with xl pci-list (no xenstored reachable)",
            hotplug::VerifiedBy::NotRun => "not run",
        };
        report!(
            "{verb} {} on {} ({}): {by}",
            devs.join(", "),
            r.host,
            r.domain
        );
    }
    Ok(ExitCode::SUCCESS)
}
