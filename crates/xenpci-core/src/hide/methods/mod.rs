//! The ways a hide list reaches dom0. Persistent ([`Method`]): XCP-ng/XenServer's `xen-cmdline`,
//! XCP-ng 8.3's `xe pci-disable-dom0-access`, GRUB's `grub.cfg` (and Debian's
//! `/etc/default/grub`), XenServer 6.x's `extlinux.conf`, and `modprobe.d` when pciback is a
//! module. Live ([`LiveMethod`]): `xl pci-assignable-add/-remove`, or sysfs directly.
//! [`detect`] picks the persistent method from the host; [`state`] answers `xenpci hidden`.

pub mod detect;
pub mod extlinux;
pub mod grub;
pub mod live;
pub mod modprobe;
pub mod state;
pub mod xapi;
pub mod xen_cmdline;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::hide_param::{Change, HideList};
use super::{Ctx, HideError};
use crate::plan::Plan;

/// A persistent hiding method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// `/opt/xensource/libexec/xen-cmdline --get-dom0 / --set-dom0` (XCP-ng, XenServer 7+).
    XenCmdline,
    /// `xe pci-disable-dom0-access` / `pci-enable-dom0-access` (XCP-ng 8.3).
    Xapi,
    /// The dom0 `module`/`module2` lines of grub.cfg's Xen entries (+ `/etc/default/grub`).
    Grub,
    /// The dom0 part of `append` lines in `/boot/extlinux.conf` (XenServer 6.x).
    Extlinux,
    /// `options xen-pciback hide=...` in `/etc/modprobe.d`.
    Modprobe,
}

impl Method {
    /// Every method, in the order `--method` lists them.
    pub const ALL: [Method; 5] = [
        Method::XenCmdline,
        Method::Xapi,
        Method::Grub,
        Method::Extlinux,
        Method::Modprobe,
    ];

    /// The `--method` name.
    pub fn name(self) -> &'static str {
        match self {
            Method::XenCmdline => "xen-cmdline",
            Method::Xapi => "xapi",
            Method::Grub => "grub",
            Method::Extlinux => "extlinux",
            Method::Modprobe => "modprobe",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Method, String> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown method {s:?} (expected xen-cmdline, xapi, grub, extlinux or modprobe)"
                )
            })
    }
}

/// A live hiding method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LiveMethod {
    /// `xl pci-assignable-add` / `xl pci-assignable-remove -r`.
    Xl,
    /// Writes to `/sys/bus/pci/...` directly.
    Sysfs,
    /// KVM hosts: `driver_override` + unbind + bind to vfio-pci ([`crate::hide::vfio`]).
    Vfio,
}

impl LiveMethod {
    /// xl when it can be found, else sysfs.
    pub fn detect() -> LiveMethod {
        match crate::exec::Tool::Xl.locate() {
            Ok(p) if p.is_file() => LiveMethod::Xl,
            _ => LiveMethod::Sysfs,
        }
    }
}

impl fmt::Display for LiveMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LiveMethod::Xl => "xl",
            LiveMethod::Sysfs => "sysfs",
            LiveMethod::Vfio => "vfio",
        })
    }
}

impl FromStr for LiveMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<LiveMethod, String> {
        match s {
            "xl" => Ok(LiveMethod::Xl),
            "sysfs" => Ok(LiveMethod::Sysfs),
            "vfio" => Ok(LiveMethod::Vfio),
            _ => Err(format!(
                "unknown live method {s:?} (expected xl or sysfs, or vfio on a KVM host)"
            )),
        }
    }
}

/// The hide list a method has configured for the next boot, and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configured {
    /// The list.
    pub list: HideList,
    /// Where it was read (a file, or a command).
    pub source: String,
}

/// Adds the steps that apply `change` with `method` to `plan`.
pub fn plan_persistent(
    method: Method,
    ctx: Ctx<'_>,
    change: &Change,
    plan: &mut Plan,
) -> Result<(), HideError> {
    match method {
        Method::XenCmdline => xen_cmdline::plan(ctx, change, plan),
        Method::Xapi => xapi::plan(ctx, change, plan),
        Method::Grub => grub::plan(ctx, change, plan),
        Method::Extlinux => extlinux::plan(ctx, change, plan),
        Method::Modprobe => modprobe::plan(ctx, change, plan),
    }
}

/// The list `method` has configured for the next boot.
pub fn read_configured(method: Method, ctx: Ctx<'_>) -> Result<Configured, HideError> {
    match method {
        Method::XenCmdline | Method::Xapi => xen_cmdline::read(ctx).map(|(c, _)| c),
        Method::Grub => grub::read(ctx),
        Method::Extlinux => extlinux::read(ctx),
        Method::Modprobe => modprobe::read(ctx),
    }
}

/// Keeps the first occurrence of each note.
pub(crate) fn push_notes(plan: &mut Plan, notes: Vec<String>) {
    for n in notes {
        if !plan.notes.contains(&n) {
            plan.notes.push(n);
        }
    }
}
