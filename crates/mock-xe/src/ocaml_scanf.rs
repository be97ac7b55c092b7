//! Just enough of OCaml's `Scanf.sscanf` to read xapi's PCI formats the way xapi does
//! (xapi-xe.md §1.2, §4): conversions do not skip blanks, `%0Nx` reads *up to* N hex digits
//! (at least one; `_` is accepted after the first digit and counts toward the width), `%d`
//! takes an optional sign, and input after the format is ignored. Failures carry the text
//! `Printexc.to_string` gives for the exception OCaml raises.
//!
//! This is the mock's own reading of xapi, written independently of the xenpci library so the
//! mock cannot share a bug with the code it tests.

/// A scan failure, as `Printexc.to_string` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError(pub String);

pub struct Scanner<'a> {
    input: &'a [u8],
    pos: usize,
}

fn ocaml_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_string(),
        b'\\' => "'\\\\'".to_string(),
        b'\n' => "'\\n'".to_string(),
        b'\t' => "'\\t'".to_string(),
        0x20..=0x7e => format!("'{}'", c as char),
        _ => format!("'\\{c:03}'"),
    }
}

impl<'a> Scanner<'a> {
    pub fn new(input: &'a str) -> Scanner<'a> {
        Scanner {
            input: input.as_bytes(),
            pos: 0,
        }
    }

    fn bad_input(&self, msg: String) -> ScanError {
        ScanError(format!(
            "Stdlib.Scanf.Scan_failure(\"scanf: bad input at char number {}: {}\")",
            self.pos,
            msg.replace('\\', "\\\\").replace('"', "\\\"")
        ))
    }

    fn eof() -> ScanError {
        ScanError("End_of_file".to_string())
    }

    /// A literal character of the format.
    pub fn lit(&mut self, c: u8) -> Result<(), ScanError> {
        match self.input.get(self.pos) {
            None => Err(Self::eof()),
            Some(&d) if d == c => {
                self.pos += 1;
                Ok(())
            }
            Some(&d) => Err(self.bad_input(format!(
                "looking for {}, found {}",
                ocaml_char(c),
                ocaml_char(d)
            ))),
        }
    }

    /// `%0<width>x`.
    pub fn hex(&mut self, width: usize) -> Result<u64, ScanError> {
        let first = *self.input.get(self.pos).ok_or_else(Self::eof)?;
        if !first.is_ascii_hexdigit() {
            return Err(self.bad_input(format!(
                "character {} is not a hexadecimal digit",
                ocaml_char(first)
            )));
        }
        let mut value: u64 = 0;
        let mut used = 0;
        while used < width {
            match self.input.get(self.pos) {
                Some(&c) if c.is_ascii_hexdigit() => {
                    value = value * 16 + u64::from((c as char).to_digit(16).unwrap_or(0));
                }
                Some(b'_') if used > 0 => {}
                _ => break,
            }
            self.pos += 1;
            used += 1;
        }
        Ok(value)
    }

    /// `%d`: optional sign, decimal digits (with `_` after the first).
    pub fn dec(&mut self) -> Result<i64, ScanError> {
        let mut text = String::new();
        if let Some(&c) = self.input.get(self.pos) {
            if c == b'+' || c == b'-' {
                text.push(c as char);
                self.pos += 1;
            }
        }
        let first = *self.input.get(self.pos).ok_or_else(Self::eof)?;
        if !first.is_ascii_digit() {
            return Err(self.bad_input(format!(
                "character {} is not a decimal digit",
                ocaml_char(first)
            )));
        }
        while let Some(&c) = self.input.get(self.pos) {
            if c.is_ascii_digit() {
                text.push(c as char);
            } else if c != b'_' {
                break;
            }
            self.pos += 1;
        }
        text.parse::<i64>()
            .map_err(|_| ScanError("Failure(\"int_of_string\")".to_string()))
    }
}

/// A host PCI address as xapi holds it: `(domain, bus, slot, function)`.
pub type PciAddr = (u64, u64, u64, u64);

/// `%04x:%02x:%02x.%01x` (xapi's `bdf_fmt`).
pub fn bdf(s: &mut Scanner) -> Result<PciAddr, ScanError> {
    let d = s.hex(4)?;
    s.lit(b':')?;
    let b = s.hex(2)?;
    s.lit(b':')?;
    let sl = s.hex(2)?;
    s.lit(b'.')?;
    let f = s.hex(1)?;
    Ok((d, b, sl, f))
}

/// `%04x:%02x:%02x.%01x` printed: the canonical form.
pub fn bdf_string((d, b, s, f): PciAddr) -> String {
    format!("{d:04x}:{b:02x}:{s:02x}.{f:01x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_reads_up_to_width() {
        let mut s = Scanner::new("0000:6:0.10");
        assert_eq!(bdf(&mut s), Ok((0, 6, 0, 1)));
    }

    #[test]
    fn literal_mismatch_message() {
        let mut s = Scanner::new("(06:00.0)");
        s.lit(b'(').unwrap();
        let e = bdf(&mut s).unwrap_err();
        assert_eq!(
            e.0,
            "Stdlib.Scanf.Scan_failure(\"scanf: bad input at char number 6: looking for ':', found '.'\")"
        );
    }

    #[test]
    fn dec_signs_and_eof() {
        assert_eq!(Scanner::new("-1/").dec(), Ok(-1));
        assert_eq!(Scanner::new("+2").dec(), Ok(2));
        assert_eq!(Scanner::new("").dec(), Err(ScanError("End_of_file".into())));
        assert!(Scanner::new(" 0").dec().is_err());
    }
}
