//! Times xenpci's xl.cfg reading on one file, phase by phase (the lexer, the exact parser, the
//! lossless document, the effective PCI view), for the parse-time numbers of issue 13:
//! `cargo run --release --example xlcfg_parse_time -- FILE`.

use std::time::Instant;

use xenpci::syntax::xl_cfg;
use xenpci::xlcfg::{effective, xl_spec_parser, Document};

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: xlcfg_parse_time FILE");
        std::process::exit(2);
    };
    let text = match std::fs::read(&path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            eprintln!("{}: {e}", path.to_string_lossy());
            std::process::exit(2);
        }
    };
    let t = Instant::now();
    let lexemes = xl_cfg::lex(&text);
    let lexed = t.elapsed();
    let n_lexemes = lexemes.len();
    drop(lexemes);
    let t = Instant::now();
    let parsed = xl_cfg::parse(&text);
    let parse = t.elapsed();
    let t = Instant::now();
    let doc = Document::parse_with_config(&text);
    let whole = t.elapsed();
    let t = Instant::now();
    if let Ok((_, cfg)) = &doc {
        effective(cfg, "file", &xl_spec_parser);
    }
    let eff = t.elapsed();
    println!(
        "{} bytes, {} lexemes, {}: lex alone {lexed:?}; parse (lex included, what `xlcfg show` runs) {parse:?}; document+config {whole:?}; effective {eff:?}",
        text.len(),
        n_lexemes,
        if parsed.is_ok() { "accepted" } else { "rejected" },
    );
}
