//! The xl.cfg parser: the bison LALR(1) automaton of `libxlu_cfg_y.y` written out by hand, its
//! error recovery and messages ([`ParseError`]), and libxlutil's semantic actions. Moved out of
//! `xl_cfg.rs` (issue 12); its tables and stacks reworked for speed (issue 18: the tables are
//! filled at compile time from the match functions, a value is kept only for a symbol that
//! carries one), its answers unchanged (tests/xlcfg_differential.rs against libxlutil).

use compact_str::CompactString;
use rustc_hash::FxHashMap;

use super::lexer::{dequote, LexKind, Lexeme, Lexer};
use super::value::{name_hash, Config, Op, Setting, Value};
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

/// A token as the parser sees it (yylex's return, yylloc and yytext). A STRING's value is not
/// here: it is decoded when the token is read ([`Ctx::dequoted`]) and taken when it is shifted.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    tok: Tok,
    /// The end of the input (the text is the scanner's pending text).
    eof: bool,
    /// bison location `first_line`.
    line: usize,
    /// yytext
    text: &'a str,
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
const fn default_only_of(state: u8) -> Option<u8> {
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

const fn action_of(state: u8, t: Tok) -> Act {
    use Tok::*;
    const fn value_start(t: Tok) -> Option<u8> {
        match t {
            Str => Some(14),
            Number => Some(15),
            Open => Some(16),
            _ => None,
        }
    }
    /// A shift to `value_start(t)`, or `otherwise`.
    const fn shift_value(t: Tok, otherwise: Act) -> Act {
        match value_start(t) {
            Some(s) => Act::Shift(s),
            None => otherwise,
        }
    }
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
        12 | 13 => shift_value(t, Act::Error),
        17 => match t {
            Newline => Act::Shift(24),
            _ => shift_value(t, Act::Reduce(16)),
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
            _ => shift_value(t, Act::Reduce(18)),
        },
        28 => match t {
            Newline => Act::Shift(24),
            _ => Act::Reduce(20),
        },
        _ => Act::Error,
    }
}

const fn goto_of(state: u8, nt: Nt) -> u8 {
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

/// The automaton's states (0 to 30).
const STATES: usize = 31;
/// Every terminal, in [`Tok`]'s order.
const TOKS: [Tok; 11] = [
    Tok::End,
    Tok::Ident,
    Tok::Str,
    Tok::Number,
    Tok::Newline,
    Tok::AddAssign,
    Tok::Assign,
    Tok::Semi,
    Tok::Open,
    Tok::Close,
    Tok::Comma,
];
/// Every nonterminal, in [`Nt`]'s order.
const NTS: [Nt; 10] = [
    Nt::File,
    Nt::Stmts,
    Nt::Stmt,
    Nt::Assignment,
    Nt::Endstmt,
    Nt::Value,
    Nt::Atom,
    Nt::Valuelist,
    Nt::Values,
    Nt::Nlok,
];

/// The three functions above as tables, filled at compile time: the parser's inner loop reads
/// them instead of running a match chain per token (a fifth of a big file's parse time).
struct Tables {
    default_only: [Option<u8>; STATES],
    action: [[Act; TOKS.len()]; STATES],
    goto: [[u8; NTS.len()]; STATES],
}

static TABLES: Tables = {
    let mut t = Tables {
        default_only: [None; STATES],
        action: [[Act::Error; TOKS.len()]; STATES],
        goto: [[1; NTS.len()]; STATES],
    };
    let mut s = 0;
    while s < STATES {
        t.default_only[s] = default_only_of(s as u8);
        let mut k = 0;
        while k < TOKS.len() {
            t.action[s][k] = action_of(s as u8, TOKS[k]);
            k += 1;
        }
        let mut n = 0;
        while n < NTS.len() {
            t.goto[s][n] = goto_of(s as u8, NTS[n]);
            n += 1;
        }
        s += 1;
    }
    t
};

/// [`default_only_of`] from the table.
#[inline]
fn default_only(state: u8) -> Option<u8> {
    TABLES.default_only[state as usize]
}

/// [`action_of`] from the table.
#[inline]
fn action(state: u8, t: Tok) -> Act {
    TABLES.action[state as usize][t as usize]
}

/// [`goto_of`] from the table.
#[inline]
fn goto(state: u8, nt: Nt) -> u8 {
    TABLES.goto[state as usize][nt as usize]
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
    /// A `[`: its line, and where its items start in [`Ctx::items`].
    Open {
        line: usize,
        start: usize,
    },
}

struct Ctx<'a, I> {
    src: &'a str,
    lexemes: I,
    /// The span of a lexical error at the input's last byte (flex's pending `yymore` text, shown
    /// as the `near' text of an error at the end). Being the last byte, it is the last lexeme.
    silent_tail: Option<(usize, usize)>,
    /// The decoded value of the last STRING token read, when it held an escape (None: the text
    /// between the quotes is the value).
    dequoted: Option<String>,
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
    /// The items of the lists being read, an inner list's after its outer list's: a list is
    /// allocated once, at its `]`, with exactly its items (growing each list as it was read
    /// left most of them a third empty).
    items: Vec<Value>,
    /// Hash of a name → index in `settings` of the last setting among the first `indexed` ones
    /// whose name has that hash (libxlutil's `find` walks its whole list: quadratic for many
    /// `+=` of distinct keys). Built only as far as a `+=` needs it: a file without one never
    /// hashes a key.
    last: FxHashMap<u64, usize>,
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
    fn next_token(&mut self) -> Token<'a> {
        while let Some(lx) = self.lexemes.next() {
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
                        self.silent_tail = Some((lx.start, lx.end));
                        self.cur_text = text;
                        continue;
                    }
                    self.cur_text = text;
                    self.cur_line = lx.line_after;
                    self.lexical_error("lexical error");
                    if !newline {
                        continue;
                    }
                    self.last_loc = lx.line_after;
                    return Token {
                        tok: Tok::Newline,
                        eof: false,
                        line: lx.line_after,
                        text,
                    };
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
            if tok == Tok::Str {
                // After an error no value is kept, so none is decoded.
                self.dequoted = None;
                if !self.err && text.as_bytes().contains(&b'\\') {
                    match dequote(text) {
                        Ok(v) => self.dequoted = Some(v),
                        Err(msg) => {
                            self.lexical_error(msg);
                            self.err = true;
                        }
                    }
                }
            }
            self.last_loc = line;
            return Token {
                tok,
                eof: false,
                line,
                text,
            };
        }
        let text = self.silent_tail.map_or("", |(a, b)| &self.src[a..b]);
        Token {
            tok: Tok::End,
            eof: true,
            line: self.last_loc,
            text,
        }
    }

    /// The value a shifted STRING or NUMBER token holds (nothing once an error was seen: no
    /// value is stored after one).
    fn atom(&mut self, t: &Token<'a>) -> CompactString {
        if self.err {
            CompactString::default()
        } else if t.tok == Tok::Number {
            CompactString::new(t.text)
        } else {
            match self.dequoted.take() {
                Some(v) => CompactString::from(v),
                None => CompactString::new(&t.text[1..t.text.len() - 1]),
            }
        }
    }

    fn set_store(&mut self, name: &'a str, op: Op, value: Value, line: usize) {
        if self.err {
            return;
        }
        let mut value = value;
        if op == Op::Add {
            for (i, s) in self.settings.iter().enumerate().skip(self.indexed) {
                self.last.insert(name_hash(&s.name), i);
            }
            self.indexed = self.settings.len();
            let hit = match self.last.get(&name_hash(name)) {
                Some(&i) if self.settings[i].name == name => Some(i),
                // Another name with the same hash: look the long way.
                Some(_) => self.settings.iter().rposition(|s| s.name == name),
                None => None,
            };
            if let Some(i) = hit {
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
        self.settings.push(Setting {
            name: CompactString::new(name),
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
        silent_tail: None,
        dequoted: None,
        err: false,
        lexerr_line: -1,
        likely_python: false,
        diags: Vec::new(),
        cur_text: "",
        cur_line: 1,
        last_loc: 1,
        settings: Vec::new(),
        items: Vec::new(),
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

/// Whether the symbol that leads into `state` carries a semantic value (IDENT, STRING, NUMBER,
/// `[`, value, atom): only those have an entry on the value stack, so a punctuation mark, a
/// newline or a statement costs a one-byte push (bison pushes a value for every symbol). Each
/// state is entered by one symbol only (checked against the tables by a test).
const fn carries_value(state: u8) -> bool {
    matches!(state, 3 | 14 | 15 | 16 | 18 | 19 | 22 | 27 | 30)
}

/// The two stacks of the automaton: its states, and the values of the symbols that carry one.
struct Stacks<'a> {
    states: Vec<u8>,
    sems: Vec<Sem<'a>>,
}

impl<'a> Stacks<'a> {
    fn pop_sem(&mut self) -> Sem<'a> {
        self.sems.pop().unwrap_or_default()
    }
}

fn run_automaton<'a, I: Iterator<Item = Lexeme>>(cx: &mut Ctx<'a, I>) -> bool {
    let mut st = Stacks {
        states: Vec::with_capacity(64),
        sems: Vec::with_capacity(64),
    };
    st.states.push(0);
    let mut la: Option<Token<'a>> = None;
    let mut errstatus = 0u8;
    loop {
        let state = st.states.last().copied().unwrap_or(0);
        let act = match default_only(state) {
            Some(r) => Act::Reduce(r),
            None => {
                let t = *la.get_or_insert_with(|| cx.next_token());
                action(state, t.tok)
            }
        };
        match act {
            Act::Accept => return true,
            Act::Shift(s) => {
                let t = la.take().unwrap_or_else(|| cx.next_token());
                st.states.push(s);
                match t.tok {
                    Tok::Ident => st.sems.push(Sem::Name(t.text)),
                    Tok::Str | Tok::Number => {
                        let v = cx.atom(&t);
                        st.sems.push(Sem::Val(Value::Str(v), t.line))
                    }
                    Tok::Open => {
                        let start = cx.items.len();
                        st.sems.push(Sem::Open {
                            line: t.line,
                            start,
                        })
                    }
                    _ => {}
                }
                errstatus = errstatus.saturating_sub(1);
                if st.states.len() >= MAX_STACK {
                    return exhausted(cx, &la);
                }
            }
            Act::Reduce(r) => {
                reduce(cx, r, &mut st);
                if st.states.len() >= MAX_STACK {
                    return exhausted(cx, &la);
                }
            }
            Act::Error => {
                let t = la.unwrap_or_else(|| cx.next_token());
                if errstatus == 0 {
                    let mut msg = format!("syntax error, unexpected {}", t.tok.name());
                    let exp = expected(state);
                    if !exp.is_empty() {
                        let names: Vec<&str> = exp.iter().map(|t| t.name()).collect();
                        msg.push_str(", expecting ");
                        msg.push_str(&names.join(" or "));
                    }
                    cx.yyerror(t.line, t.text, t.eof, &msg);
                }
                if errstatus == 3 {
                    if t.tok == Tok::End {
                        return false;
                    }
                    la = None;
                }
                errstatus = 3;
                loop {
                    match st.states.last() {
                        Some(&STMTS_STATE) => break,
                        Some(&s) if st.states.len() > 1 => {
                            st.states.pop();
                            if carries_value(s) {
                                st.sems.pop();
                            }
                        }
                        _ => return false,
                    }
                }
                st.states.push(ERROR_STATE);
            }
        }
    }
}

/// bison's `yyexhaustedlab`: the stack is full. The message goes through yyerror like any
/// other (the lookahead's location, the scanner's current text), and the parse fails.
fn exhausted<I: Iterator<Item = Lexeme>>(cx: &mut Ctx<I>, la: &Option<Token>) -> bool {
    match la {
        Some(t) if t.eof => cx.yyerror(t.line, t.text, true, "memory exhausted"),
        _ => {
            let (line, text) = (cx.last_loc, cx.cur_text);
            cx.yyerror(line, text, false, "memory exhausted");
        }
    }
    false
}

/// Reduces by `rule`: its right-hand side leaves the state stack (and its values the value
/// stack), its semantic action runs, and the left-hand side goes on in the state `goto` gives.
fn reduce<'a, I: Iterator<Item = Lexeme>>(cx: &mut Ctx<'a, I>, rule: u8, st: &mut Stacks<'a>) {
    let (lhs, n) = RULES[rule as usize];
    match rule {
        // assignment: IDENT '=' value | IDENT "+=" value
        8 | 9 => {
            let value = st.pop_sem();
            if let (Sem::Name(name), Sem::Val(v, line)) = (st.pop_sem(), value) {
                let op = if rule == 8 { Op::Assign } else { Op::Add };
                cx.set_store(name, op, v, line);
            }
        }
        // value: '[' nlok valuelist ']': the list of the items read since the '[' (its
        // location).
        13 => {
            let list = match st.pop_sem() {
                Sem::Open { line, start } => {
                    let start = start.min(cx.items.len());
                    Sem::Val(Value::List(cx.items.drain(start..).collect()), line)
                }
                _ => Sem::Val(Value::List(Vec::new()), 0),
            };
            st.sems.push(list);
        }
        // values: value nlok | values ',' nlok value nlok: the value joins the items.
        19 | 20 => {
            if let Sem::Val(v, _) = st.pop_sem() {
                cx.items.push(v);
            }
        }
        // `$$ = $1` (value: atom, atom: STRING / NUMBER) leaves the value where it is; the
        // other rules have no value (a valuelist's items are in `cx.items`).
        _ => {}
    }
    let base = st.states.len().saturating_sub(n);
    st.states.truncate(base);
    let top = st.states.last().copied().unwrap_or(0);
    st.states.push(goto(top, lhs));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables are indexed by a token's and a nonterminal's discriminant, and every state they
    /// lead to is a row of theirs (so indexing by a state the automaton reached cannot fail).
    #[test]
    fn tables_are_closed_over_their_states() {
        for (i, t) in TOKS.iter().enumerate() {
            assert_eq!(*t as usize, i, "{t:?}");
        }
        for (i, n) in NTS.iter().enumerate() {
            assert_eq!(*n as usize, i, "{n:?}");
        }
        let in_range = |s: u8| (s as usize) < STATES;
        assert!(in_range(ERROR_STATE) && in_range(STMTS_STATE));
        for s in 0..STATES {
            for a in TABLES.action[s] {
                if let Act::Shift(to) = a {
                    assert!(in_range(to), "state {s} shifts to {to}");
                }
                if let Act::Reduce(r) = a {
                    assert!((r as usize) < RULES.len(), "state {s} reduces by {r}");
                }
            }
            for to in TABLES.goto[s] {
                assert!(in_range(to), "state {s} goes to {to}");
            }
            if let Some(r) = TABLES.default_only[s] {
                assert!((1..RULES.len()).contains(&(r as usize)), "state {s}: {r}");
            }
        }
    }

    /// [`carries_value`] holds for exactly the states entered by a symbol with a value: the
    /// shifts on IDENT, STRING, NUMBER and `[`, and the gotos on value and atom (the table's
    /// filler for impossible gotos, state 1, is entered by `file` only).
    #[test]
    fn the_states_with_a_value_are_those_entered_by_one() {
        let valued_tok = |t: Tok| matches!(t, Tok::Ident | Tok::Str | Tok::Number | Tok::Open);
        let valued_nt = |n: Nt| matches!(n, Nt::Value | Nt::Atom);
        let mut entered = 0;
        for s in 0..STATES {
            for (k, a) in TABLES.action[s].iter().enumerate() {
                if let Act::Shift(to) = *a {
                    assert_eq!(
                        carries_value(to),
                        valued_tok(TOKS[k]),
                        "{s} -{:?}-> {to}",
                        TOKS[k]
                    );
                    entered += 1;
                }
            }
            for (k, &to) in TABLES.goto[s].iter().enumerate() {
                if to != 1 {
                    assert_eq!(
                        carries_value(to),
                        valued_nt(NTS[k]),
                        "{s} -{:?}-> {to}",
                        NTS[k]
                    );
                    entered += 1;
                }
            }
        }
        assert!(!carries_value(1) && !carries_value(ERROR_STATE));
        assert!(entered > 20, "{entered}");
    }
}
