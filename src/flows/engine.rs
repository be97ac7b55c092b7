//! Runs a journaled flow: for each step, journal the intent, act, journal the outcome. On a
//! failed step, undo the completed steps in reverse (journaling each) and report what was undone.
//! `resume` settles a step whose outcome was not journaled by looking at the hosts
//! ([`Action::is_done`]), then finishes the flow — or, if it was rolling back or a step fails,
//! rolls it back to where it started.
//!
//! Test hooks (only with the `fault-injection` feature): `XENPCI_CRASH_AFTER_STEP=N` exits abruptly (status 137, no cleanup) right after
//! step N's outcome is journaled; `XENPCI_CRASH_BEFORE_STEP=N` right after its intent.

use serde::Serialize;

use crate::journal::{FlowStatus, Journal, JournalError, StepState};

use super::transport::Site;
use super::FlowError;

/// What a run of a flow ended with.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Flow id.
    pub id: String,
    /// Final status.
    pub status: FlowStatus,
    /// The step that failed and why.
    pub failure: Option<String>,
    /// Steps undone, in the order they were undone.
    pub undone: Vec<String>,
    /// Undos that failed.
    pub stuck: Vec<String>,
}

/// Journals a new flow for `plan` and runs it (holding the flow's lock).
pub fn start(
    site: &Site,
    state_dir: &std::path::Path,
    kind: &str,
    plan: &super::migrate::Plan,
) -> Result<Outcome, FlowError> {
    start_observed(site, state_dir, kind, plan, &|_, _, _| {})
}

/// [`start`], reporting each finished step to `progress`.
pub fn start_observed(
    site: &Site,
    state_dir: &std::path::Path,
    kind: &str,
    plan: &super::migrate::Plan,
    progress: Progress,
) -> Result<Outcome, FlowError> {
    let record = crate::journal::FlowRecord {
        id: String::new(),
        kind: kind.to_string(),
        vm: plan.vm.clone(),
        from: plan.from.clone(),
        to: plan.to.clone(),
        mode: plan.mode.clone(),
        status: FlowStatus::Running,
        steps: plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, a)| crate::journal::Step {
                n: i + 1,
                action: a.clone(),
                state: StepState::Planned,
                error: None,
            })
            .collect(),
        notes: plan.notes.clone(),
        started: crate::fsutil::timestamp(),
    };
    let mut journal = Journal::create(state_dir, record).map_err(j)?;
    let _lock = crate::fsutil::lock(&journal.lock_path()).map_err(|e| FlowError::NotVerified {
        detail: format!("journal lock: {e}"),
    })?;
    execute_observed(site, &mut journal, progress)
}

/// Resumes flow `id`: finishes it, or rolls it back when `rollback` (or when it was rolling back).
pub fn resume(
    site: &Site,
    state_dir: &std::path::Path,
    id: &str,
    rollback_only: bool,
) -> Result<Outcome, FlowError> {
    let probe = Journal::open(state_dir, id).map_err(j)?;
    let _lock = crate::fsutil::lock(&probe.lock_path()).map_err(|e| FlowError::NotVerified {
        detail: format!("journal lock: {e}"),
    })?;
    let mut journal = Journal::open(state_dir, id).map_err(j)?;
    if journal.record.status.is_final() {
        return Ok(Outcome {
            id: id.into(),
            status: journal.record.status,
            failure: None,
            undone: vec![],
            stuck: vec![],
        });
    }
    if rollback_only || journal.record.status == FlowStatus::Stuck {
        return rollback(site, &mut journal, None);
    }
    execute(site, &mut journal)
}

/// The crash test hooks (see the module header), compiled only with the `fault-injection`
/// feature: the packages are built without it.
#[cfg(feature = "fault-injection")]
fn crash_hook(var: &str, n: usize) {
    if std::env::var(var)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        == Some(n)
    {
        eprintln!("xenpci: {var}={n}: exiting abruptly (test hook)");
        std::process::exit(137);
    }
}

#[cfg(not(feature = "fault-injection"))]
fn crash_hook(_var: &str, _n: usize) {}

fn j(e: JournalError) -> FlowError {
    FlowError::NotVerified {
        detail: format!("journal: {e}"),
    }
}

/// Called after each step is done: (steps done, total steps, the step).
pub type Progress<'a> = &'a (dyn Fn(usize, usize, &str) + Sync);

/// Runs (or continues) the flow forward; rolls back on failure.
pub fn execute(site: &Site, journal: &mut Journal) -> Result<Outcome, FlowError> {
    execute_observed(site, journal, &|_, _, _| {})
}

/// [`execute`], reporting each finished step to `progress`.
pub fn execute_observed(
    site: &Site,
    journal: &mut Journal,
    progress: Progress,
) -> Result<Outcome, FlowError> {
    let total = journal.record.steps.len();
    if journal.record.status == FlowStatus::RollingBack {
        return rollback(site, journal, None);
    }
    for i in 0..journal.record.steps.len() {
        let step = journal.record.steps[i].clone();
        match step.state {
            StepState::Done => continue,
            StepState::Started | StepState::Failed => {
                // the outcome is unknown: look
                if step.action.is_done(site).ok().flatten() == Some(true) {
                    journal.set(i, StepState::Done, None).map_err(j)?;
                    continue;
                }
            }
            StepState::Undoing | StepState::Undone => return rollback(site, journal, None),
            StepState::Planned => {}
        }
        if crate::interrupt::requested() {
            // Stopped between steps by a signal: undone like a failed step.
            let msg = format!(
                "step {} ({}): {}",
                step.n,
                step.action,
                crate::interrupt::STOPPED
            );
            return rollback(site, journal, Some(msg));
        }
        journal.set(i, StepState::Started, None).map_err(j)?;
        crash_hook("XENPCI_CRASH_BEFORE_STEP", step.n);
        match step.action.perform(site) {
            Ok(()) => {
                journal.set(i, StepState::Done, None).map_err(j)?;
                crash_hook("XENPCI_CRASH_AFTER_STEP", step.n);
                progress(step.n, total, &step.action.to_string());
            }
            Err(e) => {
                let msg = format!("step {} ({}) failed: {e}", step.n, step.action);
                journal
                    .set(i, StepState::Failed, Some(e.to_string()))
                    .map_err(j)?;
                return rollback(site, journal, Some(msg));
            }
        }
    }
    journal.status(FlowStatus::Done).map_err(j)?;
    Ok(Outcome {
        id: journal.record.id.clone(),
        status: FlowStatus::Done,
        failure: None,
        undone: Vec::new(),
        stuck: Vec::new(),
    })
}

/// Undoes every step that is (or may be) done, last first.
pub fn rollback(
    site: &Site,
    journal: &mut Journal,
    failure: Option<String>,
) -> Result<Outcome, FlowError> {
    journal.status(FlowStatus::RollingBack).map_err(j)?;
    let mut undone = Vec::new();
    let mut stuck = Vec::new();
    for i in (0..journal.record.steps.len()).rev() {
        let step = journal.record.steps[i].clone();
        let needs = match step.state {
            StepState::Planned | StepState::Undone => false,
            StepState::Done | StepState::Undoing => true,
            // may have happened in part: undo is conditional on what is found
            StepState::Started | StepState::Failed => {
                step.action.is_done(site).ok().flatten() != Some(false)
            }
        };
        if !needs {
            continue;
        }
        journal.set(i, StepState::Undoing, None).map_err(j)?;
        match step.action.undo(site) {
            Ok(()) => {
                journal.set(i, StepState::Undone, None).map_err(j)?;
                undone.push(format!("step {}: {}", step.n, step.action));
            }
            Err(e) => {
                let msg = format!("undo of step {} ({}) failed: {e}", step.n, step.action);
                journal
                    .set(i, StepState::Undoing, Some(msg.clone()))
                    .map_err(j)?;
                stuck.push(msg);
                // earlier steps stay done: undoing them out of order could lose a device
                break;
            }
        }
    }
    let status = if stuck.is_empty() {
        FlowStatus::RolledBack
    } else {
        FlowStatus::Stuck
    };
    journal.status(status).map_err(j)?;
    Ok(Outcome {
        id: journal.record.id.clone(),
        status,
        failure,
        undone,
        stuck,
    })
}
