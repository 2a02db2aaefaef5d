//! Which program sent a request, from its `User-Agent` and a few telltale headers. A label for
//! the history and the logs; nothing is routed or refused on it, since any client can claim to
//! be any other.
//!
//! Formats, as the clients build them:
//! - Claude Code: `claude-cli/<version> (external, cli)`, `(external, claude-vscode)`, or
//!   `(external, sdk-ts|sdk-py, agent-sdk/<v>)` when driven by the Agent SDK; it also sends
//!   `x-claude-code-session-id` (2.1.86+) and `x-app: cli`, besides the Stainless headers of the
//!   Anthropic TypeScript SDK it is built on.
//! - Codex: `<originator>/<version> (<os> <version>; <arch>) <terminal>` with the originator
//!   `codex_cli_rs` by default (`codex_vscode`, `codex_exec`, `codex-tui` and others exist),
//!   repeated in an `originator` header.
//! - Stainless SDKs: `<ClientClass>/Python <v>` and `<ClientClass>/JS <v>` (`Anthropic`,
//!   `AsyncAnthropic`, `OpenAI`, `AsyncOpenAI`, `AzureOpenAI`), plus `x-stainless-lang`.
//! - aider: the OpenAI SDK's user agent, with `X-Title: Aider` and
//!   `HTTP-Referer: https://aider.chat` (set for OpenRouter); LiteLLM's own HTTP calls send
//!   `litellm/<version>`.

/// Recognises the client. `header` reads a request header by its lower-case name.
///
/// Labels: `claude-code`, `codex`, `aider`, `cursor`, `litellm`, `anthropic-sdk-python`,
/// `anthropic-sdk-typescript`, `openai-sdk-python`, `openai-sdk-typescript`, `curl`.
pub fn detect<'h>(
    user_agent: Option<&str>,
    header: impl Fn(&str) -> Option<&'h str>,
) -> Option<&'static str> {
    let ua = user_agent.unwrap_or_default().trim();
    let has = |name: &str| header(name).is_some();
    let header_is = |name: &str, value: &str| {
        header(name).is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
    };

    // Agents first: they are built on the SDKs and send the SDKs' headers too.
    if starts_with_ci(ua, "claude-cli/")
        || starts_with_ci(ua, "claude-code/")
        || has("x-claude-code-session-id")
    {
        return Some("claude-code");
    }
    let originator = header("originator").unwrap_or_default().trim();
    if is_codex(ua) || is_codex(originator) {
        return Some("codex");
    }
    let referer = header("http-referer").or_else(|| header("referer")).unwrap_or_default();
    if header_is("x-title", "aider")
        || contains_ci(referer, "aider.chat")
        || contains_ci(ua, "aider")
    {
        return Some("aider");
    }
    // Unverified: Cursor calls custom endpoints from its own servers; these are the markers
    // its own API traffic carries.
    if contains_ci(ua, "cursor/") || has("x-cursor-client-version") || has("x-cursor-checksum") {
        return Some("cursor");
    }
    if starts_with_ci(ua, "litellm/") {
        return Some("litellm");
    }
    if let Some(sdk) = stainless_user_agent(ua) {
        return Some(sdk);
    }
    if let Some(lang) = header("x-stainless-lang") {
        // Both SDK families send the same Stainless headers; only Anthropic's send a version.
        let anthropic = has("anthropic-version");
        match (lang.trim(), anthropic) {
            ("python", true) => return Some("anthropic-sdk-python"),
            ("js", true) => return Some("anthropic-sdk-typescript"),
            ("python", false) => return Some("openai-sdk-python"),
            ("js", false) => return Some("openai-sdk-typescript"),
            _ => {}
        }
    }
    if starts_with_ci(ua, "curl/") {
        return Some("curl");
    }
    None
}

fn is_codex(s: &str) -> bool {
    let s = s.trim_start();
    starts_with_ci(s, "codex_") || starts_with_ci(s, "codex-") || s.starts_with("Codex ")
}

/// `Anthropic/Python 0.69.0`, `AsyncOpenAI/Python 1.109.1`, `OpenAI/JS 5.23.0`: the client class
/// and the language, as the Stainless SDKs build their user agent.
fn stainless_user_agent(ua: &str) -> Option<&'static str> {
    let product = ua.split_whitespace().next()?;
    let (class, lang) = ua.split_once('/').filter(|(c, _)| c.len() < product.len())?;
    let python = lang.starts_with("Python");
    let js = lang.starts_with("JS");
    let class = class.strip_prefix("Async").unwrap_or(class);
    match (class.contains("Anthropic"), class.contains("OpenAI"), python, js) {
        (true, _, true, _) => Some("anthropic-sdk-python"),
        (true, _, _, true) => Some("anthropic-sdk-typescript"),
        (_, true, true, _) => Some("openai-sdk-python"),
        (_, true, _, true) => Some("openai-sdk-typescript"),
        _ => None,
    }
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.as_bytes().windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_with(ua: Option<&str>, pairs: &[(&str, &str)]) -> Option<&'static str> {
        detect(ua, |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v))
    }

    #[test]
    fn recorded_user_agents() {
        let cases = [
            ("claude-cli/2.0.0 (external, claude-vscode)", Some("claude-code")),
            ("claude-cli/2.1.105 (external, sdk-py, agent-sdk/0.1.59)", Some("claude-code")),
            ("claude-cli/1.0.83 (external, cli)", Some("claude-code")),
            ("codex_cli_rs/0.72.0 (Ubuntu 24.4.0; x86_64) xterm-256color", Some("codex")),
            ("codex_vscode/0.50.0 (Mac OS 15.1.0; arm64) vscode/1.105.0", Some("codex")),
            ("Anthropic/Python 0.69.0", Some("anthropic-sdk-python")),
            ("AsyncAnthropic/Python 0.69.0", Some("anthropic-sdk-python")),
            ("AnthropicBedrock/Python 0.69.0", Some("anthropic-sdk-python")),
            ("Anthropic/JS 0.65.0", Some("anthropic-sdk-typescript")),
            ("OpenAI/Python 1.109.1", Some("openai-sdk-python")),
            ("AsyncOpenAI/Python 1.109.1", Some("openai-sdk-python")),
            ("AzureOpenAI/JS 5.23.0", Some("openai-sdk-typescript")),
            ("OpenAI/JS 5.23.0", Some("openai-sdk-typescript")),
            ("litellm/1.77.5", Some("litellm")),
            ("aider/0.86.1", Some("aider")),
            ("curl/8.5.0", Some("curl")),
            ("Mozilla/5.0 (X11; Linux x86_64)", None),
            ("python-requests/2.32.3", None),
            ("", None),
        ];
        for (ua, expected) in cases {
            assert_eq!(detect_with(Some(ua), &[]), expected, "{ua}");
        }
    }

    #[test]
    fn headers_decide_when_the_user_agent_does_not() {
        assert_eq!(detect_with(None, &[("originator", "codex_cli_rs")]), Some("codex"));
        assert_eq!(
            detect_with(
                Some("OpenAI/Python 1.109.1"),
                &[("x-title", "Aider"), ("http-referer", "https://aider.chat")]
            ),
            Some("aider")
        );
        assert_eq!(
            detect_with(Some("node"), &[("x-claude-code-session-id", "u")]),
            Some("claude-code")
        );
        assert_eq!(
            detect_with(None, &[("x-stainless-lang", "js"), ("anthropic-version", "2023-06-01")]),
            Some("anthropic-sdk-typescript")
        );
        assert_eq!(detect_with(None, &[("x-stainless-lang", "python")]), Some("openai-sdk-python"));
        assert_eq!(detect_with(None, &[("x-stainless-lang", "go")]), None);
        assert_eq!(
            detect_with(Some("undici"), &[("x-cursor-client-version", "1.7")]),
            Some("cursor")
        );
        assert_eq!(detect_with(None, &[]), None);
    }

    #[test]
    fn claude_code_wins_over_its_sdk_headers() {
        let headers =
            [("x-stainless-lang", "js"), ("anthropic-version", "2023-06-01"), ("x-app", "cli")];
        assert_eq!(
            detect_with(Some("claude-cli/2.1.86 (external, cli)"), &headers),
            Some("claude-code")
        );
    }

    #[test]
    fn odd_input_never_panics() {
        for ua in ["é/Python", "/", "Anthropic/", "x".repeat(10_000).as_str(), "ĀĀĀ/JS 1"] {
            let _ = detect_with(Some(ua), &[("originator", "é")]);
        }
    }
}
