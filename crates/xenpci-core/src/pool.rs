//! The pool-wide view: from any host of an XAPI pool, ask every host's `xenpci` plugin (through
//! `xe host-list` and `xe host-call-plugin`, concurrently, each with a timeout) and merge the
//! answers with the VMs' `other-config:pci` into one table — which host has which device, hidden
//! or not, given to which VM. XAPI is the transport; xenpci runs no agent of its own.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::exec::Runner;
use crate::host::DriverState;
use crate::pci::Bdf;
use crate::syntax::xapi_pci;
use crate::xapi::output;
use crate::xapi::Xe;

/// The plugin's name in /etc/xapi.d/plugins.
pub const PLUGIN: &str = "xenpci";

/// Why the pool could not be asked at all (per-host failures are reported per host instead).
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// `xe host-list` failed.
    #[error("cannot list the pool's hosts with `{command}`: {detail}")]
    HostList {
        /// The command.
        command: String,
        /// What went wrong.
        detail: String,
    },
}

/// A host of the pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    /// Host uuid.
    pub uuid: String,
    /// Host name-label.
    pub name_label: String,
}

/// One host's answer to a plugin call.
#[derive(Debug, Clone, Serialize)]
pub struct HostAnswer {
    /// The host.
    pub host: Host,
    /// The decoded JSON value, when the call worked.
    pub value: Option<Value>,
    /// Why it did not.
    pub error: Option<String>,
}

/// Every host of the pool (`xe host-list params=uuid,name-label`).
pub fn hosts(xe: &Xe) -> Result<Vec<Host>, PoolError> {
    let cmd = xe.command(["host-list", "params=uuid,name-label"]);
    let err = |detail: String| PoolError::HostList {
        command: cmd.to_string(),
        detail,
    };
    let out = xe.runner.run(&cmd).map_err(|e| err(e.to_string()))?;
    let records = output::records(&out.stdout).map_err(|e| err(e.to_string()))?;
    Ok(records
        .iter()
        .filter_map(|r| {
            Some(Host {
                uuid: r.get("uuid")?.to_string(),
                name_label: r.get("name-label").unwrap_or("").to_string(),
            })
        })
        .collect())
}

/// Calls `fn` of the xenpci plugin on every host concurrently, each call limited to `timeout`.
/// Answers come back in host order.
pub fn call_all(
    runner: &dyn Runner,
    hosts: &[Host],
    function: &str,
    args: &[(&str, &str)],
    timeout: Duration,
) -> Vec<HostAnswer> {
    let xe = Xe::new(runner);
    std::thread::scope(|s| {
        let handles: Vec<_> = hosts
            .iter()
            .map(|h| {
                let xe = &xe;
                s.spawn(move || {
                    let mut argv = vec![
                        "host-call-plugin".to_string(),
                        format!("host-uuid={}", h.uuid),
                        format!("plugin={PLUGIN}"),
                        format!("fn={function}"),
                    ];
                    argv.extend(args.iter().map(|(k, v)| format!("args:{k}={v}")));
                    let cmd = xe.command(argv).timeout(timeout);
                    let (value, error) = match xe.runner.run(&cmd) {
                        Ok(out) => match serde_json::from_str::<Value>(out.stdout.trim_end()) {
                            Ok(v) => (Some(v), None),
                            Err(e) => (
                                None,
                                Some(format!(
                                    "the plugin's answer is not JSON ({e}): {}",
                                    out.stdout.trim()
                                )),
                            ),
                        },
                        Err(e) => (None, Some(e.to_string())),
                    };
                    HostAnswer {
                        host: h.clone(),
                        value,
                        error,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(hosts)
            .map(|(h, host)| {
                h.join().unwrap_or_else(|_| HostAnswer {
                    host: host.clone(),
                    value: None,
                    error: Some("the call's thread panicked".into()),
                })
            })
            .collect()
    })
}

/// A VM naming a device in `other-config:pci`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// VM uuid (`uuid`, as in `assigned --json`).
    pub uuid: String,
    /// VM name-label.
    pub name_label: String,
    /// The host it runs on (uuid), when running.
    pub resident_on: Option<String>,
}

/// One device of one host in the pool table.
#[derive(Debug, Clone, Serialize)]
pub struct PoolDevice {
    /// Host name-label.
    pub host: String,
    /// Host uuid.
    pub host_uuid: String,
    /// The function.
    pub bdf: String,
    /// Vendor id (`list --json`'s field).
    pub vendor_id: String,
    /// Device id.
    pub device_id: String,
    /// Vendor name.
    pub vendor_name: String,
    /// Device name.
    pub device_name: String,
    /// Driver bound now (null: none).
    pub driver: Option<String>,
    /// Bound to pciback (hidden from dom0).
    pub hidden: bool,
    /// The inventory's verdict.
    pub assignable: bool,
    /// Why dom0 needs it.
    pub critical: Vec<String>,
    /// VMs whose other-config:pci names it and that run on this host or are halted.
    pub assigned_to: Vec<Holder>,
}

/// The merged pool view.
#[derive(Debug, Clone, Serialize)]
pub struct PoolView {
    /// Every device of every host that answered.
    pub devices: Vec<PoolDevice>,
    /// Hosts that did not answer, with the reason.
    pub unreachable: Vec<HostAnswer>,
    /// Warnings (e.g. VM values xapi misreads).
    pub warnings: Vec<String>,
}

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

/// Asks every host for its inventory and merges it with the VMs' assignments.
pub fn list(runner: &dyn Runner, timeout: Duration) -> Result<PoolView, PoolError> {
    let xe = Xe::new(runner);
    let hosts = hosts(&xe)?;
    let answers = call_all(runner, &hosts, "list", &[], timeout);
    let mut warnings = Vec::new();
    // Which VMs name which devices (whole pool: other-config:pci holds BDFs without a host).
    let mut holders: Vec<(Bdf, Holder)> = Vec::new();
    match xe.vm_records(
        &[],
        "uuid,name-label,other-config,resident-on,is-control-domain",
    ) {
        Ok(records) => {
            for r in records {
                let Ok(map) = output::map(r.get("other-config").unwrap_or("")) else {
                    continue;
                };
                let Some((_, value)) = map.iter().find(|(k, _)| k == "pci") else {
                    continue;
                };
                let reading = xapi_pci::parse(value);
                for w in &reading.warnings {
                    warnings.push(format!("VM {}: {w}", r.get("name-label").unwrap_or("?")));
                }
                let resident = r
                    .get("resident-on")
                    .filter(|s| !s.is_empty() && !s.starts_with("<not in database"))
                    .map(str::to_string);
                for d in &reading.devices {
                    let Some(bdf) = d.addr.bdf() else { continue };
                    holders.push((
                        bdf,
                        Holder {
                            uuid: r.get("uuid").unwrap_or("").to_string(),
                            name_label: r.get("name-label").unwrap_or("").to_string(),
                            resident_on: resident.clone(),
                        },
                    ));
                }
            }
        }
        Err(e) => warnings.push(format!("cannot read the VMs' other-config: {e}")),
    }
    let mut devices = Vec::new();
    let mut unreachable = Vec::new();
    for a in answers {
        let Some(Value::Array(items)) = &a.value else {
            let mut a = a;
            if a.error.is_none() {
                a.error = Some("the plugin's answer is not a JSON array".into());
            }
            unreachable.push(a);
            continue;
        };
        for d in items {
            let bdf_text = text(d, "bdf");
            let bdf: Option<Bdf> = bdf_text.parse().ok();
            let driver = d.get("driver").and_then(Value::as_str).map(str::to_string);
            devices.push(PoolDevice {
                host: a.host.name_label.clone(),
                host_uuid: a.host.uuid.clone(),
                bdf: bdf_text,
                vendor_id: text(d, "vendor_id"),
                device_id: text(d, "device_id"),
                vendor_name: text(d, "vendor_name"),
                device_name: text(d, "device_name"),
                hidden: DriverState::of(driver.as_deref()).is_pciback(),
                driver,
                assignable: d
                    .get("assignable")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                critical: d
                    .get("critical")
                    .and_then(Value::as_array)
                    .map(|c| {
                        c.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
                assigned_to: holders
                    .iter()
                    .filter(|(b, h)| {
                        Some(*b) == bdf && h.resident_on.as_deref().is_none_or(|r| r == a.host.uuid)
                    })
                    .map(|(_, h)| h.clone())
                    .collect(),
            });
        }
    }
    Ok(PoolView {
        devices,
        unreachable,
        warnings,
    })
}

/// vendor, device, `svid:ssid`
type Identity = (String, String, String);

/// A generated device mapping (docs/mapping.md) and what the generator could not pair.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedMap {
    /// The mapping document, ready for `--map`.
    pub mapping: Value,
    /// Devices found on some hosts only, or in different numbers per host.
    pub notes: Vec<String>,
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    // The whole name: a cut one can make two cards' names equal, and one entry would replace
    // the other.
    out.trim_end_matches('-').to_string()
}

/// Builds the cross-host device mapping the migration flows use (`xenpci pool map`): every
/// assignable, non-critical function, grouped by identity (vendor, device, subsystem); on each
/// host the functions of one identity are paired in BDF order. Names come from the device name
/// (`sas2308-pci-express-fusion-mpt-sas-2`, with `-2`, `-3` … for several of a kind).
pub fn map(runner: &dyn Runner, timeout: Duration) -> Result<GeneratedMap, PoolError> {
    let xe = Xe::new(runner);
    let hosts = hosts(&xe)?;
    let answers = call_all(runner, &hosts, "list", &[], timeout);
    // identity -> host -> BDFs (sorted)
    let mut by_id: BTreeMap<Identity, (String, BTreeMap<String, Vec<String>>)> = BTreeMap::new();
    let mut notes = Vec::new();
    for a in &answers {
        let Some(Value::Array(items)) = &a.value else {
            notes.push(format!(
                "host {} did not answer: {}",
                a.host.name_label,
                a.error.as_deref().unwrap_or("no JSON array")
            ));
            continue;
        };
        for d in items {
            let assignable = d
                .get("assignable")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let critical = d
                .get("critical")
                .and_then(Value::as_array)
                .is_some_and(|c| !c.is_empty());
            if !assignable || critical {
                continue;
            }
            let key = (
                text(d, "vendor_id"),
                text(d, "device_id"),
                format!(
                    "{}:{}",
                    text(d, "subsystem_vendor_id"),
                    text(d, "subsystem_device_id")
                ),
            );
            let entry = by_id
                .entry(key)
                .or_insert_with(|| (text(d, "device_name"), Default::default()));
            entry
                .1
                .entry(a.host.name_label.clone())
                .or_default()
                .push(text(d, "bdf"));
        }
    }
    let mut devices = serde_json::Map::new();
    for ((vendor, device, subsystem), (name, per_host)) in by_id {
        let base = match slug(&name) {
            s if s.is_empty() => format!("{vendor}-{device}"),
            s => s,
        };
        let most = per_host.values().map(Vec::len).max().unwrap_or(0);
        if per_host.len() < hosts.len() || per_host.values().any(|v| v.len() != most) {
            let counts: Vec<String> = per_host
                .iter()
                .map(|(h, v)| format!("{h}: {}", v.len()))
                .collect();
            notes.push(format!(
                "{base} ({vendor}:{device}) is not on every host in the same number ({}); hosts without it are left out of its entry",
                counts.join(", ")
            ));
        }
        for i in 0..most {
            let mut hosts_obj = serde_json::Map::new();
            for (h, bdfs) in &per_host {
                if let Some(b) = bdfs.get(i) {
                    hosts_obj.insert(h.clone(), Value::String(b.clone()));
                }
            }
            let mut logical = if most > 1 {
                format!("{base}-{}", i + 1)
            } else {
                base.clone()
            };
            // Two identities with one device name (another subsystem): the ids tell them apart.
            if devices.contains_key(&logical) {
                logical = format!(
                    "{logical}-{vendor}-{device}-{}",
                    subsystem.replace(':', "-")
                );
            }
            devices.insert(
                logical,
                serde_json::json!({
                    "vendor": vendor, "device": device, "subsystem": subsystem, "hosts": hosts_obj
                }),
            );
        }
    }
    Ok(GeneratedMap {
        mapping: serde_json::json!({ "devices": devices }),
        notes,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_long_device_name_is_kept_whole() {
        let long = "Xeon E5/Core i7 IIO PCI Express Root Port 1a with a very long tail";
        assert_eq!(
            super::slug(long),
            "xeon-e5-core-i7-iio-pci-express-root-port-1a-with-a-very-long-tail"
        );
    }
}
