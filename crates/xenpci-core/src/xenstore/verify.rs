//! Is a host device really attached to a guest? The XenStore half of reference xen-xl.md §5
//! "Checking an attach", so flows verify the result instead of trusting `xl`'s exit code (which
//! is 0 even when libxl printed `error:` lines, and says nothing about pcifront).
//!
//! Checks, in order: the backend exists; `num_devs` covers a `dev-i` equal to the BDF;
//! `/libxl/pci/<key>/domid` equals the domid and the domain exists (else: stale entries);
//! PV: `state-i = 3` and backend `state = 4`; HVM: `vdevfn-i` present (else: half-attached).
//! Check 4 of the reference (`/sys/bus/pci/drivers/pciback/<bdf>` exists) is sysfs, not
//! XenStore: it belongs to the host model.

use serde::{Deserialize, Serialize};

use super::backend::{read_backend, PciBackend, XenbusState};
use super::{backend_path, domain_path, libxl_pci_path, Store, XenStoreError};
use crate::ids::DomId;
use crate::pci::Bdf;

/// How the guest runs, which decides what "connected" looks like in its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    /// Paravirtualised: the guest's pcifront connects (backend `state = 4`).
    Pv,
    /// Hardware VM: the device model plugs the device (`vdevfn-i`); no pcifront.
    Hvm,
}

/// The outcome of [`verify_pci_backend`]; every variant says why, one sentence per reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Every XenStore check passed; `reasons` is the evidence.
    Attached {
        /// The backend index (`dev-<index>`).
        index: u32,
        /// What was found.
        reasons: Vec<String>,
    },
    /// Listed in the backend but not (yet, or no longer) connected: `state-i != 3`, PV backend
    /// `state != 4`, or HVM without `vdevfn-i`.
    HalfAttached {
        /// The backend index.
        index: u32,
        /// What is not in place.
        reasons: Vec<String>,
    },
    /// Entries that contradict each other: bookkeeping pointing at another or a missing domain,
    /// a `dev-N` that `num_devs` does not cover, a backend whose domain is gone.
    Stale {
        /// Each contradiction.
        reasons: Vec<String>,
    },
    /// The domain has no PCI backend at all.
    MissingBackend {
        /// Where it was looked for, and what else is known.
        reasons: Vec<String>,
    },
    /// The backend exists and does not list the device, and nothing claims it is attached here.
    NotAttached {
        /// What the backend lists instead.
        reasons: Vec<String>,
    },
}

impl Verdict {
    /// True only for [`Verdict::Attached`].
    pub fn is_attached(&self) -> bool {
        matches!(self, Verdict::Attached { .. })
    }

    /// `attached`, `half-attached`, `stale`, `missing-backend` or `not-attached`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Attached { .. } => "attached",
            Verdict::HalfAttached { .. } => "half-attached",
            Verdict::Stale { .. } => "stale",
            Verdict::MissingBackend { .. } => "missing-backend",
            Verdict::NotAttached { .. } => "not-attached",
        }
    }

    /// The reasons.
    pub fn reasons(&self) -> &[String] {
        match self {
            Verdict::Attached { reasons, .. }
            | Verdict::HalfAttached { reasons, .. }
            | Verdict::Stale { reasons }
            | Verdict::MissingBackend { reasons }
            | Verdict::NotAttached { reasons } => reasons,
        }
    }

    /// `label: reason; reason; ...`.
    pub fn explanation(&self) -> String {
        format!("{}: {}", self.label(), self.reasons().join("; "))
    }
}

/// What `/libxl/pci/<key>/domid` says.
enum Claim {
    None,
    Domain(DomId),
    Malformed(String),
}

fn read_claim(store: &dyn Store, bdf: Bdf) -> Result<(String, Claim), XenStoreError> {
    let path = format!("{}/domid", libxl_pci_path(bdf));
    let claim = match store.read(&path)? {
        None => Claim::None,
        Some(v) => match v.parse::<DomId>() {
            Ok(d) => Claim::Domain(d),
            Err(_) => Claim::Malformed(v),
        },
    };
    Ok((path, claim))
}

fn domain_exists(store: &dyn Store, domid: DomId) -> Result<bool, XenStoreError> {
    Ok(store.directory(&domain_path(domid))?.is_some())
}

/// Describes the claim for a device not found in `domid`'s backend; `Some` when it is stale.
fn claim_elsewhere(
    store: &dyn Store,
    domid: DomId,
    path: &str,
    claim: &Claim,
    reasons: &mut Vec<String>,
) -> Result<bool, XenStoreError> {
    Ok(match claim {
        Claim::None => false,
        Claim::Malformed(v) => {
            reasons.push(format!("{path} = {v:?} is not a domain id"));
            true
        }
        Claim::Domain(d) if *d == domid => {
            reasons.push(format!(
                "{path} = {d} claims the device is attached to domain {domid}, but its backend does not list it"
            ));
            true
        }
        Claim::Domain(d) if !domain_exists(store, *d)? => {
            reasons.push(format!(
                "{path} = {d} points at domain {d}, which does not exist (no {}): xl will not offer the device to any guest",
                domain_path(*d)
            ));
            true
        }
        Claim::Domain(d) => {
            reasons.push(format!(
                "{path} = {d}: the device is attached to domain {d}"
            ));
            false
        }
    })
}

/// Checks in XenStore whether `bdf` is attached to `domid`, a guest of kind `kind`.
pub fn verify_pci_backend(
    store: &dyn Store,
    domid: DomId,
    bdf: Bdf,
    kind: GuestKind,
) -> Result<Verdict, XenStoreError> {
    let (claim_path, claim) = read_claim(store, bdf)?;
    let Some(be) = read_backend(store, domid)? else {
        let mut reasons = vec![format!(
            "no PCI backend for domain {domid} ({} does not exist)",
            backend_path(domid)
        )];
        claim_elsewhere(store, domid, &claim_path, &claim, &mut reasons)?;
        return Ok(Verdict::MissingBackend { reasons });
    };
    let hits: Vec<u32> = be
        .devices
        .iter()
        .filter(|d| d.bdf == bdf)
        .map(|d| d.index)
        .collect();
    let Some(&index) = hits.first() else {
        return not_listed(store, domid, bdf, &be, &claim_path, &claim);
    };

    let mut stale = Vec::new();
    if hits.len() > 1 {
        stale.push(format!(
            "{bdf} is listed more than once in {} (dev-{})",
            be.path,
            hits.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", dev-")
        ));
    }
    match &claim {
        Claim::Domain(d) if *d == domid => {}
        Claim::None => stale.push(format!(
            "{claim_path} is missing: libxl does not consider {bdf} attached (xl pci-assignable-list would offer it to another guest)"
        )),
        Claim::Malformed(v) => stale.push(format!("{claim_path} = {v:?} is not a domain id")),
        Claim::Domain(d) => {
            let gone = if domain_exists(store, *d)? {
                String::new()
            } else {
                ", which does not exist".to_string()
            };
            stale.push(format!(
                "{claim_path} = {d}: libxl records {bdf} as attached to domain {d}{gone}, not {domid}"
            ));
        }
    }
    if !domain_exists(store, domid)? {
        stale.push(format!(
            "domain {domid} does not exist ({} is missing): {} is a leftover",
            domain_path(domid),
            be.path
        ));
    }
    if !stale.is_empty() {
        return Ok(Verdict::Stale { reasons: stale });
    }

    let dev = &be.devices[index as usize];
    let mut half = Vec::new();
    let state_i = dev.state;
    match kind {
        GuestKind::Pv => {
            if state_i != Some(XenbusState::INITIALISED) {
                half.push(match state_i {
                    None => format!("{}/state-{index} is missing (pciback never saw the device)", be.path),
                    Some(XenbusState::INITIALISING) => format!(
                        "{}/state-{index} = {}: pciback has not exported the device yet (expected 3)",
                        be.path, XenbusState::INITIALISING
                    ),
                    Some(XenbusState::CLOSING) => format!(
                        "{}/state-{index} = {}: a detach is in progress (expected 3)",
                        be.path, XenbusState::CLOSING
                    ),
                    Some(s) => format!("{}/state-{index} = {s}, expected 3 (Initialised)", be.path),
                });
            }
            if be.state != Some(XenbusState::CONNECTED) {
                let what = match be.state {
                    None => "missing".to_string(),
                    Some(s) => s.to_string(),
                };
                let why = match be.state {
                    Some(XenbusState::RECONFIGURING) | Some(XenbusState::RECONFIGURED) => {
                        "a hot-add or detach is being applied"
                    }
                    _ => "the guest's pcifront is not connected",
                };
                half.push(format!(
                    "{}/state is {what}, expected 4 (Connected): {why}",
                    be.path
                ));
            }
        }
        GuestKind::Hvm => {
            if dev.vdevfn.is_none() {
                half.push(format!(
                    "{}/vdevfn-{index} is missing: the device model has not plugged the device into the guest",
                    be.path
                ));
            }
        }
    }
    if !half.is_empty() {
        return Ok(Verdict::HalfAttached {
            index,
            reasons: half,
        });
    }
    let mut reasons = vec![format!(
        "{}/dev-{index} = {bdf} (num_devs {})",
        be.path,
        be.num_devs.unwrap_or(0)
    )];
    reasons.push(format!("{claim_path} = {domid}"));
    match kind {
        GuestKind::Pv => reasons.push(format!(
            "state-{index} = 3 (Initialised), backend state = 4 (Connected)"
        )),
        GuestKind::Hvm => reasons.push(format!(
            "vdevfn-{index} = {:x} (guest slot {})",
            dev.vdevfn.unwrap_or(0),
            dev.guest_slot()
        )),
    }
    Ok(Verdict::Attached { index, reasons })
}

/// The verdict when the backend exists but `0..num_devs` does not list `bdf`.
fn not_listed(
    store: &dyn Store,
    domid: DomId,
    bdf: Bdf,
    be: &PciBackend,
    claim_path: &str,
    claim: &Claim,
) -> Result<Verdict, XenStoreError> {
    let mut reasons = Vec::new();
    let mut stale = false;
    for (i, v) in &be.uncovered {
        if v.parse::<Bdf>().is_ok_and(|b| b == bdf) {
            let n = be.num_devs.map_or("missing".into(), |n| n.to_string());
            reasons.push(format!(
                "{}/dev-{i} = {v} but num_devs is {n}: xl ignores the entry (an interrupted attach or detach)",
                be.path
            ));
            stale = true;
        }
    }
    stale |= claim_elsewhere(store, domid, claim_path, claim, &mut reasons)?;
    if stale {
        return Ok(Verdict::Stale { reasons });
    }
    let listed: Vec<String> = be.devices.iter().map(|d| d.bdf.to_string()).collect();
    reasons.insert(
        0,
        format!(
            "{} does not list {bdf} (it lists {})",
            be.path,
            if listed.is_empty() {
                "no devices".to_string()
            } else {
                listed.join(", ")
            }
        ),
    );
    Ok(Verdict::NotAttached { reasons })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xenstore::{AttachedDevice, BackendTree, MemStore};

    const HBA: &str = "0000:00:02.0";

    fn bdf(s: &str) -> Bdf {
        s.parse().unwrap()
    }

    /// A store holding `tree`, then `edits` applied (`value = None` removes the node).
    fn verdict(
        tree: BackendTree,
        edits: &[(&str, Option<&str>)],
        dev: &str,
        kind: GuestKind,
    ) -> Verdict {
        let s = MemStore::with(&tree.nodes()).unwrap();
        for (p, v) in edits {
            match v {
                Some(v) => s.write(p, v).unwrap(),
                None => s.rm(p).unwrap(),
            }
        }
        verify_pci_backend(&s, tree.domid, bdf(dev), kind).unwrap()
    }

    fn pv1() -> BackendTree {
        BackendTree::pv(DomId(1), "domU").device(AttachedDevice::new(bdf(HBA)))
    }

    fn assert_verdict(v: &Verdict, label: &str, needle: &str) {
        assert_eq!(v.label(), label, "{}", v.explanation());
        assert!(
            v.explanation().contains(needle),
            "{:?} not in {}",
            needle,
            v.explanation()
        );
    }

    #[test]
    fn attached_pv() {
        let v = verdict(pv1(), &[], HBA, GuestKind::Pv);
        assert!(v.is_attached());
        assert_verdict(&v, "attached", "dev-0 = 0000:00:02.0");
    }

    #[test]
    fn half_attached_when_state_is_not_3_or_backend_not_4() {
        let be = "/local/domain/0/backend/pci/1/0";
        let v = verdict(
            pv1(),
            &[(&format!("{be}/state-0"), Some("1"))],
            HBA,
            GuestKind::Pv,
        );
        assert_verdict(&v, "half-attached", "not exported");
        let v = verdict(
            pv1(),
            &[(&format!("{be}/state"), Some("7"))],
            HBA,
            GuestKind::Pv,
        );
        assert_verdict(&v, "half-attached", "7 (Reconfiguring)");
        let v = verdict(
            pv1(),
            &[(&format!("{be}/state-0"), Some("5"))],
            HBA,
            GuestKind::Pv,
        );
        assert_verdict(&v, "half-attached", "detach is in progress");
    }

    #[test]
    fn hvm_needs_vdevfn_not_state_4() {
        let t = BackendTree::hvm(DomId(2), "win").device(AttachedDevice::new(bdf(HBA)));
        assert!(verdict(t.clone(), &[], HBA, GuestKind::Hvm).is_attached());
        let v = verdict(
            t,
            &[("/local/domain/0/backend/pci/2/0/vdevfn-0", None)],
            HBA,
            GuestKind::Hvm,
        );
        assert_verdict(&v, "half-attached", "vdevfn-0 is missing");
    }

    #[test]
    fn stale_bookkeeping() {
        let claim = "/libxl/pci/0000-00-02-0/domid";
        let v = verdict(pv1(), &[(claim, Some("9"))], HBA, GuestKind::Pv);
        assert_verdict(&v, "stale", "domain 9, which does not exist");
        let v = verdict(pv1(), &[(claim, None)], HBA, GuestKind::Pv);
        assert_verdict(&v, "stale", "is missing");
        let v = verdict(pv1(), &[("/local/domain/1", None)], HBA, GuestKind::Pv);
        assert_verdict(&v, "stale", "domain 1 does not exist");
    }

    #[test]
    fn stale_dev_entry_beyond_num_devs() {
        let be = "/local/domain/0/backend/pci/1/0";
        let edits = [
            (format!("{be}/dev-1"), Some("0000:00:03.0")),
            ("/libxl/pci/0000-00-03-0/domid".to_string(), Some("1")),
        ];
        let edits: Vec<(&str, Option<&str>)> =
            edits.iter().map(|(p, v)| (p.as_str(), *v)).collect();
        let v = verdict(pv1(), &edits, "0000:00:03.0", GuestKind::Pv);
        assert_verdict(&v, "stale", "dev-1 = 0000:00:03.0 but num_devs is 1");
    }

    #[test]
    fn missing_backend_and_not_attached() {
        let v = verdict(
            pv1(),
            &[("/local/domain/0/backend/pci/1", None)],
            HBA,
            GuestKind::Pv,
        );
        assert_verdict(
            &v,
            "missing-backend",
            "/local/domain/0/backend/pci/1/0 does not exist",
        );
        assert_verdict(&v, "missing-backend", "claims the device is attached");
        let v = verdict(pv1(), &[], "0000:00:03.0", GuestKind::Pv);
        assert_verdict(&v, "not-attached", "it lists 0000:00:02.0");
    }

    #[test]
    fn verdict_serialises_with_its_label() {
        let v = verdict(pv1(), &[], HBA, GuestKind::Pv);
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["verdict"], "attached");
        assert_eq!(j["index"], 0);
    }
}
