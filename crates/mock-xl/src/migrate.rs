//! `migrate`: a domain moved to another host of the state, with the real refusals (a PCI device
//! still attached, pcifront blocking suspend).

use crate::args::{getopt, invalid_domain};
use crate::out::{libxl, Out};
use crate::state::Host;

pub(crate) fn migrate(hosts: &mut [(String, Host)], h: usize, args: &[String]) -> Out {
    let (opts, pos) = match getopt("migrate", args, "epFd", "sC") {
        Ok(x) => x,
        Err(o) => return o,
    };
    let local = opts.iter().any(|(c, v)| *c == 's' && v.is_empty());
    let Some(di) = hosts[h].1.find(&pos[0]) else {
        return invalid_domain(&pos[0]);
    };
    let target = if local {
        Some(h)
    } else {
        hosts.iter().position(|(n, _)| *n == pos[1])
    };
    let Some(t) = target else {
        return Out::ok()
            .err(format!(
                "ssh: Could not resolve hostname {}: Name or service not known",
                pos[1]
            ))
            .err("xl migrate: the target host is unknown to the mock (not a key of \"hosts\")")
            .code(1);
    };
    let ready = "migration target: Ready to receive domain.";
    let saving = "Saving to migration stream new xl format (info 0x3/0x0/1468)";
    let d = hosts[h].1.domains[di].clone();
    if d.broken {
        return Out::ok()
            .err(ready)
            .err(saving)
            .err(libxl(
                "error",
                "libxl_dom_suspend.c:651:domain_resume_done",
                Some(d.domid),
                "xc_domain_resume failed: Invalid argument",
            ))
            .err("Migration failed, resuming at sender.")
            .code(1);
    }
    // Both recorded on Xen 4.17 (tests/xen-e2e): the sender cannot enable log-dirty mode, so
    // nothing is suspended and the guest keeps running. With a device assigned Xen refuses it
    // (errno 22; the SIGSEGV the lab once saw was dom0 memory corruption under QEMU's `-cpu max`,
    // not xl); without shadow paging (Debian 12's build) a PV guest cannot have it (95).
    if d.kind == "pv" && !d.pci.is_empty() {
        return pv_logdirty_failure(ready, saving, d.domid, 22);
    }
    if d.kind == "pv" && !hosts[h].1.shadow {
        return pv_logdirty_failure(ready, saving, d.domid, 95);
    }
    if d.kind == "hvm" && !d.pci.is_empty() {
        return Out::ok()
            .err(ready)
            .err(saving)
            .err("xc: error: Failed to enable logdirty: 22,1,0 (22 = Invalid argument): Internal error")
            .err(format!("libxl: error: libxl_stream_write.c:350:libxl__xc_domain_save_done: Domain {}:saving domain: domain did not respond to suspend request: Invalid argument", d.domid))
            .err("migration sender: libxl_domain_suspend failed (rc=-3)")
            .err("Migration failed, resuming at sender.")
            .code(1);
    }
    if t != h && hosts[t].1.domains.iter().any(|x| x.name == d.name) {
        return Out::ok()
            .err(ready)
            .err(format!(
                "migration target: domain {} already exists",
                d.name
            ))
            .err("Migration failed, resuming at sender.")
            .code(1);
    }
    let mut moved = hosts[h].1.domains.remove(di);
    moved.domid = hosts[t].1.next_domid;
    hosts[t].1.next_domid += 1;
    let newid = moved.domid;
    hosts[t].1.domains.push(moved);
    Out::ok()
        .err(ready)
        .err(saving)
        .err(format!("Loading new save file <incoming migration stream> (new xl fmt info 0x3/0x0/1468)\n Savefile contains xl domain config in JSON format\nParsing config from <saved>\nmigration target: Transfer complete, requesting permission to start domain.\nmigration sender: Target has acknowledged transfer.\nmigration sender: Giving target permission to start.\nmigration target: Domain started successsfully (new domid {newid}).\nmigration sender: Target reports successful startup."))
        .err("Migration successful.")
}

/// xl's output when a PV guest's live migration cannot enable log-dirty mode (`errno` of the
/// first attempt); exit 1.
pub(crate) fn pv_logdirty_failure(ready: &str, saving: &str, domid: u32, errno: u32) -> Out {
    Out::ok()
        .err(ready)
        .err(saving)
        .err(format!("xc: error: Failed to enable logdirty: {errno},22,0 (22 = Invalid argument): Internal error"))
        .err("xc: error: Save failed (22 = Invalid argument): Internal error")
        .err(libxl(
            "error",
            "libxl_stream_write.c:347:libxl__xc_domain_save_done",
            Some(domid),
            "saving domain: domain did not respond to suspend request: Invalid argument",
        ))
        .err("migration sender: libxl_domain_suspend failed (rc=-8)")
        .err("migration target: Failed to read Record Header from stream")
        .err("migration target: cannot (re-)build domain: -3")
        .err("Migration failed, failed to suspend at sender.")
        .code(1)
}
