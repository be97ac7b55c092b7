//! Commands that exist only in the mock (the real xe answers `Unknown command` to them), for
//! test set-up that would otherwise need hand-edited state:
//! `xe mock-host-reboot host-uuid=H` — the host reboots: running VMs on it go down, the booted
//! `xen-pciback.hide` becomes the configured one, and dom0 rebinds drivers: hidden devices to
//! pciback, devices pciback held but no longer hidden back to their `dom0-driver`
//! (when the state does not give one: the driver xenopsd took the device from, if any). A hide value
//! the kernel cannot parse leaves pciback unloaded (xapi-xe.md §4, xcp-ng/xcp#412).

use super::{Ctx, Next};
use crate::errors::XeError;
use crate::records::{self, Class, Obj};

/// One `(…)` entry of the kernel's `xen-pciback.hide` (pci_stub.c): `DDDD:BB:SS.F` or
/// `BB:SS.F`, hex, `*` allowed for slot and function.
#[derive(Debug, PartialEq, Eq)]
struct HideEntry {
    segment: u32,
    bus: u32,
    slot: Option<u32>,
    func: Option<u32>,
}

fn hex_or_star(s: &str, max: u32) -> Result<Option<u32>, ()> {
    if s == "*" {
        return Ok(None);
    }
    match u32::from_str_radix(s, 16) {
        Ok(v) if !s.is_empty() && v <= max => Ok(Some(v)),
        _ => Err(()),
    }
}

/// The kernel's reading of the whole value; `Err` = "Error parsing pci_devs_to_hide".
fn kernel_hide_list(value: &str) -> Result<Vec<HideEntry>, ()> {
    let mut out = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        let inner_end = rest.find(')').ok_or(())?;
        let inner = rest
            .strip_prefix('(')
            .ok_or(())?
            .get(..inner_end - 1)
            .ok_or(())?;
        let (addr, func) = inner.rsplit_once('.').ok_or(())?;
        let parts: Vec<&str> = addr.split(':').collect();
        let (seg, bus, slot) = match parts.as_slice() {
            [s, b, d] => (*s, *b, *d),
            [b, d] => ("0", *b, *d),
            _ => return Err(()),
        };
        out.push(HideEntry {
            segment: hex_or_star(seg, 0xffff)?.ok_or(())?,
            bus: hex_or_star(bus, 0xff)?.ok_or(())?,
            slot: hex_or_star(slot, 0x1f)?,
            func: hex_or_star(func, 7)?,
        });
        rest = rest[inner_end + 1..].trim_start();
    }
    Ok(out)
}

fn matches(e: &HideEntry, bdf: &str) -> bool {
    let nums: Vec<u32> = bdf
        .split([':', '.'])
        .filter_map(|p| u32::from_str_radix(p, 16).ok())
        .collect();
    let [seg, bus, slot, func] = nums.as_slice() else {
        return false;
    };
    e.segment == *seg
        && e.bus == *bus
        && e.slot.is_none_or(|s| s == *slot)
        && e.func.is_none_or(|f| f == *func)
}

pub fn host_reboot(c: &mut Ctx) -> Result<Next, XeError> {
    let uuid = c.params.required("host-uuid")?;
    let Obj::Host(h) = records::by_uuid(c.state, Class::Host, uuid)? else {
        return Err(XeError::uuid_invalid("host", uuid));
    };
    let host_uuid = c.state.hosts[h].uuid.clone();
    for vm in c.state.vms.iter_mut() {
        if !vm.is_control_domain && vm.resident_on.as_deref() == Some(host_uuid.as_str()) {
            vm.power_state = "halted".into();
            vm.resident_on = None;
            vm.domid = -1;
            vm.attached_pcis.clear();
        }
    }
    let host = &mut c.state.hosts[h];
    host.hide_booted = host.hide_configured.clone();
    let hidden = match host.hide_booted.as_deref().map(kernel_hide_list) {
        None => Ok(Vec::new()),
        Some(r) => r,
    };
    host.pciback_loaded = hidden.is_ok();
    let hidden = hidden.unwrap_or_default();
    for d in host.devices.iter_mut() {
        if host.pciback_loaded && hidden.iter().any(|e| matches(e, &d.bdf)) {
            if d.dom0_driver.is_none() {
                d.dom0_driver = d.driver.clone().filter(|x| x != "pciback");
            }
            d.driver = Some("pciback".into());
        } else {
            // dom0's driver: as configured, else whatever non-pciback driver holds it now.
            let current = d.driver.clone().filter(|x| x != "pciback");
            d.driver = d.dom0_driver.clone().or(current);
        }
    }
    Ok(Next::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_accepts_long_short_and_wildcards() {
        let l = kernel_hide_list("(0000:06:00.0)(07:00.*) (0000:08:*.*)").unwrap();
        assert_eq!(l.len(), 3);
        assert!(matches(&l[0], "0000:06:00.0"));
        assert!(matches(&l[1], "0000:07:00.3"));
        assert!(!matches(&l[1], "0001:07:00.3"));
        assert!(matches(&l[2], "0000:08:1f.7"));
    }

    #[test]
    fn kernel_rejects_typos() {
        assert!(kernel_hide_list("(0000:82.0.0)").is_err());
        assert!(kernel_hide_list("0000:06:00.0").is_err());
        assert!(kernel_hide_list("(0000:06:00.0").is_err());
    }
}
