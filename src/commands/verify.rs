//! `xenpci verify [--repair] [--dry-run] [--json]` and `xenpci adopt [--dry-run] [--json]`: the
//! device identities xenpci recorded, checked against the host (see `xenpci::ops::verify`).
//! Exit 0 when every recorded device is where the places naming it say, 1 when something is
//! still wrong.

use std::process::ExitCode;

use clap::Args;
use xenpci::exec::SystemRunner;
use xenpci::hide::Ctx;
use xenpci::ops::verify::{self, VerifyOptions};

use super::Globals;

/// Arguments of `xenpci verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Move the hide list and the VM entries of a device that moved to its new BDF, and write a
    /// dropped hide list again (through the same guarded changes as hide/assign).
    #[arg(long)]
    pub repair: bool,
    /// Change nothing; show what would be done (including the give-back of a wrongly hidden
    /// device, which verify otherwise does at once).
    #[arg(long)]
    pub dry_run: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `xenpci adopt`.
#[derive(Args, Debug)]
pub struct AdoptArgs {
    /// Show what would be recorded; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `xenpci verify`.
pub fn run_verify(a: VerifyArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let root = g.host_root()?;
    let runner = SystemRunner;
    let ctx = Ctx {
        root: &root,
        runner: &runner,
    };
    let opts = VerifyOptions {
        repair: a.repair,
        dry_run: a.dry_run,
    };
    let r = match verify::verify(ctx, opts) {
        Ok(r) => r,
        Err(e) => return Ok(super::report_op_error(&e, a.json)),
    };
    for w in &r.warnings {
        eprintln!("xenpci: warning: {w}");
    }
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        if r.devices.is_empty() {
            outln!("no device identity is recorded (xenpci records one at every hide; `xenpci adopt` records the devices already hidden or assigned)");
        }
        let would = if r.dry_run { "would: " } else { "" };
        for d in &r.devices {
            let state = match &d.location {
                xenpci::identity::Location::Same { by } => format!("ok (same device, by {by})"),
                xenpci::identity::Location::Moved { to, by } => format!("MOVED to {to} (by {by})"),
                xenpci::identity::Location::Missing => "MISSING".to_string(),
                xenpci::identity::Location::Ambiguous { .. } => "AMBIGUOUS".to_string(),
            };
            let alias = d
                .alias
                .as_ref()
                .map(|a| format!(" ({a})"))
                .unwrap_or_default();
            outln!("{}{alias}  {}  {state}", d.bdf, d.recorded);
            if let Some(o) = &d.occupant {
                outln!(
                    "    now at {}: {} {} (driver {})",
                    d.bdf,
                    o.ids,
                    o.name,
                    o.driver.as_deref().unwrap_or("none")
                );
            }
            for p in &d.problems {
                outln!("    problem: {p}");
            }
            for n in &d.notes {
                outln!("    note: {n}");
            }
            for x in &d.actions {
                outln!("    {would}{x}");
            }
            for p in &d.pending {
                outln!("    to fix: {p}");
            }
        }
        if !r.devices.is_empty() {
            outln!(
                "{}",
                if r.ok {
                    "every recorded device is where the places naming it say"
                } else {
                    "NOT all recorded devices are where the places naming them say"
                }
            );
        }
    }
    Ok(if r.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `xenpci adopt`.
pub fn run_adopt(a: AdoptArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let root = g.host_root()?;
    let runner = SystemRunner;
    let ctx = Ctx {
        root: &root,
        runner: &runner,
    };
    let r = match verify::adopt(ctx, a.dry_run) {
        Ok(r) => r,
        Err(e) => return Ok(super::report_op_error(&e, a.json)),
    };
    for w in &r.warnings {
        eprintln!("xenpci: warning: {w}");
    }
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if a.dry_run {
        "would record"
    } else {
        "recorded"
    };
    if r.adopted.is_empty() {
        outln!("nothing to adopt: no device is hidden or assigned");
    }
    for (b, uses) in &r.adopted {
        let places: Vec<String> = uses.iter().map(ToString::to_string).collect();
        outln!("{verb} {b}: named by {}", places.join(", "));
    }
    for (b, places) in &r.absent {
        outln!("not on this host, not recorded: {b} (named by {places})");
    }
    Ok(ExitCode::SUCCESS)
}
