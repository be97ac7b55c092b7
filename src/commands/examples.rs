//! The "Examples:" section of every subcommand's `--help` (and so of its man page): two or three
//! command lines a user can paste, each with what it does. One place, so they read alike; each
//! command's clap struct names its constant with `#[command(after_help = ...)]`.

pub const LIST: &str = "Examples:
  xenpci list                        # every function, grouped, dom0's devices marked '!'
  xenpci list -d ::0107              # only SAS controllers (lspci -d syntax)
  xenpci list --json -s 05:          # bus 05 as JSON records";

pub const CHECK: &str = "Examples:
  xenpci check 05:00.0               # can the HBA be passed through, and is it safe for dom0?
  xenpci check 05:00.0 00:1f.2       # several at once (exit 1 if any must not be)
  xenpci check --json 05:00.0        # the verdicts as JSON";

pub const ATTACH: &str = "Examples:
  xenpci attach guest1 0000:05:00.0                  # hot-add, checked first, verified after
  xenpci attach guest1 05:00.0 7                     # at virtual slot 7
  xenpci attach guest1 --vf-of 01:00.0               # a free SR-IOV VF of that PF (hidden first)";

pub const DETACH: &str = "Examples:
  xenpci detach guest1 05:00.0            # hot-remove, verified afterwards
  xenpci detach guest1 05:00.0 --dry-run  # show the xl command only";

pub const ATTACHED: &str = "Examples:
  xenpci attached guest1             # the domain's passthrough devices
  xenpci attached guest1 --json      # the same as JSON";

pub const MIGRATE: &str = "Examples:
  xenpci migrate guest1 --to xcp2 --map map.json --dry-run   # the plan, every command on which host
  xenpci migrate guest1 --to xcp2 --map map.json             # move it, journaled (resume after a crash)
  xenpci migrate ceph-osd-1 --to xcp2 --cold                 # shut down here, start there";

pub const DETACH_ALL: &str = "Examples:
  xenpci detach-all guest1 --save guest1-pci.json            # detach everything, saved to a file
  xenpci detach-all guest1 --save guest1-pci.json --dry-run  # what would be detached";

pub const REATTACH: &str = "Examples:
  xenpci reattach --from guest1-pci.json                     # attach the saved devices again
  xenpci reattach --from guest1-pci.json --host xcp2 --map map.json   # on another host, mapped";

pub const RESUME: &str = "Examples:
  xenpci resume                      # finish every interrupted flow
  xenpci resume --rollback           # or undo them instead
  xenpci resume 20261204T101500-migrate-guest1-4242   # just this one";

pub const STATUS: &str = "Examples:
  xenpci status                      # half-done flows (exit 1 while one needs `xenpci resume`)
  xenpci status --all                # finished ones too
  xenpci status --json               # as JSON";

pub const EVACUATE: &str = "Examples:
  xenpci evacuate xcp1 --to xcp2 --map map.json --dry-run   # every VM's plan
  xenpci evacuate xcp1 --to xcp2 --map map.json -j 2        # two at a time";

pub const MAINTENANCE: &str = "Examples:
  xenpci maintenance xcp1 --to xcp2 --map map.json --dry-run   # pinned VMs and the rest
  xenpci maintenance h1 --to h2 --config-dir /etc/xen           # then, once h1 is back: xenpci resume";

pub const HIDE: &str = "Examples:
  xenpci hide 05:00.0 --dry-run      # the boot configuration diff, nothing changed
  xenpci hide 05:00.0                # hide it from the next boot (and now, if pciback is loaded)
  xenpci hide 81:00.0 --with-group   # with the rest of its isolation group (e.g. a GPU and its audio)";

pub const UNHIDE: &str = "Examples:
  xenpci unhide 05:00.0 --dry-run    # what would change
  xenpci unhide 05:00.0              # give it back to dom0 from the next boot
  xenpci unhide 05:00.0 --now        # and now (rebinds its driver)";

pub const HIDDEN: &str = "Examples:
  xenpci hidden                      # hidden now, after the next boot, and the difference
  xenpci hidden --method extlinux    # read that method's list
  xenpci hidden --json               # as JSON";

pub const VERIFY: &str = "Examples:
  xenpci verify                      # is each hidden/assigned device still the one at its BDF?
  xenpci verify --repair --dry-run   # what --repair would move to the new BDFs
  xenpci verify --repair --json      # move hide list and VM entries; ok/changed for scripts";

pub const APPLY: &str = "Examples:
  xenpci apply host.toml --dry-run   # what would change to match the file
  xenpci apply host.toml --json      # converge; `changed` says whether anything was done";

pub const EXPORT: &str = "Examples:
  xenpci export                      # the host's passthrough state, devices by identity (TOML)
  xenpci export -o host.toml         # into a file (atomic, with a backup) to edit and apply";

pub const ADOPT: &str = "Examples:
  xenpci adopt --dry-run             # which hidden/assigned devices would be recorded
  xenpci adopt                       # record them (run while the devices are where they belong)";

pub const ASSIGN: &str = "Examples:
  xenpci assign 05:00.0 --vm ceph-osd-1 --restart --dry-run   # the exact xe commands
  xenpci assign 05:00.0,06:00.0 --vm nas --order 06:00.0      # two devices, 06:00.0 plugged first
  xenpci assign --vf-of 01:00.0 --vm router                   # a free SR-IOV VF of that PF";

pub const UNASSIGN: &str = "Examples:
  xenpci unassign 05:00.0 --vm ceph-osd-1             # take one device back
  xenpci unassign --all --vm ceph-osd-1 --restart     # all of them, restarting the VM
  xenpci unassign --all --vm ceph-osd-1 --dry-run     # the xe commands only";

pub const ASSIGNED: &str = "Examples:
  xenpci assigned                    # every VM's devices, duplicates and unhidden ones flagged
  xenpci assigned --json             # as JSON";

pub const COMPLETIONS: &str = "Examples:
  xenpci completions bash > /etc/bash_completion.d/xenpci
  xenpci completions zsh > \"${fpath[1]}/_xenpci\"
  xenpci completions fish > ~/.config/fish/completions/xenpci.fish";

pub const DEMO: &str = "Examples:
  xenpci demo --keep                 # the whole story on stdout; keep the host root to try more
  xenpci demo --write /tmp/x9drw     # write the demo host root, then try commands on it:
  xenpci --root /tmp/x9drw list      #   (any command takes --root)";

pub const SPEC: &str = "Examples:
  xenpci spec parse '05:00.0,permissive=1'
  xenpci spec fmt '0000:05:00.0@1f,msitranslate=1'";

pub const SPEC_PARSE: &str = "Examples:
  xenpci spec parse '05:00.0,permissive=1'   # what Xen reads, warnings for surprises
  xenpci spec parse --json '05:00.*'         # as JSON";

pub const SPEC_FMT: &str = "Examples:
  xenpci spec fmt '0000:05:00.0@1f,permissive=1'   # the canonical form
  xenpci spec fmt 5:0.0 6:0.0                      # several";

pub const XLCFG: &str = "Examples:
  xenpci xlcfg show /etc/xen/guest1.cfg
  xenpci xlcfg add-pci /etc/xen/guest1.cfg 05:00.0 --dry-run";

pub const XLCFG_SHOW: &str = "Examples:
  xenpci xlcfg show /etc/xen/guest1.cfg          # what xl would do with its pci part
  xenpci xlcfg show --json /etc/xen/guest1.cfg   # as JSON";

pub const XLCFG_ADD_PCI: &str = "Examples:
  xenpci xlcfg add-pci /etc/xen/guest1.cfg 05:00.0 --dry-run       # the diff only
  xenpci xlcfg add-pci /etc/xen/guest1.cfg 05:00.0,permissive=1    # write it (backed up)";

pub const XLCFG_REMOVE_PCI: &str = "Examples:
  xenpci xlcfg remove-pci /etc/xen/guest1.cfg 05:00.0 --dry-run   # the diff only
  xenpci xlcfg remove-pci /etc/xen/guest1.cfg 05:00.0             # write it (backed up)";

pub const XLCFG_SET: &str = "Examples:
  xenpci xlcfg set /etc/xen/guest1.cfg pci_permissive 1
  xenpci xlcfg set /etc/xen/guest1.cfg rdm 'strategy=host,policy=relaxed' --dry-run";

pub const XAPI_PCI: &str = "Examples:
  xenpci xapi-pci parse '0/0000:06:00.0, 0/0000:07:00.0'
  xenpci xapi-pci fmt 06:00.0 07:00.0";

pub const XAPI_PCI_PARSE: &str = "Examples:
  xenpci xapi-pci parse '0/0000:06:00.0, 0/0000:07:00.0'   # seed 004's value: the blank drops one
  xenpci xapi-pci parse --json '0/0000:06:00.0'            # as JSON";

pub const XAPI_PCI_FMT: &str = "Examples:
  xenpci xapi-pci fmt 06:00.0 07:00.0    # the value that plugs both, in this order
  xenpci xapi-pci fmt 0000:05:00.0";

pub const POOL: &str = "Examples:
  xenpci pool list
  xenpci pool map > map.json";

pub const POOL_LIST: &str = "Examples:
  xenpci pool list                   # every host's devices and who holds them
  xenpci pool list --json --timeout 10";

pub const POOL_CHECK: &str = "Examples:
  xenpci pool check 05:00.0          # preflight the same device on every host
  xenpci pool check --json 05:00.0";

pub const POOL_MAP: &str = "Examples:
  xenpci pool map > map.json                              # the mapping for --map
  xenpci migrate guest1 --to xcp2 --map map.json --dry-run   # then use it";

pub const SRIOV: &str = "Examples:
  xenpci sriov                       # every SR-IOV PF, its VFs, who holds each, whether the count persists
  xenpci sriov 0000:01:00.0 --json   # one PF as JSON";

pub const SRIOV_SET: &str = "Examples:
  xenpci sriov set 01:00.0 4 --dry-run        # the sysfs writes (through 0 when a count is set)
  xenpci sriov set 01:00.0 4 --persistent     # 4 VFs now and at every boot (a udev rule)
  xenpci sriov set 01:00.0 0 --persistent     # remove the VFs and the rule";
pub const SRIOV_RESTORE: &str = "Examples:
  xenpci sriov restore --dry-run    # what the recorded VF counts and VF hides would change
  xenpci sriov restore              # apply them (xenpci-sriov.service does this at boot)
  xenpci sriov restore --json       # each rule and what was done, as JSON";
pub const SRIOV_VF: &str = "Examples:
  xenpci sriov vf 01:00.0 0 --mac 52:54:00:12:34:56 --dry-run   # the ip command
  xenpci sriov vf 01:00.0 0 --mac 52:54:00:12:34:56 --vlan 100 --persistent";
pub const LIBVIRT_XML: &str = "Examples:
  xenpci libvirt-xml 03:00.0                       # the <hostdev> element (KVM host, on vfio-pci)
  xenpci libvirt-xml 01:00.0 01:00.1 --attach vm1  # hot-add both to libvirt domain vm1
  xenpci libvirt-xml --json 03:00.0                # the hand-off as JSON";

pub const VFIO_ACL: &str = "Examples:
  xenpci vfio-acl 01:00.0 01:00.1    # /dev/vfio/N lines for qemu.conf's cgroup_device_acl
  xenpci vfio-acl --json 03:00.0     # the same as JSON";

pub const ONE_FILTER: &str = "Examples:
  xenpci one-filter 01:00.0          # OpenNebula's vendor:device:class filter and SHORT_ADDRESS
  xenpci one-filter --json 03:00.0   # the same as JSON";
