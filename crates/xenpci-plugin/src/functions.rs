//! The plugin's function table: each function takes the call's string arguments, runs the
//! library, and returns a JSON string — or a [`Failure`] whose code comes from the error's kind
//! (`XENPCI_REFUSED`, `XENPCI_FAILED`, `XENPCI_INVALID_ARGUMENT`) and a message naming the bad
//! argument. Which arguments a function takes comes from [`help::HELP`], which `fn=help`
//! returns. No argument ever reaches a shell.

mod help;

use std::collections::BTreeMap;

use xenpci::exec::{Runner, SystemRunner};
use xenpci::flows::transport::{Site, Transport};
use xenpci::flows::xl::Xl;
use xenpci::hide::apply::{Options, Outcome};
use xenpci::hide::Ctx;
use xenpci::host::{filter, HostRoot};
use xenpci::ops::{give, OpError};
use xenpci::pci::Bdf;
use xenpci::policy::Override;
use xenpci::xapi::{assign, Xe};

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
pub const FUNCTIONS: &[(&str, Function)] = &[
    ("help", help),
    ("version", version),
    ("list", list),
    ("check", check),
    ("hidden", hidden),
    ("sriov", sriov),
    ("verify", verify),
    ("apply", apply),
    ("export", export),
    ("hide", hide),
    ("unhide", unhide),
    ("assigned", assigned),
    ("attach", attach),
    ("detach", detach),
];

/// Runs the call's function.
pub fn dispatch(call: &Call) -> Result<String, Failure> {
    // The --root contract: under a fixture root, no host tool runs (only the stand-ins).
    xenpci::exec::confine_to_root(root().dir());
    // Arguments as the CLI spells its options work too: `dry-run` is `dry_run`.
    let args: Args = call
        .args
        .iter()
        .map(|(k, v)| (k.replace('-', "_"), v.clone()))
        .collect();
    match FUNCTIONS.iter().find(|(name, _)| *name == call.method) {
        // A root that does not exist is a failure, never an empty host (`version` and `help`
        // read no host).
        Some((name, _)) if !matches!(*name, "version" | "help") && root().check().is_err() => {
            let e = root().check().unwrap_err();
            Err(Failure::new("XENPCI_FAILED", [format!("{name}: {e}")]))
        }
        Some((_, f)) => f(&args),
        None => Err(Failure::new(
            "UNKNOWN_XENAPI_PLUGIN_FUNCTION",
            [call.method.clone()],
        )),
    }
}

/// Rejects arguments the function does not know (a typo must not be silently ignored).
fn only(args: &Args, func: &str) -> Result<(), Failure> {
    let known = help::args_of(func);
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

/// `help`: every function with its arguments, result and faults ([`help::HELP`]).
fn help(args: &Args) -> Result<String, Failure> {
    only(args, "help")?;
    json(&help::HELP)
}

fn version(args: &Args) -> Result<String, Failure> {
    only(args, "version")?;
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
    HostRoot::configured()
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

/// `list` [filter=VENDOR:DEVICE:CLASS,...] [slot=SLOT]: the same JSON array as
/// `xenpci list --json`.
fn list(args: &Args) -> Result<String, Failure> {
    only(args, "list")?;
    let filters = match args.get("filter") {
        Some(f) => filter::parse(f).map_err(|e| invalid("list", "filter", e.to_string()))?,
        None => Vec::new(),
    };
    let slot = match args.get("slot") {
        Some(s) => {
            Some(xenpci::host::slot::parse(s).map_err(|e| invalid("list", "slot", e.to_string()))?)
        }
        None => None,
    };
    let sel = xenpci::ops::list::Selection {
        filters,
        slot,
        numa_node: false,
    };
    json(&xenpci::ops::list::list(&root(), &sel).1)
}

/// `check` bdf=BDF[,BDF...]: the same JSON document as `xenpci check --json`.
fn check(args: &Args) -> Result<String, Failure> {
    only(args, "check")?;
    let root = root();
    let system = SystemRunner;
    let runner: Option<&dyn Runner> = root.is_real().then_some(&system as &dyn Runner);
    if !args.contains_key("bdf") {
        return json(&xenpci::ops::check::host(&root, runner));
    }
    let bdfs = bdfs(args, "check")?;
    let (_, report) = xenpci::ops::check::check(&root, runner, &system, &bdfs);
    json(&report)
}

/// A boolean argument: `true`/`false`, `yes`/`no`, `1`/`0`, `on`/`off` (empty or absent: false).
fn flag(args: &Args, func: &str, key: &str) -> Result<bool, Failure> {
    match args.get(key).map(|s| s.to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("false") | Some("no") | Some("0") | Some("off") => Ok(false),
        Some("true") | Some("yes") | Some("1") | Some("on") => Ok(true),
        Some(other) => Err(invalid(
            func,
            key,
            format!("{other:?} is not a boolean (expected true or false)"),
        )),
    }
}

/// An optional argument parsed with FromStr.
fn parsed<T: std::str::FromStr<Err = String>>(
    args: &Args,
    func: &str,
    key: &str,
) -> Result<Option<T>, Failure> {
    args.get(key)
        .filter(|v| !v.is_empty())
        .map(|v| v.parse::<T>().map_err(|e| invalid(func, key, e)))
        .transpose()
}

fn failed(func: &str, message: String) -> Failure {
    Failure::new("XENPCI_FAILED", [format!("{func}: {message}")])
}

/// How the plugin spells an override.
fn override_arg(o: Override) -> &'static str {
    match o {
        Override::Force => "force=true",
    }
}

/// An operation's error as a fault: the code from its kind (`XENPCI_REFUSED`,
/// `XENPCI_INVALID_ARGUMENT`, `XENPCI_FAILED`), the message (with the override spelt as an
/// argument) and the failing input.
fn op_failure(func: &str, e: &OpError) -> Failure {
    let mut msg = format!("{func}: {e}");
    if let Some(o) = e.overridable() {
        msg.push_str(&format!(" (to do it anyway: {})", override_arg(o)));
    }
    let mut params = vec![msg];
    params.extend(e.input());
    Failure::new(e.kind().fault(), params)
}

/// `hidden` [method=M]: the same JSON as `xenpci hidden --json`.
fn hidden(args: &Args) -> Result<String, Failure> {
    only(args, "hidden")?;
    let root = root();
    let runner = SystemRunner;
    let ctx = Ctx {
        root: &root,
        runner: &runner,
    };
    let method = parsed(args, "hidden", "method")?;
    let (h, _) = xenpci::ops::hidden::hidden(ctx, method).map_err(|e| op_failure("hidden", &e))?;
    json(&h)
}

/// `sriov` [pf=PF] [count=N persistent dry_run force]: without count the same JSON as
/// `xenpci sriov [PF] --json`; with count (and pf) the outcome of `xenpci sriov set PF N --json`.
fn sriov(args: &Args) -> Result<String, Failure> {
    only(args, "sriov")?;
    let root = root();
    let runner = SystemRunner;
    let pf = match args.get("pf").filter(|p| !p.is_empty()) {
        Some(p) => Some(
            p.parse::<Bdf>()
                .map_err(|e| invalid("sriov", "pf", e.to_string()))?,
        ),
        None => None,
    };
    let Some(count) = args.get("count").filter(|c| !c.is_empty()) else {
        for k in ["persistent", "dry_run", "force"] {
            if args.contains_key(k) {
                return Err(invalid(
                    "sriov",
                    k,
                    "only with count (a VF count change)".into(),
                ));
            }
        }
        let r =
            xenpci::ops::sriov::report(&root, &runner, pf).map_err(|e| op_failure("sriov", &e))?;
        return json(&r);
    };
    let n: u32 = count.parse().map_err(|_| {
        invalid(
            "sriov",
            "count",
            format!("{count:?} is not a VF count (expected 0 to the PF's sriov_totalvfs)"),
        )
    })?;
    let Some(pf) = pf else {
        return Err(Failure::new(
            "XENPCI_MISSING_ARGUMENT",
            [
                "sriov: argument \"pf\" is required with count".to_string(),
                "pf".into(),
            ],
        ));
    };
    let opts = xenpci::ops::sriov::SetOptions {
        persistent: flag(args, "sriov", "persistent")?,
        dry_run: flag(args, "sriov", "dry_run")?,
        force: flag(args, "sriov", "force")?,
    };
    let out = xenpci::ops::sriov::set(&root, &runner, pf, n, opts)
        .map_err(|e| op_failure("sriov", &e))?;
    json(&serde_json::json!({ "refused": false, "outcome": out }))
}

/// `verify` [repair dry_run]: the same JSON as `xenpci verify --json` (whatever it found: the
/// answer's `ok` says whether all is well).
fn verify(args: &Args) -> Result<String, Failure> {
    only(args, "verify")?;
    let root = root();
    let runner = SystemRunner;
    let ctx = Ctx {
        root: &root,
        runner: &runner,
    };
    let opts = xenpci::ops::verify::VerifyOptions {
        repair: flag(args, "verify", "repair")?,
        dry_run: flag(args, "verify", "dry_run")?,
    };
    let r = xenpci::ops::verify::verify(ctx, opts).map_err(|e| op_failure("verify", &e))?;
    json(&r)
}

/// `apply` path=FILE [dry_run]: the same JSON as `xenpci apply FILE --json`.
fn apply(args: &Args) -> Result<String, Failure> {
    only(args, "apply")?;
    let path = args
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| invalid("apply", "path", "missing (the desired-state file)".into()))?;
    let text = match xenpci::fsutil::read_text(std::path::Path::new(path)) {
        Ok(Some(t)) => t,
        Ok(None) => return Err(invalid("apply", "path", format!("{path}: no such file"))),
        Err(e) => return Err(invalid("apply", "path", e.to_string())),
    };
    let root = root();
    let runner = SystemRunner;
    let ctx = Ctx {
        root: &root,
        runner: &runner,
    };
    let dry_run = flag(args, "apply", "dry_run")?;
    let r = xenpci::ops::apply::apply(ctx, &text, path, dry_run)
        .map_err(|e| op_failure("apply", &e))?;
    json(&r)
}

/// `export`: the desired-state file's text.
fn export(args: &Args) -> Result<String, Failure> {
    only(args, "export")?;
    let root = root();
    let runner = SystemRunner;
    let ctx = Ctx {
        root: &root,
        runner: &runner,
    };
    let d = xenpci::ops::apply::export(ctx).map_err(|e| op_failure("export", &e))?;
    json(&d.to_text())
}

fn hide_options(args: &Args, func: &str) -> Result<Options, Failure> {
    Ok(Options {
        persistent: flag(args, func, "persistent")?,
        now: flag(args, func, "now")?,
        method: parsed(args, func, "method")?,
        live: parsed(args, func, "live")?,
        dry_run: flag(args, func, "dry_run")?,
        force: flag(args, func, "force")?,
        with_group: flag(args, func, "with_group")?,
    })
}

/// Turns a hide/unhide outcome into the plugin's answer: the Outcome JSON when everything was
/// done (or planned), else a Failure that says which step failed and what was undone.
fn hide_answer(func: &str, out: Result<Outcome, OpError>) -> Result<String, Failure> {
    let out = out.map_err(|e| op_failure(func, &e))?;
    if let Some(r) = &out.result {
        if let Some(f) = &r.failure {
            let mut msg = format!("{f}");
            for u in &f.undone {
                msg.push_str(&format!("; undone: {u}"));
            }
            for u in &f.not_undone {
                msg.push_str(&format!("; NOT undone: {u}"));
            }
            return Err(failed(func, msg));
        }
        if let Some(c) = &r.unconfirmed {
            return Err(failed(func, c.clone()));
        }
    }
    json(&out)
}

/// `hide` bdf=... [persistent now method live dry_run force with_group].
fn hide(args: &Args) -> Result<String, Failure> {
    only(args, "hide")?;
    let bdfs = bdfs(args, "hide")?;
    let opts = hide_options(args, "hide")?;
    let root = root();
    let runner = SystemRunner;
    hide_answer(
        "hide",
        give::hide(
            Ctx {
                root: &root,
                runner: &runner,
            },
            &bdfs,
            opts,
        ),
    )
}

/// `unhide` bdf=... [persistent now method live dry_run force].
fn unhide(args: &Args) -> Result<String, Failure> {
    only(args, "unhide")?;
    let bdfs = bdfs(args, "unhide")?;
    let opts = hide_options(args, "unhide")?;
    let root = root();
    let runner = SystemRunner;
    hide_answer(
        "unhide",
        give::unhide(
            Ctx {
                root: &root,
                runner: &runner,
            },
            &bdfs,
            opts,
        ),
    )
}

/// `assigned`: every VM's devices, as `xenpci assigned --json`.
fn assigned(args: &Args) -> Result<String, Failure> {
    only(args, "assigned")?;
    let runner = SystemRunner;
    let vms = assign::assigned(&Xe::new(&runner), &root())
        .map_err(|e| failed("assigned", e.to_string()))?;
    json(&vms)
}

/// The local host as a flow site: xl runs here, directly (no transport).
fn local_site(runner: &dyn Runner) -> Site<'_> {
    Site {
        runner,
        local: Some("localhost".into()),
        transport: Transport::Local,
        root: root(),
        remote_root: "/".into(),
    }
}

/// `attach` domain=DOM spec=PCI_SPEC_STRING [dry_run force]: `xenpci attach` (the policy, then
/// xl pci-attach, checked first, verified in XenStore).
fn attach(args: &Args) -> Result<String, Failure> {
    only(args, "attach")?;
    let dom = required(args, "attach", "domain")?;
    let dry_run = flag(args, "attach", "dry_run")?;
    let force = flag(args, "attach", "force")?;
    let runner = SystemRunner;
    let site = local_site(&runner);
    let xl = Xl {
        site: &site,
        host: "localhost",
    };
    if let Some(pf) = args.get("vf_of").filter(|p| !p.is_empty()) {
        if args.contains_key("spec") {
            return Err(invalid(
                "attach",
                "vf_of",
                "not with spec (one or the other)".into(),
            ));
        }
        let pf: Bdf = pf
            .parse()
            .map_err(|e: xenpci::pci::BdfError| invalid("attach", "vf_of", e.to_string()))?;
        let r = give::attach_vf_of(&xl, dom, pf, dry_run, force)
            .map_err(|e| op_failure("attach", &e))?;
        return json(&r);
    }
    let spec = required(args, "attach", "spec")?;
    let report =
        give::attach(&xl, dom, spec, dry_run, force).map_err(|e| op_failure("attach", &e))?;
    json(&report)
}

/// `detach` domain=DOM bdf=BDF [force dry_run]: `xenpci detach`.
fn detach(args: &Args) -> Result<String, Failure> {
    only(args, "detach")?;
    let dom = required(args, "detach", "domain")?;
    let bdf: Bdf = required(args, "detach", "bdf")?
        .parse()
        .map_err(|e: xenpci::pci::BdfError| invalid("detach", "bdf", e.to_string()))?;
    let force = flag(args, "detach", "force")?;
    let dry_run = flag(args, "detach", "dry_run")?;
    let runner = SystemRunner;
    let site = local_site(&runner);
    let xl = Xl {
        site: &site,
        host: "localhost",
    };
    let report =
        give::detach(&xl, dom, bdf, force, dry_run).map_err(|e| op_failure("detach", &e))?;
    json(&report)
}
