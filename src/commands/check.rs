//! `xenpci check BDF...`: the preflight report for each function (IOMMU, critical device, group
//! siblings, conventional-PCI bridge rule, reset, RMRR, SR-IOV, bridges). Exit 0 only when every
//! function can be passed through; 1 when one cannot; 2 on bad arguments.
//!
//! `xl` is asked about the IOMMU only when the host root is the real `/`; with `--root` the
//! answer comes from the files under the root (see `xenpci::host::preflight`).

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use clap::Args;
use xenpci::exec::{Runner, SystemRunner};
use xenpci::host::preflight::Severity;
use xenpci::pci::Bdf;

use super::list::print_warnings;
use super::Globals;

/// Arguments of `xenpci check`.
#[derive(Args, Debug)]
#[command(
    after_help = "IOMMU evidence: `xl info` / `xl dmesg` when the host root is /; otherwise \
(or when xl cannot answer) sys/class/iommu, sys/kernel/iommu_groups and the kernel logs \
var/log/dmesg, var/log/kern.log, var/log/xen/hypervisor.log, var/log/xen/xen.log under the root.\n\
Exit status: 0 when every function can be passed through, 1 when one cannot, 2 on bad input."
)]
pub struct CheckArgs {
    /// Functions to check, e.g. 05:00.0 or 0000:05:00.0; checked as one request (functions
    /// that must go together may be given together).
    /// None: check the host itself (IOMMU, pciback, toolstack).
    #[arg(value_name = "BDF")]
    pub bdfs: Vec<Bdf>,
    /// JSON output: {"passable": bool, "iommu": {...}, "devices": [{bdf, description,
    /// passable, findings: [{check, severity, message, fix}]}], "refusals": [{bdf, reasons,
    /// codes}] (the policy, as assign/attach/add-pci would refuse), "notes"}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: CheckArgs, g: &Globals) -> anyhow::Result<ExitCode> {
    let root = g.host_root()?;
    let system = SystemRunner;
    let runner: Option<&dyn Runner> = root.is_real().then_some(&system as &dyn Runner);
    if a.bdfs.is_empty() {
        return host(xenpci::ops::check::host(&root, runner), a.json);
    }
    let (inv, report) = xenpci::ops::check::check(&root, runner, &system, &a.bdfs);
    print_warnings(&inv, g);
    let passable = report.output.passable;
    let reports = &report.output.devices;
    let mut out = BufWriter::new(crate::output::Stdout);
    if a.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        for (i, r) in reports.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(
                out,
                "{}  {}",
                r.bdf,
                r.description.as_deref().unwrap_or("(not present)")
            )?;
            for f in &r.findings {
                writeln!(
                    out,
                    "  {:<8} {:<17} {}",
                    f.severity.label(),
                    f.check,
                    f.message
                )?;
                if let Some(fix) = &f.fix {
                    writeln!(out, "  {:<8} {:<17} fix: {fix}", "", "")?;
                }
            }
            let errors = r
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
            if r.passable {
                writeln!(out, "  => {} can be passed through", r.bdf)?;
            } else {
                writeln!(
                    out,
                    "  => {} must NOT be passed through ({errors} error{})",
                    r.bdf,
                    if errors == 1 { "" } else { "s" }
                )?;
            }
        }
        // (The policy's refusals are the devices' "policy" findings above.)
        for n in &report.notes {
            writeln!(out, "note: {n}")?;
        }
    }
    out.flush()?;
    Ok(if passable {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The KVM host's lines: the kernel's IOMMU, its line, vfio and the initramfs.
fn kvm_lines(k: &xenpci::host::kvm::KvmHost) {
    outln!(
        "kernel     IOMMU {} ({}, {} IOMMU groups)",
        if k.iommu.active {
            "active"
        } else {
            "NOT active"
        },
        k.iommu.driver.as_deref().unwrap_or("no IOMMU unit"),
        k.iommu.groups
    );
    let o = &k.options;
    let opts: Vec<String> = [
        ("intel_iommu", &o.intel_iommu),
        ("amd_iommu", &o.amd_iommu),
        ("iommu", &o.iommu),
        ("pcie_acs_override", &o.acs_override),
    ]
    .iter()
    .filter_map(|(n, v)| v.as_ref().map(|v| format!("{n}={v}")))
    .collect();
    outln!(
        "cmdline    {}",
        if opts.is_empty() {
            "no IOMMU option".to_string()
        } else {
            opts.join(" ")
        }
    );
    outln!(
        "vfio       {}, {}",
        match k.vfio.available {
            Some(true) => "available",
            Some(false) => "NOT in the module tree",
            None => "availability unknown",
        },
        if k.vfio.loaded {
            "loaded"
        } else {
            "not loaded"
        }
    );
    outln!(
        "initramfs  {}{}",
        k.vfio.initramfs.unwrap_or("no generator found"),
        if k.vfio.in_initramfs.is_empty() {
            ": no vfio module configured".to_string()
        } else {
            format!(": adds {}", k.vfio.in_initramfs.join(" "))
        }
    );
}

/// `xenpci check` with no device: the host report.
fn host(r: xenpci::ops::check::HostReport, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        let iommu = match r.iommu.enabled {
            Some(true) => "on",
            Some(false) => "OFF",
            None => "unknown",
        };
        outln!(
            "IOMMU      {iommu} ({}: {})",
            r.iommu.source,
            r.iommu.detail
        );
        if let Some(k) = &r.kvm {
            kvm_lines(k);
        } else {
            outln!(
                "pciback    {}",
                if r.pciback { "loaded" } else { "NOT loaded" }
            );
        }
        outln!(
            "toolstack  {} ({})",
            r.toolstack,
            r.toolstack_tool
                .as_deref()
                .unwrap_or("its tool cannot be run here")
        );
        for f in &r.findings {
            outln!("note: {f}");
        }
        outln!(
            "=> {}",
            if r.passable {
                "this host can pass PCI devices through"
            } else {
                "this host cannot pass PCI devices through now"
            }
        );
    }
    Ok(if r.passable {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
