//! History repair before a strict provider: consecutive same-role turns merged, empty text and
//! empty turns dropped, tool calls and results paired in both directions, duplicate tool names
//! removed, thinking from another issuer stripped, request parameters reconciled with thinking.
//! Each step reports what it changed as a [`Note`]. [`for_anthropic`] runs them all for an
//! Anthropic-dialect target; the steps are public for encoders of other strict dialects.
//!
//! Nothing here invents content the model said: the only blocks created are `is_error` tool
//! results saying a result is missing, which is true.

use std::collections::HashSet;

use super::{
    Block, Message, Note, Origin, Request, Role, Target, TextBlock, ThinkingMode, Tool, ToolChoice,
    ToolKind, ToolResult, ids,
};
use serde_json::Value;

use crate::Dialect;

/// `max_tokens` when the client sent none and the target names no limit. Anthropic requires the
/// field; 8192 fits every current model's output limit.
pub const DEFAULT_MAX_TOKENS: u64 = 8192;

/// Anthropic's smallest thinking budget.
pub const MIN_THINKING_BUDGET: u64 = 1024;

/// The text of the result given to a tool call whose result is missing from the history.
pub const MISSING_RESULT: &str = "The result of this tool call is missing from the conversation.";

/// Everything an Anthropic-dialect target needs, in an order where no step undoes another: tools
/// first, then blocks (foreign thinking, ids, empty blocks), then turns (merge, pairing, order),
/// then the parameters that depend on the final history (thinking, `max_tokens`, sampling).
/// The budget is fitted after the history has decided whether thinking stays on, so no budget is
/// adjusted for thinking that is then disabled.
pub fn for_anthropic(req: &mut Request, target: &Target, notes: &mut Vec<Note>) {
    web_search_for_anthropic(&mut req.tools, notes);
    drop_foreign_hosted_tools(&mut req.tools, Dialect::Anthropic, notes);
    dedupe_tools(&mut req.tools, notes);
    fit_tool_choice(req, notes);
    strip_foreign_thinking(&mut req.messages, Some(target), notes);
    strip_unsigned_thinking(&mut req.messages, notes);
    sanitize_tool_ids(&mut req.messages, notes);
    drop_empty(&mut req.messages, notes);
    merge_consecutive(&mut req.messages);
    unique_tool_ids(&mut req.messages, notes);
    pair_tools(&mut req.messages, notes);
    // Removing orphan results can empty a user turn and leave two assistant turns side by side.
    drop_empty(&mut req.messages, notes);
    merge_consecutive(&mut req.messages);
    order_blocks(&mut req.messages);
    budget_effort(req, target, notes);
    resolve_thinking_conflicts(req, notes);
    fit_max_tokens(req, target, notes);
    clamp_temperature(req, notes);
}

/// Thinking asked for by effort alone (OpenAI's `reasoning_effort`, Responses `reasoning`) on a
/// model without adaptive thinking: a budget instead, by the usual mapping (low 1,024, medium
/// 8,192, high 16,384, higher 32,000), so the request still thinks. Anthropic clients chose their
/// model and mode themselves and are left alone.
fn budget_effort(req: &mut Request, target: &Target, notes: &mut Vec<Note>) {
    if target.quirks.adaptive_thinking || req.extra.dialect == Some(Dialect::Anthropic) {
        return;
    }
    let Some(t) = &mut req.thinking else { return };
    if t.mode != ThinkingMode::Adaptive {
        return;
    }
    let budget_tokens = match t.effort.as_deref() {
        Some("minimal" | "low") | None => MIN_THINKING_BUDGET,
        Some("medium") => 8_192,
        Some("high") => 16_384,
        Some(_) => 32_000,
    };
    t.mode = ThinkingMode::Enabled { budget_tokens };
    notes.push(Note::new(format!(
        "effort {:?} sent as a thinking budget of {budget_tokens}: the model has no adaptive thinking",
        t.effort.as_deref().unwrap_or("default")
    )));
}

/// Merges consecutive messages with the same role (Anthropic would combine them anyway; doing it
/// here keeps tool-result grouping and cache breakpoints predictable).
pub fn merge_consecutive(messages: &mut Vec<Message>) {
    let mut merged: Vec<Message> = Vec::with_capacity(messages.len());
    for m in messages.drain(..) {
        match merged.last_mut() {
            Some(last) if last.role == m.role => last.content.extend(m.content),
            _ => merged.push(m),
        }
    }
    *messages = merged;
}

/// Drops empty and whitespace-only text blocks (in tool results too), then messages left with no
/// content. A thinking block with empty text and a signature is a valid signature-only block and
/// stays (catalogue 8); one with neither text nor signature carries nothing and goes. The cache
/// breakpoint of a dropped text block moves to the block before it, when that one has none.
pub fn drop_empty(messages: &mut Vec<Message>, notes: &mut Vec<Note>) {
    let mut blocks = 0;
    for m in messages.iter_mut() {
        blocks += drop_empty_blocks(&mut m.content);
        for b in &mut m.content {
            if let Block::ToolResult(r) = b {
                blocks += drop_empty_blocks(&mut r.content);
            }
        }
    }
    if blocks > 0 {
        notes.push(Note::new(format!("{blocks} empty text or thinking block(s) dropped")));
    }
    let before = messages.len();
    messages.retain(|m| !m.content.is_empty());
    if messages.len() < before {
        notes.push(Note::new(format!("{} empty message(s) dropped", before - messages.len())));
    }
}

fn drop_empty_blocks(blocks: &mut Vec<Block>) -> usize {
    let mut kept: Vec<Block> = Vec::with_capacity(blocks.len());
    let mut dropped = 0;
    for b in blocks.drain(..) {
        match b {
            Block::Text(t) if t.text.trim().is_empty() => {
                dropped += 1;
                if let Some(cc) = t.cache_control
                    && let Some(slot) = kept.last_mut().and_then(cache_slot)
                    && slot.is_none()
                {
                    *slot = Some(cc);
                }
            }
            Block::Thinking(t) if t.thinking.is_empty() && t.signature.is_none() => dropped += 1,
            other => kept.push(other),
        }
    }
    *blocks = kept;
    dropped
}

fn cache_slot(block: &mut Block) -> Option<&mut Option<serde_json::Value>> {
    match block {
        Block::Text(t) => Some(&mut t.cache_control),
        Block::Image(i) => Some(&mut i.cache_control),
        Block::Document(d) => Some(&mut d.cache_control),
        Block::ToolUse(t) => Some(&mut t.cache_control),
        Block::ToolResult(r) => Some(&mut r.cache_control),
        _ => None,
    }
}

/// Pairs tool calls and results both ways (catalogue 21): a call whose result is not in the next
/// message gets an `is_error` result saying so, first in the following user message (created when
/// there is none); a result whose call is not in the preceding assistant message is dropped, and
/// so is a second result for the same call, and calls or results in the wrong role's turn.
/// Expects alternating roles ([`merge_consecutive`]); may leave an empty turn ([`drop_empty`]).
pub fn pair_tools(messages: &mut Vec<Message>, notes: &mut Vec<Note>) {
    let misplaced = remove_misplaced(messages);
    if misplaced > 0 {
        notes.push(Note::new(format!(
            "{misplaced} tool call(s) in user turns or result(s) in assistant turns dropped"
        )));
    }
    let mut orphans = 0;
    let mut missing = 0;
    let mut i = 0;
    while let Some(m) = messages.get(i) {
        if m.role == Role::User {
            // Only a user turn that does not follow an assistant turn gets here: it answers no
            // call (the one after an assistant turn is handled with that turn).
            if let Some(m) = messages.get_mut(i) {
                orphans += keep_results_for(&mut m.content, &HashSet::new());
            }
            i += 1;
            continue;
        }
        let calls: Vec<String> = m
            .content
            .iter()
            .filter_map(|b| match b {
                Block::ToolUse(t) => Some(t.id.clone()),
                _ => None,
            })
            .collect();
        let next_is_user = messages.get(i + 1).is_some_and(|m| m.role == Role::User);
        if !next_is_user {
            if calls.is_empty() {
                i += 1;
                continue;
            }
            messages.insert(i + 1, Message { role: Role::User, content: Vec::new() });
        }
        if let Some(answer) = messages.get_mut(i + 1) {
            let wanted: HashSet<&str> = calls.iter().map(String::as_str).collect();
            orphans += keep_results_for(&mut answer.content, &wanted);
            let answered: HashSet<&str> = answer
                .content
                .iter()
                .filter_map(|b| match b {
                    Block::ToolResult(r) => Some(r.tool_use_id.as_str()),
                    _ => None,
                })
                .collect();
            let results: Vec<Block> = calls
                .iter()
                .filter(|id| !answered.contains(id.as_str()))
                .map(|id| missing_result(id))
                .collect();
            missing += results.len();
            answer.content.splice(0..0, results);
        }
        i += 2;
    }
    if missing > 0 {
        notes.push(Note::new(format!(
            "{missing} tool call(s) without a result given an error result saying it is missing"
        )));
    }
    if orphans > 0 {
        notes.push(Note::new(format!(
            "{orphans} tool result(s) without a matching call (or repeating one) dropped"
        )));
    }
}

fn missing_result(id: &str) -> Block {
    Block::ToolResult(ToolResult {
        tool_use_id: id.to_owned(),
        content: vec![Block::Text(TextBlock::new(MISSING_RESULT))],
        is_error: true,
        cache_control: None,
    })
}

/// Makes every tool-call id unique in the conversation, as Anthropic requires: a call whose id an
/// earlier call already has (local servers that number calls per turn, several calls sent
/// without an id) gets `<id>_2`, `<id>_3`, .. and so does its result in the next turn. Results
/// pair by position: of the results with a repeated id, the first go to the calls that kept it,
/// the next ones, in order, to the renamed calls. Expects alternating roles.
pub fn unique_tool_ids(messages: &mut [Message], notes: &mut Vec<Note>) {
    let mut used: HashSet<String> = HashSet::new();
    let mut renamed = 0;
    for i in 0..messages.len() {
        let Some(msg) = messages.get_mut(i).filter(|m| m.role == Role::Assistant) else {
            continue;
        };
        // Per original id: how many calls kept it, and the new ids of the others, in order.
        let mut kept: Vec<(String, usize, Vec<String>)> = Vec::new();
        for b in &mut msg.content {
            let Block::ToolUse(call) = b else { continue };
            let pos = kept.iter().position(|(id, ..)| *id == call.id).unwrap_or_else(|| {
                kept.push((call.id.clone(), 0, Vec::new()));
                kept.len() - 1
            });
            let Some((_, keeping, fresh)) = kept.get_mut(pos) else { continue };
            if used.insert(call.id.clone()) {
                *keeping += 1;
                continue;
            }
            let new = (2..)
                .map(|n| format!("{}_{n}", call.id))
                .find(|c| !used.contains(c))
                .unwrap_or_default();
            used.insert(new.clone());
            fresh.push(new.clone());
            call.id = new;
            renamed += 1;
        }
        let Some(answer) = messages.get_mut(i + 1).filter(|m| m.role == Role::User) else {
            continue;
        };
        for (id, keeping, fresh) in kept.iter().filter(|(_, _, f)| !f.is_empty()) {
            let mut results = answer.content.iter_mut().filter_map(|b| match b {
                Block::ToolResult(r) if r.tool_use_id == *id => Some(r),
                _ => None,
            });
            for r in results.by_ref().skip(*keeping).zip(fresh) {
                r.0.tool_use_id.clone_from(r.1);
            }
        }
    }
    if renamed > 0 {
        notes.push(Note::new(format!("{renamed} repeated tool-call id(s) made unique")));
    }
}

/// Tool calls belong to assistant turns and results to user turns; anywhere else they pair with
/// nothing.
fn remove_misplaced(messages: &mut [Message]) -> usize {
    let mut n = 0;
    for m in messages {
        let before = m.content.len();
        let role = m.role;
        m.content.retain(|b| match b {
            Block::ToolUse(_) => role == Role::Assistant,
            Block::ToolResult(_) => role == Role::User,
            _ => true,
        });
        n += before - m.content.len();
    }
    n
}

/// Keeps the first result for each wanted call id and no other result; returns how many went.
fn keep_results_for(content: &mut Vec<Block>, wanted: &HashSet<&str>) -> usize {
    let before = content.len();
    let mut seen: HashSet<String> = HashSet::new();
    content.retain(|b| match b {
        Block::ToolResult(r) => {
            wanted.contains(r.tool_use_id.as_str()) && seen.insert(r.tool_use_id.clone())
        }
        _ => true,
    });
    before - content.len()
}

/// Removes tools whose name repeats an earlier one (keeping the first; catalogue 15, Claude Code's
/// `/compact` sends duplicates).
pub fn dedupe_tools(tools: &mut Vec<Tool>, notes: &mut Vec<Note>) {
    let mut seen: HashSet<String> = HashSet::new();
    tools.retain(|t| {
        let first = seen.insert(t.name.clone());
        if !first {
            notes.push(Note::new(format!("duplicate tool {} dropped (the first kept)", t.name)));
        }
        first
    });
}

/// Removes provider-hosted tools defined by another dialect (an OpenAI `web_search` sent to
/// Anthropic): the target could not run them.
/// The Responses API's hosted `web_search` (Codex offers it) becomes Anthropic's own server tool,
/// so Claude searches the web where GPT would: allowed domains and the approximate user location
/// carry over. Claude's answer comes back to a Responses client as `web_search_call` items.
pub fn web_search_for_anthropic(tools: &mut [Tool], notes: &mut Vec<Note>) {
    for t in tools.iter_mut() {
        let ToolKind::Hosted { dialect: Dialect::OpenAiResponses, value } = &t.kind else {
            continue;
        };
        let kind = value.get("type").and_then(Value::as_str).unwrap_or_default();
        if !matches!(kind, "web_search" | "web_search_preview") {
            continue;
        }
        let mut tool = serde_json::Map::new();
        tool.insert("type".into(), Value::from("web_search_20250305"));
        tool.insert("name".into(), Value::from("web_search"));
        if let Some(domains) = value.pointer("/filters/allowed_domains").filter(|d| d.is_array()) {
            tool.insert("allowed_domains".into(), domains.clone());
        }
        if let Some(loc) = value.get("user_location").and_then(Value::as_object) {
            let mut out = serde_json::Map::new();
            out.insert("type".into(), Value::from("approximate"));
            for k in ["city", "region", "country", "timezone"] {
                if let Some(v) = loc.get(k).filter(|v| v.is_string()) {
                    out.insert(k.into(), v.clone());
                }
            }
            tool.insert("user_location".into(), Value::Object(out));
        }
        notes.push(Note::new(format!("hosted {kind} sent as Anthropic's web_search server tool")));
        t.name = "web_search".into();
        t.kind = ToolKind::Hosted { dialect: Dialect::Anthropic, value: Value::Object(tool) };
    }
}

pub fn drop_foreign_hosted_tools(tools: &mut Vec<Tool>, target: Dialect, notes: &mut Vec<Note>) {
    tools.retain(|t| match &t.kind {
        ToolKind::Hosted { dialect, .. } if *dialect != target => {
            notes.push(Note::new(format!(
                "{dialect} hosted tool {} dropped: {target} cannot run it",
                t.name
            )));
            false
        }
        _ => true,
    });
}

/// A `tool_choice` naming a tool that is not (or no longer) offered becomes `auto`; without tools
/// there is nothing to choose, so the choice goes (noted when it forced a call).
fn fit_tool_choice(req: &mut Request, notes: &mut Vec<Note>) {
    if req.tools.is_empty() {
        if let Some(choice @ (ToolChoice::Any | ToolChoice::Tool(_))) = req.tool_choice.take() {
            notes.push(Note::new(format!(
                "tool_choice {} without tools removed",
                choice_name(&choice)
            )));
        }
        req.tool_choice = None;
        return;
    }
    if let Some(ToolChoice::Tool(name)) = &req.tool_choice
        && !req.tools.iter().any(|t| &t.name == name)
    {
        notes.push(Note::new(format!(
            "tool_choice named tool {name}, which is not offered: relaxed to auto"
        )));
        req.tool_choice = Some(ToolChoice::Auto);
    }
}

fn choice_name(choice: &ToolChoice) -> String {
    match choice {
        ToolChoice::Auto => "auto".to_owned(),
        ToolChoice::Any => "any".to_owned(),
        ToolChoice::None => "none".to_owned(),
        ToolChoice::Tool(name) => format!("tool {name}"),
    }
}

/// Removes thinking and redacted-thinking blocks the target did not issue (catalogue 9): those
/// whose origin names another provider or model family. Blocks with no recorded origin stay (the
/// provider checks the seal itself). `None`: the target cannot take thinking back at all, so all
/// of it goes.
pub fn strip_foreign_thinking(
    messages: &mut [Message],
    target: Option<&Target>,
    notes: &mut Vec<Note>,
) {
    let family = target.map(Target::family);
    let foreign = |origin: &Option<Origin>| match (target, origin) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(t), Some(o)) => o.provider != t.provider || Some(&o.family) != family.as_ref(),
    };
    let n = remove_blocks(messages, |b| match b {
        Block::Thinking(t) => foreign(&t.origin),
        Block::RedactedThinking(r) => foreign(&r.origin),
        _ => false,
    });
    if n > 0 {
        let why = match target {
            Some(t) => format!("issued by another provider or model than {}", t.model),
            None => "the target cannot take thinking back".to_owned(),
        };
        notes.push(Note::new(format!("{n} thinking block(s) dropped: {why}")));
    }
}

/// Removes thinking blocks with no signature: Anthropic verifies every thinking block it is sent
/// and rejects one without a seal (reasoning text from an OpenAI-compatible model, say).
pub fn strip_unsigned_thinking(messages: &mut [Message], notes: &mut Vec<Note>) {
    let n = remove_blocks(messages, |b| matches!(b, Block::Thinking(t) if t.signature.is_none()));
    if n > 0 {
        notes.push(Note::new(format!("{n} thinking block(s) without a signature dropped")));
    }
}

fn remove_blocks(messages: &mut [Message], gone: impl Fn(&Block) -> bool) -> usize {
    let mut n = 0;
    for m in messages {
        let before = m.content.len();
        m.content.retain(|b| !gone(b));
        n += before - m.content.len();
    }
    n
}

/// Sanitises tool-call ids for Anthropic's `^[a-zA-Z0-9_-]+$` (catalogue 17), calls and the
/// results that refer to them alike, so pairs still match.
pub fn sanitize_tool_ids(messages: &mut [Message], notes: &mut Vec<Note>) {
    let mut changed = 0;
    for b in messages.iter_mut().flat_map(|m| m.content.iter_mut()) {
        let id = match b {
            Block::ToolUse(t) => &mut t.id,
            Block::ToolResult(r) => &mut r.tool_use_id,
            _ => continue,
        };
        if !ids::is_clean(id) {
            *id = ids::sanitize(id);
            changed += 1;
        }
    }
    if changed > 0 {
        notes.push(Note::new(format!("{changed} tool-call id(s) rewritten to the id grammar")));
    }
}

/// Anthropic's block order (catalogue 4, 18): in assistant turns tool calls last (the rest, with
/// its thinking first, keeps its order); in user turns tool results first.
pub fn order_blocks(messages: &mut [Message]) {
    for m in messages {
        let (first, last): (Vec<Block>, Vec<Block>) = match m.role {
            Role::Assistant => std::mem::take(&mut m.content)
                .into_iter()
                .partition(|b| !matches!(b, Block::ToolUse(_))),
            Role::User => std::mem::take(&mut m.content)
                .into_iter()
                .partition(|b| matches!(b, Block::ToolResult(_))),
        };
        m.content = first;
        m.content.extend(last);
    }
}

/// `max_tokens` (catalogue 38): a default when absent, capped at the target's limit; and a manual
/// thinking budget kept at least [`MIN_THINKING_BUDGET`] and below `max_tokens`, thinking
/// disabled when both cannot hold.
pub fn fit_max_tokens(req: &mut Request, target: &Target, notes: &mut Vec<Note>) {
    let cap = target.quirks.max_output_tokens;
    let max = match (req.max_tokens, cap) {
        (None, _) => {
            let max = cap.unwrap_or(DEFAULT_MAX_TOKENS);
            notes.push(Note::new(format!("max_tokens absent: {max} sent")));
            max
        }
        (Some(m), Some(c)) if m > c => {
            notes.push(Note::new(format!("max_tokens {m} capped at the model's limit {c}")));
            c
        }
        (Some(m), _) => m,
    };
    req.max_tokens = Some(max);
    let Some(thinking) = req.thinking.as_mut() else {
        return;
    };
    let ThinkingMode::Enabled { budget_tokens } = &mut thinking.mode else {
        return;
    };
    if *budget_tokens < MIN_THINKING_BUDGET {
        notes.push(Note::new(format!(
            "thinking budget {budget_tokens} raised to the minimum {MIN_THINKING_BUDGET}"
        )));
        *budget_tokens = MIN_THINKING_BUDGET;
    }
    if *budget_tokens >= max {
        if max > MIN_THINKING_BUDGET {
            notes.push(Note::new(format!(
                "thinking budget {budget_tokens} lowered below max_tokens {max}"
            )));
            *budget_tokens = max - 1;
        } else {
            notes.push(Note::new(format!(
                "thinking disabled: max_tokens {max} leaves no room for the minimum budget"
            )));
            thinking.mode = ThinkingMode::Disabled;
        }
    }
}

fn thinking_on(req: &Request) -> bool {
    req.thinking
        .as_ref()
        .is_some_and(|t| matches!(t.mode, ThinkingMode::Enabled { .. } | ThinkingMode::Adaptive))
}

fn disable_thinking(req: &mut Request, why: &str, notes: &mut Vec<Note>) {
    if let Some(t) = req.thinking.as_mut() {
        t.mode = ThinkingMode::Disabled;
        notes.push(Note::new(format!("thinking disabled for this request: {why}")));
    }
}

/// What Anthropic rejects with thinking on (catalogue 5, 7, 10, 40). Thinking goes when the
/// history cannot carry it: an assistant prefill at the end, or a tool loop whose assistant turn
/// does not start with its thinking (stripped as foreign, or never there). Otherwise the
/// parameters give way: forced tool choice relaxed to `auto`, `temperature` and `top_k` dropped,
/// `top_p` below 0.95 dropped.
pub fn resolve_thinking_conflicts(req: &mut Request, notes: &mut Vec<Note>) {
    if !thinking_on(req) {
        return;
    }
    let last = req.messages.last();
    if last.is_some_and(|m| m.role == Role::Assistant) {
        disable_thinking(req, "the conversation ends in an assistant prefill", notes);
        return;
    }
    let in_tool_loop =
        last.is_some_and(|m| m.content.iter().any(|b| matches!(b, Block::ToolResult(_))));
    if in_tool_loop {
        let opener = req.messages.iter().rev().find(|m| m.role == Role::Assistant);
        let starts_with_thinking = opener.is_some_and(|m| {
            matches!(m.content.first(), Some(Block::Thinking(_) | Block::RedactedThinking(_)))
        });
        if !starts_with_thinking {
            disable_thinking(
                req,
                "the assistant turn of the current tool loop does not start with a thinking block",
                notes,
            );
            return;
        }
    }
    if let Some(choice @ (ToolChoice::Any | ToolChoice::Tool(_))) = &req.tool_choice {
        notes.push(Note::new(format!(
            "tool_choice {} relaxed to auto: thinking cannot force tool use",
            choice_name(choice)
        )));
        req.tool_choice = Some(ToolChoice::Auto);
    }
    if let Some(t) = req.temperature.take() {
        notes.push(Note::new(format!("temperature {t} dropped: thinking requires the default")));
    }
    if let Some(k) = req.top_k.take() {
        notes.push(Note::new(format!("top_k {k} dropped: thinking requires the default")));
    }
    if let Some(p) = req.top_p.filter(|p| *p < 0.95) {
        notes.push(Note::new(format!("top_p {p} dropped: thinking allows only 0.95 to 1")));
        req.top_p = None;
    }
}

/// How Claude Code's attribution line starts (`x-anthropic-billing-header: cc_version=..;
/// cc_entrypoint=..; cch=..;`), sent as a system text block.
pub const BILLING_HEADER_PREFIX: &str = "x-anthropic-billing-header:";

/// The system parts to send a provider other than Anthropic (catalogue 35): Claude Code's billing
/// line is left out. Only Anthropic reads it; its hash changes from request to request, which
/// breaks every other provider's prompt caching at the very first bytes, and some providers
/// reject it as a reserved keyword. A part holding other lines too keeps them.
pub fn without_billing_header(system: &[TextBlock], notes: &mut Vec<Note>) -> Vec<TextBlock> {
    let is_billing = |line: &str| line.trim_start().starts_with(BILLING_HEADER_PREFIX);
    let mut removed = false;
    let mut out = Vec::with_capacity(system.len());
    for part in system {
        if !part.text.lines().any(is_billing) {
            out.push(part.clone());
            continue;
        }
        removed = true;
        let rest: Vec<&str> = part.text.lines().filter(|l| !is_billing(l)).collect();
        let text = rest.join("\n");
        if !text.trim().is_empty() {
            out.push(TextBlock { text, ..part.clone() });
        }
    }
    if removed {
        notes.push(Note::new("Claude Code's billing header left out of the system prompt"));
    }
    out
}

/// Anthropic's `temperature` range is 0 to 1; OpenAI's is 0 to 2 (catalogue 40).
fn clamp_temperature(req: &mut Request, notes: &mut Vec<Note>) {
    if let Some(t) = req.temperature.filter(|t| *t > 1.0) {
        notes.push(Note::new(format!("temperature {t} capped at 1")));
        req.temperature = Some(1.0);
    }
}
