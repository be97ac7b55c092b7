//! How xapi reads a VM's `other-config:pci` value ([`crate::syntax::xapi_pci::parse`], xapi's own
//! reading), split into the devices it plugs as written and the pieces it would drop, misread
//! or plug twice: what assign refuses to build on, `assigned` reports and verify checks.

use crate::pci::Bdf;
use crate::syntax::xapi_pci;

/// What xapi plugs from a value, split into the devices it reads as they look and the pieces it
/// would drop or misread (read with [`xapi_pci::parse`], xapi's own reading).
#[derive(Debug, Clone, Default)]
pub(crate) struct Reading {
    /// Devices xapi plugs as written: (group, device, xapi's plug position), in plug order.
    pub(crate) devices: Vec<(i64, Bdf, usize)>,
    /// Pieces xapi drops, reads as another device, or lists twice, each with what happens.
    pub(crate) misread: Vec<String>,
    /// Everything xapi_pci warns about (also plug-order surprises).
    pub(crate) warnings: Vec<String>,
    /// Every real device xapi would plug, misread pieces included (what another VM really holds).
    pub(crate) plugged: Vec<Bdf>,
}

/// The group and device a piece looks like to a reader: `N/` and a strict [`Bdf`], blanks
/// around it ignored (as xapi ignores a trailing one).
fn looks_like(text: &str) -> Option<(i64, Bdf)> {
    let (n, addr) = text.trim_end().split_once('/')?;
    Some((n.parse().ok()?, addr.parse().ok()?))
}

pub(crate) fn reading(value: &str) -> Reading {
    let list = xapi_pci::parse(value);
    let mut r = Reading {
        warnings: list.warnings.clone(),
        plugged: list.devices.iter().filter_map(|d| d.addr.bdf()).collect(),
        ..Reading::default()
    };
    r.misread = list
        .dropped
        .iter()
        .map(|d| format!("{:?} (xapi drops it: {})", d.text, d.reason))
        .collect();
    for d in &list.devices {
        let read = xapi_pci::canonical_piece(d.group, d.addr);
        match d.addr.bdf() {
            Some(bdf) if looks_like(&d.text) == Some((d.group, bdf)) => {
                if r.devices.iter().any(|(_, b, _)| *b == bdf) {
                    r.misread.push(format!(
                        "{:?} (listed twice: xapi would plug it twice)",
                        d.text
                    ));
                } else {
                    r.devices.push((d.group, bdf, d.position));
                }
            }
            _ => r
                .misread
                .push(format!("{:?} (xapi reads it as {read})", d.text)),
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices(v: &str) -> Vec<String> {
        reading(v).devices.iter().map(|d| d.1.to_string()).collect()
    }

    #[test]
    fn reading_keeps_what_xapi_reads_as_written() {
        assert_eq!(
            devices("0/0000:06:00.0,0/0000:07:00.0"),
            ["0000:07:00.0", "0000:06:00.0"]
        );
        for benign in [
            "0/0000:AB:00.0",
            "0/000:84:00.0",
            "0/0000:06:00.0 ",
            "1/0000:06:00.0",
        ] {
            let r = reading(benign);
            assert!(r.misread.is_empty(), "{benign}: {:?}", r.misread);
            assert_eq!(r.devices.len(), 1, "{benign}");
        }
    }

    #[test]
    fn reading_flags_dropped_misread_and_repeated_pieces() {
        let r = reading("0/0000:06:00.0, 0/0000:07:00.0");
        assert_eq!(devices("0/0000:06:00.0, 0/0000:07:00.0"), ["0000:06:00.0"]);
        assert!(r.misread[0].contains("xapi drops it"), "{:?}", r.misread);
        let r = reading("0/0000:06:00.10");
        assert!(r.devices.is_empty());
        assert!(
            r.misread[0].contains("reads it as 0/0000:06:00.1"),
            "{:?}",
            r.misread
        );
        let r = reading("0/0000:06:00.0;0/0000:07:00.0");
        assert_eq!(r.misread.len(), 1, "{:?}", r.misread);
        let r = reading("0/0000:06:00.0,1/0000:06:00.0");
        assert!(r.misread[0].contains("listed twice"), "{:?}", r.misread);
        assert!(reading("").devices.is_empty());
    }
}
