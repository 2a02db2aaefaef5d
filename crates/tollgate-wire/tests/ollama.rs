//! Ollama dialect: golden request encoding, decoding of the documented responses and NDJSON
//! streams, and stream decoding under arbitrary splits into lines.

use proptest::prelude::*;
use serde_json::{Value, json};
use tollgate_wire::canonical::{
    Block, Image, Message, Origin, Quirks, Request, ResponseFormat, Role, Source, StopReason,
    StreamDecoder, StreamEncoder, StreamEvent, Target, TextBlock, Thinking, ThinkingBlock,
    ThinkingMode, Tool, ToolChoice, ToolKind, ToolResult, ToolUse,
};
use tollgate_wire::ollama::{codec, convert};
use tollgate_wire::sse::SseFrame;
use tollgate_wire::{Dialect, Usage};

const CHAT: &str = include_str!("../../tollgate-testkit/fixtures/ollama/chat.json");
const CHAT_TOOLS: &str =
    include_str!("../../tollgate-testkit/fixtures/ollama/chat_tool_calls.json");
const STREAM: &str = include_str!("../../tollgate-testkit/fixtures/ollama/chat_stream.ndjson");
const STREAM_TOOLS: &str =
    include_str!("../../tollgate-testkit/fixtures/ollama/chat_stream_tool_calls.ndjson");

fn target() -> Target {
    Target {
        model: "qwen3:8b".to_owned(),
        provider: "ollama".to_owned(),
        quirks: Quirks { max_output_tokens: Some(8192), ..Quirks::default() },
    }
}

fn text(s: &str) -> Block {
    Block::Text(TextBlock::new(s))
}

fn png() -> Source {
    Source::Base64 { media_type: "image/png".to_owned(), data: "iVBORw0KGgo=".to_owned() }
}

fn tool_loop() -> Request {
    Request {
        model: "claude-sonnet-4-5".to_owned(),
        system: vec![TextBlock::new("You are terse.")],
        messages: vec![
            Message {
                role: Role::User,
                content: vec![
                    text("Weather here and in Tokyo?"),
                    Block::Image(Image { source: png(), detail: None, cache_control: None }),
                    Block::Image(Image {
                        source: Source::Url("https://example.com/a.png".to_owned()),
                        detail: None,
                        cache_control: None,
                    }),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    Block::Thinking(ThinkingBlock {
                        thinking: "Two lookups.".to_owned(),
                        signature: None,
                        origin: Some(Origin {
                            provider: "ollama".to_owned(),
                            family: "qwen3:8b".to_owned(),
                        }),
                    }),
                    Block::Thinking(ThinkingBlock {
                        thinking: "foreign".to_owned(),
                        signature: Some("EqQB".to_owned()),
                        origin: Some(Origin {
                            provider: "anthropic".to_owned(),
                            family: "claude-sonnet-4-5".to_owned(),
                        }),
                    }),
                    text("Looking up."),
                    Block::ToolUse(ToolUse {
                        id: "toolu_a".to_owned(),
                        name: "get_weather".to_owned(),
                        input: json!({"city": "Paris"}),
                        cache_control: None,
                    }),
                    Block::ToolUse(ToolUse {
                        id: "toolu_b".to_owned(),
                        name: "get_time".to_owned(),
                        input: json!({"city": "Tokyo"}),
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
                            text("18C"),
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
                        content: vec![text("clock unavailable")],
                        is_error: true,
                        cache_control: None,
                    }),
                    text("Also, be quick."),
                ],
            },
        ],
        tools: vec![
            Tool {
                name: "get_weather".to_owned(),
                description: Some("Weather in a city".to_owned()),
                kind: ToolKind::Function {
                    parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
                    strict: None,
                },
                cache_control: None,
            },
            Tool {
                name: "apply_patch".to_owned(),
                description: None,
                kind: ToolKind::Custom { format: None },
                cache_control: None,
            },
        ],
        tool_choice: Some(ToolChoice::Auto),
        max_tokens: Some(32_000),
        temperature: Some(0.2),
        top_p: Some(0.9),
        top_k: Some(20),
        stop_sequences: vec!["</end>".to_owned()],
        stream: true,
        thinking: Some(Thinking {
            mode: ThinkingMode::Adaptive,
            effort: Some("high".to_owned()),
            display: None,
        }),
        response_format: Some(ResponseFormat::Json),
        ..Request::default()
    }
}

#[test]
fn tool_loop_encodes_for_ollama() {
    let mut notes = Vec::new();
    let body: Value =
        serde_json::from_slice(&convert::encode_request(&tool_loop(), &target(), &mut notes))
            .unwrap();
    insta::assert_json_snapshot!("tool_loop", body);
    let notes: Vec<&str> = notes.iter().map(|n| n.0.as_str()).collect();
    insta::assert_debug_snapshot!("tool_loop_notes", notes);

    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "tool", "user"]);
    assert_eq!(messages[2]["thinking"], "Two lookups.");
    assert_eq!(
        messages[2]["tool_calls"][0],
        json!({"function": {"name": "get_weather", "arguments": {"city": "Paris"}}})
    );
    assert_eq!(messages[3], json!({"role": "tool", "content": "18C", "tool_name": "get_weather"}));
    assert_eq!(messages[4]["content"], "Error: clock unavailable");
    assert_eq!(
        messages[5],
        json!({"role": "user", "content": "Also, be quick.", "images": ["iVBORw0KGgo="]})
    );
    assert_eq!(body["think"], "high");
    assert_eq!(body["options"]["num_predict"], 8192);
    assert_eq!(body["stream"], true);
}

#[test]
fn documented_responses_decode() {
    let chat = convert::decode_response(CHAT.as_bytes()).unwrap();
    assert_eq!(chat.content, vec![text("Hello! How are you today?")]);
    assert_eq!(chat.stop_reason, Some(StopReason::EndTurn));
    assert_eq!(chat.usage, Usage { input_tokens: 26, output_tokens: 298, ..Usage::default() });
    assert_eq!(chat.model, "llama3.2");

    let tools = convert::decode_response(CHAT_TOOLS.as_bytes()).unwrap();
    insta::assert_debug_snapshot!("response_tool_calls", tools);
    assert_eq!(tools.stop_reason, Some(StopReason::ToolUse));
    let again = convert::decode_response(CHAT_TOOLS.as_bytes()).unwrap();
    assert_eq!(again.content, tools.content, "ids are deterministic");

    let cut = json!({"model": "m", "created_at": "t", "message": {"role": "assistant", "content": "par",
                     "thinking": "hmm"}, "done": true, "done_reason": "length", "prompt_eval_count": 3,
                     "eval_count": 100});
    let cut = convert::decode_response(cut.to_string().as_bytes()).unwrap();
    assert_eq!(cut.stop_reason, Some(StopReason::MaxTokens));
    assert!(
        matches!(&cut.content[0], Block::Thinking(t) if t.thinking == "hmm" && t.signature.is_none())
    );
    assert!(convert::decode_response(br#"{"error":"model not found"}"#).is_err());
}

#[test]
fn responses_and_requests_round_trip() {
    let tools = convert::decode_response(CHAT_TOOLS.as_bytes()).unwrap();
    let mut notes = Vec::new();
    let body = convert::encode_response(&tools, &mut notes);
    let back = convert::decode_response(&body).unwrap();
    assert_eq!(back.stop_reason, Some(StopReason::ToolUse));
    assert!(
        matches!(&back.content[..], [Block::ToolUse(u)] if u.name == "get_weather" && u.input == json!({"city": "Tokyo"}))
    );

    // The docs' "With history, with tools" request.
    let request = json!({
        "model": "llama3.2",
        "messages": [
            {"role": "user", "content": "what is the weather in Toronto?"},
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Toronto"}}}]},
            {"role": "tool", "content": "11 degrees celsius", "tool_name": "get_weather"}
        ],
        "stream": false,
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get the weather in a given city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city to get the weather for"}}, "required": ["city"]}}}],
        "keep_alive": "5m",
        "options": {"num_ctx": 4096, "temperature": 0}
    });
    let req = convert::decode_request(request.to_string().as_bytes()).unwrap();
    assert!(!req.stream);
    let Block::ToolUse(call) = &req.messages[1].content[0] else { panic!("{req:?}") };
    let Block::ToolResult(result) = &req.messages[2].content[0] else { panic!("{req:?}") };
    assert_eq!(result.tool_use_id, call.id);
    assert_eq!(req.extra.dialect, Some(Dialect::Ollama));
    let mut target = target();
    target.model = "llama3.2".to_owned();
    let encoded: Value =
        serde_json::from_slice(&convert::encode_request(&req, &target, &mut notes)).unwrap();
    assert_eq!(encoded["messages"], request["messages"]);
    assert_eq!(encoded["tools"], request["tools"]);
    assert_eq!(encoded["keep_alive"], "5m");
    assert_eq!(encoded["options"], json!({"num_ctx": 4096, "temperature": 0.0}));
}

fn lines_split(stream: &str, splits: &[usize]) -> Vec<StreamEvent> {
    // What the server does: cut the body into lines wherever the bytes happen to break.
    let bytes = stream.as_bytes();
    let mut decoder = codec::Decoder::new();
    let mut out = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = splits.iter().map(|s| (*s).min(bytes.len())).collect();
    cuts.push(bytes.len());
    for cut in cuts {
        let cut = cut.max(at);
        pending.extend_from_slice(&bytes[at..cut]);
        at = cut;
        while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line[..nl]).into_owned();
            decoder.decode(&SseFrame { event: None, data: line }, &mut out);
        }
    }
    if !pending.is_empty() {
        decoder.decode(
            &SseFrame { event: None, data: String::from_utf8_lossy(&pending).into_owned() },
            &mut out,
        );
    }
    decoder.finish(&mut out);
    out
}

fn events(stream: &str) -> Vec<StreamEvent> {
    lines_split(stream, &[])
}

#[test]
fn documented_streams_decode() {
    let text = events(STREAM);
    insta::assert_debug_snapshot!("stream_text", text);
    let tools = events(STREAM_TOOLS);
    insta::assert_debug_snapshot!("stream_tool_calls", tools);
    assert!(
        matches!(&tools[tools.len() - 2], StreamEvent::MessageDelta { stop_reason: Some(StopReason::ToolUse), usage, .. }
        if *usage == Usage { input_tokens: 169, output_tokens: 15, ..Usage::default() })
    );
}

#[test]
fn thinking_length_errors_and_cut_offs() {
    let lines = [
        json!({"model": "qwen3", "created_at": "2025-01-01T00:00:00Z", "message": {"role": "assistant", "content": "", "thinking": "Let me"}, "done": false}),
        json!({"model": "qwen3", "created_at": "2025-01-01T00:00:01Z", "message": {"role": "assistant", "content": "", "thinking": " see."}, "done": false}),
        json!({"model": "qwen3", "created_at": "2025-01-01T00:00:02Z", "message": {"role": "assistant", "content": "Hi"}, "done": false}),
        json!({"model": "qwen3", "created_at": "2025-01-01T00:00:03Z", "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "length", "prompt_eval_count": 5, "eval_count": 9}),
    ];
    let stream: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let out = events(&stream);
    let kinds: Vec<String> = out
        .iter()
        .map(|e| format!("{e:?}").split([' ', '(', '{']).next().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "MessageStart",
            "BlockStart",
            "BlockDelta",
            "BlockDelta",
            "BlockStop",
            "BlockStart",
            "BlockDelta",
            "BlockStop",
            "MessageDelta",
            "MessageStop"
        ]
    );
    assert!(
        matches!(&out[3], StreamEvent::BlockDelta { delta: tollgate_wire::canonical::Delta::Thinking(t), .. } if t == " see.")
    );
    assert!(matches!(
        &out[8],
        StreamEvent::MessageDelta { stop_reason: Some(StopReason::MaxTokens), .. }
    ));

    let cut = events(&stream[..=stream.trim_end().rfind('\n').unwrap()]);
    assert!(matches!(cut.last(), Some(StreamEvent::Error { .. })));
    assert!(!cut.iter().any(|e| matches!(e, StreamEvent::MessageStop)));

    let error = format!(
        "{}\n{{\"error\":\"an error was encountered while running the model\"}}\n",
        lines[0]
    );
    let out = events(&error);
    assert!(
        matches!(out.last(), Some(StreamEvent::Error { message, .. }) if message == "an error was encountered while running the model")
    );
    assert!(matches!(events("").as_slice(), [StreamEvent::Error { .. }]));
    assert!(matches!(events("not json\n").as_slice(), [StreamEvent::Error { .. }]));
}

#[test]
fn the_encoder_writes_lines_the_decoder_reads_back() {
    for stream in [STREAM, STREAM_TOOLS] {
        let original = events(stream);
        let mut encoder = codec::Encoder::new();
        let mut bytes = Vec::new();
        for event in &original {
            encoder.encode(event, &mut bytes);
        }
        encoder.finish(&mut bytes);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()), "{text}");
        let again = events(&text);
        // Ids derive from created_at, which the encoder stamps itself; the rest must match.
        let strip = |events: &[StreamEvent]| -> Vec<String> {
            events
                .iter()
                .map(|e| format!("{e:?}"))
                .filter(|e| !e.starts_with("MessageStart"))
                .map(|e| e.split("id: ").next().unwrap_or_default().to_owned())
                .collect()
        };
        assert_eq!(strip(&again), strip(&original));
    }
}

proptest! {
    #[test]
    fn any_split_into_lines_gives_the_same_events(
        which in 0usize..2,
        mut splits in proptest::collection::vec(0usize..700, 0..10),
    ) {
        let stream = [STREAM, STREAM_TOOLS][which];
        splits.sort_unstable();
        prop_assert_eq!(lines_split(stream, &splits), events(stream));
    }
}
