//! Isolation groups computed from config space the way Linux's `pci_device_group()`
//! (drivers/iommu/iommu.c) forms IOMMU groups, for hosts where the kernel has none (a Xen dom0:
//! Xen owns the IOMMU, so `/sys/kernel/iommu_groups` is empty).
//!
//! Three rules, as in the kernel:
//! 1. **DMA aliases.** Behind a PCIe-to-PCI bridge or a conventional PCI bridge, transactions
//!    carry the bridge's requester ID: the bridge and everything behind it are one unit.
//! 2. **ACS on the path.** Walking up from a function, the first bridge whose path to the root
//!    has ACS (source validation, request/completion redirect, upstream forwarding) enabled on
//!    every port stops the walk; every function below the last bridge without it shares a group.
//! 3. **Multifunction devices** whose functions lack ACS are grouped together.
//!
//! Not modelled: the kernel's per-chipset ACS quirks (`pci_dev_specific_acs_enabled`) and
//! `pci=noacs`-style overrides; a chipset with an ACS quirk looks less isolated here than under
//! Linux, never more.

use std::collections::BTreeMap;

use super::config::{acs, ConfigSpace, PortType};
use crate::pci::Bdf;

/// What the grouping needs to know about one function.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its address.
    pub bdf: Bdf,
    /// The bridge directly upstream (None on a root bus).
    pub parent: Option<Bdf>,
    /// Its config space, when readable.
    pub config: Option<ConfigSpace>,
    /// An SR-IOV virtual function.
    pub is_virtfn: bool,
}

/// Linux's `pci_acs_enabled(dev, REQ_ACS_FLAGS)`, without chipset quirks. An unreadable config
/// space counts as "no ACS".
pub fn acs_enabled(n: &Node) -> bool {
    let Some(c) = &n.config else { return false };
    let Some(t) = c.pcie else { return false };
    match t {
        PortType::PcieToPci | PortType::PciToPcie | PortType::RcEventCollector => return false,
        PortType::Downstream | PortType::RootPort => return c.acs_flags_enabled(acs::REQUIRED),
        _ => {}
    }
    if c.multifunction && !n.is_virtfn {
        return c.acs_flags_enabled(acs::REQUIRED);
    }
    true
}

struct Dsu(Vec<usize>);

impl Dsu {
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.0[ra.max(rb)] = ra.min(rb);
        }
    }
}

/// Computes the group of every node: a map from each address to its sorted group members.
pub fn compute(nodes: &[Node]) -> BTreeMap<Bdf, Vec<Bdf>> {
    let index: BTreeMap<Bdf, usize> = nodes.iter().enumerate().map(|(i, n)| (n.bdf, i)).collect();
    let mut dsu = Dsu((0..nodes.len()).collect());
    let parent = |i: usize| nodes[i].parent.and_then(|p| index.get(&p).copied());
    let acs_ok: Vec<bool> = nodes.iter().map(acs_enabled).collect();
    // acs_path[i]: ACS enabled on i and on every bridge above it (memoised walk, bounded depth).
    let mut acs_path: Vec<Option<bool>> = vec![None; nodes.len()];
    fn path_ok(
        i: usize,
        acs_ok: &[bool],
        parent: &dyn Fn(usize) -> Option<usize>,
        memo: &mut [Option<bool>],
        depth: usize,
    ) -> bool {
        if let Some(v) = memo[i] {
            return v;
        }
        let v = acs_ok[i]
            && match parent(i) {
                Some(p) if depth < 64 => path_ok(p, acs_ok, parent, memo, depth + 1),
                Some(_) => false,
                None => true,
            };
        memo[i] = Some(v);
        v
    }
    for i in 0..nodes.len() {
        // Rule 1: aliases through conventional and PCIe-to-PCI bridges.
        let mut up = parent(i);
        let mut steps = 0;
        while let Some(b) = up {
            let conventional_or_pcie_to_pci = match &nodes[b].config {
                Some(c) => matches!(c.pcie, None | Some(PortType::PcieToPci)),
                None => false,
            };
            if conventional_or_pcie_to_pci {
                dsu.union(i, b);
            }
            up = parent(b);
            steps += 1;
            if steps > 64 {
                break;
            }
        }
        // Rule 2: climb to the highest bridge without an ACS path.
        let mut anchor = i;
        let mut up = parent(i);
        let mut steps = 0;
        while let Some(b) = up {
            if path_ok(b, &acs_ok, &parent, &mut acs_path, 0) {
                break;
            }
            anchor = b;
            up = parent(b);
            steps += 1;
            if steps > 64 {
                break;
            }
        }
        dsu.union(i, anchor);
    }
    // Rule 3: functions of one multifunction slot without ACS.
    let mut slots: BTreeMap<(u16, u8, u8), Vec<usize>> = BTreeMap::new();
    for (i, n) in nodes.iter().enumerate() {
        let mf = n.config.as_ref().is_some_and(|c| c.multifunction) || n.config.is_none();
        if mf && !acs_ok[i] && !n.is_virtfn {
            slots
                .entry((n.bdf.segment, n.bdf.bus, n.bdf.device))
                .or_default()
                .push(i);
        }
    }
    for members in slots.values() {
        for w in members.windows(2) {
            dsu.union(w[0], w[1]);
        }
    }
    let mut groups: BTreeMap<usize, Vec<Bdf>> = BTreeMap::new();
    for (i, n) in nodes.iter().enumerate() {
        let r = dsu.find(i);
        groups.entry(r).or_default().push(n.bdf);
    }
    let mut out = BTreeMap::new();
    for mut g in groups.into_values() {
        g.sort();
        for b in &g {
            out.insert(*b, g.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use xenpci_fixtures::{self as fixture, config_bytes, Fixture, Func};

    /// A fixture address as xenpci's own.
    fn ours(b: fixture::Bdf) -> Bdf {
        Bdf::new(b.segment, b.bus, b.device, b.function).unwrap()
    }

    fn nodes(fx: &Fixture) -> Vec<Node> {
        let slot_count = |b: fixture::Bdf| {
            fx.funcs()
                .iter()
                .filter(|f| f.physfn.is_none() && (f.bdf.bus, f.bdf.device) == (b.bus, b.device))
                .count()
        };
        fx.funcs()
            .iter()
            .map(|f| {
                let mut c = ConfigSpace::parse(&config_bytes(f)).unwrap();
                c.multifunction = f.physfn.is_none() && slot_count(f.bdf) > 1;
                Node {
                    bdf: ours(f.bdf),
                    parent: f.parent.map(ours),
                    config: Some(c),
                    is_virtfn: f.physfn.is_some(),
                }
            })
            .collect()
    }

    fn group(fx: &Fixture, at: &str) -> Vec<String> {
        compute(&nodes(fx))[&at.parse::<Bdf>().unwrap()]
            .iter()
            .map(|b| b.short())
            .collect()
    }

    #[test]
    fn acs_root_port_isolates_the_hba() {
        let fx = fixture::x9drw();
        assert_eq!(group(&fx, "05:00.0"), ["05:00.0"]);
        assert_eq!(group(&fx, "00:1f.2"), ["00:1f.0", "00:1f.2", "00:1f.3"]);
        assert_eq!(group(&fx, "02:00.1"), ["02:00.0", "02:00.1"]);
        assert_eq!(group(&fx, "08:01.0"), ["00:1e.0", "08:01.0"]);
    }

    #[test]
    fn root_port_without_acs_groups_everything_below_it() {
        let fx = Fixture::new()
            .with(Func::root_port("00:01.0", 0x8086, 0x1901, 1))
            .with(Func::endpoint("01:00.0", 0x10de, 0x1b80, 0x030000).under("00:01.0"))
            .with(Func::root_port("00:02.0", 0x8086, 0x1902, 2).acs())
            .with(Func::endpoint("02:00.0", 0x10de, 0x1b80, 0x030000).under("00:02.0"));
        assert_eq!(group(&fx, "01:00.0"), ["00:01.0", "01:00.0"]);
        assert_eq!(group(&fx, "02:00.0"), ["02:00.0"]);
    }

    #[test]
    fn conventional_devices_go_with_their_pcie_to_pci_bridge() {
        let fx = fixture::legacy_bridge();
        assert_eq!(group(&fx, "04:01.0"), ["03:00.0", "04:00.0", "04:01.0"]);
        assert_eq!(group(&fx, "00:1c.0"), ["00:1c.0"]);
    }

    #[test]
    fn multifunction_without_acs_shares_but_sriov_vfs_do_not() {
        let fx = fixture::gpu_pair();
        assert_eq!(group(&fx, "01:00.1"), ["01:00.0", "01:00.1"]);
        let fx = fixture::sriov_nic();
        assert_eq!(group(&fx, "01:10.2"), ["01:10.2"]);
        assert_eq!(group(&fx, "01:00.0"), ["01:00.0"]);
    }
}
