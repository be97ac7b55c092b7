//! What the plugin answers to `fn=help`: every function, its arguments (named as the CLI's
//! options, `-` written `_`), its result and its faults. The same table decides which arguments
//! each function accepts ([`args_of`]), so the help cannot drift from what the plugin does.

use serde::Serialize;

/// One argument.
#[derive(Debug, Serialize)]
pub struct Arg {
    /// Its name (`dry_run` for the CLI's `--dry-run`).
    pub name: &'static str,
    /// Must be given.
    pub required: bool,
    /// What it means.
    pub doc: &'static str,
}

/// One function.
#[derive(Debug, Serialize)]
pub struct Help {
    /// Its name (`fn=` of `xe host-call-plugin`).
    pub name: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// Its arguments.
    pub args: &'static [Arg],
    /// The result (a JSON string).
    pub result: &'static str,
    /// The faults it can return, besides XENPCI_INVALID_ARGUMENT / XENPCI_MISSING_ARGUMENT.
    pub faults: &'static [&'static str],
}

const fn arg(name: &'static str, required: bool, doc: &'static str) -> Arg {
    Arg {
        name,
        required,
        doc,
    }
}

const BDF: Arg = arg(
    "bdf",
    true,
    "PCI functions, [SSSS:]BB:DD.F, comma- or space-separated",
);
const DRY_RUN: Arg = arg("dry_run", false, "true: show the plan, change nothing");
const FORCE: Arg = arg(
    "force",
    false,
    "true: do it even when xenpci refuses; the result's `forced` names what was forced",
);
const PERSISTENT: Arg = arg("persistent", false, "true: the boot configuration only");
const NOW: Arg = arg("now", false, "true: the running dom0 only");
const METHOD: Arg = arg(
    "method",
    false,
    "xen-cmdline, xapi, grub, extlinux or modprobe (default: detected)",
);
const PATH: Arg = arg("path", true, "the desired-state file on this host");
const REPAIR: Arg = arg(
    "repair",
    false,
    "true: move the hide list and VM entries of a moved device to its new BDF",
);
const LIVE: Arg = arg("live", false, "xl or sysfs (default: xl when found)");

/// Every function.
pub const HELP: &[Help] = &[
    Help {
        name: "help",
        doc: "this table",
        args: &[],
        result: "[{name, doc, args: [{name, required, doc}], result, faults}]",
        faults: &[],
    },
    Help {
        name: "version",
        doc: "the plugin's name, version and functions",
        args: &[],
        result: "{name, version, functions}",
        faults: &[],
    },
    Help {
        name: "list",
        doc: "the host's PCI functions (`xenpci list --json`)",
        args: &[
            arg(
                "filter",
                false,
                "VENDOR:DEVICE:CLASS as lspci -d, comma-separated alternatives",
            ),
            arg(
                "slot",
                false,
                "[[[[DOMAIN]:]BUS]:][DEVICE][.[FUNC]] as lspci -s",
            ),
        ],
        result: "[{bdf, ..., isolation_group, critical, ...}]",
        faults: &[],
    },
    Help {
        name: "check",
        doc: "preflight and policy for passing these functions, or with no bdf the host check \
              (`xenpci check --json`)",
        args: &[arg(
            "bdf",
            false,
            "PCI functions, comma- or space-separated (none: IOMMU, pciback, toolstack)",
        )],
        result: "{passable, iommu, devices, refusals, notes} or {passable, iommu, pciback, \
                 toolstack, toolstack_tool, findings}",
        faults: &[],
    },
    Help {
        name: "hidden",
        doc: "which functions are hidden now and after the next boot (`xenpci hidden --json`)",
        args: &[METHOD],
        result: "{...}",
        faults: &["XENPCI_FAILED"],
    },
    Help {
        name: "sriov",
        doc: "SR-IOV physical functions, their VFs and who holds each, whether the count \
              persists (`xenpci sriov --json`); with count, set the VF count (`xenpci sriov set \
              PF N --json`)",
        args: &[
            arg("pf", false, "one physical function (required with count)"),
            arg(
                "count",
                false,
                "the VF count to set, 0 to sriov_totalvfs (absent: report only)",
            ),
            arg(
                "persistent",
                false,
                "true: also at every boot (a udev rule; count=0 removes it)",
            ),
            DRY_RUN,
            FORCE,
        ],
        result: "{pfs: [{pf, driver, totalvfs, numvfs, vfs: [{index, bdf, state, holders}], \
                 persistence, persists}], notes} or {refused, outcome: {pf, from, to, plan, ...}}",
        faults: &["XENPCI_REFUSED", "XENPCI_FAILED", "XENPCI_INVALID_ARGUMENT"],
    },
    Help {
        name: "verify",
        doc: "is every device xenpci hid or assigned still the recorded device at its BDF; gives a wrongly hidden function back to dom0, blocks VMs naming a moved device, and with repair moves the places to the new BDF (`xenpci verify --json`)",
        args: &[REPAIR, DRY_RUN],
        result: "{\"ok\": bool, \"changed\": bool, \"devices\": [...]}",
        faults: &["XENPCI_FAILED", "XENPCI_INVALID_ARGUMENT"],
    },
    Help {
        name: "apply",
        doc: "make the host match a desired-state file (devices by identity; `xenpci apply --json`)",
        args: &[PATH, DRY_RUN],
        result: "{\"changed\": bool, \"devices\": [...]}",
        faults: &["XENPCI_REFUSED", "XENPCI_FAILED", "XENPCI_INVALID_ARGUMENT"],
    },
    Help {
        name: "export",
        doc: "the host's passthrough state as a desired-state file, TOML in a JSON string (`xenpci export`)",
        args: &[],
        result: "\"schema = 1 ...\"",
        faults: &["XENPCI_FAILED"],
    },
    Help {
        name: "hide",
        doc: "hide functions from dom0, after the policy (`xenpci hide`)",
        args: &[
            BDF,
            PERSISTENT,
            NOW,
            METHOD,
            LIVE,
            DRY_RUN,
            FORCE,
            arg(
                "with_group",
                false,
                "true: also hide the rest of each isolation group",
            ),
        ],
        result: "{dry_run, method, method_why, live, plan, result, warnings, forced}",
        faults: &["XENPCI_REFUSED", "XENPCI_FAILED"],
    },
    Help {
        name: "unhide",
        doc: "give functions back to dom0, refused while a guest uses them (`xenpci unhide`)",
        args: &[BDF, PERSISTENT, NOW, METHOD, LIVE, DRY_RUN, FORCE],
        result: "{dry_run, method, method_why, live, plan, result, warnings, forced}",
        faults: &["XENPCI_REFUSED", "XENPCI_FAILED"],
    },
    Help {
        name: "assigned",
        doc: "every XAPI VM's PCI functions (`xenpci assigned --json`)",
        args: &[],
        result: "[{uuid, name_label, power_state, value, devices, not_understood, warnings}]",
        faults: &["XENPCI_FAILED"],
    },
    Help {
        name: "attach",
        doc: "hot-plug a function into a running domain, after the policy (`xenpci attach`)",
        args: &[
            arg("domain", true, "the domain, by name or id"),
            arg(
                "spec",
                true,
                "a PCI_SPEC_STRING (BDF[@VSLOT][,KEY=VALUE...]); seize=1 bypasses nothing (or vf_of)",
            ),
            arg(
                "vf_of",
                false,
                "instead of spec: a VF of this SR-IOV PF that no guest holds (hidden first)",
            ),
            DRY_RUN,
            FORCE,
        ],
        result: "{host, domain, devices, command, verified_by, notes, forced}, with vf_of \
                 {picked, hide, attach}",
        faults: &["XENPCI_REFUSED", "XENPCI_FAILED"],
    },
    Help {
        name: "detach",
        doc: "hot-unplug a function from a running domain (`xenpci detach`)",
        args: &[
            arg("domain", true, "the domain, by name or id"),
            arg("bdf", true, "the host BDF"),
            arg(
                "force",
                false,
                "true: xl pci-detach -f (when the guest does not let go)",
            ),
            DRY_RUN,
        ],
        result: "{host, domain, devices, command, verified_by, notes, nothing_to_do}",
        faults: &["XENPCI_FAILED"],
    },
];

/// The argument names `func` accepts.
pub fn args_of(func: &str) -> Vec<&'static str> {
    HELP.iter()
        .find(|h| h.name == func)
        .map(|h| h.args.iter().map(|a| a.name).collect())
        .unwrap_or_default()
}
