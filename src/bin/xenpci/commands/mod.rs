//! One module per subcommand, each with its clap arguments and a `run` returning the exit code.
//! Shared here: the global options (host root, verbosity).

pub mod assign;
pub mod assigned;
pub mod check;
pub mod demo;
pub mod flows;
pub mod hidden;
pub mod hide;
pub mod list;
pub mod pool;
pub mod spec;
pub mod unassign;
pub mod xapi_pci;
pub mod xlcfg;

use std::path::PathBuf;

use clap::Args;
use xenpci::host::HostRoot;

/// Options every subcommand understands.
#[derive(Args, Debug, Clone)]
pub struct Globals {
    /// Read the host's /sys, /proc, /boot, /etc under DIR instead of / (a fixture tree or a mounted
    /// image).
    #[arg(long, global = true, env = "XENPCI_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Log what xenpci does to stderr (-v: info, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl Globals {
    /// The host root chosen by `--root` / `XENPCI_ROOT`, else `/`; an error naming it when it is
    /// not an existing directory (a missing root is not an empty host).
    pub fn host_root(&self) -> anyhow::Result<HostRoot> {
        let r = self.unchecked_root();
        r.check()?;
        Ok(r)
    }

    /// [`Globals::host_root`] without the check, for best-effort reads (the host name).
    pub fn unchecked_root(&self) -> HostRoot {
        self.root.clone().map(HostRoot::new).unwrap_or_default()
    }
}

/// Sets up tracing on stderr according to `-v`.
pub fn init_tracing(g: &Globals) {
    let level = match g.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .without_time()
        .try_init();
}
