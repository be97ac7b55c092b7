//! SIGINT and SIGTERM during a change: instead of dying between two steps (a change half made,
//! no `--json` document), the process notes the signal and the change engine's executor
//! ([`crate::engine::executor`], which runs hide/unhide, assign/unassign and the flows) stops
//! before the next step and rolls back what was done, as for a failed step, then reports as
//! usual.
//!
//! [`install`] is called by the entry points that change the host; a library user that does not
//! call it keeps the default signal behaviour and [`requested`] stays false.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Set by the handlers once SIGINT or SIGTERM has arrived.
static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Catches SIGINT and SIGTERM from now on (idempotent). A second signal is caught as well: the
/// rollback runs to its end (SIGKILL still ends the process at once).
pub fn install() -> io::Result<()> {
    if FLAG.get().is_some() {
        return Ok(());
    }
    let flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&flag))?;
    }
    let _ = FLAG.set(flag);
    Ok(())
}

/// Whether SIGINT or SIGTERM has arrived since [`install`].
pub fn requested() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::SeqCst))
}

/// The error text of a change stopped by a signal.
pub const STOPPED: &str = "interrupted by SIGINT/SIGTERM before this step";
