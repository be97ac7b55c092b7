//! The fixture KVM hosts, kept in [`super::fixture`] beside the other shapes (one module, no
//! import cycle); re-exported here under the names the KVM tests use.

pub use super::fixture::{kvm_debian, kvm_fedora, KVM_KERNEL as KERNEL};
