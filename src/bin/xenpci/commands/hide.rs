//! `xenpci hide BDF...` and `xenpci unhide BDF...`: guard, lock, plan, then print the plan
//! (`--dry-run`, `--json`) or execute it with rollback and confirm the result.
//!
//! `--json` prints exactly one document on stdout whatever happens, each with `"refused"`: the
//! outcome (`{"refused": false, "dry_run", "method", "method_why", "live", "plan", "result",
//! "warnings"}`), the guard's refusal (`{"refused": true, "error", "refusals": [{"bdf",
//! "reasons"}], "hint": "--force", "warnings"}`, exit 1) or an error before anything was planned
//! (`{"refused": false, "error"}`, exit 2). The messages still go to stderr.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde::Serialize;
use xenpci::exec::SystemRunner;
use xenpci::hide::apply::{self, Options, Outcome};
use xenpci::hide::guard::{self, InventoryFacts, Refusal};
use xenpci::hide::{Change, Ctx, LiveMethod, Method};
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
    /// Live method: xl or sysfs (default: xl when it can be found).
    #[arg(long, value_name = "LIVE")]
    pub live: Option<LiveMethod>,
    /// Print the plan (exact commands, file diffs, sysfs writes) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the plan and the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `xenpci hide`.
#[derive(Args, Debug)]
pub struct HideArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Hide even a device dom0 needs or a bridge.
    #[arg(long)]
    pub force: bool,
    /// Also hide the devices sharing the isolation group.
    #[arg(long)]
    pub with_group: bool,
}

/// `--json` when the guard refuses.
#[derive(Serialize)]
struct RefusedDoc<'a> {
    refused: bool,
    error: String,
    refusals: &'a [Refusal],
    hint: &'static str,
    warnings: &'a [String],
}

/// `--json` when the change was planned (and maybe executed).
#[derive(Serialize)]
struct OutcomeDoc<'a> {
    refused: bool,
    #[serde(flatten)]
    outcome: &'a Outcome,
}

/// `--json` when nothing could be planned.
#[derive(Serialize)]
struct ErrorDoc {
    refused: bool,
    error: String,
}

/// The error and the causes that add something, as one line (main prints them numbered).
fn chain_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1).map(|c| c.to_string()) {
        if !text.contains(cause.as_str()) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

fn print_json(doc: &impl Serialize) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(doc)?);
    Ok(())
}

/// The devices in the order given, each once (clap has parsed them: a bad one is a usage error
/// like every other subcommand's).
fn unique(v: &[Bdf]) -> Vec<Bdf> {
    let mut out: Vec<Bdf> = Vec::new();
    for b in v {
        if !out.contains(b) {
            out.push(*b);
        }
    }
    out
}

/// `xenpci hide`.
pub fn run_hide(a: HideArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let root = g.host_root();
    let bdfs = unique(&a.common.bdfs);
    let verdict = guard::check(&InventoryFacts::scan(&root), &bdfs, a.force, a.with_group);
    for w in &verdict.warnings {
        eprintln!("xenpci: warning: {w}");
    }
    if !verdict.refused.is_empty() {
        let msgs: Vec<String> = verdict.refused.iter().map(|r| r.to_string()).collect();
        for m in &msgs {
            eprintln!("xenpci: {m}");
        }
        if a.common.json {
            print_json(&RefusedDoc {
                refused: true,
                error: msgs.join("; "),
                refusals: &verdict.refused,
                hint: "--force",
                warnings: &verdict.warnings,
            })?;
        }
        return Ok(ExitCode::from(1));
    }
    execute(a.common, Change::Add(verdict.devices), g)
}

/// `xenpci unhide`.
pub fn run_unhide(a: CommonArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let bdfs = unique(&a.bdfs);
    execute(a, Change::Remove(bdfs), g)
}

fn execute(a: CommonArgs, change: Change, g: &Globals) -> anyhow::Result<ExitCode> {
    let root = g.host_root();
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
        ..Options::default()
    };
    let out = match apply::apply(ctx, change, opts).context("cannot plan the change") {
        Ok(out) => out,
        Err(e) => {
            if a.json {
                print_json(&ErrorDoc {
                    refused: false,
                    error: chain_text(&e),
                })?;
            }
            return Err(e);
        }
    };
    if let (Some(m), Some(why), false) = (out.method, &out.method_why, a.json) {
        eprintln!("xenpci: persistent method: {m} ({why})");
    }
    for w in &out.warnings {
        eprintln!("xenpci: warning: {w}");
    }
    if a.json && out.result.is_some() {
        report!(
            "{}",
            serde_json::to_string_pretty(&OutcomeDoc {
                refused: false,
                outcome: &out,
            })?
        );
    } else if a.json {
        print_json(&OutcomeDoc {
            refused: false,
            outcome: &out,
        })?;
    }
    let Some(result) = &out.result else {
        if !a.json {
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
    if !a.json {
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
