//! The xl.cfg `rdm = "..."` value as Xen 4.15+'s `xlu_rdm_parse` reads it, bug included.
//!
//! Grammar: `grammar/rdm.ebnf`; source: `tools/libs/util/libxlu_pci.c` (identical from
//! RELEASE-4.15.0 to master, checked against Debian's libxlutil 4.17 by
//! `tests/spec_differential.rs`). The intended form is `strategy=host[,policy=strict|relaxed]`, but
//! since Xen 4.15 (commit bdc0799fe2) the policy check is inverted: a *valid* policy makes
//! `xlu_rdm_parse` fail, and xl ignores a failed `rdm=` silently, so
//! `rdm = "strategy=host,policy=relaxed"` is dropped as a whole. An unknown policy is reported
//! (`Unknown RDM policy: ...`) and otherwise accepted, leaving the policy untouched.
//!
//! [`parse_rdm`] returns what Xen reaches: which fields `xlu_rdm_parse` writes (`None` = left
//! untouched, which in xl means uninitialised stack memory), or the error xl swallows.

use nom::bytes::complete::take_till;
use nom::character::complete::char;
use nom::combinator::opt;
use nom::{IResult, Parser};
use serde::Serialize;

use super::pci_spec::rdm_policy_value;

/// `strategy=` value (`host` is the only one the parser knows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RdmStrategy {
    /// `host`
    Host,
}

/// What a successful `xlu_rdm_parse` wrote. `None`: the field was left untouched (xl's local
/// `libxl_rdm_reserve` is never initialised, so it is undefined there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RdmReserve {
    /// `strategy=host` was given.
    pub strategy: Option<RdmStrategy>,
    /// Always `None` on success in Xen 4.15+: only an invalid policy gets through, and it is not
    /// stored. Kept so callers can print `"policy": null` honestly.
    pub policy: Option<super::pci_spec::RdmPolicy>,
}

/// A rejected `rdm=` value. xl drops the whole `rdm=` setting without a word when this happens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rdm value {input:?} is rejected by Xen at offset {offset}: {message}")]
pub struct RdmError {
    /// The whole input.
    pub input: String,
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was expected / what Xen does.
    pub message: String,
    /// What libxlutil prints to xl's stderr (no trailing newline), if anything.
    pub xen_report: Option<String>,
}

/// One `KEY=VALUE` item of an rdm value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RdmItem<'a> {
    /// Everything before the first `=` (commas included: the key scan only stops at `=`).
    pub key: &'a str,
    /// Everything after the `=` up to the next `,` or the end.
    pub value: &'a str,
    /// A `,` ended the value.
    pub comma: bool,
}

/// `rdm_item`: one `KEY=VALUE` with its terminator. Fails when no `=` is left.
pub fn rdm_item(input: &str) -> IResult<&str, RdmItem<'_>> {
    let (rest, (key, _, value, comma)) = (
        take_till(|c| c == '='),
        char('='),
        take_till(|c| c == ','),
        opt(char(',')),
    )
        .parse(input)?;
    Ok((
        rest,
        RdmItem {
            key,
            value,
            comma: comma.is_some(),
        },
    ))
}

/// Parses an `rdm=` value the way `xlu_rdm_parse` does; returns what Xen reaches plus warnings
/// (which include the messages Xen prints while still succeeding).
pub fn parse_rdm(input: &str) -> Result<(RdmReserve, Vec<String>), RdmError> {
    let err = |at: usize, message: String, xen_report: Option<String>| {
        RdmError {
        input: input.to_string(),
        offset: at,
        message: format!(
            "{message}; xl then ignores the whole rdm= setting silently (libxl's default: strategy ignore, policy relaxed)"
        ),
        xen_report,
    }
    };
    if let Some(pos) = input.find('\0') {
        return Err(err(pos, "a NUL byte cannot reach Xen".into(), None));
    }
    let mut out = RdmReserve {
        strategy: None,
        policy: None,
    };
    let mut warnings = Vec::new();
    let mut rest = input;
    loop {
        let at = input.len() - rest.len();
        let (r, item) = rdm_item(rest).map_err(|_| {
            let what = if input.is_empty() {
                "an empty value".to_string()
            } else if rest.is_empty() {
                "a trailing ','".to_string()
            } else {
                format!("{rest:?} with no '='")
            };
            err(at, format!("expected KEY=VALUE, found {what}"), None)
        })?;
        let value_at = at + item.key.len() + 1;
        match item.key {
            "strategy" => {
                if item.value != "host" {
                    return Err(err(
                        value_at,
                        format!(
                            "expected strategy=host (exact, lowercase), found {:?}",
                            item.value
                        ),
                        Some(format!("Unknown RDM strategy option: {}", item.value)),
                    ));
                }
                out.strategy = Some(RdmStrategy::Host);
            }
            "policy" => {
                if rdm_policy_value(item.value).is_ok() {
                    return Err(err(
                        value_at,
                        format!(
                            "policy={} is a valid policy, and Xen 4.15+ inverts this check: a valid policy makes xlu_rdm_parse fail (remove policy= and use rdm_policy= on each pci entry instead)",
                            item.value
                        ),
                        None,
                    ));
                }
                warnings.push(format!(
                    "policy={}: Xen prints \"Unknown RDM policy: {}\" and goes on, leaving the policy unset",
                    item.value, item.value
                ));
            }
            key => {
                let hint = if key.trim() != key {
                    " (whitespace is part of the key: write no space after ',')"
                } else if key.eq_ignore_ascii_case("strategy") || key.eq_ignore_ascii_case("policy")
                {
                    " (keys are case-sensitive)"
                } else {
                    ""
                };
                return Err(err(
                    at,
                    format!("expected the key strategy or policy, found {key:?}{hint}"),
                    Some(format!("Unknown RDM state option: {key}")),
                ));
            }
        }
        if !item.comma {
            break;
        }
        rest = r;
    }
    if out.strategy.is_none() {
        warnings.push(
            "no strategy=host: xl copies an uninitialised strategy into the domain's settings"
                .into(),
        );
    }
    warnings.push(
        "xl copies an uninitialised policy into the domain's settings (xlu_rdm_parse never stores a policy); attach may fail with \"unknown rdm check flag.\"".into(),
    );
    Ok((out, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdm_item_rule() {
        assert_eq!(
            rdm_item("strategy=host,policy=x"),
            Ok((
                "policy=x",
                RdmItem {
                    key: "strategy",
                    value: "host",
                    comma: true
                }
            ))
        );
        assert_eq!(rdm_item("a,b=c=d").unwrap().1.key, "a,b");
        assert_eq!(rdm_item("a,b=c=d").unwrap().1.value, "c=d");
        assert!(rdm_item("strategy").is_err());
    }

    #[test]
    fn rdm_scenarios() {
        let (r, w) = parse_rdm("strategy=host").unwrap();
        assert_eq!(r.strategy, Some(RdmStrategy::Host));
        assert!(w.iter().any(|w| w.contains("uninitialised policy")));
        let e = parse_rdm("strategy=host,policy=relaxed").unwrap_err();
        assert!(e.message.contains("inverts"), "{e}");
        let (r, w) = parse_rdm("policy=bogus").unwrap();
        assert_eq!(r.strategy, None);
        assert!(w[0].contains("Unknown RDM policy: bogus"));
        let e = parse_rdm("strategy=host, policy=relaxed").unwrap_err();
        assert_eq!(
            e.xen_report.as_deref(),
            Some("Unknown RDM state option:  policy")
        );
        assert_eq!(e.offset, 14);
        assert!(parse_rdm("").is_err());
        assert!(parse_rdm("strategy=host,")
            .unwrap_err()
            .message
            .contains("trailing"));
        assert_eq!(
            parse_rdm("strategy=HOST")
                .unwrap_err()
                .xen_report
                .as_deref(),
            Some("Unknown RDM strategy option: HOST")
        );
    }
}
