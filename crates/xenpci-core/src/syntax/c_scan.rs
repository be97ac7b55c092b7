//! The two C library readers libxlutil's PCI parsers lean on, reproduced exactly as glibc does them
//! in the C locale: `sscanf("%x")` ([`scan_hex`]) and `atoi` ([`atoi`]).
//!
//! Both are lenient in ways users do not expect, so each returns not only the value but also what
//! it skipped or bent on the way (leading whitespace, a sign, a `0x` prefix, 32-bit wraparound),
//! which [`super::pci_spec`] turns into warnings.
//!
//! glibc details reproduced (`stdio-common/vfscanf-internal.c`, `stdlib/strtol_l.c`):
//! * `%x` skips leading `isspace` (space, `\t`, `\n`, `\v`, `\f`, `\r`), takes one optional `+`/`-`,
//!   then a leading `0` followed by `x`/`X` consumes both (so `0x` alone reads as 0), then hex digits.
//!   The digits go through `strtoul(.., 16)`: a magnitude above 2^64-1 saturates to `ULONG_MAX`, a
//!   `-` negates modulo 2^64, and the result is truncated to `unsigned int` (32 bits).
//! * `atoi` is `(int) strtol(s, NULL, 10)`: leading `isspace`, optional sign, decimal digits, then
//!   anything; overflow saturates to `LONG_MAX`/`LONG_MIN` before the truncation to 32 bits.

use nom::bytes::complete::take_while;
use nom::character::complete::{char, one_of};
use nom::combinator::opt;
use nom::sequence::pair;
use nom::{IResult, Parser};

/// C's `isspace` in the C locale.
pub fn c_isspace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// What one `%x` conversion read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexRead<'a> {
    /// The value stored into the `unsigned int`.
    pub value: u32,
    /// Everything the conversion consumed, whitespace included.
    pub text: &'a str,
    /// Leading whitespace was skipped.
    pub leading_space: bool,
    /// A `+` or `-` sign was read.
    pub sign: Option<char>,
    /// A `0x`/`0X` prefix was read.
    pub hex_prefix: bool,
    /// The hex digits (without sign and prefix; `0` when only `0x` was written).
    pub digits: String,
    /// The stored value differs from the number written (negative, or above 0xffffffff).
    pub wrapped: bool,
}

/// `sscanf(s, "%x")`: fails (like a matching failure) when no digit can be read.
pub fn scan_hex(input: &str) -> IResult<&str, HexRead<'_>> {
    let (rest, space) = take_while(c_isspace)(input)?;
    let (rest, sign) = opt(one_of("+-")).parse(rest)?;
    let (rest, zero_x) = opt(pair(char('0'), opt(one_of("xX")))).parse(rest)?;
    let (rest, more) = take_while(|c: char| c.is_ascii_hexdigit())(rest)?;
    let hex_prefix = matches!(zero_x, Some((_, Some(_))));
    let mut digits = String::new();
    if zero_x.is_some() && (more.is_empty() || !hex_prefix) {
        digits.push('0');
    }
    digits.push_str(more);
    if zero_x.is_none() && more.is_empty() {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::HexDigit,
        )));
    }
    // strtoul: accumulate with saturation, then apply the sign modulo 2^64.
    let mut magnitude: u64 = 0;
    let mut saturated = false;
    for d in digits.chars() {
        let v = u64::from(d.to_digit(16).unwrap_or(0));
        match magnitude.checked_mul(16).and_then(|m| m.checked_add(v)) {
            Some(m) => magnitude = m,
            None => {
                saturated = true;
                break;
            }
        }
    }
    let ulong = if saturated {
        u64::MAX
    } else if sign == Some('-') {
        magnitude.wrapping_neg()
    } else {
        magnitude
    };
    let value = ulong as u32;
    let wrapped =
        saturated || u64::from(value) != magnitude || (sign == Some('-') && magnitude != 0);
    let consumed = input.len() - rest.len();
    Ok((
        rest,
        HexRead {
            value,
            text: &input[..consumed],
            leading_space: !space.is_empty(),
            sign,
            hex_prefix,
            digits,
            wrapped,
        },
    ))
}

impl HexRead<'_> {
    /// Human notes on everything surprising about this read of `what` (e.g. "the bus").
    pub fn notes(&self, what: &str) -> Vec<String> {
        let mut notes = Vec::new();
        if self.leading_space {
            notes.push(format!(
                "{what} {:?} starts with whitespace, which Xen's sscanf skips",
                self.text
            ));
        }
        if let Some(s) = self.sign {
            notes.push(format!(
                "{what} {:?} has a '{s}' sign, which Xen's sscanf accepts",
                self.text
            ));
        }
        if self.wrapped {
            notes.push(format!(
                "{what} {:?} does not fit 32 bits: Xen wraps it around to 0x{:x}",
                self.text.trim_start_matches(c_isspace),
                self.value
            ));
        }
        notes
    }
}

/// What `atoi` read from a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtoiRead {
    /// The `int` atoi returns.
    pub value: i32,
    /// Bytes that form the number (whitespace, sign, digits); the rest is ignored.
    pub used: usize,
    /// Number of decimal digits read.
    pub digits: usize,
}

/// glibc `atoi`: `(int) strtol(s, NULL, 10)`.
pub fn atoi(s: &str) -> AtoiRead {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() && c_isspace(bytes[i] as char) {
        i += 1;
    }
    let mut negative = false;
    if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
        negative = bytes[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut magnitude: u64 = 0;
    let mut overflow = false;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        let d = u64::from(bytes[i] - b'0');
        match magnitude.checked_mul(10).and_then(|m| m.checked_add(d)) {
            Some(m) => magnitude = m,
            None => overflow = true,
        }
        i += 1;
    }
    let digits = i - start;
    if digits == 0 {
        return AtoiRead {
            value: 0,
            used: 0,
            digits: 0,
        };
    }
    let long: i64 = if negative {
        if overflow || magnitude > (i64::MAX as u64) + 1 {
            i64::MIN
        } else {
            (magnitude as i64).wrapping_neg()
        }
    } else if overflow || magnitude > i64::MAX as u64 {
        i64::MAX
    } else {
        magnitude as i64
    };
    AtoiRead {
        value: long as i32,
        used: i,
        digits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> (&str, u32) {
        let (rest, r) = scan_hex(s).unwrap();
        (rest, r.value)
    }

    #[test]
    fn scan_hex_reads_like_glibc() {
        assert_eq!(hex("1f.0"), (".0", 0x1f));
        assert_eq!(hex(" \t1F"), ("", 0x1f));
        assert_eq!(hex("0x1f,"), (",", 0x1f));
        assert_eq!(hex("0x"), ("", 0));
        assert_eq!(hex("0xg"), ("g", 0));
        assert_eq!(hex("+1"), ("", 1));
        assert_eq!(hex("-1"), ("", 0xffff_ffff));
        assert_eq!(hex("-0x"), ("", 0));
        assert_eq!(hex("100000001"), ("", 1));
        assert_eq!(hex("ffffffffffffffffff"), ("", 0xffff_ffff));
        assert_eq!(hex("-100000000"), ("", 0));
        assert_eq!(hex("4junk"), ("junk", 4));
        assert!(scan_hex("").is_err());
        assert!(scan_hex("x1").is_err());
        assert!(scan_hex("+").is_err());
        assert!(scan_hex("-x").is_err());
        assert!(scan_hex("*").is_err());
    }

    #[test]
    fn scan_hex_records_what_it_bent() {
        let (_, r) = scan_hex(" +0x100000000").unwrap();
        assert!(r.leading_space && r.hex_prefix && r.wrapped);
        assert_eq!(r.sign, Some('+'));
        assert_eq!(r.text, " +0x100000000");
        let (_, r) = scan_hex("1f").unwrap();
        assert!(!r.leading_space && !r.hex_prefix && !r.wrapped && r.sign.is_none());
        assert_eq!(r.notes("the bus"), Vec::<String>::new());
    }

    #[test]
    fn atoi_reads_like_glibc() {
        assert_eq!(atoi("1").value, 1);
        assert_eq!(atoi("yes").value, 0);
        assert_eq!(atoi("0x1").value, 0);
        assert_eq!(atoi(" 1").value, 1);
        assert_eq!(atoi("1 ").used, 1);
        assert_eq!(atoi("-1").value, -1);
        assert_eq!(atoi("+2").value, 2);
        assert_eq!(atoi("").value, 0);
        assert_eq!(atoi("4294967296").value, 0);
        assert_eq!(atoi("99999999999999999999").value, -1);
        assert_eq!(atoi("-99999999999999999999").value, 0);
        assert_eq!(atoi("- 1").digits, 0);
    }
}
