//! The one safety policy every operation that gives a device to a guest, hides it from dom0, or
//! takes it back from a guest applies — in the library, so the CLI and the XAPI plugin decide
//! identically. A device is refused when
//!
//! * dom0 needs it (its disks' controller, the management NIC, the console), or it is a bridge;
//! * its isolation group holds a device dom0 needs, or the group is not passed whole (a sibling
//!   is neither in the request nor already with the same guest — or, for a hide, hidden);
//! * (give) another guest uses it: attached to a running domain, named in a VM's
//!   `other-config:pci`, or in an xl.cfg the operation knows;
//! * (take back) any guest uses it.
//!
//! `seize=1` never bypasses any of this. The only override is [`Override::Force`]; a forced
//! decision lists what was forced. Refusals carry their reasons as data ([`Reason`]); the CLI and
//! the plugin render the override their own way (`--force`, `force=true`).
//!
//! * [`in_use`]: gathering who uses which device (xl, xe, xl.cfg).
//! * [`sriov`]: changing an SR-IOV physical function's VF count.
//! * [`vfio_facts`]: the host facts on a KVM host, where "hidden" means bound to vfio-pci.

pub mod in_use;
pub mod sriov;
pub mod vfio_facts;

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::SerializeStruct;
use serde::Serialize;

use crate::host::{DriverState, Inventory};
use crate::pci::Bdf;

pub use in_use::{Holder, InUse};

/// What an operation does with the devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Hide from dom0 (bind to pciback, now or at boot): a step towards a guest.
    Hide,
    /// Give to a guest (assign, attach, add to an xl.cfg).
    Give,
    /// Take back from guests into dom0 (unhide).
    TakeBack,
}

/// The one override of a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Override {
    /// Do it anyway (CLI `--force`, plugin `force=true`).
    Force,
}

/// What the policy knows about one device of the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFacts {
    /// Why dom0 needs it (empty: it does not).
    pub critical: Vec<String>,
    /// A PCI bridge (every device below it would go with it).
    pub bridge: bool,
    /// The other non-bridge members of its isolation group.
    pub group: Vec<Bdf>,
    /// Bound to pciback now (on a KVM host: to vfio-pci).
    pub hidden: bool,
    /// The identity state records another device at this BDF: why, in words
    /// ([`crate::identity::guard`]).
    pub not_recorded: Option<String>,
    /// It may stay behind as a placeholder when a sibling is given to a guest: bound to a stub
    /// that keeps the host's drivers off it (vfio-pci on a KVM host, where a group is usable
    /// when every member is on vfio-pci, oVirt's placeholders). Never set on Xen.
    pub placeholder: bool,
}

/// A source of device facts.
pub trait HostFacts {
    /// The facts for one device (a device the host does not have: no facts).
    fn device(&self, bdf: Bdf) -> DeviceFacts;
}

/// The facts from the host inventory: critical reasons, bridge flag (class 0x06), the other
/// non-bridge members of the isolation group (kernel IOMMU group, else computed from config
/// space), and whether pciback holds it.
impl HostFacts for Inventory {
    fn device(&self, bdf: Bdf) -> DeviceFacts {
        let Some(f) = self.get(bdf) else {
            return DeviceFacts::default();
        };
        DeviceFacts {
            critical: f.critical.clone(),
            bridge: f.is_bridge(),
            group: f
                .isolation_group
                .iter()
                .filter(|b| **b != bdf && self.get(**b).is_some_and(|g| !g.is_bridge()))
                .copied()
                .collect(),
            hidden: f.driver_state() == DriverState::Pciback,
            not_recorded: None,
            placeholder: false,
        }
    }
}

/// Why one device is refused. `code` and the data in JSON; Display is the sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum Reason {
    /// dom0 uses it.
    Dom0Needs {
        /// What for (each use).
        uses: Vec<String>,
    },
    /// It is a bridge.
    Bridge,
    /// A member of its isolation group is a device dom0 needs.
    GroupHoldsDom0Device {
        /// The member.
        member: Bdf,
        /// What dom0 uses it for.
        uses: Vec<String>,
    },
    /// Members of its isolation group would stay behind.
    GroupNotWhole {
        /// The members not in the request nor with the same guest.
        missing: Vec<Bdf>,
    },
    /// It is not the device xenpci recorded at this BDF (renumbered).
    NotTheRecordedDevice {
        /// What is there and what was recorded.
        why: String,
    },
    /// A guest uses it.
    InUse {
        /// Who.
        holder: Holder,
    },
    /// An SR-IOV physical function not bound to its dom0 driver: its VFs exist only through it.
    PfNotInDom0 {
        /// The driver holding it (pciback, a stub) or "no driver".
        driver: String,
    },
    /// A NIC on an XAPI host: XAPI's `network-sriov` manages its VFs.
    XapiNetworkSriov,
    /// A VF hidden on pciback for a guest, which a VF count change of its PF would remove.
    HiddenVf {
        /// Its physical function.
        pf: Bdf,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Dom0Needs { uses } => write!(f, "dom0 needs it: {}", uses.join("; ")),
            Reason::Bridge => f.write_str(
                "dom0 needs it: it is a bridge (every device below it would go with it)",
            ),
            Reason::GroupHoldsDom0Device { member, uses } => write!(
                f,
                "shares its isolation group with {member}, which dom0 needs ({})",
                uses.join("; ")
            ),
            Reason::GroupNotWhole { missing } => write!(
                f,
                "shares its isolation group with {}, which would stay behind (an isolation group \
                 is passed through whole: name {} too)",
                join(missing),
                if missing.len() == 1 { "it" } else { "them" }
            ),
            Reason::NotTheRecordedDevice { why } => write!(f, "renumbered: {why}"),
            Reason::InUse { holder } => write!(f, "in use: {holder}"),
            Reason::PfNotInDom0 { driver } => write!(
                f,
                "the physical function is bound to {driver}, not its dom0 driver: it must stay in \
                 dom0 with its driver for its VFs to exist (give it back with `xenpci unhide`)"
            ),
            Reason::XapiNetworkSriov => f.write_str(
                "a NIC on an XAPI host: XAPI's network-sriov manages its VFs (`xe \
                 network-sriov-create network-uuid=... pif-uuid=...`) and a count set behind it \
                 is lost or undone",
            ),
            Reason::HiddenVf { pf } => write!(
                f,
                "hidden (pciback or vfio-pci) for a guest, and changing the VF count of {pf} \
                 removes it (unhide it first)"
            ),
        }
    }
}

/// One refused (or forced) device with its reasons. JSON: `{"bdf", "reasons": [sentence],
/// "codes": [Reason]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The device.
    pub bdf: Bdf,
    /// Why, each a [`Reason`].
    pub reasons: Vec<Reason>,
}

impl Serialize for Refusal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Refusal", 3)?;
        st.serialize_field("bdf", &self.bdf)?;
        let texts: Vec<String> = self.reasons.iter().map(Reason::to_string).collect();
        st.serialize_field("reasons", &texts)?;
        st.serialize_field("codes", &self.reasons)?;
        st.end()
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts: Vec<String> = self.reasons.iter().map(Reason::to_string).collect();
        write!(f, "{}: {}", self.bdf, texts.join("; "))
    }
}

/// The policy said no. Display names the action and every reason, never an option's spelling:
/// the override is [`Refused::overridable`] and each front end renders it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{}", refusal_text(.action, .to, .refusals))]
pub struct Refused {
    /// The verb refused ("hide", "assign", "attach", "add", "unhide").
    pub action: String,
    /// Where the devices were to go, as words (" to VM osd", " to domain g1"; empty for hide).
    pub to: String,
    /// The refused devices.
    pub refusals: Vec<Refusal>,
    /// The override that would apply.
    pub overridable: Override,
}

fn refusal_text(action: &str, to: &str, refusals: &[Refusal]) -> String {
    refusals
        .iter()
        .map(|r| {
            let texts: Vec<String> = r.reasons.iter().map(Reason::to_string).collect();
            format!("refusing to {action} {}{to}: {}", r.bdf, texts.join("; "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What to decide.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// What the operation does.
    pub action: Action,
    /// The devices, as given.
    pub devices: &'a [Bdf],
    /// The guest the devices go to (give): holders that are this guest are not "another guest".
    pub target: &'a [Holder],
    /// Override every refusal.
    pub force: bool,
    /// Also take the isolation-group siblings (hide, give).
    pub with_group: bool,
}

/// The decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The devices to act on (the request plus, with `with_group`, the siblings), each once.
    pub devices: Vec<Bdf>,
    /// Refused devices (empty: go ahead).
    pub refused: Vec<Refusal>,
    /// Devices that would have been refused, done anyway because of [`Override::Force`].
    pub forced: Vec<Refusal>,
    /// Facts that could not be checked, and what was added.
    pub notes: Vec<String>,
}

impl Verdict {
    /// Ok(self) when nothing is refused, else the refusal to `action` the devices `to` a place
    /// (words such as " to VM osd", or empty).
    pub fn into_result(self, action: &str, to: &str) -> Result<Verdict, Refused> {
        if self.refused.is_empty() {
            Ok(self)
        } else {
            Err(Refused {
                action: action.into(),
                to: to.into(),
                refusals: self.refused,
                overridable: Override::Force,
            })
        }
    }

    /// One line per forced device: what was forced (for reports and warnings).
    pub fn forced_notes(&self) -> Vec<String> {
        self.forced.iter().map(|r| format!("forced: {r}")).collect()
    }
}

/// Decides a request from the host facts and who uses what.
pub fn decide(host: &dyn HostFacts, in_use: &InUse, req: &Request<'_>) -> Verdict {
    let mut v = Verdict {
        notes: in_use.unchecked.clone(),
        ..Verdict::default()
    };
    for b in req.devices {
        if !v.devices.contains(b) {
            v.devices.push(*b);
        }
    }
    let with_target = |b: &Bdf| {
        in_use
            .holders(*b)
            .iter()
            .any(|h| req.target.iter().any(|t| t.same_guest(h)))
    };
    if req.with_group && req.action != Action::TakeBack {
        let mut i = 0;
        while i < v.devices.len() {
            for s in host.device(v.devices[i]).group {
                if !v.devices.contains(&s) {
                    v.notes.push(format!(
                        "{s} added: it shares its isolation group with {}",
                        v.devices[i]
                    ));
                    v.devices.push(s);
                }
            }
            i += 1;
        }
    }
    for &bdf in &v.devices {
        let f = host.device(bdf);
        let mut reasons = Vec::new();
        if req.action != Action::TakeBack {
            if !f.critical.is_empty() {
                reasons.push(Reason::Dom0Needs {
                    uses: f.critical.clone(),
                });
            }
            if f.bridge {
                reasons.push(Reason::Bridge);
            }
            if let Some(why) = &f.not_recorded {
                reasons.push(Reason::NotTheRecordedDevice { why: why.clone() });
            }
            let mut missing = Vec::new();
            for s in &f.group {
                let sf = host.device(*s);
                if !sf.critical.is_empty() {
                    reasons.push(Reason::GroupHoldsDom0Device {
                        member: *s,
                        uses: sf.critical,
                    });
                    continue;
                }
                let along = v.devices.contains(s)
                    || match req.action {
                        Action::Hide => sf.hidden,
                        _ => with_target(s) || sf.placeholder,
                    };
                if !along {
                    missing.push(*s);
                }
            }
            if !missing.is_empty() {
                reasons.push(Reason::GroupNotWhole { missing });
            }
        }
        if req.action != Action::Hide {
            for h in in_use.holders(bdf) {
                let ours = req.action == Action::Give && req.target.iter().any(|t| t.same_guest(h));
                if !ours {
                    reasons.push(Reason::InUse { holder: h.clone() });
                }
            }
        }
        if reasons.is_empty() {
            continue;
        }
        let r = Refusal { bdf, reasons };
        if req.force {
            v.forced.push(r);
        } else {
            v.refused.push(r);
        }
    }
    v
}

fn join(v: &[Bdf]) -> String {
    v.iter().map(Bdf::to_string).collect::<Vec<_>>().join(", ")
}

/// Facts keyed by device, for tests and callers that already know them.
impl HostFacts for BTreeMap<Bdf, DeviceFacts> {
    fn device(&self, bdf: Bdf) -> DeviceFacts {
        self.get(&bdf).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bdf {
        s.parse().unwrap()
    }

    fn host() -> BTreeMap<Bdf, DeviceFacts> {
        let mut m = BTreeMap::new();
        m.insert(
            b("00:1f.2"),
            DeviceFacts {
                critical: vec!["holds /".into()],
                group: vec![b("00:1f.3")],
                ..Default::default()
            },
        );
        m.insert(
            b("00:1f.3"),
            DeviceFacts {
                group: vec![b("00:1f.2")],
                ..Default::default()
            },
        );
        m.insert(
            b("00:01.0"),
            DeviceFacts {
                bridge: true,
                ..Default::default()
            },
        );
        for (x, y) in [("01:00.0", "01:00.1"), ("01:00.1", "01:00.0")] {
            m.insert(
                b(x),
                DeviceFacts {
                    group: vec![b(y)],
                    ..Default::default()
                },
            );
        }
        m
    }

    fn req<'a>(action: Action, devices: &'a [Bdf], target: &'a [Holder]) -> Request<'a> {
        Request {
            action,
            devices,
            target,
            force: false,
            with_group: false,
        }
    }

    #[test]
    fn dom0_devices_bridges_and_their_groups_are_refused_for_hide_and_give() {
        for action in [Action::Hide, Action::Give] {
            let d = [b("00:1f.2"), b("00:01.0"), b("00:1f.3")];
            let v = decide(&host(), &InUse::default(), &req(action, &d, &[]));
            assert_eq!(v.refused.len(), 3, "{action:?}");
            assert!(matches!(v.refused[0].reasons[0], Reason::Dom0Needs { .. }));
            assert_eq!(v.refused[1].reasons, vec![Reason::Bridge]);
            assert!(matches!(
                v.refused[2].reasons[0],
                Reason::GroupHoldsDom0Device { member, .. } if member == b("00:1f.2")
            ));
        }
    }

    #[test]
    fn a_group_must_go_whole_unless_its_rest_is_in_the_request_or_with_the_guest() {
        let one = [b("01:00.0")];
        let v = decide(&host(), &InUse::default(), &req(Action::Give, &one, &[]));
        assert_eq!(
            v.refused[0].reasons,
            vec![Reason::GroupNotWhole {
                missing: vec![b("01:00.1")]
            }]
        );
        let both = [b("01:00.0"), b("01:00.1")];
        assert!(
            decide(&host(), &InUse::default(), &req(Action::Give, &both, &[]))
                .refused
                .is_empty()
        );
        let mut r = req(Action::Give, &one, &[]);
        r.with_group = true;
        let v = decide(&host(), &InUse::default(), &r);
        assert!(v.refused.is_empty() && v.devices == both, "{v:?}");
        // The sibling already with the same guest completes the group.
        let g = Holder::Domain {
            name: "g1".into(),
            domid: 3,
        };
        let mut used = InUse::default();
        used.add(b("01:00.1"), g.clone());
        assert!(decide(&host(), &used, &req(Action::Give, &one, &[g]))
            .refused
            .is_empty());
    }

    #[test]
    fn another_guests_device_is_refused_for_give_and_any_guests_for_take_back() {
        let d = [b("05:00.0")];
        let mine = Holder::Domain {
            name: "g1".into(),
            domid: 3,
        };
        let other = Holder::Vm {
            uuid: "u2".into(),
            name: "osd".into(),
        };
        let mut used = InUse::default();
        used.add(d[0], other.clone());
        let v = decide(
            &host(),
            &used,
            &req(Action::Give, &d, std::slice::from_ref(&mine)),
        );
        assert_eq!(
            v.refused[0].reasons,
            vec![Reason::InUse {
                holder: other.clone()
            }]
        );
        assert!(decide(&host(), &used, &req(Action::Hide, &d, &[]))
            .refused
            .is_empty());
        let v = decide(&host(), &used, &req(Action::TakeBack, &d, &[]));
        assert_eq!(v.refused.len(), 1);
        let mut used = InUse::default();
        used.add(d[0], mine.clone());
        assert!(decide(&host(), &used, &req(Action::Give, &d, &[mine]))
            .refused
            .is_empty());
    }

    #[test]
    fn force_turns_refusals_into_forced_devices_and_the_text_names_no_option() {
        let d = [b("00:1f.2")];
        let mut r = req(Action::Give, &d, &[]);
        let err = decide(&host(), &InUse::default(), &r)
            .into_result("attach", " to domain g1")
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "refusing to attach 0000:00:1f.2 to domain g1: dom0 needs it: holds /"
            ),
            "{text}"
        );
        assert!(!text.contains("--"), "{text}");
        assert_eq!(err.overridable, Override::Force);
        r.force = true;
        let v = decide(&host(), &InUse::default(), &r);
        assert!(v.refused.is_empty());
        assert_eq!(v.forced[0].bdf, d[0]);
        assert!(v.forced_notes()[0].starts_with("forced: 0000:00:1f.2: dom0 needs it"));
    }
}
