//! `verify`, `adopt` and the identity bookkeeping of `hide`/`unhide`: whether each device xenpci
//! recorded ([`crate::identity`]) is still the device at its BDF, whether every place that names
//! it agrees, and what to do when not.
//!
//! On a mismatch, in this order: a function now sitting at a hidden BDF that is not the recorded
//! device is given back to dom0 at once (it may be the controller dom0 boots from); a VM whose
//! `other-config:pci` names the old BDF is kept from starting (`blocked-operations:start`, with a
//! reason naming the device); and with `repair`, the hide list and the VM entries are moved to the
//! device's new BDF through the same guarded operations `hide`/`unhide`/`assign` use, and a hide
//! list an upgrade dropped is written again. Only a unique match is followed
//! ([`crate::identity::locate`]); an ambiguous or missing device is reported, never guessed.

use serde::Serialize;

use super::{give, hidden, OpError};
use crate::hide::apply::Options;
use crate::hide::{Ctx, LiveMethod, Method};
use crate::host::xensource::Toolstack;
use crate::host::Inventory;
use crate::identity::state::{self, State};
use crate::identity::{locate, DeviceIdentity, Location, Use};
use crate::pci::Bdf;
use crate::syntax::xapi_pci;
use crate::xapi::assign::EditRequest;
use crate::xapi::Xe;

/// The reason xenpci writes into a VM's `blocked-operations:start` (and the prefix by which it
/// recognises its own block when clearing it).
pub const BLOCK_PREFIX: &str = "xenpci verify:";

/// How to verify.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions {
    /// Move the places naming a moved device to its new BDF; re-apply a dropped hide list.
    pub repair: bool,
    /// Change nothing: report what would be done.
    pub dry_run: bool,
}

/// What is at a recorded BDF now, when it is not the recorded device.
#[derive(Debug, Clone, Serialize)]
pub struct Occupant {
    /// `vendor:device`.
    pub ids: String,
    /// Its name from the PCI ID database.
    pub name: String,
    /// Bound driver.
    pub driver: Option<String>,
    /// Why dom0 needs it (empty: it does not).
    pub critical: Vec<String>,
}

/// The findings for one recorded device.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceReport {
    /// The BDF it was recorded at.
    pub bdf: Bdf,
    /// Its alias, when it has one.
    pub alias: Option<String>,
    /// `vendor:device` and name, as recorded.
    pub recorded: String,
    /// Where it is now.
    pub location: Location,
    /// A different device found at the recorded BDF.
    pub occupant: Option<Occupant>,
    /// What does not agree (empty: all is well).
    pub problems: Vec<String>,
    /// Things that changed but do not matter for passthrough (revision, ...).
    pub notes: Vec<String>,
    /// What was done (or, for a dry run, would be done).
    pub actions: Vec<String>,
    /// What still needs a human or `--repair`.
    pub pending: Vec<String>,
}

/// The whole verification.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Nothing was changed.
    pub dry_run: bool,
    /// `--repair` was asked.
    pub repair: bool,
    /// Every recorded device, in address order.
    pub devices: Vec<DeviceReport>,
    /// True when nothing is wrong (after what was done).
    pub ok: bool,
    /// True when something was changed on the host (or would be, for a dry run).
    pub changed: bool,
    /// Facts that could not be read.
    pub warnings: Vec<String>,
}

fn occupant(inv: &Inventory, bdf: Bdf) -> Option<Occupant> {
    inv.get(bdf).map(|f| Occupant {
        ids: format!("{:04x}:{:04x}", f.vendor_id, f.device_id),
        name: f.device_name().into_owned(),
        driver: f.driver.clone(),
        critical: f.critical.clone(),
    })
}

fn recorded_name(id: &DeviceIdentity) -> String {
    format!(
        "{} {}",
        id.ids(),
        crate::host::names::device_name(id.vendor_id, id.device_id)
    )
}

fn next_of(h: &crate::hide::methods::state::Hidden) -> Vec<Bdf> {
    h.devices
        .iter()
        .filter(|d| d.hidden_next_boot)
        .map(|d| d.bdf)
        .collect()
}

fn live_only() -> Options {
    Options {
        now: true,
        ..Options::default()
    }
}

fn boot_only() -> Options {
    Options {
        persistent: true,
        ..Options::default()
    }
}

/// The devices a next boot hides, and where that list was read.
type NextList = (Vec<Bdf>, String);

/// Verifies every recorded device and acts on what it finds (see the module text).
pub fn verify(ctx: Ctx<'_>, opts: VerifyOptions) -> Result<VerifyReport, OpError> {
    let st = State::load(ctx.root)?;
    let inv = Inventory::scan(ctx.root);
    let (hid, mut warnings) = hidden::hidden(ctx, None)?;
    let hidden_now = |b: Bdf| hid.devices.iter().any(|d| d.bdf == b && d.hidden_now);
    // The next boot's list as the method a hide was written with reads it (the detected one
    // when none was recorded); None when it cannot be read.
    let mut lists: Vec<(Option<Method>, Option<NextList>)> = Vec::new();
    let mut next_list = |m: Option<Method>| -> Option<NextList> {
        if let Some((_, l)) = lists.iter().find(|(k, _)| *k == m) {
            return l.clone();
        }
        let l = match m {
            None => hid.method.map(|_| &hid),
            Some(_) => None,
        }
        .map(|h| (next_of(h), h.configured_in.clone()))
        .or_else(|| {
            let m = m?;
            hidden::hidden(ctx, Some(m))
                .ok()
                .map(|(h, _)| (next_of(&h), h.configured_in.clone()))
        });
        lists.push((m, l.clone()));
        l
    };
    let xapi = Toolstack::of(ctx.root) == Toolstack::Xapi;
    let xe = Xe::new(ctx.runner);
    let locations: Vec<Location> = st
        .devices
        .iter()
        .map(|e| locate(e.bdf, &e.identity, &inv))
        .collect();
    // Where recorded devices are now: a function there is legitimately hidden.
    let recorded_now: Vec<Bdf> = st
        .devices
        .iter()
        .zip(&locations)
        .filter_map(|(e, l)| match l {
            Location::Same { .. } => Some(e.bdf),
            Location::Moved { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    let mut devices = Vec::new();
    let mut changed = false;
    let mut moves: Vec<(Bdf, Bdf)> = Vec::new();
    for (e, loc) in st.devices.iter().zip(&locations) {
        let mut r = DeviceReport {
            bdf: e.bdf,
            alias: e.alias.clone(),
            recorded: recorded_name(&e.identity),
            location: loc.clone(),
            occupant: None,
            problems: Vec::new(),
            notes: Vec::new(),
            actions: Vec::new(),
            pending: Vec::new(),
        };
        let boot_hide = e.uses.iter().any(Use::is_boot_hide);
        // The method the hide was written with (None: detected now).
        let method = e.uses.iter().find_map(|u| match u {
            Use::BootHide { method } => method.as_deref().and_then(|m| m.parse::<Method>().ok()),
            _ => None,
        });
        let vms: Vec<&str> = e
            .uses
            .iter()
            .filter_map(|u| match u {
                Use::XapiVm { vm } => Some(vm.as_str()),
                _ => None,
            })
            .collect();
        match loc {
            Location::Same { .. } => {
                if let Some(f) = inv.get(e.bdf) {
                    r.notes = e.identity.drift(&DeviceIdentity::of(f));
                }
                let dropped = match boot_hide.then(|| next_list(method)).flatten() {
                    Some((list, place)) if !list.contains(&e.bdf) => Some(place),
                    _ => None,
                };
                if let Some(place) = dropped {
                    r.problems.push(format!(
                        "{} is no longer in the boot hide list ({place}): an upgrade or a hand \
                         edit dropped it, and the next boot leaves it to dom0",
                        e.bdf
                    ));
                    if opts.repair {
                        give::hide(
                            ctx,
                            &[e.bdf],
                            Options {
                                dry_run: opts.dry_run,
                                method,
                                ..boot_only()
                            },
                        )?;
                        r.actions
                            .push(format!("hide {} in the boot configuration again", e.bdf));
                        changed = true;
                    } else {
                        r.pending.push(format!(
                            "`xenpci verify --repair` (or `xenpci hide --persistent {}`)",
                            e.bdf
                        ));
                    }
                }
            }
            Location::Moved { to, by } => {
                r.problems.push(format!(
                    "the recorded device is now at {to} (matched by {by}); every place naming {} \
                     names the wrong function",
                    e.bdf
                ));
            }
            Location::Missing => r.problems.push(format!(
                "the recorded device ({}) is not on this host any more",
                r.recorded
            )),
            Location::Ambiguous { candidates } => {
                r.problems.push(format!(
                "the recorded device could be any of {} (same ids, no serial number or slot to \
                 tell them apart); not guessing",
                candidates.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ))
            }
        }
        let wrong_here = !matches!(loc, Location::Same { .. });
        if wrong_here {
            r.occupant = occupant(&inv, e.bdf);
            // Give back at once a function hidden only because the list names this BDF.
            if let Some(o) = &r.occupant {
                if hidden_now(e.bdf) && !recorded_now.contains(&e.bdf) {
                    let why = if o.critical.is_empty() {
                        String::new()
                    } else {
                        format!(" — dom0 needs it: {}", o.critical.join("; "))
                    };
                    r.problems.push(format!(
                        "{} is now {} {}, hidden from dom0 by mistake{why}",
                        e.bdf, o.ids, o.name
                    ));
                    // Through sysfs: unbind from pciback and let the kernel probe its own driver (xl's
                    // `pci-assignable-remove -r` rebinds only a driver xl itself recorded, and a
                    // device pciback took at boot has none).
                    let back = Options {
                        dry_run: opts.dry_run,
                        force: true,
                        live: Some(LiveMethod::Sysfs),
                        ..live_only()
                    };
                    give::unhide(ctx, &[e.bdf], back)?;
                    r.actions.push(format!(
                        "gave {} ({} {}) back to dom0 now",
                        e.bdf, o.ids, o.name
                    ));
                    changed = true;
                }
            }
            if xapi {
                for vm in &vms {
                    block_start(
                        &xe,
                        vm,
                        e.bdf,
                        &r.recorded,
                        opts.dry_run,
                        &mut r.actions,
                        &mut warnings,
                    );
                    changed = true;
                }
            }
            if let Location::Moved { to, .. } = loc {
                if opts.repair {
                    if boot_hide {
                        give::unhide(
                            ctx,
                            &[e.bdf],
                            Options {
                                dry_run: opts.dry_run,
                                force: true,
                                method,
                                ..boot_only()
                            },
                        )?;
                        give::hide(
                            ctx,
                            &[*to],
                            Options {
                                dry_run: opts.dry_run,
                                persistent: true,
                                now: true,
                                method,
                                ..Options::default()
                            },
                        )?;
                        r.actions.push(format!(
                            "moved the hide from {} to {to} (boot configuration and now)",
                            e.bdf
                        ));
                    }
                    for vm in &vms {
                        retarget_vm(ctx, &xe, vm, e.bdf, *to, opts.dry_run)?;
                        r.actions.push(format!(
                            "VM {vm}: other-config:pci now names {to} instead of {}",
                            e.bdf
                        ));
                        unblock_start(&xe, vm, opts.dry_run, &mut r.actions, &mut warnings);
                    }
                    for u in &e.uses {
                        if let Use::Xlcfg { path } = u {
                            r.pending.push(format!("{path} names {}: `xenpci xlcfg remove-pci {path} {}` and `xenpci xlcfg add-pci {path} {to}`", e.bdf, e.bdf));
                        }
                    }
                    moves.push((e.bdf, *to));
                    changed = true;
                } else {
                    r.pending.push(format!(
                        "`xenpci verify --repair` moves every place naming {} to {to}",
                        e.bdf
                    ));
                }
            } else {
                r.pending.push(
                    "find the device (or `xenpci unhide`/`unassign` the old address) by hand"
                        .into(),
                );
            }
        }
        devices.push(r);
    }
    if !opts.dry_run && !moves.is_empty() {
        let inv2 = Inventory::scan(ctx.root);
        state::update(ctx.root, |s| {
            for (from, to) in &moves {
                let Some(f) = inv2.get(*to) else { continue };
                // The hide of the new BDF may have recorded it already: one entry, all uses.
                let uses: Vec<Use> = s
                    .devices
                    .iter()
                    .filter(|e| e.bdf == *from)
                    .flat_map(|e| e.uses.clone())
                    .collect();
                let alias = s.get(*from).and_then(|e| e.alias.clone());
                s.devices.retain(|e| e.bdf != *from);
                s.record(*to, DeviceIdentity::of(f), &uses);
                if let Some(e) = s.devices.iter_mut().find(|e| e.bdf == *to) {
                    if e.alias.is_none() {
                        e.alias = alias;
                    }
                }
            }
        })?;
    }
    let ok_devices = devices.iter().all(|d| {
        d.pending.is_empty() && (d.problems.is_empty() || (opts.repair && !d.actions.is_empty()))
    });
    let mut report = VerifyReport {
        dry_run: opts.dry_run,
        repair: opts.repair,
        devices,
        ok: ok_devices,
        changed,
        warnings,
    };
    if !opts.dry_run && !st.devices.is_empty() {
        // What this run found and did, for whoever looks after a boot (the boot unit's record).
        let text = serde_json::to_string_pretty(&report).unwrap_or_default() + "\n";
        if let Err(e) =
            crate::fsutil::atomic_write(&ctx.root.path(LAST_PATH), text.as_bytes(), false)
        {
            report
                .warnings
                .push(format!("{LAST_PATH} not written: {e}"));
        }
    }
    Ok(report)
}

/// Where the last (not dry) verify leaves its report.
pub const LAST_PATH: &str = "/var/lib/xenpci/last-verify.json";

fn block_start(
    xe: &Xe,
    vm: &str,
    bdf: Bdf,
    recorded: &str,
    dry_run: bool,
    actions: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let reason = format!("{BLOCK_PREFIX} {bdf} is no longer {recorded}; run xenpci verify");
    let cmd = xe.command([
        "vm-param-set".to_string(),
        format!("uuid={vm}"),
        format!("blocked-operations:start={reason}"),
    ]);
    if !dry_run {
        if let Err(e) = xe.run(&cmd) {
            warnings.push(format!("could not block VM {vm} from starting: {e}"));
            return;
        }
    }
    actions.push(format!("blocked VM {vm} from starting ({reason})"));
}

fn unblock_start(
    xe: &Xe,
    vm: &str,
    dry_run: bool,
    actions: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let get = xe.command([
        "vm-param-get".to_string(),
        format!("uuid={vm}"),
        "param-name=blocked-operations".into(),
        "param-key=start".into(),
    ]);
    // A block somebody else set stays.
    let ours = match xe.run(&get) {
        Ok(o) => o.stdout.trim().starts_with(BLOCK_PREFIX),
        Err(_) => dry_run,
    };
    if !ours {
        return;
    }
    let cmd = xe.command([
        "vm-param-remove".to_string(),
        format!("uuid={vm}"),
        "param-name=blocked-operations".into(),
        "param-key=start".into(),
    ]);
    if !dry_run {
        if let Err(e) = xe.run(&cmd) {
            warnings.push(format!("could not clear the start block of VM {vm}: {e}"));
            return;
        }
    }
    actions.push(format!("cleared xenpci's start block of VM {vm}"));
}

fn retarget_vm(
    ctx: Ctx<'_>,
    xe: &Xe,
    vm: &str,
    from: Bdf,
    to: Bdf,
    dry_run: bool,
) -> Result<(), OpError> {
    let req = EditRequest {
        vm: vm.to_string(),
        add: vec![to],
        remove: vec![from],
        remove_all: false,
        order: Vec::new(),
        steal: false,
        force: false,
        rewrite_misread: false,
        restart: false,
        dry_run,
        in_use: Default::default(),
        state_dir: Some(crate::journal::default_state_dir(ctx.root)),
    };
    give::assign(xe, ctx.root, ctx.runner, &req, &mut |_| {})?;
    Ok(())
}

/// What `adopt` recorded.
#[derive(Debug, Clone, Serialize)]
pub struct AdoptReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// Each device adopted, with the places found naming it.
    pub adopted: Vec<(Bdf, Vec<Use>)>,
    /// Devices named somewhere but not on the host (not recorded).
    pub absent: Vec<(Bdf, String)>,
    /// Facts that could not be read.
    pub warnings: Vec<String>,
}

/// Records the identity of every device the host already hides (boot list, pciback) or, on an
/// XAPI host, that a VM's `other-config:pci` names — for hosts set up before xenpci recorded
/// identities. Run it while the devices are where they belong.
pub fn adopt(ctx: Ctx<'_>, dry_run: bool) -> Result<AdoptReport, OpError> {
    let inv = Inventory::scan(ctx.root);
    let (hid, mut warnings) = hidden::hidden(ctx, None)?;
    let mut found: Vec<(Bdf, Vec<Use>)> = Vec::new();
    let mut add = |b: Bdf, u: Use| match found.iter_mut().find(|(x, _)| *x == b) {
        Some((_, us)) => {
            if !us.contains(&u) {
                us.push(u)
            }
        }
        None => found.push((b, vec![u])),
    };
    for d in &hid.devices {
        if d.hidden_next_boot {
            add(
                d.bdf,
                Use::BootHide {
                    method: hid.method.map(|m| m.to_string()),
                },
            );
        }
        if d.hidden_now && !d.hidden_next_boot {
            add(d.bdf, Use::LiveHide);
        }
    }
    if Toolstack::of(ctx.root) == Toolstack::Xapi {
        let xe = Xe::new(ctx.runner);
        match xe.vm_list() {
            Ok(vms) => {
                for vm in vms.iter().filter(|v| !v.is_control_domain()) {
                    if let Some((_, v)) = vm.other_config.iter().find(|(k, _)| k == "pci") {
                        for d in xapi_pci::parse(v).devices {
                            if let Some(b) = d.addr.bdf() {
                                add(
                                    b,
                                    Use::XapiVm {
                                        vm: vm.uuid.to_string(),
                                    },
                                );
                            }
                        }
                    }
                }
            }
            Err(e) => warnings.push(format!("XAPI VMs not read: {e}")),
        }
    }
    let mut adopted = Vec::new();
    let mut absent = Vec::new();
    let mut records = Vec::new();
    for (b, mut uses) in found {
        uses.sort();
        match inv.get(b) {
            Some(f) => {
                records.push((b, DeviceIdentity::of(f), uses.clone()));
                adopted.push((b, uses));
            }
            None => absent.push((
                b,
                uses.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
        }
    }
    adopted.sort_by_key(|(b, _)| *b);
    if !dry_run && !records.is_empty() {
        state::update(ctx.root, |s| {
            for (b, id, uses) in records {
                s.record(b, id, &uses);
            }
        })?;
    }
    Ok(AdoptReport {
        dry_run,
        adopted,
        absent,
        warnings,
    })
}
