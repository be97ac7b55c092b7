//! The flow journal: one JSON file per flow under the state dir (`--state-dir`,
//! `XENPCI_STATE_DIR`, default `<root>/var/lib/xenpci`), at `flows/<id>.json`. Every step is
//! written twice — its intent before acting, its outcome after — with an atomic write
//! (`fsutil::atomic_write`), so a flow killed at any point leaves a file that says exactly which
//! step may be half-done. `xenpci resume` and `xenpci status` read these files. The change
//! engine ([`crate::engine`]) writes it through [`engine::Journal`], implemented here over this
//! file format (unchanged, so journals of earlier versions still resume).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::steps::Action;
use crate::engine::{self, disk};
use crate::fsutil;

pub use crate::engine::{JournalError, Status as FlowStatus, StepState};

/// One step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// 1-based number.
    pub n: usize,
    /// What it does.
    pub action: Action,
    /// Where it stands.
    pub state: StepState,
    /// The error of a failed step or undo.
    #[serde(default)]
    pub error: Option<String>,
}

/// One flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowRecord {
    /// `<time>-<kind>-<vm>-<pid>`.
    pub id: String,
    /// `migrate`, `detach-all`, `reattach`.
    pub kind: String,
    /// The VM.
    pub vm: String,
    /// Source host.
    pub from: String,
    /// Target host.
    pub to: String,
    /// How: `hot` (detach, migrate, attach), `cold` (shut down, start on the target), `live`.
    pub mode: String,
    /// Status.
    pub status: FlowStatus,
    /// Steps in order.
    pub steps: Vec<Step>,
    /// What was said to the user up front, and what happened.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Started at (UTC, fsutil::timestamp).
    pub started: String,
}

/// An open journal file.
pub struct Journal {
    /// The record.
    pub record: FlowRecord,
    path: PathBuf,
}

/// The default state dir under a host root.
pub fn default_state_dir(root: &crate::host::HostRoot) -> PathBuf {
    root.path("/var/lib/xenpci")
}

fn flows_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("flows")
}

impl Journal {
    /// Creates the journal of a new flow and writes it (every step `Planned`).
    pub fn create(state_dir: &Path, mut record: FlowRecord) -> Result<Journal, JournalError> {
        let safe: String = record
            .vm
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        record.id = format!(
            "{}-{}-{safe}-{}",
            fsutil::timestamp(),
            record.kind,
            std::process::id()
        );
        let dir = flows_dir(state_dir);
        std::fs::create_dir_all(&dir).map_err(|source| JournalError::Read {
            path: dir.display().to_string(),
            source,
        })?;
        let path = dir.join(format!("{}.json", record.id));
        let j = Journal { record, path };
        j.save()?;
        Ok(j)
    }

    /// Opens flow `id`.
    pub fn open(state_dir: &Path, id: &str) -> Result<Journal, JournalError> {
        let path = flows_dir(state_dir).join(format!("{id}.json"));
        if !path.exists() {
            return Err(JournalError::NotFound {
                id: id.into(),
                dir: flows_dir(state_dir).display().to_string(),
            });
        }
        let record = read(&path)?;
        Ok(Journal { record, path })
    }

    /// Whether a live xenpci run holds flow `id`'s lock now. A flow that is not final and not
    /// held was interrupted (the process died or the host rebooted): it needs `resume`.
    pub fn is_held(state_dir: &Path, id: &str) -> bool {
        disk::is_held(&flows_dir(state_dir).join(format!("{id}.lock")))
    }

    /// Every flow in the state dir, oldest first.
    pub fn list(state_dir: &Path) -> Result<Vec<FlowRecord>, JournalError> {
        disk::list(&flows_dir(state_dir))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file serialising runs of this flow.
    pub fn lock_path(&self) -> PathBuf {
        self.path.with_extension("lock")
    }

    /// Writes the record (atomic).
    pub fn save(&self) -> Result<(), JournalError> {
        let text = serde_json::to_string_pretty(&self.record).expect("journal serialises");
        fsutil::atomic_write(&self.path, text.as_bytes(), false)
            .map(|_| ())
            .map_err(|source| JournalError::Write {
                path: self.path.display().to_string(),
                source,
            })
    }

    /// Sets step `i` (0-based) and writes.
    pub fn set(
        &mut self,
        i: usize,
        state: StepState,
        error: Option<String>,
    ) -> Result<(), JournalError> {
        self.record.steps[i].state = state;
        if error.is_some() {
            self.record.steps[i].error = error;
        }
        self.save()
    }

    /// Sets the flow status and writes.
    pub fn status(&mut self, status: FlowStatus) -> Result<(), JournalError> {
        self.record.status = status;
        self.save()
    }
}

fn read(path: &Path) -> Result<FlowRecord, JournalError> {
    disk::read(path)
}

impl engine::Journal for Journal {
    fn status(&self) -> FlowStatus {
        self.record.status
    }
    fn state(&self, i: usize) -> StepState {
        self.record.steps[i].state
    }
    fn set_state(
        &mut self,
        i: usize,
        state: StepState,
        error: Option<String>,
    ) -> Result<(), JournalError> {
        self.set(i, state, error)
    }
    fn set_status(&mut self, status: FlowStatus) -> Result<(), JournalError> {
        self.status(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flow whose lock a run holds is running; once the holder is gone (a crash drops the
    /// lock with the process) it is not, and `status` calls it interrupted.
    #[test]
    fn a_flow_is_held_only_while_its_lock_is() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::create(dir.path(), record()).unwrap();
        let id = j.record.id.clone();
        assert!(!Journal::is_held(dir.path(), &id), "no lock file yet");
        let lock = crate::fsutil::lock(&j.lock_path()).unwrap();
        assert!(Journal::is_held(dir.path(), &id));
        drop(lock);
        assert!(!Journal::is_held(dir.path(), &id));
    }

    fn record() -> FlowRecord {
        FlowRecord {
            id: String::new(),
            kind: "migrate".into(),
            vm: "vm 1".into(),
            from: "h1".into(),
            to: "h2".into(),
            mode: "hot".into(),
            status: FlowStatus::Running,
            steps: vec![Step {
                n: 1,
                action: Action::XlMigrate {
                    from: "h1".into(),
                    to: "h2".into(),
                    dom: "vm 1".into(),
                },
                state: StepState::Planned,
                error: None,
            }],
            notes: vec![],
            started: fsutil::timestamp(),
        }
    }

    #[test]
    fn create_set_reopen_list() {
        let d = tempfile::tempdir().unwrap();
        let mut j = Journal::create(d.path(), record()).unwrap();
        assert!(j.record.id.contains("-migrate-vm_1-"));
        j.set(0, StepState::Started, None).unwrap();
        let again = Journal::open(d.path(), &j.record.id).unwrap();
        assert_eq!(again.record.steps[0].state, StepState::Started);
        assert_eq!(Journal::list(d.path()).unwrap().len(), 1);
        assert!(matches!(
            Journal::open(d.path(), "nope"),
            Err(JournalError::NotFound { .. })
        ));
    }
}
