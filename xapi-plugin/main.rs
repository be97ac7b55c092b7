//! The XAPI host plugin `xenpci`, installed as `/etc/xapi.d/plugins/xenpci` and called with
//! `xe host-call-plugin host-uuid=… plugin=xenpci fn=FN args:KEY=VALUE…`. It decodes the one
//! XML-RPC argv xapi passes ([`protocol`]), runs the library function ([`functions`]), and
//! prints one methodResponse: Success with a JSON string, or Failure `[code, message…]`.
//! It always exits 0 with a well-formed response, so xapi reports our error, not a crash.

mod functions;
mod protocol;
mod xml;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = match args.as_slice() {
        [call] => match protocol::parse_call(call) {
            Ok(call) => match functions::dispatch(&call) {
                Ok(value) => protocol::success(&value),
                Err(f) => protocol::failure(&f.code, &f.params),
            },
            Err(e) => protocol::failure("XENPCI_BAD_CALL", &[e.to_string()]),
        },
        _ => protocol::failure(
            "XENPCI_BAD_CALL",
            &[format!(
                "expected exactly one argument (the XML-RPC call xapi passes), got {}",
                args.len()
            )],
        ),
    };
    print!("{out}");
    ExitCode::SUCCESS
}
