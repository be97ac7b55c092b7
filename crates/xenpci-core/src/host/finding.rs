//! The words of a preflight ([`super::preflight`], [`super::kvm_check`]): a [`Report`] per
//! function, each a list of [`Finding`]s with a [`Severity`], kept apart so both checks can use
//! them without importing each other.

use serde::Serialize;

use crate::pci::Bdf;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Checked and fine.
    Ok,
    /// Worth knowing; nothing blocks.
    Info,
    /// Passing works but something is risky or unknown.
    Warning,
    /// Passing would fail or hurt dom0.
    Error,
}

impl Severity {
    /// Lowercase label.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which check: `present`, `iommu`, `bridge`, `critical`, `group`, `conventional-pci`,
    /// `reset`, `rmrr`, `sriov`, `driver`.
    pub check: &'static str,
    /// How bad.
    pub severity: Severity,
    /// What it means.
    pub message: String,
    /// The exact fix, when there is something to do.
    pub fix: Option<String>,
}

pub(crate) fn finding(
    check: &'static str,
    severity: Severity,
    message: String,
    fix: Option<String>,
) -> Finding {
    Finding {
        check,
        severity,
        message,
        fix,
    }
}

/// The preflight of one function.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The function checked.
    pub bdf: Bdf,
    /// `Class: Vendor Device (rev xx)`, when the function exists.
    pub description: Option<String>,
    /// True when nothing is an error.
    pub passable: bool,
    /// What was found, in check order.
    pub findings: Vec<Finding>,
}
