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
    ///
    /// The keys of the three dialects barely overlap (`system`/`messages`, `messages` with
    /// `tool_calls`, `instructions`/`input`), so the walk reads any of them whatever `dialect`
    /// says; `dialect` only decides how the Chat `tool` role and the Responses items count.
    pub fn extract(dialect: &str, body: &[u8]) -> Self {
        let mut x = Extractor::new(body, dialect);
        x.top();
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
// The byte-level scanner. serde_json's own skipping runs at about 2 GB/s on agent bodies (every
// line of a file in a tool result has a `\n` escape); the scanner below finds a string's end 64
// bytes at a time and reads only the structure routing needs. It does not validate: the body was
// validated before routing, and on malformed input it stops where it is lost. Every index is
// checked, so no input can make it panic, and skipping is iterative, so nesting cannot overflow
// the stack.
// ---------------------------------------------------------------------------------------------

/// Byte range of a string's contents (between its quotes, still escaped).
type Span = (usize, usize);

/// Where the string whose contents start at `i` ends: the index of its closing quote.
#[inline]
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    // Keys, roles and ids are short: a plain loop.
    let short = b.len().min(i.saturating_add(32));
    while i < short {
        match b[i] {
            b'"' => return Some(i),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    // Then 64-byte blocks. `carry`: the first byte of the block is escaped.
    let mut carry = 0u64;
    while let Some(block) = b.get(i..).and_then(|s| s.first_chunk::<64>()) {
        let (quotes, slashes) = masks(block);
        let mut escaped = carry;
        carry = 0;
        // Each backslash that is not itself escaped escapes the byte after it.
        let mut escapes = slashes & !escaped;
        while escapes != 0 {
            let at = escapes.trailing_zeros();
            if at == 63 {
                carry = 1;
            } else {
                escaped |= 2u64 << at;
            }
            escapes &= escapes - 1;
            escapes &= !escaped;
        }
        let quotes = quotes & !escaped;
        if quotes != 0 {
            return Some(i + quotes.trailing_zeros() as usize);
        }
        i += 64;
    }
    i += carry as usize;
    while i < b.len() {
        match b[i] {
            b'"' => return Some(i),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

/// Bitmasks of the `"` and `\\` bytes of a 64-byte block, eight bytes at a time (SWAR: an exact
/// zero-byte test, then the eight flag bits gathered by one multiplication).
#[inline]
fn masks(block: &[u8; 64]) -> (u64, u64) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const GATHER: u64 = 0x0102_0408_1020_4080;
    /// 0x80 in each byte of `w` that equals the byte repeated in `pattern`.
    #[inline]
    fn eq(w: u64, pattern: u64) -> u64 {
        let x = w ^ pattern;
        !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
    }
    let mut quotes = 0u64;
    let mut slashes = 0u64;
    for (k, word) in block.as_chunks::<8>().0.iter().enumerate() {
        let w = u64::from_le_bytes(*word);
        let q = eq(w, ONES * u64::from(b'"'));
        let s = eq(w, ONES * u64::from(b'\\'));
        if q | s != 0 {
            quotes |= ((q >> 7).wrapping_mul(GATHER) >> 56) << (8 * k);
            slashes |= ((s >> 7).wrapping_mul(GATHER) >> 56) << (8 * k);
        }
    }
    (quotes, slashes)
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// The next significant byte, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Reads a string: its contents' span.
    #[inline]
    fn string(&mut self) -> Option<Span> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        let end = string_end(self.b, start)?;
        self.i = end + 1;
        Some((start, end))
    }

    /// Reads a string if one is next, else skips the value.
    fn string_or_skip(&mut self) -> Option<Span> {
        if self.peek() == Some(b'"') {
            self.string()
        } else {
            self.skip();
            None
        }
    }

    fn bytes(&self, (start, end): Span) -> &'a [u8] {
        self.b.get(start..end).unwrap_or_default()
    }

    /// Skips one value; false when the input ends or is malformed. Iterative: brackets are
    /// only counted (not matched by kind), which is enough on a body that was validated.
    fn skip(&mut self) -> bool {
        let mut depth = 0usize;
        loop {
            let Some(c) = self.peek() else { return false };
            match c {
                b'"' => {
                    if self.string().is_none() {
                        self.i = self.b.len();
                        return false;
                    }
                }
                b'{' | b'[' => {
                    depth += 1;
                    self.i += 1;
                    continue;
                }
                b'}' | b']' => {
                    if depth == 0 {
                        return false;
                    }
                    depth -= 1;
                    self.i += 1;
                }
                b',' | b':' => {
                    if depth == 0 {
                        return false;
                    }
                    self.i += 1;
                    continue;
                }
                _ => {
                    // A number, `true`, `false` or `null` (or garbage): up to a delimiter. The
                    // first byte is none of them, so this always advances.
                    self.i += 1;
                    while let Some(c) = self.b.get(self.i) {
                        if matches!(
                            c,
                            b',' | b':' | b'}' | b']' | b'"' | b' ' | b'\n' | b'\r' | b'\t'
                        ) {
                            break;
                        }
                        self.i += 1;
                    }
                }
            }
            if depth == 0 {
                return true;
            }
        }
    }

    /// Skips a value and returns how many bytes it took.
    fn skip_len(&mut self) -> usize {
        self.ws();
        let start = self.i;
        self.skip();
        self.i - start
    }

    /// Walks an object, calling `f` with each key (raw, still escaped); `f` must read or skip
    /// the value. Anything other than an object is skipped. False when the input is malformed.
    fn object(&mut self, mut f: impl FnMut(&mut Self, &'a [u8]) -> bool) -> bool {
        if self.peek() != Some(b'{') {
            return self.skip();
        }
        self.i += 1;
        if self.eat(b'}') {
            return true;
        }
        loop {
            let Some(key) = self.string() else { return false };
            if !self.eat(b':') {
                return false;
            }
            let key = self.bytes(key);
            if !f(self, key) {
                return false;
            }
            if self.eat(b',') {
                continue;
            }
            return self.eat(b'}');
        }
    }

    /// Walks an array, calling `f` for each element; `f` must read or skip it. Anything other
    /// than an array is skipped.
    fn array(&mut self, mut f: impl FnMut(&mut Self) -> bool) -> bool {
        if self.peek() != Some(b'[') {
            return self.skip();
        }
        self.i += 1;
        if self.eat(b']') {
            return true;
        }
        loop {
            if !f(self) {
                return false;
            }
            if self.eat(b',') {
                continue;
            }
            return self.eat(b']');
        }
    }

    /// Reads a non-negative integer (saturating; a fraction is dropped, a negative is 0). Any
    /// other value is skipped and gives None.
    fn number(&mut self) -> (bool, Option<u64>) {
        match self.peek() {
            Some(b'0'..=b'9') => {
                let mut n = 0u64;
                while let Some(&d @ b'0'..=b'9') = self.b.get(self.i) {
                    n = n.saturating_mul(10).saturating_add(u64::from(d - b'0'));
                    self.i += 1;
                }
                (self.skip_number_rest(), Some(n))
            }
            Some(b'-') => (self.skip(), Some(0)),
            _ => (self.skip(), None),
        }
    }

    fn skip_number_rest(&mut self) -> bool {
        while let Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') = self.b.get(self.i) {
            self.i += 1;
        }
        true
    }

    /// The `type` of an object (`{"type": "json_schema", ...}`), or of nested `key` in it.
    fn object_type(&mut self) -> (bool, Option<Span>) {
        let mut ty = None;
        let ok = self.object(|p, k| {
            if k == b"type" {
                ty = p.string_or_skip();
                true
            } else {
                p.skip()
            }
        });
        (ok, ty)
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

fn role(raw: &[u8]) -> Role {
    match raw {
        b"user" => Role::User,
        b"assistant" | b"model" => Role::Assistant,
        b"system" | b"developer" => Role::System,
        b"tool" | b"function" => Role::Tool,
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
struct Item {
    ty: Option<Span>,
    role: Role,
    /// `text` (block) or `content` as a string.
    text: Option<Span>,
    /// Blocks that call a tool, and blocks that return a result, among its content.
    calls: u32,
    results: u32,
    /// Chat `tool_calls` with at least one call.
    tool_calls: bool,
}

struct Extractor<'a> {
    p: Scanner<'a>,
    responses: bool,
    f: Features,
    /// Bytes counted for the token estimate, and media items at a fixed cost.
    bytes: u64,
    media: u64,
    system: Vec<Span>,
    /// Human text of the message being read, and of the latest user message that had some.
    current: Vec<Span>,
    last_user: Vec<Span>,
    steps: Vec<Step>,
    /// The only message's role, for the probe rule.
    first_role: Role,
}

/// Content nested deeper than this is skipped whole (only counted).
const MAX_LEVEL: u32 = 4;

impl<'a> Extractor<'a> {
    fn new(b: &'a [u8], dialect: &str) -> Self {
        Self {
            p: Scanner { b, i: 0 },
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

    fn top(&mut self) {
        let mut p = Scanner { b: self.p.b, i: 0 };
        p.object(|p, key| match key {
            b"system" | b"instructions" => self.system_prompt(p),
            b"messages" => p.array(|p| self.message(p)),
            b"input" => {
                if p.peek() == Some(b'"') {
                    // A Responses string input: one user message.
                    let Some(s) = p.string() else { return false };
                    self.bytes += (s.1 - s.0) as u64;
                    self.f.turns += 1;
                    self.first_role = Role::User;
                    self.steps.push(Step::Other);
                    self.last_user.clear();
                    self.last_user.push(s);
                    true
                } else {
                    p.array(|p| self.message(p))
                }
            }
            b"tools" => p.array(|p| self.tool(p)),
            b"thinking" => {
                let (ok, ty) = p.object_type();
                if let Some(ty) = ty {
                    self.f.thinking = matches!(p.bytes(ty), b"enabled" | b"adaptive");
                }
                ok
            }
            b"reasoning_effort" => {
                if let Some(s) = p.string_or_skip() {
                    self.f.thinking = !matches!(p.bytes(s), b"minimal" | b"none");
                }
                true
            }
            b"reasoning" => {
                if p.peek() != Some(b'{') {
                    return p.skip();
                }
                // A reasoning object asks for the model's default effort unless it says less.
                let mut thinking = true;
                let ok = p.object(|p, k| {
                    if k == b"effort" {
                        if let Some(s) = p.string_or_skip() {
                            thinking = !matches!(p.bytes(s), b"minimal" | b"none");
                        }
                        true
                    } else {
                        p.skip()
                    }
                });
                self.f.thinking = thinking;
                ok
            }
            b"max_tokens" | b"max_completion_tokens" | b"max_output_tokens" => {
                let (ok, n) = p.number();
                // `max_completion_tokens` supersedes the deprecated Chat `max_tokens`.
                if let Some(n) = n
                    && (key == b"max_completion_tokens" || self.f.max_tokens.is_none())
                {
                    self.f.max_tokens = Some(u32::try_from(n).unwrap_or(u32::MAX));
                }
                ok
            }
            b"response_format" | b"output_format" => {
                let (ok, ty) = p.object_type();
                self.json_type(p, ty);
                ok
            }
            // Responses `text.format`, Anthropic `output_config.format`.
            b"text" | b"output_config" => p.object(|p, k| {
                if k == b"format" {
                    let (ok, ty) = p.object_type();
                    self.json_type(p, ty);
                    ok
                } else {
                    p.skip()
                }
            }),
            b"web_search_options" => {
                if p.peek() != Some(b'n') {
                    self.f.web_search = true;
                }
                p.skip()
            }
            _ => p.skip(),
        });
    }

    fn json_type(&mut self, p: &Scanner<'a>, ty: Option<Span>) {
        if let Some(ty) = ty
            && matches!(p.bytes(ty), b"json_object" | b"json_schema")
        {
            self.f.json_output = true;
        }
    }

    /// `system` (a string or text blocks) or `instructions`.
    fn system_prompt(&mut self, p: &mut Scanner<'a>) -> bool {
        match p.peek() {
            Some(b'"') => {
                let Some(s) = p.string() else { return false };
                self.add_system(s);
                true
            }
            Some(b'[') => p.array(|p| {
                let mut text = None;
                let ok = p.object(|p, k| {
                    if k == b"text" {
                        text = p.string_or_skip();
                        true
                    } else {
                        p.skip()
                    }
                });
                if let Some(s) = text {
                    self.add_system(s);
                }
                ok
            }),
            _ => p.skip(),
        }
    }

    fn add_system(&mut self, s: Span) {
        let n = s.1 - s.0;
        self.f.system_bytes =
            self.f.system_bytes.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        self.bytes += n as u64;
        self.system.push(s);
    }

    /// One tool definition: counted whole; its `type` tells a web search tool.
    fn tool(&mut self, p: &mut Scanner<'a>) -> bool {
        p.ws();
        let start = p.i;
        let (ok, ty) = p.object_type();
        self.bytes += (p.i - start) as u64;
        self.f.tools += 1;
        if let Some(ty) = ty
            && p.bytes(ty).starts_with(b"web_search")
        {
            self.f.web_search = true;
        }
        ok
    }

    /// One message (Anthropic, Chat) or input item (Responses).
    fn message(&mut self, p: &mut Scanner<'a>) -> bool {
        self.current.clear();
        let mut item = Item::default();
        let ok = self.item(p, 0, &mut item);
        self.f.turns += 1;
        if self.f.turns == 1 {
            self.first_role = item.role;
        }
        let ty = item.ty.map(|t| p.bytes(t)).unwrap_or_default();
        let step = match (ty, item.role) {
            (b"function_call" | b"custom_tool_call" | b"local_shell_call", _) => Step::Call,
            (
                b"function_call_output" | b"custom_tool_call_output" | b"local_shell_call_output",
                _,
            ) => Step::Result,
            (b"reasoning", _) => Step::Between,
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
                for &s in &self.current {
                    self.f.system_bytes = self
                        .f
                        .system_bytes
                        .saturating_add(u32::try_from(s.1 - s.0).unwrap_or(u32::MAX));
                }
                self.system.extend_from_slice(&self.current);
            }
            _ => {}
        }
        ok
    }

    /// Reads one object: a message or item (level 0), a block of its content (level 1), or
    /// something nested in a tool result (level 2 and deeper). Text at levels 0 and 1 is the
    /// message's own and is gathered in `current`; deeper text is only counted.
    fn item(&mut self, p: &mut Scanner<'a>, level: u32, item: &mut Item) -> bool {
        if level > MAX_LEVEL {
            self.bytes += p.skip_len() as u64;
            return true;
        }
        let ok = p.object(|p, key| match key {
            b"type" => {
                item.ty = p.string_or_skip();
                true
            }
            b"role" => {
                if let Some(s) = p.string_or_skip() {
                    item.role = role(p.bytes(s));
                }
                true
            }
            b"text" | b"content" if p.peek() == Some(b'"') => {
                let Some(s) = p.string() else { return false };
                self.bytes += (s.1 - s.0) as u64;
                item.text = Some(s);
                true
            }
            // Nested content: a message's blocks, a tool result's blocks, a Responses
            // `function_call_output` given as items.
            b"content" | b"output" if p.peek() == Some(b'[') => p.array(|p| {
                let mut block = Item::default();
                let ok = self.item(p, level + 1, &mut block);
                if level == 0 {
                    item.calls += block.calls;
                    item.results += block.results;
                }
                ok
            }),
            b"tool_calls" => {
                let array = p.peek() == Some(b'[');
                let n = p.skip_len();
                self.bytes += n as u64;
                item.tool_calls |=
                    array && !p.bytes((p.i - n, p.i)).iter().all(|c| b"[ \n\r\t]".contains(c));
                true
            }
            // Tool inputs, Responses call arguments and outputs, thinking, reasoning summaries:
            // counted by their raw size.
            b"input" | b"arguments" | b"output" | b"thinking" | b"data" | b"summary"
            | b"content" => {
                self.bytes += p.skip_len() as u64;
                true
            }
            // Image, audio and file data (`source`, `image_url`, `input_audio`, `file`,
            // `file_data`, ...) and everything else: skipped, not counted.
            _ => p.skip(),
        });
        let ty = item.ty.map(|t| p.bytes(t)).unwrap_or_default();
        match ty {
            b"image" | b"image_url" | b"input_image" => {
                self.f.images = true;
                self.media += MEDIA_TOKENS;
            }
            b"document" | b"file" | b"input_file" | b"input_audio" => {
                self.media += MEDIA_TOKENS;
            }
            b"tool_use" | b"server_tool_use" | b"mcp_tool_use" => item.calls += 1,
            b"tool_result" | b"web_search_tool_result" | b"mcp_tool_result" => item.results += 1,
            _ => {}
        }
        if level <= 1
            && let Some(s) = item.text
            && matches!(ty, b"" | b"text" | b"input_text" | b"message")
            && !p.bytes(s).starts_with(b"<system-reminder>")
        {
            self.current.push(s);
        }
        ok
    }

    fn finish(mut self) -> Features {
        let b = self.p.b;
        let mut f = std::mem::take(&mut self.f);

        // The prompt: the latest user message with text of its own.
        let mut fences = 0u32;
        let mut raw = Vec::new();
        for (k, &(start, end)) in self.last_user.iter().enumerate() {
            let s = b.get(start..end).unwrap_or_default();
            fences += memchr::memmem::find_iter(s, b"```").count() as u32;
            if raw.len() < PROMPT_CHARS * 4 {
                if k > 0 {
                    raw.push(b'\n');
                }
                unescape_into(s, &mut raw, PROMPT_CHARS * 4 + 4);
            }
        }
        f.code_blocks = fences.div_ceil(2);
        let mut prompt = String::from_utf8_lossy(&raw).into_owned();
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
        let mut system = Vec::new();
        if f.tools == 0 {
            for &(start, end) in &self.system {
                system.extend(self.p.b.get(start..end).unwrap_or_default());
                system.push(b'\n');
            }
            system.make_ascii_lowercase();
        }
        let has = |phrases: &[&str]| {
            phrases.iter().any(|ph| {
                let finder = memchr::memmem::Finder::new(ph.as_bytes());
                finder.find(prompt.as_bytes()).is_some() || finder.find(&system).is_some()
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

/// Decodes the JSON string contents `s` (without quotes) into `out`, stopping once `out` holds
/// `limit` bytes. Bad escapes give U+FFFD; invalid UTF-8 is left to the caller's lossy decoding.
fn unescape_into(s: &[u8], out: &mut Vec<u8>, limit: usize) {
    let mut i = 0;
    while i < s.len() && out.len() < limit {
        let run = memchr::memchr(b'\\', &s[i..]).map_or(s.len(), |at| i + at);
        let take = run.min(i.saturating_add(limit - out.len()));
        out.extend_from_slice(&s[i..take]);
        i = take;
        if i != run || i >= s.len() {
            continue;
        }
        // At a backslash.
        let c = s.get(i + 1).copied().unwrap_or(b'?');
        i += 2;
        let simple = match c {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            continue;
        }
        let mut ch = char::REPLACEMENT_CHARACTER;
        if c == b'u'
            && let Some(hi) = hex4(s, i)
        {
            i += 4;
            if (0xD800..0xDC00).contains(&hi) {
                if s.get(i..i + 2) == Some(b"\\u")
                    && let Some(lo) = hex4(s, i + 2)
                    && (0xDC00..0xE000).contains(&lo)
                {
                    i += 6;
                    let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    ch = char::from_u32(code).unwrap_or(ch);
                }
            } else {
                ch = char::from_u32(hi).unwrap_or(ch);
            }
        }
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
}

fn hex4(s: &[u8], at: usize) -> Option<u32> {
    let digits = s.get(at..at + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    u32::from_str_radix(text, 16).ok()
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
    fn string_end_matches_a_plain_scan() {
        fn naive(b: &[u8], mut i: usize) -> Option<usize> {
            while i < b.len() {
                match b[i] {
                    b'"' => return Some(i),
                    b'\\' => i += 2,
                    _ => i += 1,
                }
            }
            None
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..400 {
            for _ in 0..20 {
                let s: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        [b'a', b'\\', b'"', b'x', b'\\', b'b'][(seed % 6) as usize]
                    })
                    .collect();
                assert_eq!(string_end(&s, 0), naive(&s, 0), "{:?}", String::from_utf8_lossy(&s));
            }
        }
    }

    #[test]
    fn unescaping_agrees_with_serde_json() {
        for s in ["plain", "a\"b\\c\n\t\u{1}", "é ü 日本 🎉", "\u{7f}\u{ffff}", "x/y"] {
            let quoted = serde_json::to_string(s).unwrap();
            let mut out = Vec::new();
            unescape_into(&quoted.as_bytes()[1..quoted.len() - 1], &mut out, usize::MAX);
            assert_eq!(String::from_utf8(out).unwrap(), s);
        }
        let mut out = Vec::new();
        unescape_into(br"\ud83c\udf89 \u00e9 \/ \ud800 \x \u12", &mut out, usize::MAX);
        assert_eq!(String::from_utf8_lossy(&out), "🎉 é / \u{fffd} \u{fffd} \u{fffd}12");
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
