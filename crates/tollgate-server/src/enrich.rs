//! History enrichment, run by the background writer just before records go to the database,
//! so nothing here costs the request path: the session a request belongs to, the message
//! reconstructed from a stream, the text to search, and the cost.
//!
//! Masking is not here: it happens before the record reaches the journal (see `exchange.rs`), so
//! no secret is written to disk at all.

use bytes::Bytes;
use serde_json::Value;
use tollgate_routing::prices;
use tollgate_store::{ExchangeRecord, SessionUpdate};
use tollgate_wire::reconstruct::{AnthropicAssembler, OpenAiAssembler};
use tollgate_wire::sse::SseDecoder;
use tollgate_wire::{Dialect, search, session};

/// Request headers worth keeping for enrichment (session ids), lower-case.
/// `originator` names Codex's flavour (`codex_exec`, `codex_cli_rs`), which with the user agent
/// tells a Codex session id from any other client's.
pub const HINT_HEADERS: &[&str] = &[
    "x-session-id",
    "x-claude-code-session-id",
    "session_id",
    "session-id",
    "conversation_id",
    "originator",
];

pub fn enrich(r: &mut ExchangeRecord) {
    let Some(client) = Dialect::parse(&r.client_dialect) else { return };
    if r.stream && r.response_message.is_none() {
        r.response_message = r.response_body.as_ref().and_then(|b| reconstruct(client, b));
    }
    let Some(body) = r.request_body.clone() else {
        r.cost_micros = cost(r);
        return;
    };
    // Session and search readers know Anthropic and OpenAI Chat bodies; any other dialect (a
    // Responses client such as Codex) is read as the Chat body the canonical model makes of it.
    let (dialect, body) = match client {
        Dialect::Anthropic | Dialect::OpenAiChat => (client, body),
        _ => match as_chat(client, &body) {
            Some(chat) => (Dialect::OpenAiChat, chat),
            None => {
                r.cost_micros = cost(r);
                return;
            }
        },
    };
    if r.session.is_none() {
        let hints = std::mem::take(&mut r.hints);
        let user_agent = r.user_agent.clone();
        let header = |name: &str| {
            if name == "user-agent" {
                return user_agent.as_deref();
            }
            hints.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
        };
        r.session =
            session::detect(dialect, header, &body, r.key_name.as_deref()).map(|s| SessionUpdate {
                id: s.id,
                source: s.source.to_owned(),
                preview: s.preview,
                cwd: s.cwd,
                git_branch: s.git_branch,
            });
    }
    if let Some(s) = &r.session {
        r.session_id = Some(s.id.clone());
    }
    if r.search_text.is_none() && r.endpoint != "count_tokens" {
        let response: Option<Value> = r
            .response_message
            .as_ref()
            .or(if r.stream { None } else { r.response_body.as_ref() })
            .and_then(|b| {
                if dialect == client {
                    serde_json::from_slice(b).ok()
                } else {
                    response_as_chat(client, b)
                }
            });
        let text = search::searchable_text(dialect, &body, response.as_ref());
        r.search_text = (!text.is_empty()).then_some(text);
    }
    r.cost_micros = cost(r);
}

/// A request body of `dialect` rewritten as the equivalent OpenAI Chat body.
fn as_chat(dialect: Dialect, body: &[u8]) -> Option<Bytes> {
    let req = crate::translate::decode_request(dialect, body).ok()?;
    let target =
        tollgate_wire::canonical::Target { model: req.model.clone(), ..Default::default() };
    let mut notes = Vec::new();
    let chat = tollgate_wire::openai::convert::encode_request(&req, &target, &mut notes);
    (!chat.is_empty()).then(|| Bytes::from(chat))
}

/// A whole response of `dialect` as the equivalent OpenAI Chat response.
fn response_as_chat(dialect: Dialect, body: &[u8]) -> Option<Value> {
    let resp = crate::translate::decode_response(dialect, body).ok()?;
    let chat = tollgate_wire::openai::convert::encode_response(&resp, &mut Vec::new());
    serde_json::from_slice(&chat).ok()
}

fn cost(r: &ExchangeRecord) -> i64 {
    let model = r.model_served.as_deref().or(r.model_requested.as_deref());
    let Some(price) = model.and_then(prices::price_of) else { return 0 };
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    let c = prices::cost_micros(
        price,
        n(r.input_tokens),
        n(r.output_tokens),
        n(r.cache_read_tokens),
        n(r.cache_write_tokens),
    );
    i64::try_from(c).unwrap_or(i64::MAX)
}

/// The whole-response JSON rebuilt from a stream's SSE bytes.
fn reconstruct(dialect: Dialect, sse: &[u8]) -> Option<Bytes> {
    let mut decoder = SseDecoder::new();
    let mut frames = Vec::new();
    decoder.feed(sse, &mut frames);
    let message = match dialect {
        Dialect::Anthropic => {
            let mut a = AnthropicAssembler::new();
            frames.iter().for_each(|f| a.push(f));
            a.finish()
        }
        Dialect::OpenAiChat => {
            let mut a = OpenAiAssembler::new();
            frames.iter().for_each(|f| a.push(f));
            a.finish()
        }
        Dialect::OpenAiResponses | Dialect::Gemini | Dialect::Ollama => {
            return crate::translate::reconstruct(dialect, &frames);
        }
    }?;
    serde_json::to_vec(&message).ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enriches_a_claude_code_stream() {
        let body = serde_json::json!({
            "model": "claude-sonnet-4-5", "max_tokens": 100, "stream": true,
            "metadata": {"user_id": "user_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef_account__session_9f1c2b3a-1111-2222-3333-444455556666"},
            "system": [{"type": "text", "text": "You are Claude Code.\n<env>\nWorking directory: /home/dev/proj\n</env>\ngitStatus: This is the git status\nCurrent branch: feature/x\n"}],
            "messages": [{"role": "user", "content": "fix the flaky parser test"}]
        });
        let sse = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":1000,\"output_tokens\":1}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"The parser races.\"}}\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":500}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let mut r = ExchangeRecord {
            client_dialect: "anthropic".into(),
            endpoint: "messages".into(),
            stream: true,
            model_served: Some("claude-sonnet-4-5-20250929".into()),
            input_tokens: 1000,
            output_tokens: 500,
            request_body: Some(Bytes::from(body.to_string())),
            response_body: Some(Bytes::from(sse)),
            ..Default::default()
        };
        enrich(&mut r);
        let s = r.session.as_ref().unwrap();
        assert_eq!(s.id, "cc:9f1c2b3a-1111-2222-3333-444455556666");
        assert_eq!(r.session_id.as_deref(), Some(s.id.as_str()));
        assert_eq!(s.preview.as_deref(), Some("fix the flaky parser test"));
        assert_eq!(s.cwd.as_deref(), Some("/home/dev/proj"));
        assert_eq!(s.git_branch.as_deref(), Some("feature/x"));
        let msg: Value = serde_json::from_slice(r.response_message.as_ref().unwrap()).unwrap();
        assert_eq!(msg["content"][0]["text"], "The parser races.");
        let text = r.search_text.as_deref().unwrap();
        assert!(text.contains("flaky parser") && text.contains("parser races"), "{text}");
        // 1,000 input at $3/M + 500 output at $15/M = $0.003 + $0.0075
        assert_eq!(r.cost_micros, 10_500);
    }

    #[test]
    fn a_session_header_wins_and_unknown_models_cost_nothing() {
        let mut r = ExchangeRecord {
            client_dialect: "openai-chat".into(),
            endpoint: "chat_completions".into(),
            model_requested: Some("my-local-model".into()),
            input_tokens: 10,
            request_body: Some(Bytes::from_static(
                br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
            )),
            hints: vec![("x-session-id".into(), "abc".into())],
            ..Default::default()
        };
        enrich(&mut r);
        assert_eq!(r.session.as_ref().unwrap().source, "header");
        assert_eq!(r.cost_micros, 0);
    }

    #[test]
    fn a_codex_request_gets_its_session_working_directory_and_search_text() {
        let body = include_bytes!("../../tollgate-testkit/fixtures/responses/codex_request.json");
        let mut r = ExchangeRecord {
            client_dialect: "openai-responses".into(),
            endpoint: "responses".into(),
            user_agent: Some(
                "codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm (codex_exec; 0.169.0)".into(),
            ),
            request_body: Some(Bytes::from_static(body)),
            hints: vec![("session-id".into(), "01a2017e-02dd-7ff1-a6b1-16e8e69aa787".into())],
            ..Default::default()
        };
        enrich(&mut r);
        let s = r.session.as_ref().unwrap();
        assert_eq!(
            (s.id.as_str(), s.source.as_str()),
            ("codex:01a2017e-02dd-7ff1-a6b1-16e8e69aa787", "codex")
        );
        assert_eq!(s.cwd.as_deref(), Some("/tmp/codexcap/work"));
        assert!(s.preview.as_deref().is_some_and(|p| !p.is_empty()), "{s:?}");
        assert!(r.search_text.as_deref().is_some_and(|t| !t.is_empty()));
    }
}
