//! [`Runner`]: the seam through which every external command runs. [`SystemRunner`] spawns the
//! program with argv (no shell); [`DryRunRunner`] records what would run and answers nothing;
//! [`RecordingRunner`] answers from a script, for unit tests.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::command::{CommandSpec, Output};

/// Why a command could not be run or failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The program could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command, shell-quoted.
        command: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The program ran longer than its timeout and was killed.
    #[error("`{command}` did not finish within {secs:.1} s and was stopped")]
    Timeout {
        /// The command, shell-quoted.
        command: String,
        /// The timeout in seconds.
        secs: f64,
    },
    /// The program exited non-zero.
    #[error("`{command}` failed (exit {status}): {stderr}")]
    Failed {
        /// The command, shell-quoted.
        command: String,
        /// Exit status, or "signal".
        status: String,
        /// Its stderr (or stdout when stderr was empty), trimmed.
        stderr: String,
        /// The whole output (boxed: keeps `Result<_, ExecError>` small).
        output: Box<Output>,
    },
    /// Under a host root other than `/`, a host tool would have run on the real host.
    #[error(
        "refusing to run `{command}`: under the host root {root} xenpci never runs the host's own \
         {tool} (it would act on the real host); set {var} to a stand-in"
    )]
    Confined {
        /// The command, shell-quoted.
        command: String,
        /// The host root.
        root: String,
        /// The tool.
        tool: &'static str,
        /// Its override variable.
        var: &'static str,
    },
    /// A dry run reached a step that needs a real answer.
    #[error("dry run: `{command}` was not run, so its result is unknown")]
    DryRun {
        /// The command, shell-quoted.
        command: String,
    },
}

/// Runs commands. Implementations decide whether anything really happens.
pub trait Runner: Send + Sync {
    /// Runs the command and returns its output, whatever the exit status.
    fn output(&self, cmd: &CommandSpec) -> Result<Output, ExecError>;

    /// True when nothing really runs (dry run): callers then plan instead of asking.
    fn is_dry_run(&self) -> bool {
        false
    }

    /// Runs the command and fails unless it exits 0.
    fn run(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
        let out = self.output(cmd)?;
        if out.success() {
            Ok(out)
        } else {
            let text = if out.stderr.trim().is_empty() {
                &out.stdout
            } else {
                &out.stderr
            };
            Err(ExecError::Failed {
                command: cmd.to_string(),
                status: out.status.map_or("signal".to_string(), |s| s.to_string()),
                stderr: text.trim().to_string(),
                output: Box::new(out),
            })
        }
    }
}

/// Runs commands for real, with argv and no shell.
#[derive(Debug, Default, Clone)]
pub struct SystemRunner;

impl Runner for SystemRunner {
    fn output(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
        tracing::debug!(command = %cmd, "run");
        let spawn_err = |source| ExecError::Spawn {
            command: cmd.to_string(),
            source,
        };
        let mut command = Command::new(&cmd.program);
        if let Some(root) = super::tool::confined_root() {
            // `env A=B xl ...` (a transport template) runs its first non-assignment word.
            let run = if cmd.program == "env" {
                cmd.args
                    .iter()
                    .find(|a| !a.contains('=') && !a.starts_with('-'))
            } else {
                Some(&cmd.program)
            };
            if let Some(t) = run.and_then(|p| super::Tool::host_tool(p)) {
                return Err(ExecError::Confined {
                    command: cmd.to_string(),
                    root: root.display().to_string(),
                    tool: t.name(),
                    var: t.env_var(),
                });
            }
            if !crate::config::get().root_in_env {
                command.env("XENPCI_ROOT", root);
            }
        }
        let mut child = command
            .args(&cmd.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        let mut out_pipe = child.stdout.take().expect("piped stdout");
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let out_t = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = out_pipe.read_to_end(&mut b);
            b
        });
        let err_t = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = err_pipe.read_to_end(&mut b);
            b
        });
        let start = Instant::now();
        let status = loop {
            match child.try_wait().map_err(spawn_err)? {
                Some(st) => break st,
                None => {
                    if let Some(t) = cmd.timeout {
                        if start.elapsed() > t {
                            let _ = child.kill();
                            let _ = child.wait();
                            return Err(ExecError::Timeout {
                                command: cmd.to_string(),
                                secs: t.as_secs_f64(),
                            });
                        }
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        };
        let stdout = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
        let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
        Ok(Output {
            status: status.code(),
            stdout,
            stderr,
        })
    }
}

/// Records every command and runs none of them.
#[derive(Debug, Default)]
pub struct DryRunRunner {
    seen: Mutex<Vec<CommandSpec>>,
}

impl DryRunRunner {
    /// A new, empty dry run.
    pub fn new() -> DryRunRunner {
        DryRunRunner::default()
    }

    /// The commands that would have run, in order.
    pub fn commands(&self) -> Vec<CommandSpec> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Runner for DryRunRunner {
    fn output(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
        self.seen.lock().expect("lock").push(cmd.clone());
        Err(ExecError::DryRun {
            command: cmd.to_string(),
        })
    }

    fn is_dry_run(&self) -> bool {
        true
    }
}

type Responder = Box<dyn Fn(&CommandSpec) -> Option<Output> + Send + Sync>;

/// Answers commands from a list of responders (first match wins) and records every call.
/// Unmatched commands fail with exit 127, like a missing program.
#[derive(Default)]
pub struct RecordingRunner {
    responders: Vec<Responder>,
    seen: Mutex<Vec<CommandSpec>>,
}

impl RecordingRunner {
    /// A runner that knows no command yet.
    pub fn new() -> RecordingRunner {
        RecordingRunner::default()
    }

    /// Adds a responder: returns Some(output) for the commands it handles.
    pub fn on(
        mut self,
        f: impl Fn(&CommandSpec) -> Option<Output> + Send + Sync + 'static,
    ) -> RecordingRunner {
        self.responders.push(Box::new(f));
        self
    }

    /// The commands run so far, shell-quoted.
    pub fn calls(&self) -> Vec<String> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .map(|c| c.to_string())
            .collect()
    }
}

impl Runner for RecordingRunner {
    fn output(&self, cmd: &CommandSpec) -> Result<Output, ExecError> {
        self.seen.lock().expect("lock").push(cmd.clone());
        Ok(self
            .responders
            .iter()
            .find_map(|r| r(cmd))
            .unwrap_or(Output {
                status: Some(127),
                stdout: String::new(),
                stderr: format!("{}: command not found", cmd.program),
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_runner_passes_argv_without_a_shell() {
        let out = SystemRunner
            .run(
                &CommandSpec::new("printf")
                    .arg("%s|")
                    .arg("a b; echo no")
                    .arg("$HOME"),
            )
            .unwrap();
        assert_eq!(out.stdout, "a b; echo no|$HOME|");
    }

    #[test]
    fn failures_carry_the_command_and_stderr() {
        let e = SystemRunner
            .run(&CommandSpec::new("sh").args(["-c", "echo boom >&2; exit 3"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("exit 3") && e.contains("boom") && e.contains("sh -c"),
            "{e}"
        );
        let e = SystemRunner
            .run(&CommandSpec::new("/nonexistent/xe"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/xe"), "{e}");
    }

    #[test]
    fn timeouts_stop_the_child() {
        let e = SystemRunner
            .run(
                &CommandSpec::new("sleep")
                    .arg("5")
                    .timeout(Duration::from_millis(100)),
            )
            .unwrap_err();
        assert!(matches!(e, ExecError::Timeout { .. }), "{e}");
    }

    #[test]
    fn dry_run_records_and_refuses_to_answer() {
        let r = DryRunRunner::new();
        assert!(r
            .run(&CommandSpec::new("xl").arg("pci-list").arg("1"))
            .is_err());
        assert_eq!(r.commands()[0].to_string(), "xl pci-list 1");
        assert!(r.is_dry_run());
    }

    #[test]
    fn recording_runner_answers_from_responders() {
        let r = RecordingRunner::new()
            .on(|c| (c.args.first().map(String::as_str) == Some("info")).then(|| Output::ok("x")));
        assert_eq!(
            r.run(&CommandSpec::new("xl").arg("info")).unwrap().stdout,
            "x"
        );
        assert_eq!(
            r.output(&CommandSpec::new("xl").arg("list"))
                .unwrap()
                .status,
            Some(127)
        );
        assert_eq!(r.calls(), vec!["xl info", "xl list"]);
    }
}
