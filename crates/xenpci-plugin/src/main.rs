//! The XAPI host plugin `xenpci`, installed as `/etc/xapi.d/plugins/xenpci` and called with
//! `xe host-call-plugin host-uuid=… plugin=xenpci fn=FN args:KEY=VALUE…`. It decodes the one
//! XML-RPC argv xapi passes ([`protocol`]), runs the library function ([`functions`]), and
//! prints one methodResponse: Success with a JSON string, or Failure `[code, message…]`.
//! It always exits 0 with a well-formed response, so xapi reports our error, not a crash.

mod functions;
mod protocol;
mod xml;

/// On musl (the shipped static builds) dlmalloc instead of musl's malloc: half the time of
/// `list --json` on 1000 functions went to musl's allocator (issue 18).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

use std::process::ExitCode;

fn main() -> ExitCode {
    // The environment, read once here.
    xenpci::config::install(xenpci::config::Config::from_env());
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let out = match args.as_slice() {
        [call] => match call.to_str().map(protocol::parse_call) {
            None => protocol::failure(
                "XENPCI_BAD_CALL",
                &[format!(
                    "argument 1 is not valid UTF-8 (xapi passes the XML-RPC call as text): {:?}",
                    call.to_string_lossy()
                )],
            ),
            Some(Ok(call)) => match functions::dispatch(&call) {
                Ok(value) => protocol::success(&value),
                Err(f) => protocol::failure(&f.code, &f.params),
            },
            Some(Err(e)) => protocol::failure("XENPCI_BAD_CALL", &[e.to_string()]),
        },
        _ => protocol::failure(
            "XENPCI_BAD_CALL",
            &[format!(
                "expected exactly one argument (the XML-RPC call xapi passes), got {}",
                args.len()
            )],
        ),
    };
    // A closed stdout must not panic (xapi has gone; there is nobody to answer).
    let _ = std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes());
    ExitCode::SUCCESS
}
