//! Catalogue 4.7-4.9: images, documents, request parameters, and errors in streams (cases
//! 36-44; the server's error bodies and headers are tested in the testkit).

use serde_json::{Value, json};
use tollgate_wire::canonical::StreamEvent;
use tollgate_wire::{anthropic, openai, responses};

use crate::{
    build, claude, decode, encode, fixture, for_anthropic, for_chat, for_responses, from_anthropic,
    from_chat, from_responses, gpt, json_frames, noted,
};

fn user_parts(parts: Value) -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": parts}]})
}

#[test]
fn case_36_data_uris_are_parsed_and_detail_kept_where_the_target_has_it() {
    let req = from_chat(&user_parts(json!([
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ])));
    let (a, notes) = for_anthropic(&req, &claude());
    assert_eq!(
        a["messages"][0]["content"][1],
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}})
    );
    assert_eq!(
        a["messages"][0]["content"][2]["source"],
        json!({"type": "url", "url": "https://example.com/cat.jpg"})
    );
    assert!(noted(&notes, "detail"));
    let (r, _) = for_responses(&req, &gpt());
    let parts = &r["input"][0]["content"];
    assert_eq!(
        parts[1],
        json!({"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"})
    );
    assert!(!r.to_string().contains("base64,data:"), "no double prefix");

    let req = from_responses(&json!({"model": "m", "input": [{"type": "message", "role": "user",
        "content": [{"type": "input_image", "image_url": "data:image/jpeg;base64,/9j/4AAQ", "detail": "low"}]}]}));
    let (c, _) = for_chat(&req, &gpt());
    assert_eq!(
        c["messages"][0]["content"][0],
        json!({"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ", "detail": "low"}})
    );
}

#[test]
fn case_37_documents_map_between_document_file_and_input_file() {
    let req =
        from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [{"role": "user",
        "content": [{"type": "document", "title": "Spec",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="}},
            {"type": "text", "text": "Summarise."}]}]}));
    let (c, _) = for_chat(&req, &gpt());
    assert_eq!(
        c["messages"][0]["content"][0],
        json!({"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjQ=", "filename": "Spec"}})
    );
    let (r, _) = for_responses(&req, &gpt());
    assert_eq!(
        r["input"][0]["content"][0],
        json!({"type": "input_file", "filename": "Spec", "file_data": "data:application/pdf;base64,JVBERi0xLjQ="})
    );

    let req = from_chat(&user_parts(json!([{"type": "file",
        "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjQ=", "filename": "spec.pdf"}}])));
    let (a, _) = for_anthropic(&req, &claude());
    assert_eq!(
        a["messages"][0]["content"][0],
        json!({"type": "document", "title": "spec.pdf",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="}})
    );
}

#[test]
fn case_37_citations_are_dropped_for_openai_never_invented_as_fields() {
    let citation = json!({"type": "char_location", "cited_text": "x", "document_index": 0,
        "start_char_index": 0, "end_char_index": 1});
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "text", "text": "The answer.", "citations": [citation]}]},
        {"role": "user", "content": "more"},
    ]}));
    let (c, _) = for_chat(&req, &gpt());
    assert_eq!(c["messages"][1], json!({"role": "assistant", "content": "The answer."}));
    let (r, notes) = for_responses(&req, &gpt());
    assert!(!r.to_string().contains("char_location"));
    assert!(noted(&notes, "citations dropped"));
}

#[test]
fn case_38_max_tokens_gets_a_default_a_cap_and_each_dialects_name() {
    let req = from_chat(&user_parts(json!("hi")));
    let (a, notes) = for_anthropic(&req, &claude());
    assert_eq!(a["max_tokens"], 8192);
    assert!(noted(&notes, "max_tokens"));

    let req = from_chat(&json!({"model": "m", "max_completion_tokens": 128_001,
        "messages": [{"role": "user", "content": "hi"}]}));
    let mut capped = claude();
    capped.quirks.max_output_tokens = Some(64_000);
    assert_eq!(for_anthropic(&req, &capped).0["max_tokens"], 64_000);

    let req = from_anthropic(&json!({"model": "m", "max_tokens": 32_000,
        "messages": [{"role": "user", "content": "hi"}]}));
    let mut o_series = gpt();
    o_series.quirks.max_completion_tokens = true;
    let (c, _) = for_chat(&req, &o_series);
    assert_eq!(c["max_completion_tokens"], 32_000);
    assert!(c.get("max_tokens").is_none());
    assert_eq!(for_chat(&req, &gpt()).0["max_tokens"], 32_000);
    assert_eq!(for_responses(&req, &gpt()).0["max_output_tokens"], 32_000);
}

#[test]
fn case_39_stop_sequences_map_to_stop_and_the_matched_one_survives_for_anthropic() {
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100,
        "stop_sequences": ["END", "  ", "a", "b", "c"],
        "messages": [{"role": "user", "content": "hi"}]}));
    let (c, notes) = for_chat(&req, &gpt());
    assert_eq!(c["stop"], json!(["END", "a", "b", "c"]), "whitespace-only dropped, at most four");
    assert!(noted(&notes, "whitespace-only"));
    let (r, notes) = for_responses(&req, &gpt());
    assert!(r.get("stop").is_none() && r.get("stop_sequences").is_none());
    assert!(noted(&notes, "stop_sequences dropped"), "never dropped silently");

    let req = from_chat(
        &json!({"model": "m", "stop": "###", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(for_anthropic(&req, &claude()).0["stop_sequences"], json!(["###"]));

    let resp = anthropic::convert::decode_response(
        json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
            "content": [{"type": "text", "text": "one two"}], "stop_reason": "stop_sequence",
            "stop_sequence": "END", "usage": {"input_tokens": 1, "output_tokens": 2}})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let mut notes = Vec::new();
    let a: Value =
        serde_json::from_slice(&anthropic::convert::encode_response(&resp, &mut notes)).unwrap();
    assert_eq!(
        (a["stop_reason"].as_str(), a["stop_sequence"].as_str()),
        (Some("stop_sequence"), Some("END"))
    );
    let c: Value =
        serde_json::from_slice(&openai::convert::encode_response(&resp, &mut notes)).unwrap();
    assert_eq!(c["choices"][0]["finish_reason"], "stop");
}

#[test]
fn case_40_sampling_is_clamped_dropped_or_refused_per_target() {
    let req = from_chat(&json!({"model": "m", "temperature": 1.7, "top_p": 0.9, "seed": 7,
        "presence_penalty": 0.5, "response_format": {"type": "json_schema",
            "json_schema": {"name": "out", "schema": {"type": "object"}}},
        "messages": [{"role": "user", "content": "hi"}]}));
    let (a, notes) = for_anthropic(&req, &claude());
    assert_eq!((a["temperature"].as_f64(), a["top_p"].as_f64()), (Some(1.0), Some(0.9)));
    assert!(a.get("seed").is_none() && a.get("presence_penalty").is_none());
    assert!(noted(&notes, "seed"), "{notes:?}");
    assert_eq!(
        a["output_config"]["format"],
        json!({"type": "json_schema", "schema": {"type": "object"}})
    );

    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "top_k": 40,
        "messages": [{"role": "user", "content": "hi"}]}));
    let (c, notes) = for_chat(&req, &gpt());
    assert!(c.get("top_k").is_none());
    assert!(noted(&notes, "top_k"));
    assert!(for_responses(&req, &gpt()).0.get("top_k").is_none());

    let err = openai::convert::decode_request(
        json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "hi"}]})
            .to_string()
            .as_bytes(),
    )
    .unwrap_err();
    assert_eq!(err.path.as_deref(), Some("n"));
}

#[test]
fn case_41_metadata_user_id_is_the_end_user_and_the_rest_stays_anthropics() {
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100,
        "metadata": {"user_id": "user_abc_account_x_session_y", "team": "core"},
        "messages": [{"role": "user", "content": "hi"}]}));
    let (c, notes) = for_chat(&req, &gpt());
    assert_eq!(c["user"], "user_abc_account_x_session_y");
    assert!(c.get("metadata").is_none(), "OpenAI's metadata means something else");
    assert!(noted(&notes, "metadata"));
    let (r, _) = for_responses(&req, &gpt());
    assert_eq!(r["user"], "user_abc_account_x_session_y");
    assert!(r.get("metadata").is_none());

    let req = from_chat(
        &json!({"model": "m", "user": "u-42", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(for_anthropic(&req, &claude()).0["metadata"], json!({"user_id": "u-42"}));
}

#[test]
fn case_42_beta_body_fields_never_travel_without_their_header() {
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100,
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
        "mcp_servers": [{"type": "url", "url": "https://mcp.example.com", "name": "x"}],
        "messages": [{"role": "user", "content": "hi"}]}));
    let (a, notes) = for_anthropic(&req, &claude());
    assert!(a.get("context_management").is_none() && a.get("mcp_servers").is_none());
    assert!(noted(&notes, "anthropic-beta"));
    let (c, _) = for_chat(&req, &gpt());
    assert!(c.get("context_management").is_none());
}

#[test]
fn case_43_and_44_an_overloaded_provider_mid_stream_fails_each_client_in_its_own_shape() {
    let events = build(decode(
        anthropic::codec::Decoder::new(),
        fixture!("anthropic", "messages_stream_error.sse"),
    ));
    assert!(
        matches!(events.last(), Some(StreamEvent::Error { kind, .. }) if kind == "overloaded_error")
    );

    let a = encode(anthropic::codec::Encoder::new(), &events);
    assert!(a.ends_with("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"));
    assert!(!a.contains("message_stop"), "no message_stop follows an error");

    let c = encode(openai::codec::Encoder::new(), &events);
    let (_, last) = json_frames(&c).pop().unwrap();
    assert_eq!(last["error"]["type"], "server_error", "529 has no OpenAI type");
    assert_eq!(last["error"]["code"], "overloaded");
    assert!(!c.contains("[DONE]"));

    let r = encode(responses::codec::Encoder::new(), &events);
    let kinds: Vec<String> =
        json_frames(&r).into_iter().map(|(_, v)| v["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds[kinds.len() - 2..], ["error", "response.failed"]);
}

#[test]
fn case_44_mid_stream_failures_of_openai_providers_are_errors() {
    let chat = decode(
        openai::codec::Decoder::new(),
        fixture!("openai", "chat_completion_stream_error.sse"),
    );
    assert!(
        matches!(chat.last(), Some(StreamEvent::Error { kind, .. }) if kind == "api_error"),
        "{chat:?}"
    );
    for sse in
        [fixture!("responses", "stream_failed.sse"), fixture!("responses", "stream_error.sse")]
    {
        let events = decode(responses::codec::Decoder::new(), sse);
        assert!(matches!(events.last(), Some(StreamEvent::Error { .. })), "{events:?}");
        assert!(!events.iter().any(|e| matches!(e, StreamEvent::MessageStop)));
    }
}

/// The Anthropic body's first user content for a Chat client's parts.
fn anthropic_parts(parts: Value) -> (Value, Vec<String>) {
    let (a, notes) = for_anthropic(&from_chat(&user_parts(parts)), &claude());
    (a["messages"][0]["content"].clone(), notes)
}

#[test]
fn case_36_images_anthropic_does_not_take_become_a_text_stand_in() {
    // An SVG: not one of jpeg, png, gif, webp.
    let (content, notes) = anthropic_parts(json!([
        {"type": "image_url", "image_url": {"url": "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]));
    assert_eq!(
        content[0],
        json!({"type": "text", "text": "[image of type image/svg+xml omitted: Anthropic does not accept it]"})
    );
    assert_eq!(content[1]["source"]["media_type"], "image/png", "an accepted type goes through");
    assert!(noted(&notes, "image of type image/svg+xml omitted"));

    // Over 5 MiB of base64: Anthropic's 400 would repeat on every later turn of the session.
    let big = "A".repeat(5 * 1024 * 1024 + 4);
    let (content, notes) = anthropic_parts(json!([
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{big}")}},
        {"type": "text", "text": "and this?"},
    ]));
    assert_eq!(content[0]["type"], "text");
    assert!(content[0]["text"].as_str().unwrap().contains("over Anthropic's 5 MB limit"));
    assert_eq!(content[1]["text"], "and this?");
    assert!(noted(&notes, "over Anthropic's 5 MB limit"));
    // Exactly at the limit it goes.
    let at_limit = "A".repeat(5 * 1024 * 1024);
    let (content, _) = anthropic_parts(json!([
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{at_limit}")}},
    ]));
    assert_eq!(content[0]["type"], "image");

    // Alone in the turn: the stand-in keeps the turn from being empty.
    let (content, _) = anthropic_parts(json!([
        {"type": "image_url", "image_url": {"url": "data:image/tiff;base64,SUkqAA=="}},
    ]));
    assert_eq!(content.as_array().map(Vec::len), Some(1));
    assert!(content[0]["text"].as_str().unwrap().contains("image/tiff"));
}

#[test]
fn case_36_a_data_uri_without_base64_is_a_url_never_mangled() {
    let svg = "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg'/>";
    let req = from_chat(&user_parts(json!([{"type": "image_url", "image_url": {"url": svg}}])));
    // Chat and Responses take it back as the same URL.
    let (c, _) = for_chat(&req, &gpt());
    assert_eq!(c["messages"][0]["content"][0]["image_url"]["url"], svg);
    let (r, _) = for_responses(&req, &gpt());
    assert_eq!(r["input"][0]["content"][0]["image_url"], svg);
    // Anthropic takes only http(s) URLs and none of SVG: a stand-in, noted.
    let (a, notes) = for_anthropic(&req, &claude());
    assert_eq!(
        a["messages"][0]["content"][0],
        json!({"type": "text", "text": "[image of type image/svg+xml omitted: Anthropic does not accept it]"})
    );
    assert!(noted(&notes, "omitted"));
    // Gemini: not a file URI; dropped with a note.
    let mut notes = Vec::new();
    let g: Value = serde_json::from_slice(&tollgate_wire::gemini::convert::encode_request(
        &req,
        &gpt(),
        &mut notes,
    ))
    .unwrap();
    assert!(!g.to_string().contains("svg+xml,"));
    assert!(notes.iter().any(|n| n.0.contains("non-base64 data URI")));
    // Parameters before `;base64` are not part of the media type.
    let req = from_chat(&user_parts(json!([{"type": "image_url",
        "image_url": {"url": "data:image/png;name=a.png;base64,iVBORw0KGgo="}}])));
    let (a, _) = for_anthropic(&req, &claude());
    assert_eq!(
        a["messages"][0]["content"][0]["source"],
        json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="})
    );
}

#[test]
fn case_37_document_context_and_citations_survive_anthropic_to_anthropic() {
    let doc = json!({"type": "document", "title": "Spec", "context": "Internal, 2024 edition",
        "citations": {"enabled": true},
        "source": {"type": "text", "media_type": "text/plain", "data": "The sky is blue."}});
    let req = from_anthropic(&json!({"model": "m", "max_tokens": 100, "messages": [
        {"role": "user", "content": [doc.clone(), {"type": "text", "text": "Colour?"}]}]}));
    let (a, _) = for_anthropic(&req, &claude());
    assert_eq!(a["messages"][0]["content"][0], doc);
    // Through the canonical model's own serialisation (the store's record) too.
    let again: tollgate_wire::canonical::Request =
        serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
    assert_eq!(for_anthropic(&again, &claude()).0["messages"][0]["content"][0], doc);

    for (body, notes) in [for_chat(&req, &gpt()), for_responses(&req, &gpt())] {
        assert!(!body.to_string().contains("2024 edition"));
        assert!(noted(&notes, "document `context` and `citations` dropped"), "{notes:?}");
    }
}
