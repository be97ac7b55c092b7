//! The journal of a [`Plan`](crate::plan::Plan) that changes more than one file (grub.cfg and
//! `/etc/default/grub`) or that has two steps or more and records its request (hide/unhide):
//! before the first step, every file's content before and after, and the request, are written
//! (atomically) to `<root>/var/lib/xenpci/plan-journal.json`; it is removed once the plan is
//! done or rolled back. A run killed in between leaves it. `xenpci resume` then makes the
//! request again from where the run stopped ([`read_checked`], [`Resuming`]); the next hide/unhide,
//! or `xenpci resume --rollback` ([`recover`], under the hide lock), rolls the files back to
//! their old content first, so the files never disagree for longer than one run (`update-grub`
//! regenerating grub.cfg from a defaults file without the hide list would drop it).
//!
//! The file is the change engine's on-disk journal of that plan ([`crate::engine::DiskJournal`]
//! over [`PlanRecord`]): besides the files it holds the plan's status and every step's state,
//! rewritten atomically before and after each step. Journals without them (earlier versions)
//! still read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::{self, DiskJournal, JournalError, Status, StepState};
use crate::fsutil::{self, WriteError};
use crate::host::HostRoot;

/// Why the journal could not be written, read or replayed.
#[derive(Debug, thiserror::Error)]
pub enum PlanJournalError {
    /// Writing or removing the journal, or restoring a file, failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The journal is not what xenpci writes.
    #[error(
        "{path} is not a plan journal ({source}); move it away once the files it names are checked"
    )]
    Parse {
        /// The journal.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A file holds neither its old nor its new content: something else changed it.
    #[error(
        "{file} was changed since an interrupted xenpci run (recorded in {journal}); it holds neither \
         the content before nor after that run, so it is left alone: check it, then remove {journal}"
    )]
    Conflict {
        /// The file (host path).
        file: PathBuf,
        /// The journal (host path).
        journal: PathBuf,
    },
}

/// One file of the plan: its content before and after (None: absent).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileChange {
    /// Host path.
    pub path: PathBuf,
    /// Before the plan.
    pub old: Option<String>,
    /// After the plan.
    pub new: Option<String>,
}

/// What the journal holds: the plan's title, its files before and after, where the plan and
/// each of its steps stand, and the request that made the plan (what `xenpci resume` runs
/// again to finish it; opaque here, see [`crate::plan::Plan::request`]).
#[derive(Debug, Serialize, Deserialize)]
pub struct PlanRecord {
    title: String,
    files: Vec<FileChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request: Option<serde_json::Value>,
    #[serde(default = "running")]
    status: Status,
    #[serde(default)]
    steps: Vec<StepState>,
}

fn running() -> Status {
    Status::Running
}

impl engine::Record for PlanRecord {
    fn status(&self) -> Status {
        self.status
    }
    fn set_status(&mut self, status: Status) {
        self.status = status;
    }
    fn state(&self, i: usize) -> StepState {
        self.steps.get(i).copied().unwrap_or(StepState::Planned)
    }
    fn set_state(&mut self, i: usize, state: StepState, _error: Option<String>) {
        if let Some(s) = self.steps.get_mut(i) {
            *s = state;
        }
    }
}

/// Where the journal of `root` lives (host path).
pub const PATH: &str = "/var/lib/xenpci/plan-journal.json";

/// Writes the journal for `files` of a plan of `steps` steps, every step planned (the caller
/// holds the lock serialising plans); the engine then journals each step through it.
pub fn begin(
    root: &HostRoot,
    title: &str,
    files: &[FileChange],
    steps: usize,
    request: Option<&serde_json::Value>,
) -> Result<DiskJournal<PlanRecord>, WriteError> {
    let path = root.path(PATH);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| WriteError::Io {
            what: "create the directory of",
            path: path.clone(),
            source,
        })?;
    }
    let rec = PlanRecord {
        title: title.to_string(),
        files: files.to_vec(),
        request: request.cloned(),
        status: Status::Running,
        steps: vec![StepState::Planned; steps],
    };
    DiskJournal::create(path, rec).map_err(|e| match e {
        JournalError::Write { source, .. } => source,
        other => WriteError::Io {
            what: "write",
            path: root.path(PATH),
            source: std::io::Error::other(other.to_string()),
        },
    })
}

/// Removes the journal (the plan is done or fully undone).
pub fn end(root: &HostRoot) -> Result<(), WriteError> {
    let path = root.path(PATH);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(WriteError::Io {
            what: "remove",
            path,
            source,
        }),
    }
}

/// The title of the plan whose journal is there (a run holds it, or one was interrupted), for
/// `xenpci status`; an unreadable journal is named by its path.
pub fn pending(root: &HostRoot) -> Option<String> {
    let text = fsutil::read_text(&root.path(PATH)).ok()??;
    Some(
        serde_json::from_str::<PlanRecord>(&text)
            .map(|r| r.title)
            .unwrap_or_else(|_| format!("(unreadable {PATH})")),
    )
}

thread_local! {
    /// The files of the journal being resumed on this thread (see [`Resuming`]).
    static RESUMING: std::cell::RefCell<Option<Vec<FileChange>>> =
        const { std::cell::RefCell::new(None) };
}

/// While alive, this thread is resuming an interrupted plan whose journal is still in place
/// and whose hide lock the caller holds ([`crate::ops::give::resume_hide`]): the hide run made
/// meanwhile takes no lock of its own and rolls nothing back ([`resuming`]), and its plan's
/// journal replaces the old one with every file's content from before the *interrupted* run
/// ([`crate::plan::Plan::execute_journaled`]), kept until that plan is done.
pub struct Resuming(());

impl Resuming {
    /// Marks this thread as resuming the journal whose files are `files`.
    pub fn begin(files: Vec<FileChange>) -> Resuming {
        RESUMING.with(|r| *r.borrow_mut() = Some(files));
        Resuming(())
    }
}

impl Drop for Resuming {
    fn drop(&mut self) {
        RESUMING.with(|r| *r.borrow_mut() = None);
    }
}

/// The files of the journal this thread is resuming (None: not resuming).
pub fn resuming() -> Option<Vec<FileChange>> {
    RESUMING.with(|r| r.borrow().clone())
}

/// The resumed plan's record has been carried by a plan that is done: later plans of the same
/// resumed request (a VF's udev rules after its live part) journal only their own files.
pub fn resumed_done() {
    RESUMING.with(|r| {
        if let Some(files) = r.borrow_mut().as_mut() {
            files.clear();
        }
    });
}

/// An interrupted plan's journal as [`read_checked`] reads it: its title, its files (content
/// before and after), and the request it recorded.
pub type Pending = (String, Vec<FileChange>, Option<serde_json::Value>);

/// The journal's title, files and recorded request, read without changing anything (None: no
/// journal). Every file must hold its content from before or after the plan: one that holds
/// anything else is a [`PlanJournalError::Conflict`] (something else changed it; the journal
/// is left for the admin).
pub fn read_checked(root: &HostRoot) -> Result<Option<Pending>, PlanJournalError> {
    let path = root.path(PATH);
    let Some(text) = fsutil::read_text(&path)? else {
        return Ok(None);
    };
    let rec: PlanRecord =
        serde_json::from_str(&text).map_err(|source| PlanJournalError::Parse {
            path: PathBuf::from(PATH),
            source,
        })?;
    for f in &rec.files {
        let now = fsutil::read_text(&root.path(&f.path))?;
        if now != f.old && now != f.new {
            return Err(PlanJournalError::Conflict {
                file: f.path.clone(),
                journal: PathBuf::from(PATH),
            });
        }
    }
    Ok(Some((rec.title, rec.files, rec.request)))
}

/// Rolls back the files of an interrupted plan, if its journal is there: every file that holds
/// its new content gets its old content back (a file already old is left), then the journal is
/// removed. Returns what was done, in words (None: no journal). A file holding anything else is
/// a [`PlanJournalError::Conflict`] and nothing is changed.
pub fn recover(root: &HostRoot) -> Result<Option<String>, PlanJournalError> {
    let Some((title, files, _)) = read_checked(root)? else {
        return Ok(None);
    };
    let mut restored = Vec::new();
    for f in files.iter().rev() {
        let real = root.path(&f.path);
        if fsutil::read_text(&real)? != f.old {
            restore(&real, f.old.as_deref())?;
            restored.push(f.path.display().to_string());
        }
    }
    end(root)?;
    Ok(Some(if restored.is_empty() {
        format!("an interrupted '{title}' had changed no file yet; its journal was removed")
    } else {
        format!(
            "an interrupted '{title}' was rolled back: {} restored",
            restored.join(", ")
        )
    }))
}

fn restore(real: &Path, old: Option<&str>) -> Result<(), WriteError> {
    match old {
        Some(o) => fsutil::atomic_write(real, o.as_bytes(), false).map(drop),
        None => match std::fs::remove_file(real) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(WriteError::Io {
                what: "remove",
                path: real.to_path_buf(),
                source,
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &str, old: &str, new: &str) -> FileChange {
        FileChange {
            path: path.into(),
            old: Some(old.into()),
            new: Some(new.into()),
        }
    }

    #[test]
    fn an_interrupted_plan_is_rolled_back_and_a_foreign_edit_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let root = HostRoot::new(d.path());
        std::fs::create_dir_all(root.path("/etc")).unwrap();
        std::fs::write(root.path("/etc/a"), "new a\n").unwrap();
        std::fs::write(root.path("/etc/b"), "old b\n").unwrap();
        let files = [
            change("/etc/a", "old a\n", "new a\n"),
            change("/etc/b", "old b\n", "new b\n"),
        ];
        let req = serde_json::json!({"op": "hide", "devices": ["0000:05:00.0"]});
        begin(&root, "hide x", &files, 2, Some(&req)).unwrap();
        assert_eq!(
            read_checked(&root).unwrap().unwrap().2,
            Some(req),
            "the request reads back"
        );
        let said = recover(&root).unwrap().unwrap();
        assert!(said.contains("/etc/a restored"), "{said}");
        assert_eq!(
            std::fs::read_to_string(root.path("/etc/a")).unwrap(),
            "old a\n"
        );
        assert!(!root.path(PATH).exists());
        assert_eq!(recover(&root).unwrap(), None);
        begin(&root, "hide x", &files, 2, None).unwrap();
        assert_eq!(read_checked(&root).unwrap().unwrap().2, None);
        std::fs::write(root.path("/etc/b"), "someone\n").unwrap();
        assert!(matches!(
            recover(&root),
            Err(PlanJournalError::Conflict { .. })
        ));
        assert!(root.path(PATH).exists(), "kept for the admin");
    }
}
