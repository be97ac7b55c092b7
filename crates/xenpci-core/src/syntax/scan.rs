//! The error type shared by the scanner-style nom parsers ([`super::hide_list`],
//! [`super::xapi_pci`]): where a scan stopped (the rest of the input) and what the rule wanted
//! there, plus the `IResult` alias and a constructor for a failure.

use nom::error::{ErrorKind, ParseError};
use nom::IResult;

/// A scan failure: the remaining input and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanFail<'a> {
    /// The input from the failing character on.
    pub rest: &'a str,
    /// What the rule wanted.
    pub expected: &'static str,
}

impl<'a> ParseError<&'a str> for ScanFail<'a> {
    fn from_error_kind(input: &'a str, _kind: ErrorKind) -> Self {
        ScanFail {
            rest: input,
            expected: "more input",
        }
    }
    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

/// A rule's result.
pub(crate) type Res<'a, T> = IResult<&'a str, T, ScanFail<'a>>;

/// A recoverable failure at `rest`, wanting `expected`.
pub(crate) fn fail<'a, T>(rest: &'a str, expected: &'static str) -> Res<'a, T> {
    Err(nom::Err::Error(ScanFail { rest, expected }))
}
