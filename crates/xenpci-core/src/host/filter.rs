//! The `-d` filter of `xenpci list`: lspci's `[VENDOR]:[DEVICE][:CLASS[:PROGIF]]` (hex, empty or
//! `*` = any; CLASS is up to 4 hex digits, class and subclass, so `0106` is SATA and `0300`
//! VGA), in OpenNebula's comma-separated list form: `10de::0300,::0106`.
//!
//! Grammar (one nom parser per rule; the list is split on `,`):
//! `filter = field ":" field [":" field [":" field]]`, `field = "*" | hex{1,4} | ""`.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while_m_n};
use nom::combinator::{map, map_res, opt, value};
use nom::sequence::preceded;
use nom::{IResult, Parser};

/// One `-d` entry; None matches anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Filter {
    /// Vendor id.
    pub vendor: Option<u16>,
    /// Device id.
    pub device: Option<u16>,
    /// Class and subclass (class code >> 8).
    pub class: Option<u16>,
    /// Programming interface.
    pub prog_if: Option<u8>,
}

/// A `-d` value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid -d filter {input:?} at position {position}: expected {expected}")]
pub struct FilterError {
    /// The whole value.
    pub input: String,
    /// 0-based character offset of the problem.
    pub position: usize,
    /// What was expected there.
    pub expected: &'static str,
}

fn hex_field(i: &str) -> IResult<&str, Option<u16>> {
    alt((
        value(None, tag("*")),
        map(
            map_res(take_while_m_n(1, 4, |c: char| c.is_ascii_hexdigit()), |h| {
                u16::from_str_radix(h, 16)
            }),
            Some,
        ),
        value(None, tag("")),
    ))
    .parse(i)
}

fn prog_if_field(i: &str) -> IResult<&str, Option<u8>> {
    alt((
        value(None, tag("*")),
        map(
            map_res(take_while_m_n(1, 2, |c: char| c.is_ascii_hexdigit()), |h| {
                u8::from_str_radix(h, 16)
            }),
            Some,
        ),
        value(None, tag("")),
    ))
    .parse(i)
}

fn filter(i: &str) -> IResult<&str, Filter> {
    let (i, vendor) = hex_field(i)?;
    let (i, device) = preceded(tag(":"), hex_field).parse(i)?;
    let (i, class) = opt(preceded(tag(":"), hex_field)).parse(i)?;
    let (i, prog_if) = opt(preceded(tag(":"), prog_if_field)).parse(i)?;
    Ok((
        i,
        Filter {
            vendor,
            device,
            class: class.flatten(),
            prog_if: prog_if.flatten(),
        },
    ))
}

/// Parses a `-d` value: comma-separated entries, each parsed by [`filter`]; errors give the
/// character offset in the whole value.
pub fn parse(input: &str) -> Result<Vec<Filter>, FilterError> {
    const SYNTAX: &str = "[VENDOR]:[DEVICE][:CLASS[:PROGIF]] in hex, entries separated by ','";
    let mut out = Vec::new();
    let mut offset = 0;
    for part in input.split(',') {
        let fail = |rest: &str, expected| FilterError {
            input: input.to_string(),
            position: offset + part.len() - rest.len(),
            expected,
        };
        match filter(part) {
            Ok(("", f)) => out.push(f),
            Ok((rest, _)) if rest.starts_with(|c: char| c.is_ascii_hexdigit()) => {
                return Err(fail(rest, "at most 4 hex digits per field (2 for PROGIF)"))
            }
            Ok((rest, _)) => return Err(fail(rest, SYNTAX)),
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => return Err(fail(e.input, SYNTAX)),
            Err(nom::Err::Incomplete(_)) => return Err(fail("", SYNTAX)),
        }
        offset += part.len() + 1;
    }
    Ok(out)
}

impl Filter {
    /// True when a function with these ids matches.
    pub fn matches(&self, vendor: u16, device: u16, class: u32) -> bool {
        self.vendor.is_none_or(|v| v == vendor)
            && self.device.is_none_or(|d| d == device)
            && self.class.is_none_or(|c| c as u32 == class >> 8)
            && self.prog_if.is_none_or(|p| p as u32 == class & 0xff)
    }
}

/// True when any filter matches (an empty list matches everything).
pub fn any_matches(filters: &[Filter], vendor: u16, device: u16, class: u32) -> bool {
    filters.is_empty() || filters.iter().any(|f| f.matches(vendor, device, class))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_accepts_hex_star_and_empty() {
        assert_eq!(hex_field("10de:"), Ok((":", Some(0x10de))));
        assert_eq!(hex_field("*:"), Ok((":", None)));
        assert_eq!(hex_field(":"), Ok((":", None)));
    }

    #[test]
    fn filter_takes_two_to_four_fields() {
        assert_eq!(
            filter("10de::0300").unwrap().1,
            Filter {
                vendor: Some(0x10de),
                class: Some(0x0300),
                ..Filter::default()
            }
        );
        assert_eq!(filter("8086:1d02").unwrap().1.device, Some(0x1d02));
        assert_eq!(filter("::0106:01").unwrap().1.prog_if, Some(1));
    }

    #[test]
    fn opennebula_lists_match_like_lspci() {
        let f = parse("8086::0300,::0106").unwrap();
        assert!(any_matches(&f, 0x8086, 0x0412, 0x030000));
        assert!(any_matches(&f, 0x1b4b, 0x9230, 0x010601));
        assert!(!any_matches(&f, 0x10de, 0x1b80, 0x030000));
        assert!(any_matches(&parse("::").unwrap(), 1, 2, 3));
        assert!(!any_matches(&parse("::01").unwrap(), 1, 2, 0x010601));
    }

    #[test]
    fn bad_filters_name_the_position() {
        for (input, pos) in [
            ("10de", 4),
            ("10de0:", 4),
            ("10de::0300,zz", 11),
            ("1:2:3:4:5", 7),
            ("::0106:012", 9),
        ] {
            let e = parse(input).unwrap_err();
            assert_eq!(e.position, pos, "{input}: {e}");
            assert!(e.to_string().contains(input), "{e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_errors_in_range(s in "[0-9a-fA-F:,* ]{0,24}") {
            if let Err(e) = parse(&s) {
                proptest::prop_assert!(e.position <= s.len());
            }
        }
    }
}
