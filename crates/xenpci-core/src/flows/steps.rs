//! The steps flows are made of. Each step knows how to do itself, how to tell whether it is
//! already done (so a resumed flow can settle a step whose outcome was not journaled), and how
//! to undo itself. Every command goes through the [`Site`] (host + transport).

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ids::VmUuid;
use crate::pci::Bdf;
use crate::xapi::{PowerState, Xe};

use super::hotplug;
use super::transport::Site;
use super::xl::Xl;
use super::FlowError;

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// `xl pci-detach DOM BDF` on `host`; undo re-attaches with `spec`.
    XlDetach {
        /// Host.
        host: String,
        /// Domain name.
        dom: String,
        /// Device.
        bdf: Bdf,
        /// The spec it was attached with (options, vslot).
        spec: String,
    },
    /// `xl pci-attach DOM SPEC` on `host`, verified; undo detaches.
    XlAttach {
        /// Host.
        host: String,
        /// Domain name.
        dom: String,
        /// Device.
        bdf: Bdf,
        /// Full spec.
        spec: String,
    },
    /// `xl migrate DOM TO` on `from`; undo migrates back.
    XlMigrate {
        /// Source.
        from: String,
        /// Target.
        to: String,
        /// Domain name.
        dom: String,
    },
    /// `xl shutdown -w DOM` on `host`; undo `xl create CONFIG` there.
    XlShutdown {
        /// Host.
        host: String,
        /// Domain name.
        dom: String,
        /// The config it was running from.
        config: PathBuf,
        /// When the guest does not acknowledge the shutdown request, `xl destroy` it.
        #[serde(default)]
        force_stop: bool,
    },
    /// `xl create CONFIG` on `host`, then checks `devices` with pci-list; undo `xl destroy`.
    XlCreate {
        /// Host.
        host: String,
        /// Domain name.
        dom: String,
        /// Config path (as the host sees it).
        config: PathBuf,
        /// Devices that must be attached after the create.
        devices: Vec<Bdf>,
    },
    /// Writes a local file through the checked path ([`crate::fsutil::Locked::replace`]: locked,
    /// refused when it no longer holds `previous`, backed up); undo writes `previous` back (or
    /// removes the file), refused when the file no longer holds `content`.
    WriteFile {
        /// Path.
        path: PathBuf,
        /// New content.
        content: String,
        /// Content before, `None` = did not exist.
        previous: Option<String>,
    },
    /// `scp PATH HOST:PATH` (ssh transport only); undo is nothing (the file is inert).
    CopyFile {
        /// Host.
        host: String,
        /// Path (same on both sides).
        path: PathBuf,
    },
    /// `xe vm-shutdown uuid=VM`; undo `xe vm-start uuid=VM on=HOST`.
    XeShutdown {
        /// VM uuid.
        vm: VmUuid,
        /// Where it ran (name-label).
        host: String,
    },
    /// `xe vm-param-set other-config:pci=NEW` (or remove when empty); undo writes OLD back.
    XeSetPci {
        /// VM uuid.
        vm: VmUuid,
        /// Previous value (`None` = key absent).
        old: Option<String>,
        /// New value.
        new: Option<String>,
    },
    /// `xe vm-start uuid=VM on=HOST`, verified running there; undo `xe vm-shutdown`.
    XeStart {
        /// VM uuid.
        vm: VmUuid,
        /// Host name-label.
        host: String,
    },
    /// `xe vm-migrate uuid=VM host=HOST` (a VM without devices); undo migrates back.
    XeMigrate {
        /// VM uuid.
        vm: VmUuid,
        /// Source host name-label.
        from: String,
        /// Target host name-label.
        to: String,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let q = crate::exec::shell_quote;
        match self {
            Action::XlDetach { host, dom, bdf, .. } => {
                write!(f, "[{host}] xl pci-detach {} {bdf}", q(dom))
            }
            Action::XlAttach {
                host, dom, spec, ..
            } => write!(f, "[{host}] xl pci-attach {} {}", q(dom), q(spec)),
            Action::XlMigrate { from, to, dom } => {
                let a: Vec<String> = migrate_args(dom, from, to).iter().map(|w| q(w)).collect();
                write!(f, "[{from}] xl {}", a.join(" "))
            }
            Action::XlShutdown {
                host,
                dom,
                force_stop,
                ..
            } => {
                write!(f, "[{host}] xl shutdown -w {}", q(dom))?;
                if *force_stop {
                    write!(f, " (xl destroy if the guest does not acknowledge)")?;
                }
                Ok(())
            }
            Action::XlCreate { host, config, .. } => {
                write!(f, "[{host}] xl create {}", q(&config.display().to_string()))
            }
            Action::WriteFile { path, .. } => {
                write!(f, "[local] write {}", q(&path.display().to_string()))
            }
            Action::CopyFile { host, path } => {
                let p = path.display().to_string();
                write!(f, "[local] scp {} {}", q(&p), q(&format!("{host}:{p}")))
            }
            Action::XeShutdown { vm, .. } => pool(f, |x| x.cmd_shutdown(vm)),
            Action::XeSetPci {
                vm, new: Some(v), ..
            } => pool(f, |x| x.cmd_set_pci(vm, v)),
            Action::XeSetPci { vm, new: None, .. } => pool(f, |x| x.cmd_remove_pci(vm)),
            Action::XeStart { vm, host } => pool(f, |x| x.cmd_start(vm, Some(host))),
            Action::XeMigrate { vm, to, .. } => pool(f, |x| x.cmd_migrate(vm, to)),
        }
    }
}

/// Shows a pool command as `[pool] xe ARGS`: the argv exactly as [`Xe`] builds and runs it,
/// shell-quoted (the program shown as `xe`, whatever `XENPCI_XE` points at).
fn pool(
    f: &mut fmt::Formatter,
    build: impl FnOnce(&Xe) -> crate::exec::CommandSpec,
) -> fmt::Result {
    let dry = crate::exec::DryRunRunner::new();
    let cmd = build(&Xe::new(&dry));
    let args: Vec<String> = cmd
        .args
        .iter()
        .map(|a| crate::exec::shell_quote(a))
        .collect();
    write!(f, "[pool] xe {}", args.join(" "))
}

fn xe_err(e: crate::xapi::XeError) -> FlowError {
    FlowError::Xe(Box::new(e))
}

/// `other-config:pci` of `vm`, `None` when the key is absent.
pub fn xe_get_pci(site: &Site, vm: &VmUuid) -> Result<Option<String>, FlowError> {
    Xe::new(site.runner).vm_pci(vm).map_err(xe_err)
}

/// The uuid of the host named `name`.
pub fn xe_host_uuid(site: &Site, name: &str) -> Result<String, FlowError> {
    Xe::new(site.runner).host_uuid(name).map_err(xe_err)
}

fn xe_power(site: &Site, vm: &VmUuid) -> Result<PowerState, FlowError> {
    Xe::new(site.runner).power_state(vm).map_err(xe_err)
}

fn xe_running_on(site: &Site, vm: &VmUuid, host: &str) -> Result<bool, FlowError> {
    let x = Xe::new(site.runner);
    if x.power_state(vm).map_err(xe_err)? != PowerState::Running {
        return Ok(false);
    }
    Ok(x.resident_on(vm).map_err(xe_err)? == Some(xe_host_uuid(site, host)?))
}

fn xe_start(site: &Site, vm: &VmUuid, host: &str) -> Result<(), FlowError> {
    Xe::new(site.runner).start(vm, Some(host)).map_err(xe_err)
}

fn xe_migrate(site: &Site, vm: &VmUuid, host: &str) -> Result<(), FlowError> {
    Xe::new(site.runner).migrate(vm, host).map_err(xe_err)
}

fn on_host(site: &Site, host: &str, dom: &str) -> Result<bool, FlowError> {
    Ok(Xl { site, host }.domain(dom)?.is_some())
}

fn attached(site: &Site, host: &str, dom: &str, bdf: Bdf) -> Result<Option<bool>, FlowError> {
    let xl = Xl { site, host };
    if xl.domain(dom)?.is_none() {
        return Ok(None);
    }
    Ok(Some(xl.pci_list(dom)?.iter().any(|e| e.bdf == bdf)))
}

impl Action {
    /// Does the step.
    pub fn perform(&self, site: &Site) -> Result<(), FlowError> {
        match self {
            Action::XlDetach { host, dom, bdf, .. } => {
                hotplug::detach(&Xl { site, host }, dom, *bdf, false, false).map(|_| ())
            }
            Action::XlAttach {
                host, dom, spec, ..
            } => hotplug::attach(&Xl { site, host }, dom, spec, false).map(|_| ()),
            Action::XlMigrate { from, to, dom } => Xl { site, host: from }
                .run(&migrate_args(dom, from, to))
                .map_err(explain_migrate_failure),
            Action::XlShutdown {
                host,
                dom,
                force_stop,
                ..
            } => {
                let xl = Xl { site, host };
                match xl.shutdown_wait(dom) {
                    // refused ("guest didn't acknowledge control request") or timed out
                    Err(_) if *force_stop => xl.run(&["destroy", dom]),
                    r => r,
                }
            }
            Action::XlCreate {
                host,
                dom,
                config,
                devices,
            } => {
                let xl = Xl { site, host };
                xl.run(&["create", &config.display().to_string()])?;
                let have = xl.pci_list(dom)?;
                match devices.iter().find(|b| !have.iter().any(|e| e.bdf == **b)) {
                    Some(b) => Err(FlowError::NotVerified {
                        detail: format!("{dom} started on {host} without {b} (xl pci-list)"),
                    }),
                    None => Ok(()),
                }
            }
            Action::WriteFile {
                path,
                content,
                previous,
            } => {
                // locked, refused when the file changed since the plan read it, backed up
                crate::fsutil::lock_file(path)?.replace(previous.as_deref(), content)?;
                Ok(())
            }
            Action::CopyFile { host, path } => {
                let p = path.display().to_string();
                let cmd = crate::exec::CommandSpec::new("scp")
                    .arg(&p)
                    .arg(format!("{host}:{p}"));
                site.runner
                    .run(&cmd)
                    .map(|_| ())
                    .map_err(|e| FlowError::Exec {
                        host: host.clone(),
                        source: Box::new(e),
                    })
            }
            Action::XeShutdown { vm, .. } => Xe::new(site.runner).shutdown(vm).map_err(xe_err),
            Action::XeSetPci { vm, new, .. } => set_pci(site, vm, new.as_deref()),
            Action::XeStart { vm, host } => {
                xe_start(site, vm, host)?;
                if xe_running_on(site, vm, host)? {
                    Ok(())
                } else {
                    Err(FlowError::NotVerified {
                        detail: format!(
                            "xe vm-start returned but VM {vm} is not running on {host}"
                        ),
                    })
                }
            }
            Action::XeMigrate { vm, to, .. } => xe_migrate(site, vm, to),
        }
    }

    /// Whether the step's effect is in place now (`None`: cannot tell).
    pub fn is_done(&self, site: &Site) -> Result<Option<bool>, FlowError> {
        Ok(match self {
            Action::XlDetach { host, dom, bdf, .. } => attached(site, host, dom, *bdf)?.map(|a| !a),
            Action::XlAttach { host, dom, bdf, .. } => {
                attached(site, host, dom, *bdf)?.or(Some(false))
            }
            Action::XlMigrate { from, to, dom } => {
                Some(on_host(site, to, dom)? && !on_host(site, from, dom)?)
            }
            Action::XlShutdown { host, dom, .. } => Some(!on_host(site, host, dom)?),
            Action::XlCreate { host, dom, .. } => Some(on_host(site, host, dom)?),
            Action::WriteFile { path, content, .. } => Some(
                crate::bounded_read::read_string(path, crate::bounded_read::CONFIG_LIMIT)
                    .ok()
                    .as_deref()
                    == Some(content),
            ),
            Action::CopyFile { .. } => None,
            Action::XeShutdown { vm, .. } => Some(xe_power(site, vm)? == PowerState::Halted),
            Action::XeSetPci { vm, new, .. } => Some(xe_get_pci(site, vm)? == *new),
            Action::XeStart { vm, host } => Some(xe_running_on(site, vm, host)?),
            Action::XeMigrate { vm, to, .. } => Some(xe_running_on(site, vm, to)?),
        })
    }

    /// Undoes the step (only called when it is done or may be).
    pub fn undo(&self, site: &Site) -> Result<(), FlowError> {
        match self {
            Action::XlDetach {
                host,
                dom,
                bdf,
                spec,
            } => match attached(site, host, dom, *bdf)? {
                Some(false) => hotplug::attach(&Xl { site, host }, dom, spec, false).map(|_| ()),
                Some(true) => Ok(()),
                // the domain is elsewhere (a later step's undo failed): re-attaching here is impossible
                None => Err(FlowError::Refused {
                    action: format!("re-attach {bdf} to {dom} on {host}"),
                    reason: format!("{dom} is not running on {host}"),
                }),
            },
            Action::XlAttach { host, dom, bdf, .. } => {
                if attached(site, host, dom, *bdf)? == Some(true) {
                    hotplug::detach(&Xl { site, host }, dom, *bdf, true, false)?;
                }
                Ok(())
            }
            Action::XlMigrate { from, to, dom } => {
                if on_host(site, to, dom)? && !on_host(site, from, dom)? {
                    Xl { site, host: to }.run(&migrate_args(dom, to, from))?;
                }
                Ok(())
            }
            Action::XlShutdown {
                host, dom, config, ..
            } => {
                if !on_host(site, host, dom)? {
                    Xl { site, host }.run(&["create", &config.display().to_string()])?;
                }
                Ok(())
            }
            Action::XlCreate { host, dom, .. } => {
                if on_host(site, host, dom)? {
                    Xl { site, host }.run(&["destroy", dom])?;
                }
                Ok(())
            }
            Action::WriteFile {
                path,
                content,
                previous,
            } => {
                // the exact bytes the plan read, and only over what the step wrote
                let file = crate::fsutil::lock_file(path)?;
                if file.read()? != *previous {
                    file.restore(content, previous.as_deref())?;
                }
                Ok(())
            }
            Action::CopyFile { .. } => Ok(()),
            Action::XeShutdown { vm, host } => {
                if !xe_running_on(site, vm, host)? {
                    xe_start(site, vm, host)?;
                }
                Ok(())
            }
            Action::XeSetPci { vm, old, .. } => set_pci(site, vm, old.as_deref()),
            Action::XeStart { vm, .. } => {
                if xe_power(site, vm)? == PowerState::Running {
                    Xe::new(site.runner).shutdown(vm).map_err(xe_err)?;
                }
                Ok(())
            }
            Action::XeMigrate { vm, from, to } => {
                if xe_running_on(site, vm, to)? {
                    xe_migrate(site, vm, from)?;
                }
                Ok(())
            }
        }
    }
}

/// `migrate DOM TO`, or for the same host `migrate -s "" DOM "xl migrate-receive"` (xl's
/// local transport, FINDINGS.md §D).
pub fn migrate_args<'a>(dom: &'a str, from: &str, to: &'a str) -> Vec<&'a str> {
    if from == to {
        vec!["migrate", "-s", "", dom, "xl migrate-receive"]
    } else {
        vec!["migrate", dom, to]
    }
}

fn set_pci(site: &Site, vm: &VmUuid, v: Option<&str>) -> Result<(), FlowError> {
    Xe::new(site.runner).put_vm_pci(vm, v).map_err(xe_err)
}

/// Explains a failed `xl migrate` by what xl printed, when xenpci knows the cause.
pub fn explain_migrate_failure(e: FlowError) -> FlowError {
    match e {
        FlowError::Xl {
            host,
            command,
            status,
            stderr,
        } if stderr.contains("Failed to enable logdirty") => FlowError::Xl {
            host: host.clone(),
            command,
            status,
            stderr: format!(
                "{stderr}\n(why: Xen on {host} cannot track the guest's dirty memory — a PV guest needs a hypervisor built with shadow paging, `shadow` in `xl info` virt_caps; the guest keeps running on {host}; move it with --cold)"
            ),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Output, RecordingRunner};
    use crate::host::HostRoot;

    const VM: &str = "33333333-3333-3333-3333-333333333333";
    const H1: &str = "11111111-1111-1111-1111-111111111111";
    const H2: &str = "22222222-2222-2222-2222-222222222222";

    fn site(r: &RecordingRunner) -> Site<'_> {
        Site {
            runner: r,
            local: Some("h1".into()),
            transport: super::super::transport::Transport::Local,
            root: HostRoot::default(),
            remote_root: "/".into(),
        }
    }

    fn vm() -> VmUuid {
        VM.parse().unwrap()
    }

    /// A pool where VM runs on h2 and every other call succeeds silently.
    fn pool() -> RecordingRunner {
        RecordingRunner::new()
            .on(|c| {
                (c.args[0] == "host-list").then(|| {
                    Output::ok(format!(
                        "uuid ( RO)            : {H1}\n    name-label ( RW): h1\n\n\nuuid ( RO)            : {H2}\n    name-label ( RW): h2\n\n\n"
                    ))
                })
            })
            .on(|c| {
                (c.args.iter().any(|a| a == "param-name=power-state"))
                    .then(|| Output::ok("running\n"))
            })
            .on(|c| {
                (c.args.iter().any(|a| a == "param-name=resident-on"))
                    .then(|| Output::ok(format!("{H2}\n")))
            })
            .on(|_| Some(Output::ok("")))
    }

    #[test]
    fn the_dry_run_shows_exactly_the_xe_argv_that_runs() {
        let cases = [
            (
                Action::XeShutdown {
                    vm: vm(),
                    host: "h1".into(),
                },
                format!("[pool] xe vm-shutdown uuid={VM}"),
            ),
            (
                Action::XeSetPci {
                    vm: vm(),
                    old: None,
                    new: Some("0/0000:81:00.0,1/0000:82:00.0".into()),
                },
                format!("[pool] xe vm-param-set uuid={VM} other-config:pci=0/0000:81:00.0,1/0000:82:00.0"),
            ),
            (
                Action::XeSetPci {
                    vm: vm(),
                    old: Some("0/0000:03:00.0".into()),
                    new: None,
                },
                format!("[pool] xe vm-param-remove uuid={VM} param-name=other-config param-key=pci"),
            ),
            (
                Action::XeStart {
                    vm: vm(),
                    host: "h2".into(),
                },
                format!("[pool] xe vm-start uuid={VM} on=h2"),
            ),
            (
                Action::XeMigrate {
                    vm: vm(),
                    from: "h1".into(),
                    to: "h2".into(),
                },
                format!("[pool] xe vm-migrate uuid={VM} host=h2"),
            ),
        ];
        for (action, shown) in cases {
            assert_eq!(action.to_string(), shown);
            let r = pool();
            action.perform(&site(&r)).unwrap();
            let first = r.calls().remove(0);
            let ran = first.split_once(' ').unwrap().1;
            assert_eq!(
                format!("[pool] xe {ran}"),
                shown,
                "what runs is what is shown"
            );
        }
    }

    #[test]
    fn a_start_that_lands_elsewhere_is_not_verified() {
        let r = pool();
        let start = |host: &str| {
            Action::XeStart {
                vm: vm(),
                host: host.into(),
            }
            .perform(&site(&r))
        };
        let e = start("h1").unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("VM {VM} is not running on h1")),
            "{e}"
        );
        let e = start("h9").unwrap_err();
        assert!(e.to_string().contains("no host is named \"h9\""), "{e}");
    }

    #[test]
    fn a_write_refuses_a_changed_file_and_its_undo_restores_the_exact_bytes() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("vm@h2.cfg");
        let r = RecordingRunner::new();
        let s = site(&r);
        let original = "name = 'vm'\r\n  pci=[ ]\n";
        std::fs::write(&p, original).unwrap();
        let step = Action::WriteFile {
            path: p.clone(),
            content: "name = 'vm'\n".into(),
            previous: Some("something else\n".into()),
        };
        let e = step.perform(&s).unwrap_err();
        assert!(e.to_string().contains("changed since it was read"), "{e}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), original);
        let step = Action::WriteFile {
            path: p.clone(),
            content: "name = 'vm'\n".into(),
            previous: Some(original.into()),
        };
        step.perform(&s).unwrap();
        assert_eq!(step.is_done(&s).unwrap(), Some(true));
        step.undo(&s).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), original.as_bytes());
        step.undo(&s).unwrap();
        assert_eq!(
            std::fs::read(&p).unwrap(),
            original.as_bytes(),
            "undo twice"
        );
    }
}
