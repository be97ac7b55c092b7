//! The process's configuration from the environment, read in one place: the binaries build a
//! [`Config`] with [`Config::from_env`] at start and [`install`] it; the library asks [`get`]
//! and reads no environment variable itself. A program using the library that installs none
//! gets the settings of an empty environment ([`Config::default`]), whatever its environment
//! holds: the library's own tests are hermetic, and an embedding program decides.
//!
//! The variables (names and defaults unchanged):
//! * `XENPCI_XE`, `XENPCI_XL`, `XENPCI_XEN_CMDLINE` and the KVM tools' `XENPCI_VIRSH`, ...: the path of that tool (empty: unset), see
//!   [`crate::exec::Tool`];
//! * `XENPCI_ROOT`: whether it is set, so that a child is given the host root only when it did
//!   not inherit one (see [`crate::exec::SystemRunner`]);
//! * `XENPCI_XE_WAIT_SECS`: how long a wait for a VM's power state lasts (default 600);
//! * `XENSTORED_PATH`: the xenstored socket named in errors (default `/run/xenstored/socket`);
//! * `XENPCI_NO_XENSTORE` (`1`: do not verify through XenStore), `XENPCI_VERIFY_SECS` (default
//!   60), `XENPCI_XL_CONFIG_DIRS` (default `/etc/xen`), `XENPCI_SHUTDOWN_SECS` (default 120): the
//!   flows' settings.
//!
//! The test-only fault hooks (`XENPCI_FAIL_WRITE`, `XENPCI_CRASH_*_STEP`) are not here: they are
//! compiled only with the `fault-injection` feature and read where they strike.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// Everything xenpci takes from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `XENPCI_XE`: the `xe` to run instead of the one on PATH.
    pub xe: Option<PathBuf>,
    /// `XENPCI_XL`: the `xl` to run instead of the one on PATH.
    pub xl: Option<PathBuf>,
    /// `XENPCI_XEN_CMDLINE`: the `xen-cmdline` to run instead of XCP-ng's.
    pub xen_cmdline: Option<PathBuf>,
    /// `XENPCI_ROOT` is set (to anything): children inherit it, so it is not set for them.
    pub root_in_env: bool,
    /// `XENPCI_ROOT`, when set and not empty: the host root (else `/`). The CLI reads the same
    /// variable through clap (`--root`); the plugin takes it from here.
    pub root: Option<PathBuf>,
    /// `XENPCI_XE_WAIT_SECS`: the longest wait for a VM to reach a power state.
    pub xe_wait: Duration,
    /// `XENSTORED_PATH`: the xenstored socket (the xenstore client library reads the same
    /// variable; this one names it in errors).
    pub xenstored_path: String,
    /// `XENPCI_NO_XENSTORE=1`: a hot-plug is not verified through XenStore.
    pub no_xenstore: bool,
    /// `XENPCI_VERIFY_SECS`: how long a half-done XenStore verdict is polled.
    pub verify: Duration,
    /// `XENPCI_XL_CONFIG_DIRS`: `:`-separated directories holding the guests' xl.cfg files.
    pub xl_config_dirs: String,
    /// `XENPCI_SHUTDOWN_SECS`: how long `xl shutdown -w` may take.
    pub shutdown: Duration,
    /// The KVM hosts' tools by override variable (`XENPCI_VIRSH`, `XENPCI_UPDATE_GRUB`,
    /// `XENPCI_GRUB2_MKCONFIG`, `XENPCI_UPDATE_INITRAMFS`, `XENPCI_DRACUT`, `XENPCI_MODPROBE`, `XENPCI_IP`).
    pub kvm_tools: std::collections::BTreeMap<&'static str, PathBuf>,
}

/// The override variables of [`Config::kvm_tools`].
pub const KVM_TOOL_VARS: [&str; 7] = [
    "XENPCI_VIRSH",
    "XENPCI_UPDATE_GRUB",
    "XENPCI_GRUB2_MKCONFIG",
    "XENPCI_UPDATE_INITRAMFS",
    "XENPCI_DRACUT",
    "XENPCI_MODPROBE",
    "XENPCI_IP",
];

impl Default for Config {
    /// The settings of an empty environment.
    fn default() -> Config {
        Config::from_vars(|_| None)
    }
}

impl Config {
    /// The settings of this process's environment.
    pub fn from_env() -> Config {
        Config::from_vars(|name| std::env::var_os(name))
    }

    /// The settings of an environment given as a lookup (`name` → value). A number that does
    /// not parse is the default, as before.
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Config {
        let path = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let text = |name: &str| var(name).and_then(|v| v.into_string().ok());
        let secs = |name: &str, default: u64| {
            Duration::from_secs(text(name).and_then(|s| s.parse().ok()).unwrap_or(default))
        };
        Config {
            xe: path("XENPCI_XE"),
            xl: path("XENPCI_XL"),
            xen_cmdline: path("XENPCI_XEN_CMDLINE"),
            root_in_env: var("XENPCI_ROOT").is_some(),
            root: path("XENPCI_ROOT"),
            xe_wait: secs("XENPCI_XE_WAIT_SECS", 600),
            xenstored_path: text("XENSTORED_PATH")
                .unwrap_or_else(|| "/run/xenstored/socket".to_string()),
            no_xenstore: text("XENPCI_NO_XENSTORE").as_deref() == Some("1"),
            verify: secs("XENPCI_VERIFY_SECS", 60),
            xl_config_dirs: text("XENPCI_XL_CONFIG_DIRS").unwrap_or_else(|| "/etc/xen".into()),
            shutdown: secs("XENPCI_SHUTDOWN_SECS", 120),
            kvm_tools: KVM_TOOL_VARS
                .iter()
                .filter_map(|v| path(v).map(|p| (*v, p)))
                .collect(),
        }
    }
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// Makes `config` this process's configuration. The first call (or the first [`get`]) wins: a
/// later call returns `false` and changes nothing.
pub fn install(config: Config) -> bool {
    CONFIG.set(config).is_ok()
}

/// This process's configuration: the installed one, else (from then on) [`Config::default`].
pub fn get() -> &'static Config {
    CONFIG.get_or_init(Config::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Config {
        let owned: Vec<(String, OsString)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Config::from_vars(|name| {
            owned
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn an_empty_environment_gives_the_documented_defaults() {
        let c = Config::default();
        assert_eq!((c.xe, c.xl, c.xen_cmdline), (None, None, None));
        assert!(!c.root_in_env && !c.no_xenstore);
        assert_eq!(c.xe_wait, Duration::from_secs(600));
        assert_eq!(c.verify, Duration::from_secs(60));
        assert_eq!(c.shutdown, Duration::from_secs(120));
        assert_eq!(c.xenstored_path, "/run/xenstored/socket");
        assert_eq!(c.xl_config_dirs, "/etc/xen");
    }

    #[test]
    fn each_variable_lands_in_its_field_and_bad_or_empty_values_are_the_default() {
        let c = vars(&[
            ("XENPCI_XE", "/opt/mock/xe"),
            ("XENPCI_XL", ""),
            ("XENPCI_ROOT", ""),
            ("XENPCI_XE_WAIT_SECS", "5"),
            ("XENPCI_VERIFY_SECS", "soon"),
            ("XENPCI_NO_XENSTORE", "1"),
            ("XENSTORED_PATH", "/tmp/xs"),
            ("XENPCI_XL_CONFIG_DIRS", "/a:/b"),
            ("XENPCI_SHUTDOWN_SECS", "7"),
        ]);
        assert_eq!(c.xe, Some(PathBuf::from("/opt/mock/xe")));
        assert_eq!(c.xl, None, "an empty path is unset");
        assert!(c.root_in_env, "set, even to nothing");
        assert_eq!(c.root, None, "an empty root is /");
        assert_eq!(
            vars(&[("XENPCI_ROOT", "/srv/host")]).root,
            Some(PathBuf::from("/srv/host"))
        );
        assert_eq!(c.xe_wait, Duration::from_secs(5));
        assert_eq!(
            c.verify,
            Duration::from_secs(60),
            "not a number: the default"
        );
        assert!(c.no_xenstore);
        assert_eq!(c.xenstored_path, "/tmp/xs");
        assert_eq!(c.xl_config_dirs, "/a:/b");
        assert_eq!(c.shutdown, Duration::from_secs(7));
        assert!(!vars(&[("XENPCI_NO_XENSTORE", "yes")]).no_xenstore);
    }
}
