//! The steps flows are made of. Each step knows how to do itself, how to tell whether it is
//! already done (so a resumed flow can settle a step whose outcome was not journaled), and how
//! to undo itself. Every command goes through the [`Site`] (host + transport).

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
        vm: String,
        /// Where it ran (name-label).
        host: String,
    },
    /// `xe vm-param-set other-config:pci=NEW` (or remove when empty); undo writes OLD back.
    XeSetPci {
        /// VM uuid.
        vm: String,
        /// Previous value (`None` = key absent).
        old: Option<String>,
        /// New value.
        new: Option<String>,
    },
    /// `xe vm-start uuid=VM on=HOST`, verified running there; undo `xe vm-shutdown`.
    XeStart {
        /// VM uuid.
        vm: String,
        /// Host name-label.
        host: String,
    },
    /// `xe vm-migrate uuid=VM host=HOST` (a VM without devices); undo migrates back.
    XeMigrate {
        /// VM uuid.
        vm: String,
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
            Action::XeShutdown { vm, .. } => write!(f, "[pool] xe vm-shutdown uuid={vm}"),
            Action::XeSetPci {
                vm, new: Some(v), ..
            } => write!(
                f,
                "[pool] xe vm-param-set uuid={vm} {}",
                q(&format!("other-config:pci={v}"))
            ),
            Action::XeSetPci { vm, new: None, .. } => {
                write!(
                    f,
                    "[pool] xe vm-param-remove uuid={vm} param-name=other-config param-key=pci"
                )
            }
            Action::XeStart { vm, host } => {
                write!(f, "[pool] xe vm-start uuid={vm} on={}", q(host))
            }
            Action::XeMigrate { vm, to, .. } => {
                write!(f, "[pool] xe vm-migrate uuid={vm} host={}", q(to))
            }
        }
    }
}

fn xe_err(e: crate::xapi::XeError) -> FlowError {
    FlowError::Xe(Box::new(e))
}

fn uuid(vm: &str) -> Result<crate::ids::VmUuid, FlowError> {
    vm.parse().map_err(|_| FlowError::BadInput {
        what: "VM uuid".into(),
        input: vm.into(),
        expected: "a XAPI uuid".into(),
    })
}

/// `xe ARGS…` on the pool (run where xenpci runs, through [`Xe`]); stdout trimmed.
pub fn xe(site: &Site, args: &[String]) -> Result<String, FlowError> {
    let x = Xe::new(site.runner);
    let out = x.run(&x.command(args.iter().cloned())).map_err(xe_err)?;
    Ok(out.stdout.trim_end().to_string())
}

/// `other-config:pci` of `vm`, `None` when the key is absent.
pub fn xe_get_pci(site: &Site, vm: &str) -> Result<Option<String>, FlowError> {
    Xe::new(site.runner).vm_pci(&uuid(vm)?).map_err(xe_err)
}

/// The uuid of the host named `name`.
pub fn xe_host_uuid(site: &Site, name: &str) -> Result<String, FlowError> {
    let hosts = Xe::new(site.runner).host_list().map_err(xe_err)?;
    let hits: Vec<&str> = hosts
        .iter()
        .filter(|r| r.get("name-label") == Some(name))
        .filter_map(|r| r.get("uuid"))
        .collect();
    match hits.as_slice() {
        [one] => Ok(one.to_string()),
        _ => Err(FlowError::Refused {
            action: format!("find host {name}"),
            reason: format!("xe host-list has {} hosts named {name:?}", hits.len()),
        }),
    }
}

fn xe_power(site: &Site, vm: &str) -> Result<PowerState, FlowError> {
    Xe::new(site.runner).power_state(&uuid(vm)?).map_err(xe_err)
}

fn xe_running_on(site: &Site, vm: &str, host: &str) -> Result<bool, FlowError> {
    let x = Xe::new(site.runner);
    let u = uuid(vm)?;
    if x.power_state(&u).map_err(xe_err)? != PowerState::Running {
        return Ok(false);
    }
    Ok(x.resident_on(&u).map_err(xe_err)? == Some(xe_host_uuid(site, host)?))
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
            Action::XlMigrate { from, to, dom } => {
                Xl { site, host: from }.run(&migrate_args(dom, from, to))
            }
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
            Action::XeShutdown { vm, .. } => {
                xe(site, &["vm-shutdown".into(), format!("uuid={vm}")]).map(|_| ())
            }
            Action::XeSetPci { vm, new, .. } => set_pci(site, vm, new.as_deref()),
            Action::XeStart { vm, host } => {
                xe(
                    site,
                    &[
                        "vm-start".into(),
                        format!("uuid={vm}"),
                        format!("on={host}"),
                    ],
                )?;
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
            Action::XeMigrate { vm, to, .. } => xe(
                site,
                &[
                    "vm-migrate".into(),
                    format!("uuid={vm}"),
                    format!("host={to}"),
                ],
            )
            .map(|_| ()),
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
            Action::WriteFile { path, content, .. } => {
                Some(std::fs::read_to_string(path).ok().as_deref() == Some(content))
            }
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
                    xe(
                        site,
                        &[
                            "vm-start".into(),
                            format!("uuid={vm}"),
                            format!("on={host}"),
                        ],
                    )?;
                }
                Ok(())
            }
            Action::XeSetPci { vm, old, .. } => set_pci(site, vm, old.as_deref()),
            Action::XeStart { vm, .. } => {
                if xe_power(site, vm)? == PowerState::Running {
                    Xe::new(site.runner).shutdown(&uuid(vm)?).map_err(xe_err)?;
                }
                Ok(())
            }
            Action::XeMigrate { vm, from, to } => {
                if xe_running_on(site, vm, to)? {
                    xe(
                        site,
                        &[
                            "vm-migrate".into(),
                            format!("uuid={vm}"),
                            format!("host={from}"),
                        ],
                    )?;
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

fn set_pci(site: &Site, vm: &str, v: Option<&str>) -> Result<(), FlowError> {
    Xe::new(site.runner)
        .put_vm_pci(&uuid(vm)?, v)
        .map_err(xe_err)
}
