//! Planning a move of a VM with passthrough devices to another host (issue 6 §3), decided
//! before anything runs and said up front:
//!
//! * **xl, HVM with devices — hot**: detach every device (remembering spec options and vslot),
//!   `xl migrate`, attach the mapped devices on the target, verify (the VT-d guide's model,
//!   seed 002). Xen refuses log-dirty mode while a device is assigned (xen-xl.md §3.6).
//! * **xl, PV with a device — cold**: on Xen 4.17 such a guest can neither be tracked for a live
//!   move (log-dirty refused while a device is assigned) nor suspended (`xl save` fails and the
//!   resume breaks it) — measured in tests/xen-e2e. So: write the
//!   guest's xl.cfg for the target's BDFs (`xenpci::xlcfg`, byte-exact elsewhere; written like
//!   `xenpci xlcfg` writes: locked, backed up, refused when changed since read), shut it down,
//!   `xl create` it on the target, verify.
//! * **xl, no devices — live**: plain `xl migrate` (also for a PV guest that had a device: it
//!   suspends again after the detach), refused up front when the source's Xen lacks the paging
//!   mode log-dirty needs (`live_impossible`).
//! * **XAPI with `other-config:pci` — cold**: xapi plugs PCI only at domain build and refuses
//!   migration (`VM_HAS_PCI_ATTACHED`, xapi-xe.md §1.3–1.4): shut down, rewrite
//!   `other-config:pci` for the target's mapped devices, `vm-start on=`, verify.
//! * **XAPI without devices — live**: `xe vm-migrate`.
//!
//! Every mapped device's identity is verified on both hosts, and the target's devices must be
//! assignable there, before the plan is accepted.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::pci::Bdf;
use crate::syntax::pci_spec::{format_spec, SpecDefaults};
use crate::xlcfg::{effective, xl_spec_parser, Document};

use super::hotplug;
use super::mapping::Mapping;
pub use super::steps::explain_migrate_failure;
use super::steps::{xe_get_pci, Action};
use super::transport::{Site, Transport};
use super::xl::Xl;
use super::FlowError;

/// Which toolstack owns the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Toolstack {
    /// Plain Xen.
    Xl,
    /// XAPI (XCP-ng / XenServer).
    Xapi,
}

/// What to move where.
#[derive(Debug, Clone)]
pub struct Request {
    /// VM name (xl) or name-label/uuid (XAPI).
    pub vm: String,
    /// Source host.
    pub from: String,
    /// Target host.
    pub to: String,
    /// Toolstack.
    pub toolstack: Toolstack,
    /// The guest's xl.cfg (xl cold path); default: searched, see `find_config`.
    pub config: Option<PathBuf>,
    /// Cross-host device mapping (needed when devices move to another host).
    pub mapping: Option<Mapping>,
    /// Take the cold path even when hot would work.
    pub cold: bool,
    /// Cold path: destroy a guest that does not acknowledge the shutdown request.
    pub force_stop: bool,
}

/// A device that moves.
#[derive(Debug, Clone, Serialize)]
pub struct Moved {
    /// Logical name from the mapping (or `same-host`).
    pub name: String,
    /// BDF on the source.
    pub from: Bdf,
    /// BDF on the target.
    pub to: Bdf,
    /// Spec on the target.
    pub spec: String,
}

/// The whole plan.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// `hot`, `cold` or `live`.
    pub mode: String,
    /// VM as given, and its uuid for XAPI.
    pub vm: String,
    /// Source host.
    pub from: String,
    /// Target host.
    pub to: String,
    /// What is said before acting (why this mode).
    pub notes: Vec<String>,
    /// Devices that move.
    pub devices: Vec<Moved>,
    /// Steps, in order.
    pub steps: Vec<Action>,
    /// The changes the plan's file writes make, shown by the dry run.
    pub diffs: Vec<StepDiff>,
}

/// What a [`Action::WriteFile`] step changes, as a unified diff.
#[derive(Debug, Clone, Serialize)]
pub struct StepDiff {
    /// The step's number (1-based).
    pub step: usize,
    /// A new file is shown against the file it is derived from (`against`).
    pub against: Option<PathBuf>,
    /// The unified diff.
    pub diff: String,
}

/// A planned write of `content` to `path`: reads what is there now (the write is refused, when
/// run, if the file no longer holds it). A file that exists but cannot be read is refused now.
/// The path is made absolute, so a journaled flow resumes from any directory.
pub fn write_step(path: &Path, content: String) -> Result<Action, FlowError> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(Action::WriteFile {
        previous: crate::fsutil::read_text(&path)?,
        path,
        content,
    })
}

/// The diff of write step `step` (1-based) of `steps`, a new file shown against `base`
/// (its path and text) when given.
pub fn step_diff(steps: &[Action], step: usize, base: Option<(&Path, &str)>) -> Option<StepDiff> {
    let Some(Action::WriteFile {
        path,
        content,
        previous,
    }) = steps.get(step.wrapping_sub(1))
    else {
        return None;
    };
    let label = |p: &Path| p.display().to_string().trim_start_matches('/').to_string();
    let (against, diff) = match (previous, base) {
        (None, Some((b, text))) => (
            Some(b.to_path_buf()),
            crate::fsutil::unified_diff_between(&label(b), &label(path), text, content),
        ),
        _ => (
            None,
            crate::fsutil::unified_diff(&label(path), previous.as_deref().unwrap_or(""), content),
        ),
    };
    Some(StepDiff {
        step,
        against,
        diff,
    })
}

fn map_device(req: &Request, site: &Site, bdf: Bdf) -> Result<(String, Bdf), FlowError> {
    if req.from == req.to {
        return Ok(("same-host".into(), bdf));
    }
    let m = req.mapping.as_ref().ok_or_else(|| FlowError::Refused {
        action: format!("move {} to {}", req.vm, req.to),
        reason: format!(
            "{bdf} must be mapped to a device of {}: give --map FILE (docs/mapping.md)",
            req.to
        ),
    })?;
    let (name, to) = m.translate(&req.from, bdf, &req.to)?;
    m.verify(site, &name, &req.from)?;
    m.verify(site, &name, &req.to)?;
    Ok((name, to))
}

fn spec_with(spec: &str, bdf: Bdf, vslot: Option<u8>) -> Result<String, FlowError> {
    let mut s = hotplug::parse(spec)?;
    s.bdf = Some(bdf);
    s.name = None;
    if vslot.is_some() {
        s.vslot = vslot;
    }
    format_spec(&s, &SpecDefaults::default()).map_err(|e| FlowError::BadInput {
        what: "PCI_SPEC_STRING".into(),
        input: spec.into(),
        expected: e.to_string(),
    })
}

/// Reads the guest's xl.cfg pci entries: (bdf, entry as written).
fn cfg_entries(path: &Path) -> Result<(String, Vec<(Bdf, String)>), FlowError> {
    let src = crate::bounded_read::read_string(path, crate::bounded_read::CONFIG_LIMIT).map_err(|e| FlowError::Refused {
        action: "read the guest config".into(),
        reason: format!(
            "{}: {e} (the cold path recreates the guest from its xl.cfg: give --config FILE, or set XENPCI_XL_CONFIG_DIRS)",
            path.display()
        ),
    })?;
    let doc = Document::parse(&src).map_err(|e| FlowError::BadInput {
        what: "xl.cfg".into(),
        input: path.display().to_string(),
        expected: e.report(&path.display().to_string()),
    })?;
    let cfg = doc.config().map_err(|e| FlowError::BadInput {
        what: "xl.cfg".into(),
        input: path.display().to_string(),
        expected: e.report(&path.display().to_string()),
    })?;
    let eff = effective(&cfg, &path.display().to_string(), &xl_spec_parser);
    let entries = eff
        .pci
        .iter()
        .filter_map(|d| Some((d.bdf.as_deref()?.parse().ok()?, d.input.clone())))
        .collect();
    Ok((src, entries))
}

/// Why the source's Xen cannot move a guest of `kind` live, from `xl info` virt_caps: xl's live
/// migration tracks the pages the guest dirties while it runs (log-dirty mode), which Xen does
/// with shadow paging for PV guests and with HAP or shadow paging for HVM/PVH guests. Xen built
/// without shadow paging (Debian 12's Xen 4.17: `# CONFIG_SHADOW_PAGING is not set`) reports no
/// `shadow` and fails every PV live migration (`xc: error: Failed to enable logdirty: 95,22,0`,
/// `Migration failed, failed to suspend at sender.`; tests/xen-e2e). `None` when it can, or when
/// xl does not say.
fn live_impossible(src: &Xl, kind: &str, req: &Request) -> Result<Option<String>, FlowError> {
    let Some(caps) = src.virt_caps()? else {
        return Ok(None);
    };
    let has = |c: &str| caps.iter().any(|x| x == c);
    let (ok, needs) = if kind == "pv" {
        (has("shadow"), "shadow paging (`shadow`)")
    } else {
        (
            has("hap") || has("shadow"),
            "hardware-assisted or shadow paging (`hap` or `shadow`)",
        )
    };
    if ok {
        return Ok(None);
    }
    Ok(Some(format!(
        "Xen on {from} cannot track the memory a running {kind} guest writes, which a live move needs: \
         `xl info` virt_caps ({caps}) has no {needs} — the hypervisor was built without it \
         (e.g. Debian 12's Xen 4.17), so `xl migrate` would fail with `Failed to enable logdirty`. \
         Nothing was changed. A cold move works: `xenpci migrate {vm} --to {to} --cold` \
         (shuts {vm} down on {from} and starts it on {to})",
        from = req.from,
        kind = kind.to_uppercase(),
        caps = caps.join(" "),
        vm = req.vm,
        to = req.to,
    )))
}

/// Plans an xl move.
pub fn plan_xl(site: &Site, req: &Request) -> Result<Plan, FlowError> {
    let src = Xl {
        site,
        host: &req.from,
    };
    let dst = Xl {
        site,
        host: &req.to,
    };
    let info = hotplug::domain(&src, &req.vm)?;
    let attached = src.pci_list(&req.vm)?;
    // Only for the plan's note on the guest's device history: an unreadable XenStore is no reason
    // to refuse the move.
    let pcifront = hotplug::local_store(site.is_local(&req.from)).and_then(|store| {
        crate::xenstore::pcifront_present(&store, crate::ids::DomId(info.domid)).ok()
    });
    let mut notes = Vec::new();
    let pv_like = info.kind != "hvm";
    // Real Xen removes the pcifront from XenStore with the last device; xenpci's own note of an
    // earlier attach is then the evidence (hotplug::pv_had_device). Such a guest suspends again
    // once the device is gone (xl save + restore after the detach worked on Xen 4.17,
    // tests/xen-e2e), so its history is only worth a note.
    let had_device = pv_like
        && (pcifront == Some(true)
            || site.is_local(&req.from) && hotplug::pv_had_device(&site.root, info.domid));
    let mode = if attached.is_empty() && !req.cold {
        if had_device {
            notes.push(format!(
                "{} had a PCI device earlier and has none now: a PV guest suspends again after the detach (xl save/restore measured on Xen 4.17), so it can move live",
                req.vm
            ));
        }
        "live"
    } else if pv_like || req.cold {
        if req.cold {
            notes.push("cold move requested (--cold)".into());
        } else {
            notes.push(format!(
                "{} is a {} guest with a PCI device attached: a live move is impossible (Xen refuses to track its memory while a device is assigned: `Failed to enable logdirty: 22,22,0`; and it does not suspend with the device attached: `xl save` says `Dom N not suspended` and the resume fails — both measured on Xen 4.17, tests/xen-e2e). Taking the cold path: shut down on {}, start on {} with the mapped devices.",
                req.vm,
                info.kind.to_uppercase(),
                req.from,
                req.to
            ));
        }
        "cold"
    } else {
        notes.push(format!(
            "{} is an HVM guest: hot path — detach its devices, live-migrate, attach the mapped devices on {}",
            req.vm, req.to
        ));
        "hot"
    };
    if mode != "cold" {
        if let Some(reason) = live_impossible(&src, &info.kind, req)? {
            return Err(FlowError::Refused {
                action: format!("move {} live from {}", req.vm, req.from),
                reason,
            });
        }
    }
    let mut devices = Vec::new();
    let mut steps = Vec::new();
    let mut diffs = Vec::new();
    match mode {
        "live" => steps.push(migrate_step(req)),
        "hot" => {
            let cfg = find_config(site, req);
            let entries = cfg_entries(&cfg).map(|(_, e)| e).unwrap_or_default();
            for e in &attached {
                let written = entries
                    .iter()
                    .chain(info.pcidevs.iter())
                    .find(|(b, _)| *b == e.bdf)
                    .map_or(e.bdf.to_string(), |(_, s)| s.clone());
                let vslot = (e.vslot != 0).then_some(e.vslot);
                let here = spec_with(&written, e.bdf, vslot)?;
                let (name, to) = map_device(req, site, e.bdf)?;
                let there = spec_with(&written, to, vslot)?;
                steps.push(Action::XlDetach {
                    host: req.from.clone(),
                    dom: req.vm.clone(),
                    bdf: e.bdf,
                    spec: here,
                });
                devices.push(Moved {
                    name,
                    from: e.bdf,
                    to,
                    spec: there,
                });
            }
            steps.push(migrate_step(req));
            for d in &devices {
                steps.push(Action::XlAttach {
                    host: req.to.clone(),
                    dom: req.vm.clone(),
                    bdf: d.to,
                    spec: d.spec.clone(),
                });
            }
        }
        _ => {
            let cfg = find_config(site, req);
            let (text, entries) = cfg_entries(&cfg)?;
            let mut doc = Document::parse(&text).map_err(|e| FlowError::BadInput {
                what: "xl.cfg".into(),
                input: cfg.display().to_string(),
                expected: e.report(&cfg.display().to_string()),
            })?;
            let mut wanted: Vec<(Bdf, String, Option<u8>)> =
                entries.iter().map(|(b, s)| (*b, s.clone(), None)).collect();
            for e in &attached {
                if !wanted.iter().any(|(b, _, _)| *b == e.bdf) {
                    let written = info
                        .pcidevs
                        .iter()
                        .find(|(b, _)| *b == e.bdf)
                        .map_or(e.bdf.to_string(), |(_, s)| s.clone());
                    wanted.push((e.bdf, written, (e.vslot != 0).then_some(e.vslot)));
                }
            }
            for (b, _) in &entries {
                match doc.remove_pci(*b, &xl_spec_parser) {
                    // a BDF listed twice went with its first removal
                    Ok(_) | Err(crate::xlcfg::EditError::NotFound { .. }) => {}
                    Err(e) => {
                        return Err(FlowError::BadInput {
                            what: "xl.cfg edit".into(),
                            input: cfg.display().to_string(),
                            expected: e.to_string(),
                        })
                    }
                }
            }
            for (b, written, vslot) in &wanted {
                let (name, to) = map_device(req, site, *b)?;
                let spec = spec_with(written, to, *vslot)?;
                doc.add_pci(&spec, &xl_spec_parser)
                    .map_err(|e| FlowError::BadInput {
                        what: "xl.cfg edit".into(),
                        input: cfg.display().to_string(),
                        expected: e.to_string(),
                    })?;
                devices.push(Moved {
                    name,
                    from: *b,
                    to,
                    spec,
                });
            }
            let stem = cfg
                .file_stem()
                .map_or(req.vm.clone(), |s| s.to_string_lossy().into_owned());
            let target_cfg = cfg.with_file_name(format!("{stem}@{}.cfg", req.to));
            // written, copied and created under one (absolute) path
            let target_cfg = std::path::absolute(&target_cfg).unwrap_or(target_cfg);
            steps.push(write_step(&target_cfg, doc.to_string())?);
            diffs.extend(step_diff(&steps, steps.len(), Some((&cfg, &text))));
            if site.transport == Transport::Ssh && site.local.as_deref() != Some(req.to.as_str()) {
                steps.push(Action::CopyFile {
                    host: req.to.clone(),
                    path: target_cfg.clone(),
                });
            }
            steps.push(Action::XlShutdown {
                host: req.from.clone(),
                dom: req.vm.clone(),
                config: cfg.clone(),
                force_stop: req.force_stop,
            });
            steps.push(Action::XlCreate {
                host: req.to.clone(),
                dom: req.vm.clone(),
                config: target_cfg,
                devices: devices.iter().map(|d| d.to).collect(),
            });
        }
    }
    // the target must be able to take the devices
    if !devices.is_empty() && req.from != req.to {
        let free = dst.assignable()?;
        for d in &devices {
            if !free.iter().any(|(b, _)| *b == d.to) {
                return Err(FlowError::Refused {
                    action: format!("move {} to {}", req.vm, req.to),
                    reason: format!("{} ({}) is not assignable on {}: bind it to pciback there first (xenpci hide / xl pci-assignable-add)", d.to, d.name, req.to),
                });
            }
        }
    }
    if req.from != req.to && dst.domain(&req.vm)?.is_some() {
        return Err(FlowError::Refused {
            action: format!("move {} to {}", req.vm, req.to),
            reason: format!("{} already has a domain named {}", req.to, req.vm),
        });
    }
    Ok(Plan {
        mode: mode.into(),
        vm: req.vm.clone(),
        from: req.from.clone(),
        to: req.to.clone(),
        notes,
        devices,
        steps,
        diffs,
    })
}

/// The guest's xl.cfg: `--config`, else the first of `DIR/VM.cfg`, `DIR/VM` for DIR in
/// `XENPCI_XL_CONFIG_DIRS` (`:`-separated, default `/etc/xen`, under the host root).
fn find_config(site: &Site, req: &Request) -> PathBuf {
    if let Some(c) = &req.config {
        return c.clone();
    }
    let dirs = &crate::config::get().xl_config_dirs;
    let candidates: Vec<PathBuf> = dirs
        .split(':')
        .filter(|d| !d.is_empty())
        .flat_map(|d| [format!("{d}/{}.cfg", req.vm), format!("{d}/{}", req.vm)])
        .map(|p| site.root.path(p))
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| site.root.path(format!("/etc/xen/{}.cfg", req.vm)))
}

fn migrate_step(req: &Request) -> Action {
    Action::XlMigrate {
        from: req.from.clone(),
        to: req.to.clone(),
        dom: req.vm.clone(),
    }
}

/// Plans an XAPI move (pool-wide `xe`, run where xenpci runs).
pub fn plan_xapi(site: &Site, req: &Request) -> Result<Plan, FlowError> {
    let x = crate::xapi::Xe::new(site.runner);
    let xerr = |e: crate::xapi::XeError| FlowError::Xe(Box::new(e));
    let vm = x.vm_lookup(&req.vm).map_err(xerr)?;
    let uuid = vm.to_string();
    if x.power_state(&vm).map_err(xerr)? != crate::xapi::PowerState::Running {
        return Err(FlowError::Refused {
            action: format!("move {}", req.vm),
            reason: "the VM is not running".into(),
        });
    }
    let resident = x.resident_on(&vm).map_err(xerr)?.unwrap_or_default();
    let from_uuid = super::steps::xe_host_uuid(site, &req.from)?;
    if resident != from_uuid {
        return Err(FlowError::Refused {
            action: format!("move {}", req.vm),
            reason: format!("the VM runs on host {resident:?}, not on {}", req.from),
        });
    }
    super::steps::xe_host_uuid(site, &req.to)?;
    let old = xe_get_pci(site, &vm)?;
    let mut steps = Vec::new();
    let mut devices = Vec::new();
    let mut notes = Vec::new();
    let entries = old
        .as_deref()
        .map(|v| crate::syntax::xapi_pci::parse(v).entries())
        .unwrap_or_default();
    let mode = if entries.is_empty() {
        steps.push(Action::XeMigrate {
            vm: vm.clone(),
            from: req.from.clone(),
            to: req.to.clone(),
        });
        "live"
    } else {
        notes.push(format!(
            "{} has other-config:pci={:?}: XAPI plugs PCI devices only when the domain is built and refuses to migrate it (VM_HAS_PCI_ATTACHED), so this is a COLD move: the VM is shut down on {}, its other-config:pci rewritten for {}'s devices, and started on {}",
            req.vm, old.clone().unwrap_or_default(), req.from, req.to, req.to
        ));
        let mut new_entries = Vec::new();
        for e in &entries {
            let (name, to) = map_device(req, site, e.bdf)?;
            new_entries.push(crate::syntax::xapi_pci::Entry {
                group: e.group,
                bdf: to,
            });
            devices.push(Moved {
                name,
                from: e.bdf,
                to,
                spec: format!("{}/{}", e.group, to),
            });
        }
        let new =
            crate::syntax::xapi_pci::generate(&new_entries).map_err(|e| FlowError::BadInput {
                what: "other-config:pci".into(),
                input: old.clone().unwrap_or_default(),
                expected: e.to_string(),
            })?;
        steps.push(Action::XeShutdown {
            vm: vm.clone(),
            host: req.from.clone(),
        });
        if Some(&new) != old.as_ref() {
            steps.push(Action::XeSetPci {
                vm: vm.clone(),
                old: old.clone(),
                new: Some(new),
            });
        }
        steps.push(Action::XeStart {
            vm: vm.clone(),
            host: req.to.clone(),
        });
        "cold"
    };
    Ok(Plan {
        mode: mode.into(),
        vm: uuid,
        from: req.from.clone(),
        to: req.to.clone(),
        notes,
        devices,
        steps,
        diffs: vec![],
    })
}

/// Plans with the toolstack of the request.
pub fn plan(site: &Site, req: &Request) -> Result<Plan, FlowError> {
    match req.toolstack {
        Toolstack::Xl => plan_xl(site, req),
        Toolstack::Xapi => plan_xapi(site, req),
    }
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        writeln!(
            f,
            "plan: {} move of {} from {} to {}",
            self.mode, self.vm, self.from, self.to
        )?;
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        for d in &self.devices {
            writeln!(
                f,
                "  device {}: {} on {} -> {} on {} ({})",
                d.name, d.from, self.from, d.to, self.to, d.spec
            )?;
        }
        for (i, s) in self.steps.iter().enumerate() {
            writeln!(f, "  {}. {s}", i + 1)?;
        }
        for d in &self.diffs {
            match &d.against {
                Some(b) => writeln!(
                    f,
                    "  step {} writes a new file; shown against {}:",
                    d.step,
                    b.display()
                )?,
                None => writeln!(f, "  step {} changes:", d.step)?,
            }
            for l in d.diff.lines() {
                writeln!(f, "    {l}")?;
            }
        }
        Ok(())
    }
}
