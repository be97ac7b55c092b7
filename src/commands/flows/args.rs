//! The flow subcommands' clap model: the commands ([`FlowCmd`]), their arguments, the shared
//! options (transport, hosts, state dir) and the value parsers they use. What each command does
//! is in [`super`] and [`super::journals`].

use clap::{Args, Subcommand};
use xenpci::exec::SystemRunner;
use xenpci::flows::mapping::Mapping;
use xenpci::flows::migrate::Toolstack;
use xenpci::flows::transport::{Site, Transport};
use xenpci::flows::{evacuate, hotplug, FlowError};
use xenpci::pci::Bdf;

use crate::commands::Globals;

/// Options of every flow command.
#[derive(Args, Debug, Clone)]
pub struct FlowOpts {
    /// How other hosts are reached: `ssh` (ssh HOST xl …), `local`, or a template with the words
    /// `{cmd}` and `{host}` (e.g. `env XL_MOCK_HOST={host} {cmd}`).
    #[arg(long, env = "XENPCI_TRANSPORT", default_value = "ssh")]
    pub transport: String,
    /// The name of the host xenpci runs on (its commands run directly). Default: the hostname.
    #[arg(long, env = "XENPCI_LOCAL_HOST")]
    pub local_host: Option<String>,
    /// Root of other hosts' files for identity checks (`{host}` = the host name).
    #[arg(long, env = "XENPCI_REMOTE_ROOT", default_value = "/")]
    pub remote_root: String,
    /// Print what would run (every command, on which host) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

impl FlowOpts {
    /// The local host's name.
    pub fn local(&self, g: &Globals) -> String {
        self.local_host.clone().unwrap_or_else(|| {
            xenpci::bounded_read::read_string(
                &g.unchecked_root().path("/proc/sys/kernel/hostname"),
                xenpci::bounded_read::KERNEL_LIMIT,
            )
            .map(|s| s.trim().to_string())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost".into())
        })
    }

    /// The site (runner, transport, roots).
    pub fn site<'a>(&self, g: &Globals, runner: &'a SystemRunner) -> anyhow::Result<Site<'a>> {
        Ok(Site {
            runner,
            local: Some(self.local(g)),
            transport: Transport::parse(&self.transport)?,
            root: g.host_root()?,
            remote_root: self.remote_root.clone(),
        })
    }
}

/// The flow subcommands.
#[derive(Subcommand, Debug)]
pub enum FlowCmd {
    /// Hot-add a PCI device to a running domain (xl pci-attach), checked first and verified in XenStore.
    #[command(after_help = crate::commands::examples::ATTACH)]
    Attach(Box<AttachArgs>),
    /// Hot-remove a PCI device from a domain (xl pci-detach), verified afterwards.
    #[command(after_help = crate::commands::examples::DETACH)]
    Detach(Box<DetachArgs>),
    /// List a domain's passthrough devices (xl pci-list).
    #[command(after_help = crate::commands::examples::ATTACHED)]
    Attached(Box<AttachedArgs>),
    /// Move a VM with passthrough devices to another host (hot for HVM, cold for PV and XAPI), journaled.
    #[command(after_help = crate::commands::examples::MIGRATE)]
    Migrate(Box<MigrateArgs>),
    /// Detach every passthrough device of a domain and save them to a file.
    #[command(name = "detach-all")]
    #[command(after_help = crate::commands::examples::DETACH_ALL)]
    DetachAll(Box<DetachAllArgs>),
    /// Attach devices saved by detach-all again (mapped to this host's devices with --map).
    #[command(after_help = crate::commands::examples::REATTACH)]
    Reattach(Box<ReattachArgs>),
    /// Finish or roll back half-done flows, assign/unassign edits and hide/unhide runs (after a crash).
    #[command(after_help = crate::commands::examples::RESUME)]
    Resume(Box<ResumeArgs>),
    /// Show half-done flows, assign/unassign edits and hide/unhide runs.
    #[command(after_help = crate::commands::examples::STATUS)]
    Status(Box<StatusArgs>),
    /// Move every VM off a host, N at a time.
    #[command(after_help = crate::commands::examples::EVACUATE)]
    Evacuate(Box<EvacuateArgs>),
    /// Empty a host for maintenance: shut down the VMs pinned to it by their devices (started
    /// again by `resume`, after the identities are verified), move the others.
    #[command(after_help = crate::commands::examples::MAINTENANCE)]
    Maintenance(Box<EvacuateArgs>),
}

/// Options of journaled flows.
#[derive(Args, Debug, Clone)]
pub struct StateOpts {
    /// Where flow journals live (default ROOT/var/lib/xenpci).
    #[arg(long, env = "XENPCI_STATE_DIR")]
    pub state_dir: Option<std::path::PathBuf>,
    /// The device mapping file (docs/mapping.md).
    #[arg(long = "map", env = "XENPCI_MAP")]
    pub map: Option<std::path::PathBuf>,
    /// xl or xapi (default: xapi when `xe` is found, else xl).
    #[arg(long, env = "XENPCI_TOOLSTACK")]
    pub toolstack: Option<String>,
}

impl StateOpts {
    pub(super) fn dir(&self, g: &Globals) -> anyhow::Result<std::path::PathBuf> {
        Ok(match &self.state_dir {
            Some(d) => d.clone(),
            None => xenpci::journal::default_state_dir(&g.host_root()?),
        })
    }
    pub(super) fn mapping(&self) -> anyhow::Result<Option<Mapping>> {
        Ok(match &self.map {
            Some(p) => Some(Mapping::load(p)?),
            None => None,
        })
    }
    pub(super) fn toolstack(&self) -> anyhow::Result<Toolstack> {
        match self.toolstack.as_deref() {
            Some("xl") => Ok(Toolstack::Xl),
            Some("xapi") => Ok(Toolstack::Xapi),
            None | Some("auto") => Ok(if xenpci::exec::Tool::Xe.available() {
                Toolstack::Xapi
            } else {
                Toolstack::Xl
            }),
            Some(o) => anyhow::bail!("--toolstack {o:?}: expected xl, xapi or auto"),
        }
    }
}

/// `xenpci migrate VM --to HOST`.
#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// VM (xl domain name; XAPI name-label or uuid).
    pub vm: String,
    /// Target host.
    #[arg(value_parser = host_name, long)]
    pub to: String,
    /// Source host (default: this one).
    #[arg(value_parser = host_name, long)]
    pub from: Option<String>,
    /// The guest's xl.cfg (cold path; default /etc/xen/VM.cfg under --root).
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// Take the cold path even for an HVM guest.
    #[arg(long)]
    pub cold: bool,
    /// Cold path: when the guest does not acknowledge the shutdown request (no PV drivers,
    /// hung), stop it with `xl destroy` (like pulling the plug) instead of giving up.
    #[arg(long)]
    pub force_stop: bool,
    #[command(flatten)]
    pub state: StateOpts,
    #[command(flatten)]
    pub opts: FlowOpts,
}

/// `xenpci detach-all VM --save FILE`.
#[derive(Args, Debug)]
pub struct DetachAllArgs {
    /// Domain.
    pub vm: String,
    /// Where to save the devices (JSON).
    #[arg(long)]
    pub save: std::path::PathBuf,
    /// Host (default: this one).
    #[arg(value_parser = host_name, long)]
    pub host: Option<String>,
    #[command(flatten)]
    pub state: StateOpts,
    #[command(flatten)]
    pub opts: FlowOpts,
}

/// `xenpci reattach --from FILE`.
#[derive(Args, Debug)]
pub struct ReattachArgs {
    /// The file written by detach-all --save.
    #[arg(long = "from")]
    pub from_file: std::path::PathBuf,
    /// Host the domain runs on now (default: this one).
    #[arg(value_parser = host_name, long)]
    pub host: Option<String>,
    /// Re-attach even when xenpci refuses a device (dom0 needs it, a bridge, part of an
    /// isolation group, another guest uses it). The report names what was forced.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub state: StateOpts,
    #[command(flatten)]
    pub opts: FlowOpts,
}

/// `xenpci resume [ID]`.
#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// Flow id (default: every half-done flow).
    pub id: Option<String>,
    /// Roll back instead of finishing.
    #[arg(long)]
    pub rollback: bool,
    #[command(flatten)]
    pub state: StateOpts,
    #[command(flatten)]
    pub opts: FlowOpts,
}

/// `xenpci status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Also finished flows.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub state: StateOpts,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `xenpci evacuate HOST --to HOST2`.
#[derive(Args, Debug)]
pub struct EvacuateArgs {
    /// Host to empty.
    #[arg(value_parser = host_name)]
    pub host: String,
    /// Target host.
    #[arg(value_parser = host_name, long)]
    pub to: String,
    /// VMs moved at the same time.
    #[arg(short = 'j', long, default_value_t = 1)]
    pub jobs: usize,
    /// Directory of the guests' xl.cfg files (DIR/VM.cfg) for cold moves.
    #[arg(long)]
    pub config_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub state: StateOpts,
    #[command(flatten)]
    pub opts: FlowOpts,
}

impl EvacuateArgs {
    /// The evacuation these arguments ask for (`evacuate`, and `maintenance` for the guests
    /// that can move).
    pub(super) fn evacuation<'a>(
        &self,
        site: &Site,
        dir: &'a std::path::Path,
    ) -> anyhow::Result<evacuate::Evacuation<'a>> {
        Ok(evacuate::Evacuation {
            from: site.canonical(&self.host),
            to: site.canonical(&self.to),
            jobs: self.jobs,
            toolstack: self.state.toolstack()?,
            mapping: self.state.mapping()?,
            state_dir: dir,
            config_dir: self.config_dir.clone(),
            terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        })
    }
}

/// `xenpci attach DOM SPEC` (or xm/xl's `DOM BDF [VSLOT] [-o OPTS]`).
#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Domain name or id.
    pub domain: String,
    /// A full PCI_SPEC_STRING (options, @vslot), or just the BDF.
    #[arg(value_parser = spec_text, required_unless_present = "vf_of")]
    pub spec: Option<String>,
    /// Instead of SPEC: a virtual function of this SR-IOV PF that no guest holds (hidden first
    /// when it is not); the report says which.
    #[arg(long, value_name = "PF", conflicts_with_all = ["spec", "vslot", "options", "host"])]
    pub vf_of: Option<Bdf>,
    /// The guest slot (hex), as xm/xl's third argument: the same as SPEC@VSLOT.
    #[arg(value_name = "VSLOT")]
    pub vslot: Option<String>,
    /// Options, KEY=VALUE comma-separated, as xm's -o (e.g. msitranslate=0): appended to SPEC.
    #[arg(short = 'o', long = "options", value_name = "OPTS")]
    pub options: Option<String>,
    /// The host the domain runs on (default: this one).
    #[arg(value_parser = host_name, long)]
    pub host: Option<String>,
    /// Attach even when xenpci refuses (a device dom0 needs, a bridge, part of an isolation
    /// group, a device another guest uses); `seize=1` never does. The report names what was
    /// forced.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub opts: FlowOpts,
}

/// `xenpci detach DOM BDF`.
#[derive(Args, Debug)]
pub struct DetachArgs {
    /// Domain name or id.
    pub domain: String,
    /// Host BDF of the device.
    pub bdf: Bdf,
    /// xl pci-detach -f: carry on when the guest does not release the device in time.
    #[arg(long)]
    pub force: bool,
    /// The host the domain runs on (default: this one).
    #[arg(value_parser = host_name, long)]
    pub host: Option<String>,
    #[command(flatten)]
    pub opts: FlowOpts,
}

/// `xenpci attached DOM`.
#[derive(Args, Debug)]
pub struct AttachedArgs {
    /// Domain name or id.
    pub domain: String,
    /// The host the domain runs on (default: this one).
    #[arg(value_parser = host_name, long)]
    pub host: Option<String>,
    #[command(flatten)]
    pub opts: FlowOpts,
}

/// A PCI_SPEC_STRING as given on the command line: checked by clap like every BDF argument, so
/// a bad one is the same usage error (exit 2) as a bad BDF; kept as text for xl.
fn spec_text(s: &str) -> Result<String, String> {
    match hotplug::parse(s) {
        Ok(_) => Ok(s.to_string()),
        Err(FlowError::BadInput { expected, .. }) => Err(expected),
        Err(e) => Err(e.to_string()),
    }
}

/// A host name as given on the command line: it reaches `ssh HOST` and xl's own
/// `ssh HOST xl migrate-receive` (which xl runs through a shell), so only host-name characters
/// are accepted — never a leading `-` (an ssh option) or shell syntax.
fn host_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:@-[]".contains(c));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a host name (expected letters, digits, '.', '-', '_', ':', '@', not starting with '-')"
        ))
    }
}
