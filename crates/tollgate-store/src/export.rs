//! Exports: the history as a person reads it (a Markdown transcript) and as a program reads it
//! (one JSON document, or JSON lines), from records already read. Pure: no database, no clock,
//! no I/O, so the CLI, the admin API and tests render the same bytes.
//!
//! An [`Exporter`] is pushed one exchange at a time and hands back text to write, so a long
//! export streams without holding the whole rendering.
//!
//! - `json.rs`: the JSON shapes (also used by `tollgate history --json` and the admin API).
//! - `markdown.rs`: the transcript.
//! - `conversation.rs`: the user's turn and the assistant's answer, read from stored bodies of
//!   either dialect (a raw SSE stream is assembled with `tollgate-wire`'s assemblers).
//! - `human.rs`: times, money and counts for people, and instants people write (`7d`).

mod conversation;
pub mod human;
pub mod json;
mod markdown;

use std::fmt;
use std::str::FromStr;

pub use json::{Body, ExchangeDoc, PolicyEventDoc, SearchHitDoc, SessionDoc, SummaryDoc};
pub use markdown::LONG_BLOCK_CHARS;

use crate::{ExchangeRecord, ExchangeSummary, SessionRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A transcript to read.
    Markdown,
    /// One JSON document: the session (or the range and its sessions) and every exchange.
    Json,
    /// One exchange per line.
    Jsonl,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Markdown => "text/markdown; charset=utf-8",
            Self::Json => "application/json",
            Self::Jsonl => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Markdown => "md",
            Self::Json => "json",
            Self::Jsonl => "jsonl",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "markdown" | "md" => Ok(Self::Markdown),
            "json" => Ok(Self::Json),
            "jsonl" | "ndjson" => Ok(Self::Jsonl),
            other => Err(format!("unknown export format `{other}` (use markdown, json or jsonl)")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Markdown => "markdown",
            Self::Json => "json",
            Self::Jsonl => "jsonl",
        })
    }
}

/// What adds up over exchanges: counts, tokens, cost, first and last start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub exchanges: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_micros: i64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}

impl Totals {
    pub fn add(&mut self, s: &ExchangeSummary) {
        self.exchanges += 1;
        self.input_tokens += s.input_tokens;
        self.output_tokens += s.output_tokens;
        self.cache_read_tokens += s.cache_read_tokens;
        self.cache_write_tokens += s.cache_write_tokens;
        self.cost_micros += s.cost_micros;
        self.first_ms = Some(self.first_ms.map_or(s.started_at_ms, |f| f.min(s.started_at_ms)));
        self.last_ms = Some(self.last_ms.map_or(s.started_at_ms, |l| l.max(s.started_at_ms)));
    }
}

/// What an export covers.
#[derive(Debug, Clone)]
pub enum Scope {
    /// One session, its exchanges oldest first.
    Session(SessionRecord),
    /// Exchanges that started in `[since_ms, until_ms)`, with the sessions they belong to and
    /// their totals. For Markdown, push them grouped by session (each group oldest first): a
    /// session's header is written whenever the session changes.
    Range {
        since_ms: Option<i64>,
        until_ms: Option<i64>,
        sessions: Vec<SessionRecord>,
        totals: Totals,
    },
}

/// Renders an export piece by piece: [`head`](Self::head), then
/// [`exchange`](Self::exchange) for each, then [`tail`](Self::tail). Concatenated, the pieces
/// are the document.
#[derive(Debug)]
pub struct Exporter {
    format: Format,
    scope: Scope,
    written: usize,
    /// Range Markdown: the session of the group being written (`Some(None)`: no session).
    group: Option<Option<String>>,
}

impl Exporter {
    pub fn new(format: Format, scope: Scope) -> Self {
        Self { format, scope, written: 0, group: None }
    }

    pub fn head(&mut self) -> String {
        let mut out = String::new();
        match (self.format, &self.scope) {
            (Format::Markdown, Scope::Session(s)) => markdown::session_header(&mut out, 1, s),
            (Format::Markdown, Scope::Range { since_ms, until_ms, sessions, totals }) => {
                markdown::range_header(&mut out, *since_ms, *until_ms, sessions.len(), totals);
            }
            (Format::Json, Scope::Session(s)) => {
                out.push_str("{\"session\":");
                out.push_str(&json::to_string(&s));
                out.push_str(",\"exchanges\":[\n");
            }
            (Format::Json, Scope::Range { since_ms, until_ms, sessions, .. }) => {
                let sessions: Vec<SessionDoc<'_>> = sessions.iter().collect();
                out.push_str("{\"since_ms\":");
                out.push_str(&json::to_string(since_ms));
                out.push_str(",\"until_ms\":");
                out.push_str(&json::to_string(until_ms));
                out.push_str(",\"sessions\":");
                out.push_str(&json::to_string(&sessions));
                out.push_str(",\"exchanges\":[\n");
            }
            (Format::Jsonl, _) => {}
        }
        out
    }

    pub fn exchange(&mut self, e: &ExchangeRecord) -> String {
        let mut out = String::new();
        self.written += 1;
        match self.format {
            Format::Markdown => {
                let level = match &self.scope {
                    Scope::Session(_) => 2,
                    Scope::Range { sessions, .. } => {
                        if self.group.as_ref() != Some(&e.session_id) {
                            self.group = Some(e.session_id.clone());
                            let known = e
                                .session_id
                                .as_deref()
                                .and_then(|id| sessions.iter().find(|s| s.id == id));
                            match known {
                                Some(s) => markdown::session_header(&mut out, 2, s),
                                None => markdown::bare_header(&mut out, 2, e.session_id.as_deref()),
                            }
                        }
                        3
                    }
                };
                markdown::exchange(&mut out, level, self.written, e);
            }
            Format::Json => {
                if self.written > 1 {
                    out.push_str(",\n");
                }
                out.push_str(&json::to_string(&ExchangeDoc::from(e)));
            }
            Format::Jsonl => {
                out.push_str(&json::to_string(&ExchangeDoc::from(e)));
                out.push('\n');
            }
        }
        out
    }

    pub fn tail(&mut self) -> String {
        match self.format {
            Format::Markdown if self.written == 0 => "_No exchanges._\n".to_owned(),
            Format::Markdown | Format::Jsonl => String::new(),
            Format::Json if self.written == 0 => "]}\n".to_owned(),
            Format::Json => "\n]}\n".to_owned(),
        }
    }

    /// The whole export as pieces rendered lazily, one per exchange (plus head and tail), each
    /// record dropped once rendered: for a streamed response body.
    pub fn into_chunks<I>(self, exchanges: I) -> Chunks<I::IntoIter>
    where
        I: IntoIterator<Item = ExchangeRecord>,
    {
        Chunks { exporter: self, exchanges: exchanges.into_iter(), stage: Stage::Head }
    }
}

/// See [`Exporter::into_chunks`].
#[derive(Debug)]
pub struct Chunks<I> {
    exporter: Exporter,
    exchanges: I,
    stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Head,
    Body,
    Done,
}

impl<I: Iterator<Item = ExchangeRecord>> Iterator for Chunks<I> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        match self.stage {
            Stage::Head => {
                self.stage = Stage::Body;
                Some(self.exporter.head())
            }
            Stage::Body => match self.exchanges.next() {
                Some(e) => Some(self.exporter.exchange(&e)),
                None => {
                    self.stage = Stage::Done;
                    Some(self.exporter.tail())
                }
            },
            Stage::Done => None,
        }
    }
}

/// One exchange as a Markdown transcript section (`## 1 · ...`), without a session header.
pub fn transcript(e: &ExchangeRecord) -> String {
    let mut out = String::new();
    markdown::exchange(&mut out, 2, 1, e);
    out
}

/// What a request asked for, in one line: `12 messages · system prompt · 18 tools ·
/// max_tokens 32,000 · thinking · stream`. `None` when the body is not a JSON object.
pub fn request_summary(request_body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Shape {
        messages: Option<Vec<serde::de::IgnoredAny>>,
        system: Option<serde::de::IgnoredAny>,
        tools: Option<Vec<serde::de::IgnoredAny>>,
        max_tokens: Option<i64>,
        max_completion_tokens: Option<i64>,
        thinking: Option<serde::de::IgnoredAny>,
        reasoning_effort: Option<String>,
        stream: Option<bool>,
    }
    let shape: Shape = serde_json::from_slice(request_body).ok()?;
    let mut parts = Vec::new();
    if let Some(m) = &shape.messages {
        parts.push(format!("{} message{}", m.len(), if m.len() == 1 { "" } else { "s" }));
    }
    if shape.system.is_some() {
        parts.push("system prompt".to_owned());
    }
    if let Some(t) = shape.tools.as_ref().filter(|t| !t.is_empty()) {
        parts.push(format!("{} tool{}", t.len(), if t.len() == 1 { "" } else { "s" }));
    }
    if let Some(n) = shape.max_tokens.or(shape.max_completion_tokens) {
        parts.push(format!("max_tokens {}", human::count(n)));
    }
    if shape.thinking.is_some() {
        parts.push("thinking".to_owned());
    }
    if let Some(effort) = &shape.reasoning_effort {
        parts.push(format!("reasoning effort {effort}"));
    }
    if shape.stream == Some(true) {
        parts.push("stream".to_owned());
    }
    Some(parts.join(" · "))
}

/// The whole export at once.
pub fn render(format: Format, scope: Scope, exchanges: &[ExchangeRecord]) -> String {
    let mut x = Exporter::new(format, scope);
    let mut out = x.head();
    for e in exchanges {
        out.push_str(&x.exchange(e));
    }
    out.push_str(&x.tail());
    out
}

#[cfg(test)]
mod tests;
