//! Session titles: with `[history] title_model` set, a background task gives each untitled
//! session a short title once it has been quiet for `title_after`, written by that (cheap)
//! model from the session's first prompt (its preview). Nothing else lives here.
//!
//! The model is called directly on its provider, with the provider's credentials and the
//! gateway's pooled client: not through the gateway's own front door, so the call is never
//! recorded as an exchange, counted against a key or shown in the history. A failed call is
//! logged and the session is left alone for a while (doubling, up to an hour), so a broken
//! provider costs one call per session per backoff, not one per minute.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tollgate_config::TitleModel;
use tollgate_providers::Provider;
use tollgate_store::{SessionFilter, SessionRecord};
use tollgate_wire::canonical;

use crate::clock::now_ms;
use crate::state::AppState;

/// How often untitled quiet sessions are looked for.
pub const INTERVAL: Duration = Duration::from_secs(60);
/// The most sessions titled in one round (one model call each, one after another).
pub const MAX_PER_ROUND: usize = 20;
/// Only sessions active this recently are considered: older ones keep no title rather than
/// costing a burst of calls when titling is first switched on.
const LOOKBACK_MS: i64 = 86_400_000;
/// The longest one title call may take, headers and body.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Titles are cut to this many characters.
pub const MAX_TITLE_CHARS: usize = 80;
/// The preview sent to the model is cut to this many characters.
const MAX_PROMPT_CHARS: usize = 2000;
const MAX_TOKENS: u64 = 30;
/// The first wait after a failure; it doubles with each further failure, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(120);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

const SYSTEM_PROMPT: &str = "You write titles for conversations between a developer and an AI \
coding assistant. Reply with a title of 3 to 7 words summarising the developer's request below. \
Reply with the title only: no quotes, no punctuation at the end.";

/// Sessions whose last title call failed, and when each may be tried again.
#[derive(Debug, Default)]
pub struct Backoff {
    failed: Mutex<HashMap<String, Failure>>,
}

#[derive(Debug, Clone, Copy)]
struct Failure {
    count: u32,
    retry_at_ms: i64,
}

impl Backoff {
    fn waiting(&self, session: &str, now_ms: i64) -> bool {
        self.lock().get(session).is_some_and(|f| f.retry_at_ms > now_ms)
    }

    fn failed(&self, session: &str, now_ms: i64) {
        let mut map = self.lock();
        // Forget sessions that left the lookback window, so the map stays small.
        map.retain(|_, f| f.retry_at_ms > now_ms - LOOKBACK_MS);
        let count = map.get(session).map_or(1, |f| f.count.saturating_add(1));
        let wait = FIRST_BACKOFF.saturating_mul(1 << (count - 1).min(16)).min(MAX_BACKOFF);
        let retry_at_ms = now_ms.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(0));
        map.insert(session.to_owned(), Failure { count, retry_at_ms });
    }

    fn succeeded(&self, session: &str) {
        self.lock().remove(session);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failure>> {
        match self.failed.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// Starts the titling task when a title model is configured.
pub fn spawn(state: Arc<AppState>) -> Option<JoinHandle<()>> {
    state.config.history.title_model.as_ref()?;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            title_round(&state).await;
        }
    }))
}

/// One round now: titles up to [`MAX_PER_ROUND`] quiet untitled sessions. Returns how many
/// titles were set.
pub async fn title_round(state: &AppState) -> usize {
    title_round_at(state, now_ms()).await
}

/// One round as if the time were `now_ms` (Unix ms).
pub async fn title_round_at(state: &AppState, now_ms: i64) -> usize {
    let Some(target) = &state.config.history.title_model else {
        return 0;
    };
    let Some(provider) = state.providers.iter().find(|p| p.name == target.provider) else {
        return 0;
    };
    let quiet_for = i64::try_from(state.config.history.title_after.as_millis()).unwrap_or(i64::MAX);
    let filter = SessionFilter {
        since_ms: Some(now_ms.saturating_sub(LOOKBACK_MS)),
        limit: Some(tollgate_store::query::MAX_LIMIT),
        ..SessionFilter::default()
    };
    let sessions = match state.store.list_sessions(&filter).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "session titles: cannot list sessions; retrying next round");
            return 0;
        }
    };
    let due: Vec<SessionRecord> = sessions
        .into_iter()
        .filter(|s| {
            s.title.is_none()
                && s.last_seen_ms <= now_ms.saturating_sub(quiet_for)
                && s.preview.as_deref().is_some_and(|p| !p.trim().is_empty())
                && !state.titles.waiting(&s.id, now_ms)
        })
        .take(MAX_PER_ROUND)
        .collect();
    let mut set = 0;
    for session in due {
        let preview = session.preview.as_deref().unwrap_or_default();
        let title = match generate(state, provider, target, preview).await {
            Ok(t) => t,
            Err(reason) => {
                tracing::warn!(
                    provider = %provider.name,
                    model = %target.model,
                    session = %session.id,
                    reason = %reason,
                    "session title call failed; retrying later"
                );
                state.titles.failed(&session.id, now_ms);
                continue;
            }
        };
        // Someone may have named it meanwhile (the admin API); theirs wins.
        match state.store.get_session(&session.id).await {
            Ok(Some(s)) if s.title.is_none() => {}
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, session = %session.id, "session titles: cannot read session");
                continue;
            }
        }
        match state.store.set_session_title(&session.id, &title).await {
            Ok(()) => {
                state.titles.succeeded(&session.id);
                tracing::debug!(session = %session.id, title = %title, "session titled");
                set += 1;
            }
            Err(e) => {
                tracing::warn!(error = %e, session = %session.id, "session titles: cannot store title");
                state.titles.failed(&session.id, now_ms);
            }
        }
    }
    set
}

/// Asks the model for a title; `Err` says why there is none (for the log). The request is built
/// in the canonical model and written in the provider's own dialect, so any provider works.
async fn generate(
    state: &AppState,
    provider: &Provider,
    target: &TitleModel,
    preview: &str,
) -> Result<String, String> {
    let req = request(&target.model, preview);
    let canon_target = canonical::Target {
        model: target.model.clone(),
        provider: provider.name.clone(),
        quirks: tollgate_providers::quirks::quirks(provider, &target.model),
    };
    let body =
        crate::translate::encode_request(provider.dialect, &req, &canon_target, &mut Vec::new());
    let rb = state
        .client
        .http()
        .post(provider.chat_url(&target.model, false))
        .headers(provider.headers(&HeaderMap::new()))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(body));
    let result = tokio::time::timeout(CALL_TIMEOUT, async {
        let resp = rb.send().await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        Ok::<_, reqwest::Error>((status, body))
    })
    .await;
    let (status, body) = match result {
        Err(_) => return Err(format!("no answer within {CALL_TIMEOUT:?}")),
        Ok(Err(e)) => return Err(tollgate_providers::client::error_chain(&e)),
        Ok(Ok(r)) => r,
    };
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let reply = crate::translate::decode_response(provider.dialect, &body)
        .map_err(|e| format!("HTTP {status}: unreadable reply: {}", e.message))?;
    let text = reply_text(&reply).ok_or_else(|| format!("HTTP {status}: no text in the reply"))?;
    clean_title(&text).ok_or_else(|| format!("HTTP {status}: the reply is empty"))
}

/// The tiny title request, in the canonical model.
fn request(model: &str, preview: &str) -> canonical::Request {
    let prompt: String = preview.trim().chars().take(MAX_PROMPT_CHARS).collect();
    canonical::Request {
        model: model.to_owned(),
        system: vec![canonical::TextBlock::new(SYSTEM_PROMPT)],
        messages: vec![canonical::Message {
            role: canonical::Role::User,
            content: vec![canonical::Block::Text(canonical::TextBlock::new(prompt))],
        }],
        max_tokens: Some(MAX_TOKENS),
        stream: false,
        ..canonical::Request::default()
    }
}

/// The reply's text blocks, joined.
fn reply_text(reply: &canonical::Response) -> Option<String> {
    let text: String = reply
        .content
        .iter()
        .filter_map(|b| match b {
            canonical::Block::Text(t) => Some(t.text.as_str()),
            _ => None,
        })
        .collect();
    (!text.trim().is_empty()).then_some(text)
}

/// Trimmed, on one line, without surrounding quotes, at most [`MAX_TITLE_CHARS`] characters.
/// `None` when nothing is left.
fn clean_title(text: &str) -> Option<String> {
    const QUOTES: &[char] = &['"', '\'', '`', '\u{201c}', '\u{201d}', '\u{2018}', '\u{2019}'];
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let unquoted = one_line.trim_matches(QUOTES).trim();
    let capped: String = unquoted.chars().take(MAX_TITLE_CHARS).collect();
    let title = capped.trim_end();
    (!title.is_empty()).then(|| title.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_wire::Dialect;

    #[test]
    fn titles_are_trimmed_unquoted_and_capped() {
        assert_eq!(
            clean_title("  \"Fix the flaky relay test\"\n").as_deref(),
            Some("Fix the flaky relay test")
        );
        assert_eq!(
            clean_title("\u{201c}Parser\n  refactor\u{201d}").as_deref(),
            Some("Parser refactor")
        );
        assert_eq!(clean_title(" \"\" "), None);
        let long = "word ".repeat(40);
        let t = clean_title(&long).unwrap();
        assert!(t.chars().count() <= MAX_TITLE_CHARS && !t.ends_with(' '), "{t:?}");
    }

    #[test]
    fn the_title_request_is_written_in_each_providers_dialect() {
        let req = request("m", "  fix the parser  ");
        let target = canonical::Target { model: "m".into(), ..canonical::Target::default() };
        for dialect in [Dialect::Anthropic, Dialect::OpenAiChat, Dialect::Gemini] {
            let body = crate::translate::encode_request(dialect, &req, &target, &mut Vec::new());
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let text = v.to_string();
            assert!(text.contains("fix the parser") && text.contains("title"), "{dialect}: {text}");
        }
        let a = br#"{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}"#;
        let reply = crate::translate::decode_response(Dialect::Anthropic, a).unwrap();
        assert_eq!(reply_text(&reply).as_deref(), Some("Hi"));
    }

    #[test]
    fn failures_back_off_and_doubling_is_capped() {
        let b = Backoff::default();
        b.failed("s", 0);
        assert!(b.waiting("s", 119_999));
        assert!(!b.waiting("s", 120_000));
        b.failed("s", 120_000);
        assert!(b.waiting("s", 120_000 + 239_999));
        for _ in 0..40 {
            b.failed("s", 0);
        }
        assert!(!b.waiting("s", 3_600_000));
        b.succeeded("s");
        assert!(!b.waiting("s", 0));
    }
}
