//! Fixture host roots: a generator that writes a fake dom0 or KVM host (`sys/bus/pci/devices`,
//! the resolved `sys/devices/pci0000:00/...` tree with realistic `config` space, drivers, IOMMU
//! groups, SR-IOV links, block and net class links, `proc/mounts`, `proc/net/route`, `etc/`)
//! into a directory, so xenpci's tests, the benchmark and the demo's bundled hosts share one
//! description of each shape. The trees are complete enough for
//! `lspci -A linux-sysfs -O sysfs.path=ROOT/sys/bus/pci` to read.
//!
//! Test machinery, not part of what ships: xenpci's unit and integration tests use it as a
//! dev-dependency, its build script as a build-dependency (the demo's hosts are compiled into
//! `xenpci` as data, see `build/demo_hosts.rs`), and the `xenpci-fixture` binary writes any
//! shape (e.g. `big-1000` for the benchmark). It depends on no part of xenpci.
//!
//! A shape is a [`Fixture`] built from [`Func`]s ([`func`]); the host-wide parts and the writer
//! are in [`host`]; each named shape is one function ([`x9drw`], [`gpu_pair`], [`sriov_nic`],
//! [`legacy_bridge`], [`big`], [`kvm_debian`], [`kvm_fedora`]), found by name with [`shape`].

pub mod addr;
pub mod func;
pub mod host;
pub mod kvm;
pub mod shapes;
pub mod spec;

pub use addr::Bdf;
pub use func::{config_bytes, Func};
pub use host::Fixture;
pub use kvm::{kvm_debian, kvm_fedora, KVM_KERNEL};
pub use shapes::{big, gpu_pair, legacy_bridge, shape, sriov_nic, x9drw, SHAPES};
