//! Minimal edits of the PCI part of an xl.cfg [`Document`]: add, replace or remove `pci`
//! entries (by BDF) and set `rdm`, `pci_permissive`, `pci_msitranslate`, `pci_seize`,
//! `pci_power_mgmt` and `passthrough`. Every byte outside the touched node stays as it was; inside
//! a list, the neighbours' comments and layout are kept (cargo's `overwrite_value` move,
//! style.md §3c). Values xl would reject are refused before anything changes, and every result is
//! re-read with the exact parser before it is handed back.

use crate::pci::Bdf;
use crate::syntax::pci_spec::SpecDefaults;
use crate::syntax::xl_cfg::{strtol0, Lookup, Op, ParseError, Strtol};

use super::document::{Assignment, Atom, Document, Item, List, ListItem, Node};
use super::effective::{read_rdm, SpecFn, PASSTHROUGH_MODES};

/// Why an edit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// xl would reject the PCI_SPEC_STRING.
    #[error("xl would reject the PCI_SPEC_STRING {spec:?}: {reason}")]
    BadSpec {
        /// The spec.
        spec: String,
        /// Why.
        reason: String,
    },
    /// No `pci` entry has this BDF.
    #[error("no pci entry for {bdf} in the file")]
    NotFound {
        /// The BDF.
        bdf: Bdf,
    },
    /// `pci` is a single string (xl ignores it); the file needs a human.
    #[error("pci on line {line} is a single value, which xl ignores; make it a list first")]
    PciNotList {
        /// Line of the value.
        line: usize,
    },
    /// Not one of the keys this editor sets.
    #[error("cannot set {key:?}: only rdm, passthrough, pci_permissive, pci_msitranslate, pci_seize and pci_power_mgmt")]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A value xl would reject, ignore or misread.
    #[error("refusing {key} = {value:?}: {reason}")]
    BadValue {
        /// Key.
        key: String,
        /// Value.
        value: String,
        /// Why.
        reason: String,
    },
    /// The edited text would not parse (for example the file ends with a byte xl only ignores
    /// at the very end).
    #[error("the edit would make the file unreadable for xl: {0}")]
    WouldBreak(ParseError),
}

/// What `add_pci` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// Appended to the list on this line (a new `pci = [...]` when there was none).
    Appended,
    /// Replaced the entry that had the same BDF.
    Replaced {
        /// The old entry.
        old: String,
    },
}

/// The keys [`Document::set_key`] accepts.
pub const SETTABLE: [&str; 6] = [
    "rdm",
    "passthrough",
    "pci_permissive",
    "pci_msitranslate",
    "pci_seize",
    "pci_power_mgmt",
];

/// Writes `value` as an xl.cfg string in quote style `q`.
pub fn quote(value: &str, q: char) -> Result<String, String> {
    if value.chars().any(|c| c.is_control()) {
        return Err("control characters and newlines cannot be written safely".into());
    }
    let mut s = String::with_capacity(value.len() + 2);
    s.push(q);
    for c in value.chars() {
        if c == q || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push(q);
    Ok(s)
}

/// The host BDF an entry names: what the spec parser reaches, else (for entries xl rejects) the
/// `BB:DD.F` text before the first `@`/`,`, or after `bdf=`.
fn entry_bdf(entry: &str, spec: SpecFn) -> Option<Bdf> {
    if let Ok((s, _)) = spec(entry, &SpecDefaults::default()) {
        return s.bdf;
    }
    let head = entry.split([',', '@']).next().unwrap_or("");
    let head = head.strip_prefix("bdf=").unwrap_or(head);
    head.trim().parse().ok().or_else(|| {
        entry
            .split(',')
            .find_map(|kv| kv.strip_prefix("bdf="))
            .and_then(|v| v.split('@').next())
            .and_then(|v| v.trim().parse().ok())
    })
}

fn sep_indent(l: &List) -> String {
    // The layout between items: the last separator before the final item, else the opening.
    let between = &l.items[..l.items.len().saturating_sub(1)];
    let prev = between
        .iter()
        .rev()
        .find(|it| it.comma)
        .map(|it| it.after_comma.as_str())
        .unwrap_or(l.open.as_str());
    match prev.rfind('\n') {
        Some(i) if prev[i + 1..].trim().is_empty() => format!("\n{}", &prev[i + 1..]),
        Some(_) => "\n    ".into(),
        None => " ".into(),
    }
}

/// The separator after kept text: a comment in it needs the next item on a new line.
fn after_comment(keep: &str, sep: String, close: &str) -> String {
    if keep.contains('#') && !sep.contains('\n') {
        let indent = close.rsplit('\n').next().unwrap_or("");
        format!("\n{indent}    ")
    } else {
        sep
    }
}

fn push_item(l: &mut List, raw: String) {
    let sep = sep_indent(l);
    let new = |suffix: String, comma: bool, after: String| ListItem {
        value: Item::Atom(Atom { raw: raw.clone() }),
        suffix,
        comma,
        after_comma: after,
    };
    match l.items.last_mut() {
        None => {
            if l.open.is_empty() {
                l.open = " ".into();
                l.items.push(new(" ".into(), false, String::new()));
            } else {
                let tail = if l.open.contains('\n') { "\n" } else { " " };
                l.items.push(new(tail.into(), false, String::new()));
            }
        }
        Some(last) if last.comma => {
            // Trailing comma: the new item takes over the layout before `]`.
            // A comment after the last comma stays with the last item.
            let before_close = std::mem::take(&mut last.after_comma);
            let (keep, close) = match before_close.rfind('\n') {
                Some(i) => before_close.split_at(i),
                None => ("", before_close.as_str()),
            };
            last.after_comma = format!("{keep}{}", after_comment(keep, sep, close));
            l.items.push(new(String::new(), true, close.to_string()));
        }
        Some(last) => {
            let suffix = std::mem::take(&mut last.suffix);
            last.comma = true;
            match suffix.rfind('\n') {
                Some(i) => {
                    // `'02:00.0' # GPU\n]`: the comma goes before the comment.
                    let keep = &suffix[..i];
                    last.after_comma = format!("{keep}{}", after_comment(keep, sep, &suffix[i..]));
                    l.items
                        .push(new(suffix[i..].to_string(), false, String::new()));
                }
                None => {
                    last.after_comma = sep;
                    l.items.push(new(suffix, false, String::new()));
                }
            }
        }
    }
}

fn remove_item(l: &mut List, idx: usize) {
    let removed = l.items.remove(idx);
    let last_without_comma = idx == l.items.len() && !removed.comma;
    if last_without_comma {
        if let Some(prev) = l.items.last_mut() {
            prev.comma = false;
            let kept = match prev.after_comma.rfind('\n') {
                Some(i) => prev.after_comma[..i].to_string(),
                None => String::new(),
            };
            prev.suffix = format!("{}{}{}", prev.suffix, kept, removed.suffix);
            prev.after_comma.clear();
        } else {
            l.open = match (l.open.rfind('\n'), removed.suffix.rfind('\n')) {
                (None, None) => String::new(),
                (o, r) => {
                    let head = o.map_or("", |i| &l.open[..i]);
                    let tail = r.map_or("\n", |i| &removed.suffix[i..]);
                    format!("{head}{tail}")
                }
            };
        }
    } else if idx == l.items.len() {
        // It had a trailing comma: its layout before `]` moves to what is now last.
        let from_nl = |t: &str| t.rfind('\n').map_or(t.to_string(), |i| t[i..].to_string());
        let until_nl = |t: &str| t.rfind('\n').map_or(String::new(), |i| t[..i].to_string());
        let close = from_nl(&removed.after_comma);
        match l.items.last_mut() {
            Some(prev) => prev.after_comma = until_nl(&prev.after_comma) + &close,
            None if l.open.contains('\n') || close.contains('\n') => {
                l.open = until_nl(&l.open) + &close;
            }
            None => l.open.clear(),
        }
    }
}

impl Document {
    fn checked(&mut self, before: Document) -> Result<(), EditError> {
        if let Err(e) = self.config() {
            *self = before;
            return Err(EditError::WouldBreak(e));
        }
        Ok(())
    }

    fn append_assignment(&mut self, key: &str, raw: String, item: Option<Item>) {
        let text = self.to_string();
        if !text.is_empty() && !text.ends_with('\n') {
            self.nodes.push(Node::Trivia("\n".into()));
        }
        self.nodes.push(Node::Assign(Assignment {
            key: key.into(),
            before_op: " ".into(),
            op: Op::Assign,
            after_op: " ".into(),
            value: item.unwrap_or(Item::Atom(Atom { raw })),
        }));
        self.nodes.push(Node::Trivia("\n".into()));
    }

    /// Adds a PCI_SPEC_STRING to `pci`, or replaces the entry with the same host BDF in place.
    /// Refuses a spec `spec_parser` (xl) rejects.
    pub fn add_pci(&mut self, entry: &str, spec_parser: SpecFn) -> Result<Added, EditError> {
        let (parsed, _) =
            spec_parser(entry, &SpecDefaults::default()).map_err(|reason| EditError::BadSpec {
                spec: entry.into(),
                reason,
            })?;
        let before = self.clone();
        let chain = self.chain_of("pci");
        let quote_char = self.list_quote().unwrap_or_else(|| self.dominant_quote());
        let raw = quote(entry, quote_char).map_err(|reason| EditError::BadSpec {
            spec: entry.into(),
            reason,
        })?;
        if let Some(&last) = chain.last() {
            if let Some(Assignment {
                value: Item::Atom(_),
                ..
            }) = self.assignment(last)
            {
                let line = self
                    .config()
                    .ok()
                    .and_then(|c| c.find("pci").map(|s| s.line))
                    .unwrap_or_default();
                return Err(EditError::PciNotList { line });
            }
        }
        // Replace an entry with the same BDF.
        if let Some(bdf) = parsed.bdf {
            for &n in &chain {
                let Some(Assignment {
                    value: Item::List(l),
                    ..
                }) = self.assignment_mut(n)
                else {
                    continue;
                };
                for it in &mut l.items {
                    if let Item::Atom(a) = &mut it.value {
                        if a.quote().is_some() && entry_bdf(&a.value(), spec_parser) == Some(bdf) {
                            let old = a.value();
                            let q = a.quote().unwrap_or(quote_char);
                            a.raw = quote(entry, q).map_err(|reason| EditError::BadSpec {
                                spec: entry.into(),
                                reason,
                            })?;
                            self.checked(before)?;
                            return Ok(Added::Replaced { old });
                        }
                    }
                }
            }
        }
        match chain.last() {
            Some(&n) => {
                if let Some(Assignment {
                    value: Item::List(l),
                    ..
                }) = self.assignment_mut(n)
                {
                    push_item(l, raw);
                }
            }
            None => {
                let mut l = List {
                    open: String::new(),
                    items: vec![],
                };
                push_item(&mut l, raw.clone());
                self.append_assignment("pci", raw, Some(Item::List(l)));
            }
        }
        self.checked(before.clone())?;
        let present = matches!(self.config().map(|c| c.get_list("pci")),
            Ok(Lookup::Found(items)) if items.iter().any(|i| i.as_deref() == Some(entry)));
        if !present {
            *self = before;
            return Err(EditError::BadSpec {
                spec: entry.into(),
                reason:
                    "internal check failed: xl would not read the new entry; file left as it was"
                        .into(),
            });
        }
        Ok(Added::Appended)
    }

    /// The quote style of the first string item of the effective `pci` lists.
    fn list_quote(&self) -> Option<char> {
        self.chain_of("pci")
            .iter()
            .find_map(|&n| match self.assignment(n) {
                Some(Assignment {
                    value: Item::List(l),
                    ..
                }) => l.items.iter().find_map(|it| match &it.value {
                    Item::Atom(a) => a.quote(),
                    Item::List(_) => None,
                }),
                _ => None,
            })
    }

    /// Removes every `pci` entry (of the assignments xl reads) whose host BDF is `bdf`; returns
    /// how many.
    pub fn remove_pci(&mut self, bdf: Bdf, spec_parser: SpecFn) -> Result<usize, EditError> {
        let before = self.clone();
        let mut removed = 0;
        for n in self.chain_of("pci") {
            let Some(Assignment {
                value: Item::List(l),
                ..
            }) = self.assignment_mut(n)
            else {
                continue;
            };
            while let Some(i) = l.items.iter().position(|it| match &it.value {
                Item::Atom(a) => {
                    a.quote().is_some() && entry_bdf(&a.value(), spec_parser) == Some(bdf)
                }
                Item::List(_) => false,
            }) {
                remove_item(l, i);
                removed += 1;
            }
        }
        if removed == 0 {
            return Err(EditError::NotFound { bdf });
        }
        self.checked(before)?;
        Ok(removed)
    }

    /// Sets one of [`SETTABLE`] to `value` (replacing the value xl reads in place, or appending
    /// `key = value`). Refuses values xl would reject, ignore or misread.
    pub fn set_key(&mut self, key: &str, value: &str) -> Result<(), EditError> {
        let bad = |reason: String| EditError::BadValue {
            key: key.into(),
            value: value.into(),
            reason,
        };
        let numeric = key.starts_with("pci_");
        if !SETTABLE.contains(&key) {
            return Err(EditError::UnknownKey { key: key.into() });
        }
        if numeric {
            match strtol0(value) {
                Strtol::Ok(v) if i64::from(v as i32) == v => {}
                Strtol::Ok(_) => {
                    return Err(bad("xl stores it in an int and would truncate it".into()))
                }
                _ => {
                    return Err(bad(
                        "xl reads it with strtol and it is not a valid number".into()
                    ))
                }
            }
        } else if key == "passthrough" {
            if !PASSTHROUGH_MODES
                .iter()
                .any(|m| m.eq_ignore_ascii_case(value))
            {
                return Err(bad(format!(
                    "xl stops with `unknown passthrough option'; use one of {}",
                    PASSTHROUGH_MODES.join(", ")
                )));
            }
        } else {
            let r = read_rdm(value);
            if !r.ok {
                return Err(bad(format!(
                    "xl silently ignores it (xlu_rdm_parse fails{}); Xen 4.15+ only keeps \
                     rdm = \"strategy=host\" (a valid policy= is rejected by an inverted check; \
                     set rdm_policy= per pci entry instead)",
                    r.messages
                        .first()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                )));
            }
            if !r.messages.is_empty() {
                return Err(bad(format!(
                    "xl prints `{}' and ignores that part",
                    r.messages[0]
                )));
            }
        }
        let before = self.clone();
        let lexes_as_number = numeric
            && value.starts_with(|c: char| c.is_ascii_digit())
            && value
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == 'x');
        let chain = self.chain_of(key);
        let old_quote = chain.last().and_then(|&n| match self.assignment(n) {
            Some(Assignment {
                value: Item::Atom(a),
                ..
            }) => a.quote(),
            _ => None,
        });
        let raw = if lexes_as_number {
            value.to_string()
        } else {
            quote(value, old_quote.unwrap_or_else(|| self.dominant_quote())).map_err(bad)?
        };
        match chain.last() {
            Some(&n) => {
                if let Some(a) = self.assignment_mut(n) {
                    a.op = Op::Assign;
                    a.value = Item::Atom(Atom { raw });
                }
            }
            None => self.append_assignment(key, raw, None),
        }
        self.checked(before)?;
        match self.config().map(|c| c.get_string(key)) {
            Ok(Lookup::Found(v)) if v == value => Ok(()),
            other => Err(bad(format!(
                "internal check failed: xl would read {other:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::pci_spec::PciSpec;

    fn fake(input: &str, _: &SpecDefaults) -> Result<(PciSpec, Vec<String>), String> {
        let head = input.split([',', '@']).next().unwrap_or("");
        let bdf: Bdf = head.parse().map_err(|_| format!("not a BDF: {head}"))?;
        Ok((
            PciSpec {
                bdf: Some(bdf),
                all_functions: false,
                vslot: None,
                msitranslate: false,
                power_mgmt: false,
                permissive: false,
                seize: false,
                rdm_policy: None,
                name: None,
            },
            vec![],
        ))
    }

    fn given(src: &str) -> Document {
        Document::parse(src).unwrap()
    }

    fn add(src: &str, spec: &str) -> String {
        let mut d = given(src);
        d.add_pci(spec, &fake).unwrap();
        d.to_string()
    }
    fn remove(src: &str, bdf: &str) -> String {
        let mut d = given(src);
        d.remove_pci(bdf.parse().unwrap(), &fake).unwrap();
        d.to_string()
    }
    fn set(src: &str, k: &str, v: &str) -> Result<String, EditError> {
        let mut d = given(src);
        d.set_key(k, v).map(|_| d.to_string())
    }

    #[test]
    fn add_creates_pci_in_the_file_style() {
        assert_eq!(
            add("name = 'vm'\n", "01:00.0"),
            "name = 'vm'\npci = [ '01:00.0' ]\n"
        );
        assert_eq!(
            add("name = \"vm\"", "01:00.0"),
            "name = \"vm\"\npci = [ \"01:00.0\" ]\n"
        );
        assert_eq!(add("pci = []\n", "01:00.0"), "pci = [ \"01:00.0\" ]\n");
    }

    #[test]
    fn add_keeps_list_layout() {
        assert_eq!(
            add("pci = [ '01:00.0' ]  # GPU\n", "02:00.0"),
            "pci = [ '01:00.0', '02:00.0' ]  # GPU\n"
        );
        assert_eq!(
            add("pci = [\n    '01:00.0',\n    '02:00.0',\n]\n", "03:00.0"),
            "pci = [\n    '01:00.0',\n    '02:00.0',\n    '03:00.0',\n]\n"
        );
        assert_eq!(
            add(
                "pci = [\n  '01:00.0', # nic\n  '02:00.0' # gpu\n]\n",
                "03:00.0"
            ),
            "pci = [\n  '01:00.0', # nic\n  '02:00.0', # gpu\n  '03:00.0'\n]\n"
        );
    }

    #[test]
    fn add_after_a_trailing_comma_keeps_the_comment() {
        assert_eq!(
            add("pci = [\n    '01:00.0',  # nic\n]\n", "02:00.0"),
            "pci = [\n    '01:00.0',  # nic\n    '02:00.0',\n]\n"
        );
        assert_eq!(
            add("pci = [ '01:00.0', ]\n", "02:00.0"),
            "pci = [ '01:00.0', '02:00.0', ]\n"
        );
    }

    #[test]
    fn add_never_lands_inside_a_comment() {
        assert_eq!(
            add("pci = [0, # c\n  ]\n", "01:00.0"),
            "pci = [0, # c\n      \"01:00.0\",\n  ]\n"
        );
        assert_eq!(
            add("pci = [0 # c\n]\n", "01:00.0"),
            "pci = [0, # c\n    \"01:00.0\"\n]\n"
        );
    }

    #[test]
    fn add_replaces_same_bdf_in_place() {
        let mut d = given("pci = [ \"01:00.0\", '0000:02:00.0' ] # x\n");
        let r = d.add_pci("02:00.0,permissive=1", &fake).unwrap();
        assert_eq!(
            r,
            Added::Replaced {
                old: "0000:02:00.0".into()
            }
        );
        assert_eq!(
            d.to_string(),
            "pci = [ \"01:00.0\", '02:00.0,permissive=1' ] # x\n"
        );
    }

    #[test]
    fn add_goes_to_the_last_continuation() {
        assert_eq!(
            add("pci = ['01:00.0']\npci += ['02:00.0']\n", "03:00.0"),
            "pci = ['01:00.0']\npci += ['02:00.0', '03:00.0']\n"
        );
    }

    #[test]
    fn add_refuses_what_xl_refuses() {
        let mut d = given("pci = '01:00.0'\n");
        assert!(matches!(
            d.add_pci("02:00.0", &fake),
            Err(EditError::PciNotList { line: 1 })
        ));
        assert!(matches!(
            d.add_pci("zz", &fake),
            Err(EditError::BadSpec { .. })
        ));
        assert_eq!(d.to_string(), "pci = '01:00.0'\n");
    }

    #[test]
    fn remove_keeps_neighbours() {
        assert_eq!(
            remove("pci = [ '01:00.0', '02:00.0' ]\n", "02:00.0"),
            "pci = [ '01:00.0' ]\n"
        );
        assert_eq!(
            remove("pci = [ '01:00.0', '02:00.0' ]\n", "01:00.0"),
            "pci = [ '02:00.0' ]\n"
        );
        assert_eq!(remove("pci = [ '01:00.0' ]\n", "01:00.0"), "pci = []\n");
        assert_eq!(
            remove("pci = [ 'a', '01:00.0', ]\n", "01:00.0"),
            "pci = [ 'a', ]\n"
        );
        assert_eq!(
            remove("pci = [\n  'a', # x\n  '01:00.0',\n]\n", "01:00.0"),
            "pci = [\n  'a', # x\n]\n"
        );
        assert_eq!(
            remove(
                "pci = [\n    '01:00.0', # nic\n    '02:00.0', # gpu\n    '03:00.0'\n]\n",
                "02:00.0"
            ),
            "pci = [\n    '01:00.0', # nic\n    '03:00.0'\n]\n"
        );
        assert_eq!(
            remove(
                "pci = [\n    '01:00.0', # nic\n    '02:00.0'\n]\n",
                "02:00.0"
            ),
            "pci = [\n    '01:00.0', # nic\n]\n".replace(", # nic", " # nic")
        );
        let mut d = given("pci = [ '01:00.0' ]\n");
        assert!(matches!(
            d.remove_pci("05:00.0".parse().unwrap(), &fake),
            Err(EditError::NotFound { .. })
        ));
    }

    #[test]
    fn set_replaces_or_appends() {
        assert_eq!(
            set("pci_permissive = 0 # off\n", "pci_permissive", "1").unwrap(),
            "pci_permissive = 1 # off\n"
        );
        assert_eq!(
            set("x = 1", "pci_seize", "1").unwrap(),
            "x = 1\npci_seize = 1\n"
        );
        assert_eq!(
            set("passthrough = 'default'\n", "passthrough", "sync_pt").unwrap(),
            "passthrough = 'sync_pt'\n"
        );
        assert_eq!(
            set("rdm += 'x'\n", "rdm", "strategy=host").unwrap(),
            "rdm = 'strategy=host'\n"
        );
        assert_eq!(
            set("", "pci_power_mgmt", "-1").unwrap(),
            "pci_power_mgmt = \"-1\"\n"
        );
    }

    #[test]
    fn set_refuses_what_xl_misreads() {
        assert!(matches!(
            set("", "passthrough", "on"),
            Err(EditError::BadValue { .. })
        ));
        assert!(matches!(
            set("", "pci_permissive", "yes"),
            Err(EditError::BadValue { .. })
        ));
        assert!(matches!(
            set("", "pci_permissive", "0x100000000"),
            Err(EditError::BadValue { .. })
        ));
        let e = set("", "rdm", "strategy=host,policy=relaxed").unwrap_err();
        assert!(e.to_string().contains("inverted"), "{e}");
        assert!(matches!(
            set("", "memory", "1"),
            Err(EditError::UnknownKey { .. })
        ));
        assert!(matches!(
            set("x = 1:", "pci_seize", "1"),
            Err(EditError::WouldBreak(_))
        ));
    }
}
