//! The xl.cfg conformance vectors (`grammar/vectors/xl-cfg.json`: xen-xl.md §8 rows 69–89 plus
//! extra edge cases). Each vector's `expect` is what Xen 4.17's libxlutil printed for it through
//! the shim in `tests/xlu_cfg/shim.c`; xenpci must print the same, without needing libxen.

#[path = "xlu_cfg/render.rs"]
mod render;

use render::KEYS;

#[test]
fn every_vector_matches_libxlutil() {
    let text = include_str!("../grammar/vectors/xl-cfg.json");
    let vectors: serde_json::Value = serde_json::from_str(text).unwrap();
    let vectors = vectors.as_array().unwrap();
    assert!(vectors.len() >= 30);
    for v in vectors {
        let input = v["input"].as_str().unwrap();
        let want = v["expect"].as_str().unwrap();
        assert_eq!(
            render::render(input, KEYS),
            want,
            "vector {} ({}): {input:?}",
            v["id"],
            v["note"]
        );
    }
}
