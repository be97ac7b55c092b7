//! Device identity: which physical device a hide or an assignment meant, so that a BDF that moved
//! (a card added in front, slots swapped, a firmware update) is noticed before pciback or a guest
//! gets the wrong device.
//!
//! * [`record`]: the identity of one function — ids, its physical path (the chain of device/
//!   function numbers from the root complex, which bus renumbering does not change) and the
//!   strongest serial it offers (PCIe Device Serial Number).
//! * [`state`]: the schema-versioned state file (`/var/lib/xenpci/devices.json`) holding each
//!   recorded device with the places that name it.
//! * [`desired`]: the desired-state file of `apply` / `export` (TOML, devices by identity).
//! * [`guard`]: the policy's facts with the identity check (a BDF that is not the recorded
//!   device any more is refused for a give or a hide).
//! * [`locate`]: where a recorded device is now — at its BDF, moved (a unique match), missing or
//!   ambiguous — judged from an [`crate::host::Inventory`].

pub mod desired;
pub mod guard;
pub mod locate;
pub mod record;
pub mod state;

pub use locate::{locate, Location};
pub use record::{DeviceIdentity, PhysPath, Serial};
pub use state::{Entry, State, StateError, Use};
