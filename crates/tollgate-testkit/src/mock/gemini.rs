//! The Gemini API dialect (`POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent`): requests validated the way the API validates them (Google's error
//! object, its messages), answers and streams rendered from the `fixtures/gemini` templates, and
//! the headers Google's front end sends. What the mock answers is decided in `conversation`.
//!
//! Keys: `x-goog-api-key` or `?key=`; none is a 403, a key containing `invalid` is the documented
//! `API_KEY_INVALID` 400. Models named `gemini-3*` check thought signatures the way the API does:
//! in the current turn, the first function call of each model step must carry the signature the
//! mock issued (or the documented `skip_thought_signature_validator`).

use std::sync::LazyLock;

use http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::conversation::{
    Conversation, LastTurn, Plan, Tool, ToolChoice, text_deltas, token_estimate,
};
use super::ids;
use super::json::Json;
use super::server::{Reply, insert_header};
use super::sse::{self, SseEvent};

/// Thought signatures the API documents for history it did not produce.
const FOREIGN_SIGNATURES: [&str; 2] =
    ["skip_thought_signature_validator", "context_engineering_is_the_way_to_go"];
const NO_KEY: &str = "Method doesn't allow unregistered callers (callers without established \
    identity). Please use API Key or other form of API consumer identity to call this API.";
const SIGNATURE_DOCS: &str = "https://ai.google.dev/gemini-api/docs/thought-signatures";

struct Templates {
    text: Json,
    function_call: Json,
    text_chunk: Json,
    final_chunk: Json,
    call_chunk: Json,
    error: Json,
    /// The signature the mock puts on what it generates, from the recorded function-call answer.
    signature: String,
}

fn templates() -> &'static Templates {
    static TEMPLATES: LazyLock<Templates> = LazyLock::new(load_compiled_in);
    &TEMPLATES
}

#[expect(
    clippy::expect_used,
    reason = "compiled-in fixtures; tests::gemini_fixtures_load proves they parse"
)]
fn load_compiled_in() -> Templates {
    load_templates().expect("the compiled-in Gemini fixtures parse")
}

#[cfg(test)]
pub(crate) fn load() -> Result<(), String> {
    let _ = load_templates()?;
    Ok(())
}

fn load_templates() -> Result<Templates, String> {
    let json =
        |name: &str, text: &str| Json::parse(text).map_err(|e| format!("gemini/{name}: {e}"));
    let chunks = |name: &str, text: &str| -> Result<Vec<Json>, String> {
        sse::parse(text).iter().map(|e| json(name, &e.data)).collect()
    };
    let text = json(
        "generate_content_text.json",
        include_str!("../../fixtures/gemini/generate_content_text.json"),
    )?;
    let function_call = json(
        "generate_content_function_call.json",
        include_str!("../../fixtures/gemini/generate_content_function_call.json"),
    )?;
    let text_stream =
        chunks("stream_text.sse", include_str!("../../fixtures/gemini/stream_text.sse"))?;
    let call_stream = chunks(
        "stream_function_call.sse",
        include_str!("../../fixtures/gemini/stream_function_call.sse"),
    )?;
    let signature = function_call["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
        .as_str()
        .ok_or("gemini/generate_content_function_call.json: no thoughtSignature")?
        .to_owned();
    Ok(Templates {
        text,
        function_call,
        text_chunk: text_stream.first().cloned().ok_or("gemini/stream_text.sse: empty")?,
        final_chunk: text_stream.last().cloned().ok_or("gemini/stream_text.sse: empty")?,
        call_chunk: call_stream.first().cloned().ok_or("gemini/stream_function_call.sse: empty")?,
        error: json("error.json", include_str!("../../fixtures/gemini/error.json"))?,
        signature,
    })
}

/// `POST /v1beta/models/{model}:{method}?{query}`.
pub(crate) fn generate(
    headers: &HeaderMap,
    model: &str,
    method: &str,
    query: &str,
    body: &[u8],
) -> Reply {
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        other => return not_found(&format!("models/{model}:{other}")),
    };
    let sse = query_param(query, "alt") == Some("sse");
    match parse(headers, query, model, body) {
        Err(rejection) => rejection.render(),
        Ok(mut conversation) => {
            conversation.stream = stream;
            let plan = conversation.plan();
            let answer = Answer::new(&conversation, &plan);
            match (stream, sse) {
                (false, _) => Reply::json(StatusCode::OK, &answer.whole()),
                (true, true) => Reply::Stream {
                    events: answer
                        .chunks()
                        .into_iter()
                        .map(|c| SseEvent::unnamed(c.to_string()))
                        .collect(),
                },
                // Without `alt=sse` the API streams one JSON array of the same chunks.
                (true, false) => Reply::json(StatusCode::OK, &Json::Array(answer.chunks())),
            }
        }
    }
}

pub(crate) fn not_found(what: &str) -> Reply {
    let message = format!(
        "{what} is not found for API version v1beta, or is not supported for generateContent."
    );
    Rejection::new(StatusCode::NOT_FOUND, "NOT_FOUND", message).render()
}

/// What a non-streaming request gets when the model is overloaded (HTTP 503).
pub(crate) fn overloaded() -> Reply {
    overloaded_rejection().render()
}

fn overloaded_rejection() -> Rejection {
    Rejection::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "UNAVAILABLE",
        "The model is overloaded. Please try again later.",
    )
}

/// `data: {"error": {...}}`, Google's error object inside the stream.
pub(crate) fn stream_error_event() -> SseEvent {
    SseEvent::unnamed(overloaded_rejection().body().to_string())
}

/// The headers of Google's front end; there is no request-id header.
pub(crate) fn response_headers(streaming: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let content_type =
        if streaming { "text/event-stream" } else { "application/json; charset=UTF-8" };
    insert_header(&mut headers, "content-type", content_type);
    insert_header(&mut headers, "vary", "Origin, X-Origin, Referer");
    insert_header(&mut headers, "server", "scaffolding on HTTPServer2");
    insert_header(&mut headers, "x-xss-protection", "0");
    insert_header(&mut headers, "x-frame-options", "SAMEORIGIN");
    insert_header(&mut headers, "x-content-type-options", "nosniff");
    headers
}

/// A refusal in Google's error object.
struct Rejection {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Keep the documented `details` (the API-key error is the documented example).
    details: bool,
}

impl Rejection {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Rejection { status, code, message: message.into(), details: false }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
    }

    fn body(&self) -> Json {
        let mut body = templates().error.clone();
        body["error"]["code"] = u64::from(self.status.as_u16()).into();
        body["error"]["message"] = self.message.clone().into();
        body["error"]["status"] = self.code.into();
        if !self.details {
            body["error"].retain(|key| key != "details");
        }
        body
    }

    fn render(&self) -> Reply {
        Reply::json(self.status, &self.body())
    }
}

fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn authenticate(headers: &HeaderMap, query: &str) -> Result<(), Rejection> {
    let header = headers.get("x-goog-api-key").and_then(|v| v.to_str().ok());
    let key = header.or_else(|| query_param(query, "key")).map(str::trim).unwrap_or_default();
    if key.is_empty() {
        return Err(Rejection::new(StatusCode::FORBIDDEN, "PERMISSION_DENIED", NO_KEY));
    }
    if key.contains("invalid") {
        let message = templates().error["error"]["message"].as_str().unwrap_or_default().to_owned();
        return Err(Rejection { details: true, ..Rejection::invalid(message) });
    }
    Ok(())
}

/// Reads both spellings the API accepts (`systemInstruction` and `system_instruction`).
fn field<'v>(object: &'v Value, camel: &str) -> &'v Value {
    match &object[camel] {
        Value::Null => &object[snake(camel).as_str()],
        found => found,
    }
}

fn snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Google's proto-JSON parser rejects names the message does not have, with this message.
fn check_names(object: &Value, known: &[&str], at: &str, errors: &mut Vec<String>) {
    let Some(members) = object.as_object() else { return };
    for key in members.keys() {
        if !known.iter().any(|k| k == key || snake(k) == *key) {
            errors.push(if at.is_empty() {
                format!("Invalid JSON payload received. Unknown name \"{key}\": Cannot find field.")
            } else {
                format!("Invalid JSON payload received. Unknown name \"{key}\" at '{at}': Cannot find field.")
            });
        }
    }
}

const REQUEST_FIELDS: [&str; 7] = [
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "cachedContent",
];
const PART_FIELDS: [&str; 10] = [
    "text",
    "thought",
    "thoughtSignature",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "videoMetadata",
];
const SCHEMA_FIELDS: [&str; 22] = [
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];
const GENERATION_FIELDS: [&str; 16] = [
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "thinkingConfig",
    "responseModalities",
];

fn parse(
    headers: &HeaderMap,
    query: &str,
    model: &str,
    body: &[u8],
) -> Result<Conversation, Rejection> {
    authenticate(headers, query)?;
    let request: Value = serde_json::from_slice(body)
        .map_err(|_| Rejection::invalid("Invalid JSON payload received. Unexpected token."))?;
    let mut errors = Vec::new();
    check_names(&request, &REQUEST_FIELDS, "", &mut errors);
    let contents = match field(&request, "contents") {
        Value::Array(contents) if !contents.is_empty() => contents.as_slice(),
        _ => {
            return Err(Rejection::invalid(
                "* GenerateContentRequest.contents: contents is not specified\n",
            ));
        }
    };
    check_contents(contents, &mut errors)?;
    let tools = check_tools(field(&request, "tools"), &mut errors)?;
    let config = field(&request, "generationConfig");
    check_names(config, &GENERATION_FIELDS, "generation_config", &mut errors);
    check_names(
        field(config, "thinkingConfig"),
        &["thinkingBudget", "thinkingLevel", "includeThoughts"],
        "generation_config.thinking_config",
        &mut errors,
    );
    check_schema(
        field(config, "responseSchema"),
        "generation_config.response_schema",
        &mut errors,
    )?;
    if !errors.is_empty() {
        return Err(Rejection::invalid(errors.join("\n")));
    }
    if model.starts_with("gemini-3") {
        check_signatures(contents)?;
    }
    let thinking = field(field(config, "thinkingConfig"), "includeThoughts") == true;
    let calling = field(field(&request, "toolConfig"), "functionCallingConfig");
    let tool_choice = match (
        field(calling, "mode").as_str(),
        field(calling, "allowedFunctionNames").as_array(),
    ) {
        (Some("NONE"), _) => ToolChoice::None,
        (_, Some(names)) if names.len() == 1 => {
            names[0].as_str().map_or(ToolChoice::Auto, |n| ToolChoice::Named(n.to_owned()))
        }
        _ => ToolChoice::Auto,
    };
    Ok(Conversation {
        model: model.to_owned(),
        stream: false,
        thinking,
        include_usage: true,
        tools,
        tool_choice,
        last_turn: last_turn(contents),
        body_len: body.len(),
        cache_hint: !field(&request, "cachedContent").is_null(),
    })
}

fn parts(content: &Value) -> &[Value] {
    content["parts"].as_array().map_or(&[], Vec::as_slice)
}

fn calls_of(content: &Value) -> Vec<&str> {
    parts(content).iter().filter_map(|p| field(p, "functionCall")["name"].as_str()).collect()
}

fn responses_of(content: &Value) -> Vec<&str> {
    parts(content).iter().filter_map(|p| field(p, "functionResponse")["name"].as_str()).collect()
}

fn check_contents(contents: &[Value], errors: &mut Vec<String>) -> Result<(), Rejection> {
    for (i, content) in contents.iter().enumerate() {
        match content["role"].as_str() {
            None | Some("user" | "model") => {}
            Some(_) => return Err(Rejection::invalid("Please use a valid role: user, model.")),
        }
        if parts(content).is_empty() {
            return Err(Rejection::invalid(format!(
                "* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"
            )));
        }
        for (j, part) in parts(content).iter().enumerate() {
            check_names(part, &PART_FIELDS, &format!("contents[{i}].parts[{j}]"), errors);
            let has_data = PART_FIELDS.iter().any(|k| {
                !matches!(*k, "thought" | "thoughtSignature") && !field(part, k).is_null()
            });
            if !has_data {
                return Err(Rejection::invalid(format!(
                    "* GenerateContentRequest.contents[{i}].parts[{j}].data: required oneof field 'data' must have one initialized field\n"
                )));
            }
        }
        let answered = responses_of(content);
        if answered.is_empty() {
            continue;
        }
        let calls = match i.checked_sub(1).map(|p| &contents[p]) {
            Some(previous) if previous["role"] == "model" => calls_of(previous),
            _ => Vec::new(),
        };
        if calls.is_empty() || answered.iter().any(|name| !calls.contains(name)) {
            return Err(Rejection::invalid(
                "Please ensure that function response turn comes immediately after a function call turn.",
            ));
        }
        if answered.len() != calls.len() {
            return Err(Rejection::invalid(
                "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.",
            ));
        }
    }
    Ok(())
}

/// The current turn starts after the last user content with standard content (not only function
/// responses); each model step in it must sign its first function call.
fn check_signatures(contents: &[Value]) -> Result<(), Rejection> {
    let start = contents
        .iter()
        .rposition(|c| {
            c["role"] != "model" && parts(c).iter().any(|p| field(p, "functionResponse").is_null())
        })
        .map_or(0, |i| i + 1);
    for (i, content) in contents.iter().enumerate().skip(start) {
        if content["role"] != "model" {
            continue;
        }
        let Some(first) = parts(content).iter().find(|p| !field(p, "functionCall").is_null())
        else {
            continue;
        };
        let name = field(first, "functionCall")["name"].as_str().unwrap_or_default();
        match field(first, "thoughtSignature").as_str() {
            None => {
                return Err(Rejection::invalid(format!(
                    "Function call is missing a thought_signature in functionCall parts. This is \
                     required for tools to work correctly, and missing thought_signature may lead \
                     to degraded model performance. Additional data, function call \
                     `default_api:{name}` , position {}. Please refer to {SIGNATURE_DOCS} for more \
                     details.",
                    i + 1
                )));
            }
            Some(signature)
                if signature == templates().signature
                    || FOREIGN_SIGNATURES.contains(&signature) => {}
            Some(_) => return Err(Rejection::invalid("Corrupted thought signature.")),
        }
    }
    Ok(())
}

fn check_tools(tools: &Value, errors: &mut Vec<String>) -> Result<Vec<Tool>, Rejection> {
    let mut out = Vec::new();
    for (i, tool) in tools.as_array().into_iter().flatten().enumerate() {
        for (j, decl) in
            field(tool, "functionDeclarations").as_array().into_iter().flatten().enumerate()
        {
            let at = format!("tools[{i}].function_declarations[{j}]");
            check_names(
                decl,
                &[
                    "name",
                    "description",
                    "parameters",
                    "parametersJsonSchema",
                    "response",
                    "behavior",
                ],
                &at,
                errors,
            );
            let parameters = field(decl, "parameters");
            check_schema(parameters, &format!("{at}.parameters"), errors)?;
            if let Some(name) = decl["name"].as_str() {
                let schema = if parameters.is_null() {
                    field(decl, "parametersJsonSchema")
                } else {
                    parameters
                };
                out.push(Tool::from_schema(name.to_owned(), schema));
            }
        }
    }
    Ok(out)
}

fn check_schema(schema: &Value, at: &str, errors: &mut Vec<String>) -> Result<(), Rejection> {
    if schema.is_null() {
        return Ok(());
    }
    check_names(schema, &SCHEMA_FIELDS, at, errors);
    if schema["type"].is_array() {
        return Err(Rejection::invalid(
            "Invalid JSON payload received. Proto field is not repeating, cannot start list.",
        ));
    }
    let kind = schema["type"].as_str().map(str::to_ascii_uppercase);
    if let Some(properties) = schema["properties"].as_object() {
        if properties.is_empty() && kind.as_deref() == Some("OBJECT") {
            return Err(Rejection::invalid(format!(
                "* GenerateContentRequest.{at}.properties: should be non-empty for OBJECT type\n"
            )));
        }
        for (k, sub) in properties.values().enumerate() {
            check_schema(sub, &format!("{at}.properties[{k}].value"), errors)?;
        }
    }
    check_schema(&schema["items"], &format!("{at}.items"), errors)?;
    for (k, sub) in field(schema, "anyOf").as_array().into_iter().flatten().enumerate() {
        check_schema(sub, &format!("{at}.any_of[{k}]"), errors)?;
    }
    Ok(())
}

fn text_of(parts: &[Value]) -> String {
    parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("\n")
}

fn last_turn(contents: &[Value]) -> LastTurn {
    let Some(last) = contents.last() else { return LastTurn::Other(String::new()) };
    if last["role"] == "model" {
        let user = contents
            .iter()
            .rev()
            .filter(|c| c["role"] != "model")
            .map(|c| text_of(parts(c)))
            .find(|t| !t.is_empty());
        return LastTurn::Other(user.unwrap_or_default());
    }
    let responses: Vec<String> = parts(last)
        .iter()
        .map(|p| field(p, "functionResponse"))
        .filter(|r| !r.is_null())
        .map(|r| r["response"].to_string())
        .collect();
    if responses.is_empty() {
        LastTurn::User(text_of(parts(last)))
    } else {
        LastTurn::ToolResults(responses.join("\n"))
    }
}

/// The answer in Gemini's shapes, stamped once so a whole answer and a stream agree.
struct Answer<'a> {
    plan: &'a Plan,
    model: String,
    response_id: String,
    /// Gemini 3 signs every answer; 2.x only when thinking.
    signs: bool,
    usage: Json,
}

impl<'a> Answer<'a> {
    fn new(conversation: &Conversation, plan: &'a Plan) -> Self {
        let thoughts = plan.thinking.as_ref().map_or(0, |t| token_estimate(t.concat().len()));
        let usage = &plan.usage;
        let prompt = usage.prompt_tokens();
        let mut meta = templates().text["usageMetadata"].clone();
        meta["promptTokenCount"] = prompt.into();
        meta["candidatesTokenCount"] = usage.output_tokens.into();
        meta["totalTokenCount"] = (prompt + usage.output_tokens + thoughts).into();
        meta["promptTokensDetails"][0]["tokenCount"] = prompt.into();
        if usage.cache_read_input_tokens > 0 {
            meta["cachedContentTokenCount"] = usage.cache_read_input_tokens.into();
        }
        if thoughts > 0 {
            meta["thoughtsTokenCount"] = thoughts.into();
        } else {
            meta.retain(|k| k != "thoughtsTokenCount");
        }
        Answer {
            plan,
            model: conversation.model.clone(),
            response_id: ids::gemini_response_id(),
            signs: conversation.model.starts_with("gemini-3") || conversation.thinking,
            usage: meta,
        }
    }

    fn thought_parts(&self) -> Vec<Json> {
        let thinking = self.plan.thinking.iter().flatten();
        thinking
            .map(|t| {
                Json::object([("text", Json::from(t.as_str())), ("thought", Json::Bool(true))])
            })
            .collect()
    }

    /// The function-call parts; only the first of parallel calls is signed.
    fn call_parts(&self) -> Vec<Json> {
        let template = &templates().function_call["candidates"][0]["content"]["parts"][0];
        self.plan
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, call)| {
                let mut part = template.clone();
                part["functionCall"]["name"] = call.name.clone().into();
                part["functionCall"]["args"] = call.input.clone();
                if !self.signs || i > 0 {
                    part.retain(|k| k != "thoughtSignature");
                }
                part
            })
            .collect()
    }

    fn stamp(&self, mut response: Json) -> Json {
        response["usageMetadata"] = self.usage.clone();
        response["modelVersion"] = self.model.clone().into();
        response["responseId"] = self.response_id.clone().into();
        response
    }

    fn whole(&self) -> Json {
        let t = templates();
        let mut parts = self.thought_parts();
        let mut response = if self.plan.tool_calls.is_empty() {
            let mut part = t.text["candidates"][0]["content"]["parts"][0].clone();
            part["text"] = self.plan.text.clone().unwrap_or_default().into();
            if self.signs {
                part["thoughtSignature"] = t.signature.clone().into();
            } else {
                part.retain(|k| k != "thoughtSignature");
            }
            parts.push(part);
            t.text.clone()
        } else {
            parts.extend(self.call_parts());
            t.function_call.clone()
        };
        response["candidates"][0]["content"]["parts"] = Json::Array(parts);
        self.stamp(response)
    }

    fn chunk(&self, template: &Json, parts: Vec<Json>) -> Json {
        let mut chunk = template.clone();
        chunk["candidates"][0]["content"]["parts"] = Json::Array(parts);
        self.stamp(chunk)
    }

    /// Thought chunks, then text chunks or one chunk with every call, then the final chunk with
    /// `finishReason` (and, when signing a text answer, the signature on an empty text part).
    fn chunks(&self) -> Vec<Json> {
        let t = templates();
        let mut chunks: Vec<Json> =
            self.thought_parts().into_iter().map(|p| self.chunk(&t.text_chunk, vec![p])).collect();
        let mut last = Json::object([("text", Json::from(""))]);
        if self.plan.tool_calls.is_empty() {
            let text = self.plan.text.clone().unwrap_or_default();
            for delta in text_deltas(&text) {
                chunks.push(
                    self.chunk(&t.text_chunk, vec![Json::object([("text", Json::from(delta))])]),
                );
            }
            if self.signs {
                last["thoughtSignature"] = t.signature.clone().into();
            }
        } else {
            chunks.push(self.chunk(&t.call_chunk, self.call_parts()));
        }
        chunks.push(self.chunk(&t.final_chunk, vec![last]));
        chunks
    }
}

#[cfg(test)]
pub(crate) fn issued_signature() -> String {
    templates().signature.clone()
}
