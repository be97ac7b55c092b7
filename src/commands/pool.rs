//! `xenpci pool list|check`: the pool-wide view through XAPI — every host's xenpci plugin asked
//! concurrently (`xe host-call-plugin`, one timeout per host) and merged into one table.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::Value;
use xenpci::exec::SystemRunner;
use xenpci::pci::Bdf;
use xenpci::pool;
use xenpci::xapi::Xe;

use super::Globals;

/// `xenpci pool ...`
#[derive(Subcommand, Debug)]
pub enum PoolCmd {
    /// Every host's devices: hidden or not, dom0-critical, given to which VM.
    #[command(after_help = super::examples::POOL_LIST)]
    List(PoolListArgs),
    /// Preflight the same devices on every host of the pool.
    #[command(after_help = super::examples::POOL_CHECK)]
    Check(PoolCheckArgs),
    /// Generate the cross-host device mapping (docs/mapping.md) for migrate/evacuate --map.
    #[command(after_help = super::examples::POOL_MAP)]
    Map(PoolMapArgs),
}

/// Arguments of `xenpci pool map`.
#[derive(Args, Debug)]
pub struct PoolMapArgs {
    /// Write the mapping to FILE (atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Give up on a host that has not answered after SECS seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
}

/// Options shared by the pool commands.
#[derive(Args, Debug)]
pub struct PoolOpts {
    /// Give up on a host that has not answered after SECS seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `xenpci pool list`.
#[derive(Args, Debug)]
pub struct PoolListArgs {
    #[command(flatten)]
    pub opts: PoolOpts,
}

/// Arguments of `xenpci pool check`.
#[derive(Args, Debug)]
pub struct PoolCheckArgs {
    /// The functions to check on every host.
    #[arg(required = true, value_name = "BDF")]
    pub bdfs: Vec<Bdf>,
    #[command(flatten)]
    pub opts: PoolOpts,
}

pub fn run(c: PoolCmd, _g: &Globals) -> anyhow::Result<ExitCode> {
    match c {
        PoolCmd::List(a) => list(a),
        PoolCmd::Check(a) => check(a),
        PoolCmd::Map(a) => map(a),
    }
}

fn map(a: PoolMapArgs) -> anyhow::Result<ExitCode> {
    let m = pool::map(&SystemRunner, Duration::from_secs(a.timeout))?;
    let text = format!("{}\n", serde_json::to_string_pretty(&m.mapping)?);
    for n in &m.notes {
        eprintln!("xenpci: note: {n}");
    }
    match a.output {
        Some(path) => {
            xenpci::fsutil::atomic_write(&path, text.as_bytes(), true)?;
            eprintln!("xenpci: wrote {}", path.display());
        }
        None => out!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn list(a: PoolListArgs) -> anyhow::Result<ExitCode> {
    let view = pool::list(&SystemRunner, Duration::from_secs(a.opts.timeout))?;
    if a.opts.json {
        outln!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        outln!(
            "{:<12} {:<13} {:<10} {:<12} {:<7} {:<16} NAME",
            "HOST",
            "BDF",
            "IDS",
            "DRIVER",
            "HIDDEN",
            "ASSIGNED TO"
        );
        for d in &view.devices {
            let holders: Vec<&str> = d
                .assigned_to
                .iter()
                .map(|h| h.name_label.as_str())
                .collect();
            outln!(
                "{:<12} {}{:<12} {:<10} {:<12} {:<7} {:<16} {}",
                d.host,
                if d.critical.is_empty() { ' ' } else { '!' },
                d.bdf,
                format!("{}:{}", d.vendor_id, d.device_id),
                d.driver.as_deref().unwrap_or("-"),
                if d.hidden { "yes" } else { "no" },
                if holders.is_empty() {
                    "-".to_string()
                } else {
                    holders.join(",")
                },
                format!("{} {}", d.vendor_name, d.device_name).trim()
            );
        }
        outln!("'!' marks functions the host's dom0 needs.");
    }
    for w in &view.warnings {
        eprintln!("xenpci: warning: {w}");
    }
    for u in &view.unreachable {
        eprintln!(
            "xenpci: error: host {} ({}) did not answer: {}",
            u.host.name_label,
            u.host.uuid,
            u.error.as_deref().unwrap_or("no answer")
        );
    }
    Ok(if view.unreachable.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn check(a: PoolCheckArgs) -> anyhow::Result<ExitCode> {
    let runner = SystemRunner;
    let hosts = pool::hosts(&Xe::new(&runner))?;
    let list: Vec<String> = a.bdfs.iter().map(Bdf::to_string).collect();
    let joined = list.join(",");
    let answers = pool::call_all(
        &runner,
        &hosts,
        "check",
        &[("bdf", &joined)],
        Duration::from_secs(a.opts.timeout),
    );
    let all_ok = answers.iter().all(|x| {
        x.value
            .as_ref()
            .and_then(|v| v.get("passable"))
            .and_then(Value::as_bool)
            == Some(true)
    });
    if a.opts.json {
        outln!("{}", serde_json::to_string_pretty(&answers)?);
    } else {
        for x in &answers {
            match (&x.value, &x.error) {
                (Some(v), _) => {
                    for d in v["devices"].as_array().into_iter().flatten() {
                        let first_error = d["findings"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .find(|f| f["severity"] == "error")
                            .and_then(|f| f["message"].as_str())
                            .unwrap_or("");
                        outln!(
                            "{:<12} {:<13} {:<9} {}",
                            x.host.name_label,
                            d["bdf"].as_str().unwrap_or("?"),
                            if d["passable"] == true {
                                "passable"
                            } else {
                                "NO"
                            },
                            first_error
                        );
                    }
                }
                (None, e) => outln!(
                    "{:<12} {:<13} {:<9} {}",
                    x.host.name_label,
                    "-",
                    "ERROR",
                    e.as_deref().unwrap_or("no answer")
                ),
            }
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
