//! Ollama's native API (`POST /api/chat`, `GET /api/tags`, `GET /api/ps`): answers and NDJSON
//! streams rendered from the `fixtures/ollama` templates (ollama/ollama `docs/api.md`), errors as
//! `{"error": "..."}`. Ollama has no authentication. `stream` defaults to true; an empty
//! `messages` array only loads the model (`done_reason: "load"`), as documented.

use std::sync::LazyLock;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::conversation::{Conversation, LastTurn, Plan, Tool, ToolChoice, text_deltas};
use super::ids;
use super::json::Json;
use super::server::{Reply, insert_header};

struct Templates {
    /// A whole answer (the documented tool-call response, which has `done_reason`).
    whole: Json,
    /// One streamed line of text.
    text_line: Json,
    /// The streamed line carrying `tool_calls`.
    tool_line: Json,
    /// The last streamed line (`done: true`, `done_reason`, counts).
    done_line: Json,
    tags: Json,
    ps: Json,
}

fn templates() -> &'static Templates {
    static TEMPLATES: LazyLock<Templates> = LazyLock::new(load_compiled_in);
    &TEMPLATES
}

#[expect(
    clippy::expect_used,
    reason = "compiled-in fixtures; tests::ollama_fixtures_load proves they parse"
)]
fn load_compiled_in() -> Templates {
    load_templates().expect("the compiled-in Ollama fixtures parse")
}

#[cfg(test)]
pub(crate) fn load() -> Result<(), String> {
    let _ = load_templates()?;
    Ok(())
}

fn load_templates() -> Result<Templates, String> {
    let json =
        |name: &str, text: &str| Json::parse(text).map_err(|e| format!("ollama/{name}: {e}"));
    let lines = |name: &str, text: &str| -> Result<Vec<Json>, String> {
        text.lines().map(|line| json(name, line)).collect()
    };
    let text =
        lines("chat_stream.ndjson", include_str!("../../fixtures/ollama/chat_stream.ndjson"))?;
    let tools = lines(
        "chat_stream_tool_calls.ndjson",
        include_str!("../../fixtures/ollama/chat_stream_tool_calls.ndjson"),
    )?;
    Ok(Templates {
        whole: json(
            "chat_tool_calls.json",
            include_str!("../../fixtures/ollama/chat_tool_calls.json"),
        )?,
        text_line: text.first().cloned().ok_or("ollama/chat_stream.ndjson: empty")?,
        tool_line: tools.first().cloned().ok_or("ollama/chat_stream_tool_calls.ndjson: empty")?,
        done_line: tools.last().cloned().ok_or("ollama/chat_stream_tool_calls.ndjson: empty")?,
        tags: json("tags.json", include_str!("../../fixtures/ollama/tags.json"))?,
        ps: json("ps.json", include_str!("../../fixtures/ollama/ps.json"))?,
    })
}

/// `POST /api/chat`.
pub(crate) fn chat(body: &[u8]) -> Reply {
    let request: Value = match serde_json::from_slice(body) {
        Ok(request @ Value::Object(_)) => request,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid character looking for beginning of value",
            );
        }
    };
    let model = match request["model"].as_str() {
        Some(model) if !model.is_empty() => model.to_owned(),
        _ => return error(StatusCode::BAD_REQUEST, "model is required"),
    };
    let stream = request["stream"] != false;
    let messages = request["messages"].as_array().map_or(&[][..], Vec::as_slice);
    if let Some(role) = messages
        .iter()
        .filter_map(|m| m["role"].as_str())
        .find(|r| !matches!(*r, "system" | "user" | "assistant" | "tool"))
    {
        return error(StatusCode::BAD_REQUEST, &format!("invalid role: {role}"));
    }
    let created_at = ids::rfc3339(ids::unix_seconds());
    if messages.is_empty() {
        let mut loaded = templates().done_line.clone();
        loaded.retain(|k| matches!(k, "model" | "created_at" | "message" | "done_reason" | "done"));
        loaded["model"] = model.into();
        loaded["created_at"] = created_at.into();
        loaded["done_reason"] = "load".into();
        return Reply::json(StatusCode::OK, &loaded);
    }
    let conversation = Conversation {
        model,
        stream,
        thinking: matches!(&request["think"], Value::Bool(true) | Value::String(_)),
        include_usage: true,
        tools: tools(&request["tools"]),
        tool_choice: ToolChoice::Auto,
        last_turn: last_turn(messages),
        body_len: body.len(),
        cache_hint: false,
    };
    let plan = conversation.plan();
    let answer = Answer { conversation: &conversation, plan: &plan, created_at };
    if stream {
        Reply::Lines { lines: answer.lines() }
    } else {
        Reply::json(StatusCode::OK, &answer.whole())
    }
}

/// `GET /api/tags`: the documented list.
pub(crate) fn tags() -> Reply {
    Reply::json(StatusCode::OK, &templates().tags)
}

/// `GET /api/ps`: the documented list.
pub(crate) fn ps() -> Reply {
    Reply::json(StatusCode::OK, &templates().ps)
}

/// Ollama's router answers unknown paths with Go's plain-text 404.
pub(crate) fn not_found() -> Reply {
    Reply::Json { status: StatusCode::NOT_FOUND, body: Bytes::from_static(b"404 page not found") }
}

/// What a request gets when the server's queue is full (HTTP 503).
pub(crate) fn overloaded() -> Reply {
    error(StatusCode::SERVICE_UNAVAILABLE, OVERLOADED)
}

const OVERLOADED: &str = "server busy, please try again.  maximum pending requests exceeded";

/// `{"error": "..."}` as one NDJSON line: how a stream fails after it started.
pub(crate) fn stream_error_line() -> String {
    Json::object([("error", Json::from(OVERLOADED))]).to_string()
}

pub(crate) fn response_headers(status: StatusCode, streaming: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let content_type = match (status, streaming) {
        (StatusCode::NOT_FOUND, _) => "text/plain",
        (_, true) => "application/x-ndjson",
        (_, false) => "application/json; charset=utf-8",
    };
    insert_header(&mut headers, "content-type", content_type);
    headers
}

fn error(status: StatusCode, message: &str) -> Reply {
    Reply::json(status, &Json::object([("error", Json::from(message))]))
}

fn tools(tools: &Value) -> Vec<Tool> {
    tools
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["type"] == "function")
        .filter_map(|t| {
            Some(Tool::from_schema(
                t["function"]["name"].as_str()?.to_owned(),
                &t["function"]["parameters"],
            ))
        })
        .collect()
}

fn last_turn(messages: &[Value]) -> LastTurn {
    let Some(last) = messages.last() else { return LastTurn::Other(String::new()) };
    let content = |m: &Value| m["content"].as_str().unwrap_or_default().to_owned();
    match last["role"].as_str().unwrap_or_default() {
        "tool" => {
            let results: Vec<String> =
                messages.iter().rev().take_while(|m| m["role"] == "tool").map(content).collect();
            LastTurn::ToolResults(results.into_iter().rev().collect::<Vec<_>>().join("\n"))
        }
        "assistant" => LastTurn::Other(
            messages
                .iter()
                .rev()
                .filter(|m| m["role"] == "user")
                .map(content)
                .find(|t| !t.is_empty())
                .unwrap_or_default(),
        ),
        _ => LastTurn::User(content(last)),
    }
}

struct Answer<'a> {
    conversation: &'a Conversation,
    plan: &'a Plan,
    created_at: String,
}

impl Answer<'_> {
    fn stamp(&self, template: &Json) -> Json {
        let mut line = template.clone();
        line["model"] = self.conversation.model.clone().into();
        line["created_at"] = self.created_at.clone().into();
        line
    }

    fn calls(&self) -> Json {
        let template = &templates().whole["message"]["tool_calls"][0];
        Json::Array(
            self.plan
                .tool_calls
                .iter()
                .map(|call| {
                    let mut out = template.clone();
                    out["function"]["name"] = call.name.clone().into();
                    out["function"]["arguments"] = call.input.clone();
                    out
                })
                .collect(),
        )
    }

    fn counts(&self, line: &mut Json) {
        line["done_reason"] = "stop".into();
        line["prompt_eval_count"] = self.plan.usage.prompt_tokens().into();
        line["eval_count"] = self.plan.usage.output_tokens.into();
    }

    fn whole(&self) -> Json {
        let mut whole = self.stamp(&templates().whole);
        let message = &mut whole["message"];
        message["content"] = self.plan.text.clone().unwrap_or_default().into();
        if let Some(thinking) = &self.plan.thinking {
            message["thinking"] = thinking.concat().into();
        }
        if self.plan.tool_calls.is_empty() {
            message.retain(|k| k != "tool_calls");
        } else {
            message["tool_calls"] = self.calls();
        }
        self.counts(&mut whole);
        whole
    }

    /// Thinking lines, text lines or one line with every call, then the `done` line.
    fn lines(&self) -> Vec<String> {
        let t = templates();
        let mut lines = Vec::new();
        for thought in self.plan.thinking.iter().flatten() {
            let mut line = self.stamp(&t.text_line);
            line["message"]["content"] = "".into();
            line["message"]["thinking"] = thought.clone().into();
            lines.push(line);
        }
        if self.plan.tool_calls.is_empty() {
            for delta in text_deltas(self.plan.text.as_deref().unwrap_or_default()) {
                let mut line = self.stamp(&t.text_line);
                line["message"]["content"] = delta.into();
                lines.push(line);
            }
        } else {
            let mut line = self.stamp(&t.tool_line);
            line["message"]["tool_calls"] = self.calls();
            lines.push(line);
        }
        let mut done = self.stamp(&t.done_line);
        self.counts(&mut done);
        lines.push(done);
        lines.into_iter().map(|l| l.to_string()).collect()
    }
}
