//! `xenpci evacuate HOST --to HOST2`: moves every guest of HOST with the migrate flow, `-j N` at
//! a time (std threads), printing one line per event and a summary table at the end.

use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use super::journal::FlowStatus;

use super::engine;
use super::mapping::Mapping;
use super::migrate::{plan, Request, Toolstack};
use super::transport::Site;
use super::FlowError;

/// One VM's result.
#[derive(Debug, Clone, Serialize)]
pub struct VmResult {
    /// The VM.
    pub vm: String,
    /// `moved`, `rolled-back`, `failed`.
    pub result: String,
    /// hot / cold / live (when planned).
    pub mode: String,
    /// Why, for rolled-back and failed.
    pub reason: String,
    /// Flow id (journal).
    pub flow: String,
    /// Seconds.
    pub seconds: f64,
}

/// The guests on `host`.
pub fn guests(site: &Site, host: &str, toolstack: Toolstack) -> Result<Vec<String>, FlowError> {
    match toolstack {
        Toolstack::Xl => {
            let o = site.run_xl(host, &["list"])?;
            if !o.success() {
                return Err(FlowError::Xl {
                    host: host.into(),
                    command: "xl list".into(),
                    status: format!("{:?}", o.status),
                    stderr: o.stderr,
                });
            }
            Ok(o.stdout
                .lines()
                .skip(1)
                .filter_map(|l| l.split_whitespace().next())
                .filter(|n| *n != "Domain-0")
                .map(str::to_string)
                .collect())
        }
        Toolstack::Xapi => {
            let h = super::steps::xe_host_uuid(site, host)?;
            let vms = crate::xapi::Xe::new(site.runner)
                .resident_vms(&h)
                .map_err(|e| FlowError::Xe(Box::new(e)))?;
            Ok(vms.iter().map(ToString::to_string).collect())
        }
    }
}

/// Options of an evacuation.
pub struct Evacuation<'a> {
    /// Source.
    pub from: String,
    /// Target.
    pub to: String,
    /// Parallelism.
    pub jobs: usize,
    /// Toolstack.
    pub toolstack: Toolstack,
    /// Mapping.
    pub mapping: Option<Mapping>,
    /// State dir.
    pub state_dir: &'a Path,
    /// Redraw one line per VM (stderr is a terminal) instead of printing event lines.
    pub terminal: bool,
    /// xl.cfg directory (`<dir>/<vm>.cfg`), for cold moves.
    pub config_dir: Option<std::path::PathBuf>,
}

/// Runs the evacuation; `out` gets the progress lines.
pub fn evacuate(
    site: &Site,
    ev: &Evacuation,
    out: &Mutex<Box<dyn Write + Send>>,
) -> Result<Vec<VmResult>, FlowError> {
    let vms = guests(site, &ev.from, ev.toolstack)?;
    Ok(evacuate_vms(site, ev, vms, out))
}

/// Moves `vms` (guests of `ev.from`) as [`evacuate`] does; `out` gets the progress lines.
pub fn evacuate_vms(
    site: &Site,
    ev: &Evacuation,
    vms: Vec<String>,
    out: &Mutex<Box<dyn Write + Send>>,
) -> Vec<VmResult> {
    let total = vms.len();
    let queue = Mutex::new(vms.into_iter().enumerate().collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    // one line per VM, redrawn in place on a terminal; plain event lines otherwise
    let board = Mutex::new(vec![String::new(); total]);
    let update = |i: usize, line: String| {
        let Ok(mut o) = out.lock() else { return };
        if ev.terminal {
            if let Ok(mut b) = board.lock() {
                b[i] = line;
                let _ = write!(o, "\x1b[{}A", total.max(1));
                for l in b.iter() {
                    let _ = writeln!(o, "\x1b[2K{l}");
                }
            }
        } else {
            let _ = writeln!(o, "{line}");
        }
        let _ = o.flush();
    };
    if ev.terminal {
        if let Ok(mut o) = out.lock() {
            let _ = write!(o, "{}", "\n".repeat(total));
        }
    }
    let bar = |done: usize, n: usize| {
        let w = 10;
        let f = (done * w).checked_div(n).unwrap_or(w).min(w);
        format!("[{}{}] {done}/{n}", "#".repeat(f), " ".repeat(w - f))
    };
    std::thread::scope(|s| {
        for _ in 0..ev.jobs.max(1) {
            s.spawn(|| {
                while let Some((i, vm)) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
                    let t0 = Instant::now();
                    let tag = format!("[{}/{total}] {vm}", i + 1);
                    update(i, format!("{tag}: planning"));
                    let req = Request {
                        vm: vm.clone(),
                        from: ev.from.clone(),
                        to: ev.to.clone(),
                        toolstack: ev.toolstack,
                        config: ev.config_dir.as_ref().map(|d| d.join(format!("{vm}.cfg"))),
                        mapping: ev.mapping.clone(),
                        cold: false,
                        force_stop: false,
                    };
                    let r = match plan(site, &req) {
                        Err(e) => VmResult {
                            vm: vm.clone(),
                            result: "failed".into(),
                            mode: "-".into(),
                            reason: e.to_string(),
                            flow: "-".into(),
                            seconds: 0.0,
                        },
                        Ok(p) => {
                            update(
                                i,
                                format!("{tag}: {} move, {} steps", p.mode, p.steps.len()),
                            );
                            let progress = |done: usize, n: usize, step: &str| {
                                let what = if ev.terminal {
                                    p.mode.clone()
                                } else {
                                    format!("done {step}")
                                };
                                update(i, format!("{tag}: {} {what}", bar(done, n)));
                            };
                            match engine::start_observed(
                                site,
                                ev.state_dir,
                                "migrate",
                                &p,
                                &progress,
                            ) {
                                Ok(o) => VmResult {
                                    vm: vm.clone(),
                                    result: match o.status {
                                        FlowStatus::Done => "moved",
                                        FlowStatus::RolledBack => "rolled-back",
                                        _ => "failed",
                                    }
                                    .into(),
                                    mode: p.mode.clone(),
                                    reason: o
                                        .failure
                                        .clone()
                                        .or_else(|| o.stuck.first().cloned())
                                        .unwrap_or_default(),
                                    flow: o.id,
                                    seconds: 0.0,
                                },
                                Err(e) => VmResult {
                                    vm: vm.clone(),
                                    result: "failed".into(),
                                    mode: p.mode.clone(),
                                    reason: e.to_string(),
                                    flow: "-".into(),
                                    seconds: 0.0,
                                },
                            }
                        }
                    };
                    let r = VmResult {
                        seconds: t0.elapsed().as_secs_f64(),
                        ..r
                    };
                    update(
                        i,
                        format!(
                            "{tag}: {}{}",
                            r.result,
                            if r.reason.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", r.reason)
                            }
                        ),
                    );
                    if let Ok(mut v) = results.lock() {
                        v.push(r);
                    }
                }
            });
        }
    });
    let mut v = results.into_inner().unwrap_or_default();
    v.sort_by(|a, b| a.vm.cmp(&b.vm));
    v
}

/// The summary table.
pub fn table(results: &[VmResult]) -> String {
    let w = results.iter().map(|r| r.vm.len()).max().unwrap_or(2).max(2);
    let mut s = format!(
        "{:<w$}  {:<11}  {:<4}  {:>7}  REASON\n",
        "VM", "RESULT", "MODE", "SECONDS"
    );
    for r in results {
        s.push_str(&format!(
            "{:<w$}  {:<11}  {:<4}  {:>7.2}  {}\n",
            r.vm, r.result, r.mode, r.seconds, r.reason
        ));
    }
    let count = |k: &str| results.iter().filter(|r| r.result == k).count();
    s.push_str(&format!(
        "moved {}, rolled back {}, failed {}\n",
        count("moved"),
        count("rolled-back"),
        count("failed")
    ));
    s
}
