//! The flow subcommands (flattened into the top level): `attach`, `detach`, `attached`,
//! `migrate`, `detach-all`, `reattach`, `resume`, `status`, `evacuate`, and their shared
//! options (transport, hosts, state dir).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use xenpci::exec::SystemRunner;
use xenpci::flows::hotplug;
use xenpci::flows::transport::{Site, Transport};
use xenpci::flows::xl::Xl;
use xenpci::pci::Bdf;

use super::Globals;

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
            std::fs::read_to_string(g.host_root().path("/proc/sys/kernel/hostname"))
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
            root: g.host_root(),
            remote_root: self.remote_root.clone(),
        })
    }
}

/// The flow subcommands.
#[derive(Subcommand, Debug)]
pub enum FlowCmd {
    /// Hot-add a PCI device to a running domain (xl pci-attach), checked first and verified in XenStore.
    Attach(AttachArgs),
    /// Hot-remove a PCI device from a domain (xl pci-detach), verified afterwards.
    Detach(DetachArgs),
    /// List a domain's passthrough devices (xl pci-list).
    Attached(AttachedArgs),
}

/// `xenpci attach DOM SPEC`.
#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Domain name or id.
    pub domain: String,
    /// A full PCI_SPEC_STRING (options, @vslot).
    pub spec: String,
    /// The host the domain runs on (default: this one).
    #[arg(long)]
    pub host: Option<String>,
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
    #[arg(long)]
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
    #[arg(long)]
    pub host: Option<String>,
    #[command(flatten)]
    pub opts: FlowOpts,
}

/// Runs a flow subcommand.
pub fn run(cmd: FlowCmd, g: &Globals) -> anyhow::Result<ExitCode> {
    let runner = SystemRunner;
    match cmd {
        FlowCmd::Attach(a) => {
            let site = a.opts.site(g, &runner)?;
            let host = a.host.clone().unwrap_or_else(|| a.opts.local(g));
            let xl = Xl {
                site: &site,
                host: &host,
            };
            let r = hotplug::attach(&xl, &a.domain, &a.spec, a.opts.dry_run)?;
            print_report(&r, a.opts.json, a.opts.dry_run, "attached")
        }
        FlowCmd::Detach(a) => {
            let site = a.opts.site(g, &runner)?;
            let host = a.host.clone().unwrap_or_else(|| a.opts.local(g));
            let xl = Xl {
                site: &site,
                host: &host,
            };
            let r = hotplug::detach(&xl, &a.domain, a.bdf, a.force, a.opts.dry_run)?;
            print_report(&r, a.opts.json, a.opts.dry_run, "detached")
        }
        FlowCmd::Attached(a) => {
            let site = a.opts.site(g, &runner)?;
            let host = a.host.clone().unwrap_or_else(|| a.opts.local(g));
            let xl = Xl {
                site: &site,
                host: &host,
            };
            hotplug::domain(&xl, &a.domain)?;
            let list = xl.pci_list(&a.domain)?;
            if a.opts.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for e in &list {
                    println!("{:02x}.{:x} {}", e.vslot, e.vfunc, e.bdf);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_report(
    r: &hotplug::HotplugReport,
    json: bool,
    dry_run: bool,
    verb: &str,
) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else if dry_run {
        println!("would run on {}: {}", r.host, r.command);
    } else {
        let devs: Vec<String> = r.devices.iter().map(Bdf::to_string).collect();
        let by = match r.verified_by {
            hotplug::VerifiedBy::Xenstore => "verified in XenStore",
            hotplug::VerifiedBy::XlPciList => "verified with xl pci-list (no xenstored reachable)",
            hotplug::VerifiedBy::NotRun => "not run",
        };
        println!(
            "{verb} {} on {} ({}): {by}",
            devs.join(", "),
            r.host,
            r.domain
        );
    }
    Ok(ExitCode::SUCCESS)
}
