//! The command table of the mock `xe`: each command's name, required params (checked in order
//! before anything is looked up, as `cli_frontend.ml` does), whether it needs xapi ≥ 24.14
//! (XCP-ng 8.3, the `pci-*` commands), and its implementation.

pub mod host;
pub mod mock;
pub mod params;
pub mod pci;
pub mod vm_power;

use crate::args::{CommandLine, Params};
use crate::errors::XeError;
use crate::output::Printer;
use crate::plugin::PluginCall;
use crate::records::Class;
use crate::state::State;

/// Params that are never filters (`stdparams`).
pub const STDPARAMS: [&str; 10] = [
    "server",
    "password",
    "port",
    "username",
    "minimal",
    "force",
    "multiple",
    "all",
    "message-priority",
    "trace",
];

/// What a command works on.
pub struct Ctx<'a> {
    pub state: &'a mut State,
    pub params: &'a Params,
    pub out: &'a mut Printer,
}

/// Work left after the state lock is released.
pub enum Next {
    Done,
    /// Run a host plugin (it may call `xe` itself, so never under the lock).
    Plugin(PluginCall),
}

type Run = fn(&mut Ctx) -> Result<Next, XeError>;

struct Command {
    name: &'static str,
    reqd: &'static [&'static str],
    pci_api: bool,
    run: Run,
}

macro_rules! class_cmds {
    ($class:expr, $prefix:literal, $api:expr) => {
        [
            Command {
                name: concat!($prefix, "-list"),
                reqd: &[],
                pci_api: $api,
                run: |c| params::list(c, $class),
            },
            Command {
                name: concat!($prefix, "-param-list"),
                reqd: &["uuid"],
                pci_api: $api,
                run: |c| params::param_list(c, $class),
            },
            Command {
                name: concat!($prefix, "-param-get"),
                reqd: &["uuid", "param-name"],
                pci_api: $api,
                run: |c| params::param_get(c, $class),
            },
            Command {
                name: concat!($prefix, "-param-set"),
                reqd: &["uuid"],
                pci_api: $api,
                run: |c| params::param_set(c, $class),
            },
            Command {
                name: concat!($prefix, "-param-add"),
                reqd: &["uuid", "param-name"],
                pci_api: $api,
                run: |c| params::param_add(c, $class),
            },
            Command {
                name: concat!($prefix, "-param-remove"),
                reqd: &["uuid", "param-name", "param-key"],
                pci_api: $api,
                run: |c| params::param_remove(c, $class),
            },
            Command {
                name: concat!($prefix, "-param-clear"),
                reqd: &["uuid", "param-name"],
                pci_api: $api,
                run: |c| params::param_clear(c, $class),
            },
        ]
    };
}

fn table() -> Vec<Command> {
    let mut t = Vec::new();
    t.extend(class_cmds!(Class::Vm, "vm", false));
    t.extend(class_cmds!(Class::Host, "host", false));
    t.extend(class_cmds!(Class::Pci, "pci", true));
    t.extend([
        Command {
            name: "vm-start",
            reqd: &[],
            pci_api: false,
            run: vm_power::start,
        },
        Command {
            name: "vm-shutdown",
            reqd: &[],
            pci_api: false,
            run: vm_power::shutdown,
        },
        Command {
            name: "vm-reboot",
            reqd: &[],
            pci_api: false,
            run: vm_power::reboot,
        },
        Command {
            name: "vm-migrate",
            reqd: &[],
            pci_api: false,
            run: vm_power::migrate,
        },
        Command {
            name: "host-call-plugin",
            reqd: &["host-uuid", "plugin", "fn"],
            pci_api: false,
            run: host::call_plugin,
        },
        Command {
            name: "pci-disable-dom0-access",
            reqd: &["uuid"],
            pci_api: true,
            run: pci::disable,
        },
        Command {
            name: "pci-enable-dom0-access",
            reqd: &["uuid"],
            pci_api: true,
            run: pci::enable,
        },
        Command {
            name: "pci-get-dom0-access-status",
            reqd: &["uuid"],
            pci_api: true,
            run: pci::status,
        },
        // Mock-only (the real xe has no such command): see commands/mock.rs.
        Command {
            name: "mock-host-reboot",
            reqd: &["host-uuid"],
            pci_api: false,
            run: mock::host_reboot,
        },
    ]);
    t
}

/// Real xe commands the mock does not emulate: calling one is a gap in the mock (exit 2), not
/// an `Unknown command` the real xe would never print.
const NOT_EMULATED: &[&str] = &[
    "help",
    "vm-suspend",
    "vm-resume",
    "vm-pause",
    "vm-unpause",
    "vm-install",
    "vm-uninstall",
    "vm-clone",
    "vm-copy",
    "vm-snapshot",
    "vm-destroy",
    "vm-reset-powerstate",
    "host-reboot",
    "host-shutdown",
    "host-disable",
    "host-enable",
    "host-evacuate",
    "pool-list",
    "pool-param-get",
    "pool-param-list",
    "sr-list",
    "network-list",
    "pif-list",
    "vif-list",
    "vbd-list",
    "vdi-list",
    "pgpu-list",
    "pgpu-param-get",
    "pgpu-enable-dom0-access",
    "pgpu-disable-dom0-access",
    "event-wait",
    "vm-vif-list",
    "vm-disk-list",
    "vm-cd-list",
];

/// Whether `name` is a real xe command the mock leaves out.
pub fn not_emulated(name: &str) -> bool {
    NOT_EMULATED.contains(&name)
}

/// Whether `name` is a command of the emulated xe (for the call counters and faults).
pub fn exists(name: &str, state: &State) -> bool {
    table()
        .iter()
        .any(|c| c.name == name && (!c.pci_api || state.has_pci_api()))
}

/// Runs one command line against the state.
pub fn dispatch(cmd: &CommandLine, state: &mut State, out: &mut Printer) -> Result<Next, XeError> {
    let t = table();
    let c = t
        .iter()
        .find(|c| c.name == cmd.name && (!c.pci_api || state.has_pci_api()))
        .ok_or_else(|| XeError::UnknownCommand(cmd.name.clone()))?;
    for p in c.reqd {
        cmd.params.required(p)?;
    }
    let mut ctx = Ctx {
        state,
        params: &cmd.params,
        out,
    };
    (c.run)(&mut ctx)
}
