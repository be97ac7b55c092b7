//! Differential test against pciutils' `lspci`: on every fixture shape,
//! `lspci -A linux-sysfs -O sysfs.path=ROOT/sys/bus/pci -nn -k -vmm` and `xenpci list --json`
//! must agree on ids, names, class, prog-if, subsystem ids, driver and revision for every function.
//!
//! Names come from the same pci.ids when possible: the copy the `pci-ids` crate embeds (found in
//! the cargo registry) is given to lspci with `-i`; otherwise lspci uses the system's database.
//! Needs `lspci` (Debian: pciutils); the test fails when it is missing.

mod util;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use util::Host;

fn crate_pci_ids() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let src = home.join("registry/src");
    let mut found = Vec::new();
    for reg in std::fs::read_dir(src).ok()?.flatten() {
        for pkg in std::fs::read_dir(reg.path()).ok()?.flatten() {
            let name = pkg.file_name().to_string_lossy().into_owned();
            if name.starts_with("pci-ids-0.2.") {
                let p = pkg.path().join("pciids/pci.ids");
                if p.is_file() {
                    found.push((name, p));
                }
            }
        }
    }
    // The version Cargo.lock pins.
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).ok()?;
    let i = lock.find("name = \"pci-ids\"")?;
    let v = lock[i..]
        .lines()
        .nth(1)?
        .trim()
        .strip_prefix("version = ")?
        .trim_matches('"');
    found
        .into_iter()
        .find(|(n, _)| *n == format!("pci-ids-{v}"))
        .map(|(_, p)| p)
}

/// lspci -vmm records: slot → field → value.
fn lspci(
    root: &std::path::Path,
    ids: Option<&PathBuf>,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut cmd = Command::new("lspci");
    cmd.args(["-A", "linux-sysfs", "-O"])
        .arg(format!("sysfs.path={}/sys/bus/pci", root.display()))
        .args(["-nn", "-k", "-vmm"]);
    if let Some(p) = ids {
        cmd.arg("-i").arg(p);
    }
    let out = cmd
        .output()
        .expect("lspci (Debian package pciutils) must be installed");
    assert!(
        out.status.success(),
        "lspci failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut all = BTreeMap::new();
    for rec in text.split("\n\n").filter(|r| !r.trim().is_empty()) {
        let fields: BTreeMap<String, String> = rec
            .lines()
            .filter_map(|l| l.split_once(":\t"))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let slot = fields["Slot"].clone();
        let slot = if slot.len() == 7 {
            format!("0000:{slot}")
        } else {
            slot
        };
        all.insert(slot, fields);
    }
    all
}

/// Splits `Name [1234]` into ("Name", "1234").
fn name_id(v: &str) -> (String, String) {
    match v.rsplit_once(" [") {
        Some((n, id)) => (n.to_string(), id.trim_end_matches(']').to_string()),
        None => (v.to_string(), String::new()),
    }
}

#[test]
fn xenpci_and_lspci_agree_on_every_fixture_shape() {
    let ids = crate_pci_ids();
    let mut functions = 0;
    let mut agree = 0;
    let mut fields = 0;
    let mut fields_agree = 0;
    let mut problems = Vec::new();
    for shape in ["x9drw", "gpu-pair", "sriov-nic", "legacy-bridge", "big-300"] {
        let h = Host::shape(shape);
        let theirs = lspci(h.root(), ids.as_ref());
        let ours = h.run(&["list", "--json"]).json();
        let ours = ours.as_array().unwrap();
        assert_eq!(ours.len(), theirs.len(), "{shape}: function count");
        for r in ours {
            let bdf = r["bdf"].as_str().unwrap();
            let t = theirs
                .get(bdf)
                .unwrap_or_else(|| panic!("{shape}: lspci lacks {bdf}"));
            let (vn, vid) = name_id(&t["Vendor"]);
            let (dn, did) = name_id(&t["Device"]);
            let (cn, cid) = name_id(&t["Class"]);
            let class = r["class"].as_str().unwrap();
            let mut pairs: Vec<(&str, String, String)> = vec![
                ("vendor_id", vid, r["vendor_id"].as_str().unwrap().into()),
                ("device_id", did, r["device_id"].as_str().unwrap().into()),
                ("class", cid, class[..4].into()),
                (
                    "prog_if",
                    t.get("ProgIf").cloned().unwrap_or("00".into()),
                    class[4..].into(),
                ),
                ("vendor_name", vn, r["vendor_name"].as_str().unwrap().into()),
                ("device_name", dn, r["device_name"].as_str().unwrap().into()),
                ("class_name", cn, r["class_name"].as_str().unwrap().into()),
                (
                    "revision",
                    t.get("Rev").cloned().unwrap_or("00".into()),
                    r["revision"].as_str().unwrap().into(),
                ),
                (
                    "driver",
                    t.get("Driver").cloned().unwrap_or_default(),
                    r["driver"].as_str().unwrap_or("").into(),
                ),
            ];
            if let Some(sv) = t.get("SVendor") {
                pairs.push((
                    "subsystem_vendor_id",
                    name_id(sv).1,
                    r["subsystem_vendor_id"].as_str().unwrap().into(),
                ));
                pairs.push((
                    "subsystem_device_id",
                    name_id(&t["SDevice"]).1,
                    r["subsystem_device_id"].as_str().unwrap().into(),
                ));
            }
            if let Some(g) = t.get("IOMMUGroup") {
                pairs.push(("iommu_group", g.clone(), r["iommu_group"].to_string()));
            }
            functions += 1;
            let mut all = true;
            for (what, l, x) in pairs {
                fields += 1;
                if l == x {
                    fields_agree += 1;
                } else {
                    all = false;
                    problems.push(format!("{shape} {bdf} {what}: lspci {l:?}, xenpci {x:?}"));
                }
            }
            agree += all as usize;
        }
    }
    println!(
        "lspci agreement: {agree}/{functions} functions, {fields_agree}/{fields} fields (names from {})",
        ids.as_ref().map_or("the system pci.ids".into(), |p| p.display().to_string())
    );
    assert!(
        problems.is_empty(),
        "disagreements:\n{}",
        problems.join("\n")
    );
}
