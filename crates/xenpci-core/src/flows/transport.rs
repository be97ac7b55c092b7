//! Where a flow's commands run: the local host directly, another host through a transport
//! (`ssh HOST xl …` by default, or a command template such as `env XL_MOCK_HOST={host} {cmd}`
//! in tests). Files of another host (sysfs identity) are read with `cat` through the same
//! transport, under a per-host root.

use std::path::PathBuf;

use crate::exec::{CommandSpec, Output, Runner, Tool};
use crate::host::HostRoot;

use super::FlowError;

/// How commands reach another host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// `ssh HOST CMD…` (the remote side runs plain `xl`/`xe`/`cat`).
    Ssh,
    /// Every host is this machine: commands run as they are (a single host, or `xl migrate -s ""`).
    Local,
    /// A template of words: `{host}` inside a word becomes the host name; the word `{cmd}`
    /// becomes the command's argv. E.g. `env XL_MOCK_HOST={host} {cmd}`.
    Template(Vec<String>),
}

impl Transport {
    /// Parses `ssh`, `local` or a template (it must contain the word `{cmd}`).
    pub fn parse(s: &str) -> Result<Transport, FlowError> {
        match s.trim() {
            "ssh" => Ok(Transport::Ssh),
            "local" => Ok(Transport::Local),
            t => {
                let words: Vec<String> = t.split_whitespace().map(str::to_string).collect();
                if !words.iter().any(|w| w == "{cmd}") {
                    return Err(FlowError::BadInput {
                        what: "--transport".into(),
                        input: s.into(),
                        expected:
                            "ssh, local, or a command template with the word {cmd} (and {host})"
                                .into(),
                    });
                }
                Ok(Transport::Template(words))
            }
        }
    }
}

/// The hosts a flow touches and how to reach them.
pub struct Site<'a> {
    /// Runs (or, in a dry run, records) every command.
    pub runner: &'a dyn Runner,
    /// The name of the host xenpci runs on (`None`: every host goes through the transport).
    pub local: Option<String>,
    /// How other hosts are reached.
    pub transport: Transport,
    /// This host's root (sysfs reads).
    pub root: HostRoot,
    /// Root of other hosts' files; `{host}` is replaced by the host name (default `/`).
    pub remote_root: String,
}

impl Site<'_> {
    /// True for this host (its name, or `localhost`).
    pub fn is_local(&self, host: &str) -> bool {
        host == "localhost" || self.local.as_deref() == Some(host)
    }

    /// `localhost` becomes this host's name; other names are kept.
    pub fn canonical(&self, host: &str) -> String {
        match (&self.local, host) {
            (Some(l), "localhost") => l.clone(),
            _ => host.to_string(),
        }
    }

    /// The command `argv` as it runs for `host`. `program` is the tool's name on a remote host;
    /// locally (and through `local`/templates) the configured binary (`XENPCI_XL`, …) is used.
    pub fn command(&self, host: &str, tool: Option<Tool>, argv: &[String]) -> CommandSpec {
        let local_prog = |t: Option<Tool>, name: &str| match t {
            Some(t) => t.command().program,
            None => name.to_string(),
        };
        let name = argv.first().cloned().unwrap_or_default();
        let rest = &argv[1.min(argv.len())..];
        if self.is_local(host) {
            return CommandSpec::new(local_prog(tool, &name)).args(rest.iter().cloned());
        }
        match &self.transport {
            Transport::Local => {
                CommandSpec::new(local_prog(tool, &name)).args(rest.iter().cloned())
            }
            Transport::Ssh => CommandSpec::new("ssh")
                .arg(host)
                .arg("--")
                .args(argv.iter().map(|a| crate::exec::shell_quote(a))),
            Transport::Template(words) => {
                let mut out: Vec<String> = Vec::new();
                for w in words {
                    if w == "{cmd}" {
                        out.push(local_prog(tool, &name));
                        out.extend(rest.iter().cloned());
                    } else {
                        out.push(w.replace("{host}", host));
                    }
                }
                CommandSpec::new(out[0].clone()).args(out[1..].iter().cloned())
            }
        }
    }

    /// `xl ARGS…` on `host`.
    pub fn xl(&self, host: &str, args: &[&str]) -> CommandSpec {
        let mut argv = vec!["xl".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        self.command(host, Some(Tool::Xl), &argv)
    }

    /// Runs `xl ARGS…` on `host` and returns its output whatever the status.
    pub fn run_xl(&self, host: &str, args: &[&str]) -> Result<Output, FlowError> {
        let cmd = self.xl(host, args);
        let o = self.runner.output(&cmd).map_err(|e| FlowError::Exec {
            host: host.to_string(),
            source: Box::new(e),
        })?;
        self.reached(host, &cmd, o)
    }

    /// `o` of `cmd` on `host`, or [`FlowError::Unreachable`] when the transport itself failed:
    /// for another host, exit status 255 is ssh's own failure (no route, refused, auth), never
    /// xl's or grep's.
    fn reached(&self, host: &str, cmd: &CommandSpec, o: Output) -> Result<Output, FlowError> {
        if !self.is_local(host) && self.transport != Transport::Local && o.status == Some(255) {
            return Err(FlowError::Unreachable {
                host: host.to_string(),
                command: cmd.to_string(),
                status: "exit 255".into(),
                stderr: o.stderr.trim().to_string(),
            });
        }
        Ok(o)
    }

    /// Reads small files of `host` (sysfs attributes); `None` for a file that cannot be read.
    pub fn read_files(
        &self,
        host: &str,
        paths: &[String],
    ) -> Result<Vec<Option<String>>, FlowError> {
        if self.is_local(host) || self.transport == Transport::Local && self.local.is_none() {
            return Ok(paths
                .iter()
                .map(|p| {
                    crate::bounded_read::read_string(
                        &self.root.path(p),
                        crate::bounded_read::CONFIG_LIMIT,
                    )
                    .ok()
                    .map(|s| s.trim().to_string())
                })
                .collect());
        }
        // one round trip for all files: `grep -H -s . F…` prints `F:content` for each readable,
        // non-empty file (sysfs attributes are one line)
        let root = PathBuf::from(self.remote_root.replace("{host}", host));
        let full: Vec<String> = paths
            .iter()
            .map(|p| root.join(p.trim_start_matches('/')).display().to_string())
            .collect();
        let mut argv = vec!["grep".to_string(), "-H".into(), "-s".into(), ".".into()];
        argv.extend(full.iter().cloned());
        let cmd = self.command(host, None, &argv);
        let o = self.runner.output(&cmd).map_err(|e| FlowError::Exec {
            host: host.to_string(),
            source: Box::new(e),
        })?;
        let o = self.reached(host, &cmd, o)?;
        // grep exits 0 (something read), 1 (nothing) or 2 (a file missing, -s keeps quiet);
        // anything else, or an error it printed, is the transport failing.
        if !matches!(o.status, Some(0..=2)) || (o.stdout.is_empty() && !o.stderr.trim().is_empty())
        {
            return Err(FlowError::Unreachable {
                host: host.to_string(),
                command: cmd.to_string(),
                status: o
                    .status
                    .map_or("killed by a signal".into(), |s| format!("exit {s}")),
                stderr: o.stderr.trim().to_string(),
            });
        }
        let out = full
            .iter()
            .map(|f| {
                let prefix = format!("{f}:");
                o.stdout
                    .lines()
                    .find_map(|l| l.strip_prefix(&prefix))
                    .map(|v| v.trim().to_string())
            })
            .collect();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::DryRunRunner;

    fn site(r: &DryRunRunner, t: Transport) -> Site<'_> {
        Site {
            runner: r,
            local: Some("h1".into()),
            transport: t,
            root: HostRoot::default(),
            remote_root: "/".into(),
        }
    }

    #[test]
    fn ssh_quotes_each_word_for_the_remote_shell() {
        let r = DryRunRunner::new();
        let s = site(&r, Transport::Ssh);
        let c = s.xl("h2", &["pci-attach", "vm 1", "01:00.0@4"]);
        assert_eq!(
            c.argv(),
            ["ssh", "h2", "--", "xl", "pci-attach", "'vm 1'", "01:00.0@4"]
        );
    }

    #[test]
    fn template_puts_host_and_command_in_place() {
        let r = DryRunRunner::new();
        let s = site(
            &r,
            Transport::parse("env XL_MOCK_HOST={host} {cmd}").unwrap(),
        );
        let c = s.xl("h2", &["pci-list", "vm"]);
        let argv = c.argv();
        assert_eq!(&argv[..2], ["env", "XL_MOCK_HOST=h2"]);
        assert_eq!(&argv[3..], ["pci-list", "vm"]);
        assert!(Transport::parse("env X={host}").is_err());
    }

    #[test]
    fn local_host_runs_directly() {
        let r = DryRunRunner::new();
        let s = site(&r, Transport::Ssh);
        assert_eq!(s.xl("h1", &["list"]).argv()[1..], ["list"]);
    }
}
