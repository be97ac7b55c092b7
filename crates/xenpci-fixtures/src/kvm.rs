//! Fixture KVM hosts (Linux without Xen, `/dev/kvm`, kernel IOMMU groups), built with the same
//! generator as the dom0 shapes: [`kvm_debian`] (initramfs-tools, `update-grub`) and
//! [`kvm_fedora`] (dracut, `grub2-mkconfig`), the same machine in both:
//!
//! * group 1: a GPU (01:00.0, nouveau) with its HDMI audio (01:00.1) and the root port 00:01.0
//!   above them (no ACS on it): a group with a bridge;
//! * groups 2 and 3: two identical Intel 82574L NICs (e1000e, 8086:10d3) behind their own root
//!   ports; the host's default route runs over the first (02:00.0, `eno1`), the second (03:00.0)
//!   is free — a `vfio-pci ids=8086:10d3` would take both;
//! * group 4: the ICH9 functions 00:1f.0 (ISA bridge), 00:1f.2 (AHCI, holding `/`) and 00:1f.3
//!   (SMBus), as on QEMU's q35;
//! * `vfio-pci` loaded (its driver directory with bind/unbind), every device with a
//!   `driver_override` attribute, `drivers_probe`, the vfio modules in `modules.dep`.

use crate::func::Func;
use crate::host::Fixture;

/// The kernel release of the fixtures.
pub const KVM_KERNEL: &str = "6.1.0-27-amd64";

/// Which distribution's boot tools the fixture has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Distro {
    Debian,
    Fedora,
}

fn kvm_machine(distro: Distro) -> Fixture {
    let intel = 0x8086;
    let mut fx = Fixture::new()
        .with(Func::conventional("00:00.0", intel, 0x29c0, 0x060000).iommu_group(0))
        .with(Func::root_port("00:01.0", intel, 0x1901, 1).iommu_group(1))
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
            Func::root_port("00:1c.0", intel, 0x2940, 2)
                .acs()
                .iommu_group(5),
        )
        .with(
            Func::endpoint("02:00.0", intel, 0x10d3, 0x020000)
                .subsystem(intel, 0xa01f)
                .under("00:1c.0")
                .flr()
                .iommu_group(2)
                .driver("e1000e"),
        )
        .with(
            Func::root_port("00:1c.1", intel, 0x2942, 3)
                .acs()
                .iommu_group(6),
        )
        .with(
            Func::endpoint("03:00.0", intel, 0x10d3, 0x020000)
                .subsystem(intel, 0xa01f)
                .under("00:1c.1")
                .flr()
                .iommu_group(3)
                .driver("e1000e"),
        )
        .with(
            Func::conventional("00:1f.0", intel, 0x2918, 0x060100)
                .rev(2)
                .iommu_group(4)
                .driver("lpc_ich"),
        )
        .with(
            Func::conventional("00:1f.2", intel, 0x2922, 0x010601)
                .rev(2)
                .iommu_group(4)
                .driver("ahci"),
        )
        .with(
            Func::conventional("00:1f.3", intel, 0x2930, 0x0c0500)
                .rev(2)
                .iommu_group(4)
                .driver("i801_smbus"),
        )
        .disk("sda", "00:1f.2", &["sda1", "sda2"])
        .mount("/dev/sda1", "/", "ext4")
        .nic("eno1", "02:00.0")
        .nic("enp3s0", "03:00.0")
        .default_route("eno1")
        .file("dev/kvm", "")
        .file("sys/class/iommu/dmar0/.keep", "")
        .file("proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\n")
        .file("proc/sys/kernel/osrelease", &format!("{KVM_KERNEL}\n"))
        .file(
            &format!("lib/modules/{KVM_KERNEL}/modules.dep"),
            "kernel/drivers/vfio/vfio.ko: \nkernel/drivers/vfio/vfio_iommu_type1.ko: kernel/drivers/vfio/vfio.ko\nkernel/drivers/vfio/pci/vfio-pci-core.ko: kernel/drivers/vfio/vfio.ko\nkernel/drivers/vfio/pci/vfio-pci.ko: kernel/drivers/vfio/pci/vfio-pci-core.ko kernel/drivers/vfio/vfio.ko\nkernel/drivers/net/ethernet/intel/e1000e/e1000e.ko: \n",
        )
        .file("sys/bus/pci/drivers_probe", "")
        .file(
            "etc/default/grub",
            "# If you change this file, run 'update-grub' afterwards to update\n# /boot/grub/grub.cfg.\n\nGRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n",
        )
        .file(
            "proc/cmdline",
            &format!("BOOT_IMAGE=/boot/vmlinuz-{KVM_KERNEL} root=/dev/sda1 ro quiet intel_iommu=on\n"),
        );
    for d in [
        "vfio-pci",
        "e1000e",
        "nouveau",
        "snd_hda_intel",
        "ahci",
        "lpc_ich",
        "i801_smbus",
    ] {
        for a in ["bind", "unbind", "new_id"] {
            fx = fx.file(&format!("sys/bus/pci/drivers/{d}/{a}"), "");
        }
    }
    let bdfs: Vec<_> = fx.funcs().iter().map(|f| f.bdf).collect();
    for b in bdfs {
        let dir = fx.device_dir(b);
        fx = fx.file(&format!("{dir}/driver_override"), "(null)\n");
    }
    match distro {
        Distro::Debian => fx
            .file(
                "etc/initramfs-tools/modules",
                "# List of modules that you want to include in your initramfs.\n# They will be loaded at boot time in the order below.\n#\n# Syntax:  module_name [args ...]\n",
            )
            .file("boot/grub/grub.cfg", "# generated by update-grub\n"),
        Distro::Fedora => fx
            .file("etc/dracut.conf.d/.keep", "")
            .file("boot/grub2/grub.cfg", "# generated by grub2-mkconfig\n"),
    }
}

/// The KVM host on Debian 12: initramfs-tools and `update-grub`.
pub fn kvm_debian() -> Fixture {
    kvm_machine(Distro::Debian)
}

/// The same host on Fedora: dracut and `grub2-mkconfig`.
pub fn kvm_fedora() -> Fixture {
    kvm_machine(Distro::Fedora)
}
