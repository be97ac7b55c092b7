//! A small, strict XML reader for the subset XML-RPC uses: an optional declaration, comments,
//! elements without meaningful attributes, text with the five predefined entities and character
//! references, and CDATA. It builds a tree ([`Node`]) with limits on size and depth, so a
//! malformed or hostile call becomes an error naming the offset, never a crash.

use std::fmt;

/// Largest document accepted (xapi passes the call as one argv string).
pub const MAX_INPUT: usize = 16 * 1024 * 1024;
/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 64;

/// One element: its name, its child elements and its text (the concatenation of its text nodes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// Element name.
    pub name: String,
    /// Child elements, in order.
    pub children: Vec<Node>,
    /// Text directly inside this element.
    pub text: String,
}

/// Why a document is not well-formed XML (as far as this subset goes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was expected.
    pub message: String,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed XML at byte {}: {}", self.offset, self.message)
    }
}

struct Reader<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, XmlError> {
        Err(XmlError {
            offset: self.pos,
            message: message.into(),
        })
    }

    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start_matches([' ', '\t', '\r', '\n']).len();
    }

    fn skip_misc(&mut self) -> Result<(), XmlError> {
        loop {
            self.skip_ws();
            if self.rest().starts_with("<?") {
                match self.rest().find("?>") {
                    Some(i) => self.pos += i + 2,
                    None => return self.err("unterminated <? ... ?>"),
                }
            } else if self.rest().starts_with("<!--") {
                match self.rest()[4..].find("-->") {
                    Some(i) => self.pos += 4 + i + 3,
                    None => return self.err("unterminated comment"),
                }
            } else {
                return Ok(());
            }
        }
    }

    fn name(&mut self) -> Result<String, XmlError> {
        let r = self.rest();
        let n = r
            .find(|c: char| !(c.is_alphanumeric() || "_-.:".contains(c)))
            .unwrap_or(r.len());
        if n == 0 {
            return self.err("expected an element name");
        }
        self.pos += n;
        Ok(r[..n].to_string())
    }

    fn element(&mut self, depth: usize) -> Result<Node, XmlError> {
        if depth > MAX_DEPTH {
            return self.err(format!("elements nested deeper than {MAX_DEPTH}"));
        }
        if !self.rest().starts_with('<') {
            return self.err("expected '<'");
        }
        self.pos += 1;
        let name = self.name()?;
        // Attributes carry no meaning in XML-RPC: skip them, respecting quotes.
        let mut quote = None;
        loop {
            let Some(c) = self.rest().chars().next() else {
                return self.err(format!("unterminated start tag <{name}"));
            };
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '>') => {
                    self.pos += 1;
                    break;
                }
                (None, '/') if self.rest().starts_with("/>") => {
                    self.pos += 2;
                    return Ok(Node {
                        name,
                        ..Node::default()
                    });
                }
                (None, '<') => return self.err(format!("'<' inside the start tag <{name}")),
                _ => {}
            }
            self.pos += c.len_utf8();
        }
        let mut node = Node {
            name,
            ..Node::default()
        };
        loop {
            let r = self.rest();
            if r.is_empty() {
                return self.err(format!("missing </{}>", node.name));
            } else if r.starts_with("</") {
                self.pos += 2;
                let end = self.name()?;
                self.skip_ws();
                if end != node.name {
                    return self.err(format!("</{end}> closes <{}>", node.name));
                }
                if !self.rest().starts_with('>') {
                    return self.err("expected '>'");
                }
                self.pos += 1;
                return Ok(node);
            } else if let Some(body) = r.strip_prefix("<!--") {
                match body.find("-->") {
                    Some(i) => self.pos += 4 + i + 3,
                    None => return self.err("unterminated comment"),
                }
            } else if let Some(body) = r.strip_prefix("<![CDATA[") {
                match body.find("]]>") {
                    Some(i) => {
                        node.text.push_str(&body[..i]);
                        self.pos += 9 + i + 3;
                    }
                    None => return self.err("unterminated CDATA section"),
                }
            } else if r.starts_with("<?") || r.starts_with("<!") {
                return self.err("unexpected markup inside an element");
            } else if r.starts_with('<') {
                node.children.push(self.element(depth + 1)?);
            } else {
                let n = r.find('<').unwrap_or(r.len());
                self.text(&r[..n], &mut node.text)?;
                self.pos += n;
            }
        }
    }

    fn text(&self, raw: &str, out: &mut String) -> Result<(), XmlError> {
        let mut i = 0;
        while let Some(amp) = raw[i..].find('&') {
            out.push_str(&raw[i..i + amp]);
            let start = i + amp;
            let Some(semi) = raw[start..].find(';') else {
                return Err(XmlError {
                    offset: self.pos + start,
                    message: "'&' without ';'".into(),
                });
            };
            let ent = &raw[start + 1..start + semi];
            let c = match ent {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ if ent.starts_with("#x") || ent.starts_with("#X") => {
                    u32::from_str_radix(&ent[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            match c {
                Some(c) => out.push(c),
                None => {
                    return Err(XmlError {
                        offset: self.pos + start,
                        message: format!("unknown entity &{ent};"),
                    })
                }
            }
            i = start + semi + 1;
        }
        out.push_str(&raw[i..]);
        Ok(())
    }
}

/// Parses a whole document into its root element.
pub fn parse(s: &str) -> Result<Node, XmlError> {
    if s.len() > MAX_INPUT {
        return Err(XmlError {
            offset: MAX_INPUT,
            message: format!("document larger than {MAX_INPUT} bytes"),
        });
    }
    let mut r = Reader { s, pos: 0 };
    r.skip_misc()?;
    let root = r.element(0)?;
    r.skip_misc()?;
    if !r.rest().is_empty() {
        return r.err("text after the root element");
    }
    Ok(root)
}

/// Whether XML 1.0 can carry `c` at all (its `Char` production): not the C0 controls other than
/// tab, LF and CR, nor U+FFFE and U+FFFF, not even as a character reference.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes text for an XML element body, so the document stays well-formed whatever the text
/// holds (a method name echoed back may hold anything): `< > &` as entities, CR as `&#13;` (a
/// parser would turn a raw one into LF), and a character XML cannot carry as the visible text
/// `\u{..}`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 16);
    // Runs of characters that need nothing are copied whole (a `list` answer is kilobytes of
    // JSON: one push per character was a tenth of the call).
    let mut run = 0;
    let mut i = 0;
    while let Some(&b) = s.as_bytes().get(i) {
        let (len, with): (usize, Option<&str>) = match b {
            b'<' => (1, Some("&lt;")),
            b'>' => (1, Some("&gt;")),
            b'&' => (1, Some("&amp;")),
            b'\r' => (1, Some("&#13;")),
            b'\t' | b'\n' | 0x20..=0x7f => (1, None),
            _ => {
                // A control character, or the first byte of a multi-byte one.
                let c = s[i..].chars().next().unwrap_or('\u{fffd}');
                if is_xml_char(c) {
                    (c.len_utf8(), None)
                } else {
                    out.push_str(&s[run..i]);
                    out.push_str(&format!("\\u{{{:x}}}", c as u32));
                    i += c.len_utf8();
                    run = i;
                    continue;
                }
            }
        };
        if let Some(entity) = with {
            out.push_str(&s[run..i]);
            out.push_str(entity);
            run = i + len;
        }
        i += len;
    }
    out.push_str(&s[run..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_elements_text_and_entities() {
        let n = parse("<?xml version='1.0'?>\n<a x=\"1>\"><b>x &amp; &lt;y&gt; &#65;&#x42;</b><c/><!-- no --><d><![CDATA[<raw>]]></d></a>\n").unwrap();
        assert_eq!(n.name, "a");
        assert_eq!(n.children[0].text, "x & <y> AB");
        assert_eq!(n.children[1].name, "c");
        assert_eq!(n.children[2].text, "<raw>");
    }

    #[test]
    fn rejects_malformed_documents_with_offsets() {
        for (doc, needle) in [
            ("<a><b></a>", "</a> closes <b>"),
            ("<a>", "missing </a>"),
            ("<a>&bogus;</a>", "unknown entity"),
            ("<a></a>junk", "after the root"),
            ("", "expected '<'"),
            ("<a><</a>", "element name"),
        ] {
            let e = parse(doc).unwrap_err().to_string();
            assert!(e.contains(needle), "{doc}: {e}");
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(&deep).unwrap_err().message.contains("deeper"));
    }

    #[test]
    fn escape_never_emits_a_character_xml_cannot_carry() {
        let e = escape("a\u{1}b\u{1b}[0m\u{0}\u{FFFF}\r\tc");
        assert!(e.chars().all(is_xml_char), "{e:?}");
        assert_eq!(e, "a\\u{1}b\\u{1b}[0m\\u{0}\\u{ffff}&#13;\tc");
    }

    /// The run-copying [`escape`] gives what escaping each character on its own gives.
    #[test]
    fn escape_matches_the_character_by_character_definition() {
        fn one_by_one(s: &str) -> String {
            s.chars()
                .map(|c| match c {
                    '<' => "&lt;".to_string(),
                    '>' => "&gt;".to_string(),
                    '&' => "&amp;".to_string(),
                    '\r' => "&#13;".to_string(),
                    c if !is_xml_char(c) => format!("\\u{{{:x}}}", c as u32),
                    c => c.to_string(),
                })
                .collect()
        }
        let alphabet = [
            'a', '<', '>', '&', '\r', '\n', '\t', '\u{1}', '\u{7f}', 'ü', '\u{FFFE}', '😀', ' ',
        ];
        let mut n = 0u64;
        for len in 0..=4u32 {
            for k in 0..(alphabet.len() as u64).pow(len) {
                let mut k = k;
                let s: String = (0..len)
                    .map(|_| {
                        let c = alphabet[(k % alphabet.len() as u64) as usize];
                        k /= alphabet.len() as u64;
                        c
                    })
                    .collect();
                assert_eq!(escape(&s), one_by_one(&s), "{s:?}");
                n += 1;
            }
        }
        assert!(n > 30_000, "{n}");
    }

    #[test]
    fn escape_round_trips_through_parse() {
        let s = "a<b>&c \"d\" 'e' ü";
        let n = parse(&format!("<v>{}</v>", escape(s))).unwrap();
        assert_eq!(n.text, s);
    }
}
