//! A KVM host's hide for every boot, three files and the tools that read them:
//!
//! 1. [`RULES`], one udev rule per function: at its `add` event udev writes `vfio-pci` into
//!    that function's `driver_override`, loads vfio-pci, unbinds the function from a driver that
//!    took it first and probes it again (see [`rule`]), as driverctl's per-device overrides do. It names the BDF, never `vendor:device`: `options vfio-pci ids=8086:10d3` would also
//!    take an identical NIC the host keeps. Lines xenpci did not write are kept byte for byte.
//! 2. The vfio modules in the initramfs ([`crate::host::kvm::Initramfs`]): xenpci's lines in
//!    `/etc/initramfs-tools/modules`, then `update-initramfs -u`; or the drop-in
//!    `/etc/dracut.conf.d/xenpci-vfio.conf` (`add_drivers+=`), then `dracut --force`.
//! 3. The kernel's IOMMU option when the running kernel has no IOMMU groups: `intel_iommu=on
//!    iommu=pt` added to `GRUB_CMDLINE_LINUX_DEFAULT` in `/etc/default/grub`, then `update-grub`
//!    (Debian) or `grub2-mkconfig -o /boot/grub2/grub.cfg` (Fedora/RHEL).
//!
//! Unhiding removes the function's rule (the file when it was the last); the modules and the
//! kernel option stay, for the other functions and guests of the host (the plan says so). File
//! changes come first and the regenerating tools last, so a tool that fails leaves every file
//! restored by the plan's undo.

use super::hide_param::Change;
use super::{read_host, Ctx, HideError};
use crate::exec::{CommandSpec, Tool};
use crate::host::kvm::{self, Initramfs, DRACUT_CONF, INITRAMFS_TOOLS_MODULES, VFIO_MODULES};
use crate::pci::Bdf;
use crate::plan::Plan;

/// The udev rules file xenpci owns.
pub const RULES: &str = "/etc/udev/rules.d/61-xenpci-vfio.rules";

const HEADER: &str = "# Written by xenpci (xenpci hide / unhide): these PCI functions go to vfio-pci at every\n# boot, each named by its address (never by vendor:device, which would take identical cards too).\n";

const MARK: &str = "# xenpci: vfio for PCI passthrough (xenpci hide)";

/// The rule that pins one function to vfio-pci: the override, vfio-pci loaded, then the
/// function unbound from whatever took it first (a driver built in, loaded from the initramfs or
/// for an identical card earlier) and probed again, which only vfio-pci may now take. Setting
/// the override alone binds nothing when vfio-pci is already loaded (a probe happens only when a
/// device or a driver appears), as the real-kernel tier showed.
pub fn rule(bdf: Bdf) -> String {
    format!(
        "ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"{bdf}\", ATTR{{driver_override}}=\"vfio-pci\", RUN{{builtin}}+=\"kmod load vfio-pci\", RUN+=\"/bin/sh -c 'if [ -e /sys/bus/pci/devices/%k/driver ]; then echo %k > /sys/bus/pci/devices/%k/driver/unbind; fi; echo %k > /sys/bus/pci/drivers_probe'\"\n"
    )
}

/// The rules file as read: the functions it pins, and every other line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The functions with a rule, in file order.
    pub bdfs: Vec<Bdf>,
    /// The file's other lines (with their newlines), in order, xenpci's header excepted.
    pub other: Vec<String>,
    /// The text read.
    pub text: String,
}

/// The function a line of the rules file pins (a rule xenpci wrote), if it is one.
fn pinned(line: &str) -> Option<Bdf> {
    let rest = line.split("KERNEL==\"").nth(1)?;
    let bdf = rest.split('"').next()?.parse().ok()?;
    (line.contains("ATTR{driver_override}=\"vfio-pci\"") && !line.trim_start().starts_with('#'))
        .then_some(bdf)
}

/// Reads [`RULES`] (None: there is none).
pub fn read_rules(ctx: Ctx<'_>) -> Result<Option<Rules>, HideError> {
    let Some(text) = read_host(ctx.root, RULES)? else {
        return Ok(None);
    };
    let mut r = Rules {
        bdfs: Vec::new(),
        other: Vec::new(),
        text: text.clone(),
    };
    let mut rest = text.as_str();
    if let Some(after) = rest.strip_prefix(HEADER) {
        rest = after;
    }
    for line in rest.split_inclusive('\n') {
        match pinned(line) {
            Some(b) if !r.bdfs.contains(&b) => r.bdfs.push(b),
            Some(_) => {}
            None => r.other.push(line.to_string()),
        }
    }
    Ok(Some(r))
}

/// The rules file holding `bdfs` and the `other` lines; None when nothing would be left.
fn render(bdfs: &[Bdf], other: &[String]) -> Option<String> {
    if bdfs.is_empty() && other.iter().all(|l| l.trim().is_empty()) {
        return None;
    }
    let mut s = String::from(HEADER);
    for l in other {
        s.push_str(l);
    }
    if !s.ends_with('\n') {
        s.push('\n');
    }
    for b in bdfs {
        s.push_str(&rule(*b));
    }
    Some(s)
}

/// Adds the persistent steps for `change`.
pub fn plan(ctx: Ctx<'_>, change: &Change, plan: &mut Plan) -> Result<(), HideError> {
    let rules = read_rules(ctx)?;
    let mut bdfs = rules.as_ref().map(|r| r.bdfs.clone()).unwrap_or_default();
    let other = rules.as_ref().map(|r| r.other.clone()).unwrap_or_default();
    let old = rules.as_ref().map(|r| r.text.clone());
    match change {
        Change::Add(add) => {
            for b in add {
                if !bdfs.contains(b) {
                    bdfs.push(*b);
                }
            }
        }
        Change::Remove(rm) => bdfs.retain(|b| !rm.contains(b)),
    }
    bdfs.sort();
    let names = change
        .bdfs()
        .iter()
        .map(Bdf::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    match (render(&bdfs, &other), old) {
        (Some(new), old) => plan.write_file(
            RULES,
            old.as_deref(),
            new,
            match change {
                Change::Add(_) => format!("every boot (udev): pin {names} to vfio-pci"),
                Change::Remove(_) => format!("every boot (udev): drop the rule of {names}"),
            },
        ),
        (None, Some(old)) => plan.remove_file(
            RULES,
            old,
            format!("every boot (udev): drop the rule of {names} (the last one)"),
        ),
        (None, None) => {}
    }
    match change {
        Change::Add(_) => {
            let mut tools = Vec::new();
            initramfs(ctx, plan, &mut tools)?;
            kernel_option(ctx, plan, &mut tools)?;
            for (cmd, why) in tools {
                plan.run(cmd, why, None);
            }
            plan.note(
                "the udev rule applies at the device's add event: until udev runs it, a driver \
                 built in or loaded from the initramfs holds the device, and the rule then takes \
                 it back (unbind, probe)",
            );
        }
        Change::Remove(_) => {
            if !bdfs.is_empty() || ctx.root.path(kvm::DRACUT_CONF).exists() {
                plan.note(
                    "the vfio modules in the initramfs and the kernel's IOMMU option stay (other \
                     devices and guests of the host may need them)",
                );
            }
        }
    }
    Ok(())
}

fn initramfs(
    ctx: Ctx<'_>,
    plan: &mut Plan,
    tools: &mut Vec<(CommandSpec, String)>,
) -> Result<(), HideError> {
    let Some(gen) = Initramfs::of(ctx.root) else {
        plan.note(
            "no initramfs generator found (dracut, initramfs-tools): the vfio modules are not \
             added to an initramfs",
        );
        return Ok(());
    };
    let have = gen.configured(ctx.root);
    let missing: Vec<&str> = VFIO_MODULES
        .iter()
        .copied()
        .filter(|m| !have.iter().any(|h| h == m))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    match gen {
        Initramfs::InitramfsTools => {
            let old = read_host(ctx.root, INITRAMFS_TOOLS_MODULES)?.unwrap_or_default();
            let mut new = old.clone();
            if !new.is_empty() && !new.ends_with('\n') {
                new.push('\n');
            }
            new.push_str(MARK);
            new.push('\n');
            for m in &missing {
                new.push_str(m);
                new.push('\n');
            }
            plan.write_file(
                INITRAMFS_TOOLS_MODULES,
                Some(&old),
                new,
                format!(
                    "every boot (initramfs-tools): load {} early",
                    missing.join(" ")
                ),
            );
            tools.push((
                Tool::UpdateInitramfs.command().arg("-u"),
                "every boot: rebuild the initramfs with the vfio modules".into(),
            ));
        }
        Initramfs::Dracut => {
            let old = read_host(ctx.root, DRACUT_CONF)?;
            let new = format!("{MARK}\nadd_drivers+=\" {} \"\n", VFIO_MODULES.join(" "));
            plan.write_file(
                DRACUT_CONF,
                old.as_deref(),
                new,
                format!(
                    "every boot (dracut): add {} to the initramfs",
                    missing.join(" ")
                ),
            );
            tools.push((
                Tool::Dracut.command().arg("--force"),
                "every boot: rebuild the initramfs with the vfio modules".into(),
            ));
        }
    }
    Ok(())
}

const GRUB_DEFAULTS: &str = "/etc/default/grub";

fn kernel_option(
    ctx: Ctx<'_>,
    plan: &mut Plan,
    tools: &mut Vec<(CommandSpec, String)>,
) -> Result<(), HideError> {
    if kvm::kernel_iommu(ctx.root).active {
        return Ok(());
    }
    let Some(opt) = kvm::iommu_on_option(ctx.root) else {
        plan.note(
            "the kernel has no IOMMU groups: AMD-Vi is on by default, so enable the IOMMU in \
             the firmware setup and reboot",
        );
        return Ok(());
    };
    let Some(text) = read_host(ctx.root, GRUB_DEFAULTS)? else {
        plan.note(format!(
            "the kernel has no IOMMU groups and there is no {GRUB_DEFAULTS}: add {opt} iommu=pt \
             to the kernel line by hand and reboot"
        ));
        return Ok(());
    };
    let var = ["GRUB_CMDLINE_LINUX_DEFAULT", "GRUB_CMDLINE_LINUX"]
        .into_iter()
        .find_map(|v| super::methods::grub::assignment(&text, v).map(|r| (v, r)));
    let new = match var {
        Some((_, r)) => {
            let value = &text[r.clone()];
            let opts = kvm::IommuOptions::parse(value);
            if opts.intel_iommu.is_some() {
                // Configured, not booted yet.
                plan.note(format!(
                    "{GRUB_DEFAULTS} already sets intel_iommu; reboot for the kernel to use it"
                ));
                return Ok(());
            }
            let mut add = opt.to_string();
            if opts.iommu.is_none() {
                add.push_str(" iommu=pt");
            }
            let sep = if value.trim().is_empty() { "" } else { " " };
            format!("{}{value}{sep}{add}{}", &text[..r.start], &text[r.end..])
        }
        None => {
            let mut t = text.clone();
            if !t.ends_with('\n') {
                t.push('\n');
            }
            t.push_str(&format!("GRUB_CMDLINE_LINUX_DEFAULT=\"{opt} iommu=pt\"\n"));
            t
        }
    };
    plan.write_file(
        GRUB_DEFAULTS,
        Some(&text),
        new,
        format!("next boot: turn the IOMMU on ({opt} iommu=pt on the kernel line)"),
    );
    let (cmd, what) = if ctx.root.path("/boot/grub2").is_dir() {
        (
            Tool::Grub2Mkconfig
                .command()
                .args(["-o", "/boot/grub2/grub.cfg"]),
            "grub2-mkconfig",
        )
    } else {
        (Tool::UpdateGrub.command(), "update-grub")
    };
    tools.push((
        cmd,
        format!("next boot: regenerate grub.cfg from {GRUB_DEFAULTS} ({what})"),
    ));
    plan.note("reboot for the kernel's IOMMU option to take effect");
    Ok(())
}

/// After the change: Some(message) when the rules file does not say what it should.
pub fn confirm(ctx: Ctx<'_>, change: &Change) -> Option<String> {
    let rules = match read_rules(ctx) {
        Ok(r) => r,
        Err(e) => return Some(format!("cannot re-read {RULES} to confirm: {e}")),
    };
    let bdfs = rules.map(|r| r.bdfs).unwrap_or_default();
    let wrong: Vec<String> = change
        .bdfs()
        .iter()
        .filter(|b| bdfs.contains(b) != matches!(change, Change::Add(_)))
        .map(Bdf::to_string)
        .collect();
    (!wrong.is_empty()).then(|| {
        format!(
            "after the change, {RULES} is wrong for {}",
            wrong.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_names_one_function_and_reads_back() {
        let b: Bdf = "03:00.0".parse().unwrap();
        let r = rule(b);
        assert!(r.contains("KERNEL==\"0000:03:00.0\""), "{r}");
        assert!(!r.contains("10d3"), "never by ids: {r}");
        assert_eq!(pinned(&r), Some(b));
        assert_eq!(pinned(&format!("# {r}")), None);
        let text = render(&[b], &["# mine\n".into()]).unwrap();
        assert!(
            text.starts_with(HEADER) && text.contains("# mine\n"),
            "{text}"
        );
        assert_eq!(render(&[], &[]), None);
    }
}
