//! The one checked edit of a file a user also edits: [`lock_file`], then [`Locked::replace`]
//! re-reads it under the lock, refuses when it changed since the edit was computed, backs it up
//! and replaces it atomically; and the unified diffs `--dry-run` shows.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use super::error::WriteError;
use super::lock::{lock_dir, FileLock};
use super::read::read_text;
use super::write::atomic_write;

/// A file held under its lock for a read, check and write: an exclusive `flock` on the real
/// file's directory ([`lock_dir`]), so the lock is per real file (and per directory: edits of
/// two files in one directory wait for each other) and leaves no lock file behind, even when
/// the holder is killed.
#[derive(Debug)]
pub struct Locked {
    path: PathBuf,
    _lock: FileLock,
}

/// Takes the lock of `path` (waiting for other xenpci runs that hold it). Two paths to one file
/// (a symlink and its target) take the same lock. The directory must exist.
pub fn lock_file(path: &Path) -> Result<Locked, WriteError> {
    let dir = lock_dir(path);
    let e = |source| WriteError::Lock {
        path: dir.clone(),
        source,
    };
    let f = File::open(&dir).map_err(e)?;
    f.lock().map_err(e)?;
    Ok(Locked {
        path: path.to_path_buf(),
        _lock: FileLock { _file: f },
    })
}

impl Locked {
    /// The file's content now (`None`: it does not exist).
    pub fn read(&self) -> Result<Option<String>, WriteError> {
        read_text(&self.path)
    }

    fn check(&self, expected: Option<&str>) -> Result<(), WriteError> {
        if self.read()?.as_deref() == expected {
            Ok(())
        } else {
            Err(WriteError::Changed {
                path: self.path.clone(),
            })
        }
    }

    /// Replaces the file with `new` when it still holds exactly `expected` (`None`: absent),
    /// else [`WriteError::Changed`] and nothing is written. The old content is backed up; the
    /// backup's path is returned.
    pub fn replace(
        &self,
        expected: Option<&str>,
        new: &str,
    ) -> Result<Option<PathBuf>, WriteError> {
        self.check(expected)?;
        atomic_write(&self.path, new.as_bytes(), true)
    }

    /// Writes `original` back (no backup: it is what the file held before) when the file still
    /// holds exactly `written` — the undo of a [`Locked::replace`]. `None` removes the file.
    pub fn restore(&self, written: &str, original: Option<&str>) -> Result<(), WriteError> {
        match original {
            Some(o) => {
                self.check(Some(written))?;
                atomic_write(&self.path, o.as_bytes(), false).map(drop)
            }
            None => self.remove(written),
        }
    }

    /// Removes the file when it still holds exactly `expected` (a missing file is left missing).
    pub fn remove(&self, expected: &str) -> Result<(), WriteError> {
        match self.read()? {
            None => Ok(()),
            Some(now) if now == expected => {
                fs::remove_file(&self.path).map_err(|source| WriteError::Io {
                    what: "remove",
                    path: self.path.clone(),
                    source,
                })
            }
            Some(_) => Err(WriteError::Changed {
                path: self.path.clone(),
            }),
        }
    }
}

/// A unified diff of `old` → `new` labelled with `path`, or an empty string when equal.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    unified_diff_between(path, path, old, new)
}

/// A unified diff of `old` (labelled `old_path`) → `new` (labelled `new_path`), or an empty
/// string when equal.
pub fn unified_diff_between(old_path: &str, new_path: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(&format!("a/{old_path}"), &format!("b/{new_path}"))
        .to_string()
}
