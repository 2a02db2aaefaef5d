//! Anthropic Messages requests and responses to and from the canonical model: golden snapshots
//! of decoded requests and encoded bodies, round trips, validation paths, and what the encoder
//! drops (with a note) for content from other dialects.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test on bad fixtures")]

use serde_json::{Value, json};
use tollgate_wire::Usage;
use tollgate_wire::anthropic::convert::{
    decode_request, decode_response, encode_request, encode_response,
};
use tollgate_wire::canonical::{
    Block, Extra, Image, Message, Note, Opaque, Quirks, Request, Response, ResponseFormat, Role,
    Source, StopReason, Target, TextBlock, Thinking, ThinkingBlock, ThinkingMode, Tool, ToolChoice,
    ToolKind, ToolResult, ToolUse,
};
use tollgate_wire::dialect::Dialect;

/// A Claude Code style turn: a cache-marked system array, a mid-conversation `role: "system"`
/// message, adaptive thinking with `display` and `output_config.effort`, a beta field, typed and
/// custom tools, a tool loop carrying signature-only and redacted thinking, a server tool block,
/// a tool result with an image and `is_error`.
const CLAUDE_CODE_BODY: &str = r#"{
  "model": "claude-opus-4-8",
  "max_tokens": 64000,
  "stream": true,
  "system": [
    {"type": "text", "text": "You are a Claude agent, built on Anthropic's Claude Agent SDK."},
    {"type": "text", "text": "Answer tersely.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
  ],
  "messages": [
    {"role": "user", "content": "List the files."},
    {"role": "assistant", "content": [
      {"type": "thinking", "thinking": "", "signature": "ErUBCkYIBhgCIkD/only-signature=="},
      {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
      {"type": "text", "text": "Listing them."},
      {"type": "tool_use", "id": "toolu_01Bash", "name": "Bash", "input": {"command": "ls"}}
    ]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "toolu_01Bash", "is_error": true, "content": [
        {"type": "text", "text": "ls: permission denied"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
      ]},
      {"type": "text", "text": "Try again.", "cache_control": {"type": "ephemeral"}}
    ]},
    {"role": "system", "content": "The user prefers sudo-free commands."},
    {"role": "assistant", "content": [
      {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {"query": "ls permission"}},
      {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01", "content": []},
      {"type": "text", "text": "Found it.", "citations": [{"type": "web_search_result_location", "url": "https://example.com", "title": "E", "encrypted_index": "Eo8B", "cited_text": "x"}]}
    ]},
    {"role": "user", "content": [{"type": "text", "text": "Thanks"}]}
  ],
  "tools": [
    {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
    {"type": "custom", "name": "Read", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}},
    {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
  ],
  "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
  "thinking": {"type": "adaptive", "display": "omitted"},
  "output_config": {"effort": "high", "format": {"type": "json_schema", "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"], "additionalProperties": false}}},
  "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
  "metadata": {"user_id": "user_abc_account__session_123"},
  "service_tier": "auto",
  "stop_sequences": ["---"],
  "top_p": 0.99
}"#;

fn target(model: &str) -> Target {
    Target { model: model.into(), provider: "anthropic".into(), quirks: Quirks::default() }
}

fn encode(req: &Request, target: &Target) -> (Value, Vec<String>) {
    let mut notes: Vec<Note> = Vec::new();
    let body = encode_request(req, target, &mut notes);
    (serde_json::from_slice(&body).unwrap(), notes.into_iter().map(|n| n.0).collect())
}

#[test]
fn a_claude_code_request_decodes_to_the_golden_canonical_request() {
    let req = decode_request(CLAUDE_CODE_BODY.as_bytes()).unwrap();
    insta::assert_debug_snapshot!(req);
}

#[test]
fn mid_conversation_system_messages_are_hoisted_after_the_top_level_system() {
    let req = decode_request(CLAUDE_CODE_BODY.as_bytes()).unwrap();
    let system: Vec<&str> = req.system.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(
        system,
        [
            "You are a Claude agent, built on Anthropic's Claude Agent SDK.",
            "Answer tersely.",
            "The user prefers sudo-free commands."
        ]
    );
    assert_eq!(req.system[1].cache_control, Some(json!({"type": "ephemeral", "ttl": "1h"})));
    assert_eq!(req.messages.len(), 5);
    assert!(req.messages.iter().all(|m| m.role != Role::User || !m.content.is_empty()));
}

#[test]
fn the_decoded_fields_land_where_they_belong() {
    let req = decode_request(CLAUDE_CODE_BODY.as_bytes()).unwrap();
    assert_eq!(req.user.as_deref(), Some("user_abc_account__session_123"));
    assert_eq!(req.parallel_tool_calls, Some(false));
    assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
    assert_eq!(
        req.thinking,
        Some(Thinking {
            mode: ThinkingMode::Adaptive,
            effort: Some("high".into()),
            display: Some("omitted".into())
        })
    );
    assert!(matches!(req.response_format, Some(ResponseFormat::JsonSchema { .. })));
    assert!(matches!(&req.tools[1].kind, ToolKind::Function { .. }), "type: custom is a function");
    assert!(matches!(&req.tools[2].kind, ToolKind::Hosted { dialect: Dialect::Anthropic, .. }));
    assert_eq!(req.extra.dialect, Some(Dialect::Anthropic));
    let mut keys: Vec<&str> = req.extra.fields.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["context_management", "service_tier"]);
    let Block::Thinking(thinking) = &req.messages[1].content[0] else { panic!() };
    assert_eq!(thinking.thinking, "");
    assert_eq!(thinking.signature.as_deref(), Some("ErUBCkYIBhgCIkD/only-signature=="));
    assert!(
        matches!(&req.messages[3].content[0], Block::Opaque(o) if o.value["type"] == "server_tool_use")
    );
}

#[test]
fn an_anthropic_request_round_trips_except_its_beta_fields() {
    let req = decode_request(CLAUDE_CODE_BODY.as_bytes()).unwrap();
    let (body, notes) = encode(&req, &target("claude-opus-4-8"));
    insta::assert_snapshot!(serde_json::to_string_pretty(&body).unwrap());
    assert!(body.get("context_management").is_none());
    assert_eq!(notes, ["`context_management` dropped: it needs an anthropic-beta header"]);

    let mut original: Value = serde_json::from_str(CLAUDE_CODE_BODY).unwrap();
    let object = original.as_object_mut().unwrap();
    object.remove("context_management");
    // The mid-conversation system text moves to the end of `system`, as a text block.
    let moved = object["messages"].as_array_mut().unwrap().remove(3);
    assert_eq!(moved["role"], "system");
    object["system"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "text", "text": moved["content"]}));
    object["messages"][0]["content"] = json!([{"type": "text", "text": "List the files."}]);
    // `"type": "custom"` is the default tool type and is not written.
    object["tools"][1].as_object_mut().unwrap().remove("type");
    assert_eq!(body, original);

    let again = decode_request(&serde_json::to_vec(&body).unwrap()).unwrap();
    let mut expected = req.clone();
    expected.extra.fields.remove("context_management");
    assert_eq!(again, expected);
}

fn foreign_request() -> Request {
    Request {
        model: "gpt-5".into(),
        system: vec![TextBlock::new("Be brief."), TextBlock::new("  ")],
        messages: vec![
            Message { role: Role::User, content: vec![Block::Text(TextBlock::new("weather?"))] },
            Message {
                role: Role::Assistant,
                content: vec![
                    Block::Thinking(ThinkingBlock {
                        thinking: "from another provider".into(),
                        signature: None,
                        origin: None,
                    }),
                    Block::Opaque(Opaque {
                        dialect: Dialect::OpenAiResponses,
                        value: json!({"type": "reasoning", "id": "rs_1"}),
                    }),
                    Block::Text(TextBlock::new("Checking.")),
                    Block::ToolUse(ToolUse {
                        id: "functions.get_weather:0".into(),
                        name: "get_weather".into(),
                        input: json!({"city": "Paris"}),
                        cache_control: None,
                    }),
                    Block::ToolUse(ToolUse {
                        id: "call_2".into(),
                        name: "apply_patch".into(),
                        input: json!({"input": "*** Begin Patch"}),
                        cache_control: None,
                    }),
                ],
            },
            Message {
                role: Role::User,
                content: vec![
                    Block::ToolResult(ToolResult {
                        tool_use_id: "functions.get_weather:0".into(),
                        content: vec![Block::Text(TextBlock::new("18C"))],
                        is_error: false,
                        cache_control: None,
                    }),
                    Block::ToolResult(ToolResult {
                        tool_use_id: "call_2".into(),
                        content: vec![Block::Text(TextBlock::new("patch failed"))],
                        is_error: true,
                        cache_control: None,
                    }),
                    Block::Image(Image {
                        source: Source::from_url("data:image/jpeg;base64,/9j/4AAQ"),
                        detail: Some("high".into()),
                        cache_control: None,
                    }),
                ],
            },
        ],
        tools: vec![
            Tool {
                name: "get_weather".into(),
                description: Some("Weather for a city".into()),
                kind: ToolKind::Function {
                    parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
                    strict: Some(true),
                },
                cache_control: None,
            },
            Tool {
                name: "apply_patch".into(),
                description: None,
                kind: ToolKind::Custom { format: Some(json!({"type": "grammar"})) },
                cache_control: None,
            },
            Tool {
                name: "web_search".into(),
                description: None,
                kind: ToolKind::Hosted {
                    dialect: Dialect::OpenAiResponses,
                    value: json!({"type": "web_search"}),
                },
                cache_control: None,
            },
        ],
        tool_choice: Some(ToolChoice::Any),
        parallel_tool_calls: Some(false),
        max_tokens: None,
        temperature: Some(1.5),
        top_p: None,
        top_k: None,
        stop_sequences: vec!["END".into()],
        stream: true,
        thinking: None,
        user: Some("u-42".into()),
        response_format: Some(ResponseFormat::Json),
        extra: Extra {
            dialect: Some(Dialect::OpenAiChat),
            fields: [("seed".to_owned(), json!(7))].into_iter().collect(),
        },
    }
}

#[test]
fn a_request_from_another_dialect_is_written_for_anthropic_with_notes() {
    let (body, notes) = encode(&foreign_request(), &target("claude-sonnet-4-5"));
    insta::assert_snapshot!(serde_json::to_string_pretty(&body).unwrap());
    insta::assert_debug_snapshot!(notes);
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert_eq!(body["max_tokens"], 8192);
    assert_eq!(body["temperature"], 1.0);
    assert_eq!(body["tool_choice"], json!({"type": "any", "disable_parallel_tool_use": true}));
    assert_eq!(body["metadata"], json!({"user_id": "u-42"}));
    assert!(body.get("seed").is_none());
    let call_id = body["messages"][1]["content"][1]["id"].as_str().unwrap();
    assert!(tollgate_wire::canonical::ids::is_clean(call_id));
    assert_eq!(body["messages"][2]["content"][0]["tool_use_id"], call_id);
    assert_eq!(body["messages"][1]["content"][0], json!({"type": "text", "text": "Checking."}));
    assert_eq!(
        body["tools"][1]["input_schema"],
        json!({"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]})
    );
    // The Responses client's hosted web_search runs as Anthropic's own search server tool.
    assert_eq!(body["tools"].as_array().unwrap().len(), 3);
    assert_eq!(body["tools"][2], json!({"type": "web_search_20250305", "name": "web_search"}));
}

#[test]
fn thinking_is_kept_within_anthropic_rules() {
    let mut req = foreign_request();
    // Only the opening user turn: a continued tool loop whose assistant turn has no thinking
    // makes repair switch thinking off, which is a different rule.
    req.messages.truncate(1);
    req.max_tokens = Some(4000);
    req.temperature = Some(0.2);
    req.top_k = Some(5);
    req.thinking = Some(Thinking {
        mode: ThinkingMode::Enabled { budget_tokens: 10_000 },
        effort: Some("medium".into()),
        display: None,
    });
    let (body, notes) = encode(&req, &target("claude-sonnet-4-5"));
    assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 3999}));
    assert!(body.get("temperature").is_none());
    assert!(body.get("top_k").is_none());
    assert_eq!(body["tool_choice"], json!({"type": "auto", "disable_parallel_tool_use": true}));
    assert!(body.get("output_config").is_none(), "effort only goes with adaptive thinking");
    for expected in [
        "budget 10000 lowered",
        "temperature 0.2 dropped",
        "top_k 5 dropped",
        "relaxed to auto",
        "effort",
    ] {
        assert!(notes.iter().any(|n| n.contains(expected)), "{expected}: {notes:?}");
    }

    req.thinking =
        Some(Thinking { mode: ThinkingMode::Adaptive, effort: Some("low".into()), display: None });
    let mut adaptive = target("claude-opus-4-8");
    adaptive.quirks.adaptive_thinking = true;
    let (body, _) = encode(&req, &adaptive);
    assert_eq!(body["thinking"], json!({"type": "adaptive"}));
    assert_eq!(body["output_config"]["effort"], "low");
    // A model without adaptive thinking gets the effort as a budget instead.
    let (body, notes) = encode(&req, &target("claude-sonnet-4-5"));
    assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 1024}));
    assert!(notes.iter().any(|n| n.contains("thinking budget of 1024")), "{notes:?}");
}

#[test]
fn max_tokens_follows_the_target_quirk() {
    let mut req = foreign_request();
    let mut t = target("claude-haiku");
    t.quirks.max_output_tokens = Some(4096);
    let (body, _) = encode(&req, &t);
    assert_eq!(body["max_tokens"], 4096);
    req.max_tokens = Some(100_000);
    let (body, notes) = encode(&req, &t);
    assert_eq!(body["max_tokens"], 4096);
    assert!(notes.iter().any(|n| n.contains("capped")), "{notes:?}");
}

#[test]
fn validation_errors_name_the_json_path() {
    let cases = [
        (r#"{"messages": []}"#, "model", "model: field required"),
        (r#"{"model": "m"}"#, "messages", "messages: field required"),
        (
            r#"{"model": "m", "messages": [{"role": "tool", "content": "x"}]}"#,
            "messages[0].role",
            "messages[0].role: expected",
        ),
        (
            r#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "url"}}]}]}"#,
            "messages[0].content[0].source",
            "missing field `url`",
        ),
        (
            r#"{"model": "m", "messages": [{"role": "user", "content": 5}]}"#,
            "messages[0].content",
            "expected a string or a list",
        ),
        (
            r#"{"model": "m", "messages": [], "tools": [{"name": "t"}]}"#,
            "tools[0]",
            "missing field `input_schema`",
        ),
        (
            r#"{"model": "m", "messages": [], "thinking": {"type": "enabled"}}"#,
            "thinking.budget_tokens",
            "field required",
        ),
        (
            r#"{"model": "m", "messages": [], "tool_choice": {"type": "tool"}}"#,
            "tool_choice.name",
            "field required",
        ),
        (
            r#"{"model": "m", "messages": [{"role": "system", "content": [{"type": "image", "source": {"type": "url", "url": "u"}}]}]}"#,
            "messages[0].content[0]",
            "only hold text",
        ),
        (r#"{"model": "m", "messages": [], "temperature": "hot"}"#, "temperature", "invalid type"),
    ];
    for (body, path, message) in cases {
        let err = decode_request(body.as_bytes()).unwrap_err();
        assert_eq!(err.path.as_deref(), Some(path), "{body}: {err:?}");
        assert!(err.message.contains(message), "{body}: {}", err.message);
    }
    assert!(decode_request(b"[]").unwrap_err().message.contains("JSON object"));
}

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../tollgate-testkit/fixtures/anthropic/", $name)) as &[u8]
    };
}

#[test]
fn documented_responses_decode_to_the_golden_responses_and_round_trip() {
    for (name, body) in [
        ("message", fixture!("message.json")),
        ("message_tool_use", fixture!("message_tool_use.json")),
        ("message_thinking", fixture!("message_thinking.json")),
    ] {
        let resp = decode_response(body).unwrap();
        insta::assert_debug_snapshot!(format!("response_{name}"), resp);
        let mut notes = Vec::new();
        let written = encode_response(&resp, &mut notes);
        assert!(notes.is_empty(), "{name}: {notes:?}");
        let mut again = decode_response(&written).unwrap();
        again.id = resp.id.clone();
        assert_eq!(again, resp, "{name}");
    }
}

#[test]
fn encoded_responses_have_the_api_shape() {
    let resp = Response {
        id: "chatcmpl-9".into(),
        model: "gpt-5".into(),
        content: vec![
            Block::Thinking(ThinkingBlock {
                thinking: "hmm".into(),
                signature: None,
                origin: None,
            }),
            Block::Text(TextBlock::new("Hi")),
            Block::Opaque(Opaque {
                dialect: Dialect::OpenAiResponses,
                value: json!({"type": "reasoning"}),
            }),
        ],
        stop_reason: Some(StopReason::StopSequence),
        stop_sequence: Some("###".into()),
        usage: Usage {
            web_search_requests: 0,
            input_tokens: 10,
            output_tokens: 5,
            cache_read_tokens: 90,
            cache_write_tokens: 2,
        },
    };
    let mut notes = Vec::new();
    let body: Value = serde_json::from_slice(&encode_response(&resp, &mut notes)).unwrap();
    assert_eq!(
        body,
        json!({
            "id": "msg_chatcmpl-9", "type": "message", "role": "assistant", "model": "gpt-5",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": ""},
                {"type": "text", "text": "Hi"}
            ],
            "stop_reason": "stop_sequence", "stop_sequence": "###",
            "usage": {"input_tokens": 10, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 90, "output_tokens": 5}
        })
    );
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        decode_response(fixture!("error.json")).unwrap_err().message.contains("not_found_error")
    );
}

#[test]
fn the_stand_in_signature_decodes_to_unsigned_thinking_of_its_issuer() {
    let body = br#"{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"tollgate-unsigned:ollama-native/qwen3"},{"type":"text","text":"a"}]}]}"#;
    let req = decode_request(body).unwrap();
    let tollgate_wire::canonical::Block::Thinking(t) = &req.messages[1].content[0] else {
        panic!("{req:?}")
    };
    assert_eq!(t.signature, None);
    let origin = t.origin.as_ref().unwrap();
    assert_eq!((origin.provider.as_str(), origin.family.as_str()), ("ollama-native", "qwen3"));
    // Encoded for Anthropic again, the unsigned block is stripped, never sent as a signature.
    let (out, _) = encode(&req, &target("claude-sonnet-4-5"));
    assert!(!out.to_string().contains("tollgate-unsigned"), "{out}");
}
