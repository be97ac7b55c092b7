//! Safe writes to configuration files: atomic replace (temp file in the same directory, fsync,
//! rename, fsync the directory), a timestamped backup of the old content, an advisory lock so two
//! xenpci runs cannot lose each other's edit, and unified diffs for `--dry-run`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A step of the atomic write failed; the original file is untouched.
    #[error("cannot write {path}: {step} failed: {source} (the original file is unchanged)")]
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
    #[error("cannot lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Fault injection for tests: `XENPCI_FAIL_WRITE=<step>` makes that step of every atomic write
/// fail with an I/O error (steps: `create`, `write`, `fsync`, `backup`, `rename`). It is read
/// only when set, and only ever makes a write fail, never succeed.
fn injected(step: &'static str) -> io::Result<()> {
    match std::env::var("XENPCI_FAIL_WRITE") {
        Ok(s) if s == step => Err(io::Error::other(format!("injected failure at {step}"))),
        _ => Ok(()),
    }
}

/// Writes `content` to `path` atomically. When the file exists and `backup` is true, its old
/// content is first copied to `path.xenpci-YYYYmmddTHHMMSS[.N].bak`, whose path is returned.
/// The new file keeps the old file's permissions.
pub fn atomic_write(
    path: &Path,
    content: &[u8],
    backup: bool,
) -> Result<Option<PathBuf>, WriteError> {
    // A symlinked config (e.g. /boot/grub/grub.cfg -> ../efi/...) is written where it points,
    // so the link stays a link.
    let resolved = fs::canonicalize(path).ok();
    let path = resolved.as_deref().unwrap_or(path);
    let err = |step, source| WriteError::Step {
        path: path.to_path_buf(),
        step,
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let old_meta = fs::metadata(path).ok();
    let mut backup_path = None;
    if backup && old_meta.is_some() {
        let b = backup_name(path);
        injected("backup")
            .and_then(|_| fs::copy(path, &b))
            .map_err(|e| err("backup", e))?;
        backup_path = Some(b);
    }
    injected("create").map_err(|e| err("create temporary file", e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            path.file_name().unwrap_or_default().to_string_lossy()
        ))
        .suffix(".xenpci-tmp")
        .tempfile_in(dir)
        .map_err(|e| err("create temporary file", e))?;
    injected("write")
        .and_then(|_| tmp.write_all(content))
        .map_err(|e| err("write", e))?;
    if let Some(m) = &old_meta {
        tmp.as_file()
            .set_permissions(m.permissions())
            .map_err(|e| err("write", e))?;
    }
    injected("fsync")
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| err("fsync", e))?;
    injected("rename").map_err(|e| err("rename", e))?;
    tmp.persist(path).map_err(|e| err("rename", e.error))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(backup_path)
}

fn backup_name(path: &Path) -> PathBuf {
    let stamp = timestamp();
    let base = format!("{}.xenpci-{stamp}", path.display());
    let mut candidate = PathBuf::from(format!("{base}.bak"));
    let mut n = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{base}.{n}.bak"));
        n += 1;
    }
    candidate
}

/// UTC time as `YYYYmmddTHHMMSS`, without a date crate.
pub fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// An exclusive advisory lock, held until dropped.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

/// Takes an exclusive lock on `path` (created if missing), waiting for other holders.
pub fn lock(path: &Path) -> Result<FileLock, WriteError> {
    let e = |source| WriteError::Lock {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(e)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(e)?;
    file.lock().map_err(e)?;
    Ok(FileLock { _file: file })
}

/// A unified diff of `old` → `new` labelled with `path`, or an empty string when equal.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_backs_up() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("grub.cfg");
        fs::write(&p, "old\n").unwrap();
        let b = atomic_write(&p, b"new\n", true).unwrap().unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new\n");
        assert_eq!(fs::read_to_string(&b).unwrap(), "old\n");
        assert!(b.to_string_lossy().contains("grub.cfg.xenpci-"));
        let b2 = atomic_write(&p, b"newer\n", true).unwrap().unwrap();
        assert_ne!(b, b2);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".xenpci-tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_symlinked_file_is_written_through_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.cfg");
        let link = dir.path().join("grub.cfg");
        fs::write(&target, "old\n").unwrap();
        std::os::unix::fs::symlink("real.cfg", &link).unwrap();
        atomic_write(&link, b"new\n", true).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&target).unwrap(), "new\n");
    }

    #[test]
    fn diff_is_empty_when_equal() {
        assert_eq!(unified_diff("f", "a\n", "a\n"), "");
        let d = unified_diff("f", "a\nb\n", "a\nc\n");
        assert!(d.contains("-b\n+c\n") && d.contains("--- a/f"), "{d}");
    }

    #[test]
    fn timestamp_has_the_expected_shape() {
        let t = timestamp();
        assert_eq!(t.len(), 15);
        assert_eq!(&t[8..9], "T");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_779), (2026, 11, 22));
    }
}
