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

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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

/// Fault injection for tests, compiled only with the `fault-injection` feature (tests/run.sh
/// enables it; the packages are built without it): `XENPCI_FAIL_WRITE=<step>` makes that step of
/// every atomic write fail with an I/O error (steps: `create`, `write`, `fsync`, `backup`,
/// `rename`); `<step>@N` only the Nth time the process reaches that step (the Nth atomic write,
/// for every step but `backup`). It only ever makes a write fail, never succeed.
#[cfg(feature = "fault-injection")]
fn injected(step: &'static str) -> io::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static REACHED: AtomicUsize = AtomicUsize::new(0);
    let Ok(spec) = std::env::var("XENPCI_FAIL_WRITE") else {
        return Ok(());
    };
    let (name, nth) = match spec.split_once('@') {
        Some((name, n)) => (name, n.parse::<usize>().ok()),
        None => (spec.as_str(), None),
    };
    if name != step {
        return Ok(());
    }
    let count = REACHED.fetch_add(1, Ordering::SeqCst) + 1;
    if nth.is_none_or(|n| n == count) {
        return Err(io::Error::other(format!("injected failure at {step}")));
    }
    Ok(())
}

/// Without the `fault-injection` feature, no write step can be made to fail.
#[cfg(not(feature = "fault-injection"))]
fn injected(_step: &'static str) -> io::Result<()> {
    Ok(())
}

/// Writes `content` to `path` atomically. When the file exists and `backup` is true, its old
/// content is first copied to `path.xenpci-YYYYmmddTHHMMSS[.N].bak` (itself written atomically and
/// fsync'd, so a backup is either complete or absent), whose path is returned. The new file keeps
/// the old file's owner, group and mode. Temporary files an earlier, killed run left beside the
/// file (`.NAME.*.xenpci-tmp`) are removed first.
pub fn atomic_write(
    path: &Path,
    content: &[u8],
    backup: bool,
) -> Result<Option<PathBuf>, WriteError> {
    // A symlinked config (e.g. /boot/grub/grub.cfg -> ../efi/...) is written where it points,
    // so the link stays a link. (Under a host root the caller has already resolved the path
    // inside the root: `HostRoot::path`.)
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
    remove_debris(path);
    let old_meta = fs::metadata(path).ok();
    let mut backup_path = None;
    if backup && old_meta.is_some() {
        let b = backup_name(path);
        injected("backup")
            .and_then(|_| {
                let old = bounded_read::read(path, bounded_read::CONFIG_LIMIT)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?
                    .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
                let tmp = write_temp(path, dir, &old, old_meta.as_ref())?;
                tmp.persist_noclobber(&b).map_err(|e| e.error)?;
                // the backup's name is durable before the file it backs up is replaced
                File::open(dir)?.sync_all()
            })
            .map_err(|e| err("backup", e))?;
        prune_backups(path, &b);
        backup_path = Some(b);
    }
    injected("create").map_err(|e| err("create temporary file", e))?;
    let tmp = write_temp(path, dir, content, old_meta.as_ref()).map_err(|e| err("write", e))?;
    injected("rename").map_err(|e| err("rename", e))?;
    tmp.persist(path).map_err(|e| err("rename", e.error))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(backup_path)
}

/// A temporary file `.NAME.XXXXXX.xenpci-tmp` in `dir` holding `content`, with `meta`'s owner,
/// group and mode, fsync'd.
fn write_temp(
    path: &Path,
    dir: &Path,
    content: &[u8],
    meta: Option<&fs::Metadata>,
) -> io::Result<tempfile::NamedTempFile> {
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", file_name(path)))
        .suffix(TMP_SUFFIX)
        .tempfile_in(dir)?;
    injected("write")?;
    tmp.write_all(content)?;
    if let Some(m) = meta {
        use std::os::unix::fs::MetadataExt;
        let f = tmp.as_file();
        let now = f.metadata()?;
        if (now.uid(), now.gid()) != (m.uid(), m.gid()) {
            std::os::unix::fs::fchown(f, Some(m.uid()), Some(m.gid())).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot keep the owner {}:{} ({e})", m.uid(), m.gid()),
                )
            })?;
        }
        f.set_permissions(m.permissions())?;
    }
    injected("fsync")?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

const TMP_SUFFIX: &str = ".xenpci-tmp";

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// The entries of the directory `path` is in (`.` for a bare name), or None when it cannot be
/// read: the temp-file and backup clean-ups are best effort.
fn siblings(path: &Path) -> Option<fs::ReadDir> {
    let dir = path.parent()?;
    fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    })
    .ok()
}

/// Removes the temporary files (`.NAME.*.xenpci-tmp`) an earlier run killed in the middle of
/// writing `path` left beside it. Called only while the file is being written by us, so no
/// other xenpci write of the same file can be using them.
fn remove_debris(path: &Path) {
    let prefix = format!(".{}.", file_name(path));
    let Some(rd) = siblings(path) else { return };
    for e in rd.flatten() {
        let n = e.file_name();
        let n = n.to_string_lossy();
        if n.starts_with(&prefix) && n.ends_with(TMP_SUFFIX) && n.len() > prefix.len() + 10 {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// How many backups of one file are kept: the newest [`BACKUPS_KEPT`] `NAME.xenpci-*.bak`
/// beside it (the one just written among them); older ones are removed after each backup, so
/// 20 edits of one xl.cfg leave 3 backups, not 20.
pub const BACKUPS_KEPT: usize = 3;

/// `(timestamp, n)` of a backup name `NAME.xenpci-YYYYmmddTHHMMSS[.N].bak` of `name`, else None
/// (files that merely look alike are never touched).
fn backup_order(name: &str, file: &str) -> Option<(String, u64)> {
    let rest = name
        .strip_prefix(file)?
        .strip_prefix(".xenpci-")?
        .strip_suffix(".bak")?;
    let (stamp, n) = match rest.split_once('.') {
        Some((s, n)) => (s, n.parse().ok()?),
        None => (rest, 0),
    };
    let ok = stamp.len() == 15
        && stamp
            .char_indices()
            .all(|(i, c)| if i == 8 { c == 'T' } else { c.is_ascii_digit() });
    ok.then(|| (stamp.to_string(), n))
}

/// Removes all but the newest [`BACKUPS_KEPT`] backups of `path` (never `just_written`).
/// Best effort: a backup that cannot be removed stays.
fn prune_backups(path: &Path, just_written: &Path) {
    let file = file_name(path);
    let Some(rd) = siblings(path) else { return };
    let mut backups: Vec<((String, u64), PathBuf)> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let n = e.file_name();
            backup_order(&n.to_string_lossy(), &file).map(|o| (o, e.path()))
        })
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(BACKUPS_KEPT);
    for (_, p) in backups.into_iter().take(excess) {
        if p.file_name() != just_written.file_name() {
            let _ = fs::remove_file(p);
        }
    }
}

fn backup_name(path: &Path) -> PathBuf {
    let stamp = timestamp();
    let base = format!("{}.xenpci-{stamp}", path.display());
    // After the newest one of this second, so names sort in the order they were written even
    // when pruning freed an older name.
    let file = file_name(path);
    let newest = path
        .parent()
        .map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        })
        .and_then(|d| fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| backup_order(&e.file_name().to_string_lossy(), &file))
        .filter(|(s, _)| *s == stamp)
        .map(|(_, n)| n)
        .max();
    let (mut candidate, mut n) = match newest {
        None => (PathBuf::from(format!("{base}.bak")), 1),
        Some(m) => (PathBuf::from(format!("{base}.{}.bak", m + 1)), m + 2),
    };
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

/// Reads `path` as UTF-8 text (a regular file of at most [`bounded_read::CONFIG_LIMIT`] bytes);
/// `None` when it does not exist.
pub fn read_text(path: &Path) -> Result<Option<String>, WriteError> {
    let Some(bytes) = bounded_read::read(path, bounded_read::CONFIG_LIMIT)? else {
        return Ok(None);
    };
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| WriteError::NotText {
            path: path.to_path_buf(),
            offset: e.utf8_error().valid_up_to(),
        })
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Twenty edits of one file leave its three newest backups (the last three old contents),
    /// and nothing else beside it is touched.
    #[test]
    fn backups_are_pruned_to_the_newest_three_per_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vm.cfg");
        let other = dir.path().join("other.cfg.xenpci-20200101T000000.bak");
        let alike = dir.path().join("vm.cfg.xenpci-notastamp.bak");
        fs::write(&other, "x").unwrap();
        fs::write(&alike, "y").unwrap();
        fs::write(&p, "v0\n").unwrap();
        for i in 1..=20 {
            atomic_write(&p, format!("v{i}\n").as_bytes(), true).unwrap();
        }
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("vm.cfg.xenpci-2"))
            .collect();
        left.sort();
        assert_eq!(left.len(), BACKUPS_KEPT, "{left:?}");
        let mut contents: Vec<String> = left
            .iter()
            .map(|n| fs::read_to_string(dir.path().join(n)).unwrap())
            .collect();
        contents.sort();
        assert_eq!(contents, ["v17\n", "v18\n", "v19\n"]);
        assert!(other.exists() && alike.exists());
    }

    /// A non-root user's `EACCES` says what to do (run as root), not only the OS error; other
    /// errors are left alone.
    #[test]
    fn permission_denied_says_run_as_root() {
        let lock = WriteError::Lock {
            path: "/run/lock/xenpci-hide.lock".into(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(
            lock.to_string()
                .ends_with("(this needs root: run it as root, e.g. with sudo)"),
            "{lock}"
        );
        let step = WriteError::Step {
            path: "/boot/grub/grub.cfg".into(),
            step: "create temporary file",
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(step.to_string().contains("run it as root"), "{step}");
        let other = WriteError::Lock {
            path: "/x".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert!(!other.to_string().contains("root"), "{other}");
    }

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
    fn a_locked_replace_checks_backs_up_and_refuses_a_changed_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vm.cfg");
        fs::write(&p, "a = 1\n").unwrap();
        let l = lock_file(&p).unwrap();
        let b = l.replace(Some("a = 1\n"), "a = 2\n").unwrap().unwrap();
        assert_eq!(fs::read_to_string(&b).unwrap(), "a = 1\n");
        assert_eq!(fs::read_to_string(&p).unwrap(), "a = 2\n");
        let e = l.replace(Some("a = 1\n"), "a = 3\n").unwrap_err();
        assert!(matches!(e, WriteError::Changed { .. }), "{e}");
        assert!(
            e.to_string().contains("vm.cfg changed since it was read"),
            "{e}"
        );
        assert_eq!(fs::read_to_string(&p).unwrap(), "a = 2\n");
        assert!(matches!(
            l.remove("a = 1\n"),
            Err(WriteError::Changed { .. })
        ));
        l.remove("a = 2\n").unwrap();
        assert!(!p.exists());
        assert!(
            l.replace(None, "new\n").unwrap().is_none(),
            "no backup of nothing"
        );
        assert!(matches!(
            l.restore("other\n", Some("a = 1\n")),
            Err(WriteError::Changed { .. })
        ));
        l.restore("new\n", Some("a = 1\n")).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "a = 1\n");
        drop(l);
        assert!(!dir.path().join(".vm.cfg.xenpci-lock").exists());
    }

    #[test]
    fn read_text_names_the_first_bad_byte() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        assert_eq!(read_text(&p).unwrap(), None);
        fs::write(&p, b"ok\xff").unwrap();
        let e = read_text(&p).unwrap_err().to_string();
        assert!(
            e.ends_with("is not UTF-8 text (invalid byte at offset 2)"),
            "{e}"
        );
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
