//! `xenpci xapi-pci parse|fmt`: read an `other-config:pci` value exactly as xapi does (plug
//! order, silently dropped pieces, warnings), and write canonical values.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;
use xenpci::pci::Bdf;
use xenpci::syntax::xapi_pci::{self, Entry};

use super::Globals;

/// `xenpci xapi-pci ...`
#[derive(Subcommand, Debug)]
pub enum XapiPciCmd {
    /// Show which devices xapi plugs from an other-config:pci value, in plug order, and which
    /// pieces it drops without a word. Exit 1 when a piece is dropped.
    #[command(after_help = super::examples::XAPI_PCI_PARSE)]
    Parse {
        /// Print JSON: {"input","devices":[{"bdf","group","position"}],"dropped":[{"text","reason"}],"warnings"}.
        #[arg(long)]
        json: bool,
        /// The other-config:pci value, e.g. 0/0000:06:00.0,1/0000:07:00.0
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Print the canonical value that makes xapi plug these devices in this order.
    #[command(after_help = super::examples::XAPI_PCI_FMT)]
    Fmt {
        /// Put every device in this group (xapi then needs them written in reverse, which this
        /// does) instead of one group per device (0, 1, 2, ...).
        #[arg(long, allow_hyphen_values = true)]
        group: Option<i64>,
        /// Devices in the wanted plug order (05:00.0 or 0000:05:00.0).
        #[arg(required = true, value_name = "BDF")]
        bdfs: Vec<Bdf>,
    },
}

/// Runs one `xapi-pci` subcommand.
pub fn run(c: XapiPciCmd, _g: &Globals) -> anyhow::Result<ExitCode> {
    match c {
        XapiPciCmd::Parse { json, value } => {
            let l = xapi_pci::parse(&value);
            if json {
                let out = json!({
                    "input": l.input,
                    "devices": l.devices.iter().map(|d| json!({
                        "bdf": d.addr.to_string(), "group": d.group, "position": d.position,
                    })).collect::<Vec<_>>(),
                    "dropped": l.dropped.iter().map(|d| json!({
                        "text": d.text, "reason": d.reason,
                    })).collect::<Vec<_>>(),
                    "warnings": l.warnings,
                });
                outln!("{out}");
            } else {
                if l.devices.is_empty() {
                    outln!("no device is plugged");
                }
                for d in &l.devices {
                    outln!(
                        "position {}: {} (group {}, from {:?})",
                        d.position,
                        d.addr,
                        d.group,
                        d.text
                    );
                }
                for d in &l.dropped {
                    outln!("dropped {:?}: {}", d.text, d.reason);
                }
                for w in &l.warnings {
                    outln!("warning: {w}");
                }
            }
            Ok(if l.dropped.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        XapiPciCmd::Fmt { group, bdfs } => {
            let value = match group {
                None => xapi_pci::generate_ordered(&bdfs)?,
                Some(g) => {
                    let entries: Vec<Entry> =
                        bdfs.iter().map(|b| Entry { group: g, bdf: *b }).collect();
                    xapi_pci::generate(&entries)?
                }
            };
            outln!("{value}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
