//! The build script of the `xenpci` command: packs the demo's bundled hosts into
//! `OUT_DIR/demo_hosts.bin` ([`demo_hosts`]), compiled into the binary as data.

use std::path::Path;

#[path = "build/demo_hosts.rs"]
mod demo_hosts;

fn main() {
    let out = std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo");
    demo_hosts::generate(Path::new(&out));
    println!("cargo:rerun-if-changed=build/demo_hosts.rs");
}
