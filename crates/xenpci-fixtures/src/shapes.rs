//! The named Xen dom0 shapes ([`x9drw`], [`gpu_pair`], [`sriov_nic`], [`legacy_bridge`],
//! [`big`]) and [`shape`], which finds one (or a KVM host) by the name `xenpci demo --shape`
//! and `xenpci-fixture write` take.

use crate::func::Func;
use crate::host::Fixture;
use crate::kvm::{kvm_debian, kvm_fedora};

/// The seed's host: a Supermicro X9DRW running XCP-ng, dom0's root on the onboard C600 AHCI at
/// 00:1f.2, an LSI SAS2308 HBA at 05:00.0 meant for a Ceph OSD VM, the C602 SCU at 06:00.0, and
/// an I350 NIC whose first port carries xenbr0, the management network. No kernel IOMMU groups
/// (Xen owns the IOMMU); the dom0 kernel log shows XEN-PV-IOMMU.
pub fn x9drw() -> Fixture {
    let intel = 0x8086;
    let smc = 0x15d9;
    Fixture::new()
        .with(Func::conventional("00:00.0", intel, 0x3c00, 0x060000).rev(7).subsystem(smc, 0x0628))
        .with(Func::root_port("00:01.0", intel, 0x3c02, 5).rev(7).acs())
        .with(Func::root_port("00:02.0", intel, 0x3c04, 2).rev(7).acs())
        .with(Func::root_port("00:11.0", intel, 0x1d3e, 6).rev(6).acs())
        .with(
            Func::conventional("00:1a.0", intel, 0x1d2d, 0x0c0320)
                .rev(6)
                .subsystem(smc, 0x0628)
                .driver("ehci-pci"),
        )
        .with(
            Func::conventional("00:1f.0", intel, 0x1d41, 0x060100)
                .rev(6)
                .subsystem(smc, 0x0628)
                .driver("lpc_ich"),
        )
        .with(
            Func::conventional("00:1f.2", intel, 0x1d02, 0x010601)
                .rev(6)
                .subsystem(smc, 0x0628)
                .af_flr()
                .driver("ahci"),
        )
        .with(
            Func::conventional("00:1f.3", intel, 0x1d22, 0x0c0500)
                .rev(6)
                .subsystem(smc, 0x0628)
                .driver("i801_smbus"),
        )
        .with(
            Func::endpoint("02:00.0", intel, 0x1521, 0x020000)
                .rev(1)
                .subsystem(smc, 0x1521)
                .under("00:02.0")
                .flr()
                .driver("igb"),
        )
        .with(
            Func::endpoint("02:00.1", intel, 0x1521, 0x020000)
                .rev(1)
                .subsystem(smc, 0x1521)
                .under("00:02.0")
                .flr()
                .driver("igb"),
        )
        .with(
            Func::endpoint("05:00.0", 0x1000, 0x0087, 0x010700)
                .rev(5)
                .subsystem(0x1000, 0x3020)
                .under("00:01.0")
                .flr()
                .driver("mpt3sas"),
        )
        .with(
            Func::endpoint("06:00.0", intel, 0x1d6b, 0x010700)
                .rev(6)
                .subsystem(smc, 0x0628)
                .under("00:11.0")
                .driver("isci"),
        )
        .with(
            Func::conventional("08:01.0", 0x102b, 0x0532, 0x030000)
                .rev(0x0a)
                .subsystem(smc, 0x0628)
                .boot_vga(true)
                .driver("mgag200")
                .under("00:1e.0"),
        )
        .with(Func::pci_bridge("00:1e.0", intel, 0x244e, 8).rev(0xa6))
        .disk("sda", "00:1f.2", &["sda1", "sda2", "sda3"])
        .disk("sdb", "05:00.0", &[])
        .mount("/dev/sda1", "/", "ext3")
        .mount("/dev/sda2", "/var/log", "ext3")
        .nic("eth0", "02:00.0")
        .nic("eth1", "02:00.1")
        .bridge_if("xenbr0", &["eth0"])
        .default_route("xenbr0")
        .file(
            "etc/xensource-inventory",
            "PRIMARY_DISK='/dev/disk/by-id/ata-INTEL_SSDSC2CW240A3'\nPRODUCT_BRAND='XCP-ng'\nPRODUCT_VERSION='8.2.1'\nPRODUCT_VERSION_TEXT='8.2'\nMANAGEMENT_INTERFACE='xenbr0'\nMANAGEMENT_ADDRESS_TYPE='IPv4'\n",
        )
        // XCP-ng 8.2's BIOS grub.cfg (xe, xe-serial, safe and fallback entries), what
        // /opt/xensource/libexec/xen-cmdline edits, and the running dom0's command line.
        .file("boot/grub/grub.cfg", include_str!("fixtures/xcpng82-grub.cfg"))
        .file(
            "proc/cmdline",
            "root=LABEL=root-aqrmxw ro nolvm hpet=disable console=hvc0 console=tty0 quiet vga=785 splash plymouth.ignore-serial-consoles\n",
        )
        .file("sys/hypervisor/type", "xen\n")
        .file(
            "var/log/dmesg",
            "[    0.000000] Using GPFN IOMMU mode, 1-to-1 offset is 0x3e00000000\n[    1.523011] XEN-PV-IOMMU: Using software bounce buffering for IO on 32bit DMA devices (SWIOTLB)\n[    1.530117] XEN-PV-IOMMU - completed setting up 1-1 mapping\n",
        )
}

/// A desktop-style GPU with its HDMI audio function (01:00.0/01:00.1, no ACS on the
/// multifunction card, so both must go together), on a plain-Linux host with IOMMU groups.
pub fn gpu_pair() -> Fixture {
    Fixture::new()
        .with(Func::conventional("00:00.0", 0x8086, 0x3e30, 0x060000).iommu_group(0))
        .with(
            Func::root_port("00:01.0", 0x8086, 0x1901, 1)
                .acs()
                .iommu_group(1),
        )
        .with(
            Func::endpoint("01:00.0", 0x10de, 0x1b80, 0x030000)
                .rev(0xa1)
                .subsystem(0x1458, 0x3702)
                .under("00:01.0")
                .boot_vga(false)
                .iommu_group(1)
                .reset_method("bus")
                .driver("nouveau"),
        )
        .with(
            Func::endpoint("01:00.1", 0x10de, 0x10f0, 0x040300)
                .rev(0xa1)
                .subsystem(0x1458, 0x3702)
                .under("00:01.0")
                .iommu_group(1)
                .reset_method("bus")
                .driver("snd_hda_intel"),
        )
        .with(
            Func::integrated("00:02.0", 0x8086, 0x3e92, 0x030000)
                .boot_vga(true)
                .iommu_group(2)
                .driver("i915"),
        )
        .with(
            Func::integrated("00:14.0", 0x8086, 0xa36d, 0x0c0330)
                .rev(0x10)
                .iommu_group(3)
                .driver("xhci_hcd"),
        )
        .file("sys/class/iommu/dmar0/.keep", "")
}

/// An Intel 82576 SR-IOV NIC (the vtd.txt example): PF 01:00.0 on igb with 7 VFs, two of them
/// already hidden (pciback).
pub fn sriov_nic() -> Fixture {
    Fixture::new()
        .with(Func::root_port("00:01.0", 0x8086, 0x3c02, 1).acs())
        .with(
            Func::endpoint("01:00.0", 0x8086, 0x10c9, 0x020000)
                .subsystem(0x8086, 0xa03c)
                .under("00:01.0")
                .flr()
                .acs()
                .sriov(8, 7, 0x10ca)
                .driver("igb"),
        )
        .with(
            Func::endpoint("01:00.1", 0x8086, 0x10c9, 0x020000)
                .subsystem(0x8086, 0xa03c)
                .under("00:01.0")
                .flr()
                .acs()
                .sriov(8, 0, 0x10ca)
                .driver("igb"),
        )
        .vfs(
            "01:00.0",
            &["01:10.0", "01:10.2", "01:10.4", "01:10.6", "01:11.0"],
            Some("igbvf"),
        )
        .vfs("01:00.0", &["01:11.2", "01:11.4"], Some("pciback"))
        .file("sys/hypervisor/type", "xen\n")
}

/// A conventional PCI sound card and a second conventional device behind a PCIe-to-PCI bridge:
/// they share the bridge's requester ID, so they go to one domain or none.
pub fn legacy_bridge() -> Fixture {
    Fixture::new()
        .with(Func::root_port("00:1c.0", 0x8086, 0x1c10, 3).acs())
        .with(Func::pcie_to_pci("03:00.0", 0x104c, 0x8240, 4).under("00:1c.0"))
        .with(
            Func::conventional("04:00.0", 0x1102, 0x0002, 0x040100)
                .rev(7)
                .subsystem(0x1102, 0x8064)
                .under("03:00.0")
                .driver("snd_emu10k1"),
        )
        .with(
            Func::conventional("04:01.0", 0x10ec, 0x8169, 0x020000)
                .rev(0x10)
                .under("03:00.0")
                .driver("r8169"),
        )
}

/// A big host for the benchmark: root ports with ACS, each leading to a bus of multi-function
/// endpoints from a few real vendors, until `n` functions exist.
pub fn big(n: usize) -> Fixture {
    let models: [(u16, u16, u32, &str); 6] = [
        (0x8086, 0x1521, 0x020000, "igb"),
        (0x1000, 0x0087, 0x010700, "mpt3sas"),
        (0x15b3, 0x1017, 0x020000, "mlx5_core"),
        (0x10de, 0x1eb8, 0x030200, "nvidia"),
        (0x144d, 0xa808, 0x010802, "nvme"),
        (0x8086, 0x0b60, 0x010802, "nvme"),
    ];
    let mut fx = Fixture::new().with(Func::conventional("00:00.0", 0x8086, 0x2020, 0x060000));
    let mut count = 1usize;
    'outer: for (slot, bus) in (1u8..=0x1f).zip(1u16..) {
        if count >= n || bus > 0xff {
            break;
        }
        let rp = format!("00:{slot:02x}.0");
        fx = fx.with(Func::root_port(&rp, 0x8086, 0x2030, bus as u8).acs());
        count += 1;
        for dev in 0u8..=0x1f {
            for func in 0u8..8 {
                if count >= n {
                    break 'outer;
                }
                let (v, d, c, drv) = models[(dev as usize + func as usize) % models.len()];
                let at = format!("{bus:02x}:{dev:02x}.{func}");
                fx = fx.with(
                    Func::endpoint(&at, v, d, c)
                        .subsystem(v, d)
                        .under(&rp)
                        .flr()
                        .numa((slot % 2) as i32)
                        .driver(drv),
                );
                count += 1;
            }
        }
    }
    fx
}

/// The named shapes: `x9drw`, `gpu-pair`, `sriov-nic`, `legacy-bridge`, `kvm-debian`,
/// `kvm-fedora` ([`kvm_debian`], [`kvm_fedora`]), `big-N`.
pub fn shape(name: &str) -> Option<Fixture> {
    match name {
        "x9drw" => Some(x9drw()),
        "gpu-pair" => Some(gpu_pair()),
        "sriov-nic" => Some(sriov_nic()),
        "legacy-bridge" => Some(legacy_bridge()),
        "kvm-debian" => Some(kvm_debian()),
        "kvm-fedora" => Some(kvm_fedora()),
        _ => name
            .strip_prefix("big-")
            .and_then(|n| n.parse().ok())
            .filter(|n| *n <= 8000)
            .map(big),
    }
}

/// The names [`shape`] knows (big-N with N up to 8000).
pub const SHAPES: &[&str] = &[
    "x9drw",
    "gpu-pair",
    "sriov-nic",
    "legacy-bridge",
    "kvm-debian",
    "kvm-fedora",
    "big-N",
];
