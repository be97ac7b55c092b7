//! The one way xenpci reads a host file: only a regular file is read (a FIFO, a device, a socket or
//! a directory is refused by name before it is opened, and the open itself is non-blocking so a
//! file swapped for a FIFO in between cannot hang the run), and never more than a size limit, so
//! `/dev/zero` or a FIFO given as a config cannot eat memory or block forever.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Limit for a configuration file (xl.cfg, grub.cfg, modprobe.d, journals): 64 MiB, far above
/// any real one, so even a generated 50 MB xl.cfg is read.
pub const CONFIG_LIMIT: u64 = 64 << 20;

/// Limit for a kernel-generated text file (a sysfs attribute, `/proc/mounts`): 16 MiB.
pub const KERNEL_LIMIT: u64 = 16 << 20;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The path is not a regular file.
    #[error("{path} is {kind}, not a regular file; refusing to read it")]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is ("a FIFO", "a character device", ...).
        kind: &'static str,
    },
    /// The file is larger than the limit.
    #[error("{path} is larger than {limit} bytes; refusing to read it")]
    TooBig {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The OS refused (not found is `Ok(None)` from [`read`], never this).
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

fn kind_of(t: fs::FileType) -> Option<&'static str> {
    if t.is_file() {
        None
    } else if t.is_fifo() {
        Some("a FIFO")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_dir() {
        Some("a directory")
    } else {
        Some("not a file")
    }
}

fn not_regular(path: &Path, t: fs::FileType) -> Result<(), ReadError> {
    match kind_of(t) {
        None => Ok(()),
        Some(kind) => Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            kind,
        }),
    }
}

/// Opens `path` for reading when it is a regular file (`Ok(None)`: it does not exist). The type
/// is checked before the open (a device is never opened) and again on the open file.
pub fn open(path: &Path) -> Result<Option<File>, ReadError> {
    Ok(open_sized(path)?.map(|(f, _)| f))
}

/// [`open`], with the size the open file reports (what [`read`] reserves before reading).
fn open_sized(path: &Path) -> Result<Option<(File, u64)>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    match fs::metadata(path) {
        Ok(m) => not_regular(path, m.file_type())?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    }
    let f = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let m = f.metadata().map_err(io)?;
    not_regular(path, m.file_type())?;
    Ok(Some((f, m.len())))
}

/// Reads all of the regular file `path`, at most `limit` bytes (`Ok(None)`: it does not exist).
pub fn read(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, ReadError> {
    let Some((f, size)) = open_sized(path)? else {
        return Ok(None);
    };
    // Room for the whole file and one byte more: one read takes it, the next sees the end
    // (growing from empty costs a read per doubling, 32 bytes first).
    let mut out = Vec::with_capacity(size.min(limit).saturating_add(1) as usize);
    f.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if out.len() as u64 > limit {
        return Err(ReadError::TooBig {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(Some(out))
}

/// [`read`] as text, invalid UTF-8 replaced (for kernel-generated files).
pub fn read_lossy(path: &Path, limit: u64) -> Result<Option<String>, ReadError> {
    Ok(read(path, limit)?.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// [`read`] of UTF-8 text as an [`io::Error`] result, for callers that report OS errors: a
/// missing file is `ErrorKind::NotFound`, a refused one `InvalidInput`, bad text `InvalidData`.
pub fn read_string(path: &Path, limit: u64) -> io::Result<String> {
    match read(path, limit) {
        Ok(Some(b)) => {
            String::from_utf8(b).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        }
        Ok(None) => Err(io::Error::from(io::ErrorKind::NotFound)),
        Err(ReadError::Io { source, .. }) => Err(source),
        Err(e) => Err(io::Error::new(io::ErrorKind::InvalidInput, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_a_device_and_a_big_file_are_refused_by_name() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("grub.cfg");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let e = read(&fifo, CONFIG_LIMIT).unwrap_err().to_string();
        assert!(
            e.ends_with("grub.cfg is a FIFO, not a regular file; refusing to read it"),
            "{e}"
        );
        let e = read(Path::new("/dev/zero"), CONFIG_LIMIT)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "/dev/zero is a character device, not a regular file; refusing to read it"
        );
        let big = d.path().join("big");
        fs::write(&big, vec![b'x'; 11]).unwrap();
        assert!(matches!(
            read(&big, 10),
            Err(ReadError::TooBig { limit: 10, .. })
        ));
        assert_eq!(read(&big, 11).unwrap().unwrap().len(), 11);
        assert!(read(&d.path().join("none"), 1).unwrap().is_none());
    }
}
