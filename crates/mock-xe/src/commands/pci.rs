//! `pci-disable-dom0-access`, `pci-enable-dom0-access`, `pci-get-dom0-access-status`
//! (XCP-ng 8.3 only; xapi-xe.md §2.5, §4). The status is a function of two lists kept per
//! host: the booted `xen-pciback.hide` value (`/proc/cmdline`, matched as a substring as
//! `xapi_pci_helpers.ml` does) and the configured one (`xen-cmdline --get-dom0`, read with
//! xapi's strict chunk scanner, so a short-form entry fails with xapi's `Scan_failure`).
//! Enable/disable only edit the configured list; a host reboot is needed to apply it.

use super::{Ctx, Next};
use crate::errors::XeError;
use crate::records::{self, Class, Obj};
use crate::state::State;
use crate::xapi_pci::{hidden_devices, paren, pci_id};

fn target(c: &Ctx) -> Result<(usize, usize), XeError> {
    let uuid = c.params.required("uuid")?;
    match records::by_uuid(c.state, Class::Pci, uuid)? {
        Obj::Pci(h, d) => Ok((h, d)),
        _ => Err(XeError::uuid_invalid("PCI", uuid)),
    }
}

/// `Pciops.is_pci_hidden`: the device is in the configured list.
fn configured_hidden(state: &State, h: usize, d: usize) -> Result<bool, XeError> {
    let raw = state.hosts[h].hide_configured.clone().unwrap_or_default();
    let devs = hidden_devices(&raw).map_err(XeError::internal)?;
    let me = pci_id(&state.hosts[h].devices[d].bdf).map_err(XeError::internal)?;
    Ok(devs.contains(&me))
}

/// `determine_dom0_access_status`.
fn access_status(state: &State, h: usize, d: usize) -> Result<&'static str, XeError> {
    let id = &state.hosts[h].devices[d].bdf;
    let booted = state.hosts[h]
        .hide_booted
        .as_deref()
        .is_some_and(|v| v.contains(id.as_str()));
    let configured = configured_hidden(state, h, d)?;
    Ok(match (booted, configured) {
        (true, true) => "disabled",
        (false, true) => "disable_on_reboot",
        (false, false) => "enabled",
        (true, false) => "enable_on_reboot",
    })
}

pub fn status(c: &mut Ctx) -> Result<Next, XeError> {
    let (h, d) = target(c)?;
    let s = access_status(c.state, h, d)?;
    c.out.msg(s);
    Ok(Next::Done)
}

/// `_hide_pci`: prepend the device to the (reversed) parsed list and write it back.
pub fn disable(c: &mut Ctx) -> Result<Next, XeError> {
    let (h, d) = target(c)?;
    if !configured_hidden(c.state, h, d)? {
        let raw = c.state.hosts[h].hide_configured.clone().unwrap_or_default();
        let mut devs = hidden_devices(&raw).map_err(XeError::internal)?;
        let me = pci_id(&c.state.hosts[h].devices[d].bdf).map_err(XeError::internal)?;
        devs.insert(0, me);
        c.state.hosts[h].hide_configured = Some(devs.into_iter().map(paren).collect());
    }
    let s = access_status(c.state, h, d)?;
    c.out.msg(s);
    Ok(Next::Done)
}

/// `_unhide_pci`: remove every `(<pci-id>)` from the raw value; delete the key when empty.
pub fn enable(c: &mut Ctx) -> Result<Next, XeError> {
    let (h, d) = target(c)?;
    if configured_hidden(c.state, h, d)? {
        let raw = c.state.hosts[h].hide_configured.clone().unwrap_or_default();
        let needle = format!("({})", c.state.hosts[h].devices[d].bdf);
        let new = raw.split(needle.as_str()).collect::<String>();
        c.state.hosts[h].hide_configured = if new.is_empty() { None } else { Some(new) };
    }
    let s = access_status(c.state, h, d)?;
    c.out.msg(s);
    Ok(Next::Done)
}
