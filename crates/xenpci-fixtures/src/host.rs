//! A whole fixture host ([`Fixture`]: functions, disks, mounts, NICs, bridges, routes, other
//! files) and [`Fixture::write`], which lays it out as the kernel does: `sys/bus/pci/devices`
//! links into the resolved `sys/devices/pci0000:00/...` tree, drivers, IOMMU groups, SR-IOV
//! `virtfn`/`physfn` links, block and net class links, `proc/mounts`, `proc/net/route`.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use crate::addr::Bdf;
use crate::func::{bdf, config_bytes_mf, Func};

#[derive(Debug, Clone)]
struct Disk {
    name: String,
    bdf: Bdf,
    partitions: Vec<String>,
}

#[derive(Debug, Clone)]
struct VirtualBlock {
    name: String,
    dm_name: Option<String>,
    slaves: Vec<String>,
}

/// A whole fake host, written by [`Fixture::write`].
#[derive(Debug, Clone, Default)]
pub struct Fixture {
    funcs: Vec<Func>,
    disks: Vec<Disk>,
    vblocks: Vec<VirtualBlock>,
    mounts: Vec<(String, String, String)>,
    nics: Vec<(String, Bdf)>,
    bridges: Vec<(String, Vec<String>)>,
    default_route: Option<String>,
    files: Vec<(String, Vec<u8>)>,
}

impl Fixture {
    /// An empty host.
    pub fn new() -> Fixture {
        Fixture::default()
    }

    /// Adds a function.
    pub fn with(mut self, f: Func) -> Fixture {
        self.funcs.push(f);
        self
    }

    /// Adds the VFs of the SR-IOV PF at `pf` (which must have been added with `.sriov()`),
    /// at the given addresses, bound to `driver`.
    pub fn vfs(mut self, pf: &str, at: &[&str], driver: Option<&str>) -> Fixture {
        let pfb = bdf(pf);
        let p = self
            .funcs
            .iter()
            .find(|f| f.bdf == pfb)
            .unwrap_or_else(|| panic!("fixture: no PF {pf}"))
            .clone();
        let vf_dev = p.sriov.map_or(p.device, |s| s.2);
        for a in at {
            let mut f = Func::endpoint(a, p.vendor, vf_dev, p.class)
                .rev(p.rev)
                .subsystem(p.subsystem.0, p.subsystem.1)
                .flr();
            f.parent = p.parent;
            f.physfn = Some(pfb);
            f.driver = driver.map(str::to_string);
            f.numa = p.numa;
            self.funcs.push(f);
        }
        self
    }

    /// Binds the function at `at` to `driver` instead (None: no driver), e.g. a shape's HBA
    /// moved to `vfio-pci`.
    pub fn rebind(mut self, at: &str, driver: Option<&str>) -> Fixture {
        let b = bdf(at);
        let f = self
            .funcs
            .iter_mut()
            .find(|f| f.bdf == b)
            .unwrap_or_else(|| panic!("fixture: no function {at}"));
        f.driver = driver.map(str::to_string);
        self
    }

    /// A disk `name` (e.g. `sda`) on the controller at `at`, with partitions.
    pub fn disk(mut self, name: &str, at: &str, partitions: &[&str]) -> Fixture {
        self.disks.push(Disk {
            name: name.into(),
            bdf: bdf(at),
            partitions: partitions.iter().map(|s| s.to_string()).collect(),
        });
        self
    }

    /// A virtual block device (`dm-0`, `md0`) over `slaves`; `dm_name` is its `/dev/mapper` name.
    pub fn virtual_block(mut self, name: &str, dm_name: Option<&str>, slaves: &[&str]) -> Fixture {
        self.vblocks.push(VirtualBlock {
            name: name.into(),
            dm_name: dm_name.map(str::to_string),
            slaves: slaves.iter().map(|s| s.to_string()).collect(),
        });
        self
    }

    /// A line in `proc/mounts`.
    pub fn mount(mut self, dev: &str, at: &str, fstype: &str) -> Fixture {
        self.mounts.push((dev.into(), at.into(), fstype.into()));
        self
    }

    /// A network interface on the function at `at`.
    pub fn nic(mut self, name: &str, at: &str) -> Fixture {
        self.nics.push((name.into(), bdf(at)));
        self
    }

    /// A Linux bridge (e.g. `xenbr0`) with member interfaces.
    pub fn bridge_if(mut self, name: &str, members: &[&str]) -> Fixture {
        self.bridges
            .push((name.into(), members.iter().map(|s| s.to_string()).collect()));
        self
    }

    /// The interface carrying the default route (`proc/net/route`).
    pub fn default_route(mut self, iface: &str) -> Fixture {
        self.default_route = Some(iface.into());
        self
    }

    /// Any other file under the root (`etc/xensource-inventory`, `var/log/dmesg`).
    pub fn file(mut self, path: &str, content: &str) -> Fixture {
        self.files.push((path.into(), content.as_bytes().to_vec()));
        self
    }

    /// The functions, as added.
    pub fn funcs(&self) -> &[Func] {
        &self.funcs
    }

    /// The `sys/devices/...` directory of a function, relative to the root.
    pub fn device_dir(&self, b: Bdf) -> String {
        let mut chain = vec![b];
        let mut cur = b;
        let by: BTreeMap<Bdf, &Func> = self.funcs.iter().map(|f| (f.bdf, f)).collect();
        for _ in 0..32 {
            match by.get(&cur).and_then(|f| f.parent) {
                Some(p) => {
                    chain.push(p);
                    cur = p;
                }
                None => break,
            }
        }
        let top = chain.last().copied().unwrap_or(b);
        let mut s = format!("sys/devices/pci{:04x}:{:02x}", top.segment, top.bus);
        for c in chain.iter().rev() {
            s.push('/');
            s.push_str(&c.to_string());
        }
        s
    }

    /// Writes the tree into `root` (which should be empty).
    pub fn write(&self, root: &Path) -> io::Result<()> {
        let w = Writer { root };
        let mut slots: BTreeMap<(u16, u8, u8), usize> = BTreeMap::new();
        for f in &self.funcs {
            if f.physfn.is_none() {
                *slots
                    .entry((f.bdf.segment, f.bdf.bus, f.bdf.device))
                    .or_default() += 1;
            }
        }
        w.dir("sys/bus/pci/devices")?;
        w.dir("sys/bus/pci/drivers")?;
        w.dir("sys/kernel/iommu_groups")?;
        w.dir("sys/class/block")?;
        w.dir("sys/class/net")?;
        w.dir("proc/net")?;
        for f in &self.funcs {
            let dir = self.device_dir(f.bdf);
            let mf = f.physfn.is_none()
                && slots
                    .get(&(f.bdf.segment, f.bdf.bus, f.bdf.device))
                    .copied()
                    .unwrap_or(0)
                    > 1;
            w.dir(&dir)?;
            let hex = |v: u32, width: usize| format!("0x{v:0width$x}\n");
            w.text(&format!("{dir}/vendor"), &hex(f.vendor as u32, 4))?;
            w.text(&format!("{dir}/device"), &hex(f.device as u32, 4))?;
            w.text(&format!("{dir}/class"), &hex(f.class, 6))?;
            w.text(
                &format!("{dir}/subsystem_vendor"),
                &hex(f.subsystem.0 as u32, 4),
            )?;
            w.text(
                &format!("{dir}/subsystem_device"),
                &hex(f.subsystem.1 as u32, 4),
            )?;
            w.text(&format!("{dir}/revision"), &hex(f.rev as u32, 2))?;
            w.text(&format!("{dir}/numa_node"), &format!("{}\n", f.numa))?;
            w.text(&format!("{dir}/irq"), "0\n")?;
            w.text(&format!("{dir}/enable"), "1\n")?;
            w.text(
                &format!("{dir}/resource"),
                &"0x0000000000000000 0x0000000000000000 0x0000000000000000\n".repeat(13),
            )?;
            w.text(
                &format!("{dir}/modalias"),
                &format!(
                    "pci:v{:08X}d{:08X}sv{:08X}sd{:08X}bc{:02X}sc{:02X}i{:02X}\n",
                    f.vendor,
                    f.device,
                    f.subsystem.0,
                    f.subsystem.1,
                    f.class >> 16,
                    (f.class >> 8) & 0xff,
                    f.class & 0xff
                ),
            )?;
            w.bytes(&format!("{dir}/config"), &config_bytes_mf(f, mf))?;
            if let Some(v) = f.boot_vga {
                w.text(&format!("{dir}/boot_vga"), if v { "1\n" } else { "0\n" })?;
            }
            if let Some(m) = &f.reset_method {
                w.text(&format!("{dir}/reset_method"), &format!("{m}\n"))?;
            }
            w.link(&format!("sys/bus/pci/devices/{}", f.bdf), &dir)?;
            if let Some(d) = &f.driver {
                let ddir = format!("sys/bus/pci/drivers/{d}");
                w.dir(&ddir)?;
                w.link(&format!("{dir}/driver"), &ddir)?;
                w.link(&format!("{ddir}/{}", f.bdf), &dir)?;
            }
            if let Some(g) = f.iommu_group {
                let gdir = format!("sys/kernel/iommu_groups/{g}");
                w.dir(&format!("{gdir}/devices"))?;
                w.link(&format!("{dir}/iommu_group"), &gdir)?;
                w.link(&format!("{gdir}/devices/{}", f.bdf), &dir)?;
            }
            if let Some((total, num, _)) = f.sriov {
                w.text(&format!("{dir}/sriov_totalvfs"), &format!("{total}\n"))?;
                w.text(&format!("{dir}/sriov_numvfs"), &format!("{num}\n"))?;
                let vfs = self.funcs.iter().filter(|v| v.physfn == Some(f.bdf));
                for (i, v) in vfs.enumerate() {
                    w.link(&format!("{dir}/virtfn{i}"), &self.device_dir(v.bdf))?;
                }
            }
            if let Some(pf) = f.physfn {
                w.link(&format!("{dir}/physfn"), &self.device_dir(pf))?;
            }
        }
        for d in &self.disks {
            let base = format!(
                "{}/ata1/host0/target0:0:0/0:0:0:0/block/{}",
                self.device_dir(d.bdf),
                d.name
            );
            w.dir(&base)?;
            w.text(&format!("{base}/dev"), "8:0\n")?;
            w.link(&format!("sys/class/block/{}", d.name), &base)?;
            for p in &d.partitions {
                let pdir = format!("{base}/{p}");
                w.dir(&pdir)?;
                w.text(&format!("{pdir}/partition"), "1\n")?;
                w.link(&format!("sys/class/block/{p}"), &pdir)?;
            }
        }
        for v in &self.vblocks {
            let base = format!("sys/devices/virtual/block/{}", v.name);
            w.dir(&format!("{base}/slaves"))?;
            w.link(&format!("sys/class/block/{}", v.name), &base)?;
            if let Some(n) = &v.dm_name {
                w.dir(&format!("{base}/dm"))?;
                w.text(&format!("{base}/dm/name"), &format!("{n}\n"))?;
            }
            for s in &v.slaves {
                let target = self
                    .block_dir(s)
                    .unwrap_or_else(|| format!("sys/class/block/{s}"));
                w.link(&format!("{base}/slaves/{s}"), &target)?;
            }
        }
        let mut mounts = String::from("proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n");
        mounts.push_str("sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n");
        mounts.push_str("tmpfs /run tmpfs rw,nosuid,nodev,mode=755 0 0\n");
        for (dev, at, fs) in &self.mounts {
            mounts.push_str(&format!("{dev} {at} {fs} rw,relatime 0 0\n"));
        }
        w.text("proc/mounts", &mounts)?;
        for (name, b) in &self.nics {
            let ndir = format!("{}/net/{name}", self.device_dir(*b));
            w.dir(&ndir)?;
            w.text(&format!("{ndir}/operstate"), "up\n")?;
            w.link(&format!("sys/class/net/{name}"), &ndir)?;
        }
        for (name, members) in &self.bridges {
            let bdir = format!("sys/devices/virtual/net/{name}");
            w.text(&format!("{bdir}/bridge/stp_state"), "0\n")?;
            w.dir(&format!("{bdir}/brif"))?;
            w.link(&format!("sys/class/net/{name}"), &bdir)?;
            for m in members {
                let target = self
                    .nics
                    .iter()
                    .find(|(n, _)| n == m)
                    .map(|(n, b)| format!("{}/net/{n}/brport", self.device_dir(*b)))
                    .unwrap_or_else(|| format!("sys/class/net/{m}/brport"));
                w.text(&format!("{target}/state"), "3\n")?;
                w.link(&format!("{bdir}/brif/{m}"), &target)?;
            }
        }
        let mut route = String::from(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n",
        );
        if let Some(i) = &self.default_route {
            route.push_str(&format!(
                "{i}\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
            ));
            route.push_str(&format!(
                "{i}\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
            ));
        }
        w.text("proc/net/route", &route)?;
        for (p, c) in &self.files {
            w.bytes(p, c)?;
        }
        Ok(())
    }

    fn block_dir(&self, name: &str) -> Option<String> {
        for d in &self.disks {
            let base = format!(
                "{}/ata1/host0/target0:0:0/0:0:0:0/block/{}",
                self.device_dir(d.bdf),
                d.name
            );
            if d.name == name {
                return Some(base);
            }
            if d.partitions.iter().any(|p| p == name) {
                return Some(format!("{base}/{name}"));
            }
        }
        None
    }
}

struct Writer<'a> {
    root: &'a Path,
}

impl Writer<'_> {
    fn dir(&self, rel: &str) -> io::Result<()> {
        fs::create_dir_all(self.root.join(rel))
    }

    fn bytes(&self, rel: &str, data: &[u8]) -> io::Result<()> {
        let p = self.root.join(rel);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d)?;
        }
        fs::write(p, data)
    }

    fn text(&self, rel: &str, data: &str) -> io::Result<()> {
        self.bytes(rel, data.as_bytes())
    }

    /// A relative symlink at `at` pointing to `target` (both relative to the root).
    fn link(&self, at: &str, target: &str) -> io::Result<()> {
        let depth = at.matches('/').count();
        let rel = format!("{}{target}", "../".repeat(depth));
        let p = self.root.join(at);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d)?;
        }
        if fs::symlink_metadata(&p).is_ok() {
            fs::remove_file(&p)?;
        }
        symlink(&rel, &p)
    }
}

#[cfg(unix)]
fn symlink(target: &str, at: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(not(unix))]
fn symlink(_target: &str, _at: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "fixture trees need symlinks",
    ))
}
