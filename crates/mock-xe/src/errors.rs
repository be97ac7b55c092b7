//! The errors the mock `xe` reports, rendered exactly as the real CLI does
//! (xapi-xe.md §2.4): the server's `exception_handler` shapes, API errors with their datamodel
//! doc string and parameter names, and unknown API codes as `Error code:`/`Error parameters:`.
//! Every xe-level error exits 1.

/// One failed `xe` call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XeError {
    #[error("Unknown command: {0}\nFor usage run: 'xe help'\n")]
    UnknownCommand(String),
    #[error("Syntax error: \nFor usage run: 'xe help'\n")]
    Syntax,
    #[error("Required parameter not found: {0}\nFor usage run: 'xe help'\n")]
    MissingParam(String),
    /// `Cli_failure s`, printed as `Error: s`.
    #[error("Error: {0}\n")]
    Cli(String),
    /// `CLI_failed_to_find_param` (a bad `param-name`).
    #[error("Error code: Missing parameter\nError parameters: {0}\n")]
    MissingField(String),
    /// `--multiple` with failures: one `operation failed on <uuid>: <msg>` line each, on
    /// **stdout** (`multiple_error`).
    #[error("{}", .0.iter().map(|(u, m)| format!("operation failed on {u}: {m}\n")).collect::<String>())]
    Multiple(Vec<(String, String)>),
    /// `Server_error(code, params)` from the API.
    #[error("{}", render_api(code, params))]
    Api { code: String, params: Vec<String> },
}

impl XeError {
    pub fn cli(msg: impl Into<String>) -> XeError {
        XeError::Cli(msg.into())
    }
    pub fn api(code: &str, params: &[&str]) -> XeError {
        XeError::Api {
            code: code.to_string(),
            params: params.iter().map(|s| s.to_string()).collect(),
        }
    }
    pub fn internal(message: impl Into<String>) -> XeError {
        XeError::Api {
            code: "INTERNAL_ERROR".into(),
            params: vec![message.into()],
        }
    }
    pub fn uuid_invalid(class: &str, uuid: &str) -> XeError {
        XeError::api("UUID_INVALID", &[class, uuid])
    }
    pub fn bad_power_state(vm: &str, expected: &str, actual: &str) -> XeError {
        XeError::api("VM_BAD_POWER_STATE", &[vm, expected, actual])
    }
    pub fn plugin_failure(status: &str, stdout: &str, stderr: &str) -> XeError {
        XeError::api("XENAPI_PLUGIN_FAILURE", &[status, stdout, stderr])
    }
}

impl XeError {
    /// How `do_multiple` words one VM's failure (`cli_operations.ml`): a datamodel error as its
    /// doc string and `name: value` lines, anything else as `CODE: [ p1; p2 ]` (`string_of_exn`).
    pub fn multiple_message(&self) -> String {
        match self {
            XeError::Api { code, params } if KNOWN.iter().any(|(c, _, _)| c == code) => {
                render_api(code, params).trim_end_matches('\n').to_string()
            }
            XeError::Api { code, params } => format!("{code}: [ {} ]", params.join("; ")),
            other => {
                let inner = other.to_string();
                let inner = inner.trim_end_matches('\n').trim_start_matches("Error: ");
                format!("INTERNAL_ERROR: [ Cli_util.Cli_failure(\"{inner}\") ]")
            }
        }
    }
}

/// Datamodel errors the mock can raise: code, doc string, parameter names.
const KNOWN: &[(&str, &str, &[&str])] = &[
    (
        "UUID_INVALID",
        "The uuid you supplied was invalid.",
        &["type", "uuid"],
    ),
    (
        "VM_BAD_POWER_STATE",
        "You attempted an operation on a VM that was not in an appropriate power state at the \
         time; for example, you attempted to start a VM that was already running. The parameters \
         returned are the VM's handle, and the expected and actual VM state at the time of the \
         call.",
        &["vm", "expected", "actual"],
    ),
    (
        "VM_HAS_PCI_ATTACHED",
        "This operation could not be performed, because the VM has one or more PCI devices \
         passed through.",
        &["vm"],
    ),
    (
        "MAP_DUPLICATE_KEY",
        "You tried to add a key-value pair to a map, but that key is already there.",
        &["type", "param_name", "uuid", "key"],
    ),
    (
        "INTERNAL_ERROR",
        "The server failed to handle your request, due to an internal error. The given message \
         may give details useful for debugging the problem.",
        &["message"],
    ),
    (
        "XENAPI_MISSING_PLUGIN",
        "The requested plug-in could not be found.",
        &["name"],
    ),
    (
        "XENAPI_PLUGIN_FAILURE",
        "There was a failure communicating with the plug-in.",
        &["status", "stdout", "stderr"],
    ),
];

/// `Cli_util.server_error`: doc string + `name: value` lines, or the client's generic form.
fn render_api(code: &str, params: &[String]) -> String {
    match KNOWN.iter().find(|(c, _, _)| *c == code) {
        Some((_, doc, names)) => {
            let mut out = format!("{doc}\n");
            for (i, name) in names.iter().enumerate() {
                let v = params.get(i).map(String::as_str).unwrap_or("<unknown>");
                out.push_str(&format!("{name}: {v}\n"));
            }
            for extra in params.iter().skip(names.len()) {
                out.push_str(&format!("<extra>: {extra}\n"));
            }
            out
        }
        None => format!(
            "Error code: {code}\nError parameters: {}\n",
            params.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_code_uses_doc_and_names() {
        let e = XeError::uuid_invalid("VM", "deadbeef");
        assert_eq!(
            e.to_string(),
            "The uuid you supplied was invalid.\ntype: VM\nuuid: deadbeef\n"
        );
    }

    #[test]
    fn multiple_failure_messages() {
        let e = XeError::api("VM_HAS_PCI_ATTACHED", &["A (a)"]);
        assert!(e.multiple_message().ends_with("passed through.\nvm: A (a)"));
        assert_eq!(
            XeError::api("X", &["a", "b"]).multiple_message(),
            "X: [ a; b ]"
        );
    }

    #[test]
    fn unknown_code_is_generic() {
        let e = XeError::api("MY_CODE", &["a", "b"]);
        assert_eq!(
            e.to_string(),
            "Error code: MY_CODE\nError parameters: a, b\n"
        );
    }

    #[test]
    fn missing_and_extra_params() {
        let e = XeError::api("VM_HAS_PCI_ATTACHED", &[]);
        assert!(e.to_string().ends_with("\nvm: <unknown>\n"));
        let e = XeError::api("XENAPI_MISSING_PLUGIN", &["a", "b"]);
        assert!(e.to_string().ends_with("name: a\n<extra>: b\n"));
    }
}
