//! The XML-RPC of the xapi host-plugin protocol (xapi-xe.md §3): the call xapi renders with
//! xml-light (compact, untyped `<value>text</value>` strings, `<value/>` for empty, `<struct/>`
//! for no args) and a small reader for the plugin's `methodResponse`.

/// xml-light's `buffer_pcdata`: `<`, `>`, `'`, `"` and `&` escaped — except `&#`, kept as is.
fn pcdata(text: &str) -> String {
    let mut out = String::new();
    let b: Vec<char> = text.chars().collect();
    for (i, c) in b.iter().enumerate() {
        match c {
            '>' => out.push_str("&gt;"),
            '<' => out.push_str("&lt;"),
            '&' if b.get(i + 1) == Some(&'#') => out.push('&'),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(*c),
        }
    }
    out
}

/// `<tag>text</tag>`, or `<tag/>` when empty.
fn elem(tag: &str, inner: &str) -> String {
    if inner.is_empty() {
        format!("<{tag}/>")
    } else {
        format!("<{tag}>{inner}</{tag}>")
    }
}

/// The single argv element xapi passes to a plugin.
pub fn method_call(function: &str, session: &str, args: &[(String, String)]) -> String {
    let members: String = args
        .iter()
        .map(|(k, v)| {
            format!(
                "<member>{}{}</member>",
                elem("name", &pcdata(k)),
                elem("value", &pcdata(v))
            )
        })
        .collect();
    format!(
        "<methodCall>{}<params><param>{}</param><param><value>{}</value></param></params></methodCall>",
        elem("methodName", &pcdata(function)),
        elem("value", &pcdata(session)),
        elem("struct", &members)
    )
}

/// An XML element (attributes are ignored).
#[derive(Debug, Clone, PartialEq)]
struct Node {
    name: String,
    children: Vec<Node>,
    text: String,
}

struct Reader<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
    fn err(&self, what: &str) -> String {
        format!("{what} at byte {}", self.pos)
    }
    fn skip_misc(&mut self) -> Result<(), String> {
        loop {
            let r = self.rest();
            let trimmed = r.trim_start();
            self.pos += r.len() - trimmed.len();
            if self.rest().starts_with("<?") {
                let end = self
                    .rest()
                    .find("?>")
                    .ok_or_else(|| self.err("unterminated <?"))?;
                self.pos += end + 2;
            } else if self.rest().starts_with("<!--") {
                let end = self
                    .rest()
                    .find("-->")
                    .ok_or_else(|| self.err("unterminated comment"))?;
                self.pos += end + 3;
            } else {
                return Ok(());
            }
        }
    }
    fn element(&mut self) -> Result<Node, String> {
        if !self.rest().starts_with('<') {
            return Err(self.err("expected '<'"));
        }
        let close = self
            .rest()
            .find('>')
            .ok_or_else(|| self.err("unterminated tag"))?;
        let tag = &self.rest()[1..close];
        self.pos += close + 1;
        let self_closing = tag.ends_with('/');
        let name = tag
            .trim_end_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
        if name.is_empty() || name.starts_with('/') {
            return Err(self.err("bad tag"));
        }
        let mut node = Node {
            name,
            children: Vec::new(),
            text: String::new(),
        };
        if self_closing {
            return Ok(node);
        }
        loop {
            let r = self.rest();
            if r.is_empty() {
                return Err(self.err(&format!("missing </{}>", node.name)));
            }
            if r.starts_with("</") {
                let close = r
                    .find('>')
                    .ok_or_else(|| self.err("unterminated end tag"))?;
                let end = r[2..close].trim();
                if end != node.name {
                    return Err(self.err(&format!("</{end}> closes <{}>", node.name)));
                }
                self.pos += close + 1;
                return Ok(node);
            }
            if r.starts_with("<!--") || r.starts_with("<?") {
                self.skip_misc()?;
                continue;
            }
            if r.starts_with('<') {
                node.children.push(self.element()?);
                continue;
            }
            let end = r.find('<').unwrap_or(r.len());
            node.text
                .push_str(&unescape(&r[..end]).map_err(|e| self.err(&e))?);
            self.pos += end;
        }
    }
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let semi = rest[i..].find(';').ok_or("unterminated entity")?;
        let ent = &rest[i + 1..i + semi];
        let c = match ent {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ if ent.starts_with("#x") => u32::from_str_radix(&ent[2..], 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or(format!("bad entity &{ent};"))?,
            _ if ent.starts_with('#') => ent[1..]
                .parse::<u32>()
                .ok()
                .and_then(char::from_u32)
                .ok_or(format!("bad entity &{ent};"))?,
            _ => return Err(format!("unknown entity &{ent};")),
        };
        out.push(c);
        rest = &rest[i + semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn parse_document(s: &str) -> Result<Node, String> {
    let mut r = Reader { s, pos: 0 };
    r.skip_misc()?;
    let root = r.element()?;
    r.skip_misc()?;
    if !r.rest().is_empty() {
        return Err(r.err("content after the document element"));
    }
    Ok(root)
}

/// An XML-RPC value.
#[derive(Debug, Clone, PartialEq)]
pub enum XValue {
    Str(String),
    Int(i64),
    Other(String),
    Struct(Vec<(String, XValue)>),
    Array(Vec<XValue>),
}

impl XValue {
    pub fn member(&self, name: &str) -> Option<&XValue> {
        match self {
            XValue::Struct(ms) => ms.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            XValue::Str(s) => Some(s),
            _ => None,
        }
    }
    /// Printed form for fault codes.
    pub fn text(&self) -> String {
        match self {
            XValue::Str(s) | XValue::Other(s) => s.clone(),
            XValue::Int(i) => i.to_string(),
            other => format!("{other:?}"),
        }
    }
}

fn value(n: &Node) -> Result<XValue, String> {
    if n.name != "value" {
        return Err(format!("expected <value>, found <{}>", n.name));
    }
    let Some(inner) = n.children.first() else {
        return Ok(XValue::Str(n.text.clone()));
    };
    Ok(match inner.name.as_str() {
        "string" => XValue::Str(inner.text.clone()),
        "int" | "i4" | "i8" => XValue::Int(
            inner
                .text
                .trim()
                .parse()
                .map_err(|_| format!("bad int {:?}", inner.text))?,
        ),
        "struct" => XValue::Struct(
            inner
                .children
                .iter()
                .map(|m| {
                    let name = m
                        .children
                        .iter()
                        .find(|c| c.name == "name")
                        .ok_or("member without name")?;
                    let v = m
                        .children
                        .iter()
                        .find(|c| c.name == "value")
                        .ok_or("member without value")?;
                    Ok((name.text.clone(), value(v)?))
                })
                .collect::<Result<_, String>>()?,
        ),
        "array" => {
            let data = inner
                .children
                .iter()
                .find(|c| c.name == "data")
                .ok_or("array without data")?;
            XValue::Array(data.children.iter().map(value).collect::<Result<_, _>>()?)
        }
        _ => XValue::Other(inner.text.clone()),
    })
}

/// A decoded `methodResponse`.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Params(Vec<XValue>),
    Fault(XValue),
}

pub fn parse_response(s: &str) -> Result<Response, String> {
    let root = parse_document(s)?;
    if root.name != "methodResponse" {
        return Err(format!("expected <methodResponse>, found <{}>", root.name));
    }
    let first = root.children.first().ok_or("empty methodResponse")?;
    match first.name.as_str() {
        "params" => Ok(Response::Params(
            first
                .children
                .iter()
                .map(|p| {
                    p.children
                        .first()
                        .ok_or_else(|| "empty param".to_string())
                        .and_then(value)
                })
                .collect::<Result<_, _>>()?,
        )),
        "fault" => Ok(Response::Fault(value(
            first.children.first().ok_or("empty fault")?,
        )?)),
        other => Err(format!("unexpected <{other}> in methodResponse")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_is_compact_xml_light() {
        let args = vec![
            ("foo".to_string(), "b<r".to_string()),
            ("e".to_string(), String::new()),
        ];
        assert_eq!(
            method_call("main", "OpaqueRef:x", &args),
            "<methodCall><methodName>main</methodName><params><param><value>OpaqueRef:x</value></param>\
             <param><value><struct><member><name>foo</name><value>b&lt;r</value></member>\
             <member><name>e</name><value/></member></struct></value></param></params></methodCall>"
        );
        assert!(method_call("f", "s", &[]).contains("<value><struct/></value>"));
    }

    #[test]
    fn python_style_response() {
        let text = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><struct>\n\
            <member>\n<name>Status</name>\n<value><string>Success</string></value>\n</member>\n\
            <member>\n<name>Value</name>\n<value><string>a &amp; b</string></value>\n</member>\n\
            </struct></value>\n</param>\n</params>\n</methodResponse>\n";
        let Response::Params(ps) = parse_response(text).unwrap() else {
            panic!("not params")
        };
        assert_eq!(
            ps[0].member("Value").and_then(XValue::as_str),
            Some("a & b")
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_response("log line\n<methodResponse/>").is_err());
        assert!(parse_response("<methodResponse><params>").is_err());
    }
}
