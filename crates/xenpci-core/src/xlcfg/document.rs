//! The lossless xl.cfg document (toml_edit's model, style.md §3c): every assignment keeps its
//! key, operator, value text (quote style, escapes, number spelling) and all the blanks, newlines,
//! comments and `;` around it, so `Document::parse(s)?.to_string() == s` for every file xl
//! accepts. Edits ([`super::edit`]) change only the nodes they touch.
//!
//! Only files libxlutil accepts become documents: [`Document::parse`] first runs the exact parser
//! ([`crate::syntax::xl_cfg::parse`]) and returns its error lines otherwise.

use std::fmt;

use crate::syntax::xl_cfg::{self, dequote, lex, Config, LexKind, Lexeme, Op, ParseError};

/// A parsed xl.cfg file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Top-level nodes in file order.
    pub nodes: Vec<Node>,
}

/// A top-level piece of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Blanks, newlines, comments, `;` (and a bad last byte xl ignores), verbatim.
    Trivia(String),
    /// `key = value` / `key += value` (its terminator is the following trivia).
    Assign(Assignment),
}

/// One assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The key as written.
    pub key: String,
    /// Blanks between key and operator.
    pub before_op: String,
    /// `=` or `+=`.
    pub op: Op,
    /// Blanks between operator and value.
    pub after_op: String,
    /// The value.
    pub value: Item,
}

/// A value node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A string or number.
    Atom(Atom),
    /// `[ ... ]`.
    List(List),
}

/// A string or number, with its exact source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atom {
    /// Source text (`'01:00.0'`, `"a\tb"`, `010`).
    pub raw: String,
}

/// `[ items ]` with its layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    /// Blanks/newlines/comments after `[` and before the first item (or `]`).
    pub open: String,
    /// The items.
    pub items: Vec<ListItem>,
}

/// One list item and the layout after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListItem {
    /// The value.
    pub value: Item,
    /// Blanks/newlines/comments between the value and the comma (or `]`).
    pub suffix: String,
    /// Followed by a comma.
    pub comma: bool,
    /// After the comma: up to the next item (or to `]` for a trailing comma).
    pub after_comma: String,
}

impl Atom {
    /// A string atom, or None for a number.
    pub fn quote(&self) -> Option<char> {
        self.raw.chars().next().filter(|c| *c == '\'' || *c == '"')
    }
    /// The value libxlutil stores: dequoted string, or the number's text.
    pub fn value(&self) -> String {
        match self.quote() {
            Some(_) => dequote(&self.raw).unwrap_or_default(),
            None => self.raw.clone(),
        }
    }
}

impl Document {
    /// Parses `src` exactly as xl does; on success the document prints back byte for byte.
    pub fn parse(src: &str) -> Result<Document, ParseError> {
        Ok(Document::parse_with_config(src)?.0)
    }

    /// [`Document::parse`] and the settings xl sees, from one pass over the text.
    pub fn parse_with_config(src: &str) -> Result<(Document, Config), ParseError> {
        let lexemes = lex(src);
        let config = xl_cfg::parse_lexed(src, &lexemes)?;
        let mut b = Builder {
            src,
            lx: &lexemes,
            i: 0,
        };
        Ok((b.document(), config))
    }

    /// The settings xl sees (re-read from the current text).
    pub fn config(&self) -> Result<Config, ParseError> {
        xl_cfg::parse(&self.to_string())
    }

    /// Indices (into `nodes`) of every assignment to `key`, in file order.
    pub fn assignments_of(&self, key: &str) -> Vec<usize> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| match n {
                Node::Assign(a) if a.key == key => Some(i),
                _ => None,
            })
            .collect()
    }

    /// The assignments that make up the value xl reads for `key`: the last `=` and every `+=`
    /// after it (or every `+=` when there is no `=`).
    pub fn chain_of(&self, key: &str) -> Vec<usize> {
        let all = self.assignments_of(key);
        let start = all
            .iter()
            .rposition(|&i| matches!(&self.nodes[i], Node::Assign(a) if a.op == Op::Assign))
            .unwrap_or(0);
        all[start..].to_vec()
    }

    /// The assignment at node `i`.
    pub fn assignment(&self, i: usize) -> Option<&Assignment> {
        match self.nodes.get(i) {
            Some(Node::Assign(a)) => Some(a),
            _ => None,
        }
    }

    /// The assignment at node `i`, mutable.
    pub fn assignment_mut(&mut self, i: usize) -> Option<&mut Assignment> {
        match self.nodes.get_mut(i) {
            Some(Node::Assign(a)) => Some(a),
            _ => None,
        }
    }

    /// The quote style most string values of the file use (`"` when there are none or a tie).
    pub fn dominant_quote(&self) -> char {
        let (mut single, mut double) = (0, 0);
        fn walk(item: &Item, s: &mut usize, d: &mut usize) {
            match item {
                Item::Atom(a) => match a.quote() {
                    Some('\'') => *s += 1,
                    Some(_) => *d += 1,
                    None => {}
                },
                Item::List(l) => l.items.iter().for_each(|it| walk(&it.value, s, d)),
            }
        }
        for n in &self.nodes {
            if let Node::Assign(a) = n {
                walk(&a.value, &mut single, &mut double);
            }
        }
        if single > double {
            '\''
        } else {
            '"'
        }
    }
}

struct Builder<'a> {
    src: &'a str,
    lx: &'a [Lexeme],
    i: usize,
}

impl Builder<'_> {
    fn peek(&self) -> Option<&LexKind> {
        self.lx.get(self.i).map(|l| &l.kind)
    }
    fn take(&mut self) -> &str {
        let l = &self.lx[self.i];
        self.i += 1;
        &self.src[l.start..l.end]
    }
    /// Takes lexemes while `f` holds, returning their text (one slice: lexemes are contiguous).
    fn take_while(&mut self, f: impl Fn(&LexKind) -> bool) -> String {
        let first = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        match (self.lx.get(first), self.lx.get(self.i.wrapping_sub(1))) {
            (Some(a), Some(b)) if self.i > first => self.src[a.start..b.end].to_string(),
            _ => String::new(),
        }
    }

    fn document(&mut self) -> Document {
        let mut nodes = Vec::new();
        while self.i < self.lx.len() {
            let trivia = self.take_while(|k| !matches!(k, LexKind::Ident));
            if !trivia.is_empty() {
                nodes.push(Node::Trivia(trivia));
            }
            if self.i < self.lx.len() {
                nodes.push(Node::Assign(self.assignment()));
            }
        }
        Document { nodes }
    }

    fn assignment(&mut self) -> Assignment {
        let key = self.take().to_string();
        let before_op = self.take_while(|k| *k == LexKind::Blank);
        let op = if self.take() == "+=" {
            Op::Add
        } else {
            Op::Assign
        };
        let after_op = self.take_while(|k| *k == LexKind::Blank);
        let value = self.item();
        Assignment {
            key,
            before_op,
            op,
            after_op,
            value,
        }
    }

    fn layout(&mut self) -> String {
        self.take_while(|k| matches!(k, LexKind::Blank | LexKind::Newline))
    }

    fn item(&mut self) -> Item {
        if self.peek() != Some(&LexKind::Open) {
            return Item::Atom(Atom {
                raw: self.take().to_string(),
            });
        }
        self.take();
        let open = self.layout();
        let mut items = Vec::new();
        while self.peek().is_some_and(|k| *k != LexKind::Close) {
            let value = self.item();
            let suffix = self.layout();
            let comma = self.peek() == Some(&LexKind::Comma);
            let after_comma = if comma {
                self.take();
                self.layout()
            } else {
                String::new()
            };
            items.push(ListItem {
                value,
                suffix,
                comma,
                after_comma,
            });
        }
        self.take(); // ']'
        Item::List(List { open, items })
    }
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.nodes {
            match n {
                Node::Trivia(t) => f.write_str(t)?,
                Node::Assign(a) => write!(f, "{a}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Assignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Assign => "=",
            Op::Add => "+=",
        };
        write!(
            f,
            "{}{}{op}{}{}",
            self.key, self.before_op, self.after_op, self.value
        )
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Atom(a) => f.write_str(&a.raw),
            Item::List(l) => {
                write!(f, "[{}", l.open)?;
                for it in &l.items {
                    write!(f, "{}{}", it.value, it.suffix)?;
                    if it.comma {
                        write!(f, ",{}", it.after_comma)?;
                    }
                }
                f.write_str("]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &str) {
        let d = Document::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(d.to_string(), s);
    }

    #[test]
    fn prints_back_byte_for_byte() {
        round_trip("");
        round_trip("x = 1");
        round_trip("x = 1:");
        round_trip("# c\n\tpci = [ '01:00.0', \"02:00.0\" ]  # GPU\n;;\n");
        round_trip("pci = [\n    '01:00.0',   # a\n  # b\n    '02:00.0',\n]\n");
        round_trip("a=[[1,[]],'x'\n,\n]\nb += 'c' ; c='\\101'");
    }

    #[test]
    fn nodes_keep_their_parts() {
        let d = Document::parse("pci  +=  [ 'a' , \"b\",]\n").unwrap();
        let a = d.assignment(0).unwrap();
        assert_eq!(
            (a.key.as_str(), a.op, a.before_op.as_str()),
            ("pci", Op::Add, "  ")
        );
        let Item::List(l) = &a.value else {
            panic!("list")
        };
        assert_eq!(l.items.len(), 2);
        assert_eq!(l.items[0].suffix, " ");
        assert!(l.items[1].comma);
        assert_eq!(d.dominant_quote(), '"');
    }

    #[test]
    fn chain_starts_at_last_plain_assignment() {
        let d = Document::parse("pci=['a']\npci=['b']\npci+=['c']\n").unwrap();
        assert_eq!(d.chain_of("pci"), vec![2, 4]);
        let d = Document::parse("pci+=['a']\npci+=['b']\n").unwrap();
        assert_eq!(d.chain_of("pci"), vec![0, 2]);
    }

    #[test]
    fn rejected_files_are_not_documents() {
        let e = Document::parse("PCI = 1\n").unwrap_err();
        assert_eq!(e.first().line, 1);
        assert_eq!(e.first().message, "lexical error");
    }
}
