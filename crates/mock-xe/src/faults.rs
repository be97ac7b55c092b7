//! Test hooks of the mock: the call log (`XE_MOCK_LOG`: one shell-quoted `xe …` line per call,
//! appended before the call runs), fault injection (`XE_MOCK_FAIL`: fail the Nth call of a
//! command with a given API error) and latency (`XE_MOCK_LATENCY_MS`). Syntax in README.md.

use std::io::Write;
use std::time::Duration;

use crate::errors::XeError;

/// A malformed hook variable (a broken test, reported as such).
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error(
        "XE_MOCK_FAIL entry {entry:?}: expected COMMAND:N[=CODE[,PARAM…]] with N a number or '*'"
    )]
    BadFail { entry: String },
    #[error("XE_MOCK_LATENCY_MS entry {entry:?}: expected MILLIS or COMMAND=MILLIS")]
    BadLatency { entry: String },
    #[error("cannot append to XE_MOCK_LOG file {path}")]
    Log {
        path: String,
        source: std::io::Error,
    },
}

/// One `XE_MOCK_FAIL` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub command: String,
    /// `None`: every call.
    pub nth: Option<u64>,
    pub code: Option<String>,
    pub params: Vec<String>,
}

/// Parses `XE_MOCK_FAIL`: `;`-separated `COMMAND:N[=CODE[,PARAM…]]`.
pub fn parse_faults(spec: &str) -> Result<Vec<Fault>, FaultError> {
    let mut out = Vec::new();
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || FaultError::BadFail {
            entry: entry.to_string(),
        };
        let (head, error) = match entry.split_once('=') {
            Some((h, e)) => (h, Some(e)),
            None => (entry, None),
        };
        let (command, n) = head.rsplit_once(':').ok_or_else(bad)?;
        if command.is_empty() {
            return Err(bad());
        }
        let nth = match n {
            "*" => None,
            n => Some(n.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(bad)?),
        };
        let (code, params) = match error {
            None => (None, Vec::new()),
            Some(e) => {
                let mut parts = e.split(',').map(str::to_string);
                let code = parts.next().filter(|c| !c.is_empty()).ok_or_else(bad)?;
                (Some(code), parts.collect())
            }
        };
        out.push(Fault {
            command: command.to_string(),
            nth,
            code,
            params,
        });
    }
    Ok(out)
}

/// The injected error for call number `count` of `command`, if any.
pub fn injected(faults: &[Fault], command: &str, count: u64) -> Option<XeError> {
    let f = faults
        .iter()
        .find(|f| f.command == command && f.nth.is_none_or(|n| n == count))?;
    Some(match &f.code {
        None => XeError::internal(format!(
            "mock-xe: injected failure of {command} call {count}"
        )),
        Some(code) => XeError::Api {
            code: code.clone(),
            params: f.params.clone(),
        },
    })
}

/// Parses `XE_MOCK_LATENCY_MS` (`50`, or `vm-start=2000,50`) into the delay for `command`.
pub fn latency(spec: &str, command: &str) -> Result<Duration, FaultError> {
    let mut default = 0;
    let mut specific = None;
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || FaultError::BadLatency {
            entry: entry.to_string(),
        };
        match entry.split_once('=') {
            Some((c, ms)) => {
                let ms = ms.parse::<u64>().map_err(|_| bad())?;
                if c == command {
                    specific = Some(ms);
                }
            }
            None => default = entry.parse::<u64>().map_err(|_| bad())?,
        }
    }
    Ok(Duration::from_millis(specific.unwrap_or(default)))
}

/// POSIX-shell quoting of one word (only when needed).
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-+=:,./@%^".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Appends `xe ARG…` to the log file.
pub fn log_call(path: &str, args: &[String]) -> Result<(), FaultError> {
    let mut line = String::from("xe");
    for a in args {
        line.push(' ');
        line.push_str(&shell_quote(a));
    }
    line.push('\n');
    let err = |source| FaultError::Log {
        path: path.to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?;
    f.write_all(line.as_bytes()).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_spec() {
        let f = parse_faults("vm-start:2;vm-param-set:*=VM_BAD_POWER_STATE,a,b").unwrap();
        assert_eq!(
            f[0],
            Fault {
                command: "vm-start".into(),
                nth: Some(2),
                code: None,
                params: vec![]
            }
        );
        assert_eq!(f[1].nth, None);
        assert_eq!(f[1].params, ["a", "b"]);
        assert!(injected(&f, "vm-start", 1).is_none());
        assert!(injected(&f, "vm-start", 2).is_some());
        assert!(injected(&f, "vm-param-set", 7).is_some());
        assert!(parse_faults("vm-start").is_err());
        assert!(parse_faults("vm-start:0").is_err());
        assert!(parse_faults("vm-start:x").is_err());
    }

    #[test]
    fn latency_spec() {
        assert_eq!(latency("50", "vm-list").unwrap(), Duration::from_millis(50));
        assert_eq!(
            latency("vm-start=2000,50", "vm-start").unwrap(),
            Duration::from_millis(2000)
        );
        assert_eq!(latency("vm-start=2000", "vm-list").unwrap(), Duration::ZERO);
        assert!(latency("fast", "vm-list").is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(
            shell_quote("other-config:pci=0/0000:06:00.0,1/0000:07:00.0"),
            "other-config:pci=0/0000:06:00.0,1/0000:07:00.0"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
