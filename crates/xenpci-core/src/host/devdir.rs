//! [`DeviceDir`]: a sysfs directory (one PCI function's, or `/sys/bus/pci/devices`) opened once,
//! its attributes and links then read relative to it (`openat`, `readlinkat`) instead of
//! resolving the whole path inside the [`HostRoot`] for every file: on a 1000-function host
//! that is ~12 system calls per function instead of ~40. `/sys/bus/pci/devices` is listed too
//! (its names are the functions, and no probe for an entry the listing shows is absent); a
//! function's directory is not (a `fstatat` per attribute read costs less than listing it).
//!
//! The answers, warnings included, are those of the path-based readers in [`super::sysfs`],
//! which stay the reference:
//! * the directory is resolved inside the root by [`HostRoot`] exactly as they resolve it, then
//!   opened (its last component with `O_NOFOLLOW` when it can be, else as resolved);
//! * an attribute is read through the directory only when the listing (or `fstatat`, not
//!   following a link) says it is a regular file (a link only when it says it is a symlink;
//!   without a listing, whatever `readlinkat` reads), opened with `O_NOFOLLOW | O_NONBLOCK`, and
//!   never more than [`bounded_read::KERNEL_LIMIT`] bytes: the type is known before the open, a
//!   FIFO swapped in afterwards cannot block, and a symlink swapped in is refused by the open;
//! * anything else (a symlinked attribute, a FIFO, a device, a type the listing does not give,
//!   any error) is handed to the path-based reader, so its answer and its message are the ones
//!   given, and a symlink out of the root is followed inside it or refused as before.
//!
//! `rustix` gives these `*at` calls and `getdents` without `unsafe` (the crate forbids it).

use std::borrow::Cow;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir};
use rustix::io::Errno;

use super::sysfs::{self, SysfsError};
use super::HostRoot;
use crate::bounded_read;

/// What the listing says an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Not in the directory.
    Absent,
    /// A regular file.
    File,
    /// A symbolic link.
    Link,
    /// A directory.
    Dir,
    /// Anything else, or a type the file system does not give in listings.
    Other,
}

/// One directory, opened and listed; see the module header for what is read through it.
#[derive(Debug)]
pub struct DeviceDir<'r> {
    root: &'r HostRoot,
    /// The directory as the path-based readers name it (inside the root, not resolved).
    path: PathBuf,
    /// The open directory, None when it could not be opened or listed (then every read takes
    /// the path-based way).
    fd: Option<OwnedFd>,
    /// The directory was listed (else every entry's kind is asked of the kernel when needed:
    /// a function's directory, where listing costs more than the few entries it is asked for).
    listed: bool,
    /// The listing: all names, one after another, and (start, length, kind) per entry, in
    /// the order listed, or sorted by name when there are more than [`SCANNED`] (then looked
    /// up by binary search, else by a scan: sorting a function's ~15 names cost more than all
    /// its lookups).
    names: String,
    entries: Vec<(u32, u16, Kind)>,
    /// Why the directory could not be listed at all.
    error: Option<io::Error>,
}

/// The most entries looked up by a linear scan instead of sorted and searched.
const SCANNED: usize = 32;

/// Where the listing reads `getdents` into (a name is at most 255 bytes, so every entry fits).
const LISTING_BUFFER: usize = 8 << 10;

impl<'r> DeviceDir<'r> {
    /// Opens and lists `dir`, a path inside `root` as [`sysfs`] takes them. Never fails: a
    /// directory that cannot be opened is listed and read the path-based way, and
    /// [`DeviceDir::listing_error`] says why it could not be listed at all.
    pub fn open(root: &'r HostRoot, dir: &Path) -> DeviceDir<'r> {
        DeviceDir::empty(root).reopen(dir)
    }

    /// [`DeviceDir::open`] without the listing: each entry's kind is asked of the kernel
    /// (`fstatat` without following a link) when an attribute is read, a link is read
    /// directly (`readlinkat`), and [`DeviceDir::absent`] never knows. For a directory read
    /// for a handful of its entries: on ext4 listing a small directory builds a hash tree of
    /// all its names, dearer than the few lookups. The answers are the same.
    pub fn open_unlisted(root: &'r HostRoot, dir: &Path) -> DeviceDir<'r> {
        DeviceDir::empty(root).reopen_unlisted(dir)
    }

    fn empty(root: &'r HostRoot) -> DeviceDir<'r> {
        DeviceDir {
            root,
            path: PathBuf::new(),
            fd: None,
            listed: false,
            names: String::new(),
            entries: Vec::new(),
            error: None,
        }
    }

    /// [`DeviceDir::open`] of `dir` in the same root, reusing this one's memory (one function
    /// after another: fresh buffers per function cost an mmap and munmap each with musl).
    pub fn reopen(self, dir: &Path) -> DeviceDir<'r> {
        self.reset(dir, true)
    }

    /// [`DeviceDir::open_unlisted`] of `dir`, reusing this one's memory.
    pub fn reopen_unlisted(self, dir: &Path) -> DeviceDir<'r> {
        self.reset(dir, false)
    }

    fn reset(mut self, dir: &Path, list: bool) -> DeviceDir<'r> {
        self.path.clear();
        self.path.push(dir);
        self.fd = None;
        self.listed = false;
        self.names.clear();
        self.entries.clear();
        self.error = None;
        let (root, mut d) = (self.root, self);
        let opened = open_dir(root, dir);
        if !list {
            // Not opened: every read takes the path-based way, which says why.
            d.fd = opened.ok();
            return d;
        }
        if let Ok(fd) = opened {
            if d.list(&fd).is_ok() {
                d.listed = true;
                d.fd = Some(fd);
                return d;
            }
            d.names.clear();
            d.entries.clear();
        }
        // The path-based way: names only (every read then takes the path-based way too).
        match std::fs::read_dir(root.confine(dir)) {
            Ok(rd) => {
                for e in rd.flatten() {
                    d.push(e.file_name().as_encoded_bytes(), Kind::Other);
                }
                d.sort_if_long();
            }
            Err(e) => d.error = Some(e),
        }
        d
    }

    /// Why the directory cannot be listed (the error `std::fs::read_dir` gives), None when it
    /// was listed.
    pub fn listing_error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// The directory as the path-based readers name it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn list(&mut self, fd: &OwnedFd) -> rustix::io::Result<()> {
        // On the stack: a heap buffer this size is an mmap and munmap per directory with musl.
        let mut buf = [MaybeUninit::<u8>::uninit(); LISTING_BUFFER];
        let mut it = RawDir::new(fd, &mut buf);
        while let Some(e) = it.next() {
            let e = e?;
            let name = e.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            self.push(name, kind_of(e.file_type()));
        }
        self.sort_if_long();
        Ok(())
    }

    fn push(&mut self, name: &[u8], kind: Kind) {
        let start = self.names.len();
        match std::str::from_utf8(name) {
            Ok(n) => self.names.push_str(n),
            Err(_) => self.names.push_str(&String::from_utf8_lossy(name)),
        }
        // A name is at most 255 bytes; a listing of more than 4 GiB of names is cut short.
        if let (Ok(start), Ok(len)) = (
            u32::try_from(start),
            u16::try_from(self.names.len() - start),
        ) {
            self.entries.push((start, len, kind));
        }
    }

    fn sort_if_long(&mut self) {
        if self.entries.len() > SCANNED {
            let names = &self.names;
            self.entries
                .sort_unstable_by(|a, b| name_at(names, a).cmp(name_at(names, b)));
        }
    }

    /// The listed names with their kinds, sorted (empty when not listed).
    pub fn entries(&self) -> impl Iterator<Item = (&str, Kind)> + '_ {
        let mut all: Vec<(&str, Kind)> = self
            .entries
            .iter()
            .map(|e| (name_at(&self.names, e), e.2))
            .collect();
        if self.entries.len() <= SCANNED {
            all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        all.into_iter()
    }

    /// What the listing says `name` is (Other when the directory could not be opened); without
    /// a listing, what `fstatat` says.
    pub fn kind(&self, name: &str) -> Kind {
        let Some(fd) = self.fd.as_ref() else {
            return Kind::Other;
        };
        if !self.listed {
            return match rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => kind_of(FileType::from_raw_mode(st.st_mode)),
                Err(Errno::NOENT) => Kind::Absent,
                Err(_) => Kind::Other,
            };
        }
        if self.entries.len() <= SCANNED {
            let hit = self
                .entries
                .iter()
                .find(|e| e.1 as usize == name.len() && name_at(&self.names, e) == name);
            return hit.map_or(Kind::Absent, |e| e.2);
        }
        match self
            .entries
            .binary_search_by(|e| name_at(&self.names, e).cmp(name))
        {
            Ok(i) => self.entries[i].2,
            Err(_) => Kind::Absent,
        }
    }

    fn missing(&self, p: &Path) -> SysfsError {
        SysfsError::Missing {
            path: sysfs::shown(self.root, p),
        }
    }

    /// The regular file `name` opened through the directory (None: take the path-based way).
    fn open_file(&self, name: &str) -> Option<OwnedFd> {
        let fd = self.fd.as_ref()?;
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        rustix::fs::openat(fd, name, flags, Mode::empty()).ok()
    }

    /// [`sysfs::read_text`] of `name` in this directory.
    pub fn read_text(&self, name: &str) -> Result<String, SysfsError> {
        self.with_text(name, str::to_string)
    }

    /// `f` of [`DeviceDir::read_text`]'s text, without building a string for it when the
    /// attribute is read through the directory and short (every sysfs number is).
    fn with_text<R>(&self, name: &str, f: impl FnOnce(&str) -> R) -> Result<R, SysfsError> {
        match self.kind(name) {
            Kind::Absent => return Err(self.missing(&self.path.join(name))),
            Kind::File => {
                if let Some(fd) = self.open_file(name) {
                    let mut buf = [0u8; SHORT_TEXT];
                    match rustix::io::read(&fd, &mut buf) {
                        // Short of the buffer: the whole file (see `read_small`).
                        Ok(n) if n < SHORT_TEXT => {
                            return Ok(f(String::from_utf8_lossy(&buf[..n]).trim()))
                        }
                        Ok(_) => {
                            if let Some(b) = read_small(&fd, &buf) {
                                return Ok(f(String::from_utf8_lossy(&b).trim()));
                            }
                        }
                        Err(_) => {}
                    }
                }
            }
            _ => {}
        }
        sysfs::read_text(self.root, &self.path.join(name)).map(|t| f(&t))
    }

    /// The text of `name` (as [`DeviceDir::read_text`]), None when it is absent or cannot be
    /// read: for an optional attribute whose error would be dropped, so none is built.
    pub fn read_optional_text(&self, name: &str) -> Option<String> {
        if self.fd.is_some() && self.kind(name) == Kind::Absent {
            return None;
        }
        self.read_text(name).ok()
    }

    /// [`sysfs::read_hex`] of `name` in this directory.
    pub fn read_hex(&self, name: &str, digits: usize) -> Result<u32, SysfsError> {
        self.with_text(name, |t| {
            sysfs::parse_hex(t, digits).ok_or_else(|| {
                sysfs::garbage_hex(&sysfs::shown(self.root, &self.path.join(name)), digits, t)
            })
        })?
    }

    /// [`sysfs::read_int`] of `name` in this directory.
    pub fn read_int(&self, name: &str) -> Result<i64, SysfsError> {
        self.with_text(name, |t| {
            t.parse()
                .map_err(|_| sysfs::garbage_int(&sysfs::shown(self.root, &self.path.join(name)), t))
        })?
    }

    /// [`sysfs::read_config`] of `name` in this directory, into `b` (its memory reused: a
    /// 4 KiB buffer per function is an mmap and munmap each with musl's allocator).
    pub fn read_config_into(&self, name: &str, b: &mut Vec<u8>) -> Result<(), SysfsError> {
        match self.kind(name) {
            Kind::Absent => return Err(self.missing(&self.path.join(name))),
            Kind::File => {
                if let Some(f) = self.open_file(name) {
                    let f = std::fs::File::from(f);
                    let quiet = |e| SysfsError::Unreadable {
                        path: String::new(),
                        source: e,
                    };
                    if sysfs::config_from(&f, b, quiet).is_ok() {
                        return Ok(());
                    }
                }
            }
            _ => {}
        }
        *b = sysfs::read_config(self.root, &self.path.join(name))?;
        Ok(())
    }

    /// [`sysfs::read_config`] of `name` in this directory.
    pub fn read_config(&self, name: &str) -> Result<Vec<u8>, SysfsError> {
        let mut b = Vec::new();
        self.read_config_into(name, &mut b)?;
        Ok(b)
    }

    /// The text of the link `name` read through the directory (into `buf` when it fits):
    /// listed, only when the listing says it is a link; unlisted, by `readlinkat` alone (not
    /// there: absent; not a link or any other error: the path-based reader answers).
    fn link_at<'b>(&self, name: &str, buf: &'b mut [u8; LINK_BUFFER]) -> LinkAt<'b> {
        let Some(fd) = self.fd.as_ref() else {
            return LinkAt::ByPath;
        };
        if self.listed {
            match self.kind(name) {
                Kind::Absent => return LinkAt::Absent,
                Kind::Link => {}
                _ => return LinkAt::ByPath,
            }
        }
        match rustix::fs::readlinkat_raw(fd, name, &mut *buf) {
            // Shorter than the buffer: all of it (else perhaps cut, so read it again whole).
            Ok(n) if n < LINK_BUFFER => LinkAt::Text(Cow::Borrowed(&buf[..n])),
            Ok(_) => match rustix::fs::readlinkat(fd, name, Vec::new()) {
                Ok(t) => LinkAt::Text(Cow::Owned(t.into_bytes())),
                Err(_) => LinkAt::ByPath,
            },
            Err(Errno::NOENT) if !self.listed => LinkAt::Absent,
            Err(_) => LinkAt::ByPath,
        }
    }

    /// [`sysfs::read_link`] of `name` in this directory.
    pub fn read_link(&self, name: &str) -> Result<PathBuf, SysfsError> {
        let p = self.path.join(name);
        let mut buf = [0u8; LINK_BUFFER];
        match self.link_at(name, &mut buf) {
            LinkAt::Absent => Err(self.missing(&p)),
            LinkAt::Text(t) => Ok(sysfs::link_target(self.root, &p, path_of(t))),
            LinkAt::ByPath => sysfs::read_link(self.root, &p),
        }
    }

    /// [`sysfs::link_name`] of `name` in this directory. A link whose target ends in a plain
    /// name is answered from the link text alone (the lexical resolution inside the root that
    /// [`DeviceDir::read_link`] does cannot change a last component that is not `.` or `..`).
    pub fn link_name(&self, name: &str) -> Result<String, SysfsError> {
        let mut buf = [0u8; LINK_BUFFER];
        let target = match self.link_at(name, &mut buf) {
            LinkAt::Absent => return Err(self.missing(&self.path.join(name))),
            LinkAt::Text(t) => {
                let last = t.rsplit(|b| *b == b'/').next().unwrap_or_default();
                if !last.is_empty() && last != b"." && last != b".." {
                    return Ok(String::from_utf8_lossy(last).into_owned());
                }
                sysfs::link_target(self.root, &self.path.join(name), path_of(t))
            }
            LinkAt::ByPath => sysfs::read_link(self.root, &self.path.join(name))?,
        };
        sysfs::target_name(self.root, &self.path.join(name), target)
    }

    /// True when the listing says `name` is not in the directory (false when not listed, or
    /// listed without a listing): a probe for an optional attribute then costs neither a
    /// system call nor an error message.
    pub fn absent(&self, name: &str) -> bool {
        self.listed && self.kind(name) == Kind::Absent
    }

    /// [`sysfs::driver_in`] of this directory.
    pub fn driver(&self) -> Result<Option<String>, SysfsError> {
        if self.absent("driver") {
            return Ok(None);
        }
        match self.link_name("driver") {
            Ok(d) => Ok(Some(d)),
            Err(SysfsError::Missing { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn name_at<'a>(names: &'a str, e: &(u32, u16, Kind)) -> &'a str {
    &names[e.0 as usize..e.0 as usize + e.1 as usize]
}

/// Opens `dir` (inside `root`) as the path-based readers resolve it: by the kernel inside the
/// root when it can ([`HostRoot::open_dir_in`]), else its parent resolved inside the root and
/// the last component opened without following a symlink; when that component is a symlink,
/// the whole path resolved inside the root and opened as resolved.
fn open_dir(root: &HostRoot, dir: &Path) -> rustix::io::Result<OwnedFd> {
    if let Some(fd) = root.open_dir_in(dir) {
        return Ok(fd);
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    if let (Some(parent), Some(last)) = (dir.parent(), dir.file_name()) {
        let first = root.confine(parent).join(last);
        match rustix::fs::open(&first, flags | OFlags::NOFOLLOW, Mode::empty()) {
            Err(Errno::LOOP) | Err(Errno::NOTDIR) => {}
            r => return r,
        }
    }
    rustix::fs::open(root.confine(dir), flags, Mode::empty())
}

/// All of a small regular file whose first bytes, `first`, were read already, at most
/// [`bounded_read::KERNEL_LIMIT`] bytes (None: an error, or more than that). A read that fills less than it was given is the end: a regular file
/// (the listing said so) reads short only there, and a sysfs attribute is produced whole at the
/// first read, so a 9-byte `class` costs one `read`, not a second one that returns 0.
fn read_small(fd: &OwnedFd, first: &[u8]) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(first.len() * 2);
    out.extend_from_slice(first);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        }
        let room = out.capacity() - out.len();
        // `spare_capacity` grows the length by what `read` wrote.
        let n = rustix::io::read(fd, rustix::buffer::spare_capacity(&mut out)).ok()?;
        if n < room {
            return Some(out);
        }
        if out.len() as u64 > bounded_read::KERNEL_LIMIT {
            return None;
        }
    }
}
/// The longest attribute [`DeviceDir::with_text`] reads without allocating.
const SHORT_TEXT: usize = 128;

/// The longest link text [`DeviceDir::link_at`] reads without allocating (sysfs links are
/// under 100 bytes).
const LINK_BUFFER: usize = 512;

/// What [`DeviceDir::link_at`] found.
enum LinkAt<'b> {
    /// The link's text.
    Text(Cow<'b, [u8]>),
    /// Nothing of that name.
    Absent,
    /// Ask the path-based reader (not a link, not read through the directory, an error).
    ByPath,
}

fn path_of(t: Cow<'_, [u8]>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(t.into_owned()))
}

fn kind_of(t: FileType) -> Kind {
    match t {
        FileType::RegularFile => Kind::File,
        FileType::Symlink => Kind::Link,
        FileType::Directory => Kind::Dir,
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A function directory holding every kind of attribute a damaged or hostile tree can
    /// hold, and a secret outside the root that nothing may read.
    fn damaged(d: &Path) -> (HostRoot, PathBuf) {
        let root_dir = d.join("root");
        let dev = root_dir.join("sys/devices/pci0000:00/0000:05:00.0");
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::create_dir_all(root_dir.join("etc")).unwrap();
        std::fs::write(d.join("secret"), "0x1234\n").unwrap();
        std::fs::write(root_dir.join("etc/inside"), "0x0abc\n").unwrap();
        std::fs::write(dev.join("class"), "0x010700\n").unwrap();
        std::fs::write(dev.join("garbage"), "banana\n").unwrap();
        std::fs::write(dev.join("empty"), "").unwrap();
        std::fs::write(dev.join("config"), [0x00u8, 0x10, 0x87, 0x00]).unwrap();
        std::fs::write(dev.join("numa_node"), "-1\n").unwrap();
        std::fs::create_dir(dev.join("subdir")).unwrap();
        symlink("../../../../secret", dev.join("escape_rel")).unwrap();
        symlink(d.join("secret"), dev.join("escape_abs")).unwrap();
        symlink("/etc/inside", dev.join("rerooted")).unwrap();
        symlink("class", dev.join("sibling")).unwrap();
        symlink("../../../bus/pci/drivers/mpt3sas", dev.join("driver")).unwrap();
        symlink("/sys/kernel/iommu_groups/7", dev.join("iommu_group")).unwrap();
        symlink("dangling-target", dev.join("dangling")).unwrap();
        symlink("loop", dev.join("loop")).unwrap();
        assert!(std::process::Command::new("mkfifo")
            .arg(dev.join("fifo"))
            .status()
            .unwrap()
            .success());
        (HostRoot::new(&root_dir), dev)
    }

    const NAMES: &[&str] = &[
        "class",
        "garbage",
        "empty",
        "config",
        "numa_node",
        "subdir",
        "escape_rel",
        "escape_abs",
        "rerooted",
        "sibling",
        "driver",
        "iommu_group",
        "dangling",
        "loop",
        "fifo",
        "absent",
    ];

    /// Every reader answers through the open directory exactly as the path-based reader does,
    /// message included, for every kind of entry (the secret outside the root is never read).
    fn same_as_by_path(root: &HostRoot, dir: &Path) {
        same_as_by_path_in(root, dir, DeviceDir::open(root, dir));
        same_as_by_path_in(root, dir, DeviceDir::open_unlisted(root, dir));
    }

    fn same_as_by_path_in(root: &HostRoot, dir: &Path, dd: DeviceDir) {
        for name in NAMES {
            let p = dir.join(name);
            let text = dd.read_text(name);
            assert_eq!(
                format!("{text:?}"),
                format!("{:?}", sysfs::read_text(root, &p)),
                "{name}"
            );
            assert!(!format!("{text:?}").contains("1234"), "{name}: {text:?}");
            assert_eq!(
                format!("{:?}", dd.read_hex(name, 6)),
                format!("{:?}", sysfs::read_hex(root, &p, 6)),
                "{name}"
            );
            assert_eq!(
                format!("{:?}", dd.read_int(name)),
                format!("{:?}", sysfs::read_int(root, &p)),
                "{name}"
            );
            assert_eq!(
                format!("{:?}", dd.read_config(name)),
                format!("{:?}", sysfs::read_config(root, &p)),
                "{name}"
            );
            assert_eq!(
                format!("{:?}", dd.read_link(name)),
                format!("{:?}", sysfs::read_link(root, &p)),
                "{name}"
            );
            assert_eq!(
                format!("{:?}", dd.link_name(name)),
                format!("{:?}", sysfs::link_name(root, &p)),
                "{name}"
            );
        }
        assert_eq!(
            format!("{:?}", dd.driver()),
            format!("{:?}", sysfs::driver_in(root, dir))
        );
    }

    #[test]
    fn every_kind_of_entry_reads_as_the_path_based_readers_read_it() {
        let d = tempfile::tempdir().unwrap();
        let (root, dev) = damaged(d.path());
        let dd = DeviceDir::open(&root, &dev);
        assert!(dd.fd.is_some(), "a plain directory is read through its fd");
        assert_eq!(dd.kind("class"), Kind::File);
        assert_eq!(dd.kind("driver"), Kind::Link);
        assert_eq!(dd.kind("fifo"), Kind::Other);
        assert_eq!(dd.kind("absent"), Kind::Absent);
        let unlisted = DeviceDir::open_unlisted(&root, &dev);
        assert!(unlisted.fd.is_some() && unlisted.entries().next().is_none());
        for name in NAMES {
            assert_eq!(unlisted.kind(name), dd.kind(name), "{name}");
        }
        assert!(
            !unlisted.absent("absent"),
            "without a listing nothing is known absent"
        );
        same_as_by_path(&root, &dev);
        assert_eq!(dd.read_text("class").unwrap(), "0x010700");
        assert_eq!(dd.read_hex("rerooted", 4).unwrap(), 0x0abc);
        assert_eq!(dd.driver().unwrap().as_deref(), Some("mpt3sas"));
    }

    #[test]
    fn a_symlinked_directory_is_resolved_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let (root, dev) = damaged(d.path());
        let sys = root.dir().join("sys");
        // Relative, absolute (re-rooted) and escaping links to the device directory.
        symlink("devices/pci0000:00/0000:05:00.0", sys.join("rel")).unwrap();
        symlink("/sys/devices/pci0000:00/0000:05:00.0", sys.join("abs")).unwrap();
        let outside = d.path().join("outside-dev");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("class"), "0x1234\n").unwrap();
        symlink("../../outside-dev", sys.join("up")).unwrap();
        symlink(&outside, sys.join("out")).unwrap();
        for name in ["rel", "abs", "up", "out"] {
            same_as_by_path(&root, &sys.join(name));
        }
        assert_eq!(
            DeviceDir::open(&root, &sys.join("abs"))
                .read_text("class")
                .unwrap(),
            "0x010700"
        );
        assert!(matches!(
            DeviceDir::open(&root, &sys.join("out")).read_text("class"),
            Err(SysfsError::Missing { .. })
        ));
        let _ = dev;
    }

    #[test]
    fn a_directory_that_is_not_there_is_read_by_path_and_says_why() {
        let d = tempfile::tempdir().unwrap();
        let (root, dev) = damaged(d.path());
        let gone = dev.join("gone");
        let dd = DeviceDir::open(&root, &gone);
        assert!(dd.fd.is_none());
        assert_eq!(
            dd.listing_error().map(|e| e.kind()),
            Some(io::ErrorKind::NotFound)
        );
        same_as_by_path(&root, &gone);
        let listed = DeviceDir::open(&root, &dev);
        assert!(listed.listing_error().is_none());
        let names: Vec<&str> = listed.entries().map(|(n, _)| n).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(names.contains(&"fifo") && !names.contains(&"."));
        // Reused for another directory, it is that directory's, nothing of the last one kept.
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let gone_again = listed.reopen(&gone);
        assert!(gone_again.fd.is_none() && gone_again.entries().next().is_none());
        assert!(gone_again.listing_error().is_some());
        let back = gone_again.reopen(&dev);
        assert!(back.listing_error().is_none() && back.path() == dev);
        assert_eq!(back.entries().map(|(n, _)| n).collect::<Vec<_>>(), names);
    }
}
