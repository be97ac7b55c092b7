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
//!
//! Split by concern: [`lexer`] (the scanner), [`value`] (what is kept and how it is read),
//! [`parser`] (the automaton); everything is re-exported here.

mod lexer;
mod parser;
mod value;

pub use lexer::*;
pub use parser::*;
pub use value::*;

/// The three lines libxlutil prints after a failed parse that contained `+ - . ( ) :`.
pub const PYTHON_WARNING: &str = "warning: Config file looks like it contains Python code.\n\
warning:  Arbitrary Python is no longer supported.\n\
warning:  See https://wiki.xen.org/wiki/PythonInXlConfig\n";

#[cfg(test)]
mod tests {
    use super::lexer::lex_one;
    use super::*;

    fn err(src: &str) -> String {
        parse(src).unwrap_err().report("test.cfg")
    }
    fn ok(src: &str) -> Config {
        parse(src).unwrap_or_else(|e| panic!("{src:?}: {}", e.report("test.cfg")))
    }

    /// A long file's lookups go through the name index: each must be the setting a scan from
    /// the end finds (the last assignment of a name wins, `+=` included), absent names none.
    #[test]
    fn lookups_in_a_long_file_are_the_last_setting_of_the_name() {
        let mut src = String::from("a = 1\nl = \"x\"\n");
        for i in 0..400 {
            src.push_str(&format!("k{i} = {i}\n"));
        }
        src.push_str("a = 2\nl += \"y\"\nk7 = \"seven\"\n");
        let c = ok(&src);
        assert!(c.settings.len() > 256);
        for s in &c.settings {
            let scan = c.settings.iter().rev().find(|t| t.name == s.name);
            assert_eq!(c.find(&s.name), scan, "{}", s.name);
        }
        assert_eq!(c.get_long("a"), Lookup::Found(2));
        assert_eq!(c.get_string("l"), Lookup::Found("xy".into()));
        assert_eq!(c.get_string("k7"), Lookup::Found("seven".into()));
        assert_eq!(c.get_long("k399"), Lookup::Found(399));
        assert!(c.find("nope").is_none() && c.find("k400").is_none());
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
