//! XCP-ng 8.3: `xe pci-disable-dom0-access uuid=<PCI>` / `pci-enable-dom0-access`, which make
//! xapi itself edit the list through xen-cmdline (so xapi's status view stays right).
//!
//! xapi reads the list with a scanf that only accepts the long form: one short-form entry makes
//! every call fail with INTERNAL_ERROR. So the list is read first; when it holds a short-form
//! entry this method hands over to [`super::xen_cmdline`], which rewrites it in the long form.

use super::{push_notes, xen_cmdline};
use crate::exec::{CommandSpec, Tool};
use crate::hide::hide_param::Change;
use crate::hide::{read_host, Ctx, HideError};
use crate::host::xensource;
use crate::pci::Bdf;
use crate::plan::Plan;

/// This host's uuid from `/etc/xensource-inventory` (`INSTALLATION_UUID='...'`).
pub fn host_uuid(ctx: Ctx<'_>) -> Result<Option<String>, HideError> {
    Ok(read_host(ctx.root, xensource::PATH)?
        .and_then(|inv| xensource::value(&inv, "INSTALLATION_UUID")))
}

/// The uuid of the PCI object for `bdf` on this host.
fn pci_uuid(ctx: Ctx<'_>, bdf: Bdf, plan: &mut Plan) -> Result<String, HideError> {
    let mut cmd = Tool::Xe
        .command()
        .arg("pci-list")
        .arg(format!("pci-id={bdf}"));
    if let Some(h) = host_uuid(ctx)? {
        cmd = cmd.arg(format!("host-uuid={h}"));
    }
    let cmd = cmd.arg("--minimal");
    let out = ctx.runner.run(&cmd)?;
    plan.query(cmd.clone(), out.stdout.clone());
    let uuid = out
        .stdout
        .trim()
        .split(',')
        .next()
        .unwrap_or("")
        .to_string();
    if uuid.is_empty() {
        return Err(HideError::NoPciObject {
            bdf,
            command: cmd.to_string(),
        });
    }
    Ok(uuid)
}

fn xe(sub: &str, uuid: &str) -> CommandSpec {
    Tool::Xe.command().arg(sub).arg(format!("uuid={uuid}"))
}

/// Plans one `pci-disable-dom0-access` / `pci-enable-dom0-access` per device that changes.
pub fn plan(ctx: Ctx<'_>, change: &Change, plan: &mut Plan) -> Result<(), HideError> {
    let (conf, (cmd, out)) = xen_cmdline::read(ctx)?;
    let problems = conf.list.xapi_problems();
    if !problems.is_empty() {
        plan.note(format!(
            "xapi cannot read the current hide list ({}); its PCI calls would fail with \
             INTERNAL_ERROR, so the list is edited through xen-cmdline instead, in the long form",
            problems.join("; ")
        ));
        return xen_cmdline::plan(ctx, change, plan);
    }
    plan.query(cmd, out);
    let mut notes = Vec::new();
    for &bdf in change.bdfs() {
        let hidden = conf.list.contains(&bdf);
        let (sub, inverse, why) = match change {
            Change::Add(_) if hidden => {
                notes.push(format!("{bdf} is already hidden"));
                continue;
            }
            Change::Remove(_) if !hidden => {
                notes.push(format!("{bdf} was not in the hide list"));
                continue;
            }
            Change::Add(_) => (
                "pci-disable-dom0-access",
                "pci-enable-dom0-access",
                format!("persistent (xapi): hide {bdf} from dom0 from the next boot"),
            ),
            Change::Remove(_) => (
                "pci-enable-dom0-access",
                "pci-disable-dom0-access",
                format!("persistent (xapi): give {bdf} back to dom0 from the next boot"),
            ),
        };
        let uuid = pci_uuid(ctx, bdf, plan)?;
        plan.run(xe(sub, &uuid), why, Some(xe(inverse, &uuid)));
    }
    push_notes(plan, notes);
    plan.note("the boot configuration changes take effect at the next host reboot");
    Ok(())
}
