//! VM lifecycle: `vm-start [on=]`, `vm-shutdown [--force]`, `vm-reboot [--force]`,
//! `vm-migrate host=`. VMs are chosen with xe's selectors (`select_vms`/`do_vm_op`), power
//! states are checked as `xapi_vm_lifecycle.ml` does, and starting a VM does what xenopsd
//! does with `other-config:pci` (xapi-xe.md §1.3, §1.4): read it xapi's way, bind every device
//! to pciback — taking it from whatever dom0 driver holds it, recorded in `taken_from_dom0` —
//! and plug it; `pciback has not loaded` when pciback is missing.

use super::params::filter;
use super::{Ctx, Next, STDPARAMS};
use crate::errors::XeError;
use crate::records::{self, Class, Obj};
use crate::state::{State, Taken};
use crate::xapi_pci;

/// `select_vms`: templates (and control domains unless included) excluded, `vm=` matches
/// uuid or name-label, every other param not ignored is a filter.
fn select(c: &Ctx, include_control: bool, ignore: &[&str]) -> Result<Vec<usize>, XeError> {
    let mut filters: Vec<(String, String)> = vec![("is-a-template".into(), "false".into())];
    if !include_control {
        filters.push(("is-control-domain".into(), "false".into()));
    }
    let mut objs = records::objects(c.state, Class::Vm);
    if let Some(v) = c.params.get("vm") {
        objs.retain(|o| matches!(o, Obj::Vm(i) if c.state.vms[*i].uuid == v || c.state.vms[*i].name_label == v));
    }
    filters.extend(
        c.params
            .0
            .iter()
            .filter(|(p, _)| p != "vm")
            .filter(|(p, _)| {
                let head = p.split(':').next().unwrap_or(p);
                !STDPARAMS.contains(&head) && !ignore.contains(&head)
            })
            .cloned(),
    );
    for (k, v) in &filters {
        objs = filter(c.state, objs, k, v)?;
    }
    Ok(objs
        .into_iter()
        .filter_map(|o| if let Obj::Vm(i) = o { Some(i) } else { None })
        .collect())
}

/// `do_vm_op`: none → error, one → op, several → `--multiple` or error.
fn do_vm_op(
    c: &mut Ctx,
    include_control: bool,
    ignore: &[&str],
    op: &mut dyn FnMut(&mut State, usize) -> Result<(), XeError>,
) -> Result<Next, XeError> {
    let vms = select(c, include_control, ignore)?;
    match vms.len() {
        0 => Err(XeError::cli("No matching VMs found")),
        1 => op(c.state, vms[0]).map(|_| Next::Done),
        _ if c.params.flag("multiple") => {
            let mut failures = Vec::new();
            for i in vms {
                if let Err(e) = op(c.state, i) {
                    // xapi prepends each failure, so they print last-first.
                    failures.insert(0, (c.state.vms[i].uuid.clone(), e.multiple_message()));
                }
            }
            if failures.is_empty() {
                Ok(Next::Done)
            } else {
                Err(XeError::Multiple(failures))
            }
        }
        _ => Err(XeError::cli(
            "Multiple matches VMs found. --multiple required to complete the operation",
        )),
    }
}

fn check_power(state: &State, vm: usize, allowed: &[&str]) -> Result<(), XeError> {
    let v = &state.vms[vm];
    if allowed.contains(&v.power_state.as_str()) {
        Ok(())
    } else {
        Err(XeError::bad_power_state(
            &v.handle(),
            &allowed.join(", "),
            &v.power_state,
        ))
    }
}

fn next_domid(state: &State) -> i64 {
    state.vms.iter().map(|v| v.domid).max().unwrap_or(0).max(0) + 1
}

/// `xenopsd internal error: …` (an `INTERNAL_ERROR` at the CLI).
fn xenopsd(msg: String) -> XeError {
    XeError::internal(format!("xenopsd internal error: {msg}"))
}

/// Builds the domain on `host` and plugs the `other-config:pci` devices one by one.
/// Bindings done before a failure stay done (xenopsd does not rebind the old driver).
fn boot(state: &mut State, vm: usize, host: usize) -> Result<(), XeError> {
    let devices = xapi_pci::plug_order(state.vms[vm].other_config.get("pci"));
    let vm_uuid = state.vms[vm].uuid.clone();
    // create_metadata: HVM → passthrough iff devices; PV → iff the `pci` key exists at all.
    let passthrough = if state.vms[vm].hvm {
        !devices.is_empty()
    } else {
        state.vms[vm].other_config.contains("pci")
    };
    if passthrough && !state.hosts[host].iommu {
        return Err(xenopsd(
            "Invalid_argument(\"IOMMU unavailable\")".to_string(),
        ));
    }
    let mut plugged = Vec::new();
    for bdf in devices {
        if !state.hosts[host].pciback_loaded {
            return Err(XeError::internal("pciback has not loaded"));
        }
        let busy = state.vms.iter().any(|v| {
            v.power_state != "halted"
                && v.resident_on.as_deref() == Some(&state.hosts[host].uuid)
                && v.attached_pcis.contains(&bdf)
        }) || plugged.contains(&bdf);
        let h = &mut state.hosts[host];
        let Some(d) = h.devices.iter_mut().find(|d| d.bdf == bdf) else {
            return Err(xenopsd(
                "Unix.Unix_error(Unix.ENODEV, \"write\", \"\")".to_string(),
            ));
        };
        match d.driver.as_deref() {
            Some("pciback") => {}
            Some(old) => {
                h.taken_from_dom0.push(Taken {
                    bdf: bdf.clone(),
                    driver: old.to_string(),
                    critical: d.critical,
                    vm: vm_uuid.clone(),
                });
                if d.dom0_driver.is_none() {
                    d.dom0_driver = Some(old.to_string());
                }
                d.driver = Some("pciback".into());
            }
            None => d.driver = Some("pciback".into()),
        }
        if busy {
            return Err(xenopsd(format!(
                "Cannot_add({bdf}, Xenctrlext.Unix_error(16, \"16: Device or resource busy\"))"
            )));
        }
        plugged.push(bdf);
    }
    let domid = next_domid(state);
    let host_uuid = state.hosts[host].uuid.clone();
    let v = &mut state.vms[vm];
    v.power_state = "running".into();
    v.resident_on = Some(host_uuid);
    v.domid = domid;
    v.attached_pcis = plugged;
    Ok(())
}

fn halt(state: &mut State, vm: usize) {
    let v = &mut state.vms[vm];
    v.power_state = "halted".into();
    v.resident_on = None;
    v.domid = -1;
    v.attached_pcis.clear();
}

/// Where a VM starts without `on=`: its affinity host if any, else the first (master) host.
fn default_host(state: &State, vm: usize) -> Result<usize, XeError> {
    state.vms[vm]
        .affinity
        .as_deref()
        .and_then(|a| state.host_index(a))
        .or(if state.hosts.is_empty() {
            None
        } else {
            Some(0)
        })
        .ok_or_else(|| XeError::api("NO_HOSTS_AVAILABLE", &[]))
}

fn host_named(state: &State, name: &str) -> Result<usize, XeError> {
    state
        .host_by_name_or_id(name)
        .ok_or_else(|| XeError::cli(format!("Host {name} not found")))
}

pub fn start(c: &mut Ctx) -> Result<Next, XeError> {
    let on = match c.params.get("on") {
        Some(h) => Some(host_named(c.state, h)?),
        None => None,
    };
    do_vm_op(c, true, &["on", "paused", "progress"], &mut |state, vm| {
        // xapi checks blocked_operations before the power state.
        if let Some(code) = state.vms[vm].blocked_operations.get("start") {
            return Err(XeError::api(
                "OPERATION_BLOCKED",
                &[&state.vms[vm].handle(), code],
            ));
        }
        check_power(state, vm, &["halted"])?;
        let host = match on {
            Some(h) => h,
            None => default_host(state, vm)?,
        };
        boot(state, vm, host)
    })
}

pub fn shutdown(c: &mut Ctx) -> Result<Next, XeError> {
    let allowed: &[&str] = if c.params.flag("force") {
        &["paused", "suspended", "running"]
    } else {
        &["running"]
    };
    do_vm_op(c, false, &["progress"], &mut |state, vm| {
        check_power(state, vm, allowed)?;
        halt(state, vm);
        Ok(())
    })
}

pub fn reboot(c: &mut Ctx) -> Result<Next, XeError> {
    let allowed: &[&str] = if c.params.flag("force") {
        &["paused", "running"]
    } else {
        &["running"]
    };
    do_vm_op(c, false, &[], &mut |state, vm| {
        check_power(state, vm, allowed)?;
        let host = match state.vms[vm]
            .resident_on
            .as_deref()
            .and_then(|h| state.host_index(h))
        {
            Some(h) => h,
            None => default_host(state, vm)?,
        };
        halt(state, vm);
        // The domain is rebuilt from the current metadata, so other-config:pci is re-read.
        boot(state, vm, host)
    })
}

/// Whether any plugged device has a PCI object (xapi tracks only those in `attached_PCIs`).
fn has_managed_pci(state: &State, vm: usize) -> bool {
    let v = &state.vms[vm];
    let Some(h) = v.resident_on.as_deref().and_then(|h| state.host_index(h)) else {
        return false;
    };
    v.attached_pcis.iter().any(|b| {
        state.hosts[h]
            .devices
            .iter()
            .any(|d| &d.bdf == b && d.uuid.is_some())
    })
}

pub fn migrate(c: &mut Ctx) -> Result<Next, XeError> {
    let host_param = c
        .params
        .0
        .iter()
        .find(|(k, _)| k == "host" || k == "host-uuid" || k == "host-name")
        .map(|(_, v)| v.clone());
    let Some(host_name) = host_param else {
        return Err(XeError::cli("No destination host specified"));
    };
    let dest = host_named(c.state, &host_name)?;
    do_vm_op(
        c,
        true,
        &["host", "host-uuid", "host-name", "live", "compress"],
        &mut |state, vm| {
            check_power(state, vm, &["running"])?;
            if has_managed_pci(state, vm) {
                return Err(XeError::api(
                    "VM_HAS_PCI_ATTACHED",
                    &[&state.vms[vm].handle()],
                ));
            }
            let domid = next_domid(state);
            let v = &mut state.vms[vm];
            v.resident_on = Some(state.hosts[dest].uuid.clone());
            v.domid = domid;
            Ok(())
        },
    )
}
