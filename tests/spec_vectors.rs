//! Runs the conformance vectors in `grammar/vectors/pci-spec.tsv` (xen-xl.md §8 rows 1–68 plus
//! extras) through our parsers: outcome, fields, Xen's report line, warnings and error messages.
//! The same vectors also go through Xen's real parser in `tests/spec_differential.rs`.

mod spec_common;

use serde_json::Value;
use spec_common::{vectors, Ctx, Vector};
use xenpci::syntax::pci_spec::{parse_assignable_bdf, parse_spec, SpecDefaults, SpecErrorKind};
use xenpci::syntax::rdm::parse_rdm;

/// Our result for a vector as (outcome, fields JSON, warnings, error message, Xen report).
fn run(v: &Vector) -> (String, Value, Vec<String>, String, Option<String>) {
    let kind_name = |k: SpecErrorKind| format!("{k:?}").to_lowercase();
    match v.ctx {
        Ctx::Spec => match parse_spec(&v.input, &SpecDefaults::default()) {
            Ok((s, w)) => (
                "ok".into(),
                serde_json::json!({
                    "bdf": s.bdf.map(|b| b.to_string()),
                    "mask": s.vfunc_mask(),
                    "vdevfn": s.vdevfn(),
                    "msitranslate": s.msitranslate,
                    "power_mgmt": s.power_mgmt,
                    "permissive": s.permissive,
                    "seize": s.seize,
                    "rdm_policy": s.rdm_policy,
                    "name": s.name,
                }),
                w,
                String::new(),
                None,
            ),
            Err(e) => (
                kind_name(e.kind),
                Value::Null,
                vec![],
                e.to_string(),
                e.xen_report,
            ),
        },
        Ctx::Bdf => match parse_assignable_bdf(&v.input) {
            Ok((b, w)) => (
                "ok".into(),
                serde_json::json!({
                    "bdf": b.bdf.to_string(),
                    "mask": if b.all_functions { u32::MAX } else { 1 },
                }),
                w,
                String::new(),
                None,
            ),
            Err(e) => (
                kind_name(e.kind),
                Value::Null,
                vec![],
                e.to_string(),
                e.xen_report,
            ),
        },
        Ctx::Rdm => match parse_rdm(&v.input) {
            Ok((r, w)) => (
                "ok".into(),
                serde_json::json!({ "strategy": r.strategy }),
                w,
                String::new(),
                None,
            ),
            Err(e) => (
                "inval".into(),
                Value::Null,
                vec![],
                e.to_string(),
                e.xen_report,
            ),
        },
    }
}

fn check(v: &Vector) -> Vec<String> {
    let (outcome, fields, warnings, message, report) = run(v);
    let mut problems = Vec::new();
    let mut fail = |what: String| problems.push(format!("row {} {:?}: {what}", v.row, v.input));
    if outcome != v.outcome {
        fail(format!(
            "outcome {outcome} ({message}), expected {}",
            v.outcome
        ));
        return problems;
    }
    for (key, want) in v.expect.as_object().expect("object") {
        match key.as_str() {
            "warn" => {
                let needle = want.as_str().unwrap();
                if !warnings.iter().any(|w| w.contains(needle)) {
                    fail(format!("no warning contains {needle:?}: {warnings:?}"));
                }
            }
            "nowarn" => {
                if !warnings.is_empty() {
                    fail(format!("unexpected warnings {warnings:?}"));
                }
            }
            "msg" => {
                let needle = want.as_str().unwrap();
                if !message.contains(needle) {
                    fail(format!("error {message:?} does not contain {needle:?}"));
                }
            }
            "report" => {
                if report.as_deref() != want.as_str() {
                    fail(format!("Xen report {report:?}, expected {want}"));
                }
            }
            field => {
                if fields.get(field) != Some(want) {
                    fail(format!(
                        "{field} = {:?}, expected {want}",
                        fields.get(field)
                    ));
                }
            }
        }
    }
    if outcome != "ok" {
        // Every error names the input and an offset.
        let quoted = format!("{:?}", v.input);
        if !message.contains(&quoted) || !message.contains("offset") {
            fail(format!(
                "error {message:?} does not name the input and offset"
            ));
        }
    }
    problems
}

#[test]
fn every_vector_reaches_the_expected_result() {
    let all = vectors();
    let problems: Vec<String> = all.iter().flat_map(check).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn vectors_cover_reference_rows_1_to_68() {
    let rows: std::collections::BTreeSet<String> = vectors().into_iter().map(|v| v.row).collect();
    let missing: Vec<u32> = (1..=68)
        .filter(|r| !rows.contains(&r.to_string()))
        .collect();
    assert!(missing.is_empty(), "rows without a vector: {missing:?}");
}
