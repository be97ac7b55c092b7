//! xenpci's test kit, shared by the integration tests of the workspace (dev-only, never in the
//! shipped binaries):
//!
//! * [`harness`]: throw-away host roots (generated fixture hosts, copies of `tests/fixtures`
//!   and `demo/`), small sysfs edits, and `xenpci` run against them;
//! * [`lab`]: the flow tests' scenario: a [`harness::Host`] for this host plus a two-host
//!   mock-xl lab, the mock xe, the other host's fake sysfs root, a state dir, and `xenpci` runs
//!   against all of it (through the Host's launcher);
//! * [`mock_xe`]: the mock `xe`'s state and log and their wiring, for every harness that
//!   drives it;
//! * [`cli`]: the one launcher of `xenpci` / `xenpci-plugin` runs (no inherited seam, one
//!   result type, [`harness::Run`]);
//! * [`bins`]: where the binaries of this build are, and the mock `xe` / `xl` (crates/mock-xe,
//!   crates/mock-xl), built once per test process with the cargo that runs the tests;
//! * [`rng`]: the one random generator of the generated-input tests;
//! * [`modgraph`]: the import graph of `src/` and its cycles (the no-cycle check in CI).
#![forbid(unsafe_code)]

pub mod bins;
pub mod cli;
pub mod harness;
pub mod lab;
pub mod mock_xe;
pub mod modgraph;
pub mod rng;
