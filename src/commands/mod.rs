//! One module per subcommand, each with its clap arguments and a `run` returning the exit code.
//! Shared here: the global options (host root, verbosity).

pub mod apply;
pub mod assign;
pub mod assigned;
pub mod check;
pub mod demo;
pub mod demo_hosts;
pub mod examples;
pub mod flows;
pub mod hidden;
pub mod hide;
pub mod kvm;
pub mod list;
pub mod pool;
pub mod spec;
pub mod sriov;
pub mod unassign;
pub mod verify;
pub mod xapi_pci;
pub mod xlcfg;

use std::path::PathBuf;
use std::process::ExitCode;

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

/// Sets up tracing on stderr according to `-v`; colours only when stderr is a terminal (a log
/// piped to a file or `less` carries no escape codes).
pub fn init_tracing(g: &Globals) {
    let level = match g.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .without_time()
        .try_init();
}

/// How the CLI spells an override.
pub fn override_flag(o: xenpci::policy::Override) -> &'static str {
    match o {
        xenpci::policy::Override::Force => "--force",
    }
}

/// `--json` for an operation that did not happen: one shape for every command.
#[derive(serde::Serialize)]
pub struct OpErrorDoc<'a> {
    /// xenpci said no before changing anything.
    pub refused: bool,
    /// refused, failed, bad-input or tool-failed.
    pub kind: xenpci::ops::Kind,
    /// The message.
    pub error: String,
    /// The failing input, when there is one.
    pub input: Option<String>,
    /// The option that overrides it, when there is one.
    pub hint: Option<&'static str>,
    /// The policy's refused devices with their reasons (empty otherwise).
    pub refusals: &'a [xenpci::policy::Refusal],
}

/// Prints an operation error (stderr, and the JSON document with `--json`) and returns its exit
/// status.
pub fn report_op_error(e: &xenpci::ops::OpError, json: bool) -> ExitCode {
    let forcible = e.overridable().map(override_flag);
    let hint = match e {
        xenpci::ops::OpError::Assign(a) => a.hint(),
        _ => forcible,
    };
    eprintln!("xenpci: error: {e}");
    if let Some(h) = forcible {
        eprintln!("xenpci: to do it anyway, add {h}");
    }
    if json {
        let doc = OpErrorDoc {
            refused: e.kind() == xenpci::ops::Kind::Refused,
            kind: e.kind(),
            error: e.to_string(),
            input: e.input(),
            hint,
            refusals: e.refused().map_or(&[], |r| r.refusals.as_slice()),
        };
        outln!(
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
        );
    }
    ExitCode::from(e.kind().exit_code())
}

/// The error and the causes that add something, as one line.
pub fn chain_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1).map(|c| c.to_string()) {
        if !text.contains(cause.as_str()) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

/// Prints an error a command returned: the message and the causes that add something on
/// stderr, with `json` the shared error document on stdout; returns the exit status of its kind.
pub fn report_error(e: &anyhow::Error, json: bool) -> ExitCode {
    let top = e.to_string();
    eprintln!("xenpci: error: {top}");
    let causes = e
        .chain()
        .skip(1)
        .map(|c| c.to_string())
        .filter(|c| !top.contains(c.as_str()));
    for (i, cause) in causes.enumerate() {
        eprintln!("  {}: {cause}", i + 1);
    }
    let kind = xenpci::ops::Kind::of_any(e.as_ref());
    if json {
        print_error_doc(kind, chain_text(e));
    }
    ExitCode::from(kind.exit_code())
}

/// The shared error document for an error with no input, hint or refusals of its own (usage
/// errors, errors of commands outside the operations layer).
pub fn print_error_doc(kind: xenpci::ops::Kind, error: String) {
    let doc = OpErrorDoc {
        refused: kind == xenpci::ops::Kind::Refused,
        kind,
        error,
        input: None,
        hint: None,
        refusals: &[],
    };
    outln!(
        "{}",
        serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
    );
}

/// A usage error's text with the "Usage:" line of the subcommand as `--help` shows it
/// (`xenpci check [OPTIONS] [BDF]...`). clap's own line lists the options typed so far as if
/// they were required (`Usage: xenpci check --json <BDF>...`). `cmd` is the whole CLI.
pub fn usage_error_text(
    mut cmd: clap::Command,
    e: &clap::Error,
    args: &[std::ffi::OsString],
) -> String {
    cmd.build();
    let mut current = &cmd;
    for a in args.iter().skip(1) {
        if a == "--" {
            break;
        }
        if let Some(sub) = a.to_str().and_then(|n| current.find_subcommand(n)) {
            current = sub;
        }
    }
    let usage = current.clone().render_usage().to_string();
    let text = e.to_string();
    match usage.lines().next() {
        Some(line) if line.starts_with("Usage: ") => {
            text.lines()
                .map(|l| if l.starts_with("Usage: ") { line } else { l })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        }
        _ => text,
    }
}

/// `--json` may stand anywhere on the line (`xenpci --json list`, `xenpci list --json`): every
/// occurrence before a `--` is moved to just after the deepest subcommand name in `cmd`'s tree,
/// where the subcommand that takes it finds it (and before positionals that take hyphen values).
pub fn json_anywhere(
    cmd: &clap::Command,
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = args.into_iter().collect();
    let end = out.iter().position(|a| a == "--").unwrap_or(out.len());
    let before = out.len();
    let mut i = 1;
    let mut limit = end;
    while i < limit {
        if out[i] == "--json" {
            out.remove(i);
            limit -= 1;
        } else {
            i += 1;
        }
    }
    if out.len() == before {
        return out;
    }
    let mut at = 1;
    let mut current = cmd;
    for (i, a) in out.iter().enumerate().take(limit).skip(1) {
        if let Some(sub) = a.to_str().and_then(|n| current.find_subcommand(n)) {
            current = sub;
            at = i + 1;
        }
    }
    out.insert(at, "--json".into());
    out
}

#[cfg(test)]
mod tests {
    use super::json_anywhere;

    fn v(a: &[&str]) -> Vec<std::ffi::OsString> {
        a.iter().map(Into::into).collect()
    }

    #[test]
    fn json_moves_behind_the_deepest_subcommand_once() {
        let cmd = <crate::Cli as clap::CommandFactory>::command();
        assert_eq!(
            json_anywhere(&cmd, v(&["x", "--json", "list", "-d", "::0106"])),
            v(&["x", "list", "--json", "-d", "::0106"])
        );
        assert_eq!(
            json_anywhere(
                &cmd,
                v(&["x", "--json", "spec", "parse", "--json", "a", "--", "--json"])
            ),
            v(&["x", "spec", "parse", "--json", "a", "--", "--json"])
        );
        assert_eq!(json_anywhere(&cmd, v(&["x", "list"])), v(&["x", "list"]));
    }
}
