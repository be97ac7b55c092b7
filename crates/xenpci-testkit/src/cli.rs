//! The one launcher of the tests that run a binary of this build: [`Cli`] starts `xenpci` or
//! `xenpci-plugin` with none of the seams the test process may have inherited (every `XENPCI_*`,
//! `XE_MOCK_*` and `XL_MOCK_*` variable is removed, so a developer's shell or another test's
//! settings cannot change what a test sees), takes the arguments and environment the test gives,
//! and returns one result type, [`Run`] (exit code, stdout, stderr).

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::bins;
use crate::harness::Run;

/// The prefixes of the variables a binary of this build (or a mock it runs) reads as a seam.
const SEAM_PREFIXES: &[&str] = &["XENPCI_", "XE_MOCK_", "XL_MOCK_"];

/// One run of a binary of this build, being set up.
#[derive(Debug)]
pub struct Cli(Command);

impl Cli {
    /// `xenpci`, with no inherited seam.
    pub fn xenpci() -> Cli {
        Cli::of(&bins::xenpci())
    }

    /// `xenpci-plugin`, with no inherited seam.
    pub fn plugin() -> Cli {
        Cli::of(&bins::plugin())
    }

    fn of(bin: &Path) -> Cli {
        let mut c = Command::new(bin);
        for (k, _) in std::env::vars_os() {
            if k.to_str()
                .is_some_and(|k| SEAM_PREFIXES.iter().any(|p| k.starts_with(p)))
            {
                c.env_remove(k);
            }
        }
        Cli(c)
    }

    /// `--root ROOT` (the global option, so it goes before the subcommand's arguments).
    pub fn root(self, root: &Path) -> Cli {
        self.arg("--root").arg(root)
    }

    /// One more argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cli {
        self.0.arg(a);
        self
    }

    /// More arguments.
    pub fn args<I, S>(mut self, args: I) -> Cli
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.0.args(args);
        self
    }

    /// A variable for this run (a seam the test sets on purpose).
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Cli {
        self.0.env(k, v);
        self
    }

    /// Runs it to the end, stdin empty, stdout and stderr captured.
    pub fn run(mut self) -> Run {
        let out = self
            .0
            .output()
            .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", self.0));
        Run::from(out)
    }

    /// Runs it with `input` on stdin.
    pub fn run_with_stdin(mut self, input: &[u8]) -> Run {
        use std::io::Write;
        let mut child = self
            .0
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", self.0));
        let mut stdin = child.stdin.take().expect("a piped stdin");
        let input = input.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().expect("wait for the child");
        // A child that exits without reading all of its stdin is not an error of the test.
        let _ = writer.join();
        Run::from(out)
    }

    /// The command as set up, for a test that drives it itself (assert_cmd, a closed stdout,
    /// concurrent runs).
    pub fn into_command(self) -> Command {
        self.0
    }
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seam set in the test process does not reach the child; one set on the run does.
    #[test]
    fn inherited_seams_are_removed_and_given_ones_kept() {
        let c = Cli::of(Path::new("/bin/true"))
            .env("XENPCI_ROOT", "/given")
            .into_command();
        let removed_or_set: Vec<_> = c
            .get_envs()
            .map(|(k, v)| (k.to_string_lossy().into_owned(), v.map(|v| v.to_owned())))
            .collect();
        assert!(removed_or_set.contains(&("XENPCI_ROOT".into(), Some("/given".into()))));
        for (k, v) in &removed_or_set {
            if k != "XENPCI_ROOT" {
                assert!(v.is_none(), "{k} passed on");
                assert!(
                    SEAM_PREFIXES.iter().any(|p| k.starts_with(p)),
                    "{k} removed"
                );
            }
        }
        for (k, _) in std::env::vars() {
            if k.starts_with("XENPCI_") && k != "XENPCI_ROOT" {
                assert!(removed_or_set.iter().any(|(r, _)| *r == k), "{k} inherited");
            }
        }
    }
}
