//! Catalogue 4.1: messages, roles and content blocks (cases 1-6).

use serde_json::{Value, json};
use tollgate_wire::anthropic;
use tollgate_wire::canonical::{Block, Opaque, Quirks, Response, StopReason, Target};
use tollgate_wire::openai;
use tollgate_wire::{Dialect, Usage};

use crate::{
    claude, for_anthropic, for_chat, for_responses, from_anthropic, from_chat, from_responses, gpt,
    noted,
};

fn roles(body: &Value) -> Vec<&str> {
    body["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect()
}

#[test]
fn case_01_chat_system_and_developer_messages_anywhere_are_hoisted_for_anthropic() {
    let req = from_chat(&json!({"model": "m", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "go"},
    ]}));
    let (body, _) = for_anthropic(&req, &claude());
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use metric units."}])
    );
    assert_eq!(roles(&body), ["user", "assistant", "user"]);
}

#[test]
fn case_01_responses_instructions_and_developer_items_are_hoisted_for_anthropic() {
    let req = from_responses(&json!({"model": "m", "instructions": "You are Codex.", "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Sandbox: read-only."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "message", "role": "system", "content": "Late system text."},
    ]}));
    let (body, _) = for_anthropic(&req, &claude());
    let system: Vec<&str> =
        body["system"].as_array().unwrap().iter().map(|p| p["text"].as_str().unwrap()).collect();
    assert_eq!(system, ["You are Codex.", "Sandbox: read-only.", "Late system text."]);
    assert_eq!(roles(&body), ["user"]);
}

#[test]
fn case_01_anthropic_system_reaches_chat_as_one_leading_system_message_of_parts() {
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100,
    "system": [
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Project rules."},
    ],
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "system", "content": "A mid-conversation system message."},
        {"role": "user", "content": "go"},
    ]}));
    // Providers that take no `developer` role and a system message only at the start
    // (developer_as_system, single_system) get the same shape.
    let mut target = gpt();
    target.quirks.developer_as_system = true;
    target.quirks.single_system = true;
    let (body, _) = for_chat(&req, &target);
    assert_eq!(roles(&body), ["system", "user", "assistant", "user"]);
    assert_eq!(
        body["messages"][0]["content"],
        json!([
            {"type": "text", "text": "You are Claude Code."},
            {"type": "text", "text": "Project rules."},
            {"type": "text", "text": "A mid-conversation system message."},
        ]),
        "kept as parts, not joined"
    );
    assert!(!body.to_string().contains("developer"));
}

#[test]
fn case_02_consecutive_turns_of_one_role_are_merged_going_to_anthropic() {
    let req = from_chat(&json!({"model": "m", "messages": [
        {"role": "user", "content": "first"},
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "third"},
    ]}));
    let (body, _) = for_anthropic(&req, &claude());
    assert_eq!(roles(&body), ["user", "assistant", "user"]);
    assert_eq!(
        body["messages"][0]["content"],
        json!([{"type": "text", "text": "first"}, {"type": "text", "text": "second"}])
    );
    assert_eq!(body["messages"][1]["content"].as_array().unwrap().len(), 2);
}

#[test]
fn case_03_empty_chat_content_beside_tool_calls_is_no_text_block() {
    let call = |id: &str| json!({"id": id, "type": "function", "function": {"name": "ls", "arguments": "{}"}});
    let req = from_chat(&json!({"model": "m", "messages": [
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": "", "tool_calls": [call("call_1")]},
        {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"},
        {"role": "assistant", "content": null, "tool_calls": [call("call_2")]},
        {"role": "tool", "tool_call_id": "call_2", "content": "b.txt"},
        {"role": "user", "content": [{"type": "text", "text": "  \n "}, {"type": "text", "text": "thanks"}]},
    ]}));
    let (body, _) = for_anthropic(&req, &claude());
    for m in body["messages"].as_array().unwrap() {
        for b in m["content"].as_array().unwrap() {
            if b["type"] == "text" {
                assert!(!b["text"].as_str().unwrap().trim().is_empty(), "empty text sent: {m}");
            }
        }
    }
    assert_eq!(body["messages"][1]["content"].as_array().unwrap().len(), 1, "only the tool_use");
    assert_eq!(body["messages"][1]["content"][0]["type"], "tool_use");
}

#[test]
fn case_03_a_cache_breakpoint_never_stays_on_an_empty_text_block() {
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "the real question"},
            {"type": "text", "text": "", "cache_control": {"type": "ephemeral"}},
        ]},
    ]}));
    let (body, notes) = for_anthropic(&req, &claude());
    assert_eq!(
        body["messages"][0]["content"],
        json!([{"type": "text", "text": "the real question", "cache_control": {"type": "ephemeral"}}]),
        "the breakpoint moves to the block before"
    );
    assert!(noted(&notes, "empty"));
}

#[test]
fn case_04_tool_use_blocks_are_trailing_in_an_assistant_turn_for_anthropic() {
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {}},
            {"type": "text", "text": "Listing."},
        ]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a"}]},
    ]}));
    let (body, _) = for_anthropic(&req, &claude());
    let types: Vec<&str> = body["messages"][1]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["text", "tool_use"]);
}

#[test]
fn case_04_chat_text_and_tool_calls_become_text_first_and_text_is_not_rejoined() {
    let req = from_chat(&json!({"model": "m", "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "Listing.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "a"},
    ]}));
    let (body, _) = for_anthropic(&req, &claude());
    assert_eq!(body["messages"][1]["content"][0], json!({"type": "text", "text": "Listing."}));
    assert_eq!(body["messages"][1]["content"][1]["type"], "tool_use");

    // Anthropic text blocks reach Chat byte for byte: no separator is invented between them.
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Running the tests"}, {"type": "text", "text": " now."}]},
        {"role": "user", "content": "ok"},
    ]}));
    let (body, _) = for_chat(&req, &gpt());
    assert_eq!(body["messages"][1]["content"], "Running the tests now.");
}

#[test]
fn case_05_a_prefill_turns_thinking_off_for_anthropic() {
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 4096,
    "thinking": {"type": "enabled", "budget_tokens": 2048},
    "messages": [
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "The colour is"},
    ]}));
    let (body, notes) = for_anthropic(&req, &claude());
    assert_eq!(body["messages"][1]["role"], "assistant", "the prefill stays");
    assert_eq!(body["thinking"]["type"], "disabled");
    assert!(noted(&notes, "prefill"));
}

#[test]
fn case_06_unknown_blocks_pass_to_anthropic_unchanged_and_are_never_fake_text_elsewhere() {
    let future = json!({"type": "future_block", "payload": {"x": [1, 2]}});
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi"}, future.clone()]},
    ]}));
    let (body, _) = for_anthropic(&req, &claude());
    assert_eq!(body["messages"][0]["content"][1], future);

    let (body, notes) = for_chat(&req, &gpt());
    assert_eq!(body["messages"][0]["content"], "hi");
    assert!(!body.to_string().contains("future_block"));
    assert!(noted(&notes, "future_block"));
    let (body, notes) = for_responses(&req, &gpt());
    assert!(!body.to_string().contains("future_block"));
    assert!(!notes.is_empty());
}

#[test]
fn case_06_an_answer_of_only_unknown_blocks_gives_no_invented_text() {
    let resp = Response {
        id: "msg_1".into(),
        model: "claude".into(),
        content: vec![Block::Opaque(Opaque {
            dialect: Dialect::Anthropic,
            value: json!({"type": "future_block", "data": "x"}),
        })],
        stop_reason: Some(StopReason::EndTurn),
        stop_sequence: None,
        usage: Usage::default(),
    };
    let mut notes = Vec::new();
    let body: Value =
        serde_json::from_slice(&anthropic::convert::encode_response(&resp, &mut notes)).unwrap();
    assert_eq!(body["content"], json!([{"type": "future_block", "data": "x"}]));

    let mut notes = Vec::new();
    let body: Value =
        serde_json::from_slice(&openai::convert::encode_response(&resp, &mut notes)).unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], Value::Null);
    assert!(!notes.is_empty(), "the drop is noted");
}

#[test]
fn case_05_a_prefill_is_marked_for_servers_that_continue_it_and_noted_elsewhere() {
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [
        {"role": "user", "content": "Write quick sort."},
        {"role": "assistant", "content": "```python\n"}]}));
    let prefix_server = Target {
        model: "deepseek-chat".into(),
        provider: "deepseek".into(),
        quirks: Quirks { assistant_prefix: true, ..Quirks::default() },
    };
    let (c, notes) = for_chat(&req, &prefix_server);
    assert_eq!(
        c["messages"][1],
        json!({"role": "assistant", "content": "```python\n", "prefix": true})
    );
    assert!(!noted(&notes, "prefill"), "{notes:?}");

    let (c, notes) = for_chat(&req, &gpt());
    assert_eq!(c["messages"][1], json!({"role": "assistant", "content": "```python\n"}));
    assert!(noted(&notes, "may answer anew"), "{notes:?}");
    let (_, notes) = for_responses(&req, &gpt());
    assert!(noted(&notes, "may answer anew"), "{notes:?}");
    let mut g_notes = Vec::new();
    tollgate_wire::gemini::convert::encode_request(&req, &gpt(), &mut g_notes);
    assert!(g_notes.iter().any(|n| n.0.contains("may answer anew")));
    // Ollama continues a final assistant message natively: nothing to note.
    let mut o_notes = Vec::new();
    tollgate_wire::ollama::convert::encode_request(&req, &gpt(), &mut o_notes);
    assert!(!o_notes.iter().any(|n| n.0.contains("prefill")), "{o_notes:?}");

    // Only a final assistant message is marked; earlier ones are history.
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"}]}));
    let (c, notes) = for_chat(&req, &prefix_server);
    assert!(c["messages"][1].get("prefix").is_none());
    assert!(!noted(&notes, "prefill"));
}
