//! [`Tool`]: the external programs xenpci drives, found through `PATH` or an override variable
//! (`XENPCI_XE`, `XENPCI_XL`, `XENPCI_XEN_CMDLINE`), so tests and users can point at other binaries.

use std::path::PathBuf;

use super::command::CommandSpec;

/// An external program xenpci knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// XAPI's CLI.
    Xe,
    /// Xen's xl.
    Xl,
    /// XCP-ng/XenServer's `/opt/xensource/libexec/xen-cmdline`.
    XenCmdline,
}

/// The program is neither overridden nor found.
#[derive(Debug, thiserror::Error)]
#[error("cannot find `{name}`: not on PATH{extra} (set {var} to its path)")]
pub struct ToolError {
    /// Program name.
    pub name: &'static str,
    /// Override variable.
    pub var: &'static str,
    /// Other places looked at.
    pub extra: String,
}

impl Tool {
    /// The program's usual name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Xe => "xe",
            Tool::Xl => "xl",
            Tool::XenCmdline => "xen-cmdline",
        }
    }

    /// The environment variable that overrides where it is.
    pub fn env_var(self) -> &'static str {
        match self {
            Tool::Xe => "XENPCI_XE",
            Tool::Xl => "XENPCI_XL",
            Tool::XenCmdline => "XENPCI_XEN_CMDLINE",
        }
    }

    fn fallbacks(self) -> &'static [&'static str] {
        match self {
            Tool::XenCmdline => &["/opt/xensource/libexec/xen-cmdline"],
            Tool::Xe => &["/opt/xensource/bin/xe"],
            Tool::Xl => &[],
        }
    }

    /// Where the program is: the override variable, else PATH, else its usual install path.
    pub fn locate(self) -> Result<PathBuf, ToolError> {
        if let Some(p) = std::env::var_os(self.env_var()).filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(p));
        }
        if let Ok(p) = which::which(self.name()) {
            return Ok(p);
        }
        for f in self.fallbacks() {
            let p = PathBuf::from(f);
            if p.is_file() {
                return Ok(p);
            }
        }
        let extra = match self.fallbacks() {
            [] => String::new(),
            f => format!(" nor at {}", f.join(", ")),
        };
        Err(ToolError {
            name: self.name(),
            var: self.env_var(),
            extra,
        })
    }

    /// True when the program can be found.
    pub fn available(self) -> bool {
        self.locate().is_ok()
    }

    /// A command for this program: its located path, or its bare name when it cannot be found
    /// (fine for a dry run; a real run then fails with the spawn error naming the program).
    pub fn command(self) -> CommandSpec {
        CommandSpec::new(
            self.locate()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| self.name().into()),
        )
    }
}
