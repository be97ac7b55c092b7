//! Which persistent method fits this host, and why.
//!
//! 1. XAPI hosts (`/etc/xensource-inventory`): XCP-ng 8.3+ with `xe` → `xapi`; version 7+ or
//!    7+ → `xen-cmdline`; 6.x with `/boot/extlinux.conf` → `extlinux` (else xen-cmdline if found).
//! 2. Plain Xen: an existing `options xen-pciback hide=` line → `modprobe` (that is where the
//!    list already lives); a grub.cfg with Xen entries → `grub`; an extlinux.conf with Xen labels
//!    → `extlinux`; pciback loaded as a module (`/sys/module/xen_pciback/initstate`, which only
//!    loadable modules have) → `modprobe`.

use super::{extlinux, grub, modprobe, Method};
use crate::exec::Tool;
use crate::hide::{read_host, Ctx, HideError};
use crate::host::xensource;

/// A detected method and the reason, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The method.
    pub method: Method,
    /// Why it was chosen.
    pub why: String,
}

fn version(v: &str) -> (u32, u32) {
    let mut it = v.split('.').map(|p| p.parse().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

fn found(t: Tool) -> bool {
    t.locate().is_ok_and(|p| p.is_file())
}

/// Picks the method for this host.
pub fn detect(ctx: Ctx<'_>) -> Result<Detected, HideError> {
    let d = |method, why: String| Ok(Detected { method, why });
    if let Some(inv) = read_host(ctx.root, xensource::PATH)? {
        let brand = xensource::value(&inv, "PRODUCT_BRAND").unwrap_or_else(|| "XAPI host".into());
        let ver =
            xensource::value(&inv, "PRODUCT_VERSION").unwrap_or_else(|| "(no version)".into());
        let (major, minor) = version(&ver);
        if brand == "XCP-ng" && (major, minor) >= (8, 3) && found(Tool::Xe) {
            return d(
                Method::Xapi,
                format!("{brand} {ver}: xe pci-disable-dom0-access"),
            );
        }
        if major >= 7 {
            return d(Method::XenCmdline, format!("{brand} {ver}: xen-cmdline"));
        }
        if read_host(ctx.root, extlinux::PATH)?.is_some() {
            return d(
                Method::Extlinux,
                format!("{brand} {ver}: {}", extlinux::PATH),
            );
        }
        if found(Tool::XenCmdline) {
            return d(Method::XenCmdline, format!("{brand} {ver}: xen-cmdline"));
        }
        return Err(HideError::Undetected(format!(
            "{brand} {ver} without xen-cmdline or {}",
            extlinux::PATH
        )));
    }
    if let Ok(c) = modprobe::read(ctx) {
        if !c.list.is_empty() {
            return d(
                Method::Modprobe,
                format!("hide list already in {}", c.source),
            );
        }
    }
    if let Some((path, text)) = grub::locate(ctx)? {
        if !grub::xen_entries(&text).is_empty() {
            return d(Method::Grub, format!("Xen entries in {path}"));
        }
    }
    if let Some(text) = read_host(ctx.root, extlinux::PATH)? {
        if !extlinux::xen_labels(&text).is_empty() {
            return d(
                Method::Extlinux,
                format!("Xen labels in {}", extlinux::PATH),
            );
        }
    }
    if ctx.root.path("/sys/module/xen_pciback/initstate").exists() {
        return d(Method::Modprobe, "xen-pciback is a loadable module".into());
    }
    Err(HideError::Undetected(
        "no xensource-inventory, no grub.cfg Xen entry, no extlinux.conf Xen label, no \
         xen-pciback module"
            .into(),
    ))
}
