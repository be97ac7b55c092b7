//! The change engine: every multi-step change xenpci makes to a host is a [`Plan`] of
//! [`Step`]s, run by one [`executor`] that journals each step's intent before acting and its
//! outcome after, stops between steps when SIGINT/SIGTERM arrived ([`crate::interrupt`]), and on
//! a failure undoes the steps done, last first, under one of two [`UndoPolicy`]s. A [`Journal`]
//! holds where each step stands: [`MemJournal`] for a change that need not survive the process,
//! [`DiskJournal`] (one JSON file, written atomically) for one that `xenpci resume` must be able
//! to finish or roll back after a crash; [`change`] keeps such journals for assign/unassign under
//! the state dir. On resume, a step whose outcome was not journaled is settled by its
//! [`Step::probe`] (done / not done / unknown).

pub mod change;
pub mod disk;
pub mod executor;
pub mod journal;
pub mod plan;
pub mod step;

pub use disk::{DiskJournal, Record};
pub use executor::{Failure, Options, Outcome, Undo, UndoPolicy, UndoResult};
pub use journal::{Journal, JournalError, MemJournal, Status, StepState};
pub use plan::{Fact, Plan, Planned};
pub use step::{Probe, Step};
