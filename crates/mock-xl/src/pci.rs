//! The PCI commands: `pci-assignable-list/-add/-remove`, `pci-attach`, `pci-detach`, `pci-list`.

use crate::args::{getopt, invalid_domain};
use crate::out::{libxl, short, Out};
use crate::state::{Attached, Host};
use xenpci::pci::Bdf;
use xenpci::syntax::pci_spec::{parse_assignable_bdf, parse_spec, SpecDefaults};

pub(crate) fn pci_list(host: &Host, args: &[String]) -> Out {
    let (_, pos) = match getopt("pci-list", args, "", "") {
        Ok(x) => x,
        Err(o) => return o,
    };
    let Some(i) = host.find(&pos[0]) else {
        return invalid_domain(&pos[0]);
    };
    let d = &host.domains[i];
    if d.pci.is_empty() {
        return Out::ok();
    }
    let mut o = Out::ok().out("Vdev Device");
    for a in &d.pci {
        let v = a.vslot.unwrap_or(0);
        o = o.out(format!("{:02x}.{:01x} {}", v, 0, a.bdf));
    }
    o
}

pub(crate) fn assignable_list(host: &Host, args: &[String]) -> Out {
    let (opts, _) = match getopt("pci-assignable-list", args, "n", "") {
        Ok(x) => x,
        Err(o) => return o,
    };
    if !host.pciback_loaded {
        return Out::ok().err(libxl(
            "error",
            "libxl_pci.c:741:libxl_device_pci_assignable_list",
            None,
            "Looks like pciback driver not loaded",
        ));
    }
    let names = !opts.is_empty();
    let mut o = Out::ok();
    for d in host.devices.iter().filter(|d| host.assignable(&d.bdf)) {
        let n = if names {
            d.name.clone().unwrap_or_default()
        } else {
            String::new()
        };
        o = o.out(format!("{} {n}", d.bdf));
    }
    o
}

pub(crate) fn assignable_add(host: &mut Host, args: &[String]) -> Out {
    let (opts, pos) = match getopt("pci-assignable-add", args, "", "n") {
        Ok(x) => x,
        Err(o) => return o,
    };
    let Ok((b, _)) = parse_assignable_bdf(&pos[0]) else {
        return Out::ok()
            .err(format!("pci-assignable-add: malformed BDF \"{}\"", pos[0]))
            .code(2);
    };
    let bdf = b.bdf.to_string();
    let name = opts.iter().find(|(c, _)| *c == 'n').map(|(_, v)| v.clone());
    let place = "libxl_pci.c:792:libxl__device_pci_assignable_add";
    if let Some(n) = &name {
        if n.len() > 64 {
            return Out::ok()
                .err(libxl("error", place, None, "Name too long"))
                .code(1);
        }
        if !n.chars().all(|c| c.is_ascii_graphic()) {
            return Out::ok()
                .err(libxl(
                    "error",
                    place,
                    None,
                    "Names may only include printable characters",
                ))
                .code(1);
        }
    }
    let Some(i) = host.device(&bdf) else {
        return Out::ok()
            .err(libxl(
                "error",
                place,
                None,
                &format!("Couldn't lstat /sys/bus/pci/devices/{bdf}: No such file or directory"),
            ))
            .code(1);
    };
    if !host.pciback_loaded {
        return Out::ok()
            .err(libxl(
                "error",
                place,
                None,
                "Looks like pciback driver is not loaded",
            ))
            .code(1);
    }
    let mut o = Out::ok();
    let d = &mut host.devices[i];
    if d.driver.as_deref() == Some("pciback") {
        o = o.err(libxl(
            "warning",
            "libxl_pci.c:802:libxl__device_pci_assignable_add",
            None,
            &format!("{bdf} already assigned to pciback"),
        ));
    } else {
        match d.driver.take() {
            Some(drv) => d.driver_path = Some(format!("/sys/bus/pci/drivers/{drv}")),
            None if d.driver_path.is_some() => {
                o = o.err(libxl(
                    "info",
                    place,
                    None,
                    &format!(
                        "{bdf} not bound to a driver, will be rebound to {}",
                        d.driver_path.clone().unwrap_or_default()
                    ),
                ));
            }
            None => {
                o = o.err(libxl(
                    "warning",
                    place,
                    None,
                    &format!("{bdf} not bound to a driver, will not be rebound."),
                ))
            }
        }
        d.driver = Some("pciback".into());
    }
    d.name = name;
    d.quarantined = true;
    o
}

pub(crate) fn assignable_remove(host: &mut Host, args: &[String]) -> Out {
    let (opts, pos) = match getopt("pci-assignable-remove", args, "r", "") {
        Ok(x) => x,
        Err(o) => return o,
    };
    let rebind = !opts.is_empty();
    let i = match host
        .devices
        .iter()
        .position(|d| d.name.as_deref() == Some(pos[0].as_str()))
    {
        Some(i) => i,
        None => {
            let Ok((b, _)) = parse_assignable_bdf(&pos[0]) else {
                return Out::ok()
                    .err(format!("pci-assignable-remove: malformed BDF '{}'", pos[0]))
                    .code(2);
            };
            match host.device(&b.bdf.to_string()) {
                Some(i) => i,
                None => {
                    return Out::ok()
                        .err(libxl(
                            "error",
                            "libxl_pci.c:883:libxl__device_pci_assignable_remove",
                            None,
                            &format!("failed to de-quarantine {}", b.bdf),
                        ))
                        .code(1)
                }
            }
        }
    };
    let place = "libxl_pci.c:903:libxl__device_pci_assignable_remove";
    let bdf = host.devices[i].bdf.clone();
    if host.owner(&bdf).is_some() {
        return Out::ok()
            .err(libxl(
                "error",
                place,
                None,
                &format!("failed to de-quarantine {bdf}"),
            ))
            .code(1);
    }
    let mut o = Out::ok();
    let d = &mut host.devices[i];
    if d.driver.as_deref() == Some("pciback") {
        d.driver = None;
    } else {
        o = o.err(libxl("warning", place, None, "Not bound to pciback"));
    }
    if rebind {
        match d.driver_path.take() {
            Some(p) => {
                o = o.err(libxl(
                    "info",
                    place,
                    None,
                    &format!("Rebinding to driver at {p}"),
                ));
                d.driver = p.rsplit('/').next().map(str::to_string);
            }
            None => {
                o = o.err(libxl(
                    "warning",
                    place,
                    None,
                    "Couldn't find path for original driver; not rebinding",
                ))
            }
        }
    }
    d.name = None;
    d.quarantined = false;
    o
}

/// The `opts-N` value.
pub(crate) fn opts_of(spec: &xenpci::syntax::pci_spec::PciSpec) -> String {
    format!(
        "msitranslate={},power_mgmt={},permissive={},rdm_policy={}",
        u8::from(spec.msitranslate),
        u8::from(spec.power_mgmt),
        u8::from(spec.permissive),
        spec.rdm_policy.map_or("strict", |p| p.as_str())
    )
}

/// libxl__device_pci_add for one parsed spec; `Err` = the error lines.
pub(crate) fn add_device(
    host: &mut Host,
    di: usize,
    spec: &xenpci::syntax::pci_spec::PciSpec,
) -> Result<(), Vec<String>> {
    let domid = host.domains[di].domid;
    let place = "libxl_pci.c:1677:libxl__device_pci_add";
    let summary = |what: String, rc: i32| {
        libxl(
            "error",
            "libxl_pci.c:1800:device_pci_add_done",
            Some(domid),
            &format!("libxl__device_pci_add failed for PCI device {what} (rc {rc})"),
        )
    };
    let bdf = match (&spec.name, spec.bdf) {
        (Some(n), _) => match host.devices.iter().find(|d| d.name.as_deref() == Some(n)) {
            Some(d) => d
                .bdf
                .parse::<Bdf>()
                .map_err(|_| vec![summary(format!("'{n}'"), -23)])?,
            None => return Err(vec![summary(format!("'{n}'"), -23)]),
        },
        (None, Some(b)) => b,
        (None, None) => return Err(vec![summary("?".into(), -6)]),
    };
    let key = bdf.to_string();
    let hvm = host.domains[di].kind == "hvm";
    let pt_off = host.domains[di].passthrough == "disabled";
    if hvm {
        if !host.iommu || pt_off {
            return Err(vec![
                libxl(
                    "error",
                    "libxl_pci.c:1576:libxl__device_pci_add",
                    Some(domid),
                    &format!("PCI device {key} cannot be assigned - no IOMMU?"),
                ),
                summary(short(bdf), -3),
            ]);
        }
        if host.device(&key).is_none() || host.owner(&key).is_some_and(|o| o.domid != domid) {
            return Err(vec![
                libxl(
                    "error",
                    "libxl_pci.c:1582:libxl__device_pci_add",
                    Some(domid),
                    &format!("PCI device {key} already assigned to a different guest?"),
                ),
                summary(short(bdf), -3),
            ]);
        }
    }
    if spec.seize {
        if let Some(i) = host.device(&key) {
            let d = &mut host.devices[i];
            if d.driver.as_deref() != Some("pciback") {
                if let Some(drv) = d.driver.take() {
                    d.driver_path = Some(format!("/sys/bus/pci/drivers/{drv}"));
                }
                d.driver = Some("pciback".into());
            }
        }
    }
    if !host.assignable(&key) {
        return Err(vec![
            libxl(
                "error",
                place,
                Some(domid),
                &format!("PCI device {} is not assignable", short(bdf)),
            ),
            summary(short(bdf), -3),
        ]);
    }
    let mut funcs = vec![bdf];
    if spec.all_functions {
        if spec.vslot.is_none() {
            return Err(vec![
                libxl(
                    "error",
                    "libxl_pci.c:1660:libxl__device_pci_add",
                    Some(domid),
                    "Must specify a v-slot for multi-function devices",
                ),
                summary(short(bdf), -6),
            ]);
        }
        funcs = host
            .devices
            .iter()
            .filter_map(|d| d.bdf.parse::<Bdf>().ok())
            .filter(|b| b.segment == bdf.segment && b.bus == bdf.bus && b.device == bdf.device)
            .collect();
    }
    if !hvm && pt_off {
        return Err(vec![
            libxl(
                "error",
                "libxl_pci.c:1468:pci_add_dm_done",
                Some(domid),
                "xc_assign_device failed",
            ),
            summary(short(bdf), -3),
        ]);
    }
    let used: Vec<u8> = host.domains[di]
        .pci
        .iter()
        .filter_map(|a| a.vslot)
        .collect();
    let auto = (3u8..0x20).find(|s| !used.contains(s));
    for f in funcs {
        let vslot = match (spec.vslot, hvm) {
            (Some(s), _) => Some(s),
            (None, true) => auto,
            (None, false) => None,
        };
        host.domains[di].pci.push(Attached {
            bdf: f.to_string(),
            vslot,
            opts: opts_of(spec),
            name: spec.name.clone(),
        });
    }
    if !hvm {
        host.domains[di].pcifront = true;
    }
    Ok(())
}

pub(crate) fn pci_attach(host: &mut Host, args: &[String]) -> Out {
    let (_, pos) = match getopt("pci-attach", args, "", "") {
        Ok(x) => x,
        Err(o) => return o,
    };
    let Some(di) = host.find(&pos[0]) else {
        return invalid_domain(&pos[0]);
    };
    let spec = match parse_spec(&pos[1], &SpecDefaults::default()) {
        Ok((s, _)) => s,
        Err(e) => {
            let mut o = Out::ok();
            if let Some(r) = e.xen_report {
                o = o.err(r);
            }
            return o
                .err(format!(
                    "pci-attach: malformed PCI_SPEC_STRING \"{}\"",
                    pos[1]
                ))
                .code(2);
        }
    };
    if host.domains[di].broken {
        return Out::ok()
            .err(libxl(
                "error",
                "libxl_domain.c:1077:libxl_domain_pause",
                Some(host.domains[di].domid),
                "domain is broken after a failed migration",
            ))
            .code(1);
    }
    match add_device(host, di, &spec) {
        Ok(()) => Out::ok(),
        Err(lines) => lines.iter().fold(Out::ok(), |o, l| o.err(l)).code(1),
    }
}

pub(crate) fn pci_detach(host: &mut Host, args: &[String]) -> Out {
    let (_, pos) = match getopt("pci-detach", args, "f", "") {
        Ok(x) => x,
        Err(o) => return o,
    };
    let Some(di) = host.find(&pos[0]) else {
        return invalid_domain(&pos[0]);
    };
    let spec = match parse_spec(&pos[1], &SpecDefaults::default()) {
        Ok((s, _)) => s,
        Err(_) => {
            return Out::ok()
                .err(format!(
                    "pci-detach: malformed PCI_SPEC_STRING \"{}\"",
                    pos[1]
                ))
                .code(2)
        }
    };
    let d = &mut host.domains[di];
    let want: Option<String> = match (&spec.name, spec.bdf) {
        (Some(n), _) => d
            .pci
            .iter()
            .find(|a| a.name.as_deref() == Some(n))
            .map(|a| a.bdf.clone()),
        (None, Some(b)) => Some(b.to_string()),
        _ => None,
    };
    let Some(idx) = want.and_then(|w| d.pci.iter().position(|a| a.bdf == w)) else {
        return Out::ok()
            .err(libxl(
                "error",
                "libxl_pci.c:1969:do_pci_remove",
                Some(d.domid),
                "PCI device not attached to this domain",
            ))
            .code(1);
    };
    let gone = d.pci.remove(idx);
    if let Some(i) = host.device(&gone.bdf) {
        host.devices[i].quarantined = true;
    }
    Out::ok()
}
