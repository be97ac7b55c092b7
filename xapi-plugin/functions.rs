//! The plugin's function table: each function takes the call's string arguments, runs the
//! library, and returns a JSON string — or a [`Failure`] with an xapi-style code and a message
//! naming the bad argument. No argument ever reaches a shell.

use std::collections::BTreeMap;

use xenpci::exec::{Runner, SystemRunner};
use xenpci::host::{filter, preflight, HostRoot, Inventory};
use xenpci::pci::Bdf;

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
pub const FUNCTIONS: &[(&str, Function)] =
    &[("version", version), ("list", list), ("check", check)];

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

/// The host root: `XENPCI_ROOT` as for the CLI (xapi itself passes only PATH, so on a real host
/// this is `/`).
fn root() -> HostRoot {
    HostRoot::from_env()
}

fn invalid(func: &str, key: &str, msg: String) -> Failure {
    Failure::new(
        "XENPCI_INVALID_ARGUMENT",
        [format!("{func}: argument {key}: {msg}"), key.to_string()],
    )
}

/// A required argument.
fn required<'a>(args: &'a Args, func: &str, key: &str) -> Result<&'a str, Failure> {
    args.get(key).map(String::as_str).ok_or_else(|| {
        Failure::new(
            "XENPCI_MISSING_ARGUMENT",
            [
                format!("{func}: argument {key:?} is required"),
                key.to_string(),
            ],
        )
    })
}

/// A list of PCI addresses: `bdf=05:00.0` or `bdf=05:00.0,06:00.0` (commas or spaces).
fn bdfs(args: &Args, func: &str) -> Result<Vec<Bdf>, Failure> {
    let text = required(args, func, "bdf")?;
    let list: Vec<&str> = text.split([',', ' ']).filter(|s| !s.is_empty()).collect();
    if list.is_empty() {
        return Err(invalid(
            func,
            "bdf",
            "is empty (expected e.g. 0000:05:00.0)".into(),
        ));
    }
    list.iter()
        .map(|s| {
            s.parse::<Bdf>()
                .map_err(|e| invalid(func, "bdf", e.to_string()))
        })
        .collect()
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, Failure> {
    serde_json::to_string(v)
        .map_err(|e| Failure::new("XENPCI_FAILED", [format!("cannot encode the result: {e}")]))
}

/// `list` [filter=VENDOR:DEVICE:CLASS,...]: the same JSON array as `xenpci list --json`.
fn list(args: &Args) -> Result<String, Failure> {
    only(args, "list", &["filter"])?;
    let filters = match args.get("filter") {
        Some(f) => filter::parse(f).map_err(|e| invalid("list", "filter", e.to_string()))?,
        None => Vec::new(),
    };
    let inv = Inventory::scan(&root());
    let records: Vec<_> = inv
        .functions()
        .iter()
        .filter(|f| filter::any_matches(&filters, f.vendor_id, f.device_id, f.class))
        .map(|f| f.record(&inv))
        .collect();
    json(&records)
}

/// `check` bdf=BDF[,BDF...]: the same JSON document as `xenpci check --json`.
fn check(args: &Args) -> Result<String, Failure> {
    only(args, "check", &["bdf"])?;
    let bdfs = bdfs(args, "check")?;
    let root = root();
    let system = SystemRunner;
    let runner: Option<&dyn Runner> = root.is_real().then_some(&system as &dyn Runner);
    let (_, output) = preflight::check_host(&root, runner, &bdfs);
    json(&output)
}
