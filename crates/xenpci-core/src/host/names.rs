//! Names for ids from the PCI ID database (data/pci.ids), compiled by build.rs into one
//! pointer-free table: fixed-width records of ids and (offset, length) pairs into a string blob,
//! binary-searched here. Nothing is parsed or relocated at start-up, so a call that prints no name
//! pays nothing for the database. Unknown ids get lspci's fallbacks (`Device 1234`).

mod table {
    include!(concat!(env!("OUT_DIR"), "/pci_names.rs"));
}

use std::borrow::Cow;

use table::{DB, PARTS};

/// One part of the table: fixed-width records.
#[derive(Clone, Copy)]
struct Part {
    start: usize,
    width: usize,
    count: usize,
}

impl Part {
    const fn new(index: usize, width: usize) -> Part {
        Part {
            start: PARTS[index],
            width,
            count: (PARTS[index + 1] - PARTS[index]) / width,
        }
    }

    /// Record `i`, or nothing past the end.
    fn record(&self, i: usize) -> &'static [u8] {
        let at = self.start + i * self.width;
        &DB[at..at + self.width]
    }

    /// The record in `first..first + count` whose key (at byte 0, `key_len` bytes) is `key`.
    fn find(&self, first: usize, count: usize, key: &[u8]) -> Option<&'static [u8]> {
        let (mut lo, mut hi) = (first, (first + count).min(self.count));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let r = self.record(mid);
            // Keys are little-endian; compare them as numbers (most significant byte first).
            match r[..key.len()].iter().rev().cmp(key.iter().rev()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(r),
            }
        }
        None
    }
}

const VENDORS: Part = Part::new(0, 16);
const DEVICES: Part = Part::new(1, 16);
const SUBSYSTEMS: Part = Part::new(2, 12);
const CLASSES: Part = Part::new(3, 16);
const SUBCLASSES: Part = Part::new(4, 8);

fn u16_at(r: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([r[at], r[at + 1]])
}

fn u32_at(r: &[u8], at: usize) -> usize {
    u32::from_le_bytes([r[at], r[at + 1], r[at + 2], r[at + 3]]) as usize
}

/// The name whose (offset u32, length u16) pair is at `r[at..]`.
fn name_at(r: &[u8], at: usize) -> &'static str {
    let (off, len) = (u32_at(r, at), u16_at(r, at + 4) as usize);
    let start = PARTS[5] + off;
    // build.rs wrote the blob from a Rust string, cutting only at name boundaries.
    std::str::from_utf8(&DB[start..start + len]).unwrap_or("")
}

fn vendor(vendor: u16) -> Option<&'static [u8]> {
    VENDORS.find(0, VENDORS.count, &vendor.to_le_bytes())
}

fn device(vendor_id: u16, device: u16) -> Option<&'static [u8]> {
    let v = vendor(vendor_id)?;
    DEVICES.find(u32_at(v, 8), u32_at(v, 12), &device.to_le_bytes())
}

/// The vendor's name, or `Vendor xxxx`.
pub fn vendor_name(vendor_id: u16) -> Cow<'static, str> {
    match vendor(vendor_id) {
        Some(r) => Cow::Borrowed(name_at(r, 2)),
        None => Cow::Owned(format!("Vendor {vendor_id:04x}")),
    }
}

/// The device's name, or `Device xxxx`.
pub fn device_name(vendor: u16, device_id: u16) -> Cow<'static, str> {
    match device(vendor, device_id) {
        Some(r) => Cow::Borrowed(name_at(r, 2)),
        None => Cow::Owned(format!("Device {device_id:04x}")),
    }
}

/// The subsystem's name when the database has one (the first entry, as pci.ids lists them).
pub fn subsystem_name(vendor: u16, device_id: u16, sv: u16, sd: u16) -> Option<&'static str> {
    let d = device(vendor, device_id)?;
    let (first, count) = (u32_at(d, 8), u32_at(d, 12));
    (first..first + count)
        .map(|i| SUBSYSTEMS.record(i))
        .find(|r| u16_at(r, 0) == sv && u16_at(r, 2) == sd)
        .map(|r| name_at(r, 4))
}

/// The class name as lspci prints it: the subclass name, else the class name, else `Class xxxx`.
pub fn class_name(class: u32) -> Cow<'static, str> {
    let (c, s) = ((class >> 16) as u8, (class >> 8) as u8);
    let Some(k) = CLASSES.find(0, CLASSES.count, &[c]) else {
        return Cow::Owned(format!("Class {:04x}", class >> 8));
    };
    match SUBCLASSES.find(u32_at(k, 8), u32_at(k, 12), &[s]) {
        Some(sc) => Cow::Borrowed(name_at(sc, 2)),
        None => Cow::Borrowed(name_at(k, 2)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_devices_have_their_names() {
        assert_eq!(vendor_name(0x8086), "Intel Corporation");
        assert!(device_name(0x1000, 0x0087).contains("SAS2308"));
        assert!(device_name(0x8086, 0x1d02).contains("SATA AHCI"));
        assert_eq!(class_name(0x010601), "SATA controller");
        assert_eq!(class_name(0x010700), "Serial Attached SCSI controller");
    }

    #[test]
    fn subsystems_are_named() {
        // A Dell LOM subsystem of the seed host's I350, and an unknown pair.
        assert_eq!(
            subsystem_name(0x8086, 0x1521, 0x1028, 0x0602),
            Some("Gigabit 2P I350-t LOM")
        );
        assert_eq!(subsystem_name(0x8086, 0x1521, 0x0bad, 0x0bad), None);
    }

    #[test]
    fn unknown_ids_fall_back_like_lspci() {
        assert_eq!(vendor_name(0x0bad), "Vendor 0bad");
        assert_eq!(device_name(0x8086, 0xfffe), "Device fffe");
        assert_eq!(class_name(0xfe1200), "Class fe12");
    }
}
