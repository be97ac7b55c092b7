//! Hiding an SR-IOV virtual function for every boot. A VF does not exist when the kernel command
//! line's `xen-pciback.hide=` (or XAPI's hide list) is read — its PF's driver creates it later —
//! so its persistent hide is a udev rule instead: when a PCI function appears that is `virtfnN`
//! of its PF, set its `driver_override` to pciback, unbind whatever driver took it and bind it to
//! pciback. The rule names the VF by its PF and index, never by its own BDF. `hide --now` of a VF
//! is the ordinary live hide; `unhide` removes the rule. Xen hosts only: on a KVM host a hide is
//! vfio-pci's ([`crate::hide::vfio_persist`]).

use std::path::PathBuf;

use super::OpError;
use crate::fsutil;
use crate::hide::apply::{self, Options, Outcome, RunResult};
use crate::hide::Ctx;
use crate::host::Inventory;
use crate::identity::guard::Checked;
use crate::pci::Bdf;
use crate::plan::Plan;
use crate::policy::{self, Action, InUse};

/// Where xenpci's udev rules live (host path): these and [`super::sriov`]'s VF count rules.
pub const RULES_DIR: &str = "/etc/udev/rules.d";

/// A VF of the request: itself, its PF and its index (`virtfnN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vf {
    /// The VF.
    pub bdf: Bdf,
    /// Its physical function.
    pub pf: Bdf,
    /// N of the PF's `virtfnN`.
    pub index: usize,
}

/// The VFs among `bdfs`.
pub fn vfs_of(inv: &Inventory, bdfs: &[Bdf]) -> Vec<Vf> {
    bdfs.iter()
        .filter_map(|&bdf| {
            let pf = inv.get(bdf)?.physfn?;
            let index = inv
                .get(pf)?
                .sriov
                .as_ref()?
                .vfs
                .iter()
                .position(|v| *v == bdf)?;
            Some(Vf { bdf, pf, index })
        })
        .collect()
}

/// The rule file of one VF (host path).
pub fn rule_path(vf: &Vf) -> PathBuf {
    PathBuf::from(format!(
        "{}/71-xenpci-hide-{}-virtfn{}.rules",
        RULES_DIR, vf.pf, vf.index
    ))
}

/// The rule: on every PCI function that appears with a `physfn` link, a check that it is the
/// PF's `virtfnN`, then the bind to pciback. (`$$` is udev's literal `$`; `%p` the device path,
/// `%k` its name.)
pub fn rule_text(vf: &Vf) -> String {
    let (pf, n) = (vf.pf, vf.index);
    format!(
        "# Written by xenpci (`xenpci hide --persistent {bdf}`; `xenpci unhide {bdf}` removes it).\n\
         # Binds virtfn{n} of {pf} (now {bdf}) to pciback when it appears: a VF does not exist when\n\
         # the kernel command line's xen-pciback.hide= is read.\n\
         ACTION==\"add\", SUBSYSTEM==\"pci\", TEST==\"physfn\", RUN+=\"/bin/sh -c '\
         [ \\\"$$(readlink -f /sys/bus/pci/devices/{pf}/virtfn{n})\\\" = \\\"$$(readlink -f /sys%p)\\\" ] || exit 0; \
         [ -d /sys/bus/pci/drivers/pciback ] || modprobe xen-pciback; \
         echo pciback > /sys%p/driver_override; \
         [ -e /sys%p/driver ] && echo %k > /sys%p/driver/unbind; \
         echo %k > /sys/bus/pci/drivers/pciback/bind'\"\n",
        bdf = vf.bdf
    )
}

fn plan_rules(ctx: Ctx<'_>, vfs: &[Vf], hide: bool) -> Result<Plan, OpError> {
    let mut plan = Plan::new(if hide {
        "hide VFs at every boot (udev)"
    } else {
        "unhide VFs at boot (udev)"
    });
    for vf in vfs {
        let path = rule_path(vf);
        let old = fsutil::read_text(&ctx.root.path(&path)).map_err(|e| OpError::BadInput {
            what: "rule file".into(),
            input: path.display().to_string(),
            expected: e.to_string(),
        })?;
        if hide {
            plan.write_file(
                &path,
                old.as_deref(),
                rule_text(vf),
                format!(
                    "bind virtfn{} of {} ({}) to pciback whenever it appears (not the boot line: the VF does not exist then)",
                    vf.index, vf.pf, vf.bdf
                ),
            );
        } else if let Some(old) = old {
            plan.remove_file(&path, old, format!("{} stays in dom0 at boot", vf.bdf));
        }
    }
    Ok(plan)
}

/// Runs the rule plan after the live part (`out`), under the hide lock, adding its steps to
/// `out`'s plan and result.
fn finish(ctx: Ctx<'_>, rules: Plan, opts: &Options, out: &mut Outcome) -> Result<(), OpError> {
    let live_ok = out.result.as_ref().is_none_or(|r| r.ok);
    if opts.dry_run || !live_ok || rules.is_empty() {
        out.plan.extend(rules);
        return Ok(());
    }
    let _lock = apply::lock_unless_resuming(ctx.root)?;
    let r = rules.execute(ctx.runner, ctx.root);
    out.plan.extend(rules);
    let result = out.result.get_or_insert_with(|| RunResult {
        ok: true,
        done: Vec::new(),
        failure: None,
        unconfirmed: None,
    });
    match r {
        Ok(rep) => result.done.extend(rep.done),
        Err(f) => {
            result.ok = false;
            result.failure = Some(f);
        }
    }
    Ok(())
}

/// An outcome with no live part: the policy's verdict on `action` first, as for any device.
fn rules_only(
    ctx: Ctx<'_>,
    bdfs: &[Bdf],
    opts: &Options,
    in_use: &InUse,
    action: Action,
) -> Result<Outcome, OpError> {
    let verb = if action == Action::Hide {
        "hide"
    } else {
        "unhide"
    };
    let verdict = policy::decide(
        &Checked::scan(ctx.root),
        in_use,
        &policy::Request {
            action,
            devices: bdfs,
            target: &[],
            force: opts.force,
            with_group: false,
        },
    )
    .into_result(verb, "")?;
    Ok(Outcome {
        dry_run: opts.dry_run,
        method: None,
        method_why: None,
        live: None,
        binding: None,
        plan: Plan::new(format!(
            "{verb} {}",
            bdfs.iter()
                .map(Bdf::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        )),
        result: None,
        warnings: verdict.forced_notes(),
        forced: verdict.forced,
    })
}

fn apart(bdfs: &[Bdf], vfs: &[Vf]) -> Result<(), OpError> {
    if vfs.len() == bdfs.len() {
        return Ok(());
    }
    Err(OpError::BadInput {
        what: "devices".into(),
        input: bdfs.iter().map(Bdf::to_string).collect::<Vec<_>>().join(","),
        expected: format!(
            "virtual functions ({}) apart from other functions: a VF is hidden at boot by a udev rule, the others by the boot line (run the command twice)",
            vfs.iter().map(|v| v.bdf.to_string()).collect::<Vec<_>>().join(", ")
        ),
    })
}

/// `hide` of VFs with a persistent part: the live hide as for any device (unless
/// `--persistent` alone), then one udev rule per VF instead of the boot line. VFs are hidden
/// apart from other functions (their boot-time mechanisms differ).
pub fn hide(ctx: Ctx<'_>, bdfs: &[Bdf], vfs: &[Vf], opts: Options) -> Result<Outcome, OpError> {
    apart(bdfs, vfs)?;
    let mut out = if opts.persistent {
        rules_only(ctx, bdfs, &opts, &InUse::default(), Action::Hide)?
    } else {
        let live = Options {
            now: true,
            persistent: false,
            ..opts
        };
        let _whole = apply::Recording::begin(apply::Resumable::of(
            &crate::hide::Change::Add(bdfs.to_vec()),
            &opts,
        ));
        apply::hide(ctx, bdfs, live)?
    };
    let rules = plan_rules(ctx, vfs, true)?;
    finish(ctx, rules, &opts, &mut out)?;
    remember_live(ctx, bdfs, &opts, true, &mut out);
    Ok(out)
}

/// Records (or forgets) the live part in the identity state as `hide --now` does. The udev rule
/// itself is not recorded: the state's boot-time hide means the boot line, which `verify
/// --repair` would then "restore" for a VF.
fn remember_live(ctx: Ctx<'_>, bdfs: &[Bdf], opts: &Options, hide: bool, out: &mut Outcome) {
    let done = out.result.as_ref().is_some_and(|r| r.ok);
    if opts.persistent || opts.dry_run || !done {
        return;
    }
    let live = Options {
        now: true,
        persistent: false,
        ..*opts
    };
    if let Some(w) = super::record::record_hide(ctx, bdfs, &live, None, hide) {
        out.warnings.push(w);
    }
}

/// `unhide` of VFs with a persistent part: the ordinary live unhide (unless `--persistent`
/// alone), then their udev rules removed.
pub fn unhide(
    ctx: Ctx<'_>,
    bdfs: &[Bdf],
    vfs: &[Vf],
    opts: Options,
    in_use: &InUse,
) -> Result<Outcome, OpError> {
    apart(bdfs, vfs)?;
    let mut out = if opts.persistent {
        rules_only(ctx, bdfs, &opts, in_use, Action::TakeBack)?
    } else {
        let live = Options {
            now: true,
            persistent: false,
            ..opts
        };
        let _whole = apply::Recording::begin(apply::Resumable::of(
            &crate::hide::Change::Remove(bdfs.to_vec()),
            &opts,
        ));
        apply::unhide(ctx, bdfs, live, in_use)?
    };
    let rules = plan_rules(ctx, vfs, false)?;
    finish(ctx, rules, &opts, &mut out)?;
    remember_live(ctx, bdfs, &opts, false, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_names_the_vf_by_its_pf_and_index_never_its_bdf_alone() {
        let vf = Vf {
            bdf: "01:10.4".parse().unwrap(),
            pf: "01:00.0".parse().unwrap(),
            index: 2,
        };
        let t = rule_text(&vf);
        let rule = t.lines().last().unwrap();
        assert!(rule
            .starts_with(r#"ACTION=="add", SUBSYSTEM=="pci", TEST=="physfn", RUN+="/bin/sh -c '"#));
        assert!(
            rule.contains("/sys/bus/pci/devices/0000:01:00.0/virtfn2"),
            "{rule}"
        );
        assert!(!rule.contains("0000:01:10.4"), "{rule}");
        assert!(
            rule.contains("echo pciback > /sys%p/driver_override"),
            "{rule}"
        );
        assert!(
            rule.ends_with("/sys/bus/pci/drivers/pciback/bind'\""),
            "{rule}"
        );
        assert_eq!(
            rule_path(&vf),
            PathBuf::from("/etc/udev/rules.d/71-xenpci-hide-0000:01:00.0-virtfn2.rules")
        );
    }
}
