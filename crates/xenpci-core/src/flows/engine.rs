//! Starts and resumes journaled flows on the change engine ([`crate::engine::executor`]): for
//! each step, journal the intent, act, journal the outcome; on a failed step, undo the completed
//! steps in reverse, stopping at the first undo that fails (undoing out of order could lose a
//! device). `resume` settles a step whose outcome was not journaled by looking at the hosts
//! ([`Action::is_done`], the step's probe), then finishes the flow — or, if it was rolling back
//! or a step fails, rolls it back to where it started. The crash test hooks
//! (`XENPCI_CRASH_*_STEP`, feature `fault-injection`) are the executor's.

use serde::Serialize;

use super::journal::{FlowStatus, Journal, JournalError};
use super::steps::Action;
use super::transport::Site;
use super::FlowError;
use crate::engine::{self, executor, Probe, UndoPolicy};

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
    let record = super::journal::FlowRecord {
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
            .map(|(i, a)| super::journal::Step {
                n: i + 1,
                action: a.clone(),
                state: engine::StepState::Planned,
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
    let steps = actions(journal);
    let opts = engine::Options {
        policy: UndoPolicy::StopAtFirstFailure,
        progress,
    };
    let out = executor::execute(&steps, site, journal, &opts).map_err(j)?;
    Ok(outcome(journal, out))
}

/// Undoes every step that is (or may be) done, last first.
pub fn rollback(
    site: &Site,
    journal: &mut Journal,
    failure: Option<String>,
) -> Result<Outcome, FlowError> {
    let steps = actions(journal);
    let opts = engine::Options::new(UndoPolicy::StopAtFirstFailure);
    let out = executor::rollback(&steps, site, journal, None, &opts).map_err(j)?;
    let mut o = outcome(journal, out);
    o.failure = failure;
    Ok(o)
}

fn actions(journal: &Journal) -> Vec<Action> {
    journal
        .record
        .steps
        .iter()
        .map(|s| s.action.clone())
        .collect()
}

fn outcome(journal: &Journal, out: engine::Outcome<FlowError>) -> Outcome {
    Outcome {
        id: journal.record.id.clone(),
        status: out.status,
        undone: out.undone(),
        stuck: out.stuck(),
        failure: out.failure.map(|f| f.text),
    }
}

/// A flow step on the change engine: the action's own perform, check and undo.
impl engine::Step<Site<'_>> for Action {
    type Error = FlowError;

    fn describe(&self) -> String {
        self.to_string()
    }

    fn perform(&self, site: &Site) -> Result<(), FlowError> {
        Action::perform(self, site)
    }

    fn probe(&self, site: &Site) -> Probe {
        Probe::from_check(self.is_done(site))
    }

    fn undo(&self, site: &Site) -> Result<(), FlowError> {
        Action::undo(self, site)
    }
}
