//! `hidden`: what is hidden now and after the next boot, with the persistent method given or
//! detected (when none can be detected, the current state alone and a warning saying why) — one
//! rule for the CLI and the plugin.

use super::OpError;
use crate::hide::methods::state::{self, Hidden};
use crate::hide::methods::{detect, Method};
use crate::hide::Ctx;

/// The hidden state, and the warnings to show.
///
/// On a KVM host, hidden means bound to vfio-pci: now (the driver link) and after the next
/// boot (the udev rules xenpci wrote); `method` does not apply there.
pub fn hidden(ctx: Ctx<'_>, method: Option<Method>) -> Result<(Hidden, Vec<String>), OpError> {
    let mut warnings = Vec::new();
    if crate::host::xensource::Toolstack::of(ctx.root) == crate::host::xensource::Toolstack::Kvm {
        if let Some(m) = method {
            warnings.push(format!(
                "--method {m} is Xen's; on a KVM host the next boot is read from the vfio udev                  rules"
            ));
        }
        return Ok((crate::hide::vfio::hidden(ctx)?, warnings));
    }
    let method = match method {
        Some(m) => Some(m),
        None => match detect::detect(ctx) {
            Ok(d) => Some(d.method),
            Err(e) => {
                warnings.push(format!("{e}; showing the current state only"));
                None
            }
        },
    };
    let mut h = state::hidden(ctx, method)?;
    h.vf_hides = super::sriov_boot::recorded_hides(ctx.root);
    Ok((h, warnings))
}
