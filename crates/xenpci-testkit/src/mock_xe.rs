//! The mock `xe`'s files in a test's directory — its state and its call log — and the
//! environment that points `xenpci` (as `XENPCI_XE`) and the mock itself at them. Every harness
//! that drives the mock wires it through here: [`crate::harness::Host::with_mock_xe`], the
//! two-host lab ([`crate::lab::Scenario`]) and the assign tests' world.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The mock `xe` of one test: where its state and log are.
#[derive(Debug, Clone)]
pub struct MockXe {
    /// `XE_MOCK_STATE`: the mock's JSON state (hosts, PCIs, VMs).
    pub state: PathBuf,
    /// `XE_MOCK_LOG`: one line per call.
    pub log: PathBuf,
}

impl MockXe {
    /// The mock with its state at `dir/state_name` (written from `state` when given) and its
    /// log at `dir/xe.log`.
    pub fn at(dir: &Path, state_name: &str, state: Option<&Value>) -> MockXe {
        let m = MockXe {
            state: dir.join(state_name),
            log: dir.join("xe.log"),
        };
        if let Some(s) = state {
            m.set_state(s);
        }
        m
    }

    /// Points `c` (a `xenpci` run, or the mock itself) at this mock: `XENPCI_XE`,
    /// `XE_MOCK_STATE`, `XE_MOCK_LOG`; no inherited fault or latency hook.
    pub fn wire(&self, c: &mut Command) {
        c.env("XENPCI_XE", crate::bins::xe())
            .env("XE_MOCK_STATE", &self.state)
            .env("XE_MOCK_LOG", &self.log)
            .env_remove("XE_MOCK_FAIL")
            .env_remove("XE_MOCK_LATENCY_MS");
    }

    /// The mock `xe ARGS…` itself, wired.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(crate::bins::xe());
        self.wire(&mut c);
        c.args(args);
        c
    }

    /// The mock's state now.
    pub fn state(&self) -> Value {
        let text = std::fs::read_to_string(&self.state)
            .unwrap_or_else(|e| panic!("read {}: {e}", self.state.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", self.state.display()))
    }

    /// Replaces the mock's state.
    pub fn set_state(&self, state: &Value) {
        std::fs::write(&self.state, state.to_string())
            .unwrap_or_else(|e| panic!("write {}: {e}", self.state.display()));
    }

    /// The calls the mock received, one per line.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}
