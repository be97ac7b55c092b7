//! The compiled names table (build.rs + `host::names`) against the `pci-ids` crate reading the
//! same data/pci.ids: every vendor, device, subsystem, class and subclass gets the same name, and
//! ids the database lacks get lspci's fallbacks.

use pci_ids::{Classes, FromId, Vendors};
use xenpci::host::names;

#[test]
fn every_vendor_device_and_subsystem_has_the_crates_name() {
    let (mut vendors, mut devices, mut subsystems) = (0, 0, 0);
    for v in Vendors::iter() {
        vendors += 1;
        assert_eq!(
            names::vendor_name(v.id()),
            v.name(),
            "vendor {:04x}",
            v.id()
        );
        for d in v.devices() {
            devices += 1;
            assert_eq!(names::device_name(v.id(), d.id()), d.name());
            for s in d.subsystems() {
                subsystems += 1;
                // pci.ids may list one subsystem pair twice: the first entry is the name.
                let first = d
                    .subsystems()
                    .find(|t| t.subvendor() == s.subvendor() && t.subdevice() == s.subdevice())
                    .unwrap();
                assert_eq!(
                    names::subsystem_name(v.id(), d.id(), s.subvendor(), s.subdevice()),
                    Some(first.name()),
                    "{:04x}:{:04x} subsystem {:04x}:{:04x}",
                    v.id(),
                    d.id(),
                    s.subvendor(),
                    s.subdevice()
                );
            }
        }
    }
    // The whole database was compared, not an empty one.
    assert!(
        vendors > 2000 && devices > 15000 && subsystems > 10000,
        "{vendors} {devices} {subsystems}"
    );
}

#[test]
fn every_class_and_subclass_has_the_crates_name() {
    let mut n = 0;
    for c in Classes::iter() {
        // A class code whose subclass the database lacks is named by its class.
        assert_eq!(
            names::class_name(u32::from(c.id()) << 16 | 0xfe00),
            c.name()
        );
        for s in c.subclasses() {
            n += 1;
            let code = u32::from(c.id()) << 16 | u32::from(s.id()) << 8;
            assert_eq!(names::class_name(code), s.name(), "class {code:06x}");
            assert_eq!(
                pci_ids::Subclass::from_cid_sid(c.id(), s.id()).map(|x| x.name()),
                Some(s.name())
            );
        }
    }
    assert!(n > 50, "{n} subclasses");
    assert!(pci_ids::Class::from_id(0x01).is_some());
}

#[test]
fn ids_the_database_lacks_fall_back_like_lspci() {
    for v in 0..=u16::MAX {
        if pci_ids::Vendor::from_id(v).is_none() {
            assert_eq!(names::vendor_name(v), format!("Vendor {v:04x}"));
        }
    }
    assert_eq!(names::device_name(0x8086, 0xfffe), "Device fffe");
    assert_eq!(names::subsystem_name(0x0bad, 0x0001, 0, 0), None);
}
