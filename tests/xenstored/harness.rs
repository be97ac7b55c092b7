//! Test helper (include with `#[path = "xenstored/harness.rs"] mod xenstored;`): a real oxenstored
//! for XenStore tests, started by `tests/xenstored/start.sh` once per test binary.
//!
//! Lifetime without unsafe code: start.sh runs in the foreground and stops the daemon when its
//! stdin reaches end-of-file. The test process holds the write end of that pipe, so whenever the
//! test binary exits (normally, by panic, or killed) the pipe closes and the daemon stops; if the
//! script itself is killed, setpriv's parent-death signal and `unshare --kill-child` take the
//! daemon down; and start.sh stops it after XENSTORED_TIMEOUT (600 s here) in any case.
//! [`Daemon`] owned by a test (see [`Daemon::start`]) stops it on Drop.
//!
//! If oxenstored cannot start, [`shared`] panics with the script's message (the test fails);
//! only `XENPCI_SKIP_XENSTORED=1` turns that into a skip, which prints a `SKIP <test>` line in the
//! test run's output (not captured) for every test that did not run.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A running oxenstored.
pub struct Daemon {
    /// `XENSTORED_PATH` for clients.
    pub socket: String,
    /// oxenstored's pid (in the caller's pid namespace).
    pub pid: u32,
    child: Mutex<Child>,
    stdin: Mutex<Option<ChildStdin>>,
    _stdout: Mutex<BufReader<ChildStdout>>,
}

impl Daemon {
    /// Starts a private daemon (its own mount namespace and socket).
    pub fn start() -> Result<Daemon, String> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/xenstored/start.sh");
        let mut child = Command::new("bash")
            .arg(script)
            .env("XENSTORED_TIMEOUT", "600")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {script}: {e}"))?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (mut socket, mut pid) = (None, None);
        let mut line = String::new();
        while socket.is_none() || pid.is_none() {
            line.clear();
            if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                return Err(format!(
                    "oxenstored did not start ({script} exited: {status}). Install Debian's \
                     xen-utils-4.17 (and gcc, util-linux), or set XENPCI_SKIP_XENSTORED=1 to skip \
                     the real-XenStore tests explicitly. Script output:\n{err}"
                ));
            }
            if let Some(v) = line.trim_end().strip_prefix("XENSTORED_PATH=") {
                socket = Some(v.to_string());
            } else if let Some(v) = line.trim_end().strip_prefix("OXENSTORED_PID=") {
                pid = v.parse().ok();
            }
        }
        Ok(Daemon {
            socket: socket.unwrap_or_default(),
            pid: pid.unwrap_or_default(),
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            _stdout: Mutex::new(stdout),
        })
    }

    /// True while the oxenstored process exists.
    pub fn alive(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .is_ok_and(|s| !s.contains(") Z "))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // EOF on the script's stdin: it stops the daemon and exits.
        if let Ok(mut s) = self.stdin.lock() {
            s.take();
        }
        let Ok(mut child) = self.child.lock() else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

static SHARED: OnceLock<Result<Daemon, String>> = OnceLock::new();

/// Says `SKIP <test>: …` on the test run's own stderr: written to the stream directly, not with
/// `eprintln!`, which the test harness captures and shows only for a failed test, so a skipped
/// test is never silently counted as passed.
fn skip_line() {
    use std::io::Write;
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let _ = writeln!(
        std::io::stderr(),
        "SKIP {test}: XENPCI_SKIP_XENSTORED=1, no real oxenstored (this test did not run)"
    );
}

/// The test binary's shared daemon, with `XENSTORED_PATH` pointing at it; `None` only when
/// `XENPCI_SKIP_XENSTORED=1`. Panics (fails the test) when the daemon cannot start.
pub fn shared() -> Option<&'static Daemon> {
    if std::env::var("XENPCI_SKIP_XENSTORED").as_deref() == Ok("1") {
        skip_line();
        return None;
    }
    let d = SHARED.get_or_init(|| {
        let d = Daemon::start()?;
        // Every reader of XENSTORED_PATH in this process waits on this OnceLock first.
        std::env::set_var("XENSTORED_PATH", &d.socket);
        Ok(d)
    });
    match d {
        Ok(d) => Some(d),
        Err(e) => panic!("{e}"),
    }
}
