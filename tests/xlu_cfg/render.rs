//! Renders what xenpci's xl.cfg parser reaches in the exact text format of the C shim
//! `tests/xlu_cfg/shim.c` (which prints what Xen's libxlutil reaches), so the two can be compared
//! line by line. Shared by the differential and the vector tests.

use xenpci::syntax::xl_cfg::{parse, Lookup};

const SOURCE: &str = "test.cfg";

/// The keys whose values both sides print (the shim in shim.c is given the same list).
pub const KEYS: &[&str] = &[
    "pci",
    "pci_permissive",
    "pci_msitranslate",
    "pci_seize",
    "pci_power_mgmt",
    "rdm",
    "passthrough",
    "x",
    "y",
    "a.b",
];

fn hex(s: &str) -> String {
    if s.is_empty() {
        return "=".into();
    }
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn warn<T>(l: &Lookup<T>) -> String {
    match l {
        Lookup::Invalid(w) => hex(&format!("{SOURCE}:{w}\n")),
        _ => "=".into(),
    }
}

fn rc<T>(l: &Lookup<T>) -> i32 {
    match l {
        Lookup::Found(_) => 0,
        Lookup::Missing => 3,
        Lookup::Invalid(w) if w.contains("out of range") => 34,
        Lookup::Invalid(_) => 22,
    }
}

/// One document's block, `DOC` … `END`, as the shim prints it for `keys`.
pub fn render(doc: &str, keys: &[&str]) -> String {
    let mut o = String::from("DOC\n");
    match parse(doc) {
        Err(e) => {
            o.push_str(&format!("RC 22\nREPORT {}\n", hex(&e.report(SOURCE))));
        }
        Ok(cfg) => {
            o.push_str("RC 0\nREPORT =\n");
            for k in keys {
                let s = cfg.get_string(k);
                let v = match &s {
                    Lookup::Found(v) => hex(v),
                    _ => "-".into(),
                };
                o.push_str(&format!("STR {k} {} {v} {}\n", rc(&s), warn(&s)));
                let l = cfg.get_list(k);
                let n = match &l {
                    Lookup::Found(v) => v.len().to_string(),
                    _ => "-".into(),
                };
                o.push_str(&format!("LIST {k} {} {n} {}\n", rc(&l), warn(&l)));
                if let Lookup::Found(items) = &l {
                    for (i, it) in items.iter().enumerate() {
                        let v = it.as_deref().map_or("-".into(), hex);
                        o.push_str(&format!("ITEM {i} {v}\n"));
                    }
                }
                let n = cfg.get_long(k);
                let v = match &n {
                    Lookup::Found(v) => v.to_string(),
                    _ => "-".into(),
                };
                o.push_str(&format!("LONG {k} {} {v} {}\n", rc(&n), warn(&n)));
            }
        }
    }
    o.push_str("END\n");
    o
}
