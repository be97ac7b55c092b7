//! `sriov [PF]` and `sriov set PF N`: SR-IOV physical functions, their virtual functions and who
//! holds each (free in dom0, hidden on pciback, attached to a running domain, named for an XAPI
//! VM), whether the VF count persists across a reboot, and changing the count — live through
//! `sriov_numvfs` (through 0 first when it is not 0: the kernel answers EBUSY to a change between
//! two non-zero counts), and persistently as a udev rule that writes the count when the PF
//! appears at boot. The change is a [`Plan`] run on the change engine, refused by
//! [`crate::policy::sriov`] while a VF it would remove is in use.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{facts, OpError};
use crate::exec::Runner;
use crate::fsutil;
use crate::host::xensource::Toolstack;
use crate::host::{DriverState, HostRoot, Inventory, PciFunction};
use crate::pci::Bdf;
use crate::plan::{Plan, Report};
use crate::policy::{self, Holder, Refusal};

/// Where xenpci's udev rules live (host path).
pub const RULES_DIR: &str = super::vf_hide::RULES_DIR;
/// Where driver options live (host path): `options igb max_vfs=7` keeps a count too.
pub const MODPROBE_DIR: &str = "/etc/modprobe.d";
/// The lock serialising VF count changes on this host (host path).
pub const LOCK: &str = "/run/lock/xenpci-sriov.lock";

/// The udev rule file xenpci writes for a PF's VF count (host path).
pub fn rule_path(pf: Bdf) -> PathBuf {
    PathBuf::from(format!("{RULES_DIR}/70-xenpci-sriov-{pf}.rules"))
}

/// The content of that rule file for `n` VFs.
pub fn rule_text(pf: Bdf, n: u32) -> String {
    format!(
        "# Written by xenpci (`xenpci sriov set {pf} {n} --persistent`; N=0 removes this file).\n\
         # Creates the VFs when the physical function appears at boot.\n\
         ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"{pf}\", ATTR{{sriov_numvfs}}=\"{n}\"\n"
    )
}

/// The sysfs attribute that holds a PF's VF count (host path).
pub fn numvfs_path(pf: Bdf) -> PathBuf {
    PathBuf::from(format!("/sys/bus/pci/devices/{pf}/sriov_numvfs"))
}

/// Who holds one VF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VfState {
    /// In dom0 (its own driver or none), held by no guest.
    Free,
    /// Bound to pciback (Xen) or a KVM stub (vfio-pci, pci-stub), held by no guest: ready to give.
    Hidden,
    /// Attached to a running domain.
    Attached,
    /// Named in an XAPI VM's other-config:pci (or an xl.cfg).
    Assigned,
}

/// One virtual function.
#[derive(Debug, Clone, Serialize)]
pub struct VfReport {
    /// N of the PF's `virtfnN` link.
    pub index: usize,
    /// Its address.
    pub bdf: Bdf,
    /// Bound driver.
    pub driver: Option<String>,
    /// Who holds it.
    pub state: VfState,
    /// The guests holding it.
    pub holders: Vec<Holder>,
    /// xenpci's udev rule hides it (by PF and index) whenever it appears
    /// ([`super::vf_hide`]).
    pub hidden_at_boot: bool,
}

/// How a PF's VF count comes back after a reboot.
#[derive(Debug, Clone, Serialize)]
pub struct Persistence {
    /// `udev` (a rule writing `sriov_numvfs`) or `driver-option` (`options DRIVER max_vfs=N`).
    pub mechanism: &'static str,
    /// The file (host path).
    pub file: PathBuf,
    /// The line.
    pub line: String,
    /// The count it sets, when it can be read.
    pub numvfs: Option<u32>,
    /// True when the file is xenpci's own rule (`sriov set --persistent` rewrites it).
    pub ours: bool,
}

/// One SR-IOV physical function.
#[derive(Debug, Clone, Serialize)]
pub struct PfReport {
    /// Its address.
    pub pf: Bdf,
    /// Vendor and device name.
    pub name: String,
    /// Bound driver (the one that creates the VFs).
    pub driver: Option<String>,
    /// `sriov_totalvfs`.
    pub totalvfs: u32,
    /// `sriov_numvfs`.
    pub numvfs: u32,
    /// A network controller (class 02).
    pub nic: bool,
    /// The VFs, in index order.
    pub vfs: Vec<VfReport>,
    /// What brings the count back at boot (empty: nothing, the count is lost).
    pub persistence: Vec<Persistence>,
    /// True when a rule or option found sets the current count.
    pub persists: bool,
}

/// `sriov [PF]`.
#[derive(Debug, Clone, Serialize)]
pub struct SriovReport {
    /// The physical functions.
    pub pfs: Vec<PfReport>,
    /// Facts that could not be checked (who holds the VFs).
    pub notes: Vec<String>,
}

fn bad(what: &str, input: impl ToString, expected: impl Into<String>) -> OpError {
    OpError::BadInput {
        what: what.into(),
        input: input.to_string(),
        expected: expected.into(),
    }
}

/// The PF `pf` of `inv`, or an error naming it (not on the host, not an SR-IOV PF).
fn physical_function(inv: &Inventory, pf: Bdf) -> Result<&PciFunction, OpError> {
    let f = inv
        .get(pf)
        .ok_or_else(|| bad("PF", pf, "a PCI function of this host"))?;
    if f.sriov.is_none() {
        let expected = match f.physfn {
            Some(p) => format!("an SR-IOV physical function (it is a VF of {p})"),
            None => "an SR-IOV physical function (it has no sriov_totalvfs)".into(),
        };
        return Err(bad("PF", pf, expected));
    }
    Ok(f)
}

/// Every `*.rules` / `*.conf` file of a directory, sorted (none when it does not exist).
fn files_in(root: &HostRoot, dir: &str, ext: &str) -> Vec<(PathBuf, String)> {
    let Ok(rd) = std::fs::read_dir(root.path(dir)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(ext))
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|n| {
            let host = Path::new(dir).join(&n);
            fsutil::read_text(&root.path(&host))
                .ok()
                .flatten()
                .map(|t| (host, t))
        })
        .collect()
}

/// The value of `KEY="V"` / `KEY=="V"` in a udev rule line.
fn udev_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(key)?;
    let rest = line[at + key.len()..].trim_start_matches('=');
    let rest = rest.strip_prefix('"')?;
    rest.split('"').next()
}

/// What brings `f`'s VF count back at boot: udev rules naming the PF and `sriov_numvfs`, and
/// driver options (`max_vfs=`, `num_vfs=`) of its driver.
fn persistence(root: &HostRoot, f: &PciFunction) -> Vec<Persistence> {
    let pf = f.bdf.to_string();
    let mut out = Vec::new();
    for (file, text) in files_in(root, RULES_DIR, ".rules") {
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            if udev_value(line, "KERNEL") == Some(pf.as_str()) && line.contains("sriov_numvfs") {
                out.push(Persistence {
                    mechanism: "udev",
                    ours: file == rule_path(f.bdf),
                    numvfs: udev_value(line, "ATTR{sriov_numvfs}").and_then(|v| v.parse().ok()),
                    line: line.to_string(),
                    file: file.clone(),
                });
            }
        }
    }
    if let Some(driver) = f.driver.as_deref() {
        for (file, text) in files_in(root, MODPROBE_DIR, ".conf") {
            for line in text.lines() {
                let w: Vec<&str> = line.split_whitespace().collect();
                if w.len() < 3 || w[0] != "options" || w[1].replace('-', "_") != driver {
                    continue;
                }
                let Some(v) = w[2..].iter().find_map(|o| {
                    o.strip_prefix("max_vfs=")
                        .or_else(|| o.strip_prefix("num_vfs="))
                }) else {
                    continue;
                };
                out.push(Persistence {
                    mechanism: "driver-option",
                    file: file.clone(),
                    line: line.to_string(),
                    // a list (one per port) is not one count
                    numvfs: v.parse().ok(),
                    ours: false,
                });
            }
        }
    }
    out
}

/// Held for passthrough: pciback (Xen), or vfio-pci / pci-stub (KVM).
fn stubbed(f: &PciFunction) -> bool {
    matches!(
        f.driver_state(),
        DriverState::Pciback | DriverState::KvmStub(_)
    )
}

fn vf_state(f: Option<&PciFunction>, holders: &[Holder]) -> VfState {
    if holders.iter().any(|h| matches!(h, Holder::Domain { .. })) {
        VfState::Attached
    } else if !holders.is_empty() {
        VfState::Assigned
    } else if f.is_some_and(stubbed) {
        VfState::Hidden
    } else {
        VfState::Free
    }
}

fn pf_report(
    root: &HostRoot,
    inv: &Inventory,
    in_use: &policy::InUse,
    f: &PciFunction,
) -> PfReport {
    let s = f.sriov.clone().unwrap_or(crate::host::Sriov {
        totalvfs: 0,
        numvfs: 0,
        vfs: Vec::new(),
    });
    let vfs = s
        .vfs
        .iter()
        .enumerate()
        .map(|(index, &bdf)| {
            let vf = inv.get(bdf);
            let holders = in_use.holders(bdf).to_vec();
            let rule = super::vf_hide::rule_path(&super::vf_hide::Vf {
                bdf,
                pf: f.bdf,
                index,
            });
            VfReport {
                index,
                bdf,
                driver: vf.and_then(|v| v.driver.clone()),
                state: vf_state(vf, &holders),
                holders,
                hidden_at_boot: root.path(&rule).exists(),
            }
        })
        .collect();
    let persistence = persistence(root, f);
    let persists = s.numvfs > 0
        && persistence
            .iter()
            .any(|p| p.numvfs == Some(s.numvfs) || p.mechanism == "driver-option");
    PfReport {
        pf: f.bdf,
        name: format!("{} {}", f.vendor_name(), f.device_name()),
        driver: f.driver.clone(),
        totalvfs: s.totalvfs,
        numvfs: s.numvfs,
        nic: f.class >> 16 == 0x02,
        vfs,
        persistence,
        persists,
    }
}

/// The SR-IOV report: every PF (or just `pf`, which must be one), who holds each VF (running
/// domains through `runner`'s xl, XAPI VMs through xe on an XAPI host) and what persists.
pub fn report(
    root: &HostRoot,
    runner: &dyn Runner,
    pf: Option<Bdf>,
) -> Result<SriovReport, OpError> {
    root.check()
        .map_err(|e| bad("host root", root.dir().display(), e.to_string()))?;
    let inv = Inventory::scan(root);
    let pfs: Vec<&PciFunction> = match pf {
        Some(b) => vec![physical_function(&inv, b)?],
        None => inv
            .functions()
            .iter()
            .filter(|f| f.sriov.is_some())
            .collect(),
    };
    let in_use = facts::local(root, runner);
    Ok(SriovReport {
        pfs: pfs
            .iter()
            .map(|f| pf_report(root, &inv, &in_use, f))
            .collect(),
        notes: in_use.unchecked,
    })
}

/// How to change a VF count.
#[derive(Debug, Clone, Copy, Default)]
pub struct SetOptions {
    /// Also keep the count across reboots (a udev rule; N=0 removes it).
    pub persistent: bool,
    /// Plan only.
    pub dry_run: bool,
    /// Override the policy's refusals (VFs in use, an XAPI-managed NIC).
    pub force: bool,
}

/// What `sriov set` did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct SetOutcome {
    /// The PF.
    pub pf: Bdf,
    /// The count before.
    pub from: u32,
    /// The count asked for.
    pub to: u32,
    /// The plan (every sysfs write and file change).
    pub plan: Plan,
    /// True when nothing was changed (`dry_run`).
    pub dry_run: bool,
    /// What was done.
    pub report: Option<Report>,
    /// Refusals overridden by force.
    pub forced: Vec<Refusal>,
    /// Facts that could not be checked, and what to know.
    pub notes: Vec<String>,
}

/// Plans setting `pf`'s VF count to `n`: the policy first, then the sysfs writes (`0`, then `n`)
/// and the rule file. `n` above `sriov_totalvfs` is bad input.
pub fn plan_set(
    root: &HostRoot,
    runner: &dyn Runner,
    pf: Bdf,
    n: u32,
    opts: SetOptions,
) -> Result<(Plan, u32, policy::Verdict), OpError> {
    root.check()
        .map_err(|e| bad("host root", root.dir().display(), e.to_string()))?;
    let inv = Inventory::scan(root);
    let f = physical_function(&inv, pf)?;
    let s = f
        .sriov
        .clone()
        .unwrap_or_else(|| unreachable!("checked above"));
    if n > s.totalvfs {
        return Err(bad(
            "VF count",
            n,
            format!("0 to {} (sriov_totalvfs of {pf})", s.totalvfs),
        ));
    }
    let changes = n != s.numvfs;
    let removed: Vec<(Bdf, bool)> = if changes {
        s.vfs
            .iter()
            .map(|v| {
                let hidden = inv.get(*v).is_some_and(stubbed);
                (*v, hidden)
            })
            .collect()
    } else {
        Vec::new()
    };
    let pf_away = match f.driver_state() {
        DriverState::Dom0Driver(_) => None,
        _ if !changes => None,
        _ => Some(f.driver.clone().unwrap_or_else(|| "no driver".into())),
    };
    let in_use = facts::local(root, runner);
    let verdict = policy::sriov::decide(
        &in_use,
        &policy::sriov::CountChange {
            pf,
            pf_away,
            xapi_nic: (changes || opts.persistent)
                && f.class >> 16 == 0x02
                && Toolstack::of(root) == Toolstack::Xapi,
            removed: &removed,
            force: opts.force,
        },
    );
    let verdict = verdict.into_result(
        "change the VF count of",
        &format!(" ({pf}: {} to {n})", s.numvfs),
    )?;
    let mut plan = Plan::new(format!("sriov set {pf} {n}"));
    let attr = numvfs_path(pf);
    if changes && s.numvfs > 0 {
        plan.write_sysfs(
            &attr,
            "0",
            format!(
                "remove the {} VFs first: the kernel refuses a change between two non-zero counts (EBUSY)",
                s.numvfs
            ),
            Some((attr.clone(), s.numvfs.to_string())),
        );
    }
    if changes && n > 0 {
        plan.write_sysfs(
            &attr,
            n.to_string(),
            format!(
                "{pf}'s driver ({}) creates {n} VFs",
                f.driver.as_deref().unwrap_or("none")
            ),
            Some((attr.clone(), "0".into())),
        );
    }
    if opts.persistent {
        let path = rule_path(pf);
        let old = fsutil::read_text(&root.path(&path))
            .map_err(|e| bad("rule file", path.display(), e.to_string()))?;
        if n > 0 {
            plan.write_file(
                &path,
                old.as_deref(),
                rule_text(pf, n),
                "udev writes the count when the PF appears at every boot",
            );
        } else if let Some(old) = old {
            plan.remove_file(&path, old, "no VFs at boot: the rule is no longer needed");
        }
        for p in persistence(root, f).iter().filter(|p| !p.ours) {
            plan.note(format!(
                "{} also sets the VF count at boot: {} (xenpci leaves it alone)",
                p.file.display(),
                p.line.trim()
            ));
        }
    }
    if !changes {
        plan.note(format!("{pf} already has {n} VFs"));
    }
    if changes && n > 0 {
        plan.note(format!(
            "the new VFs appear as {pf}'s virtfn0..virtfn{} (`xenpci sriov {pf}` lists them); `xenpci hide VF` hides one now and, by a udev rule, at every boot",
            n - 1
        ));
    }
    Ok((plan, s.numvfs, verdict))
}

/// Sets `pf`'s VF count to `n` (see [`plan_set`]), under the host's SR-IOV lock; on a failed
/// step the steps done are undone and the error says so.
pub fn set(
    root: &HostRoot,
    runner: &dyn Runner,
    pf: Bdf,
    n: u32,
    opts: SetOptions,
) -> Result<SetOutcome, OpError> {
    let _lock = if opts.dry_run {
        None
    } else {
        root.check()
            .map_err(|e| bad("host root", root.dir().display(), e.to_string()))?;
        Some(fsutil::lock(&root.path(LOCK)).map_err(|e| bad("lock", LOCK, e.to_string()))?)
    };
    let (plan, from, verdict) = plan_set(root, runner, pf, n, opts)?;
    let mut notes = verdict.notes.clone();
    notes.extend(verdict.forced_notes());
    let report = plan
        .run_unless_dry(opts.dry_run, runner, root)
        .map_err(OpError::Plan)?;
    Ok(SetOutcome {
        pf,
        from,
        to: n,
        plan,
        dry_run: opts.dry_run,
        report,
        forced: verdict.forced,
        notes,
    })
}

/// A VF picked for a guest (`attach --vf-of PF`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PickedVf {
    /// The VF.
    pub vf: Bdf,
    /// Its PF.
    pub pf: Bdf,
    /// N of the PF's `virtfnN`.
    pub index: usize,
    /// Already on pciback (else it is hidden first).
    pub hidden: bool,
}

impl PickedVf {
    /// What the commands say on stderr: `using 0000:01:10.2 (virtfn1 of 0000:01:00.0, already
    /// hidden)`, with `hidden_first` in place of "already hidden" when it was not.
    pub fn using(&self, hidden_first: &str) -> String {
        format!(
            "using {} (virtfn{} of {}, {})",
            self.vf,
            self.index,
            self.pf,
            if self.hidden {
                "already hidden"
            } else {
                hidden_first
            }
        )
    }
}

/// The VF of `pf` to give a guest: the first hidden one no guest holds, else the first free one
/// (hidden first by the caller). None free is bad input naming what each VF is.
pub fn pick_vf(root: &HostRoot, runner: &dyn Runner, pf: Bdf) -> Result<PickedVf, OpError> {
    let r = report(root, runner, Some(pf))?;
    let p = &r.pfs[0];
    let pick = |want: VfState| p.vfs.iter().find(|v| v.state == want);
    match pick(VfState::Hidden).or_else(|| pick(VfState::Free)) {
        Some(v) => Ok(PickedVf {
            vf: v.bdf,
            pf,
            index: v.index,
            hidden: v.state == VfState::Hidden,
        }),
        None => Err(bad(
            "PF",
            pf,
            if p.vfs.is_empty() {
                format!("a PF with VFs (it has none: `xenpci sriov set {pf} N`)")
            } else {
                format!(
                    "a PF with a VF no guest holds (its {} VFs are all attached or assigned)",
                    p.vfs.len()
                )
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udev_values_are_read_from_either_operator() {
        let l =
            r#"ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:01:00.0", ATTR{sriov_numvfs}="4""#;
        assert_eq!(udev_value(l, "KERNEL"), Some("0000:01:00.0"));
        assert_eq!(udev_value(l, "ATTR{sriov_numvfs}"), Some("4"));
        assert_eq!(udev_value(l, "DRIVER"), None);
        let pf: Bdf = "01:00.0".parse().unwrap();
        let rule = rule_text(pf, 4);
        let line = rule.lines().last().unwrap();
        assert_eq!(udev_value(line, "KERNEL"), Some("0000:01:00.0"));
        assert_eq!(udev_value(line, "ATTR{sriov_numvfs}"), Some("4"));
    }
}
