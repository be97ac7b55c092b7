//! What the flows ask `xl` on a host, and the parsers of its answers: `pci-list`
//! (`Vdev Device` + `%02x.%01x %04x:%02x:%02x.%01x`, nothing when empty), `pci-assignable-list`
//! (`BDF ` or `BDF NAME` per line) and `list -l` (libxl's JSON: `domid`, `c_info.type`,
//! `b_info.max_memkb/target_memkb/passthrough`). Reference: xen-xl.md §3.2.

use serde::{Deserialize, Serialize};

use crate::pci::Bdf;

use super::transport::Site;
use super::FlowError;

/// One line of `xl pci-list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciListEntry {
    /// Guest slot (`Vdev` slot part).
    pub vslot: u8,
    /// Guest function.
    pub vfunc: u8,
    /// Host BDF.
    pub bdf: Bdf,
}

/// Parses `xl pci-list` output. Empty output = no devices.
pub fn parse_pci_list(out: &str) -> Result<Vec<PciListEntry>, FlowError> {
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let Some(head) = lines.next() else {
        return Ok(Vec::new());
    };
    let bad = |line: &str, expected: &str| FlowError::BadInput {
        what: "xl pci-list output".into(),
        input: line.to_string(),
        expected: expected.into(),
    };
    if head.split_whitespace().collect::<Vec<_>>() != ["Vdev", "Device"] {
        return Err(bad(head, "the header `Vdev Device`"));
    }
    lines
        .map(|l| {
            let (v, d) = l
                .trim()
                .split_once(' ')
                .ok_or_else(|| bad(l, "`SS.F DDDD:BB:SS.F`"))?;
            let (s, f) = v
                .split_once('.')
                .ok_or_else(|| bad(l, "a guest slot `SS.F`"))?;
            let vslot = u8::from_str_radix(s, 16).map_err(|_| bad(l, "a hex guest slot"))?;
            let vfunc = u8::from_str_radix(f, 16).map_err(|_| bad(l, "a hex guest function"))?;
            let bdf = d
                .trim()
                .parse::<Bdf>()
                .map_err(|_| bad(l, "a host BDF DDDD:BB:SS.F"))?;
            Ok(PciListEntry { vslot, vfunc, bdf })
        })
        .collect()
}

/// Parses `xl pci-assignable-list [-n]`: the BDFs (with their names).
pub fn parse_assignable(out: &str) -> Vec<(Bdf, Option<String>)> {
    out.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let bdf = w.next()?.parse::<Bdf>().ok()?;
            Some((bdf, w.next().map(str::to_string)))
        })
        .collect()
}

/// What the flows need to know about a domain (`xl list -l`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainInfo {
    /// Current domid.
    pub domid: u32,
    /// Name.
    pub name: String,
    /// `pv`, `hvm` or `pvh`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Resolved passthrough mode (`disabled`, `sync_pt`, `share_pt`), if xl reports it.
    pub passthrough: Option<String>,
    /// `target_memkb < max_memkb` on HVM: populate-on-demand.
    pub pod: bool,
    /// The attached devices with their options, as libxl keeps them (`pcidevs`), as
    /// re-attachable PCI_SPEC_STRINGs (`BDF[@vslot][,option=…]`).
    pub pcidevs: Vec<(Bdf, String)>,
}

/// A libxl `pcidevs` JSON entry as a PCI_SPEC_STRING.
fn pcidev_spec(d: &serde_json::Value) -> Option<(Bdf, String)> {
    let n = |k: &str| d[k].as_u64();
    let bdf = Bdf::new(
        n("domain")? as u16,
        n("bus")? as u8,
        n("dev")? as u8,
        n("func")? as u8,
    )?;
    let mut s = bdf.to_string();
    let vdevfn = n("vdevfn").unwrap_or(0);
    if vdevfn >> 3 != 0 {
        s.push_str(&format!("@{:x}", vdevfn >> 3));
    }
    for k in ["msitranslate", "power_mgmt", "permissive"] {
        if d[k].as_bool() == Some(true) {
            s.push_str(&format!(",{k}=1"));
        }
    }
    if let Some(p) = d["rdm_policy"].as_str().filter(|p| *p == "relaxed") {
        s.push_str(&format!(",rdm_policy={p}"));
    }
    Some((bdf, s))
}

/// Parses `xl list -l DOM` (libxl's JSON array of `{domid, config}`).
pub fn parse_list_long(out: &str) -> Result<DomainInfo, FlowError> {
    let bad = |expected: &str| FlowError::BadInput {
        what: "xl list -l output".into(),
        input: out.chars().take(200).collect(),
        expected: expected.into(),
    };
    let v: serde_json::Value = serde_json::from_str(out).map_err(|_| bad("a JSON array"))?;
    let d = v.get(0).ok_or_else(|| bad("one domain"))?;
    let domid = d["domid"].as_u64().ok_or_else(|| bad("a numeric domid"))? as u32;
    let c = &d["config"];
    let kind = c["c_info"]["type"]
        .as_str()
        .ok_or_else(|| bad("config.c_info.type"))?
        .to_string();
    let name = c["c_info"]["name"].as_str().unwrap_or_default().to_string();
    let b = &c["b_info"];
    let pod = kind == "hvm"
        && matches!((b["target_memkb"].as_u64(), b["max_memkb"].as_u64()), (Some(t), Some(m)) if t < m);
    Ok(DomainInfo {
        domid,
        name,
        kind,
        passthrough: b["passthrough"].as_str().map(str::to_string),
        pod,
        pcidevs: c["pcidevs"]
            .as_array()
            .map(|a| a.iter().filter_map(pcidev_spec).collect())
            .unwrap_or_default(),
    })
}

/// The devices each domain holds, from `xl list -l` without a domain (libxl's JSON array of every
/// domain it knows): (domid, name, devices). Entries libxl has no config for (dom0) are skipped.
pub fn attached_by_domain(out: &str) -> Result<Vec<(u32, String, Vec<Bdf>)>, FlowError> {
    let v: serde_json::Value = serde_json::from_str(out).map_err(|_| FlowError::BadInput {
        what: "xl list -l output".into(),
        input: out.chars().take(200).collect(),
        expected: "a JSON array".into(),
    })?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| {
                    let domid = d["domid"].as_u64()? as u32;
                    let c = &d["config"];
                    let name = c["c_info"]["name"].as_str()?.to_string();
                    let devs = c["pcidevs"]
                        .as_array()
                        .map(|a| a.iter().filter_map(pcidev_spec).map(|(b, _)| b).collect())
                        .unwrap_or_default();
                    Some((domid, name, devs))
                })
                .collect()
        })
        .unwrap_or_default())
}

/// The `xl` calls of the flows on one host.
pub struct Xl<'a, 's> {
    /// Where and how.
    pub site: &'a Site<'s>,
    /// The host.
    pub host: &'a str,
}

impl Xl<'_, '_> {
    fn ok(&self, args: &[&str]) -> Result<String, FlowError> {
        let o = self.site.run_xl(self.host, args)?;
        if o.success() {
            Ok(o.stdout)
        } else {
            Err(FlowError::Xl {
                host: self.host.to_string(),
                command: self.site.xl(self.host, args).to_string(),
                status: o
                    .status
                    .map_or("killed by a signal".into(), |s| format!("exit {s}")),
                stderr: o.stderr.trim().to_string(),
            })
        }
    }

    /// `xl shutdown -w DOM`, given at most XENPCI_SHUTDOWN_SECS (default 120) to finish: a guest
    /// that ignores the request or hangs on the way down must not stall the flow forever.
    pub fn shutdown_wait(&self, dom: &str) -> Result<(), FlowError> {
        let secs = crate::config::get().shutdown.as_secs();
        let cmd = self
            .site
            .xl(self.host, &["shutdown", "-w", dom])
            .timeout(std::time::Duration::from_secs(secs));
        let o = self.site.runner.output(&cmd).map_err(|e| FlowError::Exec {
            host: self.host.to_string(),
            source: Box::new(e),
        })?;
        if o.success() {
            Ok(())
        } else {
            Err(FlowError::Xl {
                host: self.host.to_string(),
                command: cmd.to_string(),
                status: o
                    .status
                    .map_or("killed by a signal".into(), |s| format!("exit {s}")),
                stderr: o.stderr.trim().to_string(),
            })
        }
    }

    /// The domain, or `None` when this host has no such domain.
    pub fn domain(&self, dom: &str) -> Result<Option<DomainInfo>, FlowError> {
        let o = self.site.run_xl(self.host, &["list", "-l", dom])?;
        if !o.success() {
            return Ok(None);
        }
        parse_list_long(&o.stdout).map(Some)
    }

    /// `xl info`'s `virt_caps` words, or `None` when xl cannot tell (no such line, xl failed).
    pub fn virt_caps(&self) -> Result<Option<Vec<String>>, FlowError> {
        let o = self.site.run_xl(self.host, &["info"])?;
        if !o.success() {
            return Ok(None);
        }
        Ok(crate::host::preflight::virt_caps(&o.stdout))
    }

    /// `xl pci-list DOM`.
    pub fn pci_list(&self, dom: &str) -> Result<Vec<PciListEntry>, FlowError> {
        parse_pci_list(&self.ok(&["pci-list", dom])?)
    }

    /// `xl pci-assignable-list -n`.
    pub fn assignable(&self) -> Result<Vec<(Bdf, Option<String>)>, FlowError> {
        Ok(parse_assignable(&self.ok(&["pci-assignable-list", "-n"])?))
    }

    /// Runs a mutating command; an error carries xl's stderr.
    pub fn run(&self, args: &[&str]) -> Result<(), FlowError> {
        self.ok(args).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_list_recorded_output() {
        let l = parse_pci_list("Vdev Device\n00.0 0000:00:02.0\n04.0 0000:01:00.0\n").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(
            (l[1].vslot, l[1].bdf.to_string()),
            (4, "0000:01:00.0".to_string())
        );
        assert!(parse_pci_list("").unwrap().is_empty());
        assert!(parse_pci_list("Vdev Device\n0x.0 0000:00:02.0\n").is_err());
        assert!(parse_pci_list("Name ID\n").is_err());
    }

    #[test]
    fn assignable_with_and_without_names() {
        let l = parse_assignable("0000:00:03.0 \n0000:01:00.0 gpu\n");
        assert_eq!(l[0].1, None);
        assert_eq!(l[1].1.as_deref(), Some("gpu"));
    }

    #[test]
    fn list_long_pod_and_type() {
        let j = r#"[{"domid":4,"config":{"c_info":{"type":"hvm","name":"w"},"b_info":{"max_memkb":1048576,"target_memkb":524288,"passthrough":"disabled"}}}]"#;
        let d = parse_list_long(j).unwrap();
        assert!(d.pod);
        assert_eq!((d.domid, d.kind.as_str()), (4, "hvm"));
        assert!(parse_list_long("[]").is_err());
    }
}
