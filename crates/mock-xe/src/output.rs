//! xe's printer (`cli_printer.ml`, xapi-xe.md §2.3): records with the first label padded on
//! the right and the others on the left to `4 + longest label`, each record followed by two
//! empty lines; plain values one per line; `--minimal` collects the first field of each record
//! (or the list items), escapes `\` and `,`, drops messages, and prints one line at the end.

use crate::records::Field;

/// What a command printed, before it reaches stdout.
#[derive(Debug, Default)]
pub struct Printer {
    minimal: bool,
    stdout: String,
    buffer: Vec<String>,
}

impl Printer {
    pub fn new(minimal: bool) -> Printer {
        Printer {
            minimal,
            ..Printer::default()
        }
    }

    /// `PTable`: one record per entry, fields already selected and in record order.
    pub fn table(&mut self, records: &[Vec<Field>]) {
        if self.minimal {
            if !records.is_empty() && records.iter().all(|r| !r.is_empty()) {
                let names: Vec<String> = records.iter().map(|r| escape(&r[0].render())).collect();
                self.buffer.push(names.join(","));
            }
            return;
        }
        for r in records {
            self.stdout.push_str(&record_text(r));
            self.stdout.push_str("\n\n");
        }
    }

    /// `PList`: plain values.
    pub fn list(&mut self, items: &[String]) {
        if self.minimal {
            let escaped: Vec<String> = items.iter().map(|s| escape(s)).collect();
            self.buffer.push(escaped.join(","));
            return;
        }
        for s in items {
            self.stdout.push_str(s);
            self.stdout.push('\n');
        }
    }

    /// `PMsg`: dropped under `--minimal`.
    pub fn msg(&mut self, s: &str) {
        if !self.minimal {
            self.stdout.push_str(s);
            self.stdout.push('\n');
        }
    }

    /// The stdout of a successful call (the minimal line is printed even when empty).
    pub fn finish(mut self) -> String {
        if self.minimal {
            // The buffer is built by prepending in xapi, so later prints come first.
            self.buffer.reverse();
            self.stdout.push_str(&self.buffer.join(","));
            self.stdout.push('\n');
        }
        self.stdout
    }
}

/// `multi_line_record`.
fn record_text(r: &[Field]) -> String {
    let labels: Vec<String> = r.iter().map(Field::label).collect();
    let width = 4 + labels.iter().map(String::len).max().unwrap_or(0);
    let mut lines = Vec::new();
    for (i, (label, f)) in labels.iter().zip(r).enumerate() {
        let padded = if i == 0 {
            format!("{label:<width$}")
        } else {
            format!("{label:>width$}")
        };
        lines.push(format!("{padded}: {}", f.render()));
    }
    lines.join("\n") + "\n"
}

/// `escape_commas`.
pub fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace(',', "\\,")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Field, Kind};

    #[test]
    fn record_alignment() {
        let r = vec![
            Field::text("uuid", Kind::Ro, "A"),
            Field::text("name-label", Kind::Rw, "pt-vm"),
            Field::text("power-state", Kind::Ro, "halted"),
        ];
        let mut p = Printer::new(false);
        p.table(&[r]);
        assert_eq!(
            p.finish(),
            "uuid ( RO)           : A\n     name-label ( RW): pt-vm\n    power-state ( RO): halted\n\n\n"
        );
    }

    #[test]
    fn minimal_escapes_and_prints_empty_line() {
        let mut p = Printer::new(true);
        p.list(&["0/a,1/b\\".to_string()]);
        assert_eq!(p.finish(), "0/a\\,1/b\\\\\n");
        let mut p = Printer::new(true);
        p.msg("enabled");
        assert_eq!(p.finish(), "\n");
    }

    #[test]
    fn zero_field_record_is_three_newlines() {
        let mut p = Printer::new(false);
        p.table(&[vec![]]);
        assert_eq!(p.finish(), "\n\n\n");
    }
}
