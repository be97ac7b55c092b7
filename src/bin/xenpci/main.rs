//! The `xenpci` command line: parses arguments, hands each subcommand to its module under
//! `commands/`, prints the error chain once and maps it to an exit status. No logic of its own.

mod commands;

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
    Spec(commands::spec::SpecCmd),
    /// Read and edit the PCI part of xl.cfg files, byte for byte.
    #[command(subcommand)]
    Xlcfg(commands::xlcfg::XlcfgCmd),
    /// Read XAPI other-config:pci values exactly as xapi does.
    #[command(subcommand, name = "xapi-pci")]
    XapiPci(commands::xapi_pci::XapiPciCmd),
    /// List the host's PCI functions, grouped by isolation group.
    List(commands::list::ListArgs),
    /// Preflight: would passing these devices through work, and is it safe for dom0?
    Check(commands::check::CheckArgs),
    /// Print shell completions (bash, zsh, fish, ...) to stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    #[command(hide = true)]
    Manpage,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    commands::init_tracing(&cli.globals);
    let result = match cli.command {
        Command::Spec(c) => commands::spec::run(c, &cli.globals),
        Command::Xlcfg(c) => commands::xlcfg::run(c, &cli.globals),
        Command::XapiPci(c) => commands::xapi_pci::run(c, &cli.globals),
        Command::List(a) => commands::list::run(a, &cli.globals),
        Command::Check(a) => commands::check::run(a, &cli.globals),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "xenpci", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Manpage => clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
            .render(&mut std::io::stdout())
            .map(|_| ExitCode::SUCCESS)
            .map_err(Into::into),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xenpci: error: {e}");
            for (i, cause) in e.chain().skip(1).enumerate() {
                eprintln!("  {}: {cause}", i + 1);
            }
            ExitCode::from(2)
        }
    }
}
