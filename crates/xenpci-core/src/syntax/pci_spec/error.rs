//! How a PCI_SPEC_STRING fails: the class Xen's own failure falls in ([`SpecErrorKind`], what
//! the differential test compares), the error with its position and hint ([`SpecError`]), and
//! the error the grammar rules return while parsing ([`RuleError`], [`RuleResult`]).

use serde::Serialize;

/// How Xen fails on an input (the class the differential test compares).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecErrorKind {
    /// Xen returns ERROR_INVAL (-6); `xl create` exits 6, `xl pci-attach` exits 2.
    Inval,
    /// Xen returns ERROR_FAIL (-3): an unknown `rdm_policy`; `xl create` exits 3.
    Fail,
    /// Xen's result is undefined (uninitialised `%n`), or the input cannot reach Xen (NUL byte).
    /// We reject it.
    Undefined,
    /// [`format_spec`] only: the value cannot be written as a PCI_SPEC_STRING.
    Unrepresentable,
}

impl SpecErrorKind {
    /// Xen's return code for this class, when it has one.
    pub fn xen_code(self) -> Option<i32> {
        match self {
            SpecErrorKind::Inval => Some(-6),
            SpecErrorKind::Fail => Some(-3),
            _ => None,
        }
    }
}

/// A rejected spec: names the input, the byte offset and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid PCI_SPEC_STRING {input:?} at offset {offset}: {message}")]
pub struct SpecError {
    /// The whole input.
    pub input: String,
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was expected / what Xen does.
    pub message: String,
    /// How Xen fails.
    pub kind: SpecErrorKind,
    /// What libxlutil itself prints to xl's stderr for this input (no trailing newline), if
    /// anything, e.g. `Unknown PCI_SPEC_STRING option: foo`.
    pub xen_report: Option<String>,
}

/// A failure inside one rule: where (the remaining input), how Xen fails, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError<'a> {
    /// The input left when the rule failed.
    pub at: &'a str,
    /// How Xen fails.
    pub kind: SpecErrorKind,
    /// What was expected.
    pub message: String,
    /// Xen's own report line, if it prints one.
    pub xen_report: Option<String>,
}

impl<'a> RuleError<'a> {
    fn inval(at: &'a str, message: impl Into<String>) -> Self {
        RuleError {
            at,
            kind: SpecErrorKind::Inval,
            message: message.into(),
            xen_report: None,
        }
    }
}

impl<'a> nom::error::ParseError<&'a str> for RuleError<'a> {
    fn from_error_kind(at: &'a str, kind: nom::error::ErrorKind) -> Self {
        RuleError::inval(at, format!("expected {}", kind.description()))
    }
    fn append(_: &'a str, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// A rule's result: nom's `IResult`. `nom::Err::Error` is a failure an enclosing rule may recover
/// from (a positional BDF that does not parse: Xen restarts in KEY=VALUE mode); `nom::Err::Failure`
/// is final (undefined behaviour, or an error after the positional BDF was read). The class Xen
/// reports is in [`RuleError::kind`].
pub type RuleResult<'a, T> = nom::IResult<&'a str, T, RuleError<'a>>;

/// A recoverable rule failure (Xen's ERROR_INVAL).
pub(super) fn inval<'a>(at: &'a str, message: impl Into<String>) -> nom::Err<RuleError<'a>> {
    nom::Err::Error(RuleError::inval(at, message))
}

/// The error inside a rule's `nom::Err` (the rules are complete parsers: never `Incomplete`).
pub fn rule_error(e: nom::Err<RuleError<'_>>) -> RuleError<'_> {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => RuleError::inval("", "incomplete input"),
    }
}

/// How an input appears in a message: its first 16 characters, quoted, or "the end of the
/// input".
pub(super) fn shown(s: &str) -> String {
    if s.is_empty() {
        "the end of the input".into()
    } else {
        let head: String = s.chars().take(16).collect();
        format!("{head:?}")
    }
}
