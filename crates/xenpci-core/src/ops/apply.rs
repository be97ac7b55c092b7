//! `apply FILE` and `export`: desired state ([`crate::identity::desired`]). `apply` resolves every
//! device of the file to the one function with that identity, works out what differs (hidden or
//! not, now and at the next boot; the XAPI VM's `other-config:pci`; the xl.cfg's `pci` list),
//! checks every change with the policy before making any (each operation run as a dry run
//! first), then makes them through the same operations `hide`, `unhide`, `assign` and
//! `xlcfg add-pci` use. A second `apply` finds nothing to change. `export` writes the host's
//! current state in the same format, so `export` then `apply` changes nothing.

use serde::Serialize;

use super::{give, hidden, OpError};
use crate::hide::apply::Options;
use crate::hide::Ctx;
use crate::host::xensource::Toolstack;
use crate::host::Inventory;
use crate::identity::desired::{spec_of, Desired, DesiredError};
use crate::identity::state::{self, State};
use crate::identity::Use;
use crate::pci::Bdf;
use crate::syntax::xapi_pci;
use crate::xapi::assign::EditRequest;
use crate::xapi::Xe;
use crate::xlcfg::{xl_spec_parser, Added};

/// What apply did (or would do) for one device.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// Alias or ids.
    pub device: String,
    /// The function it resolved to.
    pub bdf: Bdf,
    /// The changes, in order (empty: already as the file says).
    pub changes: Vec<String>,
}

/// The whole apply.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    /// Nothing was changed.
    pub dry_run: bool,
    /// Something was changed (or, for a dry run, would be).
    pub changed: bool,
    /// Per device, in file order.
    pub devices: Vec<Applied>,
    /// Warnings from the operations.
    pub warnings: Vec<String>,
}

/// A change and how the report words it.
type Planned = (String, Change);

enum Change {
    Hide(Options),
    Unhide(Options),
    Assign(String),
    /// The pre-check of an assign whose device the same plan hides first.
    AssignHidden(String),
    Xlcfg(std::path::PathBuf, String),
}

fn desired_err(e: DesiredError) -> OpError {
    let input = match &e {
        DesiredError::Value { value, .. } => value.clone(),
        DesiredError::Parse { path, .. } | DesiredError::Match { path, .. } => path.clone(),
    };
    OpError::BadInput {
        what: "desired state".into(),
        input,
        expected: e.to_string(),
    }
}

/// Converges the host to `text` (the file's content; `path` names it in messages).
pub fn apply(ctx: Ctx<'_>, text: &str, path: &str, dry_run: bool) -> Result<ApplyReport, OpError> {
    let desired = Desired::parse(text, path).map_err(desired_err)?;
    let inv = Inventory::scan(ctx.root);
    let mut bdfs = Vec::new();
    for d in &desired.devices {
        let b = d.resolve(path, &inv).map_err(desired_err)?;
        if let Some(i) = bdfs.iter().position(|x| *x == b) {
            return Err(desired_err(DesiredError::Match {
                path: path.into(),
                device: d.name(),
                problem: format!(
                    "{b} is also device {} of the file",
                    desired.devices[i].name()
                ),
            }));
        }
        bdfs.push(b);
    }
    let (hid, mut warnings) = hidden::hidden(ctx, None)?;
    let st = State::load(ctx.root)?;
    let xe = Xe::new(ctx.runner);
    let xapi = Toolstack::of(ctx.root) == Toolstack::Xapi;
    let mut plans: Vec<(String, Bdf, Vec<Planned>)> = Vec::new();
    for (d, &b) in desired.devices.iter().zip(&bdfs) {
        let mut ch = Vec::new();
        let method = match d.method.as_deref() {
            Some(m) => Some(
                m.parse::<crate::hide::Method>()
                    .map_err(|e| OpError::BadInput {
                        what: format!("{path}: device {}: method", d.name()),
                        input: m.to_string(),
                        expected: e,
                    })?,
            ),
            None => recorded_method(&st, b),
        };
        let own;
        let h = match method {
            Some(m) => {
                own = hidden::hidden(ctx, Some(m))?.0;
                &own
            }
            None => &hid,
        };
        let (now, next) = h
            .devices
            .iter()
            .find(|x| x.bdf == b)
            .map_or((false, false), |s| (s.hidden_now, s.hidden_next_boot));
        let next_known = h.method.is_some();
        match d.hidden {
            Some(true) => {
                let persistent = next_known && !next;
                // Without pciback loaded nothing can be hidden now: the boot configuration is
                // what takes effect (a reboot pending is as hidden as it can be).
                let live = !now && ctx.root.path("/sys/bus/pci/drivers/pciback").is_dir();
                if persistent || live {
                    let o = Options {
                        persistent,
                        now: live,
                        method,
                        ..Options::default()
                    };
                    let what = match (persistent, live) {
                        (true, true) => "hide (boot configuration and now)",
                        (true, false) => "hide in the boot configuration",
                        _ => "hide now",
                    };
                    ch.push((what.to_string(), Change::Hide(o)));
                }
            }
            Some(false) if now || next => {
                let o = Options {
                    persistent: next,
                    now,
                    method,
                    ..Options::default()
                };
                ch.push(("give back to dom0".to_string(), Change::Unhide(o)));
            }
            Some(false) => {}
            None => {}
        }
        if let Some(vm) = &d.vm {
            if !xapi {
                return Err(desired_err(DesiredError::Match {
                    path: path.into(),
                    device: d.name(),
                    problem: format!("vm = {vm:?} needs an XAPI host (this one has no /etc/xensource-inventory); use xlcfg"),
                }));
            }
            let uuid = xe.vm_lookup(vm).map_err(|e| OpError::BadInput {
                what: "VM".into(),
                input: vm.clone(),
                expected: format!("a VM name-label or uuid ({e})"),
            })?;
            let value = xe.vm_pci(&uuid).map_err(|e| OpError::BadInput {
                what: "VM".into(),
                input: vm.clone(),
                expected: format!("a VM whose other-config can be read ({e})"),
            })?;
            let has = value
                .as_deref()
                .map(|v| {
                    xapi_pci::parse(v)
                        .devices
                        .iter()
                        .any(|x| x.addr.bdf() == Some(b))
                })
                .unwrap_or(false);
            if !has {
                ch.push((format!("assign to VM {vm}"), Change::Assign(vm.clone())));
            }
        }
        if let Some(f) = &d.xlcfg {
            let file = ctx.root.path(f);
            let spec = match &d.options {
                Some(o) if !o.is_empty() => format!("{b},{o}"),
                _ => b.to_string(),
            };
            let probe = crate::xlcfg::file::edit(&file, true, |doc| {
                doc.add_pci(&spec, &xl_spec_parser).map(|a| match a {
                    Added::Appended => "append".to_string(),
                    Added::Replaced { old } => old,
                })
            })
            .map_err(|e| OpError::BadInput {
                what: "xl.cfg".into(),
                input: f.clone(),
                expected: e.to_string(),
            })?;
            if !probe.diff.is_empty() {
                ch.push((format!("add '{spec}' to {f}"), Change::Xlcfg(file, spec)));
            }
        }
        plans.push((d.name(), b, ch));
    }
    // Every change through the policy first (as a dry run): nothing is changed unless all pass.
    for (_, b, ch) in &plans {
        let hides = ch.iter().any(|(_, c)| matches!(c, Change::Hide(_)));
        for (_, c) in ch {
            // A device this plan hides first is checked by the hide's policy (dom0's devices,
            // bridges, groups); its assign is then checked as if it were hidden already.
            let c = match c {
                Change::Assign(vm) if hides => &Change::AssignHidden(vm.clone()),
                c => c,
            };
            run(ctx, &xe, *b, c, true, &mut Vec::new())?;
        }
    }
    let mut devices = Vec::new();
    let mut changed = false;
    for (name, b, ch) in plans {
        if !dry_run {
            for (_, c) in &ch {
                run(ctx, &xe, b, c, false, &mut warnings)?;
            }
        }
        changed |= !ch.is_empty();
        devices.push(Applied {
            device: name,
            bdf: b,
            changes: ch.into_iter().map(|(w, _)| w).collect(),
        });
    }
    if !dry_run {
        // The aliases go into the identity state, so verify's reports use them.
        let aliases: Vec<(Bdf, String)> = desired
            .devices
            .iter()
            .zip(&bdfs)
            .filter_map(|(d, b)| d.alias.clone().map(|a| (*b, a)))
            .collect();
        if let Err(e) = state::update(ctx.root, |s| {
            for (b, a) in &aliases {
                if let Some(e) = s.devices.iter_mut().find(|e| e.bdf == *b) {
                    e.alias = Some(a.clone());
                }
            }
        }) {
            warnings.push(format!("aliases not recorded: {e}"));
        }
    }
    Ok(ApplyReport {
        dry_run,
        changed,
        devices,
        warnings,
    })
}

/// The persistent method the recorded hide of `b` used.
fn recorded_method(st: &State, b: Bdf) -> Option<crate::hide::Method> {
    st.get(b)?.uses.iter().find_map(|u| match u {
        Use::BootHide { method } => method.as_deref().and_then(|m| m.parse().ok()),
        _ => None,
    })
}

fn run(
    ctx: Ctx<'_>,
    xe: &Xe,
    b: Bdf,
    c: &Change,
    dry_run: bool,
    warnings: &mut Vec<String>,
) -> Result<(), OpError> {
    match c {
        Change::Hide(o) => {
            let out = give::hide(ctx, &[b], Options { dry_run, ..*o })?;
            warnings.extend(out.warnings);
        }
        Change::Unhide(o) => {
            let out = give::unhide(ctx, &[b], Options { dry_run, ..*o })?;
            warnings.extend(out.warnings);
        }
        Change::Assign(vm) | Change::AssignHidden(vm) => {
            let req = EditRequest {
                vm: vm.clone(),
                add: vec![b],
                remove: Vec::new(),
                remove_all: false,
                order: Vec::new(),
                steal: false,
                force: matches!(c, Change::AssignHidden(_)),
                rewrite_misread: false,
                restart: false,
                dry_run,
                in_use: Default::default(),
                state_dir: Some(crate::journal::default_state_dir(ctx.root)),
            };
            give::assign(xe, ctx.root, ctx.runner, &req, &mut |_| {})?;
        }
        Change::Xlcfg(file, spec) => {
            if let Ok(text) = crate::xlcfg::file::read(file) {
                if let Ok(doc) = crate::xlcfg::file::parse(file, &text) {
                    give::xlcfg_add_pci(ctx.root, ctx.runner, file, &doc, spec, false)?;
                }
            }
            if !dry_run {
                crate::xlcfg::file::edit(file, false, |doc| {
                    doc.add_pci(spec, &xl_spec_parser).map(|_| String::new())
                })
                .map_err(|e| OpError::BadInput {
                    what: "xl.cfg".into(),
                    input: file.display().to_string(),
                    expected: e.to_string(),
                })?;
                let place = Use::Xlcfg {
                    path: ctx.root.host_path(file).display().to_string(),
                };
                warnings.extend(super::record::record_use(ctx.root, b, place));
            }
        }
    }
    Ok(())
}

/// The host's state as a desired-state file: every device xenpci recorded, every device hidden
/// now or at the next boot, and on XAPI every device a VM's `other-config:pci` names — each named
/// by as much identity as it takes to be unique on this host.
pub fn export(ctx: Ctx<'_>) -> Result<Desired, OpError> {
    let inv = Inventory::scan(ctx.root);
    let st = State::load(ctx.root)?;
    let (hid, _) = hidden::hidden(ctx, None)?;
    let mut bdfs: Vec<Bdf> = st.devices.iter().map(|e| e.bdf).collect();
    bdfs.extend(
        hid.devices
            .iter()
            .filter(|d| d.hidden_now || d.hidden_next_boot)
            .map(|d| d.bdf),
    );
    let mut vm_of: Vec<(Bdf, String)> = Vec::new();
    if Toolstack::of(ctx.root) == Toolstack::Xapi {
        let xe = Xe::new(ctx.runner);
        if let Ok(vms) = xe.vm_list() {
            for vm in vms.iter().filter(|v| !v.is_control_domain()) {
                if let Some((_, v)) = vm.other_config.iter().find(|(k, _)| k == "pci") {
                    for d in xapi_pci::parse(v).devices {
                        if let Some(b) = d.addr.bdf() {
                            vm_of.push((b, vm.name_label.clone()));
                            bdfs.push(b);
                        }
                    }
                }
            }
        }
    }
    bdfs.sort();
    bdfs.dedup();
    let mut devices = Vec::new();
    for b in bdfs {
        let Some(f) = inv.get(b) else { continue };
        let full = spec_of(&crate::identity::DeviceIdentity::of(f), b);
        // As little as it takes: ids and subsystem (and the serial, which never changes), then
        // the slot path, then the address.
        let mut spec = crate::identity::desired::DeviceSpec {
            ids: full.ids.clone(),
            subsystem: full.subsystem.clone(),
            serial: full.serial.clone(),
            ..Default::default()
        };
        if spec.resolve("", &inv).is_err() {
            spec.path = full.path.clone();
        }
        if spec.resolve("", &inv).is_err() {
            spec.bdf = full.bdf.clone();
        }
        let entry = st.get(b);
        spec.alias = entry.and_then(|e| e.alias.clone());
        let method = recorded_method(&st, b);
        spec.method = method.map(|m| m.to_string());
        let own = match method {
            Some(m) => Some(hidden::hidden(ctx, Some(m))?.0),
            None => None,
        };
        let h = own
            .as_ref()
            .unwrap_or(&hid)
            .devices
            .iter()
            .find(|d| d.bdf == b);
        spec.hidden = Some(h.is_some_and(|d| d.hidden_now || d.hidden_next_boot));
        spec.vm = vm_of.iter().find(|(x, _)| *x == b).map(|(_, n)| n.clone());
        spec.xlcfg = entry.and_then(|e| {
            e.uses.iter().find_map(|u| match u {
                Use::Xlcfg { path } => Some(path.clone()),
                _ => None,
            })
        });
        devices.push(spec);
    }
    Ok(Desired {
        schema: crate::identity::desired::SCHEMA,
        devices,
    })
}
