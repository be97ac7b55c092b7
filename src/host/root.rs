//! [`HostRoot`]: maps absolute host paths (`/sys/bus/pci/devices`) into a root directory.

use std::path::{Path, PathBuf};

/// The directory that stands for `/` on the host being inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoot(PathBuf);

impl Default for HostRoot {
    fn default() -> HostRoot {
        HostRoot(PathBuf::from("/"))
    }
}

impl HostRoot {
    /// A root at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> HostRoot {
        HostRoot(dir.into())
    }

    /// The root from `XENPCI_ROOT`, else `/`.
    pub fn from_env() -> HostRoot {
        std::env::var_os("XENPCI_ROOT")
            .filter(|v| !v.is_empty())
            .map(HostRoot::new)
            .unwrap_or_default()
    }

    /// The root directory itself.
    pub fn dir(&self) -> &Path {
        &self.0
    }

    /// True when this is the real `/`.
    pub fn is_real(&self) -> bool {
        self.0 == Path::new("/")
    }

    /// Maps an absolute host path (`/sys/...`) into the root.
    pub fn path(&self, host_path: impl AsRef<Path>) -> PathBuf {
        let p = host_path.as_ref();
        self.0.join(p.strip_prefix("/").unwrap_or(p))
    }

    /// Maps a path inside the root back to the host path it stands for (`/sys/...`), for messages
    /// and for resolving absolute symlink targets.
    pub fn host_path(&self, inside: &Path) -> PathBuf {
        match inside.strip_prefix(&self.0) {
            Ok(rel) => Path::new("/").join(rel),
            Err(_) => inside.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
