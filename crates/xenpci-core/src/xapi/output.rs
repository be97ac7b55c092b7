//! Parsers for what `xe` prints (xapi-xe.md §2.3): record listings (`name ( RO)    : value`,
//! first label left-aligned, the rest right-aligned, two empty lines after each record), maps
//! (`k1: v1; k2: v2`), sets (`a; b`), `--minimal` lists (comma-joined, `\,` and `\\` escaped) and
//! plain values (value + newline).
//!
//! Each parser is small and tested against the reference's exact samples.

/// One field of an xe record: its name, its access tag and its printed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Field name as xe prints it (`name-label`, `other-config`).
    pub name: String,
    /// Access tag between the parentheses: `RO`, `RW`, `SRO`, `SRW`, `MRO`, `MRW`.
    pub access: String,
    /// The value text (maps and sets still in their printed form).
    pub value: String,
}

/// One xe record: fields in printed order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The fields, in the order xe printed them.
    pub fields: Vec<Field>,
}

impl Record {
    /// The value of field `name`, if printed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }
}

/// Why an xe output could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    /// A record line without the `name (TAG): value` layout.
    #[error("line {line} of xe's record output is not `name (TAG): value`: {text:?}")]
    RecordLine {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// A map entry without `key: value`.
    #[error("map entry {entry:?} of {map:?} is not `key: value`")]
    MapEntry {
        /// The entry.
        entry: String,
        /// The whole map text.
        map: String,
    },
}

/// Parses one record line `<pad>name (TAG)<pad>: value` into a [`Field`].
pub fn field_line(line: &str) -> Option<Field> {
    let (label, value) = line.split_once(':')?;
    let label = label.trim();
    let open = label.rfind('(')?;
    let name = label[..open].trim_end();
    let tag = label[open + 1..].strip_suffix(')')?.trim();
    if name.is_empty() || tag.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    // xe prints `: ` then the value; an empty value still has the space.
    let value = value.strip_prefix(' ').unwrap_or(value);
    Some(Field {
        name: name.to_string(),
        access: tag.to_string(),
        value: value.to_string(),
    })
}

/// Parses a record listing (`vm-list`, `host-list`, `pci-list`, `*-param-list`): records are
/// separated by empty lines; an empty output is no records.
pub fn records(text: &str) -> Result<Vec<Record>, OutputError> {
    let mut out = Vec::new();
    let mut cur = Record::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if !cur.fields.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let f = field_line(line).ok_or_else(|| OutputError::RecordLine {
            line: i + 1,
            text: line.to_string(),
        })?;
        cur.fields.push(f);
    }
    if !cur.fields.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// Parses a printed map `k1: v1; k2: v2` into ordered pairs (empty text: empty map). Entries are
/// split at `; ` and each at its first `: `. xe escapes neither, so a piece without `: ` is taken
/// as the rest of the previous value (`k: a; b` is one key whose value is `a; b`); read single keys
/// exactly with `vm-param-get param-key=`.
pub fn map(text: &str) -> Result<Vec<(String, String)>, OutputError> {
    let text = text.trim_end_matches('\n');
    let mut out: Vec<(String, String)> = Vec::new();
    if text.is_empty() {
        return Ok(out);
    }
    for entry in text.split("; ") {
        match entry
            .split_once(": ")
            .or_else(|| entry.strip_suffix(':').map(|k| (k, "")))
        {
            Some((k, v)) if !k.contains(' ') => out.push((k.to_string(), v.to_string())),
            _ => match out.last_mut() {
                Some((_, v)) => {
                    v.push_str("; ");
                    v.push_str(entry);
                }
                None => {
                    return Err(OutputError::MapEntry {
                        entry: entry.to_string(),
                        map: text.to_string(),
                    })
                }
            },
        }
    }
    Ok(out)
}

/// Parses a printed set `a; b` (empty text: empty set).
pub fn set(text: &str) -> Vec<String> {
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    text.split("; ").map(|s| s.trim().to_string()).collect()
}

/// Parses a `--minimal` line: items joined by `,`, with `\,` and `\\` escapes. An empty line is
/// no items.
pub fn minimal(text: &str) -> Vec<String> {
    let line = text.trim_end_matches('\n');
    if line.is_empty() {
        return Vec::new();
    }
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => cur.push(n),
                None => cur.push('\\'),
            },
            ',' => items.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    items.push(cur);
    items
}

/// A plain value (`vm-param-get`): the text without its one trailing newline.
pub fn value(text: &str) -> &str {
    text.strip_suffix('\n').unwrap_or(text)
}

/// The `uuid` of every record whose `name-label` is exactly `name`, in output order.
pub fn uuids_labelled<'a>(records: &'a [Record], name: &str) -> Vec<&'a str> {
    records
        .iter()
        .filter(|r| r.get("name-label") == Some(name))
        .filter_map(|r| r.get("uuid"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VM_LIST: &str = "uuid ( RO)           : 0a3e6c1e-0000-4000-8000-000000000003\n     name-label ( RW): pt-vm\n    power-state ( RO): halted\n\n\nuuid ( RO)           : 5b1f2d3c-0000-4000-8000-000000000002\n     name-label ( RW): Control domain on host: xcp1\n    power-state ( RO): running\n\n\n";

    const PCI_PARAM_LIST: &str = "uuid ( RO)               : c0ffee00-0000-4000-8000-000000000010\n        vendor-name ( RO): Intel Corporation\n        device-name ( RO): I210 Gigabit Network Connection\n        driver-name ( RO): igb\n          host-uuid ( RO): 8f7e0c2a-0000-4000-8000-000000000001\n    host-name-label ( RO): xcp1\n             pci-id ( RO): 0000:06:00.0\n       dependencies (SRO): \n       other-config (MRW): \n\n\n";

    #[test]
    fn field_line_reads_left_and_right_aligned_labels() {
        let f = field_line("uuid ( RO)           : 0a3e6c1e-0000-4000-8000-000000000003").unwrap();
        assert_eq!(
            (f.name.as_str(), f.access.as_str(), f.value.as_str()),
            ("uuid", "RO", "0a3e6c1e-0000-4000-8000-000000000003")
        );
        let f = field_line("       other-config (MRW): mac_seed: m1; pci: 0/0000:06:00.0").unwrap();
        assert_eq!(f.name, "other-config");
        assert_eq!(f.access, "MRW");
        assert_eq!(f.value, "mac_seed: m1; pci: 0/0000:06:00.0");
        let f = field_line("       dependencies (SRO): ").unwrap();
        assert_eq!((f.access.as_str(), f.value.as_str()), ("SRO", ""));
        assert!(field_line("not a record").is_none());
        assert!(field_line("Error: Key pci not found in map").is_none());
    }

    #[test]
    fn records_split_on_the_two_empty_lines() {
        let r = records(VM_LIST).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].get("name-label"), Some("pt-vm"));
        assert_eq!(r[1].get("name-label"), Some("Control domain on host: xcp1"));
        assert_eq!(r[1].get("power-state"), Some("running"));
        let r = records(PCI_PARAM_LIST).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].get("pci-id"), Some("0000:06:00.0"));
        assert_eq!(r[0].get("other-config"), Some(""));
        assert_eq!(r[0].fields.len(), 9);
        assert!(records("").unwrap().is_empty());
        assert!(records("\n\n\n").unwrap().is_empty());
    }

    #[test]
    fn records_name_a_bad_line() {
        let e = records("uuid ( RO): x\ngarbage\n").unwrap_err();
        assert_eq!(
            e,
            OutputError::RecordLine {
                line: 2,
                text: "garbage".into()
            }
        );
    }

    #[test]
    fn map_keeps_order_and_values() {
        assert_eq!(
            map("mac_seed: m1; pci: 0/0000:06:00.0,1/0000:07:00.0").unwrap(),
            vec![
                ("mac_seed".to_string(), "m1".to_string()),
                (
                    "pci".to_string(),
                    "0/0000:06:00.0,1/0000:07:00.0".to_string()
                )
            ]
        );
        assert!(map("").unwrap().is_empty());
        assert_eq!(map("pci: \n").unwrap(), vec![("pci".into(), "".into())]);
        assert!(map("mac_seed m1").is_err());
        assert_eq!(
            map("note: a; b; pci: 0/0000:06:00.0").unwrap(),
            vec![
                ("note".into(), "a; b".into()),
                ("pci".into(), "0/0000:06:00.0".into())
            ]
        );
    }

    #[test]
    fn set_splits_on_semicolon_space() {
        assert_eq!(set("a; b"), vec!["a", "b"]);
        assert!(set("").is_empty());
    }

    #[test]
    fn minimal_unescapes_commas_and_backslashes() {
        assert_eq!(
            minimal("0a3e6c1e-0000-4000-8000-000000000003\n"),
            vec!["0a3e6c1e-0000-4000-8000-000000000003"]
        );
        assert_eq!(minimal("C,E\n"), vec!["C", "E"]);
        assert_eq!(
            minimal("0/0000:06:00.0\\,1/0000:07:00.0\n"),
            vec!["0/0000:06:00.0,1/0000:07:00.0"]
        );
        assert_eq!(minimal("a\\\\b\n"), vec!["a\\b"]);
        assert!(minimal("\n").is_empty());
    }

    #[test]
    fn uuids_labelled_matches_the_whole_label() {
        let recs = records("uuid ( RO)      : u1\n    name-label ( RW): h1\n\n\nuuid ( RO)      : u2\n    name-label ( RW): h10\n\n\n").unwrap();
        assert_eq!(uuids_labelled(&recs, "h1"), vec!["u1"]);
        assert!(uuids_labelled(&recs, "h").is_empty());
    }

    #[test]
    fn value_drops_one_newline() {
        assert_eq!(value("0/0000:06:00.0\n"), "0/0000:06:00.0");
        assert_eq!(value("halted\n"), "halted");
        assert_eq!(value("\n"), "");
    }
}
