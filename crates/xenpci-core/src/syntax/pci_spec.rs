//! PCI_SPEC_STRING (xl-pci-configuration(5)) as Xen 4.15+'s `xlu_pci_parse_spec_string` reads it,
//! and the BDF-only form `xl pci-assignable-add/-remove` reads with `xlu_pci_parse_bdf`.
//!
//! Grammar: `grammar/pci-spec.ebnf` and `grammar/bdf.ebnf`; source: `tools/libs/util/libxlu_pci.c`
//! (identical from RELEASE-4.15.0 to master, checked against Debian's libxlutil 4.17 by
//! `tests/spec_differential.rs`). One small parser per grammar rule ([`bdf`], [`function`],
//! [`vslot`], [`key_val`], ...); the driver [`parse_spec`] mirrors Xen's control flow step by step,
//! so it accepts, rejects and fills fields exactly as Xen does, quirks included:
//! `sscanf("%x")` fields (whitespace, sign, `0x`, 32-bit wraparound; see [`super::c_scan`]),
//! atoi booleans, `rdm_policy` compared with strcasecmp (`invalid` accepted), last value wins,
//! exactly one of `bdf`/`name`, one separating comma, unknown keys rejected.
//!
//! Every read Xen makes in a surprising way becomes a warning. Inputs whose result is undefined in
//! Xen (it adds an uninitialised `%n` when the `.` after the device is missing, e.g. `01:00`) and
//! inputs that cannot reach Xen at all (a NUL byte) are rejected with [`SpecErrorKind::Undefined`].
//!
//! The generator [`format_spec`] writes the canonical form (documented on that function), with
//! `parse_spec(format_spec(x, d), d) == x`.

use serde::Serialize;

use nom::bytes::complete::take_till;
use nom::character::complete::char;
use nom::combinator::opt;
use nom::Parser;

use super::c_scan::{atoi, scan_hex, HexRead};
use crate::pci::Bdf;

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

/// Per-device defaults xl applies before parsing each `pci=` entry (from `pci_msitranslate`,
/// `pci_power_mgmt`, `pci_permissive`, `pci_seize` and the global `rdm=` policy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpecDefaults {
    /// `pci_msitranslate`
    pub msitranslate: bool,
    /// `pci_power_mgmt`
    pub power_mgmt: bool,
    /// `pci_permissive`
    pub permissive: bool,
    /// `pci_seize`
    pub seize: bool,
    /// global `rdm=` policy (None = INVALID, libxl's "unset")
    pub rdm_policy: Option<RdmPolicy>,
}

/// What Xen reaches for one PCI_SPEC_STRING.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PciSpec {
    /// The host function (None when the device is given by `name=`). With `all_functions`, the
    /// function part is 0.
    pub bdf: Option<Bdf>,
    /// `*` as the function: every function of the slot (LIBXL_PCI_FUNC_ALL).
    pub all_functions: bool,
    /// Guest slot; None means automatic (Xen's vslot 0).
    pub vslot: Option<u8>,
    /// msitranslate
    pub msitranslate: bool,
    /// power_mgmt
    pub power_mgmt: bool,
    /// permissive
    pub permissive: bool,
    /// seize
    pub seize: bool,
    /// rdm_policy (None = INVALID/unset, which libxl later turns into strict)
    pub rdm_policy: Option<RdmPolicy>,
    /// name=
    pub name: Option<String>,
}

impl PciSpec {
    /// libxl's `vfunc_mask`: 0 with `name=`, 1 for one function, 0xffffffff for `*`.
    pub fn vfunc_mask(&self) -> u32 {
        match (self.bdf, self.all_functions) {
            (None, _) => 0,
            (Some(_), true) => u32::MAX,
            (Some(_), false) => 1,
        }
    }

    /// libxl's `vdevfn` (`vslot << 3`).
    pub fn vdevfn(&self) -> u32 {
        u32::from(self.vslot.unwrap_or(0)) << 3
    }
}

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
fn inval<'a>(at: &'a str, message: impl Into<String>) -> nom::Err<RuleError<'a>> {
    nom::Err::Error(RuleError::inval(at, message))
}

/// The error inside a rule's `nom::Err` (the rules are complete parsers: never `Incomplete`).
pub fn rule_error(e: nom::Err<RuleError<'_>>) -> RuleError<'_> {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => RuleError::inval("", "incomplete input"),
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
        let hint = if input.starts_with(super::c_scan::c_isspace) {
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
    let what = if rest.starts_with(super::c_scan::c_isspace) {
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

fn shown(s: &str) -> String {
    if s.is_empty() {
        "the end of the input".into()
    } else {
        let head: String = s.chars().take(16).collect();
        format!("{head:?}")
    }
}

fn offset_of(input: &str, rest: &str) -> usize {
    let base = input.as_ptr() as usize;
    let at = rest.as_ptr() as usize;
    if at >= base && at <= base + input.len() {
        at - base
    } else {
        0
    }
}

fn to_error(input: &str, e: RuleError<'_>) -> SpecError {
    let mut message = e.message;
    if let Some(r) = &e.xen_report {
        message.push_str(&format!(" [Xen prints: {r:?}]"));
    }
    SpecError {
        input: input.to_string(),
        offset: offset_of(input, e.at),
        message,
        kind: e.kind,
        xen_report: e.xen_report,
    }
}

fn reject_nul(input: &str) -> Result<(), SpecError> {
    if let Some(pos) = input.find('\0') {
        return Err(SpecError {
            input: input.to_string(),
            offset: pos,
            message: "a NUL byte cannot reach Xen (the C string would end here)".into(),
            kind: SpecErrorKind::Undefined,
            xen_report: None,
        });
    }
    Ok(())
}

/// Explains a key that Xen does not know, with the likely mistake.
fn unknown_key_hint(key: &str) -> String {
    const KEYS: [&str; 8] = [
        "bdf",
        "vslot",
        "permissive",
        "msitranslate",
        "seize",
        "power_mgmt",
        "rdm_policy",
        "name",
    ];
    let trimmed = key.trim_matches(|c: char| c.is_whitespace() || c == ',');
    if trimmed != key && KEYS.contains(&trimmed) {
        if key.starts_with(',') {
            return format!(
                "; {key:?} includes a ',' because Xen consumes only one ',' between options"
            );
        }
        return format!(
            "; the whitespace is part of the key: Xen allows no space after ',' (write {trimmed:?})"
        );
    }
    if KEYS.contains(&key.to_ascii_lowercase().as_str()) {
        return format!(
            "; keys are case-sensitive (write {:?})",
            key.to_ascii_lowercase()
        );
    }
    if key.contains(',') {
        return "; the text before it has no '=' (Xen has no flags or positional values)".into();
    }
    format!("; known keys: {}", KEYS.join(", "))
}

/// Parses a PCI_SPEC_STRING with xl's per-device defaults; returns what Xen reaches and warnings
/// for every input Xen reads in a surprising way.
pub fn parse_spec(
    input: &str,
    defaults: &SpecDefaults,
) -> Result<(PciSpec, Vec<String>), SpecError> {
    reject_nul(input)?;
    let mut spec = PciSpec {
        bdf: None,
        all_functions: false,
        vslot: None,
        msitranslate: defaults.msitranslate,
        power_mgmt: defaults.power_mgmt,
        permissive: defaults.permissive,
        seize: defaults.seize,
        rdm_policy: defaults.rdm_policy,
        name: None,
    };
    let mut warnings = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut name_present = false;
    let mut rest = input;
    let mut positional_failure: Option<String> = None;

    // 1. A positional BDF at offset 0, with an optional `@vslot`, then `,` or the end.
    match positional_spec(input) {
        Ok((r, p)) => {
            spec.bdf = Some(p.bdf.bdf);
            spec.all_functions = p.bdf.all_functions;
            warnings.extend(p.bdf.notes);
            seen.push("bdf");
            if let Some(v) = p.vslot {
                spec.vslot = (v.slot != 0).then_some(v.slot);
                if v.slot == 0 {
                    warnings.push(
                        "vslot 0 means \"automatic\" to Xen (guest slot 0 cannot be requested)"
                            .into(),
                    );
                }
                warnings.extend(v.notes);
                seen.push("vslot");
            }
            rest = r;
        }
        Err(nom::Err::Error(e)) => positional_failure = Some(e.message),
        Err(e) => return Err(to_error(input, rule_error(e))),
    }

    // 2. KEY=VALUE pairs until the end.
    while !rest.is_empty() {
        let (r, (key, value)) = key_val(rest).map_err(|e| {
            let mut e = rule_error(e);
            if let Some(p) = &positional_failure {
                if e.at.len() == input.len() {
                    e.message
                        .push_str(&format!("; not a positional BDF either: {p}"));
                }
            }
            to_error(input, e)
        })?;
        let value_at = &rest[key.len() + 1..];
        if seen.contains(&key) {
            warnings.push(format!(
                "{key}= is given more than once: Xen keeps the last value ({key}={value})"
            ));
        }
        match key {
            "bdf" => {
                let (after, b) = bdf(value).map_err(|e| {
                    let mut e = rule_error(e);
                    e.message = format!("in bdf={value}: {}", e.message);
                    to_error(input, e)
                })?;
                if !after.is_empty() {
                    let extra = if after.starts_with('@') {
                        "; a vslot is not read inside bdf=, use vslot="
                    } else {
                        ""
                    };
                    warnings.push(format!(
                        "bdf={value}: Xen ignores the text {after:?} after the BDF{extra}"
                    ));
                }
                spec.bdf = Some(b.bdf);
                spec.all_functions = b.all_functions;
                warnings.extend(b.notes);
            }
            "vslot" => {
                let (after, v) = vslot(value).map_err(|e| {
                    let mut e = rule_error(e);
                    e.message = format!("in vslot={value}: {}", e.message);
                    to_error(input, e)
                })?;
                if !after.is_empty() {
                    warnings.push(format!(
                        "vslot={value}: Xen ignores the text {after:?} after the number"
                    ));
                }
                if v.slot == 0 {
                    warnings.push(
                        "vslot=0 means \"automatic\" to Xen (guest slot 0 cannot be requested)"
                            .into(),
                    );
                }
                spec.vslot = (v.slot != 0).then_some(v.slot);
                warnings.extend(v.notes);
            }
            "permissive" | "msitranslate" | "seize" | "power_mgmt" => {
                let (b, notes) = boolean(key, value);
                warnings.extend(notes);
                match key {
                    "permissive" => spec.permissive = b,
                    "msitranslate" => spec.msitranslate = b,
                    "seize" => spec.seize = b,
                    _ => spec.power_mgmt = b,
                }
            }
            "rdm_policy" => match rdm_policy_value(value) {
                Ok(p) => {
                    if p.is_none() {
                        warnings.push(format!(
                            "rdm_policy={value} is accepted by Xen as INVALID (unset); libxl then uses strict for this device, whatever the global rdm= says"
                        ));
                    }
                    spec.rdm_policy = p;
                }
                Err(UnknownPolicy) => {
                    let report = format!("Unknown RDM policy: {value}");
                    return Err(to_error(
                        input,
                        RuleError {
                            at: value_at,
                            kind: SpecErrorKind::Fail,
                            message: format!(
                                "expected rdm_policy strict or relaxed (any case), found {value:?}{}",
                                if value.trim() != value { "; whitespace is not trimmed" } else { "" }
                            ),
                            xen_report: Some(report),
                        },
                    ));
                }
            },
            "name" => {
                if value.is_empty() {
                    warnings.push("name= is empty: Xen accepts it, but no assignable device can have that name".into());
                } else if value.contains(char::is_whitespace) {
                    warnings.push(format!(
                        "name={value} contains whitespace: Xen keeps it verbatim"
                    ));
                }
                name_present = true;
                spec.name = Some(value.to_string());
            }
            _ => {
                let report = format!("Unknown PCI_SPEC_STRING option: {key}");
                return Err(to_error(
                    input,
                    RuleError {
                        at: rest,
                        kind: SpecErrorKind::Inval,
                        message: format!("unknown key {key:?}{}", unknown_key_hint(key)),
                        xen_report: Some(report),
                    },
                ));
            }
        }
        seen.push(key);
        rest = r;
    }

    // 3. Exactly one of bdf / name.
    let bdf_present = spec.bdf.is_some();
    if bdf_present == name_present {
        let message = if bdf_present {
            "both a BDF and name= are given; Xen needs exactly one".to_string()
        } else {
            let mut m =
                "expected a BDF ([SSSS:]BB:DD.F) or name=; Xen needs exactly one".to_string();
            if let Some(p) = positional_failure {
                m.push_str(&format!(" (not a positional BDF: {p})"));
            }
            m
        };
        return Err(SpecError {
            input: input.into(),
            offset: 0,
            message,
            kind: SpecErrorKind::Inval,
            xen_report: None,
        });
    }
    if !bdf_present {
        spec.all_functions = false;
    }
    if spec.all_functions && spec.vslot.is_none() {
        warnings.push("'*' (all functions) needs a vslot: libxl refuses it with \"Must specify a v-slot for multi-function devices\"".into());
    }
    Ok((spec, warnings))
}

/// Parses the BDF-only form `xl pci-assignable-add/-remove` reads (`xlu_pci_parse_bdf`): a BDF at
/// offset 0, anything after it ignored. Returns the BDF, whether `*` was given, and warnings.
pub fn parse_assignable_bdf(input: &str) -> Result<(BdfRead, Vec<String>), SpecError> {
    reject_nul(input)?;
    let (rest, b) = bdf(input).map_err(|e| to_error(input, rule_error(e)))?;
    let mut warnings = b.notes.clone();
    if !rest.is_empty() {
        warnings.push(format!("Xen ignores the text {rest:?} after the BDF"));
    }
    if b.all_functions {
        warnings.push(format!(
            "'*' is read as function 0: xl pci-assignable-add/-remove then handle only {}",
            b.bdf
        ));
    }
    Ok((b, warnings))
}

/// Writes the canonical PCI_SPEC_STRING for `spec`, relative to the defaults xl will apply:
///
/// * the device first: `SSSS:BB:DD.F` (lowercase hex, full width, `*` for all functions) followed
///   by `@0xVV` when a vslot is set (always with `0x`, so nobody reads it as decimal); or
///   `name=NAME` followed by `,vslot=0xVV`;
/// * then, comma-separated with no spaces, in this order, only the options whose value differs
///   from `defaults`: `msitranslate=0|1`, `power_mgmt=0|1`, `permissive=0|1`, `seize=0|1`,
///   `rdm_policy=strict|relaxed|invalid`.
///
/// With `SpecDefaults::default()` this is `0000:05:00.0@0x1f,permissive=1`. The output reads back
/// to the same spec with no warnings. Fails for values no string can produce (name with `,`,
/// vslot 0 or > 0x1f, neither or both of bdf/name, `*` with a non-zero function).
pub fn format_spec(spec: &PciSpec, defaults: &SpecDefaults) -> Result<String, SpecError> {
    let bad = |message: String| SpecError {
        input: format!("{spec:?}"),
        offset: 0,
        message,
        kind: SpecErrorKind::Unrepresentable,
        xen_report: None,
    };
    if let Some(v) = spec.vslot {
        if v == 0 || v > 0x1f {
            return Err(bad(format!("vslot {v} is not 1..=0x1f")));
        }
    }
    let mut out = match (&spec.bdf, &spec.name) {
        (Some(b), None) => {
            if spec.all_functions && b.function != 0 {
                return Err(bad("'*' needs function 0 in the BDF".into()));
            }
            if b.device > 0x1f || b.function > 7 {
                return Err(bad(format!("{b:?} is out of range")));
            }
            let mut s = if spec.all_functions {
                format!("{:04x}:{:02x}:{:02x}.*", b.segment, b.bus, b.device)
            } else {
                b.to_string()
            };
            if let Some(v) = spec.vslot {
                s.push_str(&format!("@0x{v:02x}"));
            }
            s
        }
        (None, Some(n)) => {
            if n.contains(',') || n.contains('\0') {
                return Err(bad(format!("name {n:?} contains ',' or NUL")));
            }
            if spec.all_functions {
                return Err(bad("'*' needs a BDF".into()));
            }
            let mut s = format!("name={n}");
            if let Some(v) = spec.vslot {
                s.push_str(&format!(",vslot=0x{v:02x}"));
            }
            s
        }
        _ => return Err(bad("exactly one of bdf and name must be set".into())),
    };
    for (key, value, default) in [
        ("msitranslate", spec.msitranslate, defaults.msitranslate),
        ("power_mgmt", spec.power_mgmt, defaults.power_mgmt),
        ("permissive", spec.permissive, defaults.permissive),
        ("seize", spec.seize, defaults.seize),
    ] {
        if value != default {
            out.push_str(&format!(",{key}={}", u8::from(value)));
        }
    }
    if spec.rdm_policy != defaults.rdm_policy {
        let p = spec.rdm_policy.map_or("invalid", RdmPolicy::as_str);
        out.push_str(&format!(",rdm_policy={p}"));
    }
    Ok(out)
}

impl PciSpec {
    /// The canonical form with no global defaults ([`format_spec`] with `SpecDefaults::default()`).
    pub fn canonical(&self) -> Result<String, SpecError> {
        format_spec(self, &SpecDefaults::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (PciSpec, Vec<String>) {
        parse_spec(s, &SpecDefaults::default()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
    fn err(s: &str) -> SpecError {
        parse_spec(s, &SpecDefaults::default()).expect_err(s)
    }
    fn b(s: &str) -> Bdf {
        s.parse().unwrap()
    }

    #[test]
    fn colon_count_stops_at_the_first_other_char() {
        assert_eq!(colon_count("0000:01:00.0"), 2);
        assert_eq!(colon_count("01:00.0:1:2"), 1);
        assert_eq!(colon_count("0x01:00.0"), 0);
        assert_eq!(colon_count("1:2:3:4.5"), 3);
        assert_eq!(colon_count("01: 00:0.0"), 1);
    }

    #[test]
    fn hex_field_rule() {
        let (rest, h) = hex_field(" 1f.0", "the bus").unwrap();
        assert_eq!((rest, h.value), (".0", 0x1f));
        assert!(hex_field(".0", "the bus").is_err());
    }

    #[test]
    fn function_rule() {
        assert_eq!(function("*,x").unwrap().0, ",x");
        assert_eq!(function("*,x").unwrap().1 .0, Function::All);
        assert_eq!(function("7@1").unwrap().1 .0, Function::One(7));
        assert_eq!(function("7@1").unwrap().0, "@1");
        assert_eq!(function("0x7").unwrap().1 .0, Function::One(7));
        assert!(function("8").is_err());
        assert!(function(" *").is_err());
    }

    #[test]
    fn bdf_rule() {
        let (rest, r) = bdf("01:00.0@4").unwrap();
        assert_eq!((rest, r.bdf, r.all_functions), ("@4", b("01:00.0"), false));
        let (rest, r) = bdf("ffff:ff:1f.*,x").unwrap();
        assert_eq!(
            (rest, r.bdf, r.all_functions),
            (",x", b("ffff:ff:1f.0"), true)
        );
        assert_eq!(
            rule_error(bdf("01:00").unwrap_err()).kind,
            SpecErrorKind::Undefined
        );
        assert_eq!(
            rule_error(bdf("01:20").unwrap_err()).kind,
            SpecErrorKind::Inval
        );
        assert_eq!(
            rule_error(bdf("1:2:3:4.5").unwrap_err()).kind,
            SpecErrorKind::Inval
        );
        assert_eq!(
            rule_error(bdf("0x01:00.0").unwrap_err()).kind,
            SpecErrorKind::Inval
        );
        let (_, r) = bdf("100000000:01:00.0").unwrap();
        assert_eq!(r.bdf, b("0000:01:00.0"));
        assert!(r.notes.iter().any(|n| n.contains("wraps")));
    }

    #[test]
    fn vslot_rule() {
        let (rest, v) = vslot("1f,x").unwrap();
        assert_eq!((rest, v.slot), (",x", 0x1f));
        let (rest, v) = vslot("10").unwrap();
        assert_eq!((rest, v.slot), ("", 0x10));
        assert!(v.notes[0].contains("0x10 = 16"));
        let e = rule_error(vslot("20").unwrap_err());
        assert!(e.message.contains("0x20 = 32"), "{}", e.message);
        assert!(vslot("").is_err());
    }

    #[test]
    fn positional_spec_rule() {
        let (rest, p) = positional_spec("01:00.0@4,seize=1").unwrap();
        assert_eq!(rest, "seize=1");
        assert_eq!(
            (p.bdf.bdf, p.vslot.map(|v| v.slot)),
            (b("01:00.0"), Some(4))
        );
        assert_eq!(positional_spec("01:00.0").unwrap().0, "");
        assert!(matches!(
            positional_spec("bdf=01:00.0"),
            Err(nom::Err::Error(_))
        ));
        assert!(matches!(
            positional_spec("01:00.0@20"),
            Err(nom::Err::Failure(_))
        ));
        assert!(matches!(
            positional_spec("01:00.0 ,x=1"),
            Err(nom::Err::Failure(_))
        ));
        let e = rule_error(positional_spec("01:00").unwrap_err());
        assert_eq!(e.kind, SpecErrorKind::Undefined);
    }

    #[test]
    fn key_val_rule() {
        assert_eq!(key_val("a=b,c=d").unwrap(), ("c=d", ("a", "b")));
        assert_eq!(key_val("a=b=c").unwrap(), ("", ("a", "b=c")));
        assert_eq!(key_val(",p=1").unwrap(), ("", (",p", "1")));
        assert_eq!(key_val("a=,,").unwrap(), (",", ("a", "")));
        assert!(key_val("permissive").is_err());
    }

    #[test]
    fn boolean_rule() {
        assert_eq!(boolean("p", "1"), (true, vec![]));
        assert!(!boolean("p", "yes").0);
        assert!(boolean("p", "yes").1[0].contains("means 0"));
        assert!(boolean("p", "-1").0);
        assert!(!boolean("p", "4294967296").0);
    }

    #[test]
    fn rdm_policy_rule() {
        assert_eq!(rdm_policy_value("RELAXED"), Ok(Some(RdmPolicy::Relaxed)));
        assert_eq!(rdm_policy_value("Invalid"), Ok(None));
        assert_eq!(rdm_policy_value("strict "), Err(UnknownPolicy));
    }

    #[test]
    fn spec_scenarios() {
        let (s, w) = ok("0000:05:00.0@1f,permissive=1");
        assert_eq!(s.bdf, Some(b("05:00.0")));
        assert_eq!((s.vslot, s.permissive), (Some(0x1f), true));
        assert!(w.is_empty(), "{w:?}");
        let (s, w) = ok("01:00.0,permissive=yes");
        assert!(!s.permissive && w[0].contains("atoi"));
        let (s, _) = ok("name=gpu");
        assert_eq!(s.name.as_deref(), Some("gpu"));
        let e = err("01:00.0, permissive=1");
        assert_eq!(
            e.xen_report.as_deref(),
            Some("Unknown PCI_SPEC_STRING option:  permissive")
        );
        assert!(e.message.contains("no space after ','"), "{e}");
        assert_eq!(e.offset, 8);
        assert_eq!(err("01:00.0,rdm_policy=foo").kind, SpecErrorKind::Fail);
        assert_eq!(err("01:00").kind, SpecErrorKind::Undefined);
        assert_eq!(err("a\0b").kind, SpecErrorKind::Undefined);
    }

    #[test]
    fn defaults_apply_and_keys_override_them() {
        let d = SpecDefaults {
            permissive: true,
            rdm_policy: Some(RdmPolicy::Relaxed),
            ..SpecDefaults::default()
        };
        let (s, _) = parse_spec("01:00.0", &d).unwrap();
        assert!(s.permissive);
        assert_eq!(s.rdm_policy, Some(RdmPolicy::Relaxed));
        let (s, _) = parse_spec("01:00.0,permissive=,rdm_policy=invalid", &d).unwrap();
        assert!(!s.permissive);
        assert_eq!(s.rdm_policy, None);
        assert_eq!(
            format_spec(&s, &d).unwrap(),
            "0000:01:00.0,permissive=0,rdm_policy=invalid"
        );
    }

    #[test]
    fn format_spec_writes_the_canonical_form() {
        let (s, _) = ok("5:0.0@1f,permissive=1");
        assert_eq!(s.canonical().unwrap(), "0000:05:00.0@0x1f,permissive=1");
        let (s, _) = ok("name=gpu,vslot=4,seize=1");
        assert_eq!(s.canonical().unwrap(), "name=gpu,vslot=0x04,seize=1");
        let (s, _) = ok("01:00.*@3");
        assert_eq!(s.canonical().unwrap(), "0000:01:00.*@0x03");
        let mut bad = s.clone();
        bad.name = Some("x".into());
        assert_eq!(
            bad.canonical().unwrap_err().kind,
            SpecErrorKind::Unrepresentable
        );
    }

    #[test]
    fn assignable_bdf_ignores_the_rest() {
        let (r, w) = parse_assignable_bdf("01:00.0,permissive=1").unwrap();
        assert_eq!(r.bdf, b("01:00.0"));
        assert!(w[0].contains("ignores"));
        assert!(parse_assignable_bdf(" 01:00.0").is_err());
        assert_eq!(
            parse_assignable_bdf("01:00").unwrap_err().kind,
            SpecErrorKind::Undefined
        );
    }
}
