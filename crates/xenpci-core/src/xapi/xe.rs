//! [`Xe`]: typed calls to XAPI's `xe` CLI. Every call is first built as a [`CommandSpec`] (so a dry
//! run can print exactly what would run, and a [`Runner`] decides whether it runs), then its output
//! is read with the parsers of [`super::output`] and its failures are recognised by xe's exact
//! error texts (xapi-xe.md §2.4).

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::output::{self, OutputError, Record};
use crate::exec::{CommandSpec, ExecError, Output, Runner, Tool};
use crate::ids::{looks_like_uuid, VmUuid};

/// xe's stderr when `vm-param-get … param-key=K` names a key that is not in the map.
pub const KEY_NOT_FOUND: &str = "Error: Key pci not found in map";
/// xe's stderr when `vm-param-remove … param-key=K` names a key that is not in the map.
pub const KEY_NOT_IN_MAP: &str = "Error: Key pci is not in map";
/// First line of xe's UUID_INVALID error.
pub const UUID_INVALID: &str = "The uuid you supplied was invalid.";
/// First line of xe's VM_BAD_POWER_STATE error.
pub const VM_BAD_POWER_STATE: &str =
    "You attempted an operation on a VM that was not in an appropriate power state at the time;";
/// First line of xe's VM_HAS_PCI_ATTACHED error (`vm-migrate` of a VM with devices plugged).
pub const VM_HAS_PCI_ATTACHED: &str =
    "This operation could not be performed, because the VM has one or more PCI devices passed through.";
/// xe's stderr when a VM selector matches nothing.
pub const NO_MATCHING_VMS: &str = "Error: No matching VMs found";

/// Why an xe call failed.
#[derive(Debug, thiserror::Error)]
pub enum XeError {
    /// xe could not be run at all (or this is a dry run).
    #[error(transparent)]
    Exec(Box<ExecError>),
    /// xe ran and reported an error.
    #[error("`{command}` failed (exit {status}): {stderr}")]
    Failed {
        /// The command, shell-quoted.
        command: String,
        /// Exit status or "signal".
        status: String,
        /// xe's error text, trimmed.
        stderr: String,
    },
    /// No VM has this name-label or uuid.
    #[error("no VM has the name-label or uuid {input:?}")]
    NoSuchVm {
        /// What the user gave.
        input: String,
    },
    /// Several VMs share this name-label.
    #[error("{count} VMs are named {input:?} ({uuids}): give the uuid instead")]
    AmbiguousVm {
        /// What the user gave.
        input: String,
        /// How many matched.
        count: usize,
        /// Their uuids, comma-separated.
        uuids: String,
    },
    /// The VM was not in the power state the operation needs.
    #[error("VM {vm} is {actual}, but `{command}` needs it {expected}")]
    BadPowerState {
        /// The command, shell-quoted.
        command: String,
        /// The VM uuid.
        vm: String,
        /// Allowed states as xe listed them.
        expected: String,
        /// The state it was in.
        actual: String,
    },
    /// No host has this name-label.
    #[error("no host is named {input:?} (xe host-list)")]
    NoSuchHost {
        /// The name asked for.
        input: String,
    },
    /// Several hosts share this name-label.
    #[error("{count} hosts are named {input:?} ({uuids}): rename them or give a unique name")]
    AmbiguousHost {
        /// The name asked for.
        input: String,
        /// How many matched.
        count: usize,
        /// Their uuids, comma-separated.
        uuids: String,
    },
    /// XAPI refused to migrate a VM with PCI devices plugged (VM_HAS_PCI_ATTACHED).
    #[error("`{command}` refused: VM {vm} has PCI devices passed through (VM_HAS_PCI_ATTACHED); it can only move cold")]
    PciAttached {
        /// The command, shell-quoted.
        command: String,
        /// The VM as xe named it (`uuid (name-label)`).
        vm: String,
    },
    /// xe's output could not be read.
    #[error("cannot read the output of `{command}`: {source}")]
    Output {
        /// The command, shell-quoted.
        command: String,
        /// What was wrong.
        #[source]
        source: OutputError,
    },
    /// xe printed something unexpected.
    #[error("unexpected output from `{command}`: {detail}")]
    Unexpected {
        /// The command, shell-quoted.
        command: String,
        /// What was expected and what came.
        detail: String,
    },
    /// The VM did not reach a power state in time.
    #[error("VM {vm} did not become {wanted} within {secs} s (last seen: {last})")]
    WaitTimeout {
        /// The VM uuid.
        vm: String,
        /// The state waited for.
        wanted: PowerState,
        /// Seconds waited.
        secs: u64,
        /// The last state read.
        last: String,
    },
}

impl From<ExecError> for XeError {
    fn from(e: ExecError) -> XeError {
        XeError::Exec(Box::new(e))
    }
}

/// A VM power state as xe prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerState {
    /// `halted`
    Halted,
    /// `running`
    Running,
    /// `paused`
    Paused,
    /// `suspended`
    Suspended,
}

impl PowerState {
    /// Reads xe's lower-case spelling.
    pub fn parse(s: &str) -> Option<PowerState> {
        Some(match s.trim() {
            "halted" => PowerState::Halted,
            "running" => PowerState::Running,
            "paused" => PowerState::Paused,
            "suspended" => PowerState::Suspended,
            _ => return None,
        })
    }
}

impl fmt::Display for PowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PowerState::Halted => "halted",
            PowerState::Running => "running",
            PowerState::Paused => "paused",
            PowerState::Suspended => "suspended",
        })
    }
}

/// A VM as `vm-list params=uuid,name-label,power-state,other-config` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmInfo {
    /// The VM's uuid.
    pub uuid: VmUuid,
    /// Its name-label.
    pub name_label: String,
    /// Its power state (None when not printed or unknown).
    pub power_state: Option<PowerState>,
    /// Its other-config map in stored order (empty when not printed).
    pub other_config: Vec<(String, String)>,
}

impl VmInfo {
    /// True for a control domain (dom0), which `vm-list` includes.
    pub fn is_control_domain(&self) -> bool {
        self.name_label.starts_with("Control domain on host:")
    }
}

/// The dom0-access status of a PCI object (XCP-ng 8.3 `pci-get-dom0-access-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dom0Access {
    /// dom0 uses the device.
    Enabled,
    /// Hidden in the boot config, not yet in the running boot.
    DisableOnReboot,
    /// Hidden from dom0 now.
    Disabled,
    /// Hidden now, un-hidden at next boot.
    EnableOnReboot,
}

/// Typed access to `xe`, through a [`Runner`].
pub struct Xe<'a> {
    /// Runs the commands (system, dry run, or a test double).
    pub runner: &'a dyn Runner,
    /// How long [`Xe::wait_power_state`] waits.
    pub wait_timeout: Duration,
}

impl<'a> Xe<'a> {
    /// An xe driver over `runner`; the wait timeout comes from `XENPCI_XE_WAIT_SECS` (default
    /// 600 s, see [`crate::config::Config::xe_wait`]).
    pub fn new(runner: &'a dyn Runner) -> Xe<'a> {
        Xe {
            runner,
            wait_timeout: crate::config::get().xe_wait,
        }
    }

    /// The command `xe ARGS...` (the program from `XENPCI_XE`, else PATH).
    pub fn command<I, S>(&self, args: I) -> CommandSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Tool::Xe.command().args(args)
    }

    /// `xe vm-param-get uuid=VM param-name=other-config param-key=pci` (never `--minimal`, which
    /// escapes commas).
    pub fn cmd_get_pci(&self, vm: &VmUuid) -> CommandSpec {
        self.command([
            "vm-param-get".to_string(),
            format!("uuid={vm}"),
            "param-name=other-config".into(),
            "param-key=pci".into(),
        ])
    }

    /// `xe vm-param-set uuid=VM other-config:pci=VALUE`.
    pub fn cmd_set_pci(&self, vm: &VmUuid, value: &str) -> CommandSpec {
        self.command([
            "vm-param-set".to_string(),
            format!("uuid={vm}"),
            format!("other-config:pci={value}"),
        ])
    }

    /// `xe vm-param-remove uuid=VM param-name=other-config param-key=pci`.
    pub fn cmd_remove_pci(&self, vm: &VmUuid) -> CommandSpec {
        self.command([
            "vm-param-remove".to_string(),
            format!("uuid={vm}"),
            "param-name=other-config".into(),
            "param-key=pci".into(),
        ])
    }

    /// `xe vm-shutdown uuid=VM` (clean shutdown).
    pub fn cmd_shutdown(&self, vm: &VmUuid) -> CommandSpec {
        self.command(["vm-shutdown".to_string(), format!("uuid={vm}")])
    }

    /// `xe vm-start uuid=VM [on=HOST]`.
    pub fn cmd_start(&self, vm: &VmUuid, on: Option<&str>) -> CommandSpec {
        let mut c = self.command(["vm-start".to_string(), format!("uuid={vm}")]);
        if let Some(h) = on {
            c = c.arg(format!("on={h}"));
        }
        c
    }

    /// `xe vm-migrate uuid=VM host=HOST` (intra-pool; HOST is a name-label or uuid).
    pub fn cmd_migrate(&self, vm: &VmUuid, host: &str) -> CommandSpec {
        self.command([
            "vm-migrate".to_string(),
            format!("uuid={vm}"),
            format!("host={host}"),
        ])
    }

    /// `xe vm-list resident-on=HOST is-control-domain=false power-state=running params=uuid
    /// --minimal`: the running guests of a host (by host uuid).
    pub fn cmd_resident_vms(&self, host_uuid: &str) -> CommandSpec {
        self.command([
            "vm-list".to_string(),
            format!("resident-on={host_uuid}"),
            "is-control-domain=false".into(),
            "power-state=running".into(),
            "params=uuid".into(),
            "--minimal".into(),
        ])
    }

    /// Runs a command; a non-zero exit becomes [`XeError`] (power-state errors recognised).
    pub fn run(&self, cmd: &CommandSpec) -> Result<Output, XeError> {
        let out = self.runner.output(cmd)?;
        if out.success() {
            Ok(out)
        } else {
            Err(failure(cmd, &out))
        }
    }

    /// The uuid of the VM named `name_or_uuid` (a uuid is checked to exist).
    pub fn vm_lookup(&self, name_or_uuid: &str) -> Result<VmUuid, XeError> {
        let filter = if looks_like_uuid(name_or_uuid) {
            "uuid"
        } else {
            "name-label"
        };
        let cmd = self.command([
            "vm-list".to_string(),
            format!("{filter}={name_or_uuid}"),
            "params=uuid".into(),
            "--minimal".into(),
        ]);
        let out = self.run(&cmd)?;
        let uuids = output::minimal(&out.stdout);
        match uuids.as_slice() {
            [] => Err(XeError::NoSuchVm {
                input: name_or_uuid.to_string(),
            }),
            [one] => one.parse().map_err(|_| XeError::Unexpected {
                command: cmd.to_string(),
                detail: format!("expected a VM uuid, got {one:?}"),
            }),
            many => Err(XeError::AmbiguousVm {
                input: name_or_uuid.to_string(),
                count: many.len(),
                uuids: many.join(", "),
            }),
        }
    }

    /// `xe vm-list FILTERS params=PARAMS` as records.
    pub fn vm_records(
        &self,
        filters: &[(&str, &str)],
        params: &str,
    ) -> Result<Vec<Record>, XeError> {
        let mut args = vec!["vm-list".to_string()];
        args.extend(filters.iter().map(|(k, v)| format!("{k}={v}")));
        args.push(format!("params={params}"));
        self.records(&self.command(args))
    }

    /// Every VM (dom0 included) with uuid, name-label, power-state and other-config.
    pub fn vm_list(&self) -> Result<Vec<VmInfo>, XeError> {
        let cmd = self.command(["vm-list", "params=uuid,name-label,power-state,other-config"]);
        self.records(&cmd)?
            .iter()
            .map(|r| vm_info(&cmd, r))
            .collect()
    }

    /// One VM's uuid, name-label, power-state and other-config.
    pub fn vm_info(&self, vm: &VmUuid) -> Result<VmInfo, XeError> {
        let cmd = self.command([
            "vm-list".to_string(),
            format!("uuid={vm}"),
            "params=uuid,name-label,power-state,other-config".into(),
        ]);
        let recs = self.records(&cmd)?;
        match recs.as_slice() {
            [r] => vm_info(&cmd, r),
            [] => Err(XeError::NoSuchVm {
                input: vm.to_string(),
            }),
            _ => Err(XeError::Unexpected {
                command: cmd.to_string(),
                detail: format!("{} records for one uuid", recs.len()),
            }),
        }
    }

    /// `xe vm-param-get uuid=VM param-name=NAME` (plain value).
    pub fn vm_param(&self, vm: &VmUuid, name: &str) -> Result<String, XeError> {
        let cmd = self.command([
            "vm-param-get".to_string(),
            format!("uuid={vm}"),
            format!("param-name={name}"),
        ]);
        Ok(output::value(&self.run(&cmd)?.stdout).to_string())
    }

    /// The VM's `other-config:pci` value; None when the key is absent (xe's exact
    /// `Error: Key pci not found in map`). Read without `--minimal`, which would escape commas.
    pub fn vm_pci(&self, vm: &VmUuid) -> Result<Option<String>, XeError> {
        let cmd = self.cmd_get_pci(vm);
        let out = self.runner.output(&cmd)?;
        if out.success() {
            return Ok(Some(output::value(&out.stdout).to_string()));
        }
        if out.status == Some(1) && out.stderr.trim_end() == KEY_NOT_FOUND {
            return Ok(None);
        }
        Err(failure(&cmd, &out))
    }

    /// Writes the whole `other-config:pci` value (other keys untouched).
    pub fn set_vm_pci(&self, vm: &VmUuid, value: &str) -> Result<(), XeError> {
        self.run(&self.cmd_set_pci(vm, value)).map(drop)
    }

    /// Removes the `pci` key only (never `vm-param-clear`, which wipes the whole map). A key that
    /// is already absent is not an error.
    pub fn remove_vm_pci(&self, vm: &VmUuid) -> Result<(), XeError> {
        let cmd = self.cmd_remove_pci(vm);
        let out = self.runner.output(&cmd)?;
        if out.success() || (out.status == Some(1) && out.stderr.trim_end() == KEY_NOT_IN_MAP) {
            Ok(())
        } else {
            Err(failure(&cmd, &out))
        }
    }

    /// Writes `value`, or removes the key when `value` is None.
    pub fn put_vm_pci(&self, vm: &VmUuid, value: Option<&str>) -> Result<(), XeError> {
        match value {
            Some(v) => self.set_vm_pci(vm, v),
            None => self.remove_vm_pci(vm),
        }
    }

    /// The VM's power state.
    pub fn power_state(&self, vm: &VmUuid) -> Result<PowerState, XeError> {
        let v = self.vm_param(vm, "power-state")?;
        PowerState::parse(&v).ok_or_else(|| XeError::Unexpected {
            command: format!("xe vm-param-get uuid={vm} param-name=power-state"),
            detail: format!("unknown power state {v:?}"),
        })
    }

    /// The host the VM runs on (`resident-on`), None when halted or not reported.
    pub fn resident_on(&self, vm: &VmUuid) -> Result<Option<String>, XeError> {
        let v = self.vm_param(vm, "resident-on")?;
        Ok(looks_like_uuid(&v).then_some(v))
    }

    /// Clean shutdown (`vm-shutdown`, never `--force`).
    pub fn shutdown(&self, vm: &VmUuid) -> Result<(), XeError> {
        self.run(&self.cmd_shutdown(vm)).map(drop)
    }

    /// `vm-start`, optionally on a given host.
    pub fn start(&self, vm: &VmUuid, on: Option<&str>) -> Result<(), XeError> {
        self.run(&self.cmd_start(vm, on)).map(drop)
    }

    /// Intra-pool `vm-migrate` to `host`; a VM with devices plugged is refused by XAPI
    /// ([`XeError::PciAttached`]).
    pub fn migrate(&self, vm: &VmUuid, host: &str) -> Result<(), XeError> {
        self.run(&self.cmd_migrate(vm, host)).map(drop)
    }

    /// The running guests (not dom0) resident on the host with uuid `host_uuid`.
    pub fn resident_vms(&self, host_uuid: &str) -> Result<Vec<VmUuid>, XeError> {
        let cmd = self.cmd_resident_vms(host_uuid);
        output::minimal(&self.run(&cmd)?.stdout)
            .iter()
            .map(|u| {
                u.parse().map_err(|_| XeError::Unexpected {
                    command: cmd.to_string(),
                    detail: format!("expected a VM uuid, got {u:?}"),
                })
            })
            .collect()
    }

    /// Polls the power state until it is `wanted` (or [`Xe::wait_timeout`] passes).
    pub fn wait_power_state(&self, vm: &VmUuid, wanted: PowerState) -> Result<(), XeError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            let now = self.power_state(vm)?;
            if now == wanted {
                return Ok(());
            }
            if start.elapsed() >= self.wait_timeout {
                return Err(XeError::WaitTimeout {
                    vm: vm.to_string(),
                    wanted,
                    secs: self.wait_timeout.as_secs(),
                    last: now.to_string(),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// `xe host-list` records (uuid, name-label, name-description).
    pub fn host_list(&self) -> Result<Vec<Record>, XeError> {
        self.records(&self.command(["host-list"]))
    }

    /// The uuid of the host whose name-label is `name` (exactly one must match).
    pub fn host_uuid(&self, name: &str) -> Result<String, XeError> {
        let hosts = self.host_list()?;
        let hits = output::uuids_labelled(&hosts, name);
        match hits.as_slice() {
            [one] => Ok(one.to_string()),
            [] => Err(XeError::NoSuchHost { input: name.into() }),
            many => Err(XeError::AmbiguousHost {
                input: name.into(),
                count: many.len(),
                uuids: many.join(", "),
            }),
        }
    }

    /// `xe pci-list [pci-id=BDF] params=all` records (XCP-ng 8.3 only; 8.2 fails with
    /// `Unknown command: pci-list`).
    pub fn pci_list(&self, pci_id: Option<&str>) -> Result<Vec<Record>, XeError> {
        let mut args = vec!["pci-list".to_string()];
        if let Some(id) = pci_id {
            args.push(format!("pci-id={id}"));
        }
        args.push("params=all".into());
        self.records(&self.command(args))
    }

    /// `xe pci-get-dom0-access-status uuid=PCI` (XCP-ng 8.3 only).
    pub fn dom0_access_status(&self, pci_uuid: &str) -> Result<Dom0Access, XeError> {
        let cmd = self.command([
            "pci-get-dom0-access-status".to_string(),
            format!("uuid={pci_uuid}"),
        ]);
        let out = self.run(&cmd)?;
        match output::value(&out.stdout) {
            "enabled" => Ok(Dom0Access::Enabled),
            "disable_on_reboot" => Ok(Dom0Access::DisableOnReboot),
            "disabled" => Ok(Dom0Access::Disabled),
            "enable_on_reboot" => Ok(Dom0Access::EnableOnReboot),
            other => Err(XeError::Unexpected {
                command: cmd.to_string(),
                detail: format!("unknown dom0 access status {other:?}"),
            }),
        }
    }

    fn records(&self, cmd: &CommandSpec) -> Result<Vec<Record>, XeError> {
        let out = self.run(cmd)?;
        output::records(&out.stdout).map_err(|source| XeError::Output {
            command: cmd.to_string(),
            source,
        })
    }
}

fn vm_info(cmd: &CommandSpec, r: &Record) -> Result<VmInfo, XeError> {
    let bad = |detail: String| XeError::Unexpected {
        command: cmd.to_string(),
        detail,
    };
    let uuid = r
        .get("uuid")
        .ok_or_else(|| bad("a record without uuid".into()))?;
    let other_config = match r.get("other-config") {
        Some(m) => output::map(m).map_err(|source| XeError::Output {
            command: cmd.to_string(),
            source,
        })?,
        None => Vec::new(),
    };
    Ok(VmInfo {
        uuid: uuid
            .parse()
            .map_err(|_| bad(format!("bad VM uuid {uuid:?}")))?,
        name_label: r.get("name-label").unwrap_or_default().to_string(),
        power_state: r.get("power-state").and_then(PowerState::parse),
        other_config,
    })
}

/// Turns a failed xe run into an error, recognising VM_BAD_POWER_STATE.
fn failure(cmd: &CommandSpec, out: &Output) -> XeError {
    let text = if out.stderr.trim().is_empty() {
        out.stdout.trim()
    } else {
        out.stderr.trim()
    };
    if text.starts_with(VM_BAD_POWER_STATE) {
        let param = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let vm = param("vm: ");
        return XeError::BadPowerState {
            command: cmd.to_string(),
            vm: vm.split(' ').next().unwrap_or_default().to_string(),
            expected: param("expected: "),
            actual: param("actual: "),
        };
    }
    if text.starts_with(VM_HAS_PCI_ATTACHED) {
        let vm = text
            .lines()
            .find_map(|l| l.strip_prefix("vm: "))
            .unwrap_or("<unknown>");
        return XeError::PciAttached {
            command: cmd.to_string(),
            vm: vm.trim().to_string(),
        };
    }
    XeError::Failed {
        command: cmd.to_string(),
        status: out
            .status
            .map_or_else(|| "signal".to_string(), |s| s.to_string()),
        stderr: text.replace('\n', " / "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::RecordingRunner;

    const A: &str = "0a3e6c1e-0000-4000-8000-000000000003";
    const B: &str = "7c9d4e5f-0000-4000-8000-000000000004";

    fn err(stderr: &str) -> Output {
        Output {
            status: Some(1),
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }

    fn has(c: &CommandSpec, words: &[&str]) -> bool {
        words.iter().all(|w| c.args.iter().any(|a| a == w))
    }

    #[test]
    fn lookup_by_name_by_uuid_none_and_several() {
        let r = RecordingRunner::new()
            .on(|c| has(c, &["name-label=pt-vm"]).then(|| Output::ok(format!("{A}\n"))))
            .on(|c| has(c, &["name-label=dup"]).then(|| Output::ok(format!("{A},{B}\n"))))
            .on(|c| has(c, &[&format!("uuid={B}")]).then(|| Output::ok(format!("{B}\n"))))
            .on(|c| (c.args[0] == "vm-list").then(|| Output::ok("\n")));
        let xe = Xe::new(&r);
        assert_eq!(xe.vm_lookup("pt-vm").unwrap().as_str(), A);
        assert_eq!(xe.vm_lookup(B).unwrap().as_str(), B);
        let e = xe.vm_lookup("nope").unwrap_err().to_string();
        assert!(e.contains("\"nope\""), "{e}");
        let e = xe.vm_lookup("dup").unwrap_err().to_string();
        assert!(
            e.contains("2 VMs are named \"dup\"") && e.contains(B),
            "{e}"
        );
        assert!(r.calls()[0].ends_with("vm-list name-label=pt-vm params=uuid --minimal"));
        assert!(r.calls()[1].ends_with(&format!("vm-list uuid={B} params=uuid --minimal")));
    }

    #[test]
    fn pci_get_tells_a_missing_key_from_other_errors() {
        let r = RecordingRunner::new()
            .on(|c| has(c, &[&format!("uuid={A}")]).then(|| Output::ok("0/0000:06:00.0\n")))
            .on(|c| {
                has(c, &[&format!("uuid={B}")]).then(|| err("Error: Key pci not found in map\n"))
            })
            .on(|_| {
                Some(err(
                    "The uuid you supplied was invalid.\ntype: VM\nuuid: deadbeef\n",
                ))
            });
        let xe = Xe::new(&r);
        assert_eq!(
            xe.vm_pci(&A.parse().unwrap()).unwrap().as_deref(),
            Some("0/0000:06:00.0")
        );
        assert_eq!(xe.vm_pci(&B.parse().unwrap()).unwrap(), None);
        let e = xe
            .vm_pci(&"00000000-0000-4000-8000-000000000000".parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("The uuid you supplied was invalid."), "{e}");
        assert!(r.calls()[0].ends_with(&format!(
            "vm-param-get uuid={A} param-name=other-config param-key=pci"
        )));
    }

    #[test]
    fn set_and_remove_build_the_exact_argv() {
        let r = RecordingRunner::new()
            .on(|c| (c.args[0] == "vm-param-set").then(|| Output::ok("")))
            .on(|_| Some(err("Error: Key pci is not in map\n")));
        let xe = Xe::new(&r);
        let a: VmUuid = A.parse().unwrap();
        xe.set_vm_pci(&a, "0/0000:06:00.0,1/0000:07:00.0").unwrap();
        xe.remove_vm_pci(&a).unwrap();
        let calls = r.calls();
        assert!(calls[0].ends_with(&format!(
            "vm-param-set uuid={A} other-config:pci=0/0000:06:00.0,1/0000:07:00.0"
        )));
        assert!(calls[1].ends_with(&format!(
            "vm-param-remove uuid={A} param-name=other-config param-key=pci"
        )));
        assert!(!calls.iter().any(|c| c.contains("vm-param-clear")));
    }

    #[test]
    fn bad_power_state_is_recognised() {
        let text = format!("{VM_BAD_POWER_STATE} for example, you attempted to start a VM that was already running. The parameters returned are the VM's handle, and the expected and actual VM state at the time of the call.\nvm: {B} (web)\nexpected: halted\nactual: running\n");
        let r = RecordingRunner::new().on(move |_| Some(err(&text)));
        let xe = Xe::new(&r);
        match xe.start(&B.parse().unwrap(), None).unwrap_err() {
            XeError::BadPowerState {
                vm,
                expected,
                actual,
                ..
            } => {
                assert_eq!(
                    (vm.as_str(), expected.as_str(), actual.as_str()),
                    (B, "halted", "running")
                );
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn vm_list_reads_other_config_maps() {
        let out = format!("uuid ( RO)            : {A}\n      name-label ( RW): pt-vm\n     power-state ( RO): halted\n    other-config (MRW): mac_seed: m1; pci: 0/0000:06:00.0\n\n\nuuid ( RO)            : {B}\n      name-label ( RW): web\n     power-state ( RO): running\n    other-config (MRW): \n\n\n");
        let r = RecordingRunner::new().on(move |_| Some(Output::ok(out.clone())));
        let vms = Xe::new(&r).vm_list().unwrap();
        assert_eq!(vms.len(), 2);
        assert_eq!(
            vms[0].other_config[1],
            ("pci".into(), "0/0000:06:00.0".into())
        );
        assert_eq!(vms[1].power_state, Some(PowerState::Running));
        assert!(vms[1].other_config.is_empty());
    }

    #[test]
    fn migrate_and_resident_vms_build_the_exact_argv_and_read_minimal_output() {
        let text = format!("{VM_HAS_PCI_ATTACHED}\nvm: {A} (pt-vm)\n");
        let r = RecordingRunner::new()
            .on(|c| (c.args[0] == "vm-list").then(|| Output::ok(format!("{A},{B}\n"))))
            .on(move |c| (c.args[0] == "vm-migrate").then(|| err(&text)));
        let xe = Xe::new(&r);
        let h = "22222222-2222-2222-2222-222222222222";
        let vms = xe.resident_vms(h).unwrap();
        assert_eq!(vms, vec![A.parse().unwrap(), B.parse::<VmUuid>().unwrap()]);
        match xe.migrate(&A.parse().unwrap(), "h2").unwrap_err() {
            XeError::PciAttached { vm, .. } => assert_eq!(vm, format!("{A} (pt-vm)")),
            e => panic!("{e}"),
        }
        let calls = r.calls();
        assert!(calls[0].ends_with(&format!(
            "vm-list resident-on={h} is-control-domain=false power-state=running params=uuid --minimal"
        )));
        assert!(calls[1].ends_with(&format!("vm-migrate uuid={A} host=h2")));
    }

    #[test]
    fn an_empty_resident_list_and_a_bad_uuid_in_it() {
        let r = RecordingRunner::new()
            .on(|c| has(c, &["resident-on=a"]).then(|| Output::ok("\n")))
            .on(|_| Some(Output::ok("not-a-uuid\n")));
        let xe = Xe::new(&r);
        assert_eq!(xe.resident_vms("a").unwrap(), vec![]);
        let e = xe.resident_vms("b").unwrap_err().to_string();
        assert!(e.contains("expected a VM uuid, got \"not-a-uuid\""), "{e}");
    }

    #[test]
    fn host_uuid_by_name_none_and_several() {
        let out = "uuid ( RO)                : 11111111-1111-1111-1111-111111111111\n          name-label ( RW): h1\n    name-description ( RW): \n\n\nuuid ( RO)                : 22222222-2222-2222-2222-222222222222\n          name-label ( RW): twin\n    name-description ( RW): \n\n\nuuid ( RO)                : 33333333-3333-3333-3333-333333333333\n          name-label ( RW): twin\n    name-description ( RW): \n\n\n";
        let r = RecordingRunner::new().on(move |_| Some(Output::ok(out)));
        let xe = Xe::new(&r);
        assert_eq!(
            xe.host_uuid("h1").unwrap(),
            "11111111-1111-1111-1111-111111111111"
        );
        assert!(matches!(
            xe.host_uuid("h9"),
            Err(XeError::NoSuchHost { .. })
        ));
        let e = xe.host_uuid("twin").unwrap_err().to_string();
        assert!(e.starts_with("2 hosts are named \"twin\""), "{e}");
        assert!(r.calls()[0].ends_with("xe host-list") || r.calls()[0].ends_with(" host-list"));
    }

    #[test]
    fn dom0_access_status_values() {
        let r = RecordingRunner::new().on(|_| Some(Output::ok("disable_on_reboot\n")));
        assert_eq!(
            Xe::new(&r)
                .dom0_access_status("c0ffee00-0000-4000-8000-000000000010")
                .unwrap(),
            Dom0Access::DisableOnReboot
        );
    }
}
