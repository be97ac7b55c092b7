//! Hiding on a KVM host: binding to vfio-pci. The binding and persistence methods are the only
//! KVM-specific part of a hide; the policy, the plan, its dry run, journal and rollback are the
//! ones every hide uses ([`super::apply`]).
//!
//! * Now ([`plan_live`]), per function: record the original driver
//!   (`/var/lib/xenpci/hide/<BDF>.driver`), unbind it from its driver, `driver_override` =
//!   `vfio-pci` (so nothing else can take it), bind it to vfio-pci (`modprobe vfio-pci` first
//!   when the driver is not loaded). The override comes after the unbind so that a rollback
//!   clears it before it binds the original driver again (an override of vfio-pci makes that
//!   bind fail: the real-kernel tier's IOMMU-less boot, where vfio-pci refuses the device). Unhiding unbinds it from vfio-pci, clears the
//!   override (a newline: a zero-length write changes nothing in sysfs) and binds the recorded
//!   driver, or lets the kernel pick one (`drivers_probe`). Never `new_id`, which would take
//!   every device with the same ids — the identical twin card the host uses included.
//! * For every boot ([`super::vfio_persist`]): a udev rule per function setting its
//!   `driver_override`, the vfio modules in the initramfs, the kernel's IOMMU option.
//! * [`hidden`]: the vfio state now and after the next boot (`xenpci hidden`).

use serde::Serialize;

use super::hide_param::Change;
use super::methods::live::{current_driver, record_path};
use super::methods::state::{DeviceState, Hidden};
use super::{read_host, Ctx, HideError};
use crate::exec::Tool;
use crate::pci::Bdf;
use crate::plan::Plan;
use crate::policy::vfio_facts::VFIO_PCI;

/// vfio-pci's driver directory.
pub const VFIO_DRIVER: &str = "/sys/bus/pci/drivers/vfio-pci";

fn dev(bdf: Bdf) -> String {
    format!("/sys/bus/pci/devices/{bdf}")
}

fn p(s: impl Into<String>) -> std::path::PathBuf {
    std::path::PathBuf::from(s.into())
}

/// What a KVM host's hide used, for the report (`"binding"` in `--json`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Binding {
    /// Always `vfio-pci`.
    pub driver: &'static str,
    /// The udev rules file that names each function for every boot.
    pub rules: &'static str,
}

/// The binding every KVM hide uses.
pub const BINDING: Binding = Binding {
    driver: VFIO_PCI,
    rules: super::vfio_persist::RULES,
};

/// Adds the live steps: bind each function of `change` to vfio-pci, or give it back.
pub fn plan_live(ctx: Ctx<'_>, change: &Change, plan: &mut Plan) -> Result<(), HideError> {
    let mut loaded = ctx.root.path(VFIO_DRIVER).is_dir();
    for &bdf in change.bdfs() {
        let devpath = dev(bdf);
        if !ctx.root.path(&devpath).exists() {
            return Err(HideError::NoDevice {
                bdf,
                path: devpath.into(),
            });
        }
        let ov = format!("{devpath}/driver_override");
        if !ctx.root.path(&ov).exists() {
            return Err(HideError::Kvm(format!(
                "{ov} does not exist: this kernel cannot pin {bdf} to vfio-pci per device \
                 (driver_override needs Linux 3.16 or later)"
            )));
        }
        let driver = current_driver(ctx.root, bdf);
        let b = bdf.to_string();
        match change {
            Change::Add(_) if driver.as_deref() == Some(VFIO_PCI) => {
                plan.note(format!("{bdf} is already bound to vfio-pci now"));
            }
            Change::Add(_) => {
                if !loaded {
                    plan.run(
                        Tool::Modprobe.command().arg(VFIO_PCI),
                        "now (vfio): load the vfio-pci driver",
                        None,
                    );
                    loaded = true;
                }
                if let Some(d) = &driver {
                    let rec = record_path(bdf);
                    let old = read_host(ctx.root, &rec)?;
                    plan.write_file(
                        rec.as_str(),
                        old.as_deref(),
                        format!("{d}\n"),
                        format!("now (vfio): record {bdf}'s original driver ({d}) for unhide"),
                    );
                }
                if let Some(d) = &driver {
                    let drv = format!("/sys/bus/pci/drivers/{d}");
                    plan.write_sysfs(
                        format!("{drv}/unbind"),
                        &b,
                        format!("now (vfio): unbind {bdf} from {d}"),
                        Some((p(format!("{drv}/bind")), b.clone())),
                    );
                }
                plan.write_sysfs(
                    &ov,
                    VFIO_PCI,
                    format!("now (vfio): only vfio-pci may bind {bdf}"),
                    Some((p(&ov), "\n".into())),
                );
                plan.write_sysfs(
                    format!("{VFIO_DRIVER}/bind"),
                    &b,
                    format!("now (vfio): bind {bdf} to vfio-pci"),
                    Some((p(format!("{VFIO_DRIVER}/unbind")), b.clone())),
                );
            }
            Change::Remove(_) => plan_give_back(ctx, bdf, driver, &ov, plan)?,
        }
    }
    Ok(())
}

fn plan_give_back(
    ctx: Ctx<'_>,
    bdf: Bdf,
    driver: Option<String>,
    ov: &str,
    plan: &mut Plan,
) -> Result<(), HideError> {
    let b = bdf.to_string();
    let pinned = read_host(ctx.root, ov)?.is_some_and(|v| v.trim() == VFIO_PCI);
    if driver.as_deref() != Some(VFIO_PCI) && !pinned {
        plan.note(format!(
            "{bdf} is not bound to vfio-pci now (driver: {})",
            driver.as_deref().unwrap_or("none")
        ));
        return Ok(());
    }
    if driver.as_deref() == Some(VFIO_PCI) {
        plan.write_sysfs(
            format!("{VFIO_DRIVER}/unbind"),
            &b,
            format!("now (vfio): unbind {bdf} from vfio-pci"),
            Some((p(format!("{VFIO_DRIVER}/bind")), b.clone())),
        );
    }
    if pinned {
        plan.write_sysfs(
            ov,
            "\n",
            format!("now (vfio): clear {bdf}'s driver_override"),
            Some((p(ov), VFIO_PCI.into())),
        );
    }
    let rec = record_path(bdf);
    let original = read_host(ctx.root, &rec)?;
    let name = original
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != VFIO_PCI)
        .map(str::to_string);
    match name {
        Some(d) => {
            let drv = format!("/sys/bus/pci/drivers/{d}");
            plan.write_sysfs(
                format!("{drv}/bind"),
                &b,
                format!("now (vfio): bind {bdf} to its original driver {d}"),
                Some((p(format!("{drv}/unbind")), b.clone())),
            );
            plan.remove_file(
                rec.as_str(),
                original.unwrap_or_default(),
                format!("now (vfio): forget the recorded driver of {bdf}"),
            );
        }
        None => plan.write_sysfs(
            "/sys/bus/pci/drivers_probe",
            &b,
            format!("now (vfio): no original driver recorded for {bdf}; let the kernel pick one"),
            None,
        ),
    }
    Ok(())
}

/// `xenpci hidden` on a KVM host: every function bound to vfio-pci now or named by the udev
/// rules for the next boot.
pub fn hidden(ctx: Ctx<'_>) -> Result<Hidden, HideError> {
    let rules = super::vfio_persist::read_rules(ctx)?;
    let next: Vec<Bdf> = rules.as_ref().map(|r| r.bdfs.clone()).unwrap_or_default();
    let mut all: Vec<Bdf> = std::fs::read_dir(ctx.root.path(VFIO_DRIVER))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    // The driver links too (a tree whose driver directory lists nothing).
    if let Ok(rd) = std::fs::read_dir(ctx.root.path("/sys/bus/pci/devices")) {
        for e in rd.flatten() {
            if let Ok(b) = e.file_name().to_string_lossy().parse::<Bdf>() {
                if current_driver(ctx.root, b).as_deref() == Some(VFIO_PCI) {
                    all.push(b);
                }
            }
        }
    }
    all.extend(next.iter().copied());
    all.sort();
    all.dedup();
    let devices = all
        .into_iter()
        .map(|bdf| {
            let driver = current_driver(ctx.root, bdf);
            let now = driver.as_deref() == Some(VFIO_PCI);
            let later = next.contains(&bdf);
            let status = match (now, later) {
                (true, true) => "hidden",
                (false, true) => "reboot pending",
                (true, false) => "hidden now but lost at reboot",
                (false, false) => "not hidden",
            };
            DeviceState {
                bdf,
                hidden_now: now,
                driver,
                in_slots: false,
                hidden_at_boot: false,
                hidden_next_boot: later,
                status: status.into(),
            }
        })
        .collect();
    Ok(Hidden {
        method: None,
        configured_in: super::vfio_persist::RULES.to_string(),
        configured: next
            .iter()
            .map(Bdf::to_string)
            .collect::<Vec<_>>()
            .join(","),
        devices,
        vf_hides: Vec::new(),
    })
}
