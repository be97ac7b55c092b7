//! `xenpci hide BDF...` and `xenpci unhide BDF...`: guard, lock, plan, then print the plan
//! (`--dry-run`, `--json`) or execute it with rollback and confirm the result.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use xenpci::exec::SystemRunner;
use xenpci::fsutil;
use xenpci::hide::guard::{self, SysfsFacts};
use xenpci::hide::methods::{detect, read_configured};
use xenpci::hide::{self, Change, Ctx, LiveMethod, Method, Request};
use xenpci::pci::Bdf;

use super::Globals;

/// Options shared by `hide` and `unhide`.
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// PCI functions ([SSSS:]BB:DD.F).
    #[arg(required = true, value_name = "BDF")]
    pub bdfs: Vec<String>,
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

fn parse_bdfs(v: &[String]) -> anyhow::Result<Vec<Bdf>> {
    let mut out: Vec<Bdf> = Vec::new();
    for s in v {
        let b: Bdf = s.parse()?;
        if !out.contains(&b) {
            out.push(b);
        }
    }
    Ok(out)
}

/// `xenpci hide`.
pub fn run_hide(a: HideArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let root = g.host_root();
    let bdfs = parse_bdfs(&a.common.bdfs)?;
    let verdict = guard::check(&SysfsFacts { root: &root }, &bdfs, a.force, a.with_group);
    for w in &verdict.warnings {
        eprintln!("xenpci: warning: {w}");
    }
    if !verdict.refused.is_empty() {
        for r in &verdict.refused {
            eprintln!("xenpci: {r}");
        }
        return Ok(ExitCode::from(1));
    }
    execute(a.common, Change::Add(verdict.devices), g)
}

/// `xenpci unhide`.
pub fn run_unhide(a: CommonArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let bdfs = parse_bdfs(&a.bdfs)?;
    execute(a, Change::Remove(bdfs), g)
}

fn execute(a: CommonArgs, change: Change, g: &Globals) -> anyhow::Result<ExitCode> {
    let root = g.host_root();
    let runner = SystemRunner;
    let ctx = Ctx {
        root: &root,
        runner: &runner,
    };
    let both = !a.persistent && !a.now;
    // Planning reads the current lists, so it happens under the lock, like the execution.
    let _lock = if a.dry_run {
        None
    } else {
        Some(fsutil::lock(&hide::lock_path(&root))?)
    };
    let method = if a.persistent || both {
        Some(match a.method {
            Some(m) => m,
            None => {
                let d = detect::detect(ctx)?;
                if !a.json {
                    eprintln!("xenpci: persistent method: {} ({})", d.method, d.why);
                }
                d.method
            }
        })
    } else {
        None
    };
    let live = (a.now || both).then(|| a.live.unwrap_or_else(LiveMethod::detect));
    let req = Request {
        change: change.clone(),
        persistent: method,
        now: live,
    };
    let plan = hide::plan(ctx, &req).context("cannot plan the change")?;
    if a.dry_run {
        if a.json {
            let v = json!({"dry_run": true, "method": method, "live": live, "plan": plan, "result": null});
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            print!("{plan}");
            println!("# dry run: nothing was changed");
        }
        return Ok(ExitCode::SUCCESS);
    }
    match plan.execute(&runner, &root) {
        Ok(report) => {
            let confirm = confirm(ctx, method, &change);
            if a.json {
                let v = json!({"dry_run": false, "method": method, "live": live, "plan": plan,
                    "result": {"ok": confirm.is_none(), "done": report.done, "failure": null,
                    "unconfirmed": confirm}});
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for d in &report.done {
                    match &d.backup {
                        Some(b) => println!("done: {} (backup: {})", d.action, b.display()),
                        None => println!("done: {}", d.action),
                    }
                }
                if report.done.is_empty() {
                    println!("nothing to change");
                }
                for n in &plan.notes {
                    println!("note: {n}");
                }
                if let Some(c) = &confirm {
                    eprintln!("xenpci: error: {c}");
                }
            }
            Ok(if confirm.is_none() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Err(f) => {
            if a.json {
                let v = json!({"dry_run": false, "method": method, "live": live, "plan": plan,
                    "result": {"ok": false, "done": [], "failure": &*f}});
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            eprintln!("xenpci: error: {f}");
            for u in &f.undone {
                eprintln!("  undone: {u}");
            }
            for u in &f.not_undone {
                eprintln!("  NOT undone: {u}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// Re-reads the configured list after executing (xen-cmdline always exits 0, so its success
/// must be checked); Some(message) when a device is not where it should be.
fn confirm(ctx: Ctx<'_>, method: Option<Method>, change: &Change) -> Option<String> {
    let m = method?;
    let conf = match read_configured(m, ctx) {
        Ok(c) => c,
        Err(e) => return Some(format!("cannot re-read the hide list to confirm: {e}")),
    };
    let wrong: Vec<String> = change
        .bdfs()
        .iter()
        .filter(|b| conf.list.contains(b) != matches!(change, Change::Add(_)))
        .map(|b| b.to_string())
        .collect();
    (!wrong.is_empty()).then(|| {
        format!(
            "after the change, {} reads {:?}, which is wrong for {}",
            conf.source,
            conf.list.to_string(),
            wrong.join(", ")
        )
    })
}
