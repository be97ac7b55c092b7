//! The hide list's grammar (grammar/hide-list.ebnf), one rule per production, on the kernel's
//! `sscanf` semantics: blanks, `%x` numbers and the six entry forms `pcistub_init` tries.

pub use crate::syntax::scan::ScanFail;
use crate::syntax::scan::{fail, Res};

/// The kernel's `isspace`: blank, `\t`..`\r`, and Latin-1 NBSP (0xa0; never alone in UTF-8).
pub(super) fn is_kspace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// `blanks = { blank }` — a blank in a kernel sscanf format: any run, possibly empty.
pub fn blanks(input: &str) -> Res<'_, &str> {
    let end = input.find(|c| !is_kspace(c)).unwrap_or(input.len());
    Ok((&input[end..], &input[..end]))
}

/// A literal character of the format; the kernel skips no blank before it.
pub fn lit(c: char, expected: &'static str) -> impl Fn(&str) -> Res<'_, char> {
    move |input: &str| match input.strip_prefix(c) {
        Some(rest) => Ok((rest, c)),
        None => fail(input, expected),
    }
}

/// `number = blanks, hexdigit-or-0x, { hexdigit }` — the kernel's `%x`: skips blanks, needs a
/// hex digit first, drops a `0x`/`0X` prefix, reads every hex digit after it; the value wraps
/// modulo 2^64 and is stored into a 32-bit `int` (so `ffffffff` is -1).
pub fn number(expected: &'static str) -> impl Fn(&str) -> Res<'_, i32> {
    move |input: &str| {
        let (r, _) = blanks(input)?;
        if !r.starts_with(|c: char| c.is_ascii_hexdigit()) {
            return fail(r, expected);
        }
        let r = match r.as_bytes() {
            [b'0', b'x' | b'X', ..] => &r[2..],
            _ => r,
        };
        let end = r.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(r.len());
        let v = r[..end].chars().fold(0u64, |acc, c| {
            acc.wrapping_mul(16)
                .wrapping_add(c.to_digit(16).unwrap_or(0) as u64)
        });
        Ok((&r[end..], v as u32 as i32))
    }
}

/// The raw numbers of one entry: segment (None in the short forms), bus, slot (-1 = `*`),
/// function (-1 = `*`).
pub(super) type Raw = (Option<i32>, i32, i32, i32);

fn open(i: &str) -> Res<'_, char> {
    let (i, _) = blanks(i)?;
    lit('(', "'(' to start an entry")(i)
}

fn close(i: &str) -> Res<'_, char> {
    let (i, c) = lit(')', "')' to end the entry")(i)?;
    let (i, _) = blanks(i)?;
    Ok((i, c))
}

fn star_dot_star(i: &str) -> Res<'_, ()> {
    let (i, _) = lit('*', "'*' (slot wildcard)")(i)?;
    let (i, _) = lit('.', "'.' after the slot")(i)?;
    let (i, _) = lit('*', "'*' (function wildcard)")(i)?;
    Ok((i, ()))
}

/// `long-full = "(" seg ":" bus ":" slot "." func ")"`
pub fn long_full(i: &str) -> Res<'_, Raw> {
    let (i, _) = open(i)?;
    let (i, d) = number("the segment (hex)")(i)?;
    let (i, _) = lit(':', "':' after the segment")(i)?;
    let (i, b) = number("the bus (hex)")(i)?;
    let (i, _) = lit(':', "':' after the bus")(i)?;
    let (i, s) = number("the slot (hex)")(i)?;
    let (i, _) = lit('.', "'.' after the slot")(i)?;
    let (i, f) = number("the function (hex)")(i)?;
    let (i, _) = close(i)?;
    Ok((i, (Some(d), b, s, f)))
}

/// `long-slot = "(" seg ":" bus ":" slot ".*)"`
pub fn long_slot(i: &str) -> Res<'_, Raw> {
    let (i, _) = open(i)?;
    let (i, d) = number("the segment (hex)")(i)?;
    let (i, _) = lit(':', "':' after the segment")(i)?;
    let (i, b) = number("the bus (hex)")(i)?;
    let (i, _) = lit(':', "':' after the bus")(i)?;
    let (i, s) = number("the slot (hex)")(i)?;
    let (i, _) = lit('.', "'.' after the slot")(i)?;
    let (i, _) = lit('*', "the function (hex or '*')")(i)?;
    let (i, _) = close(i)?;
    Ok((i, (Some(d), b, s, -1)))
}

/// `long-bus = "(" seg ":" bus ":*.*)"`
pub fn long_bus(i: &str) -> Res<'_, Raw> {
    let (i, _) = open(i)?;
    let (i, d) = number("the segment (hex)")(i)?;
    let (i, _) = lit(':', "':' after the segment")(i)?;
    let (i, b) = number("the bus (hex)")(i)?;
    let (i, _) = lit(':', "':' after the bus")(i)?;
    let (i, _) = star_dot_star(i)?;
    let (i, _) = close(i)?;
    Ok((i, (Some(d), b, -1, -1)))
}

/// `short-full = "(" bus ":" slot "." func ")"` (segment 0)
pub fn short_full(i: &str) -> Res<'_, Raw> {
    let (i, _) = open(i)?;
    let (i, b) = number("the bus (hex)")(i)?;
    let (i, _) = lit(':', "':' after the bus")(i)?;
    let (i, s) = number("the slot (hex)")(i)?;
    let (i, _) = lit('.', "'.' after the slot")(i)?;
    let (i, f) = number("the function (hex)")(i)?;
    let (i, _) = close(i)?;
    Ok((i, (None, b, s, f)))
}

/// `short-slot = "(" bus ":" slot ".*)"`
pub fn short_slot(i: &str) -> Res<'_, Raw> {
    let (i, _) = open(i)?;
    let (i, b) = number("the bus (hex)")(i)?;
    let (i, _) = lit(':', "':' after the bus")(i)?;
    let (i, s) = number("the slot (hex)")(i)?;
    let (i, _) = lit('.', "'.' after the slot")(i)?;
    let (i, _) = lit('*', "the function (hex or '*')")(i)?;
    let (i, _) = close(i)?;
    Ok((i, (None, b, s, -1)))
}

/// `short-bus = "(" bus ":*.*)"`
pub fn short_bus(i: &str) -> Res<'_, Raw> {
    let (i, _) = open(i)?;
    let (i, b) = number("the bus (hex)")(i)?;
    let (i, _) = lit(':', "':' after the bus")(i)?;
    let (i, _) = star_dot_star(i)?;
    let (i, _) = close(i)?;
    Ok((i, (None, b, -1, -1)))
}

/// `entry = long-full | long-slot | long-bus | short-full | short-slot | short-bus`, first match
/// wins (the kernel's order). On failure, the error that got furthest (our explanation).
pub fn entry(i: &str) -> Res<'_, Raw> {
    let forms: [fn(&str) -> Res<'_, Raw>; 6] = [
        long_full, long_slot, long_bus, short_full, short_slot, short_bus,
    ];
    let mut best: Option<ScanFail<'_>> = None;
    for form in forms {
        match form(i) {
            Ok(ok) => return Ok(ok),
            Err(nom::Err::Error(e)) | Err(nom::Err::Failure(e)) => {
                if best.as_ref().is_none_or(|b| e.rest.len() < b.rest.len()) {
                    best = Some(e);
                }
            }
            Err(nom::Err::Incomplete(_)) => {}
        }
    }
    Err(nom::Err::Error(best.unwrap_or(ScanFail {
        rest: i,
        expected: "an entry",
    })))
}
