//! `xenpci hidden`: for every device that is hidden now, was hidden at boot or is configured to
//! be hidden at the next boot, what is true now (pciback binding, slot list, current driver), what
//! the next boot will do (the method's configured list) and the difference between the two.

use serde::Serialize;

use super::{live, read_configured, Method};
use crate::hide::hide_param::read_cmdline;
use crate::hide::{read_host, Ctx, HideError};
use crate::host::DriverState;
use crate::pci::Bdf;

/// One device's hiding state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceState {
    /// The device.
    pub bdf: Bdf,
    /// Bound to pciback now.
    pub hidden_now: bool,
    /// The driver bound now (None: no driver).
    pub driver: Option<String>,
    /// In pciback's slot list now.
    pub in_slots: bool,
    /// In the hide list of the running kernel's command line (`/proc/cmdline`).
    pub hidden_at_boot: bool,
    /// In the hide list configured for the next boot.
    pub hidden_next_boot: bool,
    /// `hidden`, `reboot pending`, `hidden now but lost at reboot` or `not hidden` (with
    /// `(next boot unknown)` variants when no persistent method could be read).
    pub status: String,
}

/// An SR-IOV VF hidden at every boot by xenpci's udev rule (`hide VF`), named by its PF and
/// index: the boot line cannot name a VF, so these are not in `configured`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VfHide {
    /// The physical function.
    pub pf: Bdf,
    /// N of the PF's `virtfnN`.
    pub index: u32,
    /// The VF's BDF now (None: the PF has no such VF now, e.g. its count is 0).
    pub vf: Option<Bdf>,
    /// Bound to pciback now.
    pub hidden_now: bool,
    /// The rule file (host path).
    pub rule: String,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hidden {
    /// The persistent method read (None: unknown, the next boot is not known).
    pub method: Option<Method>,
    /// Where the configured list was read.
    pub configured_in: String,
    /// The configured list as written.
    pub configured: String,
    /// One entry per device, in address order.
    pub devices: Vec<DeviceState>,
    /// The VFs hidden at every boot by xenpci's udev rules (Xen hosts; filled by
    /// `ops::hidden`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vf_hides: Vec<VfHide>,
}

/// Builds the report; without a method only the current state is known.
pub fn hidden(ctx: Ctx<'_>, method: Option<Method>) -> Result<Hidden, HideError> {
    let conf = match method {
        Some(m) => Some(read_configured(m, ctx)?),
        None => None,
    };
    let boot = read_host(ctx.root, "/proc/cmdline")?
        .map(|c| read_cmdline(&c).unwrap_or_default())
        .unwrap_or_default();
    let bound = live::bound(ctx.root);
    let slots = live::slots(ctx.root);
    let configured = conf.as_ref().map(|c| c.list.clone()).unwrap_or_default();
    let mut all: Vec<Bdf> = configured
        .bdfs()
        .into_iter()
        .chain(boot.bdfs())
        .chain(bound.iter().copied())
        .chain(slots.iter().copied())
        .collect();
    all.sort();
    all.dedup();
    let devices = all
        .into_iter()
        .map(|bdf| {
            let driver = live::current_driver(ctx.root, bdf);
            let hidden_now =
                DriverState::of(driver.as_deref()).is_pciback() || bound.contains(&bdf);
            let next = configured.contains(&bdf);
            let status = match (hidden_now, next, conf.is_some()) {
                (true, _, false) => "hidden now (next boot unknown)",
                (false, _, false) => "not hidden now (next boot unknown)",
                (true, true, true) => "hidden",
                (false, true, true) => "reboot pending",
                (true, false, true) => "hidden now but lost at reboot",
                (false, false, true) => "not hidden",
            };
            DeviceState {
                bdf,
                hidden_now,
                driver,
                in_slots: slots.contains(&bdf),
                hidden_at_boot: boot.contains(&bdf),
                hidden_next_boot: next,
                status: status.into(),
            }
        })
        .collect();
    Ok(Hidden {
        method,
        configured_in: conf
            .as_ref()
            .map_or_else(|| "unknown".to_string(), |c| c.source.clone()),
        configured: configured.to_string(),
        devices,
        vf_hides: Vec::new(),
    })
}
