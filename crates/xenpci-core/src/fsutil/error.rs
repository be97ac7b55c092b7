//! [`WriteError`]: why a file could not be written, read, locked or backed up, naming the path.

use std::io;
use std::path::PathBuf;

use crate::bounded_read;

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A step of the atomic write failed; the original file is untouched.
    #[error("cannot write {path}: {step} failed: {source}{} (the original file is unchanged)", root_hint(.source))]
    Step {
        /// The file being replaced.
        path: PathBuf,
        /// Which step failed: "create temporary file", "write", "fsync", "backup", "rename".
        step: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The lock could not be taken.
    #[error("cannot lock {path}: {source}{}", root_hint(.source))]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file no longer holds what the change was computed from.
    #[error("{path} changed since it was read; nothing was written (run the command again)")]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be read (or removed).
    #[error("cannot {what} {path}: {source}")]
    Io {
        /// "read", "remove".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file is not a regular file, or is too large.
    #[error(transparent)]
    Read(#[from] bounded_read::ReadError),
    /// The file is not UTF-8 text.
    #[error("{path} is not UTF-8 text (invalid byte at offset {offset})")]
    NotText {
        /// The file.
        path: PathBuf,
        /// Offset of the first invalid byte.
        offset: usize,
    },
}

/// What to do about an OS error a non-root user gets: changing the host's boot configuration,
/// locks and state needs root.
fn root_hint(e: &io::Error) -> &'static str {
    if e.kind() == io::ErrorKind::PermissionDenied {
        " (this needs root: run it as root, e.g. with sudo)"
    } else {
        ""
    }
}
