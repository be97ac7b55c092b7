//! What libxlutil keeps of an accepted xl.cfg: [`Value`]s, [`Setting`]s, the [`Config`] and
//! its `xlu_cfg_get_*` readers, and C's `strtol` as xl applies it ([`strtol0`]). Moved out of
//! `xl_cfg.rs` unchanged (issue 12).

use std::hash::{Hash, Hasher};

use compact_str::CompactString;

use rustc_hash::{FxHashMap, FxHasher};

use std::fmt;

// ---------------------------------------------------------------------------------------------
// Values and settings (what libxlutil keeps)
// ---------------------------------------------------------------------------------------------

/// A value as libxlutil stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string or a number (numbers are kept as text). Up to 24 bytes are kept inline, without
    /// a heap block: most values of a config are short.
    Str(CompactString),
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
    /// Key (kept inline up to 24 bytes, as [`Value::Str`]).
    pub name: CompactString,
    /// Value (for `+=`: already concatenated with the previous one).
    pub value: Value,
    /// The operator used.
    pub op: Op,
    /// Line of the value's first token.
    pub line: usize,
}

/// The settings of an accepted file, read the way `xlu_cfg_get_*` read them.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Every assignment in file order (the last one of a name wins).
    pub settings: Vec<Setting>,
    /// Hash of a name → index of the last setting whose name has that hash, built at the first
    /// lookup in a long file (a lookup per key was a scan of every setting: `xlcfg show` of a
    /// 50 MB file does a few dozen). Built for `settings` as long as it was then; a different
    /// length means it is not used.
    index: std::sync::OnceLock<(usize, FxHashMap<u64, usize>)>,
}

impl PartialEq for Config {
    fn eq(&self, other: &Config) -> bool {
        self.settings == other.settings
    }
}

impl Eq for Config {}

pub(super) fn name_hash(name: &str) -> u64 {
    let mut h = FxHasher::default();
    name.hash(&mut h);
    h.finish()
}

/// Below this many settings a lookup scans them (an index would cost more than it saves).
const INDEX_FROM: usize = 256;

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
        if self.settings.len() >= INDEX_FROM {
            let (len, index) = self.index.get_or_init(|| {
                let mut m = FxHashMap::default();
                m.reserve(self.settings.len());
                for (i, s) in self.settings.iter().enumerate() {
                    m.insert(name_hash(&s.name), i);
                }
                (self.settings.len(), m)
            });
            if *len == self.settings.len() {
                // The entry is the last setting of any name with this hash: when it is `name`'s,
                // no later setting is `name`'s; when it is another name's (a collision), scan.
                match index.get(&name_hash(name)).map(|&i| &self.settings[i]) {
                    None => return None,
                    Some(s) if s.name == name => return Some(s),
                    Some(_) => {}
                }
            }
        }
        self.settings.iter().rev().find(|s| s.name == name)
    }

    /// A configuration of these settings.
    pub fn new(settings: Vec<Setting>) -> Config {
        Config {
            settings,
            index: std::sync::OnceLock::new(),
        }
    }

    /// `xlu_cfg_get_string`.
    pub fn get_string(&self, name: &str) -> Lookup<String> {
        match self.find(name) {
            None => Lookup::Missing,
            Some(Setting {
                value: Value::Str(s),
                ..
            }) => Lookup::Found(s.to_string()),
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
                        Value::Str(s) => Some(s.to_string()),
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

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "{:?}", s.as_str()),
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
