//! The policy for changing the VF count of an SR-IOV physical function (`xenpci sriov set`):
//! the kernel removes every VF when the count changes, so the change is refused while a VF is
//! attached to a domain, named for a VM, or hidden on pciback for a guest; the PF itself must stay
//! with its dom0 driver (the VFs exist only through it); and on an XAPI host a NIC's VFs belong
//! to XAPI's `network-sriov`. Pure: the operations layer gathers the facts ([`crate::ops::sriov`]).

use super::{InUse, Reason, Refusal, Verdict};
use crate::pci::Bdf;

/// What the policy knows about the PF whose count changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountChange<'a> {
    /// The physical function.
    pub pf: Bdf,
    /// Its driver when that is not a dom0 driver (pciback, a stub, none): it is not in dom0.
    pub pf_away: Option<String>,
    /// A NIC on an XAPI host (XAPI's `network-sriov` manages its VFs).
    pub xapi_nic: bool,
    /// The VFs the change removes, each with whether pciback holds it.
    pub removed: &'a [(Bdf, bool)],
    /// Override every refusal.
    pub force: bool,
}

/// Decides a VF count change.
pub fn decide(in_use: &InUse, c: &CountChange<'_>) -> Verdict {
    let mut v = Verdict {
        notes: in_use.unchecked.clone(),
        devices: vec![c.pf],
        ..Verdict::default()
    };
    let mut pf_reasons = Vec::new();
    if let Some(driver) = &c.pf_away {
        pf_reasons.push(Reason::PfNotInDom0 {
            driver: driver.clone(),
        });
    }
    if c.xapi_nic {
        pf_reasons.push(Reason::XapiNetworkSriov);
    }
    let mut refusals = Vec::new();
    if !pf_reasons.is_empty() {
        refusals.push(Refusal {
            bdf: c.pf,
            reasons: pf_reasons,
        });
    }
    for &(vf, hidden) in c.removed {
        let mut reasons: Vec<Reason> = in_use
            .holders(vf)
            .iter()
            .map(|h| Reason::InUse { holder: h.clone() })
            .collect();
        if hidden && reasons.is_empty() {
            reasons.push(Reason::HiddenVf { pf: c.pf });
        }
        if !reasons.is_empty() {
            refusals.push(Refusal { bdf: vf, reasons });
        }
    }
    if c.force {
        v.forced = refusals;
    } else {
        v.refused = refusals;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Holder;

    fn b(s: &str) -> Bdf {
        s.parse().unwrap()
    }

    #[test]
    fn held_or_hidden_vfs_a_pf_away_from_dom0_and_an_xapi_nic_are_refused() {
        let removed = [
            (b("01:10.0"), false),
            (b("01:10.2"), true),
            (b("01:10.4"), false),
        ];
        let mut used = InUse::default();
        used.add(
            b("01:10.0"),
            Holder::Domain {
                name: "g1".into(),
                domid: 4,
            },
        );
        let c = CountChange {
            pf: b("01:00.0"),
            pf_away: Some("pciback".into()),
            xapi_nic: true,
            removed: &removed,
            force: false,
        };
        let v = decide(&used, &c);
        let got: Vec<(String, Vec<String>)> = v
            .refused
            .iter()
            .map(|r| {
                (
                    r.bdf.to_string(),
                    r.reasons.iter().map(|x| x.to_string()).collect(),
                )
            })
            .collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].0, "0000:01:00.0");
        assert!(got[0].1[0].contains("pciback") && got[0].1[1].contains("network-sriov"));
        assert_eq!(got[1].0, "0000:01:10.0");
        assert!(got[1].1[0].contains("domain g1"), "{got:?}");
        assert_eq!(got[2].0, "0000:01:10.2");
        assert!(got[2].1[0].contains("hidden"), "{got:?}");
        // free VFs of a PF in dom0: nothing to refuse
        let c = CountChange {
            pf_away: None,
            xapi_nic: false,
            removed: &removed[2..],
            ..c
        };
        assert!(decide(&used, &c).refused.is_empty());
        // force lists what it forced
        let c = CountChange {
            removed: &removed,
            force: true,
            ..c
        };
        let v = decide(&used, &c);
        assert!(v.refused.is_empty());
        assert_eq!(v.forced.len(), 2);
    }
}
