//! Runs the steps of a plan through a [`Journal`]: for each step, journal the intent, act,
//! journal the outcome. On a failed step (or SIGINT/SIGTERM between steps,
//! [`crate::interrupt`]), undo the steps that are or may be done, last first, under the
//! [`UndoPolicy`] asked for. Run again over the same journal (after a crash), a step whose
//! outcome was not journaled is settled by its [`Step::probe`] before anything else happens,
//! and a change that was rolling back keeps rolling back.
//!
//! Test hooks (only with the `fault-injection` feature): `XENPCI_CRASH_AFTER_STEP=N` exits
//! abruptly (status 137, no cleanup) right after step N's outcome is journaled;
//! `XENPCI_CRASH_BEFORE_STEP=N` right after its intent.

use super::journal::{Journal, JournalError, Status, StepState};
use super::step::{Probe, Step};

/// What to do when an undo fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UndoPolicy {
    /// Stop at the first failed undo: earlier steps stay done, because undoing them out of
    /// order could lose a device (the flows: detach before migrate, ...).
    StopAtFirstFailure,
    /// Undo every other step anyway and report each failure (independent changes such as
    /// file writes and other-config values: putting back what can be put back is better).
    ContinuePastFailure,
}

/// Called after each step is done: (steps done, total steps, the step's description).
pub type Progress<'a> = &'a (dyn Fn(usize, usize, &str) + Sync);

/// How to run.
#[derive(Clone, Copy)]
pub struct Options<'a> {
    /// On a failed undo.
    pub policy: UndoPolicy,
    /// Told about every step done.
    pub progress: Progress<'a>,
}

impl Options<'_> {
    /// The policy, and no progress reports.
    pub fn new(policy: UndoPolicy) -> Options<'static> {
        Options {
            policy,
            progress: &|_, _, _| {},
        }
    }
}

/// How the undo of one step went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UndoResult {
    /// Undone.
    Undone,
    /// The step has no known inverse: check it by hand.
    NoInverse,
    /// The undo failed, with why (the step's error text).
    Failed(String),
}

/// One undo tried during a rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undo {
    /// The step (0-based).
    pub step: usize,
    /// The step's description.
    pub what: String,
    /// How it went.
    pub result: UndoResult,
}

/// The step that stopped the change.
#[derive(Debug)]
pub struct Failure<E> {
    /// The step (0-based).
    pub step: usize,
    /// `step N (what) failed: why`, or `step N (what): interrupted ...`.
    pub text: String,
    /// The step's error; None when a signal stopped the change before the step.
    pub error: Option<E>,
}

/// What a run ended with.
#[derive(Debug)]
pub struct Outcome<E> {
    /// Final status ([`Status::Done`], [`Status::RolledBack`] or [`Status::Stuck`]).
    pub status: Status,
    /// What stopped the change, when something did in this run.
    pub failure: Option<Failure<E>>,
    /// The undos tried, in the order they ran.
    pub undos: Vec<Undo>,
}

impl<E> Outcome<E> {
    /// `step N: what` for every step undone, in order.
    pub fn undone(&self) -> Vec<String> {
        self.undos
            .iter()
            .filter(|u| u.result == UndoResult::Undone)
            .map(|u| format!("step {}: {}", u.step + 1, u.what))
            .collect()
    }

    /// `undo of step N (what) failed: why` for every undo that failed or has no inverse.
    pub fn stuck(&self) -> Vec<String> {
        self.undos.iter().filter_map(stuck_text).collect()
    }
}

fn stuck_text(u: &Undo) -> Option<String> {
    match &u.result {
        UndoResult::Undone => None,
        UndoResult::NoInverse => Some(format!("{} (no known inverse; check it by hand)", u.what)),
        UndoResult::Failed(e) => Some(format!(
            "undo of step {} ({}) failed: {e}",
            u.step + 1,
            u.what
        )),
    }
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

/// Runs (or continues) the steps forward; rolls back on a failure. `steps[i]` is the journal's
/// step `i`.
pub fn execute<C: ?Sized, S: Step<C>>(
    steps: &[S],
    cx: &C,
    journal: &mut dyn Journal,
    opts: &Options,
) -> Result<Outcome<S::Error>, JournalError> {
    let total = steps.len();
    if journal.status() == Status::RollingBack {
        return rollback(steps, cx, journal, None, opts);
    }
    for (i, step) in steps.iter().enumerate() {
        let n = i + 1;
        match journal.state(i) {
            StepState::Done => continue,
            StepState::Started | StepState::Failed => {
                // the outcome is unknown: look
                if step.probe(cx) == Probe::Done {
                    journal.set_state(i, StepState::Done, None)?;
                    continue;
                }
            }
            StepState::Undoing | StepState::Undone => {
                return rollback(steps, cx, journal, None, opts)
            }
            StepState::Planned => {}
        }
        if crate::interrupt::requested() {
            // Stopped between steps by a signal: undone like a failed step.
            let failure = Failure {
                step: i,
                text: format!(
                    "step {n} ({}): {}",
                    step.describe(),
                    crate::interrupt::STOPPED
                ),
                error: None,
            };
            return rollback(steps, cx, journal, Some(failure), opts);
        }
        journal.set_state(i, StepState::Started, None)?;
        crash_hook("XENPCI_CRASH_BEFORE_STEP", n);
        match step.perform(cx) {
            Ok(()) => {
                journal.set_state(i, StepState::Done, None)?;
                crash_hook("XENPCI_CRASH_AFTER_STEP", n);
                (opts.progress)(n, total, &step.describe());
            }
            Err(e) => {
                journal.set_state(i, StepState::Failed, Some(e.to_string()))?;
                let failure = Failure {
                    step: i,
                    text: format!("step {n} ({}) failed: {e}", step.describe()),
                    error: Some(e),
                };
                return rollback(steps, cx, journal, Some(failure), opts);
            }
        }
    }
    journal.set_status(Status::Done)?;
    Ok(Outcome {
        status: Status::Done,
        failure: None,
        undos: Vec::new(),
    })
}

/// Undoes every step that is (or may be) done, last first, under `opts.policy`. `failure` is
/// what stopped the change (None on an asked-for rollback or a resumed one).
pub fn rollback<C: ?Sized, S: Step<C>>(
    steps: &[S],
    cx: &C,
    journal: &mut dyn Journal,
    failure: Option<Failure<S::Error>>,
    opts: &Options,
) -> Result<Outcome<S::Error>, JournalError> {
    journal.set_status(Status::RollingBack)?;
    let mut undos = Vec::new();
    for (i, step) in steps.iter().enumerate().rev() {
        let needs = match journal.state(i) {
            StepState::Planned | StepState::Undone => false,
            StepState::Done | StepState::Undoing => true,
            // failed as a whole: nothing to undo
            StepState::Failed if step.atomic() => false,
            // may have happened in part: undo unless the host shows it did not
            StepState::Started | StepState::Failed => step.probe(cx) != Probe::NotDone,
        };
        if !needs {
            continue;
        }
        let what = step.describe();
        if !step.reversible() {
            undos.push(Undo {
                step: i,
                what,
                result: UndoResult::NoInverse,
            });
            continue;
        }
        journal.set_state(i, StepState::Undoing, None)?;
        match step.undo(cx) {
            Ok(()) => {
                journal.set_state(i, StepState::Undone, None)?;
                undos.push(Undo {
                    step: i,
                    what,
                    result: UndoResult::Undone,
                });
            }
            Err(e) => {
                let u = Undo {
                    step: i,
                    what,
                    result: UndoResult::Failed(e.to_string()),
                };
                journal.set_state(i, StepState::Undoing, stuck_text(&u))?;
                undos.push(u);
                if opts.policy == UndoPolicy::StopAtFirstFailure {
                    break;
                }
            }
        }
    }
    let status = if undos.iter().all(|u| u.result == UndoResult::Undone) {
        Status::RolledBack
    } else {
        Status::Stuck
    };
    journal.set_status(status)?;
    Ok(Outcome {
        status,
        failure,
        undos,
    })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::engine::MemJournal;

    /// A host of named switches; a step turns one on, failing when told to.
    #[derive(Default)]
    struct Host {
        on: RefCell<Vec<&'static str>>,
        fail: Vec<&'static str>,
        fail_undo: Vec<&'static str>,
    }

    struct Switch(&'static str);

    impl Step<Host> for Switch {
        type Error = String;
        fn describe(&self) -> String {
            format!("switch {} on", self.0)
        }
        fn perform(&self, h: &Host) -> Result<(), String> {
            if h.fail.contains(&self.0) {
                return Err(format!("{} is stuck", self.0));
            }
            h.on.borrow_mut().push(self.0);
            Ok(())
        }
        fn probe(&self, h: &Host) -> Probe {
            if h.on.borrow().contains(&self.0) {
                Probe::Done
            } else {
                Probe::NotDone
            }
        }
        fn undo(&self, h: &Host) -> Result<(), String> {
            if h.fail_undo.contains(&self.0) {
                return Err(format!("{} will not go off", self.0));
            }
            h.on.borrow_mut().retain(|s| *s != self.0);
            Ok(())
        }
    }

    fn steps() -> Vec<Switch> {
        vec![Switch("a"), Switch("b"), Switch("c")]
    }

    #[test]
    fn all_steps_done() {
        let h = Host::default();
        let mut j = MemJournal::new(3);
        let o = execute(
            &steps(),
            &h,
            &mut j,
            &Options::new(UndoPolicy::StopAtFirstFailure),
        )
        .unwrap();
        assert_eq!(o.status, Status::Done);
        assert_eq!(*h.on.borrow(), ["a", "b", "c"]);
        assert!(j.steps.iter().all(|s| s.0 == StepState::Done));
    }

    #[test]
    fn a_failed_step_undoes_the_earlier_ones_last_first() {
        let h = Host {
            fail: vec!["c"],
            ..Host::default()
        };
        let mut j = MemJournal::new(3);
        let o = execute(
            &steps(),
            &h,
            &mut j,
            &Options::new(UndoPolicy::StopAtFirstFailure),
        )
        .unwrap();
        assert_eq!(o.status, Status::RolledBack);
        assert!(h.on.borrow().is_empty());
        assert_eq!(o.undone(), ["step 2: switch b on", "step 1: switch a on"]);
        let f = o.failure.unwrap();
        assert_eq!(f.text, "step 3 (switch c on) failed: c is stuck");
        assert_eq!(f.error.as_deref(), Some("c is stuck"));
        assert_eq!(j.steps[2], (StepState::Failed, Some("c is stuck".into())));
    }

    #[test]
    fn the_two_policies_differ_only_after_a_failed_undo() {
        for (policy, left_on) in [
            (UndoPolicy::StopAtFirstFailure, vec!["a", "b"]),
            (UndoPolicy::ContinuePastFailure, vec!["b"]),
        ] {
            let h = Host {
                fail: vec!["c"],
                fail_undo: vec!["b"],
                ..Host::default()
            };
            let mut j = MemJournal::new(3);
            let o = execute(&steps(), &h, &mut j, &Options::new(policy)).unwrap();
            assert_eq!(o.status, Status::Stuck, "{policy:?}");
            assert_eq!(*h.on.borrow(), left_on, "{policy:?}");
            assert_eq!(
                o.stuck(),
                ["undo of step 2 (switch b on) failed: b will not go off"]
            );
        }
    }

    /// A crash left step 2 started: on resume its probe says it happened, so it is not done
    /// twice; a step started but not in place is done again.
    #[test]
    fn resume_settles_a_started_step_by_its_probe() {
        let h = Host::default();
        h.on.borrow_mut().extend(["a", "b"]);
        let mut j = MemJournal::new(3);
        j.steps[0].0 = StepState::Done;
        j.steps[1].0 = StepState::Started;
        let o = execute(
            &steps(),
            &h,
            &mut j,
            &Options::new(UndoPolicy::StopAtFirstFailure),
        )
        .unwrap();
        assert_eq!(o.status, Status::Done);
        assert_eq!(*h.on.borrow(), ["a", "b", "c"]);
        // rollback of a change whose last step started but did not happen: it is not undone
        let h = Host::default();
        h.on.borrow_mut().push("a");
        let mut j = MemJournal::new(3);
        j.steps[0].0 = StepState::Done;
        j.steps[1].0 = StepState::Started;
        let o = rollback(
            &steps(),
            &h,
            &mut j,
            None,
            &Options::new(UndoPolicy::StopAtFirstFailure),
        )
        .unwrap();
        assert_eq!(o.undone(), ["step 1: switch a on"]);
        assert!(h.on.borrow().is_empty());
        assert_eq!(j.status, Status::RolledBack);
    }
}
