//! Running a host plugin the way xapi does (xapi-xe.md §3.1, §3.2): the plugin name must be a
//! file name in the plugins directory, it is executed directly with exactly one argument (the
//! XML-RPC `methodCall`), with only `PATH=/sbin:/usr/sbin:/bin:/usr/bin` in its environment
//! (plus the mock host's `plugin-env`), stdin from /dev/null, cwd `/`; its stdout must be one
//! Status-struct `methodResponse`. Every other outcome becomes xapi's error.
//!
//! xapi has no timeout; `XE_MOCK_PLUGIN_TIMEOUT_MS` adds one for tests (the plugin is then
//! killed and reported as `signal: SIGKILL`, as xapi would report an externally killed plugin).

use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::errors::XeError;
use crate::xmlrpc::{method_call, parse_response, Response, XValue};

/// A `host-call-plugin` ready to run once the state lock is released.
#[derive(Debug, Clone)]
pub struct PluginCall {
    pub plugin: String,
    pub function: String,
    pub args: Vec<(String, String)>,
    /// Mock-only extra environment of the target host.
    pub env: Vec<(String, String)>,
}

const PLUGIN_PATH: &str = "/sbin:/usr/sbin:/bin:/usr/bin";

/// A session reference for the call (any `OpaqueRef:` value; plugins only pass it back).
fn session_ref() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let x = nanos ^ (u128::from(std::process::id()) << 64);
    let h = format!("{x:032x}");
    format!(
        "OpaqueRef:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// Runs the plugin; `Ok` is the string the call returned.
pub fn run(call: &PluginCall, dir: &Path, timeout: Option<Duration>) -> Result<String, XeError> {
    let missing = || XeError::api("XENAPI_MISSING_PLUGIN", &[&call.plugin]);
    let listed = std::fs::read_dir(dir)
        .map_err(|_| missing())?
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_str() == Some(call.plugin.as_str()));
    if !listed {
        return Err(missing());
    }
    let xml = method_call(&call.function, &session_ref(), &call.args);
    let mut child = match Command::new(dir.join(&call.plugin))
        .arg(&xml)
        .env_clear()
        .env("PATH", PLUGIN_PATH)
        .envs(call.env.iter().map(|(k, v)| (k, v)))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            return Err(XeError::plugin_failure(
                "non-zero exit",
                "",
                &format!("exec failed: {e}"),
            ))
        }
    };
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.read_to_end(&mut s);
        }
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.read_to_end(&mut s);
        }
        s
    });
    let start = Instant::now();
    let status: ExitStatus = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => return Err(XeError::internal(format!("Unix_error: {e}"))),
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        return Err(XeError::plugin_failure(
            &format!("signal: {}", signal_name(sig)),
            &stdout,
            &stderr,
        ));
    }
    if !status.success() {
        return Err(XeError::plugin_failure("non-zero exit", &stdout, &stderr));
    }
    decode(&stdout)
}

/// `XMLRPC.From.methodResponse` with xapi's Status-struct convention.
fn decode(output: &str) -> Result<String, XeError> {
    // Two parameters only: xe prints the missing third as `stderr: <unknown>`.
    let unexpected = || {
        XeError::api(
            "XENAPI_PLUGIN_FAILURE",
            &["unexpected XMLRPC result", output],
        )
    };
    match parse_response(output) {
        Err(e) => Err(XeError::plugin_failure(
            "failed to parse plugin output",
            output,
            &e,
        )),
        Ok(Response::Fault(f)) => {
            let code = f.member("faultCode").map(XValue::text).unwrap_or_default();
            let reason = f
                .member("faultString")
                .map(XValue::text)
                .unwrap_or_default();
            Err(XeError::plugin_failure("fault", &code, &reason))
        }
        Ok(Response::Params(ps)) => {
            let [v] = ps.as_slice() else {
                return Err(unexpected());
            };
            match v.member("Status").and_then(XValue::as_str) {
                Some("Success") => match v.member("Value") {
                    Some(XValue::Str(s)) => Ok(s.clone()),
                    // Not confirmed on a host: xapi fails the type conversion (RunTimeTypeError).
                    Some(other) => Err(XeError::internal(format!(
                        "Rpc.Runtime_error: plugin result is not a string: {other:?}"
                    ))),
                    None => Err(unexpected()),
                },
                Some("Failure") => match v.member("ErrorDescription") {
                    Some(XValue::Array(items)) if !items.is_empty() => {
                        let strs: Option<Vec<String>> = items
                            .iter()
                            .map(|i| i.as_str().map(str::to_string))
                            .collect();
                        let strs = strs.ok_or_else(unexpected)?;
                        Err(XeError::Api {
                            code: strs[0].clone(),
                            params: strs[1..].to_vec(),
                        })
                    }
                    _ => Err(unexpected()),
                },
                _ => Err(unexpected()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(inner: &str) -> String {
        format!("<methodResponse><params><param><value><struct>{inner}</struct></value></param></params></methodResponse>")
    }

    #[test]
    fn success_value() {
        let r = resp("<member><name>Status</name><value>Success</value></member><member><name>Value</name><value>hi</value></member>");
        assert_eq!(decode(&r), Ok("hi".to_string()));
    }

    #[test]
    fn failure_becomes_api_error() {
        let r = resp(
            "<member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name>\
             <value><array><data><value>MY_CODE</value><value>a</value></data></array></value></member>",
        );
        assert_eq!(decode(&r), Err(XeError::api("MY_CODE", &["a"])));
    }

    #[test]
    fn garbage_and_unexpected() {
        let e = decode("oops").unwrap_err();
        assert!(
            e.to_string()
                .contains("status: failed to parse plugin output\nstdout: oops\n"),
            "{e}"
        );
        let e = decode(&resp("<member><name>x</name><value>1</value></member>")).unwrap_err();
        assert!(
            e.to_string().contains("status: unexpected XMLRPC result\n"),
            "{e}"
        );
    }
}
