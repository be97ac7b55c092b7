//! The only code that runs other programs. A command is built as a value ([`CommandSpec`]), shown
//! exactly as it will run (argv, shell-quoted for display only — never through a shell), and run by
//! a [`Runner`]: the real system, a dry run that only records, or a test double.
//!
//! External programs are found through `PATH` (the `which` crate) and can be overridden with
//! `XENPCI_XE`, `XENPCI_XL` and `XENPCI_XEN_CMDLINE` ([`Tool`]).

mod command;
mod runner;
mod tool;

pub use command::{shell_quote, CommandSpec, Output};
pub use runner::{DryRunRunner, ExecError, RecordingRunner, Runner, SystemRunner};
pub use tool::{confine_to_root, confined_root, Tool, ToolError};
