//! Catalogue 4.3: tools (cases 15-22).

use serde_json::{Value, json};
use tollgate_wire::canonical::ids;

use crate::{
    claude, for_anthropic, for_chat, for_responses, from_anthropic, from_chat, from_responses, gpt,
    noted,
};

fn schema() -> Value {
    json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "properties": {"path": {"type": "string"}}, "required": ["path"]})
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

#[test]
fn case_15_tool_definitions_map_between_the_three_shapes() {
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [user("hi")],
    "tools": [
        {"name": "Read", "description": "Read a file", "input_schema": schema(),
         "cache_control": {"type": "ephemeral"}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
    ]}));
    let (body, _) = for_anthropic(&req, &claude());
    assert_eq!(
        body["tools"][1],
        json!({"type": "web_search_20250305", "name": "web_search", "max_uses": 3})
    );
    let (chat, notes) = for_chat(&req, &gpt());
    assert_eq!(
        chat["tools"],
        json!([{"type": "function", "function":
            {"name": "Read", "description": "Read a file", "parameters": schema()}}])
    );
    assert!(noted(&notes, "web_search"));
    let (r, _) = for_responses(&req, &gpt());
    assert_eq!(r["tools"][0]["type"], "function");
    assert_eq!(r["tools"][0]["name"], "Read", "flat, not nested under `function`");
    assert_eq!(r["tools"][0]["parameters"], schema());
    assert_eq!(r["tools"].as_array().unwrap().len(), 1);

    // A Responses client's flat function and freeform tool, for Anthropic.
    let req = from_responses(&json!({"model": "m", "input": "hi", "tools": [
        {"type": "function", "name": "shell", "parameters": schema(), "strict": true},
        {"type": "custom", "name": "apply_patch", "description": "Patch files",
         "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
    ]}));
    let (body, notes) = for_anthropic(&req, &claude());
    assert_eq!(body["tools"][0]["input_schema"], schema());
    assert!(body["tools"][0].get("strict").is_none(), "strict is dropped cross-dialect");
    assert!(noted(&notes, "strict"));
    assert_eq!(body["tools"][1]["input_schema"]["properties"]["input"]["type"], "string");
}

#[test]
fn case_15_duplicate_tool_names_are_deduped_for_anthropic_keeping_the_first() {
    let tool =
        |d: &str| json!({"type": "function", "function": {"name": "read", "description": d}});
    let req = from_chat(&json!({"model": "m", "messages": [user("hi")],
        "tools": [tool("first"), tool("second")]}));
    let (body, notes) = for_anthropic(&req, &claude());
    assert_eq!(body["tools"].as_array().unwrap().len(), 1);
    assert_eq!(body["tools"][0]["description"], "first");
    assert!(noted(&notes, "duplicate tool read"));
}

fn ls() -> Value {
    json!({"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}})
}

#[test]
fn case_16_chat_tool_choice_maps_to_anthropic() {
    for (choice, parallel, expected) in [
        (json!("auto"), false, json!({"type": "auto", "disable_parallel_tool_use": true})),
        (json!("required"), false, json!({"type": "any", "disable_parallel_tool_use": true})),
        (
            json!({"type": "function", "function": {"name": "ls"}}),
            true,
            json!({"type": "tool", "name": "ls", "disable_parallel_tool_use": false}),
        ),
        (json!("none"), false, json!({"type": "none"})),
    ] {
        let req = from_chat(&json!({"model": "m", "messages": [user("hi")], "tools": [ls()],
            "tool_choice": choice, "parallel_tool_calls": parallel}));
        assert_eq!(for_anthropic(&req, &claude()).0["tool_choice"], expected, "{choice}");
    }
}

#[test]
fn case_16_anthropic_tool_choice_maps_to_chat_and_responses() {
    let tools = json!([{"name": "ls", "input_schema": {"type": "object"}}]);
    for (choice, chat, responses) in [
        (json!({"type": "auto"}), json!("auto"), json!("auto")),
        (json!({"type": "any"}), json!("required"), json!("required")),
        (
            json!({"type": "tool", "name": "ls"}),
            json!({"type": "function", "function": {"name": "ls"}}),
            json!({"type": "function", "name": "ls"}),
        ),
        (json!({"type": "none"}), json!("none"), json!("none")),
    ] {
        let mut choice_with = choice.clone();
        choice_with["disable_parallel_tool_use"] = json!(true);
        if choice["type"] == "none" {
            choice_with = choice.clone();
        }
        let req = from_anthropic(&json!({"model": "m", "max_tokens": 100,
            "messages": [user("hi")], "tools": tools, "tool_choice": choice_with}));
        let (c, _) = for_chat(&req, &gpt());
        let (r, _) = for_responses(&req, &gpt());
        assert_eq!(c["tool_choice"], chat, "{choice}");
        assert_eq!(r["tool_choice"], responses, "{choice}");
        if choice["type"] != "none" {
            assert_eq!(c["parallel_tool_calls"], false);
            assert_eq!(r["parallel_tool_calls"], false);
        }
    }
    let req = from_responses(&json!({"model": "m", "input": "hi",
        "tools": [{"type": "function", "name": "ls", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "ls"}}));
    assert_eq!(
        for_anthropic(&req, &claude()).0["tool_choice"],
        json!({"type": "tool", "name": "ls"})
    );
}

#[test]
fn case_16_a_choice_of_a_tool_the_target_cannot_take_is_relaxed_not_sent() {
    // Anthropic's web search cannot go to OpenAI; forcing it there would be "Tool choice
    // 'function' not found in 'tools' parameter".
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [user("hi")],
        "tools": [
            {"name": "ls", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search"},
        ],
        "tool_choice": {"type": "tool", "name": "web_search"}}));
    let (r, notes) = for_responses(&req, &gpt());
    assert_eq!(r["tool_choice"], "auto");
    assert!(noted(&notes, "relaxed to auto"));
    let (c, _) = for_chat(&req, &gpt());
    assert_ne!(c["tool_choice"]["function"]["name"], "web_search");

    // No tool left at all: no tool_choice.
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [user("hi")],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        "tool_choice": {"type": "any"}}));
    let (r, _) = for_responses(&req, &gpt());
    assert!(r.get("tool_choice").is_none() && r.get("tools").is_none(), "{r}");
    let (c, _) = for_chat(&req, &gpt());
    assert!(c.get("tool_choice").is_none(), "{c}");
}

#[test]
fn case_17_ids_are_sanitised_deterministically_and_pairs_still_match() {
    let call = |id: &str| json!({"id": id, "type": "function", "function": {"name": "bash", "arguments": "{}"}});
    let req = from_chat(&json!({"model": "m", "messages": [
        user("go"),
        {"role": "assistant", "content": null, "tool_calls": [call("functions.bash:0"), call("functions:bash.0")]},
        {"role": "tool", "tool_call_id": "functions.bash:0", "content": "one"},
        {"role": "tool", "tool_call_id": "functions:bash.0", "content": "two"},
    ]}));
    let (body, _) = for_anthropic(&req, &claude());
    let uses: Vec<&str> = body["messages"][1]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    let results: Vec<&str> = body["messages"][2]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["tool_use_id"].as_str().unwrap())
        .collect();
    assert!(uses.iter().all(|id| ids::is_clean(id)), "{uses:?}");
    assert_ne!(uses[0], uses[1], "collision-safe");
    assert_eq!(uses, results);
    assert_eq!(
        body["messages"][2]["content"][0]["content"],
        json!([{"type": "text", "text": "one"}])
    );
}

#[test]
fn case_17_responses_outputs_pair_by_call_id_not_item_id() {
    let req = from_responses(&json!({"model": "m", "input": [
        {"type": "message", "role": "user", "content": "go"},
        {"type": "function_call", "id": "fc_item_1", "call_id": "call_abc", "name": "ls", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_abc", "output": "a.txt"},
    ]}));
    let (body, _) = for_anthropic(&req, &claude());
    assert_eq!(body["messages"][1]["content"][0]["id"], "call_abc");
    assert_eq!(body["messages"][2]["content"][0]["tool_use_id"], "call_abc");
    assert!(!body.to_string().contains("fc_item_1"));
}

fn two_calls() -> Value {
    json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "ls", "arguments": "{}"}},
        {"id": "c2", "type": "function", "function": {"name": "pwd", "arguments": "{}"}},
    ]})
}

#[test]
fn case_18_chat_tool_messages_become_one_user_turn_with_results_first() {
    let req = from_chat(&json!({"model": "m", "messages": [
        user("go"), two_calls(),
        {"role": "tool", "tool_call_id": "c1", "content": "a.txt"},
        {"role": "tool", "tool_call_id": "c2", "content": "/home"},
        user("now summarise"),
    ]}));
    let (body, _) = for_anthropic(&req, &claude());
    assert_eq!(body["messages"].as_array().unwrap().len(), 3);
    let turn = body["messages"][2]["content"].as_array().unwrap();
    let types: Vec<&str> = turn.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["tool_result", "tool_result", "text"]);
}

#[test]
fn case_18_anthropic_results_become_tool_messages_in_call_order_then_the_text() {
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [
        user("go"),
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "c1", "name": "ls", "input": {}},
            {"type": "tool_use", "id": "c2", "name": "pwd", "input": {}}]},
        {"role": "user", "content": [
            {"type": "text", "text": "and summarise"},
            {"type": "tool_result", "tool_use_id": "c2", "content": "/home"},
            {"type": "tool_result", "tool_use_id": "c1", "content": "a.txt"}]},
    ]}));
    let (body, _) = for_chat(&req, &gpt());
    let m = body["messages"].as_array().unwrap();
    assert_eq!(m.len(), 5);
    assert_eq!((m[2]["role"].as_str(), m[2]["tool_call_id"].as_str()), (Some("tool"), Some("c1")));
    assert_eq!((m[3]["role"].as_str(), m[3]["tool_call_id"].as_str()), (Some("tool"), Some("c2")));
    assert_eq!(m[4], json!({"role": "user", "content": "and summarise"}));
}

#[test]
fn case_18_codex_calls_then_outputs_group_into_one_turn_each() {
    let req = from_responses(&json!({"model": "m", "input": [
        {"type": "message", "role": "user", "content": "go"},
        {"type": "function_call", "call_id": "c1", "name": "ls", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "pwd", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
        {"type": "function_call_output", "call_id": "c2", "output": "/home"},
    ]}));
    let (body, _) = for_anthropic(&req, &claude());
    let m = body["messages"].as_array().unwrap();
    assert_eq!(m.len(), 3);
    assert_eq!(m[1]["content"].as_array().unwrap().len(), 2);
    assert_eq!(m[2]["content"].as_array().unwrap().len(), 2);
}

fn error_result() -> Value {
    json!({"model": "m", "max_tokens": 100, "messages": [
        user("run"),
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "bash", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
            "content": "command not found", "is_error": true}]},
    ]})
}

#[test]
fn case_19_is_error_is_carried_as_an_error_prefix() {
    let req = from_anthropic(&error_result());
    let (chat, _) = for_chat(&req, &gpt());
    assert_eq!(chat["messages"][2]["content"], "Error: command not found");
    let (r, _) = for_responses(&req, &gpt());
    let output =
        r["input"].as_array().unwrap().iter().find(|i| i["type"] == "function_call_output");
    assert_eq!(output.unwrap()["output"], "Error: command not found");
}

#[test]
fn case_20_tool_result_images_move_to_a_user_message_for_chat_and_stay_parts_for_responses() {
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [
        user("screenshot"),
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [
            {"type": "text", "text": "Captured."},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        ]}]},
    ]}));
    let (chat, _) = for_chat(&req, &gpt());
    let m = chat["messages"].as_array().unwrap();
    assert_eq!(m[2], json!({"role": "tool", "tool_call_id": "t1", "content": "Captured."}));
    assert_eq!(m[3]["role"], "user");
    assert!(m[3]["content"][0]["text"].as_str().unwrap().contains("t1"), "a reference line");
    assert_eq!(m[3]["content"][1]["image_url"]["url"], "data:image/png;base64,iVBORw0KGgo=");

    let (r, _) = for_responses(&req, &gpt());
    let output =
        r["input"].as_array().unwrap().iter().find(|i| i["type"] == "function_call_output");
    assert_eq!(
        output.unwrap()["output"],
        json!([{"type": "input_text", "text": "Captured."},
            {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"}])
    );
}

fn orphans() -> Value {
    json!({"model": "m", "max_tokens": 100, "messages": [
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "gone", "content": "x"},
            {"type": "text", "text": "after /compact"}]},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "ls", "input": {}},
            {"type": "tool_use", "id": "t2", "name": "pwd", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "a.txt"},
            {"type": "tool_result", "tool_use_id": "t9", "content": "stray"}]},
    ]})
}

#[test]
fn case_21_orphan_calls_and_results_are_repaired_for_every_strict_target() {
    let req = from_anthropic(&orphans());
    let (a, notes) = for_anthropic(&req, &claude());
    let first = a["messages"][0]["content"].to_string();
    assert!(!first.contains("gone"), "a result without its call goes: {first}");
    let answers = a["messages"][2]["content"].as_array().unwrap();
    let mut ids: Vec<&str> = answers.iter().map(|b| b["tool_use_id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["t1", "t2"]);
    let missing = answers.iter().find(|b| b["tool_use_id"] == "t2").unwrap();
    assert_eq!(missing["is_error"], true);
    assert!(noted(&notes, "without a result"));

    let (chat, _) = for_chat(&req, &gpt());
    let tool_ids: Vec<&str> = chat["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["tool_call_id"].as_str().unwrap())
        .collect();
    assert_eq!(tool_ids, ["t1", "t2"]);

    let (r, _) = for_responses(&req, &gpt());
    let outputs: Vec<&str> = r["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "function_call_output")
        .map(|i| i["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(outputs.len(), 2, "{r}");
    assert!(outputs.contains(&"t1") && outputs.contains(&"t2"));
}

#[test]
fn case_22_arguments_strings_become_objects_and_objects_become_strings() {
    let call = |id: &str, args: &str| {
        json!({"id": id, "type": "function",
        "function": {"name": "f", "arguments": args}})
    };
    let req = from_chat(&json!({"model": "m", "messages": [
        user("go"),
        {"role": "assistant", "content": null, "tool_calls": [
            call("c1", ""), call("c2", "{\"a\": 1"), call("c3", "[1, 2]"), call("c4", "not json"),
            call("c5", "{\"path\": \"x\"}")]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]}));
    let (body, _) = for_anthropic(&req, &claude());
    let inputs: Vec<&Value> =
        body["messages"][1]["content"].as_array().unwrap().iter().map(|b| &b["input"]).collect();
    assert!(inputs.iter().all(|i| i.is_object()), "{inputs:?}");
    assert_eq!(inputs[0], &json!({}));
    assert_eq!(inputs[1], &json!({"a": 1}), "a cut-off object is closed");
    assert_eq!(inputs[4], &json!({"path": "x"}));

    let req = from_responses(&json!({"model": "m", "input": [
        {"type": "message", "role": "user", "content": "go"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": ""},
        {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "[1]"},
        {"type": "function_call", "call_id": "c3", "name": "f", "arguments": "oops"},
    ]}));
    let (body, _) = for_anthropic(&req, &claude());
    let inputs: Vec<&Value> =
        body["messages"][1]["content"].as_array().unwrap().iter().map(|b| &b["input"]).collect();
    assert_eq!(inputs, [&json!({}), &json!({"value": [1]}), &json!({"arguments": "oops"})]);

    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [
        user("go"),
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f",
            "input": {"path": "a b", "n": [1]}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
    ]}));
    let (chat, _) = for_chat(&req, &gpt());
    let args = chat["messages"][1]["tool_calls"][0]["function"]["arguments"].as_str().unwrap();
    assert_eq!(serde_json::from_str::<Value>(args).unwrap(), json!({"path": "a b", "n": [1]}));
    let (r, _) = for_responses(&req, &gpt());
    let call = r["input"].as_array().unwrap().iter().find(|i| i["type"] == "function_call");
    assert!(call.unwrap()["arguments"].is_string());
}
