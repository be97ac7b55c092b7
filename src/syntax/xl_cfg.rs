//! The xl.cfg language exactly as Xen's libxlutil reads it (4.15 → master: `libxlu_cfg_l.l`,
//! `libxlu_cfg_y.y`, `libxlu_cfg.c`); see `grammar/xl-cfg.ebnf` and xen-xl.md §2.
//!
//! Two layers:
//! * the **lexer** ([`lex`]) cuts the text into [`Lexeme`]s the way the flex scanner does (longest
//!   match, first rule wins), keeping blanks and comments so the document model in
//!   [`crate::xlcfg`] can print every byte back. Each token rule is one small nom parser
//!   ([`ident`], [`number`], [`blank`], [`punct`], [`newline`], [`quoted`], [`python_char`]).
//! * the **parser** ([`parse`]) is the bison LALR(1) automaton of `libxlu_cfg_y.y` written out by
//!   hand (states, default reductions, bison's `error` recovery and its `%error-verbose`
//!   messages), so accept/reject, the error lines and their exact text match xl's. It also
//!   performs libxlutil's semantic actions (string dequoting, `+=` concatenation) and returns the
//!   settings xl would see ([`Config`]).
//!
//! Quirks reproduced on purpose: `\x` escapes always fail, octal escapes drop the character,
//! a bad character as the very last byte of the input is silently ignored, syntax errors at a
//! newline are reported one line too low, at most one lexical error per line, bison's recovery
//! skips to the next newline and stays quiet for three tokens.

use std::borrow::Cow;
use std::fmt;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, none_of, one_of, satisfy};
use nom::combinator::recognize;
use nom::multi::many0_count;
use nom::sequence::{pair, preceded};
use nom::{IResult, Parser};
use rustc_hash::FxHashMap;

/// The three lines libxlutil prints after a failed parse that contained `+ - . ( ) :`.
pub const PYTHON_WARNING: &str = "warning: Config file looks like it contains Python code.\n\
warning:  Arbitrary Python is no longer supported.\n\
warning:  See https://wiki.xen.org/wiki/PythonInXlConfig\n";

// ---------------------------------------------------------------------------------------------
// Token rules (one nom parser each)
// ---------------------------------------------------------------------------------------------

/// IDENT `[a-z][._0-9a-z]*`.
pub fn ident(i: &str) -> IResult<&str, &str> {
    recognize(pair(
        satisfy(|c| c.is_ascii_lowercase()),
        take_while(|c: char| c == '.' || c == '_' || c.is_ascii_digit() || c.is_ascii_lowercase()),
    ))
    .parse(i)
}

/// NUMBER `[0-9][0-9a-fx]*` (kept as text; read later with strtol).
pub fn number(i: &str) -> IResult<&str, &str> {
    recognize(pair(
        satisfy(|c| c.is_ascii_digit()),
        take_while(|c: char| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == 'x'),
    ))
    .parse(i)
}

/// One blank: space or tab (CR is *not* a blank).
pub fn blank(i: &str) -> IResult<&str, &str> {
    recognize(one_of(" \t")).parse(i)
}

/// Punctuation `+=`, `,`, `[`, `]`, `=`, `;`.
pub fn punct(i: &str) -> IResult<&str, &str> {
    alt((tag("+="), tag(","), tag("["), tag("]"), tag("="), tag(";"))).parse(i)
}

/// NEWLINE: `\n`, or a comment `#…` *including* its newline.
pub fn newline(i: &str) -> IResult<&str, &str> {
    alt((
        tag("\n"),
        recognize((char('#'), take_while(|c| c != '\n'), char('\n'))),
    ))
    .parse(i)
}

/// A quoted string in either quote style: no raw newline, `\` followed by any character but a
/// newline.
pub fn quoted(i: &str) -> IResult<&str, &str> {
    alt((quoted_with('\''), quoted_with('"'))).parse(i)
}

fn quoted_with(q: char) -> impl Fn(&str) -> IResult<&str, &str> {
    move |i| {
        let stop: &str = if q == '"' { "\"\\\n" } else { "'\\\n" };
        recognize((
            char(q),
            many0_count(alt((
                take_while1(|c| !stop.contains(c)),
                recognize(preceded(char('\\'), none_of("\n"))),
            ))),
            char(q),
        ))
        .parse(i)
    }
}

/// A character that starts a lexical error *and* marks the file as "likely python":
/// `+ - . ( ) :` (the flex class `[+-.():]`, whose `,` is taken by its own rule first).
pub fn python_char(i: &str) -> IResult<&str, char> {
    one_of("+-.():").parse(i)
}

// ---------------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------------

/// What a lexeme is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexKind {
    /// IDENT
    Ident,
    /// NUMBER
    Number,
    /// STRING (the text keeps its quotes and escapes)
    Str,
    /// `\n` or a comment with its newline
    Newline,
    /// `+=`
    AddAssign,
    /// `=`
    Assign,
    /// `;`
    Semi,
    /// `,`
    Comma,
    /// `[`
    Open,
    /// `]`
    Close,
    /// space or tab
    Blank,
    /// A lexical error: a character no rule takes, plus the non-blank run after it (or the one
    /// blank, or the newline, after it), as flex's `lexerr` state collects it.
    LexError {
        /// Started by one of `+ - . ( ) :`.
        python: bool,
        /// It is the input's last byte: flex never reports it.
        silent: bool,
        /// Ends with the newline, which the scanner still hands to the parser as NEWLINE.
        newline: bool,
    },
}

/// One lexeme with its byte span and the scanner's line counter after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexeme {
    /// Kind.
    pub kind: LexKind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset after the last byte.
    pub end: usize,
    /// flex's `yylineno` after matching (1-based line of the next byte).
    pub line_after: usize,
}

/// Cuts `src` into lexemes exactly as the flex scanner does. Never fails: characters no rule
/// takes become [`LexKind::LexError`] lexemes.
pub fn lex(src: &str) -> Vec<Lexeme> {
    Lexer::new(src).collect()
}

/// [`lex`] one lexeme at a time (the parser reads a file without keeping them all).
#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `src`.
    pub fn new(src: &'a str) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            line: 1,
        }
    }
}

impl Iterator for Lexer<'_> {
    type Item = Lexeme;

    fn next(&mut self) -> Option<Lexeme> {
        let rest = self.src.get(self.pos..).filter(|r| !r.is_empty())?;
        let (len, kind) = lex_one(rest);
        // Only a NEWLINE (a comment included) or a lexical error can hold a newline, as its last
        // byte.
        if rest.as_bytes()[len - 1] == b'\n' {
            self.line += 1;
        }
        let start = self.pos;
        self.pos += len;
        Some(Lexeme {
            kind,
            start,
            end: self.pos,
            line_after: self.line,
        })
    }
}

fn lex_one(rest: &str) -> (usize, LexKind) {
    let took = |r: IResult<&str, &str>| r.ok().map(|(_, t)| t.len());
    // The rules start with disjoint characters, so the first byte picks the only one that can
    // match (what "first rule wins" comes to), instead of trying each in turn.
    let rule = match rest.as_bytes().first() {
        // [`ident`] and [`number`] as byte loops (their characters are ASCII).
        Some(b'a'..=b'z') => Some((
            run_len(
                rest,
                |b| matches!(b, b'.' | b'_' | b'0'..=b'9' | b'a'..=b'z'),
            ),
            LexKind::Ident,
        )),
        Some(b'0'..=b'9') => Some((
            run_len(rest, |b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'x')),
            LexKind::Number,
        )),
        // The one-character rules ([`blank`], [`punct`], the `\n` of [`newline`]) directly:
        // a third of a big file's lexemes, and the nom call costs more than the match.
        Some(b' ' | b'\t') => Some((1, LexKind::Blank)),
        Some(b'\n') => Some((1, LexKind::Newline)),
        Some(b',') => Some((1, LexKind::Comma)),
        Some(b'[') => Some((1, LexKind::Open)),
        Some(b']') => Some((1, LexKind::Close)),
        Some(b'=') => Some((1, LexKind::Assign)),
        Some(b';') => Some((1, LexKind::Semi)),
        Some(b'+') => rest.starts_with("+=").then_some((2, LexKind::AddAssign)),
        Some(b'#') => took(newline(rest)).map(|n| (n, LexKind::Newline)),
        Some(b'\'' | b'"') => took(quoted(rest)).map(|n| (n, LexKind::Str)),
        _ => None,
    };
    rule.unwrap_or_else(|| lex_error(rest, python_char(rest).is_ok()))
}

/// 1 + the length of the run of bytes after the first that `more` accepts.
fn run_len(rest: &str, more: impl Fn(u8) -> bool) -> usize {
    1 + rest.as_bytes()[1..]
        .iter()
        .take_while(|&&b| more(b))
        .count()
}

/// flex's `lexerr` state: the bad character, then either a run of non-blanks, one blank, or the
/// newline. A bad *byte* at the very end of the input matches nothing more and is never reported.
fn lex_error(rest: &str, python: bool) -> (usize, LexKind) {
    let first = rest.chars().next().map_or(1, char::len_utf8);
    let after = &rest[first..];
    let err = |len, silent, newline| {
        (
            len,
            LexKind::LexError {
                python,
                silent,
                newline,
            },
        )
    };
    // flex works on bytes: the rest of a multi-byte character is a non-blank run.
    match after.as_bytes().first() {
        _ if first > 1 => {}
        None => return err(first, true, false),
        Some(b' ' | b'\t') => return err(first + 1, false, false),
        Some(b'\n') => return err(first + 1, false, true),
        _ => {}
    }
    {
        let run = after
            .bytes()
            .take_while(|b| !matches!(b, b' ' | b'\t' | b'\n'))
            .count();
        err(first + run, false, false)
    }
}

/// Decodes a STRING token (with its quotes) like `xlu__cfgl_dequote`: returns the value or the
/// message libxlutil prints.
pub fn dequote(raw: &str) -> Result<String, &'static str> {
    let b = raw.as_bytes();
    let body_end = b.len() - 1;
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut p = 1;
    while p < body_end {
        let c = b[p];
        p += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let nc = b[p];
        p += 1;
        match nc {
            b'"' | b'\'' | b'\\' => out.push(nc),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            // Skips one more character, then wants more than the two hex digits it reads.
            b'x' => {
                return Err(
                    "invalid digit after backslash hexnumerical character escape in quoted string",
                )
            }
            b'0'..=b'7' => {
                // strtoul(base 10) over at most 3 bytes after the first digit; must consume 2+.
                let window = &b[p..b.len().min(p + 3)];
                let used = strtoul_dec_len(window);
                if used <= 1 {
                    return Err("invalid digit after backslash octalnumerical character escape in quoted string");
                }
                p += used; // the character itself is never written
            }
            _ => return Err("invalid character after backlash in quoted string"),
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// How many bytes C's `strtoul(s, &ep, 10)` consumes (0 when it finds no digit).
fn strtoul_dec_len(s: &[u8]) -> usize {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    if i < s.len() && matches!(s[i], b'+' | b'-') {
        i += 1;
    }
    let digits = s[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        0
    } else {
        i + digits
    }
}

// ---------------------------------------------------------------------------------------------
// Values and settings (what libxlutil keeps)
// ---------------------------------------------------------------------------------------------

/// A value as libxlutil stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string or a number (numbers are kept as text).
    Str(String),
    /// A list (items may be nested lists).
    List(Vec<Value>),
}

/// `=` or `+=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Assign,
    /// `+=`
    Add,
}

/// One stored assignment (after `+=` concatenation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Key.
    pub name: String,
    /// Value (for `+=`: already concatenated with the previous one).
    pub value: Value,
    /// The operator used.
    pub op: Op,
    /// Line of the value's first token.
    pub line: usize,
}

/// The settings of an accepted file, read the way `xlu_cfg_get_*` read them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Every assignment in file order (the last one of a name wins).
    pub settings: Vec<Setting>,
}

/// Result of reading one key: the value, or why not, with the warning xl prints (without the
/// `<source>:` prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// The key is not set (ESRCH).
    Missing,
    /// Read fine.
    Found(T),
    /// Set but unusable (EINVAL/ERANGE); the warning xl prints, e.g.
    /// `3: warning: parameter `pci' is a single value but should be a list`.
    Invalid(String),
}

impl Config {
    /// The winning setting of `name`.
    pub fn find(&self, name: &str) -> Option<&Setting> {
        self.settings.iter().rev().find(|s| s.name == name)
    }

    /// `xlu_cfg_get_string`.
    pub fn get_string(&self, name: &str) -> Lookup<String> {
        match self.find(name) {
            None => Lookup::Missing,
            Some(Setting {
                value: Value::Str(s),
                ..
            }) => Lookup::Found(s.clone()),
            Some(s) => Lookup::Invalid(format!(
                "{}: warning: parameter `{name}' is a list but should be a single value",
                s.line
            )),
        }
    }

    /// `xlu_cfg_get_list`: the items as `xlu_cfg_get_listitem` returns them (None for a
    /// non-string item).
    pub fn get_list(&self, name: &str) -> Lookup<Vec<Option<String>>> {
        match self.find(name) {
            None => Lookup::Missing,
            Some(Setting {
                value: Value::List(items),
                ..
            }) => Lookup::Found(
                items
                    .iter()
                    .map(|v| match v {
                        Value::Str(s) => Some(s.clone()),
                        Value::List(_) => None,
                    })
                    .collect(),
            ),
            Some(s) => Lookup::Invalid(format!(
                "{}: warning: parameter `{name}' is a single value but should be a list",
                s.line
            )),
        }
    }

    /// `xlu_cfg_get_long`: strtol base 0 on a 64-bit `long`.
    pub fn get_long(&self, name: &str) -> Lookup<i64> {
        let s = match self.find(name) {
            None => return Lookup::Missing,
            Some(s) => s,
        };
        let text = match (&s.value, s.op) {
            (Value::List(_), _) => {
                return Lookup::Invalid(format!(
                    "{}: warning: parameter `{name}' is a list but should be a single value",
                    s.line
                ))
            }
            (Value::Str(_), Op::Add) => {
                return Lookup::Invalid(format!(
                    "{}: warning: can't use += with numbers for parameter `{name}'",
                    s.line
                ))
            }
            (Value::Str(t), Op::Assign) => t,
        };
        match strtol0(text) {
            Strtol::Ok(v) => Lookup::Found(v),
            Strtol::Range => Lookup::Invalid(format!(
                "{}: warning: parameter `{name}' could not be parsed as a number: Numerical result out of range",
                s.line
            )),
            Strtol::Invalid => Lookup::Invalid(format!(
                "{}: warning: parameter `{name}' is not a valid number",
                s.line
            )),
        }
    }
}

/// Outcome of C's `strtol(s, &ep, 0)` followed by xl's "whole string" check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strtol {
    /// A number that used the whole string.
    Ok(i64),
    /// ERANGE.
    Range,
    /// No digits, or text after them.
    Invalid,
}

/// `strtol(s, &ep, 0)` with `*ep == 0 && ep != s` required, as `xlu_cfg_get_bounded_long` does.
pub fn strtol0(s: &str) -> Strtol {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && matches!(b[i], b'+' | b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let (base, start) = if b[i..].starts_with(b"0x") || b[i..].starts_with(b"0X") {
        if b.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit()) {
            (16, i + 2)
        } else {
            // "0x" without a hex digit: strtol reads the 0 and stops at the x.
            return Strtol::Invalid;
        }
    } else if b.get(i) == Some(&b'0') {
        (8, i)
    } else {
        (10, i)
    };
    let digits = b[start..]
        .iter()
        .take_while(|c| (**c as char).is_digit(base))
        .count();
    if digits == 0 {
        return Strtol::Invalid;
    }
    let mut v: i128 = 0;
    let mut overflow = false;
    for &c in &b[start..start + digits] {
        v = v * base as i128 + (c as char).to_digit(base).unwrap_or(0) as i128;
        if v > i64::MAX as i128 + 1 {
            overflow = true;
            v = i64::MAX as i128 + 1;
        }
    }
    let v = if neg { -v } else { v };
    if overflow || v > i64::MAX as i128 || v < i64::MIN as i128 {
        return Strtol::Range;
    }
    if start + digits != b.len() {
        return Strtol::Invalid;
    }
    Strtol::Ok(v as i64)
}

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
    Ok(Config {
        settings: cx.settings,
    })
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
            Sem::Val(v, l) => Sem::Val(Value::List(vec![v]), l),
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

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        parse(src).unwrap_err().report("test.cfg")
    }
    fn ok(src: &str) -> Config {
        parse(src).unwrap_or_else(|e| panic!("{src:?}: {}", e.report("test.cfg")))
    }

    #[test]
    fn token_rules() {
        assert_eq!(ident("pci.0 = 1"), Ok((" = 1", "pci.0")));
        assert!(ident("PCI").is_err());
        assert_eq!(number("0x1F"), Ok(("F", "0x1")));
        assert_eq!(number("1e5;"), Ok((";", "1e5")));
        assert_eq!(blank("\t x"), Ok((" x", "\t")));
        assert!(blank("\r").is_err());
        assert_eq!(punct("+=1"), Ok(("1", "+=")));
        assert_eq!(punct("];"), Ok((";", "]")));
        assert_eq!(newline("# c\nx"), Ok(("x", "# c\n")));
        assert!(newline("# no newline").is_err());
        assert_eq!(quoted(r#""a\"b" x"#), Ok((" x", r#""a\"b""#)));
        assert_eq!(quoted("'it''s'"), Ok(("'s'", "'it'")));
        assert!(quoted("\"a\nb\"").is_err());
        assert_eq!(python_char("(x"), Ok(("x", '(')));
        assert!(python_char(",").is_err());
    }

    #[test]
    fn lexer_dispatch_agrees_with_the_token_rules() {
        for text in [
            " x",
            "\tx",
            "\nx",
            ",x",
            "[x",
            "]x",
            "=x",
            ";x",
            "+=x",
            "+x",
            "# c\nx",
            "#",
            "a",
            "pci.0_x=",
            "z9.",
            "0x1fZ",
            "9",
            "0abcdefgx",
        ] {
            let (n, kind) = lex_one(text);
            let by_rule = ident(text)
                .or_else(|_| number(text))
                .or_else(|_| blank(text))
                .or_else(|_| punct(text))
                .or_else(|_| newline(text))
                .map(|(_, t)| t.len());
            match by_rule {
                Ok(len) => assert_eq!(n, len, "{text:?}"),
                Err(_) => assert!(matches!(kind, LexKind::LexError { .. }), "{text:?}"),
            }
        }
    }

    #[test]
    fn lexer_error_runs() {
        let l = lex("PCI = 1");
        assert_eq!(l[0].end, 3);
        assert!(matches!(l[0].kind, LexKind::LexError { python: false, .. }));
        let l = lex("x=1:");
        assert!(matches!(
            l.last().unwrap().kind,
            LexKind::LexError { silent: true, .. }
        ));
    }

    #[test]
    fn escapes() {
        assert_eq!(dequote(r#""e\101f""#), Ok("ef".into()));
        assert_eq!(dequote(r#"'\t\'\\'"#), Ok("\t'\\".into()));
        assert!(dequote(r#""c\x41d""#).unwrap_err().contains("hexnumerical"));
        assert!(dequote(r#""e\1f""#).unwrap_err().contains("octalnumerical"));
        assert!(dequote(r#""a\qb""#).unwrap_err().contains("backlash"));
    }

    #[test]
    fn numbers_like_strtol() {
        assert_eq!(strtol0("010"), Strtol::Ok(8));
        assert_eq!(strtol0("08"), Strtol::Invalid);
        assert_eq!(strtol0("0x1f"), Strtol::Ok(31));
        assert_eq!(strtol0("-1"), Strtol::Ok(-1));
        assert_eq!(strtol0("1e"), Strtol::Invalid);
        assert_eq!(strtol0("0x"), Strtol::Invalid);
        assert_eq!(strtol0("99999999999999999999"), Strtol::Range);
        assert_eq!(strtol0(""), Strtol::Invalid);
    }

    #[test]
    fn grammar_vectors_69_to_89() {
        assert_eq!(
            ok("pci = [ \"01:00.0\", ]\n").get_list("pci"),
            Lookup::Found(vec![Some("01:00.0".into())])
        );
        let c = ok("pci = [\n \"01:00.0\",\n \"02:00.0\"\n]\n");
        assert!(matches!(c.get_list("pci"), Lookup::Found(v) if v.len() == 2));
        assert_eq!(ok("pci = []\n").get_list("pci"), Lookup::Found(vec![]));
        assert!(
            matches!(ok("pci = \"01:00.0\"\n").get_list("pci"), Lookup::Invalid(w) if w.contains("single value"))
        );
        assert_eq!(
            err("PCI = [ \"01:00.0\" ]\n"),
            "test.cfg:1: config parsing error near `PCI': lexical error\n"
        );
        assert!(err("pci_permissive = -1\n").ends_with(PYTHON_WARNING));
        assert!(
            matches!(ok("pci_permissive = \"yes\"\n").get_long("pci_permissive"), Lookup::Invalid(w) if w.contains("not a valid number"))
        );
        assert_eq!(
            ok("pci_permissive = 010\n").get_long("pci_permissive"),
            Lookup::Found(8)
        );
        assert_eq!(
            ok("pci = [ \"a\" ]\npci += [ \"b\" ]\n").get_list("pci"),
            Lookup::Found(vec![Some("a".into()), Some("b".into())])
        );
        assert_eq!(
            err("x = \"a\"\nx += [ \"b\" ]\n"),
            "test.cfg:2: config parsing error near `]': can't add [list] to \"string\" or vice versa\n"
        );
        assert!(err("x = 1\r\n").contains("near `\r'"));
        assert!(err("x = 1\n# comment").contains("near `#'"));
        assert!(err("pci = [ \"01:00.0\" \\\n, \"02:00.0\" ]\n").contains("near `\\'"));
        assert!(err("pci = [ \"01:00.0\" \"02:00.0\" ]\n")
            .contains("syntax error, unexpected STRING, expecting ']'"));
        assert_eq!(
            ok("x = \"e\\101f\"\n").get_string("x"),
            Lookup::Found("ef".into())
        );
        assert_eq!(
            ok("pci = [ [\"x\"], \"01:00.0\" ]\n").get_list("pci"),
            Lookup::Found(vec![None, Some("01:00.0".into())])
        );
        assert_eq!(
            err("x=\n"),
            "test.cfg:0: config parsing error near <newline>: syntax error, unexpected NEWLINE, expecting STRING or NUMBER or '['\n"
        );
        ok("a = 1; b = 2");
        assert!(err("a = 1 b = 2\n").contains("unexpected IDENT, expecting $end"));
    }

    #[test]
    fn long_add_chains_cost_linear_time_and_memory() {
        // 10,000 `+=` to one string key: each setting used to keep its own copy of the whole
        // string so far (quadratic memory: 400 MB here, 2 GB for 400 KB of input).
        let n = 10_000;
        let cfg = ok(&"extra += \"console \"\n".repeat(n));
        let kept: usize = cfg
            .settings
            .iter()
            .map(|s| match &s.value {
                Value::Str(v) => v.len(),
                Value::List(_) => 0,
            })
            .sum();
        assert_eq!(cfg.get_string("extra"), Lookup::Found("console ".repeat(n)));
        assert!(kept <= 2 * 8 * n, "{kept} bytes kept for {} bytes", 8 * n);
        // 40,000 `+=` to distinct keys: each used to search every earlier setting.
        let n = 40_000;
        let src: String = (0..n).map(|i| format!("k{i} += {i}\n")).collect();
        let t = std::time::Instant::now();
        let cfg = ok(&src);
        assert_eq!(
            cfg.get_long("k39999"),
            Lookup::Invalid(
                "40000: warning: can't use += with numbers for parameter `k39999'".into()
            )
        );
        assert!(t.elapsed().as_secs_f64() < 3.0, "{:?}", t.elapsed());
    }

    #[test]
    fn recovery_and_eof() {
        assert_eq!(
            err("x y\nz = 1\nq q\nw w\n"),
            "test.cfg:1: config parsing error near `y': syntax error, unexpected IDENT, expecting += or '='\n\
             test.cfg:3: config parsing error near `q': syntax error, unexpected IDENT, expecting += or '='\n"
        );
        assert_eq!(
            err("x = [ 1,"),
            "test.cfg:1: config parsing error near `': syntax error, unexpected $end, expecting ']'\n"
        );
        assert!(err("x = :").contains("near `:'"));
        ok("x = 1:");
        assert!(err("\"foo\"").contains("expecting $end or IDENT or NEWLINE or ';'"));
    }
}
