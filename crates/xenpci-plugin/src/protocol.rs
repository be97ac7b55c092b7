//! The XAPI host-plugin protocol (docs/reference/xapi-xe.md §3): xapi runs the plugin with one
//! argv holding an XML-RPC `methodCall` — param 1 the session ref, param 2 a struct of string
//! arguments — and reads one `methodResponse` from stdout in xapi's Status convention:
//! `{Status: Success, Value: <string>}` or `{Status: Failure, ErrorDescription: [code, ...]}`.

use std::collections::BTreeMap;
use std::fmt;

use crate::xml::{self, escape, Node};

/// A decoded plugin call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The plugin function (`fn=` of `xe host-call-plugin`).
    pub method: String,
    /// The caller's session reference.
    pub session: String,
    /// The string arguments (`args:KEY=VALUE`).
    pub args: BTreeMap<String, String>,
}

/// Why the call could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, ProtocolError> {
    Err(ProtocolError(msg.into()))
}

fn child<'a>(n: &'a Node, name: &str) -> Result<&'a Node, ProtocolError> {
    let mut it = n.children.iter().filter(|c| c.name == name);
    match (it.next(), it.next()) {
        (Some(c), None) => Ok(c),
        (None, _) => err(format!("<{}> has no <{name}>", n.name)),
        (Some(_), Some(_)) => err(format!("<{}> has more than one <{name}>", n.name)),
    }
}

/// An XML-RPC value as far as plugin calls need it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Str(String),
    Struct(Vec<(String, Value)>),
    Other(String),
}

fn value(v: &Node) -> Result<Value, ProtocolError> {
    match v.children.as_slice() {
        [] => Ok(Value::Str(v.text.clone())),
        [t] if t.name == "string" => Ok(Value::Str(t.text.clone())),
        [t] if t.name == "struct" => {
            let mut members = Vec::new();
            for m in &t.children {
                if m.name != "member" {
                    return err(format!("<struct> holds <{}> instead of <member>", m.name));
                }
                let name = child(m, "name")?.text.clone();
                members.push((name, value(child(m, "value")?)?));
            }
            Ok(Value::Struct(members))
        }
        [t] => Ok(Value::Other(t.name.clone())),
        _ => err("<value> holds more than one element"),
    }
}

/// Decodes the one argv xapi passes.
pub fn parse_call(text: &str) -> Result<Call, ProtocolError> {
    let root = xml::parse(text).map_err(|e| ProtocolError(e.to_string()))?;
    if root.name != "methodCall" {
        return err(format!("expected <methodCall>, found <{}>", root.name));
    }
    let method = child(&root, "methodName")?.text.trim().to_string();
    if method.is_empty() {
        return err("<methodName> is empty");
    }
    let params = child(&root, "params")?;
    let values: Vec<&Node> = params
        .children
        .iter()
        .map(|p| {
            if p.name == "param" {
                child(p, "value")
            } else {
                err(format!("<params> holds <{}>", p.name))
            }
        })
        .collect::<Result<_, _>>()?;
    if values.len() != 2 {
        return err(format!(
            "expected 2 params (session ref, argument map), found {}",
            values.len()
        ));
    }
    let session = match value(values[0])? {
        Value::Str(s) => s,
        _ => return err("param 1 (the session reference) is not a string"),
    };
    let mut args = BTreeMap::new();
    match value(values[1])? {
        Value::Struct(members) => {
            for (k, v) in members {
                match v {
                    Value::Str(s) => {
                        if args.contains_key(&k) {
                            return err(format!("argument {k:?} is given twice"));
                        }
                        args.insert(k, s);
                    }
                    Value::Other(t) => {
                        return err(format!(
                            "argument {k:?} is an XML-RPC <{t}>, but plugin arguments are strings"
                        ))
                    }
                    Value::Struct(_) => {
                        return err(format!(
                            "argument {k:?} is a struct, but plugin arguments are strings"
                        ))
                    }
                }
            }
        }
        _ => return err("param 2 (the argument map) is not a struct"),
    }
    Ok(Call {
        method,
        session,
        args,
    })
}

fn member(name: &str, value_xml: &str) -> String {
    format!("<member>\n<name>{name}</name>\n<value>{value_xml}</value>\n</member>\n")
}

fn response(members: &str) -> String {
    format!(
        "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n{members}</struct></value>\n</param>\n</params>\n</methodResponse>\n"
    )
}

/// The Success response carrying `value` (a string: xapi rejects other types).
pub fn success(value: &str) -> String {
    response(&format!(
        "{}{}",
        member("Status", "<string>Success</string>"),
        member("Value", &format!("<string>{}</string>", escape(value)))
    ))
}

/// The Failure response `[code, params...]`, raised by xapi as API error `code(params)`.
pub fn failure(code: &str, params: &[String]) -> String {
    let items: String = std::iter::once(code)
        .chain(params.iter().map(String::as_str))
        .map(|s| format!("<value><string>{}</string></value>\n", escape(s)))
        .collect();
    response(&format!(
        "{}{}",
        member("Status", "<string>Failure</string>"),
        member(
            "ErrorDescription",
            &format!("<array><data>\n{items}</data></array>")
        )
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const XAPI_CALL: &str = "<methodCall><methodName>list</methodName><params><param><value>OpaqueRef:abc</value></param><param><value><struct><member><name>bdf</name><value>05:00.0</value></member><member><name>dry_run</name><value/></member></struct></value></param></params></methodCall>";

    #[test]
    fn decodes_xapis_compact_call() {
        let c = parse_call(XAPI_CALL).unwrap();
        assert_eq!(c.method, "list");
        assert_eq!(c.session, "OpaqueRef:abc");
        assert_eq!(c.args["bdf"], "05:00.0");
        assert_eq!(c.args["dry_run"], "");
    }

    #[test]
    fn no_args_is_an_empty_struct() {
        let c = parse_call("<methodCall><methodName>version</methodName><params><param><value>r</value></param><param><value><struct/></value></param></params></methodCall>").unwrap();
        assert!(c.args.is_empty());
    }

    #[test]
    fn rejects_wrong_shapes_with_reasons() {
        for (doc, needle) in [
            ("<methodResponse/>", "expected <methodCall>"),
            ("<methodCall><params/></methodCall>", "no <methodName>"),
            ("<methodCall><methodName>x</methodName><params><param><value>r</value></param></params></methodCall>", "expected 2 params"),
            ("<methodCall><methodName>x</methodName><params><param><value>r</value></param><param><value><struct><member><name>n</name><value><int>1</int></value></member></struct></value></param></params></methodCall>", "argument \"n\" is an XML-RPC <int>"),
            ("<methodCall><methodName>x</methodName><params><param><value>r</value></param><param><value>s</value></param></params></methodCall>", "not a struct"),
        ] {
            let e = parse_call(doc).unwrap_err().to_string();
            assert!(e.contains(needle), "{doc}: {e}");
        }
    }

    #[test]
    fn responses_escape_their_text() {
        let s = success("[{\"a\":\"<&>\"}]");
        assert!(
            s.contains("<string>[{\"a\":\"&lt;&amp;&gt;\"}]</string>"),
            "{s}"
        );
        let f = failure("XENPCI_INVALID_ARGUMENT", &["bdf".into(), "x<y".into()]);
        assert!(
            f.contains("<string>Failure</string>") && f.contains("x&lt;y"),
            "{f}"
        );
    }
}
