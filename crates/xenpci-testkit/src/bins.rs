//! Where the binaries of the running test build are: `xenpci` (built by cargo before the
//! integration tests of the xenpci package run), and the plugin `xenpci-plugin` and the mock
//! `xe` and `xl`, which are binaries of their own crates (crates/xenpci-plugin, crates/mock-xe,
//! crates/mock-xl) and so are not built for xenpci's tests by cargo itself: the first test of a
//! process that asks for one runs `$CARGO build -p mock-xe --bin xe` (with the `fault-injection`
//! feature when this build has it) into the same target directory, once; cargo's own freshness
//! check makes that a no-op when nothing changed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root (the directory of xenpci's Cargo.toml).
pub fn workspace_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .expect("the workspace root of the test kit")
    })
}

/// The directory the running test's binaries are built into (`target/debug`): the test
/// executable is `target/debug/deps/NAME-HASH`.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable's path");
        let mut dir = exe
            .parent()
            .expect("the test executable's directory")
            .to_path_buf();
        if dir.ends_with("deps") {
            dir.pop();
        }
        dir
    })
}

/// The `xenpci` binary of this build.
pub fn xenpci() -> PathBuf {
    built("xenpci")
}

/// The `xenpci-plugin` binary of this build (crates/xenpci-plugin), built on first use.
pub fn plugin() -> PathBuf {
    plugin_str().into()
}

/// [`plugin`] as a `&str`, for the places that pass it on as text.
pub fn plugin_str() -> &'static str {
    static PLUGIN: OnceLock<String> = OnceLock::new();
    PLUGIN.get_or_init(|| build_member("xenpci-plugin", "xenpci-plugin"))
}

fn built(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.is_file(),
        "{} is not built (cargo builds it for xenpci's integration tests)",
        p.display()
    );
    p
}

/// The path of the mock `xe` (crates/mock-xe), built on first use. A `&str`, as
/// `env!("CARGO_BIN_EXE_xe")` was when the mock was a target of the xenpci package.
pub fn xe() -> &'static str {
    static XE: OnceLock<String> = OnceLock::new();
    XE.get_or_init(|| build_member("mock-xe", "xe"))
}

/// The path of the mock `xl` (crates/mock-xl), built on first use (see [`xe`]).
pub fn xl() -> &'static str {
    static XL: OnceLock<String> = OnceLock::new();
    XL.get_or_init(|| build_member("mock-xl", "xl"))
}

/// Builds `bin` of the workspace member `package` into this build's target directory and
/// profile, with the cargo running the tests (`CARGO`, else the one on PATH), and returns its
/// path. Panics, naming the command, when the build fails or the path is not UTF-8.
fn build_member(package: &str, bin: &str) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let dir = bin_dir();
    let mut c = Command::new(cargo);
    c.arg("build")
        .arg("--quiet")
        .arg("--locked")
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"))
        .args(["-p", package, "--bin", bin]);
    if let Some(target_dir) = dir.parent() {
        c.arg("--target-dir").arg(target_dir);
    }
    if dir.file_name().is_some_and(|n| n == "release") {
        c.arg("--release");
    }
    if xenpci::FAULT_INJECTION {
        c.args(["--features", "fault-injection"]);
    }
    let status = c
        .status()
        .unwrap_or_else(|e| panic!("running {c:?} to build {bin}: {e}"));
    assert!(status.success(), "{c:?} failed ({status})");
    let p = dir.join(bin);
    assert!(p.is_file(), "{c:?} did not produce {}", p.display());
    p.into_os_string()
        .into_string()
        .unwrap_or_else(|p| panic!("the path {p:?} of {bin} is not UTF-8"))
}
