//! The mock `xe`: a stateful stand-in for XAPI's CLI for the commands xenpci uses, with the
//! real xe's argument syntax, record layout, error texts and exit codes (see
//! docs/reference/xapi-xe.md §2 and §7, and crates/mock-xe/README.md).
//!
//! One call: log it (`XE_MOCK_LOG`), parse argv like xe's client and server, sleep the injected
//! latency, lock and load `$XE_MOCK_STATE`, count the call and apply an injected fault, run the
//! command, save the state, unlock, then run a host plugin if the command was
//! `host-call-plugin`. With `XE_MOCK_XENSTORE=1` the PCI backend nodes xenopsd writes are
//! mirrored into the xenstored named by `XENSTORED_PATH`. `xe --version` says it is the mock
//! (the real xe knows no such command).

mod args;
mod commands;
mod errors;
mod faults;
mod ocaml_scanf;
mod output;
mod plugin;
mod records;
mod state;
mod xapi_pci;
mod xenstore;
mod xmlrpc;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use args::ClientArgs;
use commands::Next;
use errors::XeError;
use output::Printer;

const MOCK_VERSION: &str = concat!(
    "mock-xe ",
    env!("CARGO_PKG_VERSION"),
    " (xenpci's mock of the XAPI xe CLI; emulates XCP-ng 8.3/8.2 xe; not the real xe)"
);

/// A failure of the mock itself (bad state file or hook variable): exit 2, never an xe error.
#[derive(Debug, thiserror::Error)]
enum MockError {
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Fault(#[from] faults::FaultError),
    #[error(transparent)]
    XenStore(#[from] xenstore::XenStoreError),
    #[error("`{0}` is a real xe command the mock does not emulate")]
    NotEmulated(String),
}

fn usage(argv0: &str) -> String {
    format!(
        "Usage:
  {argv0} <command>
    [ -s <server> ]            XenServer host
    [ -p <port> ]              XenServer port number
    [ -u <username> -pw <password> | -pwf <password file> ]
                               User authentication (password or file)
    [ --nossl ]                Disable SSL/TLS
    [ --debug ]                Enable debug output
    [ --debug-on-fail ]        Enable debug output only on failure
    [ --minimal ]              Output only values in a comma-separated lists
    [ --traceparent <value> ]  Distributed tracing context
    [ --trace ]                Show task stacktrace on failure
    [ <other arguments> ... ]  Command-specific options

A full list of commands can be obtained by running
  {argv0} help -s <server> -p <port>
"
    )
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// What the call printed and its exit status.
struct Outcome {
    stdout: String,
    stderr: String,
    code: u8,
}

fn xe_failure(printed: String, e: XeError) -> Outcome {
    match e {
        XeError::Multiple(_) => Outcome {
            stdout: printed + &e.to_string(),
            stderr: String::new(),
            code: 1,
        },
        e => Outcome {
            stdout: printed,
            stderr: e.to_string(),
            code: 1,
        },
    }
}

fn run(argv0: &str, args: &[String]) -> Result<Outcome, MockError> {
    if let Some(log) = env("XE_MOCK_LOG") {
        faults::log_call(&log, args)?;
    }
    if args.len() == 1 && args[0] == "--version" {
        return Ok(Outcome {
            stdout: format!("{MOCK_VERSION}\n"),
            stderr: String::new(),
            code: 0,
        });
    }
    if args.iter().any(|a| a == "-version") {
        return Ok(Outcome {
            stdout: "ThinCLI protocol: 0.2\n".into(),
            stderr: String::new(),
            code: 0,
        });
    }
    let server_args = match args::client(args) {
        ClientArgs::Usage => {
            return Ok(Outcome {
                stdout: String::new(),
                stderr: usage(argv0),
                code: 0,
            })
        }
        ClientArgs::Server(a) => a,
    };
    let cmd = match args::parse(&server_args) {
        Ok(c) => c,
        Err(e) => return Ok(xe_failure(String::new(), e)),
    };
    if commands::not_emulated(&cmd.name) {
        return Err(MockError::NotEmulated(cmd.name));
    }
    let faults = faults::parse_faults(&env("XE_MOCK_FAIL").unwrap_or_default())?;
    let delay = faults::latency(&env("XE_MOCK_LATENCY_MS").unwrap_or_default(), &cmd.name)?;
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    let state_path = PathBuf::from(env("XE_MOCK_STATE").ok_or(state::StateError::NoStatePath)?);
    let mut out = Printer::new(cmd.params.flag("minimal"));
    let (next, plugins_dir) = {
        let (lock, mut st) = state::Locked::open(&state_path)?;
        let before = xenstore::snapshot(&st);
        let result = if commands::exists(&cmd.name, &st) {
            let count = st.call_counts.entry(cmd.name.clone()).or_insert(0);
            *count += 1;
            let count = *count;
            match faults::injected(&faults, &cmd.name, count) {
                Some(e) => Err(e),
                None => commands::dispatch(&cmd, &mut st, &mut out),
            }
        } else {
            Err(XeError::UnknownCommand(cmd.name.clone()))
        };
        lock.save(&st)?;
        if env("XE_MOCK_XENSTORE").as_deref() == Some("1") {
            xenstore::apply(&before, &xenstore::snapshot(&st))?;
        }
        let dir = env("XE_MOCK_PLUGINS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                state_path
                    .parent()
                    .map(|p| p.join("plugins"))
                    .unwrap_or_else(|| PathBuf::from("plugins"))
            });
        (result, dir)
    };
    let result = match next {
        Ok(Next::Plugin(call)) => {
            let timeout = env("XE_MOCK_PLUGIN_TIMEOUT_MS")
                .and_then(|t| t.parse().ok())
                .map(Duration::from_millis);
            plugin::run(&call, &plugins_dir, timeout).map(|value| out.list(&[value]))
        }
        Ok(Next::Done) => Ok(()),
        Err(e) => Err(e),
    };
    Ok(match result {
        Ok(()) => Outcome {
            stdout: out.finish(),
            stderr: String::new(),
            code: 0,
        },
        Err(e) => {
            // Non-minimal prints already went out; the minimal buffer is never flushed.
            let printed = if cmd.params.flag("minimal") {
                String::new()
            } else {
                out.finish()
            };
            xe_failure(printed, e)
        }
    })
}

fn main() -> ExitCode {
    let mut argv = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let argv0 = argv.next().unwrap_or_else(|| "xe".into());
    let args: Vec<String> = argv.collect();
    use std::io::Write;
    match run(&argv0, &args) {
        Ok(o) => {
            let _ = std::io::stdout().write_all(o.stdout.as_bytes());
            let _ = std::io::stderr().write_all(o.stderr.as_bytes());
            ExitCode::from(o.code)
        }
        Err(e) => {
            let mut msg = format!("mock-xe: {e}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            eprintln!("{msg}");
            ExitCode::from(2)
        }
    }
}
