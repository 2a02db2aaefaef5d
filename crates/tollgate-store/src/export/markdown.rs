//! The Markdown transcript: a session header, then each exchange as the user's turn and the
//! assistant's answer, with thinking collapsed, tool calls and results fenced, and usage, cost
//! and latency in one small line. Written to be read, on GitHub or in a terminal; the JSON
//! export is the complete record.

use std::fmt::Write as _;

use super::Totals;
use super::conversation::{Piece, Reply, reply, user_turn};
use super::human;
use crate::{ExchangeRecord, SessionRecord};

/// Tool results, injected context and unrendered blocks longer than this are cut, with a note:
/// a file read by a tool can be megabytes, and the transcript is for reading. The JSON export
/// keeps everything.
pub const LONG_BLOCK_CHARS: usize = 8_000;
/// Longest heading taken from a session's title or first prompt.
const HEADING_CHARS: usize = 80;

/// `# <title>` and the session's table.
pub(crate) fn session_header(out: &mut String, level: usize, s: &SessionRecord) {
    let from_preview = s.preview.as_deref().map(first_line).filter(|p| !p.is_empty());
    let heading = s
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| truncate(first_line(t), HEADING_CHARS))
        .or_else(|| from_preview.map(|p| truncate(p, HEADING_CHARS)))
        .unwrap_or_else(|| format!("Session {}", s.id));
    let _ = writeln!(out, "{} {}\n", "#".repeat(level), heading_text(&heading));
    let _ = writeln!(out, "| Session | {} ({}) |", code_cell(&s.id), cell(&s.source));
    out.push_str("|---|---|\n");
    row(out, "Client", s.client.as_deref().map(cell));
    row(out, "Key", s.key_name.as_deref().map(cell));
    row(out, "Directory", s.cwd.as_deref().map(code_cell));
    row(out, "Branch", s.git_branch.as_deref().map(code_cell));
    row(out, "Time", Some(span(Some(s.first_seen_ms), Some(s.last_seen_ms))));
    row(out, "Exchanges", Some(human::count(s.exchange_count)));
    row(
        out,
        "Tokens",
        Some(tokens(s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_write_tokens)),
    );
    row(out, "Cost", Some(human::cost(s.cost_micros)));
    out.push('\n');
    // The first prompt in full when the heading did not already show it.
    if let Some(preview) = s.preview.as_deref().map(str::trim).filter(|p| !p.is_empty())
        && heading.trim() != preview
    {
        for line in preview.lines() {
            let _ = writeln!(out, "> {line}");
        }
        out.push('\n');
    }
}

/// The header of a range export: the range and what it adds up to.
pub(crate) fn range_header(
    out: &mut String,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    sessions: usize,
    t: &Totals,
) {
    let range = match (since_ms, until_ms) {
        (Some(s), Some(u)) => format!("{} – {} UTC", human::utc(s), human::utc(u)),
        (Some(s), None) => format!("since {} UTC", human::utc(s)),
        (None, Some(u)) => format!("until {} UTC", human::utc(u)),
        (None, None) => "everything".to_owned(),
    };
    let _ = writeln!(out, "# Tollgate history, {range}\n");
    out.push_str("| Exchanges | Sessions | Time | Tokens | Cost |\n|---|---|---|---|---|\n");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} |\n",
        human::count(t.exchanges),
        sessions,
        span(t.first_ms, t.last_ms),
        tokens(t.input_tokens, t.output_tokens, t.cache_read_tokens, t.cache_write_tokens),
        human::cost(t.cost_micros)
    );
}

/// The heading of a group of a range export whose session is unknown, or that has none.
pub(crate) fn bare_header(out: &mut String, level: usize, session: Option<&str>) {
    let hashes = "#".repeat(level);
    match session {
        Some(id) => {
            let _ = writeln!(out, "{hashes} Session {}\n", heading_text(id));
        }
        None => {
            let _ = writeln!(out, "{hashes} Exchanges without a session\n");
        }
    }
}

/// One exchange: heading, the user's turn, the answer, errors, policy events, the usage line.
pub(crate) fn exchange(out: &mut String, level: usize, index: usize, e: &ExchangeRecord) {
    let model = e.model_served.as_deref().or(e.model_requested.as_deref()).unwrap_or("?");
    let _ = write!(
        out,
        "{} {} · {} UTC · {}",
        "#".repeat(level),
        index,
        human::utc(e.started_at_ms),
        heading_text(model)
    );
    if e.endpoint != "messages" && e.endpoint != "chat_completions" {
        let _ = write!(out, " · {}", heading_text(&e.endpoint));
    }
    if !(200..300).contains(&e.status) {
        let _ = write!(out, " · {}", e.status);
    }
    out.push_str("\n\n");

    if let Some(at) = e.bodies_purged_at_ms {
        let _ = writeln!(
            out,
            "_The bodies of this exchange were dropped by retention on {} UTC._\n",
            human::utc(at)
        );
    } else {
        match e.request_body.as_deref() {
            None => out.push_str("_Bodies were not recorded._\n\n"),
            Some(body) => match user_turn(&e.client_dialect, body) {
                Some(pieces) if !pieces.is_empty() => {
                    out.push_str("**User**\n\n");
                    pieces.iter().for_each(|p| piece(out, p));
                }
                Some(_) => {}
                None => out.push_str("_The request body is not a messages request._\n\n"),
            },
        }
        match reply(e) {
            Reply::Message(pieces) if !pieces.is_empty() => {
                out.push_str("**Assistant**\n\n");
                pieces.iter().for_each(|p| piece(out, p));
            }
            Reply::Message(_) | Reply::Missing => {}
            Reply::TokenCount(n) => {
                let _ = writeln!(out, "_{} input tokens counted._\n", human::count(n));
            }
            // Said below from the record's own fields, when it has them.
            Reply::Error(message) if e.error_message.is_none() => {
                let _ = writeln!(out, "> **Error:** {}\n", one_line(&message));
            }
            Reply::Error(_) => {}
        }
    }

    if e.outcome != "ok" || e.error_type.is_some() || e.error_message.is_some() {
        let _ = write!(out, "> **{}**", outcome_label(&e.outcome));
        let _ = write!(out, " · status {}", e.status);
        if let Some(t) = &e.error_type {
            let _ = write!(out, " · {}", code(t));
        }
        if let Some(m) = &e.error_message {
            let _ = write!(out, ": {}", one_line(m));
        }
        out.push_str("\n\n");
    }
    for p in &e.policy_events {
        let _ = write!(out, "- **Policy** {}: {}", code(&p.policy), cell(&p.verdict));
        if let Some(r) = &p.reason {
            let _ = write!(out, " — {}", one_line(r));
        }
        out.push('\n');
    }
    if !e.policy_events.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "<sub>{}</sub>\n", usage_line(e));
}

fn outcome_label(outcome: &str) -> &str {
    match outcome {
        "rejected" => "Rejected",
        "upstream_error" => "Provider error",
        "stream_error" => "Stream error",
        "upstream_broke_off" => "Provider broke off the stream",
        "timeout" => "Timed out",
        "client_closed" => "Client disconnected",
        "shutdown" => "Ended by gateway shutdown",
        "ok" => "Error",
        other => other,
    }
}

/// `anthropic · claude-sonnet-4-5 · 1,234 in · 56 out · $0.0123 · first byte 410 ms · 2.30 s
/// · end_turn`.
fn usage_line(e: &ExchangeRecord) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(p) = &e.provider {
        parts.push(cell(p));
    }
    match (&e.model_requested, &e.model_served) {
        (Some(r), Some(s)) if r != s => parts.push(format!("{} → {}", cell(r), cell(s))),
        (_, Some(m)) | (Some(m), None) => parts.push(cell(m)),
        (None, None) => {}
    }
    parts.push(format!("{} in", human::count(e.input_tokens)));
    parts.push(format!("{} out", human::count(e.output_tokens)));
    if e.cache_read_tokens > 0 {
        parts.push(format!("{} cache read", human::count(e.cache_read_tokens)));
    }
    if e.cache_write_tokens > 0 {
        parts.push(format!("{} cache write", human::count(e.cache_write_tokens)));
    }
    parts.push(human::cost(e.cost_micros));
    if let Some(t) = e.ttfb_ms {
        parts.push(format!("first byte {}", human::millis(t)));
    }
    parts.push(human::millis(e.total_ms));
    if let Some(s) = &e.stop_reason {
        parts.push(cell(s));
    }
    parts.join(" · ")
}

fn piece(out: &mut String, p: &Piece) {
    match p {
        Piece::Text(text) => {
            out.push_str(text);
            out.push_str("\n\n");
        }
        Piece::Injected { tag, text } => {
            details(out, tag, |out| fenced(out, "", &truncate(text, LONG_BLOCK_CHARS)));
        }
        Piece::ToolResult { id, is_error, text } => {
            out.push_str(if *is_error { "**Tool result (error)**" } else { "**Tool result**" });
            if let Some(id) = id {
                let _ = write!(out, " {}", code(id));
            }
            out.push('\n');
            fenced(out, "", &truncate(text, LONG_BLOCK_CHARS));
        }
        Piece::ToolCall { name, id, input } => {
            let _ = write!(out, "**Tool call** {}", code(name));
            if let Some(id) = id {
                let _ = write!(out, " · {}", code(id));
            }
            out.push('\n');
            let lang = if input.starts_with('{') || input.starts_with('[') { "json" } else { "" };
            fenced(out, lang, input);
        }
        Piece::Thinking(text) => details(out, "Thinking", |out| {
            out.push_str(text);
            out.push_str("\n\n");
        }),
        Piece::RedactedThinking => out.push_str("_Thinking (redacted by the provider)_\n\n"),
        Piece::Refusal(text) => {
            let _ = writeln!(out, "**Refusal:** {text}\n");
        }
        Piece::Attachment(kind) => {
            let _ = writeln!(out, "_[{}]_\n", heading_text(kind));
        }
        Piece::Other { kind, json } => {
            details(out, kind, |out| {
                fenced(out, "json", &truncate(json, LONG_BLOCK_CHARS));
            });
        }
    }
}

fn details(out: &mut String, summary: &str, body: impl FnOnce(&mut String)) {
    let _ = writeln!(out, "<details><summary>{}</summary>\n", html(&one_line(summary)));
    body(out);
    out.push_str("</details>\n\n");
}

/// A fenced code block whose fence is longer than any run of backticks inside.
fn fenced(out: &mut String, lang: &str, body: &str) {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    let _ = writeln!(out, "{fence}{lang}");
    out.push_str(body);
    if !body.ends_with('\n') {
        out.push('\n');
    }
    let _ = writeln!(out, "{fence}\n");
}

/// Inline code, on one line, safe whatever backticks it holds.
fn code(s: &str) -> String {
    let s = one_line(s);
    if s.contains('`') { format!("`` {s} ``") } else { format!("`{s}`") }
}

/// Inline code in a table cell, where even code spans need `|` escaped.
fn code_cell(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// Text for a table cell: one line, `|` escaped.
fn cell(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

/// Text for a heading or an emphasis: one line, with what Markdown or HTML would take as markup
/// escaped.
fn heading_text(s: &str) -> String {
    let mut out = String::new();
    for c in one_line(s).chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '#' | '|' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn first_line(s: &str) -> &str {
    s.trim().lines().next().unwrap_or_default().trim()
}

fn row(out: &mut String, label: &str, value: Option<String>) {
    if let Some(v) = value {
        let _ = writeln!(out, "| {label} | {v} |");
    }
}

/// `2026-11-22 10:00:05 – 10:14:22 UTC`, the date once when both are on the same day.
fn span(first: Option<i64>, last: Option<i64>) -> String {
    match (first, last) {
        (Some(f), Some(l)) => {
            let (f, l) = (human::utc(f), human::utc(l));
            match (f.split_once(' '), l.split_once(' ')) {
                (Some((fd, _)), Some((ld, lt))) if fd == ld => format!("{f} – {lt} UTC"),
                _ => format!("{f} – {l} UTC"),
            }
        }
        (Some(t), None) | (None, Some(t)) => format!("{} UTC", human::utc(t)),
        (None, None) => "–".to_owned(),
    }
}

fn tokens(input: i64, output: i64, cache_read: i64, cache_write: i64) -> String {
    let mut s = format!("{} in · {} out", human::count(input), human::count(output));
    if cache_read > 0 {
        let _ = write!(s, " · {} cache read", human::count(cache_read));
    }
    if cache_write > 0 {
        let _ = write!(s, " · {} cache write", human::count(cache_write));
    }
    s
}

/// At most `max` characters, with a note of how many were cut.
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((cut, _)) => {
            let rest = s[cut..].chars().count();
            let rest = i64::try_from(rest).unwrap_or(i64::MAX);
            format!("{}\n… ({} more characters)", &s[..cut], human::count(rest))
        }
    }
}
