//! The flow subcommands (flattened into the top level): `attach`, `detach`, `attached`,
//! `migrate`, `detach-all`, `reattach`, `resume`, `status`, `evacuate`, and their shared
//! options (transport, hosts, state dir).
//!
//! With `--json` every command prints one document on stdout: its result, or on an error
//! the error document every command shares (`{"refused", "kind", "error", "input", "hint",
//! "refusals"}`; `refused`: xenpci said no before acting) next to the stderr
//! message and the exit status.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use xenpci::exec::SystemRunner;
use xenpci::flows::hotplug;
use xenpci::flows::mapping::Mapping;
use xenpci::flows::migrate::{Plan, Request, Toolstack};
use xenpci::flows::transport::{Site, Transport};
use xenpci::flows::xl::Xl;
use xenpci::flows::{engine, evacuate, migrate, saved, FlowError};
use xenpci::journal::{FlowStatus, Journal};
use xenpci::ops::give;
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
    #[command(after_help = super::examples::ATTACH)]
    Attach(Box<AttachArgs>),
    /// Hot-remove a PCI device from a domain (xl pci-detach), verified afterwards.
    #[command(after_help = super::examples::DETACH)]
    Detach(Box<DetachArgs>),
    /// List a domain's passthrough devices (xl pci-list).
    #[command(after_help = super::examples::ATTACHED)]
    Attached(Box<AttachedArgs>),
    /// Move a VM with passthrough devices to another host (hot for HVM, cold for PV and XAPI), journaled.
    #[command(after_help = super::examples::MIGRATE)]
    Migrate(Box<MigrateArgs>),
    /// Detach every passthrough device of a domain and save them to a file.
    #[command(name = "detach-all")]
    #[command(after_help = super::examples::DETACH_ALL)]
    DetachAll(Box<DetachAllArgs>),
    /// Attach devices saved by detach-all again (mapped to this host's devices with --map).
    #[command(after_help = super::examples::REATTACH)]
    Reattach(Box<ReattachArgs>),
    /// Finish or roll back half-done flows, assign/unassign edits and hide/unhide runs (after a crash).
    #[command(after_help = super::examples::RESUME)]
    Resume(Box<ResumeArgs>),
    /// Show half-done flows, assign/unassign edits and hide/unhide runs.
    #[command(after_help = super::examples::STATUS)]
    Status(Box<StatusArgs>),
    /// Move every VM off a host, N at a time.
    #[command(after_help = super::examples::EVACUATE)]
    Evacuate(Box<EvacuateArgs>),
    /// Empty a host for maintenance: shut down the VMs pinned to it by their devices (started
    /// again by `resume`, after the identities are verified), move the others.
    #[command(after_help = super::examples::MAINTENANCE)]
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
    fn dir(&self, g: &Globals) -> anyhow::Result<std::path::PathBuf> {
        Ok(match &self.state_dir {
            Some(d) => d.clone(),
            None => xenpci::journal::default_state_dir(&g.host_root()?),
        })
    }
    fn mapping(&self) -> anyhow::Result<Option<Mapping>> {
        Ok(match &self.map {
            Some(p) => Some(Mapping::load(p)?),
            None => None,
        })
    }
    fn toolstack(&self) -> anyhow::Result<Toolstack> {
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
    fn evacuation<'a>(
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

/// Runs a flow subcommand.
pub fn run(cmd: FlowCmd, g: &Globals) -> anyhow::Result<ExitCode> {
    let json = match &cmd {
        FlowCmd::Attach(a) => a.opts.json,
        FlowCmd::Detach(a) => a.opts.json,
        FlowCmd::Attached(a) => a.opts.json,
        FlowCmd::Migrate(a) => a.opts.json,
        FlowCmd::DetachAll(a) => a.opts.json,
        FlowCmd::Reattach(a) => a.opts.json,
        FlowCmd::Resume(a) => a.opts.json,
        FlowCmd::Status(a) => a.json,
        FlowCmd::Evacuate(a) | FlowCmd::Maintenance(a) => a.opts.json,
    };
    match run_cmd(cmd, g) {
        Ok(code) => Ok(code),
        Err(e) => Ok(super::report_error(&e, json)),
    }
}

/// `attach DOM --vf-of PF`: the VF picked, its hide, then the attach report.
fn run_attach_vf_of(xl: &Xl, a: &AttachArgs, pf: Bdf) -> anyhow::Result<ExitCode> {
    let r = match give::attach_vf_of(xl, &a.domain, pf, a.opts.dry_run, a.force) {
        Ok(r) => r,
        Err(e) => return Ok(super::report_op_error(&e, a.opts.json)),
    };
    let p = &r.picked;
    eprintln!("xenpci: {}", p.using("hidden first"));
    if a.opts.json {
        report!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(h) = &r.hide {
        if a.opts.dry_run {
            out!("{}", h.plan);
        }
    }
    match &r.attach {
        Some(at) => {
            for f in &at.forced {
                eprintln!("xenpci: warning: forced: {f}");
            }
            print_report(&at.report, false, a.opts.dry_run, "attached")
        }
        None => {
            outln!(
                "# then: attach {} to {} (checked once it is hidden)",
                p.vf,
                a.domain
            );
            outln!("# dry run: nothing was changed");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_cmd(cmd: FlowCmd, g: &Globals) -> anyhow::Result<ExitCode> {
    let runner = SystemRunner;
    match cmd {
        FlowCmd::Attach(a) => {
            let site = a.opts.site(g, &runner)?;
            let host = a.host.clone().unwrap_or_else(|| a.opts.local(g));
            let xl = Xl {
                site: &site,
                host: &host,
            };
            if let Some(pf) = a.vf_of {
                return run_attach_vf_of(&xl, &a, pf);
            }
            let spec = a.spec.as_deref().unwrap_or_default();
            let spec = match hotplug::compose_spec(spec, a.vslot.as_deref(), a.options.as_deref()) {
                Ok(s) => s,
                Err(e) => return Ok(super::report_op_error(&e.into(), a.opts.json)),
            };
            let r = match give::attach(&xl, &a.domain, &spec, a.opts.dry_run, a.force) {
                Ok(r) => r,
                Err(e) => return Ok(super::report_op_error(&e, a.opts.json)),
            };
            for f in &r.forced {
                eprintln!("xenpci: warning: forced: {f}");
            }
            if a.opts.json && a.opts.dry_run {
                outln!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(ExitCode::SUCCESS);
            } else if a.opts.json {
                report!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(ExitCode::SUCCESS);
            }
            print_report(&r.report, false, a.opts.dry_run, "attached")
        }
        FlowCmd::Detach(a) => {
            let site = a.opts.site(g, &runner)?;
            let host = a.host.clone().unwrap_or_else(|| a.opts.local(g));
            let xl = Xl {
                site: &site,
                host: &host,
            };
            let r = match give::detach(&xl, &a.domain, a.bdf, a.force, a.opts.dry_run) {
                Ok(r) => r,
                Err(e) => return Ok(super::report_op_error(&e, a.opts.json)),
            };
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
                outln!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for e in &list {
                    outln!("{:02x}.{:x} {}", e.vslot, e.vfunc, e.bdf);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        FlowCmd::Migrate(a) => {
            let site = a.opts.site(g, &runner)?;
            let req = Request {
                vm: a.vm.clone(),
                from: site.canonical(&a.from.clone().unwrap_or_else(|| a.opts.local(g))),
                to: site.canonical(&a.to),
                toolstack: a.state.toolstack()?,
                config: a.config.clone(),
                mapping: a.state.mapping()?,
                cold: a.cold,
                force_stop: a.force_stop,
            };
            let plan = migrate::plan(&site, &req)?;
            run_plan(&site, &a.state.dir(g)?, "migrate", &plan, &a.opts)
        }
        FlowCmd::DetachAll(a) => {
            let site = a.opts.site(g, &runner)?;
            let host = a.host.clone().unwrap_or_else(|| a.opts.local(g));
            let (plan, _) = saved::plan_detach_all(&site, &host, &a.vm, &a.save)?;
            run_plan(&site, &a.state.dir(g)?, "detach-all", &plan, &a.opts)
        }
        FlowCmd::Reattach(a) => {
            let site = a.opts.site(g, &runner)?;
            let host = a.host.clone().unwrap_or_else(|| a.opts.local(g));
            let saved = saved::load(&a.from_file)?;
            let map = a.state.mapping()?;
            let (plan, forced) = match give::reattach(&site, &saved, &host, map.as_ref(), a.force) {
                Ok(p) => p,
                Err(e) => return Ok(super::report_op_error(&e, a.opts.json)),
            };
            for f in &forced {
                eprintln!("xenpci: warning: forced: {f}");
            }
            run_plan(&site, &a.state.dir(g)?, "reattach", &plan, &a.opts)
        }
        FlowCmd::Resume(a) => {
            let site = a.opts.site(g, &runner)?;
            let dir = a.state.dir(g)?;
            let mut worst = ExitCode::SUCCESS;
            if a.id.is_none() {
                // hide/unhide's own journal, kept apart from the flows': its files put back,
                // then (unless --rollback) the recorded request made again
                let ctx = xenpci::hide::Ctx {
                    root: &site.root,
                    runner: site.runner,
                };
                match xenpci::ops::give::resume_hide(ctx, a.rollback) {
                    Ok(None) => {}
                    Ok(Some(r)) => {
                        eprintln!("xenpci: {}", r.settled);
                        match (&r.request, &r.finished) {
                            (Some(req), Some(out)) => {
                                eprintln!("xenpci: finishing the interrupted `{req}`");
                                worst = super::hide::render(out, a.opts.json)?;
                            }
                            (Some(req), None) => eprintln!(
                                "xenpci: the interrupted `{req}` is rolled back as far as its \
                                 files go; commands and sysfs writes it did are left (`xenpci \
                                 hidden` shows them; run `xenpci {req}` to finish it instead)"
                            ),
                            (None, _) => {}
                        }
                    }
                    Err(e) => return Ok(super::report_op_error(&e, a.opts.json)),
                }
            }
            // assign/unassign journal their edits as changes (engine::change), apart from flows
            let is_change = |id: &str| xenpci::engine::change::path_of(&dir, id).exists();
            let (changes, ids): (Vec<String>, Vec<String>) = match &a.id {
                Some(id) if is_change(id) => (vec![id.clone()], vec![]),
                Some(id) => (vec![], vec![id.clone()]),
                None => (
                    xenpci::engine::change::list(&dir)?
                        .into_iter()
                        .filter(|r| !r.status.is_final())
                        .map(|r| r.id)
                        .collect(),
                    Journal::list(&dir)?
                        .into_iter()
                        .filter(|r| !r.status.is_final())
                        .map(|r| r.id)
                        .collect(),
                ),
            };
            let maint = if a.id.is_none() {
                xenpci::ops::maintenance::pending(&dir)?
            } else {
                Vec::new()
            };
            if ids.is_empty() && changes.is_empty() && maint.is_empty() {
                outln!("no half-done flow in {}", dir.display());
            }
            let xe = xenpci::xapi::Xe::new(site.runner);
            for id in changes {
                let r = match xenpci::xapi::assign::resume(
                    &xe,
                    &site.root,
                    &dir,
                    &id,
                    a.rollback,
                    &mut |line| eprintln!("xenpci: {line}"),
                ) {
                    Ok(r) => r,
                    Err(e) => return Ok(super::report_op_error(&e.into(), a.opts.json)),
                };
                let o = engine::Outcome {
                    id: r.id,
                    status: r.status,
                    failure: r.failure,
                    undone: r.undone,
                    stuck: r.stuck,
                };
                if print_outcome_of("change", &o, a.opts.json)? != ExitCode::SUCCESS {
                    worst = ExitCode::from(1);
                }
            }
            for id in ids {
                let o = engine::resume(&site, &dir, &id, a.rollback)?;
                if print_outcome(&o, a.opts.json)? != ExitCode::SUCCESS {
                    worst = ExitCode::from(1);
                }
            }
            // Hosts back from maintenance: identities first, then the pinned guests.
            for rec in maint {
                let r = xenpci::ops::maintenance::resume(&site, &dir, rec)?;
                for n in &r.notes {
                    eprintln!("xenpci: {n}");
                }
                if a.opts.json {
                    outln!("{}", serde_json::to_string_pretty(&r)?);
                } else {
                    for p in &r.record.pinned {
                        outln!("maintenance of {}: {}: {}", r.record.host, p.vm, p.note);
                    }
                    outln!("maintenance of {}: {}", r.record.host, r.record.state);
                }
                if r.record.state != "done" {
                    worst = ExitCode::from(1);
                }
            }
            Ok(worst)
        }
        FlowCmd::Status(a) => {
            let dir = a.state.dir(g)?;
            let flows: Vec<_> = Journal::list(&dir)?
                .into_iter()
                .filter(|r| a.all || !r.status.is_final())
                .collect();
            // A flow that is not final and whose lock no run holds was interrupted: it needs
            // `resume`, and `status` says so and exits 1.
            let needs_resume = |f: &xenpci::journal::FlowRecord| {
                !f.status.is_final() && !Journal::is_held(&dir, &f.id)
            };
            let interrupted = |f: &xenpci::journal::FlowRecord| {
                f.status != xenpci::journal::FlowStatus::Stuck && needs_resume(f)
            };
            let changes: Vec<_> = xenpci::engine::change::list(&dir)?
                .into_iter()
                .filter(|r| a.all || !r.status.is_final())
                .collect();
            let change_needs_resume = |c: &xenpci::engine::change::ChangeRecord<_>| {
                !c.status.is_final() && !xenpci::engine::change::is_held(&dir, &c.id)
            };
            // hide/unhide's journal: left by a run killed half-way (unless a run holds the hide
            // lock now); `resume` finishes it, `resume --rollback` puts its files back
            let hide = g.host_root().ok().and_then(|root| {
                xenpci::plan_journal::pending(&root)
                    .filter(|_| !xenpci::engine::disk::is_held(&xenpci::hide::lock_path(&root)))
            });
            let maint = xenpci::ops::maintenance::pending(&dir)?;
            let needs_resume = flows.iter().any(needs_resume)
                || changes.iter().any(change_needs_resume)
                || hide.is_some()
                || !maint.is_empty();
            let code = if needs_resume {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
            if a.json {
                // the changes (assign/unassign) follow the flows, in the same array
                let mut all: Vec<serde_json::Value> = flows
                    .iter()
                    .map(serde_json::to_value)
                    .collect::<Result<_, _>>()?;
                for c in &changes {
                    all.push(serde_json::to_value(c)?);
                }
                if let Some(title) = &hide {
                    all.push(serde_json::json!({"kind": "hide", "title": title,
                        "journal": xenpci::plan_journal::PATH, "status": "interrupted"}));
                }
                for m in &maint {
                    all.push(serde_json::json!({"kind": "maintenance", "host": m.host,
                        "status": m.state, "pinned": m.pinned}));
                }
                outln!("{}", serde_json::to_string_pretty(&all)?);
                return Ok(code);
            }
            if flows.is_empty() && changes.is_empty() && hide.is_none() && maint.is_empty() {
                outln!("no half-done flow in {}", dir.display());
            }
            for m in &maint {
                let vms: Vec<&str> = m.pinned.iter().map(|p| p.vm.as_str()).collect();
                outln!(
                    "maintenance of {}  {}  pinned VMs stopped: {} (run `xenpci resume` on {} once it is back)",
                    m.host,
                    m.state,
                    vms.join(", "),
                    m.host
                );
            }
            if let Some(title) = &hide {
                outln!(
                    "{}  {title}  interrupted (run `xenpci resume` to finish it, or `xenpci resume --rollback` to put its files back)",
                    xenpci::plan_journal::PATH
                );
            }
            for c in &changes {
                let done = c
                    .steps
                    .iter()
                    .filter(|s| s.state == xenpci::journal::StepState::Done)
                    .count();
                let status = if c.status != FlowStatus::Stuck && change_needs_resume(c) {
                    "interrupted (run `xenpci resume`, or `xenpci resume --rollback`)".to_string()
                } else {
                    format!("{:?}", c.status)
                };
                outln!(
                    "{}  {} {}  {status}  {done}/{} steps done",
                    c.id,
                    c.kind,
                    c.title,
                    c.steps.len()
                );
                for st in c.steps.iter().filter(|s| {
                    !matches!(
                        s.state,
                        xenpci::journal::StepState::Done | xenpci::journal::StepState::Planned
                    )
                }) {
                    outln!(
                        "    step {} {:?}: {}{}",
                        st.n,
                        st.state,
                        st.what,
                        st.error
                            .as_deref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    );
                }
            }
            for f in &flows {
                let done = f
                    .steps
                    .iter()
                    .filter(|s| s.state == xenpci::journal::StepState::Done)
                    .count();
                let what = if f.mode == f.kind {
                    f.kind.clone()
                } else {
                    format!("{} {}", f.kind, f.mode)
                };
                let place = if f.from == f.to {
                    format!("on {}", f.from)
                } else {
                    format!("{} -> {}", f.from, f.to)
                };
                let status = if interrupted(f) {
                    "interrupted (run `xenpci resume`, or `xenpci resume --rollback`)".to_string()
                } else {
                    format!("{:?}", f.status)
                };
                outln!(
                    "{}  {what} {} {place}  {status}  {done}/{} steps done",
                    f.id,
                    f.vm,
                    f.steps.len()
                );
                for s in f.steps.iter().filter(|s| {
                    !matches!(
                        s.state,
                        xenpci::journal::StepState::Done | xenpci::journal::StepState::Planned
                    )
                }) {
                    outln!(
                        "    step {} {:?}: {}{}",
                        s.n,
                        s.state,
                        s.action,
                        s.error
                            .as_deref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(code)
        }
        FlowCmd::Maintenance(a) => {
            let site = a.opts.site(g, &runner)?;
            let dir = a.state.dir(g)?;
            let m = xenpci::ops::maintenance::Maintenance {
                ev: a.evacuation(&site, &dir)?,
                dry_run: a.opts.dry_run,
            };
            let out: std::sync::Mutex<Box<dyn std::io::Write + Send>> =
                std::sync::Mutex::new(Box::new(std::io::stderr()));
            let r = xenpci::ops::maintenance::start(&site, &m, &out)?;
            if a.opts.json {
                outln!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                let would = if r.dry_run { "would be " } else { "" };
                for p in &r.record.pinned {
                    let devs: Vec<String> = p.devices.iter().map(ToString::to_string).collect();
                    outln!(
                        "{}: pinned to {} by {}: {would}shut down, started again by `xenpci resume`",
                        p.vm,
                        r.record.host,
                        devs.join(", ")
                    );
                }
                if r.dry_run {
                    for v in &r.moved {
                        outln!("{}: would move to {}", v.vm, r.record.to);
                    }
                } else {
                    out!("{}", evacuate::table(&r.moved));
                    outln!(
                        "{} is ready for maintenance; after it is back, run `xenpci resume` on it",
                        r.record.host
                    );
                }
            }
            Ok(
                if r.moved.iter().all(|v| v.result == "moved" || r.dry_run) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                },
            )
        }
        FlowCmd::Evacuate(a) => {
            let site = a.opts.site(g, &runner)?;
            let dir = a.state.dir(g)?;
            let ev = a.evacuation(&site, &dir)?;
            if a.opts.dry_run {
                for vm in evacuate::guests(&site, &a.host, ev.toolstack)? {
                    let req = Request {
                        vm: vm.clone(),
                        from: a.host.clone(),
                        to: a.to.clone(),
                        toolstack: ev.toolstack,
                        config: ev.config_dir.as_ref().map(|d| d.join(format!("{vm}.cfg"))),
                        mapping: ev.mapping.clone(),
                        cold: false,
                        force_stop: false,
                    };
                    match migrate::plan(&site, &req) {
                        Ok(p) => out!("{p}"),
                        Err(e) => outln!("plan for {vm}: refused: {e}"),
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            let out: std::sync::Mutex<Box<dyn std::io::Write + Send>> =
                std::sync::Mutex::new(Box::new(std::io::stderr()));
            let results = evacuate::evacuate(&site, &ev, &out)?;
            if a.opts.json {
                report!("{}", serde_json::to_string_pretty(&results)?);
            } else {
                report!("{}", evacuate::table(&results).trim_end_matches('\n'));
            }
            Ok(if results.iter().all(|r| r.result == "moved") {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn run_plan(
    site: &Site,
    dir: &std::path::Path,
    kind: &str,
    plan: &Plan,
    opts: &FlowOpts,
) -> anyhow::Result<ExitCode> {
    if opts.dry_run {
        if opts.json {
            outln!("{}", serde_json::to_string_pretty(plan)?);
        } else {
            out!("{plan}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !opts.json {
        out!("{plan}");
    }
    let o = engine::start(site, dir, kind, plan)?;
    print_outcome(&o, opts.json)
}

fn print_outcome(o: &engine::Outcome, json: bool) -> anyhow::Result<ExitCode> {
    print_outcome_of("flow", o, json)
}

/// Prints how a flow or a change (`noun`) ended.
fn print_outcome_of(noun: &str, o: &engine::Outcome, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        report!("{}", serde_json::to_string_pretty(o)?);
    } else {
        match o.status {
            FlowStatus::Done => report!("{noun} {}: done", o.id),
            FlowStatus::RolledBack => {
                report!("{noun} {}: rolled back", o.id);
                if let Some(f) = &o.failure {
                    report!("  because {f}");
                }
                for u in &o.undone {
                    report!("  undone {u}");
                }
            }
            s => {
                report!("{noun} {}: {s:?}", o.id);
                for u in &o.stuck {
                    report!("  {u}");
                }
            }
        }
    }
    Ok(if o.status == FlowStatus::Done {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_report(
    r: &hotplug::HotplugReport,
    json: bool,
    dry_run: bool,
    verb: &str,
) -> anyhow::Result<ExitCode> {
    if json && dry_run {
        outln!("{}", serde_json::to_string_pretty(r)?);
    } else if json {
        report!("{}", serde_json::to_string_pretty(r)?);
    } else if r.nothing_to_do {
        for n in &r.notes {
            outln!("{n}");
        }
    } else if dry_run {
        outln!("would run on {}: {}", r.host, r.command);
    } else {
        let devs: Vec<String> = r.devices.iter().map(Bdf::to_string).collect();
        let by = match r.verified_by {
            hotplug::VerifiedBy::Xenstore => "verified in XenStore",
            hotplug::VerifiedBy::XlPciList => "verified with xl pci-list (no xenstored reachable)",
            hotplug::VerifiedBy::NotRun => "not run",
        };
        report!(
            "{verb} {} on {} ({}): {by}",
            devs.join(", "),
            r.host,
            r.domain
        );
    }
    Ok(ExitCode::SUCCESS)
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
