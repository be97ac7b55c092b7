//! The `xenpci` command line: parses arguments, hands each subcommand to its module under
//! `commands/`, prints the error chain once and maps it to an exit status. No logic of its own.

#[macro_use]
mod output;
mod commands;

/// On musl (the shipped static builds) dlmalloc instead of musl's malloc: half the time of
/// `list --json` on 1000 functions went to musl's allocator (issue 18).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Safe, scriptable PCI passthrough on Xen hosts.
#[derive(Parser, Debug)]
#[command(name = "xenpci", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub globals: commands::Globals,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse and format xl PCI_SPEC_STRINGs exactly as Xen 4.15+ reads them.
    #[command(subcommand)]
    #[command(after_help = commands::examples::SPEC)]
    Spec(commands::spec::SpecCmd),
    /// Read and edit the PCI part of xl.cfg files, byte for byte.
    #[command(subcommand)]
    #[command(after_help = commands::examples::XLCFG)]
    Xlcfg(commands::xlcfg::XlcfgCmd),
    /// Read XAPI other-config:pci values exactly as xapi does.
    #[command(subcommand, name = "xapi-pci")]
    #[command(after_help = commands::examples::XAPI_PCI)]
    XapiPci(commands::xapi_pci::XapiPciCmd),
    /// List the host's PCI functions, grouped by isolation group.
    #[command(after_help = commands::examples::LIST)]
    List(commands::list::ListArgs),
    /// Preflight: would passing these devices through work, and is it safe for dom0?
    #[command(after_help = commands::examples::CHECK)]
    Check(commands::check::CheckArgs),
    #[command(flatten)]
    Flows(commands::flows::FlowCmd),
    /// Hide PCI functions from dom0 (boot configuration and/or now), merged and guarded.
    #[command(after_help = commands::examples::HIDE)]
    Hide(commands::hide::HideArgs),
    /// Give hidden PCI functions back to dom0.
    #[command(after_help = commands::examples::UNHIDE)]
    Unhide(commands::hide::CommonArgs),
    /// Show which functions are hidden now and after the next boot.
    #[command(after_help = commands::examples::HIDDEN)]
    Hidden(commands::hidden::HiddenArgs),
    /// KVM hosts: libvirt <hostdev> elements for functions on vfio-pci (--attach: virsh
    /// attach-device).
    #[command(name = "libvirt-xml", after_help = commands::examples::LIBVIRT_XML)]
    LibvirtXml(commands::kvm::LibvirtXmlArgs),
    /// KVM hosts: the /dev/vfio/N lines for qemu.conf's cgroup_device_acl.
    #[command(name = "vfio-acl", after_help = commands::examples::VFIO_ACL)]
    VfioAcl(commands::kvm::HandoffArgs),
    /// KVM hosts: OpenNebula's PCI filter (vendor:device:class) and short addresses.
    #[command(name = "one-filter", after_help = commands::examples::ONE_FILTER)]
    OneFilter(commands::kvm::HandoffArgs),
    /// Give PCI functions to an XAPI VM (other-config:pci), safely.
    #[command(after_help = commands::examples::ASSIGN)]
    Assign(commands::assign::AssignArgs),
    /// Take PCI functions back from an XAPI VM.
    #[command(after_help = commands::examples::UNASSIGN)]
    Unassign(commands::unassign::UnassignArgs),
    /// Is every device xenpci hid or assigned still the same device at its BDF? (--repair)
    #[command(after_help = commands::examples::VERIFY)]
    Verify(commands::verify::VerifyArgs),
    /// Make the host match a desired-state file (devices by identity: hidden, VM, xl.cfg).
    #[command(after_help = commands::examples::APPLY)]
    Apply(commands::apply::ApplyArgs),
    /// Write the host's passthrough state as a desired-state file for `apply`.
    #[command(after_help = commands::examples::EXPORT)]
    Export(commands::apply::ExportArgs),
    /// Record the identity of the devices already hidden or assigned on this host.
    #[command(after_help = commands::examples::ADOPT)]
    Adopt(commands::verify::AdoptArgs),
    /// SR-IOV physical functions: VF counts, who holds each VF, what persists; `set` changes it.
    #[command(after_help = commands::examples::SRIOV)]
    Sriov(commands::sriov::SriovArgs),
    /// Every XAPI VM's PCI functions, flagging duplicates and unhidden devices (exit 1 if any).
    #[command(after_help = commands::examples::ASSIGNED)]
    Assigned(commands::assigned::AssignedArgs),
    /// The whole XAPI pool at once, through every host's xenpci plugin.
    #[command(subcommand)]
    #[command(after_help = commands::examples::POOL)]
    Pool(commands::pool::PoolCmd),
    /// Print shell completions (bash, zsh, fish, ...) to stdout.
    #[command(after_help = commands::examples::COMPLETIONS)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, or write every page into --dir.
    #[command(hide = true)]
    Manpage {
        /// Write xenpci.1 and one xenpci-COMMAND[-SUBCOMMAND].1 per command into DIR (created),
        /// the pages xenpci.1 refers to.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// Show xenpci on the bundled demo host, or write a fixture host root (--write DIR).
    #[command(after_help = commands::examples::DEMO)]
    Demo(commands::demo::DemoArgs),
}

/// A usage error from clap, printed as clap does (stderr, exit 2); with `--json` it also leaves
/// one JSON document on stdout. An argument that is not UTF-8 where text is expected gets a
/// message naming it (clap's does not say which).
fn usage_error(args: &[OsString], e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind::{
        DisplayHelp, DisplayHelpOnMissingArgumentOrSubcommand, DisplayVersion, InvalidUtf8,
    };
    let json = args.iter().skip(1).any(|a| a == "--json");
    let shown = matches!(
        e.kind(),
        DisplayHelp | DisplayHelpOnMissingArgumentOrSubcommand | DisplayVersion
    );
    let error = if e.kind() == InvalidUtf8 {
        let bad: Vec<String> = args
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, a)| a.to_str().is_none())
            .map(|(i, a)| format!("argument {i} {a:?}"))
            .collect();
        format!(
            "{} is not valid UTF-8 (only file and directory names may be other bytes)",
            bad.join(", ")
        )
    } else {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        first.strip_prefix("error: ").unwrap_or(first).to_string()
    };
    if !shown && json {
        commands::print_error_doc(xenpci::ops::Kind::BadInput, error.clone());
    }
    if e.kind() == InvalidUtf8 {
        eprintln!("error: {error}\n\nFor more information, try '--help'.");
        return ExitCode::from(2);
    }
    if shown {
        e.exit()
    }
    // The subcommand's usage as --help shows it, not clap's line listing the options typed.
    eprint!(
        "{}",
        commands::usage_error_text(<Cli as clap::CommandFactory>::command(), &e, args)
    );
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}

fn main() -> ExitCode {
    // The environment, read once here (clap reads the variables of the options it declares).
    xenpci::config::install(xenpci::config::Config::from_env());
    // Errors name arguments by their place on the user's line, before --json is moved.
    let given: Vec<OsString> = std::env::args_os().collect();
    let args = commands::json_anywhere(&<Cli as clap::CommandFactory>::command(), given.clone());
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&given, e),
    };
    commands::init_tracing(&cli.globals);
    // The --root contract: under a fixture root, no host tool runs (only the stand-ins).
    xenpci::exec::confine_to_root(cli.globals.unchecked_root().dir());
    if matches!(
        cli.command,
        Command::Hide(_)
            | Command::Unhide(_)
            | Command::Flows(_)
            | Command::Assign(_)
            | Command::Unassign(_)
    ) {
        // SIGINT/SIGTERM stop a change between its steps, rolled back and still reported.
        if let Err(e) = xenpci::interrupt::install() {
            eprintln!("xenpci: warning: cannot catch SIGINT/SIGTERM: {e}");
        }
    }
    let result = match cli.command {
        Command::Spec(c) => commands::spec::run(c, &cli.globals),
        Command::Xlcfg(c) => commands::xlcfg::run(c, &cli.globals),
        Command::XapiPci(c) => commands::xapi_pci::run(c, &cli.globals),
        Command::List(a) => commands::list::run(a, &cli.globals),
        Command::Check(a) => commands::check::run(a, &cli.globals),
        Command::Flows(c) => commands::flows::run(c, &cli.globals),
        Command::Hide(a) => commands::hide::run_hide(a, &cli.globals),
        Command::Unhide(a) => commands::hide::run_unhide(a, &cli.globals),
        Command::Hidden(a) => commands::hidden::run(a, &cli.globals),
        Command::LibvirtXml(a) => commands::kvm::run_libvirt_xml(a, &cli.globals),
        Command::VfioAcl(a) => commands::kvm::run_vfio_acl(a, &cli.globals),
        Command::OneFilter(a) => commands::kvm::run_one_filter(a, &cli.globals),
        Command::Assign(a) => commands::assign::run(a, &cli.globals),
        Command::Unassign(a) => commands::unassign::run(a, &cli.globals),
        Command::Assigned(a) => commands::assigned::run(a, &cli.globals),
        Command::Sriov(a) => commands::sriov::run(a, &cli.globals),
        Command::Pool(c) => commands::pool::run(c, &cli.globals),
        Command::Verify(a) => commands::verify::run_verify(a, &cli.globals),
        Command::Adopt(a) => commands::verify::run_adopt(a, &cli.globals),
        Command::Apply(a) => commands::apply::run_apply(a, &cli.globals),
        Command::Export(a) => commands::apply::run_export(a, &cli.globals),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "xenpci", &mut output::Stdout);
            Ok(ExitCode::SUCCESS)
        }
        Command::Manpage { dir } => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match dir {
                Some(dir) => std::fs::create_dir_all(&dir)
                    .and_then(|()| clap_mangen::generate_to(cmd, &dir))
                    .map_err(|e| anyhow::anyhow!("writing man pages into {}: {e}", dir.display())),
                None => clap_mangen::Man::new(cmd)
                    .render(&mut output::Stdout)
                    .map_err(Into::into),
            }
            .map(|()| ExitCode::SUCCESS)
        }
        Command::Demo(a) => commands::demo::run(a, &cli.globals),
    };
    if let Some(e) = output::failure() {
        // A closed stdout is not a failure (see `output`); a full or broken one is.
        eprintln!("xenpci: error: cannot write to stdout: {e}");
        return ExitCode::from(2);
    }
    match result {
        Ok(code) => code,
        // With --json, one document on stdout here too (unless the command printed its own and
        // returned an exit status instead of the error).
        Err(e) => commands::report_error(&e, std::env::args_os().skip(1).any(|a| a == "--json")),
    }
}
