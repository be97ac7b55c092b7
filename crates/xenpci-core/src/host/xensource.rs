//! `/etc/xensource-inventory`, the file that makes a host a XAPI host (XCP-ng, XenServer): plain
//! Xen has none. Its presence under the [`HostRoot`] is the one test of "XAPI host" in xenpci
//! ([`Toolstack::of`]: which commands `xenpci check` suggests; the hide method detection), and
//! its `KEY='value'` lines ([`value`]) give the product, version, host uuid and management
//! interface.

use super::HostRoot;

/// Where the inventory lives on the host.
pub const PATH: &str = "/etc/xensource-inventory";

/// Which toolstack runs the host, for the commands xenpci tells the user to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toolstack {
    /// XCP-ng / XenServer: devices are hidden persistently through XAPI (`xenpci hide`).
    Xapi,
    /// Plain Xen with xl.
    Xl,
    /// Linux without Xen running KVM guests (`/dev/kvm` or libvirt, [`super::kvm::evidence`]):
    /// devices are hidden by binding them to vfio-pci.
    Kvm,
}

impl Toolstack {
    /// [`Toolstack::Xapi`] when `/etc/xensource-inventory` exists under `root`; else
    /// [`Toolstack::Kvm`] when the host shows KVM or libvirt and no Xen; else [`Toolstack::Xl`].
    pub fn of(root: &HostRoot) -> Toolstack {
        if root.path(PATH).exists() {
            Toolstack::Xapi
        } else if super::kvm::evidence(root).is_some() {
            Toolstack::Kvm
        } else {
            Toolstack::Xl
        }
    }

    /// Its name in reports (`xapi`, `xl`, `kvm`).
    pub fn name(self) -> &'static str {
        match self {
            Toolstack::Xapi => "xapi",
            Toolstack::Xl => "xl",
            Toolstack::Kvm => "kvm",
        }
    }
}

/// The value of `key` in the inventory text (`KEY='value'`, `KEY="value"` or `KEY=value`).
pub fn value(inventory: &str, key: &str) -> Option<String> {
    inventory.lines().find_map(|l| {
        l.trim()
            .strip_prefix(key)
            .and_then(|r| r.strip_prefix('='))
            .map(|v| v.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_unquoted_and_keys_match_whole() {
        let inv =
            "PRODUCT_BRAND='XCP-ng'\n  INSTALLATION_UUID=\"abc\"\nMANAGEMENT_INTERFACE=xenbr0\n";
        assert_eq!(value(inv, "PRODUCT_BRAND").as_deref(), Some("XCP-ng"));
        assert_eq!(value(inv, "INSTALLATION_UUID").as_deref(), Some("abc"));
        assert_eq!(
            value(inv, "MANAGEMENT_INTERFACE").as_deref(),
            Some("xenbr0")
        );
        assert_eq!(value(inv, "PRODUCT"), None);
    }

    #[test]
    fn the_inventory_file_decides_the_toolstack() {
        let dir = tempfile::tempdir().unwrap();
        let root = HostRoot::new(dir.path());
        assert_eq!(Toolstack::of(&root), Toolstack::Xl);
        std::fs::create_dir_all(root.path("/etc")).unwrap();
        std::fs::write(root.path(PATH), "PRODUCT_BRAND='XCP-ng'\n").unwrap();
        assert_eq!(Toolstack::of(&root), Toolstack::Xapi);
        std::fs::remove_file(root.path(PATH)).unwrap();
        std::fs::create_dir_all(root.path("/etc/libvirt")).unwrap();
        assert_eq!(Toolstack::of(&root), Toolstack::Kvm);
    }
}
