//! The atomic write: a temp file in the same directory, fsync, rename, fsync the directory, owner,
//! group and mode kept; a timestamped backup of the old content, the newest [`BACKUPS_KEPT`] kept;
//! the debris of a killed earlier run removed. The test fault hook `XENPCI_FAIL_WRITE` lives here.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::WriteError;
use crate::bounded_read;

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
pub(super) fn civil_from_days(z: i64) -> (i64, u32, u32) {
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
