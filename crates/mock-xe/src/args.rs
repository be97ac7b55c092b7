//! xe's argument syntax (xapi-xe.md §2.2): the client strips its own connection options
//! (`newcli.ml`), the server takes the first remaining word as the command and turns the rest
//! into `(key, value)` params (`cli_frontend.ml` `parse_params_2`): `--foo` → `foo=true`,
//! known `-x value` switches, `key=value` split at the first `=`, `key` alone → `key=""`.

use crate::errors::XeError;

/// What is left for the server after the client consumed its options.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientArgs {
    /// `xe`, `xe --help`, `xe -help`: usage on stderr, exit 0.
    Usage,
    /// Forwarded to the server.
    Server(Vec<String>),
}

/// Client-side options with a value (`-s host`) and their `key=` forms.
const CLIENT_SWITCHES: [&str; 7] = ["-s", "-p", "-u", "-pw", "-pwf", "-h", "--traceparent"];
const CLIENT_FLAGS: [&str; 3] = ["--nossl", "--debug", "--debug-on-fail"];
const CLIENT_KEYS: [&str; 7] = [
    "server=",
    "port=",
    "username=",
    "password=",
    "passwordfile=",
    "nossl=",
    "debug=",
];

/// `newcli.ml` `parse_args`: drop connection options, detect usage requests.
pub fn client(args: &[String]) -> ClientArgs {
    if args.iter().any(|a| a == "--help" || a == "-help") {
        return ClientArgs::Usage;
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if CLIENT_SWITCHES.contains(&a.as_str()) && i + 1 < args.len() {
            i += 2;
            continue;
        }
        if !CLIENT_FLAGS.contains(&a.as_str()) && !CLIENT_KEYS.iter().any(|k| a.starts_with(k)) {
            out.push(a.clone());
        }
        i += 1;
    }
    if out.is_empty() {
        ClientArgs::Usage
    } else {
        ClientArgs::Server(out)
    }
}

/// The server's view of one command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub name: String,
    pub params: Params,
}

/// Ordered `(key, value)` params; lookups return the first occurrence, like `List.assoc`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// `get_bool_param`: present and `true`/`on`/`yes` (any case).
    pub fn flag(&self, key: &str) -> bool {
        self.get(key)
            .map(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "on" | "yes"))
            .unwrap_or(false)
    }
    pub fn required(&self, key: &str) -> Result<&str, XeError> {
        self.get(key)
            .ok_or_else(|| XeError::MissingParam(key.to_string()))
    }
}

/// Switches the server maps to params (`switch_map`).
const SWITCH_MAP: [(&str, &str); 11] = [
    ("--force", "force"),
    ("--live", "live"),
    ("--internal", "internal"),
    ("-u", "username"),
    ("-pw", "password"),
    ("-s", "server"),
    ("-h", "server"),
    ("-p", "port"),
    ("--debug", "debug"),
    ("--minimal", "minimal"),
    ("--all", "all"),
];

/// `parse_commandline`: every failure is the same `Syntax error: `.
pub fn parse(args: &[String]) -> Result<CommandLine, XeError> {
    let (name, rest) = args.split_first().ok_or(XeError::Syntax)?;
    if name.contains('=') {
        return Err(XeError::Syntax);
    }
    Ok(CommandLine {
        name: name.clone(),
        params: Params(params(rest)?),
    })
}

/// `parse_params_2`.
fn params(xs: &[String]) -> Result<Vec<(String, String)>, XeError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < xs.len() {
        let p = &xs[i];
        if let Some(name) = p.strip_prefix("--") {
            out.push((name.to_string(), "true".to_string()));
        } else if p.starts_with('-') {
            let value = xs.get(i + 1).ok_or(XeError::Syntax)?;
            let key = SWITCH_MAP
                .iter()
                .find(|(s, _)| s == p)
                .ok_or(XeError::Syntax)?
                .1;
            out.push((key.to_string(), value.clone()));
            i += 1;
        } else {
            match p.split_once('=') {
                Some((k, v)) => out.push((k.to_string(), v.to_string())),
                None => out.push((p.clone(), String::new())),
            }
        }
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn key_value_splits_at_first_equals() {
        let c = parse(&v(&[
            "vm-param-set",
            "other-config:pci=0/a=b,c",
            "--minimal",
            "k",
        ]))
        .unwrap();
        assert_eq!(c.params.get("other-config:pci"), Some("0/a=b,c"));
        assert!(c.params.flag("minimal"));
        assert_eq!(c.params.get("k"), Some(""));
    }

    #[test]
    fn switches() {
        let c = parse(&v(&["vm-list", "-u", "root"])).unwrap();
        assert_eq!(c.params.get("username"), Some("root"));
        assert_eq!(parse(&v(&["vm-list", "-x", "1"])), Err(XeError::Syntax));
        assert_eq!(parse(&v(&["vm-list", "-u"])), Err(XeError::Syntax));
        assert_eq!(parse(&v(&["uuid=x"])), Err(XeError::Syntax));
    }

    #[test]
    fn client_strips_connection_options() {
        assert_eq!(client(&v(&[])), ClientArgs::Usage);
        assert_eq!(client(&v(&["vm-list", "--help"])), ClientArgs::Usage);
        assert_eq!(
            client(&v(&["-s", "h", "vm-list", "password=x", "--nossl"])),
            ClientArgs::Server(v(&["vm-list"]))
        );
    }
}
