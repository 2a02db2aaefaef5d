//! Whole Response objects both ways (31, 33, 52).

use serde_json::{Value, json};
use tollgate_wire::Usage;
use tollgate_wire::canonical::{Block, Response, StopReason, TextBlock, ThinkingBlock, ToolUse};
use tollgate_wire::responses::{
    ResponseOptions, Sealer, decode_response, encode_response, encode_response_with,
};

use crate::fixture;
use crate::summary::{self, frames};

#[test]
fn docs_response_object_decodes() {
    let resp = decode_response(fixture!("response.json").as_bytes()).unwrap();
    assert_eq!(resp.stop_reason, Some(StopReason::EndTurn));
    assert_eq!(resp.usage.input_tokens, 328);
    insta::assert_json_snapshot!(summary::response(&resp));
}

#[test]
fn reasoning_and_call_response_decodes() {
    // The terminal response object of the recorded reasoning stream.
    let completed = frames(fixture!("stream_reasoning_function_call.sse").as_bytes())
        .into_iter()
        .last()
        .unwrap();
    let event: Value = serde_json::from_str(&completed.data).unwrap();
    let body = serde_json::to_vec(&event["response"]).unwrap();
    let resp = decode_response(&body).unwrap();
    assert_eq!(resp.stop_reason, Some(StopReason::ToolUse));
    assert!(matches!(&resp.content[0], Block::Thinking(t) if t.signature.is_none()));
    assert!(matches!(&resp.content[1], Block::Opaque(o) if o.value["type"] == "reasoning"));
    insta::assert_json_snapshot!(summary::response(&resp));
}

#[test]
fn cached_tokens_are_part_of_input_tokens() {
    let body = json!({
        "id": "resp_1", "object": "response", "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"}, "model": "gpt-5", "output": [],
        "usage": {"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 800},
                  "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 1007}
    });
    let resp = decode_response(body.to_string().as_bytes()).unwrap();
    assert_eq!(resp.stop_reason, Some(StopReason::MaxTokens));
    assert_eq!(
        resp.usage,
        Usage {
            web_search_requests: 0,
            input_tokens: 200,
            output_tokens: 7,
            cache_read_tokens: 800,
            cache_write_tokens: 0
        }
    );
    let failed = json!({"id": "resp_1", "status": "failed", "error": {"code": "server_error", "message": "boom"}, "output": []});
    assert!(decode_response(failed.to_string().as_bytes()).unwrap_err().message.contains("boom"));
}

fn claude_answer(stop: StopReason) -> Response {
    Response {
        id: "msg_01".into(),
        model: "claude-sonnet-4-5".into(),
        content: vec![
            Block::Thinking(ThinkingBlock {
                thinking: "Plan.".into(),
                signature: Some("sig".into()),
                origin: None,
            }),
            Block::Text(TextBlock::new("Here is the fix.")),
            Block::ToolUse(ToolUse {
                id: "toolu_1".into(),
                name: "shell".into(),
                input: json!({"command": ["ls"]}),
                cache_control: None,
            }),
            Block::ToolUse(ToolUse {
                id: "toolu_2".into(),
                name: "apply_patch".into(),
                input: json!({"input": "*** Begin Patch\n"}),
                cache_control: None,
            }),
        ],
        stop_reason: Some(stop),
        stop_sequence: None,
        usage: Usage {
            web_search_requests: 0,
            input_tokens: 10,
            output_tokens: 20,
            cache_read_tokens: 300,
            cache_write_tokens: 40,
        },
    }
}

#[test]
fn canonical_response_for_a_codex_client() {
    let mut opts = ResponseOptions::for_request(fixture!("codex_request.json").as_bytes());
    opts.response_id = "resp_tg_1".into();
    opts.created_at = 1_741_476_777;
    opts.sealer = Some(Sealer::new(b"k"));
    let mut notes = Vec::new();
    let body: Value = serde_json::from_slice(&encode_response_with(
        &claude_answer(StopReason::ToolUse),
        &opts,
        &mut notes,
    ))
    .unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["usage"]["input_tokens"], 350, "input + cache read + cache write (33)");
    assert_eq!(body["usage"]["input_tokens_details"]["cached_tokens"], 300);
    assert_eq!(body["usage"]["total_tokens"], 370);
    let output = body["output"].as_array().unwrap();
    let kinds: Vec<&str> = output.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["reasoning", "message", "function_call", "custom_tool_call"]);
    assert_eq!(output[2]["call_id"], "toolu_1");
    assert_eq!(output[2]["arguments"], r#"{"command":["ls"]}"#);
    assert_eq!(output[3]["input"], "*** Begin Patch\n");
    // The echo: Codex's own fields come back in the object.
    assert_eq!(body["store"], false);
    assert_eq!(body["prompt_cache_key"], "01a2017e-02dd-7ff1-a6b1-16e8e69aa787");
    let mut body = body;
    body["tools"] = json!("<codex tools>");
    body["output"][0]["encrypted_content"] = json!("<sealed>");
    insta::assert_json_snapshot!(body);
}

#[test]
fn stop_reasons_map_to_status() {
    let mut notes = Vec::new();
    let status = |stop| {
        let body: Value =
            serde_json::from_slice(&encode_response(&claude_answer(stop), &mut Vec::new()))
                .unwrap();
        (
            body["status"].as_str().unwrap().to_owned(),
            body["incomplete_details"]["reason"].as_str().map(str::to_owned),
        )
    };
    assert_eq!(status(StopReason::EndTurn), ("completed".into(), None));
    assert_eq!(status(StopReason::StopSequence), ("completed".into(), None));
    assert_eq!(status(StopReason::PauseTurn), ("completed".into(), None));
    assert_eq!(
        status(StopReason::MaxTokens),
        ("incomplete".into(), Some("max_output_tokens".into()))
    );
    assert_eq!(status(StopReason::Refusal), ("incomplete".into(), Some("content_filter".into())));
    // Without a sealer the thinking still shows, unsealed, and that is noted.
    let body: Value =
        serde_json::from_slice(&encode_response(&claude_answer(StopReason::EndTurn), &mut notes))
            .unwrap();
    assert_eq!(body["output"][0]["summary"][0]["text"], "Plan.");
    assert!(body["output"][0].get("encrypted_content").is_none());
    assert!(!notes.is_empty());
}
