//! Gemini dialect: golden request encoding, decoding of recorded responses and streams, the
//! thought-signature round trip, and stream decoding under arbitrary byte splits.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test on unexpected shapes")]

use proptest::prelude::*;
use serde_json::{Value, json};
use tollgate_wire::canonical::{
    Block, Document, Image, Message, Note, Origin, Quirks, Request, ResponseFormat, Role, Source,
    StopReason, StreamDecoder, StreamEncoder, StreamEvent, Target, TextBlock, Thinking,
    ThinkingBlock, ThinkingMode, Tool, ToolChoice, ToolKind, ToolResult, ToolUse,
};
use tollgate_wire::gemini::{codec, convert};
use tollgate_wire::sse::SseDecoder;
use tollgate_wire::{Dialect, Usage};

const TEXT: &str =
    include_str!("../../tollgate-testkit/fixtures/gemini/generate_content_text.json");
const CALL: &str =
    include_str!("../../tollgate-testkit/fixtures/gemini/generate_content_function_call.json");
const BLOCKED: &str =
    include_str!("../../tollgate-testkit/fixtures/gemini/generate_content_prompt_blocked.json");
const STREAM_TEXT: &str = include_str!("../../tollgate-testkit/fixtures/gemini/stream_text.sse");
const STREAM_CALL: &str =
    include_str!("../../tollgate-testkit/fixtures/gemini/stream_function_call.sse");
const STREAM_LEGACY: &str =
    include_str!("../../tollgate-testkit/fixtures/gemini/stream_legacy.sse");

fn target(model: &str) -> Target {
    Target {
        model: model.to_owned(),
        provider: "gemini".to_owned(),
        quirks: Quirks { max_output_tokens: Some(65536), ..Quirks::default() },
    }
}

fn origin(model: &str) -> Option<Origin> {
    Some(Origin { provider: "gemini".to_owned(), family: target(model).family() })
}

fn text(s: &str) -> Block {
    Block::Text(TextBlock::new(s))
}

fn signature_only(sig: &str, model: &str) -> Block {
    Block::Thinking(ThinkingBlock {
        thinking: String::new(),
        signature: Some(sig.to_owned()),
        origin: origin(model),
    })
}

fn png() -> Source {
    Source::Base64 { media_type: "image/png".to_owned(), data: "iVBORw0KGgo=".to_owned() }
}

fn encode(req: &Request, target: &Target) -> (Value, Vec<Note>) {
    let mut notes = Vec::new();
    let body = convert::encode_request(req, target, &mut notes);
    (serde_json::from_slice(&body).unwrap(), notes)
}

/// A three-step tool loop: an image in the prompt, two parallel calls (the first signed), one
/// result with an image, one an error, a call in the current step from another model (unsigned),
/// and a schema full of keywords Gemini rejects.
fn tool_loop(model: &str) -> Request {
    let messy_schema = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": false,
        "$defs": {"unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "properties": {
            "location": {"type": "string", "format": "uri-reference", "default": "Paris",
                         "examples": ["Tokyo"], "minLength": 1},
            "unit": {"$ref": "#/$defs/unit"},
            "days": {"type": ["integer", "null"], "exclusiveMinimum": 0, "maximum": 14},
            "mode": {"const": "fast"},
            "when": {"type": "string", "format": "date-time"},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}
        },
        "required": ["location", "ghost"]
    });
    Request {
        model: "claude-sonnet-4-5".to_owned(),
        system: vec![TextBlock::new("You are terse."), TextBlock::new("Use tools.")],
        messages: vec![
            Message {
                role: Role::User,
                content: vec![
                    text("What is the weather where this photo was taken, and in Tokyo?"),
                    Block::Image(Image {
                        source: png(),
                        detail: None,
                        cache_control: Some(json!({"type": "ephemeral"})),
                    }),
                    Block::Document(Document {
                        context: None,
                        citations: None,
                        source: Source::Url("https://example.com/report.pdf".to_owned()),
                        title: None,
                        filename: None,
                        cache_control: None,
                    }),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    Block::Thinking(ThinkingBlock {
                        thinking: "Two lookups.".to_owned(),
                        signature: Some("c3VtbWFyeQ==".to_owned()),
                        origin: origin(model),
                    }),
                    signature_only("U0lHLTE=", model),
                    Block::ToolUse(ToolUse {
                        id: "toolu_a".to_owned(),
                        name: "get_weather".to_owned(),
                        input: json!({"location": "Paris"}),
                        cache_control: None,
                    }),
                    Block::ToolUse(ToolUse {
                        id: "toolu_b".to_owned(),
                        name: "get_weather".to_owned(),
                        input: json!({"location": "Tokyo"}),
                        cache_control: None,
                    }),
                ],
            },
            Message {
                role: Role::User,
                content: vec![
                    Block::ToolResult(ToolResult {
                        tool_use_id: "toolu_a".to_owned(),
                        content: vec![
                            text("18C, sunny"),
                            Block::Image(Image {
                                source: png(),
                                detail: None,
                                cache_control: None,
                            }),
                        ],
                        is_error: false,
                        cache_control: None,
                    }),
                    Block::ToolResult(ToolResult {
                        tool_use_id: "toolu_b".to_owned(),
                        content: vec![text("upstream timeout")],
                        is_error: true,
                        cache_control: None,
                    }),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    // Thinking from another provider: dropped, so the call goes out unsigned.
                    Block::Thinking(ThinkingBlock {
                        thinking: "Retry Tokyo.".to_owned(),
                        signature: Some("EqQBCkYIBxgCKkD".to_owned()),
                        origin: Some(Origin {
                            provider: "anthropic".to_owned(),
                            family: "claude-sonnet-4-5".to_owned(),
                        }),
                    }),
                    text("Retrying Tokyo."),
                    Block::ToolUse(ToolUse {
                        id: "toolu_c".to_owned(),
                        name: "get_weather".to_owned(),
                        input: json!({"location": "Tokyo", "days": 1}),
                        cache_control: None,
                    }),
                ],
            },
            Message {
                role: Role::User,
                content: vec![Block::ToolResult(ToolResult {
                    tool_use_id: "toolu_c".to_owned(),
                    content: vec![text("21C, rain")],
                    is_error: false,
                    cache_control: None,
                })],
            },
        ],
        tools: vec![
            Tool {
                name: "get_weather".to_owned(),
                description: Some("Current weather".to_owned()),
                kind: ToolKind::Function { parameters: messy_schema, strict: Some(true) },
                cache_control: None,
            },
            Tool {
                name: "apply_patch".to_owned(),
                description: None,
                kind: ToolKind::Custom { format: None },
                cache_control: None,
            },
            Tool {
                name: "now".to_owned(),
                description: None,
                kind: ToolKind::Function {
                    parameters: json!({"type": "object", "properties": {}}),
                    strict: None,
                },
                cache_control: None,
            },
            Tool {
                name: "web_search".to_owned(),
                description: None,
                kind: ToolKind::Hosted {
                    dialect: Dialect::Anthropic,
                    value: json!({"type": "web_search_20250305", "name": "web_search"}),
                },
                cache_control: None,
            },
        ],
        tool_choice: Some(ToolChoice::Auto),
        max_tokens: Some(128_000),
        temperature: Some(0.5),
        top_k: Some(40),
        stop_sequences: vec!["END".to_owned()],
        stream: true,
        thinking: Some(Thinking {
            mode: ThinkingMode::Enabled { budget_tokens: 8000 },
            effort: None,
            display: None,
        }),
        user: Some("user-1".to_owned()),
        ..Request::default()
    }
}

#[test]
fn tool_loop_encodes_for_gemini_3() {
    let (body, notes) = encode(&tool_loop("gemini-3-pro-preview"), &target("gemini-3-pro-preview"));
    insta::assert_json_snapshot!("tool_loop_gemini_3", body);
    let notes: Vec<&str> = notes.iter().map(|n| n.0.as_str()).collect();
    insta::assert_debug_snapshot!("tool_loop_gemini_3_notes", notes);

    let contents = body["contents"].as_array().unwrap();
    let roles: Vec<&str> = contents.iter().map(|c| c["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "model", "user", "model", "user"]);
    // The signature goes back on the part it came with.
    assert_eq!(contents[1]["parts"][1]["functionCall"]["args"]["location"], "Paris");
    assert_eq!(contents[1]["parts"][1]["thoughtSignature"], "U0lHLTE=");
    assert!(contents[1]["parts"][2].get("thoughtSignature").is_none());
    // The foreign call of the current turn carries the documented placeholder.
    assert_eq!(contents[3]["parts"][1]["thoughtSignature"], "skip_thought_signature_validator");
    assert_eq!(
        contents[2]["parts"][0]["functionResponse"],
        json!({"name": "get_weather", "response": {"result": "18C, sunny"}})
    );
    assert_eq!(
        contents[2]["parts"][1]["functionResponse"]["response"],
        json!({"error": "upstream timeout"})
    );
    assert_eq!(contents[2]["parts"][2]["inlineData"]["mimeType"], "image/png");
}

#[test]
fn gemini_2_gets_a_budget_and_no_placeholder_signatures() {
    let mut req = tool_loop("gemini-2.5-flash");
    req.thinking = Some(Thinking { mode: ThinkingMode::Disabled, effort: None, display: None });
    let (body, notes) = encode(&req, &target("gemini-2.5-flash"));
    assert_eq!(body["generationConfig"]["thinkingConfig"], json!({"thinkingBudget": 0}));
    assert!(!body.to_string().contains("skip_thought_signature_validator"), "{body}");
    assert!(notes.iter().all(|n| !n.0.contains("placeholder")), "{notes:?}");

    req.thinking =
        Some(Thinking { mode: ThinkingMode::Adaptive, effort: Some("high".into()), display: None });
    let (body, _) = encode(&req, &target("gemini-3-flash-preview"));
    assert_eq!(
        body["generationConfig"]["thinkingConfig"],
        json!({"thinkingLevel": "high", "includeThoughts": true})
    );
}

#[test]
fn tool_choice_and_response_format_map_to_config() {
    let mut req = tool_loop("gemini-2.5-pro");
    req.tool_choice = Some(ToolChoice::Tool("get_weather".into()));
    req.response_format = Some(ResponseFormat::JsonSchema {
        name: Some("out".into()),
        schema: json!({"type": "object", "additionalProperties": false,
                       "properties": {"ok": {"type": "boolean"}}}),
        strict: Some(true),
    });
    let (body, _) = encode(&req, &target("gemini-2.5-pro"));
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}})
    );
    assert_eq!(body["generationConfig"]["responseMimeType"], "application/json");
    assert_eq!(
        body["generationConfig"]["responseSchema"],
        json!({"type": "object", "properties": {"ok": {"type": "boolean"}}})
    );
    assert_eq!(body["generationConfig"]["maxOutputTokens"], 65536);

    req.stop_sequences = (0..7).map(|i| format!("stop{i}")).collect();
    let (body, notes) = encode(&req, &target("gemini-2.5-pro"));
    assert_eq!(body["generationConfig"]["stopSequences"].as_array().unwrap().len(), 5);
    assert!(notes.iter().any(|n| n.0.contains("7 stop sequences")), "{notes:?}");
}

fn decoded(body: &str) -> tollgate_wire::canonical::Response {
    convert::decode_response(body.as_bytes()).unwrap()
}

#[test]
fn recorded_responses_decode() {
    let text = decoded(TEXT);
    insta::assert_debug_snapshot!("response_text", text);
    assert!(matches!(&text.content[..], [Block::Thinking(t), Block::Text(_)]
        if t.thinking.is_empty() && t.signature.as_deref().is_some_and(|s| s.starts_with("EtoFCtcF"))));
    assert_eq!(text.usage, Usage { input_tokens: 9, output_tokens: 28 + 244, ..Usage::default() });

    let call = decoded(CALL);
    insta::assert_debug_snapshot!("response_function_call", call);
    assert_eq!(call.stop_reason, Some(StopReason::ToolUse));
    let Block::ToolUse(use_) = &call.content[1] else { panic!("{call:?}") };
    assert_eq!(use_.id, tollgate_wire::canonical::ids::fallback("JniLacKqGqH0xs0P0O776As", 0));
    assert_eq!(use_.input, json!({"location": "San Francisco"}));

    let blocked = decoded(BLOCKED);
    assert_eq!(blocked.stop_reason, Some(StopReason::Refusal));
    assert!(blocked.content.is_empty());
    assert_eq!(blocked.usage.input_tokens, 9);
}

#[test]
fn finish_reasons_usage_and_thought_parts_decode() {
    // Field names and enum values from the API reference (GenerateContentResponse, FinishReason,
    // UsageMetadata); 2.5-style thought summaries with `includeThoughts`.
    let body = json!({
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "Weighing options.", "thought": true},
                {"text": "The answer is", "thoughtSignature": "c2ln"},
                {"executableCode": {"language": "PYTHON", "code": "print(1)"}}
            ]},
            "finishReason": "MAX_TOKENS", "index": 0
        }],
        "usageMetadata": {"promptTokenCount": 1000, "cachedContentTokenCount": 800,
                          "candidatesTokenCount": 10, "thoughtsTokenCount": 5,
                          "totalTokenCount": 1015},
        "modelVersion": "gemini-2.5-flash", "responseId": "r-1"
    });
    let resp = decoded(&body.to_string());
    assert_eq!(resp.stop_reason, Some(StopReason::MaxTokens));
    assert_eq!(
        resp.usage,
        Usage {
            web_search_requests: 0,
            input_tokens: 200,
            output_tokens: 15,
            cache_read_tokens: 800,
            cache_write_tokens: 0
        }
    );
    assert!(
        matches!(&resp.content[0], Block::Thinking(t) if t.thinking == "Weighing options." && t.signature.is_none())
    );
    assert!(
        matches!(&resp.content[1], Block::Thinking(t) if t.thinking.is_empty() && t.signature.as_deref() == Some("c2ln"))
    );
    assert!(matches!(&resp.content[2], Block::Text(t) if t.text == "The answer is"));
    assert!(matches!(&resp.content[3], Block::Opaque(o) if o.dialect == Dialect::Gemini));

    for (finish, expected) in [
        ("SAFETY", StopReason::Refusal),
        ("RECITATION", StopReason::Refusal),
        ("PROHIBITED_CONTENT", StopReason::Refusal),
        ("MALFORMED_FUNCTION_CALL", StopReason::Other("MALFORMED_FUNCTION_CALL".into())),
    ] {
        let body = json!({"candidates": [{"finishReason": finish, "index": 0}]});
        assert_eq!(decoded(&body.to_string()).stop_reason, Some(expected), "{finish}");
    }
}

#[test]
fn a_decoded_answer_replays_with_its_signatures_in_place() {
    let model = "gemini-3-pro-preview";
    let mut answer = decoded(CALL);
    // The server stamps the issuer on what it decodes.
    for block in &mut answer.content {
        if let Block::Thinking(t) = block {
            t.origin = origin(model);
        }
    }
    let Block::ToolUse(call) = &answer.content[1] else { panic!() };
    let req = Request {
        messages: vec![
            Message { role: Role::User, content: vec![text("Weather in SF?")] },
            Message { role: Role::Assistant, content: answer.content.clone() },
            Message {
                role: Role::User,
                content: vec![Block::ToolResult(ToolResult {
                    tool_use_id: call.id.clone(),
                    content: vec![text("foggy")],
                    is_error: false,
                    cache_control: None,
                })],
            },
        ],
        ..Request::default()
    };
    let (body, notes) = encode(&req, &target(model));
    let recorded: Value = serde_json::from_str(CALL).unwrap();
    assert_eq!(body["contents"][1]["parts"], recorded["candidates"][0]["content"]["parts"]);
    assert!(notes.is_empty(), "{notes:?}");

    // The same history replayed to another Gemini model loses the signature and gets the
    // placeholder instead.
    let (body, notes) = encode(&req, &target("gemini-3-flash-preview"));
    assert_eq!(
        body["contents"][1]["parts"][0]["thoughtSignature"],
        "skip_thought_signature_validator"
    );
    assert_eq!(notes.len(), 2, "{notes:?}");
}

#[test]
fn a_gemini_request_decodes_and_encodes_back() {
    // The function-calling shape of the docs (ai.google.dev/gemini-api/docs/function-calling),
    // with the proto (snake_case) names the docs' curl examples use.
    let body = json!({
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Lights to 50%"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "set_light", "args": {"brightness": 50}},
                                         "thoughtSignature": "c2ln"}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "set_light", "response": {"result": "ok"}}}]}
        ],
        "tools": [{"function_declarations": [{"name": "set_light", "description": "Dim",
            "parameters": {"type": "object", "properties": {"brightness": {"type": "integer"}}}}]},
            {"googleSearch": {}}],
        "tool_config": {"function_calling_config": {"mode": "ANY", "allowed_function_names": ["set_light"]}},
        "generation_config": {"maxOutputTokens": 100, "temperature": 0.2, "candidateCount": 1,
                              "thinkingConfig": {"thinkingBudget": 512, "includeThoughts": true}},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    });
    let req = convert::decode_request(body.to_string().as_bytes()).unwrap();
    assert_eq!(req.system, vec![TextBlock::new("Be brief.")]);
    assert_eq!(req.tool_choice, Some(ToolChoice::Tool("set_light".into())));
    assert_eq!(
        req.thinking.as_ref().map(|t| &t.mode),
        Some(&ThinkingMode::Enabled { budget_tokens: 512 })
    );
    assert_eq!(req.tools.len(), 2);
    let Block::ToolUse(call) = &req.messages[1].content[1] else { panic!("{req:?}") };
    let Block::ToolResult(result) = &req.messages[2].content[0] else { panic!("{req:?}") };
    assert_eq!(result.tool_use_id, call.id);
    assert_eq!(req.extra.dialect, Some(Dialect::Gemini));

    let (again, _) = encode(&req, &target("gemini-2.5-flash"));
    assert_eq!(
        again["contents"][2]["parts"][0]["functionResponse"],
        body["contents"][2]["parts"][0]["functionResponse"]
    );
    assert_eq!(again["safetySettings"], body["safetySettings"]);
    assert_eq!(
        again["tools"],
        body["tools"]
            .as_array()
            .map(|t| json!([
                {"functionDeclarations": t[0]["function_declarations"]}, t[1]
            ]))
            .unwrap()
    );
    assert_eq!(again["generationConfig"]["candidateCount"], 1);
    // Signatures decoded from a client request have no known issuer, so they are not replayed.
    assert!(again["contents"][1]["parts"][0].get("thoughtSignature").is_none());
}

#[test]
fn a_response_encodes_for_a_gemini_client_and_decodes_back() {
    let resp = decoded(CALL);
    let mut notes = Vec::new();
    let body = convert::encode_response(&resp, &mut notes);
    let back = convert::decode_response(&body).unwrap();
    assert_eq!(back.content, resp.content);
    assert_eq!(back.stop_reason, resp.stop_reason);
    assert_eq!(back.usage.input_tokens, resp.usage.input_tokens);
}

fn frames(stream: &[u8], splits: &[usize]) -> Vec<tollgate_wire::sse::SseFrame> {
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    let mut at = 0;
    for &split in splits {
        let split = split.min(stream.len()).max(at);
        decoder.feed(&stream[at..split], &mut out);
        at = split;
    }
    decoder.feed(&stream[at..], &mut out);
    decoder.finish();
    out
}

fn events_split(stream: &str, splits: &[usize]) -> Vec<StreamEvent> {
    let mut decoder = codec::Decoder::new();
    let mut out = Vec::new();
    for frame in frames(stream.as_bytes(), splits) {
        decoder.decode(&frame, &mut out);
    }
    decoder.finish(&mut out);
    out
}

fn events(stream: &str) -> Vec<StreamEvent> {
    events_split(stream, &[])
}

#[test]
fn recorded_streams_decode() {
    let text = events(STREAM_TEXT);
    insta::assert_debug_snapshot!("stream_text", text);
    assert!(matches!(text.last(), Some(StreamEvent::MessageStop)));

    let call = events(STREAM_CALL);
    insta::assert_debug_snapshot!("stream_function_call", call);
    assert!(call.iter().any(|e| matches!(
        e,
        StreamEvent::MessageDelta { stop_reason: Some(StopReason::ToolUse), .. }
    )));

    // finishReason on every chunk (old models): one turn, closed at the end.
    let legacy = events(STREAM_LEGACY);
    let stops = legacy.iter().filter(|e| matches!(e, StreamEvent::MessageStop)).count();
    assert_eq!(stops, 1);
    let deltas = legacy.iter().filter(|e| matches!(e, StreamEvent::BlockDelta { .. })).count();
    assert_eq!(deltas, 4);
    assert_eq!(legacy.iter().filter(|e| matches!(e, StreamEvent::BlockStart { .. })).count(), 1);
}

fn sse(chunks: &[Value]) -> String {
    chunks.iter().map(|c| format!("data: {c}\r\n\r\n")).collect()
}

#[test]
fn thought_parts_signatures_and_cached_usage_stream() {
    let stream = sse(&[
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Plan: ", "thought": true}]}, "index": 0}],
               "usageMetadata": {"promptTokenCount": 100, "cachedContentTokenCount": 60}, "responseId": "r9",
               "modelVersion": "gemini-2.5-pro"}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "look it up.", "thought": true}]}, "index": 0}]}),
        json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "Checking.", "thoughtSignature": "U0lH"},
            {"functionCall": {"name": "lookup", "args": {"q": "x"}}},
            {"functionCall": {"name": "lookup", "args": {"q": "y"}, "id": "own-id"}}]}, "index": 0}]}),
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}],
               "usageMetadata": {"promptTokenCount": 100, "cachedContentTokenCount": 60,
                                 "candidatesTokenCount": 20, "thoughtsTokenCount": 30}}),
    ]);
    let out = events(&stream);
    insta::assert_debug_snapshot!("stream_thinking_and_calls", out);
    assert!(matches!(&out[0], StreamEvent::MessageStart { usage, .. }
        if usage.input_tokens == 40 && usage.cache_read_tokens == 60 && usage.output_tokens == 0));
    assert!(
        matches!(&out[out.len() - 2], StreamEvent::MessageDelta { stop_reason: Some(StopReason::ToolUse), usage, .. }
        if usage.output_tokens == 50)
    );
}

#[test]
fn failures_in_the_stream_are_errors() {
    // MAX_TOKENS and SAFETY end the turn normally.
    let cut = sse(&[
        json!({"candidates": [{"content": {"parts": [{"text": "partial"}]}, "finishReason": "MAX_TOKENS"}]}),
    ]);
    assert!(events(&cut).iter().any(|e| matches!(
        e,
        StreamEvent::MessageDelta { stop_reason: Some(StopReason::MaxTokens), .. }
    )));
    let unsafe_ = sse(&[json!({"candidates": [{"finishReason": "SAFETY", "index": 0}]})]);
    assert!(events(&unsafe_).iter().any(|e| matches!(
        e,
        StreamEvent::MessageDelta { stop_reason: Some(StopReason::Refusal), .. }
    )));
    let blocked = sse(&[
        json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}),
    ]);
    assert!(events(&blocked).iter().any(|e| matches!(
        e,
        StreamEvent::MessageDelta { stop_reason: Some(StopReason::Refusal), .. }
    )));

    // Cut off: no finishReason before the end is an error, never a faked end_turn.
    let broken = events(&STREAM_TEXT[..STREAM_TEXT.rfind("data:").unwrap()]);
    assert!(matches!(broken.last(), Some(StreamEvent::Error { kind, .. }) if kind == "api_error"));
    assert!(!broken.iter().any(|e| matches!(e, StreamEvent::MessageStop)));

    let error = sse(&[
        json!({"candidates": [{"content": {"parts": [{"text": "a"}]}}]}),
        json!({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}),
        json!({"candidates": [{"content": {"parts": [{"text": "ignored"}]}, "finishReason": "STOP"}]}),
    ]);
    let out = events(&error);
    assert!(
        matches!(out.last(), Some(StreamEvent::Error { kind, message }) if kind == "overloaded_error" && message == "The model is overloaded.")
    );

    let garbage = events("data: {not json\n\n");
    assert!(matches!(garbage.as_slice(), [StreamEvent::Error { .. }]));
    assert!(matches!(events("").as_slice(), [StreamEvent::Error { .. }]));
}

#[test]
fn the_encoder_writes_a_stream_the_decoder_reads_back() {
    for stream in [STREAM_TEXT, STREAM_CALL] {
        let original = events(stream);
        let mut encoder = codec::Encoder::new();
        let mut bytes = Vec::new();
        for event in &original {
            encoder.encode(event, &mut bytes);
        }
        encoder.finish(&mut bytes);
        let again = events(std::str::from_utf8(&bytes).unwrap());
        // Ids and content survive; the re-encoded stream carries its signature on the part it
        // belongs to, so the block layout is the same.
        assert_eq!(again, original);
    }
}

proptest! {
    #[test]
    fn any_byte_split_gives_the_same_events(
        which in 0usize..3,
        mut splits in proptest::collection::vec(0usize..7000, 0..12),
    ) {
        let stream = [STREAM_TEXT, STREAM_CALL, STREAM_LEGACY][which];
        splits.sort_unstable();
        prop_assert_eq!(events_split(stream, &splits), events(stream));
    }
}
