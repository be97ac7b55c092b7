//! `xenpci maintenance HOST --to HOST2`: empties a host for maintenance when some guests cannot
//! leave it. A *pinned* guest holds a device that exists only on HOST (no counterpart on HOST2 in
//! the mapping file, or no mapping at all); it is shut down cleanly and recorded; every other
//! guest moves with the migrate flow, as `evacuate` moves them. The shutdowns are one change on
//! the change engine ([`crate::engine`], the flows' own shutdown steps), journaled in the record:
//! when one fails, the guests already stopped are started again and the maintenance is called
//! off before anything moves. The record
//! (`STATE/maintenance/HOST.json`, atomic) lets `xenpci resume`, run on HOST after it is back,
//! verify the device identities first (`xenpci verify`: a function that moved while the host was
//! down is not handed to the guest) and start the pinned guests again with their devices.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::engine::{
    self, executor, Journal, JournalError, MemJournal, Status, StepState, UndoPolicy,
};
use crate::flows::evacuate::{self, Evacuation, VmResult};
use crate::flows::migrate::Toolstack;
use crate::flows::steps::Action;
use crate::flows::transport::Site;
use crate::flows::xl::Xl;
use crate::flows::FlowError;
use crate::fsutil::WriteError;
use crate::pci::Bdf;

/// What became of a pinned guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinnedState {
    /// Still running (nothing done yet, or a dry run).
    Running,
    /// Shut down by `maintenance`, to be started by `resume`.
    Stopped,
    /// Started again by `resume`.
    Started,
    /// Left stopped by `resume`: a device did not verify, or the start failed (see `note`).
    Held,
}

/// One pinned guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pinned {
    /// The guest (xl domain name, or XAPI VM uuid).
    pub vm: String,
    /// Its passthrough devices on the host.
    pub devices: Vec<Bdf>,
    /// xl: the xl.cfg it is started from again.
    pub config: Option<String>,
    /// Where it is.
    pub state: PinnedState,
    /// Why it is held, or what the start said.
    #[serde(default)]
    pub note: String,
}

/// The maintenance record of one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The host in maintenance.
    pub host: String,
    /// Where the others went.
    pub to: String,
    /// xl or xapi.
    pub toolstack: String,
    /// The pinned guests.
    pub pinned: Vec<Pinned>,
    /// `host-down` until `resume` has started every pinned guest, then `done`.
    pub state: String,
}

/// What `maintenance` did (or would do).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Nothing was changed.
    pub dry_run: bool,
    /// The record (pinned guests and their state).
    pub record: Record,
    /// The moved guests, as `evacuate` reports them.
    pub moved: Vec<VmResult>,
}

/// Options of a maintenance run.
pub struct Maintenance<'a> {
    /// The evacuation of the guests that can move (its `from` is the host in maintenance).
    pub ev: Evacuation<'a>,
    /// Plan only.
    pub dry_run: bool,
}

/// Where the record of `host` lives.
pub fn record_path(state_dir: &Path, host: &str) -> PathBuf {
    state_dir.join("maintenance").join(format!("{host}.json"))
}

fn bad_record(path: &Path, e: impl std::fmt::Display) -> FlowError {
    FlowError::BadInput {
        what: "maintenance record".into(),
        input: path.display().to_string(),
        expected: format!("a record xenpci maintenance wrote ({e})"),
    }
}

/// Reads the record of `host` (None: no maintenance recorded).
pub fn read(state_dir: &Path, host: &str) -> Result<Option<Record>, FlowError> {
    let path = record_path(state_dir, host);
    match crate::fsutil::read_text(&path) {
        Ok(None) => Ok(None),
        Ok(Some(t)) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| bad_record(&path, e)),
        Err(e) => Err(bad_record(&path, e)),
    }
}

/// Every record in `state_dir` that is not done.
pub fn pending(state_dir: &Path) -> Result<Vec<Record>, FlowError> {
    let dir = state_dir.join("maintenance");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .collect();
    names.sort();
    for host in names {
        if let Some(r) = read(state_dir, &host)? {
            if r.state != "done" {
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// Writes the record (atomically), its directory made first.
fn save(state_dir: &Path, r: &Record) -> Result<(), WriteError> {
    let path = record_path(state_dir, &r.host);
    let dir = path.parent().unwrap_or(state_dir);
    std::fs::create_dir_all(dir).map_err(|source| WriteError::Io {
        what: "create the directory of",
        path: path.clone(),
        source,
    })?;
    let text = serde_json::to_string_pretty(r).unwrap_or_default() + "\n";
    crate::fsutil::atomic_write(&path, text.as_bytes(), false).map(|_| ())
}

fn write(state_dir: &Path, r: &Record) -> Result<(), FlowError> {
    save(state_dir, r).map_err(|e| bad_record(&record_path(state_dir, &r.host), e))
}

/// The passthrough devices of `vm` on `host`.
fn devices_of(site: &Site, host: &str, vm: &str, ts: Toolstack) -> Result<Vec<Bdf>, FlowError> {
    match ts {
        Toolstack::Xl => Ok(Xl { site, host }
            .pci_list(vm)?
            .into_iter()
            .map(|e| e.bdf)
            .collect()),
        Toolstack::Xapi => {
            let xe = crate::xapi::Xe::new(site.runner);
            let uuid = xe.vm_lookup(vm).map_err(|e| FlowError::Xe(Box::new(e)))?;
            let v = xe.vm_pci(&uuid).map_err(|e| FlowError::Xe(Box::new(e)))?;
            Ok(v.map(|v| {
                crate::syntax::xapi_pci::parse(&v)
                    .devices
                    .iter()
                    .filter_map(|d| d.addr.bdf())
                    .collect()
            })
            .unwrap_or_default())
        }
    }
}

/// The maintenance record as the engine's journal of the shutdowns: a pinned guest's state
/// follows its step (done: stopped; undone: running again), the record written (atomically) at
/// each change, so a crash leaves one `xenpci resume` finishes from.
struct RecordJournal<'a> {
    mem: MemJournal,
    record: &'a mut Record,
    state_dir: &'a Path,
}

impl Journal for RecordJournal<'_> {
    fn status(&self) -> Status {
        self.mem.status()
    }

    fn state(&self, i: usize) -> StepState {
        self.mem.state(i)
    }

    fn set_state(
        &mut self,
        i: usize,
        state: StepState,
        error: Option<String>,
    ) -> Result<(), JournalError> {
        self.mem.set_state(i, state, error)?;
        let pinned = match state {
            StepState::Done => PinnedState::Stopped,
            StepState::Undone => PinnedState::Running,
            _ => return Ok(()),
        };
        if let Some(p) = self.record.pinned.get_mut(i) {
            p.state = pinned;
        }
        save(self.state_dir, self.record).map_err(|source| JournalError::Write {
            path: record_path(self.state_dir, &self.record.host)
                .display()
                .to_string(),
            source,
        })
    }

    fn set_status(&mut self, status: Status) -> Result<(), JournalError> {
        self.mem.set_status(status)
    }
}

/// Runs the maintenance (see the module text); `out` gets the progress lines.
pub fn start(
    site: &Site,
    m: &Maintenance,
    out: &Mutex<Box<dyn Write + Send>>,
) -> Result<Report, FlowError> {
    let ev = &m.ev;
    let host = ev.from.clone();
    if let Some(r) = read(ev.state_dir, &host)? {
        if r.state != "done" {
            return Err(FlowError::Refused {
                action: format!("put {host} in maintenance"),
                reason: format!(
                    "a maintenance of {host} is recorded and not finished ({}): `xenpci resume` once the host is back",
                    record_path(ev.state_dir, &host).display()
                ),
            });
        }
    }
    let ts = ev.toolstack;
    let mut pinned = Vec::new();
    let mut movable = Vec::new();
    for vm in evacuate::guests(site, &host, ts)? {
        let devices = devices_of(site, &host, &vm, ts)?;
        let mapped = |b: &Bdf| {
            ev.mapping
                .as_ref()
                .is_some_and(|map| map.translate(&host, *b, &ev.to).is_ok())
        };
        if devices.is_empty() || devices.iter().all(mapped) {
            movable.push(vm);
            continue;
        }
        let config = ev
            .config_dir
            .as_ref()
            .map(|d| d.join(format!("{vm}.cfg")).display().to_string());
        if ts == Toolstack::Xl && config.is_none() {
            return Err(FlowError::Refused {
                action: format!("put {host} in maintenance"),
                reason: format!(
                    "{vm} holds {} which {} has no counterpart for, so it stays and is shut down; xl needs its xl.cfg to start it again: give --config-dir DIR (DIR/{vm}.cfg)",
                    devices.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                    ev.to
                ),
            });
        }
        pinned.push(Pinned {
            vm,
            devices,
            config,
            state: PinnedState::Running,
            note: String::new(),
        });
    }
    let mut record = Record {
        host: host.clone(),
        to: ev.to.clone(),
        toolstack: match ts {
            Toolstack::Xl => "xl".into(),
            Toolstack::Xapi => "xapi".into(),
        },
        pinned,
        state: "host-down".into(),
    };
    if m.dry_run {
        return Ok(Report {
            dry_run: true,
            record,
            moved: movable
                .into_iter()
                .map(|vm| VmResult {
                    vm,
                    result: "would move".into(),
                    mode: "-".into(),
                    reason: String::new(),
                    flow: "-".into(),
                    seconds: 0.0,
                })
                .collect(),
        });
    }
    // The shutdowns are one change on the engine (the flows' own shutdown steps), journaled in
    // the record itself: a failed shutdown starts the guests stopped before it again, and the
    // maintenance is called off with nothing moved.
    let mut steps = Vec::new();
    for p in &record.pinned {
        steps.push(match ts {
            Toolstack::Xl => Action::XlShutdown {
                host: host.clone(),
                dom: p.vm.clone(),
                config: PathBuf::from(p.config.clone().unwrap_or_default()),
                force_stop: false,
            },
            Toolstack::Xapi => {
                let xe = crate::xapi::Xe::new(site.runner);
                let vm = xe
                    .vm_lookup(&p.vm)
                    .map_err(|e| FlowError::Xe(Box::new(e)))?;
                Action::XeShutdown {
                    vm,
                    host: host.clone(),
                }
            }
        });
    }
    // Recorded only once every step is known (a VM lookup that fails leaves no record behind).
    write(ev.state_dir, &record)?;
    let names: Vec<String> = record.pinned.iter().map(|p| p.vm.clone()).collect();
    let said = |n: usize, _: usize, _: &str| {
        if let (Some(vm), Ok(mut o)) = (names.get(n.wrapping_sub(1)), out.lock()) {
            let _ = writeln!(
                o,
                "{vm}: pinned to {host} (its devices exist only there): shut down"
            );
        }
    };
    let opts = engine::Options {
        policy: UndoPolicy::ContinuePastFailure,
        progress: &said,
    };
    let mut journal = RecordJournal {
        mem: MemJournal::new(steps.len()),
        record: &mut record,
        state_dir: ev.state_dir,
    };
    let outcome =
        executor::execute(&steps, site, &mut journal, &opts).map_err(|e| FlowError::BadInput {
            what: "maintenance record".into(),
            input: record_path(ev.state_dir, &host).display().to_string(),
            expected: format!("a writable record ({e})"),
        })?;
    if let Some(failure) = outcome.failure.as_ref() {
        let (undone, stuck) = (outcome.undone(), outcome.stuck());
        if stuck.is_empty() {
            // Every guest runs as before: nothing to resume.
            let _ = std::fs::remove_file(record_path(ev.state_dir, &host));
        }
        return Err(FlowError::RolledBack {
            failure: format!("maintenance of {host}: {}", failure.text),
            undone,
            stuck,
        });
    }
    let moved = evacuate::evacuate_vms(site, ev, movable, out);
    Ok(Report {
        dry_run: false,
        record,
        moved,
    })
}

/// What `resume` did for one host's record.
#[derive(Debug, Clone, Serialize)]
pub struct Resumed {
    /// The record after the resume.
    pub record: Record,
    /// The devices whose identity did not verify (their guests stay stopped).
    pub unverified: Vec<Bdf>,
    /// Notes (identities not checked, ...).
    pub notes: Vec<String>,
}

/// After the host is back: verifies the device identities, then starts each stopped pinned
/// guest whose devices all verified and that the policy lets have them again (asked on this
/// host only); the record is `done` once every one is started.
pub fn resume(site: &Site, state_dir: &Path, rec: Record) -> Result<Resumed, FlowError> {
    let mut record = rec;
    let host = record.host.clone();
    let mut notes = Vec::new();
    let mut unverified = Vec::new();
    if site.is_local(&host) {
        let ctx = crate::hide::Ctx {
            root: &site.root,
            runner: site.runner,
        };
        match super::verify::verify(ctx, super::verify::VerifyOptions::default()) {
            Ok(v) => {
                for d in v.devices {
                    if !matches!(d.location, crate::identity::Location::Same { .. }) {
                        unverified.push(d.bdf);
                    }
                }
            }
            Err(e) => notes.push(format!("identities not verified: {e}")),
        }
    } else {
        notes.push(format!(
            "identities not verified: {host} is not this host (run `xenpci verify` there)"
        ));
    }
    let ts = if record.toolstack == "xapi" {
        Toolstack::Xapi
    } else {
        Toolstack::Xl
    };
    for i in 0..record.pinned.len() {
        let p = record.pinned[i].clone();
        if !matches!(p.state, PinnedState::Stopped | PinnedState::Held) {
            continue;
        }
        if let Some(b) = p.devices.iter().find(|b| unverified.contains(*b)) {
            record.pinned[i].state = PinnedState::Held;
            record.pinned[i].note = format!(
                "not started: {b} is not the recorded device any more (`xenpci verify --repair`, then `xenpci resume`)"
            );
            continue;
        }
        let vm = p.vm.clone();
        // The policy again, from the facts of now: a device that dom0 needs or another guest
        // took while the host was down keeps the guest stopped.
        if site.is_local(&host) {
            match super::give::check_restart(site, &host, &vm, &p.devices, ts == Toolstack::Xapi) {
                Ok(unchecked) => notes.extend(unchecked),
                Err(refused) => {
                    record.pinned[i].state = PinnedState::Held;
                    record.pinned[i].note =
                        format!("not started: {refused} (free the device, then `xenpci resume`)");
                    continue;
                }
            }
        }
        let started = match ts {
            Toolstack::Xl => {
                let cfg = p.config.clone().unwrap_or_default();
                Xl { site, host: &host }.run(&["create", &cfg])
            }
            Toolstack::Xapi => {
                let xe = crate::xapi::Xe::new(site.runner);
                xe.vm_lookup(&vm)
                    .and_then(|u| xe.start(&u, Some(&host)))
                    .map_err(|e| FlowError::Xe(Box::new(e)))
            }
        };
        match started {
            Ok(()) => {
                let now = devices_of(site, &host, &vm, ts).unwrap_or_default();
                let missing: Vec<String> = p
                    .devices
                    .iter()
                    .filter(|b| !now.contains(b))
                    .map(ToString::to_string)
                    .collect();
                record.pinned[i].state = PinnedState::Started;
                record.pinned[i].note = if missing.is_empty() {
                    "started with its devices".into()
                } else {
                    format!("started, but without {}", missing.join(", "))
                };
            }
            Err(e) => {
                record.pinned[i].state = PinnedState::Held;
                record.pinned[i].note = format!("start failed: {e}");
            }
        }
    }
    if record
        .pinned
        .iter()
        .all(|p| p.state == PinnedState::Started)
    {
        record.state = "done".into();
    }
    write(state_dir, &record)?;
    Ok(Resumed {
        record,
        unverified,
        notes,
    })
}
