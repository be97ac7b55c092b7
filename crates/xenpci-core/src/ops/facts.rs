//! Gathering who uses which device ([`InUse`]) for the policy: the running domains (`xl list -l`,
//! libxl's own record of each domain's devices), the XAPI VMs' `other-config:pci` (`xe`), and an
//! xl.cfg's `pci = [...]`. A source that cannot be asked is named in [`InUse::unchecked`], never
//! silently taken as "nobody".

use crate::exec::{Output, Runner, Tool};
use crate::flows::xl::attached_by_domain;
use crate::host::xensource::Toolstack;
use crate::host::HostRoot;
use crate::policy::{Holder, InUse};
use crate::syntax::xapi_pci;
use crate::xapi::Xe;

/// Records the domains' devices from the output of `what` (`xl list -l`).
pub fn record_xl(out: Result<Output, String>, what: &str, in_use: &mut InUse) {
    let out = match out {
        Ok(o) if o.success() => o,
        Ok(o) => {
            in_use.unchecked.push(format!(
                "running domains not checked: `{what}` failed: {}",
                o.stderr.trim()
            ));
            return;
        }
        Err(e) => {
            in_use
                .unchecked
                .push(format!("running domains not checked: {e}"));
            return;
        }
    };
    match attached_by_domain(&out.stdout) {
        Ok(doms) => {
            for (domid, name, devs) in doms.into_iter().filter(|d| d.0 != 0) {
                for b in devs {
                    in_use.add(
                        b,
                        Holder::Domain {
                            name: name.clone(),
                            domid,
                        },
                    );
                }
            }
        }
        Err(e) => in_use
            .unchecked
            .push(format!("running domains not checked: {e}")),
    }
}

/// The devices of the domains running on this host, through xl (when xl can be found).
pub fn running_domains(runner: &dyn Runner, in_use: &mut InUse) {
    if let Err(e) = Tool::Xl.locate() {
        in_use
            .unchecked
            .push(format!("running domains not checked: {e}"));
        return;
    }
    let cmd = Tool::Xl.command().args(["list", "-l"]);
    record_xl(
        runner.output(&cmd).map_err(|e| e.to_string()),
        &cmd.to_string(),
        in_use,
    );
}

/// The devices named in every XAPI VM's `other-config:pci` (control domains skipped).
pub fn xapi_vms(xe: &Xe, in_use: &mut InUse) {
    let vms = match xe.vm_list() {
        Ok(v) => v,
        Err(e) => {
            in_use
                .unchecked
                .push(format!("XAPI VMs' other-config:pci not checked: {e}"));
            return;
        }
    };
    for vm in vms.iter().filter(|v| !v.is_control_domain()) {
        if !vm.other_config.iter().any(|(k, _)| k == "pci") {
            continue;
        }
        let value = match xe.vm_pci(&vm.uuid) {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(e) => {
                in_use.unchecked.push(format!(
                    "other-config:pci of VM {} not checked: {e}",
                    vm.uuid
                ));
                continue;
            }
        };
        for d in xapi_pci::parse(&value).devices {
            if let Some(b) = d.addr.bdf() {
                in_use.add(
                    b,
                    Holder::Vm {
                        uuid: vm.uuid.to_string(),
                        name: vm.name_label.clone(),
                    },
                );
            }
        }
    }
}

/// On a KVM host (no xl, no xe): every process holding a vfio group open (QEMU for a guest)
/// holds each function of that group.
pub fn kvm_users(root: &HostRoot, in_use: &mut InUse) {
    for (g, pid, comm) in crate::host::kvm::vfio_users(root) {
        for b in crate::host::kvm::group_devices(root, g) {
            in_use.add(
                b,
                Holder::VfioProcess {
                    pid,
                    comm: comm.clone(),
                    group: format!("/dev/vfio/{g}"),
                },
            );
        }
    }
}

/// Everything this host knows: running domains (xl) and, on an XAPI host, every VM's
/// `other-config:pci`.
pub fn local(root: &HostRoot, runner: &dyn Runner) -> InUse {
    let mut in_use = InUse::default();
    if Toolstack::of(root) == Toolstack::Kvm {
        kvm_users(root, &mut in_use);
        return in_use;
    }
    running_domains(runner, &mut in_use);
    if Toolstack::of(root) == Toolstack::Xapi {
        xapi_vms(&Xe::new(runner), &mut in_use);
    }
    in_use
}
