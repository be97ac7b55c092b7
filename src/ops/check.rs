//! `check BDF...`: the preflight report ([`crate::host::preflight`]: IOMMU, reset, RMRR, SR-IOV,
//! ...) together with the policy's verdict on giving those devices to a guest, so `check` says no
//! exactly when `assign`, `attach` and `xlcfg add-pci` would refuse.

use serde::Serialize;

use super::facts;
use crate::exec::Runner;
use crate::host::preflight::{self, CheckOutput};
use crate::host::{HostRoot, Inventory};
use crate::pci::Bdf;
use crate::policy::{self, Action, Refusal};

/// The preflight report plus the policy's refusals.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The preflight (its `passable` is false when the policy refuses too).
    #[serde(flatten)]
    pub output: CheckOutput,
    /// What the policy refuses, with the reasons every give operation would give.
    pub refusals: Vec<Refusal>,
    /// Facts that could not be checked.
    pub notes: Vec<String>,
}

/// Checks `bdfs` as one request: xl is asked about the IOMMU through `iommu_runner` (None: from
/// the files), and who uses the devices through `runner` (stand-ins only under a fixture root).
pub fn check(
    root: &HostRoot,
    iommu_runner: Option<&dyn Runner>,
    runner: &dyn Runner,
    bdfs: &[Bdf],
) -> (Inventory, CheckReport) {
    let (inv, mut output) = preflight::check_host(root, iommu_runner, bdfs);
    let in_use = facts::local(root, runner);
    let v = policy::decide(
        &inv,
        &in_use,
        &policy::Request {
            action: Action::Give,
            devices: bdfs,
            target: &[],
            force: false,
            with_group: false,
        },
    );
    output.passable &= v.refused.is_empty();
    (
        inv,
        CheckReport {
            output,
            refusals: v.refused,
            notes: v.notes,
        },
    )
}
