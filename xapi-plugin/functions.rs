//! The plugin's function table: each function takes the call's string arguments, runs the
//! library, and returns a JSON string — or a [`Failure`] with an xapi-style code and a message
//! naming the bad argument. No argument ever reaches a shell.

use std::collections::BTreeMap;

use crate::protocol::Call;

/// A failure response: code and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Error code (`UNKNOWN_XENAPI_PLUGIN_FUNCTION`, `XENPCI_MISSING_ARGUMENT`, ...).
    pub code: String,
    /// Parameters; the first is a human-readable message where we have one.
    pub params: Vec<String>,
}

impl Failure {
    fn new(code: &str, params: impl IntoIterator<Item = String>) -> Failure {
        Failure {
            code: code.into(),
            params: params.into_iter().collect(),
        }
    }
}

type Args = BTreeMap<String, String>;
type Function = fn(&Args) -> Result<String, Failure>;

/// The functions the plugin exports, by name.
pub const FUNCTIONS: &[(&str, Function)] = &[("version", version)];

/// Runs the call's function.
pub fn dispatch(call: &Call) -> Result<String, Failure> {
    match FUNCTIONS.iter().find(|(name, _)| *name == call.method) {
        Some((_, f)) => f(&call.args),
        None => Err(Failure::new(
            "UNKNOWN_XENAPI_PLUGIN_FUNCTION",
            [call.method.clone()],
        )),
    }
}

/// Rejects arguments the function does not know (a typo must not be silently ignored).
fn only(args: &Args, func: &str, known: &[&str]) -> Result<(), Failure> {
    match args.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(Failure::new(
            "XENPCI_INVALID_ARGUMENT",
            [
                format!(
                    "{func}: unknown argument {k:?} (expected one of: {})",
                    known.join(", ")
                ),
                k.clone(),
            ],
        )),
        None => Ok(()),
    }
}

fn version(args: &Args) -> Result<String, Failure> {
    only(args, "version", &[])?;
    Ok(serde_json::json!({
        "name": "xenpci",
        "version": env!("CARGO_PKG_VERSION"),
        "functions": FUNCTIONS.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
    })
    .to_string())
}
