//! The canonical model: one request, response and stream-event vocabulary that every dialect
//! decodes into and encodes from, shaped on Anthropic's content blocks (the richer model:
//! thinking with signatures, redacted thinking, interleaved blocks, tool results with images and
//! `is_error`, cache breakpoints). N dialects cost 2N converters, not N x N.
//!
//! What must not live here: anything about bytes on a socket, and any one dialect's field names.
//! Fields a target dialect cannot carry are dropped deliberately by its encoder and reported as a
//! [`Note`], never mangled.
//!
//! # Layout
//! - this file: the request, message, block, tool and response types.
//! - [`stream`]: stream events and the [`StreamDecoder`]/[`StreamEncoder`] traits.
//! - [`builder`]: [`StreamBuilder`], which enforces the stream invariants on every stream
//!   Tollgate emits, and [`validate`], which checks them.
//! - [`assemble`]: stream events folded into a whole response, and back.
//! - [`issuer`]: a relayed stream's thinking stamped with who issued it.
//! - [`ids`]: deterministic, collision-safe tool-call id sanitising.
//! - [`names`]: tool names the target's grammar cannot take, renamed both ways.
//! - [`repair`]: history repair before a strict provider (orphans, merging, empty turns,
//!   duplicate tool names, thinking from another model).
//! - [`target`]: what an encoder needs to know about the provider it writes for (quirks as data).

pub mod assemble;
pub mod builder;
#[doc(hidden)]
pub mod fuzz;
pub mod ids;
pub mod issuer;
pub mod names;
pub mod repair;
pub mod stream;
pub mod target;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use builder::{StreamBuilder, Violation, validate};
pub use stream::{Delta, StreamDecoder, StreamEncoder, StreamEvent};
pub use target::{Quirks, Target};

use crate::{Dialect, Usage};

/// A chat request, whatever dialect it arrived in.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Request {
    pub model: String,
    /// System prompt parts, in order (Anthropic `system`, OpenAI `system`/`developer` messages
    /// hoisted, Responses `instructions`). Kept as parts so caching prefixes stay byte-stable.
    pub system: Vec<TextBlock>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// `false` forbids parallel tool calls (Anthropic `disable_parallel_tool_use`, OpenAI
    /// `parallel_tool_calls: false`). `None`: the provider's default.
    pub parallel_tool_calls: Option<bool>,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
    pub stop_sequences: Vec<String>,
    pub stream: bool,
    pub thinking: Option<Thinking>,
    /// The end user, for the provider's abuse tracking (Anthropic `metadata.user_id`, OpenAI
    /// `user`).
    pub user: Option<String>,
    /// Structured output: a JSON schema the answer must follow, or plain JSON mode.
    pub response_format: Option<ResponseFormat>,
    /// Fields of the source dialect with no canonical meaning, kept so that an encoder for the
    /// same dialect can write them back. Encoders for other dialects drop them with a note.
    pub extra: Extra,
}

/// Top-level fields only the source dialect understands.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Extra {
    pub dialect: Option<Dialect>,
    pub fields: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Block>,
}

/// One content block, shaped on Anthropic's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Block {
    Text(TextBlock),
    Image(Image),
    Document(Document),
    ToolUse(ToolUse),
    ToolResult(ToolResult),
    Thinking(ThinkingBlock),
    RedactedThinking(RedactedThinking),
    /// A block only its own dialect can carry (Anthropic `server_tool_use`,
    /// `web_search_tool_result`, unknown future types; a Responses `reasoning` item from OpenAI;
    /// a `web_search_call`): written back unchanged to that dialect, dropped with a note
    /// elsewhere. Never rewritten into fake text.
    Opaque(Opaque),
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TextBlock {
    pub text: String,
    /// Anthropic `cache_control`, kept as sent (`{"type":"ephemeral","ttl":"1h"}`).
    pub cache_control: Option<Value>,
    /// Anthropic `citations` on a text block, kept as sent.
    pub citations: Option<Value>,
}

impl TextBlock {
    pub fn new(text: impl Into<String>) -> Self {
        Self { text: text.into(), cache_control: None, citations: None }
    }
}

/// Where an image or document's bytes are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Source {
    /// Inline bytes: `media_type` (`image/png`, `application/pdf`) and base64 `data`, without a
    /// `data:` prefix.
    Base64 {
        media_type: String,
        data: String,
    },
    Url(String),
    /// A provider-side file id (Anthropic Files API, OpenAI files).
    File(String),
    /// Plain text (an Anthropic text document).
    Text {
        media_type: String,
        data: String,
    },
}

impl Source {
    /// Parses a `data:<mime>;base64,<payload>` URI, or takes any other string as a URL (a data
    /// URI without `;base64` stays whole as a URL; encoders that cannot send one drop it).
    pub fn from_url(url: &str) -> Source {
        if let Some(rest) = url.strip_prefix("data:")
            && let Some((meta, data)) = rest.split_once(',')
            && let Some(params) = meta.strip_suffix(";base64")
        {
            // `data:image/png;name=a.png;base64,...`: the media type is the part before any
            // parameter.
            let media_type = params.split(';').next().unwrap_or_default();
            return Source::Base64 { media_type: media_type.to_owned(), data: data.to_owned() };
        }
        Source::Url(url.to_owned())
    }

    /// The source as one URL: a `data:` URI for inline bytes.
    pub fn to_url(&self) -> Option<String> {
        match self {
            Source::Base64 { media_type, data } => Some(format!("data:{media_type};base64,{data}")),
            Source::Url(u) => Some(u.clone()),
            Source::File(_) | Source::Text { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub source: Source,
    /// OpenAI `detail` (`low`, `high`, `auto`), kept where the target can carry it.
    pub detail: Option<String>,
    pub cache_control: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub source: Source,
    pub title: Option<String>,
    pub filename: Option<String>,
    /// Anthropic `context`: text about the document the model reads but never cites.
    #[serde(default)]
    pub context: Option<String>,
    /// Anthropic `citations` (`{"enabled": true}`), kept as sent.
    #[serde(default)]
    pub citations: Option<Value>,
    pub cache_control: Option<Value>,
}

/// A call of a tool by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUse {
    /// The id as the dialect it came from wrote it. Encoders sanitise it for targets with a
    /// stricter id grammar ([`ids::sanitize`]), the same way on both sides.
    pub id: String,
    pub name: String,
    /// Always a JSON object for function tools; for a freeform (`custom`) tool, the object
    /// `{"input": "<the raw text>"}` (see [`CUSTOM_INPUT_FIELD`]).
    pub input: Value,
    pub cache_control: Option<Value>,
}

/// The property a freeform tool's text travels in when the target only has JSON-schema tools.
pub const CUSTOM_INPUT_FIELD: &str = "input";

/// The answer to a tool call, sent back by the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    pub tool_use_id: String,
    /// Text, images and documents.
    pub content: Vec<Block>,
    pub is_error: bool,
    pub cache_control: Option<Value>,
}

/// Who produced a thinking block: the provider (by name) and the model family whose signature it
/// carries. A signature is replayed only to the same provider and family; `None` means the block
/// came from the client with no record of its issuer (passed to Anthropic-dialect providers, which
/// check the seal themselves).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    pub provider: String,
    pub family: String,
}

/// The stand-in signature an Anthropic client receives on thinking that came without one (from
/// Ollama, DeepSeek, a Gemini summary): Anthropic clients treat a thinking block as sealed and
/// replay it, and this names who produced it. It never reaches a provider: decoding an Anthropic
/// request turns it back into an unsigned block with that origin ([`unsigned_origin`]), which
/// repair strips before Anthropic and keeps for its own provider.
pub const UNSIGNED_PREFIX: &str = "tollgate-unsigned:";

pub fn unsigned_marker(origin: &Origin) -> String {
    format!("{UNSIGNED_PREFIX}{}/{}", origin.provider, origin.family)
}

/// The origin named by a stand-in signature, if `signature` is one.
pub fn unsigned_origin(signature: &str) -> Option<Origin> {
    let rest = signature.strip_prefix(UNSIGNED_PREFIX)?;
    let (provider, family) = rest.split_once('/')?;
    Some(Origin { provider: provider.to_owned(), family: family.to_owned() })
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ThinkingBlock {
    /// The reasoning text; empty for signature-only blocks, which must survive anyway.
    pub thinking: String,
    /// The tamper seal, byte for byte.
    pub signature: Option<String>,
    pub origin: Option<Origin>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactedThinking {
    pub data: String,
    pub origin: Option<Origin>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opaque {
    pub dialect: Dialect,
    /// The block or item exactly as that dialect wrote it.
    pub value: Value,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    pub kind: ToolKind,
    pub cache_control: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToolKind {
    /// A JSON-schema function tool.
    Function { parameters: Value, strict: Option<bool> },
    /// A freeform tool whose input is raw text (Responses `custom`, Codex's `apply_patch`), with
    /// its optional grammar `format`. Targets without freeform tools get a function with one
    /// string property named [`CUSTOM_INPUT_FIELD`].
    Custom { format: Option<Value> },
    /// A tool the provider runs or defines itself (Anthropic `web_search_20250305`,
    /// `bash_20250124`; Responses `web_search`, `tool_search`), as that dialect wrote it. Sent
    /// only to the same dialect; dropped with a note elsewhere.
    Hosted { dialect: Dialect, value: Value },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToolChoice {
    Auto,
    /// The model must call some tool (Anthropic `any`, OpenAI `required`).
    Any,
    None,
    Tool(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thinking {
    pub mode: ThinkingMode,
    /// Reasoning effort (`low`, `medium`, `high`, ...), as OpenAI and newer Anthropic models take
    /// it.
    pub effort: Option<String>,
    /// Anthropic `display` (`summarized`, `omitted`), kept for Anthropic targets.
    pub display: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ThinkingMode {
    Enabled { budget_tokens: u64 },
    Adaptive,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ResponseFormat {
    /// Any JSON object.
    Json,
    JsonSchema {
        name: Option<String>,
        schema: Value,
        strict: Option<bool>,
    },
}

/// A whole response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Response {
    pub id: String,
    pub model: String,
    pub content: Vec<Block>,
    pub stop_reason: Option<StopReason>,
    /// Which stop sequence matched, when the provider says.
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

/// Why generation stopped, in Anthropic's vocabulary (the richer one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    StopSequence,
    ToolUse,
    /// A server-tool loop hit its cap; resend to continue.
    PauseTurn,
    Refusal,
    ContextWindowExceeded,
    /// A value this version does not know, kept as sent.
    Other(String),
}

impl StopReason {
    pub fn from_anthropic(s: &str) -> StopReason {
        match s {
            "end_turn" => Self::EndTurn,
            "max_tokens" => Self::MaxTokens,
            "stop_sequence" => Self::StopSequence,
            "tool_use" => Self::ToolUse,
            "pause_turn" => Self::PauseTurn,
            "refusal" => Self::Refusal,
            "model_context_window_exceeded" => Self::ContextWindowExceeded,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_anthropic(&self) -> &str {
        match self {
            Self::EndTurn => "end_turn",
            Self::MaxTokens => "max_tokens",
            Self::StopSequence => "stop_sequence",
            Self::ToolUse => "tool_use",
            Self::PauseTurn => "pause_turn",
            Self::Refusal => "refusal",
            Self::ContextWindowExceeded => "model_context_window_exceeded",
            Self::Other(s) => s,
        }
    }

    /// OpenAI Chat `finish_reason` -> canonical. `content_filter` is a refusal, not a stop
    /// sequence.
    pub fn from_openai(s: &str) -> StopReason {
        match s {
            "stop" => Self::EndTurn,
            "length" => Self::MaxTokens,
            "tool_calls" | "function_call" => Self::ToolUse,
            "content_filter" => Self::Refusal,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Canonical -> OpenAI Chat `finish_reason`.
    pub fn as_openai(&self) -> &str {
        match self {
            Self::EndTurn | Self::StopSequence | Self::PauseTurn => "stop",
            Self::MaxTokens | Self::ContextWindowExceeded => "length",
            Self::ToolUse => "tool_calls",
            Self::Refusal => "content_filter",
            Self::Other(s) => s,
        }
    }
}

/// Something an encoder or a repair step dropped or changed on purpose, for the log and the
/// history record: the target cannot carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note(pub String);

impl Note {
    pub fn new(s: impl Into<String>) -> Note {
        Note(s.into())
    }
}

/// The note for a prefill sent to a provider that may answer anew instead of continuing it.
pub fn prefill_note(dialect: &str) -> Note {
    Note::new(format!(
        "the request ends in an assistant message (a prefill): sent as is, but {dialect} may \
         answer anew rather than continue it"
    ))
}

impl Request {
    /// Whether the last message is the assistant's: a prefill the model should continue
    /// (catalogue 5).
    pub fn ends_in_prefill(&self) -> bool {
        self.messages.last().is_some_and(|m| m.role == Role::Assistant)
    }

    /// The note for documents with Anthropic's `context` or `citations`, which `dialect` has no
    /// field for; `None` when there are none.
    pub fn document_extras_note(&self, dialect: &str) -> Option<Note> {
        fn any(blocks: &[Block]) -> bool {
            blocks.iter().any(|b| match b {
                Block::Document(d) => d.context.is_some() || d.citations.is_some(),
                Block::ToolResult(r) => any(&r.content),
                _ => false,
            })
        }
        self.messages.iter().any(|m| any(&m.content)).then(|| {
            Note::new(format!(
                "document `context` and `citations` dropped: {dialect} has no such fields"
            ))
        })
    }

    /// Whether any message carries an image (in a tool result included).
    pub fn has_images(&self) -> bool {
        fn any_image(blocks: &[Block]) -> bool {
            blocks.iter().any(|b| match b {
                Block::Image(_) => true,
                Block::ToolResult(r) => any_image(&r.content),
                _ => false,
            })
        }
        self.messages.iter().any(|m| any_image(&m.content))
    }
}

impl Response {
    /// Whether the answer calls a tool.
    pub fn has_tool_use(&self) -> bool {
        self.content.iter().any(|b| matches!(b, Block::ToolUse(_)))
    }
}
