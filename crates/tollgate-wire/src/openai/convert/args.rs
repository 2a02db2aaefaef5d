//! Tool-call `arguments` (a JSON string) to a canonical tool input (a JSON object) and back.
//!
//! The canonical input must be an object (Anthropic requires one). A string that is not an
//! object gets one light repair (a stream cut off mid-arguments: close the open string, arrays
//! and objects); when that fails too, the raw text is kept under [`UNPARSED_ARGUMENTS_FIELD`],
//! and [`to_arguments`] writes exactly that text back, so a Chat provider sees what its model
//! wrote.

use serde_json::{Map, Value};

/// The key under which arguments that are not a JSON object travel, unchanged, as a string.
pub const UNPARSED_ARGUMENTS_FIELD: &str = "_unparsed_arguments";

/// `arguments` as a canonical tool input: `""` is `{}`, an object is itself, a truncated object
/// is repaired, anything else is kept raw under [`UNPARSED_ARGUMENTS_FIELD`].
pub fn parse_arguments(raw: &str) -> Value {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Value::Object(Map::new());
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => unparsed(raw),
        Err(_) => repair(trimmed).unwrap_or_else(|| unparsed(raw)),
    }
}

/// A canonical tool input as Chat `arguments`.
pub fn to_arguments(input: &Value) -> String {
    if let Value::Object(map) = input
        && map.len() == 1
        && let Some(Value::String(raw)) = map.get(UNPARSED_ARGUMENTS_FIELD)
    {
        return raw.clone();
    }
    match input {
        Value::Null => "{}".to_owned(),
        other => other.to_string(),
    }
}

fn unparsed(raw: &str) -> Value {
    let mut map = Map::new();
    map.insert(UNPARSED_ARGUMENTS_FIELD.to_owned(), Value::String(raw.to_owned()));
    Value::Object(map)
}

/// Closes what a cut-off JSON object left open. Only for text that starts as an object; a
/// syntax error in the middle is not guessed at.
fn repair(s: &str) -> Option<Value> {
    if !s.starts_with('{') {
        return None;
    }
    let mut stack = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for c in s.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => stack.push('}'),
            '[' => stack.push(']'),
            // The guard pops: a closer must match the last opener.
            '}' | ']' if stack.pop() != Some(c) => return None,
            _ => {}
        }
    }
    if stack.is_empty() {
        // Balanced but still invalid: a real syntax error, not a cut.
        return None;
    }
    let mut out = s.to_owned();
    if in_string {
        if escaped {
            out.pop();
        }
        out.push('"');
    }
    let tail = out.trim_end();
    if tail.ends_with(',') {
        out.truncate(tail.len() - 1);
    } else if tail.ends_with(':') {
        out.truncate(tail.len());
        out.push_str("null");
    }
    while let Some(c) = stack.pop() {
        out.push(c);
    }
    match serde_json::from_str::<Value>(&out) {
        Ok(v @ Value::Object(_)) => Some(v),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn objects_empty_and_wrapped() {
        assert_eq!(parse_arguments(""), json!({}));
        assert_eq!(parse_arguments("  "), json!({}));
        assert_eq!(
            parse_arguments("{\n\"location\": \"Boston, MA\"\n}"),
            json!({"location": "Boston, MA"})
        );
        assert_eq!(parse_arguments("[1,2]"), json!({UNPARSED_ARGUMENTS_FIELD: "[1,2]"}));
        assert_eq!(parse_arguments("\"hi\""), json!({UNPARSED_ARGUMENTS_FIELD: "\"hi\""}));
        assert_eq!(parse_arguments("not json"), json!({UNPARSED_ARGUMENTS_FIELD: "not json"}));
    }

    #[test]
    fn truncated_objects_are_closed() {
        assert_eq!(parse_arguments(r#"{"location": "San Fr"#), json!({"location": "San Fr"}));
        assert_eq!(parse_arguments(r#"{"a": [1, 2,"#), json!({"a": [1, 2]}));
        assert_eq!(parse_arguments(r#"{"a":"#), json!({"a": null}));
        assert_eq!(parse_arguments(r#"{"a": "x\"#), json!({"a": "x"}));
        assert_eq!(parse_arguments(r#"{"a": {"b": "c"}"#), json!({"a": {"b": "c"}}));
        // A syntax error that is not a cut stays raw.
        assert_eq!(parse_arguments(r#"{"a" 1}"#), json!({UNPARSED_ARGUMENTS_FIELD: r#"{"a" 1}"#}));
    }

    #[test]
    fn arguments_round_trip() {
        assert_eq!(to_arguments(&json!({"a": 1})), r#"{"a":1}"#);
        assert_eq!(to_arguments(&parse_arguments("not json")), "not json");
        assert_eq!(to_arguments(&Value::Null), "{}");
    }
}
