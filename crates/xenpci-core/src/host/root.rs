//! [`HostRoot`]: maps absolute host paths (`/sys/bus/pci/devices`) into a root directory, with
//! every symlink on the way resolved inside the root the way the kernel does for
//! `openat2(RESOLVE_IN_ROOT)`: an absolute target starts again at the root and `..` stops at it,
//! so nothing under `--root` can make xenpci read or write a file outside it.

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The most symlinks followed for one path (the kernel's limit).
const MAX_LINKS: usize = 40;

/// Why a host root cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    /// The root directory does not exist or is not a directory.
    #[error("host root {dir} {problem} (expected a directory standing for /)")]
    Unusable {
        /// The root given.
        dir: PathBuf,
        /// "does not exist", "is not a directory", ...
        problem: String,
    },
}

/// The directory that stands for `/` on the host being inspected.
///
/// Resolving a path inside a root other than `/` costs one `lstat` per component; an inventory
/// resolves ~5 paths of ~9 components per function. Components found to be real directories
/// (not symlinks) are remembered by every clone of the root, so each is looked at once. Symlinks
/// are never remembered: sysfs re-points `driver` links when a device is rebound, and a path
/// through one (`.../driver/unbind`) must follow the link as it is now.
#[derive(Debug, Clone)]
pub struct HostRoot {
    dir: PathBuf,
    /// Paths relative to `dir` known to be directories, not symlinks.
    known_dirs: Arc<Mutex<HashSet<PathBuf>>>,
    /// `dir` opened (`O_PATH`) at the first [`HostRoot::open_dir_in`], None when it cannot be
    /// or the kernel has no `openat2`: then every path is resolved the lexical way.
    dir_fd: Arc<OnceLock<Option<OwnedFd>>>,
}

impl PartialEq for HostRoot {
    fn eq(&self, other: &HostRoot) -> bool {
        self.dir == other.dir
    }
}

impl Eq for HostRoot {}

impl Default for HostRoot {
    fn default() -> HostRoot {
        HostRoot::new("/")
    }
}

impl HostRoot {
    /// A root at `dir` (not checked: see [`HostRoot::check`]).
    pub fn new(dir: impl Into<PathBuf>) -> HostRoot {
        HostRoot {
            dir: dir.into(),
            known_dirs: Arc::default(),
            dir_fd: Arc::default(),
        }
    }

    /// A root at `dir`, which must be an existing directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<HostRoot, RootError> {
        let r = HostRoot::new(dir);
        r.check()?;
        Ok(r)
    }

    /// The configured root ([`crate::config::Config::root`], from `XENPCI_ROOT` read once by
    /// the binary's `main`), else `/`.
    pub fn configured() -> HostRoot {
        crate::config::get()
            .root
            .clone()
            .map(HostRoot::new)
            .unwrap_or_default()
    }

    /// Ok when the root is an existing directory; an operation on a missing root must fail
    /// (not report an empty host) and create nothing.
    pub fn check(&self) -> Result<(), RootError> {
        let problem = match std::fs::metadata(&self.dir) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) => "is not a directory".to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".to_string(),
            Err(e) => format!("cannot be used: {e}"),
        };
        Err(RootError::Unusable {
            dir: self.dir.clone(),
            problem,
        })
    }

    /// The root directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// True when this is the real `/`.
    pub fn is_real(&self) -> bool {
        self.dir == Path::new("/")
    }

    /// Maps an absolute host path (`/sys/...`) into the root, every symlink (the last component's
    /// too) resolved inside the root. When the kernel would resolve the plain join the same way
    /// (no absolute target, no `..` above the root) the plain join is returned, so messages keep
    /// the path as given.
    pub fn path(&self, host_path: impl AsRef<Path>) -> PathBuf {
        self.resolve(host_path.as_ref(), true)
    }

    /// [`HostRoot::path`] without following a symlink in the last component (for reading the
    /// link itself: `.../driver`).
    pub fn link_path(&self, host_path: impl AsRef<Path>) -> PathBuf {
        self.resolve(host_path.as_ref(), false)
    }

    /// A path already inside the root (`root.path(..)` joined with more components) confined
    /// again: symlinks in the added components are resolved inside the root too.
    pub fn confine(&self, inside: &Path) -> PathBuf {
        self.path(self.host_path(inside))
    }

    fn plain(&self, p: &Path) -> PathBuf {
        self.dir.join(p.strip_prefix("/").unwrap_or(p))
    }

    fn resolve(&self, p: &Path, follow_last: bool) -> PathBuf {
        if self.is_real() {
            return self.plain(p);
        }
        let mut todo: VecDeque<OsString> = VecDeque::new();
        let mut rewritten = false;
        for c in p.components() {
            match c {
                Component::Normal(n) => todo.push_back(n.to_os_string()),
                Component::ParentDir => todo.push_back("..".into()),
                _ => {}
            }
        }
        let mut done = PathBuf::new();
        let mut links = 0;
        while let Some(c) = todo.pop_front() {
            if c == ".." {
                if !done.pop() {
                    rewritten = true;
                }
                continue;
            }
            let candidate = done.join(&c);
            if todo.is_empty() && !follow_last {
                done = candidate;
                break;
            }
            let real = self.dir.join(&candidate);
            let target = if self.is_known_dir(&candidate) {
                None
            } else {
                match std::fs::symlink_metadata(&real) {
                    Ok(m) if m.file_type().is_symlink() => std::fs::read_link(&real).ok(),
                    Ok(m) if m.is_dir() => {
                        self.remember_dir(&candidate);
                        None
                    }
                    _ => None,
                }
            };
            let Some(target) = target else {
                done = candidate;
                continue;
            };
            links += 1;
            if links > MAX_LINKS {
                // A loop: a path that names nothing (the kernel says ELOOP), still inside.
                return self.dir.join(".xenpci-symlink-loop").join(candidate);
            }
            if target.is_absolute() {
                rewritten = true;
                done = PathBuf::new();
            }
            let mut front: Vec<OsString> = Vec::new();
            for tc in target.components() {
                match tc {
                    Component::Normal(n) => front.push(n.to_os_string()),
                    Component::ParentDir => front.push("..".into()),
                    _ => {}
                }
            }
            for f in front.into_iter().rev() {
                todo.push_front(f);
            }
        }
        if rewritten {
            self.dir.join(done)
        } else {
            self.plain(p)
        }
    }

    /// Opens the directory `inside` (a path inside the root, as [`HostRoot::path`] gives) with
    /// the kernel resolving it the way [`HostRoot::path`] does by hand: `openat2` with
    /// `RESOLVE_IN_ROOT` from the root directory, so an absolute symlink starts again at the
    /// root and `..` stops there, in one system call and without the per-component `lstat`s.
    /// None when that cannot be done here (a path not under the root, no `openat2` in this
    /// kernel or sandbox, any error): the caller then opens `confine(inside)` as before, so its
    /// answer and its error are the lexical way's.
    pub fn open_dir_in(&self, inside: &Path) -> Option<OwnedFd> {
        use rustix::fs::{Mode, OFlags, ResolveFlags};
        let rel = inside.strip_prefix(&self.dir).ok()?;
        let fd = self.dir_fd.get_or_init(|| {
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            rustix::fs::open(&self.dir, flags, Mode::empty()).ok()
        });
        let fd: BorrowedFd = fd.as_ref()?.as_fd();
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        rustix::fs::openat2(fd, rel, flags, Mode::empty(), how).ok()
    }

    fn is_known_dir(&self, rel: &Path) -> bool {
        self.known_dirs.lock().is_ok_and(|d| d.contains(rel))
    }

    fn remember_dir(&self, rel: &Path) {
        if let Ok(mut d) = self.known_dirs.lock() {
            d.insert(rel.to_path_buf());
        }
    }

    /// Maps a path inside the root back to the host path it stands for (`/sys/...`), for messages
    /// and for resolving absolute symlink targets.
    pub fn host_path(&self, inside: &Path) -> PathBuf {
        match inside.strip_prefix(&self.dir) {
            Ok(rel) => Path::new("/").join(rel),
            Err(_) => inside.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn paths_map_into_and_out_of_the_root() {
        let r = HostRoot::new("/tmp/demo");
        assert_eq!(
            r.path("/sys/bus/pci"),
            PathBuf::from("/tmp/demo/sys/bus/pci")
        );
        assert_eq!(
            r.host_path(Path::new("/tmp/demo/proc/mounts")),
            PathBuf::from("/proc/mounts")
        );
        assert_eq!(HostRoot::default().path("/etc/x"), PathBuf::from("/etc/x"));
    }

    #[test]
    fn a_re_pointed_driver_link_is_followed_as_it_is_now() {
        // Directories are remembered, links never: after a rebind, `driver/unbind` is the new
        // driver's, even for a clone of the root that resolved the old one.
        let d = tempfile::tempdir().unwrap();
        let r = HostRoot::new(d.path());
        for drv in ["mpt3sas", "pciback"] {
            std::fs::create_dir_all(d.path().join(format!("sys/bus/pci/drivers/{drv}"))).unwrap();
        }
        std::fs::create_dir_all(d.path().join("sys/devices/p/05")).unwrap();
        let link = d.path().join("sys/devices/p/05/driver");
        symlink("/sys/bus/pci/drivers/mpt3sas", &link).unwrap();
        let inside = |p: &str| d.path().join(p);
        assert_eq!(
            r.path("/sys/devices/p/05/driver/unbind"),
            inside("sys/bus/pci/drivers/mpt3sas/unbind")
        );
        std::fs::remove_file(&link).unwrap();
        symlink("/sys/bus/pci/drivers/pciback", &link).unwrap();
        assert_eq!(
            r.clone().path("/sys/devices/p/05/driver/unbind"),
            inside("sys/bus/pci/drivers/pciback/unbind")
        );
        assert_eq!(
            r,
            HostRoot::new(d.path()),
            "equal by directory, whatever is cached"
        );
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let r = HostRoot::new(d.path());
        std::fs::create_dir_all(d.path().join("boot/real")).unwrap();
        std::fs::create_dir_all(d.path().join("sys/devices/x")).unwrap();
        symlink("/elsewhere/extlinux.conf", d.path().join("boot/ext")).unwrap();
        symlink("../../../../../etc", d.path().join("boot/up")).unwrap();
        symlink("/boot/real", d.path().join("boot/abs")).unwrap();
        symlink("../devices/x", d.path().join("sys/rel")).unwrap();
        symlink("/loop", d.path().join("loop")).unwrap();
        let inside = |p: &str| d.path().join(p);
        assert_eq!(r.path("/boot/ext"), inside("elsewhere/extlinux.conf"));
        assert_eq!(r.path("/boot/up/x"), inside("etc/x"));
        assert_eq!(r.path("/boot/abs/f"), inside("boot/real/f"));
        assert_eq!(r.path("/../../etc/f"), inside("etc/f"));
        assert_eq!(
            r.path("/sys/rel/vendor"),
            inside("sys/rel/vendor"),
            "kept as given"
        );
        assert_eq!(r.link_path("/boot/ext"), inside("boot/ext"));
        assert!(r.path("/loop").starts_with(d.path()));
        assert!(!r.path("/loop").exists());
    }

    #[test]
    fn a_missing_root_is_an_error_naming_it() {
        let e = HostRoot::open("/nonexistent/xenpci-root").unwrap_err();
        assert_eq!(
            e.to_string(),
            "host root /nonexistent/xenpci-root does not exist (expected a directory standing for /)"
        );
        assert!(HostRoot::open("/").is_ok());
    }
}
