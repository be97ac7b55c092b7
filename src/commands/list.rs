//! `xenpci list`: the host's PCI functions, grouped by isolation group, critical ones marked;
//! `--json` gives the interface record per function ([`xenpci::host::ListRecord`]).

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use xenpci::host::filter::{self, Filter};
use xenpci::host::{DriverState, Inventory, PciFunction};
use xenpci::ops::list::Selection;

use super::Globals;

/// Arguments of `xenpci list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only functions matching lspci-style filters, comma-separated:
    /// [VENDOR]:[DEVICE][:CLASS[:PROGIF]] in hex, e.g. `10de::0300,::0106`.
    #[arg(short = 'd', long = "filter", value_name = "FILTER")]
    pub filter: Option<String>,
    /// JSON output: an array with one object per function.
    #[arg(long)]
    pub json: bool,
    /// Only functions in these slots, as lspci -s: [[[[DOMAIN]:]BUS]:][DEVICE][.[FUNC]]
    /// (e.g. 05:00.0, 05:, .1).
    #[arg(short = 's', long = "slot", value_name = "SLOT", value_parser = slot)]
    pub slot: Option<xenpci::host::slot::Slot>,
}

/// Prints the inventory's warnings on stderr, one line per kind (each one with `-v`), in one
/// write.
pub fn print_warnings(inv: &Inventory, g: &Globals) {
    use std::io::Write;
    let text: String = inv
        .warning_lines(g.verbose > 0)
        .iter()
        .map(|w| format!("xenpci: warning: {w}\n"))
        .collect();
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

pub fn run(a: ListArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let filters: Vec<Filter> = match &a.filter {
        Some(s) => filter::parse(s)?,
        None => Vec::new(),
    };
    let sel = Selection {
        filters,
        slot: a.slot,
        numa_node: !a.json,
    };
    let root = g.host_root()?;
    let kvm =
        xenpci::host::xensource::Toolstack::of(&root) == xenpci::host::xensource::Toolstack::Kvm;
    let (inv, records) = xenpci::ops::list::list(&root, &sel);
    print_warnings(&inv, g);
    let shown = |f: &PciFunction| sel.shows(f);
    let mut out = BufWriter::new(crate::output::Stdout);
    if a.json {
        serde_json::to_writer_pretty(&mut out, &records).context("writing JSON")?;
        writeln!(out)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    human(&inv, &shown, kvm, &mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn human(
    inv: &Inventory,
    shown: &dyn Fn(&PciFunction) -> bool,
    kvm: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if inv.kernel_groups {
        writeln!(
            out,
            "Isolation groups: the kernel's IOMMU groups (checked against config space)"
        )?;
    } else {
        writeln!(out, "Isolation groups: computed from config space (the kernel has no IOMMU groups, as in a Xen dom0)")?;
    }
    let mut n_funcs = 0;
    let mut n_groups = 0;
    for (i, group) in inv.groups().iter().enumerate() {
        let members: Vec<&PciFunction> = group.iter().filter_map(|b| inv.get(*b)).collect();
        if !members.iter().any(|f| shown(f)) {
            continue;
        }
        n_groups += 1;
        let critical: Vec<String> = members
            .iter()
            .filter(|f| !f.critical.is_empty())
            .map(|f| f.bdf.to_string())
            .collect();
        let endpoints = members.iter().filter(|f| !f.is_bridge()).count();
        let status = if !critical.is_empty() {
            format!("NOT assignable: dom0 needs {}", critical.join(", "))
        } else if endpoints == 0 {
            "bridges only".to_string()
        } else {
            "assignable".to_string()
        };
        let kernel = members[0]
            .iommu_group
            .map(|g| format!(" (iommu group {g})"))
            .unwrap_or_default();
        writeln!(out, "\ngroup {}{kernel}: {status}", i + 1)?;
        for f in members.iter().filter(|f| shown(f)) {
            n_funcs += 1;
            let mark = if !f.critical.is_empty() { '!' } else { ' ' };
            writeln!(
                out,
                "{mark} {}  {} [{:04x}]: {} {} [{:04x}:{:04x}] (rev {:02x})",
                f.bdf,
                f.class_name(),
                f.class >> 8,
                f.vendor_name(),
                f.device_name(),
                f.vendor_id,
                f.device_id,
                f.revision
            )?;
            let mut facts = vec![format!("driver {}", f.driver.as_deref().unwrap_or("-"))];
            if f.is_bridge() {
                facts.push("bridge".into());
            } else if f.reset.is_empty() {
                facts.push("no reset".into());
            } else {
                facts.push(format!("reset {}", f.reset.join(",")));
            }
            facts.push(if f.is_pcie() { "PCIe" } else { "PCI" }.into());
            if let Some(n) = f.numa_node {
                facts.push(format!("numa {n}"));
            }
            if let Some(s) = &f.sriov {
                facts.push(format!("SR-IOV {}/{} VFs", s.numvfs, s.totalvfs));
            }
            if let Some(p) = f.physfn {
                facts.push(format!("VF of {p}"));
            }
            match f.driver_state() {
                DriverState::Pciback => facts.push("hidden from dom0".into()),
                // On a KVM host vfio-pci is the hiding driver.
                DriverState::KvmStub(d) if kvm && d == "vfio-pci" => {
                    facts.push("hidden from the host (vfio-pci)".into())
                }
                DriverState::KvmStub(d) => facts.push(format!(
                    "held by the KVM stub {d}, not hidden for Xen (`xenpci hide --now {}` moves it to pciback)",
                    f.bdf
                )),
                DriverState::Dom0Driver(_) | DriverState::Unbound => {}
            }
            if f.computed_group != f.isolation_group {
                let c: Vec<String> = f.computed_group.iter().map(|b| b.short()).collect();
                facts.push(format!("config space suggests group [{}]", c.join(" ")));
            }
            writeln!(out, "                {}", facts.join(", "))?;
            for why in &f.critical {
                writeln!(out, "                CRITICAL: {why}")?;
            }
        }
    }
    writeln!(
        out,
        "\n{n_funcs} function{} in {n_groups} isolation group{}; '!' marks functions dom0 needs (CRITICAL).",
        if n_funcs == 1 { "" } else { "s" },
        if n_groups == 1 { "" } else { "s" }
    )?;
    Ok(())
}

/// `-s` checked by clap, like every other argument (a bad one is a usage error, exit 2).
fn slot(s: &str) -> Result<xenpci::host::slot::Slot, String> {
    xenpci::host::slot::parse(s).map_err(|e| e.to_string())
}
