//! The domain commands: `info`, `list`, `create` (with the `pci` of the xl.cfg) and
//! `shutdown` / `destroy`.

use crate::args::{getopt, invalid_domain};
use crate::out::{libxl, Out};
use crate::pci::add_device;
use crate::state::{Domain, Host};
use xenpci::pci::Bdf;
use xenpci::syntax::xl_cfg::Lookup;

pub(crate) fn info(name: &str, host: &Host) -> Out {
    // xl's order: pv hvm hvm_directio pv_directio hap shadow iommu_hap_pt_share … gnttab-v1 gnttab-v2
    let mut caps = vec!["pv", "hvm"];
    if host.iommu {
        caps.extend(["hvm_directio", "pv_directio"]);
    }
    caps.push("hap");
    if host.shadow {
        caps.push("shadow");
    }
    if host.iommu && host.hap_pt_share {
        caps.push("iommu_hap_pt_share");
    }
    caps.extend(["gnttab-v1", "gnttab-v2"]);
    let rows = [
        ("host", name.to_string()),
        ("release", "6.1.0-56-amd64".into()),
        ("machine", "x86_64".into()),
        ("nr_cpus", "2".into()),
        ("virt_caps", caps.join(" ")),
        ("total_memory", "2047".into()),
        ("xen_major", "4".into()),
        ("xen_minor", "17".into()),
        ("xen_extra", ".7+13-g2445b30a44".into()),
        ("xen_version", "4.17.7+13-g2445b30a44".into()),
        (
            "xen_caps",
            "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64".into(),
        ),
        (
            "xen_commandline",
            if host.iommu {
                "iommu=verbose".into()
            } else {
                "iommu=0".into()
            },
        ),
        ("xl_version", "mock-xl (xenpci test double)".into()),
    ];
    rows.iter()
        .fold(Out::ok(), |o, (k, v)| o.out(format!("{k:<23}: {v}")))
}

pub(crate) fn list(host: &Host, args: &[String]) -> Out {
    let (opts, pos) = match getopt("list", args, "l", "") {
        Ok(x) => x,
        Err(o) => return o,
    };
    let doms: Vec<&Domain> = match pos.first() {
        Some(a) => match host.find(a) {
            Some(i) => vec![&host.domains[i]],
            None => return invalid_domain(a),
        },
        None => host.domains.iter().collect(),
    };
    if opts.iter().any(|(c, _)| *c == 'l') {
        let v: Vec<serde_json::Value> = doms
            .iter()
            .map(|d| {
                serde_json::json!({
                    "domid": d.domid,
                    "config": {
                        "c_info": {"type": d.kind, "name": d.name},
                        "b_info": {
                            "max_memkb": d.maxmem * 1024,
                            "target_memkb": d.memory * 1024,
                            "max_vcpus": d.vcpus,
                            "passthrough": d.passthrough,
                        },
                        "pcidevs": d.pci.iter().map(|a| {
                            let b: Bdf = a.bdf.parse().unwrap_or(Bdf { segment: 0, bus: 0, device: 0, function: 0 });
                            let opt = |k: &str| a.opts.split(',').find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('='))).unwrap_or("0").to_string();
                            serde_json::json!({"domain": b.segment, "bus": b.bus, "dev": b.device, "func": b.function,
                                "vdevfn": a.vslot.map_or(0, |s| u32::from(s) << 3),
                                "msitranslate": opt("msitranslate") == "1", "power_mgmt": opt("power_mgmt") == "1",
                                "permissive": opt("permissive") == "1", "rdm_policy": opt("rdm_policy")})
                        }).collect::<Vec<_>>(),
                    }
                })
            })
            .collect();
        return Out::ok().out(serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    let mut o = Out::ok().out(format!(
        "{:<40} {:>5} {:>5} {:>5} {:>10} {:>9}",
        "Name", "ID", "Mem", "VCPUs", "State", "Time(s)"
    ));
    if pos.is_empty() {
        o = o.out(format!(
            "{:<40} {:>5} {:>5} {:>5}     r-----  {:>8.1}",
            "Domain-0", 0, 768, 2, 12.3
        ));
    }
    for d in doms {
        let flags = if d.broken { "--p---" } else { "-b----" };
        o = o.out(format!(
            "{:<40} {:>5} {:>5} {:>5}     {flags}  {:>8.1}",
            d.name, d.domid, d.memory, d.vcpus, 1.0
        ));
    }
    o
}

/// `xl create CFG`: reads name, type/builder, memory/maxmem, passthrough, pci through xenpci's
/// xl.cfg reader and applies libxl's passthrough rules (xen-xl.md §2.7).
pub(crate) fn create(host: &mut Host, args: &[String]) -> Out {
    let (opts, mut pos) = match getopt("create", args, "pqec", "f") {
        Ok(x) => x,
        Err(o) => return o,
    };
    if let Some((_, f)) = opts.iter().find(|(c, _)| *c == 'f') {
        pos.insert(0, f.clone());
    }
    let Some(path) = pos.first().cloned() else {
        return Out::ok().err("Config file not specified").code(1);
    };
    let mut o = Out::ok().err(format!("Parsing config from {path}"));
    let src = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            return o
                .err(format!("Failed to read config file: {path}: {e}"))
                .code(1)
        }
    };
    let cfg = match xenpci::syntax::xl_cfg::parse(&src) {
        Ok(c) => c,
        Err(e) => {
            return o
                .err(e.report(&path).trim_end())
                .err("Failed to parse config: Invalid argument")
                .code(1)
        }
    };
    let s = |k: &str| match cfg.get_string(k) {
        Lookup::Found(v) => Some(v),
        _ => None,
    };
    let n = |k: &str| match cfg.get_long(k) {
        Lookup::Found(v) => Some(v),
        _ => None,
    };
    let Some(name) = s("name") else {
        return o.err("Domain name must be specified.").code(1);
    };
    let kind = match s("type") {
        Some(t) => t.to_ascii_lowercase(),
        None if s("builder").as_deref() == Some("hvm") => "hvm".into(),
        None => "pv".into(),
    };
    if !["pv", "hvm", "pvh"].contains(&kind.as_str()) {
        return o.err(format!("Invalid domain type {kind}.")).code(1);
    }
    let memory = n("memory").unwrap_or(128).max(0) as u64;
    let maxmem = n("maxmem").map_or(memory, |m| m.max(0) as u64);
    let eff =
        xenpci::xlcfg::effective::effective(&cfg, &path, &xenpci::xlcfg::effective::xl_spec_parser);
    if let Some(e) = &eff.pci_error {
        return o.err(&e.message).code(1);
    }
    let pt = s("passthrough")
        .unwrap_or_else(|| "default".into())
        .to_ascii_lowercase();
    if !["default", "disabled", "enabled", "sync_pt", "share_pt"].contains(&pt.as_str()) {
        return o
            .err(format!(
                "ERROR: unknown passthrough option '{}'",
                s("passthrough").unwrap_or_default()
            ))
            .code(1);
    }
    let has_pci = !eff.pci.is_empty();
    let mut mode = match pt.as_str() {
        "default" if has_pci => "enabled".to_string(),
        "default" => "disabled".to_string(),
        m => m.to_string(),
    };
    let inval = |o: Out, place: &str, msg: &str| o.err(libxl("error", place, None, msg)).code(6);
    let cs = "libxl_create.c:1216:libxl__domain_config_setdefault";
    if mode != "disabled" {
        if kind == "pvh" {
            return inval(
                o,
                "libxl_x86.c:831:libxl__arch_passthrough_mode_setdefault",
                "passthrough not yet supported for x86 PVH guests",
            );
        }
        if !host.iommu {
            return inval(
                o,
                "libxl_x86.c:822:libxl__arch_passthrough_mode_setdefault",
                "passthrough not supported on this platform",
            );
        }
        if mode == "enabled" {
            mode = if kind == "hvm" && host.hap_pt_share {
                "share_pt"
            } else {
                "sync_pt"
            }
            .into();
        }
        if mode == "share_pt" && kind == "pv" {
            return inval(o, cs, "passthrough=\"share_pt\" not valid for PV domain");
        }
        if kind == "hvm" && memory < maxmem {
            return inval(
                o,
                cs,
                "IOMMU required for device passthrough but not supported together with PoD",
            );
        }
    } else if has_pci {
        return inval(o, cs, "passthrough disabled but devices are specified");
    }
    if host.domains.iter().any(|d| d.name == name) {
        return o
            .err(libxl(
                "error",
                "libxl_create.c:1258:libxl__domain_config_setdefault",
                None,
                &format!("Domain with name \"{name}\" already exists."),
            ))
            .code(3);
    }
    let domid = host.next_domid;
    host.next_domid += 1;
    host.domains.push(Domain {
        domid,
        name,
        kind,
        memory,
        maxmem,
        vcpus: n("vcpus").unwrap_or(1).max(1) as u32,
        passthrough: mode,
        pci: Vec::new(),
        pcifront: false,
        config: std::fs::canonicalize(&path)
            .ok()
            .map(|p| p.display().to_string()),
        broken: false,
    });
    let di = host.domains.len() - 1;
    for dev in &eff.pci {
        let spec = xenpci::syntax::pci_spec::PciSpec {
            bdf: dev.bdf.as_deref().and_then(|b| b.parse().ok()),
            all_functions: dev.all_functions,
            vslot: dev.vslot,
            msitranslate: dev.msitranslate,
            power_mgmt: dev.power_mgmt,
            permissive: dev.permissive,
            seize: dev.seize,
            rdm_policy: dev.rdm_policy,
            name: dev.name.clone(),
        };
        if let Err(lines) = add_device(host, di, &spec) {
            host.domains.remove(di);
            o = lines.iter().fold(o, |o, l| o.err(l));
            return o
                .err(libxl(
                    "error",
                    "libxl_create.c:1936:domcreate_attach_devices",
                    Some(domid),
                    "unable to add pci devices",
                ))
                .err(libxl(
                    "error",
                    "libxl_domain.c:1183:libxl__destroy_domid",
                    Some(domid),
                    "Non-existant domain",
                ))
                .err(libxl(
                    "error",
                    "libxl_domain.c:1137:domain_destroy_callback",
                    Some(domid),
                    "Unable to destroy guest",
                ))
                .err(libxl(
                    "error",
                    "libxl_domain.c:1064:domain_destroy_cb",
                    Some(domid),
                    "Destruction of domain failed",
                ))
                .code(3);
        }
    }
    o
}

pub(crate) fn shutdown(host: &mut Host, cmd: &str, args: &[String]) -> Out {
    let (opts, pos) = match getopt(cmd, args, "wFaH", "") {
        Ok(x) => x,
        Err(o) => return o,
    };
    let Some(di) = host.find(&pos[0]) else {
        return invalid_domain(&pos[0]);
    };
    let d = host.domains.remove(di);
    for a in &d.pci {
        if let Some(i) = host.device(&a.bdf) {
            host.devices[i].quarantined = true;
        }
    }
    let mut o = Out::ok();
    if cmd == "shutdown" {
        o = o.err(format!("Shutting down domain {}", d.domid));
        if opts.iter().any(|(c, _)| *c == 'w') {
            o = o
                .err("Waiting for 1 domains")
                .err(format!(
                    "Domain {}, domain {} has been shut down, reason code 0",
                    d.domid, d.name
                ))
                .err("All domains have been shut down");
        }
    }
    o
}
