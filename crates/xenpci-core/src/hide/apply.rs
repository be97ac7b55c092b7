//! Hiding and unhiding end to end, shared by the CLI and the XAPI plugin: guard, lock, method
//! detection, plan, then either the plan alone (dry run) or its execution with rollback and a
//! re-read of the configured list to confirm. The result is one serializable [`Outcome`].

use serde::{Deserialize, Serialize};

use super::methods::{detect, live, read_configured};
use super::{Change, Ctx, HideError, LiveMethod, Method, Request};
use crate::fsutil;
use crate::host::xensource::Toolstack;
use crate::host::Inventory;
use crate::pci::Bdf;
use crate::plan::{Done, Failure, Plan};
use crate::policy::vfio_facts::VfioFacts;
use crate::policy::{self, Action, HostFacts, InUse, Refusal};

/// How to apply a change.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Change the boot configuration.
    pub persistent: bool,
    /// Change the running dom0. (Neither `persistent` nor `now`: both.)
    pub now: bool,
    /// Persistent method (None: detected).
    pub method: Option<Method>,
    /// Live method (None: xl when it can be found, else sysfs).
    pub live: Option<LiveMethod>,
    /// Plan only.
    pub dry_run: bool,
    /// Do it even when the policy refuses (hide: dom0's devices, bridges, partial groups;
    /// unhide: devices a guest uses).
    pub force: bool,
    /// Also hide the isolation-group siblings (hide only).
    pub with_group: bool,
}

/// A hide or unhide as its plan's journal records it ([`crate::plan::Plan::request`]), so
/// `xenpci resume` can make the same request again after a run was killed
/// ([`crate::ops::give::resume_hide`]). Addresses and the live method as their `Display` text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resumable {
    /// `hide` or `unhide`.
    pub op: String,
    /// The devices (after the policy: with their group siblings when those were added).
    pub devices: Vec<String>,
    /// [`Options::persistent`].
    pub persistent: bool,
    /// [`Options::now`].
    pub now: bool,
    /// [`Options::method`].
    pub method: Option<Method>,
    /// [`Options::live`], as `xl` / `sysfs`.
    pub live: Option<String>,
    /// [`Options::force`].
    pub force: bool,
    /// [`Options::with_group`].
    pub with_group: bool,
}

impl Resumable {
    /// The record of `change` made with `opts`.
    pub fn of(change: &Change, opts: &Options) -> Resumable {
        Resumable {
            op: match change {
                Change::Add(_) => "hide",
                Change::Remove(_) => "unhide",
            }
            .to_string(),
            devices: change.bdfs().iter().map(Bdf::to_string).collect(),
            persistent: opts.persistent,
            now: opts.now,
            method: opts.method,
            live: opts.live.map(|l| l.to_string()),
            force: opts.force,
            with_group: opts.with_group,
        }
    }

    /// The devices and options again; Err names what does not read back.
    pub fn request(&self) -> Result<(bool, Vec<Bdf>, Options), String> {
        let hide = match self.op.as_str() {
            "hide" => true,
            "unhide" => false,
            other => {
                return Err(format!(
                    "unknown operation {other:?} (expected hide or unhide)"
                ))
            }
        };
        let devices = self
            .devices
            .iter()
            .map(|d| d.parse::<Bdf>().map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let live = match &self.live {
            Some(l) => Some(l.parse::<LiveMethod>().map_err(|e| e.to_string())?),
            None => None,
        };
        Ok((
            hide,
            devices,
            Options {
                persistent: self.persistent,
                now: self.now,
                method: self.method,
                live,
                dry_run: false,
                force: self.force,
                with_group: self.with_group,
            },
        ))
    }

    /// The request as the `xenpci` arguments that make it (`hide 0000:05:00.0 --persistent
    /// --method grub`), for the messages that tell the admin how to make it again.
    pub fn command_line(&self) -> String {
        let mut words = vec![self.op.clone()];
        words.extend(self.devices.iter().cloned());
        if self.persistent {
            words.push("--persistent".into());
        }
        if self.now {
            words.push("--now".into());
        }
        if let Some(m) = self.method {
            words.push(format!("--method {m}"));
        }
        if let Some(l) = &self.live {
            words.push(format!("--live {l}"));
        }
        if self.with_group {
            words.push("--with-group".into());
        }
        if self.force {
            words.push("--force".into());
        }
        words.join(" ")
    }

    fn value(&self) -> Option<serde_json::Value> {
        serde_json::to_value(self).ok()
    }
}

thread_local! {
    /// The request an operation made of several hide plans records instead of its inner ones
    /// (see [`Recording`]).
    static OUTER: std::cell::RefCell<Option<Resumable>> = const { std::cell::RefCell::new(None) };
}

/// While alive, the hide/unhide plans made on this thread record `request` (what the user
/// asked) rather than their own: a VF's hide is a live hide here and then udev rules
/// ([`crate::ops::vf_hide`]), and `xenpci resume` must make the whole request again.
pub struct Recording(());

impl Recording {
    /// Records `request` for the plans made until the guard is dropped.
    pub fn begin(request: Resumable) -> Recording {
        OUTER.with(|o| *o.borrow_mut() = Some(request));
        Recording(())
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        OUTER.with(|o| *o.borrow_mut() = None);
    }
}

/// The request a plan of `change` made with `opts` records.
fn recorded(change: &Change, opts: &Options) -> Option<serde_json::Value> {
    OUTER
        .with(|o| o.borrow().clone())
        .unwrap_or_else(|| Resumable::of(change, opts))
        .value()
}

/// What executing the plan did.
#[derive(Debug, Serialize)]
pub struct RunResult {
    /// Everything done and confirmed.
    pub ok: bool,
    /// Steps done, in order.
    pub done: Vec<Done>,
    /// The step that failed, and what was undone.
    pub failure: Option<Box<Failure>>,
    /// Set when the re-read list disagrees with the change.
    pub unconfirmed: Option<String>,
}

/// The whole story of one hide/unhide.
#[derive(Debug, Serialize)]
pub struct Outcome {
    /// Nothing was changed.
    pub dry_run: bool,
    /// Persistent method used.
    pub method: Option<Method>,
    /// Why that method (when detected).
    pub method_why: Option<String>,
    /// Live method used.
    pub live: Option<LiveMethod>,
    /// The plan (Display = the dry-run script).
    pub plan: Plan,
    /// None for a dry run.
    pub result: Option<RunResult>,
    /// Warnings to show the user.
    pub warnings: Vec<String>,
    /// Devices the policy would have refused, done because of `force`, with the reasons.
    pub forced: Vec<Refusal>,
    /// On a KVM host: the vfio binding used (absent on Xen hosts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding: Option<super::vfio::Binding>,
}

/// The policy's facts for this host: the inventory, read as a KVM host reads it there ("hidden"
/// = on vfio-pci).
fn decide(ctx: Ctx<'_>, in_use: &InUse, req: &policy::Request<'_>) -> policy::Verdict {
    // The inventory with the identity check (a BDF that is not the recorded device any more).
    let checked = crate::identity::guard::Checked::scan(ctx.root);
    let inv: &Inventory = &checked;
    let kvm = Toolstack::of(ctx.root) == Toolstack::Kvm;
    let vfio = VfioFacts(inv);
    let host: &dyn HostFacts = if kvm { &vfio } else { &checked };
    let mut v = policy::decide(host, in_use, req);
    if kvm && req.action == Action::Hide {
        // The bridges of the groups stay with the host (the policy never adds them).
        for b in req.devices {
            let Some(f) = inv.get(*b) else { continue };
            for m in &f.isolation_group {
                if inv.get(*m).is_some_and(|g| g.is_bridge()) && !req.devices.contains(m) {
                    let g = f
                        .iommu_group
                        .map_or("its isolation group".into(), |g| format!("IOMMU group {g}"));
                    let holder = crate::host::kvm_check::group_holders(inv, &[*m]);
                    let note = match holder.first() {
                        Some((_, d)) => format!(
                            "{m} (a bridge in {g}) stays on its driver {d}, which keeps vfio \
                             from using the group (not viable) while it does"
                        ),
                        None => format!("{m} (a bridge in {g}) stays on its driver"),
                    };
                    if !v.notes.contains(&note) {
                        v.notes.push(note);
                    }
                }
            }
        }
    }
    v
}

/// Hides `bdfs` after the policy ([`crate::policy`], [`Action::Hide`]): dom0's devices, bridges
/// and partial isolation groups (`with_group` adds the siblings) are refused unless `force`.
///
/// On a KVM host the whole IOMMU group is hidden (vfio opens a group only when every endpoint
/// in it is on vfio-pci): the siblings are added as placeholders, as oVirt does.
pub fn hide(ctx: Ctx<'_>, bdfs: &[Bdf], opts: Options) -> Result<Outcome, HideError> {
    let kvm = Toolstack::of(ctx.root) == Toolstack::Kvm;
    let verdict = decide(
        ctx,
        &InUse::default(),
        &policy::Request {
            action: Action::Hide,
            devices: bdfs,
            target: &[],
            force: opts.force,
            with_group: opts.with_group || kvm,
        },
    )
    .into_result("hide", "")?;
    let mut out = apply(ctx, Change::Add(verdict.devices.clone()), opts)?;
    let mut first = verdict.notes.clone();
    first.extend(verdict.forced_notes());
    out.warnings.splice(0..0, first);
    out.forced = verdict.forced;
    Ok(out)
}

/// Gives `bdfs` back to dom0 after the policy ([`Action::TakeBack`]): a device a guest uses
/// (attached to a running domain, named in a VM's `other-config:pci`, per `in_use`) is refused
/// unless `force`.
pub fn unhide(
    ctx: Ctx<'_>,
    bdfs: &[Bdf],
    opts: Options,
    in_use: &InUse,
) -> Result<Outcome, HideError> {
    let verdict = decide(
        ctx,
        in_use,
        &policy::Request {
            action: Action::TakeBack,
            devices: bdfs,
            target: &[],
            force: opts.force,
            with_group: false,
        },
    )
    .into_result("unhide", "")?;
    let mut out = apply(ctx, Change::Remove(verdict.devices.clone()), opts)?;
    let mut first = verdict.notes.clone();
    first.extend(verdict.forced_notes());
    out.warnings.splice(0..0, first);
    out.forced = verdict.forced;
    Ok(out)
}

/// Executes `plan` (journaled) and, when every step is done, asks `confirm` whether the host
/// now reads as the change says (Some: why not).
fn run(ctx: Ctx<'_>, plan: &Plan, confirm: impl FnOnce() -> Option<String>) -> RunResult {
    match plan.execute_journaled(ctx.runner, ctx.root) {
        Ok(report) => {
            let unconfirmed = confirm();
            RunResult {
                ok: unconfirmed.is_none(),
                done: report.done,
                failure: None,
                unconfirmed,
            }
        }
        Err(f) => RunResult {
            ok: false,
            done: Vec::new(),
            failure: Some(f),
            unconfirmed: None,
        },
    }
}

/// What every hide/unhide does first, Xen or KVM: refuses a missing root (creating nothing in
/// it), takes the hide lock (planning reads the current lists, so it happens under the lock,
/// like the execution; none for a dry run), and rolls back a run killed between two boot files
/// (a dry run only warns of it).
fn begin(
    ctx: Ctx<'_>,
    dry_run: bool,
    warnings: &mut Vec<String>,
) -> Result<Option<fsutil::FileLock>, HideError> {
    ctx.root.check()?;
    if dry_run {
        if ctx.root.path(crate::plan_journal::PATH).exists() {
            warnings.push(format!(
                "an interrupted run left {}; `xenpci resume` finishes it, the next run (or `xenpci resume --rollback`) rolls it back first",
                crate::plan_journal::PATH
            ));
        }
        return Ok(None);
    }
    let Some(lock) = lock_unless_resuming(ctx.root)? else {
        // `xenpci resume` holds the lock and keeps the interrupted plan's journal on purpose
        return Ok(None);
    };
    if let Some(said) = crate::plan_journal::recover(ctx.root)? {
        warnings.push(said);
    }
    Ok(Some(lock))
}

/// Takes the hide lock that serialises every hide/unhide (and their resume) on this host.
pub fn lock(root: &crate::host::HostRoot) -> Result<fsutil::FileLock, HideError> {
    fsutil::lock(&super::lock_path(root)).map_err(|e| HideError::Refused(e.to_string()))
}

/// [`lock`], except on a thread resuming an interrupted plan ([`crate::plan_journal::Resuming`]):
/// its caller holds the lock already (a second `flock` of it from this process would wait for
/// itself), so None.
pub fn lock_unless_resuming(
    root: &crate::host::HostRoot,
) -> Result<Option<fsutil::FileLock>, HideError> {
    if crate::plan_journal::resuming().is_some() {
        return Ok(None);
    }
    lock(root).map(Some)
}

/// Applies an already-guarded change.
pub fn apply(ctx: Ctx<'_>, change: Change, opts: Options) -> Result<Outcome, HideError> {
    if Toolstack::of(ctx.root) == Toolstack::Kvm {
        return apply_kvm(ctx, change, opts);
    }
    let both = !opts.persistent && !opts.now;
    let mut warnings = Vec::new();
    let _lock = begin(ctx, opts.dry_run, &mut warnings)?;
    let (method, method_why) = if opts.persistent || both {
        match opts.method {
            Some(m) => (Some(m), None),
            None => {
                let d = detect::detect(ctx)?;
                (Some(d.method), Some(d.why))
            }
        }
    } else {
        (None, None)
    };
    let mut live_method = (opts.now || both).then(|| opts.live.unwrap_or_else(LiveMethod::detect));
    // Without pciback nothing can be hidden now; by default, do the boot part only.
    let no_pciback = !ctx.root.path(live::PCIBACK).is_dir();
    if both && no_pciback && matches!(change, Change::Add(_)) {
        warnings.push(
            "the pciback driver is not loaded, so the devices can only be hidden from the next \
             boot (load it with `modprobe xen-pciback` and run again with --now)"
                .to_string(),
        );
        live_method = None;
    }
    let req = Request {
        change: change.clone(),
        persistent: method,
        now: live_method,
    };
    let mut plan = super::plan(ctx, &req)?;
    plan.request = recorded(&change, &opts);
    let result = if opts.dry_run {
        None
    } else {
        Some(run(ctx, &plan, || confirm(ctx, method, &change)))
    };
    Ok(Outcome {
        dry_run: opts.dry_run,
        method,
        method_why,
        live: live_method,
        plan,
        result,
        warnings,
        forced: Vec::new(),
        binding: None,
    })
}

/// [`apply`] on a KVM host: the same lock, journal, execution and rollback, with the vfio
/// binding ([`super::vfio`]) and its persistence ([`super::vfio_persist`]) as the plan.
fn apply_kvm(ctx: Ctx<'_>, change: Change, opts: Options) -> Result<Outcome, HideError> {
    if let Some(m) = opts.method {
        return Err(HideError::Kvm(format!(
            "--method {m} edits Xen's hide list; on a KVM host the boot part is the vfio udev rule, the initramfs and the kernel's IOMMU option (leave --method out)"
        )));
    }
    if let Some(l) = opts.live.filter(|l| *l != LiveMethod::Vfio) {
        return Err(HideError::Kvm(format!(
            "--live {l} hands devices to Xen's pciback; on a KVM host the live method is vfio"
        )));
    }
    let both = !opts.persistent && !opts.now;
    let mut warnings = Vec::new();
    let _lock = begin(ctx, opts.dry_run, &mut warnings)?;
    let persistent = opts.persistent || both;
    let now = opts.now || both;
    let verb = match change {
        Change::Add(_) => "hide",
        Change::Remove(_) => "unhide",
    };
    let names: Vec<String> = change.bdfs().iter().map(Bdf::to_string).collect();
    let mut plan = Plan::new(format!("{verb} {} (vfio-pci)", names.join(" ")));
    plan.request = recorded(&change, &opts);
    if persistent {
        super::vfio_persist::plan(ctx, &change, &mut plan)?;
    }
    if now {
        super::vfio::plan_live(ctx, &change, &mut plan)?;
    }
    let mut seen = std::collections::HashSet::new();
    plan.notes.retain(|n| seen.insert(n.clone()));
    let result = if opts.dry_run {
        None
    } else {
        Some(run(ctx, &plan, || {
            persistent
                .then(|| super::vfio_persist::confirm(ctx, &change))
                .flatten()
        }))
    };
    Ok(Outcome {
        dry_run: opts.dry_run,
        method: None,
        method_why: persistent.then(|| {
            format!(
                "KVM host: a udev rule per function in {}, the vfio modules in the initramfs,                  the kernel's IOMMU option",
                super::vfio_persist::RULES
            )
        }),
        live: now.then_some(LiveMethod::Vfio),
        plan,
        result,
        warnings,
        forced: Vec::new(),
        binding: Some(super::vfio::BINDING),
    })
}

/// Re-reads the configured list after executing (xen-cmdline always exits 0, so its success
/// must be checked); Some(message) when a device is not where it should be.
fn confirm(ctx: Ctx<'_>, method: Option<Method>, change: &Change) -> Option<String> {
    let m = method?;
    let conf = match read_configured(m, ctx) {
        Ok(c) => c,
        Err(e) => return Some(format!("cannot re-read the hide list to confirm: {e}")),
    };
    let wrong: Vec<String> = change
        .bdfs()
        .iter()
        .filter(|b| conf.list.contains(b) != matches!(change, Change::Add(_)))
        .map(|b| b.to_string())
        .collect();
    (!wrong.is_empty()).then(|| {
        format!(
            "after the change, {} reads {:?}, which is wrong for {}",
            conf.source,
            conf.list.to_string(),
            wrong.join(", ")
        )
    })
}
