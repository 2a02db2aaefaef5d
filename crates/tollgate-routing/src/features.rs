//! Request features: what routing reads from a request body, in one pass, without decoding it
//! into the canonical model. Works on the three client dialects (Anthropic Messages, OpenAI Chat,
//! OpenAI Responses).
//!
//! The pass is serde_json's, over borrowed values: small readers take only the keys routing
//! needs and skip the rest. Tool definitions, tool inputs and results, and media are sized by
//! their raw length (`RawValue`), never decoded; of the texts, only the last user message's and
//! (for the shape rules) the system prompt are unescaped.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

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
    ///
    /// The keys of the three dialects barely overlap (`system`/`messages`, `messages` with
    /// `tool_calls`, `instructions`/`input`), so the walk reads any of them whatever `dialect`
    /// says; `dialect` only decides how the Chat `tool` role and the Responses items count.
    pub fn extract(dialect: &str, body: &[u8]) -> Self {
        // One UTF-8 check of the whole body, so that every raw value below is borrowed without
        // being checked again. (`from_utf8_lossy` alone is several times slower on valid input.)
        let text = match std::str::from_utf8(body) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(body),
        };
        let mut x = Extractor::new(dialect);
        // An error (malformed or truncated JSON, nesting past serde_json's limit) ends the walk;
        // what was read before it stays.
        let _ = Any(Top(&mut x)).deserialize(&mut serde_json::Deserializer::from_str(&text));
        x.finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Shape rules. Each table is matched case-insensitively as a substring.
// ---------------------------------------------------------------------------------------------

/// Prompts that are only a connectivity or quota check (after trimming spaces and punctuation),
/// when they are the single message of a request with no system prompt and no tools.
const PROBE_PROMPTS: &[&str] = &["quota", "test", "ping", "hi"];

/// Phrases of a request to name the conversation: searched in the prompt, and in the system
/// prompt of a request without tools (a side call never carries tools, so the main agent's long
/// system prompt is never scanned).
const TITLE_PHRASES: &[&str] = &[
    // Claude Code's title call.
    "generate a concise, sentence-case title",
    "write a 5-10 word title",
    "title for the following conversation",
    "title for this conversation",
    "title for the conversation",
    "summarize this conversation in a short title",
];

/// Phrases of Claude Code's background side calls, searched in the system prompt and the prompt
/// of a request without tools.
const BACKGROUND_PHRASES: &[&str] = &[
    // Topic detection (the terminal title).
    "analyze if this message indicates a new conversation topic",
    "isnewtopic",
    // Bash command checks.
    "extract any file paths that this command reads or modifies",
    "policy_spec",
    "command prefix",
];

/// Extensions that make a bare token (`main.rs`) a file name.
const SOURCE_EXTENSIONS: &[&str] = &[
    "rs", "py", "ts", "tsx", "js", "jsx", "go", "java", "kt", "c", "cc", "cpp", "h", "hpp", "cs",
    "rb", "php", "swift", "sh", "sql", "md", "toml", "json", "yaml", "yml", "lock", "txt", "html",
    "css",
];

/// Estimated tokens per image (and per audio clip or file sent inline): a fixed cost, since the
/// data is never decoded.
const MEDIA_TOKENS: u64 = 1_600;

// ---------------------------------------------------------------------------------------------
// Readers. serde_json drives the pass; each reader below takes one JSON value of any type. The
// kinds a reader does not take are skipped by serde_json's own skipping (iterative, so nesting
// cannot overflow the stack), so a value of an unexpected type reads as absent instead of
// failing the walk. Small values (the envelope's settings, tool definitions, a block's fields)
// are taken as `&RawValue` and read separately, so that one bad field loses only itself.
// ---------------------------------------------------------------------------------------------

/// A string as serde_json hands it over: borrowed from the body (it had no escapes), or decoded
/// into a buffer that lives only for the call.
enum Str<'de, 's> {
    Body(&'de str),
    Buffer(&'s str),
}

impl<'de> Str<'de, '_> {
    fn into_cow(self) -> Cow<'de, str> {
        match self {
            Str::Body(s) => Cow::Borrowed(s),
            Str::Buffer(s) => Cow::Owned(s.to_owned()),
        }
    }
}

/// A reader of one JSON value: the kinds it does not override are skipped.
trait Read<'de>: Sized {
    fn string(self, _s: Str<'de, '_>) {}

    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// Reads a value of any type with `R`.
struct Any<R>(R);

impl<'de, R: Read<'de>> DeserializeSeed<'de> for Any<R> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, R: Read<'de>> Visitor<'de> for Any<R> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<(), E> {
        self.0.string(Str::Body(s));
        Ok(())
    }

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        self.0.string(Str::Buffer(s));
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        self.0.seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        self.0.map(map)
    }
}

/// A JSON string, unescaped by serde (borrowed when it has no escapes).
#[derive(Deserialize)]
struct Unescaped<'a>(#[serde(borrow)] Cow<'a, str>);

/// An object's `type` (`thinking`, `response_format`, a tool definition).
#[derive(Deserialize)]
struct Typed<'a> {
    #[serde(rename = "type", borrow)]
    ty: Option<Cow<'a, str>>,
}

/// Responses `text`, Anthropic `output_config`: `{"format": {"type": ...}}`.
#[derive(Deserialize)]
struct Format<'a> {
    #[serde(borrow)]
    format: Option<Typed<'a>>,
}

/// Responses `reasoning`.
#[derive(Deserialize)]
struct Reasoning<'a> {
    #[serde(borrow)]
    effort: Option<Cow<'a, str>>,
}

/// A block of an Anthropic `system` array.
#[derive(Deserialize)]
struct SystemBlock<'a> {
    #[serde(borrow)]
    text: Option<&'a RawValue>,
}

/// `raw` read as a `T` when it is an object; None when it is anything else or does not fit.
fn object<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Option<T> {
    if raw.get().starts_with('{') { serde_json::from_str(raw.get()).ok() } else { None }
}

/// A string value's contents, still escaped (enough to compare with an ASCII name).
fn raw_str(raw: &RawValue) -> Option<&str> {
    raw.get().strip_prefix('"')?.strip_suffix('"')
}

/// A string value, unescaped.
fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    serde_json::from_str::<Unescaped<'_>>(raw.get()).ok().map(|s| s.0)
}

/// A non-negative integer, saturating (a fraction is dropped, a negative is 0).
fn count(raw: &RawValue) -> Option<u32> {
    let n: serde_json::Number = serde_json::from_str(raw.get()).ok()?;
    // `as` from a float saturates.
    let n = n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64))?;
    Some(u32::try_from(n).unwrap_or(u32::MAX))
}

/// A text of the body: still escaped (unescaped only if it is read), or already decoded.
enum Text<'de> {
    Raw(&'de RawValue),
    Decoded(Cow<'de, str>),
}

impl Text<'_> {
    /// Its size in bytes: as written (escapes included) for a raw text.
    fn len(&self) -> usize {
        match self {
            Text::Raw(raw) => raw.get().len().saturating_sub(2),
            Text::Decoded(s) => s.len(),
        }
    }

    fn starts_with(&self, prefix: &str) -> bool {
        match self {
            Text::Raw(raw) => raw_str(raw).is_some_and(|s| s.starts_with(prefix)),
            Text::Decoded(s) => s.starts_with(prefix),
        }
    }

    fn decode(&self) -> Cow<'_, str> {
        match self {
            // serde_json validated the string when it skipped it, but skipping does not check
            // surrogate pairs: a lone one keeps the text as written.
            Text::Raw(raw) => {
                string(raw).unwrap_or_else(|| raw_str(raw).unwrap_or_default().into())
            }
            Text::Decoded(s) => Cow::Borrowed(s),
        }
    }
}

/// The envelope.
struct Top<'x, 'de>(&'x mut Extractor<'de>);

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(field_identifier, rename_all = "snake_case")]
enum TopKey {
    System,
    Instructions,
    Messages,
    Input,
    Tools,
    Thinking,
    ReasoningEffort,
    Reasoning,
    MaxTokens,
    MaxCompletionTokens,
    MaxOutputTokens,
    ResponseFormat,
    OutputFormat,
    Text,
    OutputConfig,
    WebSearchOptions,
    #[serde(other)]
    Other,
}

impl<'de> Read<'de> for Top<'_, 'de> {
    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let x = self.0;
        while let Some(key) = map.next_key::<TopKey>()? {
            match key {
                TopKey::Messages => map.next_value_seed(Any(Messages(&mut *x)))?,
                TopKey::Input => map.next_value_seed(Any(Input(&mut *x)))?,
                TopKey::Tools => map.next_value_seed(Any(Tools(&mut *x)))?,
                TopKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
                key => x.setting(key, map.next_value()?),
            }
        }
        Ok(())
    }
}

/// `messages`, or an `input` array.
struct Messages<'x, 'de>(&'x mut Extractor<'de>);

impl<'de> Read<'de> for Messages<'_, 'de> {
    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Message(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// Responses `input`: items, or a string (one user message).
struct Input<'x, 'de>(&'x mut Extractor<'de>);

impl<'de> Read<'de> for Input<'_, 'de> {
    fn string(self, s: Str<'de, '_>) {
        let x = self.0;
        let text = Text::Decoded(s.into_cow());
        x.bytes += text.len() as u64;
        x.f.turns += 1;
        x.first_role = Role::User;
        x.steps.push(Step::Other);
        x.last_user.clear();
        x.last_user.push(text);
    }

    fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Messages(self.0).seq(seq)
    }
}

/// `tools`: each definition counted whole; its `type` tells a web search tool.
struct Tools<'x, 'de>(&'x mut Extractor<'de>);

impl<'de> Read<'de> for Tools<'_, 'de> {
    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Tool(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

struct Tool<'x, 'de>(&'x mut Extractor<'de>);

impl<'de> DeserializeSeed<'de> for Tool<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // Counted once it starts, so a body cut inside a definition still counts it.
        self.0.f.tools += 1;
        Any(self).deserialize(d)
    }
}

impl<'de> Read<'de> for Tool<'_, 'de> {
    /// In one pass: each value taken raw, sized with its key and the punctuation between (the
    /// definition's length as written without spaces).
    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let x = self.0;
        x.bytes += 2;
        while let Some(Unescaped(key)) = map.next_key()? {
            let raw: &RawValue = map.next_value()?;
            x.bytes += (key.len() + 4 + raw.get().len()) as u64;
            if key == "type" && raw_str(raw).is_some_and(|ty| ty.starts_with("web_search")) {
                x.f.web_search = true;
            }
        }
        Ok(())
    }
}

/// One message (Anthropic, Chat) or input item (Responses).
struct Message<'x, 'de>(&'x mut Extractor<'de>);

impl<'de> DeserializeSeed<'de> for Message<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let x = self.0;
        x.current.clear();
        let mut item = Item::default();
        let read = x.item(0, &mut item, d);
        x.end_message(&item);
        read
    }
}

/// The blocks of a `content` (or `output`) array, at `level`.
struct Blocks<'x, 'de> {
    x: &'x mut Extractor<'de>,
    level: u32,
    parent: &'x mut Item<'de>,
}

impl<'de> Read<'de> for Blocks<'_, 'de> {
    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Blocks { x, level, parent } = self;
        while seq.next_element_seed(Block { x: &mut *x, level, parent: &mut *parent })?.is_some() {}
        Ok(())
    }
}

struct Block<'x, 'de> {
    x: &'x mut Extractor<'de>,
    level: u32,
    parent: &'x mut Item<'de>,
}

impl<'de> DeserializeSeed<'de> for Block<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let mut block = Item::default();
        let read = self.x.item(self.level, &mut block, d);
        if self.level == 1 {
            self.parent.calls += block.calls;
            self.parent.results += block.results;
        }
        read
    }
}

/// The fields of a message, item or block.
struct Fields<'x, 'de> {
    x: &'x mut Extractor<'de>,
    level: u32,
    item: &'x mut Item<'de>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ItemKey {
    Type,
    Role,
    Text,
    Content,
    Output,
    ToolCalls,
    Input,
    Arguments,
    Thinking,
    Data,
    Summary,
    #[serde(other)]
    Other,
}

impl<'de> Read<'de> for Fields<'_, 'de> {
    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Fields { x, level, item } = self;
        while let Some(key) = map.next_key::<ItemKey>()? {
            match key {
                // A message's content is read in place: its blocks hold most of the body.
                ItemKey::Content if level == 0 => {
                    map.next_value_seed(Any(Content { x: &mut *x, item: &mut *item }))?;
                }
                // Image, audio and file data (`source`, `image_url`, `input_audio`, `file`,
                // `file_data`, ...) and everything else: skipped, not counted.
                ItemKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
                key => x.field(level, item, key, map.next_value()?),
            }
        }
        Ok(())
    }
}

/// A message's `content`: its text, or its blocks.
struct Content<'x, 'de> {
    x: &'x mut Extractor<'de>,
    item: &'x mut Item<'de>,
}

impl<'de> Read<'de> for Content<'_, 'de> {
    fn string(self, s: Str<'de, '_>) {
        let text = Text::Decoded(s.into_cow());
        self.x.bytes += text.len() as u64;
        self.item.text = Some(text);
    }

    fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Blocks { x: self.x, level: 1, parent: self.item }.seq(seq)
    }
}

// ---------------------------------------------------------------------------------------------
// The walk.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Default)]
enum Role {
    #[default]
    None,
    User,
    Assistant,
    System,
    Tool,
}

fn role(raw: &str) -> Role {
    match raw {
        "user" => Role::User,
        "assistant" | "model" => Role::Assistant,
        "system" | "developer" => Role::System,
        "tool" | "function" => Role::Tool,
        _ => Role::None,
    }
}

/// What one message or input item is, for the tool-loop count.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    /// An assistant turn that calls a tool (Anthropic `tool_use`, Chat `tool_calls`, a Responses
    /// `function_call` item).
    Call,
    /// A tool result (Anthropic `tool_result`, the Chat `tool` role, `function_call_output`).
    Result,
    /// A Responses item that may sit between a call and the turn that made it: reasoning, or the
    /// assistant's text.
    Between,
    Other,
}

/// What one object (a message, a Responses item, or a content block) held.
#[derive(Default)]
struct Item<'de> {
    /// `type`, still escaped.
    ty: Option<&'de str>,
    role: Role,
    /// `text` (block) or `content` as a string.
    text: Option<Text<'de>>,
    /// Blocks that call a tool, and blocks that return a result, among its content.
    calls: u32,
    results: u32,
    /// Chat `tool_calls` with at least one call.
    tool_calls: bool,
}

struct Extractor<'de> {
    responses: bool,
    f: Features,
    /// Bytes counted for the token estimate, and media items at a fixed cost.
    bytes: u64,
    media: u64,
    system: Vec<Text<'de>>,
    /// Human text of the message being read, and of the latest user message that had some.
    current: Vec<Text<'de>>,
    last_user: Vec<Text<'de>>,
    steps: Vec<Step>,
    /// The only message's role, for the probe rule.
    first_role: Role,
}

/// Content nested deeper than this is skipped whole (only counted).
const MAX_LEVEL: u32 = 4;

impl<'de> Extractor<'de> {
    fn new(dialect: &str) -> Self {
        Self {
            responses: dialect == OPENAI_RESPONSES,
            f: Features::default(),
            bytes: 0,
            media: 0,
            system: Vec::new(),
            current: Vec::new(),
            last_user: Vec::new(),
            steps: Vec::new(),
            first_role: Role::None,
        }
    }

    /// A small top-level key of the envelope.
    fn setting(&mut self, key: TopKey, raw: &'de RawValue) {
        match key {
            TopKey::System | TopKey::Instructions => self.system_prompt(raw),
            TopKey::Thinking => {
                if let Some(ty) = object::<Typed<'_>>(raw).and_then(|t| t.ty) {
                    self.f.thinking = matches!(&*ty, "enabled" | "adaptive");
                }
            }
            TopKey::ReasoningEffort => {
                if let Some(effort) = string(raw) {
                    self.f.thinking = !matches!(&*effort, "minimal" | "none");
                }
            }
            TopKey::Reasoning => {
                // A reasoning object asks for the model's default effort unless it says less.
                if raw.get().starts_with('{') {
                    let effort = object::<Reasoning<'_>>(raw).and_then(|r| r.effort);
                    self.f.thinking = !matches!(effort.as_deref(), Some("minimal" | "none"));
                }
            }
            TopKey::MaxTokens | TopKey::MaxCompletionTokens | TopKey::MaxOutputTokens => {
                // `max_completion_tokens` supersedes the deprecated Chat `max_tokens`.
                if let Some(n) = count(raw)
                    && (key == TopKey::MaxCompletionTokens || self.f.max_tokens.is_none())
                {
                    self.f.max_tokens = Some(n);
                }
            }
            TopKey::ResponseFormat | TopKey::OutputFormat => {
                self.json_type(object::<Typed<'_>>(raw));
            }
            // Responses `text.format`, Anthropic `output_config.format`.
            TopKey::Text | TopKey::OutputConfig => {
                self.json_type(object::<Format<'_>>(raw).and_then(|f| f.format));
            }
            TopKey::WebSearchOptions => self.f.web_search |= raw.get() != "null",
            TopKey::Messages | TopKey::Input | TopKey::Tools | TopKey::Other => {}
        }
    }

    fn json_type(&mut self, format: Option<Typed<'_>>) {
        if format.and_then(|f| f.ty).is_some_and(|ty| matches!(&*ty, "json_object" | "json_schema"))
        {
            self.f.json_output = true;
        }
    }

    /// `system` (a string or text blocks) or `instructions`.
    fn system_prompt(&mut self, raw: &'de RawValue) {
        if raw.get().starts_with('"') {
            self.add_system(Text::Raw(raw));
        } else if let Ok(blocks) = serde_json::from_str::<Vec<&RawValue>>(raw.get()) {
            for block in blocks {
                if let Some(text) = object::<SystemBlock<'_>>(block).and_then(|b| b.text)
                    && text.get().starts_with('"')
                {
                    self.add_system(Text::Raw(text));
                }
            }
        }
    }

    fn add_system(&mut self, text: Text<'de>) {
        let n = text.len();
        self.f.system_bytes =
            self.f.system_bytes.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        self.bytes += n as u64;
        self.system.push(text);
    }

    /// Reads one object: a message or item (level 0), a block of its content (level 1), or
    /// something nested in a tool result (level 2 and deeper). Text at levels 0 and 1 is the
    /// message's own and is gathered in `current`; deeper text is only counted.
    fn item<D: Deserializer<'de>>(
        &mut self,
        level: u32,
        item: &mut Item<'de>,
        d: D,
    ) -> Result<(), D::Error> {
        if level > MAX_LEVEL {
            self.bytes += <&RawValue>::deserialize(d)?.get().len() as u64;
            return Ok(());
        }
        let read = Any(Fields { x: &mut *self, level, item: &mut *item }).deserialize(d);
        let ty = item.ty.unwrap_or_default();
        match ty {
            "image" | "image_url" | "input_image" => {
                self.f.images = true;
                self.media += MEDIA_TOKENS;
            }
            "document" | "file" | "input_file" | "input_audio" => {
                self.media += MEDIA_TOKENS;
            }
            "tool_use" | "server_tool_use" | "mcp_tool_use" => item.calls += 1,
            "tool_result" | "web_search_tool_result" | "mcp_tool_result" => item.results += 1,
            _ => {}
        }
        if level <= 1
            && matches!(ty, "" | "text" | "input_text" | "message")
            && let Some(text) = item.text.take()
            && !text.starts_with("<system-reminder>")
        {
            self.current.push(text);
        }
        read
    }

    /// One field of an object at `level` (other than a message's `content`), taken raw.
    fn field(&mut self, level: u32, item: &mut Item<'de>, key: ItemKey, raw: &'de RawValue) {
        let s = raw.get();
        match key {
            ItemKey::Type => item.ty = raw_str(raw),
            ItemKey::Role => {
                if let Some(r) = raw_str(raw) {
                    item.role = role(r);
                }
            }
            ItemKey::Text | ItemKey::Content if s.starts_with('"') => {
                let text = Text::Raw(raw);
                self.bytes += text.len() as u64;
                item.text = Some(text);
            }
            // A tool result's blocks, a Responses `function_call_output` given as items: read
            // from the raw value (a tool result is most often one long string, sized without
            // being decoded).
            ItemKey::Content | ItemKey::Output if s.starts_with('[') => {
                let blocks = Blocks { x: self, level: level + 1, parent: item };
                let _ = Any(blocks).deserialize(&mut serde_json::Deserializer::from_str(s));
            }
            ItemKey::ToolCalls => {
                self.bytes += s.len() as u64;
                item.tool_calls |=
                    s.strip_prefix('[').is_some_and(|s| !s.trim_start().starts_with(']'));
            }
            // Tool inputs, Responses call arguments and outputs, thinking, reasoning summaries:
            // counted by their raw size.
            ItemKey::Input
            | ItemKey::Arguments
            | ItemKey::Output
            | ItemKey::Thinking
            | ItemKey::Data
            | ItemKey::Summary
            | ItemKey::Content => self.bytes += s.len() as u64,
            ItemKey::Text | ItemKey::Other => {}
        }
    }

    /// After a message: its turn, its step in the tool loop, and where its text goes.
    fn end_message(&mut self, item: &Item<'de>) {
        self.f.turns += 1;
        if self.f.turns == 1 {
            self.first_role = item.role;
        }
        let step = match (item.ty.unwrap_or_default(), item.role) {
            ("function_call" | "custom_tool_call" | "local_shell_call", _) => Step::Call,
            ("function_call_output" | "custom_tool_call_output" | "local_shell_call_output", _) => {
                Step::Result
            }
            ("reasoning", _) => Step::Between,
            (_, Role::Assistant) if item.calls > 0 || item.tool_calls => Step::Call,
            (_, Role::Assistant) if self.responses => Step::Between,
            (_, Role::User) if item.results > 0 => Step::Result,
            (_, Role::Tool) => Step::Result,
            _ => Step::Other,
        };
        self.steps.push(step);
        match item.role {
            Role::User if !self.current.is_empty() => {
                std::mem::swap(&mut self.last_user, &mut self.current);
            }
            Role::System => {
                for text in &self.current {
                    self.f.system_bytes = self
                        .f
                        .system_bytes
                        .saturating_add(u32::try_from(text.len()).unwrap_or(u32::MAX));
                }
                self.system.append(&mut self.current);
            }
            _ => {}
        }
    }

    fn finish(mut self) -> Features {
        let mut f = std::mem::take(&mut self.f);

        // The prompt: the latest user message with text of its own.
        let mut fences = 0u32;
        let mut prompt = String::new();
        for (k, text) in self.last_user.iter().enumerate() {
            let text = text.decode();
            fences += memchr::memmem::find_iter(text.as_bytes(), b"```").count() as u32;
            if prompt.len() < PROMPT_CHARS * 4 {
                if k > 0 {
                    prompt.push('\n');
                }
                let end = text.char_indices().nth(PROMPT_CHARS).map_or(text.len(), |(at, _)| at);
                prompt.push_str(text.get(..end).unwrap_or_default());
            }
        }
        f.code_blocks = fences.div_ceil(2);
        if let Some((at, _)) = prompt.char_indices().nth(PROMPT_CHARS) {
            prompt.truncate(at);
        }
        f.prompt = prompt;
        f.files_mentioned = count_files(&f.prompt);

        // The tool loop: trailing (call, result) round trips.
        let mut i = self.steps.len();
        loop {
            let mut results = false;
            while i > 0 && self.steps[i - 1] == Step::Result {
                i -= 1;
                results = true;
            }
            let mut calls = false;
            while i > 0 && matches!(self.steps[i - 1], Step::Call | Step::Between) {
                calls |= self.steps[i - 1] == Step::Call;
                i -= 1;
            }
            if !(results && calls) {
                break;
            }
            f.tool_loop_depth += 1;
        }

        let tokens = self.bytes / 4 + self.media;
        f.token_estimate = u32::try_from(tokens).unwrap_or(u32::MAX);
        f.shape = self.shape(&f);
        f
    }

    /// The call's kind, by the rules in order (the first that holds wins):
    /// 1. Probe: `max_tokens` of 0 or 1, or a single user message that is only one of
    ///    [`PROBE_PROMPTS`], with no system prompt and no tools.
    /// 2. Title: one of [`TITLE_PHRASES`] in the prompt, or in the system prompt of a request
    ///    without tools.
    /// 3. Background: no tools, and one of [`BACKGROUND_PHRASES`] in the system prompt or the
    ///    prompt.
    /// 4. Turn.
    fn shape(&self, f: &Features) -> Shape {
        if matches!(f.max_tokens, Some(0 | 1)) {
            return Shape::Probe;
        }
        let probe = f.prompt.trim().trim_end_matches(['.', '!', '?']).to_ascii_lowercase();
        if f.turns == 1
            && self.first_role == Role::User
            && f.system_bytes == 0
            && f.tools == 0
            && PROBE_PROMPTS.contains(&probe.as_str())
        {
            return Shape::Probe;
        }
        let prompt = f.prompt.to_ascii_lowercase();
        let mut system = String::new();
        if f.tools == 0 {
            for text in &self.system {
                system.push_str(&text.decode());
                system.push('\n');
            }
            system.make_ascii_lowercase();
        }
        let has = |phrases: &[&str]| {
            phrases.iter().any(|ph| {
                let finder = memchr::memmem::Finder::new(ph.as_bytes());
                finder.find(prompt.as_bytes()).is_some() || finder.find(system.as_bytes()).is_some()
            })
        };
        if has(TITLE_PHRASES) {
            return Shape::Title;
        }
        if f.tools == 0 && has(BACKGROUND_PHRASES) {
            return Shape::Background;
        }
        Shape::Turn
    }
}

/// Distinct path-like tokens in `text`: a token with a `/` (not a URL) that starts with `/`,
/// `./`, `../` or `~/`, ends with `/`, or whose last segment has an extension; or a bare name
/// ending in one of [`SOURCE_EXTENSIONS`]. Surrounding punctuation and a `:line:col` suffix are
/// dropped first.
pub fn count_files(text: &str) -> u32 {
    let mut seen: Vec<&str> = Vec::new();
    for token in text.split(|c: char| c.is_whitespace() || "`'\"()[]{}<>,;".contains(c)) {
        let mut t = token.trim_end_matches(['.', ':', '!', '?']);
        // `src/a.rs:12:5`
        while let Some((head, tail)) = t.rsplit_once(':') {
            if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) {
                t = head;
            } else {
                break;
            }
        }
        if t.len() < 3 || t.contains("://") || seen.contains(&t) {
            continue;
        }
        let last = t.rsplit('/').next().unwrap_or(t);
        let ext = last.rsplit_once('.');
        let path = if t.contains('/') {
            t.starts_with('/')
                || t.starts_with("./")
                || t.starts_with("../")
                || t.starts_with("~/")
                || (t.ends_with('/') && t.len() > 1)
                || ext.is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty())
        } else {
            ext.is_some_and(|(stem, ext)| {
                !stem.is_empty() && SOURCE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
            })
        };
        if path {
            seen.push(t);
        }
    }
    seen.len() as u32
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ex(dialect: &str, body: &serde_json::Value) -> Features {
        Features::extract(dialect, body.to_string().as_bytes())
    }

    #[test]
    fn garbage_and_wrong_types_give_defaults() {
        for body in [
            &b""[..],
            b"null",
            b"[1,2]",
            b"{",
            b"{\"messages\":",
            b"{\"messages\": [{\"role\": \"user\", \"content\": \"abc",
            b"\xff\xfe{}",
            b"}}}]]]",
            b"{\"a\" 1}",
        ] {
            for d in [ANTHROPIC, OPENAI_CHAT, OPENAI_RESPONSES, "other"] {
                let _ = Features::extract(d, body);
            }
        }
        let f = ex(
            ANTHROPIC,
            &json!({"messages": "hi", "tools": {"a": 1}, "max_tokens": "x", "system": 5,
                "thinking": [1], "input": {"x": [1, {"y": null}]}}),
        );
        assert_eq!((f.turns, f.tools, f.max_tokens, f.thinking), (0, 0, None, false));
        let f = ex(ANTHROPIC, &json!({"messages": [1, "x", null, {"role": 3, "content": {}}]}));
        assert_eq!(f.turns, 4);
        // Deep nesting neither overflows the stack nor stops the walk.
        let deep = format!(
            "{{\"x\": {}1{}, \"max_tokens\": 7}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(Features::extract(ANTHROPIC, deep.as_bytes()).max_tokens, Some(7));
        // Truncated mid-body: what was read stays.
        let f = Features::extract(
            ANTHROPIC,
            br#"{"max_tokens": 5, "tools": [{"name": "a"}, {"name": "#,
        );
        assert_eq!((f.max_tokens, f.tools), (Some(5), 2));
    }

    #[test]
    fn cut_and_deep_bodies_read_without_panic() {
        let body = json!({"system": [{"type": "text", "text": "s\"q"}], "max_tokens": 9,
            "tools": [{"name": "a", "input_schema": {"type": "object"}}, {"type": "web_search"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "a\nb \u{e9}"},
                {"type": "image", "source": {"data": "AAAA"}}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "1", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "1",
                    "content": [{"type": "text", "text": "r"}, {"type": "image"}]}]}]})
        .to_string();
        let full = Features::extract(ANTHROPIC, body.as_bytes());
        assert_eq!((full.prompt.as_str(), full.tools, full.tool_loop_depth), ("a\nb é", 2, 1));
        for end in 0..body.len() {
            for d in [ANTHROPIC, OPENAI_CHAT, OPENAI_RESPONSES] {
                let _ = Features::extract(d, &body.as_bytes()[..end]);
            }
        }
        // Deep nesting inside the keys that are read: serde_json's depth limit ends the walk.
        let deep = |open: &str, close: &str| {
            format!(
                "{{\"max_tokens\": 7, \"messages\": [{{\"role\": \"user\", \"content\": {}1{}}}]}}",
                open.repeat(100_000),
                close.repeat(100_000)
            )
        };
        for body in [deep("[", "]"), deep("[{\"content\": ", "}]"), deep("{\"a\": ", "}")] {
            assert_eq!(Features::extract(ANTHROPIC, body.as_bytes()).max_tokens, Some(7));
        }
        // A lone surrogate (serde_json skips it but will not decode it).
        let f = Features::extract(
            ANTHROPIC,
            br#"{"messages": [{"role": "user", "content": [{"type": "text", "text": "x\ud800"}]}]}"#,
        );
        assert_eq!(f.prompt, "x\\ud800");
    }

    #[test]
    fn prompt_is_truncated_on_a_char_boundary() {
        let text = "é".repeat(PROMPT_CHARS + 10);
        let f = ex(OPENAI_CHAT, &json!({"messages": [{"role": "user", "content": text}]}));
        assert_eq!(f.prompt.chars().count(), PROMPT_CHARS);
        let text = format!("a{}", "🎉".repeat(PROMPT_CHARS));
        let f = ex(OPENAI_CHAT, &json!({"messages": [{"role": "user", "content": text}]}));
        assert_eq!(f.prompt.chars().count(), PROMPT_CHARS);
        assert!(f.prompt.starts_with("a🎉"));
    }

    #[test]
    fn anthropic_agent_turn() {
        let f = ex(
            ANTHROPIC,
            &json!({"max_tokens": 1000, "system": [{"type": "text", "text": "be brief"}],
                "thinking": {"type": "enabled", "budget_tokens": 2000},
                "tools": [{"name": "Read", "input_schema": {}}, {"type": "web_search_20250305", "name": "web_search"}],
                "messages": [
                    {"role": "user", "content": [
                        {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
                        {"text": "Fix `src/a.rs:3` and lib.rs, see https://x.io/a/b ```x``` and ```y```", "type": "text"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "1", "name": "Read", "input": {"p": 1}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "1", "content": [{"type": "text", "text": "file"}]}]},
                    {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "s"}, {"type": "tool_use", "id": "2", "name": "Read", "input": {}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "2", "content": "x"}, {"type": "text", "text": "<system-reminder>r</system-reminder>"}]}]}),
        );
        assert_eq!(
            f.prompt,
            "Fix `src/a.rs:3` and lib.rs, see https://x.io/a/b ```x``` and ```y```"
        );
        assert_eq!(
            (f.turns, f.tool_loop_depth, f.tools, f.code_blocks, f.files_mentioned),
            (5, 2, 2, 2, 2)
        );
        assert!(f.thinking && f.web_search && f.images && !f.json_output);
        assert_eq!((f.system_bytes, f.max_tokens, f.shape), (8, Some(1000), Shape::Turn));
        assert!(f.token_estimate > MEDIA_TOKENS as u32);
    }

    #[test]
    fn chat_and_responses_loops() {
        let f = ex(
            OPENAI_CHAT,
            &json!({"max_tokens": 10, "max_completion_tokens": 20, "reasoning_effort": "minimal",
                "response_format": {"type": "json_object"}, "web_search_options": {},
                "messages": [{"role": "developer", "content": "rules"}, {"role": "user", "content": [{"type": "text", "text": "go"}, {"type": "image_url", "image_url": {"url": "data:"}}]},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                    {"role": "tool", "tool_call_id": "a", "content": "r1"}, {"role": "tool", "tool_call_id": "b", "content": "r2"}]}),
        );
        assert_eq!(
            (f.prompt.as_str(), f.tool_loop_depth, f.max_tokens, f.system_bytes),
            ("go", 1, Some(20), 5)
        );
        assert!(!f.thinking && f.json_output && f.web_search && f.images);
        let f = ex(
            OPENAI_RESPONSES,
            &json!({"instructions": "sys", "reasoning": {"effort": "high"}, "max_output_tokens": 99,
                "text": {"format": {"type": "json_schema", "name": "x", "schema": {}}},
                "tools": [{"type": "function", "name": "f"}, {"type": "web_search"}],
                "input": [{"role": "user", "content": "do it"},
                    {"type": "reasoning", "summary": []}, {"type": "function_call", "call_id": "1", "name": "f", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "1", "output": "ok"},
                    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "more"}]},
                    {"type": "function_call", "call_id": "2", "name": "f", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "2", "output": [{"type": "input_image", "image_url": "data:"}]}]}),
        );
        assert_eq!((f.prompt.as_str(), f.turns, f.tool_loop_depth, f.tools), ("do it", 7, 2, 2));
        assert!(f.thinking && f.json_output && f.web_search && f.images);
        assert_eq!((f.system_bytes, f.max_tokens), (3, Some(99)));
        let f = ex(OPENAI_RESPONSES, &json!({"input": "ping"}));
        assert_eq!((f.turns, f.shape, f.prompt.as_str()), (1, Shape::Probe, "ping"));
    }

    #[test]
    fn shapes() {
        let probe = ex(
            ANTHROPIC,
            &json!({"max_tokens": 1, "messages": [{"role": "user", "content": "Write a novel"}]}),
        );
        assert_eq!(probe.shape, Shape::Probe);
        let quota = ex(
            ANTHROPIC,
            &json!({"max_tokens": 100, "messages": [{"role": "user", "content": "quota"}]}),
        );
        assert_eq!(quota.shape, Shape::Probe);
        let not = ex(
            ANTHROPIC,
            &json!({"max_tokens": 100, "system": "x", "messages": [{"role": "user", "content": "test"}]}),
        );
        assert_eq!(not.shape, Shape::Turn);
        let title = ex(
            ANTHROPIC,
            &json!({"max_tokens": 100, "system": [{"type": "text", "text": "Generate a concise, sentence-case title (3-7 words)"}], "messages": [{"role": "user", "content": "hello there"}]}),
        );
        assert_eq!(title.shape, Shape::Title);
        let bg = ex(
            ANTHROPIC,
            &json!({"max_tokens": 100, "system": "Analyze if this message indicates a new conversation topic. Respond with isNewTopic", "messages": [{"role": "user", "content": "fix the bug"}]}),
        );
        assert_eq!(bg.shape, Shape::Background);
        let with_tools = ex(
            ANTHROPIC,
            &json!({"max_tokens": 100, "tools": [{"name": "x"}], "system": "command prefix", "messages": [{"role": "user", "content": "fix the bug"}]}),
        );
        assert_eq!(with_tools.shape, Shape::Turn);
    }

    #[test]
    fn file_mentions() {
        assert_eq!(
            count_files(
                "see src/a.rs, /etc/hosts and (lib.rs) or src/a.rs:10:2 and and/or e.g. 1.5"
            ),
            3
        );
        assert_eq!(count_files("./run.sh ~/x ../y/ main.py http://a.b/c.rs"), 4);
    }
}
