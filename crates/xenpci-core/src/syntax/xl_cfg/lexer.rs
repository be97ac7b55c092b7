//! The xl.cfg lexer: the flex scanner of `libxlu_cfg_l.l` as [`Lexeme`]s (longest match, first
//! rule wins), blanks and comments kept, and the decoding of a STRING token ([`dequote`]).
//! Moved out of `xl_cfg.rs` unchanged (issue 12); see [`super`] for the quirks it reproduces.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, none_of, one_of, satisfy};
use nom::combinator::recognize;
use nom::multi::many0_count;
use nom::sequence::{pair, preceded};
use nom::{IResult, Parser};

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

pub(super) fn lex_one(rest: &str) -> (usize, LexKind) {
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
        // [`newline`]'s comment and [`quoted`] as byte loops too (their delimiters are ASCII):
        // a big file is mostly strings and comments.
        Some(b'#') => rest
            .bytes()
            .position(|b| b == b'\n')
            .map(|n| (n + 1, LexKind::Newline)),
        Some(&q @ (b'\'' | b'"')) => quoted_len(rest.as_bytes(), q).map(|n| (n, LexKind::Str)),
        _ => None,
    };
    rule.unwrap_or_else(|| lex_error(rest, python_char(rest).is_ok()))
}

/// The length of the [`quoted`] string at the start of `b` (quote `q`), None when it does not
/// close before a newline or the end.
fn quoted_len(b: &[u8], q: u8) -> Option<usize> {
    let mut i = 1;
    while let Some(&c) = b.get(i) {
        match c {
            _ if c == q => return Some(i + 1),
            b'\n' => return None,
            // `\` and any character but a newline (the rest of a multi-byte one is plain bytes).
            b'\\' => match b.get(i + 1) {
                Some(b'\n') | None => return None,
                Some(_) => i += 2,
            },
            _ => i += 1,
        }
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte loops of [`lex_one`] take exactly what the nom rules [`quoted`] and
    /// [`newline`] take, for every string of up to 6 characters over the characters that
    /// matter (quotes, backslash, newline, a plain and a multi-byte character).
    #[test]
    fn the_byte_loops_take_what_the_rules_take() {
        let alphabet = ['"', '\'', '\\', '\n', 'a', 'é', '#'];
        let mut s = String::new();
        let mut n = 0;
        fn each(s: &mut String, depth: usize, alphabet: &[char], n: &mut usize) {
            for first in ['"', '\'', '#'] {
                let text = format!("{first}{s}");
                let rule = match first {
                    '#' => newline(&text).ok().map(|(_, t)| t.len()),
                    _ => quoted(&text).ok().map(|(_, t)| t.len()),
                };
                let kind = if first == '#' {
                    LexKind::Newline
                } else {
                    LexKind::Str
                };
                let (len, k) = lex_one(&text);
                match rule {
                    Some(l) => assert_eq!((len, k), (l, kind), "{text:?}"),
                    None => assert!(matches!(k, LexKind::LexError { .. }), "{text:?}"),
                }
                *n += 1;
            }
            if depth == 0 {
                return;
            }
            for c in alphabet {
                s.push(*c);
                each(s, depth - 1, alphabet, n);
                s.pop();
            }
        }
        each(&mut s, 6, &alphabet, &mut n);
        assert!(n > 100_000, "{n}");
    }
}
