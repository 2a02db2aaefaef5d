//! Catalogue 4.5 and 4.6: stop and finish reasons, usage and prompt caching (cases 31-35).

use serde_json::{Value, json};
use tollgate_wire::canonical::{
    Block, Response, StopReason, StreamBuilder, StreamEvent, TextBlock, ToolUse,
};
use tollgate_wire::{Usage, anthropic, openai, responses};

use crate::{
    build, claude, decode, encode, fixture, for_anthropic, for_chat, for_responses, from_anthropic,
    gpt, json_frames, noted,
};

fn answer(stop: StopReason, with_tool: bool) -> Response {
    let mut content = vec![Block::Text(TextBlock::new("Hi."))];
    if with_tool {
        content.push(Block::ToolUse(ToolUse {
            id: "toolu_1".into(),
            name: "ls".into(),
            input: json!({}),
            cache_control: None,
        }));
    }
    Response {
        id: "msg_1".into(),
        model: "m".into(),
        content,
        stop_reason: Some(stop),
        stop_sequence: None,
        usage: Usage {
            web_search_requests: 0,
            input_tokens: 10,
            cache_write_tokens: 20,
            cache_read_tokens: 30,
            output_tokens: 5,
        },
    }
}

fn chat(resp: &Response) -> Value {
    let mut notes = Vec::new();
    serde_json::from_slice(&openai::convert::encode_response(resp, &mut notes)).unwrap()
}

fn resp_object(resp: &Response) -> Value {
    let mut notes = Vec::new();
    serde_json::from_slice(&responses::encode_response(resp, &mut notes)).unwrap()
}

#[test]
fn case_31_stop_reasons_follow_the_mapping_table() {
    for (stop, tool, finish, status, reason) in [
        (StopReason::EndTurn, false, "stop", "completed", None),
        (StopReason::StopSequence, false, "stop", "completed", None),
        (StopReason::MaxTokens, false, "length", "incomplete", Some("max_output_tokens")),
        (StopReason::ToolUse, true, "tool_calls", "completed", None),
        (StopReason::PauseTurn, false, "stop", "completed", None),
        (StopReason::Refusal, false, "content_filter", "incomplete", Some("content_filter")),
        (
            StopReason::ContextWindowExceeded,
            false,
            "length",
            "incomplete",
            Some("max_output_tokens"),
        ),
    ] {
        let resp = answer(stop.clone(), tool);
        assert_eq!(chat(&resp)["choices"][0]["finish_reason"], finish, "{stop:?}");
        let r = resp_object(&resp);
        assert_eq!(r["status"], status, "{stop:?}");
        assert_eq!(r["incomplete_details"]["reason"].as_str(), reason, "{stop:?}");
        let mut notes = Vec::new();
        let a: Value =
            serde_json::from_slice(&anthropic::convert::encode_response(&resp, &mut notes))
                .unwrap();
        assert_eq!(a["stop_reason"], stop.as_anthropic(), "Anthropic clients keep every reason");
    }
    for (finish, stop) in [
        ("stop", StopReason::EndTurn),
        ("length", StopReason::MaxTokens),
        ("tool_calls", StopReason::ToolUse),
        ("function_call", StopReason::ToolUse),
        ("content_filter", StopReason::Refusal),
    ] {
        assert_eq!(StopReason::from_openai(finish), stop, "{finish}");
    }
    for (reason, stop) in
        [("max_output_tokens", StopReason::MaxTokens), ("content_filter", StopReason::Refusal)]
    {
        let body = json!({"id": "resp_1", "model": "gpt-5", "status": "incomplete",
            "incomplete_details": {"reason": reason}, "output": []});
        let resp = responses::decode_response(body.to_string().as_bytes()).unwrap();
        assert_eq!(resp.stop_reason, Some(stop), "{reason}");
    }
}

#[test]
fn case_32_the_stop_reason_agrees_with_the_tool_calls_emitted() {
    let body = |finish: &str, calls: bool| {
        let mut message = json!({"role": "assistant", "content": "ok"});
        if calls {
            message["tool_calls"] = json!([{"id": "call_1", "type": "function",
                "function": {"name": "ls", "arguments": "{}"}}]);
        }
        json!({"id": "c", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}]})
        .to_string()
    };
    let decoded = |b: String| openai::convert::decode_response(b.as_bytes()).unwrap().stop_reason;
    assert_eq!(decoded(body("stop", true)), Some(StopReason::ToolUse), "a provider that says stop");
    assert_eq!(decoded(body("tool_calls", false)), Some(StopReason::EndTurn));
    assert_eq!(decoded(body("length", true)), Some(StopReason::MaxTokens), "max_tokens is kept");

    let run = |stop: StopReason, tool: bool| {
        let mut events = vec![StreamEvent::MessageStart {
            id: "m".into(),
            model: "m".into(),
            usage: Usage::default(),
        }];
        events.push(StreamEvent::BlockStart { index: 0, block: Block::Text(TextBlock::new("x")) });
        events.push(StreamEvent::BlockStop { index: 0 });
        if tool {
            let block = Block::ToolUse(ToolUse {
                id: "t".into(),
                name: "ls".into(),
                input: json!({}),
                cache_control: None,
            });
            events.push(StreamEvent::BlockStart { index: 1, block });
            events.push(StreamEvent::BlockStop { index: 1 });
        }
        events.push(StreamEvent::MessageDelta {
            stop_reason: Some(stop),
            stop_sequence: None,
            usage: Usage::default(),
        });
        events.push(StreamEvent::MessageStop);
        let mut builder = StreamBuilder::new();
        let mut out = Vec::new();
        events.into_iter().for_each(|e| builder.push(e, &mut out));
        out.iter().find_map(|e| match e {
            StreamEvent::MessageDelta { stop_reason, .. } => stop_reason.clone(),
            _ => None,
        })
    };
    assert_eq!(run(StopReason::ToolUse, false), Some(StopReason::EndTurn), "no tool, no tool_use");
    assert_eq!(run(StopReason::EndTurn, true), Some(StopReason::ToolUse));
    assert_eq!(run(StopReason::MaxTokens, true), Some(StopReason::MaxTokens));
    assert_eq!(run(StopReason::Refusal, false), Some(StopReason::Refusal));
}

#[test]
fn case_33_input_tokens_are_split_and_summed_by_each_dialects_meaning() {
    let resp = answer(StopReason::EndTurn, false);
    let c = chat(&resp);
    assert_eq!(c["usage"]["prompt_tokens"], 60, "input + cache writes + cache reads");
    assert_eq!(c["usage"]["prompt_tokens_details"]["cached_tokens"], 30);
    assert_eq!(
        (c["usage"]["completion_tokens"].as_u64(), c["usage"]["total_tokens"].as_u64()),
        (Some(5), Some(65))
    );
    let r = resp_object(&resp);
    assert_eq!(r["usage"]["input_tokens"], 60);
    assert_eq!(r["usage"]["input_tokens_details"]["cached_tokens"], 30);

    let from_chat = openai::convert::decode_response(
        json!({"id": "c", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107,
                "prompt_tokens_details": {"cached_tokens": 40}}})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let mut notes = Vec::new();
    let a: Value =
        serde_json::from_slice(&anthropic::convert::encode_response(&from_chat, &mut notes))
            .unwrap();
    assert_eq!(
        a["usage"],
        json!({"input_tokens": 60, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 40, "output_tokens": 7})
    );
    let from_r = responses::decode_response(
        json!({"id": "r", "model": "m", "status": "completed", "output": [],
            "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40}, "output_tokens": 7}})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    assert_eq!((from_r.usage.input_tokens, from_r.usage.cache_read_tokens), (60, 40));
}

#[test]
fn case_34_usage_is_asked_of_chat_providers_and_reaches_anthropic_clients_whole() {
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]}));
    assert_eq!(for_chat(&req, &gpt()).0["stream_options"], json!({"include_usage": true}));

    let sse = fixture!("openai", "chat_completion_stream_tool_calls_usage.sse");
    let events = build(decode(openai::codec::Decoder::new(), sse));
    let out = encode(anthropic::codec::Encoder::new(), &events);
    let frames = json_frames(&out);
    let start = &frames.iter().find(|(n, _)| n.as_deref() == Some("message_start")).unwrap().1;
    for key in
        ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens"]
    {
        assert!(start["message"]["usage"].get(key).is_some(), "message_start lacks {key}");
    }
    let delta = &frames.iter().find(|(n, _)| n.as_deref() == Some("message_delta")).unwrap().1;
    assert_eq!(
        delta["usage"],
        json!({"input_tokens": 61, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 16})
    );

    // Anthropic's own message_delta usage is cumulative and may revise the input count.
    let events = decode(
        anthropic::codec::Decoder::new(),
        fixture!("anthropic", "messages_stream_usage_in_delta.sse"),
    );
    let usage = events.iter().find_map(|e| match e {
        StreamEvent::MessageDelta { usage, .. } => Some(*usage),
        _ => None,
    });
    assert_eq!(usage.map(|u| (u.input_tokens, u.output_tokens)), Some((61, 2)));
}

#[test]
fn case_35_cache_control_is_stripped_for_openai_and_kept_for_anthropic() {
    let cc = json!({"type": "ephemeral"});
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100,
        "system": [{"type": "text", "text": "sys", "cache_control": cc}],
        "tools": [{"name": "ls", "input_schema": {"type": "object"}, "cache_control": cc}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": cc}]}]}));
    let (a, _) = for_anthropic(&req, &claude());
    assert_eq!(a.to_string().matches("cache_control").count(), 3);
    let (c, _) = for_chat(&req, &gpt());
    assert!(!c.to_string().contains("cache_control"));
    let (r, notes) = for_responses(&req, &gpt());
    assert!(!r.to_string().contains("cache_control"));
    assert!(noted(&notes, "cache_control dropped"));
}

#[test]
fn case_35_claude_codes_billing_header_goes_only_to_anthropic() {
    let billing =
        "x-anthropic-billing-header: cc_version=2.1.38.713; cc_entrypoint=cli; cch=90d92;";
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100,
        "system": [{"type": "text", "text": billing},
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}]}));
    let (a, _) = for_anthropic(&req, &claude());
    assert_eq!(a["system"][0]["text"], billing);
    let (c, notes) = for_chat(&req, &gpt());
    assert_eq!(c["messages"][0], json!({"role": "system", "content": "You are Claude Code."}));
    assert!(noted(&notes, "billing header"));
    let (r, _) = for_responses(&req, &gpt());
    assert_eq!(r["instructions"], "You are Claude Code.");
    assert!(!r.to_string().contains("cc_version"));
}

#[test]
fn case_33_web_search_requests_survive_an_anthropic_stream_and_response() {
    let sse = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1,"server_tool_use":null}}}"#,
        "\n\nevent: content_block_start\n",
        r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Found it."}}"#,
        "\n\nevent: content_block_stop\n",
        r#"data: {"type":"content_block_stop","index":0}"#,
        "\n\nevent: message_delta\n",
        r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9,"server_tool_use":{"web_search_requests":2}}}"#,
        "\n\nevent: message_stop\n",
        r#"data: {"type":"message_stop"}"#,
        "\n\n",
    );
    let events = build(decode(anthropic::codec::Decoder::new(), sse));
    let out = encode(anthropic::codec::Encoder::new(), &events);
    let frames = json_frames(&out);
    let start = &frames.iter().find(|(n, _)| n.as_deref() == Some("message_start")).unwrap().1;
    assert!(
        start["message"]["usage"].get("server_tool_use").is_none(),
        "no searches yet: the field is left out, not written as zero"
    );
    let delta = &frames.iter().find(|(n, _)| n.as_deref() == Some("message_delta")).unwrap().1;
    assert_eq!(delta["usage"]["server_tool_use"], json!({"web_search_requests": 2}));
    assert_eq!(delta["usage"]["output_tokens"], 9);
    let mut assembler = tollgate_wire::canonical::assemble::Assembler::new();
    events.iter().for_each(|e| assembler.push(e));
    let whole = assembler.finish().unwrap();
    assert_eq!(whole.usage.web_search_requests, 2, "a streamed answer assembled keeps the count");

    let body = json!({"id": "msg_2", "type": "message", "role": "assistant", "model": "m",
        "content": [{"type": "text", "text": "x"}], "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            "output_tokens": 3, "server_tool_use": {"web_search_requests": 1}}});
    let resp = anthropic::convert::decode_response(body.to_string().as_bytes()).unwrap();
    assert_eq!(resp.usage.web_search_requests, 1);
    let mut notes = Vec::new();
    let a: Value =
        serde_json::from_slice(&anthropic::convert::encode_response(&resp, &mut notes)).unwrap();
    assert_eq!(a["usage"]["server_tool_use"], json!({"web_search_requests": 1}));
    // Chat and Responses usage have no such counter: the count is dropped there.
    assert!(chat(&resp)["usage"].get("server_tool_use").is_none());
}
