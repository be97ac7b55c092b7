//! Reading sysfs attributes (hex ids, numbers, symlinks) with errors that name the host path and
//! what was found, so a bad file becomes one warning for one device, never a panic.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::HostRoot;
use crate::bounded_read;
use crate::pci::Bdf;

/// Why an attribute could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SysfsError {
    /// The file or link is not there.
    #[error("{path}: missing")]
    Missing {
        /// Host path.
        path: String,
    },
    /// The file is there but could not be read.
    #[error("{path}: cannot read: {source}")]
    Unreadable {
        /// Host path.
        path: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file is not a regular file (a FIFO, a device) or is too large.
    #[error(transparent)]
    Refused(bounded_read::ReadError),
    /// The content is not what the kernel writes there.
    #[error("{path}: expected {expected}, found {found:?}")]
    Garbage {
        /// Host path.
        path: String,
        /// What the file should hold.
        expected: String,
        /// What it held (first 40 characters).
        found: String,
    },
}

pub(crate) fn shown(root: &HostRoot, p: &Path) -> String {
    root.host_path(p).display().to_string()
}

fn io_err(root: &HostRoot, p: &Path, e: io::Error) -> SysfsError {
    if e.kind() == io::ErrorKind::NotFound {
        SysfsError::Missing {
            path: shown(root, p),
        }
    } else {
        SysfsError::Unreadable {
            path: shown(root, p),
            source: e,
        }
    }
}

/// Reads a text attribute (or a kernel text file such as `/proc/mounts`), trimmed: a regular
/// file of at most [`bounded_read::KERNEL_LIMIT`] bytes, its path resolved inside the root.
pub fn read_text(root: &HostRoot, p: &Path) -> Result<String, SysfsError> {
    let real = root.confine(p);
    match bounded_read::read_lossy(&real, bounded_read::KERNEL_LIMIT) {
        Ok(Some(t)) => Ok(t.trim().to_string()),
        Ok(None) => Err(SysfsError::Missing {
            path: shown(root, p),
        }),
        Err(bounded_read::ReadError::Io { source, .. }) => Err(io_err(root, p, source)),
        Err(e) => Err(SysfsError::Refused(e)),
    }
}

/// Reads a `config` file the way the capability walk needs it, without reading all 4096 bytes
/// (on real hardware every dword is a config cycle): the first 256 bytes, then only the
/// extended capability headers and bodies (32 bytes each) along their chain. Bytes not read
/// stay zero; the result is 4096 bytes long when extended config space exists.
pub fn read_config(root: &HostRoot, p: &Path) -> Result<Vec<u8>, SysfsError> {
    let err = |e| io_err(root, p, e);
    let f = match bounded_read::open(&root.confine(p)) {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Err(SysfsError::Missing {
                path: shown(root, p),
            })
        }
        Err(bounded_read::ReadError::Io { source, .. }) => return Err(err(source)),
        Err(e) => return Err(SysfsError::Refused(e)),
    };
    let mut b = Vec::new();
    config_from(&f, &mut b, err)?;
    Ok(b)
}

/// The sparse read of [`read_config`] on an open `config` file, into `b` (its old content
/// dropped, its memory reused); `err` names the file in errors.
pub(crate) fn config_from(
    f: &std::fs::File,
    b: &mut Vec<u8>,
    err: impl Fn(io::Error) -> SysfsError,
) -> Result<(), SysfsError> {
    // One read covers the header and the first extended capability's header at 0x100: a
    // 256-byte config (no extended space) then costs one `pread`, and a 4096-byte one whose
    // 0x100 header ends the chain one too. A read that fills less than it was given is the end
    // of the file (a regular file or a sysfs attribute reads short only there).
    const FIRST: usize = 0x100 + 0x20;
    b.clear();
    b.resize(FIRST, 0);
    let got = f.read_at(&mut b[..], 0).map_err(&err)?;
    let mut first = [0u8; 0x20];
    let first_n = got.saturating_sub(0x100);
    first[..first_n].copy_from_slice(&b[0x100..got.max(0x100)]);
    b.truncate(got.min(256));
    if got < 256 {
        return Ok(());
    }
    let mut pos = 0x100usize;
    for i in 0..48 {
        let (chunk, n) = if i == 0 {
            (first, first_n)
        } else {
            let mut chunk = [0u8; 0x20];
            let n = f.read_at(&mut chunk, pos as u64).map_err(&err)?;
            (chunk, n)
        };
        if n < 4 {
            break;
        }
        if b.len() < 4096 {
            b.resize(4096, 0);
        }
        let end = (pos + n).min(4096);
        b[pos..end].copy_from_slice(&chunk[..end - pos]);
        let h = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let next = (h >> 20) as usize & !3;
        if h == 0 || h == u32::MAX || next < 0x100 || next + 4 > 4096 {
            break;
        }
        pos = next;
    }
    Ok(())
}

/// Parses `0x1a2b`-style text of at most `digits` hex digits, as the kernel prints ids.
pub fn parse_hex(text: &str, digits: usize) -> Option<u32> {
    let h = text.strip_prefix("0x").unwrap_or(text);
    if h.is_empty() || h.len() > digits || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(h, 16).ok()
}

/// Reads a hex attribute such as `vendor` (`0x8086`).
pub fn read_hex(root: &HostRoot, p: &Path, digits: usize) -> Result<u32, SysfsError> {
    let t = read_text(root, p)?;
    parse_hex(&t, digits).ok_or_else(|| garbage_hex(&shown(root, p), digits, &t))
}

/// The error for `text` in the hex attribute shown as `path`.
pub(crate) fn garbage_hex(path: &str, digits: usize, text: &str) -> SysfsError {
    SysfsError::Garbage {
        path: path.to_string(),
        expected: format!(
            "a hex number of at most {digits} digits like 0x{}",
            "0".repeat(digits)
        ),
        found: text.chars().take(40).collect(),
    }
}

/// Reads a decimal attribute such as `sriov_totalvfs` or `numa_node`.
pub fn read_int(root: &HostRoot, p: &Path) -> Result<i64, SysfsError> {
    let t = read_text(root, p)?;
    t.parse().map_err(|_| garbage_int(&shown(root, p), &t))
}

/// The error for `text` in the decimal attribute shown as `path`.
pub(crate) fn garbage_int(path: &str, text: &str) -> SysfsError {
    SysfsError::Garbage {
        path: path.to_string(),
        expected: "a decimal number".into(),
        found: text.chars().take(40).collect(),
    }
}

/// Reads a symlink and returns its target resolved against the link's directory, lexically
/// (`..` removed), without requiring the target to exist.
pub fn read_link(root: &HostRoot, p: &Path) -> Result<PathBuf, SysfsError> {
    let t =
        std::fs::read_link(root.link_path(root.host_path(p))).map_err(|e| io_err(root, p, e))?;
    Ok(link_target(root, p, t))
}

/// What [`read_link`] returns for the link `p` whose content is `t`.
pub(crate) fn link_target(root: &HostRoot, p: &Path, t: PathBuf) -> PathBuf {
    if t.is_absolute() {
        return normalize(&root.path(&t));
    }
    // The link's directory and its relative text joined as bytes and normalized once: the same
    // answer as `normalize(&parent.join(t))` without a `PathBuf` push per component.
    let parent = p
        .parent()
        .unwrap_or(Path::new(""))
        .as_os_str()
        .as_encoded_bytes();
    let t = t.as_os_str().as_encoded_bytes();
    let mut joined = Vec::with_capacity(parent.len() + 1 + t.len());
    joined.extend_from_slice(parent);
    if !parent.is_empty() {
        joined.push(b'/');
    }
    joined.extend_from_slice(t);
    PathBuf::from(OsString::from_vec(normalize_bytes(&joined)))
}

/// The last component of a symlink's target (`driver` → `ahci`).
pub fn link_name(root: &HostRoot, p: &Path) -> Result<String, SysfsError> {
    target_name(root, p, read_link(root, p)?)
}

/// What [`link_name`] returns for the link `p` whose [`read_link`] answer is `t`.
pub(crate) fn target_name(root: &HostRoot, p: &Path, t: PathBuf) -> Result<String, SysfsError> {
    t.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| SysfsError::Garbage {
            path: shown(root, p),
            expected: "a link to a named entry".into(),
            found: t.display().to_string(),
        })
}

/// The driver bound to the function whose sysfs directory is `dir`: the name its `driver` link
/// points at, or None when there is no link (no driver bound).
pub fn driver_in(root: &HostRoot, dir: &Path) -> Result<Option<String>, SysfsError> {
    match link_name(root, &dir.join("driver")) {
        Ok(d) => Ok(Some(d)),
        Err(SysfsError::Missing { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The driver bound to `bdf` now (`/sys/bus/pci/devices/<bdf>/driver`), None when no driver is
/// bound or the function is absent.
pub fn driver_of(root: &HostRoot, bdf: Bdf) -> Result<Option<String>, SysfsError> {
    driver_in(root, &root.path(format!("/sys/bus/pci/devices/{bdf}")))
}

/// Removes `.` and `..` components lexically.
pub fn normalize(p: &Path) -> PathBuf {
    PathBuf::from(OsString::from_vec(normalize_bytes(
        p.as_os_str().as_encoded_bytes(),
    )))
}

/// [`normalize`] on the bytes of a Unix path: empty and `.` components dropped, `..` taking
/// the last kept component away (never the leading `/`, nothing when none is left), a trailing
/// `/` dropped, as `Path::components` and `PathBuf::pop` do it.
fn normalize_bytes(p: &[u8]) -> Vec<u8> {
    let absolute = p.first() == Some(&b'/');
    let mut out = Vec::with_capacity(p.len());
    if absolute {
        out.push(b'/');
    }
    let base = out.len();
    for c in p.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => match out[base..].iter().rposition(|b| *b == b'/') {
                Some(i) => out.truncate(base + i),
                None => out.truncate(base),
            },
            c => {
                if out.len() > base {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::Component;

    /// The component-wise normalization [`normalize`] must agree with.
    fn normalize_by_components(p: &Path) -> PathBuf {
        let mut out = PathBuf::new();
        for c in p.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other.as_os_str()),
            }
        }
        out
    }

    proptest! {
        #[test]
        fn normalize_agrees_with_path_components(
            abs in any::<bool>(),
            parts in proptest::collection::vec(
                prop_oneof![Just(""), Just("."), Just(".."), Just("sys"), Just("0000:00:01.0"), Just("a b")],
                0..12,
            ),
            trailing in any::<bool>(),
        ) {
            let mut s = if abs { "/".to_string() } else { String::new() };
            s.push_str(&parts.join("/"));
            if trailing { s.push('/'); }
            let p = Path::new(&s);
            prop_assert_eq!(normalize(p), normalize_by_components(p), "{:?}", s);
        }

        #[test]
        fn link_targets_are_the_joined_path_normalized(
            parent in proptest::collection::vec(prop_oneof![Just("sys"), Just(".."), Just("."), Just("devices")], 0..6),
            text in proptest::collection::vec(prop_oneof![Just(".."), Just("."), Just("pci0000:00"), Just("")], 0..8),
        ) {
            let root = HostRoot::new("/tmp/r");
            let p = PathBuf::from(format!("/tmp/r/{}/link", parent.join("/")));
            let t = PathBuf::from(text.join("/"));
            prop_assume!(!t.is_absolute());
            let want = normalize_by_components(&p.parent().unwrap().join(&t));
            prop_assert_eq!(link_target(&root, &p, t), want);
        }
    }

    #[test]
    fn hex_attributes_are_strict() {
        assert_eq!(parse_hex("0x8086", 4), Some(0x8086));
        assert_eq!(parse_hex("0x010601", 6), Some(0x010601));
        assert_eq!(parse_hex("0x10086", 4), None);
        assert_eq!(parse_hex("zz", 4), None);
        assert_eq!(parse_hex("0x", 4), None);
    }

    #[test]
    fn errors_name_the_host_path_and_the_content() {
        let d = tempfile::tempdir().unwrap();
        let root = HostRoot::new(d.path());
        std::fs::create_dir_all(root.path("/sys/x")).unwrap();
        std::fs::write(root.path("/sys/x/class"), "banana\n").unwrap();
        let e = read_hex(&root, &root.path("/sys/x/class"), 6)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/sys/x/class") && e.contains("banana"), "{e}");
        let e = read_hex(&root, &root.path("/sys/x/vendor"), 4)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "/sys/x/vendor: missing");
    }

    #[test]
    fn config_is_read_sparsely_but_completely_for_the_walk() {
        use crate::host::config::ConfigSpace;
        use xenpci_fixtures::{config_bytes, Func};
        let d = tempfile::tempdir().unwrap();
        let root = HostRoot::new(d.path());
        let pf = Func::endpoint("01:00.0", 0x8086, 0x10c9, 0x020000)
            .acs()
            .sriov(8, 7, 0x10ca);
        let full = config_bytes(&pf);
        std::fs::write(root.path("/config"), &full).unwrap();
        let sparse = read_config(&root, &root.path("/config")).unwrap();
        assert_eq!(sparse.len(), 4096);
        assert_eq!(ConfigSpace::parse(&sparse), ConfigSpace::parse(&full));
        std::fs::write(root.path("/short"), &full[..64]).unwrap();
        assert_eq!(read_config(&root, &root.path("/short")).unwrap().len(), 64);
    }

    #[test]
    fn links_resolve_lexically_even_when_dangling() {
        let d = tempfile::tempdir().unwrap();
        let root = HostRoot::new(d.path());
        std::fs::create_dir_all(root.path("/sys/a/b")).unwrap();
        std::os::unix::fs::symlink("../../c/drv", root.path("/sys/a/b/driver")).unwrap();
        assert_eq!(
            read_link(&root, &root.path("/sys/a/b/driver")).unwrap(),
            root.path("/sys/c/drv")
        );
        assert_eq!(
            link_name(&root, &root.path("/sys/a/b/driver")).unwrap(),
            "drv"
        );
    }

    #[test]
    fn the_driver_link_names_the_driver_or_nothing() {
        let d = tempfile::tempdir().unwrap();
        let root = HostRoot::new(d.path());
        let dev = root.path("/sys/bus/pci/devices/0000:05:00.0");
        std::fs::create_dir_all(&dev).unwrap();
        let b: Bdf = "05:00.0".parse().unwrap();
        assert_eq!(driver_of(&root, b).unwrap(), None);
        std::os::unix::fs::symlink("../../drivers/vfio-pci", dev.join("driver")).unwrap();
        assert_eq!(driver_of(&root, b).unwrap().as_deref(), Some("vfio-pci"));
        assert_eq!(driver_in(&root, &dev).unwrap().as_deref(), Some("vfio-pci"));
        assert_eq!(driver_of(&root, "07:00.0".parse().unwrap()).unwrap(), None);
        std::fs::remove_file(dev.join("driver")).unwrap();
        std::fs::write(dev.join("driver"), "not a link").unwrap();
        let e = driver_of(&root, b).unwrap_err().to_string();
        assert!(
            e.contains("/sys/bus/pci/devices/0000:05:00.0/driver"),
            "{e}"
        );
    }
}
