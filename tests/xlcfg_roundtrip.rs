//! Property tests for the xl.cfg document model: every accepted input prints back byte for byte
//! (fixtures, vectors, generated documents, arbitrary text), the document's settings equal the
//! exact parser's, and edits touch only the node they must.

use proptest::prelude::*;
use xenpci::syntax::xl_cfg::{parse, Lookup};
use xenpci::xlcfg::{xl_spec_parser, Document, Node};

fn check_round_trip(s: &str) {
    match Document::parse(s) {
        Ok(d) => {
            assert_eq!(d.to_string(), s);
            assert_eq!(d.config().ok(), parse(s).ok());
        }
        Err(e) => assert_eq!(Err(e), parse(s)),
    }
}

#[test]
fn every_fixture_and_vector_round_trips() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xlcfg");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let s = std::fs::read_to_string(e.unwrap().path()).unwrap();
        let d = Document::parse(&s).expect("fixtures are valid xl.cfg");
        assert_eq!(d.to_string(), s);
        n += 1;
    }
    assert!(n >= 5);
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../grammar/vectors/xl-cfg.json")).unwrap();
    for v in v.as_array().unwrap() {
        check_round_trip(v["input"].as_str().unwrap());
    }
}

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9][0-9a-fx]{0,4}",
        "'[a-z0-9:., =#@*]{0,12}'",
        "\"[a-z0-9:., =#@*']{0,12}\"",
        Just(r#""a\"b\\c\101""#.to_string()),
    ]
}

fn value() -> impl Strategy<Value = String> {
    let sep = prop_oneof![
        Just(""),
        Just(" "),
        Just("\n"),
        Just(" # c\n  "),
        Just("\n\t")
    ];
    atom().prop_recursive(2, 12, 4, move |inner| {
        (
            sep.clone(),
            prop::collection::vec((inner, sep.clone(), sep.clone()), 0..4),
            any::<bool>(),
        )
            .prop_map(|(open, items, trailing)| {
                let n = items.len();
                let mut s = format!("[{open}");
                for (i, (v, a, b)) in items.into_iter().enumerate() {
                    s.push_str(&v);
                    s.push_str(a);
                    if i + 1 < n || trailing {
                        s.push(',');
                        s.push_str(b);
                    }
                }
                s.push(']');
                s
            })
    })
}

fn document() -> impl Strategy<Value = String> {
    let stmt = (
        prop_oneof![
            Just("pci"),
            Just("x"),
            Just("pci_seize"),
            Just("rdm"),
            Just("a.b_1")
        ],
        prop_oneof![Just(" = "), Just("="), Just(" += "), Just("\t=  ")],
        value(),
        prop_oneof![
            Just("\n"),
            Just(";"),
            Just(" ; "),
            Just(" # end\n"),
            Just("\n\n")
        ],
        prop_oneof![Just(""), Just("# comment\n"), Just("\t"), Just(";\n")],
    )
        .prop_map(|(k, op, v, end, pre)| format!("{pre}{k}{op}{v}{end}"));
    (
        prop::collection::vec(stmt, 0..6),
        prop_oneof![Just(""), Just("x = 1"), Just("x=1:")],
    )
        .prop_map(|(s, tail)| s.concat() + tail)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn generated_documents_round_trip(s in document()) {
        check_round_trip(&s);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "[ -~\t\n\r'\"\\[\\],;=#+é]{0,60}") {
        check_round_trip(&s);
    }

    #[test]
    fn set_changes_one_node(s in document(), v in 0i64..3) {
        let Ok(before) = Document::parse(&s) else { return Ok(()) };
        let mut after = before.clone();
        if after.set_key("pci_seize", &v.to_string()).is_err() {
            // Only refused when the file ends in a byte xl ignores at the very end.
            prop_assert!(s.ends_with(':'));
            return Ok(());
        }
        prop_assert_eq!(after.config().unwrap().get_long("pci_seize"), Lookup::Found(v));
        let edited = before.chain_of("pci_seize").last().copied();
        for (i, n) in before.nodes.iter().enumerate() {
            if Some(i) != edited {
                prop_assert_eq!(n, &after.nodes[i]);
            }
        }
        prop_assert!(after.nodes.len() - before.nodes.len() <= 3);
    }

    #[test]
    fn add_then_remove_keeps_other_settings(s in document()) {
        let Ok(before) = Document::parse(&s) else { return Ok(()) };
        let mut d = before.clone();
        let Ok(_) = d.add_pci("0000:0a:1f.7,permissive=1", &xl_spec_parser) else { return Ok(()) };
        let cfg = d.config().unwrap();
        let Lookup::Found(items) = cfg.get_list("pci") else { panic!("pci is a list after add") };
        prop_assert!(items.iter().any(|i| i.as_deref() == Some("0000:0a:1f.7,permissive=1")));
        d.remove_pci("0a:1f.7".parse().unwrap(), &xl_spec_parser).unwrap();
        let (b, a) = (before.config().unwrap(), d.config().unwrap());
        for key in ["x", "pci_seize", "rdm", "a.b_1"] {
            prop_assert_eq!(b.find(key), a.find(key));
        }
        for (i, n) in before.nodes.iter().enumerate() {
            if let Node::Assign(x) = n {
                if x.key != "pci" {
                    prop_assert_eq!(n, &d.nodes[i]);
                }
            }
        }
    }
}
