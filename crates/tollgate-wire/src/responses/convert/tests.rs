use serde_json::json;

use super::decode::arguments;
use super::encode::custom_input;
use super::*;
use crate::canonical::{Block, Source, ToolChoice};

#[test]
fn arguments_always_become_an_object() {
    assert_eq!(arguments(""), json!({}));
    assert_eq!(arguments(" "), json!({}));
    assert_eq!(arguments(r#"{"a":1}"#), json!({"a": 1}));
    assert_eq!(arguments("[1,2]"), json!({"value": [1, 2]}));
    assert_eq!(arguments(r#"{"a":"#), json!({"arguments": r#"{"a":"#}));
}

#[test]
fn custom_input_unwraps_only_the_canonical_shape() {
    assert_eq!(custom_input(&json!({"input": "raw\ntext"})), "raw\ntext");
    assert_eq!(custom_input(&json!({"input": "x", "other": 1})), r#"{"input":"x","other":1}"#);
    assert_eq!(custom_input(&json!({"patch": "x"})), r#"{"patch":"x"}"#);
}

#[test]
fn tool_choices_and_parts() {
    let body = json!({
        "model": "m",
        "tool_choice": {"type": "function", "name": "f", "namespace": "ns"},
        "input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": "data:image/jpeg;base64,/9j/", "detail": "low"},
            {"type": "input_image", "file_id": "file-1"},
            {"type": "input_file", "file_data": "JVBERi0=", "filename": "a.pdf"},
            {"type": "input_file", "file_url": "https://example.com/a.pdf"},
            {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}
        ]}]
    });
    let req = decode_request(body.to_string().as_bytes()).unwrap();
    assert_eq!(req.tool_choice, Some(ToolChoice::Tool("ns__f".into())));
    let content = &req.messages[0].content;
    assert!(
        matches!(&content[0], Block::Image(i) if i.source == Source::Base64 { media_type: "image/jpeg".into(), data: "/9j/".into() } && i.detail.as_deref() == Some("low"))
    );
    assert!(matches!(&content[1], Block::Image(i) if i.source == Source::File("file-1".into())));
    assert!(
        matches!(&content[2], Block::Document(d) if matches!(&d.source, Source::Base64 { media_type, .. } if media_type == "application/pdf"))
    );
    assert!(
        matches!(&content[3], Block::Document(d) if d.source == Source::Url("https://example.com/a.pdf".into()))
    );
    assert!(matches!(&content[4], Block::Opaque(_)), "unknown parts are kept, not rewritten");

    let allowed = json!({"model": "m", "input": "x", "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": []}});
    let req = decode_request(allowed.to_string().as_bytes()).unwrap();
    assert_eq!(req.tool_choice, None);
    assert_eq!(req.extra.fields["tool_choice"]["type"], "allowed_tools");
}

#[test]
fn malformed_requests_are_invalid_bodies() {
    for (body, path) in [
        (r#"{"model":"m","input":[{"type":"function_call","name":"f"}]}"#, "input[0]"),
        (r#"{"model":"m","input":[{"content":"no role"}]}"#, "input[0].role"),
        (r#"{"model":"m","input":42}"#, "input"),
        (
            r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_image"}]}]}"#,
            "input[0].content[0]",
        ),
        (r#"{"model":"m","tool_choice":"sometimes"}"#, "tool_choice"),
    ] {
        let err = decode_request(body.as_bytes()).unwrap_err();
        assert_eq!(err.path.as_deref(), Some(path), "{body}: {err}");
    }
    assert!(decode_request(b"{not json").is_err());
    assert!(decode_request(b"[]").is_err());
}

#[test]
fn options_for_a_request_without_tools_or_json() {
    let opts = ResponseOptions::for_request(b"not json");
    assert!(opts.custom_tools.is_empty() && opts.echo.is_empty());
    let opts = ResponseOptions::for_request(
        br#"{"previous_response_id":"resp_9","instructions":"x","temperature":null}"#,
    );
    assert_eq!(opts.previous_response_id.as_deref(), Some("resp_9"));
    assert_eq!(opts.echo["instructions"], "x");
    assert!(!opts.echo.contains_key("temperature"));
}

#[test]
fn tool_choice_strings_and_rich_outputs() {
    for (choice, expected) in [
        (json!("auto"), ToolChoice::Auto),
        (json!("required"), ToolChoice::Any),
        (json!("none"), ToolChoice::None),
        (json!({"type": "custom", "name": "apply_patch"}), ToolChoice::Tool("apply_patch".into())),
    ] {
        let body = json!({"model": "m", "input": "x", "tool_choice": choice});
        let req = decode_request(body.to_string().as_bytes()).unwrap();
        assert_eq!(req.tool_choice, Some(expected));
    }
    // A function output with text and an image: both kept, in order (20).
    let body = json!({"model": "m", "input": [
        {"type": "function_call", "call_id": "c1", "name": "view_image", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": [
            {"type": "input_text", "text": "here"},
            {"type": "input_image", "image_url": "data:image/png;base64,iVBO"}
        ]},
        {"type": "function_call_output", "call_id": "c2", "output": ""}
    ]});
    let req = decode_request(body.to_string().as_bytes()).unwrap();
    assert_eq!(req.messages.len(), 2);
    let Block::ToolResult(result) = &req.messages[1].content[0] else { panic!() };
    assert!(matches!(&result.content[..], [Block::Text(_), Block::Image(_)]));
    let Block::ToolResult(empty) = &req.messages[1].content[1] else { panic!() };
    assert!(empty.content.is_empty(), "an empty output is an empty result, not an empty text");
}
