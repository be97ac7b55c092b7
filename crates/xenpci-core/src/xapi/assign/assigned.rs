//! `xenpci assigned`: every VM's devices as xapi reads them, with devices named by two VMs and
//! devices dom0 still uses flagged (VMs running on another pool member are not checked here).

use serde::Serialize;

use super::error::AssignError;
use crate::host::HostRoot;
use crate::ids::VmUuid;
use crate::pci::Bdf;
use crate::xapi::dom0::Dom0Check;
use crate::xapi::reading::reading;
use crate::xapi::{PowerState, Xe};

/// One device of one VM in [`assigned`].
#[derive(Debug, Clone, Serialize)]
pub struct AssignedDevice {
    /// The device.
    pub bdf: Bdf,
    /// Its `N/` group.
    pub group: i64,
    /// Its position in xapi's plug order.
    pub position: usize,
    /// Hidden from dom0 (on this host; false too when not checked here, see `elsewhere`).
    pub hidden: bool,
    /// What dom0 does with it.
    pub dom0: String,
    /// The host the VM runs on when that is another pool member (name-label, else uuid): this
    /// host's sysfs says nothing about that host's dom0, so the device was not checked here.
    pub elsewhere: Option<String>,
    /// Other VMs naming the same device (uuids).
    pub also_assigned_to: Vec<VmUuid>,
}

/// One VM with an other-config:pci key, in [`assigned`].
#[derive(Debug, Clone, Serialize)]
pub struct AssignedVm {
    /// uuid
    pub uuid: VmUuid,
    /// name-label
    pub name_label: String,
    /// power state
    pub power_state: Option<PowerState>,
    /// The raw value.
    pub value: String,
    /// Devices in plug order.
    pub devices: Vec<AssignedDevice>,
    /// Pieces xapi would drop, misread or plug twice, each with what happens.
    pub not_understood: Vec<String>,
    /// Every warning of xapi's reading (also plug-order surprises).
    pub warnings: Vec<String>,
}

/// Every VM's devices, with duplicates across VMs and devices dom0 still uses flagged.
pub fn assigned(xe: &Xe, root: &HostRoot) -> Result<Vec<AssignedVm>, AssignError> {
    let check = Dom0Check::new(root, Some(xe));
    // This host (`INSTALLATION_UUID` in /etc/xensource-inventory): a VM running on another pool
    // member is not checked against this host's sysfs.
    let this_host = crate::bounded_read::read_string(
        &root.path(crate::host::xensource::PATH),
        crate::bounded_read::CONFIG_LIMIT,
    )
    .ok()
    .and_then(|inv| crate::host::xensource::value(&inv, "INSTALLATION_UUID"));
    let host_names = std::cell::OnceCell::new();
    let elsewhere = |vm: &VmUuid| -> Option<String> {
        let here = this_host.as_deref()?;
        let on = xe.resident_on(vm).ok().flatten()?;
        if on == here {
            return None;
        }
        let names: &Vec<crate::xapi::output::Record> =
            host_names.get_or_init(|| xe.host_list().unwrap_or_default());
        Some(
            names
                .iter()
                .find(|h| h.get("uuid") == Some(on.as_str()))
                .and_then(|h| h.get("name-label"))
                .map_or(on.clone(), str::to_string),
        )
    };
    let mut vms = Vec::new();
    for vm in xe.vm_list()? {
        if !vm.other_config.iter().any(|(k, _)| k == "pci") {
            continue;
        }
        let Some(value) = xe.vm_pci(&vm.uuid)? else {
            continue;
        };
        let parsed = reading(&value);
        vms.push((vm, value, parsed));
    }
    let mut out = Vec::new();
    for (vm, value, parsed) in &vms {
        let away = if vm.power_state == Some(PowerState::Running) {
            elsewhere(&vm.uuid)
        } else {
            None
        };
        let devices = parsed
            .devices
            .iter()
            .map(|&(group, bdf, position)| {
                let (hidden, dom0) = match &away {
                    Some(h) => (false, format!("on host {h}, not checked here")),
                    None => {
                        let s = check.state(bdf);
                        (s.hidden, s.why)
                    }
                };
                AssignedDevice {
                    bdf,
                    group,
                    position,
                    hidden,
                    dom0,
                    elsewhere: away.clone(),
                    also_assigned_to: vms
                        .iter()
                        .filter(|(o, _, p)| o.uuid != vm.uuid && p.plugged.contains(&bdf))
                        .map(|(o, _, _)| o.uuid.clone())
                        .collect(),
                }
            })
            .collect();
        out.push(AssignedVm {
            uuid: vm.uuid.clone(),
            name_label: vm.name_label.clone(),
            power_state: vm.power_state,
            value: value.clone(),
            devices,
            not_understood: parsed.misread.clone(),
            warnings: parsed.warnings.clone(),
        });
    }
    Ok(out)
}
