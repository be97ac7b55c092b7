//! `hidden`: what is hidden now and after the next boot, with the persistent method given or
//! detected (when none can be detected, the current state alone and a warning saying why) — one
//! rule for the CLI and the plugin.

use super::OpError;
use crate::hide::methods::state::{self, Hidden};
use crate::hide::methods::{detect, Method};
use crate::hide::Ctx;

/// The hidden state, and the warnings to show.
pub fn hidden(ctx: Ctx<'_>, method: Option<Method>) -> Result<(Hidden, Vec<String>), OpError> {
    let mut warnings = Vec::new();
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
    Ok((state::hidden(ctx, method)?, warnings))
}
