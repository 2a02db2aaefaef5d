//! Codex's real requests (captured from Codex CLI 0.169.0) decoded, and Codex's tool loop
//! carried through Tollgate: thinking from another provider sealed into the reasoning item Codex
//! replays, and opened again on the next request (12, 50, 18, 17).

use serde_json::{Value, json};
use tollgate_wire::canonical::{
    Block, Message, Origin, Role, StopReason, StreamEncoder, StreamEvent, TextBlock, ThinkingBlock,
    ToolKind, ToolUse,
};
use tollgate_wire::responses::codec::Encoder;
use tollgate_wire::responses::{
    DecodeOptions, ResponseOptions, Sealer, decode_request, decode_request_with,
    previous_response_id,
};
use tollgate_wire::{Dialect, Usage};

use crate::fixture;
use crate::summary::{self, frames};

fn sealer() -> Sealer {
    Sealer::new(b"test-sealing-key")
}

#[test]
fn codex_first_request_decodes() {
    let req = decode_request(fixture!("codex_request.json").as_bytes()).unwrap();
    // Codex sends its prompt as developer messages, not `instructions`.
    assert_eq!(req.system.len(), 4);
    assert!(req.system[0].text.starts_with("You are Codex, a coding agent"));
    assert_eq!(req.messages.len(), 1, "the two user items are one turn");
    assert!(req.stream);
    let apply_patch = req.tools.iter().find(|t| t.name == "apply_patch").unwrap();
    assert!(
        matches!(&apply_patch.kind, ToolKind::Custom { format: Some(f) } if f["syntax"] == "lark")
    );
    let hosted: Vec<&str> = req
        .tools
        .iter()
        .filter(|t| matches!(t.kind, ToolKind::Hosted { dialect: Dialect::OpenAiResponses, .. }))
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(hosted, ["tool_search", "web_search"]);
    for key in ["store", "include", "prompt_cache_key", "client_metadata"] {
        assert!(req.extra.fields.contains_key(key), "{key} kept for a Responses target");
    }
    assert_eq!(previous_response_id(&req), None);
    insta::assert_json_snapshot!(summary::request(&req));
}

#[test]
fn codex_namespace_tools_are_flattened() {
    let req = decode_request(fixture!("codex_request_namespace.json").as_bytes()).unwrap();
    let names: Vec<&str> = req.tools.iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&"multi_agent_v1__spawn_agent"), "{names:?}");
    let thinking = req.thinking.as_ref().unwrap();
    assert_eq!(thinking.display.as_deref(), Some("summarized"), "summary: auto asks to see it");

    let opts = ResponseOptions::for_request(fixture!("codex_request_namespace.json").as_bytes());
    let spawn = opts.namespaced_tools.iter().find(|t| t.name == "spawn_agent").unwrap();
    assert_eq!(spawn.namespace, "multi_agent_v1");
    assert_eq!(spawn.flat, "multi_agent_v1__spawn_agent");
}

#[test]
fn codex_tool_loop_decodes() {
    let body = fixture!("codex_request_tool_loop.json").as_bytes();
    let req = decode_request_with(body, &DecodeOptions { sealer: Some(sealer()) }).unwrap();
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::User, Role::Assistant, Role::User, Role::Assistant, Role::User],
        "reasoning + call, output, reasoning + call, output"
    );
    // OpenAI's own (here: the capture server's) encrypted reasoning stays an opaque item.
    let Block::Opaque(reasoning) = &req.messages[1].content[0] else { panic!() };
    assert_eq!(reasoning.dialect, Dialect::OpenAiResponses);
    assert_eq!(reasoning.value["encrypted_content"], "gAAAAABfakeOpenAIblob==");
    let Block::ToolUse(patch) = &req.messages[1].content[1] else { panic!() };
    assert_eq!(patch.id, "call_cap1", "the canonical id is the call_id");
    assert_eq!(
        patch.input,
        json!({"input": "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"})
    );
    let Block::ToolResult(result) = &req.messages[2].content[0] else { panic!() };
    assert_eq!(result.tool_use_id, "call_cap1");
    insta::assert_json_snapshot!(summary::request(&req));
}

#[test]
fn role_tool_is_refused_like_the_api() {
    let body = br#"{"model":"m","input":[{"role":"tool","content":"x"}]}"#;
    let err = decode_request(body).unwrap_err();
    assert_eq!(
        err.message,
        "Invalid value: 'tool'. Supported values are: 'assistant', 'system', 'developer', and 'user'."
    );
    assert_eq!(err.path.as_deref(), Some("input[0].role"));
}

#[test]
fn string_input_and_instructions() {
    let body = br#"{"model":"gpt-5","instructions":"Be brief.","input":"Hi","max_output_tokens":50,
        "previous_response_id":"resp_1","store":true,"reasoning":{"effort":"low","summary":"detailed"},
        "text":{"format":{"type":"json_object"},"verbosity":"low"},"safety_identifier":"u1"}"#;
    let req = decode_request(body).unwrap();
    assert_eq!(req.system[0].text, "Be brief.");
    assert_eq!(req.messages[0].content, [Block::Text(TextBlock::new("Hi"))]);
    assert_eq!(req.max_tokens, Some(50));
    assert_eq!(previous_response_id(&req), Some("resp_1"));
    assert_eq!(req.user.as_deref(), Some("u1"));
    assert_eq!(req.extra.fields["reasoning"], json!({"summary": "detailed"}));
    assert_eq!(req.extra.fields["text"], json!({"verbosity": "low"}));
    let thinking = req.thinking.unwrap();
    assert_eq!(thinking.effort.as_deref(), Some("low"));
}

fn claude_turn() -> Vec<StreamEvent> {
    let origin = Origin { provider: "anthropic".into(), family: "claude-sonnet-4-5".into() };
    vec![
        StreamEvent::MessageStart {
            id: "msg_01XFDUDYJgAACzvnptvVoYEL".into(),
            model: "claude-sonnet-4-5".into(),
            usage: Usage { input_tokens: 10, cache_read_tokens: 1000, ..Usage::default() },
        },
        StreamEvent::BlockStart {
            index: 0,
            block: Block::Thinking(ThinkingBlock {
                origin: Some(origin),
                ..ThinkingBlock::default()
            }),
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: tollgate_wire::canonical::Delta::Thinking("I should create the file.".into()),
        },
        StreamEvent::BlockDelta {
            index: 0,
            delta: tollgate_wire::canonical::Delta::Signature("EqQBCgIYAhIM1gbcDa9GJwZA".into()),
        },
        StreamEvent::BlockStop { index: 0 },
        StreamEvent::BlockStart {
            index: 1,
            block: Block::ToolUse(ToolUse {
                id: "toolu_01A09q90qw90lq917835lq9".into(),
                name: "apply_patch".into(),
                input: json!({}),
                cache_control: None,
            }),
        },
        StreamEvent::BlockDelta {
            index: 1,
            delta: tollgate_wire::canonical::Delta::InputJson(
                "{\"input\": \"*** Begin Patch\\n*** Add".into(),
            ),
        },
        StreamEvent::BlockDelta {
            index: 1,
            delta: tollgate_wire::canonical::Delta::InputJson(
                " File: a.txt\\n+\\\"hi\\\"\\n*** End Patch\\n\"}".into(),
            ),
        },
        StreamEvent::BlockStop { index: 1 },
        StreamEvent::MessageDelta {
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: Usage {
                input_tokens: 10,
                cache_read_tokens: 1000,
                output_tokens: 42,
                ..Usage::default()
            },
        },
        StreamEvent::MessageStop,
    ]
}

/// Codex on Claude: the turn is streamed to Codex with the thinking sealed into a reasoning item;
/// Codex replays that item with the call and its output; the next request opens the seal and
/// Claude gets its own thinking back, byte for byte, in front of its tool call.
#[test]
fn sealed_thinking_survives_the_codex_tool_loop() {
    let body = fixture!("codex_request.json").as_bytes();
    let mut opts = ResponseOptions::for_request(body);
    opts.sealer = Some(sealer());
    opts.response_id = "resp_tg1".into();
    assert_eq!(opts.custom_tools, ["apply_patch"]);
    let mut encoder = Encoder::with_options(opts);
    let mut sse = Vec::new();
    for event in claude_turn() {
        encoder.encode(&event, &mut sse);
    }
    let completed = frames(&sse).into_iter().last().unwrap();
    assert_eq!(completed.event.as_deref(), Some("response.completed"));
    let response: Value = serde_json::from_str(&completed.data).unwrap();
    let output = response["response"]["output"].as_array().unwrap().clone();
    assert_eq!(output[0]["type"], "reasoning");
    assert!(output[0]["encrypted_content"].as_str().unwrap().starts_with("tg1."));
    assert_eq!(output[1]["type"], "custom_tool_call");
    assert_eq!(
        output[1]["input"],
        "*** Begin Patch\n*** Add File: a.txt\n+\"hi\"\n*** End Patch\n"
    );

    // Codex's next request: its history, the output items as they came, then the call output.
    let mut next: Value = serde_json::from_str(fixture!("codex_request.json")).unwrap();
    let input = next["input"].as_array_mut().unwrap();
    input.extend(output.iter().cloned());
    input.push(json!({"type": "custom_tool_call_output", "call_id": "toolu_01A09q90qw90lq917835lq9", "output": "Done"}));
    let next = serde_json::to_vec(&next).unwrap();

    let req = decode_request_with(&next, &DecodeOptions { sealer: Some(sealer()) }).unwrap();
    let assistant: &Message = &req.messages[1];
    assert_eq!(assistant.role, Role::Assistant);
    let Block::Thinking(thinking) = &assistant.content[0] else {
        panic!("{:?}", assistant.content)
    };
    assert_eq!(thinking.thinking, "I should create the file.");
    assert_eq!(thinking.signature.as_deref(), Some("EqQBCgIYAhIM1gbcDa9GJwZA"));
    assert_eq!(thinking.origin.as_ref().unwrap().provider, "anthropic");
    let Block::ToolUse(call) = &assistant.content[1] else { panic!() };
    assert_eq!(call.id, "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(
        call.input["input"],
        "*** Begin Patch\n*** Add File: a.txt\n+\"hi\"\n*** End Patch\n"
    );
    let Block::ToolResult(result) = &req.messages[2].content[0] else { panic!() };
    assert_eq!(result.tool_use_id, call.id);

    // Without the key the item stays opaque, and a forged blob never becomes thinking.
    let req = decode_request(&next).unwrap();
    assert!(matches!(&req.messages[1].content[0], Block::Opaque(_)));
    let forged = String::from_utf8(next.clone()).unwrap().replace("tg1.", "tg1.x");
    let req =
        decode_request_with(forged.as_bytes(), &DecodeOptions { sealer: Some(sealer()) }).unwrap();
    assert!(matches!(&req.messages[1].content[0], Block::Opaque(_)));
}

/// The real thing: Codex 0.169.0 was served this encoder's streams (Claude-style thinking sealed
/// with the key `live-key`, an `apply_patch` call, an `exec_command` call), ran both tools, and
/// sent this request. Its replayed reasoning items open to the original thinking blocks.
#[test]
fn codex_replays_sealed_reasoning_verbatim() {
    let body = fixture!("codex_request_sealed_replay.json").as_bytes();
    let req = decode_request_with(body, &DecodeOptions { sealer: Some(Sealer::new(b"live-key")) })
        .unwrap();
    let thinking: Vec<(&str, Option<&str>)> = req
        .messages
        .iter()
        .flat_map(|m| &m.content)
        .filter_map(|b| match b {
            Block::Thinking(t) => Some((t.thinking.as_str(), t.signature.as_deref())),
            _ => None,
        })
        .collect();
    assert_eq!(thinking, [("I will add the file.", Some("sig_A")), ("Now list.", Some("sig_B"))]);
    let roles: Vec<Role> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::User, Role::Assistant, Role::User]);
    let Block::ToolUse(patch) = &req.messages[1].content[1] else { panic!() };
    assert_eq!(
        patch.input["input"],
        "*** Begin Patch\n*** Add File: live.txt\n+hello \"live\"\n*** End Patch\n"
    );
    insta::assert_json_snapshot!(summary::request(&req)["messages"]);
}
