//! The Gemini mock checked from the outside: shapes, validation the way the API validates, the
//! thought-signature rules of Gemini 3, and its streams read back by Tollgate's own decoder.

use serde_json::{Value, json};
use tollgate_wire::canonical::{StopReason, StreamDecoder, StreamEvent};
use tollgate_wire::gemini::codec::Decoder;
use tollgate_wire::sse::SseDecoder;

use super::conversation::REPLY_PREFIX;
use super::{Behaviour, MockUpstream, gemini};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn call(
    mock: &MockUpstream,
    method: &str,
    key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut request = client().post(format!("{}/models/{method}", mock.gemini_url())).json(body);
    if let Some(key) = key {
        request = request.header("x-goog-api-key", key);
    }
    request.send().await.unwrap()
}

async fn generate(mock: &MockUpstream, model: &str, body: &Value) -> (u16, Value) {
    let response = call(mock, &format!("{model}:generateContent"), Some("AIza-test"), body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The stream's events as Tollgate's decoder reads them.
async fn stream(mock: &MockUpstream, model: &str, body: &Value) -> (Vec<Value>, Vec<StreamEvent>) {
    let response =
        call(mock, &format!("{model}:streamGenerateContent?alt=sse"), Some("AIza-test"), body)
            .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let bytes = response.bytes().await.unwrap();
    let mut frames = Vec::new();
    SseDecoder::new().feed(&bytes, &mut frames);
    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    for frame in &frames {
        decoder.decode(frame, &mut events);
    }
    decoder.finish(&mut events);
    let chunks = frames.iter().map(|f| serde_json::from_str(&f.data).unwrap()).collect();
    (chunks, events)
}

fn weather_tools() -> Value {
    json!([{"functionDeclarations": [{
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    }]}])
}

fn ask(text: &str) -> Value {
    json!({"role": "user", "parts": [{"text": text}]})
}

#[test]
fn gemini_fixtures_load() {
    if let Err(error) = gemini::load() {
        panic!("{error}");
    }
}

#[tokio::test]
async fn text_answers_have_the_recorded_shape() {
    let mock = MockUpstream::start().await;
    let (status, body) =
        generate(&mock, "gemini-2.5-flash", &json!({"contents": [ask("hi there")]})).await;
    assert_eq!(status, 200);
    let candidate = &body["candidates"][0];
    assert_eq!(candidate["content"]["role"], "model");
    assert_eq!(
        candidate["content"]["parts"][0],
        json!({"text": format!("{REPLY_PREFIX}hi there")})
    );
    assert_eq!(candidate["finishReason"], "STOP");
    assert_eq!(body["modelVersion"], "gemini-2.5-flash");
    assert_eq!(body["responseId"].as_str().unwrap().len(), 23);
    let usage = &body["usageMetadata"];
    assert!(usage["promptTokenCount"].as_u64().unwrap() >= 1);
    assert!(usage.get("thoughtsTokenCount").is_none());

    // Gemini 3 signs even a plain answer.
    let (_, body) =
        generate(&mock, "gemini-3-pro-preview", &json!({"contents": [ask("hi")]})).await;
    assert_eq!(
        body["candidates"][0]["content"]["parts"][0]["thoughtSignature"],
        gemini::issued_signature()
    );
    let recorded = mock.last_request().unwrap();
    assert_eq!(recorded.path, "/v1beta/models/gemini-3-pro-preview:generateContent");
}

#[tokio::test]
async fn keys_are_checked_like_the_api() {
    let mock = MockUpstream::start().await;
    let body = json!({"contents": [ask("hi")]});
    let response = call(&mock, "gemini-2.5-flash:generateContent", None, &body).await;
    assert_eq!(response.status(), 403);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["status"], "PERMISSION_DENIED");

    let response =
        call(&mock, "gemini-2.5-flash:generateContent", Some("invalid-key"), &body).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["message"], "API key not valid. Please pass a valid API key.");
    assert_eq!(error["error"]["details"][0]["reason"], "API_KEY_INVALID");

    let response = client()
        .post(format!(
            "{}/models/gemini-2.5-flash:generateContent?key=AIza-query",
            mock.gemini_url()
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn rejected(mock: &MockUpstream, model: &str, body: Value) -> String {
    let (status, error) = generate(mock, model, &body).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    assert!(error["error"].get("details").is_none());
    error["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn requests_are_validated_like_the_api() {
    let mock = MockUpstream::start().await;
    let mut tools = weather_tools();
    tools[0]["functionDeclarations"][0]["parameters"]["additionalProperties"] = json!(false);
    tools[0]["functionDeclarations"][0]["parameters"]["$schema"] =
        json!("http://json-schema.org/draft-07/schema#");
    let message =
        rejected(&mock, "gemini-2.5-flash", json!({"contents": [ask("hi")], "tools": tools})).await;
    assert!(message.contains(
        "Invalid JSON payload received. Unknown name \"additionalProperties\" at 'tools[0].function_declarations[0].parameters': Cannot find field."
    ), "{message}");
    assert!(message.contains("Unknown name \"$schema\""), "{message}");

    let mut tools = weather_tools();
    tools[0]["functionDeclarations"][0]["parameters"]["properties"]["city"]["type"] =
        json!(["string", "null"]);
    let message =
        rejected(&mock, "gemini-2.5-flash", json!({"contents": [ask("hi")], "tools": tools})).await;
    assert_eq!(
        message,
        "Invalid JSON payload received. Proto field is not repeating, cannot start list."
    );

    let message = rejected(
        &mock,
        "gemini-2.5-flash",
        json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
    )
    .await;
    assert_eq!(message, "Please use a valid role: user, model.");
    let message =
        rejected(&mock, "gemini-2.5-flash", json!({"contents": [{"role": "user", "parts": []}]}))
            .await;
    assert!(message.contains("contents.parts must not be empty"), "{message}");
    let message =
        rejected(&mock, "gemini-2.5-flash", json!({"contents": [], "stream": true})).await;
    assert!(message.contains("contents is not specified"), "{message}");
    let message =
        rejected(&mock, "gemini-2.5-flash", json!({"contents": [ask("hi")], "messages": []})).await;
    assert!(message.contains("Unknown name \"messages\": Cannot find field."), "{message}");

    // A function response must answer a call of the turn right before it, by name.
    let orphan = json!({"contents": [
        ask("hi"),
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "x"}}}]}
    ], "tools": weather_tools()});
    let message = rejected(&mock, "gemini-2.5-flash", orphan).await;
    assert_eq!(
        message,
        "Please ensure that function response turn comes immediately after a function call turn."
    );
}

fn loop_history(call_part: Value) -> Value {
    json!({"contents": [
        ask("Weather in Paris?"),
        {"role": "model", "parts": [call_part]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "18C"}}}]}
    ], "tools": weather_tools()})
}

#[tokio::test]
async fn gemini_3_demands_its_thought_signatures_back() {
    let mock = MockUpstream::start().await;
    let model = "gemini-3-pro-preview";
    let (status, answer) = generate(
        &mock,
        model,
        &json!({"contents": [ask("Weather in Paris?")], "tools": weather_tools()}),
    )
    .await;
    assert_eq!(status, 200);
    let part = answer["candidates"][0]["content"]["parts"][0].clone();
    assert_eq!(part["functionCall"], json!({"name": "get_weather", "args": {"city": "test"}}));
    assert_eq!(part["thoughtSignature"], gemini::issued_signature());
    assert_eq!(answer["candidates"][0]["finishMessage"], "Model generated function call(s).");

    // Replayed as received: accepted, answered with text.
    let (status, text) = generate(&mock, model, &loop_history(part.clone())).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with(REPLY_PREFIX)
    );

    let mut unsigned = part.clone();
    unsigned.as_object_mut().unwrap().remove("thoughtSignature");
    let message = rejected(&mock, model, loop_history(unsigned.clone())).await;
    assert!(
        message.starts_with("Function call is missing a thought_signature in functionCall parts."),
        "{message}"
    );
    assert!(message.contains("`default_api:get_weather`"), "{message}");

    let mut forged = part.clone();
    forged["thoughtSignature"] = json!("Zm9yZ2Vk");
    assert_eq!(rejected(&mock, model, loop_history(forged)).await, "Corrupted thought signature.");

    let mut placeholder = part;
    placeholder["thoughtSignature"] = json!("skip_thought_signature_validator");
    assert_eq!(generate(&mock, model, &loop_history(placeholder)).await.0, 200);

    // Earlier turns are not validated, and 2.x models do not enforce at all.
    let mut later = loop_history(unsigned.clone());
    later["contents"]
        .as_array_mut()
        .unwrap()
        .push(json!({"role": "model", "parts": [{"text": "18C."}]}));
    later["contents"].as_array_mut().unwrap().push(ask("thanks"));
    assert_eq!(generate(&mock, model, &later).await.0, 200);
    assert_eq!(generate(&mock, "gemini-2.5-flash", &loop_history(unsigned)).await.0, 200);
}

#[tokio::test]
async fn streams_decode_into_a_whole_turn() {
    let mock = MockUpstream::start().await;
    let (chunks, events) =
        stream(&mock, "gemini-2.5-flash", &json!({"contents": [ask("stream this please")]})).await;
    assert!(chunks.len() >= 3);
    assert!(
        chunks[..chunks.len() - 1].iter().all(|c| c["candidates"][0].get("finishReason").is_none())
    );
    assert_eq!(chunks.last().unwrap()["candidates"][0]["finishReason"], "STOP");
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::BlockDelta { delta: tollgate_wire::canonical::Delta::Text(t), .. } => {
                Some(t.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(text, format!("{REPLY_PREFIX}stream this please"));
    assert!(matches!(events.last(), Some(StreamEvent::MessageStop)));

    // Thinking on a Gemini 3 model with tools: thought parts, then the signed call.
    let body = json!({"contents": [ask("Weather?")], "tools": weather_tools(),
                      "generationConfig": {"thinkingConfig": {"includeThoughts": true, "thinkingLevel": "high"}}});
    let (chunks, events) = stream(&mock, "gemini-3-flash-preview", &body).await;
    assert_eq!(chunks[0]["candidates"][0]["content"]["parts"][0]["thought"], true);
    let thinking = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                StreamEvent::BlockDelta { delta: tollgate_wire::canonical::Delta::Thinking(_), .. }
            )
        })
        .count();
    assert_eq!(thinking, 2);
    assert!(events.iter().any(|e| matches!(e, StreamEvent::BlockDelta { delta: tollgate_wire::canonical::Delta::Signature(s), .. } if *s == gemini::issued_signature())));
    assert!(events.iter().any(|e| matches!(
        e,
        StreamEvent::MessageDelta { stop_reason: Some(StopReason::ToolUse), .. }
    )));

    // The whole answer with thinking carries the thought parts too.
    let (_, whole) = generate(&mock, "gemini-2.5-flash", &body).await;
    assert_eq!(whole["candidates"][0]["content"]["parts"][0]["thought"], true);
    assert!(whole["usageMetadata"]["thoughtsTokenCount"].as_u64().unwrap() > 0);

    // Without alt=sse the same chunks come as one JSON array.
    let response = call(
        &mock,
        "gemini-2.5-flash:streamGenerateContent",
        Some("AIza-test"),
        &json!({"contents": [ask("hi")]}),
    )
    .await;
    let array: Value = response.json().await.unwrap();
    assert!(array.as_array().unwrap().len() >= 2);
}

#[tokio::test]
async fn a_mid_stream_failure_is_googles_error_object() {
    let mock = MockUpstream::start().await;
    mock.enqueue(Behaviour::MidStreamError { after_events: 1 });
    let (chunks, events) = stream(
        &mock,
        "gemini-2.5-flash",
        &json!({"contents": [ask("one two three four five six seven")]}),
    )
    .await;
    assert_eq!(chunks.last().unwrap()["error"]["status"], "UNAVAILABLE");
    assert!(
        matches!(events.last(), Some(StreamEvent::Error { kind, .. }) if kind == "overloaded_error")
    );

    mock.enqueue(Behaviour::MidStreamError { after_events: 0 });
    let (status, body) =
        generate(&mock, "gemini-2.5-flash", &json!({"contents": [ask("hi")]})).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], 503);

    let response = client().get(format!("{}/models", mock.gemini_url())).send().await.unwrap();
    assert_eq!(response.status(), 404);
}
