//! The demo's bundled hosts: fixture host roots the build script wrote with the dev-only
//! generator and packed into `demo_hosts.bin` (layout: build/demo_hosts.rs), compiled in as
//! data, so the shipped binary carries the trees and none of the generator. [`find`] picks a
//! shape, [`DemoHost::write`] unpacks it into a directory.

use std::fs;
use std::io;
use std::path::Path;

static BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/demo_hosts.bin"));

/// One bundled host: its shape name and its packed entries.
#[derive(Debug, Clone, Copy)]
pub struct DemoHost {
    entries: &'static [u8],
    count: u32,
}

/// A cursor over the packed bytes; every read says when the data ends early.
struct Cursor {
    at: &'static [u8],
}

impl Cursor {
    fn take(&mut self, n: usize) -> io::Result<&'static [u8]> {
        if self.at.len() < n {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the bundled demo hosts are truncated (rebuild xenpci)",
            ));
        }
        let (h, t) = self.at.split_at(n);
        self.at = t;
        Ok(h)
    }

    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> io::Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> io::Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn text(&mut self, n: usize) -> io::Result<&'static str> {
        std::str::from_utf8(self.take(n)?)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a bundled path is not UTF-8"))
    }
}

/// One entry of a packed host.
enum Entry {
    Dir(&'static str),
    File(&'static str, u32, &'static [u8]),
    Link(&'static str, &'static str),
}

fn entry(c: &mut Cursor) -> io::Result<Entry> {
    let kind = c.u8()?;
    let n = c.u16()? as usize;
    let path = c.text(n)?;
    match kind {
        b'd' => Ok(Entry::Dir(path)),
        b'f' => {
            let len = c.u32()?;
            let stored = c.u32()? as usize;
            Ok(Entry::File(path, len, c.take(stored)?))
        }
        b'l' => {
            let n = c.u16()? as usize;
            Ok(Entry::Link(path, c.text(n)?))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bundled entry {path:?} has an unknown kind"),
        )),
    }
}

/// Every bundled host, in the order the build script packed them.
fn hosts() -> io::Result<Vec<(&'static str, DemoHost)>> {
    let mut c = Cursor { at: BLOB };
    if c.take(6)? != b"XPDH1\n" {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the bundled demo hosts have an unknown layout",
        ));
    }
    let mut out = Vec::new();
    while !c.at.is_empty() {
        let n = c.u8()? as usize;
        let name = c.text(n)?;
        let count = c.u32()?;
        let start = c.at;
        for _ in 0..count {
            entry(&mut c)?;
        }
        let used = start.len() - c.at.len();
        out.push((
            name,
            DemoHost {
                entries: &start[..used],
                count,
            },
        ));
    }
    Ok(out)
}

/// The names of the bundled hosts.
pub fn names() -> Vec<&'static str> {
    hosts()
        .map(|h| h.into_iter().map(|(n, _)| n).collect())
        .unwrap_or_default()
}

/// The bundled host called `name`, if there is one.
pub fn find(name: &str) -> Option<DemoHost> {
    hosts()
        .ok()?
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, h)| h)
}

impl DemoHost {
    /// Unpacks the host into `root` (which should be empty): directories, files (zero-padded
    /// back to their length), relative symlinks.
    pub fn write(&self, root: &Path) -> io::Result<()> {
        let mut c = Cursor { at: self.entries };
        for _ in 0..self.count {
            match entry(&mut c)? {
                Entry::Dir(p) => fs::create_dir_all(root.join(p))?,
                Entry::File(p, len, stored) => {
                    let mut data = stored.to_vec();
                    data.resize(len as usize, 0);
                    fs::write(root.join(p), data)?;
                }
                Entry::Link(p, target) => std::os::unix::fs::symlink(target, root.join(p))?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_host_unpacks_and_the_x9drw_holds_the_hba() {
        let names = names();
        assert!(
            names.contains(&"x9drw") && names.contains(&"kvm-debian"),
            "{names:?}"
        );
        for n in names {
            let d = tempfile::tempdir().unwrap();
            find(n)
                .unwrap()
                .write(d.path())
                .unwrap_or_else(|e| panic!("{n}: {e}"));
            assert!(d.path().join("sys/bus/pci/devices").is_dir(), "{n}");
        }
        let d = tempfile::tempdir().unwrap();
        find("x9drw").unwrap().write(d.path()).unwrap();
        let hba = d.path().join("sys/bus/pci/devices/0000:05:00.0");
        assert_eq!(fs::read_to_string(hba.join("vendor")).unwrap(), "0x1000\n");
        assert_eq!(fs::metadata(hba.join("config")).unwrap().len(), 4096);
        assert!(find("big-1000").is_none());
    }
}
