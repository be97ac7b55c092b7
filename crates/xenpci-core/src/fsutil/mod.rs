//! Safe writes to configuration files: atomic replace (temp file in the same directory, fsync,
//! rename, fsync the directory; owner, group and mode kept; temp files of a killed earlier run
//! removed), a timestamped backup of the old content (fsync'd and renamed into place, so it is
//! complete or absent; the newest [`BACKUPS_KEPT`] per file are kept), an advisory lock per real file so two xenpci runs cannot lose each
//! other's edit, and unified diffs for `--dry-run`.
//!
//! [`lock_file`] + [`Locked::replace`] is the one checked write path for files a user also edits
//! (xl.cfg, saved device lists): under the file's lock it re-reads the file, refuses to write when
//! it no longer holds what the change was computed from (someone edited it in between), backs the
//! old content up and replaces it atomically.
//!
//! The module holds: [`error`] (the one error enum), [`write`] (the atomic write and its
//! backups), [`lock`] (advisory locks), [`read`] (bounded text reads) and [`edit`] (the checked
//! edit under the lock, and the diffs).

pub mod edit;
pub mod error;
pub mod lock;
pub mod read;
pub mod write;

pub use edit::{lock_file, unified_diff, unified_diff_between, Locked};
pub use error::WriteError;
pub use lock::{lock, lock_dir, FileLock};
pub use read::read_text;
pub use write::{atomic_write, timestamp, BACKUPS_KEPT};

#[cfg(test)]
mod tests;
