//! Which persistent method fits this host, and why.
//!
//! 1. XAPI hosts (`/etc/xensource-inventory`): XCP-ng 8.3+ with `xe` → `xapi`; version 7+ with
//!    `xen-cmdline` found → `xen-cmdline`; else `/boot/extlinux.conf` (any on 6.x, one with Xen
//!    labels on 7+, e.g. a XenServer 7 upgraded on legacy BIOS) → `extlinux`; else a grub.cfg
//!    with Xen entries → `grub`; else xen-cmdline if found. Nothing fits: the error names every
//!    place looked at, and `--method` lists the values.
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
        // xen-cmdline where the toolstack ships it (XCP-ng, XenServer 7+)...
        if found(Tool::XenCmdline) && major >= 7 {
            return d(Method::XenCmdline, format!("{brand} {ver}: xen-cmdline"));
        }
        // ...else the boot loader's own file: extlinux (XenServer 6.x, and 7.x hosts upgraded
        // on legacy BIOS), then grub.cfg's Xen entries.
        if let Some(text) = read_host(ctx.root, extlinux::PATH)? {
            if major < 7 || !extlinux::xen_labels(&text).is_empty() {
                return d(
                    Method::Extlinux,
                    format!("{brand} {ver}: {}", extlinux::PATH),
                );
            }
        }
        if let Some((path, text)) = grub::locate(ctx)? {
            if !grub::xen_entries(&text).is_empty() {
                return d(
                    Method::Grub,
                    format!("{brand} {ver}: Xen entries in {path}"),
                );
            }
        }
        if found(Tool::XenCmdline) {
            return d(Method::XenCmdline, format!("{brand} {ver}: xen-cmdline"));
        }
        return Err(HideError::Undetected(format!(
            "{brand} {ver} ({}), and looked for: {}",
            xensource::PATH,
            looked_for(true)
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
    Err(HideError::Undetected(format!(
        "no {}, and looked for: {}",
        xensource::PATH,
        looked_for(false)
    )))
}

/// Every place detection looked, for the message when nothing fits (paths under the host root
/// as the host sees them).
fn looked_for(xapi: bool) -> String {
    let cmdline = match Tool::XenCmdline.locate() {
        Ok(p) => format!("xen-cmdline ({} is not a file)", p.display()),
        Err(e) => format!("xen-cmdline ({})", e.why),
    };
    let mut places = vec![
        cmdline,
        format!("{} with a Xen label", extlinux::PATH),
        format!(
            "a grub.cfg with a Xen entry ({})",
            grub::CANDIDATES.join(", ")
        ),
    ];
    // XAPI hosts are not asked about modprobe (pciback is built in there).
    if !xapi {
        places.push(format!(
            "`options xen-pciback hide=` in {}/*.conf",
            modprobe::DIR
        ));
        places.push("/sys/module/xen_pciback/initstate (pciback as a module)".to_string());
    }
    places.join("; ")
}
