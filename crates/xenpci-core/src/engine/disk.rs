//! [`DiskJournal`]: a journal kept as one JSON file, rewritten atomically
//! ([`crate::fsutil::atomic_write`]) on every change of state, so a change killed at any point
//! leaves a file that says exactly which step may be half-done. The file's shape is the
//! caller's [`Record`] (the flows keep theirs, `flows/<id>.json` under the state dir).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::journal::{Journal, JournalError, Status, StepState};
use crate::fsutil;

/// What a journal file holds: a serialisable record that knows where the change and each of
/// its steps stand.
pub trait Record: Serialize + DeserializeOwned {
    /// The change's status.
    fn status(&self) -> Status;
    /// Sets it.
    fn set_status(&mut self, status: Status);
    /// Step `i`'s state.
    fn state(&self, i: usize) -> StepState;
    /// Sets step `i`'s state, and its error when Some.
    fn set_state(&mut self, i: usize, state: StepState, error: Option<String>);
}

/// A journal file and the record it holds.
pub struct DiskJournal<R> {
    /// The record, as last written.
    pub record: R,
    path: PathBuf,
}

impl<R: Record> DiskJournal<R> {
    /// Writes `record` as a new journal at `path` (creating its directory).
    pub fn create(path: PathBuf, record: R) -> Result<DiskJournal<R>, JournalError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| JournalError::Read {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let j = DiskJournal { record, path };
        j.save()?;
        Ok(j)
    }

    /// Reads the journal at `path`.
    pub fn open(path: PathBuf) -> Result<DiskJournal<R>, JournalError> {
        let record = read(&path)?;
        Ok(DiskJournal { record, path })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file serialising runs of this change (the journal's name, `.lock`).
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
}

impl<R: Record> Journal for DiskJournal<R> {
    fn status(&self) -> Status {
        self.record.status()
    }
    fn state(&self, i: usize) -> StepState {
        self.record.state(i)
    }
    fn set_state(
        &mut self,
        i: usize,
        state: StepState,
        error: Option<String>,
    ) -> Result<(), JournalError> {
        self.record.set_state(i, state, error);
        self.save()
    }
    fn set_status(&mut self, status: Status) -> Result<(), JournalError> {
        self.record.set_status(status);
        self.save()
    }
}

/// Reads one journal file.
pub fn read<R: DeserializeOwned>(path: &Path) -> Result<R, JournalError> {
    let p = path.display().to_string();
    let text = crate::bounded_read::read_string(path, crate::bounded_read::CONFIG_LIMIT).map_err(
        |source| JournalError::Read {
            path: p.clone(),
            source,
        },
    )?;
    serde_json::from_str(&text).map_err(|source| JournalError::Parse { path: p, source })
}

/// Every `*.json` journal in `dir`, in file-name order (oldest first when names start with a
/// timestamp); none when the directory does not exist.
pub fn list<R: DeserializeOwned>(dir: &Path) -> Result<Vec<R>, JournalError> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|p| read(p)).collect()
}

/// Whether a live run holds the lock file `lock` now. A change that is not final and not held
/// was interrupted (the process died or the host rebooted): it needs `resume`.
pub fn is_held(lock: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking open, as fsutil's locks: a FIFO planted as the lock fails, never hangs.
    match std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(lock)
    {
        Ok(f) => match f.try_lock() {
            Ok(()) => false,
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(_)) => false,
        },
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Rec {
        status: Status,
        steps: Vec<(StepState, Option<String>)>,
    }

    impl Record for Rec {
        fn status(&self) -> Status {
            self.status
        }
        fn set_status(&mut self, status: Status) {
            self.status = status;
        }
        fn state(&self, i: usize) -> StepState {
            self.steps[i].0
        }
        fn set_state(&mut self, i: usize, state: StepState, error: Option<String>) {
            self.steps[i].0 = state;
            if error.is_some() {
                self.steps[i].1 = error;
            }
        }
    }

    /// Every setter is on disk when it returns (what a crash right after leaves), and a
    /// held lock marks the change as running.
    #[test]
    fn every_state_is_on_disk_and_the_lock_says_who_runs() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("changes/one.json");
        let rec = Rec {
            status: Status::Running,
            steps: vec![(StepState::Planned, None); 2],
        };
        let mut j = DiskJournal::create(path.clone(), rec).unwrap();
        j.set_state(1, StepState::Failed, Some("boom".into()))
            .unwrap();
        j.set_status(Status::RollingBack).unwrap();
        let again: DiskJournal<Rec> = DiskJournal::open(path.clone()).unwrap();
        assert_eq!(again.status(), Status::RollingBack);
        assert_eq!(
            again.record.steps[1],
            (StepState::Failed, Some("boom".into()))
        );
        assert_eq!(list::<Rec>(&d.path().join("changes")).unwrap().len(), 1);
        assert!(list::<Rec>(&d.path().join("none")).unwrap().is_empty());
        assert!(!is_held(&j.lock_path()));
        let lock = crate::fsutil::lock(&j.lock_path()).unwrap();
        assert!(is_held(&j.lock_path()));
        drop(lock);
        assert!(!is_held(&j.lock_path()));
        std::fs::write(&path, "{").unwrap();
        assert!(matches!(
            DiskJournal::<Rec>::open(path),
            Err(JournalError::Parse { .. })
        ));
    }
}
