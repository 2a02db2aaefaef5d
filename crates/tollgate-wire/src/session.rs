//! Which conversation a request belongs to, and what that conversation is about: a stable
//! session id, the first prompt as a preview, and the working directory and git branch the
//! agent reported. Read from headers and the raw body; nothing is stored or remembered here.
//!
//! Also home to the small readers of message text that `search` shares: content that is a
//! string or a list of blocks, and the wrappers coding agents inject around the user's words.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::Dialect;

/// What one request says about its session. Maps onto the store's `SessionUpdate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// `cc:<uuid>` (Claude Code), `codex:<id>`, `hdr:<value>` (a session header), or
    /// `h:<16 hex>` (a hash of the key name and the first prompt).
    pub id: String,
    /// `claude-code`, `codex`, `header` or `heuristic`.
    pub source: &'static str,
    /// The first user prompt, injected context removed, trimmed, at most 500 characters.
    pub preview: Option<String>,
    pub cwd: Option<String>,
    pub git_branch: Option<String>,
}

/// Longest preview kept, in characters.
pub const PREVIEW_CHARS: usize = 500;

/// Detects the session of one request. `header` reads a request header by its lower-case name.
///
/// Sources, first match wins:
/// 1. Claude Code's `metadata.user_id` (Anthropic bodies), in both formats:
///    `user_<hash>_account_<uuid?>_session_<uuid>` (before 2.1.78) and the JSON-encoded
///    `{"device_id":…,"account_uuid":…,"session_id":"<uuid>"}` (2.1.78 and later).
/// 2. `x-claude-code-session-id` (Claude Code 2.1.86 and later; the same uuid), as `cc:`.
/// 3. `x-session-id`, as `hdr:`.
/// 4. Codex's `session_id` (older versions also `conversation_id`; some send `session-id`):
///    `codex:` when the request comes from Codex, otherwise `hdr:`.
/// 5. A hash of `key_name` and the first user prompt, as `h:`. Two conversations that open
///    with the same prompt on the same key share it; that is the price of having no id.
pub fn detect<'h>(
    dialect: Dialect,
    header: impl Fn(&str) -> Option<&'h str>,
    body: &[u8],
    key_name: Option<&str>,
) -> Option<SessionInfo> {
    let parsed = serde_json::from_slice::<Body<'_>>(body).ok();
    let messages = parsed.as_ref().map(|b| b.messages.as_slice()).unwrap_or_default();
    let first_prompt = first_user_text(messages);
    let (id, source) = match id_from_metadata(dialect, parsed.as_ref()) {
        Some(uuid) => (format!("cc:{uuid}"), "claude-code"),
        None => match id_from_headers(&header) {
            Some(found) => found,
            None => {
                let prompt = first_prompt.as_deref()?;
                (format!("h:{}", heuristic_hash(key_name.unwrap_or_default(), prompt)), "heuristic")
            }
        },
    };
    // Claude Code's `max_tokens: 1` quota probe opens sessions with the prompt "quota".
    let probe = parsed.as_ref().and_then(|b| b.max_tokens) == Some(1);
    let preview = first_prompt.filter(|_| !probe).map(|p| truncate_chars(&p, PREVIEW_CHARS));
    let (cwd, git_branch) = parsed.as_ref().map(|b| environment(dialect, b)).unwrap_or_default();
    Some(SessionInfo { id, source, preview, cwd, git_branch })
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(default, borrow)]
    system: Option<&'a RawValue>,
    #[serde(default, borrow)]
    messages: Vec<Message<'a>>,
    #[serde(default, borrow)]
    metadata: Option<Metadata<'a>>,
    #[serde(default)]
    max_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(default, borrow)]
    user_id: Option<&'a RawValue>,
}

/// One message, with its content left unparsed until it is needed.
#[derive(Deserialize)]
pub(crate) struct Message<'a> {
    #[serde(default, borrow)]
    pub(crate) role: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub(crate) content: Option<&'a RawValue>,
}

impl Message<'_> {
    pub(crate) fn role(&self) -> &str {
        self.role.as_deref().unwrap_or_default()
    }
}

/// A content block or content part, with the fields any reader here needs.
#[derive(Deserialize)]
pub(crate) struct Block<'a> {
    #[serde(rename = "type", default, borrow)]
    pub(crate) kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub(crate) text: Option<Cow<'a, str>>,
    /// `tool_result` content: a string or blocks.
    #[serde(default, borrow)]
    pub(crate) content: Option<&'a RawValue>,
}

/// Content as a string or a list of blocks (anything else reads as no blocks).
pub(crate) enum Content<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<Block<'a>>),
}

pub(crate) fn content_of<'a>(raw: Option<&'a RawValue>) -> Option<Content<'a>> {
    let raw = raw?.get();
    match raw.trim_start().as_bytes().first() {
        Some(b'"') => serde_json::from_str(raw).ok().map(Content::Text),
        Some(b'[') => serde_json::from_str(raw).ok().map(Content::Blocks),
        _ => None,
    }
}

/// The text of `content`: a string, or its `text` blocks joined by newlines.
pub(crate) fn plain_text(raw: Option<&RawValue>) -> String {
    match content_of(raw) {
        Some(Content::Text(t)) => t.into_owned(),
        Some(Content::Blocks(blocks)) => {
            let texts = blocks.iter().filter(|b| b.kind.as_deref() == Some("text"));
            let texts: Vec<&str> = texts.filter_map(|b| b.text.as_deref()).collect();
            texts.join("\n")
        }
        None => String::new(),
    }
}

/// Wrappers whose content coding agents inject into user turns and that are not the user's
/// words: Claude Code's reminders and local-command echoes, Codex's environment and
/// instructions.
const DROPPED: &[&str] = &[
    "system-reminder",
    "local-command-stdout",
    "local-command-stderr",
    "command-message",
    "environment_context",
    "user_instructions",
    "INSTRUCTIONS",
];

/// Wrappers whose content is the user's (a slash command and its arguments): the tags go, the
/// words stay.
const UNWRAPPED: &[&str] = &["command-name", "command-args"];

/// Whole texts that are injected context rather than a prompt.
const INJECTED_PREFIXES: &[&str] = &[
    "Caveat: The messages below were generated by the user while running local commands",
    "# AGENTS.md instructions for ",
];

/// The user's own words in one text: injected wrappers removed, trimmed. Borrowed when there is
/// nothing to remove.
pub(crate) fn user_words(text: &str) -> Cow<'_, str> {
    let trimmed = text.trim();
    if INJECTED_PREFIXES.iter().any(|p| trimmed.starts_with(p)) {
        return Cow::Borrowed("");
    }
    if !trimmed.contains('<') {
        return Cow::Borrowed(trimmed);
    }
    let mut out = trimmed.to_owned();
    for tag in DROPPED {
        out = remove_elements(&out, tag, false);
    }
    if UNWRAPPED.iter().any(|tag| out.contains(&format!("<{tag}>"))) {
        for tag in UNWRAPPED {
            out = remove_elements(&out, tag, true);
        }
        // A slash command reads as one line: `/review PR 12`.
        out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    match out.trim() {
        t if t == trimmed => Cow::Borrowed(trimmed),
        t => Cow::Owned(t.to_owned()),
    }
}

/// Removes every `<tag>…</tag>` (to the end when unclosed), or only the tags when
/// `keep_inner`.
fn remove_elements(text: &str, tag: &str, keep_inner: bool) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(&open) {
        out.push_str(&rest[..start]);
        let inner_start = start + open.len();
        let (inner, after) = match rest[inner_start..].find(&close) {
            Some(len) => (&rest[inner_start..inner_start + len], inner_start + len + close.len()),
            None => (&rest[inner_start..], rest.len()),
        };
        if keep_inner {
            out.push_str(inner.trim());
            out.push(' ');
        }
        rest = &rest[after..];
    }
    out.push_str(rest);
    out
}

/// The user's words in one message's content, text blocks only (not tool results).
pub(crate) fn user_words_of(raw: Option<&RawValue>) -> String {
    let mut out = String::new();
    let mut push = |text: &str| {
        let words = user_words(text);
        if !words.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&words);
        }
    };
    match content_of(raw) {
        Some(Content::Text(t)) => push(&t),
        Some(Content::Blocks(blocks)) => {
            for b in blocks.iter().filter(|b| b.kind.as_deref() == Some("text")) {
                push(b.text.as_deref().unwrap_or_default());
            }
        }
        None => {}
    }
    out
}

/// The first user message with words of the user's own in it.
fn first_user_text(messages: &[Message<'_>]) -> Option<String> {
    messages
        .iter()
        .filter(|m| m.role() == "user")
        .map(|m| user_words_of(m.content))
        .find(|t| !t.is_empty())
}

/// Cuts `text` to at most `max` characters.
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

fn heuristic_hash(key_name: &str, prompt: &str) -> String {
    let mut h = Sha256::new();
    h.update(key_name.as_bytes());
    // A separator, so `("ab", "c")` and `("a", "bc")` differ.
    h.update([0u8]);
    h.update(prompt.as_bytes());
    let digest = h.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

// ---- ids ----------------------------------------------------------------------------------

fn id_from_metadata(dialect: Dialect, body: Option<&Body<'_>>) -> Option<String> {
    if dialect != Dialect::Anthropic {
        return None;
    }
    let raw = body?.metadata.as_ref()?.user_id?;
    let user_id: Cow<'_, str> = serde_json::from_str(raw.get()).ok()?;
    claude_code_session(&user_id)
}

/// The session uuid in Claude Code's `metadata.user_id`, in either format.
fn claude_code_session(user_id: &str) -> Option<String> {
    let user_id = user_id.trim();
    if user_id.starts_with('{') {
        #[derive(Deserialize)]
        struct Encoded {
            #[serde(default)]
            session_id: Option<String>,
        }
        let encoded: Encoded = serde_json::from_str(user_id).ok()?;
        return encoded.session_id.filter(|s| is_uuid(s));
    }
    let (head, session) = user_id.rsplit_once("_session_")?;
    (head.starts_with("user_") && is_uuid(session)).then(|| session.to_owned())
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A header value usable as an id: 1 to 128 visible ASCII characters.
fn header_id<'h>(header: &impl Fn(&str) -> Option<&'h str>, name: &str) -> Option<String> {
    let v = header(name)?.trim();
    let ok = !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| v.to_owned())
}

fn id_from_headers<'h>(
    header: &impl Fn(&str) -> Option<&'h str>,
) -> Option<(String, &'static str)> {
    if let Some(v) = header_id(header, "x-claude-code-session-id") {
        return Some((format!("cc:{v}"), "claude-code"));
    }
    if let Some(v) = header_id(header, "x-session-id") {
        return Some((format!("hdr:{v}"), "header"));
    }
    let codex = ["session_id", "session-id", "conversation_id", "conversation-id"];
    let v = codex.iter().find_map(|name| header_id(header, name))?;
    if crate::client::detect(header("user-agent"), header) == Some("codex") {
        Some((format!("codex:{v}"), "codex"))
    } else {
        Some((format!("hdr:{v}"), "header"))
    }
}

// ---- environment --------------------------------------------------------------------------

/// Working directory and git branch, from the system prompt (Claude Code: `Working directory:`
/// in `<env>` or `Primary working directory:` under `# Environment`, and `Current branch:` in
/// `gitStatus`), else the working directory from Codex's `<environment_context><cwd>…</cwd>`
/// in one of the first user messages.
fn environment(dialect: Dialect, body: &Body<'_>) -> (Option<String>, Option<String>) {
    let mut system = Vec::new();
    match dialect {
        Dialect::Anthropic => system.push(plain_text(body.system)),
        Dialect::OpenAiChat => {
            let instructions =
                body.messages.iter().filter(|m| matches!(m.role(), "system" | "developer"));
            system.extend(instructions.map(|m| plain_text(m.content)));
        }
        Dialect::OpenAiResponses | Dialect::Gemini | Dialect::Ollama => {}
    }
    let mut cwd = None;
    let mut branch = None;
    scan_environment(&system, &mut cwd, &mut branch);
    if cwd.is_none() {
        // Only Codex's own wrapper: Claude Code's reminders carry CLAUDE.md, which can say
        // anything, including "Working directory:".
        let first_users = body.messages.iter().filter(|m| m.role() == "user").take(3);
        let texts: Vec<String> = first_users.map(|m| plain_text(m.content)).collect();
        cwd = texts.iter().find_map(|t| {
            let (context, _) = between(t, "<environment_context>", "</environment_context>")?;
            between(context, "<cwd>", "</cwd>").and_then(|(v, _)| field(v, 1024))
        });
    }
    (cwd, branch)
}

fn scan_environment(
    texts: &[impl AsRef<str>],
    cwd: &mut Option<String>,
    branch: &mut Option<String>,
) {
    for text in texts {
        for line in text.as_ref().lines() {
            let line = line.trim_start();
            let line = line.strip_prefix("- ").unwrap_or(line);
            if cwd.is_none() {
                let value = line
                    .strip_prefix("Primary working directory:")
                    .or_else(|| line.strip_prefix("Working directory:"));
                *cwd = value.and_then(|v| field(v, 1024));
            }
            if branch.is_none() {
                *branch = line.strip_prefix("Current branch:").and_then(|v| field(v, 256));
            }
        }
    }
}

fn field(v: &str, max: usize) -> Option<String> {
    let v = v.trim();
    (!v.is_empty() && v.len() <= max).then(|| v.to_owned())
}

/// The text between the first `open` and the `close` after it, and the index past `close`.
fn between<'t>(text: &'t str, open: &str, close: &str) -> Option<(&'t str, usize)> {
    let start = text.find(open)? + open.len();
    let len = text.get(start..)?.find(close)?;
    Some((text.get(start..start + len)?, start + len + close.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }

    const NONE: &[(&str, &str)] = &[];

    fn body(v: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    /// The shape Claude Code 2.x sends: system blocks with `<env>` or `# Environment` and
    /// `gitStatus`, the first user turn wrapped in reminders.
    fn claude_code(user_id: &str, system: serde_json::Value) -> Vec<u8> {
        body(json!({
            "model": "claude-sonnet-4-5-20250929",
            "max_tokens": 32000,
            "metadata": { "user_id": user_id },
            "system": system,
            "messages": [
                { "role": "user", "content": [
                    { "type": "text", "text": "<system-reminder>\nAs you answer the user's questions, you can use the following context:\n# claudeMd\nWorking directory: /not/this\n</system-reminder>" },
                    { "type": "text", "text": "  Fix the flaky test in tests/it/stream.rs  " },
                    { "type": "text", "text": "<system-reminder>The TodoWrite tool hasn't been used recently.</system-reminder>" },
                ] },
                { "role": "assistant", "content": [{ "type": "text", "text": "Looking." }] },
                { "role": "user", "content": [{ "type": "tool_result", "tool_use_id": "t", "content": "ok" }] },
            ],
        }))
    }

    const UUID: &str = "4b1f6f3e-2d6a-4c57-9b0e-7f4d5c3b2a10";

    #[test]
    fn claude_code_legacy_user_id_and_env_block() {
        let system = json!([
            { "type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude." },
            { "type": "text", "text": "Here is useful information about the environment you are running in:\n<env>\nWorking directory: /home/dev/tollgate\nIs directory a git repo: Yes\nPlatform: linux\n</env>\n\ngitStatus: This is the git status at the start of the conversation.\nCurrent branch: feat/history\n\nMain branch (you will usually use this for PRs): main\n" },
        ]);
        let user_id = format!("user_{}_account__session_{UUID}", "a".repeat(64));
        let s =
            detect(Dialect::Anthropic, headers(NONE), &claude_code(&user_id, system), Some("dev"))
                .unwrap();
        assert_eq!(
            s,
            SessionInfo {
                id: format!("cc:{UUID}"),
                source: "claude-code",
                preview: Some("Fix the flaky test in tests/it/stream.rs".into()),
                cwd: Some("/home/dev/tollgate".into()),
                git_branch: Some("feat/history".into()),
            }
        );
    }

    #[test]
    fn claude_code_json_user_id_and_environment_section() {
        let system = json!(
            "You are Claude Code.\n\n# Environment\nYou have been invoked in the following environment: \n - Primary working directory: /Users/ana/src/app\n  - Is a git repository: true\n - Platform: darwin\n\ngitStatus: This is the git status at the start of the conversation. Note that this status is a snapshot in time.\nCurrent branch: main\n\nStatus:\n(clean)"
        );
        let user_id =
            json!({ "device_id": "d".repeat(64), "account_uuid": "", "session_id": UUID })
                .to_string();
        let s = detect(Dialect::Anthropic, headers(NONE), &claude_code(&user_id, system), None)
            .unwrap();
        assert_eq!(s.id, format!("cc:{UUID}"));
        assert_eq!(s.cwd.as_deref(), Some("/Users/ana/src/app"));
        assert_eq!(s.git_branch.as_deref(), Some("main"));
    }

    #[test]
    fn claude_code_header_when_metadata_is_missing_or_foreign() {
        let b = claude_code("some-sdk-user", json!("no env"));
        let h = [("x-claude-code-session-id", UUID)];
        let s = detect(Dialect::Anthropic, headers(&h), &b, None).unwrap();
        assert_eq!((s.id.as_str(), s.source), (&*format!("cc:{UUID}"), "claude-code"));
        assert_eq!(s.cwd, None);
        assert_eq!(s.git_branch, None);
    }

    #[test]
    fn session_headers_and_codex() {
        let b = body(json!({ "model": "m", "messages": [{ "role": "user", "content": "hello" }] }));
        let s = detect(Dialect::OpenAiChat, headers(&[("x-session-id", " abc-123 ")]), &b, None)
            .unwrap();
        assert_eq!((s.id.as_str(), s.source), ("hdr:abc-123", "header"));

        let codex = [
            ("user-agent", "codex_cli_rs/0.50.0 (Mac OS 15.1.0; arm64) iTerm.app/3.5.10"),
            ("originator", "codex_cli_rs"),
            ("session_id", "0199a9c4-7ab1-73c1-837e-1fa681f4462b"),
            ("conversation_id", "0199a9c4-7ab1-73c1-837e-1fa681f4462b"),
        ];
        let s = detect(Dialect::OpenAiChat, headers(&codex), &b, None).unwrap();
        assert_eq!(
            (s.id.as_str(), s.source),
            ("codex:0199a9c4-7ab1-73c1-837e-1fa681f4462b", "codex")
        );

        let other = [("session_id", "pi-42")];
        let s = detect(Dialect::OpenAiChat, headers(&other), &b, None).unwrap();
        assert_eq!((s.id.as_str(), s.source), ("hdr:pi-42", "header"));

        let bad = [("x-session-id", "has space"), ("session_id", "")];
        let s = detect(Dialect::OpenAiChat, headers(&bad), &b, None).unwrap();
        assert_eq!(s.source, "heuristic");
    }

    #[test]
    fn heuristic_id_depends_on_key_and_first_prompt() {
        let b = |first: &str, later: &str| {
            body(json!({ "model": "m", "messages": [
                { "role": "system", "content": "You are helpful.\nWorking directory: /srv/app" },
                { "role": "user", "content": first },
                { "role": "assistant", "content": "sure" },
                { "role": "user", "content": later },
            ] }))
        };
        let one =
            detect(Dialect::OpenAiChat, headers(NONE), &b("write a parser", "a"), Some("alice"))
                .unwrap();
        let two =
            detect(Dialect::OpenAiChat, headers(NONE), &b("write a parser", "b"), Some("alice"))
                .unwrap();
        let other_key =
            detect(Dialect::OpenAiChat, headers(NONE), &b("write a parser", "a"), Some("bob"))
                .unwrap();
        assert_eq!(one.id, two.id);
        assert_ne!(one.id, other_key.id);
        assert!(one.id.starts_with("h:") && one.id.len() == 18, "{}", one.id);
        assert_eq!(one.source, "heuristic");
        assert_eq!(one.preview.as_deref(), Some("write a parser"));
        assert_eq!(one.cwd.as_deref(), Some("/srv/app"));
    }

    #[test]
    fn codex_injected_context_is_not_the_preview() {
        let b = body(json!({ "model": "gpt-5-codex", "messages": [
            { "role": "developer", "content": [{ "type": "text", "text": "You are Codex." }] },
            { "role": "user", "content": "# AGENTS.md instructions for /work/app\n\n<INSTRUCTIONS>\nUse cargo.\n</INSTRUCTIONS>" },
            { "role": "user", "content": "<environment_context>\n  <cwd>/work/app</cwd>\n  <approval_policy>on-request</approval_policy>\n</environment_context>" },
            { "role": "user", "content": [{ "type": "text", "text": "add a --verbose flag" }] },
        ] }));
        let s = detect(Dialect::OpenAiChat, headers(NONE), &b, Some("k")).unwrap();
        assert_eq!(s.preview.as_deref(), Some("add a --verbose flag"));
        assert_eq!(s.cwd.as_deref(), Some("/work/app"));
    }

    #[test]
    fn slash_commands_keep_their_name_and_arguments() {
        assert_eq!(
            user_words(
                "<command-message>review is running…</command-message>\n<command-name>/review</command-name>\n<command-args>PR 12</command-args>"
            ),
            "/review PR 12"
        );
        assert_eq!(
            user_words(
                "Caveat: The messages below were generated by the user while running local commands. DO NOT respond."
            ),
            ""
        );
        assert!(matches!(
            user_words("plain <b>html</b> question"),
            Cow::Borrowed("plain <b>html</b> question")
        ));
        assert_eq!(user_words("<system-reminder>unclosed"), "");
    }

    #[test]
    fn preview_is_capped_on_a_char_boundary_and_skips_probes() {
        let long = "é".repeat(700);
        let b = body(
            json!({ "model": "m", "max_tokens": 100, "messages": [{ "role": "user", "content": long }] }),
        );
        let s = detect(Dialect::Anthropic, headers(NONE), &b, None).unwrap();
        assert_eq!(s.preview.unwrap().chars().count(), PREVIEW_CHARS);

        let probe = body(
            json!({ "model": "m", "max_tokens": 1, "messages": [{ "role": "user", "content": "quota" }] }),
        );
        let s = detect(
            Dialect::Anthropic,
            headers(&[("x-claude-code-session-id", UUID)]),
            &probe,
            None,
        )
        .unwrap();
        assert_eq!(s.preview, None);
    }

    #[test]
    fn user_id_formats() {
        let legacy = format!("user_{}_account_{UUID}_session_{UUID}", "0".repeat(64));
        assert_eq!(claude_code_session(&legacy).as_deref(), Some(UUID));
        assert_eq!(
            claude_code_session(&format!("user_x_account__session_{UUID}")).as_deref(),
            Some(UUID)
        );
        assert_eq!(claude_code_session("user_x_account__session_not-a-uuid"), None);
        assert_eq!(claude_code_session(r#"{"session_id":"nope"}"#), None);
        assert_eq!(claude_code_session(r#"{"device_id":"x"}"#), None);
        assert_eq!(claude_code_session("anything"), None);
    }

    #[test]
    fn no_id_without_prompt_or_headers_and_garbage_is_fine() {
        assert_eq!(detect(Dialect::Anthropic, headers(NONE), b"", None), None);
        assert_eq!(detect(Dialect::Anthropic, headers(NONE), b"{\"messages\":7}", None), None);
        let tool_only = body(
            json!({ "messages": [{ "role": "user", "content": [{ "type": "tool_result", "content": "x" }] }] }),
        );
        assert_eq!(detect(Dialect::Anthropic, headers(NONE), &tool_only, None), None);
        for garbage in [
            &b"[1,2]"[..],
            b"{\"system\":5,\"messages\":[{\"role\":3}]}",
            b"\xff\xfe",
            b"{\"metadata\":{\"user_id\":{}}}",
        ] {
            let _ = detect(Dialect::Anthropic, headers(&[("x-session-id", "s")]), garbage, None);
            let _ = detect(Dialect::OpenAiChat, headers(NONE), garbage, Some("k"));
        }
        let s = detect(Dialect::Anthropic, headers(&[("x-session-id", "s")]), b"not json", None)
            .unwrap();
        assert_eq!((s.id.as_str(), s.preview), ("hdr:s", None));
    }
}
