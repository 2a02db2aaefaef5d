//! JSON Schema cleaned down to Gemini's schema dialect, the select subset of the OpenAPI 3.0
//! schema object its `Schema` message defines (ai.google.dev/api/caching#Schema): `type`,
//! `format`, `title`, `description`, `nullable`, `enum`, `properties`, `required`, `items`,
//! `anyOf`, `propertyOrdering`, `example`, `minimum`/`maximum`, `min`/`maxItems`,
//! `min`/`maxLength`, `pattern`, `min`/`maxProperties`. The API answers 400 "Invalid JSON payload
//! received. Unknown name ..." for anything else (`$schema`, `additionalProperties`, `$ref`, ...),
//! and "Proto field is not repeating" for a type array. Pure; what is dropped is reported once per
//! keyword as a [`Note`].

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::canonical::Note;

/// Refs nest at most this deep before the rest is cut off: recursive schemas cannot be inlined.
const MAX_DEPTH: usize = 24;

/// `schema` in Gemini's dialect. `what` names the schema in notes (`tool "get_weather"`).
pub fn clean(schema: &Value, what: &str, notes: &mut Vec<Note>) -> Value {
    let mut cleaner = Cleaner { root: schema, dropped: BTreeSet::new(), changed: BTreeSet::new() };
    let out = cleaner.node(schema, 0);
    if !cleaner.dropped.is_empty() {
        let list: Vec<&str> = cleaner.dropped.iter().map(String::as_str).collect();
        notes.push(Note::new(format!(
            "{what}: schema keywords Gemini does not accept were dropped: {}",
            list.join(", ")
        )));
    }
    if !cleaner.changed.is_empty() {
        let list: Vec<&str> = cleaner.changed.iter().map(String::as_str).collect();
        notes.push(Note::new(format!("{what}: schema rewritten for Gemini: {}", list.join(", "))));
    }
    out
}

/// Whether a top-level object schema has properties to declare. Gemini rejects an `OBJECT` with
/// empty `properties`, so a tool without parameters is declared without `parameters`.
pub fn has_properties(schema: &Value) -> bool {
    schema.get("properties").and_then(Value::as_object).is_some_and(|p| !p.is_empty())
}

struct Cleaner<'a> {
    root: &'a Value,
    dropped: BTreeSet<String>,
    changed: BTreeSet<String>,
}

impl Cleaner<'_> {
    fn node(&mut self, node: &Value, depth: usize) -> Value {
        let Some(object) = node.as_object() else {
            // `true` (anything goes) and malformed subschemas: no constraint Gemini can express.
            return Value::Object(Map::new());
        };
        if depth > MAX_DEPTH {
            self.changed.insert("recursive $ref cut off".to_owned());
            return json!({"type": "object"});
        }
        let mut merged = self.resolve(object, depth);
        if let Some(Value::Array(all)) = merged.remove("allOf") {
            self.changed.insert("allOf merged".to_owned());
            for sub in &all {
                if let Some(sub) = sub.as_object() {
                    let sub = self.resolve(sub, depth);
                    merge_into(&mut merged, sub);
                }
            }
        }
        self.keywords(&merged, depth)
    }

    /// `object` with a `$ref` replaced by what it points at (siblings win).
    fn resolve(&mut self, object: &Map<String, Value>, depth: usize) -> Map<String, Value> {
        let mut out = object.clone();
        let Some(Value::String(reference)) = out.remove("$ref") else { return out };
        let root = self.root;
        match lookup(root, &reference) {
            Some(target) => {
                self.changed.insert("$ref inlined".to_owned());
                let mut base = match target.as_object() {
                    Some(t) if depth < MAX_DEPTH => self.resolve(t, depth + 1),
                    _ => {
                        self.changed.insert("recursive $ref cut off".to_owned());
                        let mut m = Map::new();
                        m.insert("type".to_owned(), json!("object"));
                        m
                    }
                };
                for (k, v) in out {
                    base.insert(k, v);
                }
                base
            }
            None => {
                self.dropped.insert(format!("$ref ({reference})"));
                out
            }
        }
    }

    fn keywords(&mut self, node: &Map<String, Value>, depth: usize) -> Value {
        let mut out = Map::new();
        let mut nullable = false;
        let mut kind: Option<String> = None;
        match node.get("type") {
            Some(Value::String(t)) if t == "null" => nullable = true,
            Some(Value::String(t)) => kind = Some(t.clone()),
            Some(Value::Array(types)) => {
                let named: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
                nullable = named.contains(&"null");
                let real: Vec<&str> = named.into_iter().filter(|t| *t != "null").collect();
                self.changed.insert("type arrays turned into type + nullable".to_owned());
                match real.as_slice() {
                    [] => {}
                    [one] => kind = Some((*one).to_owned()),
                    many => {
                        let alternatives = many.iter().map(|t| json!({"type": t})).collect();
                        out.insert("anyOf".to_owned(), Value::Array(alternatives));
                    }
                }
            }
            _ => {}
        }
        for (key, value) in node {
            match key.as_str() {
                // `$defs` and `definitions` are gone once their refs are inlined.
                "type" | "$ref" | "allOf" | "$defs" | "definitions" => {}
                "title" | "description" | "pattern" => {
                    if value.is_string() {
                        out.insert(key.clone(), value.clone());
                    }
                }
                "example" | "propertyOrdering" => {
                    out.insert(key.clone(), value.clone());
                }
                "nullable" => nullable |= value.as_bool() == Some(true),
                "format" => {
                    if let Some(format) = value.as_str() {
                        if format_allowed(kind.as_deref(), format) {
                            out.insert(key.clone(), value.clone());
                        } else {
                            self.dropped.insert(format!("format \"{format}\""));
                        }
                    }
                }
                "enum" | "const" => {
                    let values: Vec<Value> = match value {
                        Value::Array(values) if key == "enum" => values.clone(),
                        other => vec![other.clone()],
                    };
                    if key == "const" {
                        self.changed.insert("const turned into a one-value enum".to_owned());
                    }
                    let mut strings = Vec::new();
                    for v in values {
                        match v {
                            Value::Null => nullable = true,
                            Value::String(s) => strings.push(Value::String(s)),
                            other => {
                                self.changed.insert("enum values written as strings".to_owned());
                                strings.push(Value::String(other.to_string()));
                            }
                        }
                    }
                    if !strings.is_empty() {
                        out.insert("enum".to_owned(), Value::Array(strings));
                    }
                }
                "properties" => {
                    if let Some(properties) = value.as_object() {
                        let cleaned: Map<String, Value> = properties
                            .iter()
                            .map(|(name, sub)| (name.clone(), self.node(sub, depth + 1)))
                            .collect();
                        if !cleaned.is_empty() {
                            out.insert(key.clone(), Value::Object(cleaned));
                        }
                    }
                }
                "required" => {}
                "items" => match value {
                    Value::Array(tuple) => {
                        self.changed.insert("tuple items reduced to the first".to_owned());
                        if let Some(first) = tuple.first() {
                            out.insert(key.clone(), self.node(first, depth + 1));
                        }
                    }
                    other => {
                        out.insert(key.clone(), self.node(other, depth + 1));
                    }
                },
                "anyOf" | "oneOf" => {
                    if key == "oneOf" {
                        self.changed.insert("oneOf turned into anyOf".to_owned());
                    }
                    let mut alternatives = Vec::new();
                    for sub in value.as_array().into_iter().flatten() {
                        if sub.get("type").and_then(Value::as_str) == Some("null") {
                            nullable = true;
                            continue;
                        }
                        alternatives.push(self.node(sub, depth + 1));
                    }
                    match alternatives.len() {
                        0 => {}
                        1 => {
                            if let Some(Value::Object(only)) = alternatives.pop() {
                                for (k, v) in only {
                                    out.entry(k).or_insert(v);
                                }
                            }
                        }
                        _ => {
                            out.insert("anyOf".to_owned(), Value::Array(alternatives));
                        }
                    }
                }
                "minItems" | "maxItems" | "minLength" | "maxLength" | "minProperties"
                | "maxProperties" => {
                    if value.is_u64() {
                        out.insert(key.clone(), value.clone());
                    }
                }
                "minimum" | "maximum" => {
                    if value.is_number() {
                        out.insert(key.clone(), value.clone());
                    }
                }
                other => {
                    self.dropped.insert(other.to_owned());
                }
            }
        }
        if let Some(kind) = kind {
            out.insert("type".to_owned(), Value::String(kind));
        } else if out.contains_key("enum") && !out.contains_key("anyOf") {
            // Gemini's enums are string enums; one without a type (a `const`) says so.
            out.insert("type".to_owned(), Value::String("string".to_owned()));
        }
        if let Some(Value::Array(required)) = node.get("required") {
            let present = out.get("properties").and_then(Value::as_object);
            let kept: Vec<Value> = required
                .iter()
                .filter(|r| r.as_str().is_some_and(|r| present.is_some_and(|p| p.contains_key(r))))
                .cloned()
                .collect();
            if kept.len() != required.len() {
                self.changed.insert("required names without a property removed".to_owned());
            }
            if !kept.is_empty() {
                out.insert("required".to_owned(), Value::Array(kept));
            }
        }
        if nullable {
            out.insert("nullable".to_owned(), Value::Bool(true));
        }
        Value::Object(out)
    }
}

/// A local ref (`#/$defs/x`, `#/definitions/x`, `#`); remote refs cannot be fetched here.
fn lookup<'v>(root: &'v Value, reference: &str) -> Option<&'v Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}

/// The formats Gemini's Developer API accepts: `enum` and `date-time` for strings, and the
/// numeric widths.
fn format_allowed(kind: Option<&str>, format: &str) -> bool {
    match kind {
        Some("string") => matches!(format, "enum" | "date-time"),
        Some("number") => matches!(format, "float" | "double"),
        Some("integer") => matches!(format, "int32" | "int64"),
        _ => false,
    }
}

/// `allOf` members folded into one schema: properties and required lists united, other
/// keywords kept from whoever set them first.
fn merge_into(target: &mut Map<String, Value>, source: Map<String, Value>) {
    for (key, value) in source {
        match (key.as_str(), target.get_mut(&key), value) {
            ("properties", Some(Value::Object(existing)), Value::Object(more)) => {
                for (k, v) in more {
                    existing.entry(k).or_insert(v);
                }
            }
            ("required", Some(Value::Array(existing)), Value::Array(more)) => {
                for r in more {
                    if !existing.contains(&r) {
                        existing.push(r);
                    }
                }
            }
            (_, Some(_), _) => {}
            (_, None, value) => {
                target.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cleaned(schema: Value) -> (Value, Vec<Note>) {
        let mut notes = Vec::new();
        let out = clean(&schema, "tool \"t\"", &mut notes);
        (out, notes)
    }

    #[test]
    fn drops_unsupported_keywords_and_reports_them_once() {
        let (out, notes) = cleaned(json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "path": {"type": "string", "format": "uri", "default": "/", "examples": ["/a"]},
                "when": {"type": "string", "format": "date-time"},
                "n": {"type": "integer", "exclusiveMinimum": 0, "minimum": 1}
            },
            "required": ["path", "missing"]
        }));
        assert_eq!(
            out,
            json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "when": {"type": "string", "format": "date-time"},
                    "n": {"type": "integer", "minimum": 1}
                },
                "required": ["path"]
            })
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].0.contains("$schema"));
        assert!(notes[0].0.contains("additionalProperties"));
        assert!(notes[0].0.contains("format \"uri\""));
    }

    #[test]
    fn type_arrays_any_of_null_and_const_become_nullable_and_enum() {
        let (out, _) = cleaned(json!({
            "type": "object",
            "properties": {
                "a": {"type": ["string", "null"]},
                "b": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "c": {"const": "fixed"},
                "d": {"oneOf": [{"type": "string"}, {"type": "number"}]},
                "e": {"type": ["string", "integer"]},
                "f": {"enum": [1, 2, null]}
            }
        }));
        assert_eq!(out["properties"]["a"], json!({"type": "string", "nullable": true}));
        assert_eq!(out["properties"]["b"], json!({"type": "integer", "nullable": true}));
        assert_eq!(out["properties"]["c"], json!({"type": "string", "enum": ["fixed"]}));
        assert_eq!(
            out["properties"]["d"],
            json!({"anyOf": [{"type": "string"}, {"type": "number"}]})
        );
        assert_eq!(
            out["properties"]["e"],
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]})
        );
        assert_eq!(
            out["properties"]["f"],
            json!({"type": "string", "enum": ["1", "2"], "nullable": true})
        );
    }

    #[test]
    fn refs_are_inlined_and_recursion_is_cut() {
        let (out, notes) = cleaned(json!({
            "type": "object",
            "$defs": {
                "point": {"type": "object", "properties": {"x": {"type": "number"}}},
                "node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}
            },
            "properties": {
                "p": {"$ref": "#/$defs/point", "description": "where"},
                "list": {"$ref": "#/$defs/node"},
                "lost": {"$ref": "#/$defs/nowhere"}
            }
        }));
        assert_eq!(
            out["properties"]["p"],
            json!({"type": "object", "description": "where",
                   "properties": {"x": {"type": "number"}}})
        );
        // A recursive type unrolls to the depth limit and ends in a bare object.
        let mut node = &out["properties"]["list"];
        let mut depth = 0;
        while let Some(next) = node.get("properties").and_then(|p| p.get("next")) {
            node = next;
            depth += 1;
        }
        assert!(depth > 3 && depth <= MAX_DEPTH, "{depth}");
        assert_eq!(node, &json!({"type": "object"}));
        assert_eq!(out["properties"]["lost"], json!({}));
        assert!(out.get("$defs").is_none());
        assert!(notes.iter().any(|n| n.0.contains("$ref (#/$defs/nowhere)")));
    }

    #[test]
    fn all_of_is_merged_and_empty_properties_vanish() {
        let (out, _) = cleaned(json!({
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "boolean"}}, "required": ["b"]}
            ],
            "properties": {"inner": {"type": "object", "properties": {}}}
        }));
        assert_eq!(
            out,
            json!({
                "type": "object",
                "properties": {
                    "inner": {"type": "object"},
                    "a": {"type": "string"},
                    "b": {"type": "boolean"}
                },
                "required": ["a", "b"]
            })
        );
        assert!(!has_properties(&json!({"type": "object", "properties": {}})));
        assert!(has_properties(&out));
    }
}
