//! Where a recorded device is now. The function at the recorded BDF is checked first; when it is
//! not the recorded unit, the whole host is searched, and only a unique match counts: the same
//! serial, else the same ids in the same physical slot, else the same ids anywhere when exactly
//! one function has them. Two candidates are reported as ambiguous, never guessed between.

use serde::Serialize;

use super::record::{DeviceIdentity, Likeness};
use crate::host::Inventory;
use crate::pci::Bdf;

/// The verdict for one recorded device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Location {
    /// Still at its BDF.
    Same {
        /// How sure: `serial` or `slot` (ids and physical path), or `ids` when nothing better
        /// could be compared.
        by: &'static str,
    },
    /// Found, uniquely, at another BDF.
    Moved {
        /// Where it is now.
        to: Bdf,
        /// `serial`, `slot` or `ids` (the only function with these ids).
        by: &'static str,
    },
    /// Not on the host any more.
    Missing,
    /// More than one function could be it.
    Ambiguous {
        /// The candidates.
        candidates: Vec<Bdf>,
    },
}

fn by(l: Likeness) -> &'static str {
    match l {
        Likeness::SameUnit => "serial",
        Likeness::SameSlot => "slot",
        _ => "ids",
    }
}

/// Locates the device recorded at `bdf` with identity `rec` in `inv`.
pub fn locate(bdf: Bdf, rec: &DeviceIdentity, inv: &Inventory) -> Location {
    let here = inv
        .get(bdf)
        .map(|f| rec.likeness(&DeviceIdentity::of(f)))
        .unwrap_or(Likeness::Other);
    if here >= Likeness::SameSlot {
        return Location::Same { by: by(here) };
    }
    let scored: Vec<(Bdf, Likeness)> = inv
        .functions()
        .iter()
        .map(|f| (f.bdf, rec.likeness(&DeviceIdentity::of(f))))
        .filter(|(_, l)| *l > Likeness::Other)
        .collect();
    for level in [Likeness::SameUnit, Likeness::SameSlot, Likeness::SameKind] {
        let at: Vec<Bdf> = scored
            .iter()
            .filter(|(_, l)| *l == level)
            .map(|(b, _)| *b)
            .collect();
        match at.as_slice() {
            [] => continue,
            // The same kind of device at the recorded address, and no better candidate: it is
            // the recorded one as far as anything can tell.
            [only] if *only == bdf => return Location::Same { by: by(level) },
            [only] => {
                return Location::Moved {
                    to: *only,
                    by: by(level),
                }
            }
            many => {
                return Location::Ambiguous {
                    candidates: many.to_vec(),
                }
            }
        }
    }
    Location::Missing
}
