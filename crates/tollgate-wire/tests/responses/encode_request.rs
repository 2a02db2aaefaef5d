//! Canonical requests written for an OpenAI Responses provider (1, 15, 16, 17, 18, 19, 20, 22,
//! 35, 36, 37).

use serde_json::{Value, json};
use tollgate_wire::Dialect;
use tollgate_wire::canonical::{
    Block, Document, Extra, Image, Message, Note, Opaque, Origin, RedactedThinking, Request, Role,
    Source, Target, TextBlock, Thinking, ThinkingBlock, ThinkingMode, Tool, ToolChoice, ToolKind,
    ToolResult, ToolUse,
};
use tollgate_wire::responses::{DecodeOptions, Sealer, decode_request_with, encode_request};

use crate::fixture;

fn target() -> Target {
    Target { model: "gpt-5.1".into(), provider: "openai".into(), ..Target::default() }
}

fn encode(req: &Request) -> (Value, Vec<Note>) {
    let mut notes = Vec::new();
    let body = encode_request(req, &target(), &mut notes);
    (serde_json::from_slice(&body).unwrap(), notes)
}

fn text(s: &str) -> Block {
    Block::Text(TextBlock::new(s))
}

/// What Claude Code sends, in canonical form: cached system parts, thinking, a tool loop with an
/// error result and an image in a result, a document, a custom tool, a server tool.
fn anthropic_style() -> Request {
    let origin = Some(Origin { provider: "anthropic".into(), family: "claude-sonnet-4-5".into() });
    Request {
        model: "claude-sonnet-4-5".into(),
        system: vec![
            TextBlock::new("You are Claude Code."),
            TextBlock {
                cache_control: Some(json!({"type": "ephemeral"})),
                ..TextBlock::new("Be careful.")
            },
        ],
        messages: vec![
            Message {
                role: Role::User,
                content: vec![
                    text("Fix the bug in this screenshot."),
                    Block::Image(Image {
                        source: Source::Base64 {
                            media_type: "image/png".into(),
                            data: "iVBORw0KGgo=".into(),
                        },
                        detail: None,
                        cache_control: None,
                    }),
                    Block::Document(Document {
                        context: None,
                        citations: None,
                        source: Source::Base64 {
                            media_type: "application/pdf".into(),
                            data: "JVBERi0=".into(),
                        },
                        title: Some("spec.pdf".into()),
                        filename: None,
                        cache_control: None,
                    }),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    Block::Thinking(ThinkingBlock {
                        thinking: "Look first.".into(),
                        signature: Some("sig".into()),
                        origin: origin.clone(),
                    }),
                    Block::RedactedThinking(RedactedThinking { data: "EmwK".into(), origin }),
                    text("Let me look."),
                    Block::ToolUse(ToolUse {
                        id: "toolu_01".into(),
                        name: "Bash".into(),
                        input: json!({"command": "ls"}),
                        cache_control: None,
                    }),
                    Block::ToolUse(ToolUse {
                        id: "toolu_02".into(),
                        name: "apply_patch".into(),
                        input: json!({"input": "*** Begin Patch\n*** End Patch\n"}),
                        cache_control: None,
                    }),
                    Block::Opaque(Opaque {
                        dialect: Dialect::Anthropic,
                        value: json!({"type": "server_tool_use"}),
                    }),
                ],
            },
            Message {
                role: Role::User,
                content: vec![
                    Block::ToolResult(ToolResult {
                        tool_use_id: "toolu_01".into(),
                        content: vec![text("ls: cannot access")],
                        is_error: true,
                        cache_control: None,
                    }),
                    Block::ToolResult(ToolResult {
                        tool_use_id: "toolu_02".into(),
                        content: vec![
                            text("applied"),
                            Block::Image(Image {
                                source: Source::Url("https://example.com/a.png".into()),
                                detail: Some("high".into()),
                                cache_control: None,
                            }),
                        ],
                        is_error: false,
                        cache_control: Some(json!({"type": "ephemeral"})),
                    }),
                    text("Now run the tests."),
                ],
            },
        ],
        tools: vec![
            Tool {
                name: "Bash".into(),
                description: Some("Run a command".into()),
                kind: ToolKind::Function {
                    parameters: json!({"type": "object", "properties": {"command": {"type": "string"}}}),
                    strict: None,
                },
                cache_control: None,
            },
            Tool {
                name: "apply_patch".into(),
                description: None,
                kind: ToolKind::Custom {
                    format: Some(
                        json!({"type": "grammar", "syntax": "lark", "definition": "start: x"}),
                    ),
                },
                cache_control: None,
            },
            Tool {
                name: "web_search".into(),
                description: None,
                kind: ToolKind::Hosted {
                    dialect: Dialect::Anthropic,
                    value: json!({"type": "web_search_20250305", "name": "web_search"}),
                },
                cache_control: None,
            },
        ],
        tool_choice: Some(ToolChoice::Tool("apply_patch".into())),
        parallel_tool_calls: Some(false),
        max_tokens: Some(32000),
        temperature: Some(1.0),
        top_k: Some(5),
        stop_sequences: vec!["END".into()],
        stream: true,
        thinking: Some(Thinking {
            mode: ThinkingMode::Enabled { budget_tokens: 10000 },
            effort: None,
            display: None,
        }),
        user: Some("user_abc".into()),
        extra: Extra {
            dialect: Some(Dialect::Anthropic),
            fields: serde_json::Map::from_iter([("context_management".to_owned(), json!({}))]),
        },
        ..Request::default()
    }
}

#[test]
fn anthropic_style_request_for_a_responses_provider() {
    let (body, notes) = encode(&anthropic_style());
    assert_eq!(body["store"], false);
    assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(body["reasoning"], json!({"effort": "high"}));
    assert_eq!(body["tool_choice"], json!({"type": "custom", "name": "apply_patch"}));
    assert_eq!(body["tools"][0]["strict"], false, "strict only when asked for");
    let input = body["input"].as_array().unwrap();
    let output = input
        .iter()
        .find(|i| i["call_id"] == "toolu_01" && i["type"] == "function_call_output")
        .unwrap();
    assert_eq!(output["output"], "Error: ls: cannot access", "is_error travels as a prefix (19)");
    let patch_output = input
        .iter()
        .find(|i| i["call_id"] == "toolu_02" && i["type"] != "custom_tool_call")
        .unwrap();
    assert_eq!(patch_output["type"], "custom_tool_call_output");
    assert!(!body.to_string().contains("cache_control"));
    let notes: Vec<&str> = notes.iter().map(|n| n.0.as_str()).collect();
    insta::assert_json_snapshot!(json!({"body": body, "notes": notes}));
}

#[test]
fn a_codex_tool_loop_goes_back_to_openai_unchanged_in_substance() {
    let body = fixture!("codex_request_tool_loop.json").as_bytes();
    let req =
        decode_request_with(body, &DecodeOptions { sealer: Some(Sealer::new(b"k")) }).unwrap();
    let (out, notes) = encode(&req);
    assert!(notes.is_empty(), "{notes:?}");
    let original: Value = serde_json::from_slice(body).unwrap();
    // Same items after the developer messages (which became `instructions`): reasoning items
    // byte for byte, the custom call and its output as custom items, ids and text intact.
    // (The two user messages of one turn are one canonical message, so one item.)
    let sent: Vec<&Value> =
        out["input"].as_array().unwrap().iter().filter(|i| i["type"] != "message").collect();
    let orig: Vec<&Value> =
        original["input"].as_array().unwrap().iter().filter(|i| i["type"] != "message").collect();
    assert_eq!(sent.len(), orig.len());
    for (s, o) in sent.iter().zip(&orig) {
        assert_eq!(s["type"], o["type"]);
        match o["type"].as_str().unwrap() {
            "reasoning" => assert_eq!(s, o),
            "custom_tool_call" => {
                assert_eq!(s["input"], o["input"]);
                assert_eq!(s["call_id"], o["call_id"]);
            }
            "function_call" => {
                let args = |v: &Value| {
                    serde_json::from_str::<Value>(v["arguments"].as_str().unwrap()).unwrap()
                };
                assert_eq!(args(s), args(o));
            }
            "function_call_output" | "custom_tool_call_output" => {
                assert_eq!(s["output"], o["output"])
            }
            _ => {}
        }
    }
    let user = out["input"].as_array().unwrap().iter().find(|i| i["role"] == "user").unwrap();
    assert_eq!(user["content"].as_array().unwrap().len(), 2);
    for key in [
        "store",
        "include",
        "prompt_cache_key",
        "parallel_tool_calls",
        "tool_choice",
        "text",
        "client_metadata",
    ] {
        assert_eq!(out[key], original[key], "{key}");
    }
    assert_eq!(out["reasoning"], original["reasoning"]);
    assert_eq!(out["tools"], original["tools"], "flat tools go back as they came");
    assert_eq!(out["model"], "gpt-5.1", "the target's model");
}

#[test]
fn sampling_quirk_and_token_cap() {
    let mut req = anthropic_style();
    req.thinking = None;
    let mut target = target();
    target.quirks.no_sampling = true;
    target.quirks.max_output_tokens = Some(16000);
    let mut notes = Vec::new();
    let body: Value = serde_json::from_slice(&encode_request(&req, &target, &mut notes)).unwrap();
    assert_eq!(body["max_output_tokens"], 16000);
    assert!(body.get("temperature").is_none());
    assert!(body.get("reasoning").is_none() && body.get("include").is_none());
    assert!(notes.iter().any(|n| n.0.contains("temperature")));
}
