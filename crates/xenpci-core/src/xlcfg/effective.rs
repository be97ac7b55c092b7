//! What xl would effectively do with the PCI part of an accepted xl.cfg (Xen 4.15 → master,
//! `tools/xl/xl_parse.c` `parse_config_data`; xen-xl.md §1.3, §2.5, §2.7):
//!
//! 1. reads `pci_msitranslate`, `pci_power_mgmt`, `pci_permissive`, `pci_seize` with
//!    `xlu_cfg_get_long` into an `int` (bad values only warn and keep 0);
//! 2. reads `rdm` with `xlu_rdm_parse` and **silently ignores** a failure — since 4.15 every valid
//!    `policy=` makes it fail (inverted check), so `rdm="strategy=host,policy=relaxed"` is dropped;
//! 3. walks `pci` with `xlu_cfg_get_listitem`, stopping at the first non-string item, and parses
//!    each entry with the globals as defaults; the first entry it cannot parse ends xl with
//!    ``unable to parse PCI_SPEC_STRING `<s>' for passthrough``.
//!
//! PCI_SPEC_STRING parsing is injected ([`SpecFn`]) so this logic is testable on its own; the
//! real one is [`xl_spec_parser`] over [`crate::syntax::pci_spec::parse_spec`].

use serde::Serialize;

use crate::syntax::pci_spec::{parse_spec, PciSpec, RdmPolicy, SpecDefaults};
use crate::syntax::xl_cfg::{Config, Lookup};

/// A PCI_SPEC_STRING parser: the spec Xen reaches plus warnings, or why Xen rejects it.
pub type SpecFn<'a> = &'a dyn Fn(&str, &SpecDefaults) -> Result<(PciSpec, Vec<String>), String>;

/// The real parser ([`parse_spec`]) as a [`SpecFn`].
pub fn xl_spec_parser(
    input: &str,
    defaults: &SpecDefaults,
) -> Result<(PciSpec, Vec<String>), String> {
    parse_spec(input, defaults).map_err(|e| e.to_string())
}

/// One accepted PCI_SPEC_STRING as Xen reaches it: the record of `xenpci spec parse --json` and
/// of each `pci` entry of `xenpci xlcfg show --json` (field names are the CLI's JSON interface).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecRecord {
    /// The string as written (for a `pci` entry: after dequoting).
    pub input: String,
    /// Always true: a rejected string has no record (in xl.cfg it ends the walk, see
    /// [`PciError`]).
    pub accepted: bool,
    /// `0000:03:00.0`, or null for a `name=` entry.
    pub bdf: Option<String>,
    /// `*` function.
    pub all_functions: bool,
    /// Guest slot, null = automatic.
    pub vslot: Option<u8>,
    /// msitranslate after the global default.
    pub msitranslate: bool,
    /// power_mgmt after the global default.
    pub power_mgmt: bool,
    /// permissive after the global default.
    pub permissive: bool,
    /// seize after the global default.
    pub seize: bool,
    /// rdm_policy (null = unset; libxl then uses strict).
    pub rdm_policy: Option<RdmPolicy>,
    /// name=
    pub name: Option<String>,
    /// Surprising reads of this entry.
    pub warnings: Vec<String>,
}

impl SpecRecord {
    /// The record of `input`, read as `spec` with `warnings`.
    pub fn new(input: &str, spec: PciSpec, warnings: Vec<String>) -> SpecRecord {
        SpecRecord {
            input: input.to_string(),
            accepted: true,
            bdf: spec.bdf.map(|b| b.to_string()),
            all_functions: spec.all_functions,
            vslot: spec.vslot,
            msitranslate: spec.msitranslate,
            power_mgmt: spec.power_mgmt,
            permissive: spec.permissive,
            seize: spec.seize,
            rdm_policy: spec.rdm_policy,
            name: spec.name,
            warnings,
        }
    }
}

/// Where xl stops in the `pci` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PciError {
    /// Index of the entry in the list.
    pub index: usize,
    /// xl's message.
    pub message: String,
}

/// The global `rdm=` as xl keeps it (null fields: not set, or left uninitialised by xl).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rdm {
    /// `host` when set.
    pub strategy: Option<String>,
    /// Always null: a valid policy makes xl drop the whole setting.
    pub policy: Option<String>,
}

/// The effective PCI part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Effective {
    /// Devices xl would pass, in order.
    pub pci: Vec<SpecRecord>,
    /// The entry that makes xl exit, if any.
    pub pci_error: Option<PciError>,
    /// Global rdm as xl keeps it; null when absent or dropped.
    pub rdm: Option<Rdm>,
    /// xl's own warnings (with `<source>:` prefixes) and ours.
    pub warnings: Vec<String>,
}

/// The outcome of `xlu_rdm_parse` on one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdmRead {
    /// It returned 0 (xl keeps the result).
    pub ok: bool,
    /// `strategy=host` was read.
    pub strategy_host: bool,
    /// What it printed (each without a newline, as Xen prints them).
    pub messages: Vec<String>,
}

/// `xlu_rdm_parse` step by step: `strategy=host[,policy=...]`, exact keys, and the inverted
/// policy check of 4.15+ (a valid policy fails, an unknown one only prints a message).
pub fn read_rdm(s: &str) -> RdmRead {
    #[derive(PartialEq)]
    enum St {
        Type,
        Strategy,
        Policy,
        Terminal,
    }
    let b = s.as_bytes();
    let mut st = St::Type;
    let mut tok = 0;
    let mut out = RdmRead {
        ok: false,
        strategy_host: false,
        messages: Vec::new(),
    };
    for p in 0..=b.len() {
        let c = b.get(p).copied().unwrap_or(0);
        let word = || String::from_utf8_lossy(&b[tok..p]).into_owned();
        match st {
            St::Type if c == b'=' => {
                let w = word();
                st = match w.as_str() {
                    "strategy" => St::Strategy,
                    "policy" => St::Policy,
                    _ => {
                        out.messages.push(format!("Unknown RDM state option: {w}"));
                        return out;
                    }
                };
                tok = p + 1;
            }
            St::Strategy if c == 0 || c == b',' => {
                let w = word();
                st = if c == b',' { St::Type } else { St::Terminal };
                if w == "host" {
                    out.strategy_host = true;
                } else {
                    out.messages
                        .push(format!("Unknown RDM strategy option: {w}"));
                    return out;
                }
                tok = p + 1;
            }
            St::Policy if c == 0 || c == b',' => {
                let w = word();
                st = if c == b',' { St::Type } else { St::Terminal };
                let known = ["invalid", "strict", "relaxed"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(&w));
                if known {
                    return out; // the inverted check: a valid policy is a parse error
                }
                out.messages.push(format!("Unknown RDM policy: {w}"));
                tok = p + 1;
            }
            _ => {}
        }
    }
    out.ok = tok == b.len() + 1 && st == St::Terminal;
    out
}

/// The passthrough modes xl knows (case-insensitive).
pub const PASSTHROUGH_MODES: [&str; 5] = ["default", "disabled", "enabled", "sync_pt", "share_pt"];

/// Works out what xl does with the PCI part of `cfg` (read from the file named `source`).
pub fn effective(cfg: &Config, source: &str, spec: SpecFn) -> Effective {
    let mut warnings = Vec::new();
    let global = |key: &str, warnings: &mut Vec<String>| -> bool {
        match cfg.get_long(key) {
            Lookup::Found(v) => {
                let as_int = v as i32;
                if i64::from(as_int) != v {
                    warnings.push(format!(
                        "{key} = {v} does not fit xl's int: it becomes {as_int} ({})",
                        if as_int != 0 { "true" } else { "false" }
                    ));
                }
                as_int != 0
            }
            Lookup::Invalid(w) => {
                warnings.push(format!("{source}:{w}"));
                warnings.push(format!("xl ignores {key} and keeps the default 0"));
                false
            }
            Lookup::Missing => false,
        }
    };
    let defaults = SpecDefaults {
        msitranslate: global("pci_msitranslate", &mut warnings),
        power_mgmt: global("pci_power_mgmt", &mut warnings),
        permissive: global("pci_permissive", &mut warnings),
        seize: global("pci_seize", &mut warnings),
        rdm_policy: None,
    };

    let rdm = match cfg.get_string("rdm") {
        Lookup::Missing => None,
        Lookup::Invalid(w) => {
            warnings.push(format!("{source}:{w}"));
            None
        }
        Lookup::Found(s) => {
            let r = read_rdm(&s);
            for m in &r.messages {
                warnings.push(format!("xl prints: {m}"));
            }
            if r.ok {
                warnings.push(format!(
                    "rdm = \"{s}\": xl leaves the global rdm policy uninitialised (undefined \
                     behaviour); every device without rdm_policy= inherits it"
                ));
                Some(Rdm {
                    strategy: r.strategy_host.then(|| "host".to_string()),
                    policy: None,
                })
            } else {
                let why = if s.contains("policy=") && r.messages.is_empty() {
                    " (Xen 4.15+ rejects every valid policy= because of an inverted check; use \
                     rdm = \"strategy=host\" and rdm_policy= per device)"
                } else {
                    ""
                };
                warnings.push(format!("rdm = \"{s}\" is silently ignored by xl{why}"));
                None
            }
        }
    };

    if let Lookup::Found(p) = cfg.get_string("passthrough") {
        if !PASSTHROUGH_MODES.iter().any(|m| m.eq_ignore_ascii_case(&p)) {
            warnings.push(format!("xl stops: ERROR: unknown passthrough option '{p}'"));
        } else if p.eq_ignore_ascii_case("disabled") && cfg.find("pci").is_some() {
            warnings.push(
                "passthrough = \"disabled\" with pci devices: libxl refuses with `passthrough \
                 disabled but devices are specified`"
                    .into(),
            );
        }
    } else if let Lookup::Invalid(w) = cfg.get_string("passthrough") {
        warnings.push(format!("{source}:{w}"));
    }

    let mut pci = Vec::new();
    let mut pci_error = None;
    match cfg.get_list("pci") {
        Lookup::Missing => {}
        Lookup::Invalid(w) => {
            warnings.push(format!("{source}:{w}"));
            warnings.push("xl passes no PCI device: pci must be a list".into());
        }
        Lookup::Found(items) => {
            let total = items.len();
            for (index, item) in items.into_iter().enumerate() {
                let Some(entry) = item else {
                    warnings.push(format!(
                        "pci item {index} is a list, not a string: xl stops reading pci there \
                         and silently drops {} entr{}",
                        total - index,
                        if total - index == 1 { "y" } else { "ies" }
                    ));
                    break;
                };
                match spec(&entry, &defaults) {
                    Ok((s, w)) => pci.push(SpecRecord::new(&entry, s, w)),
                    Err(why) => {
                        warnings.push(format!("pci item {index}: {why}"));
                        if index + 1 < total {
                            warnings.push(format!(
                                "xl never reads the {} pci entr{} after item {index}",
                                total - index - 1,
                                if total - index - 1 == 1 { "y" } else { "ies" }
                            ));
                        }
                        pci_error = Some(PciError {
                            index,
                            message: format!(
                                "unable to parse PCI_SPEC_STRING `{entry}' for passthrough"
                            ),
                        });
                        break;
                    }
                }
            }
        }
    }
    for (j, d) in pci.iter().enumerate() {
        if let Some(i) = pci[..j]
            .iter()
            .position(|e| e.bdf.is_some() && e.bdf == d.bdf)
        {
            warnings.push(format!(
                "pci items {i} and {j} name the same host function {}; xl passes both",
                d.bdf.as_deref().unwrap_or("?")
            ));
        }
    }
    Effective {
        pci,
        pci_error,
        rdm,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::xl_cfg::parse;

    /// A stand-in PCI_SPEC_STRING parser: `BB:DD.F` plus `,permissive=0|1`; "bad" fails.
    fn fake(input: &str, d: &SpecDefaults) -> Result<(PciSpec, Vec<String>), String> {
        let (bdf, rest) = input.split_once(',').unwrap_or((input, ""));
        let bdf = bdf.parse().map_err(|_| format!("bad {input}"))?;
        let mut s = PciSpec {
            bdf: Some(bdf),
            all_functions: false,
            vslot: None,
            msitranslate: d.msitranslate,
            power_mgmt: d.power_mgmt,
            permissive: d.permissive,
            seize: d.seize,
            rdm_policy: d.rdm_policy,
            name: None,
        };
        match rest {
            "" => {}
            "permissive=1" => s.permissive = true,
            "permissive=0" => s.permissive = false,
            _ => return Err(format!("unknown option in {input}")),
        }
        Ok((s, vec![]))
    }

    fn eff(src: &str) -> Effective {
        effective(&parse(src).unwrap(), "t.cfg", &fake)
    }

    #[test]
    fn globals_are_defaults_and_entries_override() {
        let e = eff(
            "pci_permissive = 1\npci_seize = 0x10\npci = ['01:00.0', '02:00.0,permissive=0']\n",
        );
        assert_eq!(e.pci.len(), 2);
        assert!(e.pci[0].permissive && e.pci[0].seize);
        assert!(!e.pci[1].permissive);
        assert_eq!(e.pci[0].bdf.as_deref(), Some("0000:01:00.0"));
    }

    #[test]
    fn bad_global_warns_and_stays_zero() {
        let e =
            eff("pci_permissive = \"yes\"\npci_msitranslate = 0x100000000\npci = ['01:00.0']\n");
        assert!(!e.pci[0].permissive && !e.pci[0].msitranslate);
        assert!(e.warnings.iter().any(
            |w| w.starts_with("t.cfg:1: warning: parameter `pci_permissive' is not a valid number")
        ));
        assert!(e
            .warnings
            .iter()
            .any(|w| w.contains("does not fit xl's int")));
    }

    #[test]
    fn first_bad_entry_stops_xl() {
        let e = eff("pci = ['01:00.0', 'bad', '03:00.0']\n");
        assert_eq!(e.pci.len(), 1);
        assert_eq!(
            e.pci_error,
            Some(PciError {
                index: 1,
                message: "unable to parse PCI_SPEC_STRING `bad' for passthrough".into()
            })
        );
    }

    #[test]
    fn single_value_and_nested_lists_pass_nothing() {
        let e = eff("pci = '01:00.0'\n");
        assert!(e.pci.is_empty());
        assert!(e.warnings[0].contains("is a single value but should be a list"));
        let e = eff("pci = [ ['x'], '01:00.0' ]\n");
        assert!(e.pci.is_empty() && e.pci_error.is_none());
        assert!(e.warnings[0].contains("silently drops 2 entries"));
    }

    #[test]
    fn rdm_with_a_valid_policy_is_dropped() {
        assert_eq!(eff("rdm = \"strategy=host,policy=relaxed\"\n").rdm, None);
        assert_eq!(
            eff("rdm = \"strategy=host\"\n").rdm,
            Some(Rdm {
                strategy: Some("host".into()),
                policy: None
            })
        );
        let r = read_rdm("policy=bogus");
        assert!(r.ok && !r.strategy_host);
        assert_eq!(r.messages, vec!["Unknown RDM policy: bogus"]);
        assert!(!read_rdm("strategy=host,").ok);
        assert!(!read_rdm("").ok);
        assert_eq!(
            read_rdm("Strategy=host").messages,
            vec!["Unknown RDM state option: Strategy"]
        );
        assert_eq!(
            read_rdm("strategy=HOST").messages,
            vec!["Unknown RDM strategy option: HOST"]
        );
        assert!(!read_rdm("strategy=host,policy=STRICT").ok);
    }

    #[test]
    fn passthrough_checks() {
        assert!(eff("passthrough = 'Sync_PT'\n").warnings.is_empty());
        assert!(eff("passthrough = 'on'\n").warnings[0].contains("unknown passthrough option 'on'"));
    }
}
