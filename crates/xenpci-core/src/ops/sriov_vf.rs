//! `sriov vf PF N --mac M --vlan V [--persistent]`: a NIC VF's MAC address and VLAN, set through
//! the PF's net device (`ip link set DEV vf N mac M vlan V`, argv, never a shell) and, with
//! `persistent`, kept for every boot in a udev rule beside the VF count's: on the PF's net device
//! appearing (a child of the PF, so udev runs it after the PF's own rule made the VFs) it runs the
//! same `ip link set`. `sriov restore` applies these rules too, after the counts.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;

use super::OpError;
use crate::exec::{Runner, Tool};
use crate::fsutil;
use crate::host::{HostRoot, Inventory};
use crate::pci::Bdf;
use crate::plan::{Plan, Report};

use super::vf_hide::RULES_DIR;

/// A unicast Ethernet MAC address (`52:54:00:12:34:56`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Mac([u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl From<Mac> for String {
    fn from(m: Mac) -> String {
        m.to_string()
    }
}

impl FromStr for Mac {
    type Err = String;
    fn from_str(s: &str) -> Result<Mac, String> {
        let want = "six hex octets separated by ':', unicast (e.g. 52:54:00:12:34:56)";
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 6 {
            return Err(format!("{s:?} is not a MAC address: {want}"));
        }
        let mut b = [0u8; 6];
        for (i, p) in parts.iter().enumerate() {
            if p.len() != 2 {
                return Err(format!("{s:?} is not a MAC address: {want}"));
            }
            b[i] = u8::from_str_radix(p, 16)
                .map_err(|_| format!("{s:?} is not a MAC address: {want}"))?;
        }
        if b[0] & 1 == 1 {
            return Err(format!("{s:?} is a multicast address: {want}"));
        }
        if b == [0; 6] {
            return Err(format!("{s:?} is the zero address: {want}"));
        }
        Ok(Mac(b))
    }
}

/// What to set on one VF.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct VfSettings {
    /// Its MAC address.
    pub mac: Option<Mac>,
    /// Its VLAN (0 to 4095; 0 clears it).
    pub vlan: Option<u16>,
}

/// What `sriov vf` did (or, with `dry_run`, would do).
#[derive(Debug, Serialize)]
pub struct VfOutcome {
    /// The PF.
    pub pf: Bdf,
    /// N of its `virtfnN`.
    pub index: u32,
    /// The VF's BDF now.
    pub vf: Bdf,
    /// The PF's net device the settings go through.
    pub netdev: String,
    /// What was set.
    pub settings: VfSettings,
    /// The plan.
    pub plan: Plan,
    /// Nothing was changed.
    pub dry_run: bool,
    /// What was done.
    pub report: Option<Report>,
}

/// The rule file of VF `index` of `pf`'s settings (host path).
pub fn rule_path(pf: Bdf, index: u32) -> PathBuf {
    PathBuf::from(format!("{RULES_DIR}/72-xenpci-vf-{pf}-virtfn{index}.rules"))
}

/// The `ip` argv after the program: `link set DEV vf N [mac M] [vlan V]`.
fn ip_args(dev: &str, index: u32, s: &VfSettings) -> Vec<String> {
    let mut a: Vec<String> = vec!["link".into(), "set".into(), dev.into(), "vf".into()];
    a.push(index.to_string());
    if let Some(m) = s.mac {
        a.extend(["mac".into(), m.to_string()]);
    }
    if let Some(v) = s.vlan {
        a.extend(["vlan".into(), v.to_string()]);
    }
    a
}

/// The rule text: on the PF's net device appearing, the same settings (`$name` is that device).
pub fn rule_text(pf: Bdf, index: u32, s: &VfSettings) -> String {
    let args = ip_args("$name", index, s).join(" ");
    format!(
        "# Written by xenpci (`xenpci sriov vf {pf} {index} ... --persistent`).\n\
         # Sets virtfn{index}'s MAC/VLAN when {pf}'s net device appears at boot (after its VFs).\n\
         # xenpci: {}\n\
         ACTION==\"add\", SUBSYSTEM==\"net\", KERNELS==\"{pf}\", RUN+=\"/sbin/ip {args}\"\n",
        ip_args("-", index, s)[4..].join(" ")
    )
}

/// The settings recorded in a rule's `# xenpci:` line (`N [mac M] [vlan V]`).
pub fn recorded(text: &str) -> Option<(u32, VfSettings)> {
    let line = text.lines().find_map(|l| l.strip_prefix("# xenpci: "))?;
    let mut w = line.split_whitespace();
    let index = w.next()?.parse().ok()?;
    let mut s = VfSettings::default();
    while let Some(k) = w.next() {
        match (k, w.next()?) {
            ("mac", v) => s.mac = Some(v.parse().ok()?),
            ("vlan", v) => s.vlan = Some(v.parse().ok().filter(|v| *v <= 4095)?),
            _ => return None,
        }
    }
    Some((index, s))
}

fn bad(what: &str, input: impl ToString, expected: impl Into<String>) -> OpError {
    OpError::BadInput {
        what: what.into(),
        input: input.to_string(),
        expected: expected.into(),
    }
}

/// Sets VF `index` of the NIC PF `pf` (see the module header). Bad input: nothing to set, a VLAN
/// above 4095, a PF that is not an SR-IOV NIC with a net device in dom0, an index it has no VF at.
pub fn configure(
    root: &HostRoot,
    runner: &dyn Runner,
    pf: Bdf,
    index: u32,
    s: VfSettings,
    persistent: bool,
    dry_run: bool,
) -> Result<VfOutcome, OpError> {
    root.check()
        .map_err(|e| bad("host root", root.dir().display(), e.to_string()))?;
    if s.mac.is_none() && s.vlan.is_none() {
        return Err(bad("VF settings", "none", "--mac MAC and/or --vlan ID"));
    }
    if let Some(v) = s.vlan.filter(|v| *v > 4095) {
        return Err(bad("VLAN", v, "0 to 4095 (0: no VLAN)"));
    }
    let inv = Inventory::scan(root);
    let f = inv
        .get(pf)
        .ok_or_else(|| bad("PF", pf, "a PCI function of this host"))?;
    let Some(sr) = f.sriov.as_ref() else {
        return Err(bad("PF", pf, "an SR-IOV physical function"));
    };
    if f.class >> 16 != 0x02 {
        return Err(bad(
            "PF",
            pf,
            format!(
                "a network controller (class 02xxxx; it is {:06x}): MAC and VLAN are NIC settings",
                f.class
            ),
        ));
    }
    let vf = *sr.vfs.get(index as usize).ok_or_else(|| {
        bad(
            "VF index",
            index,
            format!(
                "0 to {} ({pf} has {} VFs)",
                sr.numvfs.saturating_sub(1),
                sr.numvfs
            ),
        )
    })?;
    let net = root.path(format!("/sys/bus/pci/devices/{pf}/net"));
    let mut devs: Vec<String> = std::fs::read_dir(&net)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    devs.sort();
    let Some(dev) = devs.into_iter().next() else {
        return Err(bad(
            "PF",
            pf,
            format!(
                "a PF whose driver ({}) gave it a net device in dom0 (no {}/net)",
                f.driver.as_deref().unwrap_or("none"),
                f.sysfs_path.display()
            ),
        ));
    };
    let mut plan = Plan::new(format!("sriov vf {pf} {index}"));
    let mut cmd = Tool::Ip.command();
    for a in ip_args(&dev, index, &s) {
        cmd = cmd.arg(a);
    }
    plan.run(
        cmd,
        format!("{dev} (the PF) sets virtfn{index} ({vf})"),
        None,
    );
    if persistent {
        let path = rule_path(pf, index);
        let old = fsutil::read_text(&root.path(&path))
            .map_err(|e| bad("rule file", path.display(), e.to_string()))?;
        plan.write_file(
            &path,
            old.as_deref(),
            rule_text(pf, index, &s),
            "udev sets them again when the PF's net device appears at every boot",
        );
    }
    let report = plan
        .run_unless_dry(dry_run, runner, root)
        .map_err(OpError::Plan)?;
    Ok(VfOutcome {
        pf,
        index,
        vf,
        netdev: dev,
        settings: s,
        plan,
        dry_run,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mac_round_trips_and_bad_ones_say_why() {
        let m: Mac = "52:54:00:AB:cd:0f".parse().unwrap();
        assert_eq!(m.to_string(), "52:54:00:ab:cd:0f");
        assert!("01:00:5e:00:00:01"
            .parse::<Mac>()
            .unwrap_err()
            .contains("multicast"));
        assert!("00:00:00:00:00:00"
            .parse::<Mac>()
            .unwrap_err()
            .contains("zero"));
        for bad in [
            "52:54:00:12:34",
            "52:54:00:12:34:5g",
            "525400123456",
            "52:54:00:12:34:567",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_rule_records_what_it_sets() {
        let pf: Bdf = "01:00.0".parse().unwrap();
        let s = VfSettings {
            mac: Some("52:54:00:12:34:56".parse().unwrap()),
            vlan: Some(100),
        };
        let t = rule_text(pf, 2, &s);
        assert!(
            t.contains("RUN+=\"/sbin/ip link set $name vf 2 mac 52:54:00:12:34:56 vlan 100\""),
            "{t}"
        );
        let (i, r) = recorded(&t).unwrap();
        assert_eq!((i, r.mac, r.vlan), (2, s.mac, s.vlan));
        assert!(recorded("# xenpci: 2 vlan 5000\n").is_none());
        assert!(recorded("# xenpci: 2 speed 10\n").is_none());
    }
}
