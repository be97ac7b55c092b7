//! Fuzz target `xl_cfg`: the xl.cfg parser and document model never panic, every accepted input
//! prints back byte for byte, and the document's settings equal the parser's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xenpci::syntax::xl_cfg::parse;
use xenpci::xlcfg::Document;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse(s);
    match Document::parse(s) {
        Ok(doc) => {
            assert_eq!(doc.to_string(), s);
            assert_eq!(doc.config().ok(), parsed.ok());
        }
        Err(e) => {
            assert!(parsed.is_err());
            assert!(!e.diagnostics.is_empty());
        }
    }
});
