//! Test hooks of the mock `xl`: call log (`XL_MOCK_LOG`), fault injection (`XL_MOCK_FAIL`) and
//! latency (`XL_MOCK_LATENCY_MS`). Syntax in crates/mock-xl/README.md.

use std::io::Write;
use std::time::Duration;

/// A malformed hook variable.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("XL_MOCK_FAIL entry {0:?}: expected COMMAND:N or COMMAND:* (optionally =EXIT)")]
    BadFail(String),
    #[error("XL_MOCK_LATENCY_MS entry {0:?}: expected MILLIS or COMMAND=MILLIS")]
    BadLatency(String),
    #[error("cannot append to XL_MOCK_LOG file {path}: {source}")]
    Log {
        path: String,
        source: std::io::Error,
    },
}

/// `Some(exit code)` when call number `count` of `command` must fail
/// (`XL_MOCK_FAIL` = `;`-separated `COMMAND:N[=EXIT]`, `N` = `*` for every call; default exit 1).
pub fn injected(spec: &str, command: &str, count: u64) -> Result<Option<i32>, HookError> {
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || HookError::BadFail(entry.to_string());
        let (head, code) = match entry.split_once('=') {
            Some((h, c)) => (h, c.parse::<i32>().map_err(|_| bad())?),
            None => (entry, 1),
        };
        let (cmd, n) = head.rsplit_once(':').ok_or_else(bad)?;
        let hit = match n {
            "*" => true,
            n => n.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(bad)? == count,
        };
        if cmd == command && hit {
            return Ok(Some(code));
        }
    }
    Ok(None)
}

/// The delay for `command` (`50`, or `migrate=2000,50`).
pub fn latency(spec: &str, command: &str) -> Result<Duration, HookError> {
    let mut default = 0;
    let mut specific = None;
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || HookError::BadLatency(entry.to_string());
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

/// Appends `[HOST] xl ARG…` (shell-quoted) to the log.
pub fn log_call(path: &str, host: &str, args: &[String]) -> Result<(), HookError> {
    let mut line = format!("[{host}] xl");
    for a in args {
        line.push(' ');
        line.push_str(&xenpci::exec::shell_quote(a));
    }
    line.push('\n');
    let err = |source| HookError::Log {
        path: path.to_string(),
        source,
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?
        .write_all(line.as_bytes())
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_spec() {
        assert_eq!(injected("pci-attach:2", "pci-attach", 2).unwrap(), Some(1));
        assert_eq!(injected("pci-attach:2", "pci-attach", 1).unwrap(), None);
        assert_eq!(injected("migrate:*=139", "migrate", 5).unwrap(), Some(139));
        assert!(injected("migrate", "migrate", 1).is_err());
        assert!(injected("migrate:0", "migrate", 1).is_err());
    }

    #[test]
    fn latency_spec() {
        assert_eq!(latency("5", "list").unwrap(), Duration::from_millis(5));
        assert_eq!(
            latency("migrate=9,5", "migrate").unwrap(),
            Duration::from_millis(9)
        );
        assert!(latency("x", "list").is_err());
    }
}
