//! TEMPORARY thin adapter over an `other-config:pci` value, until `crate::syntax::xapi_pci`
//! (the full xapi-faithful parser and generator) lands; then this file is deleted and the calls
//! go to that module. It reads only the canonical form `N/DDDD:BB:SS.F` strictly and reports
//! every other piece as not understood (so callers refuse to rewrite it), and orders devices the
//! way xapi plugs them (group ascending, written order reversed inside a group, xapi-xe.md §1.2).

use crate::pci::Bdf;

/// One device of a value, with its group and its place in xapi's plug order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The `N` before the `/`.
    pub group: i64,
    /// The device.
    pub bdf: Bdf,
    /// 0-based position in plug order.
    pub position: usize,
}

/// A value as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Value {
    /// Devices in plug order.
    pub devices: Vec<Device>,
    /// Pieces not in canonical form (xapi may drop or misread them).
    pub not_understood: Vec<String>,
}

fn canonical_piece(piece: &str) -> Option<(i64, Bdf)> {
    let (n, addr) = piece.split_once('/')?;
    let group: i64 = n
        .parse()
        .ok()
        .filter(|_| n.bytes().all(|b| b.is_ascii_digit()))?;
    let b = addr.as_bytes();
    let shape = b.len() == 12 && b[4] == b':' && b[7] == b':' && b[10] == b'.';
    if !shape || addr.bytes().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    addr.parse().ok().map(|bdf| (group, bdf))
}

/// Reads a value.
pub fn read(value: &str) -> Value {
    let mut v = Value::default();
    if value.is_empty() {
        return v;
    }
    let mut found = Vec::new();
    for piece in value.split(',') {
        match canonical_piece(piece) {
            Some(d) => found.push(d),
            None => v.not_understood.push(piece.to_string()),
        }
    }
    // xapi folds (reversing) then sorts by group, stable.
    found.reverse();
    found.sort_by_key(|(g, _)| *g);
    v.devices = found
        .into_iter()
        .enumerate()
        .map(|(position, (group, bdf))| Device {
            group,
            bdf,
            position,
        })
        .collect();
    v
}

/// The canonical value plugging `devices` in exactly this order: distinct groups 0, 1, 2, ...
pub fn generate(devices: &[Bdf]) -> String {
    devices
        .iter()
        .enumerate()
        .map(|(i, b)| format!("{i}/{b}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(v: &str) -> Vec<String> {
        read(v).devices.iter().map(|d| d.bdf.to_string()).collect()
    }

    #[test]
    fn plug_order_follows_xapi() {
        assert_eq!(
            order("0/0000:06:00.0,0/0000:07:00.0"),
            ["0000:07:00.0", "0000:06:00.0"]
        );
        assert_eq!(
            order("1/0000:06:00.0,0/0000:07:00.0"),
            ["0000:07:00.0", "0000:06:00.0"]
        );
        assert_eq!(
            order("0/0000:06:00.0,1/0000:07:00.0"),
            ["0000:06:00.0", "0000:07:00.0"]
        );
    }

    #[test]
    fn odd_pieces_are_reported() {
        let v = read("0/0000:06:00.0, 0/0000:07:00.0");
        assert_eq!(v.not_understood, [" 0/0000:07:00.0"]);
        assert_eq!(read("0/0000:06:00.10").not_understood.len(), 1);
        assert_eq!(read("0/0000:AB:00.0").not_understood.len(), 1);
        assert!(read("").devices.is_empty());
    }

    #[test]
    fn generate_uses_distinct_groups_and_round_trips() {
        let a: Bdf = "06:00.0".parse().unwrap();
        let b: Bdf = "07:00.0".parse().unwrap();
        let v = generate(&[b, a]);
        assert_eq!(v, "0/0000:07:00.0,1/0000:06:00.0");
        assert_eq!(order(&v), ["0000:07:00.0", "0000:06:00.0"]);
    }
}
