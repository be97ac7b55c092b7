//! [`CommandSpec`]: a program and its argv, with a Display that is the exact command shell-quoted
//! (for dry runs and logs), and [`Output`], what a run returned.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// One external command: a program and its arguments, passed as argv (never through a shell).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandSpec {
    /// Program path or name.
    pub program: String,
    /// Arguments, one per argv slot.
    pub args: Vec<String>,
    /// Give up after this long (None: wait forever).
    #[serde(skip)]
    pub timeout: Option<Duration>,
}

impl CommandSpec {
    /// A command with no arguments yet.
    pub fn new(program: impl Into<String>) -> CommandSpec {
        CommandSpec {
            program: program.into(),
            args: Vec::new(),
            timeout: None,
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, a: impl Into<String>) -> CommandSpec {
        self.args.push(a.into());
        self
    }

    /// Adds several arguments.
    pub fn args<I, S>(mut self, args: I) -> CommandSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets a timeout.
    pub fn timeout(mut self, t: Duration) -> CommandSpec {
        self.timeout = Some(t);
        self
    }

    /// The argv, program first.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }
}

impl fmt::Display for CommandSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self.argv().iter().map(|a| shell_quote(a)).collect();
        f.write_str(&words.join(" "))
    }
}

/// Quotes one word for display in a POSIX shell: unchanged when it holds only characters a shell
/// leaves alone, else in single quotes (with `'` written as `'\''`).
pub fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// What a finished command returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Output {
    /// Exit status (None when killed by a signal or timed out).
    pub status: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl Output {
    /// A successful output with this stdout.
    pub fn ok(stdout: impl Into<String>) -> Output {
        Output {
            status: Some(0),
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    /// True when the command exited 0.
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_it() {
        let c = CommandSpec::new("xe")
            .arg("vm-param-set")
            .arg("uuid=abc")
            .arg("other-config:pci=0/0000:05:00.0,0/0000:06:00.0");
        assert_eq!(
            c.to_string(),
            "xe vm-param-set uuid=abc other-config:pci=0/0000:05:00.0,0/0000:06:00.0"
        );
        let c = CommandSpec::new("xen-cmdline")
            .arg("--set-dom0")
            .arg("xen-pciback.hide=(0000:05:00.0)");
        assert_eq!(
            c.to_string(),
            "xen-cmdline --set-dom0 'xen-pciback.hide=(0000:05:00.0)'"
        );
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
