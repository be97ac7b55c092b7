//! `xenpci xlcfg show|add-pci|remove-pci|set`: read an xl.cfg exactly as xl does and report what
//! it would do with the PCI part; edit that part with atomic, locked, backed-up writes that leave
//! every other byte as it was, through [`xenpci::xlcfg::file`] (`--dry-run` prints the diff instead).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use serde::Serialize;
use xenpci::exec::SystemRunner;
use xenpci::ops::give;
use xenpci::pci::Bdf;
use xenpci::xlcfg::{self, effective, xl_spec_parser, Added, Document, EditError, Effective};

use super::Globals;

/// `xenpci xlcfg ...`
#[derive(Subcommand, Debug)]
pub enum XlcfgCmd {
    /// Show what xl would do with the PCI part of FILE (devices with the pci_* globals applied,
    /// rdm, where xl would stop) and what xenpci's safety policy refuses among its devices.
    /// Exit 1 when xl would refuse the file or stop at a pci entry, or the policy refuses.
    #[command(after_help = super::examples::XLCFG_SHOW)]
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The xl.cfg file.
        file: PathBuf,
    },
    /// Add a PCI_SPEC_STRING to `pci` (replacing the entry with the same BDF), after the same
    /// safety policy as `attach` (dom0's devices, bridges, whole isolation groups, devices other
    /// guests use).
    #[command(after_help = super::examples::XLCFG_ADD_PCI)]
    AddPci {
        /// Print the diff, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Add it even when xenpci refuses; the output names what was forced.
        #[arg(long)]
        force: bool,
        /// Print the refusal as JSON (one document; the shape every command shares).
        #[arg(long)]
        json: bool,
        /// The xl.cfg file.
        file: PathBuf,
        /// e.g. `0000:03:00.0,permissive=1`
        spec: String,
    },
    /// Remove every `pci` entry for BDF.
    #[command(after_help = super::examples::XLCFG_REMOVE_PCI)]
    RemovePci {
        /// Print the diff, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The xl.cfg file.
        file: PathBuf,
        /// e.g. `03:00.0`
        #[arg(value_name = "BDF")]
        bdf: Bdf,
    },
    /// Set rdm, passthrough, pci_permissive, pci_msitranslate, pci_seize or pci_power_mgmt.
    #[command(after_help = super::examples::XLCFG_SET)]
    Set {
        /// Print the diff, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The xl.cfg file.
        file: PathBuf,
        /// The key.
        key: String,
        /// The value (as xl should read it, without quotes).
        value: String,
    },
}

/// Runs one `xlcfg` subcommand.
pub fn run(c: XlcfgCmd, g: &Globals) -> anyhow::Result<ExitCode> {
    match c {
        XlcfgCmd::Show { json, file } => show(&file, json, g),
        XlcfgCmd::AddPci {
            dry_run,
            force,
            json,
            file,
            spec,
        } => {
            // The policy first, on the file as it is (a file xl cannot read is left to the
            // edit, which reports it).
            let mut forced = Vec::new();
            if let Ok(doc) = Document::parse(&read(&file)?) {
                let root = g.host_root()?;
                match give::xlcfg_add_pci(&root, &SystemRunner, &file, &doc, &spec, force) {
                    Ok(v) => {
                        for f in v.forced_notes() {
                            eprintln!("xenpci: warning: {f}");
                        }
                        forced = v.forced;
                    }
                    Err(e) => return Ok(super::report_op_error(&e, json)),
                }
            }
            edit(&file, dry_run, json.then_some(forced.as_slice()), |d| {
                Ok(match d.add_pci(&spec, &xl_spec_parser)? {
                    Added::Appended => format!("added pci entry '{spec}'"),
                    Added::Replaced { old } => format!("replaced pci entry '{old}' with '{spec}'"),
                })
            })
        }
        XlcfgCmd::RemovePci {
            dry_run,
            file,
            bdf: b,
        } => edit(&file, dry_run, None, |d| {
            // Idempotent: re-run after a completed (or killed-after-the-rename) removal.
            let n = match d.remove_pci(b, &xl_spec_parser) {
                Err(EditError::NotFound { .. }) => {
                    return Ok(format!("nothing to do: no pci entry for {b}"))
                }
                r => r?,
            };
            Ok(format!(
                "removed {n} pci entr{} for {b}",
                if n == 1 { "y" } else { "ies" }
            ))
        }),
        XlcfgCmd::Set {
            dry_run,
            file,
            key,
            value,
        } => edit(&file, dry_run, None, |d| {
            d.set_key(&key, &value)?;
            Ok(format!("set {key} = {value}"))
        }),
    }
}

fn read(file: &Path) -> anyhow::Result<String> {
    Ok(xlcfg::file::read(file)?)
}

#[derive(Serialize)]
struct ErrorJson {
    line: usize,
    message: String,
}

#[derive(Serialize)]
struct ShowJson<'a> {
    file: String,
    ok: bool,
    error: Option<ErrorJson>,
    pci: &'a [xenpci::xlcfg::SpecRecord],
    pci_error: &'a Option<xenpci::xlcfg::PciError>,
    rdm: &'a Option<xenpci::xlcfg::Rdm>,
    warnings: &'a [String],
    /// What xenpci's policy refuses among the devices (same reasons as add-pci and attach).
    refusals: &'a [xenpci::policy::Refusal],
}

fn show(file: &Path, json: bool, g: &Globals) -> anyhow::Result<ExitCode> {
    let text = read(file)?;
    let source = file.display().to_string();
    let mut refusals = Vec::new();
    // Only the settings are shown: the exact parser alone, not the lossless document.
    let (error, eff) = match xenpci::syntax::xl_cfg::parse(&text) {
        Ok(cfg) => {
            refusals = give::xlcfg_review(&g.host_root()?, &SystemRunner, file, &cfg)?.refused;
            let eff = effective(&cfg, &source, &xl_spec_parser);
            // The process ends after printing: freeing every setting one by one (600,000 in a
            // 50 MB file) would be a tenth of the run for nothing.
            std::mem::forget(cfg);
            (None, eff)
        }
        Err(e) => {
            let first = e.first();
            let err = ErrorJson {
                line: first.line,
                message: format!(
                    "config parsing error near {}: {}",
                    first.near, first.message
                ),
            };
            let warnings = e.report(&source).lines().map(str::to_string).collect();
            (
                Some(err),
                Effective {
                    pci: vec![],
                    pci_error: None,
                    rdm: None,
                    warnings,
                },
            )
        }
    };
    let ok = error.is_none();
    let code = if ok && eff.pci_error.is_none() && refusals.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    if json {
        let j = ShowJson {
            file: source,
            ok,
            error,
            pci: &eff.pci,
            pci_error: &eff.pci_error,
            rdm: &eff.rdm,
            warnings: &eff.warnings,
            refusals: &refusals,
        };
        outln!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(code);
    }
    match &error {
        Some(e) => outln!(
            "{source}: xl refuses this file (line {}: {})",
            e.line,
            e.message
        ),
        None if refusals.is_empty() => outln!("{source}: accepted by xl"),
        None => outln!("{source}: accepted by xl, but REFUSED by xenpci's safety policy:"),
    }
    for r in &refusals {
        outln!("  refused: {r}");
    }
    if ok {
        outln!("pci: {} device(s) xl would pass", eff.pci.len());
        for (i, d) in eff.pci.iter().enumerate() {
            let mut flags = Vec::new();
            for (on, name) in [
                (d.permissive, "permissive"),
                (d.msitranslate, "msitranslate"),
                (d.power_mgmt, "power_mgmt"),
                (d.seize, "seize"),
            ] {
                if on {
                    flags.push(name.to_string());
                }
            }
            if let Some(v) = d.vslot {
                flags.push(format!("vslot={v:#x}"));
            }
            if let Some(p) = d.rdm_policy {
                flags.push(format!(
                    "rdm_policy={}",
                    serde_json::to_value(p)?.as_str().unwrap_or("?")
                ));
            }
            let what = match (&d.bdf, &d.name) {
                (Some(b), _) if d.all_functions => format!("{}.*", &b[..b.len() - 2]),
                (Some(b), _) => b.clone(),
                (None, Some(n)) => format!("name={n}"),
                (None, None) => "?".into(),
            };
            outln!("  [{i}] {what}  {}  ('{}')", flags.join(" "), d.input);
            for w in &d.warnings {
                outln!("      warning: {w}");
            }
        }
        match &eff.rdm {
            Some(r) => outln!(
                "rdm: strategy={} policy={}",
                r.strategy.as_deref().unwrap_or("(unset)"),
                r.policy.as_deref().unwrap_or("(unset)")
            ),
            None => outln!("rdm: not in effect"),
        }
        if let Some(p) = &eff.pci_error {
            outln!("xl stops at pci[{}]: {}", p.index, p.message);
        }
    }
    if !eff.warnings.is_empty() {
        outln!("warnings:");
        for w in &eff.warnings {
            outln!("  {w}");
        }
    }
    Ok(code)
}

/// `--json` of a done (or planned) edit.
#[derive(Serialize)]
struct EditJson<'a> {
    refused: bool,
    file: String,
    what: &'a str,
    dry_run: bool,
    written: bool,
    diff: &'a str,
    forced: &'a [xenpci::policy::Refusal],
}

/// Runs an edit and prints what it did; `json`: as one JSON document, with the devices forced.
fn edit(
    file: &Path,
    dry_run: bool,
    json: Option<&[xenpci::policy::Refusal]>,
    change: impl FnOnce(&mut Document) -> Result<String, EditError>,
) -> anyhow::Result<ExitCode> {
    let source = file.display().to_string();
    let e = xlcfg::file::edit(file, dry_run, change)?;
    let what = &e.what;
    if let Some(forced) = json {
        let doc = EditJson {
            refused: false,
            file: source,
            what,
            dry_run,
            written: e.written,
            diff: &e.diff,
            forced,
        };
        outln!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    if dry_run {
        out!("{}", e.diff);
        outln!("# dry run: {what}; nothing written");
    } else if !e.written {
        report!("{source}: {what}; no change");
    } else {
        match &e.backup {
            Some(b) => report!("{source}: {what} (backup: {})", b.display()),
            None => report!("{source}: {what}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
