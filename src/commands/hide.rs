//! `xenpci hide BDF...` and `xenpci unhide BDF...`: the operation ([`xenpci::ops::give`]: the
//! policy, lock, plan), then the plan (`--dry-run`, `--json`) or its execution with rollback and
//! a confirmation of the result.
//!
//! `--json` prints exactly one document on stdout whatever happens, each with `"refused"`: the
//! outcome (`{"refused": false, "dry_run", "method", "method_why", "live", "plan", "result",
//! "warnings", "forced"}`), or an error in the shape every command shares (`{"refused", "kind",
//! "error", "input", "hint", "refusals": [{"bdf", "reasons", "codes"}]}`, exit 1 for a refusal,
//! 2 for bad input or a failed tool). The messages still go to stderr.

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use xenpci::exec::SystemRunner;
use xenpci::hide::apply::{Options, Outcome};
use xenpci::hide::{Ctx, LiveMethod, Method};
use xenpci::ops::{give, OpError};
use xenpci::pci::Bdf;

use super::Globals;

/// Options shared by `hide` and `unhide`.
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// PCI functions ([SSSS:]BB:DD.F).
    #[arg(required = true, value_name = "BDF")]
    pub bdfs: Vec<Bdf>,
    /// Change the boot configuration (default: both --persistent and --now).
    #[arg(long)]
    pub persistent: bool,
    /// Change the running dom0 (default: both --persistent and --now).
    #[arg(long)]
    pub now: bool,
    /// Persistent method: xen-cmdline, xapi, grub, extlinux or modprobe (default: detected).
    #[arg(long, value_name = "METHOD")]
    pub method: Option<Method>,
    /// Live method: xl or sysfs (default: xl when it can be found); on a KVM host only vfio
    /// (the default there).
    #[arg(long, value_name = "LIVE")]
    pub live: Option<LiveMethod>,
    /// Print the plan (exact commands, file diffs, sysfs writes) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the plan and the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Do it even when xenpci refuses (hide: a device dom0 needs, a bridge, part of an
    /// isolation group; unhide: a device a guest uses). The report names what was forced.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `xenpci hide`.
#[derive(Args, Debug)]
pub struct HideArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Also hide the devices sharing the isolation group.
    #[arg(long)]
    pub with_group: bool,
}

/// `--json` when the change was planned (and maybe executed).
#[derive(Serialize)]
struct OutcomeDoc<'a> {
    refused: bool,
    #[serde(flatten)]
    outcome: &'a Outcome,
}

fn print_json(doc: &impl Serialize) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(doc)?);
    Ok(())
}

/// `xenpci hide`.
pub fn run_hide(a: HideArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let bdfs = a.common.bdfs.clone();
    let with_group = a.with_group;
    execute(a.common, g, |ctx, opts| {
        give::hide(ctx, &bdfs, Options { with_group, ..opts })
    })
}

/// `xenpci unhide`.
pub fn run_unhide(a: CommonArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let bdfs = a.bdfs.clone();
    execute(a, g, |ctx, opts| give::unhide(ctx, &bdfs, opts))
}

fn execute(
    a: CommonArgs,
    g: &Globals,
    op: impl FnOnce(Ctx<'_>, Options) -> Result<Outcome, OpError>,
) -> anyhow::Result<ExitCode> {
    let root = g.host_root()?;
    let runner = SystemRunner;
    let ctx = Ctx {
        root: &root,
        runner: &runner,
    };
    let opts = Options {
        persistent: a.persistent,
        now: a.now,
        method: a.method,
        live: a.live,
        dry_run: a.dry_run,
        force: a.force,
        ..Options::default()
    };
    let out = match op(ctx, opts) {
        Ok(out) => out,
        Err(e) => return Ok(super::report_op_error(&e, a.json)),
    };
    render(&out, a.json)
}

/// Prints a hide/unhide outcome as `hide` does (the plan of a dry run, each step done, the
/// failure and what was undone; one JSON document with `json`) and returns its exit code.
pub fn render(out: &Outcome, json: bool) -> anyhow::Result<ExitCode> {
    let a_json = json;
    if let (Some(m), Some(why), false) = (out.method, &out.method_why, a_json) {
        eprintln!("xenpci: persistent method: {m} ({why})");
    }
    for w in &out.warnings {
        eprintln!("xenpci: warning: {w}");
    }
    if a_json && out.result.is_some() {
        report!(
            "{}",
            serde_json::to_string_pretty(&OutcomeDoc {
                refused: false,
                outcome: out,
            })?
        );
    } else if a_json {
        print_json(&OutcomeDoc {
            refused: false,
            outcome: out,
        })?;
    }
    let Some(result) = &out.result else {
        if !a_json {
            out!("{}", out.plan);
            outln!("# dry run: nothing was changed");
        }
        return Ok(ExitCode::SUCCESS);
    };
    if let Some(f) = &result.failure {
        eprintln!("xenpci: error: {f}");
        for u in &f.undone {
            eprintln!("  undone: {u}");
        }
        for u in &f.not_undone {
            eprintln!("  NOT undone: {u}");
        }
        return Ok(ExitCode::from(1));
    }
    if !a_json {
        for d in &result.done {
            match &d.backup {
                Some(b) => report!("done: {} (backup: {})", d.action, b.display()),
                None => report!("done: {}", d.action),
            }
        }
        if result.done.is_empty() {
            report!("nothing to change");
        }
        for n in &out.plan.notes {
            report!("note: {n}");
        }
    }
    if let Some(c) = &result.unconfirmed {
        eprintln!("xenpci: error: {c}");
    }
    Ok(if result.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
