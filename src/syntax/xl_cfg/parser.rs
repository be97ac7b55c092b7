//! The xl.cfg parser: the bison LALR(1) automaton of `libxlu_cfg_y.y` written out by hand, its
//! error recovery and messages ([`ParseError`]), and libxlutil's semantic actions. Moved out of
//! `xl_cfg.rs` unchanged (issue 12).

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use super::lexer::{dequote, LexKind, Lexeme, Lexer};
use super::value::{Config, Op, Setting, Value};
use super::PYTHON_WARNING;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// One line of libxlutil's error report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The line number xl prints (bison's, one too low for errors at a newline; may be 0).
    pub line: usize,
    /// The `near` part exactly as printed: `` `text' ``, `<newline>`, or empty.
    pub near: String,
    /// The message, e.g. `syntax error, unexpected STRING, expecting ']'` or `lexical error`.
    pub message: String,
}

impl Diagnostic {
    /// The line as xl prints it: `<source>:<line>: config parsing error near <near>: <message>`.
    pub fn render(&self, source: &str) -> String {
        format!(
            "{source}:{}: config parsing error near {}: {}",
            self.line, self.near, self.message
        )
    }
}

/// A file xl refuses: every error line libxlutil prints, in order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {}: config parsing error near {}: {}", self.first().line, self.first().near, self.first().message)]
pub struct ParseError {
    /// The error lines (at least one).
    pub diagnostics: Vec<Diagnostic>,
    /// The file contains `+ - . ( ) :` outside strings: xl adds [`PYTHON_WARNING`].
    pub likely_python: bool,
}

impl ParseError {
    /// The first error line (the one that matters).
    pub fn first(&self) -> &Diagnostic {
        &self.diagnostics[0]
    }
    /// Everything xl writes to stderr for this parse, with `source` as the file name.
    pub fn report(&self, source: &str) -> String {
        let mut s = String::new();
        for d in &self.diagnostics {
            s.push_str(&d.render(source));
            s.push('\n');
        }
        if self.likely_python {
            s.push_str(PYTHON_WARNING);
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Parser: the LALR(1) automaton of libxlu_cfg_y.y
// ---------------------------------------------------------------------------------------------

/// Terminals as bison numbers them (order matters for "expecting" lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    Ident,
    Str,
    Number,
    Newline,
    AddAssign,
    Assign,
    Semi,
    Open,
    Close,
    Comma,
}

impl Tok {
    fn name(self) -> &'static str {
        match self {
            Tok::End => "$end",
            Tok::Ident => "IDENT",
            Tok::Str => "STRING",
            Tok::Number => "NUMBER",
            Tok::Newline => "NEWLINE",
            Tok::AddAssign => "+=",
            Tok::Assign => "'='",
            Tok::Semi => "';'",
            Tok::Open => "'['",
            Tok::Close => "']'",
            Tok::Comma => "','",
        }
    }
}

#[derive(Debug, Clone)]
struct Token<'a> {
    tok: Tok,
    /// bison location `first_line`.
    line: usize,
    /// yytext
    text: &'a str,
    /// dequoted value (STRING) or text (IDENT, NUMBER)
    value: Cow<'a, str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nt {
    File,
    Stmts,
    Stmt,
    Assignment,
    Endstmt,
    Value,
    Atom,
    Valuelist,
    Values,
    Nlok,
}

#[derive(Debug, Clone, Copy)]
enum Act {
    Shift(u8),
    Reduce(u8),
    Accept,
    Error,
}

/// Rules: (left-hand side, length of the right-hand side).
const RULES: [(Nt, usize); 23] = [
    (Nt::File, 1), // 0 unused ($accept)
    (Nt::File, 1),
    (Nt::File, 2),
    (Nt::Stmts, 0),
    (Nt::Stmts, 2),
    (Nt::Stmt, 2),
    (Nt::Stmt, 1),
    (Nt::Stmt, 2),
    (Nt::Assignment, 3),
    (Nt::Assignment, 3),
    (Nt::Endstmt, 1),
    (Nt::Endstmt, 1),
    (Nt::Value, 1),
    (Nt::Value, 4),
    (Nt::Atom, 1),
    (Nt::Atom, 1),
    (Nt::Valuelist, 0),
    (Nt::Valuelist, 1),
    (Nt::Valuelist, 3),
    (Nt::Values, 2),
    (Nt::Values, 5),
    (Nt::Nlok, 0),
    (Nt::Nlok, 2),
];

/// bison's `YYMAXDEPTH`: the parser stack holds at most this many states; one more push is
/// "memory exhausted" (libxlutil's parser is generated with the default). A value nested about
/// 5,000 lists deep reaches it.
pub const MAX_STACK: usize = 10_000;

/// State 6 is `stmt: error . NEWLINE`, reached by shifting `error` in state 2.
const ERROR_STATE: u8 = 6;
const STMTS_STATE: u8 = 2;

/// The action of a state that never looks at the lookahead (bison's default reduction).
fn default_only(state: u8) -> Option<u8> {
    Some(match state {
        0 => 3,
        4 => 10,
        5 => 11,
        8 => 4,
        9 => 6,
        10 => 7,
        11 => 5,
        14 => 14,
        15 => 15,
        16 | 22 | 25 | 27 => 21,
        18 => 8,
        30 => 9,
        19 => 12,
        24 => 22,
        29 => 13,
        _ => return None,
    })
}

fn action(state: u8, t: Tok) -> Act {
    use Tok::*;
    let value_start = |t: Tok| match t {
        Str => Some(14),
        Number => Some(15),
        Open => Some(16),
        _ => None,
    };
    match state {
        1 => match t {
            End => Act::Accept,
            _ => Act::Error,
        },
        2 => match t {
            End => Act::Reduce(1),
            Ident => Act::Shift(3),
            Newline => Act::Shift(4),
            Semi => Act::Shift(5),
            _ => Act::Error,
        },
        3 => match t {
            AddAssign => Act::Shift(13),
            Assign => Act::Shift(12),
            _ => Act::Error,
        },
        6 => match t {
            Newline => Act::Shift(10),
            _ => Act::Error,
        },
        7 => match t {
            Newline => Act::Shift(4),
            Semi => Act::Shift(5),
            _ => Act::Reduce(2),
        },
        12 | 13 => value_start(t).map_or(Act::Error, Act::Shift),
        17 => match t {
            Newline => Act::Shift(24),
            _ => value_start(t).map_or(Act::Reduce(16), Act::Shift),
        },
        20 => match t {
            Close => Act::Shift(29),
            _ => Act::Error,
        },
        21 => match t {
            Comma => Act::Shift(25),
            _ => Act::Reduce(17),
        },
        23 => match t {
            Newline => Act::Shift(24),
            _ => Act::Reduce(19),
        },
        26 => match t {
            Newline => Act::Shift(24),
            _ => value_start(t).map_or(Act::Reduce(18), Act::Shift),
        },
        28 => match t {
            Newline => Act::Shift(24),
            _ => Act::Reduce(20),
        },
        _ => Act::Error,
    }
}

fn goto(state: u8, nt: Nt) -> u8 {
    match (state, nt) {
        (0, Nt::File) => 1,
        (0, Nt::Stmts) => 2,
        (2, Nt::Stmt) => 8,
        (2, Nt::Assignment) => 7,
        (2, Nt::Endstmt) => 9,
        (7, Nt::Endstmt) => 11,
        (12, Nt::Value) => 18,
        (13, Nt::Value) => 30,
        (12 | 13 | 17 | 26, Nt::Atom) => 19,
        (16, Nt::Nlok) => 17,
        (17, Nt::Valuelist) => 20,
        (17, Nt::Values) => 21,
        (17, Nt::Value) => 22,
        (22, Nt::Nlok) => 23,
        (25, Nt::Nlok) => 26,
        (26, Nt::Value) => 27,
        (27, Nt::Nlok) => 28,
        // Unreachable for this grammar; state 1 then rejects everything but $end.
        _ => 1,
    }
}

/// The tokens bison lists after "expecting" in a state that detects errors.
fn expected(state: u8) -> &'static [Tok] {
    use Tok::*;
    match state {
        1 => &[End],
        2 => &[End, Ident, Newline, Semi],
        3 => &[AddAssign, Assign],
        6 => &[Newline],
        12 | 13 => &[Str, Number, Open],
        20 => &[Close],
        _ => &[],
    }
}

#[derive(Debug, Clone, Default)]
enum Sem<'a> {
    #[default]
    None,
    /// An IDENT, borrowed from the source.
    Name(&'a str),
    Val(Value, usize),
}

struct Ctx<'a, I> {
    src: &'a str,
    lexemes: I,
    /// The last lexeme read.
    last_lexeme: Option<Lexeme>,
    err: bool,
    lexerr_line: i64,
    likely_python: bool,
    diags: Vec<Diagnostic>,
    /// yytext / yylineno of the scanner right now.
    cur_text: &'a str,
    cur_line: usize,
    /// yylloc.first_line of the last token returned (kept at EOF).
    last_loc: usize,
    settings: Vec<Setting>,
    /// The name of each setting, borrowed from the source.
    names: Vec<&'a str>,
    /// Index in `settings` of the last setting of each name among the first `indexed` ones
    /// (libxlutil's `find` walks its whole list: quadratic for many `+=` of distinct keys).
    /// Built only as far as a `+=` needs it: a file without one never hashes a key.
    last: FxHashMap<&'a str, usize>,
    indexed: usize,
}

impl<'a, I: Iterator<Item = Lexeme>> Ctx<'a, I> {
    fn yyerror(&mut self, loc_line: usize, text: &str, eof: bool, msg: &str) {
        if (loc_line as i64) <= self.lexerr_line {
            return;
        }
        let mut line = loc_line;
        let mut t = text;
        let mut newline = "";
        if let Some(stripped) = t.strip_suffix('\n') {
            t = stripped;
            line -= 1;
            if t.is_empty() {
                newline = "<newline>";
            }
        }
        let t = t.trim_end_matches([' ', '\t']);
        let near = if !t.is_empty() || eof {
            format!("`{t}'{newline}")
        } else {
            newline.to_string()
        };
        self.diags.push(Diagnostic {
            line,
            near,
            message: msg.to_string(),
        });
        self.err = true;
    }

    fn lexical_error(&mut self, msg: &str) {
        let line = self.cur_line;
        let text = self.cur_text;
        self.yyerror(line, text, false, msg);
        self.lexerr_line = line as i64;
    }

    /// yylex: the next token for the parser (reporting lexical errors on the way).
    fn next_token(&mut self) -> (Token<'a>, bool) {
        while let Some(lx) = self.lexemes.next() {
            self.last_lexeme = Some(lx);
            let text: &'a str = &self.src[lx.start..lx.end];
            let tok = match lx.kind {
                LexKind::Blank => continue,
                LexKind::LexError {
                    python,
                    silent,
                    newline,
                } => {
                    self.likely_python |= python;
                    if silent {
                        // Pending yymore text: shown as the `near' text of an error at EOF.
                        self.cur_text = text;
                        continue;
                    }
                    self.cur_text = text;
                    self.cur_line = lx.line_after;
                    self.lexical_error("lexical error");
                    if !newline {
                        continue;
                    }
                    let t = Token {
                        tok: Tok::Newline,
                        line: lx.line_after,
                        text,
                        value: Cow::Borrowed(""),
                    };
                    self.last_loc = t.line;
                    return (t, false);
                }
                LexKind::Ident => Tok::Ident,
                LexKind::Number => Tok::Number,
                LexKind::Str => Tok::Str,
                LexKind::Newline => Tok::Newline,
                LexKind::AddAssign => Tok::AddAssign,
                LexKind::Assign => Tok::Assign,
                LexKind::Semi => Tok::Semi,
                LexKind::Comma => Tok::Comma,
                LexKind::Open => Tok::Open,
                LexKind::Close => Tok::Close,
            };
            self.cur_text = text;
            self.cur_line = lx.line_after;
            let line = if tok == Tok::Newline {
                lx.line_after - 1
            } else {
                lx.line_after
            };
            let mut value = Cow::Borrowed(text);
            if tok == Tok::Str {
                let body = &text[1..text.len() - 1];
                if self.err {
                    value = Cow::Borrowed("");
                } else if !body.contains('\\') {
                    value = Cow::Borrowed(body);
                } else {
                    match dequote(text) {
                        Ok(v) => value = Cow::Owned(v),
                        Err(msg) => {
                            self.lexical_error(msg);
                            self.err = true;
                            value = Cow::Borrowed("");
                        }
                    }
                }
            }
            self.last_loc = line;
            return (
                Token {
                    tok,
                    line,
                    text,
                    value,
                },
                false,
            );
        }
        let t = Token {
            tok: Tok::End,
            line: self.last_loc,
            text: self.cur_text_at_eof(),
            value: Cow::Borrowed(""),
        };
        (t, true)
    }

    fn cur_text_at_eof(&self) -> &'a str {
        match &self.last_lexeme {
            Some(Lexeme {
                kind: LexKind::LexError { silent: true, .. },
                start,
                end,
                ..
            }) => &self.src[*start..*end],
            _ => "",
        }
    }

    fn set_store(&mut self, name: &'a str, op: Op, value: Value, line: usize) {
        if self.err {
            return;
        }
        let mut value = value;
        if op == Op::Add {
            for (i, n) in self.names.iter().enumerate().skip(self.indexed) {
                self.last.insert(n, i);
            }
            self.indexed = self.names.len();
            if let Some(&i) = self.last.get(name) {
                // The earlier setting is superseded: its value moves into the new one (copying
                // it, as libxlutil does, costs time and memory quadratic in the `+=` chain).
                match (&mut self.settings[i].value, &mut value) {
                    (Value::Str(p), Value::Str(a)) => {
                        let mut joined = std::mem::take(p);
                        joined.push_str(a);
                        *a = joined;
                    }
                    (Value::List(p), Value::List(a)) => {
                        let mut joined = std::mem::take(p);
                        joined.append(a);
                        *a = joined;
                    }
                    _ => {
                        self.lexical_error("can't add [list] to \"string\" or vice versa");
                        self.err = true;
                        return;
                    }
                }
            }
        }
        self.names.push(name);
        self.settings.push(Setting {
            name: name.to_string(),
            value,
            op,
            line,
        });
    }
}

/// Parses a whole xl.cfg text like `xlu_cfg_readdata`: the settings, or every error line xl
/// prints.
pub fn parse(src: &str) -> Result<Config, ParseError> {
    parse_from(src, Lexer::new(src))
}

/// [`parse`] over the lexemes [`lex`] made of `src`, for callers that keep them.
pub fn parse_lexed(src: &str, lexemes: &[Lexeme]) -> Result<Config, ParseError> {
    parse_from(src, lexemes.iter().copied())
}

fn parse_from(src: &str, lexemes: impl Iterator<Item = Lexeme>) -> Result<Config, ParseError> {
    let mut cx = Ctx {
        src,
        lexemes,
        last_lexeme: None,
        err: false,
        lexerr_line: -1,
        likely_python: false,
        diags: Vec::new(),
        cur_text: "",
        cur_line: 1,
        last_loc: 1,
        settings: Vec::new(),
        names: Vec::new(),
        last: FxHashMap::default(),
        indexed: 0,
    };
    let accepted = run_automaton(&mut cx);
    if cx.err || !accepted {
        if cx.diags.is_empty() {
            // Cannot happen with libxlutil's rules; keep the error structured anyway.
            cx.diags.push(Diagnostic {
                line: cx.last_loc,
                near: String::new(),
                message: "syntax error".into(),
            });
        }
        return Err(ParseError {
            diagnostics: cx.diags,
            likely_python: cx.likely_python,
        });
    }
    Ok(Config::new(cx.settings))
}

fn run_automaton<'a, I: Iterator<Item = Lexeme>>(cx: &mut Ctx<'a, I>) -> bool {
    let mut states: Vec<u8> = vec![0];
    let mut sems: Vec<Sem<'a>> = vec![Sem::None];
    let mut la: Option<(Token, bool)> = None;
    let mut errstatus = 0u8;
    loop {
        let state = *states.last().unwrap_or(&0);
        let act = match default_only(state) {
            Some(r) => Act::Reduce(r),
            None => {
                if la.is_none() {
                    la = Some(cx.next_token());
                }
                let tok = la.as_ref().map_or(Tok::End, |(t, _)| t.tok);
                action(state, tok)
            }
        };
        match act {
            Act::Accept => return true,
            Act::Shift(s) => {
                let (t, _) = la.take().unwrap_or_else(|| cx.next_token());
                let sem = match t.tok {
                    Tok::Ident => Sem::Name(t.text),
                    Tok::Str | Tok::Number => Sem::Val(Value::Str(t.value.into_owned()), t.line),
                    Tok::Open => Sem::Val(Value::Str(String::new()), t.line),
                    _ => Sem::None,
                };
                states.push(s);
                sems.push(sem);
                errstatus = errstatus.saturating_sub(1);
                if states.len() >= MAX_STACK {
                    return exhausted(cx, &la);
                }
            }
            Act::Reduce(r) => {
                let (lhs, n) = RULES[r as usize];
                let base = sems.len() - n;
                let sem = reduce(cx, r, &mut sems[base..]);
                sems.truncate(base);
                states.truncate(states.len() - n);
                let top = *states.last().unwrap_or(&0);
                states.push(goto(top, lhs));
                sems.push(sem);
                if states.len() >= MAX_STACK {
                    return exhausted(cx, &la);
                }
            }
            Act::Error => {
                let (t, eof) = la.clone().unwrap_or_else(|| cx.next_token());
                if errstatus == 0 {
                    let mut msg = format!("syntax error, unexpected {}", t.tok.name());
                    let exp = expected(state);
                    if !exp.is_empty() {
                        let names: Vec<&str> = exp.iter().map(|t| t.name()).collect();
                        msg.push_str(", expecting ");
                        msg.push_str(&names.join(" or "));
                    }
                    cx.yyerror(t.line, t.text, eof, &msg);
                }
                if errstatus == 3 {
                    if t.tok == Tok::End {
                        return false;
                    }
                    la = None;
                }
                errstatus = 3;
                loop {
                    match states.last() {
                        Some(&STMTS_STATE) => break,
                        Some(_) if states.len() > 1 => {
                            states.pop();
                            sems.pop();
                        }
                        _ => return false,
                    }
                }
                states.push(ERROR_STATE);
                sems.push(Sem::None);
            }
        }
    }
}

/// bison's `yyexhaustedlab`: the stack is full. The message goes through yyerror like any
/// other (the lookahead's location, the scanner's current text), and the parse fails.
fn exhausted<I: Iterator<Item = Lexeme>>(cx: &mut Ctx<I>, la: &Option<(Token, bool)>) -> bool {
    match la {
        Some((t, true)) => cx.yyerror(t.line, t.text, true, "memory exhausted"),
        _ => {
            let (line, text) = (cx.last_loc, cx.cur_text);
            cx.yyerror(line, text, false, "memory exhausted");
        }
    }
    false
}

/// The semantic action of `rule` over its right-hand side (taken out of the value stack).
fn reduce<'a, I: Iterator<Item = Lexeme>>(
    cx: &mut Ctx<'a, I>,
    rule: u8,
    rhs: &mut [Sem<'a>],
) -> Sem<'a> {
    let mut take = |i: usize| rhs.get_mut(i).map_or(Sem::None, std::mem::take);
    match rule {
        8 | 9 => {
            let op = if rule == 8 { Op::Assign } else { Op::Add };
            if let (Sem::Name(name), Sem::Val(v, line)) = (take(0), take(2)) {
                cx.set_store(name, op, v, line);
            }
            Sem::None
        }
        12 | 14 | 15 | 17 | 18 => take(0),
        13 => {
            // '[' nlok valuelist ']': the location is the '['.
            let line = match take(0) {
                Sem::Val(_, l) => l,
                _ => 0,
            };
            match take(2) {
                Sem::Val(v, _) => Sem::Val(v, line),
                _ => Sem::Val(Value::List(Vec::new()), line),
            }
        }
        16 => Sem::Val(Value::List(Vec::new()), 0),
        19 => match take(0) {
            Sem::Val(v, l) => {
                // Room for a few items at once: growing from one item frees a buffer per
                // list, which the allocator pays for on a big file.
                let mut items = Vec::with_capacity(4);
                items.push(v);
                Sem::Val(Value::List(items), l)
            }
            _ => Sem::None,
        },
        20 => match (take(0), take(3)) {
            (Sem::Val(Value::List(mut l), line), Sem::Val(v, _)) => {
                l.push(v);
                Sem::Val(Value::List(l), line)
            }
            (list, _) => list,
        },
        _ => Sem::None,
    }
}
