//! PCI_SPEC_STRING (xl-pci-configuration(5)) as Xen 4.15+'s `xlu_pci_parse_spec_string` reads it,
//! and the BDF-only form `xl pci-assignable-add/-remove` reads with `xlu_pci_parse_bdf`.
//!
//! Grammar: `grammar/pci-spec.ebnf` and `grammar/bdf.ebnf`; source: `tools/libs/util/libxlu_pci.c`
//! (identical from RELEASE-4.15.0 to master, checked against Debian's libxlutil 4.17 by
//! `tests/spec_differential.rs`). One small parser per grammar rule ([`bdf`], [`function`],
//! [`vslot`], [`key_val`], ...: [`rules`]; their errors: [`error`]); the driver [`parse_spec`] mirrors Xen's control flow step by step,
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

use crate::pci::Bdf;

mod error;
mod rules;

pub use error::{rule_error, RuleError, RuleResult, SpecError, SpecErrorKind};
pub use rules::{
    bdf, boolean, colon_count, function, hex_field, key_val, positional_spec, rdm_policy_value,
    vslot, BdfRead, Function, Positional, RdmPolicy, UnknownPolicy, VslotRead,
};

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
mod tests;
