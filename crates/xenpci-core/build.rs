//! Compiles data/pci.ids (the PCI ID database) into one pointer-free byte table for
//! `host::names`: fixed-width records of ids and (offset, length) pairs into one string blob,
//! sorted for binary search. A table of `&str` (what the `pci-ids` crate embeds) costs ~45,000
//! load-time relocations and ~300 page faults at every start of a static-pie binary, even for a
//! call that prints no name; this costs none. Layout: see `src/host/names.rs` (`Db`).

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::path::Path;

#[derive(Default)]
struct Device {
    name: String,
    subsystems: Vec<(u16, u16, String)>,
}

#[derive(Default)]
struct Vendor {
    name: String,
    devices: BTreeMap<u16, Device>,
}

#[derive(Default)]
struct Class {
    name: String,
    subclasses: BTreeMap<u8, String>,
}

fn hex16(s: &str, line: usize) -> u16 {
    u16::from_str_radix(s, 16).unwrap_or_else(|_| panic!("data/pci.ids:{line}: bad id {s:?}"))
}

fn hex8(s: &str, line: usize) -> u8 {
    u8::from_str_radix(s, 16).unwrap_or_else(|_| panic!("data/pci.ids:{line}: bad id {s:?}"))
}

/// `ID  NAME` (two spaces) → (ID, NAME).
fn split(rest: &str, line: usize) -> (&str, &str) {
    rest.split_once("  ")
        .unwrap_or_else(|| panic!("data/pci.ids:{line}: expected `ID  NAME`: {rest:?}"))
}

struct Blob {
    strings: Vec<u8>,
}

impl Blob {
    /// Appends a string; returns its (offset u32, length u16) record bytes.
    fn put(&mut self, s: &str) -> [u8; 6] {
        let off = u32::try_from(self.strings.len()).expect("string blob under 4 GiB");
        let len = u16::try_from(s.len()).expect("a name under 64 KiB");
        self.strings.extend_from_slice(s.as_bytes());
        let mut r = [0u8; 6];
        r[..4].copy_from_slice(&off.to_le_bytes());
        r[4..].copy_from_slice(&len.to_le_bytes());
        r
    }
}

fn main() {
    let src = Path::new("data/pci.ids");
    println!("cargo:rerun-if-changed={}", src.display());
    let text = fs::read_to_string(src).expect("data/pci.ids is readable UTF-8");

    let mut vendors: BTreeMap<u16, Vendor> = BTreeMap::new();
    let mut classes: BTreeMap<u8, Class> = BTreeMap::new();
    // Where the indented lines below belong: a vendor (and its last device), or a class.
    let (mut vendor, mut device, mut class) = (None::<u16>, None::<u16>, None::<u8>);
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        if let Some(rest) = raw.strip_prefix("C ") {
            let (id, name) = split(rest, n);
            let c = hex8(id, n);
            classes.entry(c).or_insert_with(|| Class {
                name: name.to_string(),
                ..Class::default()
            });
            (vendor, device, class) = (None, None, Some(c));
        } else if let Some(rest) = raw.strip_prefix("\t\t") {
            // A subsystem of the last device, or a programming interface (not named by xenpci).
            if let (Some(v), Some(d)) = (vendor, device) {
                let (ids, name) = split(rest, n);
                let (sv, sd) = ids
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("data/pci.ids:{n}: expected `SV SD  NAME`"));
                let dev = vendors.get_mut(&v).unwrap().devices.get_mut(&d).unwrap();
                dev.subsystems
                    .push((hex16(sv, n), hex16(sd, n), name.to_string()));
            } else if class.is_none() {
                panic!("data/pci.ids:{n}: a two-tab line outside a device or a class");
            }
        } else if let Some(rest) = raw.strip_prefix('\t') {
            let (id, name) = split(rest, n);
            if let Some(v) = vendor {
                let d = hex16(id, n);
                let devs = &mut vendors.get_mut(&v).unwrap().devices;
                devs.entry(d).or_insert_with(|| Device {
                    name: name.to_string(),
                    ..Device::default()
                });
                device = Some(d);
            } else if let Some(c) = class {
                let subs = &mut classes.get_mut(&c).unwrap().subclasses;
                subs.entry(hex8(id, n)).or_insert_with(|| name.to_string());
            } else {
                panic!("data/pci.ids:{n}: a one-tab line outside a vendor or a class");
            }
        } else {
            let (id, name) = split(raw, n);
            let v = hex16(id, n);
            vendors.entry(v).or_insert_with(|| Vendor {
                name: name.to_string(),
                ..Vendor::default()
            });
            (vendor, device, class) = (Some(v), None, None);
        }
    }
    write(&vendors, &classes);
}

fn u32le(x: usize) -> [u8; 4] {
    u32::try_from(x).expect("table under 4 GiB").to_le_bytes()
}

/// Writes OUT_DIR/pci_names.bin and OUT_DIR/pci_names.rs (the table's length and where each part
/// starts). Records, all little-endian:
/// - vendor, 16 bytes: id u16, name (off u32, len u16), first device u32, device count u32;
/// - device, 16 bytes: id u16, name, first subsystem u32, subsystem count u32;
/// - subsystem, 12 bytes: subvendor u16, subdevice u16, name, 2 bytes padding;
/// - class, 16 bytes: id u8, 1 byte padding, name, first subclass u32, subclass count u32;
/// - subclass, 8 bytes: id u8, 1 byte padding, name.
fn write(vendors: &BTreeMap<u16, Vendor>, classes: &BTreeMap<u8, Class>) {
    let mut blob = Blob {
        strings: Vec::new(),
    };
    let (mut tv, mut td, mut ts, mut tc, mut tsc) = (vec![], vec![], vec![], vec![], vec![]);
    for (vid, v) in vendors {
        tv.extend_from_slice(&vid.to_le_bytes());
        tv.extend_from_slice(&blob.put(&v.name));
        tv.extend_from_slice(&u32le(td.len() / 16));
        tv.extend_from_slice(&u32le(v.devices.len()));
        for (did, d) in &v.devices {
            td.extend_from_slice(&did.to_le_bytes());
            td.extend_from_slice(&blob.put(&d.name));
            td.extend_from_slice(&u32le(ts.len() / 12));
            td.extend_from_slice(&u32le(d.subsystems.len()));
            for (sv, sd, name) in &d.subsystems {
                ts.extend_from_slice(&sv.to_le_bytes());
                ts.extend_from_slice(&sd.to_le_bytes());
                ts.extend_from_slice(&blob.put(name));
                ts.extend_from_slice(&[0, 0]);
            }
        }
    }
    for (cid, c) in classes {
        tc.extend_from_slice(&[*cid, 0]);
        tc.extend_from_slice(&blob.put(&c.name));
        tc.extend_from_slice(&u32le(tsc.len() / 8));
        tc.extend_from_slice(&u32le(c.subclasses.len()));
        for (sid, name) in &c.subclasses {
            tsc.extend_from_slice(&[*sid, 0]);
            tsc.extend_from_slice(&blob.put(name));
        }
    }
    let mut all = Vec::new();
    let mut starts = Vec::new();
    for part in [&tv, &td, &ts, &tc, &tsc, &blob.strings] {
        starts.push(all.len());
        all.extend_from_slice(part);
    }
    let out = Path::new(&env::var("OUT_DIR").unwrap()).to_path_buf();
    fs::write(out.join("pci_names.bin"), &all).unwrap();
    let rs = format!(
        "/// The whole table (no pointers: nothing to relocate at start-up).\n\
         pub static DB: [u8; {len}] = *include_bytes!(concat!(env!(\"OUT_DIR\"), \"/pci_names.bin\"));\n\
         /// Where each part starts: vendors, devices, subsystems, classes, subclasses, strings.\n\
         pub const PARTS: [usize; 6] = {starts:?};\n",
        len = all.len()
    );
    fs::write(out.join("pci_names.rs"), rs).unwrap();
}
