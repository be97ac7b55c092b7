//! The flow tests' scenario: the kit's [`Host`] for this host (h1; its root at `roots/h1`, its
//! doubles and its launcher) plus a two-host mock-xl state (h1, and h2 = the target, reached
//! through the template transport `env XL_MOCK_HOST={host} {cmd}`), the mock xe
//! ([`MockXe`]), h2's fake sysfs root for identity checks, a state dir, and `xenpci` runs
//! against all of it.

use crate::harness::{host_at, Host};
use crate::mock_xe::MockXe;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One scenario's files.
pub struct Scenario {
    /// This host (h1): the lab's directory, its root, the launcher.
    pub host: Host,
    pub extra_env: Vec<(String, String)>,
    /// The mock `xe` (state `xe.json`), wired into every run as the other harnesses wire it.
    pub xe: MockXe,
}

/// A finished run: the test kit's one result type.
pub use crate::harness::Run;

/// A sysfs PCI function in a fake root.
pub fn sysfs_device(root: &Path, bdf: &str, vendor: &str, device: &str, subsys: (&str, &str)) {
    let d = root.join("sys/bus/pci/devices").join(bdf);
    std::fs::create_dir_all(&d).unwrap();
    for (f, v) in [
        ("vendor", vendor),
        ("device", device),
        ("subsystem_vendor", subsys.0),
        ("subsystem_device", subsys.1),
    ] {
        std::fs::write(d.join(f), format!("{v}\n")).unwrap();
    }
}

impl Scenario {
    /// The default lab: on h1 an HBA 0000:03:00.0 (LSI 1000:0097) and a NIC 0000:04:00.0
    /// (Intel 8086:1533), both on pciback; on h2 the same models at 0000:81:00.0 and 0000:82:00.0.
    /// Domains on h1: `pvvm` (PV, passthrough enabled), `hvmvm` (HVM), `plain` (PV, no passthrough),
    /// `pod` (HVM, PoD).
    pub fn lab() -> Scenario {
        let s = Scenario::with_state(serde_json::json!({"hosts": {
            "h1": {"devices": [
                {"bdf": "0000:03:00.0", "driver": "pciback", "driver-path": "/sys/bus/pci/drivers/mpt3sas"},
                {"bdf": "0000:04:00.0", "driver": "pciback"},
                {"bdf": "0000:05:00.0", "driver": "igb"}],
              "domains": [
                {"domid": 1, "name": "pvvm", "type": "pv", "passthrough": "sync_pt"},
                {"domid": 2, "name": "hvmvm", "type": "hvm", "passthrough": "share_pt"},
                {"domid": 3, "name": "plain", "type": "pv"},
                {"domid": 4, "name": "pod", "type": "hvm", "memory": 512, "maxmem": 1024}],
              "next-domid": 5},
            "h2": {"devices": [
                {"bdf": "0000:81:00.0", "driver": "pciback"},
                {"bdf": "0000:82:00.0", "driver": "pciback"}],
              "next-domid": 10}}}));
        for (h, hba, nic) in [
            ("h1", "0000:03:00.0", "0000:04:00.0"),
            ("h2", "0000:81:00.0", "0000:82:00.0"),
        ] {
            let root = s.root(h);
            sysfs_device(&root, hba, "0x1000", "0x0097", ("0x1000", "0x3090"));
            sysfs_device(&root, nic, "0x8086", "0x1533", ("0x15d9", "0x1533"));
        }
        s.write(
            "map.json",
            &serde_json::json!({"devices": {
            "ceph-hba": {"vendor": "1000", "device": "0097", "subsystem": "1000:3090",
                         "hosts": {"h1": "0000:03:00.0", "h2": "0000:81:00.0"}},
            "nic": {"vendor": "8086", "device": "1533",
                    "hosts": {"h1": "0000:04:00.0", "h2": "0000:82:00.0"}}}})
            .to_string(),
        );
        s
    }

    /// The lab plus `pvvm.cfg` (PV, the HBA with permissive=1, a comment) and the HBA attached to
    /// pvvm; the NIC and HBA of hvmvm... (see callers).
    pub fn pv_cfg(&self) -> PathBuf {
        self.write(
            "pvvm.cfg",
            "# the ceph OSD guest\nname = \"pvvm\"\ntype = \"pv\"\nmemory = 1024\npci = [ \"0000:03:00.0,permissive=1\" ]  # HBA\n",
        )
    }

    /// A mock-xe state: hosts h1/h2 with the HBA models (pciback), VM `xvm` running on h1 with
    /// other-config:pci = 0/0000:03:00.0.
    pub fn xapi(&self) {
        let st = serde_json::json!({
            "hosts": [
                {"uuid": "11111111-1111-1111-1111-111111111111", "name-label": "h1",
                 "devices": [{"bdf": "0000:03:00.0", "uuid": "aaaaaaaa-0000-0000-0000-000000000001", "class": "0104", "driver": "pciback"}]},
                {"uuid": "22222222-2222-2222-2222-222222222222", "name-label": "h2",
                 "devices": [{"bdf": "0000:81:00.0", "uuid": "aaaaaaaa-0000-0000-0000-000000000002", "class": "0104", "driver": "pciback"}]}],
            "vms": [{"uuid": "33333333-3333-3333-3333-333333333333", "name-label": "xvm", "power-state": "halted",
                     "hvm": true, "other-config": {"pci": "0/0000:03:00.0"}, "domid": -1, "attached-pcis": []}]});
        self.xe.set_state(&st);
        let mut c = self.xe.command(&["vm-start", "vm=xvm", "on=h1"]);
        self.base(&mut c);
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    /// `xe vm-param-get` of xvm.
    pub fn xe_get(&self, param: &str) -> String {
        let mut c = self.xe.command(&[
            "vm-param-get",
            "uuid=33333333-3333-3333-3333-333333333333",
            &format!("param-name={param}"),
        ]);
        self.base(&mut c);
        let o = c.output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// The mock xe with this scenario's state.
    pub fn xe(&self, args: &[&str]) -> Run {
        let mut c = self.xe.command(args);
        self.base(&mut c);
        Run::from(c.output().unwrap())
    }

    pub fn with_state(state: serde_json::Value) -> Scenario {
        let host = host_at("roots/h1");
        std::fs::write(
            host.dir.path().join("xl.json"),
            serde_json::to_string_pretty(&state).unwrap(),
        )
        .unwrap();
        let xe = MockXe::at(host.dir.path(), "xe.json", None);
        Scenario {
            host,
            extra_env: Vec::new(),
            xe,
        }
    }

    /// The lab's directory (state files, logs, both roots).
    pub fn dir(&self) -> &Path {
        self.host.dir.path()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    pub fn root(&self, host: &str) -> PathBuf {
        self.path("roots").join(host)
    }

    pub fn write(&self, name: &str, body: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    pub fn env(mut self, k: &str, v: &str) -> Scenario {
        self.extra_env.push((k.into(), v.into()));
        self
    }

    fn base(&self, cmd: &mut Command) {
        self.xe.wire(cmd);
        cmd.env("XENPCI_XL", crate::bins::xl())
            .env("XL_MOCK_STATE", self.path("xl.json"))
            .env("XL_MOCK_LOG", self.path("xl.log"))
            .env("XENPCI_LOCAL_HOST", "h1")
            .env("XENPCI_TRANSPORT", "env XL_MOCK_HOST={host} {cmd}")
            .env("XENPCI_STATE_DIR", self.path("state"))
            .env("XENPCI_ROOT", self.root("h1"))
            .env("XENPCI_REMOTE_ROOT", self.path("roots").join("{host}"))
            .env("XENPCI_NO_XENSTORE", "1")
            .env("XENPCI_TOOLSTACK", "xl")
            .env("XENPCI_MAP", self.path("map.json"))
            .env_remove("XL_MOCK_HOST")
            .env_remove("XL_MOCK_FAIL")
            .env_remove("XL_MOCK_XENSTORE")
            .env_remove("XENPCI_CRASH_AFTER_STEP")
            .env_remove("XENPCI_CRASH_BEFORE_STEP");
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
    }

    /// `xenpci ARGS…` with extra env.
    pub fn xenpci_env(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        let mut c = self.host.std_xenpci(&[]);
        self.base(&mut c);
        c.args(args);
        for (k, v) in env {
            if *v == "<unset>" {
                c.env_remove(k);
            } else {
                c.env(k, v);
            }
        }
        let o = c.output().unwrap();
        Run::from(o)
    }

    /// `xenpci ARGS…` with extra env, started in the background with piped output.
    pub fn spawn_xenpci(&self, env: &[(&str, &str)], args: &[&str]) -> std::process::Child {
        let mut c = self.host.std_xenpci(&[]);
        self.base(&mut c);
        c.args(args)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    }

    pub fn xenpci(&self, args: &[&str]) -> Run {
        self.xenpci_env(&[], args)
    }

    /// The mock xl on `host`.
    pub fn xl(&self, host: &str, args: &[&str]) -> Run {
        let mut c = Command::new(crate::bins::xl());
        self.base(&mut c);
        c.env("XL_MOCK_HOST", host)
            .env_remove("XL_MOCK_LOG")
            .args(args);
        let o = c.output().unwrap();
        Run::from(o)
    }

    /// `xl pci-list DOM` on `host` as BDFs, `None` when the domain is not there.
    pub fn devices_of(&self, host: &str, dom: &str) -> Option<Vec<String>> {
        let r = self.xl(host, &["pci-list", dom]);
        (r.code == 0).then(|| {
            r.stdout
                .lines()
                .skip(1)
                .map(|l| l.split(' ').nth(1).unwrap().to_string())
                .collect()
        })
    }

    /// The xl call log.
    pub fn xl_log(&self) -> String {
        std::fs::read_to_string(self.path("xl.log")).unwrap_or_default()
    }

    /// The mock-xl state.
    pub fn xl_state(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.path("xl.json")).unwrap()).unwrap()
    }

    /// Every (host, domain, bdf) attachment in the mock-xl state.
    pub fn attachments(&self) -> Vec<(String, String, String)> {
        let st = self.xl_state();
        let mut out = Vec::new();
        for (h, host) in st["hosts"].as_object().unwrap() {
            for d in host["domains"].as_array().unwrap_or(&vec![]) {
                for a in d["pci"].as_array().unwrap_or(&vec![]) {
                    out.push((
                        h.clone(),
                        d["name"].as_str().unwrap().to_string(),
                        a["bdf"].as_str().unwrap().to_string(),
                    ));
                }
            }
        }
        out
    }
}
