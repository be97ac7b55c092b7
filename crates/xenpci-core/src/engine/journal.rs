//! The [`Journal`] interface the executor writes through (where the change and each step
//! stand), and [`MemJournal`], the implementation for a change that need not outlive the
//! process. [`super::DiskJournal`] is the one that survives a crash.

use serde::{Deserialize, Serialize};

use crate::fsutil;

/// Why a journal cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Write failed.
    #[error("cannot write journal {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        source: fsutil::WriteError,
    },
    /// Read failed.
    #[error("cannot read journal {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a journal.
    #[error("journal {path} is not valid: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        source: serde_json::Error,
    },
    /// No such change.
    #[error("no flow {id:?} in {dir} (xenpci status lists them)")]
    NotFound {
        /// The id asked for.
        id: String,
        /// The state dir.
        dir: String,
    },
}

/// Where a change stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Steps are being done (or the process died while doing them).
    Running,
    /// A step failed; completed steps are being undone.
    RollingBack,
    /// Every step done.
    Done,
    /// Every completed step undone: back where it started.
    RolledBack,
    /// An undo failed too: needs a human (the message says what is where).
    Stuck,
}

impl Status {
    /// Finished one way or the other.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Done | Status::RolledBack)
    }
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    /// Not started.
    Planned,
    /// Intent written: it may or may not have happened.
    Started,
    /// Done and verified.
    Done,
    /// Failed (see its error).
    Failed,
    /// Its undo started.
    Undoing,
    /// Undone.
    Undone,
}

/// Where a change and its steps stand; every setter persists before it returns, so what it
/// says is what a crash right after would leave.
pub trait Journal {
    /// The change's status.
    fn status(&self) -> Status;
    /// Step `i`'s state (0-based).
    fn state(&self, i: usize) -> StepState;
    /// Sets step `i`'s state, and its error when `error` is Some (an earlier error is kept
    /// otherwise).
    fn set_state(
        &mut self,
        i: usize,
        state: StepState,
        error: Option<String>,
    ) -> Result<(), JournalError>;
    /// Sets the change's status.
    fn set_status(&mut self, status: Status) -> Result<(), JournalError>;
}

/// A journal held in memory only (a crash loses it).
#[derive(Debug, Clone)]
pub struct MemJournal {
    /// The change's status.
    pub status: Status,
    /// Each step's state and last error.
    pub steps: Vec<(StepState, Option<String>)>,
}

impl MemJournal {
    /// A running change of `n` planned steps.
    pub fn new(n: usize) -> MemJournal {
        MemJournal {
            status: Status::Running,
            steps: vec![(StepState::Planned, None); n],
        }
    }
}

impl Journal for MemJournal {
    fn status(&self) -> Status {
        self.status
    }
    fn state(&self, i: usize) -> StepState {
        self.steps[i].0
    }
    fn set_state(
        &mut self,
        i: usize,
        state: StepState,
        error: Option<String>,
    ) -> Result<(), JournalError> {
        self.steps[i].0 = state;
        if error.is_some() {
            self.steps[i].1 = error;
        }
        Ok(())
    }
    fn set_status(&mut self, status: Status) -> Result<(), JournalError> {
        self.status = status;
        Ok(())
    }
}
