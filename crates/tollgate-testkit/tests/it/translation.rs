//! Translation behaviours the conformance matrix cannot see from the client side: what reaches
//! the provider (thinking put back for Chat clients, signatures kept only for their issuer,
//! Responses state), errors in the client's shape, and what the history records.

use serde_json::{Value, json};
use tollgate_testkit::TestGateway;
use tollgate_testkit::gateway::sse_events;
use tollgate_testkit::mock::Behaviour;

fn weather_tool_chat() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
}

fn weather_tool_anthropic() -> Value {
    json!([{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
}

/// The request bodies the mock received on `/v1/messages`, newest last.
fn anthropic_upstream(gw: &TestGateway) -> Vec<Value> {
    gw.upstream_requests("/v1/messages").iter().map(|r| r.json()).collect()
}

#[tokio::test]
async fn a_chat_client_continues_a_claude_tool_loop_with_its_thinking_put_back() {
    let gw = TestGateway::start().await;
    let mut messages = vec![json!({"role": "user", "content": "weather in Paris?"})];
    let body = |messages: &Vec<Value>| json!({"model": "claude-sonnet-4-5-20250929", "reasoning_effort": "medium", "messages": messages, "tools": weather_tool_chat()});
    let r: Value = gw.openai(&body(&messages)).send().await.unwrap().json().await.unwrap();
    let msg = &r["choices"][0]["message"];
    assert_eq!(r["choices"][0]["finish_reason"], "tool_calls", "{r}");
    assert!(msg.get("reasoning_content").is_none(), "standard fields only: {msg}");
    let first = anthropic_upstream(&gw).pop().unwrap();
    assert_eq!(first["thinking"]["type"], "enabled", "{first}");

    let call_id = msg["tool_calls"][0]["id"].as_str().unwrap().to_owned();
    messages.push(json!({"role": "assistant", "content": null, "tool_calls": msg["tool_calls"]}));
    messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": "18C"}));
    let r = gw.openai(&body(&messages)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let second = anthropic_upstream(&gw).pop().unwrap();
    // The thinking Claude gave with the call is back at the start of that assistant turn,
    // signature intact (the mock checks it), so thinking stays on for the tool loop.
    let assistant = &second["messages"][1];
    assert_eq!(assistant["content"][0]["type"], "thinking", "{second}");
    assert!(assistant["content"][0]["signature"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(assistant["content"].as_array().unwrap().last().unwrap()["id"], call_id);
    assert_eq!(second["thinking"]["type"], "enabled", "{second}");
}

#[tokio::test]
async fn thinking_goes_back_only_to_the_model_family_that_signed_it() {
    let gw = TestGateway::start().await;
    let ask = json!({"model": "claude-sonnet-4-5-20250929", "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": weather_tool_anthropic(),
        "messages": [{"role": "user", "content": "weather in Paris?"}]});
    // Claude answers (same dialect: passed through) with signed thinking and a call. The
    // gateway relayed it, but only translated streams are remembered, so go through a Chat
    // client to learn the signature's issuer first.
    let r: Value = gw.anthropic(&ask).send().await.unwrap().json().await.unwrap();
    let content = r["content"].clone();
    assert_eq!(content[0]["type"], "thinking");
    let call_id = content.as_array().unwrap().last().unwrap()["id"].as_str().unwrap().to_owned();
    let history = json!([
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "18C"}]}
    ]);
    // The same history sent to a GPT model: the thinking cannot go (and is not forged).
    let to_gpt = json!({"model": "openai:gpt-4o", "max_tokens": 512, "tools": weather_tool_anthropic(), "messages": history});
    let r = gw.anthropic(&to_gpt).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let up = gw.upstream_requests("/v1/chat/completions").pop().unwrap().json();
    assert!(!up.to_string().contains("signature"), "{up}");
    assert_eq!(up["messages"][1]["tool_calls"][0]["id"], call_id);
    assert_eq!(up["messages"][2]["role"], "tool");
}

#[tokio::test]
async fn a_thinking_block_signed_by_another_family_is_stripped_before_claude() {
    // A Chat client on Claude Sonnet gets thinking stored under its tool call; the loop then
    // continues on Claude Haiku, another family: the stored thinking must not be replayed.
    let gw = TestGateway::start().await;
    let mut messages = vec![json!({"role": "user", "content": "weather in Paris?"})];
    let body = |model: &str, messages: &Vec<Value>| json!({"model": model, "reasoning_effort": "medium", "messages": messages, "tools": weather_tool_chat()});
    let r: Value = gw
        .openai(&body("claude-sonnet-4-5-20250929", &messages))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let msg = &r["choices"][0]["message"];
    let call_id = msg["tool_calls"][0]["id"].as_str().unwrap().to_owned();
    messages.push(json!({"role": "assistant", "content": null, "tool_calls": msg["tool_calls"]}));
    messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": "18C"}));
    let r = gw.openai(&body("claude-haiku-4-5-20251001", &messages)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let up = anthropic_upstream(&gw).pop().unwrap();
    assert!(!up.to_string().contains("\"thinking\",\"thinking\""), "{up}");
    assert_ne!(up["messages"][1]["content"][0]["type"], "thinking", "{up}");
    // Without its thinking the tool loop cannot keep thinking on (Anthropic would reject it).
    assert_ne!(up["thinking"]["type"], "enabled", "{up}");
}

#[tokio::test]
async fn codex_style_responses_client_on_claude_replays_sealed_reasoning() {
    let gw = TestGateway::start().await;
    let tools = json!([{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
                       {"type": "custom", "name": "apply_patch", "description": "Apply a patch", "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
                       {"type": "web_search"}]);
    let mut input = vec![
        json!({"role": "user", "content": [{"type": "input_text", "text": "weather in Paris?"}]}),
    ];
    let body = |input: &Vec<Value>| {
        json!({"model": "claude-sonnet-4-5-20250929", "input": input, "tools": tools, "stream": true, "store": false,
        "reasoning": {"effort": "medium", "summary": "auto"}, "include": ["reasoning.encrypted_content"], "parallel_tool_calls": true})
    };
    let text = gw.responses(&body(&input)).send().await.unwrap().text().await.unwrap();
    let events = sse_events(&text);
    let seqs: Vec<u64> = events.iter().filter_map(|(_, d)| d["sequence_number"].as_u64()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "sequence numbers increase by one: {seqs:?}"
    );
    let done = &events.iter().rev().find(|(_, d)| d["type"] == "response.completed").unwrap().1;
    let output = done["response"]["output"].as_array().unwrap().clone();
    assert_eq!(output[0]["type"], "reasoning", "{output:?}");
    assert!(output[0]["encrypted_content"].as_str().unwrap().starts_with("tg1."));
    let call = output.iter().find(|o| o["type"] == "function_call").unwrap().clone();
    // The hosted web_search tool runs on Claude as Anthropic's own web search server tool.
    let first_up = anthropic_upstream(&gw).pop().unwrap();
    let search = first_up["tools"].as_array().unwrap().iter().find(|t| t["name"] == "web_search");
    assert_eq!(search.unwrap()["type"], "web_search_20250305", "{first_up}");
    assert_eq!(first_up["tools"][1]["name"], "apply_patch");

    input.extend(output);
    input
        .push(json!({"type": "function_call_output", "call_id": call["call_id"], "output": "18C"}));
    let r = gw.responses(&body(&input)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("response.completed"), "{text}");
    let second_up = anthropic_upstream(&gw).pop().unwrap();
    let assistant = &second_up["messages"][1];
    assert_eq!(
        assistant["content"][0]["type"], "thinking",
        "sealed thinking unpacked: {second_up}"
    );
    assert_eq!(second_up["thinking"]["type"], "enabled");
}

#[tokio::test]
async fn a_forged_or_foreign_seal_is_not_opened() {
    let gw = TestGateway::start().await;
    let body = json!({"model": "claude-sonnet-4-5-20250929", "store": false, "input": [
        {"role": "user", "content": "hi"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "tg1.eyJmYWtlIjp0cnVlfQ.AAAA"},
        {"role": "assistant", "content": [{"type": "output_text", "text": "hello"}]},
        {"role": "user", "content": "again"}]});
    let r = gw.responses(&body).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let up = anthropic_upstream(&gw).pop().unwrap();
    assert!(!up.to_string().contains("\"type\":\"thinking\""), "{up}");
}

#[tokio::test]
async fn previous_response_id_works_against_a_stateless_provider() {
    let gw = TestGateway::start().await;
    let tools = json!([{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
    let first: Value = gw
        .responses(&json!({"model": "claude-sonnet-4-5-20250929", "input": "weather in Paris?", "tools": tools}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = first["id"].as_str().unwrap();
    assert!(id.starts_with("resp_"), "{first}");
    let call =
        first["output"].as_array().unwrap().iter().find(|o| o["type"] == "function_call").unwrap();
    let second = gw
        .responses(&json!({"model": "claude-sonnet-4-5-20250929", "previous_response_id": id, "tools": tools,
            "input": [{"type": "function_call_output", "call_id": call["call_id"], "output": "18C"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200, "{}", second.text().await.unwrap());
    let up = anthropic_upstream(&gw).pop().unwrap();
    assert_eq!(
        up["messages"].as_array().unwrap().len(),
        3,
        "the kept conversation came first: {up}"
    );
    assert_eq!(up["messages"][0]["content"][0]["text"], "weather in Paris?");

    let r = gw
        .responses(&json!({"model": "claude-sonnet-4-5-20250929", "previous_response_id": "resp_nope", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["param"], "previous_response_id", "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("resp_nope"));
}

#[tokio::test]
async fn a_provider_error_reaches_a_client_of_another_dialect_in_its_own_shape() {
    let gw = TestGateway::start().await;
    gw.mock.enqueue(Behaviour::Status {
        status: 429,
        body: r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#.into(),
        headers: vec![("retry-after".into(), "7".into())],
    });
    let r = gw
        .openai(&json!({"model": "claude-sonnet-4-5-20250929", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["type"], "rate_limit_error", "OpenAI shape: {e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("per-minute rate limit"));

    // A malformed body for the client's own dialect is the client's 400, never a provider call.
    let before = gw.upstream_requests("/v1/messages").len();
    let r = gw
        .openai(&json!({"model": "claude-sonnet-4-5-20250929", "messages": [{"role": "wizard", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"]["message"].as_str().unwrap().contains("role"), "{e}");
    assert_eq!(gw.upstream_requests("/v1/messages").len(), before);
}

#[tokio::test]
async fn count_tokens_for_a_model_without_the_endpoint_is_a_local_estimate() {
    let gw = TestGateway::builder().every_dialect().start().await;
    let body = json!({"model": "gemini-2.5-flash", "tools": weather_tool_anthropic(),
        "messages": [{"role": "user", "content": [{"type": "text", "text": "what is in this picture?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}]});
    let r = gw
        .client
        .post(gw.url("/v1/messages/count_tokens"))
        .header("x-api-key", tollgate_testkit::gateway::KEY)
        .header("anthropic-version", "2023-06-01")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["input_tokens"].as_u64().unwrap() > 1_000, "the image counts: {v}");
}

#[tokio::test]
async fn a_translated_exchange_is_recorded_with_both_bodies_and_its_usage() {
    let gw = TestGateway::builder().every_dialect().start().await;
    let r = gw
        .anthropic(&json!({"model": "gemini-2.5-flash", "max_tokens": 256, "stream": true,
            "messages": [{"role": "user", "content": "hello gemini"}]}))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains("event: message_stop"), "{text}");
    let h = gw.history().await;
    let rec = h.iter().find(|r| r.model_requested.as_deref() == Some("gemini-2.5-flash")).unwrap();
    assert_eq!(rec.provider.as_deref(), Some("gemini"));
    assert_eq!(rec.outcome.as_str(), "ok");
    assert_eq!(rec.stop_reason.as_deref(), Some("end_turn"));
    assert!(rec.input_tokens > 0 && rec.output_tokens > 0, "{rec:?}");
    let forwarded: Value = serde_json::from_slice(rec.forwarded_body.as_ref().unwrap()).unwrap();
    assert!(forwarded["contents"].is_array(), "the provider's dialect: {forwarded}");
    let answer = String::from_utf8_lossy(rec.response_body.as_ref().unwrap()).into_owned();
    assert!(answer.contains("event: message_start"), "the client's dialect: {answer}");
}

#[tokio::test]
async fn unsigned_thinking_reaches_an_anthropic_client_marked_and_never_reaches_claude() {
    let gw = TestGateway::builder().every_dialect().start().await;
    let ask = |model: &str, messages: Value| {
        json!({"model": model, "max_tokens": 4096, "thinking": {"type": "enabled", "budget_tokens": 1024},
               "tools": weather_tool_anthropic(), "messages": messages})
    };
    let first_turn = json!([{"role": "user", "content": "weather in Paris?"}]);
    let r: Value = gw
        .anthropic(&ask("ollama-native:qwen3", first_turn.clone()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let content = r["content"].as_array().unwrap().clone();
    assert_eq!(content[0]["type"], "thinking", "{r}");
    assert_eq!(content[0]["signature"], "tollgate-unsigned:ollama-native/qwen3", "{r}");
    let call = content.iter().find(|b| b["type"] == "tool_use").unwrap();
    let history = json!([
        first_turn[0],
        {"role": "assistant", "content": content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "18C"}]}
    ]);
    // Back to Ollama: its own thinking goes back to it, as plain thinking.
    let r = gw.anthropic(&ask("ollama-native:qwen3", history.clone())).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let up = gw.upstream_requests("/api/chat").pop().unwrap().json();
    assert!(
        !up.to_string().contains("tollgate-unsigned"),
        "the stand-in never reaches a provider: {up}"
    );
    assert!(up["messages"][1]["thinking"].as_str().is_some_and(|t| !t.is_empty()), "{up}");
    // On to Claude: same-dialect, but the body is translated so the unsigned block is stripped.
    let r = gw.anthropic(&ask("claude-sonnet-4-5-20250929", history)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let up = anthropic_upstream(&gw).pop().unwrap();
    assert!(!up.to_string().contains("tollgate-unsigned"), "{up}");
    assert_ne!(up["messages"][1]["content"][0]["type"], "thinking", "{up}");
}

#[tokio::test]
async fn a_non_streaming_client_of_another_dialect_is_served_from_an_upstream_stream() {
    let gw = TestGateway::start().await;
    let r = gw
        .openai(&json!({"model": "claude-sonnet-4-5-20250929", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion", "{v}");
    // Long non-streaming requests time out at Anthropic: the gateway streams and assembles (29).
    let up = anthropic_upstream(&gw).pop().unwrap();
    assert_eq!(up["stream"], true, "{up}");
}

#[tokio::test]
async fn the_developer_role_reaches_openai_as_sent_and_other_compatible_servers_as_system() {
    let mock = tollgate_testkit::MockUpstream::start().await;
    let toml = format!(
        "[providers.local]\nbase_url = \"{}\"\napi_key = \"sk-local\"\nmodels = [\"qwen2.5-coder\"]\n",
        mock.openai_url()
    );
    let gw = TestGateway::builder().toml(&toml).start().await;
    let body = |model: &str| json!({"model": model, "messages": [{"role": "developer", "content": "be terse"}, {"role": "user", "content": "hi"}]});
    let r = gw.openai(&body("gpt-4o")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let up = gw.upstream_requests("/v1/chat/completions").pop().unwrap();
    assert_eq!(up.body, body("gpt-4o").to_string().as_bytes(), "OpenAI itself: bytes untouched");

    let r = gw.openai(&body("qwen2.5-coder")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let up = mock.last_request().unwrap().json();
    assert_eq!(up["messages"][0]["role"], "system", "{up}");
    assert_eq!(up["messages"][1]["content"], "hi");
}

#[tokio::test]
async fn tool_names_claude_cannot_take_are_renamed_upstream_and_given_back_to_the_client() {
    // Case 15: MCP-derived names (dots, colons) and names over 64 characters.
    let gw = TestGateway::start().await;
    let mcp = "mcp.github:create_issue";
    let long = format!("mcp__github__{}", "x".repeat(57));
    assert_eq!(long.len(), 70);
    let schema = json!({"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]});
    let tools = json!([
        {"type": "function", "function": {"name": mcp, "parameters": schema}},
        {"type": "function", "function": {"name": long, "parameters": schema}}
    ]);
    let valid = |n: &str| {
        (1..=64).contains(&n.len())
            && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    let mut messages = vec![json!({"role": "user", "content": "file an issue"})];

    // A whole response: the call comes back under the client's name.
    let ask = |messages: &Vec<Value>| json!({"model": "claude-sonnet-4-5-20250929", "messages": messages, "tools": tools});
    let r = gw.openai(&ask(&messages)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r: Value = r.json().await.unwrap();
    let msg = r["choices"][0]["message"].clone();
    assert_eq!(msg["tool_calls"][0]["function"]["name"], mcp, "{r}");
    let up = anthropic_upstream(&gw).pop().unwrap();
    let sent: Vec<&str> =
        up["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(sent.iter().all(|n| valid(n)), "{sent:?}");
    assert_eq!(sent[0], "mcp_github_create_issue");
    assert_ne!(sent[0], sent[1]);

    // The next turn: the history's call is renamed the same way and the loop goes on.
    let call_id = msg["tool_calls"][0]["id"].as_str().unwrap().to_owned();
    messages.push(json!({"role": "assistant", "content": null, "tool_calls": msg["tool_calls"]}));
    messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": "issue #1 filed"}));
    let r = gw.openai(&ask(&messages)).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let up = anthropic_upstream(&gw).pop().unwrap();
    let call = up["messages"][1]["content"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(call["type"], "tool_use", "{up}");
    assert_eq!(call["name"], "mcp_github_create_issue", "{up}");
    assert_eq!(up["messages"][2]["content"][0]["tool_use_id"], call_id, "{up}");

    // Streaming, with `tool_choice` naming the long tool: renamed up, the client's name down.
    let body = json!({"model": "claude-sonnet-4-5-20250929", "stream": true, "tools": tools,
        "tool_choice": {"type": "function", "function": {"name": long}},
        "messages": [{"role": "user", "content": "file an issue"}]});
    let r = gw.openai(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let names: Vec<String> = sse_events(&text)
        .iter()
        .filter_map(|(_, d)| {
            d["choices"][0]["delta"]["tool_calls"][0]["function"]["name"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(names, std::slice::from_ref(&long), "{text}");
    assert!(!text.contains("mcp_github"), "{text}");
    let up = anthropic_upstream(&gw).pop().unwrap();
    let chosen = up["tool_choice"]["name"].as_str().unwrap();
    assert!(valid(chosen) && chosen == up["tools"][1]["name"], "{up}");

    // Without the renaming Claude rejects the names, as the mock does in the API's words.
    let direct = json!({"model": "claude-sonnet-4-5-20250929", "max_tokens": 64,
        "tools": [{"name": mcp, "input_schema": schema}],
        "messages": [{"role": "user", "content": "hi"}]});
    let r = gw.anthropic(&direct).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("tools.0.custom.name: String should match pattern"));
}
