//! `detach-all` / `reattach` for migration scripts that run the move themselves: detach every
//! passthrough device of a domain and save what is needed to put them back (host, spec with
//! options and vslot) to a JSON file; later attach them again — on the same host, or mapped to
//! another host's devices with a mapping file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::pci::Bdf;

use super::mapping::Mapping;
use super::migrate::{step_diff, write_step, Moved, Plan};
use super::steps::Action;
use super::transport::Site;
use super::xl::{DomainInfo, Xl};
use super::{hotplug, FlowError};

/// The saved file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Saved {
    /// Where the devices were.
    pub host: String,
    /// The domain.
    pub vm: String,
    /// The devices, in attach order.
    pub devices: Vec<SavedDevice>,
}

/// One saved device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedDevice {
    /// Host BDF.
    pub bdf: Bdf,
    /// The spec to re-attach it with (vslot included).
    pub spec: String,
}

/// Plans the detach of every device of `vm` on `host`, the first step saving them to `save`
/// (through the checked write: locked, backed up, undone on rollback); returns the plan and
/// what is saved.
pub fn plan_detach_all(
    site: &Site,
    host: &str,
    vm: &str,
    save: &Path,
) -> Result<(Plan, Saved), FlowError> {
    let xl = Xl { site, host };
    let xapi = site.is_local(host) && site.root.path("/etc/xensource-inventory").is_file();
    let info = hotplug::domain(&xl, vm).map_err(|e| if xapi { on_xapi(e, vm) } else { e })?;
    let mut saved = Saved {
        host: host.into(),
        vm: vm.into(),
        devices: Vec::new(),
    };
    let mut steps = Vec::new();
    for e in xl.pci_list(vm)? {
        let spec = match info.pcidevs.iter().find(|(b, _)| *b == e.bdf) {
            Some((_, s)) => s.clone(),
            None if e.vslot != 0 => format!("{}@{:x}", e.bdf, e.vslot),
            None => e.bdf.to_string(),
        };
        steps.push(Action::XlDetach {
            host: host.into(),
            dom: vm.into(),
            bdf: e.bdf,
            spec: spec.clone(),
        });
        saved.devices.push(SavedDevice { bdf: e.bdf, spec });
    }
    let text = serde_json::to_string_pretty(&saved).map_err(|e| FlowError::BadInput {
        what: "saved device list".into(),
        input: vm.into(),
        expected: e.to_string(),
    })? + "\n";
    steps.insert(0, write_step(save, text)?);
    let plan = Plan {
        mode: "detach-all".into(),
        vm: vm.into(),
        from: host.into(),
        to: host.into(),
        notes: vec![],
        devices: vec![],
        diffs: step_diff(&steps, 1, None).into_iter().collect(),
        steps,
    };
    Ok((plan, saved))
}

/// On an XAPI host (its root has `/etc/xensource-inventory`) a guest is an XAPI VM, not an xl
/// domain: say what does work there instead of only "not a domain".
fn on_xapi(e: FlowError, vm: &str) -> FlowError {
    match e {
        FlowError::BadInput {
            what,
            input,
            expected,
        } => FlowError::BadInput {
            what,
            input,
            expected: format!(
                "{expected}; this host runs XAPI, where a VM's devices live in other-config:pci: move it with `xenpci migrate {vm} --to HOST --cold`, or take its devices back with `xenpci unassign --all --vm {vm}`"
            ),
        },
        e => e,
    }
}

/// Reads a saved file.
pub fn load(path: &Path) -> Result<Saved, FlowError> {
    let text =
        crate::bounded_read::read_string(path, crate::bounded_read::CONFIG_LIMIT).map_err(|e| {
            FlowError::BadInput {
                what: "saved device file".into(),
                input: path.display().to_string(),
                expected: format!("a readable file ({e})"),
            }
        })?;
    serde_json::from_str(&text).map_err(|e| FlowError::BadInput {
        what: "saved device file".into(),
        input: path.display().to_string(),
        expected: format!("the JSON written by xenpci detach-all --save ({e})"),
    })
}

/// Plans re-attaching saved devices to `vm` on `host` (mapped when the host changed).
pub fn plan_reattach(
    site: &Site,
    saved: &Saved,
    host: &str,
    map: Option<&Mapping>,
) -> Result<Plan, FlowError> {
    plan_reattach_guarded(site, saved, host, map, &mut |_, _| Ok(()))
}

/// Asked about every device a plan gives to a domain, before anything else is checked.
pub type DevicesGuard<'g> = &'g mut dyn FnMut(&DomainInfo, &[Bdf]) -> Result<(), FlowError>;

/// [`plan_reattach`] with `guard` asked about all the devices (as mapped to `host`) before xl's
/// own conditions are checked, so a refusal of the safety policy comes first.
pub fn plan_reattach_guarded(
    site: &Site,
    saved: &Saved,
    host: &str,
    map: Option<&Mapping>,
    guard: DevicesGuard<'_>,
) -> Result<Plan, FlowError> {
    let xl = Xl { site, host };
    let info = hotplug::domain(&xl, &saved.vm)?;
    let mut mapped = Vec::new();
    for d in &saved.devices {
        let (name, to) = if host == saved.host {
            ("same-host".to_string(), d.bdf)
        } else {
            let m = map.ok_or_else(|| FlowError::Refused {
                action: format!("reattach to {} on {host}", saved.vm),
                reason: format!(
                    "the devices were saved on {}: give --map FILE to map them to {host}",
                    saved.host
                ),
            })?;
            let (name, to) = m.translate(&saved.host, d.bdf, host)?;
            m.verify(site, &name, host)?;
            (name, to)
        };
        let mut spec = hotplug::parse(&d.spec)?;
        spec.bdf = Some(to);
        let text =
            crate::syntax::pci_spec::format_spec(&spec, &Default::default()).map_err(|e| {
                FlowError::BadInput {
                    what: "saved spec".into(),
                    input: d.spec.clone(),
                    expected: e.to_string(),
                }
            })?;
        mapped.push((name, to, spec, text, d.bdf));
    }
    let bdfs: Vec<Bdf> = mapped.iter().map(|m| m.1).collect();
    guard(&info, &bdfs)?;
    let mut steps = Vec::new();
    let mut devices = Vec::new();
    for (name, to, spec, text, from) in mapped {
        hotplug::preflight_attach(&xl, &info, &spec)?;
        steps.push(Action::XlAttach {
            host: host.into(),
            dom: saved.vm.clone(),
            bdf: to,
            spec: text.clone(),
        });
        devices.push(Moved {
            name,
            from,
            to,
            spec: text,
        });
    }
    Ok(Plan {
        mode: "reattach".into(),
        vm: saved.vm.clone(),
        from: saved.host.clone(),
        to: host.into(),
        notes: vec![],
        devices,
        steps,
        diffs: vec![],
    })
}
