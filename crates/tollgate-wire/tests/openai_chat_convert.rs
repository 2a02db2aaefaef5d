//! OpenAI Chat Completions requests and responses through the canonical model: golden decodes of
//! client requests, golden encodes for providers with their notes, responses both ways, and
//! round trips where Chat -> canonical -> Chat must not lose anything Chat can say.
//!
//! Request bodies here are constructed for the test (realistic shapes, not recordings); response
//! fixtures are the recorded ones in `tollgate-testkit/fixtures/openai`.

#![expect(clippy::unwrap_used, reason = "tests")]

use serde_json::{Value, json};
use tollgate_wire::canonical::{
    Block, Document, Extra, Image, Message, Note, Quirks, Request, Response, ResponseFormat, Role,
    Source, StopReason, Target, TextBlock, Thinking, ThinkingBlock, ThinkingMode, Tool, ToolChoice,
    ToolKind, ToolResult, ToolUse,
};
use tollgate_wire::openai::convert::{
    ResponseOptions, UNPARSED_ARGUMENTS_FIELD, decode_request, decode_response, encode_request,
    encode_response, encode_response_with,
};
use tollgate_wire::{Dialect, Usage};

/// A coding agent's fourth turn: system and developer text (one in the middle), an image, two
/// parallel calls answered by two tool messages and a follow-up that joins them, reasoning
/// replayed by the client, a malformed argument string, a custom tool, a PDF, audio.
const AGENT_LOOP: &str = r#"{
  "model": "gpt-4.1",
  "messages": [
    {"role": "system", "content": "You are a coding agent."},
    {"role": "developer", "content": [{"type": "text", "text": "Prefer small diffs."}, {"type": "text", "text": "Never push."}]},
    {"role": "user", "content": [
      {"type": "text", "text": "Why does the build fail? Screenshot attached."},
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}}
    ]},
    {"role": "assistant", "content": "", "tool_calls": [
      {"id": "call_a1", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"Cargo.toml\"}"}},
      {"id": "call_b2", "type": "function", "function": {"name": "run", "arguments": ""}}
    ]},
    {"role": "tool", "tool_call_id": "call_a1", "content": "[package]\nname = \"demo\""},
    {"role": "tool", "tool_call_id": "call_b2", "content": [{"type": "text", "text": "error[E0425]"}, {"type": "text", "text": "cannot find value"}]},
    {"role": "user", "content": "Also check this spec.", "name": "dana"},
    {"role": "developer", "content": "Answer in English."},
    {"role": "assistant", "reasoning_content": "The spec matters.", "content": null, "tool_calls": [
      {"id": "call_c3", "type": "function", "function": {"name": "grep", "arguments": "{\"pattern\": \"fn main\", \"paths\": [\"src\""}},
      {"id": "call_d4", "type": "custom", "custom": {"name": "apply_patch", "input": "*** Begin Patch\n*** End Patch"}}
    ]},
    {"role": "tool", "tool_call_id": "call_c3", "content": "src/main.rs:1"},
    {"role": "tool", "tool_call_id": "call_d4", "content": "applied"},
    {"role": "user", "content": [
      {"type": "file", "file": {"filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"}},
      {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
      {"type": "text", "text": "Summarise."}
    ]},
    {"role": "assistant", "content": [{"type": "text", "text": "I can't"}, {"type": "refusal", "refusal": " open audio."}]}
  ],
  "tools": [
    {"type": "function", "function": {"name": "read_file", "description": "Read a file", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}, "strict": true}},
    {"type": "function", "function": {"name": "run"}},
    {"type": "function", "function": {"name": "grep", "parameters": {"type": "object", "properties": {"pattern": {"type": "string"}}}}},
    {"type": "custom", "custom": {"name": "apply_patch", "description": "Apply a patch", "format": {"type": "grammar", "grammar": {"syntax": "lark", "definition": "start: \"*** Begin Patch\""}}}}
  ],
  "tool_choice": "auto",
  "parallel_tool_calls": true,
  "max_completion_tokens": 4096,
  "max_tokens": 100,
  "temperature": 0.2,
  "top_p": 0.9,
  "stop": "END",
  "stream": true,
  "stream_options": {"include_usage": true},
  "reasoning_effort": "medium",
  "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": true}},
  "user": "user-123",
  "safety_identifier": "hash-abc",
  "seed": 7,
  "metadata": {"session": "s1"},
  "service_tier": "flex",
  "store": false,
  "n": 1
}"#;

fn target(quirks: Quirks) -> Target {
    Target { model: "provider-model".into(), provider: "test".into(), quirks }
}

fn encode_json(req: &Request, quirks: Quirks) -> (Value, Vec<Note>) {
    let mut notes = Vec::new();
    let body = encode_request(req, &target(quirks), &mut notes);
    (serde_json::from_slice(&body).unwrap(), notes)
}

#[test]
fn agent_loop_decodes_to_the_canonical_request() {
    let req = decode_request(AGENT_LOOP.as_bytes()).unwrap();
    insta::assert_debug_snapshot!("decode_agent_loop", req);

    // All system and developer text hoisted, in order (1).
    let system: Vec<_> = req.system.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(
        system,
        ["You are a coding agent.", "Prefer small diffs.", "Never push.", "Answer in English."]
    );
    // Two tool messages and the user message after them are one user turn, results first (18).
    let roles: Vec<_> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::User, Role::Assistant, Role::User, Role::Assistant, Role::User, Role::Assistant]
    );
    let turn = &req.messages[2].content;
    assert!(matches!(&turn[0], Block::ToolResult(r) if r.tool_use_id == "call_a1"));
    assert!(
        matches!(&turn[1], Block::ToolResult(r) if r.tool_use_id == "call_b2" && r.content.len() == 2)
    );
    assert!(matches!(&turn[2], Block::Text(t) if t.text == "Also check this spec."));
    // `content: ""` beside tool calls is no block (3); `""` arguments are `{}` (22).
    assert_eq!(req.messages[1].content.len(), 2);
    assert!(matches!(&req.messages[1].content[1], Block::ToolUse(u) if u.input == json!({})));
    // A cut-off argument string is closed; the custom call keeps its raw text.
    let Block::ToolUse(grep) = &req.messages[3].content[1] else { panic!() };
    assert_eq!(grep.input, json!({"pattern": "fn main", "paths": ["src"]}));
    let Block::ToolUse(patch) = &req.messages[3].content[2] else { panic!() };
    assert_eq!(patch.input, json!({"input": "*** Begin Patch\n*** End Patch"}));
    assert!(matches!(&req.messages[3].content[0], Block::Thinking(t) if t.signature.is_none()));
    // max_completion_tokens wins over the deprecated max_tokens.
    assert_eq!(req.max_tokens, Some(4096));
    assert_eq!(req.user.as_deref(), Some("hash-abc"));
    assert_eq!(req.extra.fields.get("user"), Some(&json!("user-123")));
    assert!(
        req.extra.fields.contains_key("seed") && req.extra.fields.contains_key("stream_options")
    );
    assert!(!req.extra.fields.contains_key("n"));
}

#[test]
fn chat_requests_round_trip_through_the_canonical_model() {
    let first = decode_request(AGENT_LOOP.as_bytes()).unwrap();
    let quirks =
        Quirks { max_completion_tokens: true, reasoning_effort: true, ..Quirks::default() };
    let mut notes = Vec::new();
    let body = encode_request(&first, &target(quirks), &mut notes);
    let mut second = decode_request(&body).unwrap();
    second.model = first.model.clone();
    // What Chat -> canonical -> Chat loses, on purpose: reasoning has no way back into Chat
    // (11); a tool message is written as one string (what every compatible server takes), an
    // assistant turn's text as one string; a custom tool goes as a function taking `input`,
    // since few compatible servers know custom tools.
    let mut expected = first.clone();
    assert!(matches!(expected.messages[3].content.remove(0), Block::Thinking(_)));
    let Block::ToolResult(run) = &mut expected.messages[2].content[1] else { panic!() };
    run.content = vec![Block::Text(TextBlock::new("error[E0425]\ncannot find value"))];
    expected.messages[5].content = vec![Block::Text(TextBlock::new("I can't open audio."))];
    let Some(Tool { kind, description, .. }) = expected.tools.last_mut() else { panic!() };
    assert!(matches!(kind, ToolKind::Custom { .. }));
    *kind = ToolKind::Function {
        parameters: json!({"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"], "additionalProperties": false}),
        strict: None,
    };
    *description = Some("Apply a patch\n\nThe `input` text must follow this lark grammar:\nstart: \"*** Begin Patch\"".into());
    assert_eq!(second, expected);
    // The thinking block, and the recorded loop ending in an assistant message (a prefill the
    // provider may not continue, catalogue 5).
    assert_eq!(notes.len(), 2, "{notes:?}");
}

#[test]
fn agent_loop_encodes_for_a_chat_provider() {
    let req = decode_request(AGENT_LOOP.as_bytes()).unwrap();
    let quirks =
        Quirks { max_completion_tokens: true, reasoning_effort: true, ..Quirks::default() };
    let (body, notes) = encode_json(&req, quirks);
    insta::assert_json_snapshot!("encode_agent_loop_chat_to_chat", body);
    insta::assert_debug_snapshot!("encode_agent_loop_chat_to_chat_notes", notes);
    assert_eq!(body["model"], "provider-model");
    // The system text goes as one message, its parts kept; `developer` is never written.
    assert_eq!(body["messages"][0]["content"].as_array().unwrap().len(), 4);
    assert!(!body.to_string().contains("\"developer\""));
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["seed"], 7);
}

/// An Anthropic-shaped conversation, built directly: what a Claude Code session holds after two
/// tool rounds, with everything Chat cannot say.
fn claude_session() -> Request {
    let text = |t: &str| Block::Text(TextBlock::new(t));
    let cached = |t: &str| TextBlock {
        text: t.into(),
        cache_control: Some(json!({"type": "ephemeral"})),
        citations: None,
    };
    let tool_use = |id: &str, name: &str, input: Value| {
        Block::ToolUse(ToolUse { id: id.into(), name: name.into(), input, cache_control: None })
    };
    let png = |data: &str| Image {
        source: Source::Base64 { media_type: "image/png".into(), data: data.into() },
        detail: None,
        cache_control: None,
    };
    Request {
        model: "claude-sonnet-4-5".into(),
        system: vec![
            cached("x-anthropic-billing-header: cc_version=2.0"),
            cached("You are Claude Code."),
            TextBlock::new(""),
        ],
        messages: vec![
            Message {
                role: Role::User,
                content: vec![text("Fix the failing test."), Block::Image(png("AAAA"))],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    Block::Thinking(ThinkingBlock {
                        thinking: "Run it first.".into(),
                        signature: Some("EqQB".into()),
                        origin: None,
                    }),
                    text("Running the tests"),
                    text(" and taking a screenshot."),
                    tool_use("toolu_01", "Bash", json!({"command": "cargo test"})),
                    tool_use("toolu_02", "Screenshot", json!({})),
                ],
            },
            Message {
                role: Role::User,
                content: vec![
                    // Results in the opposite order of the calls.
                    Block::ToolResult(ToolResult {
                        tool_use_id: "toolu_02".into(),
                        content: vec![text("Screen captured."), Block::Image(png("BBBB"))],
                        is_error: false,
                        cache_control: None,
                    }),
                    Block::ToolResult(ToolResult {
                        tool_use_id: "toolu_01".into(),
                        content: vec![text("test foo ... FAILED")],
                        is_error: true,
                        cache_control: Some(json!({"type": "ephemeral"})),
                    }),
                    text("Also read the design doc."),
                    Block::Document(Document {
                        context: None,
                        citations: None,
                        source: Source::Base64 {
                            media_type: "application/pdf".into(),
                            data: "JVBERi0=".into(),
                        },
                        title: Some("Design".into()),
                        filename: None,
                        cache_control: None,
                    }),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    Block::RedactedThinking(tollgate_wire::canonical::RedactedThinking {
                        data: "EmwK".into(),
                        origin: None,
                    }),
                    tool_use("toolu_03", "apply_patch", json!({"input": "*** Begin Patch"})),
                ],
            },
            Message {
                role: Role::User,
                content: vec![Block::ToolResult(ToolResult {
                    tool_use_id: "toolu_03".into(),
                    content: vec![Block::Image(png("CCCC"))],
                    is_error: false,
                    cache_control: None,
                })],
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
                cache_control: Some(json!({"type": "ephemeral"})),
            },
            Tool {
                name: "Screenshot".into(),
                description: None,
                kind: ToolKind::Function { parameters: json!({"type": "object"}), strict: None },
                cache_control: None,
            },
            Tool {
                name: "apply_patch".into(),
                description: Some("Apply a patch".into()),
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
        tool_choice: Some(ToolChoice::Tool("Bash".into())),
        parallel_tool_calls: Some(false),
        max_tokens: Some(128_000),
        temperature: Some(1.0),
        top_p: None,
        top_k: Some(5),
        stop_sequences: vec![
            "\n\nHuman:".into(),
            "  ".into(),
            "a".into(),
            "b".into(),
            "c".into(),
            "d".into(),
        ],
        stream: true,
        thinking: Some(Thinking {
            mode: ThinkingMode::Enabled { budget_tokens: 10_000 },
            effort: None,
            display: None,
        }),
        user: Some("user_abc_account__session_1".into()),
        response_format: None,
        extra: Extra {
            dialect: Some(Dialect::Anthropic),
            fields: serde_json::from_str(r#"{"metadata":{"user_id":"u"},"context_management":{}}"#)
                .unwrap(),
        },
    }
}

#[test]
fn an_anthropic_session_encodes_for_a_reasoning_chat_model() {
    let quirks = Quirks {
        max_completion_tokens: true,
        reasoning_effort: true,
        max_output_tokens: Some(64_000),
        ..Quirks::default()
    };
    let (body, notes) = encode_json(&claude_session(), quirks);
    insta::assert_json_snapshot!("encode_claude_session", body);
    insta::assert_debug_snapshot!("encode_claude_session_notes", notes);

    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<_> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "tool", "tool", "user", "assistant", "tool", "user"]
    );
    // Tool messages in the order of the calls, text only, `is_error` as a prefix (18, 19, 20).
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": "toolu_01", "content": "Error: test foo ... FAILED"})
    );
    assert_eq!(messages[4]["content"], "Screen captured.");
    assert_eq!(
        messages[5]["content"][0],
        json!({"type": "text", "text": "Images returned by tool call toolu_02:"})
    );
    assert_eq!(messages[5]["content"][1]["image_url"]["url"], "data:image/png;base64,BBBB");
    assert_eq!(messages[5]["content"][3]["file"]["filename"], "Design");
    // Text blocks joined without a separator; no thinking anywhere.
    assert_eq!(messages[2]["content"], "Running the tests and taking a screenshot.");
    assert!(
        !body.to_string().contains("Run it first") && !body.to_string().contains("cache_control")
    );
    // Only tool calls: content null.
    assert_eq!(messages[6]["content"], Value::Null);
    assert_eq!(
        messages[6]["tool_calls"][0]["function"]["arguments"],
        r#"{"input":"*** Begin Patch"}"#
    );
    assert_eq!(body["max_completion_tokens"], 64_000);
    assert_eq!(body["reasoning_effort"], "high");
    assert_eq!(body["stop"], json!(["\n\nHuman:", "a", "b", "c"]));
    assert_eq!(body["tool_choice"], json!({"type": "function", "function": {"name": "Bash"}}));
    assert_eq!(body["tools"].as_array().unwrap().len(), 3, "the hosted Anthropic tool is dropped");
    assert!(body.get("metadata").is_none() && body.get("top_k").is_none());
}

#[test]
fn quirks_decide_tokens_sampling_and_reasoning() {
    let mut req = claude_session();
    req.temperature = Some(3.5);
    let (body, notes) = encode_json(&req, Quirks::default());
    assert_eq!(body["max_tokens"], 128_000);
    assert!(body.get("max_completion_tokens").is_none() && body.get("reasoning_effort").is_none());
    assert_eq!(body["temperature"], 2.0);
    assert!(notes.iter().any(|n| n.0.contains("no reasoning_effort")));

    let (body, notes) = encode_json(&req, Quirks { no_sampling: true, ..Quirks::default() });
    assert!(body.get("temperature").is_none());
    assert!(notes.iter().any(|n| n.0.contains("sampling")));

    for (budget, effort) in [(1024, "low"), (1025, "medium"), (8192, "medium"), (8193, "high")] {
        req.thinking = Some(Thinking {
            mode: ThinkingMode::Enabled { budget_tokens: budget },
            effort: None,
            display: None,
        });
        let (body, _) = encode_json(&req, Quirks { reasoning_effort: true, ..Quirks::default() });
        assert_eq!(body["reasoning_effort"], effort, "budget {budget}");
    }
    req.thinking = Some(Thinking {
        mode: ThinkingMode::Enabled { budget_tokens: 100_000 },
        effort: Some("low".into()),
        display: None,
    });
    let (body, _) = encode_json(&req, Quirks { reasoning_effort: true, ..Quirks::default() });
    assert_eq!(body["reasoning_effort"], "low", "an explicit effort wins");

    // Without tools, neither tool_choice nor parallel_tool_calls may be sent.
    req.tools.clear();
    let (body, notes) = encode_json(&req, Quirks::default());
    assert!(body.get("tool_choice").is_none() && body.get("parallel_tool_calls").is_none());
    assert!(notes.iter().any(|n| n.0.contains("tool_choice")));
    // A single system part is a plain string; not streaming means no stream_options.
    req.system = vec![TextBlock::new("Be brief.")];
    req.stream = false;
    let (body, _) = encode_json(&req, Quirks::default());
    assert_eq!(body["messages"][0], json!({"role": "system", "content": "Be brief."}));
    assert!(body.get("stream").is_none() && body.get("stream_options").is_none());
}

#[test]
fn bad_requests_name_their_path() {
    let err = |body: &str| decode_request(body.as_bytes()).unwrap_err();
    let e = err(
        r#"{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"robot","content":"x"}]}"#,
    );
    assert_eq!(e.path.as_deref(), Some("messages[1].role"));
    let e = err(r#"{"model":"m","n":3,"messages":[{"role":"user","content":"hi"}]}"#);
    assert_eq!(e.path.as_deref(), Some("n"));
    let e = err(
        r#"{"model":"m","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}"#,
    );
    assert_eq!(e.path.as_deref(), Some("messages[0].content[0]"));
    let e = err(r#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#);
    assert_eq!(e.path.as_deref(), Some("messages[0].tool_call_id"));
    let e = err(r#"{"model":"m","messages":[{"role":"user","content":42}]}"#);
    assert_eq!(e.path.as_deref(), Some("messages[0].content"));
    let e = err(r#"{"model":"m","messages":[],"tool_choice":"sometimes"}"#);
    assert_eq!(e.path.as_deref(), Some("tool_choice"));
    let e = err(r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}"#);
    assert_eq!(e.path.as_deref(), Some("messages[0].content[0].text"));
    assert!(err(r#"{"messages":[]}"#).message.contains("model"));
}

#[test]
fn tool_choice_forms() {
    let with = |choice: &str| {
        let body = format!(
            r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],"tools":[{{"type":"function","function":{{"name":"a"}}}},{{"type":"function","function":{{"name":"b"}}}}],"tool_choice":{choice}}}"#
        );
        decode_request(body.as_bytes()).unwrap()
    };
    assert_eq!(with(r#""required""#).tool_choice, Some(ToolChoice::Any));
    assert_eq!(with(r#""none""#).tool_choice, Some(ToolChoice::None));
    assert_eq!(
        with(r#"{"type":"function","function":{"name":"b"}}"#).tool_choice,
        Some(ToolChoice::Tool("b".into()))
    );
    let allowed = with(
        r#"{"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"b"}}]}}"#,
    );
    assert_eq!(allowed.tool_choice, Some(ToolChoice::Any));
    assert_eq!(allowed.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["b"]);
}

#[test]
fn legacy_functions_become_tools_and_results() {
    let body = r#"{"model":"m","functions":[{"name":"get_weather","parameters":{"type":"object"}}],"function_call":{"name":"get_weather"},
      "messages":[{"role":"user","content":"Weather?"},
        {"role":"assistant","content":null,"function_call":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},
        {"role":"function","name":"get_weather","content":"-3C"}]}"#;
    let req = decode_request(body.as_bytes()).unwrap();
    assert_eq!(req.tool_choice, Some(ToolChoice::Tool("get_weather".into())));
    assert!(matches!(&req.tools[0].kind, ToolKind::Function { .. }));
    let Block::ToolUse(call) = &req.messages[1].content[0] else { panic!() };
    let Block::ToolResult(result) = &req.messages[2].content[0] else { panic!() };
    assert_eq!(call.id, result.tool_use_id);
    assert_eq!(call.input, json!({"city": "Oslo"}));
}

#[test]
fn malformed_arguments_travel_unchanged() {
    let body = r#"{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1, 2]"}}]}]}"#;
    let req = decode_request(body.as_bytes()).unwrap();
    let Block::ToolUse(call) = &req.messages[0].content[0] else { panic!() };
    assert_eq!(call.input, json!({UNPARSED_ARGUMENTS_FIELD: "[1, 2]"}));
    let (out, _) = encode_json(&req, Quirks::default());
    assert_eq!(out["messages"][0]["tool_calls"][0]["function"]["arguments"], "[1, 2]");
}

macro_rules! response_fixture {
    ($name:literal) => {
        ($name, include_str!(concat!("../../tollgate-testkit/fixtures/openai/", $name)))
    };
}

const RESPONSES: &[(&str, &str)] = &[
    response_fixture!("chat_completion.json"),
    response_fixture!("chat_completion_tool_calls.json"),
    response_fixture!("chat_completion_deepseek_reasoning_tool.json"),
];

#[test]
fn recorded_responses_decode_to_golden_responses() {
    for (name, text) in RESPONSES {
        let resp = decode_response(text.as_bytes()).unwrap();
        insta::assert_debug_snapshot!(format!("decode_{name}"), resp);
    }
    let ds = decode_response(RESPONSES[2].1.as_bytes()).unwrap();
    assert!(matches!(&ds.content[0], Block::Thinking(t) if t.signature.is_none()));
    assert_eq!(ds.content.len(), 2, "content \"\" is no text block (3)");
    assert_eq!(ds.stop_reason, Some(StopReason::ToolUse));
    let tools = decode_response(RESPONSES[1].1.as_bytes()).unwrap();
    assert!(
        matches!(&tools.content[0], Block::ToolUse(u) if u.input == json!({"location": "Boston, MA"}))
    );
}

#[test]
fn refusals_filters_and_cached_usage() {
    let body = br#"{"id":"chatcmpl-r","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}],"usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920}}}"#;
    let resp = decode_response(body).unwrap();
    assert_eq!(resp.stop_reason, Some(StopReason::Refusal));
    assert!(matches!(&resp.content[0], Block::Text(t) if t.text == "I can't help with that."));
    assert_eq!(
        resp.usage,
        Usage {
            web_search_requests: 0,
            input_tokens: 86,
            output_tokens: 300,
            cache_read_tokens: 1920,
            cache_write_tokens: 0
        }
    );

    let filtered = br#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"Partial"},"finish_reason":"content_filter"}]}"#;
    assert_eq!(decode_response(filtered).unwrap().stop_reason, Some(StopReason::Refusal));
    assert!(decode_response(br#"{"id":"x","choices":[]}"#).is_err());
    assert!(decode_response(b"not json").is_err());
}

fn anthropic_response() -> Response {
    Response {
        id: "msg_01XFDUDYJgAACzvnptvVoYEL".into(),
        model: "claude-sonnet-4-5".into(),
        content: vec![
            Block::Thinking(ThinkingBlock {
                thinking: "Check the weather.".into(),
                signature: Some("EqQB".into()),
                origin: None,
            }),
            Block::Text(TextBlock::new("Let me check ")),
            Block::Text(TextBlock {
                text: "the weather.".into(),
                cache_control: None,
                citations: Some(json!([])),
            }),
            Block::ToolUse(ToolUse {
                id: "toolu_01A".into(),
                name: "get_weather".into(),
                input: json!({"city": "Paris"}),
                cache_control: None,
            }),
        ],
        stop_reason: Some(StopReason::ToolUse),
        stop_sequence: None,
        usage: Usage {
            web_search_requests: 0,
            input_tokens: 20,
            output_tokens: 89,
            cache_read_tokens: 100,
            cache_write_tokens: 30,
        },
    }
}

#[test]
fn canonical_responses_encode_for_chat_clients() {
    let mut notes = Vec::new();
    let options =
        ResponseOptions { created: 1_754_318_400, model_override: Some("claude-sonnet".into()) };
    let body: Value =
        serde_json::from_slice(&encode_response_with(&anthropic_response(), &options, &mut notes))
            .unwrap();
    insta::assert_json_snapshot!("encode_response_thinking_text_tool", body);
    assert_eq!(body["id"], "chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(body["usage"]["prompt_tokens"], 150);
    assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 100);
    assert!(
        body["usage"].get("completion_tokens_details").is_none(),
        "no invented reasoning_tokens (14)"
    );
    assert!(!body.to_string().contains("Check the weather"));
    assert_eq!(notes.len(), 1);

    // Back through the Chat decoder: the same answer, minus the thinking.
    let again = decode_response(&encode_response(&anthropic_response(), &mut Vec::new())).unwrap();
    assert_eq!(again.content.len(), 2);
    assert!(matches!(&again.content[0], Block::Text(t) if t.text == "Let me check the weather."));
    assert_eq!(again.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(again.usage.total_input(), 150);
    assert_eq!(again.usage.cache_read_tokens, 100);

    // Stop reasons (31), and a tool_use stop without a call is `stop` (32).
    for (stop, finish) in [
        (StopReason::EndTurn, "stop"),
        (StopReason::StopSequence, "stop"),
        (StopReason::MaxTokens, "length"),
        (StopReason::Refusal, "content_filter"),
        (StopReason::PauseTurn, "stop"),
        (StopReason::ContextWindowExceeded, "length"),
        (StopReason::ToolUse, "stop"),
    ] {
        let resp = Response {
            stop_reason: Some(stop),
            content: vec![Block::Text(TextBlock::new("x"))],
            ..Response::default()
        };
        let body: Value = serde_json::from_slice(&encode_response(&resp, &mut Vec::new())).unwrap();
        assert_eq!(body["choices"][0]["finish_reason"], finish);
    }
    let empty: Value =
        serde_json::from_slice(&encode_response(&Response::default(), &mut Vec::new())).unwrap();
    assert_eq!(empty["choices"][0]["message"]["content"], Value::Null);
    let _ = ResponseFormat::Json;
}
