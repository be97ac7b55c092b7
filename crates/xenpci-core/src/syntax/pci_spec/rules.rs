//! The grammar rules of `grammar/pci-spec.ebnf` and `grammar/bdf.ebnf`, one small nom parser
//! each ([`bdf`], [`function`], [`vslot`], [`positional_spec`], [`key_val`]) and the value
//! readers ([`boolean`], [`rdm_policy_value`]), each reading as `libxlu_pci.c` does.

use nom::bytes::complete::take_till;
use nom::character::complete::char;
use nom::combinator::opt;
use nom::Parser;

use serde::Serialize;

use super::error::{inval, rule_error, shown, RuleError, RuleResult, SpecErrorKind};
use crate::pci::Bdf;
use crate::syntax::c_scan::{atoi, scan_hex, HexRead};

/// RDM reserve policy of one device (`rdm_policy=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RdmPolicy {
    /// `strict`
    Strict,
    /// `relaxed`
    Relaxed,
}

impl RdmPolicy {
    /// The lowercase keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            RdmPolicy::Strict => "strict",
            RdmPolicy::Relaxed => "relaxed",
        }
    }
}

/// The function part of a BDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `*`: every function (Xen stores func 0, mask LIBXL_PCI_FUNC_ALL).
    All,
    /// One function, 0..=7.
    One(u8),
}

/// What `parse_bdf` reaches: the address, `*`, and notes on surprising reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BdfRead {
    /// The address (function 0 with `*`).
    pub bdf: Bdf,
    /// `*` was given.
    pub all_functions: bool,
    /// Surprising reads (whitespace, sign, `0x`, wraparound).
    pub notes: Vec<String>,
}

/// `colon_count`: Xen counts the `:` in the leading run of hex digits and colons to decide
/// between `BB:DD.F` (1) and `SSSS:BB:DD.F` (2). Consumes nothing.
pub fn colon_count(input: &str) -> usize {
    input
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == ':')
        .filter(|c| *c == ':')
        .count()
}

/// `hex_field`: one `%x` conversion; fails with an INVAL naming `what`.
pub fn hex_field<'a>(input: &'a str, what: &str) -> RuleResult<'a, HexRead<'a>> {
    scan_hex(input).map_err(|_| {
        inval(
            input,
            format!(
                "expected a hex number for {what} (sscanf %x), found {}",
                shown(input)
            ),
        )
    })
}

/// `literal`: one literal format character of Xen's sscanf.
fn literal<'a>(input: &'a str, c: char, after: &str) -> RuleResult<'a, ()> {
    match char::<_, RuleError>(c).parse(input) {
        Ok((rest, _)) => Ok((rest, ())),
        Err(_) => Err(inval(
            input,
            format!("expected '{c}' after {after}, found {}", shown(input)),
        )),
    }
}

/// `function`: `*` or a hex function number ≤ 7.
pub fn function(input: &str) -> RuleResult<'_, (Function, Vec<String>)> {
    if let Ok((rest, _)) = char::<_, RuleError>('*').parse(input) {
        return Ok((rest, (Function::All, Vec::new())));
    }
    let (rest, f) = hex_field(input, "the function")?;
    if f.value > 7 {
        return Err(inval(input, format!("function 0x{:x} is above 7", f.value)));
    }
    let mut notes = f.notes("the function");
    if f.hex_prefix {
        notes.push(format!("the function {:?} has a 0x prefix", f.text));
    }
    Ok((rest, (Function::One(f.value as u8), notes)))
}

/// `bdf`: Xen's `parse_bdf`. Returns the text after the function (Xen's `endp`).
///
/// Undefined behaviour in Xen (the numbers read but the `.` after the device is missing, so Xen
/// adds an uninitialised `%n`) is reported as [`SpecErrorKind::Undefined`].
pub fn bdf(input: &str) -> RuleResult<'_, BdfRead> {
    let colons = colon_count(input);
    if colons != 1 && colons != 2 {
        let hint = if input.starts_with(crate::syntax::c_scan::c_isspace) {
            "; Xen allows no leading whitespace"
        } else {
            ""
        };
        return Err(inval(
            input,
            format!(
                "expected a BDF [SSSS:]BB:DD.F, but the leading run of hex digits and ':' has {colons} ':' (Xen needs 1 or 2){hint}"
            ),
        ));
    }
    let names: &[&str] = if colons == 1 {
        &["the bus", "the device"]
    } else {
        &["the segment", "the bus", "the device"]
    };
    let mut values = Vec::with_capacity(3);
    let mut notes = Vec::new();
    let mut rest = input;
    for (i, what) in names.iter().enumerate() {
        if i > 0 {
            let (r, ()) = literal(rest, ':', names[i - 1])?;
            rest = r;
        }
        let (r, h) = hex_field(rest, what)?;
        notes.extend(h.notes(what));
        if h.hex_prefix {
            notes.push(format!("{what} {:?} has a 0x prefix", h.text));
        }
        values.push(h.value);
        rest = r;
    }
    let (segment, bus, device) = if colons == 1 {
        (0, values[0], values[1])
    } else {
        (values[0], values[1], values[2])
    };
    for (v, max, what) in [
        (segment, 0xffff, "segment"),
        (bus, 0xff, "bus"),
        (device, 0x1f, "device"),
    ] {
        if v > max {
            return Err(inval(
                input,
                format!("{what} 0x{v:x} is above the maximum 0x{max:x}"),
            ));
        }
    }
    let Some(after_dot) = rest.strip_prefix('.') else {
        return Err(nom::Err::Failure(RuleError {
            at: rest,
            kind: SpecErrorKind::Undefined,
            message: format!(
                "expected '.' and the function after the device, found {}; Xen's behaviour here is undefined (it reads an uninitialised %n), so this is rejected",
                shown(rest)
            ),
            xen_report: None,
        }));
    };
    let (rest, (func, fnotes)) = function(after_dot)?;
    notes.extend(fnotes);
    let (function, all_functions) = match func {
        Function::All => (0, true),
        Function::One(f) => (f, false),
    };
    let bdf = Bdf {
        segment: segment as u16,
        bus: bus as u8,
        device: device as u8,
        function,
    };
    Ok((
        rest,
        BdfRead {
            bdf,
            all_functions,
            notes,
        },
    ))
}

/// What a vslot read gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VslotRead {
    /// The slot, 0..=0x1f (0 = automatic).
    pub slot: u8,
    /// Surprising reads.
    pub notes: Vec<String>,
}

/// `vslot`: Xen's `parse_vslot`, a `%x` number ≤ 0x1f. Returns the text after it.
pub fn vslot(input: &str) -> RuleResult<'_, VslotRead> {
    let (rest, h) = hex_field(input, "the vslot")?;
    if h.value > 0x1f {
        let decimal_hint = if h.digits.chars().all(|c| c.is_ascii_digit()) && !h.hex_prefix {
            format!(
                " (vslot is always hex: {:?} is 0x{:x} = {}, not decimal)",
                h.digits, h.value, h.value
            )
        } else {
            String::new()
        };
        return Err(inval(
            input,
            format!(
                "vslot 0x{:x} is above the maximum 0x1f{decimal_hint}",
                h.value
            ),
        ));
    }
    let mut notes = h.notes("the vslot");
    let all_decimal = h.digits.chars().all(|c| c.is_ascii_digit());
    if !h.hex_prefix && all_decimal && h.value >= 0x10 {
        notes.push(format!(
            "vslot {:?} is read as hex: it means 0x{:x} = {} (write 0x{:x} to make that explicit)",
            h.digits, h.value, h.value, h.value
        ));
    }
    Ok((
        rest,
        VslotRead {
            slot: h.value as u8,
            notes,
        },
    ))
}

/// The positional head of a PCI_SPEC_STRING.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positional {
    /// The BDF.
    pub bdf: BdfRead,
    /// `@vslot`, if given.
    pub vslot: Option<VslotRead>,
}

/// `positional_spec`: `bdf [ "@" vslot ] ( "," | end )`; returns the text after the `,`.
/// A BDF that does not parse is a recoverable `Error` (Xen restarts in KEY=VALUE mode); once the
/// BDF is read, every later failure is final (`Failure`), as in Xen.
pub fn positional_spec(input: &str) -> RuleResult<'_, Positional> {
    fn cut(e: nom::Err<RuleError<'_>>) -> nom::Err<RuleError<'_>> {
        nom::Err::Failure(rule_error(e))
    }
    let (rest, bdf) = bdf(input)?;
    let (rest, vslot) = match char::<_, RuleError>('@').parse(rest) {
        Ok((after_at, _)) => {
            let (r, v) = vslot(after_at).map_err(cut)?;
            (r, Some(v))
        }
        Err(_) => (rest, None),
    };
    if let Ok((r, _)) = char::<_, RuleError>(',').parse(rest) {
        return Ok((r, Positional { bdf, vslot }));
    }
    if rest.is_empty() {
        return Ok((rest, Positional { bdf, vslot }));
    }
    let what = if rest.starts_with(crate::syntax::c_scan::c_isspace) {
        "; Xen allows no whitespace after the BDF or vslot"
    } else {
        ""
    };
    let after = if vslot.is_some() { "vslot" } else { "BDF" };
    Err(cut(inval(
        rest,
        format!(
            "expected ',' or the end after the {after}, found {}{what}",
            shown(rest)
        ),
    )))
}

/// `key_val`: Xen's `parse_key_val`. The key is everything up to the first `=` (it may contain
/// `,` and spaces), the value everything up to the next `,`; one `,` is consumed.
pub fn key_val(input: &str) -> RuleResult<'_, (&str, &str)> {
    let no_eq = |_: nom::Err<RuleError>| {
        inval(
            input,
            format!(
                "expected KEY=VALUE, found {} with no '=' (Xen has no flags without a value)",
                shown(input)
            ),
        )
    };
    let (rest, (key, _)) = (take_till(|c| c == '='), char('='))
        .parse(input)
        .map_err(no_eq)?;
    let (rest, value) = take_till(|c| c == ',').parse(rest)?;
    let (rest, _) = opt(char(',')).parse(rest)?;
    Ok((rest, (key, value)))
}

/// `boolean`: an atoi value as Xen stores it into a C `bool`, with notes when the text is not
/// plainly `0` or `1`.
pub fn boolean(key: &str, value: &str) -> (bool, Vec<String>) {
    let a = atoi(value);
    let b = a.value != 0;
    let mut notes = Vec::new();
    if value != "0" && value != "1" {
        let why = if a.digits == 0 {
            "atoi() finds no decimal number".to_string()
        } else if a.used < value.len() {
            format!("atoi() stops at {:?}", &value[a.used..])
        } else {
            "atoi() reads it as a number".to_string()
        };
        notes.push(format!(
            "{key}={value}: Xen reads this with atoi() ({why}), so it means {} ({}); write {key}={}",
            u8::from(b),
            b,
            u8::from(b)
        ));
        if a.digits > 0
            && i64::from(a.value) != value.trim_start().parse::<i64>().unwrap_or(0)
            && a.used == value.len()
        {
            notes.push(format!(
                "{key}={value}: the number does not fit a C int; Xen truncates it to {}",
                a.value
            ));
        }
    }
    (b, notes)
}

/// A policy word libxl does not know (libxl_rdm_reserve_policy_from_string returns ERROR_FAIL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownPolicy;

/// `rdm_policy_value`: libxl_rdm_reserve_policy_from_string (strcasecmp against `invalid`,
/// `strict`, `relaxed`). `Ok(None)` is INVALID.
pub fn rdm_policy_value(value: &str) -> Result<Option<RdmPolicy>, UnknownPolicy> {
    if value.eq_ignore_ascii_case("strict") {
        Ok(Some(RdmPolicy::Strict))
    } else if value.eq_ignore_ascii_case("relaxed") {
        Ok(Some(RdmPolicy::Relaxed))
    } else if value.eq_ignore_ascii_case("invalid") {
        Ok(None)
    } else {
        Err(UnknownPolicy)
    }
}
