//! [`Step`]: one change to a host, with what the executor needs to do it, check it and reverse
//! it; and [`Probe`], what looking at the host says about whether it happened.

/// Whether a step's change is in place, as found by looking at the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The change is in place.
    Done,
    /// The change is not in place (the host is as before the step).
    NotDone,
    /// The host could not be read, or shows neither state.
    Unknown,
}

impl Probe {
    /// The probe of a check returning `Ok(Some(done))`, `Ok(None)` (cannot tell) or an error.
    pub fn from_check<E>(r: Result<Option<bool>, E>) -> Probe {
        match r {
            Ok(Some(true)) => Probe::Done,
            Ok(Some(false)) => Probe::NotDone,
            _ => Probe::Unknown,
        }
    }
}

/// One change to a host, run against a context `C` (the runner, host root, xe handle, ...).
pub trait Step<C: ?Sized> {
    /// Why performing or undoing failed.
    type Error: std::fmt::Display;

    /// One line saying what the step does (reports, journal messages).
    fn describe(&self) -> String;

    /// What the step would change, for `--dry-run` (a unified diff for a file; empty when the
    /// description says it all).
    fn preview(&self) -> String {
        String::new()
    }

    /// Makes the change.
    fn perform(&self, cx: &C) -> Result<(), Self::Error>;

    /// Looks at the host: is the change in place? Used on resume for a step whose outcome was
    /// not journaled, and before undoing a step that failed half-way.
    fn probe(&self, cx: &C) -> Probe;

    /// True when a failed [`Step::perform`] leaves the host as it was (an atomic file write, a
    /// command that either ran or did not): the executor then does not undo the step that
    /// failed. A step that may fail half-way (a detach that got through one device) says false,
    /// and its probe decides.
    fn atomic(&self) -> bool {
        false
    }

    /// False when no inverse is known: the executor then reports the step as not undone
    /// (to be checked by hand) instead of calling [`Step::undo`].
    fn reversible(&self) -> bool {
        true
    }

    /// Reverses the change (called only for a step that is, or may be, done).
    fn undo(&self, cx: &C) -> Result<(), Self::Error>;
}
