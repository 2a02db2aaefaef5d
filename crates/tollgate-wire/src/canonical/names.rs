//! Tool names across dialects (catalogue case 15). Anthropic and OpenAI (Chat and Responses) take
//! names matching `^[a-zA-Z0-9_-]{1,64}$`; Gemini takes letters, digits, `_`, `.` and `-`,
//! starting with a letter or `_`, at most 64. MCP-derived names (`mcp.server:tool`) and long
//! generated ones break those rules, and the provider rejects the whole request.
//!
//! [`ToolNames`] is the table for one request and one provider dialect: each tool whose name the
//! target cannot take gets a valid, deterministic replacement that collides neither with another
//! tool's real name nor with another replacement. The request is renamed on its way to the
//! provider ([`ToolNames::rename_request`]) and the answer back on its way to the client
//! ([`ToolNames::rename_event`], [`ToolNames::rename_response`]), so the client only ever sees
//! its own names. The table depends only on the request's tools (and history), so the next turn
//! of the same conversation gets the same replacements.
//!
//! Anthropic itself now allows 128 characters; 64 is kept for it because Anthropic-compatible
//! endpoints and the Chat dialect still hold that limit, and a renamed name costs nothing.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::{Block, Request, Response, StreamEvent, Tool, ToolChoice, ToolKind};
use crate::Dialect;

/// The longest name any dialect with a grammar accepts.
pub const MAX_LEN: usize = 64;

/// Hex characters of the digest that makes a shortened or colliding name unique.
const DIGEST_LEN: usize = 8;

/// Whether `name` is a tool name `dialect` accepts. Ollama has no grammar.
pub fn is_valid(name: &str, dialect: Dialect) -> bool {
    match dialect {
        Dialect::Ollama => !name.is_empty(),
        Dialect::Gemini => {
            (1..=MAX_LEN).contains(&name.len())
                && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && name.bytes().all(|b| allowed(b, dialect))
        }
        Dialect::Anthropic | Dialect::OpenAiChat | Dialect::OpenAiResponses => {
            (1..=MAX_LEN).contains(&name.len()) && name.bytes().all(|b| allowed(b, dialect))
        }
    }
}

fn allowed(b: u8, dialect: Dialect) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (dialect == Dialect::Gemini && b == b'.')
}

/// The name table for one request to one provider dialect. Empty (and allocation-free to use)
/// when every name is already valid, the common case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolNames {
    /// Client name -> provider name, only for names that change.
    to_provider: HashMap<String, String>,
    /// Provider name -> client name.
    to_client: HashMap<String, String>,
}

impl ToolNames {
    /// The table for `tools` sent to `dialect`. Provider-defined (hosted) tools are never
    /// renamed: their names are the provider's own.
    pub fn for_target(tools: &[Tool], dialect: Dialect) -> ToolNames {
        Self::build(tools.iter().map(|t| (t.name.as_str(), is_hosted(t))), dialect)
    }

    /// The table for a whole request: its tools first (so their replacements do not depend on
    /// the history), then the names of calls in its history whose tool is no longer offered.
    pub fn for_request(req: &Request, dialect: Dialect) -> ToolNames {
        let tools = req.tools.iter().map(|t| (t.name.as_str(), is_hosted(t)));
        let history = req.messages.iter().flat_map(|m| &m.content).filter_map(|b| match b {
            Block::ToolUse(u) => Some((u.name.as_str(), false)),
            _ => None,
        });
        Self::build(tools.chain(history), dialect)
    }

    fn build<'a>(names: impl Iterator<Item = (&'a str, bool)> + Clone, dialect: Dialect) -> Self {
        let mut table = ToolNames::default();
        if names.clone().all(|(n, hosted)| hosted || is_valid(n, dialect)) {
            return table;
        }
        // Real names that stay as they are: no replacement may take one of them.
        let mut taken: HashSet<String> = names
            .clone()
            .filter(|(n, hosted)| *hosted || is_valid(n, dialect))
            .map(|(n, _)| n.to_owned())
            .collect();
        for (name, hosted) in names {
            if hosted || is_valid(name, dialect) || table.to_provider.contains_key(name) {
                continue;
            }
            let new = replacement(name, dialect, &taken);
            taken.insert(new.clone());
            table.to_client.insert(new.clone(), name.to_owned());
            table.to_provider.insert(name.to_owned(), new);
        }
        table
    }

    /// Whether no name changes.
    pub fn is_identity(&self) -> bool {
        self.to_provider.is_empty()
    }

    /// The name the provider is sent for the client's `name`.
    pub fn to_provider<'a>(&self, name: &'a str) -> Cow<'a, str> {
        match self.to_provider.get(name) {
            Some(n) => Cow::Owned(n.clone()),
            None => Cow::Borrowed(name),
        }
    }

    /// The client's name for the provider's `name`.
    pub fn to_client<'a>(&self, name: &'a str) -> Cow<'a, str> {
        match self.to_client.get(name) {
            Some(n) => Cow::Owned(n.clone()),
            None => Cow::Borrowed(name),
        }
    }

    /// Renames the request for the provider: tool definitions, a `tool_choice` naming a tool,
    /// and the calls in the history (Gemini's `functionResponse` takes its name from the call).
    pub fn rename_request(&self, req: &mut Request) {
        if self.is_identity() {
            return;
        }
        for t in &mut req.tools {
            if !is_hosted(t) {
                rename(&self.to_provider, &mut t.name);
            }
        }
        if let Some(ToolChoice::Tool(name)) = &mut req.tool_choice {
            rename(&self.to_provider, name);
        }
        for b in req.messages.iter_mut().flat_map(|m| &mut m.content) {
            if let Block::ToolUse(u) = b {
                rename(&self.to_provider, &mut u.name);
            }
        }
    }

    /// Gives a call in the provider's stream back its client name.
    pub fn rename_event(&self, ev: &mut StreamEvent) {
        if self.is_identity() {
            return;
        }
        if let StreamEvent::BlockStart { block: Block::ToolUse(u), .. } = ev {
            rename(&self.to_client, &mut u.name);
        }
    }

    /// Gives the calls of a whole answer back their client names.
    pub fn rename_response(&self, resp: &mut Response) {
        if self.is_identity() {
            return;
        }
        for b in &mut resp.content {
            if let Block::ToolUse(u) = b {
                rename(&self.to_client, &mut u.name);
            }
        }
    }
}

fn is_hosted(t: &Tool) -> bool {
    matches!(t.kind, ToolKind::Hosted { .. })
}

fn rename(map: &HashMap<String, String>, name: &mut String) {
    if let Some(n) = map.get(name.as_str()) {
        name.clone_from(n);
    }
}

/// A valid name for `name`, not in `taken`: every character the target cannot take becomes `_`
/// (Gemini: a leading `_` when the name cannot start as it does); when that is too long, empty
/// or taken, it is cut and ends in a digest of the original name instead.
fn replacement(name: &str, dialect: Dialect, taken: &HashSet<String>) -> String {
    let mut base: String =
        name.bytes().map(|b| if allowed(b, dialect) { b as char } else { '_' }).collect();
    if dialect == Dialect::Gemini
        && !base.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
    {
        base.insert(0, '_');
    }
    if (1..=MAX_LEN).contains(&base.len()) && !taken.contains(&base) {
        return base;
    }
    if base.is_empty() {
        base.push_str("tool");
    }
    // `base` is ASCII, so any cut is on a character boundary.
    base.truncate(MAX_LEN - DIGEST_LEN - 1);
    let mut salt = 0u32;
    loop {
        let seed = if salt == 0 { name.to_owned() } else { format!("{name}#{salt}") };
        let candidate = format!("{base}_{}", digest(&seed));
        if !taken.contains(&candidate) {
            return candidate;
        }
        salt += 1;
    }
}

fn digest(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    d[..DIGEST_LEN / 2].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::canonical::{Message, Role, ToolUse};

    fn tool(name: &str) -> Tool {
        Tool {
            name: name.to_owned(),
            description: None,
            kind: ToolKind::Function { parameters: json!({"type": "object"}), strict: None },
            cache_control: None,
        }
    }

    fn tools(names: &[&str]) -> Vec<Tool> {
        names.iter().map(|n| tool(n)).collect()
    }

    const ALL: [Dialect; 5] = [
        Dialect::Anthropic,
        Dialect::OpenAiChat,
        Dialect::OpenAiResponses,
        Dialect::Gemini,
        Dialect::Ollama,
    ];

    #[test]
    fn valid_names_stay_unchanged_and_the_table_is_empty() {
        for d in ALL {
            let t = ToolNames::for_target(&tools(&["get_weather", "Bash", "run-it_2"]), d);
            assert!(t.is_identity(), "{d:?}");
            assert!(matches!(t.to_provider("get_weather"), Cow::Borrowed("get_weather")));
            assert!(matches!(t.to_client("get_weather"), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn mcp_names_get_readable_valid_replacements_that_map_back() {
        let t =
            ToolNames::for_target(&tools(&["mcp.github:create_issue", "ls"]), Dialect::Anthropic);
        assert_eq!(t.to_provider("mcp.github:create_issue"), "mcp_github_create_issue");
        assert_eq!(t.to_client("mcp_github_create_issue"), "mcp.github:create_issue");
        assert_eq!(t.to_provider("ls"), "ls");
        // Gemini takes dots but not colons.
        let g = ToolNames::for_target(&tools(&["mcp.github:create_issue"]), Dialect::Gemini);
        assert_eq!(g.to_provider("mcp.github:create_issue"), "mcp.github_create_issue");
        // Ollama has no grammar.
        assert!(ToolNames::for_target(&tools(&["mcp.github:x"]), Dialect::Ollama).is_identity());
    }

    #[test]
    fn gemini_names_start_with_a_letter_or_underscore() {
        let g = ToolNames::for_target(&tools(&["1password-read", "-x"]), Dialect::Gemini);
        assert_eq!(g.to_provider("1password-read"), "_1password-read");
        assert!(is_valid(&g.to_provider("-x"), Dialect::Gemini));
        assert!(
            ToolNames::for_target(&tools(&["1password-read"]), Dialect::OpenAiChat).is_identity()
        );
    }

    #[test]
    fn long_names_are_cut_with_a_digest_and_stay_distinct() {
        let a = format!("mcp__server__{}", "a".repeat(60));
        let b = format!("mcp__server__{}b", "a".repeat(60));
        for d in ALL.into_iter().filter(|d| *d != Dialect::Ollama) {
            let t = ToolNames::for_target(&tools(&[&a, &b]), d);
            let (pa, pb) = (t.to_provider(&a), t.to_provider(&b));
            assert!(is_valid(&pa, d) && is_valid(&pb, d), "{pa} {pb}");
            assert_eq!(pa.len(), MAX_LEN);
            assert!(pa.starts_with("mcp__server__aaa"));
            assert_ne!(pa, pb);
            assert_eq!(t.to_client(&pa), a);
            assert_eq!(t.to_client(&pb), b);
        }
    }

    #[test]
    fn replacements_never_take_a_real_name_or_each_other() {
        // `a.b` and `a:b` both clean to `a_b`, which is also a real tool.
        let names = ["a_b", "a.b", "a:b", "a b"];
        let t = ToolNames::for_target(&tools(&names), Dialect::OpenAiChat);
        assert_eq!(t.to_provider("a_b"), "a_b");
        let sent: Vec<String> = names.iter().map(|n| t.to_provider(n).into_owned()).collect();
        let unique: HashSet<&String> = sent.iter().collect();
        assert_eq!(unique.len(), names.len(), "{sent:?}");
        for (n, s) in names.iter().zip(&sent) {
            assert!(is_valid(s, Dialect::OpenAiChat), "{s}");
            assert_eq!(t.to_client(s), *n);
        }
        // The real `a_b` comes after the dirty ones: still not taken by them.
        let late = ToolNames::for_target(&tools(&["a.b", "a_b"]), Dialect::OpenAiChat);
        assert_ne!(late.to_provider("a.b"), "a_b");
    }

    #[test]
    fn the_table_is_deterministic() {
        let ts = tools(&["x.y", "x:y", &"z".repeat(90)]);
        assert_eq!(
            ToolNames::for_target(&ts, Dialect::Anthropic),
            ToolNames::for_target(&ts, Dialect::Anthropic)
        );
        assert!(is_valid(
            &ToolNames::for_target(&tools(&[""]), Dialect::Anthropic).to_provider(""),
            Dialect::Anthropic
        ));
    }

    #[test]
    fn hosted_tools_are_never_renamed() {
        let mut ts = tools(&["mcp.a"]);
        ts.push(Tool {
            name: "web.search".into(),
            description: None,
            kind: ToolKind::Hosted { dialect: Dialect::Anthropic, value: json!({}) },
            cache_control: None,
        });
        let t = ToolNames::for_target(&ts, Dialect::Anthropic);
        assert_eq!(t.to_provider("web.search"), "web.search");
        assert_eq!(t.to_provider("mcp.a"), "mcp_a");
    }

    fn call(id: &str, name: &str) -> Block {
        Block::ToolUse(ToolUse {
            id: id.into(),
            name: name.into(),
            input: json!({}),
            cache_control: None,
        })
    }

    #[test]
    fn a_request_and_its_answer_round_trip() {
        let mut req = Request {
            tools: tools(&["mcp.github:create_issue", "ls"]),
            tool_choice: Some(ToolChoice::Tool("mcp.github:create_issue".into())),
            messages: vec![Message {
                role: Role::Assistant,
                content: vec![call("c1", "mcp.github:create_issue"), call("c2", "old.tool")],
            }],
            ..Request::default()
        };
        let original = req.clone();
        let t = ToolNames::for_request(&req, Dialect::Anthropic);
        t.rename_request(&mut req);
        assert_eq!(req.tools[0].name, "mcp_github_create_issue");
        assert_eq!(req.tools[1].name, "ls");
        assert_eq!(req.tool_choice, Some(ToolChoice::Tool("mcp_github_create_issue".into())));
        let Block::ToolUse(u) = &req.messages[0].content[0] else { panic!() };
        assert_eq!(u.name, "mcp_github_create_issue");
        let Block::ToolUse(u) = &req.messages[0].content[1] else { panic!() };
        assert_eq!(u.name, "old_tool", "a call whose tool is gone is renamed too");

        let mut ev =
            StreamEvent::BlockStart { index: 0, block: call("c3", "mcp_github_create_issue") };
        t.rename_event(&mut ev);
        assert_eq!(
            ev,
            StreamEvent::BlockStart { index: 0, block: call("c3", "mcp.github:create_issue") }
        );
        let mut resp = Response {
            content: vec![call("c3", "mcp_github_create_issue"), call("c4", "ls")],
            ..Response::default()
        };
        t.rename_response(&mut resp);
        assert_eq!(resp.content, vec![call("c3", "mcp.github:create_issue"), call("c4", "ls")]);

        // The renamed history, renamed again on the next turn, is unchanged.
        let mut again = req.clone();
        ToolNames::for_request(&original, Dialect::Anthropic).rename_request(&mut again);
        assert_eq!(again, req);
    }
}
