//! Hiding now, without a reboot: `xl pci-assignable-add BDF` / `xl pci-assignable-remove -r BDF`
//! when xl is there (libxl records the original driver in xenstore and rebinds it), else the
//! sysfs sequence from xen-xl.md §4.3–4.5: record the original driver (in
//! `/var/lib/xenpci/hide/<BDF>.driver`), `driver_override=pciback` where the kernel has it,
//! unbind, `pciback/new_slot` (without driver_override), `pciback/bind`; unhiding reverses it and
//! binds the recorded driver again (`drivers_probe` when none was recorded).

use std::path::{Path, PathBuf};

use super::LiveMethod;
use crate::exec::{CommandSpec, Tool};
use crate::hide::hide_param::Change;
use crate::hide::{read_host, Ctx, HideError};
use crate::host::{sysfs, DriverState, HostRoot};
use crate::pci::Bdf;
use crate::plan::Plan;

/// The pciback driver directory.
pub const PCIBACK: &str = "/sys/bus/pci/drivers/pciback";
/// Where the sysfs method records each device's original driver.
pub const RECORD_DIR: &str = "/var/lib/xenpci/hide";

fn dev(bdf: Bdf) -> String {
    format!("/sys/bus/pci/devices/{bdf}")
}

/// The record file of a device.
pub fn record_path(bdf: Bdf) -> String {
    format!("{RECORD_DIR}/{bdf}.driver")
}

/// The driver bound to the device now (name of the `driver` link's target; None also when the
/// link cannot be read).
pub fn current_driver(root: &HostRoot, bdf: Bdf) -> Option<String> {
    sysfs::driver_of(root, bdf).ok().flatten()
}

/// The devices in pciback's slot list.
pub fn slots(root: &HostRoot) -> Vec<Bdf> {
    crate::host::sysfs::read_text(root, &root.path(format!("{PCIBACK}/slots")))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// The devices bound to pciback now (its directory's BDF-named links).
pub fn bound(root: &HostRoot) -> Vec<Bdf> {
    let mut v: Vec<Bdf> = std::fs::read_dir(root.path(PCIBACK))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn p(s: impl AsRef<Path>) -> PathBuf {
    s.as_ref().to_path_buf()
}

fn xl(args: &[&str]) -> CommandSpec {
    Tool::Xl.command().args(args.iter().copied())
}

/// Adds the live steps for `change`.
pub fn plan(
    method: LiveMethod,
    ctx: Ctx<'_>,
    change: &Change,
    plan: &mut Plan,
) -> Result<(), HideError> {
    if method == LiveMethod::Vfio {
        return Err(HideError::Kvm(
            "--live vfio binds to vfio-pci, which only a KVM host uses; on Xen use xl or sysfs              (pciback)"
                .into(),
        ));
    }
    for &bdf in change.bdfs() {
        let devpath = dev(bdf);
        if !ctx.root.path(&devpath).exists() {
            return Err(HideError::NoDevice {
                bdf,
                path: devpath.into(),
            });
        }
        let driver = current_driver(ctx.root, bdf);
        let on_pciback = DriverState::of(driver.as_deref()).is_pciback();
        let b = bdf.to_string();
        match change {
            Change::Add(_) if on_pciback => {
                plan.note(format!("{bdf} is already bound to pciback now"));
            }
            Change::Remove(_) if !on_pciback => {
                plan.note(format!(
                    "{bdf} is not bound to pciback now (driver: {})",
                    driver.as_deref().unwrap_or("none")
                ));
            }
            Change::Add(_) if method == LiveMethod::Xl => plan.run(
                xl(&["pci-assignable-add", &b]),
                format!(
                    "now (xl): unbind {bdf} from {} and hand it to pciback",
                    driver.as_deref().unwrap_or("no driver")
                ),
                Some(xl(&["pci-assignable-remove", "-r", &b])),
            ),
            Change::Remove(_) if method == LiveMethod::Xl => plan.run(
                xl(&["pci-assignable-remove", "-r", &b]),
                format!("now (xl): release {bdf} from pciback and rebind its original driver"),
                Some(xl(&["pci-assignable-add", &b])),
            ),
            Change::Add(_) => sysfs_hide(ctx, bdf, driver, plan)?,
            Change::Remove(_) => sysfs_unhide(ctx, bdf, plan)?,
        }
    }
    Ok(())
}

fn has_override(root: &HostRoot, bdf: Bdf) -> bool {
    root.path(format!("{}/driver_override", dev(bdf))).exists()
}

fn sysfs_hide(
    ctx: Ctx<'_>,
    bdf: Bdf,
    driver: Option<String>,
    plan: &mut Plan,
) -> Result<(), HideError> {
    if !ctx.root.path(PCIBACK).is_dir() {
        return Err(HideError::NoPciback {
            path: PCIBACK.into(),
        });
    }
    let b = bdf.to_string();
    let ov = format!("{}/driver_override", dev(bdf));
    if let Some(d) = &driver {
        let rec = record_path(bdf);
        let old = read_host(ctx.root, &rec)?;
        plan.write_file(
            rec.as_str(),
            old.as_deref(),
            format!("{d}\n"),
            format!("now (sysfs): record {bdf}'s original driver ({d}) for unhide"),
        );
    }
    let with_override = has_override(ctx.root, bdf);
    if with_override {
        plan.write_sysfs(
            &ov,
            "pciback",
            format!("now (sysfs): only pciback may bind {bdf}"),
            Some((p(&ov), String::new())),
        );
    }
    if let Some(d) = &driver {
        let drv = format!("/sys/bus/pci/drivers/{d}");
        plan.write_sysfs(
            format!("{drv}/unbind"),
            &b,
            format!("now (sysfs): unbind {bdf} from {d}"),
            Some((p(format!("{drv}/bind")), b.clone())),
        );
    }
    if !with_override && !slots(ctx.root).contains(&bdf) {
        plan.write_sysfs(
            format!("{PCIBACK}/new_slot"),
            &b,
            format!("now (sysfs): add {bdf} to pciback's slot list"),
            Some((p(format!("{PCIBACK}/remove_slot")), b.clone())),
        );
    }
    plan.write_sysfs(
        format!("{PCIBACK}/bind"),
        &b,
        format!("now (sysfs): bind {bdf} to pciback"),
        Some((p(format!("{PCIBACK}/unbind")), b.clone())),
    );
    Ok(())
}

fn sysfs_unhide(ctx: Ctx<'_>, bdf: Bdf, plan: &mut Plan) -> Result<(), HideError> {
    let b = bdf.to_string();
    let rec = record_path(bdf);
    let original = read_host(ctx.root, &rec)?;
    let orig_name = original
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    plan.write_sysfs(
        format!("{PCIBACK}/unbind"),
        &b,
        format!("now (sysfs): unbind {bdf} from pciback"),
        Some((p(format!("{PCIBACK}/bind")), b.clone())),
    );
    if slots(ctx.root).contains(&bdf) {
        plan.write_sysfs(
            format!("{PCIBACK}/remove_slot"),
            &b,
            format!("now (sysfs): remove {bdf} from pciback's slot list"),
            Some((p(format!("{PCIBACK}/new_slot")), b.clone())),
        );
    }
    let ov = format!("{}/driver_override", dev(bdf));
    if read_host(ctx.root, &ov)?.is_some_and(|v| v.trim() == "pciback") {
        plan.write_sysfs(
            &ov,
            "\n",
            format!("now (sysfs): clear {bdf}'s driver_override"),
            Some((p(&ov), "pciback".into())),
        );
    }
    match orig_name {
        Some(d) => {
            let drv = format!("/sys/bus/pci/drivers/{d}");
            plan.write_sysfs(
                format!("{drv}/bind"),
                &b,
                format!("now (sysfs): bind {bdf} to its original driver {d}"),
                Some((p(format!("{drv}/unbind")), b.clone())),
            );
            plan.remove_file(
                rec.as_str(),
                original.unwrap_or_default(),
                format!("now (sysfs): forget the recorded driver of {bdf}"),
            );
        }
        None => {
            plan.write_sysfs(
                "/sys/bus/pci/drivers_probe",
                &b,
                format!(
                    "now (sysfs): no original driver recorded for {bdf}; let the kernel pick one"
                ),
                None,
            );
        }
    }
    Ok(())
}
