//! [`Tool`]: the external programs xenpci drives, found through `PATH` or an override variable
//! (`XENPCI_XE`, `XENPCI_XL`, `XENPCI_XEN_CMDLINE`), so tests and users can point at other binaries.
//!
//! The `--root` contract: once [`confine_to_root`] has named a host root other than `/`, the
//! host's own tools (PATH, the usual install paths) are never used — only the stand-ins the
//! override variables name, which get the root as `XENPCI_ROOT`; [`crate::exec::SystemRunner`]
//! refuses to spawn a host tool by its bare name.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::command::CommandSpec;

/// An external program xenpci knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// XAPI's CLI.
    Xe,
    /// Xen's xl.
    Xl,
    /// XCP-ng/XenServer's `/opt/xensource/libexec/xen-cmdline`.
    XenCmdline,
    /// libvirt's `virsh` (KVM hosts: `xenpci libvirt-xml --attach`).
    Virsh,
    /// Debian's `update-grub` (KVM hosts: the kernel IOMMU option).
    UpdateGrub,
    /// Fedora/RHEL's `grub2-mkconfig` (KVM hosts: the kernel IOMMU option).
    Grub2Mkconfig,
    /// Debian's `update-initramfs` (KVM hosts: vfio in the initramfs).
    UpdateInitramfs,
    /// `dracut` (KVM hosts on Fedora/RHEL/SUSE: vfio in the initramfs).
    Dracut,
    /// `modprobe` (KVM hosts: loading vfio-pci before a live bind).
    Modprobe,
    /// iproute2's `ip` (an SR-IOV NIC's VF MAC and VLAN: `ip link set PF vf N ...`).
    Ip,
}

/// Every tool, for the confinement check.
const ALL: [Tool; 10] = [
    Tool::Xe,
    Tool::Xl,
    Tool::XenCmdline,
    Tool::Virsh,
    Tool::UpdateGrub,
    Tool::Grub2Mkconfig,
    Tool::UpdateInitramfs,
    Tool::Dracut,
    Tool::Modprobe,
    Tool::Ip,
];

/// The program is neither overridden nor found.
#[derive(Debug, thiserror::Error)]
#[error("cannot find `{name}`: {why} (set {var} to its path)")]
pub struct ToolError {
    /// Program name.
    pub name: &'static str,
    /// Override variable.
    pub var: &'static str,
    /// Where it was looked for, or why it was not.
    pub why: String,
}

static CONFINED: OnceLock<PathBuf> = OnceLock::new();

/// Confines this process to the host root `root`: when it is not `/`, no host tool from PATH or
/// its install path will be located or spawned (the first call wins; later ones are ignored).
pub fn confine_to_root(root: &Path) {
    if root != Path::new("/") {
        let _ = CONFINED.set(root.to_path_buf());
    }
}

/// The host root this process is confined to, when it is not `/`.
pub fn confined_root() -> Option<&'static Path> {
    CONFINED.get().map(PathBuf::as_path)
}

impl Tool {
    /// The program's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Xe => "xe",
            Tool::Xl => "xl",
            Tool::XenCmdline => "xen-cmdline",
            Tool::Virsh => "virsh",
            Tool::UpdateGrub => "update-grub",
            Tool::Grub2Mkconfig => "grub2-mkconfig",
            Tool::UpdateInitramfs => "update-initramfs",
            Tool::Dracut => "dracut",
            Tool::Modprobe => "modprobe",
            Tool::Ip => "ip",
        }
    }

    /// The environment variable that overrides where it is.
    pub fn env_var(self) -> &'static str {
        match self {
            Tool::Xe => "XENPCI_XE",
            Tool::Xl => "XENPCI_XL",
            Tool::XenCmdline => "XENPCI_XEN_CMDLINE",
            Tool::Virsh => "XENPCI_VIRSH",
            Tool::UpdateGrub => "XENPCI_UPDATE_GRUB",
            Tool::Grub2Mkconfig => "XENPCI_GRUB2_MKCONFIG",
            Tool::UpdateInitramfs => "XENPCI_UPDATE_INITRAMFS",
            Tool::Dracut => "XENPCI_DRACUT",
            Tool::Modprobe => "XENPCI_MODPROBE",
            Tool::Ip => "XENPCI_IP",
        }
    }

    fn fallbacks(self) -> &'static [&'static str] {
        match self {
            Tool::XenCmdline => &["/opt/xensource/libexec/xen-cmdline"],
            Tool::Xe => &["/opt/xensource/bin/xe"],
            Tool::UpdateGrub => &["/usr/sbin/update-grub"],
            Tool::Grub2Mkconfig => &["/usr/sbin/grub2-mkconfig"],
            Tool::UpdateInitramfs => &["/usr/sbin/update-initramfs"],
            Tool::Dracut => &["/usr/bin/dracut", "/usr/sbin/dracut"],
            Tool::Modprobe => &["/sbin/modprobe", "/usr/sbin/modprobe"],
            Tool::Ip => &["/sbin/ip", "/usr/sbin/ip", "/bin/ip"],
            Tool::Xl | Tool::Virsh => &[],
        }
    }

    /// Where the program is: the override variable (read into [`crate::config::Config`]), else
    /// PATH, else its usual install path.
    pub fn locate(self) -> Result<PathBuf, ToolError> {
        let config = crate::config::get();
        let given = match self {
            Tool::Xe => config.xe.as_ref(),
            Tool::Xl => config.xl.as_ref(),
            Tool::XenCmdline => config.xen_cmdline.as_ref(),
            _ => config.kvm_tools.get(self.env_var()),
        };
        if let Some(p) = given {
            return Ok(p.clone());
        }
        if let Some(root) = confined_root() {
            return Err(ToolError {
                name: self.name(),
                var: self.env_var(),
                why: format!(
                    "under the host root {} xenpci never runs the host's own {} (it would act on \
                     the real host), only a stand-in",
                    root.display(),
                    self.name()
                ),
            });
        }
        if let Ok(p) = which::which(self.name()) {
            return Ok(p);
        }
        for f in self.fallbacks() {
            let p = PathBuf::from(f);
            if p.is_file() {
                return Ok(p);
            }
        }
        let why = match self.fallbacks() {
            [] => "not on PATH".to_string(),
            f => format!("not on PATH nor at {}", f.join(", ")),
        };
        Err(ToolError {
            name: self.name(),
            var: self.env_var(),
            why,
        })
    }

    /// The tool `program` names when it is a host tool's bare name or usual install path (what
    /// a confined process must not spawn).
    pub fn host_tool(program: &str) -> Option<Tool> {
        ALL.into_iter()
            .find(|t| program == t.name() || t.fallbacks().contains(&program))
    }

    /// True when the program can be found.
    pub fn available(self) -> bool {
        self.locate().is_ok()
    }

    /// A command for this program: its located path, or its bare name when it cannot be found
    /// (fine for a dry run; a real run then fails with the spawn error naming the program).
    pub fn command(self) -> CommandSpec {
        CommandSpec::new(
            self.locate()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| self.name().into()),
        )
    }
}
