//! Flows over several commands and hosts: hotplug ([`hotplug`]), device mapping across hosts
//! ([`mapping`]), migration with passthrough devices ([`migrate`]) and host evacuation
//! ([`evacuate`]; maintenance with pinned guests is [`crate::ops::maintenance`]). Every command runs through a [`transport::Site`] (this host directly, other
//! hosts over ssh or a template); multi-step flows are journaled ([`journal`]) so they can
//! be resumed or rolled back.

pub mod engine;
pub mod evacuate;
pub mod hotplug;
pub mod journal;
pub mod mapping;
pub mod migrate;
pub mod saved;
pub mod steps;
pub mod transport;
pub mod xl;

/// Why a flow step failed or was refused.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// Input that does not parse.
    #[error("{what} {input:?}: expected {expected}")]
    BadInput {
        /// What was read.
        what: String,
        /// The input.
        input: String,
        /// What was expected.
        expected: String,
    },
    /// A command could not run.
    #[error("on {host}: {source}")]
    Exec {
        /// The host.
        host: String,
        /// Why.
        source: Box<crate::exec::ExecError>,
    },
    /// The transport could not reach another host (ssh's exit status 255, or a read that
    /// failed as a whole): a tool failure, never an identity mismatch.
    #[error("cannot reach host {host}: `{command}` failed ({status}): {stderr}")]
    Unreachable {
        /// The host.
        host: String,
        /// The command, as run through the transport.
        command: String,
        /// Exit status.
        status: String,
        /// What the transport printed.
        stderr: String,
    },
    /// xl failed.
    #[error("on {host}: `{command}` failed ({status}): {stderr}")]
    Xl {
        /// The host.
        host: String,
        /// The command.
        command: String,
        /// Exit status or signal.
        status: String,
        /// xl's stderr.
        stderr: String,
    },
    /// xe failed (through the `Xe` wrapper).
    #[error("on the pool: {0}")]
    Xe(Box<crate::xapi::XeError>),
    /// Refused before acting.
    #[error("refusing to {action}: {reason}")]
    Refused {
        /// What was asked.
        action: String,
        /// Why not.
        reason: String,
    },
    /// The mapping file or an identity check.
    #[error(transparent)]
    Mapping(#[from] mapping::MappingError),
    /// A file write through the checked path ([`crate::fsutil::Locked`]) failed or was refused
    /// (the file is unchanged).
    #[error(transparent)]
    File(Box<crate::fsutil::WriteError>),
    /// The safety policy refused ([`crate::policy`]).
    #[error(transparent)]
    Policy(#[from] crate::policy::Refused),
    /// The command claimed success but the result is not there.
    #[error("not verified: {detail}")]
    NotVerified {
        /// What was found.
        detail: String,
    },
    /// A change stopped at a step; the steps done before it were undone, last first (`stuck`:
    /// the undos that failed, to be checked by hand).
    #[error("{failure}; {}", rolled_back_text(undone, stuck))]
    RolledBack {
        /// `step N (what) failed: why`.
        failure: String,
        /// `step N: what` for every step undone.
        undone: Vec<String>,
        /// The undos that failed or had no inverse.
        stuck: Vec<String>,
    },
}

fn rolled_back_text(undone: &[String], stuck: &[String]) -> String {
    let mut s = if undone.is_empty() {
        "nothing was done, nothing to undo".to_string()
    } else {
        format!("undone: {}", undone.join(", "))
    };
    if !stuck.is_empty() {
        s.push_str(&format!(
            "; NOT undone (check by hand): {}",
            stuck.join(", ")
        ));
    }
    s
}

impl From<crate::fsutil::WriteError> for FlowError {
    fn from(e: crate::fsutil::WriteError) -> FlowError {
        FlowError::File(Box::new(e))
    }
}
