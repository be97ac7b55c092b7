//! Names for ids from the PCI ID database embedded by the `pci-ids` crate (compiled-in maps: no
//! pci.ids file is parsed at run time). Unknown ids get lspci's fallbacks (`Device 1234`).

use pci_ids::{Device, FromId, Subclass, Vendor};

/// The vendor's name, or `Vendor xxxx`.
pub fn vendor_name(vendor: u16) -> String {
    Vendor::from_id(vendor)
        .map(|v| v.name().to_string())
        .unwrap_or_else(|| format!("Vendor {vendor:04x}"))
}

/// The device's name, or `Device xxxx`.
pub fn device_name(vendor: u16, device: u16) -> String {
    Device::from_vid_pid(vendor, device)
        .map(|d| d.name().to_string())
        .unwrap_or_else(|| format!("Device {device:04x}"))
}

/// The subsystem's name when the database has one.
pub fn subsystem_name(vendor: u16, device: u16, sv: u16, sd: u16) -> Option<&'static str> {
    Device::from_vid_pid(vendor, device)?
        .subsystems()
        .find(|s| s.subvendor() == sv && s.subdevice() == sd)
        .map(|s| s.name())
}

/// The class name as lspci prints it: the subclass name, else the class name, else `Class xxxx`.
pub fn class_name(class: u32) -> String {
    let (c, s) = ((class >> 16) as u8, (class >> 8) as u8);
    if let Some(sc) = Subclass::from_cid_sid(c, s) {
        return sc.name().to_string();
    }
    pci_ids::Class::from_id(c)
        .map(|k| k.name().to_string())
        .unwrap_or_else(|| format!("Class {:04x}", class >> 8))
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
    fn unknown_ids_fall_back_like_lspci() {
        assert_eq!(vendor_name(0x0bad), "Vendor 0bad");
        assert_eq!(device_name(0x8086, 0xfffe), "Device fffe");
        assert_eq!(class_name(0xfe1200), "Class fe12");
    }
}
