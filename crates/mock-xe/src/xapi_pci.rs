//! xapi's own readings of PCI lists, re-implemented for the mock from xapi-xe.md:
//! `other-config:pci` → the devices a VM start plugs, in plug order (`pciops.ml`
//! `other_pcidevs_of_vm` + `sort_pcidevs`, §1.2: split on `,` only, each piece through
//! `Scanf "%d/%04x:%02x:%02x.%01x"`, failures silently dropped, the fold reverses, groups by
//! `N` ascending), and the `xen-pciback.hide` value → hidden devices (`get_hidden_pcidevs`, §4:
//! consecutive 14-character `(%04x:%02x:%02x.%01x)` chunks, read in reverse).

use crate::ocaml_scanf::{bdf, bdf_string, PciAddr, ScanError, Scanner};

/// `N/DDDD:BB:SS.F` → `(N, address)`.
fn slash_bdf(piece: &str) -> Result<(i64, PciAddr), ScanError> {
    let mut s = Scanner::new(piece);
    let n = s.dec()?;
    s.lit(b'/')?;
    Ok((n, bdf(&mut s)?))
}

/// The devices xapi hands to xenopsd for this `other-config:pci` value, in plug order, as
/// canonical `DDDD:BB:SS.F` strings. `None` (key absent) and every unreadable piece give nothing.
pub fn plug_order(value: Option<&str>) -> Vec<String> {
    let Some(value) = value else {
        return Vec::new();
    };
    // fold_left with prepend: reverse input order.
    let mut devs: Vec<(i64, PciAddr)> = Vec::new();
    for piece in value.split(',') {
        if let Ok(d) = slash_bdf(piece) {
            devs.insert(0, d);
        }
    }
    let mut ids: Vec<i64> = devs.iter().map(|(n, _)| *n).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.iter()
        .flat_map(|id| {
            devs.iter()
                .filter(move |(n, _)| n == id)
                .map(|(_, a)| bdf_string(*a))
        })
        .collect()
}

/// `get_hidden_pcidevs` over the raw `xen-pciback.hide` value (without the key): the
/// devices, in the (reversed) order xapi builds; an error is the OCaml exception text.
pub fn hidden_devices(raw: &str) -> Result<Vec<PciAddr>, String> {
    const PAREN_LEN: usize = 14; // "(0000:00:00.0)"
    let mut devs = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let mut s = Scanner::new(rest);
        let dev = (|| {
            s.lit(b'(')?;
            let d = bdf(&mut s)?;
            s.lit(b')')?;
            Ok::<_, ScanError>(d)
        })()
        .map_err(|e| e.0)?;
        devs.insert(0, dev);
        rest = rest
            .get(PAREN_LEN..)
            .ok_or_else(|| "Invalid_argument(\"String.sub / Bytes.sub\")".to_string())?;
    }
    Ok(devs)
}

/// `pcidev_of_pci`: a PCI object's `pci-id` read with `bdf_fmt`.
pub fn pci_id(id: &str) -> Result<PciAddr, String> {
    bdf(&mut Scanner::new(id)).map_err(|e| e.0)
}

/// `(%04x:%02x:%02x.%01x)`.
pub fn paren(a: PciAddr) -> String {
    format!("({})", bdf_string(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(v: &str) -> Vec<String> {
        plug_order(Some(v))
    }

    // The table of xapi-xe.md §1.2, row by row.
    #[test]
    fn reference_table() {
        assert_eq!(
            order("0/0000:06:00.0,0/0000:07:00.0"),
            ["0000:07:00.0", "0000:06:00.0"]
        );
        assert_eq!(
            order("0/0000:06:00.0,1/0000:07:00.0"),
            ["0000:06:00.0", "0000:07:00.0"]
        );
        assert_eq!(
            order("1/0000:06:00.0,0/0000:07:00.0"),
            ["0000:07:00.0", "0000:06:00.0"]
        );
        assert_eq!(
            order("2/0000:01:00.0,0/0000:02:00.0,1/0000:03:00.0,0/0000:04:00.0"),
            [
                "0000:04:00.0",
                "0000:02:00.0",
                "0000:03:00.0",
                "0000:01:00.0"
            ]
        );
        assert_eq!(order("0/0000:06:00.0, 0/0000:07:00.0"), ["0000:06:00.0"]);
        assert_eq!(
            order("0/0000:06:00.0 ,0/0000:07:00.0"),
            ["0000:07:00.0", "0000:06:00.0"]
        );
        assert!(order(" 0/0000:06:00.0").is_empty());
        assert_eq!(order("0/0000:06:00.0;0/0000:07:00.0"), ["0000:06:00.0"]);
        assert!(order("0000:06:00.0").is_empty());
        assert!(order("0/06:00.0").is_empty());
        assert_eq!(order("0/000:84:00.0"), ["0000:84:00.0"]);
        assert_eq!(order("0/0000:6:0.0"), ["0000:06:00.0"]);
        assert!(order("0/00000:06:00.0").is_empty());
        assert_eq!(order("0/0000:06:00.10"), ["0000:06:00.1"]);
        assert_eq!(order("0/0000:06:00.8"), ["0000:06:00.8"]);
        assert_eq!(order("0/0000:AB:00.0"), ["0000:ab:00.0"]);
        assert_eq!(order("-1/0000:06:00.0"), ["0000:06:00.0"]);
        assert_eq!(order("+2/0000:06:00.0"), ["0000:06:00.0"]);
        assert_eq!(
            order("0/0000:06:00.0,0/0000:06:00.0"),
            ["0000:06:00.0", "0000:06:00.0"]
        );
        assert!(order("").is_empty());
        assert!(plug_order(None).is_empty());
    }

    #[test]
    fn hide_list_reads_long_form_reversed() {
        assert_eq!(
            hidden_devices("(0000:06:00.0)(0000:07:00.1)"),
            Ok(vec![(0, 7, 0, 1), (0, 6, 0, 0)])
        );
        assert_eq!(hidden_devices(""), Ok(vec![]));
        assert_eq!(
            hidden_devices("(06:00.0)").unwrap_err(),
            "Stdlib.Scanf.Scan_failure(\"scanf: bad input at char number 6: looking for ':', found '.'\")"
        );
    }
}
