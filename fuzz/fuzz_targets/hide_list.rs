//! Fuzz target: hide-list reader and editors. Never panics; an accepted list normalises to a
//! long-form list that reads back to the same patterns; add/remove keep the list parseable; the
//! command-line and modprobe helpers never panic and keep a value they set findable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xenpci::pci::Bdf;
use xenpci::syntax::hide_list::{self, BdfPattern, WildcardPolicy};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(l) = hide_list::parse(s) {
        let norm = l.normalised();
        let back = hide_list::parse(&norm).expect("normalised list parses");
        for e in &l.entries {
            assert!(back.entries.iter().any(|b| b.pattern == e.pattern));
        }
        let dev = Bdf::new(0, 5, 0, 0).unwrap();
        let added = l.add(&[BdfPattern::from(dev)]);
        let a = hide_list::parse(&added.value).expect("added list parses");
        assert!(a.hides(&dev));
        if let Ok(r) = a.remove(&[dev], WildcardPolicy::Split) {
            let r = hide_list::parse(&r.value).expect("removed list parses");
            assert!(!r.hides(&dev));
        }
    }
    let line = hide_list::set_in_cmdline(s, "(0000:05:00.0)");
    if !s.contains('"') && !s.split_whitespace().any(|w| w == "--") {
        let found = hide_list::find_in_cmdline(&line);
        assert_eq!(found.last().map(|p| p.value.as_str()), Some("(0000:05:00.0)"));
    }
    let _ = hide_list::remove_from_cmdline(s);
    let _ = hide_list::set_in_modprobe(s, "(0000:05:00.0)");
    let _ = hide_list::remove_from_modprobe(s);
});
