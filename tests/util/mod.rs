//! The integration tests' `mod util;`: the shared harness now lives in the test kit
//! (crates/xenpci-testkit, `xenpci_testkit::harness`); this re-exports it so the tests' imports
//! stay `util::…`.
#![allow(unused_imports)]

pub use xenpci_testkit::harness::*;
