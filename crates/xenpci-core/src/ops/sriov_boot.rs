//! `sriov restore`: what brings the recorded SR-IOV state back at boot on a host where udev does
//! not (no udev in the initramfs or dom0, rules ordered after the toolstack, a PF driver loaded
//! late). It reads xenpci's own udev rules — the VF count rules of `sriov set --persistent`
//! ([`super::sriov::rule_path`]) and the VF hide rules of `hide VF` ([`super::vf_hide::rule_path`])
//! — and re-applies them live through the same operations the commands use: the count through
//! [`super::sriov::set`] (policy, through 0, journal), each VF's hide through [`super::give::hide`]
//! (`--now`). Idempotent: a count already right and a VF already on pciback are left alone, so the
//! shipped systemd unit (scripts/systemd/xenpci-sriov.service) can run after udev did the work.

use std::path::PathBuf;

use serde::Serialize;

use super::sriov::{self, SetOptions};
use super::vf_hide::RULES_DIR;
use super::OpError;
use crate::exec::Runner;
use crate::fsutil;
use crate::hide::apply::Options;
use crate::hide::Ctx;
use crate::host::{DriverState, HostRoot, Inventory};
use crate::pci::Bdf;

/// One recorded setting and what `restore` did with it.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    /// The rule file it came from (host path).
    pub file: PathBuf,
    /// The physical function.
    pub pf: Bdf,
    /// `count`: the VF count; `hide`: a VF's hide; `vf-settings`: a NIC VF's MAC/VLAN.
    pub what: &'static str,
    /// The VF count recorded (`count`) or the VF index (`hide`).
    pub value: u32,
    /// The VF's BDF now (`hide`, when it exists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vf: Option<Bdf>,
    /// `applied`, `already` (nothing to do), `would-apply` (dry run) or `failed`.
    pub result: &'static str,
    /// What was done or why it failed.
    pub detail: String,
}

/// What `sriov restore` found and did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// Nothing was changed.
    pub dry_run: bool,
    /// Every recorded setting, counts first.
    pub items: Vec<Restored>,
}

impl RestoreReport {
    /// True when no item failed.
    pub fn ok(&self) -> bool {
        self.items.iter().all(|i| i.result != "failed")
    }
}

/// A count rule's file name: `70-xenpci-sriov-PF.rules`.
fn count_rule_pf(name: &str) -> Option<Bdf> {
    name.strip_prefix("70-xenpci-sriov-")?
        .strip_suffix(".rules")?
        .parse()
        .ok()
}

/// A VF hide rule's file name: `71-xenpci-hide-PF-virtfnN.rules`.
fn hide_rule_vf(name: &str) -> Option<(Bdf, u32)> {
    let rest = name
        .strip_prefix("71-xenpci-hide-")?
        .strip_suffix(".rules")?;
    let (pf, n) = rest.rsplit_once("-virtfn")?;
    Some((pf.parse().ok()?, n.parse().ok()?))
}

/// A VF settings rule's file name: `72-xenpci-vf-PF-virtfnN.rules`.
fn vf_rule(name: &str) -> Option<(Bdf, u32)> {
    let rest = name.strip_prefix("72-xenpci-vf-")?.strip_suffix(".rules")?;
    let (pf, n) = rest.rsplit_once("-virtfn")?;
    Some((pf.parse().ok()?, n.parse().ok()?))
}

/// The count in a count rule's text (`ATTR{sriov_numvfs}="N"`).
fn recorded_count(text: &str) -> Option<u32> {
    let at = text.find("ATTR{sriov_numvfs}=\"")? + "ATTR{sriov_numvfs}=\"".len();
    text[at..].split('"').next()?.parse().ok()
}

/// xenpci's rule files under [`RULES_DIR`], sorted by name.
fn rule_files(root: &HostRoot) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(root.path(RULES_DIR)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            n.starts_with("70-xenpci-sriov-")
                || n.starts_with("71-xenpci-hide-")
                || n.starts_with("72-xenpci-vf-")
        })
        .collect();
    names.sort();
    names
}

/// Re-applies the recorded VF counts, then the recorded VF hides (a VF exists only once its count
/// is back). A setting that cannot be applied is reported `failed` and the others still run;
/// only a host root that is not one is an error.
pub fn restore(
    root: &HostRoot,
    runner: &dyn Runner,
    dry_run: bool,
) -> Result<RestoreReport, OpError> {
    root.check().map_err(|e| OpError::BadInput {
        what: "host root".into(),
        input: root.dir().display().to_string(),
        expected: e.to_string(),
    })?;
    let names = rule_files(root);
    let mut items = Vec::new();
    for name in &names {
        let Some(pf) = count_rule_pf(name) else {
            continue;
        };
        let file = PathBuf::from(RULES_DIR).join(name);
        let text = fsutil::read_text(&root.path(&file)).ok().flatten();
        let Some(n) = text.as_deref().and_then(recorded_count) else {
            items.push(Restored {
                file,
                pf,
                what: "count",
                value: 0,
                vf: None,
                result: "failed",
                detail: "no ATTR{sriov_numvfs}=\"N\" in the rule".into(),
            });
            continue;
        };
        let now = Inventory::scan(root)
            .get(pf)
            .and_then(|f| f.sriov.as_ref().map(|s| s.numvfs));
        let (result, detail) = match now {
            Some(c) if c == n => ("already", format!("{pf} has {n} VFs")),
            _ => match sriov::set(
                root,
                runner,
                pf,
                n,
                SetOptions {
                    persistent: false,
                    dry_run,
                    force: false,
                },
            ) {
                Ok(o) if dry_run => ("would-apply", format!("{pf}: {} to {n} VFs", o.from)),
                Ok(o) => ("applied", format!("{pf}: {} to {n} VFs", o.from)),
                Err(e) => ("failed", e.to_string()),
            },
        };
        items.push(Restored {
            file,
            pf,
            what: "count",
            value: n,
            vf: None,
            result,
            detail,
        });
    }
    for name in &names {
        let Some((pf, index)) = hide_rule_vf(name) else {
            continue;
        };
        let file = PathBuf::from(RULES_DIR).join(name);
        let inv = Inventory::scan(root);
        let vf = inv
            .get(pf)
            .and_then(|f| f.sriov.as_ref())
            .and_then(|s| s.vfs.get(index as usize).copied());
        let (result, detail) = match vf {
            None => (
                "failed",
                format!("{pf} has no virtfn{index} (its VF count is not back, or the PF is gone)"),
            ),
            Some(v) if inv.get(v).map(|f| f.driver_state()) == Some(DriverState::Pciback) => {
                ("already", format!("{v} is on pciback"))
            }
            Some(v) => {
                let opts = Options {
                    now: true,
                    dry_run,
                    ..Options::default()
                };
                match super::give::hide(ctx_of(root, runner), &[v], opts) {
                    Ok(_) if dry_run => ("would-apply", format!("hide {v} now")),
                    Ok(o) if o.result.as_ref().is_some_and(|r| r.ok) => {
                        ("applied", format!("{v} hidden (pciback)"))
                    }
                    Ok(o) => (
                        "failed",
                        format!(
                            "hide of {v} not confirmed: {}",
                            o.result
                                .and_then(|r| r.unconfirmed)
                                .unwrap_or_else(|| "a step failed".into())
                        ),
                    ),
                    Err(e) => ("failed", e.to_string()),
                }
            }
        };
        items.push(Restored {
            file,
            pf,
            what: "hide",
            value: index,
            vf,
            result,
            detail,
        });
    }
    // A NIC VF's MAC/VLAN (`sriov vf --persistent`), once its VF exists again.
    for name in &names {
        let Some((pf, index)) = vf_rule(name) else {
            continue;
        };
        let file = PathBuf::from(RULES_DIR).join(name);
        let text = fsutil::read_text(&root.path(&file)).ok().flatten();
        let (result, detail, vf) = match text.as_deref().and_then(super::sriov_vf::recorded) {
            Some((i, settings)) if i == index => {
                match super::sriov_vf::configure(root, runner, pf, index, settings, false, dry_run)
                {
                    Ok(o) if dry_run => (
                        "would-apply",
                        format!("{} sets virtfn{index}", o.netdev),
                        Some(o.vf),
                    ),
                    Ok(o) => (
                        "applied",
                        format!("{} set virtfn{index}", o.netdev),
                        Some(o.vf),
                    ),
                    Err(e) => ("failed", e.to_string(), None),
                }
            }
            _ => (
                "failed",
                format!("no `# xenpci: {index} [mac M] [vlan V]` line in the rule"),
                None,
            ),
        };
        items.push(Restored {
            file,
            pf,
            what: "vf-settings",
            value: index,
            vf,
            result,
            detail,
        });
    }
    Ok(RestoreReport { dry_run, items })
}

/// The VF hides recorded by xenpci's udev rules, with the VF each names now and whether it is
/// on pciback (`hidden` lists them).
pub fn recorded_hides(root: &HostRoot) -> Vec<crate::hide::methods::state::VfHide> {
    let inv = Inventory::scan(root);
    rule_files(root)
        .iter()
        .filter_map(|name| {
            let (pf, index) = hide_rule_vf(name)?;
            let vf = inv
                .get(pf)
                .and_then(|f| f.sriov.as_ref())
                .and_then(|s| s.vfs.get(index as usize).copied());
            Some(crate::hide::methods::state::VfHide {
                pf,
                index,
                vf,
                hidden_now: vf
                    .and_then(|v| inv.get(v))
                    .is_some_and(|f| f.driver_state() == DriverState::Pciback),
                rule: format!("{RULES_DIR}/{name}"),
            })
        })
        .collect()
}

fn ctx_of<'a>(root: &'a HostRoot, runner: &'a dyn Runner) -> Ctx<'a> {
    Ctx { root, runner }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_names_give_the_pf_and_the_index() {
        let pf: Bdf = "0000:02:00.0".parse().unwrap();
        assert_eq!(
            count_rule_pf("70-xenpci-sriov-0000:02:00.0.rules"),
            Some(pf)
        );
        assert_eq!(
            hide_rule_vf("71-xenpci-hide-0000:02:00.0-virtfn3.rules"),
            Some((pf, 3))
        );
        assert_eq!(hide_rule_vf("71-xenpci-hide-0000:02:00.0.rules"), None);
        assert_eq!(recorded_count(&sriov::rule_text(pf, 5)), Some(5));
    }
}
