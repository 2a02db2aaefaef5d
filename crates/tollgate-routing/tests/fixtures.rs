//! Routing fixtures: every `fixtures/features/*.json` is `{name, dialect, body, expect}`; the
//! fields present in `expect` are asserted against [`Features::extract`] and [`classify`].

use std::path::Path;

use serde_json::Value;
use tollgate_routing::classify::classify;
use tollgate_routing::features::Features;

#[test]
fn feature_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/features");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let mut failures = Vec::new();
    for path in &paths {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let case: Value = serde_json::from_slice(&std::fs::read(path).unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let dialect = case["dialect"].as_str().unwrap_or_else(|| panic!("{file}: no dialect"));
        let body = serde_json::to_vec(&case["body"]).unwrap();
        let f = Features::extract(dialect, &body);
        let c = classify(&f);
        let features = serde_json::to_value(&f).unwrap();
        let Some(expect) = case["expect"].as_object() else { panic!("{file}: no expect") };
        for (key, want) in expect {
            if key == "route" {
                // Expected routes are checked by tests/plan.rs.
                continue;
            }
            let got = match key.as_str() {
                "category" => Value::from(c.category.as_str()),
                "complexity_min" | "complexity_max" => Value::from(c.complexity),
                _ => features.get(key).cloned().unwrap_or_else(|| panic!("{file}: unknown {key}")),
            };
            let ok = match key.as_str() {
                "complexity_min" => got.as_u64() >= want.as_u64(),
                "complexity_max" => got.as_u64() <= want.as_u64(),
                _ => &got == want,
            };
            if !ok {
                failures.push(format!("{file}: {key} = {got}, expected {want} ({:?})", c.signals));
            }
        }
    }
    assert!(paths.len() >= 12, "only {} fixtures", paths.len());
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
