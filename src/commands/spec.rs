//! `xenpci spec parse|fmt`: read PCI_SPEC_STRINGs (and, with `--bdf-only` / `--rdm`, the BDF-only
//! form of `xl pci-assignable-add` and `rdm=` values) exactly as Xen 4.15+'s libxlutil reads them,
//! and print the canonical form. One output line per input; exit 0 when every input is accepted,
//! 1 otherwise.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;
use xenpci::syntax::pci_spec::{parse_assignable_bdf, parse_spec, PciSpec, SpecDefaults};
use xenpci::syntax::rdm::parse_rdm;
use xenpci::xlcfg::SpecRecord;

use super::Globals;

/// `xenpci spec ...`
#[derive(Subcommand, Debug)]
pub enum SpecCmd {
    /// Show what Xen reads from each PCI_SPEC_STRING, with a warning for every surprising read.
    #[command(after_help = super::examples::SPEC_PARSE)]
    Parse(ParseArgs),
    /// Print the canonical form of each PCI_SPEC_STRING (e.g. `0000:05:00.0@0x1f,permissive=1`).
    #[command(after_help = super::examples::SPEC_FMT)]
    Fmt(FmtArgs),
}

/// Arguments of `xenpci spec parse`.
#[derive(Args, Debug)]
pub struct ParseArgs {
    /// One JSON object per line instead of readable text.
    #[arg(long)]
    pub json: bool,
    /// Read each input as the BDF-only form of `xl pci-assignable-add/-remove` (xlu_pci_parse_bdf).
    #[arg(long, conflicts_with = "rdm")]
    pub bdf_only: bool,
    /// Read each input as an xl.cfg `rdm = "..."` value (xlu_rdm_parse).
    #[arg(long)]
    pub rdm: bool,
    /// The strings to read, e.g. `01:00.0@4,permissive=1`.
    #[arg(required = true, value_name = "SPEC", allow_hyphen_values = true)]
    pub specs: Vec<String>,
}

/// Arguments of `xenpci spec fmt`.
#[derive(Args, Debug)]
pub struct FmtArgs {
    /// The PCI_SPEC_STRINGs to rewrite.
    #[arg(required = true, value_name = "SPEC", allow_hyphen_values = true)]
    pub specs: Vec<String>,
}

/// Runs `xenpci spec ...`.
pub fn run(cmd: SpecCmd, _g: &Globals) -> anyhow::Result<ExitCode> {
    let all_ok = match cmd {
        SpecCmd::Parse(a) => a.specs.iter().fold(true, |ok, s| {
            let (line, accepted) = if a.rdm {
                rdm_line(s, a.json)
            } else if a.bdf_only {
                bdf_line(s, a.json)
            } else {
                spec_line(s, a.json)
            };
            outln!("{line}");
            ok & accepted
        }),
        SpecCmd::Fmt(a) => a.specs.iter().fold(true, |ok, s| {
            match parse_spec(s, &SpecDefaults::default()).and_then(|(spec, _)| spec.canonical()) {
                Ok(canonical) => {
                    outln!("{canonical}");
                    ok
                }
                Err(e) => {
                    eprintln!("xenpci: error: {e}");
                    false
                }
            }
        }),
    };
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn rejected(input: &str, error: String, json: bool) -> (String, bool) {
    if json {
        let v = json!({"input": input, "accepted": false, "error": error});
        (v.to_string(), false)
    } else {
        (format!("{input:?}: rejected: {error}"), false)
    }
}

fn readable_warnings(warnings: &[String]) -> String {
    warnings.iter().map(|w| format!("; warning: {w}")).collect()
}

/// The JSON line for an accepted spec: the library's [`SpecRecord`] (the same record as a `pci`
/// entry of `xlcfg show --json`), through a `serde_json::Value` so the keys stay in the sorted
/// order of the other `spec parse --json` lines.
fn spec_json(input: &str, spec: PciSpec, warnings: Vec<String>) -> String {
    json!(SpecRecord::new(input, spec, warnings)).to_string()
}

fn spec_line(input: &str, json: bool) -> (String, bool) {
    match parse_spec(input, &SpecDefaults::default()) {
        Err(e) => rejected(input, e.to_string(), json),
        Ok((spec, warnings)) if json => (spec_json(input, spec, warnings), true),
        Ok((spec, warnings)) => {
            let device = match (&spec.bdf, &spec.name) {
                (Some(b), _) if spec.all_functions => format!(
                    "{:04x}:{:02x}:{:02x}.* (all functions)",
                    b.segment, b.bus, b.device
                ),
                (Some(b), _) => b.to_string(),
                (None, Some(n)) => format!("name {n:?}"),
                (None, None) => "?".into(),
            };
            let vslot = spec
                .vslot
                .map_or("vslot auto".to_string(), |v| format!("vslot 0x{v:02x}"));
            let flags: Vec<String> = [
                ("msitranslate", spec.msitranslate),
                ("power_mgmt", spec.power_mgmt),
                ("permissive", spec.permissive),
                ("seize", spec.seize),
            ]
            .iter()
            .map(|(k, v)| format!("{k}={}", u8::from(*v)))
            .collect();
            let rdm = spec.rdm_policy.map_or("rdm_policy unset".to_string(), |p| {
                format!("rdm_policy {}", p.as_str())
            });
            (
                format!(
                    "{input:?}: {device}, {vslot}, {}, {rdm}{}",
                    flags.join(" "),
                    readable_warnings(&warnings)
                ),
                true,
            )
        }
    }
}

fn bdf_line(input: &str, json: bool) -> (String, bool) {
    match parse_assignable_bdf(input) {
        Err(e) => rejected(input, e.to_string(), json),
        Ok((b, warnings)) if json => (
            json!({
                "input": input,
                "accepted": true,
                "bdf": b.bdf.to_string(),
                "all_functions": b.all_functions,
                "warnings": warnings,
            })
            .to_string(),
            true,
        ),
        Ok((b, warnings)) => (
            format!("{input:?}: {}{}", b.bdf, readable_warnings(&warnings)),
            true,
        ),
    }
}

fn rdm_line(input: &str, json: bool) -> (String, bool) {
    match parse_rdm(input) {
        Err(e) => rejected(input, e.to_string(), json),
        Ok((r, warnings)) if json => (
            json!({
                "input": input,
                "accepted": true,
                "strategy": r.strategy,
                "policy": r.policy,
                "warnings": warnings,
            })
            .to_string(),
            true,
        ),
        Ok((r, warnings)) => (
            format!(
                "{input:?}: strategy {}, policy {}{}",
                r.strategy.map_or("unset", |_| "host"),
                r.policy.map_or("unset", |p| p.as_str()),
                readable_warnings(&warnings)
            ),
            true,
        ),
    }
}
