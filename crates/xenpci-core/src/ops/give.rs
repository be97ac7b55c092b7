//! The operations that hide a device, give it to a guest, or take it back, each gathering the
//! facts the policy needs and asking it before anything changes: [`hide`], [`unhide`], [`attach`],
//! [`assign`] (whose edit asks the policy itself, with the VMs it already reads) and
//! [`xlcfg_add_pci`]; [`detach`] beside them. The CLI and the plugin call these, never the lower
//! layers.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::facts;
use super::OpError;
use crate::exec::Runner;
use crate::flows::hotplug::{self, HotplugReport};
use crate::flows::xl::{DomainInfo, Xl};
use crate::flows::FlowError;
use crate::hide::apply::{self, Options, Outcome};
use crate::hide::Ctx;
use crate::host::xensource::Toolstack;
use crate::host::HostRoot;
use crate::identity::guard::Checked;
use crate::pci::Bdf;
use crate::policy::{self, Action, DeviceFacts, Holder, HostFacts, InUse, Refusal, Verdict};
use crate::syntax::pci_spec::{parse_spec, SpecDefaults};
use crate::xapi::assign::{EditReport, EditRequest};
use crate::xapi::Xe;
use crate::xlcfg::{xl_spec_parser, Document};

/// `hide`: the policy for [`Action::Hide`], then the plan (see [`apply::hide`]).
pub fn hide(ctx: Ctx<'_>, bdfs: &[Bdf], opts: Options) -> Result<Outcome, OpError> {
    // A VF's persistent hide is a udev rule, never the boot line (it does not exist then).
    if (opts.persistent || !opts.now) && Toolstack::of(ctx.root) != Toolstack::Kvm {
        let vfs = super::vf_hide::vfs_of(&crate::host::Inventory::scan(ctx.root), bdfs);
        if !vfs.is_empty() {
            return super::vf_hide::hide(ctx, bdfs, &vfs, opts);
        }
    }
    let mut out = apply::hide(ctx, bdfs, opts)?;
    remember(ctx, bdfs, &opts, true, &mut out);
    Ok(out)
}

/// Records (hide) or forgets (unhide) the devices' identities once the change is confirmed
/// ([`super::record::record_hide`]).
fn remember(ctx: Ctx<'_>, bdfs: &[Bdf], opts: &Options, hide: bool, out: &mut Outcome) {
    let done = out.result.as_ref().is_some_and(|r| r.ok);
    if done && !opts.dry_run {
        if let Some(w) = super::record::record_hide(ctx, bdfs, opts, out.method, hide) {
            out.warnings.push(w);
        }
    }
}

/// `unhide`: who uses the devices (running domains, XAPI VMs), the policy for
/// [`Action::TakeBack`], then the plan.
pub fn unhide(ctx: Ctx<'_>, bdfs: &[Bdf], opts: Options) -> Result<Outcome, OpError> {
    let in_use = facts::local(ctx.root, ctx.runner);
    if (opts.persistent || !opts.now) && Toolstack::of(ctx.root) != Toolstack::Kvm {
        let vfs = super::vf_hide::vfs_of(&crate::host::Inventory::scan(ctx.root), bdfs);
        if !vfs.is_empty() {
            return super::vf_hide::unhide(ctx, bdfs, &vfs, opts, &in_use);
        }
    }
    let mut out = apply::unhide(ctx, bdfs, opts, &in_use)?;
    remember(ctx, bdfs, &opts, false, &mut out);
    Ok(out)
}

/// What `xenpci resume` did with a hide/unhide its journal shows interrupted.
#[derive(Debug, Serialize)]
pub struct HideResume {
    /// What was done with the interrupted plan's journal and files (in words).
    pub settled: String,
    /// The recorded request, made again (None: `--rollback`, or a journal without a request).
    pub finished: Option<Outcome>,
    /// What that request was (`hide 0000:05:00.0`), when there was one.
    pub request: Option<String>,
}

/// `xenpci resume` for hide/unhide, under the hide lock for the whole of it: a plan whose
/// journal is there was interrupted (a run killed, or a failure not fully undone). Every file it
/// names must hold its content from before or after that plan (else the journal is left for the
/// admin: [`crate::plan_journal::PlanJournalError::Conflict`]). Unless `rollback`, the request
/// it recorded is made again through [`hide`] / [`unhide`] — the policy asked again, the plan
/// computed from the host as the killed run left it, so what it did is not planned again —
/// with the old journal in place until the new plan takes it over (each file's content from
/// before the *interrupted* run) and removed only when the new plan is done
/// ([`crate::plan_journal::Resuming`]); a request that is refused or fails leaves it, for
/// `status` and `resume --rollback`. With `rollback` (or a journal without a request) the
/// files are put back as they were before it and the journal is removed. None when no
/// hide/unhide journal is there.
pub fn resume_hide(ctx: Ctx<'_>, rollback: bool) -> Result<Option<HideResume>, OpError> {
    ctx.root.check().map_err(crate::hide::HideError::from)?;
    let _lock = apply::lock(ctx.root)?;
    let journal =
        crate::plan_journal::read_checked(ctx.root).map_err(crate::hide::HideError::from)?;
    let Some((title, files, request)) = journal else {
        return Ok(None);
    };
    let request = request.and_then(|v| serde_json::from_value::<apply::Resumable>(v).ok());
    let shown = request.as_ref().map(apply::Resumable::command_line);
    let (Some(request), Some(shown), false) = (request, shown.clone(), rollback) else {
        let settled = crate::plan_journal::recover(ctx.root)
            .map_err(crate::hide::HideError::from)?
            .unwrap_or_default();
        return Ok(Some(HideResume {
            settled,
            finished: None,
            request: shown,
        }));
    };
    let (is_hide, bdfs, opts) = request.request().map_err(|e| OpError::BadInput {
        what: format!("the request recorded in {}", crate::plan_journal::PATH),
        input: shown.clone(),
        expected: e,
    })?;
    let _resuming = crate::plan_journal::Resuming::begin(files);
    let out = if is_hide {
        hide(ctx, &bdfs, opts)?
    } else {
        unhide(ctx, &bdfs, opts)?
    };
    let settled = if out.result.as_ref().is_some_and(|r| r.ok) {
        format!("an interrupted '{title}' is finished from where it stopped (`{shown}` again)")
    } else if ctx.root.path(crate::plan_journal::PATH).exists() {
        format!(
            "an interrupted '{title}' was made again (`{shown}`) and did not finish; its journal \
             {} is kept (`xenpci resume --rollback` puts its files back)",
            crate::plan_journal::PATH
        )
    } else {
        format!("an interrupted '{title}' was made again (`{shown}`) and did not finish")
    };
    Ok(Some(HideResume {
        settled,
        finished: Some(out),
        request: Some(shown),
    }))
}

/// What an attach did, and what was forced.
#[derive(Debug, Clone, Serialize)]
pub struct AttachReport {
    /// The hotplug report.
    #[serde(flatten)]
    pub report: HotplugReport,
    /// Devices the policy would have refused, attached because of `force`.
    pub forced: Vec<Refusal>,
}

/// `assign` / `unassign` (XAPI `other-config:pci`): the running domains' devices for the policy
/// (the VMs' values [`crate::xapi::assign::edit`] reads itself), then the edit.
pub fn assign(
    xe: &Xe,
    root: &HostRoot,
    runner: &dyn Runner,
    req: &EditRequest,
    progress: &mut dyn FnMut(&str),
) -> Result<EditReport, OpError> {
    let mut req = req.clone();
    if !req.add.is_empty() {
        facts::running_domains(runner, &mut req.in_use);
    }
    let report = crate::xapi::assign::edit(xe, root, &req, progress)?;
    if report.changed && !report.dry_run {
        let removed: Vec<Bdf> = if req.remove_all {
            report
                .before
                .as_deref()
                .map(|v| {
                    crate::syntax::xapi_pci::parse(v)
                        .devices
                        .iter()
                        .filter_map(|d| d.addr.bdf())
                        .collect()
                })
                .unwrap_or_default()
        } else {
            req.remove.clone()
        };
        let vm = report.vm.uuid.to_string();
        if let Some(w) = super::record::record_assign(root, &vm, &req.add, &removed) {
            progress(&format!("warning: {w}"));
        }
    }
    Ok(report)
}

/// `detach DOM BDF` (nothing to do when it is not attached).
pub fn detach(
    xl: &Xl,
    dom: &str,
    bdf: Bdf,
    force: bool,
    dry_run: bool,
) -> Result<HotplugReport, OpError> {
    Ok(hotplug::detach(xl, dom, bdf, force, dry_run)?)
}

/// `attach DOM SPEC`: the policy for [`Action::Give`] to the domain (dom0's devices on a local
/// host, bridges, partial groups, devices other guests hold), whatever the spec's `seize`, then
/// xl's own conditions, `xl pci-attach`, and the check of the result.
pub fn attach(
    xl: &Xl,
    dom: &str,
    spec: &str,
    dry_run: bool,
    force: bool,
) -> Result<AttachReport, OpError> {
    let (inv, in_use) = attach_facts(xl);
    let host = host_facts(&inv);
    let mut forced = Vec::new();
    let mut guard = |d: &DomainInfo, bdf: Bdf| -> Result<Vec<String>, FlowError> {
        let v = decide_give(host, &in_use, &[bdf], &domain_holder(d), force)
            .into_result("attach", &format!(" to domain {}", d.name))?;
        let mut notes = v.notes.clone();
        notes.extend(v.forced_notes());
        forced = v.forced;
        Ok(notes)
    };
    let report = hotplug::attach_guarded(xl, dom, spec, dry_run, &mut guard)?;
    Ok(AttachReport { report, forced })
}

/// What `attach DOM --vf-of PF` did: the VF picked, its hide (when it was not hidden yet) and
/// the attach (None in a dry run of a VF still to hide: the attach is checked once it is hidden).
#[derive(Debug, Serialize)]
pub struct VfAttach {
    /// The VF given.
    pub picked: super::sriov::PickedVf,
    /// The live hide done first.
    pub hide: Option<Outcome>,
    /// The attach.
    pub attach: Option<AttachReport>,
}

/// `attach DOM --vf-of PF` (this host only): picks a VF no guest holds
/// ([`super::sriov::pick_vf`]), hides it now when it is not hidden (as `hide --now`), then
/// attaches it as [`attach`] does, with the same policy.
pub fn attach_vf_of(
    xl: &Xl,
    dom: &str,
    pf: Bdf,
    dry_run: bool,
    force: bool,
) -> Result<VfAttach, OpError> {
    if !xl.site.is_local(xl.host) {
        return Err(OpError::BadInput {
            what: "host".into(),
            input: xl.host.into(),
            expected: "this host (--vf-of reads this host's VFs)".into(),
        });
    }
    let ctx = Ctx {
        root: &xl.site.root,
        runner: xl.site.runner,
    };
    let picked = super::sriov::pick_vf(ctx.root, ctx.runner, pf)?;
    let opts = Options {
        now: true,
        dry_run,
        force,
        ..Options::default()
    };
    let hidden = hide_picked(ctx, &picked, opts)?;
    if dry_run && hidden.is_some() {
        return Ok(VfAttach {
            picked,
            hide: hidden,
            attach: None,
        });
    }
    let attach = attach(xl, dom, &picked.vf.to_string(), dry_run, force)?;
    Ok(VfAttach {
        picked,
        hide: hidden,
        attach: Some(attach),
    })
}

/// The hide of a picked VF that is not hidden yet (None when it is): `hide` with `opts`, a
/// failed step or an unconfirmed result an error (the give must not go on).
fn hide_picked(
    ctx: Ctx<'_>,
    picked: &super::sriov::PickedVf,
    opts: Options,
) -> Result<Option<Outcome>, OpError> {
    if picked.hidden {
        return Ok(None);
    }
    let mut out = hide(ctx, &[picked.vf], opts)?;
    if let Some(f) = out.result.as_mut().and_then(|r| r.failure.take()) {
        return Err(OpError::Plan(f));
    }
    if let Some(c) = out.result.as_ref().and_then(|r| r.unconfirmed.clone()) {
        return Err(OpError::Hide(crate::hide::HideError::Refused(c)));
    }
    Ok(Some(out))
}

/// What `assign --vf-of PF --vm VM` did: the VF picked, its hide (when it was not hidden yet)
/// and the edit of the VM's `other-config:pci` (None in a dry run of a VF still to hide: the
/// edit is checked once it is hidden).
#[derive(Debug, Serialize)]
pub struct VfAssign {
    /// The VF given.
    pub picked: super::sriov::PickedVf,
    /// The hide done first: now and at every boot (a udev rule by PF and index), since an XAPI
    /// VM may start after the next boot, when the VF exists only once the PF driver made it.
    pub hide: Option<Outcome>,
    /// The edit.
    pub assign: Option<EditReport>,
}

/// `assign --vf-of PF --vm VM` (XAPI): picks a VF no guest holds, running or assigned
/// ([`super::sriov::pick_vf`]), hides it now and at boot when it is not hidden (as `hide`),
/// then assigns it as [`assign`] does with `req` (whose `add` is replaced by the VF), with the
/// same policy.
pub fn assign_vf_of(
    xe: &Xe,
    root: &HostRoot,
    runner: &dyn Runner,
    pf: Bdf,
    req: &EditRequest,
    progress: &mut dyn FnMut(&str),
) -> Result<VfAssign, OpError> {
    let picked = super::sriov::pick_vf(root, runner, pf)?;
    let opts = Options {
        dry_run: req.dry_run,
        force: req.force,
        ..Options::default()
    };
    let hidden = hide_picked(Ctx { root, runner }, &picked, opts)?;
    if req.dry_run && hidden.is_some() {
        return Ok(VfAssign {
            picked,
            hide: hidden,
            assign: None,
        });
    }
    let mut req = req.clone();
    req.add = vec![picked.vf];
    let report = assign(xe, root, runner, &req, progress)?;
    Ok(VfAssign {
        picked,
        hide: hidden,
        assign: Some(report),
    })
}

/// No facts about dom0's devices (an attach on another host): the policy then decides from who
/// uses what alone, and says what it did not check.
static NO_HOST_FACTS: BTreeMap<Bdf, DeviceFacts> = BTreeMap::new();

/// The host facts an inventory gives, or none.
fn host_facts(inv: &Option<Checked>) -> &dyn HostFacts {
    match inv {
        Some(i) => i,
        None => &NO_HOST_FACTS,
    }
}

/// The policy's verdict on giving `devices` to `target` (a give names what it passes: the
/// group is never added for it).
fn decide_give(
    host: &dyn HostFacts,
    in_use: &InUse,
    devices: &[Bdf],
    target: &[Holder],
    force: bool,
) -> Verdict {
    policy::decide(
        host,
        in_use,
        &policy::Request {
            action: Action::Give,
            devices,
            target,
            force,
            with_group: false,
        },
    )
}

/// A running domain as the policy names a holder.
fn domain_holder(d: &DomainInfo) -> [Holder; 1] {
    [Holder::Domain {
        name: d.name.clone(),
        domid: d.domid,
    }]
}

/// What an attach on `xl.host` is decided from: this host's inventory when `xl.host` is this
/// host (dom0's own devices, bridges, groups; `None` elsewhere, with a note in the facts that
/// they were not checked), and who uses what (running domains per `xl list -l`, XAPI VMs).
fn attach_facts(xl: &Xl) -> (Option<Checked>, InUse) {
    let local = xl.site.is_local(xl.host);
    let inv = local.then(|| Checked::scan(&xl.site.root));
    let mut in_use = InUse::default();
    let cmd = xl.site.xl(xl.host, &["list", "-l"]).to_string();
    facts::record_xl(
        xl.site
            .run_xl(xl.host, &["list", "-l"])
            .map_err(|e| e.to_string()),
        &cmd,
        &mut in_use,
    );
    if !local {
        in_use.unchecked.push(format!(
            "dom0's own devices on {} not checked (xenpci reads them only on this host)",
            xl.host
        ));
    } else if Toolstack::of(&xl.site.root) == Toolstack::Xapi {
        facts::xapi_vms(&Xe::new(xl.site.runner), &mut in_use);
    }
    (inv, in_use)
}

/// `reattach --from FILE`: the saved devices (mapped to this host's when the host changed)
/// planned back onto their domain, all of them asked of the policy for [`Action::Give`] at once
/// (so a group saved whole is passed whole), like an attach: a file edited by hand, or a map
/// that names another device, cannot give dom0's controller to a guest. Returns the plan and
/// what `force` let through.
pub fn reattach(
    site: &crate::flows::transport::Site,
    saved: &crate::flows::saved::Saved,
    host: &str,
    map: Option<&crate::flows::mapping::Mapping>,
    force: bool,
) -> Result<(crate::flows::migrate::Plan, Vec<Refusal>), OpError> {
    let xl = Xl { site, host };
    let (inv, in_use) = attach_facts(&xl);
    let facts = host_facts(&inv);
    let mut forced = Vec::new();
    let mut guard = |d: &DomainInfo, devices: &[Bdf]| -> Result<(), FlowError> {
        let v = decide_give(facts, &in_use, devices, &domain_holder(d), force)
            .into_result("reattach", &format!(" to domain {}", d.name))?;
        forced = v.forced;
        Ok(())
    };
    let mut plan = crate::flows::saved::plan_reattach_guarded(site, saved, host, map, &mut guard)?;
    // The plan is the flow's report (dry run, journal, `status`): it says what was forced.
    plan.notes
        .extend(forced.iter().map(|r| format!("forced: {r}")));
    Ok((plan, forced))
}

/// `resume` after a maintenance, before it starts a pinned guest again: the policy for
/// [`Action::Give`] of the guest's recorded devices to it, from the facts of now, like an
/// attach (while the host was down another guest may have taken a device, or dom0 may need it).
/// `xapi` adds the VM of that name-label as the target, so its own `other-config:pci` is not
/// "another guest". Ok carries the facts that could not be checked.
pub fn check_restart(
    site: &crate::flows::transport::Site,
    host: &str,
    vm: &str,
    devices: &[Bdf],
    xapi: bool,
) -> Result<Vec<String>, policy::Refused> {
    let xl = Xl { site, host };
    let (inv, in_use) = attach_facts(&xl);
    let mut target = vec![Holder::Domain {
        name: vm.to_string(),
        domid: 0,
    }];
    if xapi {
        target.push(Holder::Vm {
            uuid: String::new(),
            name: vm.to_string(),
        });
    }
    let v = decide_give(host_facts(&inv), &in_use, devices, &target, false)
        .into_result("give", &format!(" to {vm}"))?;
    Ok(v.notes)
}

/// The guest of an xl.cfg (the file, and the domain its `name` names) and who uses what, with
/// the file's own devices as the guest's. Err when xl cannot read the file.
fn xlcfg_facts(
    root: &HostRoot,
    runner: &dyn Runner,
    file: &Path,
    doc: &Document,
) -> Result<(Vec<Holder>, InUse, Vec<Bdf>), OpError> {
    let cfg = doc.config().map_err(|e| OpError::BadInput {
        what: "xl.cfg".into(),
        input: file.display().to_string(),
        expected: e.to_string(),
    })?;
    xlcfg_config_facts(root, runner, file, &cfg)
}

/// [`xlcfg_facts`] from the settings as xl reads them (what `xlcfg show` has without building
/// the lossless document).
fn xlcfg_config_facts(
    root: &HostRoot,
    runner: &dyn Runner,
    file: &Path,
    cfg: &crate::syntax::xl_cfg::Config,
) -> Result<(Vec<Holder>, InUse, Vec<Bdf>), OpError> {
    let source = file.display().to_string();
    let name = match cfg.get_string("name") {
        crate::syntax::xl_cfg::Lookup::Found(n) => Some(n),
        _ => None,
    };
    let mut target = vec![Holder::XlCfg {
        file: source.clone(),
        name: name.clone(),
    }];
    if let Some(n) = &name {
        target.push(Holder::Domain {
            name: n.clone(),
            domid: 0,
        });
    }
    let mut in_use = facts::local(root, runner);
    let eff = crate::xlcfg::effective(cfg, &source, &xl_spec_parser);
    let devices: Vec<Bdf> = eff
        .pci
        .iter()
        .filter_map(|r| r.bdf.as_deref().and_then(|b| b.parse::<Bdf>().ok()))
        .collect();
    for b in &devices {
        in_use.add(*b, target[0].clone());
    }
    Ok((target, in_use, devices))
}

/// `xlcfg add-pci FILE SPEC`, before the edit: the policy for [`Action::Give`] to the guest of
/// FILE (its `name`, and the devices its `pci = [...]` already holds), against this host's
/// facts and running domains. A `name=` spec (no BDF) has nothing to check, nor has a spec xl
/// would reject (the edit refuses it).
pub fn xlcfg_add_pci(
    root: &HostRoot,
    runner: &dyn Runner,
    file: &Path,
    doc: &Document,
    spec: &str,
    force: bool,
) -> Result<Verdict, OpError> {
    // A spec xl would reject is left to the edit, which says why in xl's words.
    let Some(bdf) = parse_spec(spec, &SpecDefaults::default())
        .ok()
        .and_then(|(p, _)| p.bdf)
    else {
        return Ok(Verdict::default());
    };
    let (target, in_use, _) = xlcfg_facts(root, runner, file, doc)?;
    let v = decide_give(&Checked::scan(root), &in_use, &[bdf], &target, force);
    Ok(v.into_result("add", &format!(" to {}", file.display()))?)
}

/// `xlcfg show FILE`: the policy's verdict on every device the file passes, as if they were
/// given to its guest now (a file written by hand, or before xenpci checked, is flagged).
pub fn xlcfg_review(
    root: &HostRoot,
    runner: &dyn Runner,
    file: &Path,
    cfg: &crate::syntax::xl_cfg::Config,
) -> Result<Verdict, OpError> {
    let (target, in_use, devices) = xlcfg_config_facts(root, runner, file, cfg)?;
    Ok(decide_give(
        &Checked::scan(root),
        &in_use,
        &devices,
        &target,
        false,
    ))
}
