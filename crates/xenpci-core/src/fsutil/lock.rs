//! Advisory locks: [`FileLock`] on a lock file, and [`lock_dir`], the directory whose lock stands
//! for one real file (symlinks resolved).

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use super::error::WriteError;

/// An exclusive advisory lock, held until dropped.
#[derive(Debug)]
pub struct FileLock {
    pub(super) _file: File,
}

/// Takes an exclusive lock on `path` (created if missing, with its directories), waiting for
/// other holders.
pub fn lock(path: &Path) -> Result<FileLock, WriteError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|source| WriteError::Lock {
            path: path.to_path_buf(),
            source,
        })?;
    }
    lock_here(path)
}

/// [`lock`] without creating directories: the directory must exist.
fn lock_here(path: &Path) -> Result<FileLock, WriteError> {
    let e = |source| WriteError::Lock {
        path: path.to_path_buf(),
        source,
    };
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking open: a FIFO planted as the lock fails instead of hanging.
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(e)?;
    file.lock().map_err(e)?;
    Ok(FileLock { _file: file })
}

/// The directory whose lock guards edits of `file`: the real file's directory (symlinks
/// resolved, so every path to one file takes the same lock).
pub fn lock_dir(file: &Path) -> PathBuf {
    let real = real_path(file);
    match real.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `path` with every symlink resolved (the file itself may be missing: then its directory is
/// resolved and the name kept).
fn real_path(path: &Path) -> PathBuf {
    if let Ok(p) = fs::canonicalize(path) {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => fs::canonicalize(dir)
            .map(|d| d.join(name))
            .unwrap_or_else(|_| path.to_path_buf()),
        _ => path.to_path_buf(),
    }
}
