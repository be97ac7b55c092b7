//! Fuzz target: the XAPI plugin's XML reader and call decoder (compiled in from crates/xenpci-plugin/src/).
//! Never panics; the reply to any call, echoing its method name, holds only characters XML 1.0
//! can carry and reads back with the same reader. The stable-Rust run of the same properties
//! is tests/fuzz_inputs.rs.
#![no_main]

#[path = "../../crates/xenpci-plugin/src/xml.rs"]
#[allow(dead_code)]
mod xml;
#[path = "../../crates/xenpci-plugin/src/protocol.rs"]
#[allow(dead_code)]
mod protocol;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let reply = match protocol::parse_call(s) {
        Ok(call) => protocol::failure("UNKNOWN_XENAPI_PLUGIN_FUNCTION", &[call.method]),
        Err(e) => protocol::failure("XENPCI_BAD_CALL", &[e.to_string()]),
    };
    assert!(reply.chars().all(xml::is_xml_char), "{reply:?}");
    assert!(xml::parse(&reply).is_ok(), "{reply:?}");
});
