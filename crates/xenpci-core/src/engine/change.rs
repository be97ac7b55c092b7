//! The on-disk journal of a change that is not a flow (assign, unassign): one JSON file per
//! change at `<state dir>/changes/<id>.json`, a [`ChangeRecord`] of the plan's steps and where
//! each stands, written through [`DiskJournal`] (atomic, every state on disk before the next
//! act). `xenpci status` lists these files and `xenpci resume` finishes or rolls them back.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::disk::{self, DiskJournal, Record};
use super::journal::{JournalError, Status, StepState};
use super::plan::Plan;
use crate::fsutil;

/// One step of a journaled change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeStep<S> {
    /// 1-based number.
    pub n: usize,
    /// What it does.
    pub step: S,
    /// Why it is there.
    pub why: String,
    /// Its description ([`super::Step::describe`]), for `status`.
    pub what: String,
    /// Where it stands.
    pub state: StepState,
    /// The error of a failed step or undo.
    #[serde(default)]
    pub error: Option<String>,
}

/// One journaled change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeRecord<S> {
    /// `<time>-<kind>-<subject>-<pid>`.
    pub id: String,
    /// `assign`, `unassign`, ...
    pub kind: String,
    /// What it changes (the plan's title).
    pub title: String,
    /// Where it stands.
    pub status: Status,
    /// The steps in order.
    pub steps: Vec<ChangeStep<S>>,
    /// The plan's notes.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Started at (UTC, fsutil::timestamp).
    pub started: String,
}

impl<S: Serialize + DeserializeOwned> Record for ChangeRecord<S> {
    fn status(&self) -> Status {
        self.status
    }
    fn set_status(&mut self, status: Status) {
        self.status = status;
    }
    fn state(&self, i: usize) -> StepState {
        self.steps[i].state
    }
    fn set_state(&mut self, i: usize, state: StepState, error: Option<String>) {
        self.steps[i].state = state;
        if error.is_some() {
            self.steps[i].error = error;
        }
    }
}

/// Where the change journals of a state dir live.
pub fn changes_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("changes")
}

/// The journal file of change `id`.
pub fn path_of(state_dir: &Path, id: &str) -> PathBuf {
    changes_dir(state_dir).join(format!("{id}.json"))
}

/// Writes the journal of a new change of `kind` about `subject` (a VM, a device) for `plan`,
/// every step planned. `describe` gives each step's one-line description.
pub fn create<S: Serialize + DeserializeOwned + Clone>(
    state_dir: &Path,
    kind: &str,
    subject: &str,
    plan: &Plan<S>,
    describe: impl Fn(&S) -> String,
) -> Result<DiskJournal<ChangeRecord<S>>, JournalError> {
    let safe: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let id = format!(
        "{}-{kind}-{safe}-{}",
        fsutil::timestamp(),
        std::process::id()
    );
    let record = ChangeRecord {
        id: id.clone(),
        kind: kind.to_string(),
        title: plan.title.clone(),
        status: Status::Running,
        steps: plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, p)| ChangeStep {
                n: i + 1,
                what: describe(&p.step),
                step: p.step.clone(),
                why: p.why.clone(),
                state: StepState::Planned,
                error: None,
            })
            .collect(),
        notes: plan.notes.clone(),
        started: fsutil::timestamp(),
    };
    DiskJournal::create(path_of(state_dir, &id), record)
}

/// Opens change `id`.
pub fn open<S: Serialize + DeserializeOwned>(
    state_dir: &Path,
    id: &str,
) -> Result<DiskJournal<ChangeRecord<S>>, JournalError> {
    let path = path_of(state_dir, id);
    if !path.exists() {
        return Err(JournalError::NotFound {
            id: id.into(),
            dir: changes_dir(state_dir).display().to_string(),
        });
    }
    DiskJournal::open(path)
}

/// Every change in the state dir, oldest first, its steps as plain JSON (the kinds differ).
pub fn list(state_dir: &Path) -> Result<Vec<ChangeRecord<serde_json::Value>>, JournalError> {
    disk::list(&changes_dir(state_dir))
}

/// Whether a live run holds change `id`'s lock now (see [`disk::is_held`]).
pub fn is_held(state_dir: &Path, id: &str) -> bool {
    disk::is_held(&path_of(state_dir, id).with_extension("lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_list_and_open() {
        let d = tempfile::tempdir().unwrap();
        let mut plan: Plan<String> = Plan::new("t");
        plan.push("a".to_string(), "because");
        let j = create(d.path(), "assign", "vm 1", &plan, |s| format!("do {s}")).unwrap();
        assert!(j.record.id.contains("-assign-vm_1-"), "{}", j.record.id);
        let all = list(d.path()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].steps[0].what, "do a");
        let again: DiskJournal<ChangeRecord<String>> = open(d.path(), &j.record.id).unwrap();
        assert_eq!(again.record.steps[0].step, "a");
        assert!(matches!(
            open::<String>(d.path(), "nope"),
            Err(JournalError::NotFound { .. })
        ));
    }
}
